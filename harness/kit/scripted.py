"""A scripted origin: it answers every connection with the same raw bytes.

The origin stub (kit/origin.py) speaks correct HTTP with chosen faults; this
one sends exactly the bytes a test gives it, however broken, which is what
the fault catalogue needs: a garbage status line, more bytes than
Content-Length said, a chunked body that never ends.

    with Scripted(b"HTTP/1.1 OK-ish\\r\\n\\r\\n", then="close") as o:
        ... o.port, o.wait_for_heads(1)

then: "close" (close after the bytes), "reset" (close with an RST),
"hold" (keep the connection open, sending nothing more, until close()), or
"close-on-next" (keep it open, and when the next request comes on it, send
the bytes `next` (none by default) and close: an origin that drops an idle
connection just as it is reused, or that fails mid-way through its second
response). `connections` counts the connections accepted. end_held() shuts
down the origin's side of the held connections, as an origin that ends idle
keep-alive connections does; wait_for_client_closes says when the client
has closed its side of them.
"""
import contextlib
import socket
import struct
import threading
import time


class Scripted:
    def __init__(self, reply, then="close", host="127.0.0.1", next=b""):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(64)
        self.host, self.port = host, self.sock.getsockname()[1]
        self.reply, self.then, self.next = reply, then, next
        self.heads, self.held = [], []
        self.connections = 0
        self.client_closes = 0          # connections end_held ended that the client then closed
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def authority(self):
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.changed:
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _read_head(self, conn):
        """Read one request head from conn and record it; b"" if it closed first."""
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = conn.recv(65536)
            if not chunk:
                break
            head += chunk
        with self.changed:
            if head:
                self.heads.append(head)
                self.changed.notify_all()
        return head

    def _serve(self, conn):
        try:
            conn.settimeout(10)
            self._read_head(conn)
            conn.sendall(self.reply)
            if self.then == "close-on-next":
                with self.changed:
                    self.held.append(conn)      # close() ends the wait for a next request
                if self._read_head(conn):
                    conn.sendall(self.next)
        except OSError:
            pass
        self._end(conn)

    def _end(self, conn):
        if self.then == "hold":
            with self.changed:
                self.held.append(conn)
                self.changed.notify_all()
            return
        if self.then == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()

    def end_held(self, n=1, timeout=10):
        """Once n connections are held (or the timeout passed), shut down our
        side of each, and count each that the client then closes (EOF)
        within its timeout."""
        with self.changed:
            self.changed.wait_for(lambda: len(self.held) >= n, timeout)
            held = list(self.held)
        for conn in held:
            conn.shutdown(socket.SHUT_WR)
            threading.Thread(target=self._count_close, args=(conn,), daemon=True).start()

    def _count_close(self, conn):
        try:
            while conn.recv(65536):
                pass
        except OSError:
            return                          # a timeout or an error: not a close seen
        with self.changed:
            self.client_closes += 1
            self.changed.notify_all()

    def wait_for_client_closes(self, n, timeout=10):
        """Whether, within timeout seconds, the client closed n of the
        connections end_held ended."""
        with self.changed:
            return self.changed.wait_for(lambda: self.client_closes >= n, timeout)

    def wait_for_heads(self, n, timeout=10):
        """The request heads received, once there are n (or the timeout passed)."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while len(self.heads) < n and time.monotonic() < deadline:
                self.changed.wait(deadline - time.monotonic())
            return list(self.heads)

    def close(self):
        self.sock.close()
        with self.changed:
            for conn in self.held:
                try:
                    conn.shutdown(socket.SHUT_RDWR)     # wakes a thread blocked reading it
                except OSError:
                    pass                                # closed already
                conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@contextlib.contextmanager
def never_reads(host="127.0.0.1"):
    """A loopback port whose origin never reads: it listens and never
    accepts, so the kernel completes each connection and fills its receive
    buffer, then takes nothing more. Yields the port."""
    with socket.socket() as s:
        s.bind((host, 0))
        s.listen(16)
        yield s.getsockname()[1]


def refused_port():
    """A loopback port with nothing listening on it (bound, then closed)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
