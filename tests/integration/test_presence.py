"""The presence agent as call flows over loopback: the seeds' SUBSCRIBE / NOTIFY / PUBLISH
exchanges as printed (Chebychev and Poisson over TCP, presentity@example.com over UDP), the
RFC 6665 notifier (489, 423, 406, 404, 481, 500, refresh, unsubscribe, fetch, expiry, event
ids, NOTIFYs answered 481 or 500, CSeq order, one NOTIFY outstanding at a time), RFC 3903
PUBLISH (SIP-ETag, refresh, modify, remove, expiry, 412, 415, 400, 489, 423, 403, 404,
composition of two devices, registration state), authorization with `herald presence`
(pending, allow, block, polite-block, domain rules, remove; nothing revealed to
unauthorized watchers), presence.winfo (RFC 3857/3858), proxy authentication, kill -9
restarts (dialogs, publications, pending subscriptions, expiry while down), and SIPp as
watcher and publisher."""

import copy
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET

import test_im
from harness import HERALD, Server
from test_proxy import DOMAIN, ProxyTestCase, finish, sipp
from ua import UA, Dialog, Message, param, uri_of

PIDF_NS = "urn:ietf:params:xml:ns:pidf"
CPIM_PIDF_NS = "urn:ietf:params:xml:ns:cpim-pidf"
WINFO_NS = "urn:ietf:params:xml:ns:watcherinfo"
PIDF = "application/pidf+xml"
CPIM_PIDF = "application/cpim-pidf+xml"
WINFO = "application/watcherinfo+xml"
FOREIGN = "elsewhere.org"  # a watcher domain Herald does not serve: the policy says confirm

PRESENCE_CONFIG = """domains = ["example.com"]
auth = "off"
[registrar]
min_expires = 1
[proxy]
record_route = true
[presence]
subscribe_default_expires = 3600
subscribe_min_expires = 60
subscribe_max_expires = 3600
publish_default_expires = 3600
publish_min_expires = 60
publish_max_expires = 3600
"""


def pidf(entity, basic="open", tuple_id="t1", note=None, contact=None, namespace=PIDF_NS):
    """A PIDF document (RFC 3863) with one tuple, as bytes."""
    contact_xml = f"    <contact>{contact}</contact>\n" if contact else ""
    note_xml = f"    <note>{note}</note>\n" if note else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<presence xmlns="{namespace}" entity="{entity}">\n'
            f'  <tuple id="{tuple_id}">\n'
            f"    <status>\n      <basic>{basic}</basic>\n    </status>\n"
            f"{contact_xml}{note_xml}"
            f"  </tuple>\n</presence>\n").encode()


class Tuple:
    def __init__(self, element, ns):
        def text(path):
            value = element.findtext(path.format(ns=ns))
            return value.strip() if value is not None else None
        self.id = element.get("id")
        self.basic = text("{{{ns}}}status/{{{ns}}}basic")
        self.contact = text("{{{ns}}}contact")
        self.note = text("{{{ns}}}note")

    def __repr__(self):
        return f"Tuple({self.id!r}, {self.basic!r}, contact={self.contact!r}, note={self.note!r})"


class Document:
    """A PIDF or CPIM-PIDF body as the tests read it: namespace, entity, tuples."""

    def __init__(self, body):
        root = ET.fromstring(body)
        self.namespace = root.tag[1:].split("}")[0] if root.tag.startswith("{") else ""
        self.root_name = root.tag.split("}")[-1]
        self.entity = root.get("entity")
        self.tuples = [Tuple(t, self.namespace) for t in root.findall(f"{{{self.namespace}}}tuple")]
        self.notes = [(n.text or "").strip() for n in root.findall(f"{{{self.namespace}}}note")]

    def basics(self):
        return sorted(t.basic for t in self.tuples)

    def tuple(self, tuple_id):
        return next((t for t in self.tuples if t.id == tuple_id), None)

    def all_notes(self):
        return [t.note for t in self.tuples if t.note] + self.notes


class WatcherInfo:
    """An application/watcherinfo+xml body (RFC 3858)."""

    def __init__(self, body):
        root = ET.fromstring(body)
        self.root_name = root.tag
        self.version = int(root.get("version"))
        self.state = root.get("state")
        self.lists = {}
        for wl in root.findall(f"{{{WINFO_NS}}}watcher-list"):
            watchers = [{"uri": (w.text or "").strip(), "status": w.get("status"), "event": w.get("event"),
                         "id": w.get("id")} for w in wl.findall(f"{{{WINFO_NS}}}watcher")]
            self.lists[(wl.get("resource"), wl.get("package"))] = watchers

    def watchers(self, package="presence"):
        """The watchers of the one list of `package`."""
        lists = [v for (resource, p), v in self.lists.items() if p == package]
        return lists[0] if lists else []

    def entries(self, uri, package="presence"):
        return [w for w in self.watchers(package) if w["uri"] == uri]


def subscription_state(notify):
    """Subscription-State as (value, {param: value}), lower-cased names."""
    parts = [p.strip() for p in notify.get("Subscription-State").split(";")]
    params = {}
    for p in parts[1:]:
        name, _, value = p.partition("=")
        params[name.strip().lower()] = value.strip()
    return parts[0].lower(), params


def bare(aor):
    """sip:bob@example.com -> bob@example.com (the form `herald presence` takes)."""
    return aor.split(":", 1)[1] if aor.startswith("sip:") else aor


def mentions(text, aor):
    """Whether `text` names `aor` (with or without sip:) as a whole word: carol1@x is not
    carol12@x."""
    return re.search(rf"(?<![\w.@-]){re.escape(bare(aor))}(?![\w.-])", text) is not None


def herald_presence(data_dir, *args):
    return subprocess.run([HERALD, "presence", *args, "--data-dir", data_dir], capture_output=True, text=True,
                          timeout=30)


class Sub:
    """One subscription as its watcher sees it: the SUBSCRIBE, Herald's 2xx, the dialog and
    the CSeq of the last NOTIFY received in it."""

    def __init__(self, ua, sent, response, event="presence"):
        self.ua, self.sent, self.response, self.event = ua, sent, response, event
        self.dialog = Dialog(sent, response) if response is not None and 200 <= response.status < 300 else None
        self.last_cseq = None
        self.cseqs = []


