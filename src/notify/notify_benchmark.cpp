// Notification transport benchmarks (issue 7). The issue's target for publish → notify is
// p99 ≤ 100 ms excluding embedding; these measure the transport share of it.
//   BM_InProcessDeliver        Deliver to one agent's subscriber among 1,000 agents.
//   BM_RedisRoundTrip          Deliver → a SUBSCRIBE client receives it, one at a time, on a
//                              private loopback redis-server; p50_us / p99_us counters.
//   BM_RedisThroughput         Deliver bursts of 1,000 messages (1 KiB) and wait until the
//                              subscriber has them all; items_per_second.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "notify/in_process_bus.hpp"
#include "notify/redis/redis_publisher.hpp"
#include "notify/testing/redis_server.hpp"

namespace contex::notify {
namespace {

using namespace std::chrono_literals;

Notification Message(const std::string& agent, std::int64_t sequence, std::size_t size) {
    Notification n;
    n.agent_id = agent;
    n.channel = "agent:" + agent + ":updates";
    n.sequence = sequence;
    n.type = "data_update";
    n.json = R"({"type":"data_update","agent_id":")" + agent + R"(","pad":")" +
             std::string(size, 'x') + R"("})";
    return n;
}

void BM_InProcessDeliver(benchmark::State& state) {
    InProcessBus bus;
    std::vector<std::unique_ptr<InProcessBus::Subscription>> subs;
    std::size_t received = 0;
    for (int i = 0; i < 1000; ++i) {
        subs.push_back(
            bus.Subscribe("agent-" + std::to_string(i), [&](const Notification&) { ++received; }));
    }
    auto n = Message("agent-500", 1, 1024);
    for (auto _ : state) bus.Deliver(n);
    state.SetItemsProcessed(state.iterations());
    benchmark::DoNotOptimize(received);
}
BENCHMARK(BM_InProcessDeliver);

struct RedisRig {
    SystemClock clock;
    obs::Logger logger{obs::LogOptions{obs::LogLevel::kCritical, true, stderr}, clock};
    obs::MetricsRegistry metrics;
    std::unique_ptr<testing::RedisServerProcess> server;
    std::unique_ptr<RedisPublisher> publisher;
    std::unique_ptr<testing::RedisSubscriber> subscriber;

    bool Start(benchmark::State& state) {
        auto s = testing::RedisServerProcess::Start();
        if (!s) {
            state.SkipWithError(s.error().message.c_str());
            return false;
        }
        server = *std::move(s);
        RedisOptions options;
        options.url = server->url();
        auto p = RedisPublisher::Create(options, logger, metrics, clock);
        auto sub = testing::RedisSubscriber::Connect(server->url(), {"agent:bench:updates"});
        if (!p || !sub) {
            state.SkipWithError("cannot connect");
            return false;
        }
        publisher = *std::move(p);
        subscriber = *std::move(sub);
        return true;
    }
};

void BM_RedisRoundTrip(benchmark::State& state) {
    RedisRig rig;
    if (!rig.Start(state)) return;
    auto n = Message("bench", 1, static_cast<std::size_t>(state.range(0)));
    std::vector<double> samples;
    for (auto _ : state) {
        auto started = std::chrono::steady_clock::now();
        if (!rig.publisher->Deliver(n) || rig.subscriber->Receive(1, 10s).size() != 1) {
            state.SkipWithError("message lost");
            return;
        }
        samples.push_back(
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - started)
                .count());
    }
    std::sort(samples.begin(), samples.end());
    state.counters["p50_us"] = samples[samples.size() / 2];
    state.counters["p99_us"] = samples[std::min(samples.size() - 1, samples.size() * 99 / 100)];
}
BENCHMARK(BM_RedisRoundTrip)->Arg(1024)->Arg(65536)->UseRealTime();

void BM_RedisThroughput(benchmark::State& state) {
    RedisRig rig;
    if (!rig.Start(state)) return;
    constexpr int kBurst = 1000;
    auto n = Message("bench", 1, 1024);
    for (auto _ : state) {
        int accepted = 0;
        for (int i = 0; i < kBurst; ++i) accepted += rig.publisher->Deliver(n) ? 1 : 0;
        if (rig.subscriber->Receive(static_cast<std::size_t>(accepted), 30s).size() !=
                static_cast<std::size_t>(accepted) ||
            accepted != kBurst) {
            state.SkipWithError("messages lost");
            return;
        }
    }
    state.SetItemsProcessed(state.iterations() * kBurst);
}
BENCHMARK(BM_RedisThroughput)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace contex::notify

BENCHMARK_MAIN();
