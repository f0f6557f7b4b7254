// LocalEmbedder: the native BERT runtime (embed/native) behind the Embedder interface.
// Built only when contex::embed_native is part of the build (CONTEX_HAVE_EMBED_NATIVE).
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <vector>

#include "embed/config.hpp"
#include "embed/embedder.hpp"
#include "embed/native/bert_model.hpp"
#include "embed/native/intra_op_team.hpp"
#include "embed/native/tokenizer.hpp"

namespace contex::embed {

// One shared, read-only model and tokenizer; each concurrent Embed call borrows its own
// Workspace from a free list (the list's mutex is held only to pop/push, never during
// inference). A call that runs alone also borrows an IntraOpTeam, so one short query
// uses every core the embedder was given; concurrent calls each run on their own thread.
// Thread-safe.
class LocalEmbedder final : public Embedder {
  public:
    // Loads tokenizer and weights from `dir`. `threads`: cores one lone call may use
    // (EMBEDDING_THREADS; threads - 1 helper threads are started). Errors from
    // BertModel::Load / WordPieceTokenizer::Load (kNotFound, kInvalidArgument, kInternal).
    static Result<std::unique_ptr<LocalEmbedder>> Load(const std::filesystem::path& dir,
                                                       Precision precision, std::string model_id,
                                                       int threads = 1);

    const std::string& model_id() const override { return model_id_; }
    int dim() const override { return model_->info().hidden; }
    int max_tokens() const override { return model_->info().max_seq_tokens; }
    // Word pieces without [CLS]/[SEP] (engine.md §1.10).
    std::size_t CountTokens(std::string_view text) const override {
        return tokenizer_.CountTokens(text);
    }
    // kInternal when the model produces NaN/Inf or a zero vector.
    Result<std::vector<Vector>> Embed(std::span<const std::string> texts) override;

    const native::BertModel& model() const { return *model_; }

  private:
    LocalEmbedder(std::unique_ptr<native::BertModel> model, native::WordPieceTokenizer tokenizer,
                  std::string model_id, int threads);
    std::unique_ptr<native::BertModel::Workspace> AcquireWorkspace();
    void ReleaseWorkspace(std::unique_ptr<native::BertModel::Workspace> ws);

    std::unique_ptr<native::BertModel> model_;
    native::WordPieceTokenizer tokenizer_;
    std::string model_id_;
    std::mutex free_mutex_;
    std::vector<std::unique_ptr<native::BertModel::Workspace>> free_;  // guarded by free_mutex_
    native::IntraOpTeam team_;
    std::atomic<int> in_flight_{0};  // Embed calls running: the team goes to a lone one
};

}  // namespace contex::embed
