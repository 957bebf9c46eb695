// Protocol-level prepared statements in transaction pooling. A client's named statement is
// prepared on whichever server connection runs its next transaction, under an internal name
// derived from its text and parameter types, so identical statements of different clients
// share one server-side statement and names can never collide.
// Limitation: sharing a statement shares PostgreSQL's plan cache for it, so whether an error
// raised by constant folding in a custom plan comes at Bind or at Execute depends on other
// clients - matters only for clients that tell the two apart.
#pragma once

#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace storegate::proxy {

struct Statement {
    std::string internal_name;  // "sg_" + 32 hex digits of SHA-256(query and types)
    std::string definition;     // Parse body after the name: query, NUL, types
};

// Builds the statement for a Parse body's part after the statement name.
std::shared_ptr<const Statement> make_statement(std::string_view definition);

// What one server connection has prepared, least recently used first out. Belongs to the
// server connection (one thread at a time).
class PreparedSet {
  public:
    bool contains(const std::string& name);  // and marks it used
    // Adds a name; returns the name evicted to stay within `capacity`, if any.
    std::optional<std::string> add(const std::string& name, size_t capacity);
    void erase(const std::string& name);
    void clear();
    size_t size() const { return index_.size(); }

  private:
    std::list<std::string> order_;  // front: most recently used
    std::unordered_map<std::string, std::list<std::string>::iterator> index_;
};

}  // namespace storegate::proxy
