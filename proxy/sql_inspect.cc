#include "proxy/sql_inspect.h"

#include <cctype>
#include <vector>

namespace storegate::proxy::sql {

namespace {

struct Token {
    enum class Type { kWord, kQuoted, kString, kSymbol } type;
    std::string text;  // words lower-cased; strings without quotes
    size_t begin = 0;
    size_t end = 0;
};

class Lexer {
  public:
    explicit Lexer(std::string_view text) : s_(text) {}

    // Tokens of the first statement; `more` tells whether another statement follows.
    std::vector<Token> statement(bool& more);

  private:
    void skip_space_and_comments();
    bool read_dollar_quote();
    Token read_quoted(char quote, Token::Type type, bool backslash = false);

    std::string_view s_;
    size_t p_ = 0;
};

void Lexer::skip_space_and_comments() {
    while (p_ < s_.size()) {
        if (std::isspace(static_cast<unsigned char>(s_[p_]))) {
            ++p_;
        } else if (s_.substr(p_, 2) == "--") {
            size_t nl = s_.find('\n', p_);
            p_ = nl == std::string_view::npos ? s_.size() : nl + 1;
        } else if (s_.substr(p_, 2) == "/*") {
            int depth = 0;
            while (p_ < s_.size()) {
                if (s_.substr(p_, 2) == "/*") {
                    ++depth;
                    p_ += 2;
                } else if (s_.substr(p_, 2) == "*/") {
                    p_ += 2;
                    if (--depth == 0) {
                        break;
                    }
                } else {
                    ++p_;
                }
            }
        } else {
            return;
        }
    }
}

// $tag$ ... $tag$: skipped whole, its content is never a keyword.
bool Lexer::read_dollar_quote() {
    size_t close = s_.find('$', p_ + 1);
    if (close == std::string_view::npos) {
        return false;
    }
    std::string_view tag = s_.substr(p_, close - p_ + 1);
    for (size_t i = 1; i + 1 < tag.size(); ++i) {
        if (!std::isalnum(static_cast<unsigned char>(tag[i])) && tag[i] != '_') {
            return false;
        }
    }
    size_t end = s_.find(tag, close + 1);
    p_ = end == std::string_view::npos ? s_.size() : end + tag.size();
    return true;
}

// `backslash`: an E'...' string, where a backslash escapes the next character ("String
// Constants with C-Style Escapes" in the SQL syntax docs).
Token Lexer::read_quoted(char quote, Token::Type type, bool backslash) {
    Token t{type, "", p_, p_};
    ++p_;
    while (p_ < s_.size()) {
        char c = s_[p_++];
        if (backslash && c == '\\' && p_ < s_.size()) {
            t.text.push_back(s_[p_++]);
            continue;
        }
        if (c == quote) {
            if (p_ < s_.size() && s_[p_] == quote) {
                t.text.push_back(quote);
                ++p_;
                continue;
            }
            break;
        }
        t.text.push_back(c);
    }
    t.end = p_;
    return t;
}

std::vector<Token> Lexer::statement(bool& more) {
    std::vector<Token> tokens;
    more = false;
    for (;;) {
        skip_space_and_comments();
        if (p_ >= s_.size()) {
            return tokens;
        }
        char c = s_[p_];
        if (c == ';') {
            ++p_;
            skip_space_and_comments();
            more = p_ < s_.size();
            return tokens;
        }
        if (c == '\'') {
            tokens.push_back(read_quoted('\'', Token::Type::kString));
        } else if (c == '"') {
            tokens.push_back(read_quoted('"', Token::Type::kQuoted));
        } else if (c == '$' && read_dollar_quote()) {
            tokens.push_back({Token::Type::kString, "", p_, p_});
        } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
            Token t{Token::Type::kWord, "", p_, p_};
            while (p_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[p_])) ||
                                      s_[p_] == '_' || s_[p_] == '$')) {
                t.text.push_back(
                    static_cast<char>(std::tolower(static_cast<unsigned char>(s_[p_]))));
                ++p_;
            }
            t.end = p_;
            if ((t.text == "e" || t.text == "x" || t.text == "b" || t.text == "u&") &&
                p_ < s_.size() && s_[p_] == '\'') {
                tokens.push_back(read_quoted('\'', Token::Type::kString, t.text == "e"));
                continue;
            }
            tokens.push_back(std::move(t));
        } else {
            tokens.push_back({Token::Type::kSymbol, std::string(1, c), p_, p_ + 1});
            ++p_;
        }
    }
}

