/* forward: a request goes upstream, its response comes back. See forward.h.
 *
 *   client                 proxy                     origin
 *   GET http://h:8/p HTTP/1.1  ->  GET /p HTTP/1.0 (from stage 8: HTTP/1.1)
 *   Host: h:8                      Host: h:8
 *   Proxy-Connection: keep-alive   (hop-by-hop: dropped)
 *   Accept: * / *                  Accept: * / *
 *                                  Connection: close (the reference: none)
 *                                  Via: 1.1 proxylab
 *                          <-  the response: before stage 8, byte for byte until the
 *                              origin closes; from stage 8, its head rewritten
 *                              (forward_send_head), to the end of its body (framing_relay) */
#include "forward.h"
#include "rio.h"
#include "sock.h"
#include "text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/uio.h>
#include <time.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

/* Fields of a request that concern one hop only, never passed on (RFC 9110
 * 7.6.1). Host is here too: the proxy writes its own, from the URL. Expect
 * goes on (the stages drop it and answer "100-continue" themselves): the
 * origin answers it, and upload() relays its answer. */
static const char *const dropped_fields[] = {
    "Host", "Connection", "Proxy-Connection", "Keep-Alive", "TE", "Trailer", "Upgrade",
    "Proxy-Authorization",
};
#define NDROPPED (sizeof dropped_fields / sizeof dropped_fields[0])

/* Whether list, a comma-separated field value such as Connection's, holds
 * name as one of its elements (without regard to case). */
static int list_has(struct http_str list, struct http_str name)
{
    struct http_str elem;

    while (http_next_element(&list, &elem))
        if (elem.len == name.len && strncasecmp(elem.p, name.p, name.len) == 0)
            return 1;
    return 0;
}

/* Fields no Connection option can remove: they frame and route the message
 * for every recipient (RFC 9110 7.6.1). Were Content-Length dropped, the
 * body would still be relayed, unframed, for the next hop to read as a
 * second request or response (docs/security.md). */
static const char *const end_to_end_fields[] = {"Content-Length", "Transfer-Encoding", "Host"};
#define NEND_TO_END (sizeof end_to_end_fields / sizeof end_to_end_fields[0])

/* Whether f's name is one of names[0..count). */
static int named(const struct http_field *f, const char *const *names, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (http_str_equal(f->name, names[i]))
            return 1;
    return 0;
}

/* Whether field f, of a message with fields[0..n), is one of names[0..count)
 * or named by one of the message's Connection fields (unless it is one of
 * end_to_end_fields). */
static int hop_by_hop(const char *const *names, size_t count, const struct http_field *fields,
                      size_t n, const struct http_field *f)
{
    if (named(f, names, count))
        return 1;
    if (named(f, end_to_end_fields, NEND_TO_END))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (http_str_equal(fields[i].name, "Connection") && list_has(fields[i].value, f->name))
            return 1;
    return 0;
}

/* The methods whose Max-Forwards counts proxies (RFC 9110 section 7.6.2);
 * another method's passes unchanged. */
static const char *const counted_methods[] = {"TRACE", "OPTIONS"};

/* Whether req is of one of counted_methods. */
static int hops_counted(const struct http_request *req)
{
    for (size_t i = 0; i < sizeof counted_methods / sizeof counted_methods[0]; i++)
        if (http_method_is(req, counted_methods[i]))
            return 1;
    return 0;
}

long forward_hops(const struct http_request *req)
{
    const struct http_field *f = NULL;
    long hops = 0;

    if (!hops_counted(req))
        return -1;
    for (size_t i = 0; i < req->nfields; i++)
        if (http_str_equal(req->fields[i].name, "Max-Forwards")) {
            if (f != NULL)
                return -1;      /* two lines: a list, not a number */
            f = &req->fields[i];
        }
    if (f == NULL || f->value.len == 0)
        return -1;
    for (size_t i = 0; i < f->value.len; i++) {
        int d = f->value.p[i] - '0';

        if (d < 0 || d > 9)
            return -1;
        hops = hops > (FORWARD_HOPS_MAX - d) / 10 ? FORWARD_HOPS_MAX : hops * 10 + d;
    }
    return hops;
}

