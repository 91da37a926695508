"""The IM relay (RFC 3428) as call flows over loopback: MESSAGE relayed (SIPp and Python
peers), forked with the first 2xx returned, 513 for a large MESSAGE to a UDP contact and
TCP when a connection is open, store-and-forward for offline users (202, delivery in order
at the next registration with the original Date, retries, a kill -9 restart, the per-user
cap, expiry), content types byte-exact, the seed's Chebychev/Poisson exchange, and
MESSAGE with proxy authentication."""

import email.utils
import os
import re
import shutil
import signal
import time
import unittest

from harness import SOURCE_DIR, Server, free_port
from test_proxy import DOMAIN, ProxyTestCase, finish, sipp
from ua import UA, param

IM_CONFIG = """domains = ["example.com"]
auth = "off"
[registrar]
min_expires = 1
[proxy]
record_route = true
[im]
store = true
expiry = 604800
max_per_user = 5
retry_interval = 30
"""

CPIM = (b"From: MR SANDERS <im:piglet@100akerwood.com>\r\n"
        b"To: Depressed Donkey <im:eeyore@100akerwood.com>\r\n"
        b"DateTime: 2000-12-13T13:40:00-08:00\r\n"
        b"Subject: the weather will be fine today\r\n\r\n"
        b"Content-type: text/plain\r\nContent-ID: <1234567890@foo.com>\r\n\r\n"
        b"Here is the text of my message.\r\n")
ISCOMPOSING = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
               b'<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing">\n'
               b"  <state>active</state>\n  <contenttype>text/plain</contenttype>\n  <refresh>60</refresh>\n"
               b"</isComposing>\n")
PKCS7 = bytes(range(256)) + b"\x00\xff\xfe\r\n\r\n\x00" + bytes(reversed(range(256)))

CONTENT = [
    ("text/plain;charset=UTF-8", "Grüße aus Göttingen — ✓\r\n".encode()),
    ("message/cpim", CPIM),
    ("application/im-iscomposing+xml", ISCOMPOSING),
    ('application/pkcs7-mime;smime-type=enveloped-data;name="smime.p7m"', PKCS7),
]


def date_of(message):
    value = message.get("Date")
    return None if value is None else email.utils.parsedate_to_datetime(value).timestamp()


class ImTestCase(ProxyTestCase):
    config = IM_CONFIG

    def send_message(self, sender, user, body=b"hello", content_type="text/plain", headers=(), domain=DOMAIN):
        return sender.request("MESSAGE", f"sip:{user}@{domain}", body=body, content_type=content_type,
                              headers=list(headers))

    def stored(self, sender, user, body=b"offline", content_type="text/plain", headers=()):
        """Sends a MESSAGE that Herald must accept for storage (202)."""
        sent = self.send_message(sender, user, body, content_type, headers)
        r = self.final(sender, "MESSAGE")
        self.assertEqual(r.status, 202, r)
        return sent

    def assert_delivered(self, got, original, target):
        """`got` is Herald's own MESSAGE carrying the stored `original` to `target`."""
        self.assertIsNotNone(got, "stored message not delivered")
        self.assertEqual(got.method, "MESSAGE")
        self.assertEqual(got.uri, target)
        self.assertEqual(len(got.vias()), 1, got.vias())
        self.herald_via(got.vias()[0], "TCP" if "transport=tcp" in target else "UDP")
        strip_tag = re.compile(r";\s*tag=[^;]*")
        self.assertEqual(strip_tag.sub("", got.get("From")), strip_tag.sub("", original.get("From")))
        self.assertEqual(strip_tag.sub("", got.get("To")), strip_tag.sub("", original.get("To")))
        self.assertEqual(got.get("Content-Type"), original.get("Content-Type"))
        self.assertEqual(got.body, original.body)
        self.assertIsNotNone(got.get("Date"), "no Date on a stored message")
        if original.get("Date"):
            self.assertEqual(got.get("Date"), original.get("Date"))


