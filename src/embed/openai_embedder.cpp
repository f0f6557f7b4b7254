#include "embed/openai_embedder.hpp"

#include <algorithm>
#include <charconv>
#include <random>
#include <thread>

#include "common/json.hpp"
#include "common/strings.hpp"
#include "embed/http_client.hpp"
#include "observability/metrics.hpp"

namespace contex::embed {

namespace {

bool Retryable(long status) { return status == 429 || status >= 500; }

double UnitRandom() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

}  // namespace

std::string EmbeddingsEndpoint(std::string_view api_url) {
    std::string base(TrimView(api_url));
    while (!base.empty() && base.back() == '/') base.pop_back();
    if (EndsWith(base, "/v1/embeddings")) return base;
    if (EndsWith(base, "/v1")) return base + "/embeddings";
    return base + "/v1/embeddings";
}

std::chrono::milliseconds RetryDelay(int attempt, std::optional<std::string> retry_after,
                                     double unit_random) {
    if (retry_after) {
        const std::string_view text = TrimView(*retry_after);
        long long seconds = 0;
        const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
        if (ec == std::errc() && ptr == text.data() + text.size() && seconds >= 0) {
            return std::chrono::milliseconds(std::min<long long>(seconds, 60) * 1000);
        }
    }
    const double base_ms = 500.0 * static_cast<double>(1LL << std::min(attempt, 10));
    const double factor = 0.75 + 0.5 * unit_random;  // ± 25 %
    return std::chrono::milliseconds(static_cast<long long>(base_ms * factor));
}

OpenAiEmbedder::OpenAiEmbedder(OpenAiOptions options)
    : options_(std::move(options)),
      endpoint_(EmbeddingsEndpoint(options_.api_url)),
      model_id_("openai:" + options_.model) {
    if (!options_.sleep) {
        options_.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
    }
    options_.batch = std::max(1, options_.batch);
}

Result<std::unique_ptr<OpenAiEmbedder>> OpenAiEmbedder::Create(OpenAiOptions options) {
    std::unique_ptr<OpenAiEmbedder> e(new OpenAiEmbedder(std::move(options)));
    const std::string probe[] = {"health check"};
    CONTEX_ASSIGN_OR_RETURN(auto rows, e->EmbedChunk(probe));
    const int found = static_cast<int>(rows.front().size());
    if (e->options_.expected_dim > 0 && found != e->options_.expected_dim) {
        return InvalidArgument("EMBEDDING_DIM is " + std::to_string(e->options_.expected_dim) +
                               " but " + e->endpoint_ + " returns " + std::to_string(found) +
                               "-dimensional vectors");
    }
    e->dim_ = found;
    return e;
}

Result<std::vector<Vector>> OpenAiEmbedder::Embed(std::span<const std::string> texts) {
    std::vector<Vector> out;
    out.reserve(texts.size());
    const std::size_t batch = static_cast<std::size_t>(options_.batch);
    for (std::size_t i = 0; i < texts.size(); i += batch) {
        CONTEX_ASSIGN_OR_RETURN(auto rows,
                                EmbedChunk(texts.subspan(i, std::min(batch, texts.size() - i))));
        for (auto& r : rows) {
            if (dim_ > 0 && static_cast<int>(r.size()) != dim_) {
                return Unavailable("embedding endpoint changed its dimension to " +
                                   std::to_string(r.size()));
            }
            out.push_back(std::move(r));
        }
    }
    return out;
}

Result<std::vector<Vector>> OpenAiEmbedder::EmbedChunk(std::span<const std::string> texts) {
    const std::size_t max_chars = static_cast<std::size_t>(options_.max_tokens) * 4;
    json::array input;
    for (const auto& t : texts) {
        const std::string valid = IsValidUtf8(t) ? t : RepairUtf8(t);
        input.emplace_back(json::string(Utf8Prefix(valid, max_chars)));
    }
    json::object body;
    body["model"] = options_.model;
    body["input"] = std::move(input);
    body["encoding_format"] = "float";
    CONTEX_ASSIGN_OR_RETURN(std::string raw, PostWithRetries(ToJson(body)));

    auto parsed = ParseJson(raw);
    const json::object* root = parsed.ok() ? parsed->if_object() : nullptr;
    const json::value* data = root ? root->if_contains("data") : nullptr;
    if (data == nullptr || !data->is_array()) {
        return Unavailable("embedding endpoint returned a response without data[]");
    }
    std::vector<std::optional<Vector>> rows(texts.size());
    std::size_t position = 0;
    for (const auto& item : data->get_array()) {
        const json::object* obj = item.if_object();
        const json::value* emb = obj ? obj->if_contains("embedding") : nullptr;
        if (emb == nullptr || !emb->is_array()) {
            return Unavailable("embedding endpoint returned an item without an embedding");
        }
        std::size_t index = position++;
        if (const json::value* idx = obj->if_contains("index"); idx && idx->is_int64()) {
            if (idx->get_int64() < 0) return Unavailable("embedding endpoint returned a bad index");
            index = static_cast<std::size_t>(idx->get_int64());
        }
        if (index >= rows.size() || rows[index]) {
            return Unavailable("embedding endpoint returned a bad or duplicate index");
        }
        Vector v;
        v.reserve(emb->get_array().size());
        for (const auto& x : emb->get_array()) {
            if (!x.is_number()) return Unavailable("embedding endpoint returned a non-number");
            v.push_back(static_cast<float>(x.to_number<double>()));
        }
        if (v.empty()) return Unavailable("embedding endpoint returned an empty embedding");
        if (auto st = NormalizeInPlace(v, /*allow_zero=*/false); !st.ok()) {
            return Unavailable("embedding endpoint returned an invalid vector: " +
                               st.error().message);
        }
        rows[index] = std::move(v);
    }
    std::vector<Vector> out;
    out.reserve(rows.size());
    for (auto& r : rows) {
        if (!r) return Unavailable("embedding endpoint returned fewer embeddings than inputs");
        if (!out.empty() && r->size() != out.front().size()) {
            return Unavailable("embedding endpoint returned rows of different dimensions");
        }
        out.push_back(std::move(*r));
    }
    return out;
}

Result<std::string> OpenAiEmbedder::PostWithRetries(const std::string& body) {
    http::Request req;
    req.method = "POST";
    req.url = endpoint_;
    req.body = body;
    req.timeout = options_.timeout;
    req.headers.push_back("Content-Type: application/json");
    req.headers.push_back("Accept: application/json");
    if (!options_.api_key.empty())
        req.headers.push_back("Authorization: Bearer " + options_.api_key);

    Error last;
    for (int attempt = 0;; ++attempt) {
        std::optional<std::string> retry_after;
        auto resp = http::Perform(req);
        if (resp.ok()) {
            if (resp->status >= 200 && resp->status < 300) return std::move(resp->body);
            last = Unavailable("embedding endpoint answered HTTP " + std::to_string(resp->status));
            if (!Retryable(resp->status)) return last;
            retry_after = resp->Header("retry-after");
        } else {
            last = std::move(resp).error();
        }
        if (attempt >= options_.retries) break;
        if (options_.metrics) {
            options_.metrics->AddCounter("contex_retries_total", "Retries", {"operation"})
                .WithLabels({"embedding_api"})
                .Inc();
        }
        options_.sleep(RetryDelay(attempt, retry_after, UnitRandom()));
    }
    if (options_.metrics) {
        options_.metrics->AddCounter("contex_retry_exhausted_total", "Give-ups", {"operation"})
            .WithLabels({"embedding_api"})
            .Inc();
    }
    if (last.code != ErrorCode::kTimeout) last.code = ErrorCode::kUnavailable;
    return last;
}

}  // namespace contex::embed
