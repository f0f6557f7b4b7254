#include "embed/native/bert_model.hpp"

#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <tuple>
#include <optional>
#include <string_view>
#include <utility>

#include "common/json.hpp"
#include "embed/native/file_util.hpp"
#include "embed/native/intra_op_team.hpp"
#include "embed/native/kernels.hpp"
#include "embed/native/safetensors.hpp"

namespace contex::embed::native {
namespace {

namespace fs = std::filesystem;
using internal::Kernels;
using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

// Rows used to let oneDNN pick the blocked weight layout; the layout does not depend on M
// for the brgemm kernels, so every batch size reuses it.
constexpr int64_t kLayoutProbeRows = 128;
// GEMMs run on blocks of at most this many rows so that their outputs are still in L2
// when the epilogue (dequantise, GELU, LayerNorm, quantise) reads them. It also bounds the
// distinct GEMM shapes, hence cached primitives, to 4 * kRowBlock per workspace. (256-row
// blocks measured no faster for fp32.)
constexpr int64_t kRowBlock = 128;
// Batches of at most this many tokens may borrow an IntraOpTeam: latency-bound calls
// whose GEMMs are too small to keep one core busy on their own. Bigger batches come from
// bulk work, where several workers already occupy the cores.
constexpr int64_t kTeamMaxRows = 256;
// Batches of at most this many tokens (fp32, where Kernels::gemm_fm exists) run every
// layer in the feature-major layout, one vector lane per token (LayersFeatureMajor): at so
// few rows a product is bound by streaming the weights, which gemm_fm reads sequentially
// from the model's tiled copy (decision 0006).
constexpr int64_t kFeatureMajorRows = 16;
// Column ranges per team thread in a feature-major product.
constexpr int kRangesPerThread = 4;

enum LinearKind { kQkv = 0, kAttnOut = 1, kFfnUp = 2, kFfnDown = 3 };

// Output columns per tile of Linear::tiles (the width Kernels::gemm_fm works in).
constexpr int64_t kTileColumns = 16;

struct AlignedFree {
    void operator()(float* p) const { std::free(p); }
};

struct Linear {
    int n = 0;  // output features
    int k = 0;  // input features
    std::vector<float> bias;
    dnnl::memory::desc weights_desc;
    dnnl::memory weights;            // oneDNN's blocked layout, f32 or s8
    std::vector<float> col_scale;    // int8: per-output-channel weight scale
    std::vector<int32_t> comp;       // int8: 128 * sum_k(wq), undoes the u8 zero point
    // oneDNN's blocked layouts keep each block of `column_block` output columns (all of
    // k) contiguous, `column_block_bytes` apart, so a run of whole blocks is itself a
    // valid weight matrix: each part of a team step multiplies by its own column range.
    // 0 when the chosen layout is not of that form (the call then runs on one thread).
    int64_t column_block = 0;
    std::size_t column_block_bytes = 0;
    // The fp32 weights once more, for Kernels::gemm_fm (null without it): tiles of
    // kTileColumns output columns, each k x kTileColumns row-major, the last zero-padded.
    // Batches of at most kFeatureMajorRows tokens use these instead of oneDNN; a second
    // copy because oneDNN's layout is the faster one for big blocks (decision 0006).
    std::unique_ptr<float[], AlignedFree> tiles;
};

// Columns [begin, end) of `n` computed by part `part` of `parts`: whole blocks of `block`
// columns, split as evenly as blocks allow (possibly empty).
std::pair<int64_t, int64_t> ColumnRange(int64_t n, int64_t block, int part, int parts) {
    const int64_t blocks = (n + block - 1) / block;
    const int64_t begin = blocks * part / parts * block;
    const int64_t end = std::min<int64_t>(n, blocks * (part + 1) / parts * block);
    return {begin, std::max(begin, end)};
}

// Column block size and stride when `desc` stores whole column blocks contiguously
// (see Linear::column_block), else {0, 0}.
std::pair<int64_t, std::size_t> ColumnBlocking(const dnnl::memory::desc& desc) {
    const dnnl_memory_desc_t& d = desc.data;
    if (d.ndims != 2 || d.format_kind != dnnl_blocked || d.offset0 != 0 || d.extra.flags != 0) {
        return {0, 0};
    }
    const auto& b = d.format_desc.blocking;
    int64_t column_block = 1, row_block = 1;
    for (int i = 0; i < b.inner_nblks; ++i) {
        (b.inner_idxs[i] == 1 ? column_block : row_block) *= b.inner_blks[i];
    }
    // Dense, column blocks outermost: a column block holds all row blocks back to back.
    const int64_t row_blocks = d.padded_dims[0] / row_block;
    if (b.strides[1] != d.padded_dims[0] * column_block ||
        (row_blocks > 1 && b.strides[0] * row_blocks != b.strides[1])) {
        return {0, 0};
    }
    const std::size_t element = desc.get_size() / static_cast<std::size_t>(
                                                     d.padded_dims[0] * d.padded_dims[1]);
    return {column_block, static_cast<std::size_t>(b.strides[1]) * element};
}

struct Layer {
    Linear qkv, attn_out, ffn_up, ffn_down;
    std::vector<float> ln1_gamma, ln1_beta, ln2_gamma, ln2_beta;
};

// 64-byte aligned grow-only buffer.
template <typename T>
class Buffer {
public:
    Buffer() = default;
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    ~Buffer() { std::free(data_); }
    T* Ensure(std::size_t n) {
        if (n > capacity_) {
            std::free(data_);
            const std::size_t bytes = ((std::max<std::size_t>(n, 1) * sizeof(T) + 63) / 64) * 64;
            data_ = static_cast<T*>(std::aligned_alloc(64, bytes));
            CONTEX_ASSERT(data_ != nullptr);
            capacity_ = n;
        }
        return data_;
    }
    T* data() const { return data_; }

private:
    T* data_ = nullptr;
    std::size_t capacity_ = 0;
};

// Sets the calling thread's OpenMP team size (used by oneDNN) for one Encode call.
class OmpThreadsScope {
public:
    explicit OmpThreadsScope(int threads) : previous_(omp_get_max_threads()) {
        omp_set_num_threads(threads);
    }
    ~OmpThreadsScope() { omp_set_num_threads(previous_); }
    OmpThreadsScope(const OmpThreadsScope&) = delete;
    OmpThreadsScope& operator=(const OmpThreadsScope&) = delete;

private:
    int previous_;
};

Result<int> GetInt(const json::object& obj, std::string_view key, std::optional<int> fallback) {
    const auto* v = obj.if_contains(key);
    if (v == nullptr || v->is_null()) {
        if (fallback) return *fallback;
        return InvalidArgument("config.json lacks " + std::string(key));
    }
    if (!v->is_int64() || v->get_int64() <= 0 || v->get_int64() > (1 << 24)) {
        return InvalidArgument("config.json " + std::string(key) + " must be a positive integer");
    }
    return static_cast<int>(v->get_int64());
}

bool GetBool(const json::object& obj, std::string_view key) {
    const auto* v = obj.if_contains(key);
    return v != nullptr && v->is_bool() && v->get_bool();
}

bool HasVnni() {
    using dnnl::cpu_isa;
    switch (dnnl::get_effective_cpu_isa()) {
        case cpu_isa::avx512_core_vnni:
        case cpu_isa::avx512_core_bf16:
        case cpu_isa::avx512_core_amx:
        case cpu_isa::avx2_vnni:
            return true;
        default:
            return false;
    }
}

internal::Isa ParseIsa(std::string_view name) {
    if (name == "avx512") return internal::Isa::kAvx512;
    if (name == "avx2") return internal::Isa::kAvx2;
    if (name == "generic") return internal::Isa::kGeneric;
    return internal::Isa::kAuto;
}

// W ([n, k] row-major, as PyTorch stores it) as Linear::tiles.
std::unique_ptr<float[], AlignedFree> TileWeights(const std::vector<float>& w, int n, int k) {
    const int64_t tiles = (n + kTileColumns - 1) / kTileColumns;
    const std::size_t floats = static_cast<std::size_t>(tiles * kTileColumns) * k;
    std::unique_ptr<float[], AlignedFree> out(
        static_cast<float*>(std::aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64)));
    CONTEX_ASSERT(out != nullptr);
    for (int64_t t = 0; t < tiles; ++t) {
        float* tile = out.get() + t * kTileColumns * k;
        for (int kk = 0; kk < k; ++kk) {
            for (int64_t i = 0; i < kTileColumns; ++i) {
                const int64_t col = t * kTileColumns + i;
                tile[kk * kTileColumns + i] =
                    col < n ? w[static_cast<std::size_t>(col) * k + kk] : 0.0f;
            }
        }
    }
    return out;
}

}  // namespace

