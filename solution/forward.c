/* forward: a request goes upstream, its response comes back. See forward.h.
 *
 *   client                 proxy                     origin
 *   GET http://h:8/p HTTP/1.1  ->  GET /p HTTP/1.0
 *   Host: h:8                      Host: h:8
 *   Proxy-Connection: keep-alive   (hop-by-hop: dropped)
 *   Accept: * / *                  Accept: * / *
 *                                  Connection: close
 *                                  Via: 1.1 proxylab
 *                          <-  the response, byte for byte, until the origin closes */
#include "forward.h"
#include "rio.h"
#include "sock.h"
#include "text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Fields that concern one hop only, never passed on (RFC 9110 7.6.1). Host
 * is here too: the proxy writes its own, from the URL. */
static const char *const dropped_fields[] = {
    "Host", "Connection", "Proxy-Connection", "Keep-Alive", "TE", "Trailer", "Upgrade",
    "Proxy-Authorization",
};

/* Whether list, a comma-separated field value such as Connection's, holds
 * name as one of its elements (without regard to case). */
static int list_has(struct http_str list, struct http_str name)
{
    const char *p = list.p, *end = list.p + list.len;

    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p)), *e = comma ? comma : end;
        const char *s = p;

        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if ((size_t)(e - s) == name.len && strncasecmp(s, name.p, name.len) == 0)
            return 1;
        p = comma ? comma + 1 : end;
    }
    return 0;
}

/* Whether field f must not be passed upstream. */
static int dropped(const struct http_request *req, const struct http_field *f)
{
    for (size_t i = 0; i < sizeof dropped_fields / sizeof dropped_fields[0]; i++)
        if (http_str_equal(f->name, dropped_fields[i]))
            return 1;
    for (size_t i = 0; i < req->nfields; i++)
        if (http_str_equal(req->fields[i].name, "Connection") &&
            list_has(req->fields[i].value, f->name))
            return 1;
    return 0;
}

int forward_build_request(const struct http_request *req, char *out, size_t size)
{
#if STAGE > 3
    struct text o = {out, 0, size};
    int v6 = memchr(req->host.p, ':', req->host.len) != NULL;

    text_put(&o, "%.*s %.*s%.*s HTTP/1.0\r\n", (int)req->method.len, req->method.p,
        (int)req->path.len, req->path.p, (int)req->query.len, req->query.p);
    text_put(&o, "Host: %s%.*s%s", v6 ? "[" : "", (int)req->host.len, req->host.p, v6 ? "]" : "");
    if (req->port != 80)
        text_put(&o, ":%u", req->port);
    text_put(&o, "\r\n");
    for (size_t i = 0; i < req->nfields; i++)
        if (!dropped(req, &req->fields[i]))
            text_put(&o, "%.*s: %.*s\r\n", (int)req->fields[i].name.len, req->fields[i].name.p,
                (int)req->fields[i].value.len, req->fields[i].value.p);
    text_put(&o, "Connection: close\r\nVia: %s\r\n\r\n", FORWARD_VIA);
    return text_fits(&o) ? (int)o.len : -1;
#else
    /* TODO(stage 3): write the request the origin gets, into out.
     * text_put(&o, fmt, ...) appends with snprintf and keeps count, so you can
     * check once, at the end, that it all fitted (o.len < size).
     * 1. The request line in origin form: method, path, query, "HTTP/1.0".
     *    http_str fields are not NUL-terminated: print them with "%.*s".
     * 2. "Host: host" from the URL, with ":port" unless the port is 80, and
     *    an IPv6 host (it has a ':') back in its brackets: [::1]:8080.
     * 3. Every field of the client's, in order, unless dropped() says it
     *    is hop-by-hop (or Host, which you wrote already).
     * 4. "Connection: close", "Via: " FORWARD_VIA, and the empty line.
     * Return the length, or -1 if it did not fit. */
    (void)req;
    (void)out;
    (void)size;
    (void)dropped;
    return -1;
#endif
}

