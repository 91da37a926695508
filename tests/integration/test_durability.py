"""kill -9 under load: REGISTER, PUBLISH, SUBSCRIBE and MESSAGE run at a steady rate while
the server is killed with SIGKILL and restarted on the same port and data directory, four
times, each time just after a batch of one of the four was sent (so that it is in flight,
perhaps committed but not yet answered). Everything Herald acknowledged (a 2xx; 202 for a
stored MESSAGE) must be there after each restart:

- bindings: a REGISTER without Contact for each AOR lists every acknowledged contact with a
  positive expiry;
- publications: a fetch (SUBSCRIBE with Expires: 0) of each presentity shows, for each of
  its acknowledged publications, the note of the last acknowledged PUBLISH (or of a later
  one that was in flight at the kill);
- subscriptions: a new state published for each presentity after the restart reaches every
  acknowledged subscription in a NOTIFY in its dialog (Call-ID, tags, Contact, CSeq above
  every earlier NOTIFY of the dialog, active);
- stored messages: after each restart one group of recipients registers and receives every
  MESSAGE acknowledged with 202 for it exactly once, in the order they were accepted.

Requests in flight at a kill may be lost: only acknowledged ones are asserted (an unanswered
one may or may not have taken effect). Auth is off to keep the load cheap (digest is covered
by test_registrar and test_security_auth); every socket is on 127.0.0.1, which is trusted,
so no per-source budget interferes. [timers] t1 = 100 keeps NOTIFY retransmissions short.

One thread reads every client socket (answers each NOTIFY and MESSAGE with 200 at once, so
that no subscription ends for want of an answer, and hands each final response to the
request waiting for it); one thread per method sends batches of requests back to back at a
fixed rate and waits for their answers. Each cycle prints one line with what was
acknowledged and what was verified. A run takes about 40 s."""

import os
import re
import selectors
import shutil
import subprocess
import tempfile
import threading
import time
import unittest
import xml.etree.ElementTree as ET

from harness import HERALD, Server, free_port
from ua import UA, Message, param, split_values, uri_of

DOMAIN = "example.com"
CONFIG = """domains = ["example.com"]
auth = "off"
[registrar]
min_expires = 1
[im]
retry_interval = 2
[timers]
t1 = 100
"""

# Each cycle kills the server just after a batch of one kind was sent, in this order.
KILL_AFTER = ["REGISTER", "PUBLISH", "SUBSCRIBE", "MESSAGE"]
CYCLES = len(KILL_AFTER)
LOAD_SECONDS = 3.0           # load before each kill
LOAD_AFTER_RESTART = 0.5     # load goes on this long against the restarted server
RATE = {"REGISTER": 25, "PUBLISH": 25, "SUBSCRIBE": 15, "MESSAGE": 25}  # requests a second
BATCH = 5                    # requests sent back to back, then their answers awaited
REQUEST_TIMEOUT = 2.0        # a load request unanswered by then counts as in flight
EXPIRES = 3600

REG_USERS = [f"reg{i}" for i in range(8)]
PRESENTITIES = [f"pres{i}" for i in range(24)]
RECIPIENT_GROUPS = [[f"inbox{g}{i}" for i in range(3)] for g in range(CYCLES)]  # drained after restart g+1
SENDERS = 16                 # From AORs of the MESSAGEs (im.max_per_sender is per sender and recipient)
WATCHER_SOCKETS = 4


def pidf(entity, tuple_id, note):
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="{entity}">\n'
            f'  <tuple id="{tuple_id}">\n    <status><basic>open</basic></status>\n'
            f"    <note>{note}</note>\n  </tuple>\n</presence>\n").encode()


def notes_of(body):
    """Every <note> of a PIDF document, wherever it sits."""
    if not body:
        return set()
    root = ET.fromstring(body)
    return {(e.text or "").strip() for e in root.iter() if e.tag.split("}")[-1] == "note"}


class Target:
    """Where the endpoints send: the server's address, which survives its restarts."""

    def __init__(self, host, port):
        self.host, self.port = host, port


class Pending:
    """A request sent and the final response to it, whenever that comes (`at`: monotonic)."""

    def __init__(self, sent):
        self.sent = sent
        self.response = None
        self.at = None
        self.event = threading.Event()

    @property
    def status(self):
        return None if self.response is None else self.response.status


