"""The server core over real sockets: OPTIONS, the RFC's answers for what it does not serve,
malformed input (answered or dropped, never a crash), transactions, TCP framing, keep-alives,
RFC 4475 torture messages, SIPp and sipsak as peers."""

import os
import shutil
import socket
import subprocess
import tempfile
import unittest

from harness import (TEST_DATA_DIR, SOURCE_DIR, Server, ServerTestCase, TcpClient, UdpClient, header, request,
                     status_of)


ALLOW = {"OPTIONS", "REGISTER", "ACK", "CANCEL", "SUBSCRIBE", "PUBLISH"}


def listed(value):
    """A comma-separated header value (Allow, Allow-Events, Accept) as a set."""
    return {v.strip() for v in (value or "").split(",") if v.strip()}


class Options(ServerTestCase):
    def test_options_over_udp_lists_capabilities(self):
        c = UdpClient(self.server)
        c.send(request("OPTIONS", f"sip:127.0.0.1:{self.server.port}", port=c.port))
        r = c.recv()
        self.assertEqual(status_of(r), (200, "OK"))
        self.assertEqual(listed(header(r, "Allow")), ALLOW)
        self.assertEqual(listed(header(r, "Allow-Events")), {"presence", "presence.winfo"})
        self.assertTrue({"application/pidf+xml", "application/cpim-pidf+xml"} <= listed(header(r, "Accept")))
        self.assertEqual(header(r, "Supported"), "path")
        self.assertRegex(header(r, "To"), r";tag=\w+")
        self.assertRegex(header(r, "Via"), rf"received=127\.0\.0\.1;rport={c.port}")
        self.assertEqual(header(r, "Server"), "Herald/0.1.0")

    def test_options_over_tcp(self):
        c = TcpClient(self.server)
        c.send(request("OPTIONS", f"sip:127.0.0.1:{self.server.port}", transport="TCP", port=c.port))
        r = c.recv_message()
        self.assertEqual(status_of(r)[0], 200)
        c.close()

    def test_rport_response_goes_to_source_port(self):
        # The Via names port 5099, where nobody listens; rport sends the answer to the source.
        c = UdpClient(self.server)
        c.send(request("OPTIONS", "sip:127.0.0.1", port=5099))
        self.assertEqual(status_of(c.recv())[0], 200)


class Answers(ServerTestCase):
    def ask(self, text):
        c = UdpClient(self.server)
        c.send(text.replace("PORT", str(c.port)))
        r = c.recv()
        if r is not None and status_of(r)[0] == 100:  # INVITE: 100 Trying first
            r = c.recv()
        c.close()
        return r

    def test_known_method_not_served_is_405_with_allow(self):
        for method in ["INVITE", "MESSAGE", "BYE", "INFO", "REFER"]:
            r = self.ask(request(method, "sip:127.0.0.1", port="PORT"))  # to the server itself
            self.assertEqual(status_of(r), (405, "Method Not Allowed"), method)
            self.assertEqual(listed(header(r, "Allow")), ALLOW)

    def test_subscribe_and_publish_without_event_are_489_with_allow_events(self):
        # The server is a notifier and an event state compositor now (RFC 6665 §8.2.1,
        # RFC 3903 §6 step 2): without an Event header the answer is 489 Bad Event.
        for method in ["SUBSCRIBE", "PUBLISH"]:
            r = self.ask(request(method, "sip:127.0.0.1", port="PORT"))  # to the server itself
            self.assertEqual(status_of(r), (489, "Bad Event"), method)
            self.assertIn("presence", listed(header(r, "Allow-Events")), method)

    def test_unknown_method_is_501(self):
        r = self.ask(request("SERVICE", "sip:127.0.0.1", port="PORT"))
        self.assertEqual(status_of(r), (501, "Not Implemented"))

    def test_requests_for_users_go_to_the_proxy(self):
        # No account "alice": 404 for any method; a foreign domain without relay: 403.
        for method in ["INVITE", "MESSAGE", "SERVICE", "OPTIONS"]:
            r = self.ask(request(method, "sip:alice@127.0.0.1", port="PORT"))
            self.assertEqual(status_of(r), (404, "Not Found"), method)
        r = self.ask(request("MESSAGE", "sip:alice@example.com", port="PORT"))
        self.assertEqual(status_of(r), (403, "Relaying denied"))

    def test_unsupported_require_is_420_with_unsupported(self):
        r = self.ask(request("OPTIONS", "sip:127.0.0.1", port="PORT", extra="Require: foo, bar\r\nProxy-Require: baz"))
        self.assertEqual(status_of(r), (420, "Bad Extension"))
        self.assertEqual(header(r, "Unsupported"), "foo, bar, baz")

    def test_unknown_uri_scheme_is_416(self):
        r = self.ask(request("OPTIONS", "mailto:alice@example.com", port="PORT"))
        self.assertEqual(status_of(r), (416, "Unsupported URI Scheme"))

    def test_max_forwards_zero_is_483(self):
        text = request("OPTIONS", "sip:127.0.0.1", port="PORT").replace("Max-Forwards: 70", "Max-Forwards: 0")
        self.assertEqual(status_of(self.ask(text)), (483, "Too Many Hops"))

    def test_cancel_without_transaction_is_481(self):
        r = self.ask(request("CANCEL", "sip:alice@127.0.0.1", port="PORT"))
        self.assertEqual(status_of(r), (481, "Call/Transaction Does Not Exist"))

    def test_ack_gets_no_answer(self):
        self.assertIsNone(self.ask(request("ACK", "sip:alice@127.0.0.1", port="PORT")))


