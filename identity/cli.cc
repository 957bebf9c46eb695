#include "identity/cli.h"

#include <memory>

#include "identity/commands.h"

namespace storegate::identity {

namespace {

constexpr const char* kDsnHelp =
    "libpq connection string or URI of the database holding the "
    "identity schema (the registry or a tenant's common database)";

void add_dsn(CLI::App* command, std::string& dsn) {
    command->add_option("--dsn", dsn, kDsnHelp)->required();
}

void add_init(CLI::App& identity, int& exit_code) {
    auto* command = identity.add_subcommand("init", "install or upgrade the identity schema");
    auto dsn = std::make_shared<std::string>();
    add_dsn(command, *dsn);
    command->callback([&exit_code, dsn] { exit_code = run_init(*dsn); });
}

void add_settings(CLI::App& identity, int& exit_code) {
    auto* command = identity.add_subcommand("settings", "show or change a tenant's settings");
    auto request = std::make_shared<SettingsRequest>();
    add_dsn(command, request->dsn);
    command->add_option("--tenant", request->tenant, "tenant uuid or slug")->required();
    command->add_option("--policy", request->match_policy, "when several customers match")
        ->check(CLI::IsMember({"review", "oldest_verified"}));
    command
        ->add_option("--email-provider-rules", request->email_provider_rules,
                     "ignore dots and +tags where the mailbox provider does (gmail.com, ...)")
        ->check(CLI::IsMember({"on", "off"}));
    command->add_option("--calling-code", request->default_calling_code,
                        "default country calling code for national numbers (\"\" clears)");
    command->callback([&exit_code, request] { exit_code = run_settings(*request); });
}

void add_resolve(CLI::App& identity, int& exit_code) {
    auto* command = identity.add_subcommand(
        "resolve", "find or create the customer of a store's identifiers (the matching flow)");
    auto request = std::make_shared<ResolveRequest>();
    add_dsn(command, request->dsn);
    command->add_option("--tenant", request->tenant, "tenant uuid or slug")->required();
    command->add_option("--store", request->store, "store uuid or slug")->required();
    command->add_option("--email", request->emails, "email address (repeatable)");
    command->add_option("--phone", request->phones, "phone number (repeatable)");
    command->add_option("--external", request->externals,
                        "external id as namespace:id, e.g. shopify:123 (repeatable)");
    command->add_flag("--verified", request->verified,
                      "the --email/--phone/--external values were verified");
    command->add_option("--identities", request->identities_json,
                        "JSON array of {\"type\", \"value\", \"verified\"}, as SQL takes it");
    command->add_option("--source", request->source, "recorded as the identities' source")
        ->capture_default_str();
    command->callback([&exit_code, request] { exit_code = run_resolve(*request); });
}

void add_merge(CLI::App& identity, int& exit_code) {
    auto* command = identity.add_subcommand("merge", "merge one customer into another");
    auto request = std::make_shared<MergeRequest>();
    add_dsn(command, request->dsn);
    command->add_option("--survivor", request->survivor, "customer that remains")->required();
    command->add_option("--absorbed", request->absorbed, "customer merged into it")->required();
    command->add_option("--actor", request->actor, "who merges (default: the database user)");
    command->add_option("--reason", request->reason, "why, for the audit log");
    command->callback([&exit_code, request] { exit_code = run_merge(*request); });
}

void add_unmerge(CLI::App& identity, int& exit_code) {
    auto* command = identity.add_subcommand("unmerge", "undo a merge exactly");
    auto request = std::make_shared<UnmergeRequest>();
    add_dsn(command, request->dsn);
    command->add_option("--audit-id", request->audit_id, "audit log id the merge printed")
        ->required();
    command->add_option("--actor", request->actor, "who undoes it (default: the database user)");
    command->add_option("--reason", request->reason, "why, for the audit log");
    command->callback([&exit_code, request] { exit_code = run_unmerge(*request); });
}

void add_review(CLI::App& identity, int& exit_code) {
    auto* review = identity.add_subcommand("review", "the queue of requests awaiting a person");
    review->require_subcommand(1);

    auto* list = review->add_subcommand("list", "list review items");
    auto list_request = std::make_shared<ReviewListRequest>();
    add_dsn(list, list_request->dsn);
    list->add_option("--tenant", list_request->tenant, "tenant uuid or slug")->required();
    list->add_option("--status", list_request->status, "which items")
        ->check(CLI::IsMember({"pending", "decided", "all"}))
        ->capture_default_str();
    list->add_option("--limit", list_request->limit, "at most this many")->capture_default_str();
    list->callback([&exit_code, list_request] { exit_code = run_review_list(*list_request); });

    auto* decide = review->add_subcommand("decide", "decide a pending review item");
    auto request = std::make_shared<ReviewDecideRequest>();
    add_dsn(decide, request->dsn);
    decide->add_option("--id", request->review_id, "review item id")->required();
    decide->add_option("--decision", request->decision, "link, merge, new or dismiss")
        ->required()
        ->check(CLI::IsMember({"link", "merge", "new", "dismiss"}));
    decide->add_option("--customer", request->customer, "customer to link or merge into");
    decide->add_option("--actor", request->actor, "who decides (default: the database user)");
    decide->add_option("--note", request->note, "why, kept with the decision");
    decide->callback([&exit_code, request] { exit_code = run_review_decide(*request); });
}

void add_import(CLI::App& identity, int& exit_code) {
    auto* command =
        identity.add_subcommand("import", "load a customer export (CSV) through the matching flow");
    auto request = std::make_shared<ImportRequest>();
    ImportOptions& options = request->options;
    command->add_option("file", options.path, "CSV file with a header line")->required();
    add_dsn(command, request->dsn);
    command->add_option("--tenant", request->tenant, "tenant uuid or slug")->required();
    command->add_option("--store", request->store, "store of rows without a store column");
    command->add_option("--source", options.source, "recorded as the identities' source")
        ->capture_default_str();
    command->add_option("--rejects", options.rejects_path,
                        "where rejected rows go (default: FILE.rejects.csv)");
    command->add_option("--external-namespace", options.external_namespace,
                        "namespace of the external_id column, e.g. shopify");
    command->add_option("--batch-size", options.batch_size, "rows per round trip")
        ->check(CLI::Range(1, 100000))
        ->capture_default_str();
    command->add_flag("--verified", options.verified,
                      "identifiers without a verified flag in the file count as verified");
    command->callback([&exit_code, request] { exit_code = run_import(*request); });
}

}  // namespace

void add_commands(CLI::App& app, int& exit_code) {
    auto* identity = app.add_subcommand(
        "identity", "tenant-level customer identity: schema, matching, merges, review, import");
    identity->require_subcommand(1);
    add_init(*identity, exit_code);
    add_settings(*identity, exit_code);
    add_resolve(*identity, exit_code);
    add_merge(*identity, exit_code);
    add_unmerge(*identity, exit_code);
    add_review(*identity, exit_code);
    add_import(*identity, exit_code);
}

}  // namespace storegate::identity