class PresenceTestCase(ProxyTestCase):
    config = PRESENCE_CONFIG

    # -- agents ---------------------------------------------------------------------

    def presentity(self, register=False, transport="udp"):
        """A UA for a fresh user account (not registered unless told)."""
        return self.ua(self.fresh("pres"), transport, register=register)

    def watcher(self, domain=DOMAIN, transport="udp", prefix="watch"):
        """A UA for a watcher without account or registration (it only subscribes)."""
        return self.ua(self.fresh(prefix), transport, register=False, domain=domain, account=False)

    # -- SUBSCRIBE / NOTIFY -----------------------------------------------------------

    def subscribe(self, watcher, resource, expires=600, event="presence", accept=None, headers=(), expect=200):
        """An initial SUBSCRIBE; with expect=200 the answer must be a 2xx with a To tag,
        Expires (not above the request's) and Contact (RFC 6665 §4.2.1.1, §4.1.2.1)."""
        lines = [f"Event: {event}"] if event else []
        if expires is not None:
            lines.append(f"Expires: {expires}")
        if accept:
            lines.append(f"Accept: {accept}")
        sent = watcher.request("SUBSCRIBE", resource, headers=lines + list(headers))
        r = self.final(watcher, "SUBSCRIBE")
        if expect == 200:
            self.assert_subscribe_ok(r, expires)
        elif expect is not None:
            self.assertEqual(r.status, expect, r)
        return Sub(watcher, sent, r, event)

    def assert_subscribe_ok(self, r, expires=None):
        # RFC 6665 §8.3.1 deprecates 202 for SUBSCRIBE; 200 is expected, 202 tolerated.
        self.assertIn(r.status, (200, 202), r)
        self.assertTrue(r.to_tag, f"no To tag on the 2xx to SUBSCRIBE:\n{r}")
        self.assertIsNotNone(r.get("Expires"), f"no Expires on the 2xx to SUBSCRIBE (RFC 6665 §4.2.1.1):\n{r}")
        self.assertIsNotNone(r.get("Contact"), f"no Contact on the 2xx to SUBSCRIBE (RFC 6665 §4.2.1.1):\n{r}")
        if expires is not None:
            self.assertLessEqual(int(r.get("Expires")), expires, r)

    def refresh(self, sub, expires, headers=()):
        """A SUBSCRIBE in the dialog (refresh, or unsubscribe with 0); returns the final answer."""
        sub.ua.in_dialog(sub.dialog, "SUBSCRIBE", headers=[f"Event: {sub.event}", f"Expires: {expires}", *headers])
        return self.final(sub.ua, "SUBSCRIBE")

    def notify(self, sub, timeout=3.0, answer=200):
        """The next NOTIFY of `sub` (checked to be in its dialog, CSeq above the last),
        answered with `answer` (None: left unanswered)."""
        n = sub.ua.recv_request(timeout, method="NOTIFY")
        self.assertIsNotNone(n, f"no NOTIFY within {timeout} s")
        self.assert_in_dialog(sub, n)
        if answer:
            sub.ua.reply(n, answer)
        return n

    def notify_until(self, sub, predicate, timeout=3.0, what="the expected state"):
        """NOTIFYs of `sub`, each answered 200, until one satisfies `predicate`."""
        deadline = time.time() + timeout
        seen = []
        while time.time() < deadline:
            n = sub.ua.recv_request(max(deadline - time.time(), 0.01), method="NOTIFY")
            if n is None:
                break
            self.assert_in_dialog(sub, n)
            sub.ua.reply(n, 200)
            if predicate(n):
                return n
            seen.append(n)
        self.fail(f"no NOTIFY with {what} within {timeout} s; got:\n" + "\n".join(map(repr, seen)))

    def drain(self, sub, timeout=0.5):
        """Answers the NOTIFYs that come within `timeout`; returns them."""
        got = []
        while True:
            n = sub.ua.recv_request(timeout, method="NOTIFY")
            if n is None:
                return got
            self.assert_in_dialog(sub, n)
            sub.ua.reply(n, 200)
            got.append(n)

    def assert_in_dialog(self, sub, n):
        """`n` is a NOTIFY in `sub`'s dialog (RFC 6665 §4.2.2, RFC 3261 §12.2.1.1)."""
        self.assertEqual(n.method, "NOTIFY")
        self.assertEqual(n.uri, uri_of(sub.sent.get("Contact")), "NOTIFY not sent to the subscriber's Contact")
        self.assertEqual(n.call_id, sub.sent.call_id)
        self.assertEqual(n.from_tag, sub.response.to_tag, "NOTIFY From tag is not the 2xx's To tag")
        self.assertEqual(n.to_tag, sub.sent.from_tag, "NOTIFY To tag is not the SUBSCRIBE's From tag")
        self.assertEqual(uri_of(n.get("From")), uri_of(sub.sent.get("To")))
        self.assertEqual(uri_of(n.get("To")), uri_of(sub.sent.get("From")))
        number, method = n.cseq
        self.assertEqual(method, "NOTIFY")
        if sub.last_cseq is not None:
            self.assertGreater(number, sub.last_cseq, "NOTIFY CSeq not above the previous NOTIFY's")
        sub.last_cseq = number
        sub.cseqs.append(number)
        self.assertIsNotNone(n.get("Event"), "NOTIFY without Event")
        self.assertEqual(n.get("Event").split(";")[0].strip().lower(), sub.event)
        self.assertIsNotNone(n.get("Subscription-State"), "NOTIFY without Subscription-State")
        self.assertIsNotNone(n.get("Contact"), "NOTIFY without Contact (RFC 6665 §4.1.3: a target refresh)")
        self.assertIsNotNone(n.get("Max-Forwards"), "NOTIFY without Max-Forwards")

    def assert_state(self, n, state, reason=None, max_expires=None):
        value, params = subscription_state(n)
        self.assertEqual(value, state, n)
        if reason is not None:
            self.assertEqual(params.get("reason"), reason, n)
        if state in ("active", "pending"):
            self.assertIn("expires", params, f"{state} without expires:\n{n}")
            if max_expires is not None:
                self.assertLessEqual(int(params["expires"]), max_expires, n)
        if state == "pending":
            self.assertEqual(n.body, b"", f"a pending NOTIFY carries no state:\n{n}")
        return params

    def document(self, n, content_type=PIDF):
        """The presence document of NOTIFY `n` (its Content-Type checked)."""
        self.assertIsNotNone(n.get("Content-Type"), f"NOTIFY without Content-Type:\n{n}")
        self.assertEqual(n.get("Content-Type").split(";")[0].strip().lower(), content_type, n)
        doc = Document(n.body)
        self.assertEqual(doc.root_name, "presence")
        self.assertEqual(doc.namespace, CPIM_PIDF_NS if content_type == CPIM_PIDF else PIDF_NS)
        return doc

    def assert_closed(self, n, content_type=PIDF):
        doc = self.document(n, content_type)
        self.assertTrue(doc.tuples, f"no tuple:\n{n}")
        self.assertEqual(set(doc.basics()), {"closed"}, n)
        return doc

    # -- PUBLISH ----------------------------------------------------------------------

    def publish(self, ua, body=None, expires=600, etag=None, aor=None, content_type=PIDF, event="presence",
                headers=()):
        """A PUBLISH for `aor` (default the UA's own); returns (request, final response)."""
        lines = [f"Event: {event}"] if event else []
        if expires is not None:
            lines.append(f"Expires: {expires}")
        if etag:
            lines.append(f"SIP-If-Match: {etag}")
        sent = ua.request("PUBLISH", aor or ua.aor, headers=lines + list(headers), body=body or b"",
                          content_type=content_type if body else None)
        return sent, self.final(ua, "PUBLISH")

    def published(self, ua, body=None, expires=600, etag=None, **kw):
        """A PUBLISH that must succeed (RFC 3903 §6: 200 with SIP-ETag and Expires); returns
        the new entity-tag."""
        _, r = self.publish(ua, body, expires, etag, **kw)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.get("SIP-ETag"), f"200 to PUBLISH without SIP-ETag:\n{r}")
        self.assertIsNotNone(r.get("Expires"), f"200 to PUBLISH without Expires:\n{r}")
        if expires is not None:
            self.assertLessEqual(int(r.get("Expires")), expires)
        return r.get("SIP-ETag")

    # -- authorization rules ------------------------------------------------------------

    def rule(self, action, presentity, watcher):
        r = herald_presence(self.server.data_dir, action, bare(presentity), bare(watcher))
        self.assertEqual(r.returncode, 0, f"herald presence {action}: {r.stdout}{r.stderr}")
        return r