class Relay(ImTestCase):
    def test_message_reaches_a_registered_user_and_its_200_the_sender(self):
        sender = self.ua("alice", register=False)
        bob = self.ua(self.fresh("bob"))
        sent = self.send_message(sender, bob.user, b"Hi There!")
        got = bob.recv_request(method="MESSAGE")
        self.assert_forwarded(sent, got, bob.contact)
        self.assertEqual(got.values("Record-Route"), [])
        bob.reply(got, 200)
        r = self.final(sender, "MESSAGE")
        self.assertEqual(r.status, 200)
        self.assert_only_caller_via(r, sent)

    def test_forked_to_every_contact_and_only_the_first_2xx_returns(self):
        sender = self.ua("alice", register=False)
        user = self.fresh("bob")
        phones = [self.ua(user), self.ua(user)]
        sent = self.send_message(sender, user, b"to all of you")
        got = [p.recv_request(method="MESSAGE") for p in phones]
        for phone, g in zip(phones, got):
            self.assert_forwarded(sent, g, phone.contact)
        phones[1].reply(got[1], 200, headers=["X-Who: second"])
        r = self.final(sender, "MESSAGE")
        self.assertEqual((r.status, r.get("X-Who")), (200, "second"))
        phones[0].reply(got[0], 200, headers=["X-Who: first"])
        self.assertIsNone(sender.recv_response(0.5), "a second 2xx was forwarded")

    def test_large_message_to_a_udp_contact_is_513(self):
        sender = self.ua("alice", transport="tcp", register=False)
        bob = self.ua(self.fresh("bob"))
        self.send_message(sender, bob.user, b"x" * 1400)
        r = self.final(sender, "MESSAGE")
        self.assertEqual(r.status, 513)
        self.assertTrue(bob.expect_nothing(0.3))

    def test_message_under_1300_bytes_still_goes_over_udp(self):
        sender = self.ua("alice", transport="tcp", register=False)
        bob = self.ua(self.fresh("bob"))
        probe = sender.request("MESSAGE", f"sip:{bob.user}@{DOMAIN}", content_type="text/plain", send=False)
        # Herald adds its Via (and received/rport to the sender's): about 130 bytes.
        sent = self.send_message(sender, bob.user, b"u" * (1150 - len(probe.raw)))
        got = bob.recv_request(method="MESSAGE")
        self.assertIsNotNone(got, f"a {len(sent.raw)}-byte MESSAGE was not forwarded over UDP")
        self.assertLessEqual(len(got.raw), 1300, "test precondition: the forwarded MESSAGE fits 1300 bytes")
        self.assert_forwarded(sent, got, bob.contact)
        bob.reply(got, 200)
        self.assertEqual(self.final(sender, "MESSAGE").status, 200)

    def test_large_message_goes_over_tcp_to_a_contact_registered_over_tcp(self):
        sender = self.ua("alice", transport="tcp", register=False)
        bob = self.ua(self.fresh("bob"), transport="tcp")
        body = bytes(range(256)) * 8
        sent = self.send_message(sender, bob.user, body, "application/octet-stream")
        got = bob.recv_request(method="MESSAGE")
        self.assert_forwarded(sent, got, bob.contact, transport="TCP")
        bob.reply(got, 200)
        self.assertEqual(self.final(sender, "MESSAGE").status, 200)

    def test_large_message_to_a_udp_contact_takes_an_open_tcp_connection_to_it(self):
        sender = self.ua("alice", transport="tcp", register=False)
        user = self.fresh("bob")
        bob = self.ua(user)
        # A TCP connection from the contact's own address (same port number as its UDP socket).
        stream = UA(self.server, user, DOMAIN, "tcp", bind_port=bob.port)
        self.agents.append(stream)
        stream.request("OPTIONS", f"sip:127.0.0.1:{self.server.port}")
        self.assertEqual(self.final(stream, "OPTIONS").status, 200)
        body = b"y" * 2000
        sent = self.send_message(sender, user, body)
        got = stream.recv_request(method="MESSAGE")
        self.assert_forwarded(sent, got, bob.contact, transport="TCP")
        stream.reply(got, 200)
        self.assertEqual(self.final(sender, "MESSAGE").status, 200)
        self.assertTrue(bob.expect_nothing(0.2))

    def test_content_types_are_byte_exact(self):
        sender = self.ua("alice", register=False)
        bob = self.ua(self.fresh("bob"))
        for content_type, body in CONTENT:
            with self.subTest(content_type=content_type):
                sent = self.send_message(sender, bob.user, body, content_type)
                got = bob.recv_request(method="MESSAGE")
                self.assert_forwarded(sent, got, bob.contact)
                self.assertEqual(got.get("Content-Type"), content_type)
                self.assertEqual(got.body, body)
                bob.reply(got, 200)
                self.assertEqual(self.final(sender, "MESSAGE").status, 200)

    def sipp_relay(self, *uac_args, recipients=1):
        """A SIPp sender pages a user with `recipients` SIPp devices registered (each device
        receives every MESSAGE when there are several: a fork)."""
        user = self.fresh("sipp")
        registrar = self.ua(user, register=False)
        uases = []
        for _ in range(recipients):
            uas_port = free_port()
            self.assertEqual(registrar.register(contact=f"sip:{user}@127.0.0.1:{uas_port}").status, 200)
            uases.append(sipp("message_uas.xml", "-p", str(uas_port), "-m", "10"))
        uac = sipp(os.path.join(SOURCE_DIR, "bench", "sipp", "message_uac.xml"), "-p", "0", "-m", "10", "-r", "20",
                   "-s", user, "-set", "domain", DOMAIN, *uac_args, f"127.0.0.1:{self.server.port}")
        code, out = finish(uac)
        self.assertEqual(code, 0, "UAC:\n" + out[-3000:])
        for uas in uases:
            code, out = finish(uas, 10)
            self.assertEqual(code, 0, "UAS:\n" + out[-3000:])

    @unittest.skipUnless(shutil.which("sipp"), "sipp not installed")
    def test_sipp_sender_and_receiver(self):
        self.sipp_relay()

    @unittest.skipUnless(shutil.which("sipp"), "sipp not installed")
    def test_sipp_sender_over_tcp_to_a_udp_receiver(self):
        self.sipp_relay("-t", "t1")

    @unittest.skipUnless(shutil.which("sipp"), "sipp not installed")
    def test_sipp_sender_forked_to_two_sipp_receivers(self):
        # Each receiver gets all 10 MESSAGEs; the sender gets one 200 for each.
        self.sipp_relay(recipients=2)


