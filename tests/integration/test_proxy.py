"""The stateful proxy (RFC 3261 §16) as call flows over loopback: every method passes through
to a registered user (R-URI rewritten to the contact, Herald's Via on top, Max-Forwards
decremented, the rest untouched), forking in parallel and by q, CANCEL, the best final
response, Record-Route and in-dialog requests, redirect mode, the error answers (404, 480,
403, 483, 482), relaying to a numeric host, proxy authentication, and SIPp as caller and
callee."""

import os
import re
import shutil
import subprocess
import time
import unittest

from harness import HERALD, Server, free_port
from ua import UA, Dialog, param, uri_of

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIOS = os.path.join(HERE, "sipp")
DOMAIN = "example.com"

BASE_CONFIG = """domains = ["example.com"]
auth = "off"
[registrar]
min_expires = 1
[proxy]
mode = "proxy"
record_route = true
relay = false
"""


def herald_user(data_dir, *args):
    return subprocess.run([HERALD, "user", *args, "--data-dir", data_dir], capture_output=True, text=True,
                          timeout=30)


class ProxyTestCase(unittest.TestCase):
    """One server per class (its `config`); `ua()` makes a user agent for a fresh account,
    registered unless told otherwise; every UA is closed after the test."""

    config = BASE_CONFIG
    password = "secret"
    _serial = 0

    @classmethod
    def setUpClass(cls):
        cls.server = Server(config=cls.config)
        cls.accounts = set()

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        if code != 0:
            raise AssertionError(f"herald exited with {code}; log:\n{cls.server.log_text()[-3000:]}")

    def setUp(self):
        self.agents = []

    def tearDown(self):
        for agent in self.agents:
            agent.close()
        self.assertTrue(self.server.alive(), "server died:\n" + self.server.log_text()[-3000:])

    @classmethod
    def fresh(cls, prefix):
        """A user name no other test of this run uses."""
        ProxyTestCase._serial += 1
        return f"{prefix}{ProxyTestCase._serial}"

    def account(self, user, domain=DOMAIN):
        if (user, domain) not in self.accounts:
            r = herald_user(self.server.data_dir, "add", f"{user}@{domain}", "--password", self.password)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.accounts.add((user, domain))

    def ua(self, user, transport="udp", register=True, q=None, domain=DOMAIN, expires=3600, account=True):
        if account:
            self.account(user, domain)
        agent = UA(self.server, user, domain, transport, password=self.password)
        self.agents.append(agent)
        if register:
            r = agent.register(expires=expires, q=q)
            self.assertIsNotNone(r, f"no answer to {user}'s REGISTER")
            self.assertEqual(r.status, 200, r)
        return agent

    # -- assertions shared by the tests -----------------------------------------------------

    def herald_via(self, via, transport="UDP"):
        self.assertRegex(via, rf"^SIP/2\.0/{transport} 127\.0\.0\.1:{self.server.port};branch=z9hG4bK\S+")
        self.assertIsNotNone(param(via, "rport"), via)

    def assert_forwarded(self, sent, got, target, ignore=(), transport=None):
        """`got` is `sent` as a proxy forwards it (§16.6) to `target` (a URI), over UDP unless
        the target says transport=tcp or `transport` is given."""
        self.assertIsNotNone(got, f"{sent.method} did not reach the callee")
        self.assertEqual(got.method, sent.method)
        self.assertEqual(got.uri, target)
        vias = got.vias()
        self.assertEqual(len(vias), len(sent.vias()) + 1, vias)
        self.herald_via(vias[0], transport or ("TCP" if "transport=tcp" in target.lower() else "UDP"))
        self.assertEqual(param(vias[1], "branch"), sent.branch)
        self.assertTrue(vias[1].startswith(sent.vias()[0].split(";")[0]), vias[1])
        self.assertEqual(int(got.get("Max-Forwards")), int(sent.get("Max-Forwards") or 70) - 1)
        self.assertEqual(got.body, sent.body)
        skip = {"via", "max-forwards", "record-route", "route", *ignore}
        self.assertEqual([(n.lower(), v) for n, v in got.headers if n.lower() not in skip],
                         [(n.lower(), v) for n, v in sent.headers if n.lower() not in skip])

    def assert_record_routed(self, got, transport=None):
        rr = got.values("Record-Route")
        self.assertTrue(rr, "no Record-Route")
        self.assertRegex(rr[0], rf"^<sip:127\.0\.0\.1:{self.server.port};[^>]*\blr\b")
        if transport == "tcp":
            self.assertIn("transport=tcp", rr[0])

    def assert_only_caller_via(self, response, sent):
        vias = response.vias()
        self.assertEqual(len(vias), 1, vias)
        self.assertEqual(param(vias[0], "branch"), sent.branch)

    def final(self, agent, method="INVITE", timeout=3.0):
        r = agent.recv_response(timeout, final=True, method=method)
        self.assertIsNotNone(r, f"no final response to {method}")
        return r


