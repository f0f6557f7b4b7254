#include "embed/native/safetensors.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "common/json.hpp"

namespace contex::embed::native::internal {
namespace {

std::size_t DTypeSize(DType t) {
    switch (t) {
        case DType::kF32: return 4;
        case DType::kF16:
        case DType::kBF16: return 2;
        case DType::kOther: return 0;
    }
    return 0;
}

float HalfToFloat(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu;
    uint32_t mant = h & 0x3FFu;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else {  // subnormal: renormalise
            exp = 127 - 15 + 1;
            while ((mant & 0x400u) == 0) {
                mant <<= 1;
                --exp;
            }
            mant &= 0x3FFu;
            bits = sign | (exp << 23) | (mant << 13);
        }
    } else if (exp == 0x1F) {
        bits = sign | 0x7F800000u | (mant << 13);
    } else {
        bits = sign | ((exp - 15 + 127) << 23) | (mant << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

std::string ShapeString(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (i) s += ", ";
        s += std::to_string(shape[i]);
    }
    return s + "]";
}

}  // namespace

int64_t TensorView::elements() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

Result<SafeTensors> SafeTensors::Open(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NotFound("cannot open " + path.string());
    struct stat st {};
    if (::fstat(fd, &st) != 0 || st.st_size < 8) {
        ::close(fd);
        return InvalidArgument("safetensors file too small: " + path.string());
    }
    const auto size = static_cast<std::size_t>(st.st_size);
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (map == MAP_FAILED) return Unavailable("cannot mmap " + path.string());
    SafeTensors st_file;
    st_file.map_ = map;
    st_file.map_size_ = size;
    const auto* base = static_cast<const std::byte*>(map);
    uint64_t header_len = 0;
    std::memcpy(&header_len, base, 8);  // little-endian on every supported target
    if (header_len > size - 8) return InvalidArgument("safetensors header length out of range");
    auto header = ParseJson(std::string_view(reinterpret_cast<const char*>(base + 8), header_len));
    if (!header.ok() || !header->is_object()) {
        return InvalidArgument("malformed safetensors header in " + path.string());
    }
    const std::byte* data = base + 8 + header_len;
    const std::size_t data_size = size - 8 - header_len;
    for (const auto& kv : header->get_object()) {
        if (kv.key() == "__metadata__") continue;
        const auto* obj = kv.value().if_object();
        const auto* dtype = obj ? obj->if_contains("dtype") : nullptr;
        const auto* shape = obj ? obj->if_contains("shape") : nullptr;
        const auto* offsets = obj ? obj->if_contains("data_offsets") : nullptr;
        if (!dtype || !dtype->is_string() || !shape || !shape->is_array() || !offsets ||
            !offsets->is_array() || offsets->get_array().size() != 2) {
            return InvalidArgument("malformed safetensors entry " + std::string(kv.key()));
        }
        TensorView view;
        view.dtype_name = std::string(dtype->get_string());
        view.dtype = view.dtype_name == "F32"    ? DType::kF32
                     : view.dtype_name == "F16"  ? DType::kF16
                     : view.dtype_name == "BF16" ? DType::kBF16
                                                 : DType::kOther;
        for (const auto& d : shape->get_array()) {
            if (!d.is_int64() || d.get_int64() < 0) {
                return InvalidArgument("bad shape for tensor " + std::string(kv.key()));
            }
            view.shape.push_back(d.get_int64());
        }
        const auto& off = offsets->get_array();
        if (!off[0].is_int64() || !off[1].is_int64() || off[0].get_int64() < 0 ||
            off[1].get_int64() < off[0].get_int64() ||
            static_cast<uint64_t>(off[1].get_int64()) > data_size) {
            return InvalidArgument("tensor data out of range: " + std::string(kv.key()));
        }
        view.data = data + off[0].get_int64();
        view.bytes = static_cast<std::size_t>(off[1].get_int64() - off[0].get_int64());
        const std::size_t elem = DTypeSize(view.dtype);
        if (elem != 0 && view.bytes != static_cast<std::size_t>(view.elements()) * elem) {
            return InvalidArgument("tensor size does not match its shape: " +
                                   std::string(kv.key()));
        }
        st_file.tensors_.emplace(std::string(kv.key()), std::move(view));
    }
    return st_file;
}

SafeTensors::SafeTensors(SafeTensors&& other) noexcept
    : map_(std::exchange(other.map_, nullptr)),
      map_size_(std::exchange(other.map_size_, 0)),
      tensors_(std::move(other.tensors_)) {}

SafeTensors& SafeTensors::operator=(SafeTensors&& other) noexcept {
    if (this != &other) {
        if (map_ != nullptr) ::munmap(map_, map_size_);
        map_ = std::exchange(other.map_, nullptr);
        map_size_ = std::exchange(other.map_size_, 0);
        tensors_ = std::move(other.tensors_);
    }
    return *this;
}

SafeTensors::~SafeTensors() {
    if (map_ != nullptr) ::munmap(map_, map_size_);
}

const TensorView* SafeTensors::Find(std::string_view name) const {
    if (auto it = tensors_.find(name); it != tensors_.end()) return &it->second;
    const std::string prefixed = "bert." + std::string(name);
    if (auto it = tensors_.find(prefixed); it != tensors_.end()) return &it->second;
    return nullptr;
}

Result<std::vector<float>> SafeTensors::ReadF32(std::string_view name,
                                                const std::vector<int64_t>& shape) const {
    const TensorView* t = Find(name);
    if (t == nullptr) return InvalidArgument("model.safetensors lacks tensor " + std::string(name));
    if (t->shape != shape) {
        return InvalidArgument("tensor " + std::string(name) + " has shape " +
                               ShapeString(t->shape) + ", expected " + ShapeString(shape));
    }
    const auto n = static_cast<std::size_t>(t->elements());
    std::vector<float> out(n);
    switch (t->dtype) {
        case DType::kF32:
            std::memcpy(out.data(), t->data, n * 4);
            break;
        case DType::kF16:
            for (std::size_t i = 0; i < n; ++i) {
                uint16_t h;
                std::memcpy(&h, t->data + 2 * i, 2);
                out[i] = HalfToFloat(h);
            }
            break;
        case DType::kBF16:
            for (std::size_t i = 0; i < n; ++i) {
                uint16_t h;
                std::memcpy(&h, t->data + 2 * i, 2);
                const uint32_t bits = static_cast<uint32_t>(h) << 16;
                std::memcpy(&out[i], &bits, 4);
            }
            break;
        case DType::kOther:
            return InvalidArgument("tensor " + std::string(name) + " has unsupported dtype " +
                                   t->dtype_name);
    }
    return out;
}

}  // namespace contex::embed::native::internal
