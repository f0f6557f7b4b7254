#include "embed/local_embedder.hpp"

namespace contex::embed {

Result<std::unique_ptr<LocalEmbedder>> LocalEmbedder::Load(const std::filesystem::path& dir,
                                                           Precision precision,
                                                           std::string model_id, int threads) {
    CONTEX_ASSIGN_OR_RETURN(auto tokenizer, native::WordPieceTokenizer::Load(dir));
    CONTEX_ASSIGN_OR_RETURN(
        auto model,
        native::BertModel::Load(dir, precision == Precision::kInt8 ? native::Precision::kInt8
                                                                   : native::Precision::kFp32));
    return std::unique_ptr<LocalEmbedder>(
        new LocalEmbedder(std::move(model), std::move(tokenizer), std::move(model_id), threads));
}

LocalEmbedder::LocalEmbedder(std::unique_ptr<native::BertModel> model,
                             native::WordPieceTokenizer tokenizer, std::string model_id,
                             int threads)
    : model_(std::move(model)),
      tokenizer_(std::move(tokenizer)),
      model_id_(std::move(model_id)),
      team_(std::max(0, threads - 1)) {}

std::unique_ptr<native::BertModel::Workspace> LocalEmbedder::AcquireWorkspace() {
    {
        std::lock_guard lock(free_mutex_);
        if (!free_.empty()) {
            auto ws = std::move(free_.back());
            free_.pop_back();
            return ws;
        }
    }
    return model_->NewWorkspace();  // one per concurrent caller
}

void LocalEmbedder::ReleaseWorkspace(std::unique_ptr<native::BertModel::Workspace> ws) {
    std::lock_guard lock(free_mutex_);
    free_.push_back(std::move(ws));
}

Result<std::vector<Vector>> LocalEmbedder::Embed(std::span<const std::string> texts) {
    if (texts.empty()) return std::vector<Vector>{};
    const std::size_t max_len = static_cast<std::size_t>(std::max(2, max_tokens()));
    std::vector<std::vector<int32_t>> ids;
    ids.reserve(texts.size());
    for (const auto& t : texts) ids.push_back(tokenizer_.Encode(t, max_len));
    auto ws = AcquireWorkspace();
    std::vector<float> flat;
    const bool alone = in_flight_.fetch_add(1, std::memory_order_acq_rel) == 0;
    Status st = model_->Encode(*ws, ids, flat, alone ? &team_ : nullptr);
    in_flight_.fetch_sub(1, std::memory_order_acq_rel);
    ReleaseWorkspace(std::move(ws));
    CONTEX_TRY(st);
    const std::size_t d = static_cast<std::size_t>(dim());
    if (flat.size() != d * texts.size()) return Internal("model returned a malformed batch");
    std::vector<Vector> out;
    out.reserve(texts.size());
    for (std::size_t i = 0; i < texts.size(); ++i) {
        Vector row(flat.begin() + static_cast<std::ptrdiff_t>(i * d),
                   flat.begin() + static_cast<std::ptrdiff_t>((i + 1) * d));
        CONTEX_TRY(NormalizeInPlace(row, /*allow_zero=*/false));
        out.push_back(std::move(row));
    }
    return out;
}

}  // namespace contex::embed