#if STAGE >= 5
/* Note in e the numeric address of the origin fd is connected to. */
static void note_peer(struct log_entry *e, int fd)
{
    if (sock_peer_name(fd, e->peer, sizeof e->peer) < 0)
        e->peer[0] = '\0';
}
#endif

#if STAGE >= 6
/* A copy of the response kept for the cache: p[0..len), of at most max
 * bytes; p is NULL once the response proved too big, or if none is kept. */
struct keep {
    char *p;
    size_t len, cap, max;
};

/* Add buf[0..n) to k, or give up keeping once it would pass k->max. */
static void keep_more(struct keep *k, const char *buf, size_t n)
{
    if (k->p != NULL && k->len + n > k->cap) {
        size_t cap = k->cap * 2 > k->len + n ? k->cap * 2 : k->len + n;
        char *p = k->len + n <= k->max ? realloc(k->p, cap < k->max ? cap : k->max) : NULL;
        if (p == NULL)
            free(k->p);
        k->p = p;
        k->cap = cap < k->max ? cap : k->max;
    }
    if (k->p != NULL) {
        memcpy(k->p + k->len, buf, n);
        k->len += n;
    }
}

/* Send the client a response's first bytes buf[0..n), with "X-Cache: MISS"
 * after the status line. Returns the bytes sent, or -1. */
static long send_first(int clientfd, const char *buf, size_t n)
{
    static const char mark[] = "X-Cache: MISS\r\n";
    const char *nl = memchr(buf, '\n', n);
    size_t line = nl ? (size_t)(nl + 1 - buf) : 0;

    if (line == 0 || memcmp(buf, "HTTP/", 5) != 0)
        return rio_writen(clientfd, buf, n) < 0 ? -1 : (long)n;
    if (rio_writen(clientfd, buf, line) < 0 || rio_writen(clientfd, mark, sizeof mark - 1) < 0 ||
        rio_writen(clientfd, buf + line, n - line) < 0)
        return -1;
    return (long)(n + sizeof mark - 1);
}
#endif

#if STAGE >= 5
/* Read on into buf[n..size) until its first line, the status line, is whole
 * (or size bytes, EOF or an error came): an origin may send it in pieces, and
 * the status, for the log, and X-Cache, after it, need it whole. Returns the
 * bytes now in buf. */
static ssize_t whole_first_line(struct rio *rio, char *buf, size_t n, size_t size,
                                int timeout_ms)
{
    while (memchr(buf, '\n', n) == NULL && n < size) {
        ssize_t more;

        rio_set_deadline(rio, timeout_ms);
        if ((more = rio_read(rio, buf + n, size - n)) <= 0)
            break;
        n += (size_t)more;
    }
    return (ssize_t)n;
}
#endif

#if STAGE > 3
/* Relay what comes from fd to clientfd until fd closes. Returns the bytes
 * relayed once the origin has closed, -1 if the client went away, -2 if the
 * origin failed mid-response, or -502 or -504 if nothing came from it. */
#if STAGE >= 6
static long relay(int fd, int clientfd, struct forward_ctx *ctx, struct keep *k)
#elif STAGE >= 5
static long relay(int fd, int clientfd, struct forward_ctx *ctx)
#else
static long relay(int fd, int clientfd, int timeout_ms)
#endif
{
    char buf[RIO_BUFSIZE];
    struct rio rio;
    long total = 0, sent;
    ssize_t n;
#if STAGE >= 5
    int timeout_ms = ctx->timeout_ms;
#endif

    rio_init(&rio, fd);
    for (;;) {
        rio_set_deadline(&rio, timeout_ms);
        n = rio_read(&rio, buf, sizeof buf);
        if (n <= 0)
            break;
#if STAGE >= 5
        if (total == 0) {
            n = whole_first_line(&rio, buf, (size_t)n, sizeof buf, timeout_ms);
            log_note_response(ctx->log, buf, (size_t)n);
        }
#endif
#if STAGE >= 6
        keep_more(k, buf, (size_t)n);
        sent = total == 0 ? send_first(clientfd, buf, (size_t)n)
                          : rio_writen(clientfd, buf, (size_t)n);
#else
        sent = rio_writen(clientfd, buf, (size_t)n);
#endif
        if (sent < 0)
            return -1;
        total += sent;
#if STAGE >= 5
        ctx->log->bytes = total;
#endif
    }
    if (total > 0)              /* what went wrong after the first byte, the client sees */
        return n == 0 ? total : -2;
    return n < 0 && errno == ETIMEDOUT ? -504 : -502;
}
#endif