bool is_word(const std::vector<Token>& t, size_t i, std::string_view word) {
    return i < t.size() && t[i].type == Token::Type::kWord && t[i].text == word;
}

// A possibly dotted name starting at token i: a.b, "a"."b". Advances i past it.
std::string read_name(const std::vector<Token>& t, size_t& i) {
    std::string name;
    while (i < t.size() && (t[i].type == Token::Type::kWord || t[i].type == Token::Type::kQuoted)) {
        name += t[i].text;
        ++i;
        if (i < t.size() && t[i].type == Token::Type::kSymbol && t[i].text == ".") {
            name.push_back('.');
            ++i;
            continue;
        }
        break;
    }
    return name;
}

Pin find_pin(const std::vector<Token>& t) {
    if (is_word(t, 0, "listen")) {
        return Pin::kListen;
    }
    if (is_word(t, 0, "prepare")) {
        return Pin::kSqlPrepare;
    }
    if (is_word(t, 0, "create")) {
        size_t i = 1;
        while (is_word(t, i, "global") || is_word(t, i, "local") || is_word(t, i, "or") ||
               is_word(t, i, "replace")) {
            ++i;
        }
        if (is_word(t, i, "temp") || is_word(t, i, "temporary")) {
            return Pin::kTempTable;
        }
    }
    bool declare = is_word(t, 0, "declare");
    for (size_t i = 0; i < t.size(); ++i) {
        if (t[i].type != Token::Type::kWord) {
            continue;
        }
        const auto& w = t[i].text;
        if (w == "pg_advisory_lock" || w == "pg_advisory_lock_shared" ||
            w == "pg_try_advisory_lock" || w == "pg_try_advisory_lock_shared") {
            return Pin::kAdvisoryLock;
        }
        if (declare && w == "with" && is_word(t, i + 1, "hold")) {
            return Pin::kWithHoldCursor;
        }
        if (w == "into" && (is_word(t, i + 1, "temp") || is_word(t, i + 1, "temporary"))) {
            return Pin::kTempTable;
        }
    }
    return Pin::kNone;
}

std::string value_text(std::string_view text, const std::vector<Token>& t, size_t i) {
    if (i >= t.size()) {
        return {};
    }
    if (t.size() == i + 1 && t[i].type == Token::Type::kString) {
        return t[i].text;
    }
    return std::string(text.substr(t[i].begin, t.back().end - t[i].begin));
}

void inspect_set(std::string_view text, const std::vector<Token>& t, Inspection& out) {
    size_t i = 1;
    bool local = false;
    if (is_word(t, i, "session") && !is_word(t, i + 1, "characteristics") &&
        !is_word(t, i + 1, "authorization")) {
        ++i;
    } else if (is_word(t, i, "local")) {
        local = true;
        ++i;
    }
    std::string name;
    if (is_word(t, i, "time") && is_word(t, i + 1, "zone")) {
        name = "timezone";
        i += 2;
    } else if (is_word(t, i, "names")) {  // SET NAMES x is SET client_encoding = x
        name = "client_encoding";
        i += 1;
    } else {
        name = read_name(t, i);
        if (name.empty() || name == "transaction" || name == "constraints" || name == "role" ||
            name == "session" || name == "names") {
            return;
        }
        if (is_word(t, i, "to") ||
            (i < t.size() && t[i].type == Token::Type::kSymbol && t[i].text == "=")) {
            ++i;
        } else {
            return;
        }
    }
    out.name = name;
    if (name.starts_with("storegate.")) {
        out.kind = Kind::kSetStoregate;
        out.value = value_text(text, t, i);
        return;
    }
    if (i >= t.size()) {
        return;
    }
    out.kind = local ? Kind::kSetLocal : Kind::kSet;
    out.value = std::string(text.substr(t[i].begin, t.back().end - t[i].begin));
}

