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
    // A product of rows by a weight matrix stored in tiles of 16 output columns,
    // `tile_stride` floats apart, each k x 16 row-major (oneDNN's BA16a16b layout).
    // small_gemm_pack transposes the rows (a: rows x k, `lda` apart) into `packed`, groups
    // of 16 rows (the last zero-filled) of k x 16 floats each, i.e. round_up(rows, 16) * k
    // floats; small_gemm then computes out (rows x cols, `ldo` apart) = a x W for the
    // first `cols` columns of the tiles at w (the last tile may be partial). One packing
    // serves any number of column ranges. Null where oneDNN's own kernels are the faster
    // choice.
    void (*small_gemm_pack)(const float* a, int lda, int rows, int k, float* packed);
    void (*small_gemm)(const float* packed, int rows, int k, const float* w,
                       std::size_t tile_stride, int cols, float* out, int ldo);
};

// The kernels for `isa`, falling back to the best supported one when the CPU lacks it.
const Kernels& SelectKernels(Isa isa);

}  // namespace contex::embed::native::internal
