"""The client commands `herald register|publish|watch|send|listen` (the contract of
/work/briefs/client_cli.md, issue 6) against a real `herald serve` over loopback UDP and TCP,
and against SIPp standing in for a simpler peer: the lines on stdout, the JSON of --json, the
exit codes and the one-line errors, passwords (environment, file, prompt on a terminal,
wrong, missing), an unreachable server, 404, registration seen by watchers and by the IM
relay, publications and their removal at Ctrl-C, pending/allowed/rejected watchers, messages
delivered or stored and delivered at the next `listen`, refreshes before expiry, --help and
bad usage.

Long-running commands run under Popen; their stdout is read line by line by a thread into a
queue and every wait is bounded. They are stopped with SIGINT (or SIGTERM) by PID and must
finish their clean-up and exit 0."""

import datetime
import fcntl
import itertools
import json
import os
import pty
import queue
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import termios
import threading
import time
import unittest

from harness import HERALD, Server, ServerTestCase, free_port
from test_proxy import finish, sipp
from ua import UA

HOST = "127.0.0.1"
TIME = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z"
JSON_TIME = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z"
CLIENT_VARS = ("HERALD_SERVER", "HERALD_USER", "HERALD_PASSWORD")
WATCH_KEYS = {"time", "presentity", "state", "basic", "note", "activities", "contacts", "reason"}
LISTEN_KEYS = {"time", "from", "to", "content_type", "text", "date"}
COMMANDS = ("register", "publish", "watch", "send", "listen")


def first_request(command, target="somebody"):
    """Arguments that make `command` send its first request (for the error paths)."""
    return {"register": ("register",),
            "publish": ("publish", "--status", "open", "--once"),
            "watch": ("watch", target),
            "send": ("send", target, "hello?"),
            "listen": ("listen",)}[command]
# The contract's line for a 202 from the server (client_cli.md: "202: `stored for later
# delivery (202 Accepted)`"). Herald's server says "202 Accepted for later delivery".
# The status line as Herald sends it (the client prints the reason as received).
STORED = "stored for later delivery (202 Accepted for later delivery)"
DEFAULT = object()
REGISTERED = re.compile(r"registered (\S+) at <?(sips?:[^\s>]+)>? \(expires in (\d+) s\)")


def aor(name):
    return name if name.startswith("sip:") else f"sip:{name}@{HOST}"


def client_env(**values):
    """The test's environment without the client's own variables, plus `values` (None: unset)."""
    env = {k: v for k, v in os.environ.items() if k not in CLIENT_VARS}
    env.update({k: v for k, v in values.items() if v is not None})
    return env


def assert_recent(test, stamp, fmt="%Y-%m-%dT%H:%M:%SZ"):
    """`stamp` is a UTC time within two minutes of now."""
    stamp = re.sub(r"\.\d+Z$", "Z", stamp)  # JSON times may carry fractions of a second
    when = datetime.datetime.strptime(stamp, fmt).replace(tzinfo=datetime.timezone.utc)
    now = datetime.datetime.now(datetime.timezone.utc)
    test.assertLess(abs((now - when).total_seconds()), 120, f"{stamp} is not the current UTC time ({now})")


class Proc:
    """A long-running client command: stdout lines arrive through a reader thread and a
    queue (never a blocking read without a timeout), stderr is collected by another."""

    def __init__(self, args, env, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, **popen):
        self.args = args
        self.proc = subprocess.Popen(args, stdin=stdin, stdout=subprocess.PIPE, stderr=stderr, env=env,
                                     text=True, encoding="utf-8", errors="replace", **popen)
        self.pid = self.proc.pid
        self.queue = queue.Queue()
        self.lines = []  # every stdout line taken from the queue so far
        self.stderr_lines = []
        self.eof = False
        self._readers = [threading.Thread(target=self._pump, args=(self.proc.stdout, self.queue.put), daemon=True)]
        if self.proc.stderr is not None:
            self._readers.append(threading.Thread(target=self._pump, args=(self.proc.stderr, self._err), daemon=True))
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _pump(stream, sink):
        try:
            for line in stream:
                sink(line.rstrip("\n"))
        finally:
            sink(None)

    def _err(self, line):
        if line is not None:
            self.stderr_lines.append(line)

    def describe(self):
        code = self.proc.poll()
        return (f"\n  command: {' '.join(self.args)}\n  running: {code is None}" +
                ("" if code is None else f" (exit {code})") +
                f"\n  stdout so far: {self.lines}\n  stderr: {self.stderr_lines}")

    def maybe_line(self, timeout):
        """The next stdout line, or None when none comes within `timeout` (or at EOF)."""
        if self.eof:
            return None
        try:
            line = self.queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if line is None:
            self.eof = True
            return None
        self.lines.append(line)
        return line

    def next_line(self, timeout=10.0, what="a line"):
        line = self.maybe_line(timeout)
        if line is None:
            raise AssertionError(f"expected {what} within {timeout} s, got " +
                                 ("end of output" if self.eof else "nothing") + self.describe())
        return line

    def no_line(self, test, seconds):
        line = self.maybe_line(seconds)
        test.assertIsNone(line, "an unexpected line" + self.describe())
        test.assertIsNone(self.proc.poll(), "exited unexpectedly" + self.describe())

    def stop(self, sig=signal.SIGINT, timeout=10.0):
        """Signals the process by PID, waits (bounded) and returns (exit code, the stdout
        lines printed after the lines already taken)."""
        taken = len(self.lines)
        if self.proc.poll() is None:
            os.kill(self.pid, sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"did not exit within {timeout} s of signal {sig}" + self.describe())
        for reader in self._readers:
            reader.join(timeout=5)
        while self.maybe_line(0.5) is not None:
            pass
        self._close()
        return self.proc.returncode, self.lines[taken:]

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        for reader in self._readers:
            reader.join(timeout=2)
        self._close()

    def _close(self):
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None and not any(r.is_alive() for r in self._readers):
                stream.close()