# Methods that pass through to a registered user: (method, extra headers, content type, body).
PASSTHROUGH = [
    ("INVITE", ["Subject: lunch?"], "application/sdp",
     b"v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n"),
    ("OPTIONS", ["Accept: application/sdp"], None, b""),
    ("BYE", [], None, b""),
    ("INFO", ["Info-Package: dtmf"], "application/dtmf-relay", b"Signal=5\r\nDuration=160\r\n"),
    ("UPDATE", [], "application/sdp", b"v=0\r\n"),
    ("PRACK", ["RAck: 1 1 INVITE"], None, b""),
    ("REFER", ["Refer-To: <sip:carol@example.com>", "Referred-By: <sip:alice@example.com>"], None, b""),
    ("MESSAGE", ["Date: Sat, 13 Nov 2010 23:29:00 GMT"], "text/plain;charset=utf-8", "¡hola, señor!".encode()),
    ("SUBSCRIBE", ["Event: dialog", "Expires: 60", "Accept: application/dialog-info+xml"], None, b""),
    ("NOTIFY", ["Event: message-summary", "Subscription-State: active;expires=60"],
     "application/simple-message-summary", b"Messages-Waiting: yes\r\nVoice-Message: 2/8 (0/2)\r\n"),
    ("SERVICE", [], "application/soap+xml", b"<Envelope/>"),
    ("BENOTIFY", ["Event: message-summary", "Subscription-State: active"], "application/simple-message-summary",
     b"Messages-Waiting: no\r\n"),
    ("COMET", [], None, b""),
]

DIALOG_CREATING = ("INVITE", "SUBSCRIBE", "REFER")


class Passthrough(ProxyTestCase):
    def test_every_method_reaches_the_callee_and_its_answer_the_caller(self):
        caller = self.ua("alice", register=False)
        for method, headers, content_type, body in PASSTHROUGH:
            with self.subTest(method=method):
                callee = self.ua(self.fresh(method.lower()))
                sent = caller.request(method, f"sip:{callee.user}@{DOMAIN}",
                                      headers=["X-Herald-Test: keep;me=1", *headers],
                                      body=body, content_type=content_type)
                got = callee.recv_request(method=method)
                self.assert_forwarded(sent, got, callee.contact)
                if method in DIALOG_CREATING:
                    self.assert_record_routed(got)
                else:
                    self.assertEqual(got.values("Record-Route"), [])
                callee.reply(got, 200, headers=["X-Callee: answered", *(["Expires: 60"] if method == "SUBSCRIBE" else [])],
                             body=b"callee's body", content_type="text/plain")
                r = self.final(caller, method)
                self.assertEqual((r.status, r.get("X-Callee"), r.body), (200, "answered", b"callee's body"))
                self.assert_only_caller_via(r, sent)
                if method == "INVITE":
                    caller.in_dialog(Dialog(sent, r), "ACK")
                    ack = callee.recv_request(method="ACK")
                    self.assertIsNotNone(ack, "the ACK for the 2xx was not forwarded")
                    self.assertEqual(ack.uri, callee.contact)

    def test_provisional_responses_are_forwarded_and_herald_sends_100(self):
        caller = self.ua("alice", register=False)
        callee = self.ua(self.fresh("bob"))
        sent = caller.request("INVITE", f"sip:{callee.user}@{DOMAIN}")
        trying = caller.recv_response(method="INVITE")
        self.assertEqual(trying.status, 100)
        got = callee.recv_request(method="INVITE")
        callee.reply(got, 180)
        callee.reply(got, 183, body=b"v=0\r\n", content_type="application/sdp")
        self.assertEqual(caller.recv_response(method="INVITE").status, 180)
        progress = caller.recv_response(method="INVITE")
        self.assertEqual((progress.status, progress.body), (183, b"v=0\r\n"))
        self.assert_only_caller_via(progress, sent)
        callee.reply(got, 486)
        r = self.final(caller)
        self.assertEqual(r.status, 486)
        caller.ack(sent, r)
        # Herald acknowledges the 486 itself (hop by hop); the caller's ACK is absorbed.
        ack = callee.recv_request(method="ACK")
        self.assertEqual(len(ack.vias()), 1)
        self.assertEqual(ack.branch, got.branch)
        self.assertTrue(callee.expect_nothing(0.5, "ACK"))

    def test_request_over_tcp_is_forwarded_to_a_udp_contact_with_two_record_routes(self):
        caller = self.ua("alice", transport="tcp", register=False)
        callee = self.ua(self.fresh("bob"))
        sent = caller.request("INVITE", f"sip:{callee.user}@{DOMAIN}")
        got = callee.recv_request(method="INVITE")
        self.assert_forwarded(sent, got, callee.contact)
        rr = got.values("Record-Route")
        self.assertEqual(len(rr), 2, rr)
        for entry in rr:
            self.assertIn(f"sip:127.0.0.1:{self.server.port}", entry)
            self.assertIn("r2=on", entry)
        self.assertEqual(sum("transport=tcp" in entry for entry in rr), 1, rr)
        callee.reply(got, 603)
        caller.ack(sent, self.final(caller))

    def test_unknown_headers_and_a_foreign_route_free_request_stay_byte_exact(self):
        caller = self.ua("alice", register=False)
        callee = self.ua(self.fresh("bob"))
        body = bytes(range(256)) * 2
        sent = caller.request("MESSAGE", f"sip:{callee.user}@{DOMAIN}", content_type="application/octet-stream",
                              headers=["X-Weird:   spaced   value  ", "x-lower: case", "P-Asserted-Identity: <sip:a@b>"],
                              body=body)
        got = callee.recv_request(method="MESSAGE")
        self.assert_forwarded(sent, got, callee.contact)
        self.assertEqual(got.body, body)
        callee.reply(got, 200)
        self.assertEqual(self.final(caller, "MESSAGE").status, 200)


