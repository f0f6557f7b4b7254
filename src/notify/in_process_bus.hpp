// In-process bus: fans agent messages out to the subscribers on this replica (the SSE
// streams of engine.md §6.4). Subscriptions are keyed by agent id; the channel is ignored.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "notify/sink.hpp"
#include "observability/metrics.hpp"

namespace contex::notify {

class InProcessBus final : public NotificationSink {
  public:
    using Callback = std::function<void(const Notification&)>;

    // Destroying the handle unsubscribes. After the destructor returns the callback is
    // not running and is never called again, so it may capture objects that die right
    // after the handle. The handle may outlive the bus. Destroying it from inside its
    // own callback is allowed.
    class Subscription {
      public:
        virtual ~Subscription() = default;
        virtual const std::string& agent_id() const = 0;
    };

    // Without metrics.
    InProcessBus();
    // Counts contex_notifications_total{transport="sse",type,status="success"} once per
    // subscriber reached. `metrics` must outlive the bus.
    explicit InProcessBus(obs::MetricsRegistry& metrics);
    ~InProcessBus() override;
    InProcessBus(const InProcessBus&) = delete;
    InProcessBus& operator=(const InProcessBus&) = delete;

    std::string_view transport() const override { return "inprocess"; }

    // Calls every current subscriber of `notification.agent_id`, on the calling thread,
    // one after the other. Callbacks must be quick (enqueue and return) and must not
    // call Deliver for the same agent. Always true: a message with no subscriber is
    // accepted and dropped, like a PUBLISH nobody listens to.
    bool Deliver(const Notification& notification) override;

    // Registers `callback` for messages to `agent_id`. Thread-safe.
    [[nodiscard]] std::unique_ptr<Subscription> Subscribe(std::string agent_id, Callback callback);

    // Open subscriptions in total / for one agent.
    std::size_t size() const;
    std::size_t SubscriberCount(std::string_view agent_id) const;
    // Agents with at least one subscription, in no particular order.
    std::vector<std::string> SubscribedAgents() const;

    struct State;  // shared with the handles

  private:
    std::shared_ptr<State> state_;
    obs::Family<obs::Counter>* delivered_ = nullptr;
};

}  // namespace contex::notify