#if STAGE >= 6
/* Keep the response in k in the cache, if it came whole and HTTP allows. */
static void store(const struct http_request *req, struct forward_ctx *ctx, struct keep *k)
{
    if (k->p != NULL && ctx->cache != NULL)
        cache_store_response(ctx->cache, ctx->key, req, k->p, k->len, ctx->default_lifetime);
}
#endif

#if STAGE >= 5
int forward_request(int clientfd, const struct http_request *req, struct forward_ctx *ctx)
#else
int forward_request(int clientfd, const struct http_request *req, int timeout_ms)
#endif
{
#if STAGE > 3
    char host[HTTP_MAX_LINE + 1], port[8], head[FORWARD_HEAD_SIZE];
    int fd = -1, len = forward_build_request(req, head, sizeof head);
    long r;
#if STAGE >= 6
    struct keep k = {NULL, 0, 0, ctx->cache ? cache_max_object(ctx->cache) : 0};

    if (ctx->cache != NULL)
        k.p = malloc(k.cap = k.max < 65536 ? k.max : 65536);
#endif

    snprintf(host, sizeof host, "%.*s", (int)req->host.len, req->host.p);
    snprintf(port, sizeof port, "%u", req->port);
#if STAGE >= 7
    if (len < 0 || (fd = sock_connect_timeout(host, port, ctx->timeout_ms)) < 0)
        r = fd == -1 && errno == ETIMEDOUT ? -504 : -502;
#else
    if (len < 0 || (fd = sock_connect(host, port)) < 0)
        r = -502;
#endif
    else {
#if STAGE >= 6
        note_peer(ctx->log, fd);
        r = rio_writen(fd, head, (size_t)len) < 0 ? -502 : relay(fd, clientfd, ctx, &k);
        if (r > 0)
            store(req, ctx, &k);
#elif STAGE >= 5
        note_peer(ctx->log, fd);
        r = rio_writen(fd, head, (size_t)len) < 0 ? -502 : relay(fd, clientfd, ctx);
#else
        r = rio_writen(fd, head, (size_t)len) < 0 ? -502 : relay(fd, clientfd, timeout_ms);
#endif
        close(fd);
    }
#if STAGE >= 6
    free(k.p);
#endif
    return r < -2 ? (int)r : r < 0 ? -1 : 0;
#else
    /* TODO(stage 3): send req to its origin and relay the answer.
     * (Until this is written, every request gets 501 Not Implemented: that
     * is this stub's -501, not proxy.c refusing the request.)
     * 1. forward_build_request() into a FORWARD_HEAD_SIZE buffer.
     * 2. sock_connect() to the host and port of the URL. Both are strings
     *    for it: copy the host out of req (it is not NUL-terminated) and
     *    print the port with snprintf. Cannot connect: return -502.
     * 3. rio_writen() the request to the origin; if that fails (or step 1
     *    did), the origin cannot be used: -502 as well.
     * 4. Relay: read what the origin sends (rio_read, with
     *    rio_set_deadline(&rio, timeout_ms) before each read) and
     *    rio_writen() it to clientfd, a buffer at a time, until the origin
     *    closes. Never gather the whole response: it may be 100 MiB. If the
     *    client has gone (rio_writen fails), stop and return -1. If nothing
     *    at all came from the origin, return -504 on ETIMEDOUT, else -502;
     *    if the origin fails after the first byte, return -1 too: the client
     *    has part of a response, and an error page cannot follow it.
     * 5. Close the origin's socket on every path, and return 0. */
    (void)clientfd;
    (void)req;
    (void)timeout_ms;
    return -501;
#endif
}