class Transactions(ServerTestCase):
    def test_retransmitted_request_gets_the_same_response(self):
        c = UdpClient(self.server)
        text = request("OPTIONS", "sip:127.0.0.1", port=c.port)
        c.send(text)
        first = c.recv()
        c.send(text)
        second = c.recv()
        self.assertEqual(status_of(first)[0], 200)
        self.assertEqual(first, second)  # same To tag: made from the request (answered statelessly, RFC 3261 §8.2.7)

    def test_invite_gets_100_then_final_and_ack_stops_retransmission(self):
        c = UdpClient(self.server)
        text = request("INVITE", "sip:127.0.0.1", port=c.port, branch="z9hG4bK-inv-ack-1")
        c.send(text)
        codes = []
        final = None
        for _ in range(2):
            r = c.recv()
            codes.append(status_of(r)[0])
            final = r
        self.assertEqual(codes, [100, 405])
        # The final is retransmitted (Timer G, 500 ms) until the ACK arrives.
        again = c.recv(timeout=1.5)
        self.assertEqual(status_of(again)[0], 405)
        to = header(final, "To")
        # RFC 3261 §17.1.1.3: the ACK has the INVITE's Request-URI (and so reaches the shard that
        # has its transaction).
        ack = request("ACK", "sip:127.0.0.1", port=c.port, branch="z9hG4bK-inv-ack-1", cseq_method="ACK")
        ack = ack.replace("To: <sip:herald@example.com>", f"To: {to}")
        cseq = header(text, "CSeq").split()[0]
        ack = ack.replace(f"CSeq: {header(ack, 'CSeq')}", f"CSeq: {cseq} ACK")
        ack = ack.replace(f"Call-ID: {header(ack, 'Call-ID')}", f"Call-ID: {header(text, 'Call-ID')}")
        ack = ack.replace(f"From: {header(ack, 'From')}", f"From: {header(text, 'From')}")
        c.send(ack)
        # Drain anything already in flight, then expect silence.
        while c.recv(timeout=0.3) is not None:
            pass
        self.assertIsNone(c.recv(timeout=2.5))