// SET [SESSION|LOCAL] storegate.x ... or RESET storegate.x.
bool touches_storegate(const std::vector<Token>& t) {
    if (!is_word(t, 0, "set") && !is_word(t, 0, "reset")) {
        return false;
    }
    size_t i = is_word(t, 1, "session") || is_word(t, 1, "local") ? 2 : 1;
    return read_name(t, i).starts_with("storegate.");
}

// Limitation: settings changed inside functions, DO blocks or procedures are not seen, so they
// stay on the server connection for its next user - matters for functions that SET session
// state instead of using SET LOCAL or set_config(..., true).
// A statement that changes session settings in a way the single-statement SET/RESET
// tracking does not see: set_config() anywhere, or a statement-level SET or RESET when
// `tracked` (a lone SET or RESET storegate follows by name) is false. SET LOCAL, SET
// TRANSACTION and SET CONSTRAINTS last only for the transaction.
bool untracked_setting(const std::vector<Token>& t, bool tracked) {
    for (const auto& token : t) {
        // "set_config" quoted names the same function (quoted names keep their case).
        if ((token.type == Token::Type::kWord || token.type == Token::Type::kQuoted) &&
            token.text == "set_config") {
            return true;
        }
    }
    if (tracked) {
        return false;
    }
    if (is_word(t, 0, "reset")) {
        return true;
    }
    return is_word(t, 0, "set") && !is_word(t, 1, "local") && !is_word(t, 1, "transaction") &&
           !is_word(t, 1, "constraints");
}

}  // namespace

Inspection inspect(std::string_view text) {
    Inspection out;
    Lexer lexer(text);
    bool more = false;
    auto t = lexer.statement(more);
    out.multiple = more;
    out.pin = find_pin(t);
    out.storegate_setting = more && touches_storegate(t);
    out.untracked_state = more && untracked_setting(t, false);
    while (more) {
        auto next = lexer.statement(more);
        if (out.pin == Pin::kNone) {
            out.pin = find_pin(next);
        }
        out.storegate_setting = out.storegate_setting || touches_storegate(next);
        out.untracked_state = out.untracked_state || untracked_setting(next, false);
    }
    if (t.empty() || out.multiple) {
        return out;
    }
    if (is_word(t, 0, "set")) {
        inspect_set(text, t, out);
    } else if (is_word(t, 0, "show")) {
        size_t i = 1;
        std::string name = read_name(t, i);
        if (name.starts_with("storegate.") && i == t.size()) {
            out.kind = Kind::kShowStoregate;
            out.name = name;
        }
    } else if (is_word(t, 0, "reset")) {
        size_t i = 1;
        if (is_word(t, 1, "all") && t.size() == 2) {
            out.kind = Kind::kResetAll;
        } else if (std::string name = read_name(t, i); !name.empty() && i == t.size()) {
            out.kind = name.starts_with("storegate.") ? Kind::kOther : Kind::kReset;
            out.name = name;
        }
    } else if (is_word(t, 0, "discard") && is_word(t, 1, "all") && t.size() == 2) {
        out.kind = Kind::kDiscardAll;
    } else if (is_word(t, 0, "deallocate")) {
        size_t i = is_word(t, 1, "prepare") ? 2 : 1;
        if (is_word(t, i, "all") && t.size() == i + 1) {
            out.kind = Kind::kDeallocateAll;
        } else if (i + 1 == t.size() &&
                   (t[i].type == Token::Type::kWord || t[i].type == Token::Type::kQuoted)) {
            out.kind = Kind::kDeallocate;
            out.name = t[i].text;
        }
    }
    const bool tracked = out.kind == Kind::kSet || out.kind == Kind::kSetLocal ||
                         out.kind == Kind::kSetStoregate || out.kind == Kind::kReset ||
                         out.kind == Kind::kResetAll;
    out.untracked_state = untracked_setting(t, tracked);
    return out;
}

std::string_view to_string(Pin pin) {
    switch (pin) {
        case Pin::kNone:
            return "none";
        case Pin::kListen:
            return "listen";
        case Pin::kAdvisoryLock:
            return "advisory_lock";
        case Pin::kTempTable:
            return "temp_table";
        case Pin::kWithHoldCursor:
            return "with_hold_cursor";
        case Pin::kSqlPrepare:
            return "sql_prepare";
    }
    return "none";
}

}  // namespace storegate::proxy::sql
