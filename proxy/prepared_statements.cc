#include "proxy/prepared_statements.h"

#include <openssl/sha.h>

namespace storegate::proxy {

std::shared_ptr<const Statement> make_statement(std::string_view definition) {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(definition.data()), definition.size(), digest);
    static constexpr char kHex[] = "0123456789abcdef";
    auto s = std::make_shared<Statement>();
    s->internal_name = "sg_";
    for (int i = 0; i < 16; ++i) {
        s->internal_name.push_back(kHex[digest[i] >> 4]);
        s->internal_name.push_back(kHex[digest[i] & 0xf]);
    }
    s->definition.assign(definition);
    return s;
}

bool PreparedSet::contains(const std::string& name) {
    auto it = index_.find(name);
    if (it == index_.end()) {
        return false;
    }
    order_.splice(order_.begin(), order_, it->second);
    return true;
}

std::optional<std::string> PreparedSet::add(const std::string& name, size_t capacity) {
    if (contains(name)) {
        return std::nullopt;
    }
    order_.push_front(name);
    index_[name] = order_.begin();
    if (capacity == 0 || index_.size() <= capacity) {
        return std::nullopt;
    }
    std::string evicted = std::move(order_.back());
    order_.pop_back();
    index_.erase(evicted);
    return evicted;
}

void PreparedSet::erase(const std::string& name) {
    auto it = index_.find(name);
    if (it != index_.end()) {
        order_.erase(it->second);
        index_.erase(it);
    }
}

void PreparedSet::clear() {
    order_.clear();
    index_.clear();
}

}  // namespace storegate::proxy