class Malformed(ServerTestCase):
    def send_udp(self, data, timeout=1.5):
        c = UdpClient(self.server)
        c.send(data)
        r = c.recv(timeout=timeout)
        c.close()
        return r

    def test_garbage_is_dropped(self):
        self.assertIsNone(self.send_udp(b"\x00\x01garbage\xff\xfe" * 10))
        self.assertIsNone(self.send_udp(b"hello there\r\n\r\n"))
        self.options_ok()

    def test_truncated_message_is_answered_400(self):
        full = request("OPTIONS", "sip:127.0.0.1", port=5099)
        cut = full[: full.index("Max-Forwards")] + "Max-Forw"
        r = self.send_udp(cut)
        self.assertEqual(status_of(r)[0], 400)
        self.options_ok()

    def test_truncated_start_line_is_dropped(self):
        self.assertIsNone(self.send_udp(b"OPTIONS sip:127.0"))
        self.options_ok()

    def test_content_length_larger_than_body(self):
        text = request("MESSAGE", "sip:alice@127.0.0.1", port=5099, body="hello", content_length=False)
        text = text.replace("\r\n\r\nhello", "\r\nContent-Length: 500\r\n\r\nhello")
        r = self.send_udp(text)
        self.assertEqual(status_of(r), (400, "Content-Length larger than body"))
        self.options_ok()

    def test_header_line_without_colon(self):
        text = request("OPTIONS", "sip:127.0.0.1", port=5099, extra="This line has no colon")
        self.assertEqual(status_of(self.send_udp(text)), (400, "Header line without colon"))
        self.options_ok()

    def test_missing_mandatory_header(self):
        text = request("OPTIONS", "sip:127.0.0.1", port=5099)
        text = "\r\n".join(l for l in text.split("\r\n") if not l.startswith("Call-ID"))
        self.assertEqual(status_of(self.send_udp(text)), (400, "Missing Call-ID header"))

    def test_request_without_via_is_dropped(self):
        text = request("OPTIONS", "sip:127.0.0.1", port=5099)
        text = "\r\n".join(l for l in text.split("\r\n") if not l.startswith("Via"))
        self.assertIsNone(self.send_udp(text))
        self.options_ok()

    def test_oversized_datagram_is_handled(self):
        text = request("MESSAGE", "sip:alice@127.0.0.1", port=5099, body="x" * 65000)
        r = self.send_udp(text)
        self.assertIn(status_of(r or "")[0], (404, 513, None))
        self.options_ok()

    def test_tcp_oversized_body_is_513_and_closed(self):
        c = TcpClient(self.server)
        c.send(request("MESSAGE", "sip:alice@127.0.0.1", transport="TCP", port=c.port, body="y" * 70000))
        r = c.recv_message()
        self.assertEqual(status_of(r)[0], 513)
        self.assertTrue(c.closed_by_peer())
        self.options_ok()

    def test_tcp_missing_content_length_is_400_and_closed(self):
        c = TcpClient(self.server)
        c.send(request("OPTIONS", "sip:127.0.0.1", transport="TCP", port=c.port, content_length=False))
        r = c.recv_message()
        self.assertEqual(status_of(r), (400, "Missing Content-Length header on a stream"))
        self.assertTrue(c.closed_by_peer())

    def test_tcp_garbage_then_close(self):
        c = TcpClient(self.server)
        c.send(b"\xff" * 20000)
        self.assertIn(c.recv_message(timeout=3), ("", None))
        c.close()
        self.options_ok()

    def test_tcp_content_length_larger_than_sent_waits_then_next_connection_works(self):
        c = TcpClient(self.server)
        text = request("MESSAGE", "sip:alice@127.0.0.1", transport="TCP", port=c.port, body="hello", content_length=False)
        c.send(text.replace("\r\n\r\nhello", "\r\nContent-Length: 500\r\n\r\nhello"))
        self.assertIsNone(c.recv_message(timeout=1))  # the framer waits for the rest
        c.close()
        self.options_ok()

    def test_tcp_pipelined_requests_and_keepalive(self):
        c = TcpClient(self.server)
        a = request("OPTIONS", "sip:127.0.0.1", transport="TCP", port=c.port)
        b = request("SERVICE", "sip:127.0.0.1", transport="TCP", port=c.port)
        c.send((a + b)[:50])
        c.send((a + b)[50:])
        self.assertEqual(status_of(c.recv_message())[0], 200)
        self.assertEqual(status_of(c.recv_message())[0], 501)
        c.send(b"\r\n\r\n")  # RFC 5626 §3.5.1 ping
        self.assertEqual(c.recv_raw(), b"\r\n")
        c.close()