class Dialogs(ProxyTestCase):
    def establish(self, caller, callee):
        sent = caller.request("INVITE", f"sip:{callee.user}@{DOMAIN}", body=b"v=0\r\n", content_type="application/sdp")
        got = callee.recv_request(method="INVITE")
        self.assert_forwarded(sent, got, callee.contact)
        self.assert_record_routed(got)
        callee.reply(got, 180)
        callee.reply(got, 200, body=b"v=0\r\n", content_type="application/sdp")
        r = self.final(caller)
        self.assertEqual(r.status, 200)
        self.assert_record_routed(r)
        self.assertEqual(uri_of(r.get("Contact")), callee.contact)
        dialog = Dialog(sent, r)
        self.assertEqual(len(dialog.route_set), 1)
        return sent, got, dialog

    def test_ack_and_bye_follow_the_record_route(self):
        caller, callee = self.ua("alice", register=False), self.ua(self.fresh("bob"))
        _, _, dialog = self.establish(caller, callee)
        ack = caller.in_dialog(dialog, "ACK")
        got = callee.recv_request(method="ACK")
        self.assertIsNotNone(got, "ACK for the 2xx not forwarded")
        self.assertEqual(got.uri, callee.contact)
        self.herald_via(got.vias()[0])
        self.assertEqual(got.all("Route"), [], "Herald's own Route entry must be removed")
        self.assertEqual(got.call_id, ack.call_id)
        bye = caller.in_dialog(dialog, "BYE")
        got = callee.recv_request(method="BYE")
        self.assert_forwarded(bye, got, callee.contact)
        self.assertEqual(got.all("Route"), [])
        callee.reply(got, 200)
        self.assertEqual(self.final(caller, "BYE").status, 200)

    def test_in_dialog_requests_of_every_method_in_both_directions(self):
        caller, callee = self.ua("alice", register=False), self.ua(self.fresh("bob"))
        invite, received_invite, dialog = self.establish(caller, callee)
        caller.in_dialog(dialog, "ACK")
        self.assertIsNotNone(callee.recv_request(method="ACK"))
        for method in ("INFO", "UPDATE", "MESSAGE", "REFER", "NOTIFY", "SERVICE", "COMET"):
            with self.subTest(method=method):
                sent = caller.in_dialog(dialog, method, headers=["Event: refer"] if method == "NOTIFY" else [],
                                        body=b"in dialog", content_type="text/plain")
                got = callee.recv_request(method=method)
                self.assert_forwarded(sent, got, callee.contact)
                callee.reply(got, 200)
                self.assertEqual(self.final(caller, method).status, 200)
        # The callee's route set is the Record-Route in order; its target the caller's Contact.
        route = received_invite.values("Record-Route")
        sent = callee.request("INFO", caller.contact, to=received_invite.get("From"),
                              from_=received_invite.get("To"), from_tag=callee.tags[(invite.call_id, invite.from_tag)],
                              call_id=invite.call_id, cseq=1, route=route, body=b"back", content_type="text/plain")
        got = caller.recv_request(method="INFO")
        self.assert_forwarded(sent, got, caller.contact)
        caller.reply(got, 200)
        self.assertEqual(self.final(callee, "INFO").status, 200)

    def test_subscription_dialog_notify_returns_through_herald(self):
        # An event package Herald does not serve (dialog): SUBSCRIBE forwarded and
        # record-routed, the notifier's NOTIFY follows the route set back to the subscriber.
        watcher, notifier = self.ua("alice", register=False), self.ua(self.fresh("bob"))
        subscribe = watcher.request("SUBSCRIBE", f"sip:{notifier.user}@{DOMAIN}",
                                    headers=["Event: dialog", "Expires: 60", "Accept: application/dialog-info+xml"])
        got = notifier.recv_request(method="SUBSCRIBE")
        self.assert_forwarded(subscribe, got, notifier.contact)
        self.assert_record_routed(got)
        notifier.reply(got, 200, headers=["Expires: 60"])
        r = self.final(watcher, "SUBSCRIBE")
        self.assertEqual(r.status, 200)
        body = (b'<?xml version="1.0"?>\n<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="0" '
                b'state="full" entity="sip:bob@example.com"/>\n')
        notify = notifier.request("NOTIFY", watcher.contact, to=got.get("From"), from_=got.get("To"),
                                  from_tag=notifier.tags[(got.call_id, got.from_tag)], call_id=got.call_id, cseq=1,
                                  route=got.values("Record-Route"),
                                  headers=["Event: dialog", "Subscription-State: active;expires=60"],
                                  body=body, content_type="application/dialog-info+xml")
        back = watcher.recv_request(method="NOTIFY")
        self.assert_forwarded(notify, back, watcher.contact)
        self.assertEqual(back.body, body)
        watcher.reply(back, 200)
        self.assertEqual(self.final(notifier, "NOTIFY").status, 200)

    def test_in_dialog_request_with_herald_in_the_route_is_forwarded_without_relay(self):
        # relay = false, but the request names Herald in its Route: it is forwarded even to a
        # host that is not served (here the caller's own contact address).
        caller, callee = self.ua("alice", register=False), self.ua(self.fresh("bob"))
        _, _, dialog = self.establish(caller, callee)
        caller.in_dialog(dialog, "ACK")
        dialog.remote_target = f"sip:someone@127.0.0.1:{callee.port}"
        sent = caller.in_dialog(dialog, "BYE")
        got = callee.recv_request(method="BYE")
        self.assert_forwarded(sent, got, dialog.remote_target)
        callee.reply(got, 200)
        self.assertEqual(self.final(caller, "BYE").status, 200)


