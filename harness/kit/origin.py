"""The local origin stub: a small, deterministic HTTP/1.1 origin server for proxy tests.

Tests start one with ``with Origin() as origin:`` (it listens on 127.0.0.1, on a
port the OS picks), send requests to it through the proxy under test, and then
look at ``origin.requests`` to see exactly what the proxy forwarded.  Everything
the stub does is decided by the URL, so a URL sent through a proxy chooses the
behaviour.  Python 3.11 standard library only: raw sockets and threads.

URL language
------------
Paths (the content is deterministic; the seed is the whole path, query excluded):

    /text/N[/anything...]   N bytes of printable ASCII text with newlines (text/plain)
    /bin/N[/anything...]    N bytes of binary data (application/octet-stream); with
                            N >= 256 it contains all 256 byte values, NUL included
    anything else           404 with a short text body

    body_for(path) returns the bytes a path serves, so tests can compare.
    /bin/1000/a and /bin/1000/b differ; each is the same in every run and process.

Query parameters (unknown parameters are ignored, so ``?v=2`` can bust caches):

    status=CODE             reply with that status code (reason from REASONS)
    interim=CODE            send an interim (1xx) response before the final one, e.g.
                            103 Early Hints with a Link field (repeatable)
    header=Name:Value       add a response header (URL-encode it, repeatable); a
                            default header of the same name is replaced; a GET
                            whose If-None-Match or If-Modified-Since matches the
                            ETag or Last-Modified given so gets 304 Not Modified,
                            as from a real server
    update=Name:Value       a header that a 304 adds or replaces (repeatable)
    hold=NAME               record the request, then hold the response until the test
                            calls origin.release(NAME) (release is sticky: once NAME
                            is released, later hold=NAME requests are not held)
    hold_at=N               with hold=NAME: send the head and the body's first N bytes
                            at once, then hold the rest until release(NAME): a
                            response that arrives in two parts, when the test says
    fault=KIND              misbehave; repeat fault= to combine, e.g. chunked + drip:
        close-before        close the connection without answering
        close-mid-body      full Content-Length, half the body, then close
        reset-mid-body      half the body, then close with an RST (SO_LINGER 0)
        never               never answer; the socket stays open until origin.close()
                            (with hold=NAME: until release(NAME), then closed unanswered)
        bad-status          status line "HTTP/1.1 OK-ish", then headers, body, close
        chunked             Transfer-Encoding: chunked, chunk=SIZE bytes a chunk (1000);
                            chunk_ext=TEXT after every chunk size (e.g. ;a=1 or ;x),
                            trailer=Name:Value after the last chunk (repeatable)
        bad-chunk           chunked, half the body, then a chunk-size line that is not
                            hex ("zz"), a few bytes, and a close
        close-delimited     no Content-Length, no Transfer-Encoding: the body, then close
        drip                send the response drip=BYTES (1) at a time, drip_ms=MS (5) apart

    Examples:  /text/100?status=503   /bin/5000?fault=chunked&chunk=7
               /text/10?header=X-Test%3A%20yes&hold=first

Connections are persistent (HTTP/1.1) until the client sends ``Connection: close``,
speaks HTTP/1.0 without keep-alive, or hangs up.  A HEAD request gets headers only.
Request bodies (Content-Length or chunked) are read and recorded: Request.body is
the decoded body, Request.raw_body the bytes as they came (chunk framing included).

Run by hand:  python3 harness/kit/origin.py [--port N]
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import re
import selectors
import signal
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Iterable, Iterator
from urllib.parse import parse_qs, parse_qsl, urlsplit

HOST = "127.0.0.1"
MAX_HEAD = 64 * 1024          # request line + headers; more -> 431
MAX_CHUNK_LINE = 4096         # one chunk-size line of a chunked request body
BLOCK = 64 * 1024             # generated bodies are built from blocks of this size
SEND_SIZE = 64 * 1024         # bytes per sendall() when not dripping
LINGER_SECONDS = 1.0          # how long to drain a client after closing our side

REASONS = {
    100: "Continue", 101: "Switching Protocols", 103: "Early Hints",
    200: "OK", 201: "Created", 202: "Accepted", 203: "Non-Authoritative Information",
    204: "No Content", 205: "Reset Content", 206: "Partial Content",
    300: "Multiple Choices", 301: "Moved Permanently", 302: "Found", 303: "See Other",
    304: "Not Modified", 307: "Temporary Redirect", 308: "Permanent Redirect",
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 406: "Not Acceptable", 408: "Request Timeout",
    409: "Conflict", 410: "Gone", 411: "Length Required", 413: "Content Too Large",
    414: "URI Too Long", 415: "Unsupported Media Type", 418: "I'm a teapot",
    429: "Too Many Requests", 431: "Request Header Fields Too Large",
    500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout", 505: "HTTP Version Not Supported",
}

FAULTS = {
    "close-before": "close the connection without answering",
    "close-mid-body": "send the full Content-Length, half the body, then close",
    "reset-mid-body": "send half the body, then close with an RST",
    "never": "never answer; keep the socket open until close() or release",
    "bad-status": "send a malformed status line, then headers and body, then close",
    "chunked": "send the body with Transfer-Encoding: chunked (chunk=SIZE)",
    "bad-chunk": "chunked, half the body, then a chunk-size line that is not hex, then close",
    "close-delimited": "send no Content-Length and no Transfer-Encoding; close after the body",
    "drip": "send the response drip=BYTES at a time, drip_ms=MS apart",
}

# How a connection ends after a response, by fault (default: keep it open).
ENDING_BY_FAULT = {"reset-mid-body": "reset", "close-mid-body": "close", "bad-status": "close",
                   "bad-chunk": "close", "close-delimited": "close"}

BODYLESS_STATUSES = {204, 304}   # plus every 1xx

REQUEST_LINE = re.compile(r"([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) (HTTP/\d\.\d)")
HEADER_LINE = re.compile(r"([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*")
GENERATED_PATH = re.compile(r"/(text|bin)/(\d+)(?:/.*)?")

# --------------------------------------------------------------------------
# Deterministic content
# --------------------------------------------------------------------------

# 64 symbols repeated 4 times: maps any byte to printable text (about 1 in 64 is a newline).
_TEXT_SYMBOLS = (b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 \n")
_TEXT_TABLE = _TEXT_SYMBOLS * 4
CONTENT_TYPES = {"text": "text/plain", "bin": "application/octet-stream"}


def listed(requests, most=3):
    """requests summarised for a failure message: ':' and the first most,
    one a line, then how many more; '' if there are none."""
    if not requests:
        return ""
    lines = "".join(f"\n  {r}" for r in requests[:most])
    more = len(requests) - most
    return ":" + lines + (f"\n  ...and {more} more" if more > 0 else "")


@dataclass(frozen=True)
class Resource:
    """What a path serves: status, content type, length and a way to stream the body."""

    status: int
    content_type: str
    length: int
    kind: str = ""          # "text", "bin", or "" for a fixed body
    seed: bytes = b""
    fixed: bytes = b""

    def chunks(self, limit: int | None = None) -> Iterator[bytes]:
        """Yield the body (or its first `limit` bytes) in blocks of at most BLOCK bytes."""
        size = self.length if limit is None else min(limit, self.length)
        if not self.kind:
            if size:
                yield self.fixed[:size]
            return
        yield from _generate(self.kind, self.seed, size)


def _seed_digest(seed: bytes) -> bytes:
    return hashlib.sha256(b"origin-stub/" + seed).digest()


_block_cache: dict[tuple[str, bytes], bytes] = {}
_block_cache_lock = threading.Lock()


def _base_block(kind: str, seed: bytes) -> bytes:
    """The first BLOCK bytes for a seed: a byte permutation, then a SHAKE-256 stream."""
    key = (kind, seed)
    with _block_cache_lock:
        cached = _block_cache.get(key)
    if cached is not None:
        return cached
    digest = _seed_digest(seed)
    keys = hashlib.shake_256(b"perm" + digest).digest(256 * 8)
    permutation = bytes(sorted(range(256), key=lambda b: keys[8 * b: 8 * b + 8]))
    block = permutation + hashlib.shake_256(b"data" + digest).digest(BLOCK - 256)
    if kind == "text":
        block = block.translate(_TEXT_TABLE)
    with _block_cache_lock:
        if len(_block_cache) > 64:
            _block_cache.clear()
        _block_cache[key] = block
    return block


def _rotation(digest: bytes, index: int) -> int:
    """How far block `index` is rotated: mixes the block offset into the content."""
    if index == 0:
        return 0
    mixed = hashlib.sha256(digest + index.to_bytes(8, "big")).digest()
    return int.from_bytes(mixed[:4], "big") % BLOCK


def _generate(kind: str, seed: bytes, size: int) -> Iterator[bytes]:
    """Yield `size` generated bytes: block i is the base block rotated by _rotation(i)."""
    base = _base_block(kind, seed)
    digest = _seed_digest(seed)
    for index, offset in enumerate(range(0, size, BLOCK)):
        r = _rotation(digest, index)
        block = base[r:] + base[:r] if r else base
        yield block[: size - offset]


def _path_of(target: str) -> str:
    """The path part of a target or URL, without query string or fragment."""
    if target.startswith("/"):
        return target.split("?", 1)[0].split("#", 1)[0]
    return urlsplit(target).path or "/"


def resource(path: str) -> Resource:
    """Describe what the stub serves for `path` (a query string is ignored)."""
    path = _path_of(path)
    match = GENERATED_PATH.fullmatch(path)
    if match is None:
        body = f"404 not found: {path}\ntry /text/N or /bin/N\n".encode("utf-8", "replace")
        return Resource(404, "text/plain", len(body), fixed=body)
    kind, size = match.group(1), int(match.group(2))
    return Resource(200, CONTENT_TYPES[kind], size, kind=kind, seed=path.encode("utf-8"))


def body_for(path: str) -> bytes:
    """Return the exact body bytes the stub serves for `path` (query string ignored)."""
    return b"".join(resource(path).chunks())


# --------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------

@dataclass
class Request:
    """One request as the stub received it."""

    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    time: float = 0.0
    conn: int = 0
    path: str = ""
    query: str = ""
    trailers: list[tuple[str, str]] = field(default_factory=list)
    raw_body: bytes = b""

    def header(self, name: str) -> str | None:
        """First value of header `name` (case-insensitive), or None."""
        lowered = name.lower()
        return next((v for n, v in self.headers if n.lower() == lowered), None)

    def header_values(self, name: str) -> list[str]:
        """All values of header `name` (case-insensitive), in order."""
        lowered = name.lower()
        return [v for n, v in self.headers if n.lower() == lowered]

    @property
    def params(self) -> dict[str, list[str]]:
        """The query string, decoded: name -> list of values."""
        return parse_qs(self.query, keep_blank_values=True)

    def wants_close(self) -> bool:
        """True if the client asked to close the connection after this request."""
        tokens = {t.strip().lower() for v in self.header_values("Connection") for t in v.split(",")}
        if self.version == "HTTP/1.0":
            return "keep-alive" not in tokens
        return "close" in tokens

    def __str__(self) -> str:
        return f"{self.method} {self.target} {self.version} (conn {self.conn}, {len(self.body)} body bytes)"


def split_target(target: str) -> tuple[str, str]:
    """(path, query) of an origin-form, absolute-form or authority-form target."""
    if target.startswith("/"):
        path, _, query = target.partition("?")
        return path.split("#", 1)[0], query.split("#", 1)[0]
    if "://" in target:
        parts = urlsplit(target)
        return parts.path or "/", parts.query
    return target, ""


class _BadRequest(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class _Disconnected(Exception):
    """The client went away in the middle of a request."""


class _Stopping(Exception):
    """The origin is closing; abandon this connection quietly."""


class _Reader:
    """Buffered reads of lines and exact byte counts from a socket."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = bytearray()
        self.last_line = b""        # the last line readline() returned, with its CRLF or LF

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        self.buf += data
        return bool(data)

    def readline(self, limit: int) -> bytes | None:
        """One line without CRLF; None on EOF before any byte; _BadRequest(431) past limit."""
        while True:
            end = self.buf.find(b"\n", 0, max(limit, 0))
            if end >= 0:
                line = bytes(self.buf[:end])
                self.last_line = bytes(self.buf[: end + 1])
                del self.buf[: end + 1]
                return line[:-1] if line.endswith(b"\r") else line
            if len(self.buf) >= limit:
                raise _BadRequest(431, "request head too large")
            if not self._fill():
                if self.buf:
                    raise _Disconnected()
                return None

    def read_exact(self, n: int) -> bytes:
        """Exactly n bytes, or _Disconnected."""
        while len(self.buf) < n:
            if not self._fill():
                raise _Disconnected()
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data