class Framework(PresenceTestCase):
    """RFC 6665 as Herald's notifier applies it to the presence package."""

    def test_options_lists_the_event_packages_and_methods(self):
        agent = self.watcher()
        agent.request("OPTIONS", f"sip:127.0.0.1:{self.server.port}")
        r = self.final(agent, "OPTIONS")
        self.assertEqual(r.status, 200)
        events = {e.strip() for e in r.get("Allow-Events").split(",")}
        self.assertEqual(events, {"presence", "presence.winfo"})
        allow = {m.strip() for m in r.get("Allow").split(",")}
        self.assertTrue({"SUBSCRIBE", "PUBLISH"} <= allow, allow)

    def test_subscribe_and_the_first_notify(self):
        pres, watcher = self.presentity(), self.watcher()
        sub = self.subscribe(watcher, pres.aor, expires=600)
        self.assertEqual(sub.response.status, 200, "RFC 6665 §8.3.1: 200, not 202")
        self.assertEqual(int(sub.response.get("Expires")), 600)
        self.assertEqual(sub.response.call_id, sub.sent.call_id)
        n = self.notify(sub)
        self.assertLessEqual(abs(int(self.assert_state(n, "active")["expires"]) - 600), 10)
        self.assertEqual(n.get("Event").strip().lower(), "presence")
        doc = self.assert_closed(n)
        self.assertTrue(doc.entity.endswith(bare(pres.aor)), doc.entity)
        self.assertTrue(watcher.expect_nothing(0.5, "NOTIFY"))

    def test_subscribe_without_event_is_489_with_allow_events(self):
        pres, watcher = self.presentity(), self.watcher()
        for uri in (pres.aor, f"sip:127.0.0.1:{self.server.port}"):
            with self.subTest(uri=uri):
                sub = self.subscribe(watcher, uri, event=None, expect=489)
                self.assertEqual(sub.response.reason, "Bad Event")
                events = {e.strip() for e in sub.response.get("Allow-Events").split(",")}
                self.assertEqual(events, {"presence", "presence.winfo"})
        self.assertTrue(watcher.expect_nothing(0.3, "NOTIFY"))

    def test_subscribe_to_the_server_for_an_unknown_package_is_489(self):
        watcher = self.watcher()
        sub = self.subscribe(watcher, f"sip:127.0.0.1:{self.server.port}", event="message-summary", expect=489)
        self.assertIn("presence", sub.response.get("Allow-Events"))

    def test_subscribe_for_an_unserved_package_to_a_registered_user_is_proxied(self):
        # Event: dialog is not Herald's: the SUBSCRIBE goes to the user's device (test_proxy
        # covers the NOTIFY coming back).
        callee, watcher = self.ua(self.fresh("bob")), self.watcher()
        sent = watcher.request("SUBSCRIBE", f"sip:{callee.user}@{DOMAIN}", headers=["Event: dialog", "Expires: 60"])
        got = callee.recv_request(method="SUBSCRIBE")
        self.assert_forwarded(sent, got, callee.contact)
        callee.reply(got, 200, headers=["Expires: 60"])
        self.assertEqual(self.final(watcher, "SUBSCRIBE").status, 200)

    def test_unknown_presentity_is_404(self):
        watcher = self.watcher()
        self.subscribe(watcher, f"sip:{self.fresh('nobody')}@{DOMAIN}", expect=404)
        self.assertTrue(watcher.expect_nothing(0.3, "NOTIFY"))

    def test_expires_below_the_minimum_is_423_with_min_expires(self):
        pres, watcher = self.presentity(), self.watcher()
        sub = self.subscribe(watcher, pres.aor, expires=30, expect=423)
        self.assertEqual(sub.response.reason, "Interval Too Brief")
        self.assertEqual(sub.response.get("Min-Expires"), "60")
        self.assertTrue(watcher.expect_nothing(0.3, "NOTIFY"))

    def test_expires_above_the_maximum_is_shortened(self):
        pres, watcher = self.presentity(), self.watcher()
        sub = self.subscribe(watcher, pres.aor, expires=7200)
        self.assertEqual(int(sub.response.get("Expires")), 3600)
        n = self.notify(sub)
        self.assertGreaterEqual(int(self.assert_state(n, "active", max_expires=3600)["expires"]), 3500)

    def test_no_expires_gets_3600(self):
        # RFC 3856 §6.4: the default duration of a presence subscription is 3600 s.
        pres, watcher = self.presentity(), self.watcher()
        sub = self.subscribe(watcher, pres.aor, expires=None)
        self.assertEqual(int(sub.response.get("Expires")), 3600)
        self.assert_state(self.notify(sub), "active", max_expires=3600)

    def test_accept_without_a_presence_type_is_406_with_accept(self):
        pres, watcher = self.presentity(), self.watcher()
        sub = self.subscribe(watcher, pres.aor, accept="text/plain", expect=406)
        self.assertIn(PIDF, sub.response.get("Accept") or "", sub.response)
        self.assertTrue(watcher.expect_nothing(0.3, "NOTIFY"))

    def test_accept_cpim_pidf_gets_cpim_pidf(self):
        pres, watcher = self.presentity(), self.watcher()
        sub = self.subscribe(watcher, pres.aor, accept=CPIM_PIDF)
        self.assert_closed(self.notify(sub), CPIM_PIDF)

    def test_unknown_to_tag_is_481(self):
        pres, watcher = self.presentity(), self.watcher()
        sub = self.subscribe(watcher, pres.aor)
        self.notify(sub)
        stranger = copy.copy(sub.dialog)
        stranger.remote = f"<{pres.aor}>;tag=no-such-subscription"
        watcher.in_dialog(stranger, "SUBSCRIBE", headers=["Event: presence", "Expires: 600"])
        r = self.final(watcher, "SUBSCRIBE")
        self.assertEqual(r.status, 481, r)
        self.assertTrue(watcher.expect_nothing(0.3, "NOTIFY"))

    def test_lower_cseq_is_500(self):
        # RFC 3261 §12.2.2: a CSeq lower than the last in the dialog is answered 500.
        pres, watcher = self.presentity(), self.watcher()
        sub = self.subscribe(watcher, pres.aor)
        self.notify(sub)
        self.assertEqual(self.refresh(sub, 600).status, 200)  # CSeq 2
        self.notify(sub)
        sub.dialog.cseq = 0  # the next request carries CSeq 1
        r = self.refresh(sub, 600)
        self.assertEqual(r.status, 500, r)
        self.assertTrue(watcher.expect_nothing(0.3, "NOTIFY"))
        sub.dialog.cseq = 2
        self.assertEqual(self.refresh(sub, 600).status, 200)
        self.assert_state(self.notify(sub), "active")

    def test_refresh_grants_a_new_expires_and_a_notify_follows(self):
        pres, watcher = self.presentity(), self.watcher()
        sub = self.subscribe(watcher, pres.aor, expires=300)
        self.assertLessEqual(int(self.assert_state(self.notify(sub), "active")["expires"]), 300)
        r = self.refresh(sub, 1200)
        self.assert_subscribe_ok(r, 1200)
        self.assertEqual(int(r.get("Expires")), 1200)
        self.assertEqual(r.to_tag, sub.response.to_tag)
        n = self.notify(sub)
        self.assertGreater(int(self.assert_state(n, "active", max_expires=1200)["expires"]), 300)
        self.assert_closed(n)

    def test_unsubscribe_ends_with_notify_terminated_timeout(self):
        pres, watcher = self.presentity(), self.watcher()
        sub = self.subscribe(watcher, pres.aor)
        self.notify(sub)
        r = self.refresh(sub, 0)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(int(r.get("Expires")), 0)
        self.assert_state(self.notify(sub), "terminated", reason="timeout")
        self.assertTrue(watcher.expect_nothing(0.5, "NOTIFY"))
        # The subscription is gone: a refresh in its dialog gets 481.
        self.assertEqual(self.refresh(sub, 600).status, 481)

    def test_fetch_gets_one_notify_terminated_with_the_state(self):
        # RFC 6665 §4.4.3: Expires: 0 in an initial SUBSCRIBE fetches the state once.
        pres, watcher = self.presentity(), self.watcher()
        self.published(pres, pidf(pres.aor, note="fetch me"))
        sub = self.subscribe(watcher, pres.aor, expires=0)
        self.assertEqual(int(sub.response.get("Expires")), 0)
        n = self.notify(sub)
        self.assert_state(n, "terminated", reason="timeout")
        self.assertIn("fetch me", self.document(n).all_notes())
        self.assertTrue(watcher.expect_nothing(1.0, "NOTIFY"))

    def test_notify_answered_481_ends_the_subscription(self):
        pres, watcher = self.presentity(), self.watcher()
        sub = self.subscribe(watcher, pres.aor)
        self.notify(sub)
        etag = self.published(pres, pidf(pres.aor, note="first"))
        self.notify(sub, answer=481)
        self.published(pres, pidf(pres.aor, note="second"), etag=etag)
        self.assertTrue(watcher.expect_nothing(1.5, "NOTIFY"), "a NOTIFY after the watcher answered 481")
        self.assertEqual(self.refresh(sub, 600).status, 481)

    def test_notify_answered_500_keeps_the_subscription(self):
        # Only 481, a timeout or a transport failure end a subscription (RFC 6665 §4.2.2).
        pres, watcher = self.presentity(), self.watcher()
        sub = self.subscribe(watcher, pres.aor)
        self.notify(sub, answer=500)
        self.published(pres, pidf(pres.aor, note="still watching"))
        n = self.notify(sub)
        self.assert_state(n, "active")
        self.assertEqual(self.document(n).all_notes(), ["still watching"])

    def test_notify_cseq_is_strictly_increasing(self):
        pres, watcher = self.presentity(), self.watcher()
        sub = self.subscribe(watcher, pres.aor)
        self.notify(sub)
        etag = None
        for i in range(3):
            etag = self.published(pres, pidf(pres.aor, note=f"state {i}"), etag=etag)
            self.assertIn(f"state {i}", self.document(self.notify(sub)).all_notes())
        self.assertEqual(self.refresh(sub, 900).status, 200)
        self.notify(sub)
        self.assertEqual(self.refresh(sub, 0).status, 200)
        self.assert_state(self.notify(sub), "terminated")
        self.assertEqual(len(sub.cseqs), 6)
        self.assertEqual(sub.cseqs, sorted(set(sub.cseqs)), sub.cseqs)

    def test_notifies_never_overlap_and_the_newest_state_follows(self):
        pres, watcher = self.presentity(), self.watcher()
        sub = self.subscribe(watcher, pres.aor)
        self.notify(sub)
        etag = self.published(pres, pidf(pres.aor, note="one"))
        outstanding = self.notify(sub, answer=None)
        self.assertIn("one", self.document(outstanding).all_notes())
        etag = self.published(pres, pidf(pres.aor, note="two"), etag=etag)
        self.published(pres, pidf(pres.aor, note="three"), etag=etag)
        self.assertTrue(watcher.expect_nothing(1.0, "NOTIFY"), "a second NOTIFY while the first is unanswered")
        watcher.reply(outstanding, 200)
        n = self.notify(sub)
        self.assertEqual(self.document(n).all_notes(), ["three"], "the NOTIFY after the answer is not the newest")
        self.assertTrue(watcher.expect_nothing(1.0, "NOTIFY"), "a coalesced state was sent again")

    def test_event_id_is_echoed_in_every_notify(self):
        # RFC 6665 §8.2.1: the NOTIFY's Event carries the SUBSCRIBE's id parameter.
        pres, watcher = self.presentity(), self.watcher()
        sub = self.subscribe(watcher, pres.aor, event="presence;id=desk-1")
        sub.event = "presence"
        n = self.notify(sub)
        self.assertEqual(param(n.get("Event"), "id"), "desk-1", n)
        self.assertEqual(self.refresh(sub, 0).status, 481,
                         "a SUBSCRIBE without the id names another subscription, which does not exist")
        sub.event = "presence;id=desk-1"
        r = self.refresh(sub, 0)
        self.assertEqual(r.status, 200, r)
        sub.event = "presence"
        n = self.notify(sub)
        self.assert_state(n, "terminated", reason="timeout")
        self.assertEqual(param(n.get("Event"), "id"), "desk-1", n)

    def test_notify_goes_over_the_subscribers_tcp_connection(self):
        pres, watcher = self.presentity(), self.watcher(transport="tcp")
        sub = self.subscribe(watcher, pres.aor)
        n = self.notify(sub)
        self.assertTrue(n.vias()[0].startswith("SIP/2.0/TCP"), n.vias())
        self.assert_state(n, "active")