class Network(threading.Thread):
    """Reads every endpoint's socket. A request (NOTIFY, MESSAGE) is answered 200 at once
    and recorded (a retransmission gets the same answer again and is not recorded twice;
    a request of another method is answered 200 and not recorded);
    a final response goes to the Pending with its Via branch."""

    def __init__(self):
        super().__init__(daemon=True)
        self.selector = selectors.DefaultSelector()
        self.cond = threading.Condition()
        self.pending = {}          # branch -> Pending; guarded by cond
        self.notifies = {}         # Call-ID -> [(endpoint, NOTIFY)] in arrival order; guarded by cond
        self.messages = {}         # user -> [MESSAGE] in arrival order; guarded by cond
        self.errors = []
        self.stopping = threading.Event()

    def add(self, endpoint):
        """Before start() only: the selector is not shared with a running thread."""
        endpoint.sock.setblocking(False)
        self.selector.register(endpoint.sock, selectors.EVENT_READ, endpoint)

    def run(self):
        while not self.stopping.is_set():
            for key, _ in self.selector.select(0.1):
                endpoint = key.data
                while True:
                    try:
                        data, source = endpoint.sock.recvfrom(70000)
                    except ConnectionRefusedError:
                        continue  # ICMP port unreachable for an earlier send to the dead server
                    except OSError:
                        break  # nothing more to read now
                    try:
                        self.dispatch(endpoint, data, source)
                    except Exception as e:  # noqa: BLE001 - reported by the test
                        self.errors.append(f"{e!r} on {data[:300]!r}")

    def dispatch(self, endpoint, data, source):
        if not data.strip():
            return
        msg = Message(data, source)
        if msg.is_request:
            key = msg.transaction_key()
            if key in endpoint.replied:
                if endpoint.replied[key] is not None:
                    endpoint.send(endpoint.replied[key], endpoint._reply_address(msg))
                return
            endpoint.replied[key] = None
            endpoint.reply(msg, 200)
            with self.cond:
                if msg.method == "NOTIFY":
                    self.notifies.setdefault(msg.call_id, []).append((endpoint, msg))
                elif msg.method == "MESSAGE":
                    self.messages.setdefault(endpoint.user, []).append(msg)
                self.cond.notify_all()
        elif msg.status >= 200:
            with self.cond:
                p = self.pending.get(msg.branch)
                if p is not None and p.response is None:
                    p.response, p.at = msg, time.monotonic()
                    p.event.set()

    def send_request(self, endpoint, method, uri, **kw):
        """Sends a request; its Pending gets the final response whenever it comes."""
        sent = endpoint.request(method, uri, send=False, **kw)
        p = Pending(sent)
        with self.cond:
            self.pending[sent.branch] = p
        try:
            endpoint.send(sent.raw)
        except OSError:
            pass
        return p

    def transact(self, endpoint, method, uri, timeout=REQUEST_TIMEOUT, **kw):
        """Sends a request and waits up to `timeout` for its final response."""
        p = self.send_request(endpoint, method, uri, **kw)
        p.event.wait(timeout)
        return p

    def wait_for(self, predicate, timeout):
        with self.cond:
            return self.cond.wait_for(predicate, timeout)

    def notifies_of(self, call_id):
        with self.cond:
            return list(self.notifies.get(call_id, []))

    def messages_of(self, user):
        with self.cond:
            return list(self.messages.get(user, []))


# -- what was acknowledged ----------------------------------------------------------------
# Each model is changed only by its load thread while the load runs and by the test's own
# thread between loads (the threads are joined first).

class Load:
    """A kind of request sent in batches: `step` sends one batch back to back (so that the
    writes of several requests meet in Herald's store at once), tells `cue`, then waits for
    the answers and accounts for each."""

    kind = ""

    def __init__(self, net):
        self.net = net
        self.n = 0
        self.cue = None
        self.unexpected = []

    def batch(self, cycle):
        """[(Pending, context)] of one batch, sent."""
        raise NotImplementedError

    def account(self, p, context, cycle):
        raise NotImplementedError

    def step(self, cycle):
        sent = self.batch(cycle)
        if self.cue is not None:
            self.cue(self.kind)
        deadline = time.monotonic() + REQUEST_TIMEOUT
        for p, _ in sent:
            p.event.wait(max(deadline - time.monotonic(), 0))
        for p, context in sent:
            self.account(p, context, cycle)