struct BertModel::Impl {
    ModelInfo info;
    Precision precision = Precision::kFp32;
    const Kernels* kernels = nullptr;
    dnnl::engine engine{dnnl::engine::kind::cpu, 0};
    std::vector<float> word, position, token_type, emb_gamma, emb_beta;
    std::vector<Layer> layers;
    int weight_qmax = 127;
    bool splittable = false;  // every Linear has a column_block: calls may use a team

    Result<Linear> MakeLinear(std::vector<float> w, std::vector<float> bias, int n, int k) const;
};

// A GEMM primitive with its memory objects; data handles are set per call (creating
// memory objects costs an allocation each, three per product).
struct BoundGemm {
    dnnl::matmul primitive;
    dnnl::memory src, weights, dst;
};
// (kind, rows, first column, end column) -> primitive.
using GemmCache = std::map<std::tuple<int, int64_t, int64_t, int64_t>, BoundGemm>;

struct BertModel::Workspace::State {
    const BertModel::Impl* model = nullptr;
    dnnl::stream stream;
    GemmCache primitives;
    Buffer<float> hidden, qkv, ctx, tmp, ffn, scratch, row_scale, row_buf, hidden_fm;
    Buffer<int32_t> acc;
    Buffer<uint8_t> quant;

    // What one part of an IntraOpTeam step needs of its own (whichever thread runs it): a
    // stream, the primitives for its column ranges, its GEMM output and attention scratch.
    struct Part {
        dnnl::stream stream;
        GemmCache primitives;
        Buffer<float> out, scratch;
        Buffer<int32_t> acc;
    };
    std::vector<std::unique_ptr<Part>> part_states;  // index = part, grown on demand

    Part& PartState(int index) { return *part_states[static_cast<std::size_t>(index)]; }
    void EnsureParts(int count) {
        while (part_states.size() < static_cast<std::size_t>(count)) {
            auto mem = std::make_unique<Part>();
            mem->stream = dnnl::stream(model->engine);
            part_states.push_back(std::move(mem));
        }
    }

