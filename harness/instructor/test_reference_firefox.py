"""Proof in a real browser: headless Firefox (Debian firefox-esr), with a
fresh profile pointed at the proxy, loads a page with a stylesheet and
images, and an HTTPS page through CONNECT; the screenshot, the proxy's log and
the origins' records must agree that everything went through the proxy."""
import http.server
import os
import shutil
import subprocess
import threading

import pytest

from kit import png
from kit.expect import fail
from kit.tls import TLSOrigin, make_certs

PROGRAM = "proxy"
GREEN = (0, 160, 80)

PAGE = b"""<!DOCTYPE html>
<html><head><title>proxylab</title><link rel="stylesheet" href="/style.css"></head>
<body><h1>through the proxy</h1><img src="/red.png"><img src="/blue.png"></body></html>
"""
STYLE = b"body { background: rgb(0, 160, 80); margin: 0; } img { width: 50px; }"
FILES = {"/index.html": (PAGE, "text/html"), "/style.css": (STYLE, "text/css"),
         "/red.png": (png.solid(8, 8, (255, 0, 0)), "image/png"),
         "/blue.png": (png.solid(8, 8, (0, 0, 255)), "image/png")}

# Prefs for a quiet, proxied, cache-less profile (user.js).
PREFS = {
    "network.proxy.type": 1, "network.proxy.allow_hijacking_localhost": True,
    "browser.cache.disk.enable": False, "browser.cache.memory.enable": False,
    "app.update.auto": False, "app.update.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False, "extensions.update.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False, "toolkit.telemetry.enabled": False,
    "network.dns.disablePrefetch": True, "network.prefetch-next": False,
    "browser.startup.homepage_override.mstone": "ignore",
}


class Site(http.server.BaseHTTPRequestHandler):
    """Serves FILES, and records every path asked for."""
    seen = []

    def do_GET(self):
        Site.seen.append(self.path)
        body, kind = FILES.get(self.path, (b"not here", "text/plain"))
        self.send_response(200 if self.path in FILES else 404)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def site():
    Site.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def profile(directory, proxy_port):
    """A fresh Firefox profile in directory that uses the proxy."""
    os.makedirs(directory)
    prefs = dict(PREFS, **{"network.proxy.http": "127.0.0.1", "network.proxy.http_port": proxy_port,
                           "network.proxy.ssl": "127.0.0.1", "network.proxy.ssl_port": proxy_port})
    with open(os.path.join(directory, "user.js"), "w") as f:
        for name, value in prefs.items():
            v = "true" if value is True else "false" if value is False else \
                str(value) if isinstance(value, int) else f'"{value}"'
            f.write(f'user_pref("{name}", {v});\n')
    return directory


def firefox(profile_dir, url, shot, tmp_path):
    """Run headless Firefox on url, saving a screenshot; returns its output."""
    browser = shutil.which("firefox-esr") or shutil.which("firefox")
    if browser is None:
        fail("Firefox is not installed: apt-get install -y firefox-esr")
    env = dict(os.environ, HOME=str(tmp_path), MOZ_HEADLESS="1")
    r = subprocess.run([browser, "--headless", "--no-remote", "--profile", profile_dir,
                        "--screenshot", str(shot), "--window-size=800,600", url],
                       env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=120,
                       start_new_session=True)
    return r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")


def log_text(proxy):
    with open(os.path.join(proxy.workdir, "log.txt")) as f:
        return f.read()


def test_firefox_loads_a_page_and_its_parts(start_program, site, tmp_path):
    proxy = start_program(["{port}"])
    base = f"http://127.0.0.1:{site.server_address[1]}"
    shot = tmp_path / "shot.png"
    out = firefox(profile(str(tmp_path / "profile"), proxy.port), base + "/index.html", shot,
                  tmp_path)
    if not shot.exists():
        fail("Firefox made no screenshot", out[-500:])
    log = log_text(proxy)
    missing = [p for p in FILES if p not in Site.seen or f"GET {base}{p} " not in log]
    if missing:
        fail(f"{missing[0]} did not go through the proxy: the origin saw {Site.seen}",
             "the proxy's log:", *log.splitlines()[-10:])
    colour = png.pixel(shot.read_bytes(), 700, 500)
    if max(abs(a - b) for a, b in zip(colour, GREEN)) > 8:
        fail(f"the screenshot's background is {colour}, not the stylesheet's {GREEN}",
             "the stylesheet did not apply: did it come through whole?")


def test_firefox_https_through_connect(start_program, tmp_path):
    ca, cert, key = make_certs(tmp_path)
    with TLSOrigin(cert, key) as origin:
        proxy = start_program(["--connect-ports", str(origin.port), "{port}"])
        prof = profile(str(tmp_path / "profile"), proxy.port)
        subprocess.run(["certutil", "-A", "-n", "proxylab test CA", "-t", "C,,", "-i", ca,
                        "-d", f"sql:{prof}"], check=True, capture_output=True)
        shot = tmp_path / "shot.png"
        url = f"https://localhost:{origin.port}/text/300/firefox"
        out = firefox(prof, url, shot, tmp_path)
    log = log_text(proxy)
    if f"TCP_TUNNEL/200" not in log or f"CONNECT localhost:{origin.port} " not in log:
        fail(f"no TCP_TUNNEL/200 line for CONNECT localhost:{origin.port} in the log",
             *log.splitlines()[-10:], out[-300:])
    if not origin.served:
        fail("the HTTPS origin served nothing: did the TLS handshake go through the tunnel?",
             out[-300:])
