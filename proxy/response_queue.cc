#include "proxy/response_queue.h"

namespace storegate::proxy {

void ResponseQueue::add(Entry entry) {
    if (skipping_) {
        if (entry.expect != Expect::kSync) {
            if (entry.expect == Expect::kParse && !entry.statement.empty()) {
                skipped_parses_.push_back(
                    {std::move(entry.statement), entry.action == Action::kForward});
            }
            return;
        }
        skipping_ = false;
        entry.failed = true;  // its batch failed
    }
    if (entries_.capacity() == 0) {
        entries_.reserve(4);
    }
    entries_.push_back(std::move(entry));
}

void ResponseQueue::pop_front() {
    front() = Entry{};
    ++head_;
    if (head_ == entries_.size()) {
        clear();
    } else if (head_ >= 32 && head_ * 2 >= entries_.size()) {
        // A pipeline that never drains: drop the spent entries now and then.
        entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(head_));
        head_ = 0;
    }
}

void ResponseQueue::push(Expect expect, Action action, std::string synthetic) {
    add(Entry{expect, action, false, std::move(synthetic), std::nullopt});
}

void ResponseQueue::push_query(std::optional<Change> change) {
    add(Entry{Expect::kQuery, Action::kForward, false, {}, std::move(change)});
}

void ResponseQueue::push_sync(std::optional<Change> change) {
    add(Entry{Expect::kSync, Action::kForward, false, {}, std::move(change)});
}

void ResponseQueue::push_parse(std::string statement, Action action) {
    add(Entry{Expect::kParse, action, false, {}, std::nullopt, std::move(statement)});
}

void ResponseQueue::take_due(std::string& out) {
    while (!empty() && front().action == Action::kSynthesize) {
        out += front().synthetic;
        pop_front();
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
// answers expected for those messages, real or synthetic, never come, and the statements their
// Parse messages named were never prepared.
void ResponseQueue::skip_to_sync(Outcome& outcome) {
    while (!empty() && front().expect != Expect::kSync) {
        Entry& skipped = front();
        if (skipped.expect == Expect::kParse && !skipped.statement.empty()) {
            outcome.failed_parses.push_back(
                {std::move(skipped.statement), skipped.action == Action::kForward});
        }
        pop_front();
    }
}

static bool is_async(char type) {
    return type == 'N' || type == 'A' || type == 'S';
}

ResponseQueue::Outcome ResponseQueue::on_server_message(char type, std::string& before,
                                                        std::string& after) {
    Outcome outcome;
    if (!skipped_parses_.empty()) {
        outcome.failed_parses = std::move(skipped_parses_);
        skipped_parses_.clear();
    }
    take_due(before);
    if (is_async(type) || empty()) {
        return outcome;
    }
    Entry& first = front();
    bool simple = first.expect == Expect::kQuery || first.expect == Expect::kFunctionCall;
    // An error caused by an injected Parse still reaches the client: its own Bind would have
    // failed the same way. Only answers to storegate's own settings sync are all dropped.
    outcome.forward = first.action != Action::kSwallow || (type == 'E' && !simple);
    if (type == 'E') {
        first.failed = true;
        if (!simple && first.expect != Expect::kSync) {
            if (first.expect == Expect::kParse && !first.statement.empty()) {
                outcome.failed_parses.push_back(
                    {std::move(first.statement), first.action == Action::kForward});
            }
            pop_front();
            skip_to_sync(outcome);
            if (!empty()) {
                front().failed = true;  // the batch's implicit transaction is undone
            } else {
                skipping_ = true;  // its Sync is still to come from the client
            }
            take_due(after);
            return outcome;
        }
    }
    if (!completes(first, type)) {
        return outcome;
    }
    if (simple || first.expect == Expect::kSync) {
        outcome.completed_query = simple;
        outcome.query_failed = first.failed;
        outcome.change = std::move(first.change);
    }
    pop_front();
    take_due(after);
    return outcome;
}

}  // namespace storegate::proxy
