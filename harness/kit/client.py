"""A raw-socket client for black-box tests: exact bytes out, bytes back.

Every read has a deadline, a safety net only: tests wait for the bytes or
the close they expect, and the deadline turns a hang into a clear failure.
"""
import re
import socket
import threading
import time
from dataclasses import dataclass, field

DEADLINE = 5.0          # seconds a test waits for an answer before calling it a hang
RECV_SIZE = 1 << 20     # bytes receive() asks of recv at a time
READ_SIZE = 1 << 18     # bytes a Reader asks of recv at a time (more slows the soak)
ENDINGS = {
    "closed": "then the server closed the connection",
    "reset": "then the connection was reset",
    "timeout": "then nothing more for {:g} s (the server kept the connection open)",
    "limit": "and more was still coming",
}


@dataclass
class Received:
    """What came back on a connection, and how the connection ended."""
    data: bytes
    end: str            # "closed", "reset", "timeout" or "limit"
    seconds: float

    def ending(self):
        """How the connection ended, in words."""
        return ENDINGS[self.end].format(DEADLINE)


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
            chunk = sock.recv(min(RECV_SIZE, limit - size) if limit else RECV_SIZE)
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
        name = name.lower()
        for n, v in self.headers:
            if n.lower() == name:
                return v
        return None

    def tokens(self, name):
        """The comma-separated tokens of every name field, lower case."""
        name = name.lower()
        return [t.strip().lower() for n, v in self.headers if n.lower() == name
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
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon:
            headers.append((name.strip(), value.strip()))
    return Response(int(parts[1]), parts[2] if len(parts) > 2 else "", headers,
                    raw[end + 4:], raw)


def framing(headers):
    """(whether the body is chunked, the first Content-Length or None), from
    a head's (name, value) fields in one pass: Response.tokens and .header
    say the same, slower (the soak and the bench read many responses)."""
    chunked, length = False, None
    for name, value in headers:
        name = name.lower()
        if name == "transfer-encoding":
            chunked = chunked or "chunked" in [t.strip().lower() for t in value.split(",")]
        elif name == "content-length" and length is None:
            length = value
    return chunked, length


CHUNK_LINE = re.compile(rb"([0-9A-Fa-f]{1,16})(;[^\r\n]*)?\r\n")     # size, extensions


class ResponseError(Exception):
    """A response that did not come whole, or is not one: why says why,
    ending how the connection ended, in words; str() says both."""

    def __init__(self, why, ending):
        super().__init__(f"{why}, {ending}")
        self.why, self.ending = why, ending


class Reader:
    """HTTP responses read from a socket one at a time, each by its framing
    (RFC 9112 section 6.3): no body after HEAD or for 1xx, 204 and 304; else
    chunked, Content-Length, or up to the close. The kit's one response
    reader: Connection reads with it, and so do the instructors' load
    tools (harness/instructor/soak.py, harness/instructor/bench/bench.py).

    A read waits until deadline (a time.monotonic() value) or, with none,
    as long as the socket's own timeout lets each recv. end says how the
    connection ended (None while it is open); count adds up the bytes taken
    out of the buffer. With keep, received keeps every byte read, and each
    response's raw its bytes as they came; without (the soak and the bench,
    which read many responses), raw holds only the head."""

    def __init__(self, sock, keep=False):
        self.sock = sock
        self.buf = bytearray()
        self.keep = keep
        self.received = bytearray() if keep else None
        self.end = None             # "closed", "reset" or "timeout" once it ended
        self.deadline = None
        self.count = 0

    def ending(self):
        """How the connection ended, in words."""
        if not self.end:
            return "and the connection is open"
        return ENDINGS[self.end].format(DEADLINE if self.deadline else self.sock.gettimeout())

    def fill(self):
        """Read more into buf; False once the connection ended or the deadline passed."""
        if self.end:
            return False
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                self.end = "timeout"
                return False
            self.sock.settimeout(left)
        try:
            data = self.sock.recv(READ_SIZE)
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
        if self.received is not None:
            self.received += data
        return True

    def take(self, n):
        """The first n bytes of buf (fewer if it holds fewer), taken out of it."""
        data = bytes(self.buf[:n])
        del self.buf[:n]
        self.count += len(data)
        return data

    def exact(self, n):
        """The next n bytes, or None if the connection ended first."""
        while len(self.buf) < n:
            if not self.fill():
                return None
        return self.take(n)

    def line(self):
        """The next line with its LF, or None if the connection ended first."""
        while (end := self.buf.find(b"\n")) < 0:
            if not self.fill():
                return None
        return self.take(end + 1)

    def rest(self):
        """Everything until the connection ends (or the deadline passes)."""
        while self.fill():
            pass
        return self.take(len(self.buf))

    def _fail(self, why):
        raise ResponseError(why, self.ending())

    def head(self):
        """The next response's head, as a Response with no body yet. (An
        empty line where a head should start is taken whole, as a bad head.)"""
        while (end := self.buf.find(b"\r\n\r\n")) < 0 and not self.buf.startswith(b"\r\n"):
            if not self.fill():
                self._fail("the response's head did not come whole" if self.buf
                           else "no response came")
        head = self.take(2 if self.buf.startswith(b"\r\n") else end + 4)
        r = parse_response(head)
        if r is None:
            self._fail(f"what came is not an HTTP response head: {head[:60]!r}")
        return r

    def body(self, r, method="GET"):
        """Read r's body (r from head()) by its framing, into r.body (and,
        with keep, its bytes as they came into r.raw). Returns r."""
        if method == "HEAD" or r.status < 200 or r.status in (204, 304):
            return r
        chunked, length = framing(r.headers)
        if chunked:
            return self._chunked(r)
        if length is not None:
            if not length.isdigit():
                self._fail(f"Content-Length {length!r} is not a number")
            body = self.exact(int(length))
            if body is None:
                self._fail(f"the body ended before its Content-Length, {length}")
            r.body = body
            if self.keep:
                r.raw += body
            return r
        r.body = self.rest()        # no length: the body ends at the close
        if self.keep:
            r.raw += r.body
        if self.end != "closed":
            self._fail("a body with no length and no chunks, and no close after it")
        return r

    def response(self, method="GET"):
        """The next response, whole (an interim, 1xx, response is one of its
        own: read again for the final one). Raises ResponseError."""
        return self.body(self.head(), method)

    def _chunked(self, r):
        """Read r's chunked body: the chunks are read where they lie in buf
        (at: where the next one starts), and taken out of it at the end."""
        body, buf, at = bytearray(), self.buf, 0
        try:
            while True:
                while (end := buf.find(b"\n", at)) < 0:
                    if not self.fill():
                        self._fail("the chunked body ended before its last chunk")
                m = CHUNK_LINE.fullmatch(buf, at, end + 1)
                if m is None:
                    line = bytes(buf[at:min(end + 1, at + 40)])
                    self._fail(f"a chunk-size line that is not one: {line!r}")
                size, at = int(m.group(1), 16), end + 1
                if size == 0:
                    break
                while len(buf) < at + size + 2:
                    if not self.fill():
                        self._fail("the chunked body ended inside a chunk")
                if buf[at + size:at + size + 2] != b"\r\n":
                    self._fail("a chunk's data is not followed by CRLF")
                body += buf[at:at + size]
                at += size + 2
        finally:
            raw = [r.raw, self.take(at)]
        while (line := self.line()) not in (b"\r\n", None):
            raw.append(line)
            name, _, value = line.decode("latin-1").partition(":")
            r.trailers.append((name.strip(), value.strip()))
        if line is None:
            self._fail("the chunked body's trailer section did not end")
        r.body = bytes(body)
        if self.keep:
            r.raw = b"".join(raw) + line
        return r


class Connection:
    """One client connection that stays open: requests are sent on it, and
    responses read one at a time, each by its framing (Reader). So a test
    sees whether the server keeps the connection open between responses,
    and notices at once when it closes it instead.

    Everything sent and received is kept (sent, received) for failure
    messages; end says how the connection ended (None while it is open)."""

    def __init__(self, port, host="127.0.0.1", deadline=DEADLINE):
        self.sock = connect(port, host)
        self.reader = Reader(self.sock, keep=True)
        self.deadline = deadline
        self.sent = bytearray()
        self.received = self.reader.received
        self.why = ""               # why read_response returned None
        self.send_error = ""        # why a send failed

    @property
    def end(self):
        """"closed", "reset" or "timeout" once the connection ended, else None."""
        return self.reader.end

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
        return self.reader.ending()

    def wait_end(self, deadline=None):
        """Read until the server closes the connection (or the deadline passes);
        returns what came meanwhile. end then says how it ended."""
        self.reader.deadline = time.monotonic() + (deadline or self.deadline)
        return self.reader.rest()

    def read_response(self, method="GET", deadline=None):
        """The next response, whole, or None (why says why; end says whether
        the connection ended). An interim (1xx) response is returned as one
        of its own; read again for the final one."""
        self.reader.deadline = time.monotonic() + (deadline or self.deadline)
        try:
            return self.reader.response(method)
        except ResponseError as e:
            self.why = self.send_error + e.why
            return None
