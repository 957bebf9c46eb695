#include "proxy/response_queue.h"

#include <gtest/gtest.h>

#include <vector>

namespace storegate::proxy {
namespace {

using Expect = ResponseQueue::Expect;
using Action = ResponseQueue::Action;

// Feeds server message types in order; returns what the client would see: forwarded server
// types as single letters and synthetic answers in brackets.
std::string feed(ResponseQueue& queue, std::string_view types,
                 std::vector<ResponseQueue::Outcome>* outcomes = nullptr) {
    std::string seen;
    for (char type : types) {
        std::string before;
        std::string after;
        auto outcome = queue.on_server_message(type, before, after);
        if (!before.empty()) {
            seen += "[" + before + "]";
        }
        if (outcome.forward) {
            seen.push_back(type);
        }
        if (!after.empty()) {
            seen += "[" + after + "]";
        }
        if (outcomes) {
            outcomes->push_back(std::move(outcome));
        }
    }
    return seen;
}

// The answers due before any further server message.
std::string due_now(ResponseQueue& queue) {
    std::string due;
    queue.take_due(due);
    return due;
}

TEST(ResponseQueue, SyntheticAnswersKeepTheirPlace) {
    ResponseQueue q;
    q.push(Expect::kParse, Action::kSynthesize, "1");  // statement already on the server
    q.push(Expect::kBind);
    q.push(Expect::kExecute);
    q.push(Expect::kClose, Action::kSynthesize, "3");
    q.push(Expect::kSync);
    EXPECT_EQ(due_now(q), "1");
    EXPECT_EQ(feed(q, "2DCZ"), "2DC[3]Z");
    EXPECT_TRUE(q.empty());
}

TEST(ResponseQueue, InjectedParseIsSwallowedButItsErrorIsNot) {
    ResponseQueue q;
    q.push(Expect::kParse, Action::kSwallow);
    q.push(Expect::kBind);
    q.push(Expect::kExecute);
    q.push(Expect::kSync);
    EXPECT_EQ(feed(q, "12DCZ"), "2DCZ");
    q.push(Expect::kParse, Action::kSwallow);
    q.push(Expect::kBind);
    q.push(Expect::kExecute);
    q.push(Expect::kSync);
    EXPECT_EQ(feed(q, "EZ"), "EZ");  // the rest of the batch is skipped by the server too
    EXPECT_TRUE(q.empty());
}

TEST(ResponseQueue, ErrorSkipsSyntheticAnswersUpToSync) {
    ResponseQueue q;
    q.push(Expect::kBind);
    q.push(Expect::kExecute);
    q.push(Expect::kClose, Action::kSynthesize, "3");
    q.push(Expect::kSync);
    q.push(Expect::kParse, Action::kSynthesize, "1");
    q.push(Expect::kSync);
    EXPECT_EQ(feed(q, "2EZ"), "2EZ[1]");
    EXPECT_EQ(feed(q, "Z"), "Z");
    EXPECT_TRUE(q.empty());
}

TEST(ResponseQueue, ParsesSkippedAfterAnErrorAreReportedAsNotPrepared) {
    ResponseQueue q;
    q.push(Expect::kBind);
    q.push(Expect::kExecute);
    q.push_parse("sg_client", Action::kForward);  // the client's own Parse, behind the error
    q.push_parse("sg_injected", Action::kSwallow);
    q.push(Expect::kBind);
    q.push(Expect::kSync);
    q.push_parse("sg_next_batch", Action::kForward);
    q.push(Expect::kSync);
    std::vector<ResponseQueue::Outcome> outcomes;
    EXPECT_EQ(feed(q, "2EZ", &outcomes), "2EZ");
    ASSERT_EQ(outcomes.size(), 3u);
    const auto& failed = outcomes[1].failed_parses;
    ASSERT_EQ(failed.size(), 2u);
    EXPECT_EQ(failed[0].statement, "sg_client");
    EXPECT_TRUE(failed[0].client);
    EXPECT_EQ(failed[1].statement, "sg_injected");
    EXPECT_FALSE(failed[1].client);
    outcomes.clear();
    EXPECT_EQ(feed(q, "1Z", &outcomes), "1Z");  // the next batch runs: its Parse counts
    EXPECT_TRUE(outcomes[0].failed_parses.empty());
    EXPECT_TRUE(q.empty());
}

TEST(ResponseQueue, MessagesSentAfterAnErrorUpToSyncExpectNothing) {
    // The client wrote the rest of the batch (and its Sync) only after the error came back.
    ResponseQueue q;
    q.push(Expect::kBind);
    q.push(Expect::kExecute);
    std::vector<ResponseQueue::Outcome> outcomes;
    EXPECT_EQ(feed(q, "2E", &outcomes), "2E");
    EXPECT_TRUE(q.empty());
    q.push(Expect::kBind);
    q.push(Expect::kExecute);
    q.push_parse("sg_late", Action::kSwallow);
    q.push(Expect::kParse, Action::kSynthesize, "1");  // would have been answered locally
    q.push_sync(ResponseQueue::Change{"work_mem", "'7MB'", false});
    EXPECT_EQ(due_now(q), "");
    outcomes.clear();
    EXPECT_EQ(feed(q, "Z", &outcomes), "Z");
    ASSERT_EQ(outcomes[0].failed_parses.size(), 1u);
    EXPECT_EQ(outcomes[0].failed_parses[0].statement, "sg_late");
    EXPECT_TRUE(outcomes[0].query_failed);  // the batch's SET did not happen
    EXPECT_TRUE(q.empty());
    // The next batch is answered normally.
    q.push(Expect::kParse, Action::kSynthesize, "1");
    q.push(Expect::kSync);
    EXPECT_EQ(due_now(q), "1");
    EXPECT_EQ(feed(q, "Z"), "Z");
    EXPECT_TRUE(q.empty());
}

TEST(ResponseQueue, AFailedParseIsReportedOnce) {
    ResponseQueue q;
    q.push_parse("sg_bad", Action::kForward);
    q.push(Expect::kBind);
    q.push(Expect::kSync);
    std::vector<ResponseQueue::Outcome> outcomes;
    EXPECT_EQ(feed(q, "EZ", &outcomes), "EZ");
    ASSERT_EQ(outcomes[0].failed_parses.size(), 1u);
    EXPECT_EQ(outcomes[0].failed_parses[0].statement, "sg_bad");
    EXPECT_TRUE(outcomes[1].failed_parses.empty());
}

TEST(ResponseQueue, ALongPipelineThatNeverDrainsKeepsItsOrder) {
    ResponseQueue q;
    std::string seen;
    for (int i = 0; i < 500; ++i) {
        q.push(Expect::kQuery);
        if (i >= 3) {  // three queries always in flight
            seen += feed(q, "CZ");
        }
    }
    seen += feed(q, "CZCZCZ");
    EXPECT_EQ(seen.size(), 1000u);
    EXPECT_EQ(seen.find_first_not_of("CZ"), std::string::npos);
    EXPECT_TRUE(q.empty());
    q.release_if_empty();
    q.push(Expect::kSync);
    EXPECT_EQ(q.size(), 1u);
}

TEST(ResponseQueue, SettingsSyncIsSwallowedWholeEvenOnError) {
    ResponseQueue q;
    q.push(Expect::kQuery, Action::kSwallow);
    q.push_query(std::nullopt);
    EXPECT_EQ(feed(q, "CEZTDCZ"), "TDCZ");
    EXPECT_TRUE(q.empty());
}

TEST(ResponseQueue, QueryChangeIsReportedWithItsFailure) {
    ResponseQueue q;
    q.push_query(ResponseQueue::Change{"work_mem", "SET work_mem TO '1MB'", false});
    q.push_query(ResponseQueue::Change{"", "", true});
    std::vector<ResponseQueue::Outcome> out;
    EXPECT_EQ(feed(q, "CZEZ", &out), "CZEZ");
    ASSERT_EQ(out.size(), 4u);
    EXPECT_TRUE(out[1].completed_query);
    EXPECT_FALSE(out[1].query_failed);
    ASSERT_TRUE(out[1].change);
    EXPECT_EQ(out[1].change->name, "work_mem");
    EXPECT_TRUE(out[3].query_failed);
    ASSERT_TRUE(out[3].change);
    EXPECT_TRUE(out[3].change->reset);
}

TEST(ResponseQueue, ExtendedSetCountsOnlyWhenItsBatchSucceeds) {
    ResponseQueue q;
    q.push(Expect::kParse);
    q.push(Expect::kBind);
    q.push(Expect::kExecute);
    q.push_sync(ResponseQueue::Change{"search_path", "SET search_path TO x", false});
    q.push(Expect::kBind);
    q.push(Expect::kExecute);
    q.push_sync(ResponseQueue::Change{"search_path", "SET search_path TO y", false});
    std::vector<ResponseQueue::Outcome> out;
    EXPECT_EQ(feed(q, "12CZ2EZ", &out), "12CZ2EZ");
    ASSERT_TRUE(out[3].change);
    EXPECT_FALSE(out[3].query_failed);
    EXPECT_FALSE(out[3].completed_query);
    ASSERT_TRUE(out[6].change);
    EXPECT_TRUE(out[6].query_failed);
}

TEST(ResponseQueue, AsyncMessagesAndSuspendedPortals) {
    ResponseQueue q;
    q.push(Expect::kExecute);
    q.push(Expect::kExecute);
    q.push(Expect::kSync);
    EXPECT_EQ(feed(q, "NDDsSADCZ"), "NDDsSADCZ");
    EXPECT_TRUE(q.empty());
}

TEST(ResponseQueue, DescribeEndsWithRowDescriptionOrNoData) {
    ResponseQueue q;
    q.push(Expect::kDescribeStatement);
    q.push(Expect::kDescribePortal);
    q.push(Expect::kSync);
    EXPECT_EQ(feed(q, "tTnZ"), "tTnZ");
    EXPECT_TRUE(q.empty());
}

TEST(ResponseQueue, UnexpectedServerMessagesDoNotBreakAnEmptyQueue) {
    ResponseQueue q;
    EXPECT_EQ(feed(q, "ZEC"), "ZEC");
    EXPECT_TRUE(q.empty());
}

}  // namespace
}  // namespace storegate::proxy