class StoreAndForward(ImTestCase):
    def test_offline_user_gets_messages_in_order_at_registration(self):
        sender = self.ua("alice", register=False)
        user = self.fresh("bob")
        self.account(user)
        before = time.time()
        originals = [self.stored(sender, user, b"first", headers=["Date: Sat, 13 Nov 2010 23:29:00 GMT"]),
                     self.stored(sender, user, b"second"),
                     self.stored(sender, user, "third: ¿qué tal?".encode(), "text/plain;charset=utf-8")]
        bob = self.ua(user)
        for i, original in enumerate(originals):
            got = bob.recv_request(3.0, method="MESSAGE")
            self.assert_delivered(got, original, bob.contact)
            if i > 0:
                self.assertAlmostEqual(date_of(got), before, delta=60)
            # One at a time: the next waits for this one's answer.
            self.assertTrue(bob.expect_nothing(0.3, "MESSAGE"), "stored messages sent without waiting")
            bob.reply(got, 200)
        self.assertTrue(bob.expect_nothing(0.5, "MESSAGE"))
        self.assertEqual(bob.register().status, 200)
        self.assertTrue(bob.expect_nothing(1.0, "MESSAGE"), "a delivered message was sent again")

    def test_every_branch_failing_with_480_stores_the_message(self):
        sender = self.ua("alice", register=False)
        user = self.fresh("bob")
        phones = [self.ua(user), self.ua(user)]
        sent = self.send_message(sender, user, b"anyone?")
        for phone in phones:
            got = phone.recv_request(method="MESSAGE")
            self.assertIsNotNone(got)
            phone.reply(got, 480 if phone is phones[0] else 503)
        r = self.final(sender, "MESSAGE")
        self.assertEqual(r.status, 202)
        # The next registration (a new binding) gets it.
        later = self.ua(user)
        got = later.recv_request(3.0, method="MESSAGE")
        self.assert_delivered(got, sent, later.contact)
        later.reply(got, 200)

    def test_513_is_not_stored(self):
        sender = self.ua("alice", transport="tcp", register=False)
        bob = self.ua(self.fresh("bob"))
        self.send_message(sender, bob.user, b"z" * 1500)
        self.assertEqual(self.final(sender, "MESSAGE").status, 513)
        later = self.ua(bob.user, transport="tcp")
        self.assertTrue(later.expect_nothing(0.8, "MESSAGE"), "a message answered 513 was stored")

    def test_unknown_user_is_404_not_stored(self):
        sender = self.ua("alice", register=False)
        self.send_message(sender, "nobody")
        self.assertEqual(self.final(sender, "MESSAGE").status, 404)

    def test_content_types_are_byte_exact_after_storage(self):
        sender = self.ua("alice", register=False)
        user = self.fresh("bob")
        self.account(user)
        originals = [self.stored(sender, user, body, content_type) for content_type, body in CONTENT]
        bob = self.ua(user)
        for original in originals:
            got = bob.recv_request(3.0, method="MESSAGE")
            self.assert_delivered(got, original, bob.contact)
            bob.reply(got, 200)

    def test_store_is_capped_per_user_with_486(self):
        sender = self.ua("alice", register=False)
        user = self.fresh("bob")
        self.account(user)
        for i in range(5):
            self.stored(sender, user, f"m{i}".encode())
        self.send_message(sender, user, b"one too many")
        r = self.final(sender, "MESSAGE")
        self.assertEqual(r.status, 486)
        self.assertRegex(r.reason, r"(?i)stor|full", "the reason phrase should name the full store")
        # Another user's store is not affected.
        other = self.fresh("carol")
        self.account(other)
        self.stored(sender, other)