class Registrations(Load):
    kind = "REGISTER"

    def __init__(self, net, endpoint):
        super().__init__(net)
        self.endpoint = endpoint
        self.acked = {}        # (user, contact) -> (cycle, monotonic time of the 200, Call-ID)
        self.unanswered = []   # (Pending, (user, contact), cycle)

    def send(self, user, contact, endpoint=None):
        return self.net.send_request(endpoint or self.endpoint, "REGISTER", f"sip:{DOMAIN}",
                                     to=f"<sip:{user}@{DOMAIN}>", from_=f"<sip:{user}@{DOMAIN}>",
                                     headers=[f"Contact: <{contact}>", f"Expires: {EXPIRES}"])

    def batch(self, cycle):
        out = []
        for _ in range(BATCH):
            self.n += 1
            user = REG_USERS[self.n % len(REG_USERS)]
            contact = f"sip:{user}-{cycle}-{self.n}@127.0.0.1:{20000 + self.n}"
            out.append((self.send(user, contact), (user, contact)))
        return out

    def account(self, p, context, cycle, late=False):
        user, contact = context
        if p.status is None:
            self.unanswered.append((p, context, cycle))
        elif p.status == 200:
            self.acked[(user, contact)] = (cycle, p.at, p.sent.call_id)
        elif not late:
            self.unexpected.append(f"REGISTER {contact} for {user}: {p.status} {p.response.reason}")

    def settle(self):
        """Answers that came after their request's timeout count as acknowledgements too."""
        still, self.unanswered = self.unanswered, []
        for p, context, cycle in still:
            self.account(p, context, cycle, late=True)


class Publication:
    """One publication of a presentity as its publisher knows it: the entity-tag of the last
    2xx (None once unknown: never acknowledged, or 412), the note of the last acknowledged
    PUBLISH and those sent after it without an answer (one of which may have taken effect)."""

    def __init__(self, tuple_id):
        self.tuple_id = tuple_id
        self.etag = None
        self.acked_note = None
        self.acked_at = None
        self.call_id = None
        self.unanswered_notes = []


class Presentity:
    def __init__(self, user):
        self.user = user
        self.aor = f"sip:{user}@{DOMAIN}"
        self.publications = []
        self.current = None   # the publication the next PUBLISH modifies; None: a new one


class Publications(Load):
    """PUBLISHes, one batch to distinct presentities (two modifies of one publication in
    flight at once would race for its entity-tag)."""

    kind = "PUBLISH"

    def __init__(self, net, endpoint):
        super().__init__(net)
        self.endpoint = endpoint
        self.presentities = [Presentity(u) for u in PRESENTITIES]
        self.acked_at = []     # monotonic times of the 200s
        self.unanswered = 0

    def send(self, pres, note):
        """A PUBLISH of `note` for `pres`: modifies its current publication, or starts one."""
        self.n += 1
        pub = pres.current
        if pub is None:
            pub = Publication(f"t{self.n}")
            pres.publications.append(pub)
            pres.current = pub
        headers = ["Event: presence", f"Expires: {EXPIRES}"] + ([f"SIP-If-Match: {pub.etag}"] if pub.etag else [])
        p = self.net.send_request(self.endpoint, "PUBLISH", pres.aor, from_=f"<{pres.aor}>", headers=headers,
                                  body=pidf(pres.aor, pub.tuple_id, note), content_type="application/pidf+xml")
        return p, (pres, pub, note)

    def batch(self, cycle):
        first = self.n
        return [self.send(self.presentities[(first + i) % len(self.presentities)], f"note-{cycle}-{first + i + 1}")
                for i in range(BATCH)]

    def account(self, p, context, cycle):
        pres, pub, note = context
        if p.status is None:
            self.unanswered += 1
            pub.unanswered_notes.append(note)
            if pub.etag is None:
                pres.current = None  # it may exist, under an entity-tag never seen
        elif p.status == 200 and p.response.get("SIP-ETag"):
            self.acked_at.append(p.at)
            pub.etag, pub.acked_note, pub.acked_at, pub.call_id = p.response.get("SIP-ETag"), note, p.at, p.sent.call_id
            pub.unanswered_notes = []
        elif p.status == 412:
            # The entity-tag moved on: legitimate only when a modify went unanswered (it took
            # effect and its 200 was lost); else the publication was lost.
            if not pub.unanswered_notes:
                self.unexpected.append(f"PUBLISH for {pres.aor} with SIP-If-Match {pub.etag} (last acknowledged note "
                                       f"{pub.acked_note!r}, Call-ID {pub.call_id}): 412 though no modify was lost")
            pub.etag = None
            pres.current = None
        else:
            self.unexpected.append(f"PUBLISH for {pres.aor}: {p.status} {p.response.reason}")

    def publish(self, pres, note):
        """One PUBLISH, waited for and accounted; returns its Pending."""
        p, context = self.send(pres, note)
        p.event.wait(5)
        self.account(p, context, None)
        return p


