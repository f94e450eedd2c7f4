"""Self-tests of the local origin stub (kit/origin.py), over raw sockets.

Rule: never sleep to wait for something.  Wait on events (the stub's wait_*
methods) or on socket reads, whose timeouts are only a safety net.
"""

from __future__ import annotations

import hashlib
import os
import select
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass

import pytest

HARNESS = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if HARNESS not in sys.path:            # tests import kit.* with harness/ on sys.path
    sys.path.insert(0, HARNESS)

from kit.origin import Origin, body_for  # noqa: E402
SAFETY = 5.0     # socket timeout: a safety net, never a synchronisation tool

pytestmark = [
    pytest.mark.timeout(20),
    pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning"),
]


# --------------------------------------------------------------------------
# A tiny HTTP client
# --------------------------------------------------------------------------

@dataclass
class Response:
    status_line: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    chunk_sizes: list[int]

    def header(self, name: str) -> str | None:
        return next((v for n, v in self.headers if n.lower() == name.lower()), None)


class Client:
    """One raw TCP connection to the origin, with just enough HTTP parsing."""

    def __init__(self, origin: Origin):
        self.sock = socket.create_connection((origin.host, origin.port), timeout=SAFETY)
        self.buf = b""

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def request(self, method: str, target: str, headers: list[tuple[str, str]] = (),
                body: bytes = b"", version: str = "HTTP/1.1") -> None:
        lines = [f"{method} {target} {version}", "Host: origin.test"]
        lines += [f"{n}: {v}" for n, v in headers]
        if body and not any(n.lower() == "transfer-encoding" for n, _ in headers):
            lines.append(f"Content-Length: {len(body)}")
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    def _fill(self) -> bool:
        data = self.sock.recv(1 << 20)
        self.buf += data
        return bool(data)

    def read_line(self) -> bytes:
        while b"\r\n" not in self.buf:
            assert self._fill(), f"EOF in the middle of a line: {self.buf[:100]!r}"
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            assert self._fill(), f"EOF after {len(self.buf)} of {n} bytes"
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_to_eof(self) -> bytes:
        while self._fill():
            pass
        data, self.buf = self.buf, b""
        return data

    def read_head(self) -> tuple[str, list[tuple[str, str]]]:
        status_line = self.read_line().decode("latin-1")
        headers = []
        while line := self.read_line():
            name, _, value = line.decode("latin-1").partition(":")
            headers.append((name, value.strip()))
        return status_line, headers

    def read_response(self, head_only: bool = False) -> Response:
        status_line, headers = self.read_head()
        resp = Response(status_line, int(status_line.split()[1]), headers, b"", [])
        if head_only:
            return resp
        if (resp.header("Transfer-Encoding") or "").lower() == "chunked":
            resp.body = self._read_chunked(resp.chunk_sizes)
        elif resp.header("Content-Length") is not None:
            resp.body = self.read_exact(int(resp.header("Content-Length")))
        elif resp.status >= 200 and resp.status not in (204, 304):
            resp.body = self.read_to_eof()
        return resp

    def _read_chunked(self, sizes: list[int]) -> bytes:
        body = b""
        while size := int(self.read_line().split(b";")[0], 16):
            sizes.append(size)
            body += self.read_exact(size)
            assert self.read_line() == b""
        while self.read_line():
            pass
        return body

    def has_data(self) -> bool:
        """True if bytes (or EOF) are ready to read right now (zero-timeout select)."""
        return bool(self.buf) or bool(select.select([self.sock], [], [], 0)[0])


def get(origin: Origin, target: str, method: str = "GET") -> Response:
    """One request on a fresh connection; read the response."""
    client = Client(origin)
    try:
        client.request(method, target, [("Connection", "close")])
        return client.read_response(head_only=(method == "HEAD"))
    finally:
        client.close()


@pytest.fixture
def origin():
    with Origin() as stub:
        yield stub
    assert stub.errors == []


# --------------------------------------------------------------------------
# Content
# --------------------------------------------------------------------------

