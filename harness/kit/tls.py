"""TLS for the tunnel tests: a throwaway CA and server certificate made with
openssl at test time, and a small HTTPS origin whose content is the origin
stub's (body_for), so a client can check every byte that came through a
CONNECT tunnel.
"""
import os
import socket
import ssl
import subprocess
import threading

from kit.origin import body_for

KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def make_certs(directory):
    """Write ca.pem, server.pem and server.key into directory; returns the
    paths (ca, cert, key). The server's names are localhost and 127.0.0.1."""
    d = str(directory)
    run = lambda *args: subprocess.run(["openssl", *args], cwd=d, check=True,  # noqa: E731
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    run("req", "-x509", *KEY, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=proxylab test CA")
    run("req", *KEY, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")
    return tuple(os.path.join(d, n) for n in ("ca.pem", "server.pem", "server.key"))


class TLSOrigin:
    """An HTTPS server on 127.0.0.1: GET PATH answers body_for(PATH), then
    closes. Use with `with`."""

    def __init__(self, cert, key):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.threads = []
        self.served = []        # the paths answered, in order
        self.accepter = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self):
        self.accepter.start()
        return self

    def __exit__(self, *exc):
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.accepter.join(5)
        for t in self.threads:
            t.join(5)

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(t)
            t.start()

    def _serve(self, conn):
        try:
            with self.ctx.wrap_socket(conn, server_side=True) as s:
                s.settimeout(10)
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = s.recv(4096)
                    if not chunk:
                        return
                    head += chunk
                path = head.split(b" ")[1].decode()
                body = body_for(path)
                self.served.append(path)
                s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                          % len(body) + body)
        except (OSError, ssl.SSLError, IndexError):
            pass