# RFC 4475 messages sent to the running server, with the answer each gets. None: no answer
# (responses; a stream still waiting for the body Content-Length announced).
# Only over TCP: over UDP the answers would go to the documentation addresses in the
# messages' Vias (192.0.2.x), which a test must never send to.
TORTURE_ANSWERS = {
    # Requests for users of domains Herald does not serve (relay is off by default), also
    # those with a Route to another host, are refused before anything else looks at them.
    "wsinv": 403, "intmeth": 403, "esc01": 403, "esc02": 403, "lwsdisp": 403, "longreq": 403,
    "semiuri": 403, "transports": 403, "mpart01": 403, "badbranch": 403, "baddate": 403, "invut": 403,
    "sdp01": 403,
    "dblreq": 401, "unreason": None, "noreason": None,
    "badinv01": 400, "scalar02": 400, "scalarlg": None, "quotbal": 400, "ltgtruri": 400,
    "lwsruri": 400, "lwsstart": 400, "trws": 400, "escruri": 400, "regbadct": 400,
    "badaspec": 400, "baddn": 400, "badvers": 505, "mismatch01": 400, "mismatch02": 400, "bigcode": None,
    "ncl": 400, "insuf": 400, "unkscm": 416, "novelsc": 416, "bext01": 420,
    "multi01": 400, "mcl01": 400, "bcast": None, "zeromf": 483,
    # REGISTERs meet the registrar: authentication is on by default, so they are challenged
    # (regaut01 too: an unknown scheme is no credential, RFC 4475 §3.3.10); unksm2's To is
    # not a SIP URI, which a registrar answers with 400 (RFC 4475 §3.3.4).
    "cparam01": 401, "cparam02": 401, "regescrt": 401, "regaut01": 401, "unksm2": 400, "escnull": 401,
    # Streams need Content-Length (RFC 3261 §18.3): clerr announces more than it sends, so the
    # framer waits; inv2543 has none, so it is answered 400 and the connection closed.
    "clerr": None, "inv2543": 400,
}


class TortureOverTcp(ServerTestCase):
    """Over TCP the answer comes back on the connection, whatever the Via says."""

    def test_each_torture_message_gets_its_answer(self):
        directory = os.path.join(TEST_DATA_DIR, "torture")
        for name, expected in sorted(TORTURE_ANSWERS.items()):
            with self.subTest(name):
                with open(os.path.join(directory, name + ".dat"), "rb") as f:
                    data = f.read()
                c = TcpClient(self.server)
                c.send(data)
                r = c.recv_message(timeout=1.0)
                got = status_of(r)[0] if r else None
                if got == 100:  # INVITE: 100 Trying comes first
                    r = c.recv_message(timeout=1.0)
                    got = status_of(r)[0] if r else None
                self.assertEqual(got, expected, r)
                c.close()
        self.options_ok()


class Peers(ServerTestCase):
    def test_sipp_options_scenario(self):
        if not shutil.which("sipp"):
            self.skipTest("sipp not installed")
        scenario = os.path.join(SOURCE_DIR, "bench", "sipp", "options_uac.xml")
        for transport in ("u1", "t1"):
            with self.subTest(transport):
                out = subprocess.run(
                    ["sipp", "-sf", scenario, "-m", "200", "-r", "100", "-t", transport, "-i", "127.0.0.1",
                     "-p", "0", "-bg" if False else "-nostdin", "-timeout", "30s", "-timeout_error",
                     f"127.0.0.1:{self.server.port}", "-trace_err", "-error_file", os.devnull],
                    capture_output=True, text=True, timeout=60, cwd=self.server.data_dir)
                self.assertEqual(out.returncode, 0, out.stdout[-2000:] + out.stderr[-2000:])

    def test_sipsak_options_udp_and_tcp(self):
        if not shutil.which("sipsak"):
            self.skipTest("sipsak not installed")
        for extra in ([], ["-E", "tcp"]):
            with self.subTest(extra):
                out = subprocess.run(["sipsak", "-vv", "-s", "sip:127.0.0.1", "-r", str(self.server.port), *extra],
                                     capture_output=True, text=True, timeout=30)
                self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
                self.assertIn("SIP/2.0 200 OK", out.stdout)