class Retry(ImTestCase):
    config = IM_CONFIG.replace("retry_interval = 30", "retry_interval = 1") + "[timers]\nt1 = 100\n"

    def test_delivery_answered_480_is_retried_after_the_interval(self):
        sender = self.ua("alice", register=False)
        user = self.fresh("bob")
        self.account(user)
        original = self.stored(sender, user, b"try again")
        bob = self.ua(user)
        got = bob.recv_request(3.0, method="MESSAGE")
        self.assert_delivered(got, original, bob.contact)
        first = time.time()
        bob.reply(got, 480)
        self.assertTrue(bob.expect_nothing(0.7, "MESSAGE"), "retried before retry_interval")
        got = bob.recv_request(3.0, method="MESSAGE")
        self.assert_delivered(got, original, bob.contact)
        self.assertGreaterEqual(time.time() - first, 0.9)
        # The interval doubles: the next retry comes about 2 s after the second failure.
        second = time.time()
        bob.reply(got, 480)
        self.assertTrue(bob.expect_nothing(1.5, "MESSAGE"), "the retry interval did not double")
        got = bob.recv_request(3.0, method="MESSAGE")
        self.assert_delivered(got, original, bob.contact)
        self.assertGreaterEqual(time.time() - second, 1.8)
        bob.reply(got, 200)
        self.assertTrue(bob.expect_nothing(2.5, "MESSAGE"), "delivered message sent again")

    def test_delivery_without_answer_is_retried(self):
        sender = self.ua("alice", register=False)
        user = self.fresh("bob")
        self.account(user)
        original = self.stored(sender, user, b"are you there?")
        bob = self.ua(user)
        got = bob.recv_request(3.0, method="MESSAGE")
        self.assert_delivered(got, original, bob.contact)
        # No answer: Timer F (64 * T1 = 6.4 s) then retry_interval (1 s).
        got = bob.recv_request(12.0, method="MESSAGE")
        self.assert_delivered(got, original, bob.contact)
        bob.reply(got, 200)


class Expiry(ImTestCase):
    """Takes a minute: the shortest expiry Herald accepts is 60 s."""

    config = IM_CONFIG.replace("expiry = 604800", "expiry = 60")

    def test_expired_messages_are_dropped(self):
        sender = self.ua("alice", register=False)
        user = self.fresh("bob")
        self.account(user)
        self.stored(sender, user, b"stale soon")
        time.sleep(61)
        bob = self.ua(user)
        self.assertTrue(bob.expect_nothing(1.5, "MESSAGE"), "an expired message was delivered")


class Restart(ImTestCase):
    config = IM_CONFIG.replace("retry_interval = 30", "retry_interval = 1")

    def restart(self):
        self.server.proc.send_signal(signal.SIGKILL)
        self.server.proc.wait()
        self.server.log.close()
        type(self).server = Server(config=self.config, data_dir=self.server.data_dir, port=self.server.port)

    def test_stored_messages_survive_kill_9(self):
        sender = self.ua("alice", register=False)
        user = self.fresh("bob")
        self.account(user)
        originals = [self.stored(sender, user, b"before the crash"),
                     self.stored(sender, user, PKCS7, "application/pkcs7-mime")]
        self.restart()
        bob = self.ua(user)
        for original in originals:
            got = bob.recv_request(3.0, method="MESSAGE")
            self.assert_delivered(got, original, bob.contact)
            bob.reply(got, 200)
        self.assertTrue(bob.expect_nothing(1.0, "MESSAGE"))

    def test_registered_user_gets_stored_messages_after_a_restart(self):
        sender = self.ua("alice", register=False)
        user = self.fresh("bob")
        bob = self.ua(user)
        sent = self.send_message(sender, user, b"busy now?")
        got = bob.recv_request(method="MESSAGE")
        bob.reply(got, 480)
        self.assertEqual(self.final(sender, "MESSAGE").status, 202)
        # Retries before the crash go to a closed port; the restarted server delivers to the
        # same contact, bound again.
        contact, port = bob.contact, bob.port
        bob.close()
        self.restart()
        bob = UA(self.server, user, DOMAIN, bind_port=port)
        self.agents.append(bob)
        got = bob.recv_request(5.0, method="MESSAGE")
        self.assert_delivered(got, sent, contact)
        bob.reply(got, 200)
        self.assertTrue(bob.expect_nothing(2.5, "MESSAGE"))


