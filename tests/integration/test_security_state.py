"""What others can make Herald keep, and send, against the real binary: subscriptions and
offline messages from outside, NOTIFYs aimed at someone who never asked for them, presence
documents built to stall the server, and MESSAGEs to devices that stopped answering.

What each gets:
- SUBSCRIBEs from one source beyond max_subscriptions_per_source: 503 with Retry-After
  ("Too many subscriptions from this address"); pending ones are granted pending_expires;
- SUBSCRIBEs whose Contact names a victim that never answers: the victim gets the
  retransmissions of at most two NOTIFYs, however many SUBSCRIBEs name it;
- MESSAGEs from strangers for an offline user: 202 up to max_per_sender per sender and
  max_from_outside for all strangers, then 486 naming the quota; local senders still 202;
- a PUBLISH nested deeper than max_document_depth: 400 naming the limit; larger than
  max_document_bytes: 413 naming it; the composed NOTIFY stays linear in its inputs, its ids
  unique, and goes over TCP when over 1300 bytes;
- a MESSAGE for a user whose devices do not answer: 202 within answer_within, stored, and
  delivered once (not twice when a slow device answers after all);
- an OPTIONS for a user whose only device does not answer: no answer at all (RFC 4320: never
  408 to a non-INVITE request)."""

import socket
import time
import unittest
import xml.etree.ElementTree as ET

from harness import ServerTestCase
from ua import UA, unique

DOMAIN = "example.com"
CONFIG = """domains = ["example.com"]
auth = "off"
[security]
trusted = []
[timers]
t1 = 100
[im]
answer_within = 2
retry_interval = 1
max_per_sender = 3
max_from_outside = 5
[presence]
other_domains = "confirm"
max_subscriptions_per_source = 6
pending_expires = 120
max_document_bytes = 4096
max_document_depth = 16
[registrar]
min_expires = 1
"""

PIDF = "urn:ietf:params:xml:ns:pidf"


def pidf(entity, inner):
    return (f'<?xml version="1.0" encoding="UTF-8"?><presence xmlns="{PIDF}" '
            f'xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" entity="{entity}">{inner}</presence>')


