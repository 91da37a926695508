// What only the SQLite backend promises: persistence, schema versioning, sharing a file.
#include "store/sqlite_store.h"

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "store/ha1.h"
#include "store/sqlite_schema.h"
#include "temp_dir.h"

namespace herald::store {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

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
  b.id = 1;
  return b;
}

StoredMessage message_to_bob(std::string body) {
  StoredMessage m;
  m.recipient = "sip:bob@example.com";
  m.from = "<sip:alice@example.com>;tag=1928301774";
  m.to = "<sip:bob@example.com>";
  m.content_type = "application/octet-stream";
  m.body = std::move(body);
  m.date = "Sat, 13 Nov 2010 23:29:00 GMT";
  m.received_at = 3000;
  m.expires_at = 4000;
  return m;
}

// Stores m and returns it as it should be read back: with its new id.
StoredMessage stored(Store& store, StoredMessage m) {
  Result<std::int64_t> id = store.store_message(m);
  EXPECT_TRUE(id.ok()) << id.status().message();
  m.id = id.ok() ? *id : -1;
  return m;
}

// Schema version 1 exactly as migration 1 wrote it (a released migration never changes).
constexpr const char* kSchemaVersion1 = R"sql(
CREATE TABLE users (
  aor        TEXT PRIMARY KEY NOT NULL,
  realm      TEXT NOT NULL,
  ha1_md5    TEXT NOT NULL,
  ha1_sha256 TEXT NOT NULL
);
CREATE TABLE bindings (
  aor        TEXT NOT NULL,
  contact    TEXT NOT NULL,
  call_id    TEXT NOT NULL,
  cseq       INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  q          INTEGER NOT NULL,
  path       TEXT NOT NULL,
  instance   TEXT NOT NULL,
  received   TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (aor, contact)
);
CREATE INDEX bindings_by_expiry ON bindings (expires_at);
PRAGMA user_version = 1;
)sql";

// Schema version 2 exactly as migrations 1 and 2 wrote it.
constexpr const char* kMigration2 = R"sql(
CREATE TABLE messages (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  recipient    TEXT NOT NULL,
  from_header  TEXT NOT NULL,
  to_header    TEXT NOT NULL,
  content_type TEXT NOT NULL,
  body         BLOB NOT NULL,
  date_header  TEXT NOT NULL,
  received_at  INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL,
  attempts     INTEGER NOT NULL
);
CREATE INDEX messages_by_recipient ON messages (recipient, id);
CREATE INDEX messages_by_expiry ON messages (expires_at);
PRAGMA user_version = 2;
)sql";

Publication bob_publication(std::string etag, std::int64_t sequence) {
  Publication p;
  p.etag = std::move(etag);
  p.presentity = "sip:bob@example.com";
  p.event = "presence";
  p.content_type = "application/pidf+xml";
  p.body = std::string("<presence>\0\xff</presence>", 23);
  p.sequence = sequence;
  p.expires_at = 4000;
  p.updated_at = 3000;
  return p;
}

SubscriptionRecord alice_watches_bob() {
  SubscriptionRecord r;
  r.key = "sub-1";
  r.package = "presence";
  r.resource = "sip:bob@example.com";
  r.watcher = "sip:alice@example.com";
  r.call_id = "call-9";
  r.local_tag = "l1";
  r.remote_tag = "r1";
  r.local_uri = r.resource;
  r.remote_uri = r.watcher;
  r.remote_target = "sip:alice@192.0.2.4:5060";
  r.route_set = {"<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"};
  r.content_type = "application/pidf+xml";
  r.remote_cseq = 2;
  r.local_cseq = 5;
  r.expires_at = 4000;
  r.state = "active";
  return r;
}

