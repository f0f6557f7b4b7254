#include "notify/in_process_bus.hpp"

#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

namespace contex::notify {

namespace {

// One subscriber. `mutex` serialises its callback calls and unsubscription: a handle's
// destructor takes it, so once the destructor returns no call is running. It is
// recursive so that a callback may destroy its own handle.
struct Subscriber {
    std::recursive_mutex mutex;
    bool active = true;  // guarded by mutex
    InProcessBus::Callback callback;
};

}  // namespace

struct InProcessBus::State {
    mutable std::mutex mutex;
    // agent id -> subscribers, guarded by mutex
    std::unordered_map<std::string, std::vector<std::shared_ptr<Subscriber>>> by_agent;
    std::size_t total = 0;  // guarded by mutex

    void Remove(const std::string& agent_id, const Subscriber* subscriber) {
        std::lock_guard lock(mutex);
        auto it = by_agent.find(agent_id);
        if (it == by_agent.end()) return;
        auto& list = it->second;
        for (auto i = list.begin(); i != list.end(); ++i) {
            if (i->get() == subscriber) {
                list.erase(i);
                --total;
                break;
            }
        }
        if (list.empty()) by_agent.erase(it);
    }
};

namespace {

class SubscriptionImpl final : public InProcessBus::Subscription {
  public:
    SubscriptionImpl(std::weak_ptr<InProcessBus::State> state, std::string agent_id,
                     std::shared_ptr<Subscriber> subscriber)
        : state_(std::move(state)),
          agent_id_(std::move(agent_id)),
          subscriber_(std::move(subscriber)) {}

    ~SubscriptionImpl() override {
        {
            std::lock_guard lock(subscriber_->mutex);
            subscriber_->active = false;
        }
        if (auto state = state_.lock()) state->Remove(agent_id_, subscriber_.get());
    }

    const std::string& agent_id() const override { return agent_id_; }

  private:
    std::weak_ptr<InProcessBus::State> state_;
    std::string agent_id_;
    std::shared_ptr<Subscriber> subscriber_;
};

}  // namespace

InProcessBus::InProcessBus() : state_(std::make_shared<State>()) {}

InProcessBus::InProcessBus(obs::MetricsRegistry& metrics)
    : state_(std::make_shared<State>()),
      delivered_(&metrics.AddCounter("contex_notifications_total",
                                     "Messages handed to a transport.",
                                     {"transport", "type", "status"})) {}

InProcessBus::~InProcessBus() = default;

bool InProcessBus::Deliver(const Notification& notification) {
    std::vector<std::shared_ptr<Subscriber>> targets;
    {
        std::lock_guard lock(state_->mutex);
        auto it = state_->by_agent.find(notification.agent_id);
        if (it == state_->by_agent.end()) return true;
        targets = it->second;
    }
    std::size_t reached = 0;
    for (const auto& subscriber : targets) {
        std::lock_guard lock(subscriber->mutex);
        if (!subscriber->active) continue;
        subscriber->callback(notification);
        ++reached;
    }
    if (delivered_ != nullptr && reached > 0) {
        delivered_->WithLabels({"sse", notification.type, "success"})
            .Inc(static_cast<double>(reached));
    }
    return true;
}

std::unique_ptr<InProcessBus::Subscription> InProcessBus::Subscribe(std::string agent_id,
                                                                    Callback callback) {
    auto subscriber = std::make_shared<Subscriber>();
    subscriber->callback = std::move(callback);
    {
        std::lock_guard lock(state_->mutex);
        state_->by_agent[agent_id].push_back(subscriber);
        ++state_->total;
    }
    return std::make_unique<SubscriptionImpl>(state_, std::move(agent_id), std::move(subscriber));
}

std::size_t InProcessBus::size() const {
    std::lock_guard lock(state_->mutex);
    return state_->total;
}

std::vector<std::string> InProcessBus::SubscribedAgents() const {
    std::lock_guard lock(state_->mutex);
    std::vector<std::string> agents;
    for (const auto& [agent_id, subscribers] : state_->by_agent) {
        if (!subscribers.empty()) agents.push_back(agent_id);
    }
    return agents;
}

std::size_t InProcessBus::SubscriberCount(std::string_view agent_id) const {
    std::lock_guard lock(state_->mutex);
    auto it = state_->by_agent.find(std::string(agent_id));
    return it == state_->by_agent.end() ? 0 : it->second.size();
}

}  // namespace contex::notify