    // The encoder layers, fp32, for a batch of at most kFeatureMajorRows tokens, in the
    // feature-major layout of Kernels::pack_fm: `x` (rows x hidden, row-major) in and
    // out; group[lane] is each lane's sequence (-1 for padding). A lease splits products
    // into column ranges and attention by heads; LayerNorm (a few thousand values) runs on
    // the caller, so a layer has four team steps fewer than the row-major path, and no
    // product packs its input or transposes its output.
    void LayersFeatureMajor(IntraOpTeam::Lease* lease, int rows, const int32_t* group, float* x) {
        const Kernels& k = *model->kernels;
        const ModelInfo& info = model->info;
        const int H = info.hidden, I = info.intermediate, dim = H / info.heads;
        constexpr int kLanes = static_cast<int>(kFeatureMajorRows);
        float* xf = hidden_fm.Ensure(static_cast<std::size_t>(kLanes) * H);
        float* qkvf = qkv.Ensure(static_cast<std::size_t>(kLanes) * 3 * H);
        float* ctxf = ctx.Ensure(static_cast<std::size_t>(kLanes) * H);
        float* outf = tmp.Ensure(static_cast<std::size_t>(kLanes) * H);
        float* ffnf = ffn.Ensure(static_cast<std::size_t>(kLanes) * I);
        k.pack_fm(x, H, rows, H, xf);
        auto run = [&](int parts, const auto& part) {
            if (lease != nullptr) {
                lease->Run(parts, part);
            } else {
                for (int p = 0; p < parts; ++p) part(p);
            }
        };
        enum class Then { kNothing, kBias, kBiasGelu };
        // out = in x W^T, then `then` on each column range as it is computed.
        auto product = [&](const Linear& l, const float* in, float* out, Then then) {
            const auto tiles = static_cast<int>((l.n + kTileColumns - 1) / kTileColumns);
            const int ranges = lease ? std::min(tiles, kRangesPerThread * lease->parts()) : 1;
            const std::size_t tile_floats = static_cast<std::size_t>(l.k) * kTileColumns;
            run(ranges, [&](int t) {
                const auto [begin, end] = ColumnRange(l.n, kTileColumns, t, ranges);
                if (begin == end) return;
                const int cols = static_cast<int>(end - begin);
                float* o = out + begin * kLanes;
                k.gemm_fm(in, l.k, l.tiles.get() + begin / kTileColumns * tile_floats,
                          tile_floats, cols, o);
                if (then != Then::kNothing) {
                    k.bias_fm(o, l.bias.data() + begin, cols, then == Then::kBiasGelu);
                }
            });
        };
        const float eps = info.layer_norm_eps;
        const float scale = 1.0f / std::sqrt(static_cast<float>(dim));
        for (const Layer& layer : model->layers) {
            product(layer.qkv, xf, qkvf, Then::kBias);
            run(info.heads, [&](int h) {
                const int first = h * dim * kLanes;
                k.attention_fm(qkvf + first, qkvf + H * kLanes + first,
                               qkvf + 2 * H * kLanes + first, group, dim, scale, ctxf + first);
            });
            product(layer.attn_out, ctxf, outf, Then::kNothing);
            k.layer_norm_fm(xf, outf, layer.attn_out.bias.data(), layer.ln1_gamma.data(),
                            layer.ln1_beta.data(), H, eps);
            product(layer.ffn_up, xf, ffnf, Then::kBiasGelu);
            product(layer.ffn_down, ffnf, outf, Then::kNothing);
            k.layer_norm_fm(xf, outf, layer.ffn_down.bias.data(), layer.ln2_gamma.data(),
                            layer.ln2_beta.data(), H, eps);
        }
        for (int r = 0; r < rows; ++r) {
            for (int c = 0; c < H; ++c) x[r * H + c] = xf[c * kLanes + r];
        }
    }

    // dst = src x W^T for M rows (f32 -> f32, or u8 -> s32 in int8 mode).
    void Gemm(LinearKind kind, const Linear& l, const void* src, int64_t m, void* dst) {
        Run(primitives, stream, {static_cast<int>(kind), m, 0, l.n}, l, l.weights_desc,
            l.weights.get_data_handle(), src, dst);
    }

    // Columns [begin, end) of dst = src x W^T for M rows into the dense m x (end - begin)
    // buffer `dst`, on `mem`'s stream: the weights of whole column blocks are a slice of
    // the blocked buffer. The primitive must exist (PrepareColumns).
    void GemmColumns(Part& mem, LinearKind kind, const Linear& l, const void* src, int64_t m,
                     int64_t begin, int64_t end, void* dst) {
        auto* base = static_cast<char*>(l.weights.get_data_handle());
        Run(mem.primitives, mem.stream, {static_cast<int>(kind), m, begin, end}, l,
            ColumnsDesc(l, begin, end),
            base + static_cast<std::size_t>(begin / l.column_block) * l.column_block_bytes, src,
            dst);
    }

    // Creates the primitive GemmColumns will use, on the calling thread, before a team
    // step: with parts creating theirs concurrently, TSan reported a race inside oneDNN's
    // primitive cache.
    void PrepareColumns(Part& mem, LinearKind kind, const Linear& l, int64_t m, int64_t begin,
                        int64_t end) {
        Prepare(mem.primitives, {static_cast<int>(kind), m, begin, end}, l,
                ColumnsDesc(l, begin, end));
    }

    static dnnl::memory::desc ColumnsDesc(const Linear& l, int64_t begin, int64_t end) {
        dnnl_memory_desc_t part = l.weights_desc.data;
        part.dims[1] = end - begin;
        part.padded_dims[1] = (end - begin + l.column_block - 1) / l.column_block * l.column_block;
        return dnnl::memory::desc(part);
    }

