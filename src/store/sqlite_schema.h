#pragma once

#include <string_view>

#include "store/status.h"

struct sqlite3;

namespace herald::store::sqlite {

// The schema version this build writes: the number of migrations it knows. Stored in the
// database header as PRAGMA user_version.
int schema_version();

// Brings the database to schema_version(): applies the migrations after its user_version,
// in order, in one IMMEDIATE transaction (so two processes opening a fresh directory at
// once migrate it once). kUnsupported if the database is newer than this build.
Status migrate(sqlite3* db, std::string_view file);

}  // namespace herald::store::sqlite