class Expiry(PresenceTestCase):
    config = (PRESENCE_CONFIG.replace("subscribe_min_expires = 60", "subscribe_min_expires = 1")
              .replace("publish_min_expires = 60", "publish_min_expires = 1"))

    def test_publication_expires_and_watchers_see_the_registration_state(self):
        # RFC 3903 §6: a publication not refreshed in time is removed; the composed state
        # changes back (here: registered, so open with the contact).
        pres = self.presentity(register=True)
        watcher = self.watcher()
        sub = self.subscribe(watcher, pres.aor)
        self.notify(sub)
        etag = self.published(pres, pidf(pres.aor, "closed", note="short-lived"), expires=2)
        self.assertEqual(self.document(self.notify(sub)).all_notes(), ["short-lived"])
        doc = self.document(self.notify(sub, timeout=8.0))
        self.assertEqual([(t.basic, t.contact) for t in doc.tuples], [("open", pres.contact)])
        _, r = self.publish(pres, None, etag=etag)
        self.assertEqual(r.status, 412, "an expired publication still answers to its entity-tag")

    def test_subscription_expires_with_notify_terminated_timeout(self):
        pres, watcher = self.presentity(), self.watcher()
        sub = self.subscribe(watcher, pres.aor, expires=2)
        self.assertLessEqual(int(sub.response.get("Expires")), 2)
        self.assert_state(self.notify(sub), "active", max_expires=2)
        n = self.notify(sub, timeout=8.0)
        self.assert_state(n, "terminated", reason="timeout")
        self.assertTrue(watcher.expect_nothing(1.0, "NOTIFY"))
        self.assertEqual(self.refresh(sub, 60).status, 481)


class Publish(PresenceTestCase):
    """RFC 3903 PUBLISH and the composed presence document."""

    def watched(self, register=False):
        """A presentity and a watcher subscribed to it (first NOTIFY taken)."""
        pres, watcher = self.presentity(register=register), self.watcher()
        sub = self.subscribe(watcher, pres.aor)
        first = self.notify(sub)
        self.assert_state(first, "active")
        return pres, sub, first

    def test_initial_publish_gets_an_etag_and_notifies_watchers(self):
        pres, sub, _ = self.watched()
        _, r = self.publish(pres, pidf(pres.aor, "open", "pc", note="at my desk"), expires=900)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.get("SIP-ETag"))
        self.assertEqual(int(r.get("Expires")), 900)
        doc = self.document(self.notify(sub))
        self.assertEqual([(t.id, t.basic, t.note) for t in doc.tuples], [("pc", "open", "at my desk")])

    def test_refresh_issues_a_new_etag_and_the_old_one_is_412(self):
        pres, sub, _ = self.watched()
        etag = self.published(pres, pidf(pres.aor, note="stay"))
        self.notify(sub)
        refreshed = self.published(pres, None, etag=etag)
        self.assertNotEqual(refreshed, etag, "RFC 3903 §6 step 8: every 2xx carries a new entity-tag")
        _, r = self.publish(pres, None, etag=etag)
        self.assertEqual((r.status, r.reason), (412, "Conditional Request Failed"))
        # The refreshed publication is still the state.
        self.published(pres, pidf(pres.aor, note="moved"), etag=refreshed)
        self.assertEqual(self.document(self.notify(sub)).all_notes(), ["moved"])

    def test_modify_notifies_watchers(self):
        pres, sub, _ = self.watched()
        etag = self.published(pres, pidf(pres.aor, "open", note="available"))
        self.assertEqual(self.document(self.notify(sub)).all_notes(), ["available"])
        self.published(pres, pidf(pres.aor, "closed", note="gone home"), etag=etag)
        doc = self.document(self.notify(sub))
        self.assertEqual((doc.basics(), doc.all_notes()), (["closed"], ["gone home"]))

    def test_remove_returns_the_presentity_to_its_registration_state(self):
        pres, sub, first = self.watched(register=True)
        self.assertEqual([(t.basic, t.contact) for t in self.document(first).tuples], [("open", pres.contact)])
        etag = self.published(pres, pidf(pres.aor, "closed", note="do not disturb"))
        self.assertEqual(self.document(self.notify(sub)).all_notes(), ["do not disturb"])
        _, r = self.publish(pres, None, expires=0, etag=etag)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(int(r.get("Expires")), 0)
        doc = self.document(self.notify(sub))
        self.assertEqual([(t.basic, t.contact) for t in doc.tuples], [("open", pres.contact)])
        self.assertEqual(doc.all_notes(), [])
        _, r = self.publish(pres, None, etag=etag)
        self.assertEqual(r.status, 412, "a removed publication still answers to its entity-tag")

    def test_unknown_etag_is_412(self):
        pres = self.presentity()
        _, r = self.publish(pres, None, etag="no-such-etag")
        self.assertEqual((r.status, r.reason), (412, "Conditional Request Failed"))
        _, r = self.publish(pres, pidf(pres.aor, note="modify"), etag="no-such-etag")
        self.assertEqual(r.status, 412)

    def test_another_presentitys_etag_is_412(self):
        pres, other = self.presentity(), self.presentity()
        etag = self.published(pres, pidf(pres.aor))
        _, r = self.publish(other, None, etag=etag)
        self.assertEqual(r.status, 412, r)

    def test_text_plain_is_415_with_accept(self):
        pres = self.presentity()
        _, r = self.publish(pres, b"I am here", content_type="text/plain")
        self.assertEqual((r.status, r.reason), (415, "Unsupported Media Type"))
        self.assertIn(PIDF, r.get("Accept") or "", r)

    def test_malformed_xml_is_400_with_a_reason(self):
        pres = self.presentity()
        _, r = self.publish(pres, pidf(pres.aor)[:-30])
        self.assertEqual(r.status, 400, r)
        self.assertRegex(r.reason, r"(?i)xml", "the reason phrase should say what is wrong")

    def test_someone_elses_entity_is_400(self):
        pres = self.presentity()
        _, r = self.publish(pres, pidf(f"pres:someone-else@{DOMAIN}"))
        self.assertEqual(r.status, 400, r)
        self.assertRegex(r.reason, r"(?i)entity")

    def test_pres_uri_entity_is_accepted(self):
        # RFC 3863 §4.1.1: the entity is usually a pres: URI; it names the same presentity.
        pres, sub, _ = self.watched()
        self.published(pres, pidf("pres:" + bare(pres.aor), note="pres uri"))
        self.assertEqual(self.document(self.notify(sub)).all_notes(), ["pres uri"])

    def test_no_body_and_no_etag_is_400(self):
        pres = self.presentity()
        _, r = self.publish(pres, None)
        self.assertEqual(r.status, 400, r)

    def test_event_dialog_is_489(self):
        pres = self.presentity()
        _, r = self.publish(pres, pidf(pres.aor), event="dialog")
        self.assertEqual((r.status, r.reason), (489, "Bad Event"))
        self.assertIn("presence", r.get("Allow-Events") or "", r)

    def test_expires_below_the_minimum_is_423(self):
        pres = self.presentity()
        _, r = self.publish(pres, pidf(pres.aor), expires=10)
        self.assertEqual((r.status, r.reason), (423, "Interval Too Brief"))
        self.assertEqual(r.get("Min-Expires"), "60")

    def test_no_expires_gets_the_default(self):
        pres = self.presentity()
        _, r = self.publish(pres, pidf(pres.aor), expires=None)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(int(r.get("Expires")), 3600)

    def test_expires_above_the_maximum_is_shortened(self):
        pres = self.presentity()
        _, r = self.publish(pres, pidf(pres.aor), expires=7200)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(int(r.get("Expires")), 3600)

    def test_from_not_the_presentity_is_403(self):
        pres, sub, _ = self.watched()
        intruder = self.watcher(prefix="mallory")
        _, r = self.publish(intruder, pidf(pres.aor, note="forged"), aor=pres.aor)
        self.assertEqual(r.status, 403, r)
        self.assertTrue(sub.ua.expect_nothing(0.5, "NOTIFY"))

    def test_unknown_presentity_is_404(self):
        nobody = self.watcher(prefix="nobody")
        _, r = self.publish(nobody, pidf(nobody.aor))
        self.assertEqual(r.status, 404, r)

    def test_two_devices_compose_one_document(self):
        pres, sub, _ = self.watched()
        mobile = self.ua(pres.user, register=False)
        desk_tag = self.published(pres, pidf(pres.aor, "open", "desk", note="at the desk"))
        self.assertEqual([t.id for t in self.document(self.notify(sub)).tuples], ["desk"])
        mobile_tag = self.published(mobile, pidf(pres.aor, "closed", "mobile", note="phone off"))
        self.assertNotEqual(desk_tag, mobile_tag)
        doc = self.document(self.notify(sub))
        self.assertEqual(sorted((t.id, t.basic, t.note) for t in doc.tuples),
                         [("desk", "open", "at the desk"), ("mobile", "closed", "phone off")])
        # One device removes its publication: the other's tuple remains.
        _, r = self.publish(pres, None, expires=0, etag=desk_tag)
        self.assertEqual(r.status, 200, r)
        doc = self.document(self.notify(sub))
        self.assertEqual([t.id for t in doc.tuples], ["mobile"])

    def test_registration_state_open_with_the_contact_then_closed(self):
        pres, sub, first = self.watched()
        self.assert_closed(first)
        self.assertEqual(pres.register().status, 200)
        doc = self.document(self.notify(sub))
        self.assertEqual([(t.basic, t.contact) for t in doc.tuples], [("open", pres.contact)])
        self.assertEqual(pres.register(expires=0).status, 200)
        self.assert_closed(self.notify(sub))


