"""A raw-socket client for black-box tests: exact bytes out, bytes back.

Every read has a deadline, a safety net only: tests wait for the bytes or
the close they expect, and the deadline turns a hang into a clear failure.
"""
import re
import socket
import threading
import time
from dataclasses import dataclass, field

DEADLINE = 5.0      # seconds a test waits for an answer before calling it a hang


@dataclass
class Received:
    """What came back on a connection, and how the connection ended."""
    data: bytes
    end: str            # "closed", "reset", "timeout" or "limit"
    seconds: float

    def ending(self):
        """How the reply ended, in words."""
        return {
            "closed": "then the server closed the connection",
            "reset": "then the connection was reset",
            "timeout": f"then nothing more for {DEADLINE:g} s (the server kept the connection open)",
            "limit": "and more was still coming",
        }[self.end]


def connect(port, host="127.0.0.1", timeout=DEADLINE):
    """A socket connected to host:port, IPv4 or IPv6."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, port))
    return s


def receive(sock, limit=None, deadline=DEADLINE):
    """Read until the peer closes, limit bytes have come, or deadline s pass."""
    chunks, size, start, end = [], 0, time.monotonic(), "closed"
    while limit is None or size < limit:
        left = deadline - (time.monotonic() - start)
        if left <= 0:
            end = "timeout"
            break
        sock.settimeout(left)
        try:
            chunk = sock.recv(min(1 << 20, limit - size) if limit else 1 << 20)
        except socket.timeout:
            end = "timeout"
            break
        except ConnectionResetError:
            end = "reset"
            break
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    else:
        end = "limit"
    return Received(b"".join(chunks), end, time.monotonic() - start)


def _send_all(sock, data, half_close, errors):
    try:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
    except OSError as e:
        errors.append(e)


def exchange(port, data, host="127.0.0.1", half_close=True, limit=None, deadline=DEADLINE):
    """Send data (from a thread, so a large payload cannot deadlock against the
    reply), then shut down our writing side if half_close, and read the reply
    until the server closes, limit bytes, or the deadline."""
    with connect(port, host) as sock:
        errors = []
        sender = threading.Thread(target=_send_all, args=(sock, data, half_close, errors))
        sender.start()
        reply = receive(sock, limit=limit, deadline=deadline)
        if reply.end != "closed":
            try:
                sock.shutdown(socket.SHUT_RDWR)     # unblock the sender
            except OSError:
                pass                                # the connection is gone already
        sender.join()
        return reply


@dataclass
class Response:
    """An HTTP response as a client received it."""
    status: int
    reason: str
    headers: list       # (name, value) pairs, in order
    body: bytes
    raw: bytes
    trailers: list = field(default_factory=list)    # (name, value) pairs of a chunked body

    def header(self, name):
        """The first value of header name (case-insensitive), or None."""
        return next((v for n, v in self.headers if n.lower() == name.lower()), None)

    def tokens(self, name):
        """The comma-separated tokens of every name field, lower case."""
        return [t.strip().lower() for n, v in self.headers if n.lower() == name.lower()
                for t in v.split(",") if t.strip()]


def parse_response(raw):
    """Split raw bytes into a Response; returns None if they hold no whole head."""
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = raw[:end].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        return None
    headers = [tuple(s.strip() for s in l.split(":", 1)) for l in lines[1:] if ":" in l]
    return Response(int(parts[1]), parts[2] if len(parts) > 2 else "", headers,
                    raw[end + 4:], raw)


CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})(;[^\r\n]*)?")


class Connection:
    """One client connection that stays open: requests are sent on it, and
    responses read one at a time, each by its framing (RFC 9112 section 6.3):
    no body after HEAD or for 1xx, 204 and 304; else chunked, Content-Length,
    or up to the close. So a test sees whether the server keeps the connection
    open between responses, and notices at once when it closes it instead.

    Everything sent and received is kept (sent, received) for failure
    messages; end says how the connection ended (None while it is open)."""

    def __init__(self, port, host="127.0.0.1", deadline=DEADLINE):
        self.sock = connect(port, host)
        self.deadline = deadline
        self.buf = bytearray()
        self.sent = bytearray()
        self.received = bytearray()
        self.end = None             # "closed", "reset" or "timeout" once it ended
        self.why = ""               # why read_response returned None
        self.send_error = ""        # why a send failed
        self._until = 0.0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.sock.close()

    def send(self, data):
        """Send data; if the server stops reading or closes meanwhile, say so
        (in send_error) and let the next read show what it answered."""
        self.sock.settimeout(self.deadline)     # for all of data, however long
        try:
            self.sock.sendall(data)
        except OSError as e:
            self.send_error = f"sending {len(data)} bytes failed ({e.strerror or e}); "
        self.sent += data

    def ending(self):
        """How the connection ended, in words."""
        return Received(b"", self.end, 0).ending() if self.end else "and the connection is open"

    def _fill(self):
        """Read more into buf; False once the connection ended or the deadline passed."""
        if self.end:
            return False
        left = self._until - time.monotonic()
        if left <= 0:
            self.end = "timeout"
            return False
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(1 << 20)
        except socket.timeout:
            self.end = "timeout"
            return False
        except ConnectionResetError:
            self.end = "reset"
            return False
        if not data:
            self.end = "closed"
            return False
        self.buf += data
        self.received += data
        return True

    def _take(self, n):
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def _line(self):
        """One line with its CRLF, or None."""
        while (end := self.buf.find(b"\n")) < 0:
            if not self._fill():
                return None
        return self._take(end + 1)

    def _exact(self, n):
        while len(self.buf) < n:
            if not self._fill():
                return None
        return self._take(n)

    def wait_end(self, deadline=None):
        """Read until the server closes the connection (or the deadline passes);
        returns what came meanwhile. end then says how it ended."""
        self._until = time.monotonic() + (deadline or self.deadline)
        while self._fill():
            pass
        return self._take(len(self.buf))

    def read_response(self, method="GET", deadline=None):
        """The next response, whole, or None (why says why; end says whether
        the connection ended). An interim (1xx) response is returned as one
        of its own; read again for the final one."""
        self._until = time.monotonic() + (deadline or self.deadline)
        head = bytearray()
        while not head.endswith(b"\r\n\r\n") and head != b"\r\n":
            line = self._line()
            if line is None:
                self.why = self.send_error + ("the response's head did not come whole"
                                              if head or self.buf else "no response came")
                self.buf[:0] = head
                return None
            head += line
        r = parse_response(bytes(head))
        if r is None:
            self.why = "what came is not an HTTP response head"
            return None
        raw = bytearray(head)
        if method == "HEAD" or r.status < 200 or r.status in (204, 304):
            return r
        if "chunked" in r.tokens("Transfer-Encoding"):
            return self._chunked(r, raw)
        if r.header("Content-Length") is not None:
            length = r.header("Content-Length")
            body = self._exact(int(length)) if length.isdigit() else None
            if body is None:
                self.why = (f"the body ended before its Content-Length, {length}" if
                            length.isdigit() else f"Content-Length {length!r} is not a number")
                return None
            r.body, r.raw = body, bytes(raw + body)
            return r
        r.body = self.wait_end(deadline)        # no length: the body ends at the close
        r.raw = bytes(raw) + r.body
        if self.end != "closed":
            self.why = "a body with no length and no chunks, and no close after it"
            return None
        return r

    def _chunked(self, r, raw):
        body = bytearray()
        while True:
            line = self._line()
            m = CHUNK_SIZE.fullmatch(line[:-2]) if line and line.endswith(b"\r\n") else None
            if m is None:
                self.why = ("the chunked body ended before its last chunk" if line is None else
                            f"a chunk-size line that is not one: {line[:40]!r}")
                return None
            raw += line
            size = int(m.group(1), 16)
            if size == 0:
                break
            data = self._exact(size + 2)
            if data is None or not data.endswith(b"\r\n"):
                self.why = ("the chunked body ended inside a chunk" if data is None else
                            "a chunk's data is not followed by CRLF")
                return None
            raw += data
            body += data[:-2]
        while (line := self._line()) not in (b"\r\n", None):
            raw += line
            name, _, value = line.decode("latin-1").partition(":")
            r.trailers.append((name.strip(), value.strip()))
        if line is None:
            self.why = "the chunked body's trailer section did not end"
            return None
        r.body, r.raw = bytes(body), bytes(raw + line)
        return r
