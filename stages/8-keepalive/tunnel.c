/* tunnel: CONNECT tunnels. See tunnel.h for the contracts.
 *
 *   client --CONNECT h:443--> proxy --connect()--> h:443
 *   client <--200 Connection established--
 *   client <=======  bytes, both ways, with poll()  =======> h:443
 *
 * Each direction is relayed on its own: when one side stops sending (EOF),
 * the proxy shuts down writing to the other side, so that it sees EOF too,
 * and goes on relaying the direction that is still open. */
#if defined(__linux__)
#define _GNU_SOURCE             /* splice(2) and F_SETPIPE_SZ, Linux's own: see pump */
#endif
#include "tunnel.h"
#include "sock.h"

#include <errno.h>
#if defined(__linux__)
#include <fcntl.h>
#endif
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int tunnel_parse_ports(const char *list, struct tunnel_ports *p)
{
    const char *s = list;

    for (p->n = 0;; s++) {              /* an element, then ',' or the end */
        char *end;
        long port;

        errno = 0;
        port = strtol(s, &end, 10);
        if (errno != 0 || end == s || port < 1 || port > 65535 || p->n == TUNNEL_MAX_PORTS ||
            (*end != ',' && *end != '\0'))
            return -1;
        p->port[p->n++] = (unsigned)port;
        if (*end == '\0')
            return 0;
        s = end;
    }
}

/* ==== stage 7 exercise: helpers 1 ==== */
/* Whether port is in p. */
static int allowed_port(const struct tunnel_ports *p, unsigned port)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->port[i] == port)
            return 1;
    return 0;
}

/* One direction of a tunnel: from -> to. */
struct direction {
    int from, to;
    int open;                   /* still relaying */
};

/* The bytes a tunnel moves at a time. Each move costs a poll, a read and a
 * write: 16 KiB at a time, a bulk transfer spent its time in those calls,
 * and went at 40% of a direct transfer (docs/performance.md). On the heap:
 * a client thread's stack is 256 KiB. */
#define TUNNEL_BUFSIZE (256 * 1024)

/* d's sender has finished (EOF): pass that on to its receiver, which then
 * sees EOF too (half-close), and stop relaying this direction. */
static void half_close(struct direction *d)
{
    shutdown(d->to, SHUT_WR);
    d->open = 0;
}

/* What a tunnel moves its bytes through. */
struct mover {
    char *buf;                  /* TUNNEL_BUFSIZE bytes in this process */
#if defined(__linux__)
    int kernel[2];              /* or, when buf is NULL, a pipe in the kernel */
#endif
};

#if defined(__linux__)
/* Move what d->from has to d->to through the kernel pipe k with splice(2),
 * as pump does. The reference's tunnel went at 60-75% of a direct
 * transfer, spending its time copying each byte into its buffer and out
 * again; spliced, the bytes go from one socket to the other inside the
 * kernel (docs/performance.md). pump drains k before it returns, so both
 * directions share it. */
static ssize_t pump_spliced(struct direction *d, const int k[2])
{
    ssize_t n, m;

    do
        n = splice(d->from, NULL, k[1], NULL, TUNNEL_BUFSIZE, SPLICE_F_MOVE);
    while (n < 0 && errno == EINTR);
    if (n == 0)
        half_close(d);
    for (ssize_t left = n; left > 0; left -= m)
        if ((m = splice(k[0], NULL, d->to, NULL, (size_t)left, SPLICE_F_MOVE)) <= 0) {
            if (m < 0 && errno == EINTR)
                m = 0;
            else
                return -1;
        }
    return n;
}

/* Open k, a kernel pipe as big as a tunnel's buffer. Returns 0, or -1. */
static int kernel_pipe(int k[2])
{
    if (pipe(k) < 0)
        return -1;
    fcntl(k[1], F_SETPIPE_SZ, TUNNEL_BUFSIZE);  /* if refused, splice moves less at once */
    return 0;
}
#endif

/* Move what d->from has to d->to, through m. Returns the bytes moved, 0 at EOF
 * (d->to is then shut down for writing), or -1 on an error. */
