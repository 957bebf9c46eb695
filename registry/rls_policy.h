// `storegate registry rls`: the row-level security policy that keeps one store's rows out of
// another store's sessions on a shared backend. storegate sets storegate.store_id on every
// server session it hands to a store; the policy compares a table's store column with it.
#pragma once

#include <optional>
#include <string>

namespace storegate::registry {

// SQL enabling and forcing RLS on `table` (optionally schema-qualified: schema.table) with a
// policy matching `column` against current_setting('storegate.store_id', true). nullopt when
// a name is empty or has more than two dotted parts.
std::optional<std::string> rls_policy_sql(const std::string& table, const std::string& column);

}  // namespace storegate::registry