class Checks(unittest.TestCase):
    """Assertions on the contract's output, shared by every class."""

    def assert_done(self, result, lines):
        """Exit 0, nothing on stderr, exactly `lines` on stdout."""
        self.assertEqual((result.returncode, result.stderr), (0, ""),
                         f"{' '.join(result.args)}\nstdout: {result.stdout!r}")
        self.assertEqual(result.stdout.splitlines(), lines, " ".join(result.args))

    def assert_error(self, result, code, *phrases, any_of=()):
        """Exit `code`, nothing on stdout, one stderr line starting 'herald: ' holding every
        phrase (and one of `any_of` when given)."""
        where = f"{' '.join(map(str, result.args))}\nstdout: {result.stdout!r}\nstderr: {result.stderr!r}"
        self.assertEqual(result.returncode, code, where)
        self.assertEqual(result.stdout, "", where)
        lines = result.stderr.splitlines()
        self.assertEqual(len(lines), 1, "the error must be ONE line on stderr\n" + where)
        self.assertTrue(lines[0].startswith("herald: "), where)
        for phrase in phrases:
            self.assertIn(phrase, lines[0], where)
        if any_of:
            self.assertTrue(any(p in lines[0] for p in any_of), f"none of {any_of} in the error\n" + where)
        return lines[0]

    def assert_event(self, line, presentity, rest):
        """A watch line: `TIME PRESENTITY REST` (REST literal), TIME the current UTC time."""
        m = re.fullmatch(rf"({TIME}) {re.escape(aor(presentity))} (.*)", line or "")
        self.assertIsNotNone(m, f"not a watch line for {aor(presentity)}: {line!r}")
        self.assertEqual(m.group(2), rest, f"watch line: {line!r}")
        assert_recent(self, m.group(1))

    def assert_message(self, line, sender, text):
        """A listen line: `TIME sip:sender: TEXT`."""
        m = re.fullmatch(rf"({TIME}) (.*)", line or "")
        self.assertIsNotNone(m, f"not a listen line: {line!r}")
        self.assertEqual(m.group(2), f"{aor(sender)}: {text}", f"listen line: {line!r}")
        assert_recent(self, m.group(1))

    def assert_registered(self, line, user, expires=3600):
        """The `registered AOR at CONTACT (expires in N s)` line; returns CONTACT."""
        m = REGISTERED.fullmatch(line or "")
        self.assertIsNotNone(m, f"not a registered line: {line!r}")
        self.assertEqual(m.group(1), aor(user), line)
        self.assertEqual(int(m.group(3)), expires, line)
        return m.group(2)

    def watch_json(self, line, presentity, **expected):
        """A watch --json line: the contract's keys, time, presentity and `expected` values."""
        try:
            obj = json.loads(line)
        except (TypeError, ValueError):
            self.fail(f"watch --json printed a line that is not JSON: {line!r}")
        self.assertIsInstance(obj, dict, line)
        self.assertEqual(set(obj), WATCH_KEYS, line)
        self.assertRegex(obj["time"], rf"^{JSON_TIME}$")
        assert_recent(self, obj["time"])
        self.assertEqual(obj["presentity"], aor(presentity), line)
        self.assertIsInstance(obj["activities"], list, line)
        self.assertIsInstance(obj["contacts"], list, line)
        for key, value in expected.items():
            self.assertEqual(obj[key], value, f"{key} in {line}")
        return obj

    def listen_json(self, proc, what="a message"):
        """The next JSON object printed by `listen --json`. The contract has listen print the
        same `registered`/`unregistered` lines as register; those are skipped here (the only
        non-JSON lines accepted)."""
        while True:
            line = proc.next_line(what=what)
            if REGISTERED.fullmatch(line) or line.startswith("unregistered "):
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                self.fail(f"listen --json printed a line that is not JSON: {line!r}" + proc.describe())
            self.assertIsInstance(obj, dict, line)
            self.assertEqual(set(obj), LISTEN_KEYS, line)
            self.assertRegex(obj["time"], rf"^{JSON_TIME}$")
            assert_recent(self, obj["time"])
            self.assertTrue(obj["date"] is None or isinstance(obj["date"], str), line)
            return obj