std::int64_t generation_of(const Store& store) {
  Result<std::int64_t> value = store.presence_rules_generation();
  EXPECT_TRUE(value.ok()) << value.status().message();
  return value.ok() ? *value : -1;
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

  // Opens a store in a child process, runs `writes` there and kills the child with SIGKILL
  // (as kill -9 would) once they returned true; a child whose writes failed exits instead,
  // which fails the test.
  void write_then_kill9(const std::function<bool(SqliteStore&)>& writes) {
    pid_t child = ::fork();
    ASSERT_NE(child, -1);
    if (child == 0) {
      // No gtest assertions here: report failure by exiting instead of being killed.
      Result<std::unique_ptr<SqliteStore>> opened = SqliteStore::open(dir_.path());
      if (!opened.ok() || !writes(**opened)) ::_exit(1);
      ::kill(::getpid(), SIGKILL);
      ::_exit(2);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child status " << status;
  }

  // Installs a trigger that makes any insert of the publication with etag "poison" fail
  // with "refused".
  void refuse_poison_publication() {
    RawDb raw(file());
    ASSERT_EQ(raw.exec("CREATE TRIGGER refuse BEFORE INSERT ON publications "
                       "WHEN new.etag = 'poison' BEGIN SELECT RAISE(ABORT, 'refused'); END"),
              SQLITE_OK);
  }

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
  write_then_kill9([](SqliteStore& store) {
    return store.add_user(alice()).ok() && store.put_binding(alice_binding()).ok();
  });
  if (HasFatalFailure()) return;
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

TEST_F(SqliteStoreTest, MessagesSurviveClosingAndReopening) {
  StoredMessage first;
  StoredMessage second;
  {
    auto store = open_ok();
    ASSERT_NE(store, nullptr);
    first = stored(*store, message_to_bob(std::string("\0\xff\0", 3)));
    second = stored(*store, message_to_bob("second"));
    ASSERT_TRUE(store->set_message_attempts(second.id, 2).ok());
    second.attempts = 2;
  }
  auto reopened = open_ok();
  ASSERT_NE(reopened, nullptr);
  EXPECT_THAT(*reopened->pending_messages("sip:bob@example.com"), ElementsAre(first, second));
  EXPECT_THAT(*reopened->message_recipients(), ElementsAre("sip:bob@example.com"));
  EXPECT_EQ(*reopened->count_messages("sip:bob@example.com"), 2u);
}

TEST_F(SqliteStoreTest, AcknowledgedMessageSurvivesKill9) {
  write_then_kill9([](SqliteStore& store) { return store.store_message(message_to_bob("kept")).ok(); });
  if (HasFatalFailure()) return;
  auto store = open_ok();
  ASSERT_NE(store, nullptr);
  Result<std::vector<StoredMessage>> pending = store->pending_messages("sip:bob@example.com");
  ASSERT_TRUE(pending.ok()) << pending.status().message();
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ(pending->front().body, "kept");
}

TEST_F(SqliteStoreTest, IdsKeepGrowingAfterTheNewestIsRemovedAndTheDatabaseReopened) {
  std::int64_t newest = 0;
  {
    auto store = open_ok();
    ASSERT_NE(store, nullptr);
    stored(*store, message_to_bob("one"));
    newest = stored(*store, message_to_bob("two")).id;
    ASSERT_TRUE(store->remove_message(newest).ok());
  }
  auto reopened = open_ok();
  ASSERT_NE(reopened, nullptr);
  EXPECT_GT(stored(*reopened, message_to_bob("three")).id, newest);
}

TEST_F(SqliteStoreTest, IdsGrowAcrossStoresSharingTheFile) {
  auto server = open_ok();
  auto other = open_ok();
  ASSERT_NE(server, nullptr);
  ASSERT_NE(other, nullptr);
  StoredMessage first = stored(*server, message_to_bob("one"));
  StoredMessage second = stored(*other, message_to_bob("two"));
  StoredMessage third = stored(*server, message_to_bob("three"));
  EXPECT_LT(first.id, second.id);
  EXPECT_LT(second.id, third.id);
  EXPECT_THAT(*other->pending_messages("sip:bob@example.com"), ElementsAre(first, second, third));
}

TEST_F(SqliteStoreTest, BodyIsStoredAsABlob) {
  auto store = open_ok();
  ASSERT_NE(store, nullptr);
  stored(*store, message_to_bob(std::string("a\0b", 3)));
  stored(*store, message_to_bob(""));
  RawDb raw(file());
  EXPECT_EQ(raw.text("SELECT group_concat(typeof(body) || ':' || length(body), ',') "
                     "FROM (SELECT body FROM messages ORDER BY id)"),
            "blob:3,blob:0");
}

TEST_F(SqliteStoreTest, DatabaseAtSchemaVersion1IsMigratedKeepingItsData) {
  std::filesystem::create_directories(dir_.path());
  const User user = alice();
  const Binding binding = alice_binding();
  {
    RawDb raw(file());
    ASSERT_EQ(raw.exec(kSchemaVersion1), SQLITE_OK);
    std::string insert_user = "INSERT INTO users VALUES ('" + user.aor + "', '" + user.realm +
                              "', '" + user.ha1_md5 + "', '" + user.ha1_sha256 + "')";
    ASSERT_EQ(raw.exec(insert_user.c_str()), SQLITE_OK);
    ASSERT_EQ(raw.exec("INSERT INTO bindings VALUES ('sip:bob@example.com', "
                       "'sip:bob@192.0.2.9', 'call-2', 1, 4000, -1, '', '', 'udp:192.0.2.9:5060', 3000)"),
              SQLITE_OK);
    ASSERT_EQ(raw.exec("INSERT INTO bindings VALUES ('sip:alice@example.com', "
                       "'sip:alice@192.0.2.4:5060', 'call-1', 7, 4000, 1000, "
                       "'<sip:edge.example.com;lr>', '', 'udp:192.0.2.4:5060', 3000)"),
              SQLITE_OK);
    ASSERT_EQ(raw.text("PRAGMA user_version"), "1");
  }
  auto store = open_ok();
  ASSERT_NE(store, nullptr);
  {
    RawDb raw(file());
    EXPECT_EQ(raw.text("PRAGMA user_version"), std::to_string(sqlite::schema_version()));
    EXPECT_EQ(raw.text("SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name IN "
                       "('messages_by_recipient', 'messages_by_expiry')"),
              "2");
    // Migration 4: the expiry index gone. Migration 6: the bindings keyed by id, no index.
    EXPECT_EQ(raw.text("SELECT count(*) FROM sqlite_schema WHERE name = 'bindings_by_expiry'"), "0");
    EXPECT_THAT(raw.text("SELECT sql FROM sqlite_schema WHERE name = 'bindings'"),
                HasSubstr("id         INTEGER PRIMARY KEY"));
    EXPECT_EQ(raw.text("SELECT count(*) FROM sqlite_schema WHERE tbl_name = 'bindings' AND type = 'index'"), "0");
  }
  EXPECT_EQ(*store->find_user(user.aor), user);
  // Numbered in (aor, contact) order: alice's before bob's, although bob's was written first.
  Binding bob;
  bob.aor = "sip:bob@example.com";
  bob.contact = "sip:bob@192.0.2.9";
  bob.call_id = "call-2";
  bob.cseq = 1;
  bob.expires_at = 4000;
  bob.received = "udp:192.0.2.9:5060";
  bob.updated_at = 3000;
  bob.id = 2;
  EXPECT_THAT(*store->load_bindings(), ElementsAre(binding, bob));
  EXPECT_THAT(*store->message_recipients(), IsEmpty());
  // Migration 5: the users counter and its triggers.
  Result<std::int64_t> users_before = store->users_generation();
  ASSERT_TRUE(users_before.ok()) << users_before.status().message();
  ASSERT_TRUE(store->remove_user(user.aor).ok());
  EXPECT_NE(*store->users_generation(), *users_before);
  StoredMessage m = stored(*store, message_to_bob("after the migration"));
  EXPECT_THAT(*store->pending_messages(m.recipient), ElementsAre(m));
}

TEST_F(SqliteStoreTest, DatabaseAtSchemaVersion2IsMigratedKeepingItsData) {
  std::filesystem::create_directories(dir_.path());
  {
    RawDb raw(file());
    ASSERT_EQ(raw.exec(kSchemaVersion1), SQLITE_OK);
    ASSERT_EQ(raw.exec(kMigration2), SQLITE_OK);
    std::string insert_user = "INSERT INTO users VALUES ('" + alice().aor + "', '" + alice().realm +
                              "', '" + alice().ha1_md5 + "', '" + alice().ha1_sha256 + "')";
    ASSERT_EQ(raw.exec(insert_user.c_str()), SQLITE_OK);
    ASSERT_EQ(raw.exec("INSERT INTO messages VALUES (41, 'sip:bob@example.com', "
                       "'<sip:alice@example.com>;tag=1928301774', '<sip:bob@example.com>', "
                       "'application/octet-stream', x'00ff00', 'Sat, 13 Nov 2010 23:29:00 GMT', "
                       "3000, 4000, 0)"),
              SQLITE_OK);
    ASSERT_EQ(raw.text("PRAGMA user_version"), "2");
  }
  auto store = open_ok();
  ASSERT_NE(store, nullptr);
  {
    RawDb raw(file());
    EXPECT_EQ(raw.text("PRAGMA user_version"), std::to_string(sqlite::schema_version()));
    EXPECT_EQ(raw.text("SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_schema "
                       "WHERE type = 'table' AND name IN ('publications', 'subscriptions', "
                       "'presence_rules', 'counters') ORDER BY name)"),
              "counters,presence_rules,publications,subscriptions");
  }
  EXPECT_EQ(*store->find_user(alice().aor), alice());
  StoredMessage kept = message_to_bob(std::string("\0\xff\0", 3));
  kept.id = 41;
  EXPECT_THAT(*store->pending_messages("sip:bob@example.com"), ElementsAre(kept));
  EXPECT_GT(stored(*store, message_to_bob("after")).id, 41);  // AUTOINCREMENT carried on
  EXPECT_THAT(*store->load_publications(), IsEmpty());
  EXPECT_THAT(*store->load_subscriptions(), IsEmpty());
  EXPECT_THAT(*store->load_presence_rules(), IsEmpty());
  std::int64_t before = generation_of(*store);
  PresenceRule rule{"sip:bob@example.com", "example.com", "confirm"};
  ASSERT_TRUE(store->set_presence_rule(rule).ok());
  EXPECT_NE(generation_of(*store), before);
  ASSERT_TRUE(store->put_publication(bob_publication("e1", 1)).ok());
  ASSERT_TRUE(store->put_subscription(alice_watches_bob()).ok());
}

TEST_F(SqliteStoreTest, PresenceDataSurvivesClosingAndReopening) {
  const PresenceRule rule{"sip:bob@example.com", "sip:alice@example.com", "polite-block"};
  std::int64_t generation = 0;
  {
    auto store = open_ok();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->put_publication(bob_publication("e1", 1)).ok());
    ASSERT_TRUE(store->put_publication(bob_publication("e2", 2)).ok());
    ASSERT_TRUE(store->put_publication(bob_publication("e3", 1), "e1").ok());
    ASSERT_TRUE(store->put_subscription(alice_watches_bob()).ok());
    ASSERT_TRUE(store->set_presence_rule(rule).ok());
    generation = generation_of(*store);
  }
  auto reopened = open_ok();
  ASSERT_NE(reopened, nullptr);
  EXPECT_THAT(*reopened->load_publications(),
              ElementsAre(bob_publication("e3", 1), bob_publication("e2", 2)));
  EXPECT_THAT(*reopened->load_subscriptions(), ElementsAre(alice_watches_bob()));
  EXPECT_THAT(*reopened->load_presence_rules(), ElementsAre(rule));
  // The generation is kept, so a poller that remembers it sees no change on a restart.
  EXPECT_EQ(generation_of(*reopened), generation);
}

TEST_F(SqliteStoreTest, GenerationChangesWhenAnotherStoreSetsOrRemovesARule) {
  auto server = open_ok();
  auto command = open_ok();  // as `herald presence` would, while the server runs
  ASSERT_NE(server, nullptr);
  ASSERT_NE(command, nullptr);
  const PresenceRule rule{"sip:bob@example.com", "example.com", "block"};
  std::int64_t seen = generation_of(*server);
  ASSERT_TRUE(command->set_presence_rule(rule).ok());
  EXPECT_NE(generation_of(*server), seen);
  seen = generation_of(*server);
  EXPECT_THAT(*server->load_presence_rules(), ElementsAre(rule));
  EXPECT_EQ(generation_of(*server), seen);  // unchanged while nobody writes
  ASSERT_TRUE(command->remove_presence_rule(rule.presentity, rule.watcher).ok());
  EXPECT_NE(generation_of(*server), seen);
  seen = generation_of(*server);
  EXPECT_THAT(*server->load_presence_rules(), IsEmpty());
  // And the other way round: the server's write is seen by the command.
  std::int64_t command_seen = generation_of(*command);
  ASSERT_TRUE(server->set_presence_rule(rule).ok());
  EXPECT_NE(generation_of(*command), command_seen);
  EXPECT_EQ(generation_of(*command), generation_of(*server));
}

TEST_F(SqliteStoreTest, GenerationChangesWhenRulesAreEditedWithPlainSql) {
  auto store = open_ok();
  ASSERT_NE(store, nullptr);
  std::int64_t seen = generation_of(*store);
  RawDb raw(file());  // an operator's sqlite3 shell
  ASSERT_EQ(raw.exec("INSERT INTO presence_rules VALUES ('sip:bob@example.com', 'example.com', "
                     "'allow')"),
            SQLITE_OK);
  EXPECT_NE(generation_of(*store), seen);
  seen = generation_of(*store);
  ASSERT_EQ(raw.exec("UPDATE presence_rules SET action = 'confirm'"), SQLITE_OK);
  EXPECT_NE(generation_of(*store), seen);
  seen = generation_of(*store);
  ASSERT_EQ(raw.exec("DELETE FROM presence_rules"), SQLITE_OK);
  EXPECT_NE(generation_of(*store), seen);
  EXPECT_NE(raw.exec("INSERT INTO presence_rules VALUES ('sip:bob@example.com', 'example.com', "
                     "'deny')"),
            SQLITE_OK);  // the CHECK constraint
}

TEST_F(SqliteStoreTest, UsersGenerationChangesWhenAnotherProcessEditsUsers) {
  auto server = open_ok();
  auto command = open_ok();  // as `herald user` would, while the server runs
  ASSERT_NE(server, nullptr);
  ASSERT_NE(command, nullptr);
  auto generation = [](const Store& store) {
    Result<std::int64_t> value = store.users_generation();
    EXPECT_TRUE(value.ok()) << value.status().message();
    return value.ok() ? *value : -1;
  };
  std::int64_t seen = generation(*server);
  ASSERT_TRUE(command->add_user(alice()).ok());
  EXPECT_NE(generation(*server), seen);
  seen = generation(*server);
  RawDb raw(file());  // an operator's sqlite3 shell
  ASSERT_EQ(raw.exec("UPDATE users SET realm = 'other.example'"), SQLITE_OK);
  EXPECT_NE(generation(*server), seen);
  seen = generation(*server);
  ASSERT_EQ(raw.exec("DELETE FROM users"), SQLITE_OK);
  EXPECT_NE(generation(*server), seen);
  seen = generation(*server);
  ASSERT_TRUE(server->put_binding(alice_binding()).ok());  // other tables: no change
  EXPECT_EQ(generation(*server), seen);
}

TEST_F(SqliteStoreTest, MissingGenerationRowIsAnErrorNotAZero) {
  auto store = open_ok();
  ASSERT_NE(store, nullptr);
  RawDb raw(file());
  ASSERT_EQ(raw.exec("DELETE FROM counters"), SQLITE_OK);
  Result<std::int64_t> generation = store->presence_rules_generation();
  ASSERT_FALSE(generation.ok());
  EXPECT_EQ(generation.status().code(), StatusCode::kCorruption);
  EXPECT_THAT(generation.status().message(), HasSubstr(file().string()));
  Result<std::int64_t> users = store->users_generation();
  ASSERT_FALSE(users.ok());
  EXPECT_EQ(users.status().code(), StatusCode::kCorruption);
  EXPECT_THAT(users.status().message(), HasSubstr("'users' row"));
}

TEST_F(SqliteStoreTest, PublicationBodyIsStoredAsABlob) {
  auto store = open_ok();
  ASSERT_NE(store, nullptr);
  Publication empty = bob_publication("e2", 2);
  empty.body.clear();
  ASSERT_TRUE(store->put_publication(bob_publication("e1", 1)).ok());
  ASSERT_TRUE(store->put_publication(empty).ok());
  RawDb raw(file());
  EXPECT_EQ(raw.text("SELECT group_concat(typeof(body) || ':' || length(body), ',') "
                     "FROM (SELECT body FROM publications ORDER BY etag)"),
            "blob:23,blob:0");
}

// ---- group commit

TEST_F(SqliteStoreTest, BatchedWritesAreOneTransactionCommittedTogether) {
  auto server = open_ok();
  auto command = open_ok(50);
  ASSERT_NE(server, nullptr);
  ASSERT_NE(command, nullptr);
  int opened = 0;
  ASSERT_TRUE(server->batch_writes([&] { ++opened; }));
  EXPECT_TRUE(server->find_user(alice().aor).status().is_not_found());  // a read opens nothing
  EXPECT_FALSE(server->batch_open());
  EXPECT_EQ(opened, 0);
  ASSERT_TRUE(server->add_user(alice()).ok());
  ASSERT_TRUE(server->put_binding(alice_binding()).ok());
  EXPECT_TRUE(server->batch_open());
  EXPECT_EQ(opened, 1);  // once per batch
  // The batch reads its own writes; nobody else sees them, or may write, before the commit.
  EXPECT_EQ(*server->find_user(alice().aor), alice());
  EXPECT_THAT(*command->load_bindings(), IsEmpty());
  EXPECT_THAT(command->remove_binding(alice_binding().id).message(), HasSubstr("locked"));
  ASSERT_TRUE(server->commit_batch().ok());
  EXPECT_FALSE(server->batch_open());
  EXPECT_THAT(*command->load_bindings(), ElementsAre(alice_binding()));
  EXPECT_EQ(*command->find_user(alice().aor), alice());
  EXPECT_TRUE(server->commit_batch().ok());  // nothing open: nothing to do
  ASSERT_TRUE(server->remove_binding(alice_binding().id).ok());
  EXPECT_EQ(opened, 2);  // the next write opens the next batch
}

TEST_F(SqliteStoreTest, AStepThatFailsInsideABatchUndoesItselfOnly) {
  auto store = open_ok();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->put_publication(bob_publication("e1", 1)).ok());
  refuse_poison_publication();
  ASSERT_TRUE(store->batch_writes([] {}));
  ASSERT_TRUE(store->put_binding(alice_binding()).ok());
  // put_publication's remove + insert runs as a savepoint inside the batch.
  EXPECT_THAT(store->put_publication(bob_publication("poison", 1), "e1").message(), HasSubstr("refused"));
  ASSERT_TRUE(store->put_publication(bob_publication("e2", 2), "e1").ok());
  ASSERT_TRUE(store->commit_batch().ok());
  auto other = open_ok();
  ASSERT_NE(other, nullptr);
  EXPECT_THAT(*other->load_publications(), ElementsAre(bob_publication("e2", 2)));
  EXPECT_THAT(*other->load_bindings(), ElementsAre(alice_binding()));
}