/* Whether field f must not be passed upstream: a hop-by-hop field, or a
 * Max-Forwards that the proxy writes afresh (forward_hops). */
static int dropped(const struct http_request *req, const struct http_field *f)
{
    if (http_str_equal(f->name, "Max-Forwards") && hops_counted(req))
        return 1;
    return hop_by_hop(dropped_fields, NDROPPED, req->fields, req->nfields, f);
}

/* Whether req is "OPTIONS http://host[:port]": an absolute URL with no
 * path and no query, which asks about the server as a whole, and goes to
 * it as "OPTIONS *" (RFC 9112 section 3.2.4). The parser gives such a URL
 * the path "/", so the target itself tells: nothing after the authority
 * but, perhaps, a fragment. */
static int asks_server(const struct http_request *req)
{
    const char *p = req->host.p + req->host.len, *end = req->target.p + req->target.len;

    if (!http_method_is(req, "OPTIONS") || req->form != HTTP_FORM_ABSOLUTE || req->query.len)
        return 0;
    while (p < end && *p != '/' && *p != '#')
        p++;                    /* past "]" and ":port" */
    return p == end || *p == '#';
}

/* ==== stage 3 exercise: helpers 1 ==== */
/* Add to o the request line for req: origin form, or "*" for an OPTIONS
 * about the server itself. */
static void put_request_line(struct text *o, const struct http_request *req)
{
    if (asks_server(req))
        text_put(o, "OPTIONS * " FORWARD_VERSION "\r\n");
    else
        text_put(o, "%.*s %.*s%.*s " FORWARD_VERSION "\r\n", (int)req->method.len,
                 req->method.p, (int)req->path.len, req->path.p, (int)req->query.len,
                 req->query.p);
}

/* Add to o the fields the proxy writes itself at the end of req's head: a
 * Max-Forwards one less than req's, if it counts, FORWARD_CONNECTION, and
 * a Via that names the version the client spoke; then the empty line. */
static void put_own_fields(struct text *o, const struct http_request *req)
{
    long hops = forward_hops(req);

    if (hops > 0)
        text_put(o, "Max-Forwards: %ld\r\n", hops - 1);
    text_put(o, FORWARD_CONNECTION "Via: 1.%d %s\r\n\r\n", req->version % 10,
             FORWARD_VIA_NAME);
}
/* ==== end of stage 3 exercise: helpers 1 ==== */

int forward_build_request(const struct http_request *req, char *out, size_t size)
{
    /* ==== stage 3 exercise: forward_build_request ==== */
    struct text o = {out, 0, size};
    int v6 = memchr(req->host.p, ':', req->host.len) != NULL;

    put_request_line(&o, req);
    text_put(&o, "Host: %s%.*s%s", v6 ? "[" : "", (int)req->host.len, req->host.p, v6 ? "]" : "");
    if (req->port != 80)
        text_put(&o, ":%u", req->port);
    text_put(&o, "\r\n");
    for (size_t i = 0; i < req->nfields; i++)
        if (!dropped(req, &req->fields[i]))
            text_put(&o, "%.*s: %.*s\r\n", (int)req->fields[i].name.len, req->fields[i].name.p,
                (int)req->fields[i].value.len, req->fields[i].value.p);
    put_own_fields(&o, req);
    return text_fits(&o) ? (int)o.len : -1;
    /* ==== end of stage 3 exercise: forward_build_request ==== */
}

/* ==== stage 3 exercise: helpers 2 ==== */
/* What exchange and read_head return when the origin's connection turns
 * out to be closed before any of a response came: it took no request, or
 * answered none. over_fresh makes it 502 for the client. (A pooled
 * connection that the origin closed while it was idle fails just so: the
 * reference then sends the request again, on a new connection.) */
#define ORIGIN_GONE (-5)
/* ==== end of stage 3 exercise: helpers 2 ==== */

/* Fields of a response never passed to the client, besides those its
 * Connection fields name: they concern one hop only (RFC 9110 7.6.1). */