class Sub:
    def __init__(self, pres, sent, response, cycle):
        self.pres, self.sent, self.response, self.cycle = pres, sent, response, cycle
        self.call_id = sent.call_id
        self.contact = uri_of(sent.get("Contact"))
        self.acked_at = None


class Subscriptions(Load):
    kind = "SUBSCRIBE"

    def __init__(self, net, watchers, presentities):
        super().__init__(net)
        self.watchers, self.presentities = watchers, presentities
        self.acked = []        # Sub
        self.unanswered = []   # (Pending, Presentity, cycle)

    def batch(self, cycle):
        out = []
        for _ in range(BATCH):
            self.n += 1
            watcher = self.watchers[self.n % len(self.watchers)]
            pres = self.presentities[(self.n * 5) % len(self.presentities)]
            # A From AOR of its own for each: presence.max_subscriptions_per_watcher.
            p = self.net.send_request(watcher, "SUBSCRIBE", pres.aor, from_=f"<sip:w{cycle}x{self.n}@{DOMAIN}>",
                                      headers=["Event: presence", f"Expires: {EXPIRES}"])
            out.append((p, pres))
        return out

    def account(self, p, pres, cycle, late=False):
        if p.status is None:
            self.unanswered.append((p, pres, cycle))
        elif p.status in (200, 202) and p.response.to_tag:
            sub = Sub(pres, p.sent, p.response, cycle)
            sub.acked_at = p.at
            self.acked.append(sub)
        elif not late:
            self.unexpected.append(f"SUBSCRIBE to {pres.aor} (Call-ID {p.sent.call_id}): {p.status} "
                                   f"{p.response.reason}")

    def settle(self):
        still, self.unanswered = self.unanswered, []
        for p, pres, cycle in still:
            self.account(p, pres, cycle, late=True)


class Messages(Load):
    """MESSAGEs for users who are offline (202, stored), one batch to distinct recipients so
    that each recipient's messages have one acceptance order."""

    kind = "MESSAGE"

    def __init__(self, net, endpoint):
        super().__init__(net)
        self.endpoint = endpoint
        self.targets = [u for group in RECIPIENT_GROUPS for u in group]
        self.acked = {}        # recipient -> [(body, monotonic time of the 202, Call-ID)] in acceptance order
        self.late = {}         # recipient -> {body}: 202s that came after the timeout
        self.unanswered = []   # (Pending, (recipient, body), cycle)

    def batch(self, cycle):
        out = []
        first = self.n
        for i in range(min(BATCH, len(self.targets))):
            self.n += 1
            recipient = self.targets[(first + i) % len(self.targets)]
            body = f"msg-{cycle}-{self.n}"
            p = self.net.send_request(self.endpoint, "MESSAGE", f"sip:{recipient}@{DOMAIN}",
                                      from_=f"<sip:sender{self.n % SENDERS}@{DOMAIN}>", body=body,
                                      content_type="text/plain")
            out.append((p, (recipient, body)))
        return out

    def account(self, p, context, cycle):
        recipient, body = context
        if p.status is None:
            self.unanswered.append((p, context, cycle))
        elif p.status == 202:
            self.acked.setdefault(recipient, []).append((body, p.at, p.sent.call_id))
        else:
            self.unexpected.append(f"MESSAGE {body} for {recipient}: {p.status} {p.response.reason}")

    def settle(self):
        still, self.unanswered = self.unanswered, []
        for p, (recipient, body), cycle in still:
            if p.status == 202:
                self.late.setdefault(recipient, set()).add(body)
            elif p.status is None:
                self.unanswered.append((p, (recipient, body), cycle))


