// A look at the text of a simple Query (or a Parse) in transaction pooling: just enough of
// SQL's lexical rules (comments, quoted identifiers, string and dollar quoting) to recognise
// the statements storegate must act on. Anything it does not recognise is kOther and goes to
// the server untouched. Pure code.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace storegate::proxy::sql {

enum class Kind {
    kOther,
    kSetStoregate,   // SET storegate.<name> = value: answered by storegate itself
    kShowStoregate,  // SHOW storegate.<name>
    kSet,            // SET [SESSION] name = value (a session setting to carry over)
    kSetLocal,       // SET LOCAL: lasts only for the transaction, nothing to carry over
    kReset,          // RESET name
    kResetAll,
    kDiscardAll,
    kDeallocate,  // DEALLOCATE [PREPARE] name
    kDeallocateAll,
};

// Session state that cannot follow a client to another server connection.
enum class Pin { kNone, kListen, kAdvisoryLock, kTempTable, kWithHoldCursor, kSqlPrepare };

struct Inspection {
    Kind kind = Kind::kOther;
    std::string name;   // setting name, lower case; statement name for DEALLOCATE
    std::string value;  // SET: the value as written; storegate settings: unquoted
    Pin pin = Pin::kNone;
    bool multiple = false;           // more than one statement in the text
    bool storegate_setting = false;  // multiple: one of them SETs or RESETs storegate.*
    // Changes session state that storegate does not carry or reset by name (set_config(),
    // SET ROLE, SET NAMES, SET SESSION CHARACTERISTICS, SET or RESET among other statements):
    // the server connection must be reset before it serves anyone else.
    bool untracked_state = false;
};

Inspection inspect(std::string_view text);
std::string_view to_string(Pin pin);

}  // namespace storegate::proxy::sql
