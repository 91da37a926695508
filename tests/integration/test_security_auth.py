"""Password guessing and user enumeration against the real binary, with the attackers' own
tools (sipvicious' svcrack and svwar) and small socket scripts, each from its own loopback
address (127.0.0.2 …; loopback is trusted by default, so these servers trust nobody).

What each attack gets:
- wrong passwords from one source: 401 for the first `source_failures`, then 503 with
  Retry-After ("Too many failed attempts from this address"), the back-off doubling with each
  failure after; one warn line names the source per block;
- guesses for one account spread over many sources: 401 until `account_failures`, then 503
  ("Too many failed authentications for this account") for sources the account has not
  authenticated from; its own device goes on;
- requests for users that do not exist: 404, and the same back-off as wrong passwords; with
  hide_unknown_users, the answers of an offline user (480, 202, a pending subscription).
The legitimate user, on another source, is served throughout."""

import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from harness import Server, ServerTestCase, add_user
from ua import UA, unique

DOMAIN = "example.com"


def config(**security):
    lines = ['domains = ["example.com"]', 'auth_algorithms = ["MD5", "SHA-256"]', "[security]", "trusted = []"]
    lines += [f"{k} = {str(v).lower() if isinstance(v, bool) else v}" for k, v in security.items()]
    return "\n".join(lines) + "\n"


class SecurityCase(ServerTestCase):
    config = config()
    users = [("alice@example.com", "correct-horse"), ("bob@example.com", "battery-staple")]

    def ua(self, user, address, password=None):
        return self.track(UA(self.server, user, DOMAIN, password=password, bind_host=address))

    def guess(self, ua, password):
        """One REGISTER with credentials for `password`; the final answer."""
        ua._nc = 0
        r = ua.register(password=password, call_id=unique("guess"))
        return r


class PasswordGuessingFromOneSource(SecurityCase):
    config = config(source_failures=5, backoff=1, max_backoff=30, failure_window=60)

    def test_guesses_meet_a_doubling_backoff_and_the_user_goes_on(self):
        alice = self.ua("alice", "127.0.0.3", "correct-horse")
        self.assertEqual(alice.register().status, 200)
        mallory = self.ua("alice", "127.0.0.2")
        for i in range(5):
            r = self.guess(mallory, f"wrong-{i}")
            self.assertEqual(r.status, 401, r)
        r = self.guess(mallory, "wrong-5")  # the 6th failure: back-off starts
        self.assertEqual(r.status, 401, r)
        r = mallory.request("REGISTER", f"sip:{DOMAIN}", to=f"<{mallory.aor}>",
                            headers=[f"Contact: <{mallory.contact}>"])
        r = mallory.recv_response(final=True)
        self.assertEqual((r.status, r.reason), (503, "Too many failed attempts from this address"), r)
        self.assertEqual(r.get("Retry-After"), "1")
        # Even the right password is not looked at while the source waits.
        self.assertEqual(self.guess(mallory, "correct-horse").status, 503)
        self.assertIn("127.0.0.2 blocked for 1 s: 6 failed authentications within 60 s", self.server.log_text())
        # The real user, on another source, is served meanwhile.
        self.assertEqual(alice.register().status, 200)
        # After the back-off, one more wrong guess doubles it.
        time.sleep(1.1)
        self.assertEqual(self.guess(mallory, "wrong-6").status, 401)
        r = self.guess(mallory, "wrong-7")
        self.assertEqual(r.status, 503)
        self.assertEqual(r.get("Retry-After"), "2")


@unittest.skipUnless(shutil.which("svcrack"), "sipvicious (svcrack) is not installed")
class SvcrackDictionary(SecurityCase):
    """svcrack with a 500-word dictionary holding the password at word 400. Without the
    throttle (a control server whose thresholds are out of reach) it finds it; with the
    defaults it must not within 20 s (the throttle makes it some 120 hours)."""

    def crack(self, server):
        words = [f"word{i:03d}" for i in range(500)]
        words[400] = "battery-staple"
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.write("\n".join(words) + "\n")
            dictionary = f.name
        started = time.time()
        try:
            out = subprocess.run(["timeout", "20", "svcrack", "-u", "bob", "--domain", DOMAIN, "-d", dictionary,
                                  "-b", "127.0.0.2", "-p", str(server.port), "127.0.0.1"], capture_output=True,
                                 text=True, timeout=60, stdin=subprocess.DEVNULL)
        finally:
            os.unlink(dictionary)
        return "battery-staple" in out.stdout, time.time() - started, out

    def test_a_dictionary_attack_does_not_find_the_password(self):
        undefended = Server(config=config(source_failures=1000000, account_failures=1000000))
        try:
            add_user(undefended, "bob@example.com", "battery-staple")
            found, elapsed, out = self.crack(undefended)
            print(f"\nsvcrack without the throttle: password found {found} in {elapsed:.1f} s")
            self.assertTrue(found, "the control attack must work, or this test proves nothing:\n" + out.stdout)
        finally:
            undefended.stop()
        bob = self.ua("bob", "127.0.0.3", "battery-staple")
        self.assertEqual(bob.register().status, 200)
        found, elapsed, out = self.crack(self.server)
        checked = self.server.log_text().count("REGISTER challenged: bad credentials")
        print(f"svcrack with the throttle: password found {found}, {elapsed:.1f} s, guesses verified: {checked}")
        self.assertFalse(found, out.stdout)
        self.assertRegex(self.server.log_text(), r"127\.0\.0\.\d+ blocked for \d+ s: 11 failed authentications")
        self.assertLessEqual(checked, 12)
        self.assertEqual(bob.register().status, 200, "the real user is locked out")