TEST_F(SqliteStoreTest, AnOpenBatchIsCommittedWhenTheStoreCloses) {
  {
    auto store = open_ok();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->batch_writes([] {}));
    ASSERT_TRUE(store->put_binding(alice_binding()).ok());
  }
  auto reopened = open_ok();
  ASSERT_NE(reopened, nullptr);
  EXPECT_THAT(*reopened->load_bindings(), ElementsAre(alice_binding()));
}

// Below its WAL limit, a batching store's commits do not checkpoint: the WAL grows until the
// store's own thread copies it into the database file, which then grows with the new pages.
TEST_F(SqliteStoreTest, ABatchingStoreCheckpointsOnAThreadOfItsOwn) {
  auto store = open_ok();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->batch_writes([] {}));
  const auto size_before = std::filesystem::file_size(file());
  for (int i = 0; i < 400; ++i) {
    Binding b = alice_binding();
    b.contact = "sip:alice-" + std::to_string(i) + "@192.0.2.4:5060";
    b.id = i + 1;
    ASSERT_TRUE(store->put_binding(b).ok());
    if (i % 50 == 49) {
      ASSERT_TRUE(store->commit_batch().ok());
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::filesystem::file_size(file()) <= size_before && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_GT(std::filesystem::file_size(file()), size_before);
  auto other = open_ok();
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->load_bindings()->size(), 400u);
}

