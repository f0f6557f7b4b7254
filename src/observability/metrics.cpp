#include "observability/metrics.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "common/json.hpp"

namespace contex::obs {

namespace buckets {
const std::vector<double> kB1 = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
const std::vector<double> kB2 = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
                                 0.25,  0.5,   1,    2.5,   5,    10};
const std::vector<double> kB3 = {0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1};
const std::vector<double> kB4 = {0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 30};
}  // namespace buckets

namespace {

void AtomicAdd(std::atomic<double>& a, double v) {
    double cur = a.load(std::memory_order_relaxed);
    while (!a.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
    }
}

void AppendNumber(std::string& out, double v) {
    if (std::isnan(v)) {
        out += "NaN";
    } else if (std::isinf(v)) {
        out += v > 0 ? "+Inf" : "-Inf";
    } else if (v == std::floor(v) && std::fabs(v) < 1e15) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.0f", v);
        out += buf;
    } else {
        AppendDouble(out, v);
    }
}

void AppendLabels(std::string& out, const std::vector<std::string>& names,
                  const std::vector<std::string>& values, const char* extra_name = nullptr,
                  const std::string* extra_value = nullptr) {
    if (names.empty() && !extra_name) return;
    out += '{';
    bool first = true;
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (!first) out += ',';
        first = false;
        out += names[i];
        out += "=\"";
        AppendEscapedLabelValue(out, i < values.size() ? values[i] : std::string());
        out += '"';
    }
    if (extra_name) {
        if (!first) out += ',';
        out += extra_name;
        out += "=\"";
        out += *extra_value;
        out += '"';
    }
    out += '}';
}

const char* TypeName(MetricType t) {
    switch (t) {
        case MetricType::kCounter: return "counter";
        case MetricType::kGauge: return "gauge";
        case MetricType::kHistogram: return "histogram";
    }
    return "untyped";
}

void AppendHeader(std::string& out, const std::string& name, const std::string& help,
                  MetricType type) {
    out += "# HELP ";
    out += name;
    out += ' ';
    for (char c : help) {
        if (c == '\\') out += "\\\\";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += TypeName(type);
    out += '\n';
}

}  // namespace

void AppendEscapedLabelValue(std::string& out, const std::string& value) {
    for (char c : value) {
        if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
}

void Counter::Inc(double v) {
    if (v < 0) return;  // counters never go down
    AtomicAdd(value_, v);
}

void Gauge::Add(double v) { AtomicAdd(value_, v); }

Histogram::Histogram(const std::vector<double>& bounds)
    : bounds_(bounds), buckets_(new std::atomic<std::uint64_t>[bounds.size() + 1]) {
    for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::Observe(double v) {
    std::size_t i = 0;
    while (i < bounds_.size() && v > bounds_[i]) ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    AtomicAdd(sum_, v);
    count_.fetch_add(1, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Read() const {
    Snapshot s;
    std::uint64_t running = 0;
    s.cumulative.reserve(bounds_.size() + 1);
    for (std::size_t i = 0; i <= bounds_.size(); ++i) {
        running += buckets_[i].load(std::memory_order_relaxed);
        s.cumulative.push_back(running);
    }
    s.count = running;
    s.sum = sum_.load(std::memory_order_relaxed);
    return s;
}

template <typename M>
M& Family<M>::WithLabels(const std::vector<std::string>& values) {
    std::lock_guard lock(mutex_);
    auto it = children_.find(values);
    if (it != children_.end()) return *it->second;
    std::unique_ptr<M> child;
    if constexpr (std::is_same_v<M, Histogram>) {
        child = std::make_unique<Histogram>(buckets_);
    } else {
        child = std::make_unique<M>();
    }
    M& ref = *child;
    children_.emplace(values, std::move(child));
    return ref;
}

template <typename M>
void Family<M>::Render(std::string& out) const {
    AppendHeader(out, name_, help_, type_);
    std::lock_guard lock(mutex_);
    for (const auto& [labels, child] : children_) {
        if constexpr (std::is_same_v<M, Histogram>) {
            auto snap = child->Read();
            const auto& bounds = child->bounds();
            for (std::size_t i = 0; i <= bounds.size(); ++i) {
                std::string le;
                if (i == bounds.size()) {
                    le = "+Inf";
                } else {
                    AppendNumber(le, bounds[i]);
                    if (le.find('.') == std::string::npos && le.find('e') == std::string::npos)
                        le += ".0";
                }
                out += name_;
                out += "_bucket";
                AppendLabels(out, label_names_, labels, "le", &le);
                out += ' ';
                AppendNumber(out, static_cast<double>(snap.cumulative[i]));
                out += '\n';
            }
            out += name_;
            out += "_sum";
            AppendLabels(out, label_names_, labels);
            out += ' ';
            AppendNumber(out, snap.sum);
            out += '\n';
            out += name_;
            out += "_count";
            AppendLabels(out, label_names_, labels);
            out += ' ';
            AppendNumber(out, static_cast<double>(snap.count));
            out += '\n';
        } else {
            out += name_;
            AppendLabels(out, label_names_, labels);
            out += ' ';
            AppendNumber(out, child->value());
            out += '\n';
        }
    }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

template <typename M>
Family<M>& MetricsRegistry::Add(std::string name, std::string help,
                                std::vector<std::string> labels, MetricType type,
                                std::vector<double> buckets) {
    std::lock_guard lock(mutex_);
    auto it = by_name_.find(name);
    if (it != by_name_.end()) {
        if (it->second->type() != type) {
            std::fprintf(stderr, "metric %s registered twice with different types\n",
                         name.c_str());
            std::abort();
        }
        return static_cast<Family<M>&>(*it->second);
    }
    auto family = std::make_unique<Family<M>>(name, std::move(help), std::move(labels), type,
                                              std::move(buckets));
    Family<M>& ref = *family;
    by_name_.emplace(std::move(name), family.get());
    families_.push_back(std::move(family));
    return ref;
}

Family<Counter>& MetricsRegistry::AddCounter(std::string name, std::string help,
                                             std::vector<std::string> label_names) {
    return Add<Counter>(std::move(name), std::move(help), std::move(label_names),
                        MetricType::kCounter, {});
}

Family<Gauge>& MetricsRegistry::AddGauge(std::string name, std::string help,
                                         std::vector<std::string> label_names) {
    return Add<Gauge>(std::move(name), std::move(help), std::move(label_names),
                      MetricType::kGauge, {});
}

Family<Histogram>& MetricsRegistry::AddHistogram(std::string name, std::string help,
                                                 std::vector<double> bucket_bounds,
                                                 std::vector<std::string> label_names) {
    return Add<Histogram>(std::move(name), std::move(help), std::move(label_names),
                          MetricType::kHistogram, std::move(bucket_bounds));
}

void MetricsRegistry::AddCollector(std::function<void()> refresh) {
    std::lock_guard lock(mutex_);
    collectors_.push_back(std::move(refresh));
}

std::string MetricsRegistry::Render() {
    std::vector<std::function<void()>> collectors;
    {
        std::lock_guard lock(mutex_);
        collectors = collectors_;
    }
    for (auto& c : collectors) c();
    std::string out;
    out.reserve(16384);
    std::lock_guard lock(mutex_);
    for (const auto& f : families_) f->Render(out);
    return out;
}

}  // namespace contex::obs