class Routing(ProxyTestCase):
    def test_binding_with_a_path_is_reached_through_it(self):
        # RFC 3327: the Path of a registration becomes the Route set of requests to it.
        caller = self.ua("alice", register=False)
        edge = UA(self.server, "edge", "127.0.0.1")
        self.agents.append(edge)
        user = self.fresh("bob")
        phone = self.ua(user, register=False)
        contact = f"sip:{user}@127.0.0.1:9"  # behind the edge proxy; never contacted directly
        r = phone.register(contact=contact, extra=[f"Path: <sip:127.0.0.1:{edge.port};lr>", "Supported: path"])
        self.assertEqual(r.status, 200, r)
        sent = caller.request("MESSAGE", f"sip:{user}@{DOMAIN}", body=b"via the edge", content_type="text/plain")
        got = edge.recv_request(method="MESSAGE")
        self.assert_forwarded(sent, got, contact)
        self.assertEqual(got.values("Route"), [f"<sip:127.0.0.1:{edge.port};lr>"])
        edge.reply(got, 200)
        self.assertEqual(self.final(caller, "MESSAGE").status, 200)

    def test_tcp_to_tcp_gets_one_record_route_with_transport_tcp(self):
        caller = self.ua("alice", transport="tcp", register=False)
        callee = self.ua(self.fresh("bob"), transport="tcp")
        sent = caller.request("INVITE", f"sip:{callee.user}@{DOMAIN}")
        got = callee.recv_request(method="INVITE")
        self.assert_forwarded(sent, got, callee.contact)
        rr = got.values("Record-Route")
        self.assertEqual(len(rr), 1, rr)
        self.assert_record_routed(got, "tcp")
        callee.reply(got, 486)
        caller.ack(sent, self.final(caller))


