// Prometheus metrics: a registry of metric families and the text exposition format
// (0.0.4). Thread-safe. Families and label children live as long as the registry,
// so references handed out stay valid; hot paths keep the reference and only touch
// atomics.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace contex::obs {

class Counter {
public:
    void Inc(double v = 1);
    double value() const { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<double> value_{0};
};

class Gauge {
public:
    void Set(double v) { value_.store(v, std::memory_order_relaxed); }
    void Add(double v);
    double value() const { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<double> value_{0};
};

class Histogram {
public:
    explicit Histogram(const std::vector<double>& bounds);
    void Observe(double v);
    // Cumulative counts per bound plus +Inf (last), sum and count; a consistent-enough
    // view for exposition (each field is read atomically).
    struct Snapshot {
        std::vector<std::uint64_t> cumulative;
        double sum = 0;
        std::uint64_t count = 0;
    };
    Snapshot Read() const;
    const std::vector<double>& bounds() const { return bounds_; }

private:
    std::vector<double> bounds_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // per bucket, not cumulative
    std::atomic<double> sum_{0};
    std::atomic<std::uint64_t> count_{0};
};

enum class MetricType { kCounter, kGauge, kHistogram };

class FamilyBase {
public:
    FamilyBase(std::string name, std::string help, std::vector<std::string> label_names,
               MetricType type)
        : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)),
          type_(type) {}
    virtual ~FamilyBase() = default;
    const std::string& name() const { return name_; }
    MetricType type() const { return type_; }
    virtual void Render(std::string& out) const = 0;

protected:
    std::string name_;
    std::string help_;
    std::vector<std::string> label_names_;
    MetricType type_;
};

// One metric name with any number of label sets.
template <typename M>
class Family final : public FamilyBase {
public:
    Family(std::string name, std::string help, std::vector<std::string> label_names,
           MetricType type, std::vector<double> buckets = {})
        : FamilyBase(std::move(name), std::move(help), std::move(label_names), type),
          buckets_(std::move(buckets)) {}

    // The child for these label values (in label_names order), created on first use.
    M& WithLabels(const std::vector<std::string>& values);
    // The single child of a family without labels.
    M& Get() { return WithLabels({}); }
    void Render(std::string& out) const override;

private:
    std::vector<double> buckets_;
    mutable std::mutex mutex_;
    std::map<std::vector<std::string>, std::unique_ptr<M>> children_;  // guarded by mutex_
};

namespace buckets {
extern const std::vector<double> kB1;  // 0.001 … 5
extern const std::vector<double> kB2;  // B1 + 10
extern const std::vector<double> kB3;  // 0.0001 … 0.1
extern const std::vector<double> kB4;  // 0.1 … 30
}  // namespace buckets

class MetricsRegistry {
public:
    // Adding an existing name returns the existing family; a different type for the same
    // name is a programmer error (aborts).
    Family<Counter>& AddCounter(std::string name, std::string help,
                                std::vector<std::string> label_names = {});
    Family<Gauge>& AddGauge(std::string name, std::string help,
                            std::vector<std::string> label_names = {});
    Family<Histogram>& AddHistogram(std::string name, std::string help,
                                    std::vector<double> buckets,
                                    std::vector<std::string> label_names = {});
    // Called before every Render() (e.g. to refresh gauges from their sources).
    void AddCollector(std::function<void()> refresh);
    // Text exposition format 0.0.4, families in registration order.
    std::string Render();

private:
    template <typename M>
    Family<M>& Add(std::string name, std::string help, std::vector<std::string> labels,
                   MetricType type, std::vector<double> buckets);

    std::mutex mutex_;
    std::vector<std::unique_ptr<FamilyBase>> families_;  // guarded by mutex_
    std::map<std::string, FamilyBase*> by_name_;         // guarded by mutex_
    std::vector<std::function<void()>> collectors_;      // guarded by mutex_
};

// Prometheus label-value escaping (\\, \", \n).
void AppendEscapedLabelValue(std::string& out, const std::string& value);

}  // namespace contex::obs
