"""Floods and connection hogs against the real binary, each from its own loopback address
(these servers trust nobody: `trusted = []`), with a legitimate client on another address
served throughout.

What each attack gets:
- a UDP flood of requests from one source, beyond its budget (requests_per_second,
  request_burst): one 503 with Retry-After a second ("Too many requests from this address"),
  the rest dropped unread; another source's requests are all answered;
- TCP connections from one source beyond max_tcp_connections_per_source: closed at once;
  others are still accepted;
- a connection that sends a byte now and then (slowloris): closed tcp_message_timeout after
  its message began ("a message did not arrive whole in time");
- a connection that sends nothing valid: closed after tcp_unconfirmed_timeout;
- the connection table full of such connections: a newcomer takes the oldest one's place.
The latency figures of a flood are measured by bench/flood.py, not asserted here."""

import socket
import threading
import time
import unittest

from harness import ServerTestCase, header, request, status_of

CONFIG = """domains = ["example.com"]
auth = "off"
[security]
trusted = []
requests_per_second = 50
request_burst = 100
[limits]
max_tcp_connections = 12
max_tcp_connections_per_source = 5
tcp_message_timeout = 2
tcp_unconfirmed_timeout = 2
"""


def options(port, host, n, transport="UDP"):
    return request("OPTIONS", "sip:example.com", transport=transport, host=host, port=port,
                   branch=f"z9hG4bK-limits-{host}-{port}-{n}")


class Limits(ServerTestCase):
    config = CONFIG

    def udp(self, host):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((host, 0))
        s.settimeout(2)
        self.addCleanup(s.close)
        return s

    def tcp(self, host):
        s = socket.create_connection((self.server.host, self.server.port), timeout=5, source_address=(host, 0))
        self.addCleanup(s.close)
        return s

    def assert_logged(self, text, within=2.0):
        """The server's log says `text` within `within` seconds (it writes after closing)."""
        deadline = time.time() + within
        while text not in self.server.log_text() and time.time() < deadline:
            time.sleep(0.05)
        self.assertIn(text, self.server.log_text())

    @staticmethod
    def closed(sock, within):
        """True when the peer closes `sock` within `within` seconds."""
        sock.settimeout(within)
        try:
            while True:
                if not sock.recv(65536):
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def test_a_udp_flood_is_cut_to_its_budget_and_another_source_is_served(self):
        flooder = self.udp("127.0.0.2")
        port = flooder.getsockname()[1]
        stop = threading.Event()
        sent = [0]

        def flood():
            n = 0
            while not stop.is_set() and n < 200000:
                flooder.sendto(options(port, "127.0.0.2", n).encode(), (self.server.host, self.server.port))
                n += 1
            sent[0] = n

        thread = threading.Thread(target=flood)
        thread.start()
        user = self.udp("127.0.0.3")
        answered = 0
        try:
            time.sleep(0.3)
            for i in range(20):  # 10 a second, for 2 s
                user.sendto(options(user.getsockname()[1], "127.0.0.3", i).encode(),
                            (self.server.host, self.server.port))
                try:
                    data = user.recv(65536).decode()
                    answered += status_of(data)[0] == 200
                except socket.timeout:
                    pass
                time.sleep(0.1)
        finally:
            stop.set()
            thread.join()
        self.assertEqual(answered, 20, "the other source lost requests")
        # The flooder: a few 503s (one a second), the rest of its answers never sent.
        flooder.settimeout(0.5)
        got = {}
        try:
            while True:
                data = flooder.recv(65536).decode()
                code, reason = status_of(data)
                got[(code, reason)] = got.get((code, reason), 0) + 1
                if code == 503:
                    self.assertEqual(header(data, "Retry-After"), "1")
        except socket.timeout:
            pass
        refused = got.get((503, "Too many requests from this address"), 0)
        ok = got.get((200, "OK"), 0)
        print(f"\nflood: {sent[0]} requests sent, {ok} answered 200, {refused} answered 503")
        self.assertGreaterEqual(refused, 1)
        self.assertLessEqual(refused, 6)  # at most one a second, over about 2.5 s
        self.assertLess(ok, sent[0] / 2)
        self.assert_logged("requests from 127.0.0.2 beyond its budget")

    def test_one_source_cannot_hold_every_connection(self):
        hogs = [self.tcp("127.0.0.4") for _ in range(5)]
        extra = self.tcp("127.0.0.4")  # the 6th from one address: closed at once
        self.assertTrue(self.closed(extra, 2.0))
        self.assertFalse(self.closed(hogs[0], 0.2))
        other = self.tcp("127.0.0.5")
        other.sendall(options(other.getsockname()[1], "127.0.0.5", 1, "TCP").encode())
        other.settimeout(2)
        self.assertEqual(status_of(other.recv(65536).decode())[0], 200)

    def test_a_slow_sender_is_closed_when_its_message_is_late(self):
        slow = self.tcp("127.0.0.6")
        slow.sendall(options(slow.getsockname()[1], "127.0.0.6", 0, "TCP").encode())  # one whole message first
        slow.settimeout(2)
        self.assertEqual(status_of(slow.recv(65536).decode())[0], 200)
        text = options(slow.getsockname()[1], "127.0.0.6", 1, "TCP").encode()
        started = time.time()
        closed = False
        for i in range(len(text)):
            try:
                slow.sendall(text[i:i + 1])
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            if self.closed(slow, 0.5):
                closed = True
                break
        self.assertTrue(closed, "a byte every half second kept the connection open")
        self.assertLess(time.time() - started, 5)
        self.assert_logged("closed: a message did not arrive whole in time")

    def test_a_connection_without_a_valid_message_is_closed_soon(self):
        silent = self.tcp("127.0.0.7")
        started = time.time()
        self.assertTrue(self.closed(silent, 5))
        self.assertLess(time.time() - started, 4)
        self.assert_logged("closed: no valid message in time")

    def test_a_full_table_still_takes_a_newcomer(self):
        # Twelve places: five sources of two idle connections each, then two more. The next
        # source's connection takes the oldest idle one's place and is served.
        idle = []
        for n in range(6):
            idle += [self.tcp(f"127.0.0.{20 + n}") for _ in range(2)]
        newcomer = self.tcp("127.0.0.40")
        newcomer.sendall(options(newcomer.getsockname()[1], "127.0.0.40", 1, "TCP").encode())
        newcomer.settimeout(2)
        self.assertEqual(status_of(newcomer.recv(65536).decode())[0], 200)
        # The oldest idle connection went at once, long before its unconfirmed_timeout; the
        # youngest is still there.
        self.assertTrue(self.closed(idle[0], 0.5), "the oldest idle connection was not the one to go")
        self.assertFalse(self.closed(idle[-1], 0.2))


if __name__ == "__main__":
    unittest.main()
