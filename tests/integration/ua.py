"""A small SIP user agent for the integration tests, over UDP or TCP on its own 127.0.0.1
port: register (digest when challenged), send requests and collect responses, receive
requests and reply to them, CANCEL, ACK and in-dialog requests along a route set.

Messages are bytes on the wire (bodies may be binary); `Message` parses one into a start
line, headers in their order (folded lines joined) and the body bytes. A retransmitted
request is answered again with the reply already sent and never reaches the test twice."""

import hashlib
import itertools
import os
import re
import socket
import time

COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length",
           "c": "content-type", "k": "supported", "s": "subject", "e": "content-encoding", "o": "event",
           "r": "refer-to", "u": "allow-events", "b": "referred-by"}

_ids = itertools.count(1)


def unique(prefix):
    return f"{prefix}-{os.getpid()}-{next(_ids)}-{int(time.time() * 1000) % 100000000}"


def split_values(value, first_char="<"):
    """Splits a comma-separated header value (Route, Contact, Via) outside <> and quotes."""
    out, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(value):
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "<":
            depth += 1
        elif not quoted and ch == ">":
            depth -= 1
        elif not quoted and depth == 0 and ch == ",":
            out.append(value[start:i].strip())
            start = i + 1
    out.append(value[start:].strip())
    return [v for v in out if v]


def uri_of(name_addr):
    """The URI inside a name-addr (`"Bob" <sip:bob@x>;tag=1` -> `sip:bob@x`) or an addr-spec."""
    m = re.search(r"<([^>]*)>", name_addr)
    return m.group(1) if m else name_addr.split(";")[0].strip()


def param(value, name):
    """A header parameter (outside the <> of a name-addr): `tag`, `branch`, `q`, `expires`..."""
    tail = value[value.rfind(">") + 1:] if ">" in value else value
    m = re.search(rf";\s*{re.escape(name)}(?:=([^;,\s]*))?", tail, re.I)
    return None if m is None else (m.group(1) if m.group(1) is not None else "")


class Message:
    """One SIP message parsed from bytes: `method`/`uri` or `status`/`reason`, `headers`
    as [(name, value)] in wire order, `body` as bytes, `raw` as received."""

    def __init__(self, raw, source=None):
        self.raw = raw
        self.source = source
        end = raw.find(b"\r\n\r\n")
        head = raw[:end] if end >= 0 else raw
        rest = raw[end + 4:] if end >= 0 else b""
        lines = head.decode("utf-8", errors="surrogateescape").split("\r\n")
        self.start_line = lines[0]
        self.headers = []
        for line in lines[1:]:
            if line[:1] in (" ", "\t") and self.headers:
                name, value = self.headers[-1]
                self.headers[-1] = (name, value + " " + line.strip())
            elif ":" in line:
                name, value = line.split(":", 1)
                self.headers.append((name.strip(), value.strip()))
        length = self.get("Content-Length")
        self.body = rest[: int(length)] if length is not None and length.isdigit() else rest
        m = re.match(r"SIP/2\.0 (\d{3}) ?(.*)", self.start_line)
        if m:
            self.status, self.reason, self.method, self.uri = int(m.group(1)), m.group(2), None, None
        else:
            parts = self.start_line.split(" ")
            self.method, self.uri = parts[0], parts[1] if len(parts) > 1 else ""
            self.status = self.reason = None

    def __repr__(self):
        return self.raw.decode("latin-1")

    @property
    def is_request(self):
        return self.method is not None

    def all(self, name):
        """Every value of a header (compact forms included), in order, one per header line."""
        name = name.lower()
        return [v for n, v in self.headers if n.lower() == name or COMPACT.get(n.lower()) == name]

    def get(self, name):
        values = self.all(name)
        return values[0] if values else None

    def values(self, name):
        """Every comma-separated value of a header across its lines (Via, Route, Contact...)."""
        return [v for line in self.all(name) for v in split_values(line)]

    def vias(self):
        return self.values("Via")

    @property
    def call_id(self):
        return self.get("Call-ID")

    @property
    def cseq(self):
        number, method = self.get("CSeq").split()
        return int(number), method

    @property
    def from_tag(self):
        return param(self.get("From"), "tag")

    @property
    def to_tag(self):
        return param(self.get("To"), "tag")

    @property
    def branch(self):
        return param(self.vias()[0], "branch")

    def transaction_key(self):
        method = self.cseq[1]
        return self.branch, "INVITE" if method == "ACK" else method, self.method


class Dialog:
    """The UAC's view of a dialog established by a 2xx (RFC 3261 §12.1.2)."""

    def __init__(self, request, response):
        self.call_id = request.call_id
        self.local = request.get("From")
        self.remote = response.get("To")
        self.remote_target = uri_of(response.get("Contact"))
        self.route_set = list(reversed(response.values("Record-Route")))
        self.cseq = request.cseq[0]
        self.invite_cseq = request.cseq[0]


