"""A raw-socket client for black-box tests: exact bytes out, bytes back.

Every read has a deadline, a safety net only: tests wait for the bytes or
the close they expect, and the deadline turns a hang into a clear failure.
"""
import socket
import threading
import time
from dataclasses import dataclass

DEADLINE = 5.0      # seconds a test waits for an answer before calling it a hang


@dataclass
class Reply:
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
    return Reply(b"".join(chunks), end, time.monotonic() - start)


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

    def header(self, name):
        """The first value of header name (case-insensitive), or None."""
        return next((v for n, v in self.headers if n.lower() == name.lower()), None)


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