class Authorization(PresenceTestCase):
    """RFC 5025 actions set with `herald presence` while the server runs (polled about once a
    second: NOTIFYs are awaited for 3 s)."""

    def foreign_watcher(self):
        return self.watcher(domain=FOREIGN, prefix="carol")

    def test_other_domain_is_pending_until_allowed_and_block_terminates(self):
        pres, carol = self.presentity(), self.foreign_watcher()
        sub = self.subscribe(carol, pres.aor)
        self.assertEqual(sub.response.status, 200, "RFC 6665 §8.3.1: a pending subscription is answered 200 too")
        self.assert_state(self.notify(sub), "pending")
        self.assertTrue(carol.expect_nothing(0.5, "NOTIFY"))
        self.rule("allow", pres.aor, carol.aor)
        n = self.notify(sub, timeout=3.0)
        self.assert_state(n, "active")
        self.assert_closed(n)
        self.published(pres, pidf(pres.aor, note="visible"))
        self.assertEqual(self.document(self.notify(sub)).all_notes(), ["visible"])
        self.rule("block", pres.aor, carol.aor)
        n = self.notify(sub, timeout=3.0)
        self.assert_state(n, "terminated", reason="rejected")
        self.assertTrue(carol.expect_nothing(1.0, "NOTIFY"))
        # Blocked: a new subscription is refused (403) or terminated at once (rejected).
        blocked = UA(self.server, carol.user, FOREIGN)
        self.agents.append(blocked)
        sub = self.subscribe(blocked, pres.aor, expect=None)
        if sub.response.status < 300:
            self.assert_state(self.notify(sub), "terminated", reason="rejected")
        else:
            self.assertEqual(sub.response.status, 403, sub.response)

    def test_polite_block_shows_closed_even_after_the_presentity_publishes_open(self):
        pres, carol = self.presentity(), self.foreign_watcher()
        self.rule("polite-block", pres.aor, carol.aor)
        time.sleep(1.5)  # the server notices rule changes within about a second
        friend = self.watcher()
        friend_sub = self.subscribe(friend, pres.aor)
        self.notify(friend_sub)
        sub = self.subscribe(carol, pres.aor)
        n = self.notify(sub)
        self.assert_state(n, "active")
        self.assert_closed(n)
        self.published(pres, pidf(pres.aor, "open", note="here for friends"))
        self.assertEqual(self.document(self.notify(friend_sub)).all_notes(), ["here for friends"])
        for n in self.drain(sub, 1.5):
            self.assert_state(n, "active")
            doc = self.assert_closed(n)
            self.assertNotIn("here for friends", doc.all_notes())
        self.assertEqual(self.refresh(sub, 600).status, 200)
        n = self.notify(sub)
        self.assert_state(n, "active")
        self.assertNotIn("here for friends", self.assert_closed(n).all_notes())

    def test_fetch_and_subscribe_reveal_nothing_to_unauthorized_watchers(self):
        pres = self.presentity()
        self.published(pres, pidf(pres.aor, "open", note="secret"))
        carol, mallory, dave = (self.watcher(domain=FOREIGN, prefix=p) for p in ("carol", "mallory", "dave"))
        self.rule("block", pres.aor, mallory.aor)
        self.rule("polite-block", pres.aor, dave.aor)
        time.sleep(1.5)  # the server notices rule changes within about a second
        # Pending (policy confirm): a fetch ends at once, with no state.
        n = self.notify(self.subscribe(carol, pres.aor, expires=0))
        self.assert_state(n, "terminated")
        self.assertEqual(n.body, b"", n)
        # Blocked: refused, or terminated;reason=rejected with no state, fetch or not.
        for expires in (0, 600):
            sub = self.subscribe(mallory, pres.aor, expires=expires, expect=None)
            if sub.response.status >= 300:
                self.assertEqual(sub.response.status, 403, sub.response)
                continue
            n = self.notify(sub)
            self.assert_state(n, "terminated", reason="rejected")
            self.assertEqual(n.body, b"", n)
        # Politely blocked: the fetch shows closed.
        n = self.notify(self.subscribe(dave, pres.aor, expires=0))
        self.assert_state(n, "terminated")
        self.assertNotIn("secret", self.assert_closed(n).all_notes())
        # A pending watcher that unsubscribes gets a final NOTIFY without state.
        erin = self.watcher(domain=FOREIGN, prefix="erin")
        sub = self.subscribe(erin, pres.aor)
        self.assert_state(self.notify(sub), "pending")
        self.assertEqual(self.refresh(sub, 0).status, 200)
        n = self.notify(sub)
        self.assert_state(n, "terminated")
        self.assertEqual(n.body, b"", n)

    def test_domain_rule_covers_every_watcher_of_the_domain(self):
        pres, carol = self.presentity(), self.foreign_watcher()
        sub = self.subscribe(carol, pres.aor)
        self.assert_state(self.notify(sub), "pending")
        self.rule("allow", pres.aor, FOREIGN)
        self.assert_state(self.notify(sub, timeout=3.0), "active")

    def test_list_then_remove_returns_to_the_policy(self):
        pres, carol = self.presentity(), self.foreign_watcher()
        sub = self.subscribe(carol, pres.aor)
        self.assert_state(self.notify(sub), "pending")
        self.rule("allow", pres.aor, carol.aor)
        self.assert_state(self.notify(sub, timeout=3.0), "active")
        listing = herald_presence(self.server.data_dir, "list")
        self.assertEqual(listing.returncode, 0, listing.stderr)
        line = next((l for l in listing.stdout.splitlines() if mentions(l, carol.aor)), None)
        self.assertIsNotNone(line, listing.stdout)
        self.assertTrue(mentions(line, pres.aor), line)
        self.assertRegex(line, r"\ballow\b")
        self.rule("remove", pres.aor, carol.aor)
        # Back to the policy (confirm): active -> pending, no body (RFC 6665 §4.2.2).
        self.assert_state(self.notify(sub, timeout=3.0), "pending")
        listing = herald_presence(self.server.data_dir, "list")
        self.assertEqual(listing.returncode, 0, listing.stderr)
        self.assertFalse(mentions(listing.stdout, carol.aor), listing.stdout)

    def test_same_domain_watcher_is_allowed_by_default(self):
        pres, watcher = self.presentity(), self.watcher()
        self.assert_state(self.notify(self.subscribe(watcher, pres.aor)), "active")

    def test_unknown_action_is_refused_by_the_command(self):
        r = herald_presence(self.server.data_dir, "permit", f"bob@{DOMAIN}", f"carol@{FOREIGN}")
        self.assertNotEqual(r.returncode, 0)


