// Native BERT sentence-embedding runtime (engine.md §2.2): loads a Hugging Face
// sentence-transformers directory and embeds batches of token ids on the CPU.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace contex::embed::native {

class IntraOpTeam;

// fp32: oneDNN fp32 GEMMs. int8: linear layers with per-output-channel symmetric int8
// weights (quantised at load), per-row dynamic u8 activations, int32 accumulation;
// embeddings, attention and LayerNorm stay fp32.
enum class Precision { kFp32, kInt8 };

// Hyper-parameters of a loaded model.
struct ModelInfo {
    int hidden = 0;
    int layers = 0;
    int heads = 0;
    int intermediate = 0;
    int vocab = 0;
    int max_position = 0;
    int max_seq_tokens = 0;   // sentence_bert_config max_seq_length, else max_position
    std::string pooling;      // "mean" | "cls" | "max"
    bool normalize = true;    // the model directory lists a Normalize module
    float layer_norm_eps = 1e-12f;
};

// Kernel selection for tests and benchmarks; production code uses the defaults.
struct LoadOptions {
    // Row kernels: "auto" (best the CPU has), "avx512", "avx2" or "generic". A request the
    // CPU cannot honour falls back to the best supported set.
    std::string kernels = "auto";
};

// One loaded model, shared read-only by all workers (llama.cpp model/context split): the
// weights live here, the scratch buffers in per-worker Workspaces.
class BertModel {
public:
    class Workspace;

    // Loads config.json, model.safetensors (F32/F16/BF16; names with or without "bert."),
    // optional sentence_bert_config.json, modules.json and <pooling>/config.json.
    // kNotFound: a required file is missing; kInvalidArgument: malformed or unsupported
    // config (e.g. hidden_act other than gelu), missing tensors or wrong shapes;
    // kInternal: the GEMM backend failed to prepare the weights.
    static Result<std::unique_ptr<BertModel>> Load(const std::filesystem::path& dir,
                                                   Precision precision,
                                                   const LoadOptions& options = {});

    ~BertModel();
    BertModel(const BertModel&) = delete;
    BertModel& operator=(const BertModel&) = delete;

    const ModelInfo& info() const;
    Precision precision() const;
    // Name of the row-kernel set in use ("avx512", "avx2", "generic").
    std::string_view kernels_name() const;
    // Whether Encode can split its products across an IntraOpTeam (it depends on the
    // weight layout the GEMM backend chose for this CPU); without it a team is not used.
    bool supports_team() const;

    // Scratch for one worker (use one workspace per concurrent caller for throughput).
    std::unique_ptr<Workspace> NewWorkspace() const;

    // Embeds a batch of token-id sequences (ragged; each as produced by
    // WordPieceTokenizer::Encode). Writes batch.size() x hidden floats to `out`
    // (resized), each row pooled and L2-normalised. Sequences are packed without padding;
    // attention only sees a sequence's own tokens, which equals masked attention over a
    // padded batch. Thread-safe when each thread uses its own Workspace (created by this
    // model). With a `team`, a batch of at most 256 tokens borrows its helper threads when
    // no other call holds them (results are the same either way, up to float rounding).
    // kInvalidArgument: an empty sequence, one longer than max_position, or an id
    // outside the vocabulary; kInternal: non-finite output or a backend failure.
    Status Encode(Workspace& workspace, std::span<const std::vector<int32_t>> batch,
                  std::vector<float>& out, IntraOpTeam* team = nullptr) const;

    struct Impl;

private:
    explicit BertModel(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// Opaque per-worker scratch (buffers, GEMM primitives). Not thread-safe; reuse it across
// calls to avoid reallocations.
class BertModel::Workspace {
public:
    ~Workspace();
    Workspace(const Workspace&) = delete;
    Workspace& operator=(const Workspace&) = delete;

    struct State;

private:
    friend class BertModel;
    explicit Workspace(std::unique_ptr<State> state);
    std::unique_ptr<State> state_;
};

}  // namespace contex::embed::native