class DistributedGuessing(SecurityCase):
    config = config(source_failures=5, account_failures=6, backoff=5, max_backoff=60, failure_window=60)

    def test_an_account_guessed_from_many_sources_hears_only_its_own_devices(self):
        alice = self.ua("alice", "127.0.0.3", "correct-horse")
        self.assertEqual(alice.register().status, 200)  # her phone: a source she authenticated from
        statuses = []
        for n in range(4):  # 4 sources, 2 guesses each: none blocked as a source
            attacker = self.ua("alice", f"127.0.0.{20 + n}")
            for i in range(2):
                statuses.append(self.guess(attacker, f"wrong-{n}-{i}").status)
        # The 7th failure guards the account: the 8th guess is not even checked.
        self.assertEqual(statuses, [401] * 7 + [503], statuses)
        self.assertIn("account alice@example.com guarded", self.server.log_text())
        self.assertNotIn("blocked for", self.server.log_text())  # no source was
        newcomer = self.ua("alice", "127.0.0.30")
        r = self.guess(newcomer, "correct-horse")
        self.assertEqual((r.status, r.reason), (503, "Too many failed authentications for this account"), r)
        self.assertIsNotNone(r.get("Retry-After"))
        self.assertEqual(alice.register().status, 200, "her own device must go on")
        bob = self.ua("bob", "127.0.0.31", "battery-staple")
        self.assertEqual(bob.register().status, 200, "other accounts are not guarded")


class Enumeration(SecurityCase):
    config = config(source_failures=5, backoff=30, max_backoff=60, failure_window=60)

    def test_probing_for_users_is_answered_404_then_backs_off(self):
        prober = self.ua("x", "127.0.0.2")
        statuses = []
        for i in range(8):
            prober.request("OPTIONS", f"sip:nobody{i}@{DOMAIN}", from_=f"<sip:prober@evil.test>")
            statuses.append(prober.recv_response(final=True).status)
        self.assertEqual(statuses[:6], [404] * 6, statuses)
        self.assertEqual(statuses[6:], [503, 503], statuses)
        self.assertIn("127.0.0.2 blocked for 30 s: 6 requests for unknown users", self.server.log_text())
        other = self.ua("y", "127.0.0.3")
        other.request("OPTIONS", f"sip:nobody@{DOMAIN}", from_="<sip:other@evil.test>")
        self.assertEqual(other.recv_response(final=True).status, 404)


class HiddenUsers(SecurityCase):
    config = config(hide_unknown_users=True, source_failures=1000)

    def answers(self, ua, user):
        """What an outsider hears for `user`: MESSAGE, INVITE, OPTIONS, SUBSCRIBE (+ NOTIFY)."""
        out = []
        for method in ("MESSAGE", "INVITE", "OPTIONS", "SUBSCRIBE"):
            headers = ["Event: presence"] if method == "SUBSCRIBE" else []
            req = ua.request(method, f"sip:{user}@{DOMAIN}", from_="<sip:stranger@evil.test>", headers=headers,
                             body="hi" if method == "MESSAGE" else b"",
                             content_type="text/plain" if method == "MESSAGE" else None)
            r = ua.recv_response(final=True)
            out.append((method, r.status, r.reason))
            if method == "INVITE":
                ua.ack(req, r)
            if method == "SUBSCRIBE":
                n = ua.recv_request(method="NOTIFY")
                out.append(("NOTIFY", n.get("Subscription-State").split(";")[0], n.body))
                ua.reply(n, 200)
        return out

    def test_an_unknown_user_cannot_be_told_from_an_offline_one(self):
        stranger = self.ua("stranger", "127.0.0.2")
        known = self.answers(stranger, "bob")  # exists, not registered
        unknown = self.answers(stranger, "nobody")
        self.assertEqual(known, unknown)
        self.assertEqual([a[1] for a in known[:4]], [202, 480, 480, 200], known)
        self.assertEqual(known[4][1], "pending")


@unittest.skipUnless(shutil.which("svwar"), "sipvicious (svwar) is not installed")
class SvwarEnumeration(SecurityCase):
    config = config(hide_unknown_users=True)

    def test_svwar_finds_no_user_when_unknown_users_are_hidden(self):
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.write("\n".join(["alice", "bob", "carol", "dave", "erin", "frank", "admin", "100", "101"]) + "\n")
            names = f.name
        try:
            out = subprocess.run(["timeout", "30", "svwar", "-m", "OPTIONS", "-d", names, "-b", "127.0.0.2", "-p",
                                  str(self.server.port), "127.0.0.1"], capture_output=True, text=True, timeout=60,
                                 stdin=subprocess.DEVNULL)
        finally:
            os.unlink(names)
        listed = re.findall(r"\|\s*(\w+)\s*\|\s*(?:reqauth|noauth|weird)", out.stdout)
        self.assertNotIn("alice", listed, out.stdout + out.stderr)
        self.assertNotIn("bob", listed, out.stdout + out.stderr)


if __name__ == "__main__":
    unittest.main()
