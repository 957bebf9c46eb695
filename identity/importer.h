// `storegate identity import`: loads a customer export (CSV) through identity.resolve_batch,
// the same matching flow applications use, many rows per round trip.
//
// Columns (header names, any order, case-insensitive; others are ignored): store (uuid or
// slug; or --store for all rows), email, phone, external_id, and the verified flags
// email_verified, phone_verified, external_verified, or verified for all of a row's
// identifiers. Rows that cannot be loaded go to a rejects file with the reason.
#pragma once

#include <cstdint>
#include <map>
#include <ostream>
#include <string>

#include "identity/db.h"

namespace storegate::identity {

struct ImportOptions {
    std::string path;
    std::string tenant_id;           // uuid
    std::string default_store_id;    // uuid; empty when every row names its store
    std::string source = "import";   // recorded as the identities' source
    std::string rejects_path;        // empty: <path>.rejects.csv
    std::string external_namespace;  // namespace of external ids; empty: "ns:id" in the file
    size_t batch_size = 1000;        // rows per round trip (and per transaction)
    bool verified = false;           // for rows whose verified flags are missing or empty
};

struct ImportSummary {
    uint64_t rows = 0;
    uint64_t created = 0;
    uint64_t linked = 0;
    uint64_t queued = 0;  // outcome review
    uint64_t rejected = 0;
    std::map<std::string, uint64_t> reasons;  // rejection reason -> rows
    std::string rejects_path;
};

// Runs the import; progress goes to `progress` (a bar when `terminal`). Re-running it with the
// same file adds nothing. Throws DbError or std::runtime_error when the import cannot go on
// (unreadable file, no usable header, lost connection); rows done by then stay done.
ImportSummary import_customers(Db& db, const ImportOptions& options, std::ostream& progress,
                               bool terminal);

}  // namespace storegate::identity