class WatcherInformation(PresenceTestCase):
    """presence.winfo (RFC 3857) with application/watcherinfo+xml bodies (RFC 3858)."""

    def winfo(self, n):
        self.assertEqual((n.get("Content-Type") or "").split(";")[0].strip().lower(), WINFO, n)
        info = WatcherInfo(n.body)
        self.assertEqual(info.root_name, f"{{{WINFO_NS}}}watcherinfo")
        self.assertEqual(info.state, "full")
        return info

    def test_only_the_presentity_may_subscribe(self):
        pres, other = self.presentity(), self.watcher()
        sub = self.subscribe(other, pres.aor, event="presence.winfo", expect=403)
        self.assertTrue(other.expect_nothing(0.3, "NOTIFY"))
        self.assertIsNone(sub.dialog)

    def test_watchers_are_listed_as_they_come_and_go(self):
        pres = self.presentity()
        own = self.subscribe(pres, pres.aor, event="presence.winfo")
        n = self.notify(own)
        self.assert_state(n, "active")
        info = self.winfo(n)
        versions = [info.version]
        self.assertEqual(len(info.lists), 1, n)
        (resource, package), watchers = next(iter(info.lists.items()))
        self.assertEqual((uri_of(resource), package, watchers), (pres.aor, "presence", []))

        def listed(uri, status):
            def check(msg):
                entries = self.winfo(msg).entries(uri)
                return len(entries) == 1 and entries[0]["status"] == status
            return check

        alice = self.watcher(prefix="alice")
        alice_sub = self.subscribe(alice, pres.aor)
        self.notify(alice_sub)
        n = self.notify_until(own, listed(alice.aor, "active"), what=f"{alice.aor} active")
        entry = self.winfo(n).entries(alice.aor)[0]
        self.assertEqual(entry["event"], "subscribe")  # active at once (RFC 3857 §3.2.4); approved follows pending
        self.assertTrue(entry["id"])
        versions.append(self.winfo(n).version)

        carol = self.watcher(domain=FOREIGN, prefix="carol")
        carol_sub = self.subscribe(carol, pres.aor)
        self.assert_state(self.notify(carol_sub), "pending")
        n = self.notify_until(own, listed(carol.aor, "pending"), what=f"{carol.aor} pending")
        self.assertEqual(self.winfo(n).entries(carol.aor)[0]["event"], "subscribe")
        self.assertEqual(self.winfo(n).entries(alice.aor)[0]["status"], "active")
        versions.append(self.winfo(n).version)

        self.assertEqual(self.refresh(alice_sub, 0).status, 200)
        self.notify(alice_sub)
        n = self.notify_until(own, listed(alice.aor, "terminated"), what=f"{alice.aor} terminated")
        self.assertIn(self.winfo(n).entries(alice.aor)[0]["event"],
                      ("timeout", "deactivated", "probation", "rejected", "giveup", "noresource"))
        versions.append(self.winfo(n).version)

        # A later document no longer lists the watcher that left.
        self.rule("allow", pres.aor, carol.aor)
        self.assert_state(self.notify(carol_sub, timeout=3.0), "active")
        n = self.notify_until(own, listed(carol.aor, "active"), what=f"{carol.aor} approved")
        self.assertEqual(self.winfo(n).entries(carol.aor)[0]["event"], "approved")
        self.assertEqual(self.winfo(n).entries(alice.aor), [], "a terminated watcher listed twice")
        versions.append(self.winfo(n).version)
        self.assertEqual(versions, sorted(set(versions)), "RFC 3858 §4.4: the version increases")

    def test_winfo_unsubscribe(self):
        pres = self.presentity()
        own = self.subscribe(pres, pres.aor, event="presence.winfo")
        self.notify(own)
        self.assertEqual(self.refresh(own, 0).status, 200)
        self.assert_state(self.notify(own), "terminated", reason="timeout")
        alice = self.watcher(prefix="alice")
        self.notify(self.subscribe(alice, pres.aor))
        self.assertTrue(pres.expect_nothing(1.0, "NOTIFY"))


class Authenticated(PresenceTestCase):
    config = PRESENCE_CONFIG.replace('auth = "off"', 'auth = "required"')

    def test_subscribe_from_a_local_user_is_challenged_then_accepted(self):
        pres = self.presentity()
        alice = self.ua(self.fresh("alice"), register=False)
        sent = alice.request("SUBSCRIBE", pres.aor, headers=["Event: presence", "Expires: 600"])
        r = self.final(alice, "SUBSCRIBE")
        self.assertEqual(r.status, 407, r)
        self.assertIsNotNone(r.get("Proxy-Authenticate"))
        self.assertTrue(alice.expect_nothing(0.3, "NOTIFY"))
        sent = alice.authorize(sent, r)
        r = self.final(alice, "SUBSCRIBE")
        self.assert_subscribe_ok(r, 600)
        sub = Sub(alice, sent, r)
        self.assert_state(self.notify(sub), "active")
        # In-dialog refreshes are not challenged.
        self.assertEqual(self.refresh(sub, 600).status, 200)
        self.notify(sub)

    def test_publish_is_challenged_then_accepted(self):
        pres = self.presentity()
        sent, r = self.publish(pres, pidf(pres.aor, note="authenticated"))
        self.assertEqual(r.status, 407, r)
        pres.authorize(sent, r)
        r = self.final(pres, "PUBLISH")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.get("SIP-ETag"))


class Restart(PresenceTestCase):
    config = PRESENCE_CONFIG.replace("subscribe_min_expires = 60", "subscribe_min_expires = 1")

    def restart(self, down=0.0):
        """kill -9, `down` seconds without a server, then the same port and data directory."""
        self.server.proc.send_signal(signal.SIGKILL)
        self.server.proc.wait()
        self.server.log.close()
        time.sleep(down)
        type(self).server = Server(config=self.config, data_dir=self.server.data_dir, port=self.server.port)

    def test_pending_subscription_is_approved_after_kill_9(self):
        pres, carol = self.presentity(), self.watcher(domain=FOREIGN, prefix="carol")
        sub = self.subscribe(carol, pres.aor)
        self.assert_state(self.notify(sub), "pending")
        self.restart()
        self.rule("allow", pres.aor, carol.aor)
        n = self.notify(sub, timeout=4.0)
        self.assert_state(n, "active")
        self.assert_closed(n)

    def test_subscription_expired_while_down_ends_with_a_notify_at_start(self):
        pres, watcher = self.presentity(), self.watcher()
        sub = self.subscribe(watcher, pres.aor, expires=2)
        self.assert_state(self.notify(sub), "active")
        self.restart(down=3.0)
        self.assert_state(self.notify(sub, timeout=5.0), "terminated", reason="timeout")
        self.assertEqual(self.refresh(sub, 60).status, 481)

    def test_subscription_survives_kill_9(self):
        pres, watcher = self.presentity(), self.watcher()
        sub = self.subscribe(watcher, pres.aor)
        self.assert_closed(self.notify(sub))
        self.published(pres, pidf(pres.aor, "open", "before", note="before the crash"))
        self.assertEqual(self.document(self.notify(sub)).all_notes(), ["before the crash"])
        before = sub.last_cseq
        self.restart()
        self.published(pres, pidf(pres.aor, "open", "after", note="after the crash"))
        n = self.notify(sub, timeout=5.0)  # same Call-ID, tags, and a CSeq above `before`
        self.assertGreater(n.cseq[0], before)
        self.assertIn("after the crash", self.document(n).all_notes())
        self.assertEqual(self.refresh(sub, 600).status, 200, "the dialog is not known after the restart")
        self.notify(sub)

    def test_publication_survives_kill_9(self):
        pres = self.presentity()
        etag = self.published(pres, pidf(pres.aor, "open", "kept", note="still here"))
        self.restart()
        watcher = self.watcher()
        sub = self.subscribe(watcher, pres.aor)
        doc = self.document(self.notify(sub, timeout=5.0))
        self.assertEqual([(t.id, t.basic, t.note) for t in doc.tuples], [("kept", "open", "still here")])
        self.published(pres, None, etag=etag)