def _read_head(reader: _Reader) -> list[str] | None:
    """Request line and header lines (latin-1), or None if the client closed cleanly."""
    lines: list[str] = []
    used = 0
    while True:
        line = reader.readline(MAX_HEAD - used)
        if line is None:
            if lines:
                raise _Disconnected()
            return None
        used += len(line) + 2
        if not line and not lines:
            continue                      # tolerate blank lines before a request
        if not line:
            return lines
        lines.append(line.decode("latin-1"))


def _parse_headers(lines: Iterable[str]) -> list[tuple[str, str]]:
    headers = []
    for line in lines:
        match = HEADER_LINE.fullmatch(line)
        if match is None:
            raise _BadRequest(400, f"malformed header line: {line[:80]!r}")
        headers.append((match.group(1), match.group(2)))
    return headers


def _read_chunked(reader: _Reader) -> tuple[bytes, list[tuple[str, str]], bytes]:
    """Decode a chunked request body; return (body, trailers, the bytes as they came)."""
    body, raw = bytearray(), bytearray()

    def line(limit: int) -> bytes:
        got = _required(reader.readline(limit))
        raw.extend(reader.last_line)
        return got

    while True:
        size_line = line(MAX_CHUNK_LINE).split(b";", 1)[0].strip()
        if not re.fullmatch(rb"[0-9A-Fa-f]{1,16}", size_line):
            raise _BadRequest(400, f"bad chunk size line: {size_line[:40]!r}")
        size = int(size_line, 16)
        if size == 0:
            break
        data = reader.read_exact(size)
        body += data
        raw += data
        if line(MAX_CHUNK_LINE) != b"":
            raise _BadRequest(400, "chunk data not followed by CRLF")
    trailer_lines = []
    while (trailer := line(MAX_HEAD)) != b"":
        trailer_lines.append(trailer.decode("latin-1"))
    return bytes(body), _parse_headers(trailer_lines), bytes(raw)