def test_text_body_is_deterministic_printable_text(origin):
    first = get(origin, "/text/5000")
    second = get(origin, "/text/5000")
    assert first.status == 200 and first.header("Content-Type") == "text/plain"
    assert first.header("Content-Length") == "5000"
    assert first.body == second.body == body_for("/text/5000")
    assert len(first.body) == 5000
    assert b"\n" in first.body
    assert all(32 <= b < 127 or b == 10 for b in first.body)


def test_bin_body_has_all_byte_values(origin):
    resp = get(origin, "/bin/1000")
    assert resp.status == 200 and resp.header("Content-Type") == "application/octet-stream"
    assert resp.body == body_for("/bin/1000") and len(resp.body) == 1000
    assert b"\0" in resp.body
    assert set(resp.body) == set(range(256))


def test_different_paths_differ_same_path_is_stable():
    assert body_for("/bin/1000/a") != body_for("/bin/1000/b")
    assert body_for("/text/1000/a") != body_for("/text/1000/b")
    assert body_for("/bin/1000/a") == body_for("/bin/1000/a?fault=chunked")
    assert len(body_for("/bin/1000/a")) == 1000
    assert body_for("/bin/0") == b""
    big = body_for("/bin/300000")             # several blocks: they must not repeat
    assert big[:65536] != big[65536:131072]


def test_bodies_are_stable_across_processes():
    code = "import sys, hashlib; from kit.origin import body_for; " \
           "sys.stdout.write(hashlib.sha256(body_for(sys.argv[1])).hexdigest())"
    env = dict(os.environ, PYTHONHASHSEED="random")
    for path in ("/bin/200000/x", "/text/1234"):
        out = subprocess.run([sys.executable, "-c", code, path], cwd=HARNESS, env=env,
                             capture_output=True, text=True, check=True, timeout=10).stdout
        assert out == hashlib.sha256(body_for(path)).hexdigest()


def test_unknown_path_is_404(origin):
    resp = get(origin, "/nothing/here")
    assert resp.status == 404 and resp.header("Content-Type") == "text/plain"
    assert resp.body == body_for("/nothing/here") and b"not found" in resp.body


def test_ten_mebibyte_binary_body(origin):
    path = "/bin/10485760"
    resp = get(origin, path)
    assert len(resp.body) == 10 * 1024 * 1024
    assert resp.body == body_for(path)


# --------------------------------------------------------------------------
# Query parameters
# --------------------------------------------------------------------------

def test_status_parameter(origin):
    resp = get(origin, "/text/10?status=503")
    assert resp.status_line == "HTTP/1.1 503 Service Unavailable"
    assert resp.body == body_for("/text/10")


def test_status_204_has_no_body_and_keeps_connection(origin):
    client = Client(origin)
    client.request("GET", "/text/10?status=204")
    resp = client.read_response()
    assert resp.status == 204 and resp.body == b"" and resp.header("Content-Length") is None
    client.request("GET", "/text/3")
    assert client.read_response().body == body_for("/text/3")
    client.close()


def test_header_parameter(origin):
    resp = get(origin, "/text/10?header=X-Test%3A%20hello%20world&header=X-Other:2"
                       "&header=Content-Type%3Atext/html")
    assert resp.header("X-Test") == "hello world"
    assert resp.header("X-Other") == "2"
    assert resp.header("Content-Type") == "text/html"
    assert [n for n, _ in resp.headers].count("Content-Type") == 1


def test_conditional_get_is_304_with_updates(origin):
    path = "/text/10?header=ETag%3A%22v1%22&header=Last-Modified%3AWed,%2001%20Jan%202020%2000:00:00%20GMT&update=X-New:2"
    client = Client(origin)
    for fields, status in [("If-None-Match: W/\"v1\"", 304), ("If-None-Match: \"v2\"", 200),
                           ("If-Modified-Since: Thu, 02 Jan 2020 00:00:00 GMT", 304),
                           ("If-Modified-Since: Tue, 31 Dec 2019 00:00:00 GMT", 200)]:
        client.request("GET", path, headers=[tuple(fields.split(": ", 1))])
        resp = client.read_response()
        assert resp.status == status, fields
        if status == 304:
            assert resp.body == b"" and resp.header("X-New") == "2"
            assert resp.header("Content-Length") is None and resp.header("ETag") == '"v1"'
        else:
            assert resp.body == body_for("/text/10") and resp.header("X-New") is None
    client.close()


