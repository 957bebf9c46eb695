#include "identity/commands.h"

#include <unistd.h>

#include <boost/json.hpp>

#include <iostream>

#include "identity/db.h"
#include "identity/phone.h"
#include "identity/schema.h"
#include "identity/tenant.h"

namespace storegate::identity {

namespace {

namespace json = boost::json;

constexpr int kFailed = 1;
constexpr int kUsage = 2;

void print_error(std::string_view command, const DbError& error) {
    std::cerr << "storegate identity " << command << ": " << error.what();
    if (!error.sqlstate().empty()) {
        std::cerr << " (SQLSTATE " << error.sqlstate() << ")";
    }
    std::cerr << "\n";
    if (!error.detail().empty()) {
        std::cerr << "  detail: " << error.detail() << "\n";
    }
    if (!error.hint().empty()) {
        std::cerr << "  hint: " << error.hint() << "\n";
    }
}

// Runs a command body; a failure is reported once, on stderr, and becomes exit code 1.
template <typename Body>
int reporting(std::string_view command, Body&& body) {
    try {
        return body();
    } catch (const DbError& error) {
        print_error(command, error);
    } catch (const std::exception& error) {
        std::cerr << "storegate identity " << command << ": " << error.what() << "\n";
    }
    return kFailed;
}

std::string or_dash(const std::optional<std::string>& value) {
    return value.value_or("-");
}

json::array identities_of(const ResolveRequest& request) {
    json::array out;
    if (!request.identities_json.empty()) {
        json::value parsed = json::parse(request.identities_json);
        if (!parsed.is_array()) {
            throw DbError("--identities must be a JSON array", "22023");
        }
        out = parsed.as_array();
    }
    const std::pair<const char*, const std::vector<std::string>*> given[] = {
        {"email", &request.emails}, {"phone", &request.phones}, {"external", &request.externals}};
    for (const auto& [type, values] : given) {
        for (const std::string& value : *values) {
            out.push_back(
                json::object{{"type", type}, {"value", value}, {"verified", request.verified}});
        }
    }
    return out;
}

// libphonenumber's check on every phone number of a request, before SQL sees it.
void check_phones(const json::array& identities, const PhoneCheck& check) {
    for (const json::value& item : identities) {
        const json::object* object = item.if_object();
        if (object == nullptr || !object->contains("type") || object->at("type") != "phone") {
            continue;
        }
        const json::string* value =
            object->contains("value") ? object->at("value").if_string() : nullptr;
        std::string problem = value == nullptr ? "" : check.problem(*value);
        if (!problem.empty()) {
            throw DbError(problem, "22023");
        }
    }
}

void print_review(const Rows& rows, int i) {
    std::cout << "review " << rows.text(i, 0) << " " << rows.text(i, 1) << " since "
              << rows.text(i, 2) << ", store " << rows.text(i, 3) << "\n"
              << "  reason: " << rows.text(i, 4) << "\n"
              << "  candidates: " << rows.text(i, 5) << "\n"
              << "  identities: " << rows.text(i, 6) << "\n";
    if (!rows.text(i, 7).empty()) {
        std::cout << "  decided: " << rows.text(i, 7) << " " << or_dash(rows.get(i, 8)) << " by "
                  << rows.text(i, 9) << "\n";
    }
}

void print_summary(const ImportRequest& request, const ImportSummary& summary) {
    std::cout << "imported " << request.options.path << ": " << summary.rows << " rows\n"
              << "  created   " << summary.created << "\n"
              << "  linked    " << summary.linked << "\n"
              << "  queued    " << summary.queued << " (for review)\n"
              << "  rejected  " << summary.rejected << " (see " << summary.rejects_path << ")\n";
    if (!summary.reasons.empty()) {
        std::cout << "rejected rows by reason:\n";
    }
    for (const auto& [reason, rows] : summary.reasons) {
        std::cout << "  " << rows << "  " << reason << "\n";
    }
}

}  // namespace

int run_init(const std::string& dsn) {
    return reporting("init", [&] {
        Db db(dsn);
        InstallResult result = install_schema(db);
        if (result.from_version == result.to_version) {
            std::cout << "identity schema already at version " << result.to_version << "\n";
        } else {
            std::cout << "identity schema migrated from version " << result.from_version << " to "
                      << result.to_version << "\n";
        }
        return 0;
    });
}

int run_settings(const SettingsRequest& request) {
    return reporting("settings", [&] {
        Db db(request.dsn);
        std::optional<std::string> provider_rules;
        if (request.email_provider_rules) {
            provider_rules = *request.email_provider_rules == "on" ? "true" : "false";
        }
        Rows rows = db.query(
            "SELECT tenant_id, match_policy, email_provider_rules, default_calling_code "
            "FROM identity.configure_tenant($1::uuid, $2, $3::boolean, $4)",
            {find_tenant(db, request.tenant), request.match_policy, provider_rules,
             request.default_calling_code});
        std::cout << "tenant " << rows.text(0, 0) << ": match_policy=" << rows.text(0, 1)
                  << " email_provider_rules=" << (rows.text(0, 2) == "t" ? "on" : "off")
                  << " default_calling_code=" << or_dash(rows.get(0, 3)) << "\n";
        return 0;
    });
}

int run_resolve(const ResolveRequest& request) {
    return reporting("resolve", [&] {
        json::array identities = identities_of(request);
        if (identities.empty()) {
            std::cerr << "storegate identity resolve: give --email, --phone, --external or "
                         "--identities\n";
            return kUsage;
        }
        Db db(request.dsn);
        std::string tenant = find_tenant(db, request.tenant);
        check_phones(identities, PhoneCheck(default_calling_code(db, tenant)));
        Rows rows = db.query(
            "SELECT customer_id, outcome "
            "FROM identity.resolve_customer($1::uuid, $2::uuid, $3::jsonb, $4)",
            {tenant, find_store(db, tenant, request.store), json::serialize(identities),
             request.source});
        std::cout << rows.text(0, 1) << " " << or_dash(rows.get(0, 0)) << "\n";
        return 0;
    });
}

int run_merge(const MergeRequest& request) {
    return reporting("merge", [&] {
        Db db(request.dsn);
        Rows rows = db.query("SELECT identity.merge_customers($1::uuid, $2::uuid, $3, $4)",
                             {request.survivor, request.absorbed, request.actor, request.reason});
        std::cout << "merged " << request.absorbed << " into " << request.survivor << " (audit "
                  << rows.text(0, 0) << ")\n";
        return 0;
    });
}

int run_unmerge(const UnmergeRequest& request) {
    return reporting("unmerge", [&] {
        Db db(request.dsn);
        Rows rows = db.query("SELECT identity.unmerge($1::bigint, $2, $3)",
                             {std::to_string(request.audit_id), request.actor, request.reason});
        std::cout << "undid merge " << request.audit_id << " (audit " << rows.text(0, 0) << ")\n";
        return 0;
    });
}

int run_review_list(const ReviewListRequest& request) {
    return reporting("review list", [&] {
        Db db(request.dsn);
        Rows rows = db.query(
            "SELECT q.id, q.status, to_char(q.created_at, 'YYYY-MM-DD HH24:MI:SS TZ'), "
            " q.store_id, q.reason, array_to_string(q.candidates, ', '), "
            " (SELECT string_agg((e ->> 'type') || ' ' || (e ->> 'value') || "
            "   CASE WHEN (e ->> 'verified')::boolean THEN ' (verified)' ELSE '' END, ', ') "
            "    FROM jsonb_array_elements(q.identities) e), "
            " coalesce(q.decision, ''), q.decided_customer, coalesce(q.decided_by, '') "
            "FROM identity_pii.review_queue q "
            "WHERE q.tenant_id = $1::uuid AND ($2 = 'all' OR q.status = $2) "
            "ORDER BY q.id LIMIT $3::integer",
            {find_tenant(db, request.tenant), request.status, std::to_string(request.limit)});
        for (int i = 0; i < rows.size(); ++i) {
            print_review(rows, i);
        }
        std::cout << rows.size() << " review item(s)\n";
        return 0;
    });
}

int run_review_decide(const ReviewDecideRequest& request) {
    return reporting("review decide", [&] {
        Db db(request.dsn);
        Rows rows = db.query(
            "SELECT customer_id, outcome "
            "FROM identity.review_decide($1::bigint, $2, $3::uuid, $4, $5)",
            {std::to_string(request.review_id), request.decision, request.customer, request.actor,
             request.note});
        std::cout << rows.text(0, 1) << " " << or_dash(rows.get(0, 0)) << "\n";
        return 0;
    });
}

int run_import(ImportRequest request) {
    return reporting("import", [&] {
        Db db(request.dsn);
        request.options.tenant_id = find_tenant(db, request.tenant);
        if (!request.store.empty()) {
            request.options.default_store_id =
                find_store(db, request.options.tenant_id, request.store);
        }
        ImportSummary summary =
            import_customers(db, request.options, std::cerr, isatty(STDERR_FILENO) == 1);
        print_summary(request, summary);
        return 0;
    });
}

}  // namespace storegate::identity