def ok_for(request_head):
    """A 200 OK for a request's header block (its Via, From, To, Call-ID and CSeq copied)."""
    keep = ("via:", "from:", "to:", "call-id:", "cseq:")
    lines = [line for line in request_head.split("\r\n")[1:] if line.lower().startswith(keep)]
    lines = [line + (";tag=w" if line.lower().startswith("to:") and "tag=" not in line else "") for line in lines]
    return ("SIP/2.0 200 OK\r\n" + "\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode()


class State(ServerTestCase):
    config = CONFIG
    users = [(f"{user}@{DOMAIN}", "secret") for user in ("alice", "bob", "carol", "dave")]

    def ua(self, user, host="127.0.0.1", domain=DOMAIN, register=False, transport="udp"):
        a = self.track(UA(self.server, user, domain, transport, bind_host=host))
        if register:
            self.assertEqual(a.register(expires=600).status, 200)
        return a

    # -- subscriptions from outside ------------------------------------------------------

    def test_subscriptions_from_one_source_are_capped_and_pending_ones_short(self):
        stranger = self.ua("stranger", "127.0.0.2", domain="evil.test")
        codes = []
        for i in range(8):
            stranger.request("SUBSCRIBE", f"sip:carol@{DOMAIN}", headers=["Event: presence", "Expires: 3600"],
                             call_id=unique("sub") + "@evil.test")
            r = stranger.recv_response(final=True)
            codes.append((r.status, r.reason, r.get("Expires") or r.get("Retry-After")))
            if r.status == 200:
                n = stranger.recv_request(method="NOTIFY")
                self.assertTrue(n.get("Subscription-State").startswith("pending"), n)
                stranger.reply(n, 200)
        self.assertEqual(codes[:6], [(200, "OK", "120")] * 6, codes)  # pending: 120 s, not 3600
        self.assertEqual(codes[6:], [(503, "Too many subscriptions from this address", "60")] * 2, codes)
        # Another source is not held to the first one's count.
        other = self.ua("other", "127.0.0.3", domain="evil.test")
        other.request("SUBSCRIBE", f"sip:carol@{DOMAIN}", headers=["Event: presence"])
        self.assertEqual(other.recv_response(final=True).status, 200)

    def test_a_victims_contact_gets_two_notifies_whatever_the_number_of_subscribes(self):
        victim = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        victim.bind(("127.0.0.5", 0))
        self.addCleanup(victim.close)
        victim_port = victim.getsockname()[1]
        attacker = self.ua("mallory", "127.0.0.4", domain="evil.test")
        # Five SUBSCRIBEs whose Contact names the victim instead of the attacker.
        for i in range(5):
            attacker.request("SUBSCRIBE", f"sip:dave@{DOMAIN}", headers=["Event: presence",
                             f"Contact: <sip:victim@127.0.0.5:{victim_port}>"],
                             call_id=unique("spoof") + "@evil.test", contact=False)
            self.assertEqual(attacker.recv_response(final=True).status, 200)
        # Timer F is 6.4 s here (t1 = 100 ms): count what reaches the victim meanwhile and after.
        branches = set()
        packets = 0
        victim.settimeout(0.5)
        deadline = time.time() + 9
        while time.time() < deadline:
            try:
                data = victim.recv(65536).decode("latin-1")
            except socket.timeout:
                continue
            packets += 1
            for line in data.split("\r\n"):
                if line.lower().startswith("via:"):
                    branches.add(line.split("branch=")[1].split(";")[0])
                    break
        print(f"\nvictim: {packets} NOTIFY packets, {len(branches)} NOTIFY transactions, for 5 SUBSCRIBEs")
        self.assertLessEqual(len(branches), 2)
        # Afterwards it is left alone: a new SUBSCRIBE naming it sends nothing there.
        attacker.request("SUBSCRIBE", f"sip:dave@{DOMAIN}", headers=["Event: presence",
                         f"Contact: <sip:victim@127.0.0.5:{victim_port}>"], call_id=unique("late") + "@evil.test",
                         contact=False)
        self.assertEqual(attacker.recv_response(final=True).status, 200)
        victim.settimeout(1.0)
        with self.assertRaises(socket.timeout):
            victim.recv(65536)

    # -- offline messages from outside ---------------------------------------------------

    def test_strangers_cannot_fill_a_mailbox(self):
        results = []
        for n, sender in enumerate(["m1", "m1", "m1", "m1", "m2", "m2", "m3"]):
            s = self.ua(sender, f"127.0.0.{10 + n}", domain="evil.test")
            s.request("MESSAGE", f"sip:bob@{DOMAIN}", body=f"spam {n}", content_type="text/plain")
            r = s.recv_response(final=True)
            results.append((r.status, r.reason))
        self.assertEqual(results, [(202, "Accepted for later delivery")] * 3 +
                         [(486, "Too many stored messages from this sender")] +
                         [(202, "Accepted for later delivery")] * 2 +
                         [(486, "Too many stored messages from other domains")], results)
        alice = self.ua("alice")
        alice.request("MESSAGE", f"sip:bob@{DOMAIN}", body="from a colleague", content_type="text/plain")
        self.assertEqual(alice.recv_response(final=True).status, 202, "a local sender still has room")

    # -- presence documents --------------------------------------------------------------

    def publish(self, ua, body, expires=600):
        ua.request("PUBLISH", ua.aor, headers=["Event: presence", f"Expires: {expires}"], body=body,
                   content_type="application/pidf+xml")
        return ua.recv_response(final=True)

    def test_documents_beyond_the_limits_are_refused_naming_them(self):
        alice = self.ua("alice", transport="tcp")
        # The document: 6,000 elements deep in 42 KB.
        deep = "<e>" * 6000 + "</e>" * 6000
        body = pidf(alice.aor, f'<tuple id="t"><status><basic>open</basic></status>{deep}</tuple>')
        self.assertGreater(len(body), 42000)
        r = self.publish(alice, body)
        self.assertEqual((r.status, r.reason), (413, "Presence document larger than 4096 bytes"))
        inner = "<status><basic>open</basic></status>"
        for _ in range(20):
            inner = f'<x:e xmlns:x="urn:x">{inner}</x:e>'
        r = self.publish(alice, pidf(alice.aor, f'<tuple id="t">{inner}</tuple>'))
        self.assertEqual((r.status, r.reason), (400, "Presence document nested deeper than 16 elements"))

    def test_a_composed_notify_has_unique_ids_grows_linearly_and_goes_over_tcp_when_large(self):
        carol = self.ua("carol", register=True)
        bodies = []
        for device in range(4):
            person = '<dm:person id="p1"><dm:note>' + "x" * 300 + "</dm:note></dm:person>"
            body = pidf(carol.aor, f'<tuple id="t1"><status><basic>open</basic></status></tuple>{person}')
            bodies.append(body)
            self.assertEqual(self.publish(carol, body).status, 200)
        # A watcher over UDP that also listens for TCP on its port, as RFC 3261 §18 asks.
        watcher = self.ua("alice")
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", watcher.port))
        listener.listen(1)
        listener.settimeout(5)
        self.addCleanup(listener.close)
        watcher.request("SUBSCRIBE", carol.aor, headers=["Event: presence"])
        self.assertEqual(watcher.recv_response(final=True).status, 200)
        conn, _ = listener.accept()
        self.addCleanup(conn.close)
        conn.settimeout(5)
        data = b""
        while b"</presence>" not in data:
            chunk = conn.recv(65536)
            self.assertTrue(chunk, "the connection closed before the NOTIFY was whole")
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        self.assertIn(b"NOTIFY ", head[:10])
        conn.sendall(ok_for(head.decode("latin-1")))
        self.assertIn(b"Via: SIP/2.0/TCP ", head)
        doc = ET.fromstring(body)
        ids = [e.get("id") for e in doc.iter() if e.get("id") is not None]
        self.assertEqual(len(ids), 8, ids)
        self.assertEqual(len(set(ids)), len(ids), f"duplicate ids: {ids}")
        self.assertLess(len(body), 2 * sum(len(b) for b in bodies))

    # -- MESSAGE and non-INVITE requests to devices that do not answer ------------------

    def test_a_message_to_stale_devices_gets_202_in_time_and_arrives_once(self):
        dead1 = self.ua("bob", "127.0.0.20", register=False)
        dead2 = self.ua("bob", "127.0.0.21", register=False)
        slow = self.ua("bob", "127.0.0.22", register=False)
        for device in (dead1, dead2, slow):
            self.assertEqual(device.register(expires=600, call_id=unique("reg")).status, 200)
        alice = self.ua("alice")
        started = time.time()
        alice.request("MESSAGE", f"sip:bob@{DOMAIN}", body="are you there?", content_type="text/plain")
        got = slow.recv_request(method="MESSAGE", timeout=2)
        self.assertIsNotNone(got)
        r = alice.recv_response(final=True, timeout=5)
        elapsed = time.time() - started
        self.assertEqual((r.status, r.reason), (202, "Accepted for later delivery"))
        self.assertLess(elapsed, 4, "the 202 must come well before the sender's Timer F")
        slow.reply(got, 200)  # the slow device answers after all: the stored copy goes
        deadline = time.time() + 10  # once the dead branches end (Timer F, 6.4 s here)
        while "removed: a device took it after its 202" not in self.server.log_text() and time.time() < deadline:
            time.sleep(0.2)
        self.assertIn("removed: a device took it after its 202", self.server.log_text())
        # retry_interval is 1 s: a second copy would come now if one were left.
        self.assertTrue(slow.expect_nothing(2.0, method="MESSAGE"), "the message arrived twice")
        for device in (dead1, dead2, slow):
            device.register(expires=0, call_id=unique("unreg"))

    def test_no_408_to_a_non_invite_request(self):
        dead = self.ua("dave", "127.0.0.30")
        self.assertEqual(dead.register(expires=600).status, 200)
        alice = self.ua("alice")
        alice.request("OPTIONS", f"sip:dave@{DOMAIN}")
        self.assertIsNotNone(dead.recv_request(method="OPTIONS"))  # it never answers
        self.assertIsNone(alice.recv_response(final=True, timeout=8), "RFC 4320: a non-INVITE never gets 408")
        self.assertIn("not answered: no branch answered in time", self.server.log_text())
        dead.register(expires=0)


if __name__ == "__main__":
    unittest.main()