class SeedChebychevPoisson(PresenceTestCase):
    """seeds/000 through Herald as printed, over TCP: Chebychev subscribes to Poisson's
    presence, gets it closed, then open with Poisson's contact when Poisson registers, and
    pages him there. Restored: the colon after Via, the folded Via continuation line, real
    Content-Length values; the stray blank lines inside the SUBSCRIBE's header block are
    dropped."""

    config = PRESENCE_CONFIG.replace('domains = ["example.com"]', 'domains = ["probability.org", "academy.ru"]')
    accept = None  # the variant below asks for the seed's own NOTIFY body type
    content_type = PIDF

    def seed_subscribe(self):
        accept = f"Accept: {self.accept}\r\n" if self.accept else ""
        return ("SUBSCRIBE sip:poisson@probability.org SIP/2.0\r\n"
                "Via: SIP/2.0/TCP lecturehall21.academy.ru:5060\r\n"
                " ;branch=z9hG4bK348471123\r\n"
                "Max-Forwards: 70\r\n"
                "To: M. Poisson <sip:poisson@probability.org>\r\n"
                "From: P. L. Chebychev <sip:chebychev@academy.ru>;tag=21171\r\n"
                "Call-ID: 58dkfj34924lk34452k592520\r\n"
                "CSeq: 3412 SUBSCRIBE\r\n"
                "Allow-Events: presence\r\n"
                "Allow: ACK, INVITE, CANCEL, BYE, NOTIFY, SUBSCRIBE, MESSAGE\r\n"
                "Contact: <sip:pafnuty@lecturehall21.academy.ru;transport=tcp>\r\n"
                "Event: presence\r\n"
                f"{accept}"
                "Content-Length: 0\r\n"
                "\r\n")

    def answer_notify(self, chebychev, notify, herald_tag):
        """Chebychev's 200 to a NOTIFY as printed (Via, tag and CSeq those of the NOTIFY)."""
        raw = ("SIP/2.0 200 OK\r\n" + "".join(f"Via: {v}\r\n" for v in notify.all("Via")) +
               "To: P. L. Chebychev <sip:chebychev@academy.ru>;tag=21171\r\n"
               f"From: M. Poisson <sip:poisson@probability.org>;tag={herald_tag}\r\n"
               "Call-ID: 58dkfj34924lk34452k592520\r\n"
               f"CSeq: {notify.cseq[0]} NOTIFY\r\n"
               "Content-Length: 0\r\n\r\n").encode()
        chebychev.send(raw)
        chebychev.replied[notify.transaction_key()] = raw

    def assert_seed_notify(self, sub, n, expires_at_most=3600):
        self.assert_in_dialog(sub, n)  # R-URI, Call-ID, tags, CSeq order, Contact, Max-Forwards
        self.assertEqual(n.uri, "sip:pafnuty@lecturehall21.academy.ru;transport=tcp")
        self.assertEqual(uri_of(n.get("From")), "sip:poisson@probability.org")
        self.assertEqual(n.to_tag, "21171")
        self.assertEqual(n.call_id, "58dkfj34924lk34452k592520")
        self.assertEqual(n.get("Event").strip().lower(), "presence")
        self.assertTrue(n.vias()[0].startswith("SIP/2.0/TCP"), n.vias())
        expires = int(self.assert_state(n, "active", max_expires=expires_at_most)["expires"])
        self.assertGreaterEqual(expires, 3500)
        doc = self.document(n, self.content_type)
        self.assertTrue(doc.entity.endswith("poisson@probability.org"), doc.entity)
        return doc

    def test_chebychev_watches_poisson_sign_in_and_pages_him(self):
        for user, domain in (("poisson", "probability.org"), ("chebychev", "academy.ru")):
            self.account(user, domain)
        self.rule("allow", "poisson@probability.org", "chebychev@academy.ru")
        time.sleep(1.5)  # the server notices rule changes within about a second
        chebychev = UA(self.server, "chebychev", "academy.ru", "tcp")
        poisson = UA(self.server, "poisson", "probability.org", "tcp")
        self.agents += [chebychev, poisson]

        raw = self.seed_subscribe()
        chebychev.send(raw)
        r = chebychev.recv_response(3.0, final=True, method="SUBSCRIBE")
        self.assertIsNotNone(r, "no answer to the seed's SUBSCRIBE")
        self.assert_subscribe_ok(r)
        self.assertEqual(int(r.get("Expires")), 3600)
        self.assertEqual(param(r.vias()[0], "branch"), "z9hG4bK348471123")
        self.assertEqual((r.call_id, r.get("CSeq"), r.from_tag), ("58dkfj34924lk34452k592520", "3412 SUBSCRIBE", "21171"))
        self.assertEqual(uri_of(r.get("To")), "sip:poisson@probability.org")
        sub = Sub(chebychev, Message(raw.encode()), r)

        n = chebychev.recv_request(3.0, method="NOTIFY")
        self.assertIsNotNone(n, "no NOTIFY on Chebychev's connection")
        doc = self.assert_seed_notify(sub, n)
        self.assertEqual(doc.basics(), ["closed"], n)
        self.answer_notify(chebychev, n, r.to_tag)

        self.assertEqual(poisson.register(contact="sip:s.possion@dist.probability.org;transport=tcp").status, 200)
        n = chebychev.recv_request(3.0, method="NOTIFY")
        self.assertIsNotNone(n, "no NOTIFY when Poisson signed in")
        doc = self.assert_seed_notify(sub, n)
        self.assertEqual([(t.basic, t.contact) for t in doc.tuples],
                         [("open", "sip:s.possion@dist.probability.org;transport=tcp")], n)
        self.answer_notify(chebychev, n, r.to_tag)
        self.assertTrue(chebychev.expect_nothing(0.5, "NOTIFY"))

        # The IM exchange at the end of the seed, to the contact the NOTIFY gave.
        self.assertEqual(chebychev.register(contact="sip:pafnuty@lecturehall21.academy.ru;transport=tcp").status, 200)
        chebychev.send(test_im.Seed.CHEBYCHEV_MESSAGE)
        got = poisson.recv_request(3.0, method="MESSAGE")
        self.assertIsNotNone(got, "Chebychev's MESSAGE did not reach Poisson")
        self.assertTrue(got.uri.startswith(doc.tuples[0].contact.split(";")[0]), got.uri)
        self.assertEqual(got.body, b"Hi There!")
        poisson.send("SIP/2.0 200 OK\r\n" + "".join(f"Via: {v}\r\n" for v in got.all("Via")) +
                     "To: M. Poisson <sip:s.possion@dist.probability.org>;tag=2321\r\n"
                     "From: P. L. Chebychev <sip:chebychev@academy.ru>;tag=4542\r\n"
                     "Call-ID: 9dkei93vjq1ei3\r\n"
                     "CSeq: 15 MESSAGE\r\n"
                     "Content-Length: 0\r\n\r\n")
        answer = chebychev.recv_response(3.0, final=True, method="MESSAGE")
        self.assertIsNotNone(answer, "Poisson's 200 did not reach Chebychev")
        self.assertEqual((answer.status, answer.to_tag), (200, "2321"))

        poisson.send(test_im.Seed.POISSON_MESSAGE)
        got = chebychev.recv_request(3.0, method="MESSAGE")
        self.assertIsNotNone(got, "Poisson's MESSAGE did not reach Chebychev")
        self.assertEqual(got.body, b"Well, hello there to you, too!")
        chebychev.send("SIP/2.0 200 OK\r\n" + "".join(f"Via: {v}\r\n" for v in got.all("Via")) +
                       "To: P. L. Chebychev <sip:chebychev@academy.ru>;tag=mc3bg5q77wms\r\n"
                       "From: M. Poisson <sip:s.possion@dist.probability.org>;tag=14083\r\n"
                       "Call-ID: lk34452k592520\r\n"
                       "CSeq: 2321 MESSAGE\r\n"
                       "Content-Length: 0\r\n\r\n")
        answer = poisson.recv_response(3.0, final=True, method="MESSAGE")
        self.assertIsNotNone(answer, "Chebychev's 200 did not reach Poisson")
        self.assertEqual((answer.status, answer.to_tag), (200, "mc3bg5q77wms"))


