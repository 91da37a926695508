#include "app/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace herald::app {
namespace {

class ConfigFile : public ::testing::Test {
 protected:
  std::optional<Config> load(const std::string& text) {
    path_ = ::testing::TempDir() + "herald_config_test.toml";
    std::ofstream(path_) << text;
    return load_config(path_, error_);
  }
  void TearDown() override { std::remove(path_.c_str()); }
  std::string path_;
  std::string error_;
};

TEST(Listen, ParsesProtocolsAndAddresses) {
  std::string error;
  auto a = parse_listen("udp:127.0.0.1:5060", error);
  ASSERT_TRUE(a) << error;
  EXPECT_EQ(a->protocol, sip::transport::Protocol::kUdp);
  EXPECT_EQ(a->port, 5060);
  auto b = parse_listen("tcp:[::1]:0", error);
  ASSERT_TRUE(b) << error;
  EXPECT_TRUE(b->address.is_v6());
  EXPECT_EQ(b->port, 0);
}

TEST(Listen, RejectsWhatIsNotAListenPoint) {
  std::string error;
  EXPECT_FALSE(parse_listen("sctp:127.0.0.1:5060", error));
  EXPECT_NE(error.find("protocol must be udp or tcp"), std::string::npos);
  EXPECT_FALSE(parse_listen("udp:localhost:5060", error));
  EXPECT_NE(error.find("not an IP address"), std::string::npos);
  EXPECT_FALSE(parse_listen("udp:127.0.0.1:70000", error));
  EXPECT_FALSE(parse_listen("udp:127.0.0.1", error));
  EXPECT_FALSE(parse_listen("udp:[::1:5060", error));
  EXPECT_FALSE(parse_listen("udp", error));
}

TEST(Defaults, LoopbackUdpAndTcpAndDomainFromListen) {
  Config c = default_config();
  ASSERT_EQ(c.listen.size(), 2u);
  EXPECT_EQ(c.listen[0].address.to_string(), "127.0.0.1");
  EXPECT_EQ(c.listen[0].port, 5060);
  EXPECT_EQ(c.data_dir, "var");
  ASSERT_EQ(c.domains.size(), 1u);
  EXPECT_EQ(c.domains[0], "127.0.0.1");
}

TEST_F(ConfigFile, ShippedExampleLoadsWithTheDefaults) {
  std::string error;
  auto c = load_config(std::string(HERALD_SOURCE_DIR) + "/etc/herald.toml", error);
  ASSERT_TRUE(c) << error;
  Config d = default_config();
  EXPECT_EQ(c->listen.size(), d.listen.size());
  EXPECT_EQ(c->workers, d.workers);
  EXPECT_EQ(c->store_thread, d.store_thread);
  EXPECT_EQ(c->t1, d.t1);
  EXPECT_EQ(c->tcp_idle_timeout, d.tcp_idle_timeout);
  EXPECT_EQ(c->max_message_bytes, d.max_message_bytes);
  // Every hardening option the file shows is the default.
  EXPECT_EQ(c->max_tcp_connections_per_source, d.max_tcp_connections_per_source);
  EXPECT_EQ(c->tcp_message_timeout, d.tcp_message_timeout);
  EXPECT_EQ(c->tcp_unconfirmed_timeout, d.tcp_unconfirmed_timeout);
  ASSERT_EQ(c->trusted.size(), d.trusted.size());
  for (std::size_t i = 0; i < d.trusted.size(); ++i) {
    EXPECT_EQ(c->trusted[i].network, d.trusted[i].network);
    EXPECT_EQ(c->trusted[i].prefix, d.trusted[i].prefix);
  }
  EXPECT_EQ(c->requests_per_second, d.requests_per_second);
  EXPECT_EQ(c->request_burst, d.request_burst);
  EXPECT_EQ(c->source_failures, d.source_failures);
  EXPECT_EQ(c->account_failures, d.account_failures);
  EXPECT_EQ(c->failure_window, d.failure_window);
  EXPECT_EQ(c->backoff, d.backoff);
  EXPECT_EQ(c->max_backoff, d.max_backoff);
  EXPECT_EQ(c->hide_unknown_users, d.hide_unknown_users);
  EXPECT_EQ(c->im_answer_within, d.im_answer_within);
  EXPECT_EQ(c->im_store_from, d.im_store_from);
  EXPECT_EQ(c->im_max_per_sender, d.im_max_per_sender);
  EXPECT_EQ(c->im_max_from_outside, d.im_max_from_outside);
  EXPECT_EQ(c->max_document_bytes, d.max_document_bytes);
  EXPECT_EQ(c->max_document_depth, d.max_document_depth);
  EXPECT_EQ(c->max_document_elements, d.max_document_elements);
  EXPECT_EQ(c->max_publications, d.max_publications);
  EXPECT_EQ(c->max_watchers, d.max_watchers);
  EXPECT_EQ(c->max_subscriptions_per_watcher, d.max_subscriptions_per_watcher);
  EXPECT_EQ(c->max_subscriptions_per_source, d.max_subscriptions_per_source);
  EXPECT_EQ(c->max_pending, d.max_pending);
  EXPECT_EQ(c->pending_expires, d.pending_expires);
}

TEST_F(ConfigFile, ReadsEveryOption) {
  auto c = load(R"(listen = ["udp:[::1]:5070"]
data_dir = "/tmp/x"
log_level = "debug"
workers = 1
store_thread = false
auth = "off"
auth_algorithms = ["MD5"]
domains = ["example.com", "example.org"]
server_header = ""
[limits]
max_message_bytes = 2048
max_header_bytes = 1024
max_tcp_connections = 10
max_tcp_connections_per_source = 3
tcp_idle_timeout = 30
tcp_message_timeout = 4
tcp_unconfirmed_timeout = 5
[security]
trusted = ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"]
requests_per_second = 12.5
request_burst = 30
source_failures = 3
account_failures = 7
failure_window = 60
backoff = 5
max_backoff = 50
hide_unknown_users = true
[im]
answer_within = 8
store_from = "local"
max_per_sender = 4
max_from_outside = 9
[registrar]
default_expires = 600
min_expires = 30
max_expires = 3600
unknown_user_status = 403
[presence]
subscribe_default_expires = 1200
subscribe_min_expires = 30
subscribe_max_expires = 7200
publish_default_expires = 900
publish_min_expires = 10
publish_max_expires = 1800
registration_state = false
same_domain = "confirm"
other_domains = "polite-block"
max_document_bytes = 4096
max_document_depth = 10
max_document_elements = 100
max_publications = 3
max_watchers = 40
max_subscriptions_per_watcher = 20
max_subscriptions_per_source = 30
max_pending = 5
pending_expires = 120
[timers]
t1 = 100
t2 = 800
t4 = 1000
)");
  ASSERT_TRUE(c) << error_;
  EXPECT_EQ(c->listen[0].port, 5070);
  EXPECT_EQ(c->data_dir, "/tmp/x");
  EXPECT_EQ(c->log_level, "debug");
  EXPECT_EQ(c->workers, 1u);
  EXPECT_FALSE(c->store_thread);
  EXPECT_EQ(c->auth, "off");
  EXPECT_EQ(c->auth_algorithms, std::vector<std::string>{"MD5"});
  EXPECT_EQ(c->domains.size(), 2u);
  EXPECT_EQ(c->server_header, "");
  EXPECT_EQ(c->max_message_bytes, 2048u);
  EXPECT_EQ(c->max_header_bytes, 1024u);
  EXPECT_EQ(c->max_tcp_connections, 10u);
  EXPECT_EQ(c->tcp_idle_timeout, std::chrono::seconds(30));
  EXPECT_EQ(c->default_expires, 600u);
  EXPECT_EQ(c->min_expires, 30u);
  EXPECT_EQ(c->max_expires, 3600u);
  EXPECT_EQ(c->unknown_user_status, 403);
  EXPECT_EQ(c->subscribe_default_expires, 1200u);
  EXPECT_EQ(c->subscribe_min_expires, 30u);
  EXPECT_EQ(c->subscribe_max_expires, 7200u);
  EXPECT_EQ(c->publish_default_expires, 900u);
  EXPECT_EQ(c->publish_min_expires, 10u);
  EXPECT_EQ(c->publish_max_expires, 1800u);
  EXPECT_FALSE(c->registration_state);
  EXPECT_EQ(c->same_domain, "confirm");
  EXPECT_EQ(c->other_domains, "polite-block");
  EXPECT_EQ(c->t1, std::chrono::milliseconds(100));
  EXPECT_EQ(c->t2, std::chrono::milliseconds(800));
  EXPECT_EQ(c->t4, std::chrono::milliseconds(1000));
  EXPECT_EQ(c->max_tcp_connections_per_source, 3u);
  EXPECT_EQ(c->tcp_message_timeout, std::chrono::seconds(4));
  EXPECT_EQ(c->tcp_unconfirmed_timeout, std::chrono::seconds(5));
  ASSERT_EQ(c->trusted.size(), 3u);
  EXPECT_EQ(c->trusted[0].prefix, 8u);
  EXPECT_TRUE(c->trusted[1].contains(boost::asio::ip::make_address("2001:db8::5")));
  EXPECT_EQ(c->trusted[2].prefix, 32u);
  EXPECT_EQ(c->requests_per_second, 12.5);
  EXPECT_EQ(c->request_burst, 30);
  EXPECT_EQ(c->source_failures, 3u);
  EXPECT_EQ(c->account_failures, 7u);
  EXPECT_EQ(c->failure_window, std::chrono::seconds(60));
  EXPECT_EQ(c->backoff, std::chrono::seconds(5));
  EXPECT_EQ(c->max_backoff, std::chrono::seconds(50));
  EXPECT_TRUE(c->hide_unknown_users);
  EXPECT_EQ(c->im_answer_within, std::chrono::seconds(8));
  EXPECT_EQ(c->im_store_from, "local");
  EXPECT_EQ(c->im_max_per_sender, 4u);
  EXPECT_EQ(c->im_max_from_outside, 9u);
  EXPECT_EQ(c->max_document_bytes, 4096u);
  EXPECT_EQ(c->max_document_depth, 10u);
  EXPECT_EQ(c->max_document_elements, 100u);
  EXPECT_EQ(c->max_publications, 3u);
  EXPECT_EQ(c->max_watchers, 40u);
  EXPECT_EQ(c->max_subscriptions_per_watcher, 20u);
  EXPECT_EQ(c->max_subscriptions_per_source, 30u);
  EXPECT_EQ(c->max_pending, 5u);
  EXPECT_EQ(c->pending_expires, 120u);
}

TEST_F(ConfigFile, ErrorsNameFileLineAndOption) {
  EXPECT_FALSE(load("workers = 1\nwrokers = 2\n"));
  EXPECT_EQ(error_, path_ + ":2: unknown option 'wrokers'");
  EXPECT_FALSE(load("\n\nworkers = 0\n"));
  EXPECT_EQ(error_, path_ + ":3: option 'workers' must be \"auto\" or an integer from 1 to 256");
  EXPECT_FALSE(load("workers = \"all\"\n"));
  EXPECT_EQ(error_, path_ + ":1: option 'workers' must be \"auto\" or an integer from 1 to 256");
  EXPECT_FALSE(load("workers = 257\n"));
  auto automatic = load("workers = \"auto\"\n");
  ASSERT_TRUE(automatic);
  EXPECT_EQ(automatic->workers, auto_workers());
  EXPECT_GE(auto_workers(), 1u);
  auto four = load("workers = 4\n");
  ASSERT_TRUE(four);
  EXPECT_EQ(four->workers, 4u);
  EXPECT_FALSE(load("store_thread = \"yes\"\n"));
  EXPECT_EQ(error_, path_ + ":1: option 'store_thread' must be true or false");
  EXPECT_FALSE(load("auth = \"maybe\"\n"));
  EXPECT_NE(error_.find("option 'auth' must be"), std::string::npos);
  EXPECT_FALSE(load("auth_algorithms = [\"MD5\", \"MD5\"]\n"));
  EXPECT_NE(error_.find("option 'auth_algorithms' must be distinct values"), std::string::npos);
  EXPECT_FALSE(load("auth_algorithms = []\n"));
  EXPECT_FALSE(load("[registrar]\nunknown_user_status = 500\n"));
  EXPECT_NE(error_.find("registrar.unknown_user_status' must be 403 or 404"), std::string::npos);
  EXPECT_FALSE(load("[registrar]\nmin_expires = 600\nmax_expires = 60\n"));
  EXPECT_NE(error_.find("min_expires is above"), std::string::npos);
  EXPECT_FALSE(load("[presence]\nsame_domain = \"maybe\"\n"));
  EXPECT_NE(error_.find("option 'presence.same_domain' must be \"allow\""), std::string::npos);
  EXPECT_FALSE(load("[presence]\npublish_min_expires = 600\npublish_max_expires = 60\n"));
  EXPECT_NE(error_.find("a min_expires is above its max_expires"), std::string::npos);
  EXPECT_FALSE(load("[limits]\nmax_tcp_conections = 5\n"));
  EXPECT_EQ(error_, path_ + ":2: unknown option 'limits.max_tcp_conections'");
  EXPECT_FALSE(load("log_level = \"loud\"\n"));
  EXPECT_NE(error_.find("option 'log_level' must be one of"), std::string::npos);
  EXPECT_FALSE(load("listen = [\"udp:nowhere:1\"]\n"));
  EXPECT_NE(error_.find(":1: option 'listen':"), std::string::npos);
  EXPECT_FALSE(load("[timers]\nt1 = 1\n"));
  EXPECT_NE(error_.find("option 'timers.t1' must be an integer from 10"), std::string::npos);
  EXPECT_FALSE(load("[security]\ntrusted = [\"10.0.0.0/33\"]\n"));
  EXPECT_NE(error_.find(":2: option 'security.trusted' must be an array of addresses or networks"), std::string::npos);
  EXPECT_FALSE(load("[security]\nbackoff = 60\nmax_backoff = 10\n"));
  EXPECT_NE(error_.find("security.backoff is above security.max_backoff"), std::string::npos);
  EXPECT_FALSE(load("[im]\nstore_from = \"friends\"\n"));
  EXPECT_NE(error_.find("option 'im.store_from' must be \"anyone\" or \"local\""), std::string::npos);
  EXPECT_FALSE(load("[security]\nrequests_per_second = -1\n"));
  EXPECT_NE(error_.find("option 'security.requests_per_second' must be a number from 0"), std::string::npos);
  EXPECT_FALSE(load("workers = [\n"));
  EXPECT_EQ(error_.rfind(path_ + ":", 0), 0u);  // a TOML syntax error names the file and line too
}

}  // namespace
}  // namespace herald::app
