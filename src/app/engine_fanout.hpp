// The engine's MessageFanout over notify/: every committed message goes to the local
// in-process bus (SSE streams on this replica) and, for redis agents, to the Redis
// publisher when REDIS_URL is set. Messages for webhook agents are already in the outbox
// (written with the change); the fan-out only wakes the webhook dispatcher.
#pragma once

#include <functional>

#include "engine/fanout.hpp"
#include "notify/in_process_bus.hpp"
#include "notify/sink.hpp"

namespace contex::app {

class EngineFanout final : public engine::MessageFanout {
public:
    // `redis` may be null (not configured). Both must outlive the fan-out.
    // `wake_webhooks` is called after a message for a webhook agent was committed.
    EngineFanout(notify::InProcessBus& bus, notify::NotificationSink* redis,
                 std::function<void()> wake_webhooks = {})
        : bus_(bus), redis_(redis), wake_webhooks_(std::move(wake_webhooks)) {}

    void Deliver(const engine::Recipient& recipient, const engine::AgentMessage& message) override;
    void DeliverLocal(const engine::Recipient& recipient,
                      const engine::AgentMessage& message) override;
    std::unique_ptr<engine::StreamSubscription> Subscribe(
        const std::string& agent_id,
        std::function<void(const engine::AgentMessage&)> callback) override;
    std::size_t open_streams() const override { return bus_.size(); }
    std::size_t streams_for(const std::string& agent_id) const override {
        return bus_.SubscriberCount(agent_id);
    }
    std::vector<std::string> streamed_agents() const override { return bus_.SubscribedAgents(); }

private:
    notify::InProcessBus& bus_;
    notify::NotificationSink* redis_;
    std::function<void()> wake_webhooks_;
};

}  // namespace contex::app