static const char *const response_hop_fields[] = {
    "Connection", "Proxy-Connection", "Keep-Alive", "TE", "Upgrade",
};
#define NRESPONSE_HOP (sizeof response_hop_fields / sizeof response_hop_fields[0])

/* The most lines forward_send_head's extra holds (a hit's has three). */
#define EXTRA_MAX 8

/* Put into names[0..EXTRA_MAX) the names of the fields that extra[0..len),
 * lines "Name: value\r\n", sets. Returns how many. Read once per head: a
 * response's every field is looked for among them. */
static size_t names_set(const char *extra, size_t len, struct http_str *names)
{
    struct http_field f;
    size_t n = 0;

    for (const char *at = extra; n < EXTRA_MAX && http_next_field(extra, len, &at, &f);)
        names[n++] = f.name;
    return n;
}

/* Whether name is one of names[0..n), without regard to case. */
static int sets(const struct http_str *names, size_t n, struct http_str name)
{
    for (size_t i = 0; i < n; i++)
        if (names[i].len == name.len && strncasecmp(names[i].p, name.p, name.len) == 0)
            return 1;
    return 0;
}

/* Write iov[0..n) whole to fd: like rio_writen, writev(2) may write less
 * than asked, and is then called again for the rest. Returns 0, or -1 with
 * errno set. iov is used up as it goes. */
static int writev_all(int fd, struct iovec *iov, int n)
{
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        for (; n > 0 && (size_t)w >= iov->iov_len; iov++, n--)
            w -= (ssize_t)iov->iov_len;     /* this piece went whole */
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

/* Add to o the fields an intermediary adds to a response (RFC 9110): Via,
 * with the version it came in, and Date (now) if resp has none. */
static void put_intermediary_fields(struct text *o, const struct http_response *resp)
{
    char date[40];
    time_t now = time(NULL);
    struct tm tm;
    int dated = 0;

    for (size_t i = 0; i < resp->nfields && !dated; i++)
        dated = http_str_equal(resp->fields[i].name, "Date");
    if (!dated && gmtime_r(&now, &tm) != NULL &&
        strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm) > 0)
        text_put(o, "Date: %s\r\n", date);
    text_put(o, "Via: 1.%d %s\r\n", resp->version % 10, FORWARD_VIA_NAME);
}

/* The head and the body go in one writev: two writes would be two system
 * calls and, for a small hit, two TCP segments where one does (see
 * docs/performance.md), and gathering them in one buffer would copy the
 * body. */
long forward_send_head(int fd, const struct http_response *resp, const char *extra,
                       int keep_alive, const char *body, size_t len)
{
    size_t n = strlen(extra), size = 160 + resp->reason.len + n;  /* 96: Via and Date */
    struct http_str names[EXTRA_MAX];
    struct text o;
    long sent = -1;

    for (size_t i = 0; i < resp->nfields; i++)  /* what the head can take, at most */
        size += resp->fields[i].name.len + resp->fields[i].value.len + 4;
    if ((o.buf = malloc(size)) == NULL)
        return -1;
    o.len = 0, o.size = size;
    n = names_set(extra, n, names);
    text_put(&o, "HTTP/1.1 %d %.*s\r\n", resp->status, (int)resp->reason.len,
             resp->reason.p);           /* its own version, not the origin's */
    for (size_t i = 0; i < resp->nfields; i++) {
        const struct http_field *f = &resp->fields[i];

        if (!hop_by_hop(response_hop_fields, NRESPONSE_HOP, resp->fields, resp->nfields, f) &&
            !sets(names, n, f->name))
            text_put(&o, "%.*s: %.*s\r\n", (int)f->name.len, f->name.p, (int)f->value.len,
                     f->value.p);
    }
    put_intermediary_fields(&o, resp);
    text_put(&o, "%sConnection: %s\r\n\r\n", extra, keep_alive ? "keep-alive" : "close");
    if (!text_fits(&o))
        errno = EMSGSIZE;       /* cannot happen: size counts every byte */
    else if (writev_all(fd, (struct iovec[]){{.iov_base = o.buf, .iov_len = o.len},
                                             {.iov_base = (char *)body, .iov_len = len}},
                        2) == 0)
        sent = (long)(o.len + len);
    free(o.buf);
    return sent;
}