class Forking(ProxyTestCase):
    def test_parallel_fork_cancelled_by_the_caller(self):
        caller = self.ua("alice", register=False)
        user = self.fresh("bob")
        phones = [self.ua(user), self.ua(user)]
        sent = caller.request("INVITE", f"sip:{user}@{DOMAIN}")
        invites = [p.recv_request(method="INVITE") for p in phones]
        for phone, got in zip(phones, invites):
            self.assert_forwarded(sent, got, phone.contact)
            phone.reply(got, 180)
        self.assertEqual(caller.recv_response(method="INVITE").status, 100)
        self.assertEqual(caller.recv_response(method="INVITE").status, 180)
        cancel = caller.cancel(sent)
        r = caller.recv_response(method="CANCEL")
        self.assertEqual(r.status, 200)
        self.assert_only_caller_via(r, cancel)
        for phone, got in zip(phones, invites):
            c = phone.recv_request(method="CANCEL")
            self.assertIsNotNone(c, "a branch was not cancelled")
            self.assertEqual(c.uri, got.uri)
            self.assertEqual(c.branch, got.branch)
            self.assertEqual(len(c.vias()), 1)
            phone.reply(c, 200)
            phone.reply(got, 487)
        r = self.final(caller)
        self.assertEqual(r.status, 487)
        caller.ack(sent, r)
        for phone, got in zip(phones, invites):
            ack = phone.recv_request(method="ACK")
            self.assertIsNotNone(ack, "Herald did not acknowledge the 487")
            self.assertEqual((ack.branch, len(ack.vias())), (got.branch, 1))
            self.assertTrue(phone.expect_nothing(0.3, "ACK"), "the caller's ACK for the 487 was forwarded")

    def test_sequential_fork_by_q(self):
        caller = self.ua("alice", register=False)
        user = self.fresh("bob")
        desk, mobile = self.ua(user, q="1.0"), self.ua(user, q="0.5")
        sent = caller.request("INVITE", f"sip:{user}@{DOMAIN}")
        got = desk.recv_request(method="INVITE")
        self.assert_forwarded(sent, got, desk.contact)
        self.assertTrue(mobile.expect_nothing(0.5, "INVITE"), "the q=0.5 contact was tried in parallel")
        desk.reply(got, 486)
        self.assertIsNotNone(desk.recv_request(method="ACK"))
        got = mobile.recv_request(method="INVITE")
        self.assert_forwarded(sent, got, mobile.contact)
        mobile.reply(got, 200)
        r = self.final(caller)
        self.assertEqual(r.status, 200)
        caller.in_dialog(Dialog(sent, r), "ACK")
        self.assertIsNotNone(mobile.recv_request(method="ACK"))

    def test_6xx_cancels_the_other_branches(self):
        caller = self.ua("alice", register=False)
        user = self.fresh("bob")
        phones = [self.ua(user), self.ua(user)]
        sent = caller.request("INVITE", f"sip:{user}@{DOMAIN}")
        invites = [p.recv_request(method="INVITE") for p in phones]
        for phone, got in zip(phones, invites):
            self.assertIsNotNone(got)
            phone.reply(got, 180)
        phones[0].reply(invites[0], 603)
        c = phones[1].recv_request(method="CANCEL")
        self.assertIsNotNone(c, "the 603 did not cancel the other branch")
        phones[1].reply(c, 200)
        phones[1].reply(invites[1], 487)
        r = self.final(caller)
        self.assertEqual(r.status, 603)
        caller.ack(sent, r)

    def test_lowest_class_wins_and_503_becomes_500(self):
        caller = self.ua("alice", register=False)
        user = self.fresh("bob")
        phones = [self.ua(user), self.ua(user)]
        caller.request("OPTIONS", f"sip:{user}@{DOMAIN}")
        requests = [p.recv_request(method="OPTIONS") for p in phones]
        phones[0].reply(requests[0], 503)
        phones[1].reply(requests[1], 404)
        self.assertEqual(self.final(caller, "OPTIONS").status, 404)
        sent = caller.request("OPTIONS", f"sip:{user}@{DOMAIN}")
        requests = [p.recv_request(method="OPTIONS") for p in phones]
        for phone, got in zip(phones, requests):
            phone.reply(got, 503)
        r = self.final(caller, "OPTIONS")
        self.assertEqual(r.status, 500)
        self.assert_only_caller_via(r, sent)

    def test_challenges_of_every_branch_are_merged(self):
        caller = self.ua("alice", register=False)
        user = self.fresh("bob")
        phones = [self.ua(user), self.ua(user)]
        sent = caller.request("MESSAGE", f"sip:{user}@{DOMAIN}", body=b"secret", content_type="text/plain")
        requests = [p.recv_request(method="MESSAGE") for p in phones]
        for realm, phone, got in zip(("one.example", "two.example"), phones, requests):
            phone.reply(got, 407, "Proxy Authentication Required",
                        headers=[f'Proxy-Authenticate: Digest realm="{realm}", nonce="n-{realm}", qop="auth"'])
        r = self.final(caller, "MESSAGE")
        self.assertEqual(r.status, 407)
        realms = sorted(re.search(r'realm="([^"]*)"', v).group(1) for v in r.all("Proxy-Authenticate"))
        self.assertEqual(realms, ["one.example", "two.example"])
        self.assert_only_caller_via(r, sent)

    def test_forked_invite_forwards_every_2xx(self):
        caller = self.ua("alice", register=False)
        user = self.fresh("bob")
        phones = [self.ua(user), self.ua(user)]
        sent = caller.request("INVITE", f"sip:{user}@{DOMAIN}")
        invites = [p.recv_request(method="INVITE") for p in phones]
        for phone, got in zip(phones, invites):
            phone.reply(got, 200)
        answers = [self.final(caller), self.final(caller)]
        self.assertEqual([a.status for a in answers], [200, 200])
        self.assertEqual(len({a.to_tag for a in answers}), 2)
        for a in answers:
            caller.in_dialog(Dialog(sent, a), "ACK")
        for phone in phones:
            self.assertIsNotNone(phone.recv_request(method="ACK"))