// New bindings are appended to the table (ids in increasing order), where the bindings
// written just before them are: 2,000 of them for 200 AORs, in 10 commits of 200, wrote
// 115 pages in all (the rows, some 150 bytes each, and the pages above them). Written at
// places spread over the table, as the (aor, contact) key of schemas 4 and 5 put them, each
// commit rewrites most of the table's pages: 430 in all. The WAL holds at most the pages
// written since it last started.
TEST_F(SqliteStoreTest, NewBindingsAreAppendedSoACommitWritesFewPages) {
  auto store = open_ok();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->batch_writes([] {}));
  for (int i = 0; i < 2000; ++i) {
    Binding b = alice_binding();
    b.aor = "sip:user" + std::to_string((i * 7919) % 200) + "@example.com";
    b.contact = "sip:contact-" + std::to_string(i) + "@192.0.2.4:5060";
    b.id = i + 1;
    ASSERT_TRUE(store->put_binding(b).ok());
    if (i % 200 == 199) {
      ASSERT_TRUE(store->commit_batch().ok());
    }
  }
  const std::filesystem::path wal = file().string() + "-wal";
  ASSERT_TRUE(std::filesystem::exists(wal));
  constexpr std::uintmax_t kFrame = 4096 + 24;
  EXPECT_LE(std::filesystem::file_size(wal), 200 * kFrame + 32);
  auto other = open_ok();
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->load_bindings()->size(), 2000u);
}