def _required(line: bytes | None) -> bytes:
    if line is None:
        raise _Disconnected()
    return line


# --------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------

@dataclass
class Options:
    """The behaviour a request's query string asks for."""

    status: int | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    hold: str | None = None
    hold_at: int | None = None
    faults: set[str] = field(default_factory=set)
    chunk: int = 1000
    chunk_ext: str = ""
    trailers: list[tuple[str, str]] = field(default_factory=list)
    interims: list[int] = field(default_factory=list)
    updates: list[tuple[str, str]] = field(default_factory=list)
    drip: int = 1
    drip_ms: float = 5.0

    @classmethod
    def parse(cls, query: str) -> "Options":
        """Parse a query string; raise ValueError with a readable message if it is bad."""
        opts = cls()
        for name, value in parse_qsl(query, keep_blank_values=True):
            setter = _OPTION_SETTERS.get(name)
            if setter is not None:
                setter(opts, value)
        return opts


def _positive_int(name: str, value: str, low: int = 1, high: int = 1 << 40) -> int:
    if not value.isdigit() or not low <= int(value) <= high:
        raise ValueError(f"{name}= wants an integer in {low}..{high}, got {value!r}")
    return int(value)


def _field(param: str, value: str) -> tuple[str, str]:
    name, colon, rest = value.partition(":")
    if not colon or not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
        raise ValueError(f"{param}= wants Name:Value, got {value!r}")
    return name, rest.strip()