    void Run(GemmCache& cache, dnnl::stream& on, const GemmCache::key_type& key, const Linear& l,
             const dnnl::memory::desc& weights_md, void* weights, const void* src, void* dst) {
        BoundGemm& g = Prepare(cache, key, l, weights_md);
        g.src.set_data_handle(const_cast<void*>(src));
        g.weights.set_data_handle(weights);
        g.dst.set_data_handle(dst);
        g.primitive.execute(on, {{DNNL_ARG_SRC, g.src}, {DNNL_ARG_WEIGHTS, g.weights},
                                 {DNNL_ARG_DST, g.dst}});
        on.wait();
    }

    BoundGemm& Prepare(GemmCache& cache, const GemmCache::key_type& key, const Linear& l,
                       const dnnl::memory::desc& weights_md) {
        auto it = cache.find(key);
        if (it == cache.end()) {
            const bool int8 = model->precision == Precision::kInt8;
            const auto [kind, m, begin, end] = key;
            const dnnl::memory::desc src_md({m, l.k}, int8 ? dt::u8 : dt::f32, tag::ab);
            const dnnl::memory::desc dst_md({m, end - begin}, int8 ? dt::s32 : dt::f32, tag::ab);
            dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src_md, weights_md, dst_md),
                                            model->engine);
            const auto& engine = model->engine;
            it = cache.emplace(key, BoundGemm{dnnl::matmul(pd),
                                              dnnl::memory(src_md, engine, DNNL_MEMORY_NONE),
                                              dnnl::memory(weights_md, engine, DNNL_MEMORY_NONE),
                                              dnnl::memory(dst_md, engine, DNNL_MEMORY_NONE)})
                     .first;
        }
        return it->second;
    }
};

Result<Linear> BertModel::Impl::MakeLinear(std::vector<float> w, std::vector<float> bias, int n,
                                           int k) const {
    Linear l;
    l.n = n;
    l.k = k;
    l.bias = std::move(bias);
    try {
        dnnl::stream stream(engine);
        const bool int8 = precision == Precision::kInt8;
        const dt wdt = int8 ? dt::s8 : dt::f32;
        dnnl::matmul::primitive_desc probe(
            dnnl::matmul::desc(dnnl::memory::desc({kLayoutProbeRows, k}, int8 ? dt::u8 : dt::f32,
                                                  tag::ab),
                               dnnl::memory::desc({k, n}, wdt, tag::any),
                               dnnl::memory::desc({kLayoutProbeRows, n},
                                                  int8 ? dt::s32 : dt::f32, tag::ab)),
            engine);
        l.weights_desc = probe.weights_desc();
        l.weights = dnnl::memory(l.weights_desc, engine);
        // PyTorch stores W as [n, k] row-major: the (k, n) matrix in "ba" order.
        const dnnl::memory::desc plain_md({k, n}, wdt, tag::ba);
        std::vector<int8_t> wq;
        void* plain_data = w.data();
        if (int8) {
            wq.resize(w.size());
            l.col_scale.resize(static_cast<std::size_t>(n));
            l.comp.resize(static_cast<std::size_t>(n));
            for (int r = 0; r < n; ++r) {
                const float* row = w.data() + static_cast<std::size_t>(r) * k;
                float amax = 0.0f;
                for (int c = 0; c < k; ++c) amax = std::max(amax, std::fabs(row[c]));
                const float scale = amax > 0.0f ? amax / static_cast<float>(weight_qmax) : 1.0f;
                int32_t sum = 0;
                for (int c = 0; c < k; ++c) {
                    const auto q = static_cast<int32_t>(std::lround(row[c] / scale));
                    const int32_t clamped = std::clamp(q, -weight_qmax, weight_qmax);
                    wq[static_cast<std::size_t>(r) * k + c] = static_cast<int8_t>(clamped);
                    sum += clamped;
                }
                l.col_scale[static_cast<std::size_t>(r)] = scale;
                l.comp[static_cast<std::size_t>(r)] = 128 * sum;
            }
            plain_data = wq.data();
        }
        dnnl::memory plain(plain_md, engine, plain_data);
        dnnl::reorder(plain, l.weights).execute(stream, plain, l.weights);
        stream.wait();
        std::tie(l.column_block, l.column_block_bytes) = ColumnBlocking(l.weights_desc);
        if (!int8 && kernels->gemm_fm != nullptr) l.tiles = TileWeights(w, n, k);
    } catch (const dnnl::error& e) {
        return Internal(std::string("oneDNN failed to prepare weights: ") + e.what());
    }
    return l;
}

BertModel::BertModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BertModel::~BertModel() = default;
BertModel::Workspace::Workspace(std::unique_ptr<State> state) : state_(std::move(state)) {}
BertModel::Workspace::~Workspace() = default;

const ModelInfo& BertModel::info() const { return impl_->info; }
Precision BertModel::precision() const { return impl_->precision; }
std::string_view BertModel::kernels_name() const { return impl_->kernels->name; }
bool BertModel::supports_team() const { return impl_->splittable; }