class AuthenticatedMessage(ImTestCase):
    config = (IM_CONFIG.replace('auth = "off"', 'auth = "required"\nauth_algorithms = ["MD5", "SHA-256"]'))

    def test_message_from_a_local_user_is_challenged_then_relayed(self):
        sender = self.ua("alice", register=False)
        bob = self.ua(self.fresh("bob"))
        sent = self.send_message(sender, bob.user, b"let me in")
        r = self.final(sender, "MESSAGE")
        self.assertEqual(r.status, 407)
        self.assertTrue(bob.expect_nothing(0.3))
        sent = sender.authorize(sent, r)
        got = bob.recv_request(method="MESSAGE")
        self.assert_forwarded(sent, got, bob.contact, ignore=("proxy-authorization",))
        bob.reply(got, 200)
        self.assertEqual(self.final(sender, "MESSAGE").status, 200)

    def test_message_for_an_offline_user_is_challenged_then_stored(self):
        sender = self.ua("alice", register=False)
        user = self.fresh("bob")
        self.account(user)
        sent = self.send_message(sender, user, b"later")
        r = self.final(sender, "MESSAGE")
        self.assertEqual(r.status, 407)
        sent = sender.authorize(sent, r)
        self.assertEqual(self.final(sender, "MESSAGE").status, 202)
        bob = self.ua(user)
        got = bob.recv_request(3.0, method="MESSAGE")
        self.assert_delivered(got, sent, bob.contact)
        bob.reply(got, 200)

    @unittest.skipUnless(shutil.which("sipp"), "sipp not installed")
    def test_sipp_sender_with_credentials(self):
        user = self.fresh("sipp")
        uas_port = free_port()
        registrar = self.ua(user, register=False)
        self.assertEqual(registrar.register(contact=f"sip:{user}@127.0.0.1:{uas_port}").status, 200)
        self.account("alice")
        uas = sipp("message_uas.xml", "-p", str(uas_port), "-m", "5")
        uac = sipp(os.path.join(SOURCE_DIR, "bench", "sipp", "message_auth_uac.xml"), "-p", "0", "-m", "5", "-r", "10",
                   "-s", user, "-set", "domain", DOMAIN, "-set", "sender", "alice", "-au", "alice", "-ap", self.password,
                   "-auth_uri", f"{user}@{DOMAIN}", f"127.0.0.1:{self.server.port}")
        code, out = finish(uac)
        self.assertEqual(code, 0, "UAC:\n" + out[-3000:])
        code, out = finish(uas, 10)
        self.assertEqual(code, 0, "UAS:\n" + out[-3000:])


