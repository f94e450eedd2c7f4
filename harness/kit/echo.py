"""A TCP echo origin, for CONNECT tunnels: the stage-7 tests and the soak
(harness/instructor/soak.py) tunnel to it.

    echo = Echo()               # or Echo(tail=b"...")
    ... CONNECT 127.0.0.1:{echo.port} ...
    echo.close()                # or: with Echo() as echo: ...
"""
import socket
import threading


class Echo:
    """A TCP server on 127.0.0.1, a thread per connection: it echoes what it
    receives; with tail, it sends back tail instead, after the client's EOF,
    then closes. close() stops it and waits for its threads."""

    def __init__(self, tail=None):
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=256)
        self.port, self.tail = self.sock.getsockname()[1], tail
        self.serving = set()            # the threads of the open connections
        self.lock = threading.Lock()
        self.accepter = threading.Thread(target=self._accept, daemon=True)
        self.accepter.start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            with self.lock:
                self.serving.add(t)
            t.start()

    def _serve(self, conn):
        with conn:
            try:
                while chunk := conn.recv(65536):
                    if self.tail is None:
                        conn.sendall(chunk)
                if self.tail is not None:
                    conn.sendall(self.tail)
            except OSError:
                pass
        with self.lock:
            self.serving.discard(threading.current_thread())

    def close(self):
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.accepter.join(10)
        with self.lock:
            serving = list(self.serving)
        for t in serving:
            t.join(10)