// Writes that never pause leave the checkpointer no moment at which the whole WAL is
// copied, so the WAL would grow without end: at the limit, the store's own commit copies
// the rest and the next write starts the WAL again. 1,000 commits of a new binding each
// write well over 1,000 pages; with a limit of 64 the file stays near 64 pages.
TEST_F(SqliteStoreTest, UnpausedWritesKeepTheWalNearItsLimit) {
  auto store = open_ok();
  ASSERT_NE(store, nullptr);
  store->set_wal_limit_pages(64);
  ASSERT_TRUE(store->batch_writes([] {}));
  for (int i = 0; i < 1000; ++i) {
    Binding b = alice_binding();
    b.aor = "sip:user" + std::to_string(i % 200) + "@example.com";
    b.contact = "sip:contact-" + std::to_string(i) + "@192.0.2.4:5060";
    b.id = i + 1;
    ASSERT_TRUE(store->put_binding(b).ok());
    ASSERT_TRUE(store->commit_batch().ok());
  }
  const std::filesystem::path wal = file().string() + "-wal";
  ASSERT_TRUE(std::filesystem::exists(wal));
  constexpr std::uintmax_t kFrame = 4096 + 24;
  EXPECT_LE(std::filesystem::file_size(wal), 2 * 64 * kFrame + 32);
  auto other = open_ok();
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->load_bindings()->size(), 1000u);
}

