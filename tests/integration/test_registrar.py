"""Registrar, users and digest authentication against the running binary: `herald user`
commands on the real SQLite file, REGISTER challenged and accepted (digest computed here
independently with hashlib), refresh, unregister, expiry, a kill -9 restart that keeps the
bindings, and SIPp ([authentication]) and sipsak registering with a password."""

import hashlib
import os
import re
import shutil
import signal
import subprocess
import time
import unittest

from harness import HERALD, SOURCE_DIR, Server, UdpClient, header, status_of
from ua import split_values

CONFIG = """domains = ["example.com", "127.0.0.1"]
[registrar]
min_expires = 1
max_expires = 3600
"""


def herald_user(data_dir, *args, stdin=None):
    return subprocess.run([HERALD, "user", *args, "--data-dir", data_dir], input=stdin, capture_output=True,
                          text=True, timeout=30)


def headers(text, name):
    return re.findall(rf"^{re.escape(name)}:[ \t]*(.*?)\r?$", text, re.M | re.I)


def challenge_params(value):
    return dict(re.findall(r'(\w+)=(?:"([^"]*)"|([^,\s]+))', value) and
                [(k, a or b) for k, a, b in re.findall(r'(\w+)=(?:"([^"]*)"|([^,\s]+))', value)])


class Registration:
    """A UA registering alice (or another user) over UDP, computing digest itself."""

    def __init__(self, server, user="alice", domain="example.com", password="secret"):
        self.server = server
        self.client = UdpClient(server)
        self.user, self.domain, self.password = user, domain, password
        self.call_id = f"reg-{user}-{os.getpid()}-{time.time()}"
        self.cseq = 0
        self.nc = 0

    def __del__(self):
        self.client.close()

    def register(self, contact=None, expires=None, auth=None, extra="", to_user=None):
        self.cseq += 1
        aor = f"sip:{to_user or self.user}@{self.domain}"
        lines = [
            f"REGISTER sip:{self.domain} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.client.port};branch=z9hG4bK-{self.call_id}-{self.cseq};rport",
            "Max-Forwards: 70",
            f"From: <{aor}>;tag=t{self.cseq}",
            f"To: <{aor}>",
            f"Call-ID: {self.call_id}",
            f"CSeq: {self.cseq} REGISTER",
        ]
        if contact:
            lines.append(f"Contact: {contact}")
        if expires is not None:
            lines.append(f"Expires: {expires}")
        if auth:
            lines.append(f"Authorization: {auth}")
        if extra:
            lines.append(extra)
        lines.append("Content-Length: 0")
        self.last = "\r\n".join(lines) + "\r\n\r\n"
        self.client.send(self.last)
        return self.client.recv()

    def retransmit(self):
        """The last REGISTER again, byte for byte (a UAC's retransmission, Timer E)."""
        self.client.send(self.last)
        return self.client.recv()

    def credentials(self, challenge_value, algorithm="SHA-256", password=None, username=None):
        p = {k: v for k, v in re.findall(r'(\w+)="?([^",]*)"?', challenge_value)}
        h = hashlib.sha256 if algorithm == "SHA-256" else hashlib.md5
        uri = f"sip:{self.domain}"
        username = username or self.user
        self.nc += 1
        nc = f"{self.nc:08x}"
        cnonce = "0a4f113b"
        ha1 = h(f"{username}:{p['realm']}:{password or self.password}".encode()).hexdigest()
        ha2 = h(f"REGISTER:{uri}".encode()).hexdigest()
        response = h(f"{ha1}:{p['nonce']}:{nc}:{cnonce}:auth:{ha2}".encode()).hexdigest()
        return (f'Digest username="{username}", realm="{p["realm"]}", nonce="{p["nonce"]}", uri="{uri}", '
                f'response="{response}", algorithm={algorithm}, qop=auth, nc={nc}, cnonce="{cnonce}"')

    def register_with_auth(self, contact=None, expires=None, algorithm="SHA-256", password=None, extra=""):
        r = self.register(contact, expires, extra=extra)
        if status_of(r)[0] != 401:
            return r
        wanted = [v for v in headers(r, "WWW-Authenticate") if f"algorithm={algorithm}" in v][0]
        return self.register(contact, expires, auth=self.credentials(wanted, algorithm, password), extra=extra)


def contacts(response):
    """The bindings a 200 lists, whether one Contact header each or one comma-separated list."""
    out = {}
    for line in headers(response, "Contact"):
        for value in split_values(line):
            m = re.match(r"<([^>]*)>.*expires=(\d+)", value)
            out[m.group(1)] = int(m.group(2))
    return out


