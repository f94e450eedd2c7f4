"""The servers a benchmark run needs: the origin (nginx) and the proxies
(the reference, Squid, tinyproxy), each started from a config written into
the run's temp directory, on a loopback port the OS picks, and stopped by its
own process group (kit.proc.Program).

Nothing here touches the system's own configs, services, logs or pid files:
every daemon runs in the foreground as a child of the bench.
"""
import os
import pwd
import shutil

from kit.proc import Program, _group_pids, memory_kib

HOST = "127.0.0.1"
CACHE_MIB = 64          # every caching proxy gets this much memory for its cache
MAX_OBJECT_MIB = 1      # and keeps objects up to this size
MAX_CLIENTS = 4096      # enough for the idle case's 1,000 connections, and more


class Daemon(Program):
    """A Program whose config names its port: write_config(port) writes it
    just before each start (kit.proc picks the port, and picks again if the
    address is in use)."""

    def __init__(self, path, args, workdir, write_config, wrapper=()):
        super().__init__(path, args, workdir, wrapper=wrapper, startup_timeout=60)
        self.write_config = write_config

    def spawn(self, port):
        self.write_config(port)
        return super().spawn(port)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


# -- the origin ----------------------------------------------------------------

FILES = {"1k": 1024, "100k": 100 * 1024}
NGINX_CONF = """\
worker_processes auto;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections {conns}; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    scgi_temp_path {dir}/scgi;
    uwsgi_temp_path {dir}/uwsgi;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 300s;
    keepalive_requests 100000000;
    server {{
        listen {host}:{port};
        root {dir}/www;
        location /cache/   {{ add_header Cache-Control "max-age=3600"; }}
        location /nostore/ {{ add_header Cache-Control "no-store"; }}
    }}
}}
"""


def make_files(www, tunnel_bytes):
    """Fill www: /cache/1k, /cache/100k, /nostore/1k, /nostore/100k (random
    bytes, so no layer can compress them), and /big, the tunnel's transfer
    (sparse: its size costs no disk)."""
    for sub in ("cache", "nostore"):
        os.makedirs(os.path.join(www, sub), exist_ok=True)
        for name, size in FILES.items():
            with open(os.path.join(www, sub, name), "wb") as f:
                f.write(os.urandom(size))
    with open(os.path.join(www, "big"), "wb") as f:
        f.truncate(tunnel_bytes)


def origin(workdir, tunnel_bytes):
    """The nginx origin (and the ceiling, when the bench talks to it directly)."""
    d = os.path.join(workdir, "nginx")
    os.makedirs(d)
    make_files(os.path.join(d, "www"), tunnel_bytes)
    conf = os.path.join(d, "nginx.conf")
    return Daemon(shutil.which("nginx") or "/usr/sbin/nginx",
                  ["-p", d, "-c", conf, "-g", "daemon off;"], d,
                  lambda port: write(conf, NGINX_CONF.format(
                      dir=d, host=HOST, port=port, conns=MAX_CLIENTS)))


# -- the proxies ---------------------------------------------------------------

def reference(workdir, binary, origin_port, wrapper=()):
    """The reference, with its defaults but for the number of clients (the
    idle case holds 1,000) and the port CONNECT may reach (the origin's);
    under wrapper (a profiler), if given."""
    d = os.path.join(workdir, "reference")
    os.makedirs(d)
    return Daemon(binary, ["--log", os.path.join(d, "access.log"),
                           "--max-clients", str(MAX_CLIENTS),
                           "--cache-size", str(CACHE_MIB << 20),
                           "--max-object", str(MAX_OBJECT_MIB << 20),
                           "--connect-ports", str(origin_port), "{port}"],
                  d, lambda port: None, wrapper)


SQUID_CONF = """\
http_port {host}:{port}
pid_filename {dir}/squid.pid
cache_log {dir}/cache.log
access_log stdio:{dir}/access.log
coredump_dir {dir}
{user}
# A memory cache only: no cache_dir line, so nothing on disk.
cache_mem {cache_mib} MB
maximum_object_size_in_memory {max_object_mib} MB
memory_cache_shared off
workers 1
max_filedescriptors {fds}
http_access allow all
pinger_enable off
shutdown_lifetime 0 seconds
logfile_rotate 0
dns_defnames off
"""


def squid_user(d):
    """As root, Squid drops its privileges to cache_effective_user (proxy,
    on Debian), which must then write its logs and pid file: give it d.
    As anyone else it stays who it is."""
    if os.geteuid() != 0:
        return ""
    for name in ("proxy", "nobody"):
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            continue
        os.chown(d, pw.pw_uid, pw.pw_gid)
        return f"cache_effective_user {name}"
    return ""


def squid(workdir):
    d = os.path.join(workdir, "squid")
    os.makedirs(d)
    conf = os.path.join(d, "squid.conf")
    user = squid_user(d)
    return Daemon(shutil.which("squid") or "/usr/sbin/squid", ["-N", "-f", conf], d,
                  lambda port: write(conf, SQUID_CONF.format(
                      host=HOST, port=port, dir=d, user=user, cache_mib=CACHE_MIB,
                      max_object_mib=MAX_OBJECT_MIB, fds=MAX_CLIENTS * 2)))


TINYPROXY_CONF = """\
Port {port}
Listen {host}
Timeout 600
MaxClients {clients}
LogFile "{dir}/tinyproxy.log"
LogLevel Critical
PidFile "{dir}/tinyproxy.pid"
Allow 127.0.0.1
ConnectPort {origin_port}
"""


def tinyproxy(workdir, origin_port):
    """tinyproxy (no cache), in the foreground (-d). As root it stays root:
    no User line, and loopback only. It fsyncs its log after every line, and
    at LogLevel Connect writes three lines a request: that measured the disk,
    at a few hundred requests/s, so it logs only what is critical."""
    d = os.path.join(workdir, "tinyproxy")
    os.makedirs(d)
    conf = os.path.join(d, "tinyproxy.conf")
    return Daemon(shutil.which("tinyproxy") or "/usr/bin/tinyproxy", ["-d", "-c", conf], d,
                  lambda port: write(conf, TINYPROXY_CONF.format(
                      port=port, host=HOST, dir=d, clients=MAX_CLIENTS,
                      origin_port=origin_port)))


def installed(path_or_name):
    """Whether a peer's program is here."""
    return shutil.which(path_or_name) is not None or os.access(path_or_name, os.X_OK)


def rss_kib(program):
    """The resident memory of program's whole process group, in KiB (nginx
    has workers; Squid may have helpers)."""
    total = 0
    for pid in _group_pids(program.proc.pid):
        try:
            total += memory_kib(pid, "VmRSS")
        except OSError:
            pass
    return total