class Ipv6(unittest.TestCase):
    def test_options_over_ipv6_loopback(self):
        try:
            with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
                s.bind(("::1", 0))
        except OSError:
            self.skipTest("no IPv6 loopback")
        server = Server(host="::1")
        try:
            for client in (UdpClient(server), TcpClient(server)):
                transport = "UDP" if isinstance(client, UdpClient) else "TCP"
                client.send(request("OPTIONS", "sip:[::1]", transport=transport, host="[::1]", port=client.port))
                r = client.recv() if transport == "UDP" else client.recv_message()
                self.assertEqual(status_of(r)[0], 200, transport)
                self.assertIn("received=::1", header(r, "Via"))
                client.close()
        finally:
            self.assertEqual(server.stop(), 0)


class Lifecycle(unittest.TestCase):
    def test_bad_config_names_file_line_and_option(self):
        server_dir = os.path.join(os.environ.get("TMPDIR", "/tmp"))
        path = os.path.join(server_dir, f"herald-bad-{os.getpid()}.toml")
        with open(path, "w") as f:
            f.write('log_level = "info"\n\nworkers = "many"\n')
        from harness import HERALD
        out = subprocess.run([HERALD, "serve", "--config", path], capture_output=True, text=True, timeout=10)
        os.unlink(path)
        self.assertEqual(out.returncode, 2)
        self.assertIn(f"{path}:3: option 'workers' must be \"auto\" or an integer", out.stderr)

    def test_help_lists_serve(self):
        from harness import HERALD
        out = subprocess.run([HERALD, "--help"], capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 0)
        self.assertIn("serve", out.stdout)
        out = subprocess.run([HERALD, "serve", "--help"], capture_output=True, text=True, timeout=10)
        self.assertIn("--config", out.stdout)

    def test_sigterm_stops_cleanly(self):
        server = Server()
        self.assertEqual(server.stop(), 0)
        self.assertIn("stopped", server.log_text())

    def test_a_second_server_on_the_same_data_directory_or_address_refuses_to_start(self):
        from harness import HERALD, free_port
        server = Server()
        try:
            # The same data directory, another port: the first holds the directory's lock.
            other_port = free_port()
            out = subprocess.run([HERALD, "serve", "--data-dir", server.data_dir, "--listen",
                                  f"udp:127.0.0.1:{other_port}"], capture_output=True, text=True, timeout=10)
            self.assertEqual(out.returncode, 1, out.stderr)
            self.assertIn(f"data directory {server.data_dir} is used by another herald serve (pid {server.proc.pid})",
                          out.stderr)
            # Another data directory, the same address: UDP and TCP each refuse to share it.
            for protocol in ("udp", "tcp"):
                with tempfile.TemporaryDirectory() as data_dir:
                    out = subprocess.run([HERALD, "serve", "--data-dir", data_dir, "--listen",
                                          f"{protocol}:127.0.0.1:{server.port}"], capture_output=True, text=True,
                                         timeout=10)
                self.assertEqual(out.returncode, 1, out.stderr)
                self.assertIn(f"cannot listen on {protocol.upper()}:127.0.0.1:{server.port}: Address already in use "
                              "(another herald serve, or another program, has it)", out.stderr)
            # The first server still answers alone.
            c = UdpClient(server)
            c.send(request("OPTIONS", f"sip:127.0.0.1:{server.port}", port=c.port))
            self.assertEqual(status_of(c.recv())[0], 200)
            c.close()
        finally:
            self.assertEqual(server.stop(), 0)
        # Once it stopped, the directory and the address are free again.
        again = Server(data_dir=server.data_dir, port=server.port)
        self.assertEqual(again.stop(), 0)


if __name__ == "__main__":
    unittest.main()