def test_bad_parameter_is_400(origin):
    resp = get(origin, "/text/10?fault=no-such-fault")
    assert resp.status == 400 and b"unknown fault" in resp.body


def test_head_gets_headers_only(origin):
    client = Client(origin)
    client.request("HEAD", "/text/100")
    resp = client.read_response(head_only=True)
    assert resp.status == 200 and resp.header("Content-Length") == "100"
    client.request("GET", "/text/7")          # had a body been sent, this would misparse
    assert client.read_response().body == body_for("/text/7")
    client.close()


# --------------------------------------------------------------------------
# Connections and request recording
# --------------------------------------------------------------------------

def test_keep_alive_two_requests_on_one_connection(origin):
    client = Client(origin)
    client.request("GET", "/text/10")
    assert client.read_response().body == body_for("/text/10")
    client.request("GET", "/bin/20")
    assert client.read_response().body == body_for("/bin/20")
    other = get(origin, "/text/1")
    assert other.status == 200
    first, second, third = origin.wait_for_requests(3)
    assert first.conn == second.conn != third.conn
    assert second.time >= first.time
    client.close()


def test_pipelined_requests_answered_in_order(origin):
    client = Client(origin)
    client.send(b"GET /text/5 HTTP/1.1\r\nHost: a\r\n\r\nGET /bin/6 HTTP/1.1\r\nHost: a\r\n\r\n")
    assert client.read_response().body == body_for("/text/5")
    assert client.read_response().body == body_for("/bin/6")
    client.close()


def test_connection_close(origin):
    client = Client(origin)
    client.request("GET", "/text/10", [("Connection", "close")])
    resp = client.read_response()
    assert resp.header("Connection") == "close"
    assert client.read_to_eof() == b""
    origin.wait_connections(0)
    client.close()


def test_http10_closes_unless_keep_alive(origin):
    client = Client(origin)
    client.request("GET", "/text/10", version="HTTP/1.0")
    assert client.read_response().header("Connection") == "close"
    assert client.read_to_eof() == b""
    client.close()
    client = Client(origin)
    client.request("GET", "/text/10", [("Connection", "keep-alive")], version="HTTP/1.0")
    assert client.read_response().header("Connection") == "keep-alive"
    client.request("GET", "/text/11", [("Connection", "keep-alive")], version="HTTP/1.0")
    assert client.read_response().body == body_for("/text/11")
    client.close()


def test_connection_counting(origin):
    a, b = Client(origin), Client(origin)
    origin.wait_connections(2)
    assert origin.connections_open() == 2
    a.close()
    origin.wait_connections(1)
    b.close()
    origin.wait_connections(0)


def test_request_recording(origin):
    client = Client(origin)
    client.request("GET", "/text/10?x=1&y=two", [("X-Mixed-Case", "A"), ("x-mixed-case", "B")])
    client.read_response()
    [req] = origin.wait_for_requests(1)
    assert (req.method, req.target, req.version) == ("GET", "/text/10?x=1&y=two", "HTTP/1.1")
    assert (req.path, req.query) == ("/text/10", "x=1&y=two")
    assert req.params == {"x": ["1"], "y": ["two"]}
    assert req.headers[1:] == [("X-Mixed-Case", "A"), ("x-mixed-case", "B")]
    assert req.header("X-MIXED-CASE") == "A" and req.header("Absent") is None
    assert req.body == b"" and isinstance(req.conn, int)
    client.close()


def test_absolute_form_target(origin):
    client = Client(origin)
    client.request("GET", origin.url("/bin/64?x=1"))
    assert client.read_response().body == body_for("/bin/64")
    [req] = origin.wait_for_requests(1)
    assert (req.target, req.path, req.query) == (origin.url("/bin/64?x=1"), "/bin/64", "x=1")
    assert origin.authority == f"127.0.0.1:{origin.port}"
    client.close()