// A checkpointer needs an existing database: a missing file is an error that names it,
// and nothing is started (its destructor has no thread to stop).
TEST_F(SqliteStoreTest, ACheckpointerOfAMissingDatabaseSaysSo) {
  sqlite::WalCheckpointer checkpointer;
  const std::string missing = (dir_.path() / "absent" / "herald.db").string();
  Status s = checkpointer.start(missing, std::chrono::milliseconds(10));
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr(missing));
  EXPECT_FALSE(std::filesystem::exists(missing));
}

TEST_F(SqliteStoreTest, CommittedBatchSurvivesKill9) {
  write_then_kill9([](SqliteStore& store) {
    return store.batch_writes([] {}) && store.add_user(alice()).ok() && store.put_binding(alice_binding()).ok() &&
           store.commit_batch().ok();
  });
  if (HasFatalFailure()) return;
  auto store = open_ok();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(*store->find_user(alice().aor), alice());
  EXPECT_THAT(*store->load_bindings(), ElementsAre(alice_binding()));
}

TEST_F(SqliteStoreTest, RouteSetIsStoredOneUriPerLine) {
  auto store = open_ok();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->put_subscription(alice_watches_bob()).ok());
  RawDb raw(file());
  EXPECT_EQ(raw.text("SELECT route_set FROM subscriptions"),
            "<sip:p1.example.com;lr>\n<sip:p2.example.com;lr>");
}