/* ==== stage 3 exercise: helpers 3 ==== */
/* Where a request goes, and what goes with it. */
struct upstream {
    const char *host, *port;    /* the origin */
    const char *head;           /* the request head to send it */
    size_t len;
    struct cache_copy keep;     /* the response, kept for the cache (from stage 6) */
};

/* Note in e the numeric address of the origin fd is connected to. */
static void note_peer(struct log_entry *e, int fd)
{
    if (sock_peer_name(fd, e->peer, sizeof e->peer) < 0)
        e->peer[0] = '\0';
}

/* Note in ctx->log the response whose first bytes are buf[0..n): nothing
 * to note before stage 5, which writes the log. Returns n. */
static ssize_t note_response(struct rio *rio, char *buf, size_t n, size_t size,
                             struct forward_ctx *ctx)
{
    (void)rio, (void)buf, (void)size, (void)ctx;
    return (ssize_t)n;
}

/* Pass the response's bytes buf[0..n) on to clientfd: before stage 6,
 * which has the cache, only that. Returns the bytes sent, or -1. */
static long pass_on(struct upstream *u, int clientfd, const char *buf, size_t n, int first)
{
    (void)u, (void)first;
    return rio_writen(clientfd, buf, n);
}

/* Over fd, a connection to u's origin, send the request head, and relay
 * what comes back to clientfd until the origin closes: noted in ctx->log
 * (from stage 5), the first bytes with "X-Cache: MISS" and a copy kept in
 * u->keep (from stage 6). Returns the bytes relayed once the origin has
 * closed; -1 if the client went away, or the origin failed mid-response
 * (the client has part of it); ORIGIN_GONE if the origin took no head; or
 * -502 or -504 if nothing came from it. */
static long relay(int fd, struct upstream *u, int clientfd, struct forward_ctx *ctx)
{
    char buf[RIO_BUFSIZE];
    struct rio rio;
    long total = 0, sent;
    ssize_t n;

    if (rio_writen(fd, u->head, u->len) < 0)
        return ORIGIN_GONE;
    rio_init(&rio, fd);
    for (rio_set_deadline(&rio, ctx->timeout_ms); (n = rio_read(&rio, buf, sizeof buf)) > 0;
         rio_set_deadline(&rio, ctx->timeout_ms)) {
        if (total == 0)
            n = note_response(&rio, buf, (size_t)n, sizeof buf, ctx);
        if ((sent = pass_on(u, clientfd, buf, (size_t)n, total == 0)) < 0)
            return -1;
        total += sent;
        ctx->log->bytes = total;
    }
    if (total > 0)              /* what went wrong after the first byte, the client sees */
        return n == 0 ? total : -1;
    return n < 0 && errno == ETIMEDOUT ? -504 : -502;
}

/* Over fd, a connection to u's origin, send the request, and relay the
 * response until the origin closes (relay): the origin's address noted in
 * ctx->log (from stage 5), the response kept in the cache if it may (from
 * stage 6). Returns what relay returns. */
static long exchange(int fd, struct upstream *u, int clientfd,
                     const struct http_request *req, struct forward_ctx *ctx)
{
    long r;

    note_peer(ctx->log, fd);
    if ((r = relay(fd, u, clientfd, ctx)) > 0)
        cache_copy_store(&u->keep, req, ctx);
    return r;
}

/* Done with fd, u's origin connection: back into the pool if it may carry
 * another request, else closed. */
static void release(int fd, const struct upstream *u, struct forward_ctx *ctx)
{
    if (ctx->origin_keeps)
        pool_give(ctx->pool, u->host, u->port, fd);
    else
        close(fd);
}

/* Add to the request head[0..len), in a buffer of size bytes, the fields
 * that ask the origin whether ctx->stale is still good, before its empty
 * line. Without any (or room for them), ctx->stale becomes NULL: a 304
 * would not be about it. Returns the new length (len if it is -1). */