class Seed(ImTestCase):
    """The MESSAGE exchange at the end of seeds/000 through Herald, as printed (TCP, the Via
    continuation line folded into the Via header, real Content-Length values)."""

    config = IM_CONFIG.replace('domains = ["example.com"]', 'domains = ["probability.org", "academy.ru"]')

    CHEBYCHEV_MESSAGE = (
        "MESSAGE sip:s.possion@dist.probability.org SIP/2.0\r\n"
        "Via: SIP/2.0/TCP lecturehall21.academy.ru:5060\r\n"
        " ;branch=z9hG4bK3gtr2\r\n"
        "Max-Forwards: 70\r\n"
        "To: M. Poisson <sip:s.possion@dist.probability.org>\r\n"
        "From: P. L. Chebychev <sip:chebychev@academy.ru>;tag=4542\r\n"
        "Call-ID: 9dkei93vjq1ei3\r\n"
        "CSeq: 15 MESSAGE\r\n"
        "Allow: ACK, INVITE, CANCEL, BYE, NOTIFY, SUBSCRIBE, MESSAGE\r\n"
        "Content-Type: text/plain\r\n"
        "Content-Length: 9\r\n"
        "\r\n"
        "Hi There!")

    POISSON_MESSAGE = (
        "MESSAGE sip:chebychev@academy.ru SIP/2.0\r\n"
        "Via: SIP/2.0/TCP dist.probablilty.org:5060\r\n"
        " ;branch=z9hG4bK4526245\r\n"
        "Max-Forwards: 70\r\n"
        "To: P. L. Chebychev <sip:chebychev@academy.ru>\r\n"
        "From: M. Poisson <sip:s.possion@dist.probability.org>;tag=14083\r\n"
        "Call-ID: lk34452k592520\r\n"
        "CSeq: 2321 MESSAGE\r\n"
        "Allow: ACK, INVITE, CANCEL, BYE, NOTIFY, SUBSCRIBE, MESSAGE\r\n"
        "Content-Type: text/plain\r\n"
        "Content-Length: 30\r\n"
        "\r\n"
        "Well, hello there to you, too!")

    def test_chebychev_and_poisson_exchange_messages(self):
        poisson = self.ua("poisson", "tcp", register=False, domain="probability.org")
        chebychev = self.ua("chebychev", "tcp", register=False, domain="academy.ru")
        self.assertEqual(poisson.register(contact="sip:s.possion@dist.probability.org;transport=tcp").status, 200)
        self.assertEqual(chebychev.register(contact="sip:pafnuty@lecturehall21.academy.ru;transport=tcp").status, 200)

        chebychev.send(self.CHEBYCHEV_MESSAGE)
        got = poisson.recv_request(method="MESSAGE")
        self.assertIsNotNone(got, "Chebychev's MESSAGE did not reach Poisson's connection")
        self.assertTrue(got.uri.startswith("sip:s.possion@dist.probability.org"), got.uri)
        self.herald_via(got.vias()[0], "TCP")
        self.assertEqual(param(got.vias()[1], "branch"), "z9hG4bK3gtr2")
        self.assertEqual((got.get("Max-Forwards"), got.call_id, got.get("CSeq")), ("69", "9dkei93vjq1ei3", "15 MESSAGE"))
        self.assertEqual((got.get("Content-Type"), got.body), ("text/plain", b"Hi There!"))
        poisson.send("SIP/2.0 200 OK\r\n" + "".join(f"Via: {v}\r\n" for v in got.all("Via")) +
                     "To: M. Poisson <sip:s.possion@dist.probability.org>;tag=2321\r\n"
                     "From: P. L. Chebychev <sip:chebychev@academy.ru>;tag=4542\r\n"
                     "Call-ID: 9dkei93vjq1ei3\r\n"
                     "CSeq: 15 MESSAGE\r\n"
                     "Content-Length: 0\r\n\r\n")
        r = chebychev.recv_response(method="MESSAGE")
        self.assertIsNotNone(r, "Poisson's 200 did not reach Chebychev")
        self.assertEqual((r.status, r.to_tag, r.call_id), (200, "2321", "9dkei93vjq1ei3"))
        self.assertEqual(len(r.vias()), 1)
        self.assertEqual(param(r.vias()[0], "branch"), "z9hG4bK3gtr2")

        poisson.send(self.POISSON_MESSAGE)
        got = chebychev.recv_request(method="MESSAGE")
        self.assertIsNotNone(got, "Poisson's MESSAGE did not reach Chebychev's connection")
        self.assertEqual(got.uri, "sip:pafnuty@lecturehall21.academy.ru;transport=tcp")
        self.assertEqual(param(got.vias()[1], "branch"), "z9hG4bK4526245")
        self.assertEqual(got.body, b"Well, hello there to you, too!")
        chebychev.send("SIP/2.0 200 OK\r\n" + "".join(f"Via: {v}\r\n" for v in got.all("Via")) +
                       "To: P. L. Chebychev <sip:chebychev@academy.ru>;tag=mc3bg5q77wms\r\n"
                       "From: M. Poisson <sip:s.possion@dist.probability.org>;tag=14083\r\n"
                       "Call-ID: lk34452k592520\r\n"
                       "CSeq: 2321 MESSAGE\r\n"
                       "Content-Length: 0\r\n\r\n")
        r = poisson.recv_response(method="MESSAGE")
        self.assertIsNotNone(r, "Chebychev's 200 did not reach Poisson")
        self.assertEqual((r.status, r.to_tag, r.call_id), (200, "mc3bg5q77wms", "lk34452k592520"))


if __name__ == "__main__":
    unittest.main()