Result<std::unique_ptr<BertModel>> BertModel::Load(const fs::path& dir, Precision precision,
                                                   const LoadOptions& options) {
    auto impl = std::make_unique<Impl>();
    impl->precision = precision;
    impl->kernels = &internal::SelectKernels(ParseIsa(options.kernels));
    impl->weight_qmax = HasVnni() ? 127 : 63;  // non-VNNI int8 kernels saturate int16 pairs
    ModelInfo& info = impl->info;

    CONTEX_ASSIGN_OR_RETURN(json::value config_doc, internal::ReadJsonFile(dir / "config.json"));
    if (!config_doc.is_object()) return InvalidArgument("config.json is not an object");
    const auto& config = config_doc.get_object();
    CONTEX_ASSIGN_OR_RETURN(info.hidden, GetInt(config, "hidden_size", std::nullopt));
    CONTEX_ASSIGN_OR_RETURN(info.layers, GetInt(config, "num_hidden_layers", std::nullopt));
    CONTEX_ASSIGN_OR_RETURN(info.heads, GetInt(config, "num_attention_heads", std::nullopt));
    CONTEX_ASSIGN_OR_RETURN(info.intermediate, GetInt(config, "intermediate_size", std::nullopt));
    CONTEX_ASSIGN_OR_RETURN(info.vocab, GetInt(config, "vocab_size", std::nullopt));
    CONTEX_ASSIGN_OR_RETURN(info.max_position, GetInt(config, "max_position_embeddings", 512));
    CONTEX_ASSIGN_OR_RETURN(const int type_vocab, GetInt(config, "type_vocab_size", 2));
    if (info.hidden % info.heads != 0) {
        return InvalidArgument("hidden_size is not a multiple of num_attention_heads");
    }
    if (const auto* eps = config.if_contains("layer_norm_eps"); eps && eps->is_number()) {
        info.layer_norm_eps = static_cast<float>(eps->to_number<double>());
    }
    if (const auto* act = config.if_contains("hidden_act");
        act && !(act->is_string() && act->get_string() == "gelu")) {
        return InvalidArgument("unsupported hidden_act (only gelu)");
    }
    if (const auto* pe = config.if_contains("position_embedding_type");
        pe && !(pe->is_string() && pe->get_string() == "absolute")) {
        return InvalidArgument("unsupported position_embedding_type (only absolute)");
    }

    info.max_seq_tokens = info.max_position;
    std::error_code ec;
    if (fs::is_regular_file(dir / "sentence_bert_config.json", ec)) {
        CONTEX_ASSIGN_OR_RETURN(json::value sb,
                                internal::ReadJsonFile(dir / "sentence_bert_config.json"));
        if (const auto* obj = sb.if_object()) {
            if (const auto* v = obj->if_contains("max_seq_length"); v && v->is_int64() &&
                                                                    v->get_int64() > 0) {
                info.max_seq_tokens =
                    static_cast<int>(std::min<int64_t>(v->get_int64(), info.max_position));
            }
        }
    }

    fs::path pooling_dir = dir / "1_Pooling";
    info.normalize = true;
    if (fs::is_regular_file(dir / "modules.json", ec)) {
        CONTEX_ASSIGN_OR_RETURN(json::value modules, internal::ReadJsonFile(dir / "modules.json"));
        if (!modules.is_array()) return InvalidArgument("modules.json is not an array");
        info.normalize = false;
        for (const auto& m : modules.get_array()) {
            const auto* obj = m.if_object();
            const auto* type = obj ? obj->if_contains("type") : nullptr;
            if (type == nullptr || !type->is_string()) continue;
            const std::string_view t = type->get_string();
            if (t.ends_with("Pooling")) {
                const auto* path = obj->if_contains("path");
                if (path && path->is_string()) pooling_dir = dir / std::string(path->get_string());
            } else if (t.ends_with("Normalize")) {
                info.normalize = true;
            }
        }
    }
    info.pooling = "mean";
    if (fs::is_regular_file(pooling_dir / "config.json", ec)) {
        CONTEX_ASSIGN_OR_RETURN(json::value pc, internal::ReadJsonFile(pooling_dir / "config.json"));
        if (const auto* obj = pc.if_object()) {
            const bool cls = GetBool(*obj, "pooling_mode_cls_token");
            const bool mean = GetBool(*obj, "pooling_mode_mean_tokens");
            const bool max = GetBool(*obj, "pooling_mode_max_tokens");
            const bool sqrt_len = GetBool(*obj, "pooling_mode_mean_sqrt_len_tokens");
            if (static_cast<int>(cls) + mean + max + sqrt_len > 1 || sqrt_len) {
                return InvalidArgument("unsupported pooling configuration (one of mean, cls, max)");
            }
            info.pooling = cls ? "cls" : max ? "max" : "mean";
        }
    }

    CONTEX_ASSIGN_OR_RETURN(internal::SafeTensors st,
                            internal::SafeTensors::Open(dir / "model.safetensors"));
    const int64_t h = info.hidden;
    const int64_t inter = info.intermediate;
    CONTEX_ASSIGN_OR_RETURN(impl->word, st.ReadF32("embeddings.word_embeddings.weight",
                                                   {info.vocab, h}));
    CONTEX_ASSIGN_OR_RETURN(impl->position, st.ReadF32("embeddings.position_embeddings.weight",
                                                       {info.max_position, h}));
    CONTEX_ASSIGN_OR_RETURN(impl->token_type,
                            st.ReadF32("embeddings.token_type_embeddings.weight", {type_vocab, h}));
    // Old checkpoints call the LayerNorm parameters gamma/beta.
    auto read_ln = [&](const std::string& base, std::vector<float>& gamma,
                       std::vector<float>& beta) -> Status {
        const bool old = st.Find(base + ".gamma") != nullptr;
        CONTEX_ASSIGN_OR_RETURN(gamma, st.ReadF32(base + (old ? ".gamma" : ".weight"), {h}));
        CONTEX_ASSIGN_OR_RETURN(beta, st.ReadF32(base + (old ? ".beta" : ".bias"), {h}));
        return OkStatus();
    };
    CONTEX_TRY(read_ln("embeddings.LayerNorm", impl->emb_gamma, impl->emb_beta));

    impl->layers.resize(static_cast<std::size_t>(info.layers));
    for (int i = 0; i < info.layers; ++i) {
        const std::string p = "encoder.layer." + std::to_string(i) + ".";
        Layer& layer = impl->layers[static_cast<std::size_t>(i)];
        // Q, K and V share one GEMM: their weights are stacked into a [3h, h] matrix.
        std::vector<float> qkv_w, qkv_b;
        for (const char* part : {"query", "key", "value"}) {
            const std::string base = p + "attention.self." + part;
            CONTEX_ASSIGN_OR_RETURN(auto w, st.ReadF32(base + ".weight", {h, h}));
            CONTEX_ASSIGN_OR_RETURN(auto b, st.ReadF32(base + ".bias", {h}));
            qkv_w.insert(qkv_w.end(), w.begin(), w.end());
            qkv_b.insert(qkv_b.end(), b.begin(), b.end());
        }
        CONTEX_ASSIGN_OR_RETURN(layer.qkv, impl->MakeLinear(std::move(qkv_w), std::move(qkv_b),
                                                            static_cast<int>(3 * h),
                                                            static_cast<int>(h)));
        auto load_linear = [&](const std::string& base, int64_t n, int64_t k,
                               Linear& out) -> Status {
            CONTEX_ASSIGN_OR_RETURN(auto w, st.ReadF32(base + ".weight", {n, k}));
            CONTEX_ASSIGN_OR_RETURN(auto b, st.ReadF32(base + ".bias", {n}));
            CONTEX_ASSIGN_OR_RETURN(out, impl->MakeLinear(std::move(w), std::move(b),
                                                          static_cast<int>(n),
                                                          static_cast<int>(k)));
            return OkStatus();
        };
        CONTEX_TRY(load_linear(p + "attention.output.dense", h, h, layer.attn_out));
        CONTEX_TRY(read_ln(p + "attention.output.LayerNorm", layer.ln1_gamma, layer.ln1_beta));
        CONTEX_TRY(load_linear(p + "intermediate.dense", inter, h, layer.ffn_up));
        CONTEX_TRY(load_linear(p + "output.dense", h, inter, layer.ffn_down));
        CONTEX_TRY(read_ln(p + "output.LayerNorm", layer.ln2_gamma, layer.ln2_beta));
    }
    impl->splittable = std::all_of(impl->layers.begin(), impl->layers.end(), [](const Layer& l) {
        return l.qkv.column_block > 0 && l.attn_out.column_block > 0 &&
               l.ffn_up.column_block > 0 && l.ffn_down.column_block > 0;
    });
    return std::unique_ptr<BertModel>(new BertModel(std::move(impl)));
}

