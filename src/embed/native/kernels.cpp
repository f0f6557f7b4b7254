#include "embed/native/kernels.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>

// Each instruction set gets its own copy of the kernel bodies. The library itself is
// built for the baseline ISA (no -march=native); only these copies use wider vectors,
// and SelectKernels picks one at run time from CPUID.
// The 64-byte vector helpers are file-local and always inlined, so the ABI note GCC
// emits for them in the AVX2 and generic copies does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"
#if defined(__clang__)
// "omp simd" is a hint; a loop clang leaves scalar (e.g. in the generic copy) is fine.
#pragma clang diagnostic ignored "-Wpass-failed"
#endif

namespace contex::embed::native::internal {

#if defined(__x86_64__) && defined(__GNUC__)
namespace avx512 {
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c")
#endif
constexpr std::string_view kIsaName = "avx512";
#include "embed/native/kernels_body.inc"
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
}  // namespace avx512

namespace avx2 {
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#endif
constexpr std::string_view kIsaName = "avx2";
#include "embed/native/kernels_body.inc"
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
}  // namespace avx2
#endif

namespace generic {
constexpr std::string_view kIsaName = "generic";
#include "embed/native/kernels_body.inc"
}  // namespace generic

const Kernels& SelectKernels(Isa isa) {
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    const bool has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    const bool has_avx512 = has_avx2 && __builtin_cpu_supports("avx512f") &&
                            __builtin_cpu_supports("avx512bw") &&
                            __builtin_cpu_supports("avx512dq") &&
                            __builtin_cpu_supports("avx512vl");
    if ((isa == Isa::kAuto || isa == Isa::kAvx512) && has_avx512) return avx512::kTable;
    if ((isa == Isa::kAuto || isa == Isa::kAvx512 || isa == Isa::kAvx2) && has_avx2) {
        return avx2::kTable;
    }
#else
    (void)isa;
#endif
    return generic::kTable;
}

}  // namespace contex::embed::native::internal
