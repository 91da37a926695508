"""Herald is not an open relay (RFC 3261 §16.4, §16.12): once the Route values naming it are
removed, a request is judged as if it had arrived without them. A foreign target (a
Request-URI or a remaining Route naming another host) is served only for a local user who
proves who it is (407), or inside a dialog Herald record-routed (its Record-Route carries a
token that later requests bring back). Each attack below is tried against the real binary
with auth on and relay off; the "victim" is a socket on another loopback port that must
receive nothing."""

import re
import unittest

from harness import ServerTestCase
from ua import UA, Dialog, param, unique

CONFIG = """domains = ["example.com"]
[proxy]
record_route = true
relay = false
"""


class Relay(ServerTestCase):
    config = CONFIG
    users = [("alice@example.com", "secret"), ("bob@example.com", "secret")]

    def setUp(self):
        super().setUp()
        # An unregistered host on another port: for Herald, a foreign target.
        self.victim = self.agent("victim", domain="127.0.0.1")
        self.target = f"sip:victim@127.0.0.1:{self.victim.port}"
        # Someone from outside: not a local user, no credentials.
        self.mallory = self.agent("mallory", domain="evil.test")
        self.herald = f"<sip:127.0.0.1:{self.server.port};lr>"

    def agent(self, user, domain="example.com", password=None):
        return self.track(UA(self.server, user, domain, password=password))

    def assert_denied(self, request, code=403, reason="Relaying denied"):
        r = self.mallory.recv_response(final=True, method=request.method)
        self.assertIsNotNone(r, f"no answer to {request.method}")
        self.assertEqual((r.status, r.reason), (code, reason), r)
        if request.method == "INVITE":
            self.mallory.ack(request, r)
        self.assertTrue(self.victim.expect_nothing(0.5), "the request reached the foreign target")

    def test_route_to_herald_and_a_foreign_request_uri(self):
        for method in ("MESSAGE", "INVITE", "OPTIONS", "SUBSCRIBE"):
            with self.subTest(method):
                headers = ["Event: presence"] if method == "SUBSCRIBE" else []
                request = self.mallory.request(method, self.target, route=[self.herald], headers=headers,
                                               body="spam" if method == "MESSAGE" else b"",
                                               content_type="text/plain" if method == "MESSAGE" else None)
                self.assert_denied(request)

    def test_route_to_herald_then_a_foreign_route(self):
        request = self.mallory.request("MESSAGE", "sip:bob@example.com",
                                       route=[self.herald, f"<sip:127.0.0.1:{self.victim.port};lr>"],
                                       body="spam", content_type="text/plain")
        self.assert_denied(request)

    def test_strict_routing_through_herald(self):
        # A strict router puts the next hop (Herald) in the Request-URI and the real target
        # last in the Route set.
        request = self.mallory.request("MESSAGE", f"sip:127.0.0.1:{self.server.port}", to=f"<{self.target}>",
                                       route=[f"<{self.target}>"], body="spam", content_type="text/plain")
        self.assert_denied(request)

    def test_in_dialog_without_heralds_record_route(self):
        request = self.mallory.request("BYE", self.target, to=f"<{self.target}>;tag=made-up", route=[self.herald])
        self.assert_denied(request)
        forged = self.mallory.request("BYE", self.target, to=f"<{self.target}>;tag=made-up",
                                      route=[f"<sip:127.0.0.1:{self.server.port};lr;dlg=0123456789abcdef01234567>"])
        self.assert_denied(forged)

    def test_ack_and_cancel_are_not_relayed(self):
        self.mallory.request("ACK", self.target, to=f"<{self.target}>;tag=x", route=[self.herald])
        self.assertTrue(self.victim.expect_nothing(0.5), "the ACK reached the foreign target")
        self.assertIsNone(self.mallory.recv_response(0.2), "an ACK is never answered")
        cancel = self.mallory.request("CANCEL", self.target, route=[self.herald])
        self.assert_denied(cancel, 481, "Call/Transaction Does Not Exist")

    def test_a_local_user_in_dialog_without_the_token_must_prove_who_it_is(self):
        alice = self.agent("alice", password="secret")
        request = alice.request("BYE", self.target, to=f"<{self.target}>;tag=made-up", route=[self.herald])
        r = alice.recv_response(final=True)
        self.assertEqual(r.status, 407, r)
        self.assertTrue(self.victim.expect_nothing(0.3))
        alice.authorize(request, r)
        bye = self.victim.recv_request(method="BYE")
        self.assertIsNotNone(bye, "an authenticated local user's request goes out")

    def test_an_authenticated_local_user_reaches_a_foreign_host(self):
        alice = self.agent("alice", password="secret")
        request = alice.request("MESSAGE", self.target, body="hello", content_type="text/plain")
        r = alice.recv_response(final=True)
        self.assertEqual(r.status, 407, r)
        self.assertTrue(self.victim.expect_nothing(0.3))
        alice.authorize(request, r)
        got = self.victim.recv_request(method="MESSAGE")
        self.assertIsNotNone(got)
        self.assertEqual(got.body, b"hello")
        self.victim.reply(got, 200)
        self.assertEqual(alice.recv_response(final=True).status, 200)

    def test_a_dialog_herald_record_routed_works_both_ways_and_its_token_only_there(self):
        alice = self.agent("alice", password="secret")
        invite = alice.request("INVITE", self.target)
        r = alice.recv_response(final=True)
        self.assertEqual(r.status, 407, r)
        alice.ack(invite, r)
        invite = alice.authorize(invite, r)
        got = self.victim.recv_request(method="INVITE")
        self.assertIsNotNone(got)
        record_route = got.values("Record-Route")
        self.assertEqual(len(record_route), 1, record_route)
        self.assertRegex(record_route[0], rf"^<sip:127\.0\.0\.1:{self.server.port};lr;dlg=[0-9a-f]{{24}}>$")
        self.victim.reply(got, 200, body="v=0\r\n", content_type="application/sdp")
        ok = alice.recv_response(final=True, method="INVITE")
        self.assertEqual(ok.status, 200, ok)
        dialog = Dialog(invite, ok)
        self.assertEqual(dialog.route_set, record_route)

        # The caller's requests on the route set reach the foreign callee, without a challenge.
        alice.in_dialog(dialog, "ACK")
        self.assertIsNotNone(self.victim.recv_request(method="ACK"), "the ACK for the 2xx did not arrive")
        alice.in_dialog(dialog, "INFO")
        info = self.victim.recv_request(method="INFO")
        self.assertIsNotNone(info, "an in-dialog request on Herald's route set is relayed")
        self.victim.reply(info, 200)
        self.assertEqual(alice.recv_response(final=True, method="INFO").status, 200)

        # The callee's requests come back to the caller's contact the same way.
        callee = Dialog(got, ok)  # only for its route set and tags
        self.victim.request("BYE", alice.contact, to=got.get("From"), from_=got.get("To").split(";tag=")[0],
                                  from_tag=param(ok.get("To"), "tag"), call_id=got.call_id, cseq=1,
                                  route=callee.route_set[::-1])
        self.assertIsNotNone(alice.recv_request(method="BYE"), "the callee's BYE did not reach the caller")

        # The same token on another Call-ID proves nothing.
        stolen = self.mallory.request("MESSAGE", self.target, to=f"<{self.target}>;tag=x",
                                      route=[record_route[0]], call_id=unique("other") + "@evil.test",
                                      body="spam", content_type="text/plain")
        self.assert_denied(stolen)
        self.assertTrue(re.search(r"Relaying denied", self.server.log_text()))


if __name__ == "__main__":
    unittest.main()