class Answers(ProxyTestCase):
    def invite_final(self, caller, uri, **kw):
        sent = caller.request("INVITE", uri, **kw)
        r = self.final(caller)
        caller.ack(sent, r)
        return r

    def test_unknown_user_is_404(self):
        caller = self.ua("alice", register=False)
        self.assertEqual(self.invite_final(caller, f"sip:nobody@{DOMAIN}").status, 404)
        caller.request("MESSAGE", f"sip:nobody@{DOMAIN}", body="hi", content_type="text/plain")
        self.assertEqual(self.final(caller, "MESSAGE").status, 404)

    def test_known_user_without_binding_is_480(self):
        caller = self.ua("alice", register=False)
        user = self.fresh("bob")
        self.account(user)
        self.assertEqual(self.invite_final(caller, f"sip:{user}@{DOMAIN}").status, 480)
        # The same after an unregistration.
        phone = self.ua(user)
        self.assertEqual(phone.register(expires=0).status, 200)
        self.assertEqual(self.invite_final(caller, f"sip:{user}@{DOMAIN}").status, 480)

    def test_foreign_domain_without_relay_is_403(self):
        caller = self.ua("alice", register=False)
        bystander = UA(self.server, "x", "127.0.0.1")
        self.agents.append(bystander)
        for uri in (f"sip:x@127.0.0.1:{bystander.port}", "sip:x@example.net"):
            with self.subTest(uri=uri):
                r = self.invite_final(caller, uri)
                self.assertEqual((r.status, r.reason), (403, "Relaying denied"))
        self.assertTrue(bystander.expect_nothing(0.3))

    def test_max_forwards_zero_is_483(self):
        caller = self.ua("alice", register=False)
        callee = self.ua(self.fresh("bob"))
        r = self.invite_final(caller, f"sip:{callee.user}@{DOMAIN}", max_forwards=0)
        self.assertEqual((r.status, r.reason), (483, "Too Many Hops"))
        self.assertTrue(callee.expect_nothing(0.3))
        # Max-Forwards 1 is still forwarded, with 0.
        sent = caller.request("MESSAGE", f"sip:{callee.user}@{DOMAIN}", max_forwards=1)
        got = callee.recv_request(method="MESSAGE")
        self.assert_forwarded(sent, got, callee.contact)
        callee.reply(got, 200)
        self.assertEqual(self.final(caller, "MESSAGE").status, 200)

    def test_missing_max_forwards_is_added_as_70(self):
        # §16.6 step 3: a copy without Max-Forwards gets one, 70.
        caller = self.ua("alice", register=False)
        callee = self.ua(self.fresh("bob"))
        caller.request("MESSAGE", f"sip:{callee.user}@{DOMAIN}", max_forwards=None)
        got = callee.recv_request(method="MESSAGE")
        self.assertEqual(got.get("Max-Forwards"), "70")
        callee.reply(got, 200)
        self.assertEqual(self.final(caller, "MESSAGE").status, 200)

    def test_contact_pointing_back_at_herald_is_a_loop_482(self):
        caller = self.ua("alice", register=False)
        user = self.fresh("loop")
        phone = self.ua(user, register=False)
        r = phone.register(contact=f"sip:{user}@127.0.0.1:{self.server.port}")
        self.assertEqual(r.status, 200)
        r = self.invite_final(caller, f"sip:{user}@{DOMAIN}")
        self.assertEqual((r.status, r.reason), (482, "Loop Detected"))

    def test_cancel_matching_nothing_is_481(self):
        caller = self.ua("alice", register=False)
        callee = self.ua(self.fresh("bob"))
        invite = caller.request("INVITE", f"sip:{callee.user}@{DOMAIN}", send=False)
        caller.cancel(invite)
        r = self.final(caller, "CANCEL")
        self.assertEqual(r.status, 481)
        self.assertTrue(callee.expect_nothing(0.3))


