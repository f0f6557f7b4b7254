#include <string>
#include <unordered_map>

namespace inventory {

class Cache {
public:
    bool Get(const std::string& key, std::string* value) const;

private:
    std::unordered_map<std::string, std::string> entries_;
};

}  // namespace inventory

bool inventory::Cache::Get(const std::string& key, std::string* value) const {
    auto it = entries_.find(key);
    if (it == entries_.end()) return false;
    *value = it->second;
    return true;
}
