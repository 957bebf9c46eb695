#include "proxy/sql_inspect.h"

#include <gtest/gtest.h>

namespace storegate::proxy::sql {
namespace {

TEST(SqlInspect, PlainSetCarriesNameAndValueAsWritten) {
    auto seen = inspect("SET search_path = s1, public");
    EXPECT_EQ(seen.kind, Kind::kSet);
    EXPECT_EQ(seen.name, "search_path");
    EXPECT_EQ(seen.value, "s1, public");
    seen = inspect("set SESSION Application_Name TO 'x'");
    EXPECT_EQ(seen.kind, Kind::kSet);
    EXPECT_EQ(seen.name, "application_name");
    EXPECT_EQ(seen.value, "'x'");
}

TEST(SqlInspect, TimeZoneAndLocalAndSpecialForms) {
    auto seen = inspect("SET TIME ZONE 'Asia/Tokyo'");
    EXPECT_EQ(seen.kind, Kind::kSet);
    EXPECT_EQ(seen.name, "timezone");
    EXPECT_EQ(inspect("SET LOCAL work_mem = '1MB'").kind, Kind::kSetLocal);
    EXPECT_EQ(inspect("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE").kind, Kind::kOther);
    EXPECT_EQ(inspect("SET ROLE nobody").kind, Kind::kOther);
    EXPECT_EQ(inspect("SET SESSION AUTHORIZATION DEFAULT").kind, Kind::kOther);
}

TEST(SqlInspect, SetNamesIsClientEncoding) {
    auto seen = inspect("SET NAMES 'LATIN1'");
    EXPECT_EQ(seen.kind, Kind::kSet);
    EXPECT_EQ(seen.name, "client_encoding");
    EXPECT_EQ(seen.value, "'LATIN1'");
    EXPECT_FALSE(seen.untracked_state);
}

TEST(SqlInspect, SessionStateItCannotFollowIsFlagged) {
    for (const char* text : {
             "SELECT set_config('app.tenant', 'tenant-42', false)",
             "select pg_catalog.SET_CONFIG('a.b', 'c', true)",
             "select pg_catalog.\"set_config\"('role', 'x', false)",
             "SELECT U&\"set_config\"('a.b', 'c', false)",
             "SET ROLE nobody",
             "SET SESSION AUTHORIZATION other",
             "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
             "SET search_path = x; SELECT 1",
             "SELECT 1; RESET work_mem",
             "BEGIN; SET work_mem = '7MB'; COMMIT",
         }) {
        EXPECT_TRUE(inspect(text).untracked_state) << text;
    }
    for (const char* text : {
             "SET search_path = x",
             "SET LOCAL work_mem = '1MB'",
             "RESET work_mem",
             "RESET ALL",
             "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
             "BEGIN; SET LOCAL work_mem = '1MB'; SET CONSTRAINTS ALL DEFERRED; COMMIT",
             "UPDATE t SET x = 1",
             "SELECT 'set_config(' AS text",
             "SELECT 1; SELECT 2",
         }) {
        EXPECT_FALSE(inspect(text).untracked_state) << text;
    }
}

TEST(SqlInspect, StoregateSettingsAreUnquoted) {
    auto seen = inspect("  /* c */ SET storegate.store = 'alpha' ");
    EXPECT_EQ(seen.kind, Kind::kSetStoregate);
    EXPECT_EQ(seen.name, "storegate.store");
    EXPECT_EQ(seen.value, "alpha");
    seen = inspect("SHOW storegate.store;");
    EXPECT_EQ(seen.kind, Kind::kShowStoregate);
    EXPECT_EQ(inspect("SHOW search_path").kind, Kind::kOther);
    EXPECT_EQ(inspect("RESET storegate.store").kind, Kind::kOther);
}

TEST(SqlInspect, ResetDiscardDeallocate) {
    EXPECT_EQ(inspect("RESET ALL").kind, Kind::kResetAll);
    auto seen = inspect("reset \"work_mem\"");
    EXPECT_EQ(seen.kind, Kind::kReset);
    EXPECT_EQ(seen.name, "work_mem");
    EXPECT_EQ(inspect("DISCARD ALL").kind, Kind::kDiscardAll);
    EXPECT_EQ(inspect("DISCARD PLANS").kind, Kind::kOther);
    seen = inspect("DEALLOCATE PREPARE q1");
    EXPECT_EQ(seen.kind, Kind::kDeallocate);
    EXPECT_EQ(seen.name, "q1");
    EXPECT_EQ(inspect("DEALLOCATE ALL").kind, Kind::kDeallocateAll);
}

TEST(SqlInspect, EachPinReason) {
    EXPECT_EQ(inspect("LISTEN ch").pin, Pin::kListen);
    EXPECT_EQ(inspect("SELECT pg_advisory_lock(1)").pin, Pin::kAdvisoryLock);
    EXPECT_EQ(inspect("select PG_TRY_ADVISORY_LOCK_SHARED(1, 2)").pin, Pin::kAdvisoryLock);
    EXPECT_EQ(inspect("CREATE TEMP TABLE t (a int)").pin, Pin::kTempTable);
    EXPECT_EQ(inspect("CREATE GLOBAL TEMPORARY TABLE t (a int)").pin, Pin::kTempTable);
    EXPECT_EQ(inspect("SELECT 1 INTO TEMP t").pin, Pin::kTempTable);
    EXPECT_EQ(inspect("DECLARE c CURSOR WITH HOLD FOR SELECT 1").pin, Pin::kWithHoldCursor);
    EXPECT_EQ(inspect("PREPARE p AS SELECT 1").pin, Pin::kSqlPrepare);
}

TEST(SqlInspect, TransactionScopedStateDoesNotPin) {
    EXPECT_EQ(inspect("SELECT pg_advisory_xact_lock(1)").pin, Pin::kNone);
    EXPECT_EQ(inspect("DECLARE c CURSOR WITHOUT HOLD FOR SELECT 1").pin, Pin::kNone);
    EXPECT_EQ(inspect("CREATE TABLE temp (a int)").pin, Pin::kNone);
    EXPECT_EQ(inspect("UNLISTEN *").pin, Pin::kNone);
}

TEST(SqlInspect, QuotedTextAndCommentsAreNotKeywords) {
    EXPECT_EQ(inspect("SELECT 'LISTEN x; pg_advisory_lock(1)'").pin, Pin::kNone);
    EXPECT_EQ(inspect("SELECT $$ PREPARE p AS SELECT 1 $$").pin, Pin::kNone);
    EXPECT_EQ(inspect("SELECT $tag$ pg_advisory_lock $tag$").pin, Pin::kNone);
    EXPECT_EQ(inspect("SELECT \"pg_advisory_lock\" FROM t").pin, Pin::kNone);
    EXPECT_EQ(inspect("-- LISTEN x\nSELECT 1").pin, Pin::kNone);
    EXPECT_EQ(inspect("/* outer /* LISTEN x */ */ SELECT 1").pin, Pin::kNone);
    EXPECT_EQ(inspect("SELECT E'it\\'s'; LISTEN x").pin, Pin::kListen);
}

TEST(SqlInspect, MultipleStatementsPinButAreNotSettings) {
    auto seen = inspect("SELECT 1; LISTEN ch");
    EXPECT_TRUE(seen.multiple);
    EXPECT_EQ(seen.pin, Pin::kListen);
    seen = inspect("SET work_mem = '1MB'; SELECT 1");
    EXPECT_TRUE(seen.multiple);
    EXPECT_EQ(seen.kind, Kind::kOther);
    EXPECT_FALSE(inspect("SET work_mem = '1MB';  -- done").multiple);
}

TEST(SqlInspect, BrokenInputDoesNotThrow) {
    for (std::string_view text : {"", ";", "'unterminated", "$a$ never closed", "/* open", "SET",
                                  "SET x", "SET x =", "\"", "DEALLOCATE", "RESET"}) {
        auto seen = inspect(text);
        EXPECT_NE(seen.kind, Kind::kSet) << text;
        EXPECT_EQ(seen.pin, Pin::kNone) << text;
    }
}

TEST(SqlInspect, StoregateSettingsAmongOtherStatements) {
    EXPECT_TRUE(inspect("SET storegate.store = 'x'; SELECT 1").storegate_setting);
    EXPECT_TRUE(inspect("SELECT 1; set session storegate.store to 'x'").storegate_setting);
    EXPECT_TRUE(inspect("SELECT 1; RESET storegate.store").storegate_setting);
    EXPECT_FALSE(inspect("SET storegate.store = 'x'").storegate_setting);  // on its own
    EXPECT_FALSE(inspect("SET search_path = a; SELECT 'storegate.store'").storegate_setting);
}

}  // namespace
}  // namespace storegate::proxy::sql