class ClientTestCase(ServerTestCase, Checks):
    """One server per class (`config`; None: the defaults, digest auth required). Users are
    fresh per test with the password NAME-secret; client commands get --server and --user
    and, unless told otherwise, HERALD_PASSWORD."""

    _serial = itertools.count(1)

    @property
    def address(self):
        return f"{HOST}:{self.server.port}"

    @staticmethod
    def password(name):
        return f"{name}-secret"

    def user(self, prefix="user", account=True):
        name = f"{prefix}{next(self._serial)}"
        if account:
            r = subprocess.run([HERALD, "user", "add", f"{name}@{HOST}", "--password", self.password(name),
                                "--data-dir", self.server.data_dir], capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
        return name

    def presence_rule(self, action, presentity, watcher, settle=False):
        """`herald presence ACTION`; the running server applies it "within about a second"
        (`herald presence --help`), so `settle` waits 2.5 s for a rule a new SUBSCRIBE must meet."""
        r = subprocess.run([HERALD, "presence", action, f"{presentity}@{HOST}", f"{watcher}@{HOST}",
                            "--data-dir", self.server.data_dir], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        if settle:
            time.sleep(2.5)

    def argv(self, args, user):
        out = [HERALD, *args, "--server", self.address]
        return out + (["--user", user] if user is not None else [])

    def env(self, user, password, extra):
        if password is DEFAULT:
            password = self.password(user.split(":")[-1].split("@")[0]) if user else None
        return client_env(HERALD_PASSWORD=password, **(extra or {}))

    def client(self, *args, user, password=DEFAULT, env=None, input=None, timeout=30):
        """Runs a command to its end (bounded) and returns the CompletedProcess."""
        return subprocess.run(self.argv(args, user), env=self.env(user, password, env), input=input,
                              stdin=None if input is not None else subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout)

    def start(self, *args, user, password=DEFAULT, env=None):
        """Starts a long-running command; it is killed at clean-up if still running."""
        proc = Proc(self.argv(args, user), self.env(user, password, env))
        self.addCleanup(proc.kill)
        return proc

    def stop_cleanly(self, proc, expected_lines, sig=signal.SIGINT):
        """Signal, exit 0, exactly `expected_lines` printed during the clean-up, no stderr."""
        code, rest = proc.stop(sig)
        self.assertEqual(code, 0, "exit code after the signal" + proc.describe())
        if expected_lines is not None:
            self.assertEqual(rest, expected_lines, "clean-up output" + proc.describe())
        self.assertEqual(proc.stderr_lines, [], proc.describe())

    def registered(self, *args, user, transport=None, expires=3600):
        """`herald register` running, its registered line checked; returns (proc, contact)."""
        extra = ("--transport", transport) if transport else ()
        proc = self.start("register", *args, *extra, user=user)
        return proc, self.assert_registered(proc.next_line(what="the registered line"), user, expires)

    def watching(self, *presentities, user, json_mode=False, expires=None):
        """`herald watch` running (its first lines are the caller's to check)."""
        args = ["watch", *presentities] + (["--json"] if json_mode else []) + \
               (["--expires", str(expires)] if expires else [])
        return self.start(*args, user=user)

    def first_events(self, watch, expected):
        """The first line of each presentity of `watch` ({presentity: rest}), in any order."""
        got = {}
        for _ in expected:
            line = watch.next_line(what=f"the first lines of {sorted(expected)}")
            name = next((p for p in expected if f" {aor(p)} " in line and p not in got), None)
            self.assertIsNotNone(name, f"an unexpected first line {line!r}" + watch.describe())
            got[name] = line
        for name, rest in expected.items():
            self.assert_event(got[name], name, rest)

    def run_on_a_terminal(self, user):
        """`herald register` with a pseudo-terminal as stdin, stderr and controlling terminal,
        and no password in the environment; returns (proc, master fd)."""
        master, slave = pty.openpty()

        def controlling_terminal():
            os.setsid()
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

        proc = Proc(self.argv(["register"], user), client_env(), stdin=slave, stderr=slave,
                    preexec_fn=controlling_terminal)
        os.close(slave)
        self.addCleanup(os.close, master)
        self.addCleanup(proc.kill)
        return proc, master

    @staticmethod
    def read_terminal(master, until, timeout):
        """What the command wrote to the terminal, until `until` appears or `timeout`."""
        seen, deadline = b"", time.time() + timeout
        while until not in seen.lower() and time.time() < deadline:
            ready, _, _ = select.select([master], [], [], max(0.0, deadline - time.time()))
            if not ready:
                break
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        return seen

    def listening(self, user, transport=None):
        extra = ("--transport", transport) if transport else ()
        proc = self.start("listen", *extra, user=user)
        self.assert_registered(proc.next_line(what="listen's registered line"), user)
        return proc


# -- register ---------------------------------------------------------------------------------

class Register(ClientTestCase):
    def check_register_and_unregister(self, transport):
        bob, watcher, alice = self.user("bob"), self.user("watcher"), self.user("alice")
        watch = self.watching(bob, user=watcher)
        self.assert_event(watch.next_line(), bob, "closed")
        reg, contact = self.registered(user=bob, transport=transport)
        # The binding is the server's: the presence agent shows bob open at that contact.
        self.assert_event(watch.next_line(what="bob open after register"), bob, f"open contact={contact}")
        reg.no_line(self, 0.5)
        self.stop_cleanly(reg, [f"unregistered {aor(bob)}"])
        # Unregistered: no binding left, so bob is closed and a MESSAGE to him is stored.
        self.assert_event(watch.next_line(what="bob closed after unregister"), bob, "closed")
        self.assert_done(self.client("send", bob, "still there?", user=alice),
                         [STORED])
        self.stop_cleanly(watch, None)

    def test_register_over_udp_binds_until_ctrl_c_unregisters(self):
        self.check_register_and_unregister(None)

    def test_register_over_tcp_binds_until_ctrl_c_unregisters(self):
        self.check_register_and_unregister("tcp")

    def test_sigterm_unregisters_too(self):
        bob, alice = self.user("bob"), self.user("alice")
        reg, _ = self.registered(user=bob)
        self.stop_cleanly(reg, [f"unregistered {aor(bob)}"], sig=signal.SIGTERM)
        self.assert_done(self.client("send", bob, "gone?", user=alice), [STORED])

    def test_expires_option_is_requested_and_printed(self):
        bob = self.user("bob")
        reg, _ = self.registered("--expires", "120", user=bob, expires=120)
        self.stop_cleanly(reg, [f"unregistered {aor(bob)}"])

    def test_password_from_the_first_line_of_a_file_before_the_environment(self):
        bob = self.user("bob")
        path = os.path.join(tempfile.mkdtemp(prefix="herald-pw-"), "password")
        self.addCleanup(shutil.rmtree, os.path.dirname(path), True)
        with open(path, "w") as f:
            f.write(f"{self.password(bob)}\nnot-the-password\n")
        # --password-file comes before HERALD_PASSWORD (here wrong).
        reg = self.start("register", "--password-file", path, user=bob, password="wrong-password")
        self.assert_registered(reg.next_line(), bob)
        self.stop_cleanly(reg, [f"unregistered {aor(bob)}"])

    def test_user_and_server_from_the_environment_and_full_addresses(self):
        bob = self.user("bob")
        env = client_env(HERALD_USER=f"{bob}@{HOST}", HERALD_SERVER=self.address, HERALD_PASSWORD=self.password(bob))
        proc = Proc([HERALD, "register"], env)
        self.addCleanup(proc.kill)
        self.assert_registered(proc.next_line(), bob)
        self.stop_cleanly(proc, [f"unregistered {aor(bob)}"])
        reg, _ = self.registered(user=f"sip:{bob}@{HOST}")
        self.stop_cleanly(reg, [f"unregistered {aor(bob)}"])

    def test_wrong_password_is_exit_4_with_the_status(self):
        name = self.user("bob")
        expected = {"register": "401 Unauthorized", "listen": "401 Unauthorized"}
        for command in COMMANDS:
            with self.subTest(command=command):
                result = self.client(*first_request(command, name), user=name, password="wrong-password")
                self.assert_error(result, 4, expected.get(command, "407 Proxy Authentication Required"))

    def test_no_password_anywhere_is_exit_4(self):
        name = self.user("bob")
        for command in COMMANDS:
            with self.subTest(command=command):
                result = self.client(*first_request(command, name), user=name, password=None)  # stdin: /dev/null
                self.assert_error(result, 4, any_of=("password", "401 Unauthorized",
                                                     "407 Proxy Authentication Required"))

    def test_password_prompt_on_a_terminal_when_challenged_without_echo(self):
        bob = self.user("bob")
        proc, master = self.run_on_a_terminal(bob)
        prompt = self.read_terminal(master, b"password", 10)
        self.assertIn(b"password", prompt.lower(), f"no password prompt on the terminal: {prompt!r}" + proc.describe())
        os.write(master, self.password(bob).encode() + b"\n")
        self.assert_registered(proc.next_line(what="registered after typing the password"), bob)
        echoed = self.read_terminal(master, b"\x00never", 0.5)
        self.assertNotIn(self.password(bob).encode(), prompt + echoed, "the password was echoed")
        code, rest = proc.stop()
        self.assertEqual((code, rest), (0, [f"unregistered {aor(bob)}"]), proc.describe())


# -- unreachable servers ----------------------------------------------------------------------

class Unreachable(Checks):
    def run_against(self, port, *args, transport="udp"):
        argv = [HERALD, *args, "--server", f"{HOST}:{port}", "--user", "alice", "--transport", transport,
                "--timeout", "2"]
        start = time.monotonic()
        result = subprocess.run(argv, env=client_env(HERALD_PASSWORD="alice-secret"), stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, timeout=30)
        return result, time.monotonic() - start

    def test_udp_with_nothing_at_the_port_is_exit_3_within_the_timeout(self):
        port = free_port()
        for command in COMMANDS:
            with self.subTest(command=command):
                result, elapsed = self.run_against(port, *first_request(command))
                self.assert_error(result, 3, any_of=(f"no answer from {HOST}:{port}", f"cannot reach {HOST}:{port}"))
                self.assertLess(elapsed, 10, f"{command}: exit 3 after {elapsed:.1f} s with --timeout 2")

    def test_udp_to_a_silent_peer_is_no_answer_after_the_timeout_with_retransmissions(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
            silent.bind((HOST, 0))
            port = silent.getsockname()[1]
            result, elapsed = self.run_against(port, "send", "bob", "anyone?")
            self.assert_error(result, 3, f"no answer from {HOST}:{port}")
            self.assertGreater(elapsed, 1.5, "gave up before --timeout 2")
            self.assertLess(elapsed, 10)
            silent.settimeout(0.2)
            got = []
            try:
                while True:
                    got.append(silent.recvfrom(65536)[0].decode("utf-8", "replace"))
            except socket.timeout:
                pass
        self.assertTrue(got and all(g.startswith("MESSAGE sip:bob@127.0.0.1 SIP/2.0\r\n") for g in got), got[:1])
        # RFC 3261 §17.1.2.2: over UDP a request is retransmitted (T1 = 500 ms: at 0.5 s and 1.5 s).
        self.assertGreaterEqual(len(got), 2, "the MESSAGE was never retransmitted over UDP")

    def test_ctrl_c_before_the_first_answer_ends_at_once(self):
        # Interrupted before anything was established there is nothing to clean up: every
        # command ends at once with 130 (128 + SIGINT, as the client's own change log says),
        # the same for all five, and prints nothing.
        for command in COMMANDS:
            with self.subTest(command=command), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
                silent.bind((HOST, 0))
                args = first_request(command)
                if command == "publish":
                    args = args[:-1]  # without --once: the long-running form
                proc = Proc([HERALD, *args, "--server", f"{HOST}:{silent.getsockname()[1]}", "--user", "alice"],
                            client_env(HERALD_PASSWORD="alice-secret"))
                self.addCleanup(proc.kill)
                self.assertIsNotNone(silent.recvfrom(65536)[0] if select.select([silent], [], [], 5)[0] else None,
                                     f"{command} sent nothing")
                start = time.monotonic()
                code, rest = proc.stop()
                self.assertLess(time.monotonic() - start, 2.0, f"{command}: Ctrl-C did not end it at once")
                self.assertEqual((code, proc.lines), (130, []), f"{command}: exit code after an early Ctrl-C" +
                                 proc.describe())

    def test_tcp_connection_refused_is_exit_3_at_once(self):
        port = free_port()
        for command in COMMANDS:
            with self.subTest(command=command):
                result, elapsed = self.run_against(port, *first_request(command), transport="tcp")
                self.assert_error(result, 3, any_of=(f"cannot reach {HOST}:{port}", f"no answer from {HOST}:{port}"))
                self.assertLess(elapsed, 3, f"{command}: a refused connection took {elapsed:.1f} s")


# -- 404 ----------------------------------------------------------------------------------------

class NoSuchUser(ClientTestCase):
    config = 'auth = "off"\n'

    def test_send_to_an_unknown_user_is_exit_5(self):
        self.assert_error(self.client("send", "nobody", "hello?", user="alice", password=None), 5, "404")

    def test_watch_of_an_unknown_user_is_exit_5(self):
        self.assert_error(self.client("watch", "nobody", user="alice", password=None), 5, "404")

    def test_an_unknown_user_of_its_own_is_exit_5(self):
        for command in ("register", "publish", "listen"):
            with self.subTest(command=command):
                result = self.client(*first_request(command), user="nobody", password=None)
                self.assert_error(result, 5, "404")

    def test_without_challenges_no_password_is_needed(self):
        bob, alice = self.user("bob"), self.user("alice")
        listen = self.start("listen", user=bob, password=None)
        self.assert_registered(listen.next_line(), bob)
        self.assert_done(self.client("send", bob, "no auth here", user=alice, password=None), ["delivered (200 OK)"])
        self.assert_message(listen.next_line(), alice, "no auth here")
        self.stop_cleanly(listen, [f"unregistered {aor(bob)}"])


    def test_no_prompt_on_a_terminal_without_a_challenge(self):
        bob = self.user("bob")
        proc, master = self.run_on_a_terminal(bob)
        self.assert_registered(proc.next_line(what="registered without a password"), bob)
        shown = self.read_terminal(master, b"\x00never", 0.5)
        self.assertNotIn(b"password", shown.lower(), "asked for a password the server never wanted")
        code, rest = proc.stop()
        self.assertEqual((code, rest), (0, [f"unregistered {aor(bob)}"]), proc.describe())


class NoSuchUserWithAuth(ClientTestCase):
    def test_send_to_an_unknown_user_after_credentials_is_exit_5(self):
        alice = self.user("alice")
        self.assert_error(self.client("send", "nobody", "hello?", user=alice), 5, "404")

    def test_watch_of_an_unknown_user_after_credentials_is_exit_5(self):
        alice = self.user("alice")
        self.assert_error(self.client("watch", "nobody", user=alice), 5, "404")


# -- publish ------------------------------------------------------------------------------------

class Publish(ClientTestCase):
    def published_line(self, user, state, note=None, expires=3600):
        quoted = f' "{note}"' if note else ""
        return f"published {state}{quoted} for {aor(user)} (expires in {expires} s)"

    def test_once_publishes_and_the_state_stays_after_exit(self):
        poisson, watcher = self.user("poisson"), self.user("chebychev")
        result = self.client("publish", "--status", "open", "--note", "Calculating", "--once", user=poisson)
        self.assert_done(result, [self.published_line(poisson, "open", "Calculating")])
        watch = self.watching(poisson, user=watcher)
        self.assert_event(watch.next_line(), poisson, 'open "Calculating"')
        watch.no_line(self, 0.5)
        self.stop_cleanly(watch, None)

    def test_once_closed_overrides_the_registration_state(self):
        poisson, watcher = self.user("poisson"), self.user("chebychev")
        reg, contact = self.registered(user=poisson)
        watch = self.watching(poisson, user=watcher)
        self.assert_event(watch.next_line(), poisson, f"open contact={contact}")
        result = self.client("publish", "--status", "closed", "--once", user=poisson)
        self.assert_done(result, [self.published_line(poisson, "closed")])
        self.assert_event(watch.next_line(what="closed after publishing closed"), poisson, "closed")
        self.stop_cleanly(watch, None)
        self.stop_cleanly(reg, [f"unregistered {aor(poisson)}"])

    def test_ctrl_c_removes_the_publication_and_watchers_see_closed(self):
        poisson, watcher = self.user("poisson"), self.user("chebychev")
        watch = self.watching(poisson, user=watcher)
        self.assert_event(watch.next_line(), poisson, "closed")
        pub = self.start("publish", "--status", "open", "--note", "Out to lunch", user=poisson)
        self.assertEqual(pub.next_line(), self.published_line(poisson, "open", "Out to lunch"))
        self.assert_event(watch.next_line(what="open after publish"), poisson, 'open "Out to lunch"')
        pub.no_line(self, 0.5)
        self.stop_cleanly(pub, [f"removed the publication of {aor(poisson)}"])
        self.assert_event(watch.next_line(what="closed after the removal"), poisson, "closed")
        self.stop_cleanly(watch, None)

    def test_activity_in_line_and_json(self):
        poisson, watcher = self.user("poisson"), self.user("chebychev")
        result = self.client("publish", "--status", "open", "--note", "On a call", "--activity", "on-the-phone",
                             "--once", user=poisson)
        self.assert_done(result, [self.published_line(poisson, "open", "On a call")])
        watch = self.watching(poisson, user=watcher)
        self.assert_event(watch.next_line(), poisson, 'open "On a call" activity=on-the-phone')
        self.stop_cleanly(watch, None)
        watch = self.watching(poisson, user=watcher, json_mode=True)
        self.watch_json(watch.next_line(), poisson, state="active", basic="open", note="On a call",
                        activities=["on-the-phone"], contacts=[], reason=None)
        self.stop_cleanly(watch, None)

    def test_two_activities(self):
        poisson, watcher = self.user("poisson"), self.user("chebychev")
        result = self.client("publish", "--status", "open", "--activity", "busy", "--activity", "meeting", "--once",
                             user=poisson)
        self.assert_done(result, [self.published_line(poisson, "open")])
        watch = self.watching(poisson, user=watcher)
        self.assert_event(watch.next_line(), poisson, "open activity=busy,meeting")
        self.stop_cleanly(watch, None)

    def test_contact_and_expires(self):
        poisson, watcher = self.user("poisson"), self.user("chebychev")
        result = self.client("publish", "--status", "open", "--contact", "sip:poisson@192.0.2.7:5070",
                             "--expires", "120", "--once", user=poisson)
        self.assert_done(result, [self.published_line(poisson, "open", expires=120)])
        watch = self.watching(poisson, user=watcher, json_mode=True)
        self.watch_json(watch.next_line(), poisson, state="active", basic="open", note=None, activities=[],
                        contacts=["sip:poisson@192.0.2.7:5070"], reason=None)
        self.stop_cleanly(watch, None)
        watch = self.watching(poisson, user=watcher)
        self.assert_event(watch.next_line(), poisson, "open contact=sip:poisson@192.0.2.7:5070")
        self.stop_cleanly(watch, None)

    def test_publish_over_tcp(self):
        poisson, watcher = self.user("poisson"), self.user("chebychev")
        watch = self.watching(poisson, user=watcher)
        self.assert_event(watch.next_line(), poisson, "closed")
        pub = self.start("publish", "--status", "open", "--note", "via TCP", "--transport", "tcp", user=poisson)
        self.assertEqual(pub.next_line(), self.published_line(poisson, "open", "via TCP"))
        self.assert_event(watch.next_line(), poisson, 'open "via TCP"')
        self.stop_cleanly(pub, [f"removed the publication of {aor(poisson)}"])
        self.assert_event(watch.next_line(), poisson, "closed")
        self.stop_cleanly(watch, None)


# -- watch --------------------------------------------------------------------------------------

class Watch(ClientTestCase):
    def test_json_closed_open_with_the_registered_contact_then_closed(self):
        poisson, watcher = self.user("poisson"), self.user("chebychev")
        watch = self.watching(poisson, user=watcher, json_mode=True)
        closed = dict(state="active", basic="closed", note=None, activities=[], contacts=[], reason=None)
        self.watch_json(watch.next_line(), poisson, **closed)
        reg, contact = self.registered(user=poisson)
        self.watch_json(watch.next_line(what="open"), poisson, state="active", basic="open", note=None,
                        activities=[], contacts=[contact], reason=None)
        self.stop_cleanly(reg, [f"unregistered {aor(poisson)}"])
        self.watch_json(watch.next_line(what="closed"), poisson, **closed)
        self.stop_cleanly(watch, None)

    def test_two_presentities_in_one_watch(self):
        a, b, watcher = self.user("poisson"), self.user("laplace"), self.user("chebychev")
        watch = self.watching(a, b, user=watcher)
        self.first_events(watch, {a: "closed", b: "closed"})
        reg, contact = self.registered(user=b)
        self.assert_event(watch.next_line(), b, f"open contact={contact}")
        pub = self.client("publish", "--status", "open", "--note", "Integrating", "--once", user=a)
        self.assertEqual(pub.returncode, 0, pub.stderr)
        self.assert_event(watch.next_line(), a, 'open "Integrating"')
        watch.no_line(self, 0.5)
        self.stop_cleanly(watch, None)
        self.stop_cleanly(reg, [f"unregistered {aor(b)}"])

    def test_an_unchanged_state_prints_no_line(self):
        poisson, watcher = self.user("poisson"), self.user("chebychev")
        watch = self.watching(poisson, user=watcher)
        self.assert_event(watch.next_line(), poisson, "closed")
        for _ in range(2):
            pub = self.client("publish", "--status", "open", "--note", "Reading", "--once", user=poisson)
            self.assertEqual(pub.returncode, 0, pub.stderr)
        self.assert_event(watch.next_line(), poisson, 'open "Reading"')
        watch.no_line(self, 1.5)  # the second publication changes nothing that is printed
        self.stop_cleanly(watch, None)

    def test_pending_until_allowed_then_rejected_while_another_continues(self):
        pres, other, watcher = self.user("poisson"), self.user("laplace"), self.user("chebychev")
        self.presence_rule("confirm", pres, watcher, settle=True)
        watch = self.watching(pres, other, user=watcher)
        self.first_events(watch, {pres: "pending (waiting for authorization)", other: "closed"})
        self.presence_rule("allow", pres, watcher)
        self.assert_event(watch.next_line(what="closed once allowed"), pres, "closed")
        self.presence_rule("block", pres, watcher)
        self.assert_event(watch.next_line(what="ended once blocked"), pres, "ended (rejected)")
        # The other subscription goes on.
        reg, contact = self.registered(user=other)
        self.assert_event(watch.next_line(), other, f"open contact={contact}")
        self.stop_cleanly(watch, None)
        self.stop_cleanly(reg, [f"unregistered {aor(other)}"])

    def test_pending_and_rejected_in_json(self):
        pres, watcher = self.user("poisson"), self.user("chebychev")
        self.presence_rule("confirm", pres, watcher, settle=True)
        watch = self.watching(pres, user=watcher, json_mode=True)
        self.watch_json(watch.next_line(), pres, state="pending", basic=None, note=None, activities=[],
                        contacts=[], reason=None)
        self.presence_rule("allow", pres, watcher)
        self.watch_json(watch.next_line(), pres, state="active", basic="closed", reason=None)
        self.presence_rule("block", pres, watcher)
        self.watch_json(watch.next_line(), pres, state="terminated", basic=None, reason="rejected")
        # Its only subscription ended: the contract leaves open whether watch stays or exits.
        # Either way the end is clean: exit 0 by itself, or exit 0 at Ctrl-C.
        try:
            watch.proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            pass
        code, _ = watch.stop()
        self.assertEqual(code, 0, watch.describe())

    def test_an_active_watcher_put_on_confirm_becomes_pending(self):
        pres, watcher = self.user("poisson"), self.user("chebychev")
        watch = self.watching(pres, user=watcher)
        self.assert_event(watch.next_line(), pres, "closed")
        self.presence_rule("confirm", pres, watcher)
        self.assert_event(watch.next_line(what="pending once confirm applies"), pres,
                          "pending (waiting for authorization)")
        self.presence_rule("allow", pres, watcher)
        self.assert_event(watch.next_line(what="closed once allowed"), pres, "closed")
        self.stop_cleanly(watch, None)

    def test_watch_over_tcp_and_sigterm(self):
        poisson, watcher = self.user("poisson"), self.user("chebychev")
        watch = self.start("watch", poisson, "--transport", "tcp", user=watcher)
        self.assert_event(watch.next_line(), poisson, "closed")
        reg, contact = self.registered(user=poisson, transport="tcp")
        self.assert_event(watch.next_line(), poisson, f"open contact={contact}")
        self.stop_cleanly(watch, None, sig=signal.SIGTERM)
        self.stop_cleanly(reg, [f"unregistered {aor(poisson)}"])


class WatcherInfo(ClientTestCase):
    """What the server knows of a `herald watch`, seen through the presentity's own
    presence.winfo subscription (RFC 3857): active while it runs, gone at Ctrl-C."""

    config = 'auth = "off"\n'

    def winfo_subscription(self, presentity):
        agent = UA(self.server, presentity, HOST)
        self.addCleanup(agent.close)
        agent.request("SUBSCRIBE", aor(presentity), headers=[
            "Event: presence.winfo", "Accept: application/watcherinfo+xml", "Expires: 600"])
        r = agent.recv_response(3.0, final=True, method="SUBSCRIBE")
        self.assertIsNotNone(r, "no answer to the presence.winfo SUBSCRIBE")
        self.assertEqual(r.status, 200, r)
        return agent

    def watcher_status(self, agent, watcher, status, timeout=5.0):
        """Waits (bounded) for a watcherinfo NOTIFY listing `watcher` with `status`."""
        deadline, seen = time.time() + timeout, []
        while time.time() < deadline:
            n = agent.recv_request(max(0.1, deadline - time.time()), method="NOTIFY")
            if n is None:
                break
            agent.reply(n, 200)
            body = n.body.decode("utf-8", "replace")
            entries = re.findall(r"<watcher\b([^>]*)>\s*([^<\s]+)\s*</watcher>", body)
            statuses = [re.search(r'status="([^"]*)"', attrs).group(1) for attrs, uri in entries
                        if uri == aor(watcher)]
            seen.append(statuses)
            if status in statuses:
                return
        self.fail(f"{aor(watcher)} never listed {status} in presence.winfo; listed: {seen}")

    def test_ctrl_c_unsubscribes(self):
        pres, watcher = self.user("poisson"), self.user("chebychev")
        agent = self.winfo_subscription(pres)
        watch = self.start("watch", pres, user=watcher, password=None)
        self.assert_event(watch.next_line(), pres, "closed")
        self.watcher_status(agent, watcher, "active")
        self.stop_cleanly(watch, None)
        # Without an un-SUBSCRIBE the server would list the watcher for the next hour.
        self.watcher_status(agent, watcher, "terminated")


# -- send and listen ----------------------------------------------------------------------------

class Messages(ClientTestCase):
    def check_delivered(self, transport):
        bob, alice = self.user("bob"), self.user("alice")
        extra = ("--transport", transport) if transport else ()
        listen = self.listening(bob, transport)
        self.assert_done(self.client("send", bob, "Are you there?", *extra, user=alice), ["delivered (200 OK)"])
        self.assert_message(listen.next_line(what="the message"), alice, "Are you there?")
        listen.no_line(self, 0.3)
        self.stop_cleanly(listen, [f"unregistered {aor(bob)}"])
        # Unregistered: the next one is stored.
        self.assert_done(self.client("send", bob, "and now?", *extra, user=alice),
                         [STORED])

    def test_delivered_to_a_listener_over_udp(self):
        self.check_delivered(None)

    def test_delivered_to_a_listener_over_tcp(self):
        self.check_delivered("tcp")

    def check_stored(self, transport):
        bob, alice = self.user("bob"), self.user("alice")
        extra = ("--transport", transport) if transport else ()
        texts = ["first, while you were out", "second: ¿qué tal? ✓", "third"]
        for text in texts:
            self.assert_done(self.client("send", bob, text, *extra, user=alice),
                             [STORED])
        listen = self.listening(bob, transport)
        for text in texts:
            self.assert_message(listen.next_line(what=f"stored message {text!r}"), alice, text)
        listen.no_line(self, 0.5)
        self.stop_cleanly(listen, [f"unregistered {aor(bob)}"])

    def test_stored_while_offline_and_delivered_at_listen_over_udp(self):
        self.check_stored(None)

    def test_stored_while_offline_and_delivered_at_listen_over_tcp(self):
        self.check_stored("tcp")

    def test_listen_json_for_a_stored_and_a_delivered_message(self):
        bob, alice = self.user("bob"), self.user("alice")
        self.assert_done(self.client("send", bob, "kept for you", user=alice),
                         [STORED])
        listen = self.start("listen", "--json", user=bob)
        stored = self.listen_json(listen, "the stored message")
        self.assertEqual((stored["from"], stored["to"], stored["content_type"], stored["text"]),
                         (aor(alice), aor(bob), "text/plain;charset=UTF-8", "kept for you"))
        self.assertIsInstance(stored["date"], str, "a stored message carries the server's Date")
        # Registered now (the stored message came): a live one.
        self.assert_done(self.client("send", bob, "Grüße aus Göttingen", "--content-type", "text/x-greeting",
                                     user=alice), ["delivered (200 OK)"])
        live = self.listen_json(listen, "the live message")
        self.assertEqual((live["from"], live["to"], live["content_type"], live["text"]),
                         (aor(alice), aor(bob), "text/x-greeting", "Grüße aus Göttingen"))
        code, rest = listen.stop()
        self.assertEqual(code, 0, listen.describe())
        self.assertEqual([line for line in rest if not line.startswith("unregistered ")], [], listen.describe())

    def test_text_from_stdin(self):
        bob, alice = self.user("bob"), self.user("alice")
        listen = self.listening(bob)
        result = self.client("send", bob, "-", user=alice, input="read from standard input ✓\n")
        self.assert_done(result, ["delivered (200 OK)"])
        line = listen.next_line(what="the message read from stdin")
        self.assert_message(line, alice, "read from standard input ✓")
        self.stop_cleanly(listen, None)

    def test_text_from_stdin_is_sent_whole(self):
        bob, alice = self.user("bob"), self.user("alice")
        text = "line one\nline two\n"
        self.assert_done(self.client("send", bob, "-", user=alice, input=text),
                         [STORED])
        listen = self.start("listen", "--json", user=bob)
        got = self.listen_json(listen)
        # Sent as read; a reader may drop the one trailing newline of the input.
        self.assertIn(got["text"], (text, text[:-1]))
        code, _ = listen.stop()
        self.assertEqual(code, 0, listen.describe())

    def test_send_with_the_server_from_the_environment(self):
        bob, alice = self.user("bob"), self.user("alice")
        result = subprocess.run([HERALD, "send", bob, "env server", "--user", alice], stdin=subprocess.DEVNULL,
                                env=client_env(HERALD_SERVER=self.address, HERALD_PASSWORD=self.password(alice)),
                                capture_output=True, text=True, timeout=30)
        self.assert_done(result, [STORED])


# -- refreshes ----------------------------------------------------------------------------------

class Refresh(ClientTestCase):
    config = ("[registrar]\nmin_expires = 1\n"
              "[presence]\nsubscribe_min_expires = 1\npublish_min_expires = 1\n")

    def test_register_publish_and_watch_refresh_before_expiry(self):
        reg_user, pub_user, watcher = self.user("poisson"), self.user("laplace"), self.user("chebychev")
        watch = self.watching(reg_user, pub_user, user=watcher, expires=4)
        self.first_events(watch, {reg_user: "closed", pub_user: "closed"})
        reg, contact = self.registered("--expires", "4", user=reg_user, expires=4)
        self.assert_event(watch.next_line(), reg_user, f"open contact={contact}")
        pub = self.start("publish", "--status", "open", "--note", "Still here", "--expires", "4", user=pub_user)
        self.assertEqual(pub.next_line(), f'published open "Still here" for {aor(pub_user)} (expires in 4 s)')
        self.assert_event(watch.next_line(), pub_user, 'open "Still here"')
        # Three expiry periods: the binding, the publication and the subscription are refreshed
        # silently (nothing printed, nothing changes for the watcher).
        deadline = time.time() + 10
        for proc in (watch, reg, pub):
            proc.no_line(self, max(0.1, deadline - time.time()))
        self.stop_cleanly(reg, [f"unregistered {aor(reg_user)}"])
        self.assert_event(watch.next_line(), reg_user, "closed")
        self.stop_cleanly(pub, [f"removed the publication of {aor(pub_user)}"])
        self.assert_event(watch.next_line(), pub_user, "closed")
        self.stop_cleanly(watch, None)


# -- SIPp as the peer ---------------------------------------------------------------------------

@unittest.skipUnless(shutil.which("sipp"), "sipp not installed")
class SippPeer(Checks):
    """`herald send --server 127.0.0.1:<SIPp>` against SIPp UAS scenarios (sipp/client_*.xml)."""

    PASSWORD = "alice-sipp-secret"

    def send_to_sipp(self, scenario, *extra, transport="udp"):
        port = free_port()
        args = ["-p", str(port), "-m", "1"] + (["-t", "t1"] if transport == "tcp" else [])
        peer = sipp(scenario, *args)
        self.addCleanup(lambda: peer.poll() is None and finish(peer, 0.1))
        self.wait_bound(port, socket.SOCK_STREAM if transport == "tcp" else socket.SOCK_DGRAM, peer)
        result = subprocess.run([HERALD, "send", "bob", "hello from herald", "--server", f"{HOST}:{port}", "--user",
                                 "alice", "--transport", transport, *extra], stdin=subprocess.DEVNULL,
                                env=client_env(HERALD_PASSWORD=self.PASSWORD), capture_output=True, text=True,
                                timeout=30)
        code, out = finish(peer, 15)
        return result, code, out

    def wait_bound(self, port, kind, peer):
        deadline = time.time() + 10
        while time.time() < deadline:
            if peer.poll() is not None:
                self.fail("SIPp exited: " + finish(peer)[1][-3000:])
            with socket.socket(socket.AF_INET, kind) as probe:
                try:
                    probe.bind((HOST, port))
                except OSError:
                    return
            time.sleep(0.05)
        self.fail(f"SIPp did not bind {port}")

    def test_401_again_after_credentials_is_exit_4_after_exactly_one_retry(self):
        result, code, out = self.send_to_sipp("client_auth_401_uas.xml")
        self.assert_error(result, 4, "401 Unauthorized")
        self.assertEqual(code, 0, "SIPp (one retry with Authorization, no third MESSAGE):\n" + out[-3000:])

    def test_407_again_after_credentials_is_exit_4_after_exactly_one_retry(self):
        result, code, out = self.send_to_sipp("client_auth_407_uas.xml")
        self.assert_error(result, 4, "407 Proxy Authentication Required")
        self.assertEqual(code, 0, "SIPp (one retry with Proxy-Authorization, no third MESSAGE):\n" + out[-3000:])

    def test_digest_credentials_checked_by_sipp(self):
        result, code, out = self.send_to_sipp("client_auth_ok_uas.xml")
        self.assert_done(result, ["delivered (200 OK)"])
        self.assertEqual(code, 0, out[-3000:])

    def test_480_is_exit_1_naming_the_status(self):
        result, code, out = self.send_to_sipp("client_480_uas.xml")
        self.assert_error(result, 1, "480 Temporarily Unavailable", "sip:bob@127.0.0.1")
        self.assertEqual(code, 0, out[-3000:])

    def test_202_is_stored_for_later_delivery(self):
        for transport in ("udp", "tcp"):
            with self.subTest(transport=transport):
                result, code, out = self.send_to_sipp("client_202_uas.xml", transport=transport)
                # SIPp's reason phrase, as received.
                self.assert_done(result, ["stored for later delivery (202 Accepted)"])
                self.assertEqual(code, 0, out[-3000:])

    def test_2xx_is_delivered_with_the_reason_as_received(self):
        result, code, out = self.send_to_sipp("client_200_uas.xml")
        self.assert_done(result, ["delivered (200 Delivered To Bob)"])
        self.assertEqual(code, 0, out[-3000:])


# -- usage --------------------------------------------------------------------------------------

class Usage(Checks):
    COMMON = ("--server", "--user", "--password-file", "--transport", "--timeout", "--help")
    OWN = {
        "register": ("--expires",),
        "publish": ("--expires", "--status", "--note", "--activity", "--contact", "--once"),
        "watch": ("--expires", "--json"),
        "send": ("--content-type",),
        "listen": ("--json",),
    }

    def run_herald(self, *args):
        return subprocess.run([HERALD, *args], env=client_env(), stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=30)

    def test_help_of_each_command(self):
        for command in COMMANDS:
            with self.subTest(command=command):
                result = self.run_herald(command, "--help")
                self.assertEqual(result.returncode, 0, result.stderr)
                for option in self.COMMON + self.OWN[command]:
                    self.assertIn(option, result.stdout, f"herald {command} --help does not mention {option}")
        top = self.run_herald("--help")
        for command in COMMANDS:
            self.assertRegex(top.stdout, rf"(?m)^\s+{command}\b", f"herald --help does not list {command}")

    def test_bad_usage_is_exit_2_with_one_line(self):
        server = ("--server", "127.0.0.1:9")  # discard port: never reached when the usage is refused
        cases = [
            ("publish", "--status", "away", "--user", "alice", *server),
            ("publish", "--status", "OPEN", "--user", "alice", *server),
            ("register", "--frobnicate", "--user", "alice", *server),
            ("send", "bob", "hi", "--user", "alice", "--colour", "red", *server),
            ("send", "bob", "--user", "alice", *server),
            ("watch", "--user", "alice", *server),
            ("listen", "--user", "alice", "--transport", "sctp", *server),
            ("register", "--user", "alice", "--timeout", "soon", *server),
            ("register", "--user", "alice", "--expires", "never", *server),
            ("register", *server),  # no --user and no HERALD_USER
        ]
        for args in cases:
            with self.subTest(args=" ".join(args)):
                self.assert_error(self.run_herald(*args), 2)


if __name__ == "__main__":
    unittest.main()
