// libFuzzer target: one binary per parser, selected at compile time by CONTEX_FUZZ_HINT
// ("json", "yaml", ..., or "detect" for no hint). Aborts on any invariant violation.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "ingest/fuzz_support.hpp"

#ifndef CONTEX_FUZZ_HINT
#error "define CONTEX_FUZZ_HINT"
#endif

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    std::string problem = contex::ingest::fuzz::RunOne(CONTEX_FUZZ_HINT, input);
    if (!problem.empty()) {
        std::fprintf(stderr, "invariant violated: %s\n", problem.c_str());
        std::abort();
    }
    return 0;
}