def _set_header(opts: Options, value: str) -> None:
    opts.headers.append(_field("header", value))


def _set_chunk_ext(opts: Options, value: str) -> None:
    if any(c in value for c in "\r\n"):
        raise ValueError(f"chunk_ext= must be on one line, got {value!r}")
    opts.chunk_ext = value


def _set_fault(opts: Options, value: str) -> None:
    if value not in FAULTS:
        raise ValueError(f"unknown fault {value!r}; known: {', '.join(FAULTS)}")
    opts.faults.add(value)


def _set_drip_ms(opts: Options, value: str) -> None:
    try:
        opts.drip_ms = float(value)
    except ValueError:
        raise ValueError(f"drip_ms= wants a number, got {value!r}") from None
    if not 0 <= opts.drip_ms <= 60_000:
        raise ValueError(f"drip_ms= wants 0..60000, got {value!r}")


_OPTION_SETTERS = {
    "status": lambda o, v: setattr(o, "status", _positive_int("status", v, 100, 999)),
    "header": _set_header,
    "hold": lambda o, v: setattr(o, "hold", v),
    "hold_at": lambda o, v: setattr(o, "hold_at", _positive_int("hold_at", v)),
    "fault": _set_fault,
    "chunk": lambda o, v: setattr(o, "chunk", _positive_int("chunk", v)),
    "chunk_ext": _set_chunk_ext,
    "trailer": lambda o, v: o.trailers.append(_field("trailer", v)),
    "interim": lambda o, v: o.interims.append(_positive_int("interim", v, 100, 199)),
    "update": lambda o, v: o.updates.append(_field("update", v)),
    "drip": lambda o, v: setattr(o, "drip", _positive_int("drip", v)),
    "drip_ms": _set_drip_ms,
}


