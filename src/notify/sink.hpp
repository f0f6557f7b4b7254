// The notification sink interface (engine.md §6.4): one transport that carries pushed
// agent messages (api.md §6). The engine hands every message to the sinks that serve
// the agent; sinks never fail or block the caller for long.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace contex::notify {

// One message for one agent. `json` is the compact message JSON of api.md §6, sent
// byte for byte; `channel` is the agent's notification channel (Redis only);
// `sequence` and `type` are copies of the message's fields for ordering and metrics.
struct Notification {
    std::string agent_id;
    std::string channel;
    std::int64_t sequence = 0;
    std::string type;  // "initial_context" | "event" | "data_update" | "unregistered"
    std::string json;
};

// One transport. Implementations are thread-safe and never block the caller for
// longer than it takes to enqueue. Messages handed in by one thread reach each receiver
// in the order they were handed in.
class NotificationSink {
  public:
    virtual ~NotificationSink() = default;

    // Stable transport name: "redis", "inprocess", ...
    virtual std::string_view transport() const = 0;

    // Hands one message to the transport. True when the transport accepted it (which,
    // for best-effort transports, is not a promise that anyone receives it). False when
    // the transport is down, full or shut down; the failure is counted and logged by
    // the sink, and the caller carries on.
    virtual bool Deliver(const Notification& notification) = 0;
};

}  // namespace contex::notify
