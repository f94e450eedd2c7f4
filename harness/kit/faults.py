"""The fault catalogue: bad input, broken origins and exhausted resources.

One row per scenario; harness/instructor/test_reference_faults.py runs each against the
reference, and harness/instructor/faults_doc.py writes docs/faults.md from this table.
In a request, {o} stands for the origin's host:port and {p} for the proxy's
port. A row with a request and no `run` is one exchange: the request goes
in, the status comes back, the connection must then close (for an error),
the next client must be served, and log.txt must have `lines` lines for it.
A row with `run` names the test function that plays it out.
"""
from dataclasses import dataclass

GET = b"GET http://{o}/text/10 HTTP/1.1\r\nHost: {o}\r\n\r\n"


def post(fields, body=b""):
    """A POST to the origin with the given field lines and body."""
    return b"POST http://{o}/text/10 HTTP/1.1\r\nHost: {o}\r\n" + fields + b"\r\n" + body


@dataclass(frozen=True)
class Row:
    name: str                   # test_catalogue[name], or the test `run` names
    group: str                  # client, origin or resources
    given: str                  # the input, in words
    answer: str                 # what the client gets, in words
    request: bytes = b""
    status: int = 0             # the status line the client gets
    origin: bytes = None        # a scripted origin sends these bytes (None: the origin stub)
    then: str = "close"         # and then closes, resets or holds
    lines: int = 1              # log lines the scenario makes
    run: str = ""               # the test function, for scenarios that are not one exchange

    @property
    def test(self):
        return self.run or f"test_catalogue[{self.name}]"