@dataclass
class PlannedResponse:
    """A planned response: the bytes to send and how the connection ends afterwards."""

    head: bytes
    body: Iterator[bytes]
    ending: str             # "keep", "close" or "reset"


def _has_body(method: str, status: int) -> bool:
    return method != "HEAD" and status >= 200 and status not in BODYLESS_STATUSES


def _framing_header(status: int, length: int, chunked: bool) -> list[tuple[str, str]]:
    if status < 200 or status in BODYLESS_STATUSES:
        return []
    if chunked:
        return [("Transfer-Encoding", "chunked")]
    return [("Content-Length", str(length))]


def _connection_header(req: Request) -> list[tuple[str, str]]:
    if req.wants_close():
        return [("Connection", "close")]
    if req.version == "HTTP/1.0":
        return [("Connection", "keep-alive")]
    return []


def _merge_headers(defaults: list[tuple[str, str]], extra: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Defaults, minus any the extra headers replace, then the extra headers."""
    replaced = {name.lower() for name, _ in extra}
    return [(n, v) for n, v in defaults if n.lower() not in replaced] + extra


def _ending(req: Request, opts: Options, headers: list[tuple[str, str]]) -> str:
    for fault, ending in ENDING_BY_FAULT.items():
        if fault in opts.faults:
            return ending
    closing = any(n.lower() == "connection" and "close" in v.lower() for n, v in headers)
    return "close" if closing or req.wants_close() else "keep"


def _chunked(pieces: Iterable[bytes], terminate: bool, opts: Options) -> Iterator[bytes]:
    """Frame body pieces as HTTP chunks, each size followed by opts.chunk_ext; end
    with the last-chunk and opts.trailers if `terminate`."""
    ext = opts.chunk_ext.encode("latin-1")
    for piece in pieces:
        yield b"%x%s\r\n" % (len(piece), ext) + piece + b"\r\n"
    if terminate:
        yield (b"0" + ext + b"\r\n"
               + "".join(f"{n}: {v}\r\n" for n, v in opts.trailers).encode("latin-1") + b"\r\n")


def _interim(code: int) -> str:
    """An interim (1xx) response head; 103 gets a Link field, as real ones do."""
    link = "Link: </style.css>; rel=preload; as=style\r\n" if code == 103 else ""
    return f"HTTP/1.1 {code} {REASONS.get(code, 'Unknown Status')}\r\n{link}\r\n"


def _pieces(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    """Re-cut a stream of byte strings into pieces of exactly `size` (the last may be shorter)."""
    buf = bytearray()
    for chunk in chunks:
        buf += chunk
        while len(buf) >= size:
            yield bytes(buf[:size])
            del buf[:size]
    if buf:
        yield bytes(buf)


def _weak(tag: str) -> str:
    return tag.strip().removeprefix("W/")


def _not_modified(req: Request, headers: list[tuple[str, str]]) -> bool:
    """Whether req's conditions hold false for a response with these headers,
    as a real server judges them (RFC 9110 section 13.1): If-None-Match lists
    its ETag (weakly) or is *; without it, If-Modified-Since is no earlier
    than its Last-Modified."""
    own = {n.lower(): v for n, v in headers}
    inm, ims = req.header("If-None-Match"), req.header("If-Modified-Since")
    if inm is not None:
        tags = [_weak(t) for t in inm.split(",")]
        return "*" in tags or ("etag" in own and _weak(own["etag"]) in tags)
    if ims is None or "last-modified" not in own:
        return False
    try:
        return parsedate_to_datetime(own["last-modified"]) <= parsedate_to_datetime(ims)
    except (TypeError, ValueError):
        return False


def plan_reply(req: Request, opts: Options) -> PlannedResponse:
    """Build the response for a request that gets one. A GET whose
    conditions match the ETag or Last-Modified that header= gives gets 304,
    with the update= fields too."""
    res = resource(req.path)
    status = opts.status or res.status
    extra = opts.headers
    if status == 200 and req.method in ("GET", "HEAD") and _not_modified(req, extra):
        status, extra = 304, _merge_headers(extra, opts.updates)
    chunked = bool(opts.faults & {"chunked", "bad-chunk"})
    framing = ([] if "close-delimited" in opts.faults
               else _framing_header(status, res.length, chunked))
    typed = [] if status == 304 else [("Content-Type", res.content_type)]
    headers = _merge_headers(typed + framing + _connection_header(req), extra)
    status_line = ("HTTP/1.1 OK-ish" if "bad-status" in opts.faults
                   else f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown Status')}")
    head = ("".join(_interim(code) for code in opts.interims)
            + status_line + "\r\n" + "".join(f"{n}: {v}\r\n" for n, v in headers) + "\r\n")
    truncated = opts.faults & {"close-mid-body", "reset-mid-body", "bad-chunk"}
    body: Iterator[bytes] = iter(())
    if _has_body(req.method, status):
        body = res.chunks(res.length // 2 if truncated else None)
        if chunked:
            body = _chunked(_pieces(body, opts.chunk), terminate=not truncated, opts=opts)
        if "bad-chunk" in opts.faults:
            body = itertools.chain(body, [b"zz\r\nnot a chunk\r\n"])
    return PlannedResponse(head.encode("latin-1", "replace"), body, _ending(req, opts, headers))


def simple_reply(req: Request | None, status: int, text: str) -> PlannedResponse:
    """A short text/plain response (used for 400 and 431); closes unless req is fine."""
    body = (text + "\n").encode("utf-8", "replace")
    close = req is None or req.wants_close()
    head = (f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown Status')}\r\n"
            f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
            + ("Connection: close\r\n" if close else "") + "\r\n")
    body_out = iter([body]) if req is None or req.method != "HEAD" else iter(())
    return PlannedResponse(head.encode("latin-1"), body_out, "close" if close else "keep")


# --------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------

class Origin:
    """A threaded HTTP/1.1 origin server on 127.0.0.1; use it as a context manager."""

    def __init__(self, port: int = 0):
        self.host = HOST
        self._listener = socket.create_server((HOST, port), backlog=128)
        self._listener.setblocking(False)
        self.port = self._listener.getsockname()[1]
        self.errors: list[BaseException] = []     # unexpected (non-socket) errors, for tests
        self._cond = threading.Condition()
        self._requests: list[Request] = []
        self._refused: list[str] = []                  # why each request refused (400, 431) was
        self._sockets: dict[int, socket.socket] = {}   # every connection not yet closed
        self._live: set[int] = set()                   # ... and not yet closed by either side
        self._threads: list[threading.Thread] = []
        self._holding: dict[str, list[Request]] = {}
        self._released: set[str] = set()
        self._conn_ids = itertools.count(1)
        self._stopping = threading.Event()
        self._closed = False
        self._wake_r, self._wake_w = socket.socketpair()
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name=f"origin-{self.port}-accept", daemon=True)
        self._accept_thread.start()

    # -- public API ---------------------------------------------------------

    @property
    def authority(self) -> str:
        """'127.0.0.1:PORT'."""
        return f"{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        """'http://127.0.0.1:PORT' + path."""
        return f"http://{self.authority}{path}"

    @property
    def requests(self) -> list[Request]:
        """A copy of every request received so far, in arrival order."""
        with self._cond:
            return list(self._requests)

    @property
    def refused(self) -> list[str]:
        """Why each request the stub refused as malformed (400, 431) was, in order."""
        with self._cond:
            return list(self._refused)

    def wait_for_requests(self, n: int, timeout: float = 10) -> list[Request]:
        """Return the requests once at least n were recorded; AssertionError on timeout."""
        with self._cond:
            if self._cond.wait_for(lambda: len(self._requests) >= n, timeout):
                return list(self._requests)
            raise AssertionError(
                f"origin: expected at least {n} request(s) within {timeout} s, "
                f"received {len(self._requests)}{listed(self._requests)}")

    def wait_held(self, name: str, timeout: float = 10, stall: float | None = None) -> Request:
        """Return the request once one with hold=NAME is being held; AssertionError
        after timeout seconds, or, with stall, sooner: once stall seconds pass in
        which no request at all arrives (a proxy that has stopped taking them)."""
        end = time.monotonic() + timeout
        with self._cond:
            while True:
                seen = len(self._requests)
                limit = min(end, time.monotonic() + stall) if stall else end
                if not self._cond.wait_for(lambda: self._holding.get(name)
                                           or len(self._requests) > seen,
                                           max(0.0, limit - time.monotonic())):
                    break
                if self._holding.get(name):
                    return self._holding[name][0]
            held = sorted(n for n, reqs in self._holding.items() if reqs)
            near = [r for r in self._requests if name in str(r)]
            quiet = stall and time.monotonic() < end
            raise AssertionError(
                f"origin: no request with hold={name} was held "
                + (f"(no request at all came for {stall} s)" if quiet else f"within {timeout} s")
                + f"; held now: {len(held)} ({', '.join(held[:8]) or 'none'}"
                f"{', ...' if len(held) > 8 else ''}); "
                f"received {len(self._requests)} request(s) in all"
                + (f"; those naming {name}{listed(near)}" if near
                   else f", none naming {name}{listed(self._requests)}"))

    def release(self, name: str) -> None:
        """Let every request with hold=NAME proceed, now and from now on."""
        with self._cond:
            self._released.add(name)
            self._cond.notify_all()

    def connections_open(self) -> int:
        """How many client connections are open (neither side has closed them)."""
        with self._cond:
            return len(self._live)

    def wait_connections(self, n: int, timeout: float = 10) -> None:
        """Wait until exactly n client connections are open; AssertionError on timeout."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._live) == n, timeout):
                raise AssertionError(
                    f"origin: expected {n} open connection(s) within {timeout} s, "
                    f"have {len(self._live)}")

    def close(self) -> None:
        """Stop accepting, release holds, close every connection, join every thread."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._stopping.set()
            self._cond.notify_all()
        self._wake_w.send(b"x")
        self._accept_thread.join()
        for sock in (self._listener, self._wake_r, self._wake_w):
            sock.close()
        with self._cond:
            for sock in self._sockets.values():
                _quietly(sock.shutdown, socket.SHUT_RDWR)
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=10)
        stuck = [t.name for t in threads if t.is_alive()]
        if stuck:
            raise RuntimeError(f"origin: threads did not stop: {stuck}")

    def __enter__(self) -> "Origin":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Origin {self.url('')} requests={len(self._requests)} open={len(self._live)}>"

    # -- accepting ----------------------------------------------------------

    def _accept_loop(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._listener, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while not self._stopping.is_set():
                for key, _ in selector.select():
                    if key.fileobj is self._listener:
                        self._accept_one()

    def _accept_one(self) -> None:
        try:
            sock, _ = self._listener.accept()
        except OSError:
            return
        sock.setblocking(True)
        with self._cond:
            if self._stopping.is_set():
                sock.close()
                return
            cid = next(self._conn_ids)
            self._sockets[cid] = sock
            self._live.add(cid)
            self._threads = [t for t in self._threads if t.is_alive()]
            thread = threading.Thread(target=self._serve, args=(cid, sock),
                                      name=f"origin-{self.port}-conn{cid}", daemon=True)
            self._threads.append(thread)
            self._cond.notify_all()
        thread.start()

    # -- serving one connection ---------------------------------------------

    def _serve(self, cid: int, sock: socket.socket) -> None:
        ending = "close"
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            ending = self._serve_requests(cid, sock)
        except (OSError, _Disconnected, _Stopping):
            pass
        except Exception as exc:            # a bug in the stub: report it, don't hang
            self.errors.append(exc)
            print(f"origin stub: internal error on conn {cid}: {exc!r}", file=sys.stderr)
        finally:
            self._mark_closed(cid)
            self._finish(sock, ending)
            with self._cond:
                self._sockets.pop(cid, None)
                self._cond.notify_all()

    def _serve_requests(self, cid: int, sock: socket.socket) -> str:
        """Answer requests one after another; return how the connection should end."""
        reader = _Reader(sock)
        while True:
            try:
                req = self._read_request(cid, reader, sock)
            except _BadRequest as bad:
                with self._cond:
                    self._refused.append(f"{bad.status} {bad}")
                self._send(sock, simple_reply(None, bad.status, str(bad)), Options())
                return "close"
            if req is None:
                return "eof"
            self._record(req)
            ending = self._respond(sock, req)
            if ending != "keep":
                return ending

    def _read_request(self, cid: int, reader: _Reader, sock: socket.socket) -> Request | None:
        lines = _read_head(reader)
        if lines is None:
            return None
        arrived = time.monotonic()
        match = REQUEST_LINE.fullmatch(lines[0])
        if match is None:
            raise _BadRequest(400, f"malformed request line: {lines[0][:80]!r}")
        method, target, version = match.groups()
        path, query = split_target(target)
        req = Request(method, target, version, _parse_headers(lines[1:]),
                      time=arrived, conn=cid, path=path, query=query)
        req.body, req.trailers, req.raw_body = self._read_body(req, reader, sock)
        return req

    @staticmethod
    def _read_body(req: Request, reader: _Reader, sock: socket.socket) -> tuple[bytes, list, bytes]:
        encoding = req.header("Transfer-Encoding")
        length = req.header("Content-Length")
        has_body = encoding is not None or (length is not None and length.strip() != "0")
        if has_body and (req.header("Expect") or "").lower() == "100-continue":
            sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        if encoding is not None:
            if encoding.split(",")[-1].strip().lower() != "chunked":
                raise _BadRequest(400, f"unsupported Transfer-Encoding: {encoding}")
            return _read_chunked(reader)
        if length is None:
            return b"", [], b""
        if not length.strip().isdigit():
            raise _BadRequest(400, f"bad Content-Length: {length!r}")
        body = reader.read_exact(int(length))
        return body, [], body

    def _record(self, req: Request) -> None:
        with self._cond:
            self._requests.append(req)
            self._cond.notify_all()

    def _respond(self, sock: socket.socket, req: Request) -> str:
        """Send the response the request's query asks for; return how to end."""
        try:
            opts = Options.parse(req.query)
        except ValueError as exc:
            return self._send(sock, simple_reply(req, 400, str(exc)), Options())
        if opts.hold is not None and opts.hold_at is None:
            self._hold(opts.hold, req)
        if "never" in opts.faults and opts.hold is None:
            self._wait_until_stopping()
        if opts.faults & {"never", "close-before"}:
            return "close"
        return self._send(sock, plan_reply(req, opts), opts, req)

    def _hold(self, name: str, req: Request) -> None:
        with self._cond:
            if name in self._released:
                return
            self._holding.setdefault(name, []).append(req)
            self._cond.notify_all()
            try:
                self._cond.wait_for(lambda: name in self._released or self._stopping.is_set())
            finally:
                self._holding[name].remove(req)
        if self._stopping.is_set():
            raise _Stopping()

    def _wait_until_stopping(self) -> None:
        self._stopping.wait()
        raise _Stopping()

    def _send(self, sock: socket.socket, reply: PlannedResponse, opts: Options,
              req: Request | None = None) -> str:
        """Transmit a reply (with hold_at: its head and hold_at bytes of its
        body, then the rest once released; dripping it if asked to) and
        return its ending."""
        body = reply.body
        if opts.hold is not None and opts.hold_at is not None and req is not None:
            first = bytearray()
            for piece in body:
                first += piece
                if len(first) >= opts.hold_at:
                    break
            sock.sendall(reply.head + first[:opts.hold_at])
            self._hold(opts.hold, req)
            reply = PlannedResponse(b"", itertools.chain([bytes(first[opts.hold_at:])], body),
                                    reply.ending)
        wire = itertools.chain([reply.head], reply.body)
        if "drip" not in opts.faults:
            for piece in _pieces(wire, SEND_SIZE):
                sock.sendall(piece)
            return reply.ending
        for i, piece in enumerate(_pieces(wire, opts.drip)):
            if i and self._stopping.wait(opts.drip_ms / 1000):
                raise _Stopping()
            sock.sendall(piece)
        return reply.ending

    # -- closing one connection ---------------------------------------------

    def _mark_closed(self, cid: int) -> None:
        with self._cond:
            self._live.discard(cid)
            self._cond.notify_all()

    def _finish(self, sock: socket.socket, ending: str) -> None:
        """Close a connection: with an RST for "reset", else gracefully."""
        if ending == "reset":
            _quietly(sock.setsockopt, socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif ending == "close":
            self._linger(sock)
        sock.close()

    def _linger(self, sock: socket.socket) -> None:
        """Half-close, then read until the client closes too (so unread data cannot cause an RST)."""
        if _quietly(sock.shutdown, socket.SHUT_WR) is False:
            return
        deadline = time.monotonic() + LINGER_SECONDS
        drained = 0
        while drained < 16 * 1024 * 1024 and not self._stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                sock.settimeout(remaining)
                data = sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            drained += len(data)


def _quietly(func, *args) -> bool:
    """Call func(*args); swallow OSError and return False if it raised."""
    try:
        func(*args)
    except OSError:
        return False
    return True


def main(argv: list[str] | None = None) -> None:
    """Serve on 127.0.0.1 until Ctrl-C."""
    parser = argparse.ArgumentParser(description="Local origin stub for proxy tests.",
                                     epilog="See the module docstring for the URL language.")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: any)")
    args = parser.parse_args(argv)
    # Block Ctrl-C / SIGTERM in every thread (the stub's threads inherit this mask) and
    # take them with sigwait() here, so a signal can never land on a worker thread.
    stop_signals = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    with Origin(port=args.port) as origin:
        print(f"origin stub listening on {origin.url('')} "
              f"(try /text/100, /bin/1000, ?fault=chunked)", flush=True)
        signal.sigwait(stop_signals)
        print("origin stub: bye", flush=True)


if __name__ == "__main__":
    main()