class Redirect(ProxyTestCase):
    config = BASE_CONFIG.replace('mode = "proxy"', 'mode = "redirect"')

    def test_302_lists_the_bindings_with_q(self):
        caller = self.ua("alice", register=False)
        user = self.fresh("bob")
        desk, mobile = self.ua(user, q="0.9"), self.ua(user, q="0.4")
        sent = caller.request("INVITE", f"sip:{user}@{DOMAIN}")
        r = self.final(caller)
        self.assertEqual((r.status, r.reason), (302, "Moved Temporarily"))
        contacts = {uri_of(c): float(param(c, "q")) for c in r.values("Contact")}
        self.assertEqual(contacts, {desk.contact: 0.9, mobile.contact: 0.4})
        caller.ack(sent, r)
        self.assertTrue(desk.expect_nothing(0.3) and mobile.expect_nothing(0.1), "redirect mode forwarded")


class Relay(ProxyTestCase):
    config = BASE_CONFIG.replace("relay = false", "relay = true")

    def test_route_naming_herald_is_removed_and_the_next_route_followed(self):
        # With relay on (off, a Route naming Herald proves nothing: test_relay.py).
        caller = self.ua("alice", register=False)
        next_hop = UA(self.server, "proxy2", "127.0.0.1")
        self.agents.append(next_hop)
        routes = [f"<sip:127.0.0.1:{self.server.port};lr>", f"<sip:127.0.0.1:{next_hop.port};lr>"]
        target = "sip:far@127.0.0.1:9"  # never contacted: the Route decides the next hop
        sent = caller.request("MESSAGE", target, to="<sip:far@127.0.0.1>;tag=remote", route=routes,
                              body=b"loose", content_type="text/plain")
        got = next_hop.recv_request(method="MESSAGE")
        self.assert_forwarded(sent, got, target)
        self.assertEqual(got.values("Route"), routes[1:])
        next_hop.reply(got, 200)
        self.assertEqual(self.final(caller, "MESSAGE").status, 200)

    def test_foreign_numeric_host_is_relayed(self):
        caller = self.ua("alice", register=False)
        target = UA(self.server, "x", "127.0.0.1")
        self.agents.append(target)
        uri = f"sip:x@127.0.0.1:{target.port}"
        sent = caller.request("INVITE", uri, body=b"v=0\r\n", content_type="application/sdp")
        got = target.recv_request(method="INVITE")
        self.assert_forwarded(sent, got, uri)
        target.reply(got, 200)
        r = self.final(caller)
        self.assertEqual(r.status, 200)
        caller.in_dialog(Dialog(sent, r), "ACK")
        self.assertIsNotNone(target.recv_request(method="ACK"))


    def test_name_from_etc_hosts_is_relayed(self):
        caller = self.ua("alice", register=False)
        target = UA(self.server, "x", "localhost")
        self.agents.append(target)
        uri = f"sip:x@localhost:{target.port}"  # localhost is 127.0.0.1 in /etc/hosts
        sent = caller.request("MESSAGE", uri, body=b"by name", content_type="text/plain")
        got = target.recv_request(method="MESSAGE")
        self.assert_forwarded(sent, got, uri)
        target.reply(got, 200)
        self.assertEqual(self.final(caller, "MESSAGE").status, 200)


class TimerC(ProxyTestCase):
    config = BASE_CONFIG + "timer_c = 2\n"

    def test_ringing_branch_is_cancelled_when_timer_c_fires(self):
        caller = self.ua("alice", register=False)
        callee = self.ua(self.fresh("bob"))
        sent = caller.request("INVITE", f"sip:{callee.user}@{DOMAIN}")
        got = callee.recv_request(method="INVITE")
        start = time.time()
        callee.reply(got, 180)
        cancel = callee.recv_request(5.0, method="CANCEL")
        self.assertIsNotNone(cancel, "Timer C did not cancel the branch")
        self.assertGreaterEqual(time.time() - start, 1.5)
        callee.reply(cancel, 200)
        callee.reply(got, 487)
        r = self.final(caller)
        self.assertIn(r.status, (408, 487))
        caller.ack(sent, r)

    def test_silent_branch_counts_as_408(self):
        caller = self.ua("alice", register=False)
        callee = self.ua(self.fresh("bob"))
        sent = caller.request("INVITE", f"sip:{callee.user}@{DOMAIN}")
        self.assertIsNotNone(callee.recv_request(method="INVITE"))
        r = self.final(caller, timeout=6.0)
        self.assertEqual(r.status, 408)
        caller.ack(sent, r)