TEST_F(SqliteStoreTest, FailedPutLeavesThePublicationItWouldReplace) {
  auto store = open_ok();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->put_publication(bob_publication("e1", 1)).ok());
  // Make the insert of one etag fail after the removal of the replaced one has run.
  refuse_poison_publication();
  // The schema changed under the cached statements: SQLite re-prepares them.
  Status failed = store->put_publication(bob_publication("poison", 1), "e1");
  EXPECT_EQ(failed.code(), StatusCode::kIoError);
  EXPECT_THAT(failed.message(), HasSubstr("refused"));
  EXPECT_THAT(*store->load_publications(), ElementsAre(bob_publication("e1", 1)));
  // The transaction was rolled back, not left open: another connection can write.
  auto other = open_ok(50);
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(other->put_publication(bob_publication("e2", 2), "e1").ok());
  EXPECT_THAT(*store->load_publications(), ElementsAre(bob_publication("e2", 2)));
}

TEST_F(SqliteStoreTest, PutWithReplacesWaitsForAnotherWriterThenFailsWithAnError) {
  auto store = open_ok(50);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->put_publication(bob_publication("e1", 1)).ok());
  RawDb other(file());
  ASSERT_EQ(other.exec("BEGIN IMMEDIATE"), SQLITE_OK);
  Status blocked = store->put_publication(bob_publication("e2", 1), "e1");
  EXPECT_EQ(blocked.code(), StatusCode::kIoError);
  EXPECT_THAT(blocked.message(), HasSubstr("locked"));
  ASSERT_EQ(other.exec("ROLLBACK"), SQLITE_OK);
  EXPECT_THAT(*store->load_publications(), ElementsAre(bob_publication("e1", 1)));
  ASSERT_TRUE(store->put_publication(bob_publication("e2", 1), "e1").ok());
  EXPECT_THAT(*store->load_publications(), ElementsAre(bob_publication("e2", 1)));
}

}  // namespace
}  // namespace herald::store
