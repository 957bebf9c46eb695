#include "proxy/response_queue.h"

namespace storegate::proxy {

void ResponseQueue::push(Expect expect, Action action, std::string synthetic) {
    entries_.push_back(Entry{expect, action, false, std::move(synthetic), std::nullopt});
}

void ResponseQueue::push_query(std::optional<Change> change) {
    entries_.push_back(Entry{Expect::kQuery, Action::kForward, false, {}, std::move(change)});
}

void ResponseQueue::push_sync(std::optional<Change> change) {
    entries_.push_back(Entry{Expect::kSync, Action::kForward, false, {}, std::move(change)});
}

void ResponseQueue::push_parse(std::string statement, Action action) {
    entries_.push_back(
        Entry{Expect::kParse, action, false, {}, std::nullopt, std::move(statement)});
}

void ResponseQueue::take_due(std::string& out) {
    while (!entries_.empty() && entries_.front().action == Action::kSynthesize) {
        out += entries_.front().synthetic;
        entries_.pop_front();
    }
}

bool ResponseQueue::completes(const Entry& entry, char type) const {
    switch (entry.expect) {
        case Expect::kParse:
            return type == '1';
        case Expect::kBind:
            return type == '2';
        case Expect::kClose:
            return type == '3';
        case Expect::kDescribeStatement:
        case Expect::kDescribePortal:
            return type == 'T' || type == 'n';
        case Expect::kExecute:
            return type == 'C' || type == 'I' || type == 's';
        case Expect::kSync:
        case Expect::kQuery:
        case Expect::kFunctionCall:
            return type == 'Z';
    }
    return false;
}

// After an error in the extended protocol the server discards everything up to Sync, so the
// answers expected for those messages, real or synthetic, never come.
void ResponseQueue::skip_to_sync() {
    while (!entries_.empty() && entries_.front().expect != Expect::kSync) {
        entries_.pop_front();
    }
}

static bool is_async(char type) {
    return type == 'N' || type == 'A' || type == 'S';
}

ResponseQueue::Outcome ResponseQueue::on_server_message(char type, std::string& before,
                                                        std::string& after) {
    Outcome outcome;
    take_due(before);
    if (is_async(type) || entries_.empty()) {
        return outcome;
    }
    Entry& front = entries_.front();
    bool simple = front.expect == Expect::kQuery || front.expect == Expect::kFunctionCall;
    // An error caused by an injected Parse still reaches the client: its own Bind would have
    // failed the same way. Only answers to storegate's own settings sync are all dropped.
    outcome.forward = front.action != Action::kSwallow || (type == 'E' && !simple);
    if (type == 'E') {
        front.failed = true;
        if (!simple && front.expect != Expect::kSync) {
            outcome.failed_parse = std::move(front.statement);
            outcome.client_parse = front.action == Action::kForward;
            entries_.pop_front();
            skip_to_sync();
            if (!entries_.empty()) {
                entries_.front().failed = true;  // the batch's implicit transaction is undone
            }
            take_due(after);
            return outcome;
        }
    }
    if (!completes(front, type)) {
        return outcome;
    }
    if (simple || front.expect == Expect::kSync) {
        outcome.completed_query = simple;
        outcome.query_failed = front.failed;
        outcome.change = std::move(front.change);
    }
    entries_.pop_front();
    take_due(after);
    return outcome;
}

}  // namespace storegate::proxy