class Timeouts(ProxyTestCase):
    config = BASE_CONFIG + "[timers]\nt1 = 100\n"

    def test_a_silent_non_invite_branch_is_passed_over_never_408(self):
        # Timer F = 64 * T1 = 6.4 s. RFC 4320 §4.2: no 408 to a non-INVITE request, so the other
        # branch's 503 is the answer, as 500 (RFC 3261 §16.7 step 6: a proxy does not pass 503 on).
        caller = self.ua("alice", register=False)
        user = self.fresh("bob")
        phones = [self.ua(user), self.ua(user)]
        caller.request("OPTIONS", f"sip:{user}@{DOMAIN}")
        requests = [p.recv_request(method="OPTIONS") for p in phones]
        phones[0].reply(requests[0], 503)
        r = self.final(caller, "OPTIONS", timeout=10.0)
        self.assertEqual(r.status, 500)


class Authentication(ProxyTestCase):
    config = BASE_CONFIG.replace('auth = "off"', 'auth = "required"')

    def test_invite_from_a_local_user_is_challenged_then_forwarded(self):
        caller = self.ua("alice", register=False)
        callee = self.ua(self.fresh("bob"))
        sent = caller.request("INVITE", f"sip:{callee.user}@{DOMAIN}")
        r = self.final(caller)
        self.assertEqual(r.status, 407)
        self.assertIsNotNone(r.get("Proxy-Authenticate"))
        caller.ack(sent, r)
        self.assertTrue(callee.expect_nothing(0.3, "INVITE"))
        sent = caller.authorize(sent, r)
        got = callee.recv_request(method="INVITE")
        self.assert_forwarded(sent, got, callee.contact, ignore=("proxy-authorization",))
        callee.reply(got, 200)
        r = self.final(caller)
        self.assertEqual(r.status, 200)
        dialog = Dialog(sent, r)
        caller.in_dialog(dialog, "ACK")
        self.assertIsNotNone(callee.recv_request(method="ACK"))
        # In-dialog requests are not challenged.
        bye = caller.in_dialog(dialog, "BYE")
        got = callee.recv_request(method="BYE")
        self.assert_forwarded(bye, got, callee.contact)
        callee.reply(got, 200)
        self.assertEqual(self.final(caller, "BYE").status, 200)

    def test_foreign_sender_is_not_challenged(self):
        stranger = UA(self.server, "carol", "elsewhere.org")
        self.agents.append(stranger)
        callee = self.ua(self.fresh("bob"))
        sent = stranger.request("MESSAGE", f"sip:{callee.user}@{DOMAIN}", body="hi", content_type="text/plain")
        got = callee.recv_request(method="MESSAGE")
        self.assert_forwarded(sent, got, callee.contact)
        callee.reply(got, 200)
        self.assertEqual(self.final(stranger, "MESSAGE").status, 200)


def sipp(scenario, *args, timeout=30):
    """Starts SIPp on a scenario of tests/integration/sipp (bounded by -timeout)."""
    return subprocess.Popen(["sipp", "-sf", os.path.join(SCENARIOS, scenario), "-i", "127.0.0.1", "-nostdin",
                             "-timeout", f"{timeout}s", "-timeout_error", "-max_recv_loops", "1000", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd="/tmp")


def finish(proc, timeout=40):
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return proc.returncode, out


@unittest.skipUnless(shutil.which("sipp"), "sipp not installed")
class Sipp(ProxyTestCase):
    """SIPp as caller and callee: the callee's contact (SIPp's port) is registered by a UA."""

    def pair(self, uac_scenario, uas_scenario, calls=5, callees=1):
        """`callees` SIPp callees registered for one user (a fork when more than one), each
        taking every call, and one SIPp caller."""
        user = self.fresh("sipp")
        registrar = self.ua(user, register=False)
        uases = []
        for _ in range(callees):
            uas_port = free_port()
            self.assertEqual(registrar.register(contact=f"sip:{user}@127.0.0.1:{uas_port}").status, 200)
            uases.append(sipp(uas_scenario, "-p", str(uas_port), "-m", str(calls)))
        uac = sipp(uac_scenario, "-p", "0", "-m", str(calls), "-r", "10", "-s", user, "-set", "domain", DOMAIN,
                   f"127.0.0.1:{self.server.port}")
        code, out = finish(uac)
        self.assertEqual(code, 0, "UAC:\n" + out[-3000:])
        for uas in uases:
            code, out = finish(uas, 10)
            self.assertEqual(code, 0, "UAS:\n" + out[-3000:])

    def test_invite_cancel(self):
        self.pair("invite_cancel_uac.xml", "invite_cancel_uas.xml")

    def test_forked_invite_cancelled_by_the_caller(self):
        # Both callees ring, the caller cancels: each callee gets a CANCEL and answers 487,
        # the caller gets one 487.
        self.pair("invite_cancel_forked_uac.xml", "invite_cancel_uas.xml", callees=2)

    def test_invite_bye_through_record_route(self):
        self.pair("invite_bye_uac.xml", "invite_bye_uas.xml")


if __name__ == "__main__":
    unittest.main()
