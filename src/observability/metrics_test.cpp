#include "observability/metrics.hpp"

#include <gtest/gtest.h>

namespace contex::obs {
namespace {

TEST(MetricsRegistry, RendersCountersWithEscapedLabels) {
    MetricsRegistry registry;
    auto& family = registry.AddCounter("contex_http_requests_total", "HTTP requests.",
                                       {"method", "endpoint", "status_code"});
    family.WithLabels({"GET", "/api/v1/agents/{agent_id}", "200"}).Inc();
    family.WithLabels({"GET", "/api/v1/agents/{agent_id}", "200"}).Inc(2);
    family.WithLabels({"POST", "a\"b\\c\nd", "500"}).Inc();
    std::string text = registry.Render();
    EXPECT_NE(text.find("# HELP contex_http_requests_total HTTP requests.\n"
                        "# TYPE contex_http_requests_total counter\n"),
              std::string::npos);
    EXPECT_NE(text.find("contex_http_requests_total{method=\"GET\",endpoint=\"/api/v1/agents/"
                        "{agent_id}\",status_code=\"200\"} 3\n"),
              std::string::npos);
    EXPECT_NE(text.find("endpoint=\"a\\\"b\\\\c\\nd\""), std::string::npos);
}

TEST(MetricsRegistry, HistogramBucketsAreCumulativeWithInf) {
    MetricsRegistry registry;
    auto& h = registry.AddHistogram("lat_seconds", "Latency.", {0.1, 1}).Get();
    h.Observe(0.05);
    h.Observe(0.5);
    h.Observe(5);
    std::string text = registry.Render();
    EXPECT_NE(text.find("lat_seconds_bucket{le=\"0.1\"} 1\n"), std::string::npos) << text;
    EXPECT_NE(text.find("lat_seconds_bucket{le=\"1.0\"} 2\n"), std::string::npos) << text;
    EXPECT_NE(text.find("lat_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos) << text;
    EXPECT_NE(text.find("lat_seconds_sum 5.55\n"), std::string::npos) << text;
    EXPECT_NE(text.find("lat_seconds_count 3\n"), std::string::npos) << text;
}

TEST(MetricsRegistry, SameNameReturnsSameFamilyAndCollectorsRunBeforeRender) {
    MetricsRegistry registry;
    auto& a = registry.AddGauge("g", "A gauge.");
    auto& b = registry.AddGauge("g", "A gauge.");
    EXPECT_EQ(&a, &b);
    int runs = 0;
    registry.AddCollector([&] { a.Get().Set(++runs); });
    EXPECT_NE(registry.Render().find("g 1\n"), std::string::npos);
    EXPECT_NE(registry.Render().find("g 2\n"), std::string::npos);
}

TEST(Counter, NeverDecreases) {
    Counter c;
    c.Inc(2);
    c.Inc(-1);
    EXPECT_EQ(c.value(), 2);
}

}  // namespace
}  // namespace contex::obs
