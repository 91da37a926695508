// What only the SQLite backend promises: persistence, schema versioning, sharing a file.
#include "store/sqlite_store.h"

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <string>

#include "store/ha1.h"
#include "store/sqlite_schema.h"
#include "temp_dir.h"

namespace herald::store {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

User alice() { return *make_user("sip:alice@example.com", "example.com", "secret"); }

Binding alice_binding() {
  Binding b;
  b.aor = "sip:alice@example.com";
  b.contact = "sip:alice@192.0.2.4:5060";
  b.call_id = "call-1";
  b.cseq = 7;
  b.expires_at = 4000;
  b.q = 1000;
  b.path = {"<sip:edge.example.com;lr>"};
  b.received = "udp:192.0.2.4:5060";
  b.updated_at = 3000;
  return b;
}

// A raw connection to herald.db, for what the Store API does not show.
class RawDb {
 public:
  explicit RawDb(const std::filesystem::path& file) {
    EXPECT_EQ(sqlite3_open(file.c_str(), &db_), SQLITE_OK);
  }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  int exec(const char* sql) { return sqlite3_exec(db_, sql, nullptr, nullptr, nullptr); }
  std::string text(const char* sql) {
    sqlite3_stmt* statement = nullptr;
    std::string value;
    if (sqlite3_prepare_v2(db_, sql, -1, &statement, nullptr) == SQLITE_OK &&
        sqlite3_step(statement) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(statement, 0);
      if (text != nullptr) value = reinterpret_cast<const char*>(text);
    }
    sqlite3_finalize(statement);
    return value;
  }

 private:
  sqlite3* db_ = nullptr;
};

class SqliteStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<SqliteStore> open_ok(int busy_timeout_ms = 5000) {
    Result<std::unique_ptr<SqliteStore>> opened = SqliteStore::open(dir_.path(), busy_timeout_ms);
    EXPECT_TRUE(opened.ok()) << opened.status().message();
    return opened.ok() ? std::move(opened).value() : nullptr;
  }
  std::filesystem::path file() const { return dir_.path() / SqliteStore::kFileName; }

  testing::TempDir dir_;
};

TEST_F(SqliteStoreTest, CreatesTheDataDirectoryAndDatabaseFile) {
  auto store = open_ok();
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(std::filesystem::is_regular_file(file()));
  EXPECT_EQ(store->file(), file().string());
}

TEST_F(SqliteStoreTest, DataSurvivesClosingAndReopening) {
  {
    auto store = open_ok();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->add_user(alice()).ok());
    ASSERT_TRUE(store->put_binding(alice_binding()).ok());
  }
  auto reopened = open_ok();
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(*reopened->find_user(alice().aor), alice());
  EXPECT_THAT(*reopened->load_bindings(), ElementsAre(alice_binding()));
}

TEST_F(SqliteStoreTest, AcknowledgedWritesSurviveKill9) {
  pid_t child = ::fork();
  ASSERT_NE(child, -1);
  if (child == 0) {
    // No gtest assertions here: report failure by exiting instead of being killed.
    Result<std::unique_ptr<SqliteStore>> opened = SqliteStore::open(dir_.path());
    if (!opened.ok() || !(*opened)->add_user(alice()).ok() ||
        !(*opened)->put_binding(alice_binding()).ok()) {
      ::_exit(1);
    }
    ::kill(::getpid(), SIGKILL);
    ::_exit(2);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child status " << status;
  auto store = open_ok();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(*store->find_user(alice().aor), alice());
  EXPECT_THAT(*store->load_bindings(), ElementsAre(alice_binding()));
}

TEST_F(SqliteStoreTest, SchemaVersionAndPragmasAreSet) {
  auto store = open_ok();
  ASSERT_NE(store, nullptr);
  RawDb raw(file());
  EXPECT_EQ(raw.text("PRAGMA user_version"), std::to_string(sqlite::schema_version()));
  EXPECT_GE(sqlite::schema_version(), 1);
  EXPECT_EQ(raw.text("PRAGMA journal_mode"), "wal");  // persistent in the file
}

TEST_F(SqliteStoreTest, DatabaseFromANewerHeraldIsRefusedWithAClearMessage) {
  std::filesystem::create_directories(dir_.path());
  {
    RawDb raw(file());
    ASSERT_EQ(raw.exec("CREATE TABLE future (x); PRAGMA user_version = 99"), SQLITE_OK);
  }
  Result<std::unique_ptr<SqliteStore>> opened = SqliteStore::open(dir_.path());
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kUnsupported);
  EXPECT_THAT(opened.status().message(), HasSubstr(file().string()));
  EXPECT_THAT(opened.status().message(), HasSubstr("schema version 99 is newer"));
  RawDb raw(file());
  EXPECT_EQ(raw.text("PRAGMA user_version"), "99");  // left untouched
}

TEST_F(SqliteStoreTest, TwoStoresOnTheSameFileSeeEachOthersWrites) {
  auto server = open_ok();
  auto command = open_ok();  // as `herald user add` would, while the server runs
  ASSERT_NE(server, nullptr);
  ASSERT_NE(command, nullptr);
  ASSERT_TRUE(command->add_user(alice()).ok());
  EXPECT_EQ(*server->find_user(alice().aor), alice());
  ASSERT_TRUE(server->put_binding(alice_binding()).ok());
  EXPECT_THAT(*command->load_bindings(), ElementsAre(alice_binding()));
  ASSERT_TRUE(command->set_password(alice().aor, "changed").ok());
  EXPECT_NE(server->find_user(alice().aor)->ha1_md5, alice().ha1_md5);
  EXPECT_EQ(server->add_user(alice()).code(), StatusCode::kAlreadyExists);
}

TEST_F(SqliteStoreTest, FileThatIsNotADatabaseIsAnErrorNotACrash) {
  std::filesystem::create_directories(dir_.path());
  {
    std::ofstream out(file(), std::ios::binary);
    for (int i = 0; i < 512; ++i) out << "this is not an SQLite database\n";
  }
  Result<std::unique_ptr<SqliteStore>> opened = SqliteStore::open(dir_.path());
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kCorruption);
  EXPECT_THAT(opened.status().message(), HasSubstr(file().string()));
}

TEST_F(SqliteStoreTest, DataDirectoryThatIsAFileIsAnError) {
  { std::ofstream out(dir_.path()); }
  Result<std::unique_ptr<SqliteStore>> opened = SqliteStore::open(dir_.path());
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kIoError);
  EXPECT_THAT(opened.status().message(), HasSubstr(dir_.path().string()));
}

TEST_F(SqliteStoreTest, EmptyDataDirectoryIsRefused) {
  EXPECT_EQ(SqliteStore::open("").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(SqliteStoreTest, WriteWaitsForAnotherWriterThenFailsWithAnError) {
  auto store = open_ok(50);
  ASSERT_NE(store, nullptr);
  RawDb other(file());
  ASSERT_EQ(other.exec("BEGIN IMMEDIATE"), SQLITE_OK);
  Status blocked = store->put_binding(alice_binding());
  EXPECT_EQ(blocked.code(), StatusCode::kIoError);
  EXPECT_THAT(blocked.message(), HasSubstr("locked"));
  ASSERT_EQ(other.exec("ROLLBACK"), SQLITE_OK);
  EXPECT_TRUE(store->put_binding(alice_binding()).ok());  // the statement is reusable
  EXPECT_THAT(*store->load_bindings(), ElementsAre(alice_binding()));
}

}  // namespace
}  // namespace herald::store
