// In transaction pooling, what a client has asked of its server connection and not yet had
// answered, in order (protocol docs, "Extended Query" and "Pipelining"). Each entry says what
// to do with the answer: pass it on, drop it (storegate asked the question itself: a Parse it
// injected, a settings sync), or produce it without the server (a statement the server already
// has prepared, an answer storegate gives itself). Keeping one queue is what keeps locally
// produced answers in their right place among the server's. Pure code; one per session.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace storegate::proxy {

class ResponseQueue {
  public:
    enum class Expect : uint8_t {
        kParse,
        kBind,
        kDescribeStatement,
        kDescribePortal,
        kExecute,
        kClose,
        kSync,
        kQuery,         // simple Query: everything up to ReadyForQuery
        kFunctionCall,  // FunctionCall: likewise
    };
    enum class Action : uint8_t { kForward, kSwallow, kSynthesize };

    // A setting change to remember once its query has completed without error.
    struct Change {
        std::string name;
        std::string value;  // empty with reset
        bool reset = false;
    };

    void push(Expect expect, Action action = Action::kForward, std::string synthetic = {});
    void push_query(std::optional<Change> change);
    // A Sync whose batch executed a SET or RESET (extended protocol): the change counts once the
    // batch's ReadyForQuery comes without an error before it.
    void push_sync(std::optional<Change> change);
    // A Parse of the server-side statement `statement`: if it fails, the server does not have it.
    void push_parse(std::string statement, Action action);

    // Answers that are due now, before any further server message: appended to `out`.
    void take_due(std::string& out);

    struct Outcome {
        bool forward = true;
        bool completed_query = false;  // a kQuery/kFunctionCall entry just ended
        bool query_failed = false;     // ... or a kSync one; and saw an ErrorResponse
        std::optional<Change> change;  // its setting change, if any
        // Statements the server did not prepare: the Parse failed, or an earlier error in its
        // batch made the server skip it. `client`: the client's own Parse, not an injected one.
        struct FailedParse {
            std::string statement;
            bool client = false;
        };
        std::vector<FailedParse> failed_parses;
    };
    // Accounts for one server message of `type`; synthetic answers due before it are appended
    // to `before`, and those due right after it to `after`.
    Outcome on_server_message(char type, std::string& before, std::string& after);

    // True while the answers arriving belong to a question storegate asked itself.
    bool front_swallows() const { return !empty() && front().action == Action::kSwallow; }
    bool empty() const { return head_ == entries_.size(); }
    size_t size() const { return entries_.size() - head_; }
    void clear() {
        entries_.clear();
        head_ = 0;
        skipping_ = false;
        skipped_parses_.clear();
    }
    // Frees the storage of an empty queue, so that idle clients keep none.
    void release_if_empty() {
        if (empty()) {
            std::vector<Entry>().swap(entries_);
            head_ = 0;
        }
    }

  private:
    struct Entry {
        Expect expect;
        Action action;
        bool failed = false;
        std::string synthetic;
        std::optional<Change> change;
        std::string statement;  // kParse of a named statement
    };
    bool completes(const Entry& entry, char type) const;
    void skip_to_sync(Outcome& outcome);
    Entry& front() { return entries_[head_]; }
    const Entry& front() const { return entries_[head_]; }
    void add(Entry entry);
    void pop_front();

    // A FIFO over a vector: entries before head_ are spent. Unlike std::deque it allocates
    // nothing until the first entry.
    std::vector<Entry> entries_;
    size_t head_ = 0;
    // An extended-protocol error came before its batch's Sync was queued: the server ignores
    // everything up to that Sync, so nothing is expected of what is queued meanwhile, and the
    // statements of Parse messages among it are reported with the next outcome.
    bool skipping_ = false;
    std::vector<Outcome::FailedParse> skipped_parses_;
};

}  // namespace storegate::proxy