class Users(unittest.TestCase):
    def test_add_list_passwd_del(self):
        d = f"/tmp/herald-users-{os.getpid()}"
        shutil.rmtree(d, ignore_errors=True)
        self.assertEqual(herald_user(d, "add", "alice@example.com", "--password", "pw").returncode, 0)
        r = herald_user(d, "add", "sip:bob@example.com", stdin="from-stdin\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        dup = herald_user(d, "add", "alice@example.com", "--password", "x")
        self.assertEqual(dup.returncode, 1)
        self.assertIn("already exists", dup.stderr)
        listed = herald_user(d, "list")
        self.assertEqual(listed.stdout, "sip:alice@example.com\texample.com\nsip:bob@example.com\texample.com\n")
        self.assertEqual(herald_user(d, "passwd", "alice@example.com", "--password", "new").returncode, 0)
        self.assertEqual(herald_user(d, "passwd", "carol@example.com", "--password", "x").returncode, 1)
        self.assertEqual(herald_user(d, "del", "bob@example.com").returncode, 0)
        self.assertEqual(herald_user(d, "del", "bob@example.com").returncode, 1)
        bad = herald_user(d, "add", "not an address", "--password", "x")
        self.assertEqual(bad.returncode, 2)
        self.assertEqual(herald_user(d, "list").stdout, "sip:alice@example.com\texample.com\n")
        # Passwords are not stored in plain text.
        with open(os.path.join(d, "herald.db"), "rb") as f:
            self.assertNotIn(b"from-stdin", f.read())
        shutil.rmtree(d, ignore_errors=True)


class Registrar(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(config=CONFIG)
        for user in ("alice", "bob"):
            r = herald_user(cls.server.data_dir, "add", f"{user}@example.com", "--password", "secret")
            assert r.returncode == 0, r.stderr

    @classmethod
    def tearDownClass(cls):
        assert cls.server.stop() == 0, cls.server.log_text()[-3000:]

    def test_user_changes_take_effect_while_the_server_runs(self):
        """The server keeps the users it looked up in memory and polls the store's users
        counter once a second: `herald user passwd` and `del` are seen within that."""
        def status_with(password):
            ua = Registration(self.server, "erin", password=password)
            return status_of(ua.register_with_auth("<sip:erin@127.0.0.1:7300>", 60))

        def eventually(password, wanted):
            deadline = time.time() + 5
            while True:
                got = status_with(password)
                if got == wanted or time.time() > deadline:
                    return got
                time.sleep(0.1)

        self.assertEqual(herald_user(self.server.data_dir, "add", "erin@example.com", "--password", "one").returncode, 0)
        self.assertEqual(status_with("one"), (200, "OK"))
        self.assertEqual(herald_user(self.server.data_dir, "passwd", "erin@example.com", "--password", "two").returncode, 0)
        self.assertEqual(eventually("two", (200, "OK")), (200, "OK"))
        self.assertEqual(status_with("one"), (401, "Unauthorized"))
        self.assertEqual(herald_user(self.server.data_dir, "del", "erin@example.com").returncode, 0)
        self.assertEqual(eventually("two", (401, "Unauthorized")), (401, "Unauthorized"))

    def test_challenge_offers_sha256_then_md5(self):
        r = Registration(self.server).register("<sip:alice@127.0.0.1:5999>")
        self.assertEqual(status_of(r), (401, "Unauthorized"))
        values = headers(r, "WWW-Authenticate")
        self.assertEqual(len(values), 2)
        self.assertIn("algorithm=SHA-256", values[0])
        self.assertIn("algorithm=MD5", values[1])
        self.assertIn('realm="example.com"', values[0])
        self.assertIn('qop="auth"', values[0])

    def test_register_refresh_unregister_with_both_algorithms(self):
        for algorithm in ("SHA-256", "MD5"):
            with self.subTest(algorithm):
                ua = Registration(self.server, "bob")
                contact = f"<sip:bob@127.0.0.1:{6000 + len(algorithm)}>"
                r = ua.register_with_auth(contact, 600, algorithm)
                self.assertEqual(status_of(r)[0], 200, r)
                self.assertEqual(contacts(r)[contact.strip("<>")], 600)
                r = ua.register_with_auth(contact, 1200, algorithm)
                self.assertEqual(contacts(r)[contact.strip("<>")], 1200)
                r = ua.register_with_auth(contact, 0, algorithm)
                self.assertEqual(status_of(r)[0], 200)
                self.assertNotIn(contact.strip("<>"), contacts(r))
                # Logged as what each did: Expires: 0 is not a registration.
                lines = [line for line in self.server.log_text().splitlines() if f"call-id={ua.call_id} " in line]
                self.assertEqual(sum("sip:bob@example.com registered 1 contact(s)" in line for line in lines), 2, lines)
                self.assertEqual(sum("sip:bob@example.com unregistered 1 contact(s)" in line for line in lines), 1,
                                 lines)

    def test_retransmissions_get_the_answer_of_the_original(self):
        ua = Registration(self.server, "bob")
        contact = "<sip:bob@127.0.0.1:6100>"
        first = ua.register(contact, 600)
        # Without credentials: answered without a transaction, each copy with a fresh challenge.
        again = ua.retransmit()
        self.assertEqual((status_of(first)[0], status_of(again)[0]), (401, 401))
        self.assertNotEqual(headers(first, "WWW-Authenticate"), headers(again, "WWW-Authenticate"))
        wanted = [v for v in headers(again, "WWW-Authenticate") if "algorithm=SHA-256" in v][0]
        ok = ua.register(contact, 600, auth=ua.credentials(wanted))
        # With credentials: answered as the original was, before authentication (the original
        # used up its nonce count), with the same To tag and the bindings as they are.
        copy = ua.retransmit()
        self.assertEqual((status_of(ok)[0], status_of(copy)[0]), (200, 200), copy)
        self.assertEqual(header(copy, "To"), header(ok, "To"))
        self.assertEqual(set(contacts(copy)), set(contacts(ok)))
        self.assertIn(contact.strip("<>"), contacts(copy))
        ua.register_with_auth(contact, 0)

    def test_wrong_password_and_unknown_user_look_the_same(self):
        wrong = Registration(self.server, "alice", password="nope").register_with_auth("<sip:a@127.0.0.1:7000>")
        unknown = Registration(self.server, "mallory", password="nope").register_with_auth("<sip:m@127.0.0.1:7000>")
        self.assertEqual(status_of(wrong), (401, "Unauthorized"))
        self.assertEqual(status_of(unknown), (401, "Unauthorized"))
        self.assertEqual(len(headers(wrong, "WWW-Authenticate")), len(headers(unknown, "WWW-Authenticate")))

    def test_malformed_authorization_is_400(self):
        ua = Registration(self.server)
        r = ua.register("<sip:a@127.0.0.1:7001>", auth='Digest username="alice", realm="example.com"')
        self.assertEqual(status_of(r)[0], 400)

    def test_other_users_aor_is_403(self):
        ua = Registration(self.server, "bob")
        r = ua.register("<sip:x@127.0.0.1:7002>", to_user="alice")
        value = [v for v in headers(r, "WWW-Authenticate") if "SHA-256" in v][0]
        r = ua.register("<sip:x@127.0.0.1:7002>", to_user="alice", auth=ua.credentials(value))
        self.assertEqual(status_of(r)[0], 403)

    def test_star_and_too_brief(self):
        ua = Registration(self.server, "alice")
        ua.register_with_auth("<sip:alice@127.0.0.1:7100>", 600)
        r = ua.register_with_auth("*", 0)
        self.assertEqual(status_of(r)[0], 200)
        self.assertEqual(contacts(r), {})
        r = ua.register_with_auth("*", 60)
        self.assertEqual(status_of(r)[0], 400)

    def test_binding_expires_on_time(self):
        ua = Registration(self.server, "alice")
        r = ua.register_with_auth("<sip:alice@127.0.0.1:7200>", 2)
        self.assertEqual(contacts(r).get("sip:alice@127.0.0.1:7200"), 2)
        time.sleep(3.2)
        r = ua.register_with_auth(None)
        self.assertNotIn("sip:alice@127.0.0.1:7200", contacts(r))


class StatelessRegister(unittest.TestCase):
    """auth = "off": REGISTER over UDP is answered without a transaction (RFC 3261 §8.2.7),
    and a retransmission gets the answer of the original, not a 500 for its CSeq."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server(config='auth = "off"\n' + CONFIG)
        r = herald_user(cls.server.data_dir, "add", "alice@example.com", "--password", "secret")
        assert r.returncode == 0, r.stderr

    @classmethod
    def tearDownClass(cls):
        assert cls.server.stop() == 0, cls.server.log_text()[-3000:]

    def test_a_retransmission_is_answered_as_the_original(self):
        ua = Registration(self.server, "alice")
        first = ua.register("<sip:alice@127.0.0.1:6200>", 600)
        self.assertEqual(status_of(first), (200, "OK"), first)
        for _ in range(3):  # Timer E's copies
            copy = ua.retransmit()
            self.assertEqual(status_of(copy), (200, "OK"), copy)
            self.assertEqual(set(contacts(copy)), {"sip:alice@127.0.0.1:6200"})
        # Another REGISTER with the Call-ID and CSeq of the first (another branch) is no copy.
        text = ua.last.replace(f"branch=z9hG4bK-{ua.call_id}-1", f"branch=z9hG4bK-{ua.call_id}-other")
        text = text.replace("Expires: 600", "Expires: 0")
        ua.client.send(text)
        r = ua.client.recv()
        self.assertEqual(status_of(r), (500, "Out of order REGISTER"), r)
        self.assertTrue(headers(r, "Retry-After"))
        # The binding is as the first REGISTER left it; the next CSeq removes it.
        r = ua.register("<sip:alice@127.0.0.1:6200>", 0)
        self.assertEqual(status_of(r), (200, "OK"), r)
        self.assertEqual(contacts(r), {})
        self.assertEqual(status_of(ua.retransmit()), (200, "OK"))


class ProxyAuthentication(unittest.TestCase):
    """Requests from local users other than REGISTER: 407 with Proxy-Authenticate, and the
    credentials must be the From AOR's (RFC 3261 §22.3)."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server(config=CONFIG)
        for user in ("alice", "bob"):
            herald_user(cls.server.data_dir, "add", f"{user}@example.com", "--password", "secret")

    @classmethod
    def tearDownClass(cls):
        assert cls.server.stop() == 0

    def message(self, client, sender, to_tag="", auth=None, n=1):
        lines = [
            "MESSAGE sip:bob@example.com SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{client.port};branch=z9hG4bK-msg-{sender}-{n}-{time.time()};rport",
            "Max-Forwards: 70",
            f"From: <sip:{sender}@example.com>;tag=m{n}",
            f"To: <sip:bob@example.com>{to_tag}",
            f"Call-ID: msg-{sender}-{os.getpid()}-{n}",
            f"CSeq: {n} MESSAGE",
            "Content-Type: text/plain",
        ]
        if auth:
            lines.append(f"Proxy-Authorization: {auth}")
        lines.append("Content-Length: 2")
        client.send("\r\n".join(lines) + "\r\n\r\nhi")
        return client.recv()

    def credentials(self, challenge, user, n):
        p = {k: v for k, v in re.findall(r'(\w+)="?([^",]*)"?', challenge)}
        uri = "sip:bob@example.com"
        ha1 = hashlib.sha256(f"{user}:{p['realm']}:secret".encode()).hexdigest()
        ha2 = hashlib.sha256(f"MESSAGE:{uri}".encode()).hexdigest()
        nc = f"{n:08x}"
        response = hashlib.sha256(f"{ha1}:{p['nonce']}:{nc}:abc:auth:{ha2}".encode()).hexdigest()
        return (f'Digest username="{user}", realm="{p["realm"]}", nonce="{p["nonce"]}", uri="{uri}", '
                f'response="{response}", algorithm=SHA-256, qop=auth, nc={nc}, cnonce="abc"')

    def test_local_sender_is_challenged_with_407(self):
        c = UdpClient(self.server)
        r = self.message(c, "alice")
        self.assertEqual(status_of(r), (407, "Proxy Authentication Required"))
        values = headers(r, "Proxy-Authenticate")
        self.assertEqual(len(values), 2)
        self.assertIn("algorithm=SHA-256", values[0])
        # With alice's credentials the request goes on: bob is offline, so it is stored (202).
        r = self.message(c, "alice", auth=self.credentials(values[0], "alice", 1), n=2)
        self.assertEqual(status_of(r)[0], 202)
        c.close()

    def test_credentials_of_another_user_are_403(self):
        c = UdpClient(self.server)
        r = self.message(c, "alice", n=3)
        value = headers(r, "Proxy-Authenticate")[0]
        r = self.message(c, "alice", auth=self.credentials(value, "bob", 1), n=4)
        self.assertEqual(status_of(r), (403, "Authenticated identity does not match From"))
        c.close()

    def test_in_dialog_and_foreign_senders_are_not_challenged(self):
        c = UdpClient(self.server)
        self.assertEqual(status_of(self.message(c, "alice", to_tag=";tag=dialog", n=5))[0], 202)
        c.close()


class Restart(unittest.TestCase):
    # Writes on the store's own thread (the default); RestartWritesOnTheLoop: on the loop's.
    top = ""

    def test_kill_9_keeps_acknowledged_bindings(self):
        server = Server(config=self.top + CONFIG)
        herald_user(server.data_dir, "add", "alice@example.com", "--password", "secret")
        ua = Registration(server, "alice")
        r = ua.register_with_auth("<sip:alice@127.0.0.1:7300>", 3600)
        self.assertEqual(status_of(r)[0], 200)
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait()
        server.log.close()
        data_dir, port = server.data_dir, server.port
        again = Server(config=self.top + CONFIG, data_dir=data_dir, port=port)
        try:
            self.assertIn("1 binding(s) restored", again.log_text())
            ua2 = Registration(again, "alice")
            r = ua2.register_with_auth(None)
            self.assertEqual(status_of(r)[0], 200, r)
            remaining = contacts(r).get("sip:alice@127.0.0.1:7300")
            self.assertIsNotNone(remaining)
            self.assertLessEqual(remaining, 3600)
            self.assertGreater(remaining, 3500)
        finally:
            self.assertEqual(again.stop(), 0)

    def test_kill_9_after_a_burst_keeps_every_acknowledged_binding(self):
        # The writes of a burst share one transaction (group commit); a 200 may leave only once
        # it is committed. 40 REGISTERs sent back to back, every 200 received, then kill -9.
        server = Server(config=self.top + 'auth = "off"\n' + CONFIG)
        herald_user(server.data_dir, "add", "alice@example.com", "--password", "secret")
        ua = Registration(server, "alice")
        burst = 40
        for i in range(burst):
            ua.cseq += 1
            ua.client.send("\r\n".join([
                "REGISTER sip:example.com SIP/2.0",
                f"Via: SIP/2.0/UDP 127.0.0.1:{ua.client.port};branch=z9hG4bK-burst-{i};rport",
                "Max-Forwards: 70",
                f"From: <sip:alice@example.com>;tag=b{i}",
                "To: <sip:alice@example.com>",
                f"Call-ID: burst-{i}-{os.getpid()}",
                "CSeq: 1 REGISTER",
                f"Contact: <sip:alice@127.0.0.1:{7400 + i}>",
                "Expires: 3600",
                "Content-Length: 0", "", ""]))
        answered = 0
        while answered < burst:
            r = ua.client.recv()
            self.assertIsNotNone(r, f"only {answered} of {burst} answers")
            self.assertEqual(status_of(r)[0], 200, r)
            answered += 1
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait()
        server.log.close()
        again = Server(config=self.top + 'auth = "off"\n' + CONFIG, data_dir=server.data_dir, port=server.port)
        try:
            self.assertIn(f"{burst} binding(s) restored", again.log_text())
        finally:
            self.assertEqual(again.stop(), 0)


class RestartWritesOnTheLoop(Restart):
    top = "store_thread = false\n"


class Peers(unittest.TestCase):
    """SIPp 3.6 and sipsak answer only the first challenge and know only MD5."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server(config='auth_algorithms = ["MD5", "SHA-256"]\n' + CONFIG)
        herald_user(cls.server.data_dir, "add", "carol@example.com", "--password", "s3cret")
        # sipsak resolves the host of the URI it registers: give carol an account there too.
        herald_user(cls.server.data_dir, "add", "carol@127.0.0.1", "--password", "s3cret")

    @classmethod
    def tearDownClass(cls):
        assert cls.server.stop() == 0

    def test_sipp_register_with_authentication(self):
        if not shutil.which("sipp"):
            self.skipTest("sipp not installed")
        scenario = os.path.join(SOURCE_DIR, "bench", "sipp", "register_auth_uac.xml")
        out = subprocess.run(
            ["sipp", "-sf", scenario, "-m", "20", "-r", "10", "-i", "127.0.0.1", "-p", "0", "-nostdin",
             "-au", "carol", "-ap", "s3cret", "-auth_uri", "example.com", "-s", "carol", "-set", "domain", "example.com",
             "-timeout", "30s", "-timeout_error", f"127.0.0.1:{self.server.port}"],
            capture_output=True, text=True, timeout=60, cwd=self.server.data_dir)
        self.assertEqual(out.returncode, 0, out.stdout[-2000:] + out.stderr[-2000:])
        self.assertIn("sip:carol@example.com registered", self.server.log_text())

    def test_sipsak_register_with_password(self):
        if not shutil.which("sipsak"):
            self.skipTest("sipsak not installed")
        # -u: sipsak derives the digest username wrongly from a URI with a port.
        out = subprocess.run(["sipsak", "-U", "-C", "sip:carol@127.0.0.1:7400", "-x", "300", "-a", "s3cret", "-u", "carol",
                              "-s", f"sip:carol@127.0.0.1:{self.server.port}", "-vv"],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stdout[-2000:] + out.stderr[-2000:])
        self.assertIn("All usrloc tests completed successful", out.stdout)
        self.assertIn("sip:carol@127.0.0.1 registered", self.server.log_text())


if __name__ == "__main__":
    unittest.main()
