// Internal: read-only memory-mapped safetensors file (not part of the public API).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace contex::embed::native::internal {

enum class DType { kF32, kF16, kBF16, kOther };

struct TensorView {
    DType dtype = DType::kOther;
    std::string dtype_name;
    std::vector<int64_t> shape;
    const std::byte* data = nullptr;  // points into the mapping; unaligned in general
    std::size_t bytes = 0;
    int64_t elements() const;
};

// A safetensors file mapped read-only. Movable, not copyable; views stay valid while the
// SafeTensors object lives.
class SafeTensors {
public:
    // kNotFound: missing file; kInvalidArgument: malformed header, offsets out of range or
    // sizes that do not match the shape; kUnavailable: mmap failed.
    static Result<SafeTensors> Open(const std::filesystem::path& path);

    SafeTensors(SafeTensors&& other) noexcept;
    SafeTensors& operator=(SafeTensors&& other) noexcept;
    SafeTensors(const SafeTensors&) = delete;
    SafeTensors& operator=(const SafeTensors&) = delete;
    ~SafeTensors();

    // The tensor called `name`, also accepting a "bert." prefix on the stored name.
    const TensorView* Find(std::string_view name) const;

    // Converts a tensor to fp32, checking its shape. kInvalidArgument on a missing tensor,
    // wrong shape or an unsupported dtype.
    Result<std::vector<float>> ReadF32(std::string_view name,
                                       const std::vector<int64_t>& shape) const;

private:
    SafeTensors() = default;
    void* map_ = nullptr;
    std::size_t map_size_ = 0;
    std::map<std::string, TensorView, std::less<>> tensors_;
};

}  // namespace contex::embed::native::internal