class UA:
    """A user agent for `user@domain` on its own 127.0.0.1 port. Over UDP it owns a
    socket; over TCP it holds one connection to the server and is reached through it."""

    def __init__(self, server, user, domain="example.com", transport="udp", password=None, bind_port=0,
                 bind_host="127.0.0.1"):
        self.server = server
        self.user, self.domain, self.password = user, domain, password
        self.transport = transport.lower()
        self.aor = f"sip:{user}@{domain}"
        self.host = bind_host  # another loopback address (127.0.0.2 …) is another source
        if self.transport == "udp":
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind((bind_host, bind_port))
        else:
            self.sock = socket.create_connection((server.host, server.port), timeout=5,
                                                 source_address=(bind_host, bind_port))
        self.port = self.sock.getsockname()[1]
        self.buffer = b""
        self.inbox = []
        self.replied = {}  # transaction key of a request received -> the last reply sent (bytes)
        self.responses_seen = set()
        self.tags = {}
        self.closed = False
        self.peer_closed = False

    # -- addresses ------------------------------------------------------------------

    @property
    def via_transport(self):
        return "UDP" if self.transport == "udp" else "TCP"

    @property
    def contact(self):
        return f"sip:{self.user}@{self.host}:{self.port}" + ("" if self.transport == "udp" else ";transport=tcp")

    def close(self):
        if not self.closed:
            self.closed = True
            self.sock.close()

    # -- the wire -------------------------------------------------------------------

    def send(self, data, addr=None):
        if isinstance(data, str):
            data = data.encode()
        if self.transport == "udp":
            self.sock.sendto(data, addr or (self.server.host, self.server.port))
        else:
            self.sock.sendall(data)

    def _read_one(self, deadline):
        """Reads one message into the inbox; False when nothing came before the deadline."""
        remaining = deadline - time.time()
        if remaining <= 0 or self.peer_closed:
            return False
        self.sock.settimeout(remaining)
        try:
            if self.transport == "udp":
                data, source = self.sock.recvfrom(70000)
            else:
                data, source = self._read_stream(deadline), None
                if data is None:
                    return False
        except (socket.timeout, BlockingIOError):
            return False
        except (ConnectionResetError, ConnectionRefusedError):
            if self.transport == "udp":
                return True  # ICMP port unreachable from an earlier send; keep reading
            self.peer_closed = True  # the server closed the connection: nothing more can come
            return False
        if not data.strip():
            return True
        self._accept(Message(data, source))
        return True

    def _read_stream(self, deadline):
        while True:
            while self.buffer.startswith(b"\r\n"):  # keep-alive pings (RFC 5626)
                self.buffer = self.buffer[2:]
            end = self.buffer.find(b"\r\n\r\n")
            if end >= 0:
                head = self.buffer[:end].decode("latin-1")
                m = re.search(r"^(?:Content-Length|l)[ \t]*:[ \t]*(\d+)", head, re.M | re.I)
                total = end + 4 + (int(m.group(1)) if m else 0)
                if len(self.buffer) >= total:
                    data, self.buffer = self.buffer[:total], self.buffer[total:]
                    return data
            if time.time() >= deadline:
                return None
            self.sock.settimeout(max(deadline - time.time(), 0.001))
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionResetError("server closed the connection")
            self.buffer += chunk

    def _accept(self, msg):
        if msg.is_request:
            key = msg.transaction_key()
            if key in self.replied:
                if self.replied[key] is not None:  # retransmission: answer it again
                    self.send(self.replied[key], self._reply_address(msg))
                return
            self.replied[key] = None
        else:
            if msg.raw in self.responses_seen:
                return  # retransmitted response
            self.responses_seen.add(msg.raw)
        self.inbox.append(msg)

    def _take(self, match, timeout):
        deadline = time.time() + timeout
        while True:
            for i, msg in enumerate(self.inbox):
                if match(msg):
                    return self.inbox.pop(i)
            if not self._read_one(deadline):
                return None

    def recv_request(self, timeout=2.0, method=None):
        """The next request received (of `method` if given), or None on timeout."""
        return self._take(lambda m: m.is_request and (method is None or m.method == method), timeout)

    def recv_response(self, timeout=2.0, final=False, method=None):
        """The next response (the next final one when `final`), or None on timeout; with
        `final`, provisional responses met on the way are dropped."""
        def match(m):
            return (not m.is_request and (method is None or m.cseq[1] == method)
                    and (not final or m.status >= 200))
        deadline = time.time() + timeout
        while True:
            msg = self._take(match, max(deadline - time.time(), 0))
            if msg is not None or time.time() >= deadline:
                if final:
                    self.inbox = [m for m in self.inbox if m.is_request or m.status >= 200]
                return msg

    def expect_nothing(self, timeout=0.5, method=None):
        """True when no request (of `method`) arrives within `timeout`."""
        return self.recv_request(timeout, method) is None

    # -- requests -------------------------------------------------------------------

    def request(self, method, uri, to=None, headers=(), body=b"", content_type=None, call_id=None, cseq=None,
                from_tag=None, from_=None, branch=None, max_forwards=70, route=(), contact=True, send=True):
        """Builds a request (headers: a list of "Name: value" lines), sends it to the server
        and returns it parsed."""
        if isinstance(body, str):
            body = body.encode()
        branch = branch or "z9hG4bK" + unique("ua")
        lines = [f"{method} {uri} SIP/2.0",
                 f"Via: SIP/2.0/{self.via_transport} {self.host}:{self.port};branch={branch};rport"]
        if max_forwards is not None:
            lines.append(f"Max-Forwards: {max_forwards}")
        lines += [f"Route: {r}" for r in route]
        lines += [f"From: {from_ or f'<{self.aor}>'};tag={from_tag or unique('f')}",
                  f"To: {to or f'<{uri}>'}",
                  f"Call-ID: {call_id or unique('call') + '@' + self.host}",
                  f"CSeq: {cseq or 1} {method}"]
        if contact and method in ("INVITE", "SUBSCRIBE", "REFER", "NOTIFY", "UPDATE"):
            lines.append(f"Contact: <{self.contact}>")
        lines += list(headers)
        if content_type:
            lines.append(f"Content-Type: {content_type}")
        lines.append(f"Content-Length: {len(body)}")
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        if send:
            self.send(raw)
        return Message(raw)

    def resend(self, request, extra_headers=(), new_branch=True, next_cseq=True):
        """The same request again (a new transaction: new branch, CSeq + 1) with more headers
        inserted before Content-Length, e.g. credentials."""
        text = request.raw.decode("utf-8", errors="surrogateescape")
        head, body = text.split("\r\n\r\n", 1)
        if new_branch:
            head = head.replace(f"branch={request.branch}", f"branch=z9hG4bK{unique('ua')}", 1)
        if next_cseq:
            number, method = request.cseq
            head = re.sub(r"^CSeq: [^\r\n]*", f"CSeq: {number + 1} {method}", head, count=1, flags=re.M)
        lines = head.split("\r\n")
        at = next(i for i, line in enumerate(lines) if line.lower().startswith("content-length"))
        lines[at:at] = list(extra_headers)
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", errors="surrogateescape") + request.body
        self.send(raw)
        return Message(raw)

    def cancel(self, invite):
        """CANCEL for a pending INVITE (§9.1): same branch, R-URI, Call-ID, From, To, Route."""
        lines = [f"CANCEL {invite.uri} SIP/2.0", f"Via: {invite.vias()[0]}", "Max-Forwards: 70"]
        lines += [f"Route: {r}" for r in invite.all("Route")]
        lines += [f"From: {invite.get('From')}", f"To: {invite.get('To')}", f"Call-ID: {invite.call_id}",
                  f"CSeq: {invite.cseq[0]} CANCEL", "Content-Length: 0"]
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode()
        self.send(raw)
        return Message(raw)

    def ack(self, invite, response):
        """ACK for a non-2xx final response (§17.1.1.3): same branch, To from the response."""
        lines = [f"ACK {invite.uri} SIP/2.0", f"Via: {invite.vias()[0]}", "Max-Forwards: 70"]
        lines += [f"Route: {r}" for r in invite.all("Route")]
        lines += [f"From: {invite.get('From')}", f"To: {response.get('To')}", f"Call-ID: {invite.call_id}",
                  f"CSeq: {invite.cseq[0]} ACK", "Content-Length: 0"]
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode()
        self.send(raw)
        return Message(raw)

    def in_dialog(self, dialog, method, headers=(), body=b"", content_type=None):
        """A request inside `dialog` (§12.2.1.1): to the remote target along the route set;
        ACK reuses the INVITE's CSeq number."""
        if method == "ACK":
            cseq = dialog.invite_cseq
        else:
            dialog.cseq += 1
            cseq = dialog.cseq
        return self.request(method, dialog.remote_target, to=dialog.remote, from_=dialog.local.split(";tag=")[0],
                            from_tag=param(dialog.local, "tag"), call_id=dialog.call_id, cseq=cseq,
                            route=dialog.route_set, headers=headers, body=body, content_type=content_type)

    # -- responses ------------------------------------------------------------------

    def _reply_address(self, request):
        if self.transport != "udp":
            return None
        top = request.vias()[0]
        if param(top, "rport") is not None and request.source:
            return request.source
        m = re.match(r"SIP/2\.0/\w+\s+([^;:\s]+)(?::(\d+))?", top)
        return m.group(1), int(m.group(2) or 5060)

    def reply(self, request, code, reason=None, headers=(), body=b"", content_type=None, contact=None):
        """Answers `request` (§8.2.6): Vias, From, Call-ID, CSeq copied, a To tag added
        for codes above 100, Record-Route copied and a Contact added for a 2xx to a
        dialog-creating request. Sent to the top Via's address (its source with rport)."""
        if isinstance(body, str):
            body = body.encode()
        reason = reason or {100: "Trying", 180: "Ringing", 183: "Session Progress", 200: "OK", 202: "Accepted",
                            404: "Not Found", 480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist",
                            486: "Busy Here", 487: "Request Terminated", 500: "Server Internal Error",
                            503: "Service Unavailable", 603: "Decline"}.get(code, "Whatever")
        to = request.get("To")
        if code > 100 and param(to, "tag") is None:
            dialog_key = (request.call_id, request.from_tag)
            to += ";tag=" + self.tags.setdefault(dialog_key, unique("t"))
        lines = [f"SIP/2.0 {code} {reason}"]
        lines += [f"Via: {v}" for v in request.all("Via")]
        if 100 < code < 300:
            lines += [f"Record-Route: {v}" for v in request.all("Record-Route")]
        lines += [f"From: {request.get('From')}", f"To: {to}", f"Call-ID: {request.call_id}",
                  f"CSeq: {request.get('CSeq')}"]
        if contact or (200 <= code < 300 and request.method in ("INVITE", "SUBSCRIBE", "REFER", "UPDATE")):
            lines.append(f"Contact: <{contact or self.contact}>")
        lines += list(headers)
        if content_type:
            lines.append(f"Content-Type: {content_type}")
        lines.append(f"Content-Length: {len(body)}")
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        self.send(raw, self._reply_address(request))
        self.replied[request.transaction_key()] = raw
        return Message(raw)

    # -- registration and digest ----------------------------------------------------

    def register(self, expires=3600, contact=None, q=None, password=None, call_id=None, extra=()):
        """REGISTERs `contact` (default this UA's own) for the AOR; answers a 401 with
        digest credentials when a password is known. Returns the final response."""
        contact = contact if contact is not None else self.contact
        self._reg_cseq = getattr(self, "_reg_cseq", 0) + 1
        self._reg_call_id = call_id or getattr(self, "_reg_call_id", None) or unique("reg")
        headers = [f"Contact: <{contact}>" + (f";q={q}" if q is not None else ""), f"Expires: {expires}", *extra]
        req = self.request("REGISTER", f"sip:{self.domain}", to=f"<{self.aor}>", call_id=self._reg_call_id,
                           cseq=self._reg_cseq, headers=headers)
        response = self.recv_response(final=True, method="REGISTER")
        password = password or self.password
        if response is not None and response.status == 401 and password:
            self._reg_cseq += 1
            auth = self.credentials(response.get("WWW-Authenticate"), "REGISTER", req.uri, password)
            req = self.resend(req, [f"Authorization: {auth}"])
            response = self.recv_response(final=True, method="REGISTER")
        return response

    def credentials(self, challenge, method, uri, password=None, username=None):
        """A Digest Authorization value answering `challenge` (MD5 or SHA-256, qop=auth)."""
        p = {k: (a or b) for k, a, b in re.findall(r'(\w+)=(?:"([^"]*)"|([^,\s]+))', challenge)}
        algorithm = p.get("algorithm", "MD5")
        h = hashlib.sha256 if algorithm.upper() == "SHA-256" else hashlib.md5
        self._nc = getattr(self, "_nc", 0) + 1
        nc, cnonce = f"{self._nc:08x}", unique("cn").replace("-", "")
        username = username or self.user
        ha1 = h(f"{username}:{p['realm']}:{password or self.password}".encode()).hexdigest()
        ha2 = h(f"{method}:{uri}".encode()).hexdigest()
        response = h(f"{ha1}:{p['nonce']}:{nc}:{cnonce}:auth:{ha2}".encode()).hexdigest()
        return (f'Digest username="{username}", realm="{p["realm"]}", nonce="{p["nonce"]}", uri="{uri}", '
                f'response="{response}", algorithm={algorithm}, qop=auth, nc={nc}, cnonce="{cnonce}"')

    def authorize(self, request, challenge_response, password=None):
        """Sends `request` again (CSeq + 1) with Proxy-Authorization (407) or Authorization
        (401) for the first challenge of `challenge_response`; returns the new request."""
        if challenge_response.status == 407:
            name, header = "Proxy-Authenticate", "Proxy-Authorization"
        else:
            name, header = "WWW-Authenticate", "Authorization"
        auth = self.credentials(challenge_response.get(name), request.method, request.uri, password)
        return self.resend(request, [f"{header}: {auth}"])