def test_post_with_content_length_body(origin):
    client = Client(origin)
    client.request("POST", "/text/3", body=b"hello\0world")
    assert client.read_response().status == 200
    [req] = origin.wait_for_requests(1)
    assert req.method == "POST" and req.body == b"hello\0world"
    client.close()


def test_post_with_chunked_body(origin):
    client = Client(origin)
    client.request("POST", "/text/3", [("Transfer-Encoding", "chunked")],
                   body=b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n")
    assert client.read_response().status == 200
    client.request("GET", "/text/4")          # the connection is still in step
    assert client.read_response().body == body_for("/text/4")
    req = origin.wait_for_requests(2)[0]
    assert req.body == b"hello, world" and req.trailers == [("X-Trailer", "t")]
    client.close()


def test_expect_100_continue(origin):
    client = Client(origin)
    client.send(b"PUT /text/2 HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
                b"Content-Length: 3\r\n\r\n")
    assert client.read_response(head_only=True).status == 100
    client.send(b"abc")
    assert client.read_response().status == 200
    assert origin.wait_for_requests(1)[0].body == b"abc"
    client.close()


def test_malformed_request_line_is_400(origin):
    client = Client(origin)
    client.send(b"THIS IS NOT HTTP\r\n\r\n")
    resp = client.read_response()
    assert resp.status == 400 and resp.header("Connection") == "close"
    assert client.read_to_eof() == b""
    assert origin.requests == []
    client.close()


def test_oversized_head_is_431(origin):
    client = Client(origin)
    client.send(b"GET /text/1 HTTP/1.1\r\nX-Big: " + b"a" * (70 * 1024) + b"\r\n\r\n")
    resp = client.read_response()
    assert resp.status == 431 and resp.header("Connection") == "close"
    assert client.read_to_eof() == b""
    client.close()


# --------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------

def test_fault_close_before(origin):
    client = Client(origin)
    client.request("GET", "/text/10?fault=close-before")
    assert client.read_to_eof() == b""
    assert len(origin.wait_for_requests(1)) == 1
    client.close()


def test_fault_close_mid_body(origin):
    client = Client(origin)
    client.request("GET", "/bin/10000?fault=close-mid-body")
    status_line, headers = client.read_head()
    assert status_line == "HTTP/1.1 200 OK" and ("Content-Length", "10000") in headers
    body = client.read_to_eof()
    assert body == body_for("/bin/10000")[:5000]
    client.close()


def test_fault_never(origin):
    client = Client(origin)
    client.request("GET", "/text/10?fault=never")
    origin.wait_for_requests(1)
    assert not client.has_data()
    assert origin.connections_open() == 1
    origin.close()
    assert client.read_to_eof() == b""
    client.close()


def test_fault_never_with_hold_ends_on_release(origin):
    client = Client(origin)
    client.request("GET", "/text/10?fault=never&hold=n")
    origin.wait_held("n")
    assert not client.has_data()
    origin.release("n")
    assert client.read_to_eof() == b""
    client.close()


def test_fault_bad_status(origin):
    client = Client(origin)
    client.request("GET", "/text/10?fault=bad-status")
    raw = client.read_to_eof()
    assert raw.startswith(b"HTTP/1.1 OK-ish\r\n")
    assert raw.endswith(b"\r\n\r\n" + body_for("/text/10"))
    client.close()


def test_fault_chunked(origin):
    client = Client(origin)
    client.request("GET", "/text/2500?fault=chunked")
    resp = client.read_response()
    assert resp.header("Transfer-Encoding") == "chunked" and resp.header("Content-Length") is None
    assert resp.body == body_for("/text/2500") and resp.chunk_sizes == [1000, 1000, 500]
    client.request("GET", "/bin/10?fault=chunked&chunk=3")
    resp = client.read_response()
    assert resp.body == body_for("/bin/10") and resp.chunk_sizes == [3, 3, 3, 1]
    client.close()


def test_chunk_extensions_and_trailers(origin):
    client = Client(origin)
    client.request("GET", "/text/5?fault=chunked&chunk=2&chunk_ext=%3Ba%3D1%3Bb&"
                          "trailer=X-Sum%3A%20abc&trailer=X-Two:2")
    status_line, _ = client.read_head()
    rest = client.read_exact(len(b"2;a=1;b\r\n") * 3 + 5 + 6 + len(b"0;a=1;b\r\n")
                             + len(b"X-Sum: abc\r\nX-Two: 2\r\n\r\n"))
    text = body_for("/text/5")
    assert rest == (b"2;a=1;b\r\n" + text[:2] + b"\r\n2;a=1;b\r\n" + text[2:4] + b"\r\n"
                    b"1;a=1;b\r\n" + text[4:] + b"\r\n0;a=1;b\r\nX-Sum: abc\r\nX-Two: 2\r\n\r\n")
    client.request("GET", "/text/3")          # the connection is still in step
    assert client.read_response().body == body_for("/text/3")
    client.close()


def test_fault_bad_chunk(origin):
    client = Client(origin)
    client.request("GET", "/bin/10?fault=bad-chunk&chunk=2")
    client.read_head()
    assert client.read_to_eof() == b"".join(
        b"2\r\n" + body_for("/bin/10")[i:i + 2] + b"\r\n" for i in (0, 2)) + \
        b"1\r\n" + body_for("/bin/10")[4:5] + b"\r\nzz\r\nnot a chunk\r\n"
    client.close()


def test_fault_close_delimited(origin):
    client = Client(origin)
    client.request("GET", "/text/2000?fault=close-delimited")
    resp = client.read_response()
    assert resp.status == 200 and resp.body == body_for("/text/2000")
    assert resp.header("Content-Length") is None and resp.header("Transfer-Encoding") is None
    client.close()


def test_interim_responses_before_the_final_one(origin):
    client = Client(origin)
    client.request("GET", "/text/4?interim=100&interim=103")
    first, second = client.read_response(), client.read_response()
    assert (first.status_line, first.headers) == ("HTTP/1.1 100 Continue", [])
    assert second.status_line == "HTTP/1.1 103 Early Hints" and second.header("Link")
    final = client.read_response()
    assert final.status == 200 and final.body == body_for("/text/4")
    client.close()


def test_request_bodies_recorded_as_they_came(origin):
    client = Client(origin)
    chunked = b"3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n"
    client.request("PUT", "/text/1", [("Transfer-Encoding", "gzip, chunked")], body=chunked)
    client.read_response()
    client.request("PATCH", "/text/1", body=b"\0\r\n12")
    client.read_response()
    first, second = origin.wait_for_requests(2)
    assert (first.body, first.raw_body, first.trailers) == (b"abcde", chunked, [("X-T", "1")])
    assert second.body == second.raw_body == b"\0\r\n12" and second.method == "PATCH"
    client.close()


def test_fault_drip(origin):
    client = Client(origin)
    client.request("GET", "/text/300?fault=drip&drip=7&drip_ms=1")
    assert client.read_response().body == body_for("/text/300")
    client.request("GET", "/bin/40?fault=drip&fault=chunked&chunk=16&drip_ms=0")
    resp = client.read_response()
    assert resp.body == body_for("/bin/40") and resp.chunk_sizes == [16, 16, 8]
    client.close()


def test_fault_reset_mid_body(origin):
    client = Client(origin)
    client.request("GET", "/bin/200000?fault=reset-mid-body")
    received = b""
    try:
        while data := client.sock.recv(65536):
            received += data
    except ConnectionResetError:
        pass
    assert len(received) < 200000
    client.close()


def test_client_disconnect_mid_body_is_quiet(origin, capfd):
    client = Client(origin)
    client.request("GET", "/bin/52428800")
    client.read_head()
    client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
    client.close()
    origin.wait_connections(0)
    assert capfd.readouterr().err == ""


# --------------------------------------------------------------------------
# Hold, release and waiting
# --------------------------------------------------------------------------

def test_hold_and_release(origin):
    client = Client(origin)
    client.request("GET", "/text/10?hold=h1")
    req = origin.wait_held("h1")
    assert req.path == "/text/10" and len(origin.requests) == 1
    assert not client.has_data()
    origin.release("h1")
    assert client.read_response().body == body_for("/text/10")
    client.close()


def test_hold_at_sends_head_and_first_bytes_then_holds(origin):
    client = Client(origin)
    client.request("GET", "/text/5000?hold=part&hold_at=100")
    origin.wait_held("part")
    _, headers = client.read_head()
    assert ("Content-Length", "5000") in headers
    assert client.read_exact(100) == body_for("/text/5000")[:100]
    assert not client.has_data()                # the rest is held
    origin.release("part")
    assert client.read_exact(4900) == body_for("/text/5000")[100:]
    client.close()


def test_release_before_arrival(origin):
    origin.release("early")
    resp = get(origin, "/text/10?hold=early")
    assert resp.status == 200 and resp.body == body_for("/text/10")


def test_wait_for_requests_times_out_with_message(origin):
    get(origin, "/text/1?first")
    with pytest.raises(AssertionError) as info:
        origin.wait_for_requests(2, timeout=0.2)
    message = str(info.value)
    assert "expected at least 2" in message and "GET /text/1?first" in message


def test_wait_held_times_out_with_message(origin):
    with pytest.raises(AssertionError, match="hold=nobody"):
        origin.wait_held("nobody", timeout=0.2)


def test_close_leaves_no_threads():
    before = threading.active_count()
    origin = Origin()
    clients = [Client(origin) for _ in range(4)]
    clients[0].request("GET", "/text/10?hold=forever")
    clients[1].request("GET", "/text/10?fault=never")
    clients[2].request("GET", "/text/100000?fault=drip&drip_ms=1000")
    clients[3].request("GET", "/text/10")
    clients[3].read_response()
    origin.wait_held("forever")
    origin.wait_for_requests(4)
    origin.wait_connections(4)
    assert threading.active_count() > before
    origin.close()
    origin.close()                              # idempotent
    assert threading.active_count() == before
    assert origin.connections_open() == 0 and origin.errors == []
    for client in clients:
        client.close()
    with pytest.raises(OSError):
        Client(origin)


def test_runs_as_a_script():
    proc = subprocess.Popen([sys.executable, os.path.join(HARNESS, "kit", "origin.py")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("origin stub listening on http://127.0.0.1:")
        port = int(line.split("http://127.0.0.1:")[1].split()[0])
        with socket.create_connection(("127.0.0.1", port), timeout=SAFETY) as sock:
            sock.sendall(b"GET /text/5 HTTP/1.1\r\nConnection: close\r\n\r\n")
            raw = b""
            while data := sock.recv(65536):
                raw += data
        assert raw.endswith(b"\r\n\r\n" + body_for("/text/5"))
    finally:
        proc.send_signal(2)                     # Ctrl-C
        _, err = proc.communicate(timeout=SAFETY)
    assert proc.returncode == 0 and "Traceback" not in err


def test_wait_failures_are_summarised(origin):
    """A wait that times out lists the first three requests and counts the
    rest, and wait_held shows the requests that name the hold it wanted."""
    for i in range(6):
        get(origin, f"/text/10/r{i}")
    with pytest.raises(AssertionError) as failed:
        origin.wait_for_requests(7, timeout=0.05)
    text = str(failed.value)
    assert "received 6" in text and "/text/10/r2" in text and "/text/10/r3" not in text, text
    assert "...and 3 more" in text, text
    with pytest.raises(AssertionError) as failed:
        origin.wait_held("r4", timeout=0.05)
    text = str(failed.value)
    assert "held now: 0 (none)" in text and "those naming r4:\n  " in text, text
    assert "/text/10/r4" in text and "/text/10/r0" not in text, text


def test_wait_held_with_stall_fails_once_requests_stop(origin):
    """wait_held(stall=S) gives up S seconds after the last request came,
    long before its timeout, and says so."""
    get(origin, "/text/10/first")
    with pytest.raises(AssertionError) as failed:
        origin.wait_held("never", timeout=30, stall=0.2)
    assert "no request at all came for 0.2 s" in str(failed.value), failed.value
