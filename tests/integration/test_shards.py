"""Several event loops (`workers = 2`): every AOR has one owner shard and a request that
lands on the other is handed to it (docs/DESIGN.md, Concurrency). Many users are spread over
both shards; their registrations, presence, subscriptions (whose NOTIFYs come from the
resource's owner) and MESSAGEs between users of different shards all work, and a restart
reloads every binding, subscription and stored message onto its owner. The server runs with
2 workers here whatever HERALD_TEST_WORKERS says."""

import re
import time
import unittest

from harness import Server
from test_presence import PRESENCE_CONFIG, PresenceTestCase, pidf
from ua import UA

USERS = 12  # both shards own some of them but with odds of 2 in 4,096


class ShardedTestCase(PresenceTestCase):
    config = PRESENCE_CONFIG + "[im]\nstore = true\n"

    @classmethod
    def setUpClass(cls):
        cls.server = Server(config=cls.config, workers=2)
        cls.accounts = set()

    def handed(self):
        """The shards requests were handed to, from the debug log."""
        return set(re.findall(r"handed to shard (\d+)", self.server.log_text()))

    def message(self, sender, to, text):
        sender.request("MESSAGE", to.aor, body=text, content_type="text/plain")
        got = to.recv_request(method="MESSAGE", timeout=3.0)
        self.assertIsNotNone(got, f"{sender.user}'s MESSAGE did not reach {to.user}")
        self.assertEqual(got.body, text.encode())
        to.reply(got, 200)
        r = self.final(sender, "MESSAGE")
        self.assertEqual(r.status, 200, r)


class Spread(ShardedTestCase):
    def test_the_server_says_it_runs_two_workers(self):
        self.assertIn("herald serving with 2 worker(s)", self.server.log_text())

    def test_users_of_both_shards_register_publish_watch_and_chat(self):
        users = [self.ua(self.fresh("spread")) for _ in range(USERS)]
        watcher = self.watcher()
        subs = []
        for u in users:
            sub = self.subscribe(watcher, u.aor)
            self.notify(sub)  # the first NOTIFY, from the resource's owner
            subs.append(sub)
        for u, sub in zip(users, subs):
            self.published(u, pidf(u.aor, "open", note=f"{u.user} is in"))
            n = self.notify_until(sub, lambda n, u=u: f"{u.user} is in".encode() in n.body,
                                  what=f"{u.user}'s note")
            self.assertIn(b"<basic>open</basic>", n.body)
        # Each one writes to the next: most pairs have different owners.
        for a, b in zip(users, users[1:] + users[:1]):
            self.message(a, b, f"hello {b.user} from {a.user}")
        # Re-SUBSCRIBE in the dialog: routed by the slot in Herald's tag.
        for sub in subs:
            r = self.refresh(sub, 600)
            self.assertEqual(r.status, 200, r)
            self.drain(sub, 0.2)
        self.assertEqual(self.handed(), {"0", "1"}, "requests should have been handed to both shards")


class Restarts(ShardedTestCase):
    def restart(self, workers=2):
        self.assertEqual(self.server.stop(), 0, self.server.log_text()[-3000:])
        for agent in self.agents:
            agent.tags.clear()
        type(self).server = Server(config=self.config, data_dir=self.server.data_dir, port=self.server.port,
                                   workers=workers)


class RestartReloads(Restarts):
    def test_a_restart_reloads_everything_onto_its_owner(self):
        users = [self.ua(self.fresh("restart")) for _ in range(USERS)]
        offline = self.ua(self.fresh("offline"), register=False)
        sender = users[0]
        sender.request("MESSAGE", offline.aor, body="while you were out", content_type="text/plain")
        self.assertEqual(self.final(sender, "MESSAGE").status, 202)
        watcher = self.watcher()
        subs = []
        for u in users[:4]:
            sub = self.subscribe(watcher, u.aor)
            self.notify(sub)
            subs.append(sub)

        self.restart()
        self.assertIn(f"{USERS} binding(s) restored", self.server.log_text())
        # Every binding is with its owner: a MESSAGE to each user reaches its phone.
        for a, b in zip(users, users[1:] + users[:1]):
            self.message(a, b, f"after the restart, {b.user}")
        # Every subscription too: a refresh in its dialog is known (200, not 481).
        for sub in subs:
            r = self.refresh(sub, 600)
            self.assertEqual(r.status, 200, r)
            self.drain(sub, 0.2)
        # And the stored message, delivered when its recipient comes back.
        self.assertEqual(offline.register().status, 200)
        got = offline.recv_request(method="MESSAGE", timeout=3.0)
        self.assertIsNotNone(got, "the stored MESSAGE was not delivered after the restart")
        self.assertEqual(got.body, b"while you were out")
        offline.reply(got, 200)


class RestartAcrossWorkerCounts(Restarts):
    def test_bindings_written_by_two_shards_load_into_one_and_back(self):
        users = [self.ua(self.fresh("ids")) for _ in range(USERS)]
        self.restart(workers=1)
        self.assertIn(f"{USERS} binding(s) restored", self.server.log_text())
        more = [self.ua(self.fresh("ids")) for _ in range(4)]  # ids above every id the two shards wrote
        self.restart(workers=2)
        self.assertIn(f"{USERS + 4} binding(s) restored", self.server.log_text())
        everyone = users + more
        for a, b in zip(everyone, everyone[1:] + everyone[:1]):
            self.message(a, b, f"still here, {b.user}")


if __name__ == "__main__":
    unittest.main()
