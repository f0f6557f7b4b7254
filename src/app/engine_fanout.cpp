#include "app/engine_fanout.hpp"

namespace contex::app {
namespace {

class BusSubscription final : public engine::StreamSubscription {
public:
    explicit BusSubscription(std::unique_ptr<notify::InProcessBus::Subscription> s)
        : subscription_(std::move(s)) {}

private:
    std::unique_ptr<notify::InProcessBus::Subscription> subscription_;
};

}  // namespace

void EngineFanout::Deliver(const engine::Recipient& recipient,
                           const engine::AgentMessage& message) {
    notify::Notification n{recipient.agent_id, recipient.channel, message.sequence, message.type,
                           message.json};
    bus_.Deliver(n);
    // Only messages for redis agents go to Redis; stream-only notices (unregistered) don't.
    if (redis_ && recipient.notification_method == "redis") redis_->Deliver(n);
    if (wake_webhooks_ && recipient.notification_method == "webhook") wake_webhooks_();
}

void EngineFanout::DeliverLocal(const engine::Recipient& recipient,
                                const engine::AgentMessage& message) {
    bus_.Deliver({recipient.agent_id, recipient.channel, message.sequence, message.type,
                  message.json});
}

std::unique_ptr<engine::StreamSubscription> EngineFanout::Subscribe(
    const std::string& agent_id, std::function<void(const engine::AgentMessage&)> callback) {
    auto s = bus_.Subscribe(agent_id, [callback = std::move(callback)](const notify::Notification& n) {
        callback({n.sequence, n.type, n.json});
    });
    return std::make_unique<BusSubscription>(std::move(s));
}

}  // namespace contex::app