std::unique_ptr<BertModel::Workspace> BertModel::NewWorkspace() const {
    auto state = std::make_unique<Workspace::State>();
    state->model = impl_.get();
    state->stream = dnnl::stream(impl_->engine);
    return std::unique_ptr<Workspace>(new Workspace(std::move(state)));
}

Status BertModel::Encode(Workspace& workspace, std::span<const std::vector<int32_t>> batch,
                         std::vector<float>& out, IntraOpTeam* team) const {
    const Impl& m = *impl_;
    Workspace::State& s = *workspace.state_;
    if (s.model != impl_.get()) return InvalidArgument("workspace belongs to another model");
    const ModelInfo& info = m.info;
    const int H = info.hidden;
    const int I = info.intermediate;
    const int heads = info.heads;
    const int dim = H / heads;
    const bool int8 = m.precision == Precision::kInt8;
    const Kernels& k = *m.kernels;
    out.assign(batch.size() * static_cast<std::size_t>(H), 0.0f);
    if (batch.empty()) return OkStatus();

    std::vector<int64_t> offsets(batch.size() + 1, 0);
    int max_len = 0;
    for (std::size_t b = 0; b < batch.size(); ++b) {
        const auto& seq = batch[b];
        if (seq.empty()) return InvalidArgument("empty token sequence");
        if (seq.size() > static_cast<std::size_t>(info.max_position)) {
            return InvalidArgument("token sequence longer than max_position_embeddings");
        }
        for (int32_t id : seq) {
            if (id < 0 || id >= info.vocab) return InvalidArgument("token id outside vocabulary");
        }
        offsets[b + 1] = offsets[b] + static_cast<int64_t>(seq.size());
        max_len = std::max(max_len, static_cast<int>(seq.size()));
    }
    const int64_t M = offsets.back();
    const auto rows = static_cast<std::size_t>(M);
    const int64_t row_block = kRowBlock;
    const auto block = static_cast<std::size_t>(row_block);
    // Whole-batch buffers: hidden states, Q|K|V and attention context. Everything else is
    // per row block, so GEMM outputs are consumed by their epilogue while still in cache.
    float* x = s.hidden.Ensure(rows * H);
    float* qkv = s.qkv.Ensure(rows * 3 * H);
    float* ctx = s.ctx.Ensure(rows * H);
    float* tmp = s.tmp.Ensure(block * H);
    float* ffn = s.ffn.Ensure(block * I);
    float* scratch = s.scratch.Ensure(static_cast<std::size_t>(dim + 4) * ((max_len + 15) / 16 * 16));
    float* rs = s.row_scale.Ensure(block);
    int32_t* acc = int8 ? s.acc.Ensure(block * std::max(3 * H, I)) : nullptr;
    uint8_t* xq = int8 ? s.quant.Ensure(block * std::max(H, I)) : nullptr;
    const float eps = info.layer_norm_eps;
    const float attn_scale = 1.0f / std::sqrt(static_cast<float>(dim));

    auto row = [](auto* base, int64_t r, int width) { return base + r * width; };
    // int8: quantise `n` rows of `src` into xq/rs.
    auto quantize = [&](const float* src, int64_t n, int width) {
        for (int64_t r = 0; r < n; ++r) rs[r] = k.quantize_u8(row(src, r, width), row(xq, r, width), width);
    };

    // A small batch borrows the team's idle cores when it is free: each part then
    // multiplies by its own column range, attention is split by heads, epilogues by rows.
    std::unique_ptr<IntraOpTeam::Lease> lease;
    if (team != nullptr && team->parts() > 1 && m.splittable && M <= kTeamMaxRows) {
        lease = team->TryAcquire();
    }
    const int parts = lease ? lease->parts() : 1;
    if (lease) s.EnsureParts(parts);
    std::vector<std::string> part_errors(static_cast<std::size_t>(parts));
    // Runs step(part) for every part; a oneDNN failure is recorded, not thrown across
    // the team's threads.
    auto run_parts = [&](const auto& step) {
        auto guarded = [&](int t) {
            try {
                // oneDNN runs on each team thread alone (the caller: omp_scope below).
                thread_local const bool single_threaded = (omp_set_num_threads(1), true);
                (void)single_threaded;
                step(t);
            } catch (const dnnl::error& e) {
                part_errors[static_cast<std::size_t>(t)] = e.what();
            }
        };
        if (lease) {
            lease->Run(guarded);
        } else {
            guarded(0);
        }
    };
    auto part_rows = [&](int t, int64_t n) {
        return std::make_pair(n * t / parts, n * (t + 1) / parts);
    };

    // dst = src W^T for `n` rows, then on each output row y (bias included in int8,
    // not yet in fp32): columns(r, y, begin, end) for elementwise work on a column range,
    // then, when given, whole_row(r, y). Alone, int8 rows with a whole_row step are
    // dequantised into a small buffer that stays in L1 (dst is then not written unless
    // the step copies it there); in a team every row is in dst, and whole_row waits for
    // all column ranges (it reads whole rows and overwrites the next GEMM's int8 input).
    float* row_buf = s.row_buf.Ensure(static_cast<std::size_t>(std::max(3 * H, I)));
    using RowFn = std::function<void(int64_t r, float* y)>;
    auto dense = [&](LinearKind kind, const Linear& l, const float* src, int64_t n, float* dst,
                     const auto& columns, const RowFn& whole_row) {
        auto whole_rows = [&] {
            if (!whole_row) return;
            run_parts([&](int t) {
                const auto [r0, r1] = part_rows(t, n);
                for (int64_t r = r0; r < r1; ++r) whole_row(r, row(dst, r, l.n));
            });
        };
        if (lease) {
            for (int t = 0; t < parts; ++t) {
                const auto [begin, end] = ColumnRange(l.n, l.column_block, t, parts);
                if (begin < end) s.PrepareColumns(s.PartState(t), kind, l, n, begin, end);
            }
            run_parts([&](int t) {
                const auto [begin, end] = ColumnRange(l.n, l.column_block, t, parts);
                const int cols = static_cast<int>(end - begin);
                if (cols == 0) return;
                auto& mem = s.PartState(t);
                const auto part = static_cast<std::size_t>(n * cols);
                int32_t* part_acc = int8 ? mem.acc.Ensure(part) : nullptr;
                float* part_out = int8 ? nullptr : mem.out.Ensure(part);
                if (int8) {
                    s.GemmColumns(mem, kind, l, xq, n, begin, end, part_acc);
                } else {
                    s.GemmColumns(mem, kind, l, src, n, begin, end, part_out);
                }
                for (int64_t r = 0; r < n; ++r) {
                    float* y = row(dst, r, l.n);
                    if (int8) {
                        k.dequantize(row(part_acc, r, cols), l.comp.data() + begin, rs[r],
                                     l.col_scale.data() + begin, l.bias.data() + begin,
                                     y + begin, cols);
                    } else {
                        std::memcpy(y + begin, row(part_out, r, cols),
                                    sizeof(float) * static_cast<std::size_t>(cols));
                    }
                    columns(r, y, static_cast<int>(begin), cols);
                }
            });
            whole_rows();
            return;
        }
        if (!int8) {
            s.Gemm(kind, l, src, n, dst);
            for (int64_t r = 0; r < n; ++r) {
                columns(r, row(dst, r, l.n), 0, l.n);
                if (whole_row) whole_row(r, row(dst, r, l.n));
            }
            return;
        }
        s.Gemm(kind, l, xq, n, acc);
        for (int64_t r = 0; r < n; ++r) {
            float* y = whole_row ? row_buf : row(dst, r, l.n);
            k.dequantize(row(acc, r, l.n), l.comp.data(), rs[r], l.col_scale.data(),
                         l.bias.data(), y, l.n);
            columns(r, y, 0, l.n);
            if (whole_row) whole_row(r, y);
        }
    };
    auto no_columns = [](int64_t, float*, int, int) {};
    const std::size_t scratch_floats = static_cast<std::size_t>(dim + 4) * ((max_len + 15) / 16 * 16);

    try {
        OmpThreadsScope omp_scope(1);  // oneDNN runs on the calling thread only
        // Embeddings: word + position + token type 0, then LayerNorm.
        for (std::size_t b = 0; b < batch.size(); ++b) {
            const auto& seq = batch[b];
            for (std::size_t p = 0; p < seq.size(); ++p) {
                float* xr = row(x, offsets[b] + static_cast<int64_t>(p), H);
                std::memcpy(xr, m.word.data() + static_cast<std::size_t>(seq[p]) * H,
                            sizeof(float) * H);
                k.layer_norm(xr, m.position.data() + p * H, m.token_type.data(),
                             m.emb_gamma.data(), m.emb_beta.data(), H, eps);
            }
        }
        // Every fp32 linear has its tiles exactly where gemm_fm exists.
        const bool feature_major = !int8 && M <= kFeatureMajorRows && k.gemm_fm != nullptr;
        if (feature_major) {
            std::array<int32_t, kFeatureMajorRows> group;
            group.fill(-1);
            for (std::size_t b = 0; b < batch.size(); ++b) {
                std::fill(group.begin() + offsets[b], group.begin() + offsets[b + 1],
                          static_cast<int32_t>(b));
            }
            s.LayersFeatureMajor(lease.get(), static_cast<int>(M), group.data(), x);
        } else {
            const int64_t attention_tasks = static_cast<int64_t>(batch.size()) * heads;
            for (const Layer& layer : m.layers) {
                // Q, K, V projections.
                for (int64_t r0 = 0; r0 < M; r0 += row_block) {
                    const int64_t n = std::min<int64_t>(row_block, M - r0);
                    if (int8) quantize(row(x, r0, H), n, H);
                    float* qkv_block = row(qkv, r0, 3 * H);
                    dense(kQkv, layer.qkv, row(x, r0, H), n, qkv_block,
                          [&](int64_t, float* y, int begin, int cols) {
                              if (!int8) k.add_bias(y + begin, layer.qkv.bias.data() + begin, cols);
                          },
                          nullptr);
                }
                // Attention: each sequence attends to its own tokens only; one task per
                // (sequence, head).
                run_parts([&](int t) {
                    float* head_scratch =
                        lease ? s.PartState(t).scratch.Ensure(scratch_floats) : scratch;
                    const auto [first, last] = part_rows(t, attention_tasks);
                    for (int64_t task = first; task < last; ++task) {
                        const auto b = static_cast<std::size_t>(task / heads);
                        const int hd = static_cast<int>(task % heads);
                        const int len = static_cast<int>(batch[b].size());
                        const float* base = row(qkv, offsets[b], 3 * H);
                        float* cb = row(ctx, offsets[b], H);
                        k.attention(base + hd * dim, base + H + hd * dim, base + 2 * H + hd * dim,
                                    3 * H, len, dim, attn_scale, cb + hd * dim, H, head_scratch);
                    }
                });
                // Output projection + LayerNorm, then the feed-forward block, row block by
                // row block (all row-local).
                for (int64_t r0 = 0; r0 < M; r0 += row_block) {
                    const int64_t n = std::min<int64_t>(row_block, M - r0);
                    float* xb = row(x, r0, H);
                    if (int8) quantize(row(ctx, r0, H), n, H);
                    // The int8 epilogues quantise their output row in place for the next GEMM.
                    dense(kAttnOut, layer.attn_out, row(ctx, r0, H), n, tmp, no_columns,
                          [&](int64_t r, float* y) {
                              k.layer_norm(row(xb, r, H), y,
                                           int8 ? nullptr : layer.attn_out.bias.data(),
                                           layer.ln1_gamma.data(), layer.ln1_beta.data(), H, eps);
                              if (int8) rs[r] = k.quantize_u8(row(xb, r, H), row(xq, r, H), H);
                          });
                    dense(kFfnUp, layer.ffn_up, xb, n, ffn,
                          [&](int64_t, float* y, int begin, int cols) {
                              k.bias_gelu(y + begin,
                                          int8 ? nullptr : layer.ffn_up.bias.data() + begin, cols);
                          },
                          int8 ? RowFn([&](int64_t r, float* y) {
                              rs[r] = k.quantize_u8(y, row(xq, r, I), I);
                          })
                               : RowFn());
                    dense(kFfnDown, layer.ffn_down, ffn, n, tmp, no_columns, [&](int64_t r, float* y) {
                        k.layer_norm(row(xb, r, H), y, int8 ? nullptr : layer.ffn_down.bias.data(),
                                     layer.ln2_gamma.data(), layer.ln2_beta.data(), H, eps);
                    });
                }
            }
        }
    } catch (const dnnl::error& e) {
        return Internal(std::string("oneDNN matmul failed: ") + e.what());
    }
    for (const auto& e : part_errors) {
        if (!e.empty()) return Internal("oneDNN matmul failed: " + e);
    }

    // Pooling and L2 normalisation.
    for (std::size_t b = 0; b < batch.size(); ++b) {
        float* o = out.data() + b * H;
        const int64_t len = offsets[b + 1] - offsets[b];
        const float* first = row(x, offsets[b], H);
        if (info.pooling == "cls") {
            std::memcpy(o, first, sizeof(float) * H);
        } else if (info.pooling == "max") {
            std::memcpy(o, first, sizeof(float) * H);
            for (int64_t t = 1; t < len; ++t) {
                const float* xr = first + t * H;
                for (int c = 0; c < H; ++c) o[c] = std::max(o[c], xr[c]);
            }
        } else {
            for (int64_t t = 0; t < len; ++t) {
                const float* xr = first + t * H;
                for (int c = 0; c < H; ++c) o[c] += xr[c];
            }
            const float inv = 1.0f / static_cast<float>(len);
            for (int c = 0; c < H; ++c) o[c] *= inv;
        }
        double norm = 0.0;
        for (int c = 0; c < H; ++c) norm += static_cast<double>(o[c]) * o[c];
        if (!std::isfinite(norm) || norm <= 0.0) {
            return Internal("model produced a non-finite or zero embedding");
        }
        const auto inv = static_cast<float>(1.0 / std::sqrt(norm));
        for (int c = 0; c < H; ++c) o[c] *= inv;
    }
    return OkStatus();
}

}  // namespace contex::embed::native
