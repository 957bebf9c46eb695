// The `storegate identity ...` subcommands behind the command-line parser. Each returns the
// process exit code: 0 when done, 1 when it failed (the reason is on stderr).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "identity/importer.h"

namespace storegate::identity {

struct SettingsRequest {
    std::string dsn;
    std::string tenant;  // uuid or slug
    std::optional<std::string> match_policy;
    std::optional<std::string> email_provider_rules;  // on | off
    std::optional<std::string> default_calling_code;  // "" clears it
};

struct ResolveRequest {
    std::string dsn;
    std::string tenant;  // uuid or slug
    std::string store;   // uuid or slug
    std::vector<std::string> emails;
    std::vector<std::string> phones;
    std::vector<std::string> externals;
    std::string identities_json;  // a JSON array as resolve_customer takes it
    bool verified = false;        // for --email, --phone and --external
    std::string source = "cli";
};

struct MergeRequest {
    std::string dsn;
    std::string survivor;
    std::string absorbed;
    std::optional<std::string> actor;  // default: the database user
    std::optional<std::string> reason;
};

struct UnmergeRequest {
    std::string dsn;
    long long audit_id = 0;
    std::optional<std::string> actor;
    std::optional<std::string> reason;
};

struct ReviewListRequest {
    std::string dsn;
    std::string tenant;
    std::string status = "pending";  // pending | decided | all
    int limit = 50;
};

struct ReviewDecideRequest {
    std::string dsn;
    long long review_id = 0;
    std::string decision;  // link | merge | new | dismiss
    std::optional<std::string> customer;
    std::optional<std::string> actor;
    std::optional<std::string> note;
};

struct ImportRequest {
    std::string dsn;
    std::string tenant;
    std::string store;  // optional: for files without a store column
    ImportOptions options;
};

int run_init(const std::string& dsn);
int run_settings(const SettingsRequest& request);
int run_resolve(const ResolveRequest& request);
int run_merge(const MergeRequest& request);
int run_unmerge(const UnmergeRequest& request);
int run_review_list(const ReviewListRequest& request);
int run_review_decide(const ReviewDecideRequest& request);
int run_import(ImportRequest request);

}  // namespace storegate::identity