ROWS = [
    # -- what a client may send ------------------------------------------------------------
    Row("garbage", "client", "bytes that are not HTTP (a TLS ClientHello)", "400, closed",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03 hello\r\n\r\n", 400),
    Row("nul_in_field", "client", "a NUL byte in a field value", "400, closed",
        b"GET http://{o}/ HTTP/1.1\r\nHost: {o}\r\nX-A: a\x00b\r\n\r\n", 400),
    Row("no_version", "client", "a request line without its version", "400, closed",
        b"GET http://{o}/\r\n\r\n", 400),
    Row("no_method", "client", "a request line without its method", "400, closed",
        b" http://{o}/ HTTP/1.1\r\nHost: {o}\r\n\r\n", 400),
    Row("bad_method", "client", "a method that is not a token (G{T)", "400, closed",
        b"G{T http://{o}/ HTTP/1.1\r\nHost: {o}\r\n\r\n", 400),
    Row("version_2", "client", "HTTP/2.0 in the request line", "505, closed",
        b"GET http://{o}/ HTTP/2.0\r\nHost: {o}\r\n\r\n", 505),
    Row("bad_version", "client", "HTTP/1.x in the request line", "400, closed",
        b"GET http://{o}/ HTTP/1.x\r\nHost: {o}\r\n\r\n", 400),
    Row("long_line", "client", "a request line of 9,000 bytes", "414, closed",
        b"GET http://{o}/" + b"a" * 9000 + b" HTTP/1.1\r\nHost: {o}\r\n\r\n", 414),
    Row("huge_field", "client", "one field of 20,000 bytes", "431, closed",
        b"GET http://{o}/ HTTP/1.1\r\nHost: {o}\r\nX-Big: " + b"b" * 20000 + b"\r\n\r\n", 431),
    Row("many_fields", "client", "101 fields", "431, closed",
        b"GET http://{o}/ HTTP/1.1\r\nHost: {o}\r\n" + b"X-F: 1\r\n" * 100 + b"\r\n", 431),
    Row("obs_fold", "client", "a folded field (obs-fold)", "400, closed",
        b"GET http://{o}/ HTTP/1.1\r\nHost: {o}\r\nX-A: a\r\n b\r\n\r\n", 400),
    Row("space_before_colon", "client", "whitespace before a field's colon", "400, closed",
        b"GET http://{o}/ HTTP/1.1\r\nHost : {o}\r\n\r\n", 400),
    Row("two_hosts", "client", "two Host fields", "400, closed",
        b"GET http://{o}/ HTTP/1.1\r\nHost: {o}\r\nHost: evil.test\r\n\r\n", 400),
    Row("two_lengths", "client", "two Content-Length fields that differ", "400, closed",
        post(b"Content-Length: 5\r\nContent-Length: 6\r\n", b"hello"), 400),
    Row("length_and_chunked", "client", "Content-Length with Transfer-Encoding: chunked",
        "400, closed", post(b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
                            b"0\r\n\r\n"), 400),
    Row("bad_chunk_size", "client", "a chunk size that is not hex", "400, closed",
        post(b"Transfer-Encoding: chunked\r\n", b"zz\r\nhello\r\n0\r\n\r\n"), 400),
    Row("chunk_size_overflow", "client", "a chunk size past 64 bits", "400, closed",
        post(b"Transfer-Encoding: chunked\r\n", b"1" + b"0" * 16 + b"\r\n"), 400),
    Row("userinfo", "client", "userinfo in the URL (user:pw@host)", "400, closed",
        b"GET http://user:pw@{o}/ HTTP/1.1\r\nHost: {o}\r\n\r\n", 400),
    Row("port_0", "client", "port 0", "400, closed",
        b"GET http://127.0.0.1:0/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400),
    Row("port_65536", "client", "port 65536", "400, closed",
        b"GET http://127.0.0.1:65536/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400),
    Row("port_not_a_number", "client", "a port that is not a number", "400, closed",
        b"GET http://127.0.0.1:http/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400),
    Row("unknown_scheme", "client", "an ftp:// URL", "501, closed",
        b"GET ftp://127.0.0.1/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 501),
    Row("connect_port", "client", "CONNECT to a port not in --connect-ports (25)",
        "403, closed; logged TCP_DENIED/403",
        b"CONNECT 127.0.0.1:25 HTTP/1.1\r\nHost: 127.0.0.1:25\r\n\r\n", 403),
    Row("loop", "client", "a request for the proxy itself", "508 Loop Detected; two lines, "
        "one per pass through the proxy",
        b"GET http://127.0.0.1:{p}/ HTTP/1.1\r\nHost: 127.0.0.1:{p}\r\nConnection: close\r\n"
        b"\r\n", 508, lines=2),
    Row("ipv6_literal", "client", "an IPv6 literal, http://[::1]:port/", "200 from an origin "
        "on ::1", b"GET http://{o}/ HTTP/1.1\r\nHost: {o}\r\n\r\n", 200,
        origin=b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nv6", run="test_ipv6_literal"),
    Row("slowloris", "client", "a head that does not end within --header-timeout",
        "408, closed", run="test_slowloris"),
    Row("gone_mid_request", "client", "a client that closes mid-head", "nothing (it has "
        "gone); one line, 400", run="test_client_gone_mid_request"),
    Row("gone_mid_response", "client", "a client that closes after 1 byte of a 50 MB "
        "response", "one line, 200, the bytes sent so far", run="test_client_gone_mid_response"),
    Row("gone_mid_tunnel", "client", "a client that closes a tunnel", "one TCP_TUNNEL/200 line",
        run="test_client_gone_mid_tunnel"),
    Row("tunnel_client_never_reads", "client", "a client that never reads a tunnel's data "
        "(64 MiB from the origin)", "the tunnel closed once a write to the client has waited "
        "--timeout; one TCP_TUNNEL/200 line", run="test_tunnel_client_never_reads"),
    # -- what an origin may do -------------------------------------------------------------
    Row("origin_refuses", "origin", "an origin that refuses the connection", "502, closed",
        GET, 502, run="test_origin_refuses"),
    Row("origin_resets_mid_body", "origin", "an origin that resets half way through its body",
        "200 and half the body, then closed",
        GET, 200, origin=b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 500,
        then="reset", run="test_origin_cut_short[origin_resets_mid_body]"),
    Row("origin_short_body", "origin", "an origin that sends fewer bytes than Content-Length",
        "200 and the bytes that came, then closed",
        GET, 200, origin=b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello",
        run="test_origin_cut_short[origin_short_body]"),
    Row("origin_garbage_status", "origin", "a garbage status line", "502, closed", GET, 502,
        origin=b"HTTP/1.1 OK-ish\r\nContent-Length: 2\r\n\r\nhi"),
    Row("origin_extra_bytes", "origin", "more bytes than Content-Length", "200 with exactly "
        "Content-Length bytes; the connection serves the next request",
        GET, 200, origin=b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA",
        run="test_origin_extra_bytes"),
    Row("origin_silent", "origin", "an origin that never answers", "504 after --timeout, "
        "closed", GET, 504, origin=b"", then="hold"),
    Row("origin_huge_head", "origin", "response headers of 70,000 bytes", "502, closed", GET,
        502, origin=b"HTTP/1.1 200 OK\r\nX-Big: " + b"h" * 70000 + b"\r\n\r\n"),
    Row("origin_endless_chunks", "origin", "a chunked body that never ends",
        "200 and the chunks that came, closed after --timeout", GET, 200,
        origin=b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        then="hold", run="test_origin_cut_short[origin_endless_chunks]"),
    Row("origin_never_reads_body", "origin", "an origin that never reads a 64 MiB request "
        "body (two uploads, --max-clients 2)", "504 (or a reset, the upload still coming) once "
        "a write to the origin has waited --timeout; both slots come back",
        run="test_origin_never_reads_body"),
    Row("tunnel_origin_never_reads", "origin", "a tunnel whose origin never reads what the "
        "client sends", "the tunnel closed once a write to the origin has waited --timeout; "
        "one TCP_TUNNEL/200 line", run="test_tunnel_origin_never_reads"),
    Row("origin_length_and_chunked", "origin", "Content-Length with Transfer-Encoding: chunked",
        "502, closed", GET, 502, origin=b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    # -- resources -------------------------------------------------------------------------
    Row("descriptors_run_out", "resources", "descriptors run out (prlimit --nofile=64)",
        "503 for a client whose origin cannot be reached for want of a descriptor; the proxy "
        "goes on", run="test_descriptors_run_out"),
    Row("max_clients", "resources", "--max-clients 2, and a third client",
        "503, logged TCP_DENIED/503", run="test_max_clients"),
    Row("slow_reader", "resources", "a client reading a 100 MiB response in small pieces",
        "all of it, with the proxy's memory flat", run="test_slow_reader"),
]