class KillCue:
    """Called by the load threads once a batch is sent; when armed for that kind it tells
    the test, which kills the server at once: that batch is in flight at the kill."""

    def __init__(self):
        self.kind = None
        self.sent = threading.Event()

    def arm(self, kind):
        self.sent.clear()
        self.kind = kind

    def __call__(self, kind):
        if kind == self.kind:
            self.kind = None
            self.sent.set()


def run_paced(stop, load, cycle, errors):
    """Sends `load`'s batches at its rate until `stop`; a batch late for its slot (it waited
    for answers that never came) is not made up for by a burst."""
    interval = BATCH / RATE[load.kind]
    next_at = time.monotonic()
    try:
        while not stop.is_set():
            load.step(cycle)
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                stop.wait(delay)
            else:
                next_at = time.monotonic()
    except Exception as e:  # noqa: BLE001 - reported by the test
        errors.append(f"{load.kind} load: {e!r}")


class KillUnderLoad(unittest.TestCase):
    def setUp(self):
        self.data_dir = tempfile.mkdtemp(prefix="herald-it-durability-")
        self.port = free_port()
        self.logs = []
        self.server = None
        users = REG_USERS + PRESENTITIES + [u for g in RECIPIENT_GROUPS for u in g]
        self.add_users(users)
        self.target = Target("127.0.0.1", self.port)
        self.net = Network()
        self.endpoints = []

        def endpoint(user):
            e = UA(self.target, user, DOMAIN)
            self.net.add(e)
            self.endpoints.append(e)
            return e

        self.registrar_client = endpoint("registrar-client")
        self.publisher = endpoint("publisher")
        self.fetcher = endpoint("fetcher")
        self.watchers = [endpoint(f"watcher{i}") for i in range(WATCHER_SOCKETS)]
        self.sender = endpoint("sender")
        self.recipients = {u: endpoint(u) for g in RECIPIENT_GROUPS for u in g}
        self.net.start()

    def tearDown(self):
        if hasattr(self, "stop_load"):
            self.stop_load.set()
        self.net.stopping.set()
        self.net.join(5)
        for e in self.endpoints:
            e.close()
        if self.server is not None and self.server.alive():
            self.server.stop()
        if getattr(self, "passed", False):
            shutil.rmtree(self.data_dir, ignore_errors=True)  # kept when the test fails, for its logs

    def add_users(self, users):
        """`herald user add` for each, three at a time (the first alone: it creates the database)."""
        def add(batch):
            procs = [subprocess.Popen([HERALD, "user", "add", f"{u}@{DOMAIN}", "--password", "secret", "--data-dir",
                                       self.data_dir], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                     for u in batch]
            for u, proc in zip(batch, procs):
                out, _ = proc.communicate(timeout=60)
                self.assertEqual(proc.returncode, 0, f"herald user add {u}: {out}")
        add(users[:1])
        for i in range(1, len(users), 3):
            add(users[i:i + 3])

    def start_server(self):
        self.server = Server(config=CONFIG, data_dir=self.data_dir, port=self.port)
        self.logs.append(self.server.log_path)

    def kill_server(self):
        """SIGKILL; returns the monotonic time just before it."""
        self.assertTrue(self.server.alive(), "herald died under load:\n" + self.server.log_text()[-4000:])
        at = time.monotonic()
        self.server.proc.kill()
        self.server.proc.wait(10)
        self.server.log.close()
        return at

    def log_lines(self, needle, limit=6):
        """The server's log lines (every run so far) that contain `needle`."""
        out = []
        for path in self.logs:
            with open(path, errors="replace") as f:
                out += [f"{os.path.basename(path)}: {line.rstrip()}" for line in f if needle in line]
        return "\n      ".join(out[-limit:]) or "(no log line)"

    def restored(self):
        text = self.server.log_text()
        found = {}
        for name, pattern in (("bindings", r"(\d+) binding\(s\) restored"),
                              ("subscriptions", r"(\d+) stored subscriptions restored"),
                              ("publications", r"(\d+) publications loaded"),
                              ("users with stored messages", r"(\d+) users have stored messages")):
            m = re.search(pattern, text)
            found[name] = int(m.group(1)) if m else 0
        return ", ".join(f"{v} {k}" for k, v in found.items())

    # -- the test -------------------------------------------------------------------------------

    def test_kill_9_under_load_keeps_everything_acknowledged(self):
        started = time.monotonic()
        self.start_server()
        regs = Registrations(self.net, self.registrar_client)
        pubs = Publications(self.net, self.publisher)
        subs = Subscriptions(self.net, self.watchers, pubs.presentities)
        msgs = Messages(self.net, self.sender)
        self.models = regs, pubs, subs, msgs
        cue = KillCue()
        for load in self.models:
            load.cue = cue
        self.drained = []           # recipients registered and checked so far
        for cycle in range(1, CYCLES + 1):
            errors = []
            stop = self.stop_load = threading.Event()
            threads = [threading.Thread(target=run_paced, args=(stop, load, cycle, errors), daemon=True)
                       for load in self.models]
            began = time.monotonic()
            for t in threads:
                t.start()
            time.sleep(LOAD_SECONDS)
            cue.arm(KILL_AFTER[cycle - 1])
            cue.sent.wait(3)
            killed_at = self.kill_server()

            def between(at):
                return at is not None and began <= at < killed_at

            before = {  # acknowledged in this cycle's load, before its kill
                "REGISTER": sum(1 for (_, at, _) in regs.acked.values() if between(at)),
                "PUBLISH": sum(1 for at in pubs.acked_at if between(at)),
                "SUBSCRIBE": sum(1 for s in subs.acked if between(s.acked_at)),
                "MESSAGE": sum(1 for v in msgs.acked.values() for (_, at, _) in v if between(at)),
            }
            time.sleep(0.2)  # the load goes on against nothing: these requests are lost
            self.start_server()
            time.sleep(LOAD_AFTER_RESTART)
            stop.set()
            for t in threads:
                t.join(REQUEST_TIMEOUT + 5)
                self.assertFalse(t.is_alive(), "a load thread did not stop")
            self.assertEqual(errors, [])
            regs.settle()
            subs.settle()
            msgs.settle()
            unanswered = {"REGISTER": len(regs.unanswered), "PUBLISH": pubs.unanswered,
                          "SUBSCRIBE": len(subs.unanswered), "MESSAGE": len(msgs.unanswered)}
            # Drain the group of this cycle; the last cycle drains everyone left.
            group = RECIPIENT_GROUPS[cycle - 1]
            msgs.targets = [u for u in msgs.targets if u not in group]
            verified, failures = self.verify(cycle, group)
            summary = (f"cycle {cycle}: acknowledged in {LOAD_SECONDS:.0f} s of load before kill -9 "
                       f"(just after a {KILL_AFTER[cycle - 1]} batch was sent): "
                       + ", ".join(f"{k} {v}" for k, v in before.items())
                       + " (left unanswered by the kills so far: "
                       + ", ".join(f"{k} {v}" for k, v in unanswered.items())
                       + f"); verified after the restart, all acknowledged so far: {verified}; "
                       f"the restarted server logged {self.restored()}")
            print(summary, flush=True)
            failures += [f"  {p}" for p in regs.unexpected + pubs.unexpected + subs.unexpected + msgs.unexpected
                         + self.net.errors]
            if failures:
                self.fail(f"cycle {cycle}: acknowledged state lost or wrong after kill -9 (data directory and "
                          f"logs in {self.data_dir}):\n" + "\n".join(failures))
        code = self.server.stop()
        self.server = None
        self.assertEqual(code, 0, "herald did not exit cleanly")
        print(f"durability: {CYCLES} kill -9 cycles in {time.monotonic() - started:.1f} s", flush=True)
        self.passed = True

    # -- checks after a restart ---------------------------------------------------------------

    def verify(self, cycle, group):
        regs, pubs, subs, msgs = self.models
        failures = []
        verified = []
        verified.append(self.check_bindings(regs, failures))
        verified.append(self.check_publications(pubs, failures))
        verified.append(self.check_subscriptions(pubs, subs, failures))
        verified.append(self.check_messages(regs, msgs, group, cycle, failures))
        return "; ".join(verified), failures

    def check_bindings(self, regs, failures):
        by_user = {}
        for (user, contact), info in regs.acked.items():
            by_user.setdefault(user, []).append((contact, info))
        ok = 0
        for user, expected in sorted(by_user.items()):
            p = self.net.transact(self.registrar_client, "REGISTER", f"sip:{DOMAIN}", to=f"<sip:{user}@{DOMAIN}>",
                                  from_=f"<sip:{user}@{DOMAIN}>", timeout=5)
            if p.status != 200:
                failures.append(f"  REGISTER query for {user}: {p.status}")
                continue
            listed = {}
            for line in p.response.all("Contact"):
                for value in split_values(line):
                    expires = param(value, "expires")
                    listed[uri_of(value)] = int(expires) if expires and expires.isdigit() else None
            for contact, (acked_cycle, _, call_id) in expected:
                expires = listed.get(contact)
                if expires is not None and 0 < expires <= EXPIRES:
                    ok += 1
                else:
                    failures.append(f"  binding {contact} of {user} (200 in cycle {acked_cycle}, Call-ID {call_id}) "
                                    f"{'missing' if contact not in listed else f'listed with expires={expires}'}; "
                                    f"log:\n      {self.log_lines(call_id)}")
        return f"bindings {ok}/{len(regs.acked)}"

    def fetch(self, pres):
        """A fetch (SUBSCRIBE, Expires: 0) of `pres`: the notes of the NOTIFY it brings, or a
        string saying what went wrong."""
        p = self.net.transact(self.fetcher, "SUBSCRIBE", pres.aor, from_=f"<sip:fetch-{pres.user}@{DOMAIN}>",
                              headers=["Event: presence", "Expires: 0"], timeout=5)
        if p.status not in (200, 202):
            return f"fetch answered {p.status}"
        call_id = p.sent.call_id
        if not self.net.wait_for(lambda: call_id in self.net.notifies, 5):
            return "no NOTIFY for the fetch"
        _, n = self.net.notifies_of(call_id)[0]
        return notes_of(n.body)

    def check_publications(self, pubs, failures):
        ok = checked = 0
        for pres in pubs.presentities:
            expected = [pub for pub in pres.publications if pub.acked_note is not None]
            if not expected:
                continue
            checked += 1
            notes = self.fetch(pres)
            if isinstance(notes, str):
                failures.append(f"  {pres.aor}: {notes}")
                continue
            good = True
            for pub in expected:
                allowed = [pub.acked_note, *pub.unanswered_notes]
                if not notes & set(allowed):
                    good = False
                    failures.append(f"  publication {pub.tuple_id} of {pres.aor}: last acknowledged note "
                                    f"{pub.acked_note!r} (Call-ID {pub.call_id}) not served; served notes "
                                    f"{sorted(notes)}; log:\n      {self.log_lines(pub.call_id)}")
            ok += good
        return f"publications of {ok}/{checked} presentities"

    def check_subscriptions(self, pubs, subs, failures):
        """Publishes a new note for every presentity and expects it in a NOTIFY of each
        acknowledged subscription, in its dialog."""
        start = {s.call_id: len(self.net.notifies_of(s.call_id)) for s in subs.acked}
        probes = {}
        for pres in pubs.presentities:
            note = f"probe-{len(pres.publications)}-{time.time_ns()}"
            p = pubs.publish(pres, note)
            if p.status == 412:  # a modify lost at the kill had taken effect: start anew
                p = pubs.publish(pres, note)
            if p.status != 200:
                failures.append(f"  probe PUBLISH for {pres.aor}: {p.status}")
                continue
            probes[pres.user] = note

        def received(s):
            note = probes.get(s.pres.user)
            return note is not None and any(
                note in notes_of(n.body) for _, n in self.net.notifies.get(s.call_id, [])[start[s.call_id]:])

        self.net.wait_for(lambda: all(received(s) for s in subs.acked), 15)
        ok = 0
        for s in subs.acked:
            problems = self.dialog_problems(s)
            if not received(s):
                got = [(n.cseq[0], n.get("Subscription-State"), sorted(notes_of(n.body)))
                       for _, n in self.net.notifies_of(s.call_id)[start[s.call_id]:]]
                problems.append(f"no NOTIFY with the new note {probes.get(s.pres.user)!r} within 15 s "
                                f"(NOTIFYs since the restart: {got})")
            else:
                last = [n for _, n in self.net.notifies_of(s.call_id)
                        if probes[s.pres.user] in notes_of(n.body)][-1]
                state = (last.get("Subscription-State") or "").split(";")[0].strip().lower()
                if state != "active":
                    problems.append(f"the NOTIFY with the new note says {last.get('Subscription-State')}")
            if problems:
                failures.append(f"  subscription to {s.pres.aor} (2xx in cycle {s.cycle}, Call-ID {s.call_id}): "
                                + "; ".join(problems) + f"; log:\n      {self.log_lines(s.call_id)}")
            else:
                ok += 1
        return f"subscriptions notified {ok}/{len(subs.acked)}"

    def dialog_problems(self, s):
        """Every NOTIFY of `s` so far: to its Contact, From tag the 2xx's To tag, To tag the
        SUBSCRIBE's From tag, CSeq above the previous one (RFC 6665 §4.2.2, RFC 3261 §12.2)."""
        problems = []
        last = None
        for endpoint, n in self.net.notifies_of(s.call_id):
            host, port = endpoint.sock.getsockname()
            if n.uri != s.contact or not s.contact.endswith(f"@{host}:{port}"):
                problems.append(f"NOTIFY to {n.uri}, not the subscriber's Contact {s.contact}")
            if n.from_tag != s.response.to_tag or n.to_tag != s.sent.from_tag:
                problems.append(f"NOTIFY tags From {n.from_tag} To {n.to_tag}, dialog {s.response.to_tag}/"
                                f"{s.sent.from_tag}")
            number = n.cseq[0]
            if last is not None and number <= last:
                problems.append(f"NOTIFY CSeq {number} after {last}")
            last = number
        return problems

    def check_messages(self, regs, msgs, group, cycle, failures):
        """Registers the recipients of `group`; each must receive every MESSAGE acknowledged
        with 202 for it exactly once, in acceptance order. Stored messages are delivered only
        here, with no kill until well after the 200s, so Herald has long committed their removal:
        a second copy (now or after a later kill) is a failure, not the at-least-once
        redelivery a crash between delivery and removal would excuse. A MESSAGE unanswered at
        a kill may arrive at most once."""
        for user in group:
            ua = self.recipients[user]
            p = regs.send(user, ua.contact)
            p.event.wait(5)
            regs.account(p, (user, ua.contact), cycle)
            if p.status != 200:
                failures.append(f"  REGISTER of recipient {user}: {p.status}")
        self.drained += group

        def complete(user):
            bodies = {m.body.decode() for m in self.net.messages.get(user, [])}
            return all(b in bodies for b, _, _ in msgs.acked.get(user, [])) and msgs.late.get(user, set()) <= bodies

        self.net.wait_for(lambda: all(complete(u) for u in group), 20)
        time.sleep(1.0)  # a duplicate would come now
        delivered = ok = extra = 0
        for user in self.drained:
            got = [m.body.decode() for m in self.net.messages_of(user)]
            acked = [b for b, _, _ in msgs.acked.get(user, [])]
            late = msgs.late.get(user, set())
            sent_unanswered = {body for _, (r, body), _ in msgs.unanswered if r == user}
            for body, _, call_id in msgs.acked.get(user, []):
                if body not in got:
                    failures.append(f"  MESSAGE {body!r} for {user} (202, Call-ID {call_id}) never delivered; "
                                    f"log:\n      {self.log_lines(call_id)}")
            for body in late - set(got):
                failures.append(f"  MESSAGE {body!r} for {user} (late 202) never delivered")
            counts = {}
            for body in got:
                counts[body] = counts.get(body, 0) + 1
            for body, times in sorted(counts.items()):
                if times > 1:
                    failures.append(f"  MESSAGE {body!r} delivered {times} times to {user}")
                if body not in acked and body not in late and body not in sent_unanswered:
                    failures.append(f"  MESSAGE {body!r} delivered to {user} but never sent to it")
            in_order = [b for b in dict.fromkeys(got) if b in acked]
            if in_order != [b for b in acked if b in counts]:
                failures.append(f"  MESSAGEs for {user} delivered out of acceptance order: {in_order} "
                                f"(accepted {acked})")
            delivered += sum(1 for b in acked if b in counts) + len(late & set(got))
            ok += len(acked) + len(late)
            extra += len(sent_unanswered & set(got))
        return (f"stored messages {delivered}/{ok} delivered exactly once to {len(self.drained)} recipients "
                f"(and {extra} left unanswered by a kill but stored; "
                f"{sum(len(msgs.acked.get(u, [])) for u in msgs.targets)} acknowledged still waiting)")


if __name__ == "__main__":
    unittest.main()
