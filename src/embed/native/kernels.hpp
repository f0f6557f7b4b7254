// Internal: vectorised row kernels of the encoder with runtime CPU dispatch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace contex::embed::native::internal {

// Instruction sets the kernels are compiled for. kAuto picks the best the CPU supports.
enum class Isa { kAuto, kAvx512, kAvx2, kGeneric };

// One table per instruction set; every function works on one row (or one attention
// head) and is pure apart from its output arguments.
struct Kernels {
    std::string_view name;
    // x = LayerNorm(x + a + b) * gamma + beta; a and b may be null.
    void (*layer_norm)(float* x, const float* a, const float* b, const float* gamma,
                       const float* beta, int n, float eps);
    // x = x + bias.
    void (*add_bias)(float* x, const float* bias, int n);
    // x = gelu_erf(x + bias); bias may be null.
    void (*bias_gelu)(float* x, const float* bias, int n);
    // out = (acc - comp) * row_scale * col_scale + bias (bias may be null).
    void (*dequantize)(const int32_t* acc, const int32_t* comp, float row_scale,
                       const float* col_scale, const float* bias, float* out, int n);
    // Symmetric per-row quantisation to u8 with zero point 128; returns the scale
    // (x ~= (q - 128) * scale). All-zero rows get scale 1.
    float (*quantize_u8)(const float* x, uint8_t* q, int n);
    // Softmax attention of one head of one sequence: q, k, v rows `ld` floats apart,
    // `len` tokens of `dim` values; writes len x dim to out (rows `ld_out` apart).
    // scratch holds (dim + 4) * round_up(len, 16) floats.
    void (*attention)(const float* q, const float* k, const float* v, int ld, int len,
                      int dim, float scale, float* out, int ld_out, float* scratch);
    // Feature-major batches of at most 16 rows: a rows x n matrix is n vectors of 16
    // floats, vector c holding column c of every row (lanes past the rows are padding). A
    // batch of at most 16 tokens stays in this layout from the embeddings to pooling, so no
    // product packs its input or transposes its output. Null where oneDNN's own kernels are
    // the faster choice (16 vector accumulators need 512-bit registers).
    // pack_fm: rows x k (rows <= 16, `lda` apart) into k vectors, padding lanes zero.
    void (*pack_fm)(const float* a, int lda, int rows, int k, float* out);
    // out (cols vectors) = x (k vectors) times the first `cols` columns of a weight matrix
    // stored in tiles of 16 output columns, `tile_stride` floats apart, each k x 16
    // row-major (oneDNN's BA16a16b layout); the last tile may be partial.
    void (*gemm_fm)(const float* x, int k, const float* w, std::size_t tile_stride, int cols,
                    float* out);
    // x = x + bias, then gelu_erf when `gelu`; n vectors, bias[c] for vector c.
    void (*bias_fm)(float* x, const float* bias, int n, bool gelu);
    // Per lane, over n vectors: x = LayerNorm(x + a + bias) * gamma + beta (a, bias may be
    // null; bias, gamma and beta hold one value per vector).
    void (*layer_norm_fm)(float* x, const float* a, const float* bias, const float* gamma,
                          const float* beta, int n, float eps);
    // Softmax attention of one head: q, k and v are `dim` vectors each; lane i attends to
    // lane j when group[i] == group[j] (group: 16 values, the sequence of each token).
    // Writes `dim` vectors to out.
    void (*attention_fm)(const float* q, const float* k, const float* v, const int32_t* group,
                         int dim, float scale, float* out);
};

// The kernels for `isa`, falling back to the best supported one when the CPU lacks it.
const Kernels& SelectKernels(Isa isa);

}  // namespace contex::embed::native::internal