static int ask_if_changed(char *head, int len, size_t size, struct forward_ctx *ctx)
{
    char ask[1024];
    int n = ctx->stale != NULL && len > 0 ? cache_conditions(ctx->stale, ask, sizeof ask) : 0;

    if (n <= 0 || (size_t)len + (size_t)n >= size) {
        ctx->stale = NULL;
        return len;
    }
    memcpy(head + len - 2, ask, (size_t)n);         /* over the empty line, */
    memcpy(head + len - 2 + n, "\r\n", 3);          /* which goes after them */
    return len + n;
}

/* A new connection to u's origin, within timeout_ms. Returns its
 * descriptor, or the negated status for the client: -502, -503 or -504
 * (sock_connect_status). */
static int connect_origin(const struct upstream *u, int timeout_ms)
{
    int fd = sock_connect_timeout(u->host, u->port, timeout_ms);

    if (fd == -1)
        return sock_connect_status(errno);
    return fd < 0 ? -502 : fd;      /* -502 too: a name that does not resolve */
}

/* Connect to u's origin, and exchange the request for its response over
 * the new connection. Returns what exchange returns (ORIGIN_GONE as -502),
 * or connect_origin's failures. */
static long over_fresh(struct upstream *u, int clientfd, const struct http_request *req,
                       struct forward_ctx *ctx)
{
    int fd = connect_origin(u, ctx->timeout_ms);
    long r;

    if (fd < 0)
        return fd;
    sock_nodelay(fd);       /* a body written after the head goes at once (proxy.c) */
    r = exchange(fd, u, clientfd, req, ctx);
    release(fd, u, ctx);
    return r == ORIGIN_GONE ? -502 : r;     /* a new connection: nothing to retry */
}

/* Exchange the request for its response over a pooled connection to u's
 * origin if there is one, else over a fresh one. The origin may close a
 * pooled connection at any moment, even as the request goes out on it,
 * which shows as ORIGIN_GONE (no byte of a response): the request then
 * goes again, once, on a new connection. Only a request that may be sent
 * twice goes on a pooled connection: GET or HEAD without a body or
 * credentials (RFC 9110 9.2.2, idempotent methods). Returns what
 * over_fresh returns. */
static long over_pooled(struct upstream *u, int clientfd, const struct http_request *req,
                        struct forward_ctx *ctx)
{
    int replayable = ctx->body.kind == FRAMING_NONE &&
                     (http_method_is(req, "GET") || http_method_is(req, "HEAD")) &&
                     http_find_field(req, "Authorization") == NULL;
    int fd = replayable ? pool_take(ctx->pool, u->host, u->port) : -1;
    long r;

    ctx->origin_keeps = 0;
    if (fd < 0)
        return over_fresh(u, clientfd, req, ctx);
    if ((r = exchange(fd, u, clientfd, req, ctx)) == ORIGIN_GONE) {
        close(fd);              /* the client has had no byte of a response (but 1xx) */
        return over_fresh(u, clientfd, req, ctx);
    }
    release(fd, u, ctx);
    return r;
}
/* ==== end of stage 3 exercise: helpers 3 ==== */

int forward_request(int clientfd, const struct http_request *req, struct forward_ctx *ctx)
{
    /* ==== stage 3 exercise: forward_request ==== */
    char host[HTTP_MAX_LINE + 1], port[8], head[FORWARD_HEAD_SIZE];
    int len = forward_build_request(req, head, sizeof head);
    struct upstream u = {.host = host, .port = port, .head = head};
    long r;

    snprintf(host, sizeof host, "%.*s", (int)req->host.len, req->host.p);
    snprintf(port, sizeof port, "%u", req->port);
    u.keep = cache_copy_start(ctx->cache);
    len = ask_if_changed(head, len, sizeof head, ctx);
    u.len = len < 0 ? 0 : (size_t)len;
    r = len < 0 ? -502 : over_pooled(&u, clientfd, req, ctx);
    free(u.keep.p);
    return r < 0 ? (int)r : 0;
    /* ==== end of stage 3 exercise: forward_request ==== */
}