class SeedChebychevPoissonCpimPidf(SeedChebychevPoisson):
    """The same, with Accept naming the seed's NOTIFY body type: the NOTIFYs carry
    application/cpim-pidf+xml in the cpim-pidf namespace, as printed."""

    accept = CPIM_PIDF
    content_type = CPIM_PIDF


class SeedPresentityExample(PresenceTestCase):
    """seeds/002 through Herald as printed, over UDP. The one necessary change: the watcher's
    and the publisher's sent-by and the watcher's Contact carry the port of the test's socket
    (host.example.com and pua.example.com resolve to 127.0.0.1 through the hosts file), since
    nothing of the test listens on 5060. publish_max_expires = 1800 makes the PUBLISH's 200
    say Expires: 1800 as printed."""

    @classmethod
    def setUpClass(cls):
        with tempfile.NamedTemporaryFile("w", prefix="herald-hosts-", delete=False) as f:
            f.write("127.0.0.1 host.example.com\n127.0.0.1 pua.example.com\n")
            cls.hosts_path = f.name
        cls.config = (PRESENCE_CONFIG.replace("publish_max_expires = 3600", "publish_max_expires = 1800")
                      .replace("record_route = true", f'record_route = true\nhosts_file = "{cls.hosts_path}"'))
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            os.unlink(cls.hosts_path)

    BODY = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<presence xmlns="urn:ietf:params:xml:ns:pidf"\n'
            '          entity="pres:presentity@example.com">\n'
            '  <tuple id="mobile-im">\n'
            '    <status>\n'
            '      <basic>open</basic>\n'
            '    </status>\n'
            '    <contact priority="0.8">im:presentity@mobile.example.com</contact>\n'
            '    <note xml:lang="en">Ready to chat</note>\n'
            '  </tuple>\n'
            '</presence>\n')

    def test_subscribe_notify_publish_notify(self):
        self.account("presentity")
        watcher = UA(self.server, "user", "host.example.com")
        pua = UA(self.server, "presentity", DOMAIN)
        self.agents += [watcher, pua]
        port = watcher.port

        raw = ("SUBSCRIBE sip:presentity@example.com SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP host.example.com:{port};branch=z9hG4bKnashds7\r\n"
               "To: <sip:presentity@example.com>\r\n"
               "From: <sip:watcher@example.com>;tag=12341234\r\n"
               "Call-ID: 12345678@host.example.com\r\n"
               "CSeq: 1 SUBSCRIBE\r\n"
               "Max-Forwards: 70\r\n"
               "Expires: 3600\r\n"
               "Event: presence\r\n"
               f"Contact: sip:user@host.example.com:{port}\r\n"
               "Content-Length: 0\r\n"
               "\r\n")
        watcher.send(raw)
        r = watcher.recv_response(3.0, final=True, method="SUBSCRIBE")
        self.assertIsNotNone(r, "no answer to the seed's SUBSCRIBE")
        self.assert_subscribe_ok(r)
        self.assertEqual(int(r.get("Expires")), 3600)
        self.assertEqual((r.call_id, r.get("CSeq"), r.from_tag), ("12345678@host.example.com", "1 SUBSCRIBE", "12341234"))
        self.assertEqual(param(r.vias()[0], "branch"), "z9hG4bKnashds7")
        self.assertEqual(param(r.vias()[0], "received"), "127.0.0.1")
        sub = Sub(watcher, Message(raw.encode()), r)
        herald_tag = r.to_tag

        n = watcher.recv_request(3.0, method="NOTIFY")
        self.assertIsNotNone(n, "no NOTIFY to sip:user@host.example.com")
        self.assert_in_dialog(sub, n)
        self.assertEqual(n.uri, f"sip:user@host.example.com:{port}")
        self.assertEqual(n.call_id, "12345678@host.example.com")
        self.assertEqual((n.to_tag, uri_of(n.get("To"))), ("12341234", "sip:watcher@example.com"))
        self.assertEqual(uri_of(n.get("From")), "sip:presentity@example.com")
        expires = int(self.assert_state(n, "active", max_expires=3600)["expires"])
        self.assertGreaterEqual(expires, 3500)
        self.document(n, PIDF)

        def answer(notify):
            # The 200 as printed (no Content-Length: optional over UDP, RFC 3261 §20.14).
            raw = ("SIP/2.0 200 OK\r\n" + "".join(f"Via: {v}\r\n" for v in notify.all("Via")) +
                   "To: <sip:watcher@example.com>;tag=12341234\r\n"
                   f"From: <sip:presentity@example.com>;tag={herald_tag}\r\n"
                   "Call-ID: 12345678@host.example.com\r\n"
                   f"CSeq: {notify.cseq[0]} NOTIFY\r\n"
                   "\r\n").encode()
            watcher.send(raw)
            watcher.replied[notify.transaction_key()] = raw

        answer(n)
        self.assertTrue(watcher.expect_nothing(1.0, "NOTIFY"), "an unexpected second NOTIFY")

        body = self.BODY.encode()
        publish = ("PUBLISH sip:presentity@example.com SIP/2.0\r\n"
                   f"Via: SIP/2.0/UDP pua.example.com:{pua.port};branch=z9hG4bK652hsge\r\n"
                   "To: <sip:presentity@example.com>\r\n"
                   "From: <sip:presentity@example.com>;tag=1234wxyz\r\n"
                   "Call-ID: 81818181@pua.example.com\r\n"
                   "CSeq: 1 PUBLISH\r\n"
                   "Max-Forwards: 70\r\n"
                   "Expires: 3600\r\n"
                   "Event: presence\r\n"
                   "Content-Type: application/pidf+xml\r\n"
                   f"Content-Length: {len(body)}\r\n"
                   "\r\n").encode() + body
        pua.send(publish)
        r = pua.recv_response(3.0, final=True, method="PUBLISH")
        self.assertIsNotNone(r, "no answer to the seed's PUBLISH")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.get("SIP-ETag"), r)
        self.assertEqual(r.get("Expires"), "1800")
        self.assertTrue(r.to_tag, "RFC 3261 §8.2.6.2: a To tag on the response")
        self.assertEqual((r.call_id, r.get("CSeq"), r.from_tag), ("81818181@pua.example.com", "1 PUBLISH", "1234wxyz"))
        self.assertEqual(param(r.vias()[0], "branch"), "z9hG4bK652hsge")

        n = watcher.recv_request(3.0, method="NOTIFY")
        self.assertIsNotNone(n, "no NOTIFY after the PUBLISH")
        self.assert_in_dialog(sub, n)
        doc = self.document(n, PIDF)
        self.assertEqual([(t.id, t.basic, t.contact, t.note) for t in doc.tuples],
                         [("mobile-im", "open", "im:presentity@mobile.example.com", "Ready to chat")])
        answer(n)


@unittest.skipUnless(shutil.which("sipp"), "sipp not installed")
class Sipp(PresenceTestCase):
    """SIPp as watcher and as publisher, 20 calls at 10 per second: one watcher user and one
    presentity for all calls, each call its own dialog or publication."""

    def test_sipp_watcher_subscribes_and_unsubscribes(self):
        presentity = self.fresh("sipppres")
        self.account(presentity)
        uac = sipp("subscribe_uac.xml", "-p", "0", "-m", "20", "-r", "10", "-s", presentity, "-set", "domain", DOMAIN,
                   "-set", "watcher", self.fresh("sippwatcher"), f"127.0.0.1:{self.server.port}")
        code, out = finish(uac)
        self.assertEqual(code, 0, "SIPp watcher:\n" + out[-3000:])

    def test_sipp_publisher_publishes_refreshes_and_removes(self):
        presentity = self.fresh("sipppres")
        self.account(presentity)
        uac = sipp("publish_uac.xml", "-p", "0", "-m", "20", "-r", "10", "-s", presentity, "-set", "domain", DOMAIN,
                   f"127.0.0.1:{self.server.port}")
        code, out = finish(uac)
        self.assertEqual(code, 0, "SIPp publisher:\n" + out[-3000:])
        # Every publication was removed: a watcher sees the presentity closed.
        watcher = self.watcher()
        sub = self.subscribe(watcher, f"sip:{presentity}@{DOMAIN}")
        doc = self.assert_closed(self.notify(sub))
        self.assertFalse([t for t in doc.tuples if (t.id or "").startswith("sipp-")], doc.tuples)


if __name__ == "__main__":
    unittest.main()
