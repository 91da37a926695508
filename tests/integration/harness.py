"""Shared helpers for Herald's integration tests: start the built binary on free loopback
ports, talk SIP to it over real UDP and TCP sockets, and stop it by PID."""

import atexit
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

HERALD = os.environ.get("HERALD_BIN", "build/dev/src/app/herald")
# Event loops of every server the tests start (`herald serve --workers`): CI runs the suite with
# 1 and with 2, so that each request also goes through the hand-over to its AOR's owner shard.
WORKERS = os.environ.get("HERALD_TEST_WORKERS", "1")
SOURCE_DIR = os.environ.get("HERALD_SOURCE_DIR", ".")
TEST_DATA_DIR = os.environ.get("HERALD_TEST_DATA_DIR", os.path.join(SOURCE_DIR, "tests", "data"))

# The data directories Server made; removed when the test process exits (each holds a database,
# a key and a log), unless HERALD_KEEP_TEST_DIRS=1 keeps them for reading after a failure.
_made_dirs = []


def _remove_made_dirs():
    if os.environ.get("HERALD_KEEP_TEST_DIRS") != "1":
        for d in _made_dirs:
            shutil.rmtree(d, ignore_errors=True)


atexit.register(_remove_made_dirs)


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    """A port free for both UDP and TCP on host (checked by binding both)."""
    for _ in range(50):
        with socket.socket(family, socket.SOCK_DGRAM) as u:
            u.bind((host, 0))
            port = u.getsockname()[1]
            try:
                with socket.socket(family, socket.SOCK_STREAM) as t:
                    t.bind((host, port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port")


class Server:
    """One `herald serve` process on 127.0.0.1 (or ::1), UDP and TCP on the same port."""

    def __init__(self, host="127.0.0.1", extra_args=(), config=None, data_dir=None, port=None, workers=None):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.host = host
        self.family = family
        self.port = port or free_port(family, host)
        if data_dir is None:
            data_dir = tempfile.mkdtemp(prefix="herald-it-")
            _made_dirs.append(data_dir)
        self.data_dir = data_dir
        literal = f"[{host}]" if family == socket.AF_INET6 else host
        args = [HERALD, "serve", "--listen", f"udp:{literal}:{self.port}", "--listen", f"tcp:{literal}:{self.port}",
                "--data-dir", self.data_dir, "--log-level", "debug", "--workers", str(workers or WORKERS), *extra_args]
        if config:
            path = os.path.join(self.data_dir, "herald.toml")
            with open(path, "w") as f:
                f.write(config)
            args += ["--config", path]
        self.log_path = os.path.join(self.data_dir, f"herald-{time.time()}.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"herald exited with {self.proc.returncode}: {self.log_text()}")
            if "herald serving" in self.log_text():
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("herald did not start: " + self.log_text())

    def log_text(self):
        with open(self.log_path) as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


_counter = [0]


def request(method, uri, transport="UDP", host="127.0.0.1", port=5099, extra="", body="", cseq_method=None,
            branch=None, content_length=True):
    """A well-formed request as text with CRLF line ends."""
    _counter[0] += 1
    n = _counter[0]
    branch = branch or f"z9hG4bK-it-{os.getpid()}-{n}"
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: SIP/2.0/{transport} {host}:{port};branch={branch};rport",
        "Max-Forwards: 70",
        f"From: <sip:tester@example.com>;tag=it{n}",
        "To: <sip:herald@example.com>",
        f"Call-ID: it-{os.getpid()}-{n}@{host}",
        f"CSeq: {n} {cseq_method or method}",
    ]
    if extra:
        lines += extra.rstrip("\r\n").split("\r\n")
    if content_length:
        lines.append(f"Content-Length: {len(body.encode())}")
    return "\r\n".join(lines) + "\r\n\r\n" + body


def status_of(text):
    m = re.match(r"SIP/2\.0 (\d{3}) ?(.*?)\r?\n", text)
    return (int(m.group(1)), m.group(2)) if m else (None, None)


def header(text, name):
    m = re.search(rf"^{re.escape(name)}:[ \t]*(.*?)\r?$", text, re.M | re.I)
    return m.group(1) if m else None


class UdpClient:
    def __init__(self, server):
        self.server = server
        self.sock = socket.socket(server.family, socket.SOCK_DGRAM)
        self.sock.bind((server.host, 0))
        self.port = self.sock.getsockname()[1]

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1") if not _is_utf8(data) else data.encode()
        self.sock.sendto(data, (self.server.host, self.server.port))

    def recv(self, timeout=2.0):
        """The next datagram as text, or None when nothing arrives in time."""
        self.sock.settimeout(timeout)
        try:
            data, _ = self.sock.recvfrom(70000)
            return data.decode("latin-1")
        except socket.timeout:
            return None

    def close(self):
        self.sock.close()


def _is_utf8(s):
    try:
        s.encode("latin-1")
        return False
    except UnicodeEncodeError:
        return True


class TcpClient:
    def __init__(self, server):
        self.server = server
        self.sock = socket.create_connection((server.host, server.port), timeout=5)
        self.port = self.sock.getsockname()[1]
        self.buffer = b""

    def send(self, data):
        self.sock.sendall(data.encode("latin-1") if isinstance(data, str) else data)

    def recv_message(self, timeout=2.0):
        """Reads one framed SIP message (None on timeout, '' when the peer closed)."""
        self.sock.settimeout(timeout)
        deadline = time.time() + timeout
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end >= 0:
                head = self.buffer[:end].decode("latin-1")
                m = re.search(r"^(?:Content-Length|l)[ \t]*:[ \t]*(\d+)", head, re.M | re.I)
                length = int(m.group(1)) if m else 0
                if len(self.buffer) >= end + 4 + length:
                    msg = self.buffer[: end + 4 + length]
                    self.buffer = self.buffer[end + 4 + length:]
                    return msg.decode("latin-1")
            if time.time() > deadline:
                return None
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return None
            if not chunk:
                return ""
            self.buffer += chunk

    def recv_raw(self, timeout=2.0):
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(65536)
        except socket.timeout:
            return None

    def closed_by_peer(self, timeout=3.0):
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


def add_user(server, aor, password):
    """`herald user add AOR --password PASSWORD` on the server's data directory."""
    r = subprocess.run([HERALD, "user", "add", aor, "--password", password, "--data-dir", server.data_dir],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError(f"herald user add {aor}: {r.stderr}")


class ServerTestCase(unittest.TestCase):
    """Starts one server per test class (its `config`, with the accounts in `users`: (AOR,
    password) pairs); each test checks the server is still alive after, and closes what it
    handed to track()."""

    server_args = ()
    config = None  # TOML text; None: the defaults
    users = ()

    @classmethod
    def setUpClass(cls):
        cls.server = Server(extra_args=cls.server_args, config=cls.config)
        for aor, password in cls.users:
            add_user(cls.server, aor, password)

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        if code != 0:
            raise AssertionError(f"herald exited with {code}; log:\n{cls.server.log_text()[-3000:]}")

    def setUp(self):
        self._tracked = []

    def tearDown(self):
        for thing in getattr(self, "_tracked", []):
            thing.close()
        self.assertTrue(self.server.alive(), "server died:\n" + self.server.log_text()[-3000:])

    def track(self, thing):
        """Closes `thing` (a UA, a socket) after the test; returns it."""
        self._tracked.append(thing)
        return thing

    def options_ok(self):
        """The server still answers a good request with 200."""
        c = UdpClient(self.server)
        try:
            c.send(request("OPTIONS", f"sip:{self.server.host}:{self.server.port}", port=c.port))
            self.assertEqual(status_of(c.recv() or "")[0], 200)
        finally:
            c.close()
