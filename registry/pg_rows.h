// Registry queries and the conversion of their rows into the model, shared by the snapshot
// loader and the watcher's single-row re-reads so both read a row the same way.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "registry/model.h"
#include "registry/pg_conn.h"
#include "registry/pg_registry.h"

namespace storegate::registry {

// SELECT lists whose columns the *_from_row functions expect, and the primary-key filters the
// watcher appends (parameter $1 is the key as text).
extern const char* const kBackendSelect;
extern const char* const kTenantSelect;
extern const char* const kStoreSelect;  // stores joined with their routing row, if any
extern const char* const kBackendByKey;
extern const char* const kTenantById;
extern const char* const kStoreById;
extern const char* const kStoreBySlug;

// Each returns nullopt (and sets `error`) for a row storegate cannot use, instead of trusting it.
std::optional<Backend> backend_from_row(const PgResult& r, int row, std::string& error);
std::optional<Tenant> tenant_from_row(const PgResult& r, int row, std::string& error);
std::optional<Store> store_from_row(const PgResult& r, int row, std::string& error);

// Appends the usable rows of `r`; returns the error of the first unusable one, if any.
std::string append_backends(const PgResult& r, std::vector<Backend>& out);
std::string append_tenants(const PgResult& r, std::vector<Tenant>& out);
std::string append_stores(const PgResult& r, std::vector<Store>& out);

// load_pg on an open connection: one repeatable-read transaction, version included.
PgLoadResult load_snapshot(const PgConn& conn);

}  // namespace storegate::registry