static ssize_t pump(struct direction *d, const struct mover *m)
{
    char *buf = m->buf;
    ssize_t n;

#if defined(__linux__)
    if (buf == NULL)
        return pump_spliced(d, m->kernel);
#endif
    do
        n = read(d->from, buf, TUNNEL_BUFSIZE);
    while (n < 0 && errno == EINTR);
    if (n == 0)
        half_close(d);
    if (n > 0 && rio_writen(d->to, buf, (size_t)n) < 0)
        return -1;
    return n;
}
/* ==== end of stage 7 exercise: helpers 1 ==== */

/* ==== stage 7 exercise: helpers 2 ==== */
/* Relay both ways through m until both directions are done: as
 * tunnel_relay. */
static int relay_through(int client, int origin, int idle_ms, long long *to_client,
                         const struct mover *m)
{
    struct direction up = {client, origin, 1}, down = {origin, client, 1};

    while (up.open || down.open) {
        struct pollfd pfd[2] = {{up.open ? client : -1, POLLIN, 0},
                                {down.open ? origin : -1, POLLIN, 0}};
        int r = poll(pfd, 2, idle_ms);
        ssize_t n;

        if (r == 0 || (r < 0 && errno != EINTR))
            return -1;                  /* idle too long, or poll failed */
        if (r < 0)
            continue;
        if (pfd[0].revents && pump(&up, m) < 0)
            return -1;
        if (pfd[1].revents && (n = pump(&down, m)) < 0)
            return -1;
        else if (pfd[1].revents)
            *to_client += n;
    }
    return 0;
}
/* ==== end of stage 7 exercise: helpers 2 ==== */

int tunnel_relay(int client, int origin, int idle_ms, long long *to_client)
{
    /* ==== stage 7 exercise: tunnel_relay ==== */
    struct mover m = {.buf = NULL};
    int r;

#if defined(__linux__)
    if (kernel_pipe(m.kernel) == 0) {
        r = relay_through(client, origin, idle_ms, to_client, &m);
        close(m.kernel[0]);
        close(m.kernel[1]);
        return r;
    }
#endif
    m.buf = malloc(TUNNEL_BUFSIZE);     /* one for both ways: pump works one at a time */
    r = m.buf == NULL ? -1 : relay_through(client, origin, idle_ms, to_client, &m);
    free(m.buf);
    return r;
    /* ==== end of stage 7 exercise: tunnel_relay ==== */
}

/* ==== stage 7 exercise: helpers 3 ==== */
/* Send the origin what the client sent after its CONNECT head, already in rp. */
static int flush_early_bytes(struct rio *rp, int origin)
{
    char buf[RIO_BUFSIZE];
    size_t n = rp->cnt;

    if (n == 0)
        return 0;
    if (rio_readnb(rp, buf, n) != (ssize_t)n || rio_writen(origin, buf, n) != (ssize_t)n)
        return -1;
    return 0;
}
/* ==== end of stage 7 exercise: helpers 3 ==== */

int tunnel_serve(int connfd, struct rio *rp, const struct http_request *req,
                 const struct tunnel_ports *allowed, int idle_ms, struct log_entry *e)
{
    /* ==== stage 7 exercise: tunnel_serve ==== */
    static const char established[] = "HTTP/1.1 200 Connection established\r\n\r\n";
    char host[HTTP_MAX_LINE + 1], port[8];
    int fd;

    if (!allowed_port(allowed, req->port))
        return -403;
    snprintf(host, sizeof host, "%.*s", (int)req->host.len, req->host.p);
    snprintf(port, sizeof port, "%u", req->port);
    if ((fd = sock_connect_timeout(host, port, idle_ms)) < 0)
        return fd == -1 ? sock_connect_status(errno) : -502;
    if (sock_peer_name(fd, e->peer, sizeof e->peer) < 0)
        e->peer[0] = '\0';
    e->status = 200;
    if (rio_writen(connfd, established, sizeof established - 1) == sizeof established - 1) {
        e->bytes = sizeof established - 1;
        if (flush_early_bytes(rp, fd) == 0)
            tunnel_relay(connfd, fd, idle_ms, &e->bytes);
    }
    close(fd);
    return 0;
    /* ==== end of stage 7 exercise: tunnel_serve ==== */
}
