// How the engine hands messages to transports after a commit, and how agent streams
// subscribe. Implemented in the app over notify/ (in-process bus, Redis); a fake in tests.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/engine.hpp"

namespace contex::engine {

struct Recipient {
    std::string agent_id;
    std::string notification_method;  // "redis" | "webhook"
    std::string channel;
};

class MessageFanout {
public:
    virtual ~MessageFanout() = default;
    // Delivers one committed message to the agent's live transports (local streams, and
    // Redis for redis agents). Best effort, never blocks long, never fails the caller.
    virtual void Deliver(const Recipient& recipient, const AgentMessage& message) = 0;
    // Delivers a message committed by another replica to this replica's streams only (that
    // replica already published it to Redis).
    virtual void DeliverLocal(const Recipient& recipient, const AgentMessage& message) = 0;
    // Subscribes to an agent's messages on this replica (SSE). Destroying the handle
    // unsubscribes.
    virtual std::unique_ptr<StreamSubscription> Subscribe(
        const std::string& agent_id, std::function<void(const AgentMessage&)> callback) = 0;
    virtual std::size_t open_streams() const = 0;
    virtual std::size_t streams_for(const std::string& agent_id) const = 0;
    // Agents with at least one stream on this replica.
    virtual std::vector<std::string> streamed_agents() const = 0;
};

}  // namespace contex::engine
