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

#if STAGE > 3
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
#endif

int forward_build_request(const struct http_request *req, char *out, size_t size)
{
#if STAGE > 3
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
#else
    /* TODO(stage 3): write the request the origin gets, into out.
     * text_put(&o, fmt, ...) appends with snprintf and keeps count, so you can
     * check once, at the end, that it all fitted (o.len < size).
     * 1. The request line in origin form: method, path, query, and
     *    FORWARD_VERSION ("HTTP/1.0").
     *    http_str fields are not NUL-terminated: print them with "%.*s".
     *    But if asks_server(req), the line is "OPTIONS * " FORWARD_VERSION.
     * 2. "Host: host" from the URL, with ":port" unless the port is 80, and
     *    an IPv6 host (it has a ':') back in its brackets: [::1]:8080.
     * 3. Every field of the client's, in order, unless dropped() says it
     *    is hop-by-hop (or Host, which you wrote already).
     * 4. If forward_hops(req) > 0, "Max-Forwards: " one less (dropped()
     *    drops the client's). Then FORWARD_CONNECTION ("Connection:
     *    close\r\n"), "Via: 1.x " FORWARD_VIA_NAME, x the version the
     *    client spoke (req->version % 10), and the empty line.
     * Return the length, or -1 if it did not fit. */
    (void)req;
    (void)out;
    (void)size;
    (void)dropped;
    (void)asks_server;
    return -1;
#endif
}

#if STAGE > 3
/* What exchange and read_head return when the origin's connection turns
 * out to be closed before any of a response came: it took no request, or
 * answered none. over_fresh makes it 502 for the client. (A pooled
 * connection that the origin closed while it was idle fails just so: the
 * reference then sends the request again, on a new connection.) */
#define ORIGIN_GONE (-5)
#endif

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

#if STAGE >= 8
/* Read a response head from rio into buf[0..size), a line at a time (so
 * never past it), and parse it into resp. Returns its length, -504 if the
 * origin took longer than timeout_ms, ORIGIN_GONE if it closed (or reset)
 * before a byte of it, or -502 if it closed later or sent something else
 * than a head that fits. */
static int read_head(struct rio *rio, char *buf, size_t size, int timeout_ms,
                     struct http_response *resp)
{
    size_t len = 0;
    int r = HTTP_INCOMPLETE;

    rio_set_deadline(rio, timeout_ms);
    while (r == HTTP_INCOMPLETE) {
        ssize_t n = rio_readline(rio, buf + len, size - len);

        if (n == -1 && errno == ETIMEDOUT)
            return -504;
        if ((n == 0 || n == -1) && len == 0)
            return ORIGIN_GONE;     /* closed, or reset, before a byte */
        if (n <= 0)
            return -502;        /* closed mid-head, or a head too big */
        len += (size_t)n;
        if (n <= 2 && buf[len - 1] == '\n')
            r = http_parse_response(buf, len, resp);
    }
    return r;
}

/* Read the origin's final response head into buf, relaying any interim 1xx
 * responses before it (as they are) to clientfd if the client speaks
 * HTTP/1.1 (version 11): an HTTP/1.0 client knows none (RFC 9110 section
 * 15.2). Returns what read_head returns, -1 if the client has gone, or
 * -502 for a 101: the proxy asks no origin to switch protocols. */
static int read_final_head(struct rio *rio, int clientfd, int version, char *buf, size_t size,
                           int timeout_ms, struct http_response *resp)
{
    int n;

    while ((n = read_head(rio, buf, size, timeout_ms, resp)) > 0 && resp->status < 200) {
        if (resp->status == 101)
            return -502;
        if (version == 11 && rio_writen(clientfd, buf, (size_t)n) < 0)
            return -1;
    }
    return n;
}

/* The origin as a request's body goes to it: its connection, read through
 * rio (O_NONBLOCK meanwhile, so that a write never blocks the watch), and
 * what becomes of a response it sends before the body's end. */
struct watch {
    struct rio *rio;            /* the origin's connection */
    int clientfd, version;      /* where interim responses go, if version is 11 */
    int timeout_ms;             /* how long either side may keep the body waiting */
    char *head;                 /* where a response head goes: head[0..size) */
    size_t size;
    struct http_response *resp; /* ... parsed */
};

/* Read the head of the response the origin has begun to send. Returns 0
 * for an interim one (relayed as read_final_head relays it), the length of
 * a final one, or read_final_head's failures. */
static int next_head(const struct watch *w)
{
    int n = read_head(w->rio, w->head, w->size, w->timeout_ms, w->resp);

    if (n < 0 || w->resp->status >= 200)
        return n;
    if (w->resp->status == 101)
        return -502;
    return w->version == 11 && rio_writen(w->clientfd, w->head, (size_t)n) < 0 ? -1 : 0;
}

/* Wait until the origin has sent something (or closed, or failed), or, if
 * out, can take more; or until clientfd (unless -1) has something to read.
 * Returns 1 once the origin has, 0 once the other is ready, or -1 with
 * errno set (ETIMEDOUT after w->timeout_ms). */
static int await(const struct watch *w, int out, int clientfd)
{
    struct pollfd p[2] = {{.fd = w->rio->fd, .events = (short)(POLLIN | (out ? POLLOUT : 0))},
                          {.fd = clientfd, .events = POLLIN}};
    int r;

    if (w->rio->cnt > 0)
        return 1;               /* read with an interim head already */
    while ((r = poll(p, 2, w->timeout_ms)) < 0 && errno == EINTR)
        ;
    if (r == 0)
        errno = ETIMEDOUT;
    return r <= 0 ? -1 : (p[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0;
}

/* Write p[0..n) to the origin as it takes it, watching it meanwhile: the
 * interim responses it sends are relayed, and the writing goes on. Returns
 * 0 once all is written; the length of a final head it sent first, or that
 * can still be read once writing failed (it answered and closed: EPIPE,
 * ECONNRESET); -504 if it took nothing for the timeout; or next_head's
 * failures. */
static int send_piece(const struct watch *w, const char *p, size_t n)
{
    while (n > 0) {
        int spoke = await(w, 1, -1), r;
        ssize_t sent;

        if (spoke < 0)
            return errno == ETIMEDOUT ? -504 : -502;
        if (spoke && (r = next_head(w)) != 0)
            return r;
        if (spoke)
            continue;
        if ((sent = write(w->rio->fd, p, n)) < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
            errno != EINTR)
            return read_final_head(w->rio, w->clientfd, w->version, w->head, w->size,
                                   w->timeout_ms, w->resp);
        if (sent > 0)
            p += sent, n -= (size_t)sent;
    }
    return 0;
}

/* How many of p[0..n), the next bytes of a body framed as f, belong to it,
 * *left bytes still to come by length, c its chunks so far; -1 if they
 * break the chunked grammar. Sets *done once they end it. */
static ssize_t body_part(const struct framing *f, struct framing_chunks *c,
                         unsigned long long *left, const char *p, size_t n, int *done)
{
    ssize_t take;

    if (f->kind == FRAMING_CHUNKED) {
        take = framing_chunks_feed(c, p, n, NULL, NULL);
        *done = framing_chunks_done(c);
        return take;
    }
    take = *left < n ? (ssize_t)*left : (ssize_t)n;
    *left -= (unsigned long long)take;
    *done = *left == 0;
    return take;
}

/* Relay the request's body (ctx->body, from ctx->client) to the origin as
 * it comes, watching the origin meanwhile (RFC 9112 section 9.5): interim
 * responses are relayed to the client (the 100 Continue it may be waiting
 * for among them) and the body goes on; a final response ends it. Returns
 * 0 once the body is sent; the length of a final head that came first; -1
 * if the client went away, -408 if it was too slow, -400 if its chunks
 * were malformed; or send_piece's failures. */
static int upload(const struct watch *w, struct forward_ctx *ctx)
{
    struct framing_chunks c;
    unsigned long long left = ctx->body.length;
    int done = ctx->body.kind == FRAMING_LENGTH && left == 0, r = 0;

    framing_chunks_init(&c);
    while (!done && r == 0) {
        const char *p;
        ssize_t n, take;

        if (ctx->client->cnt == 0 && (r = await(w, 0, ctx->client->fd)) != 0) {
            if (r > 0)
                r = next_head(w);
            else
                r = errno == ETIMEDOUT ? -408 : -1;
            continue;
        }
        rio_set_deadline(ctx->client, w->timeout_ms);
        if ((n = rio_peek(ctx->client, &p)) <= 0)
            return n < 0 && errno == ETIMEDOUT ? -408 : -1;
        if ((take = body_part(&ctx->body, &c, &left, p, (size_t)n, &done)) < 0)
            return -400;
        if ((r = send_piece(w, p, (size_t)take)) == 0)
            rio_skip(ctx->client, (size_t)take);
    }
    return r;
}

/* Send the request's body, if it has one, to the origin (read through
 * rio) with upload(); then read the origin's final response head into
 * head[0..size) and resp (read_final_head), unless it came already. After
 * anything but the whole body, the client's connection closes, lingering
 * first (ctx->body_unread) if the origin answered early. Returns the
 * head's length, or what upload or read_final_head return on failure. */
static int send_body_read_head(struct rio *rio, int clientfd, const struct http_request *req,
                               struct forward_ctx *ctx, char *head, size_t size,
                               struct http_response *resp)
{
    struct watch w = {rio, clientfd, req->version, ctx->timeout_ms, head, size, resp};
    int flags, r = 0;

    if (ctx->body.kind != FRAMING_NONE) {
        if ((flags = fcntl(rio->fd, F_GETFL)) < 0 ||
            fcntl(rio->fd, F_SETFL, flags | O_NONBLOCK) < 0)
            return -502;
        r = upload(&w, ctx);
        if (fcntl(rio->fd, F_SETFL, flags) < 0 && r == 0)
            r = -502;           /* cannot happen: the same call worked before */
        ctx->keep_alive = ctx->keep_alive && r == 0;
        ctx->body_unread = r > 0;
    }
    return r != 0 ? r
                  : read_final_head(rio, clientfd, req->version, head, size, ctx->timeout_ms, resp);
}

/* Whether the origin means to keep its connection open after resp:
 * HTTP/1.1 without a Connection field that lists "close". (An HTTP/1.0
 * origin's keep-alive is not trusted: it is taken to close.) */
static int origin_keeps(const struct http_response *resp)
{
    static const struct http_str close_option = {"close", 5};

    for (size_t i = 0; i < resp->nfields; i++)
        if (http_str_equal(resp->fields[i].name, "Connection") &&
            list_has(resp->fields[i].value, close_option))
            return 0;
    return resp->version == 11 && resp->status != 101;
}

/* Whether the origin's connection may carry another request once resp,
 * framed by f and read through rio, has answered req: the response ended
 * by its framing, the origin did not say it would close, and it sent
 * nothing more. Never after a request with credentials: some schemes
 * (NTLM, Negotiate) authenticate the connection, not the request, and the
 * pool hands connections to any client. */
static int reusable(const struct framing *f, const struct http_response *resp,
                    const struct rio *rio, const struct http_request *req)
{
    return f->kind != FRAMING_CLOSE && origin_keeps(resp) && rio->cnt == 0 &&
           http_find_field(req, "Authorization") == NULL;
}

/* The origin's 304 head[0..len) says ctx->stale is still good: make
 * ctx->refreshed of it, for the caller to send. Returns 0, or -502 if
 * memory is short (the client has been sent nothing). */
static long refresh(const char *head, int len, struct forward_ctx *ctx)
{
    ctx->refreshed = cache_refresh(ctx->cache, ctx->stale, head, (size_t)len,
                                   ctx->default_lifetime);
    return ctx->refreshed != NULL ? 0 : -502;
}

/* The cache key of url (a Location or Content-Location value), into
 * key[size], if it names the same origin as the request whose key is own:
 * a path ("/x"), or "http://" and own's host and port, in any case.
 * Returns 0, or -1 for another origin, or a key that does not fit. */
static int same_origin_key(const char *own, struct http_str url, char *key, size_t size)
{
    size_t prefix = strcspn(own + 7, "/") + 7;      /* "http://host[:port]" */
    const char *path = url.p;
    size_t len = url.len;

    if (len >= prefix && strncasecmp(url.p, own, prefix) == 0 &&
        (len == prefix || url.p[prefix] == '/'))
        path += prefix, len -= prefix;
    else if (len == 0 || url.p[0] != '/')
        return -1;
    if (prefix + (len ? len : 1) >= size)
        return -1;
    snprintf(key, size, "%.*s%.*s", (int)prefix, own, len ? (int)len : 1, len ? path : "/");
    return 0;
}

/* After a successful response to an unsafe method, drop from
 * ctx->invalidate the URLs of the same origin that resp's Location and
 * Content-Location name (RFC 9111 section 4.4). */
static void invalidate_named(const struct forward_ctx *ctx, const struct http_response *resp)
{
    char key[CACHE_KEY_MAX];

    if (ctx->invalidate == NULL || resp->status < 200 || resp->status >= 400 ||
        strncmp(ctx->key, "http://", 7) != 0)
        return;
    for (size_t i = 0; i < resp->nfields; i++) {
        const struct http_field *f = &resp->fields[i];

        if ((http_str_equal(f->name, "Location") || http_str_equal(f->name, "Content-Location"))
            && same_origin_key(ctx->key, f->value, key, sizeof key) == 0)
            cache_remove(ctx->invalidate, key);
    }
}

/* What relaying a response body updates as it goes. */
struct response_tap {
    struct cache_copy *keep;
    struct log_entry *log;
};

static void tap_response(void *arg, const char *piece, size_t n)
{
    struct response_tap *t = arg;

    cache_copy_add(t->keep, piece, n);
    t->log->bytes += (long long)n;
}

/* Take the fields named name out of resp. */
static void drop_fields(struct http_response *resp, const char *name)
{
    size_t kept = 0;

    for (size_t i = 0; i < resp->nfields; i++)
        if (!http_str_equal(resp->fields[i].name, name))
            resp->fields[kept++] = resp->fields[i];
    resp->nfields = kept;
}

/* Relay a chunked body from from to to decoded, for an HTTP/1.0 client,
 * which knows no chunks (RFC 9112 section 6.1): the close ends it. Gives
 * tap what it sends. Returns as framing_relay. */
static long long relay_dechunked(struct rio *from, int to, int timeout_ms,
                                 const struct framing_tap *tap)
{
    struct framing_chunks c;
    char out[RIO_BUFSIZE];
    long long total = 0;

    framing_chunks_init(&c);
    while (!framing_chunks_done(&c)) {
        const char *p;
        size_t outn = 0;
        ssize_t n, took;

        rio_set_deadline(from, timeout_ms);
        if ((n = rio_peek(from, &p)) <= 0)
            return FRAMING_CUT_SHORT;
        n = n < (ssize_t)sizeof out ? n : (ssize_t)sizeof out;  /* data never grows */
        if ((took = framing_chunks_feed(&c, p, (size_t)n, out, &outn)) < 0)
            return FRAMING_MALFORMED;
        if (outn > 0 && rio_writen(to, out, outn) < 0)
            return FRAMING_SINK_FAILED;
        tap->fn(tap->arg, out, outn);
        rio_skip(from, (size_t)took);
        total += (long long)outn;
    }
    return total;
}

/* Send the request's body, if any, to the origin (send_body_read_head: the
 * origin may answer before its end), and relay the origin's response from fd to
 * clientfd: its head rewritten by forward_send_head, then its body, to the
 * body's end (decoded, for an HTTP/1.0 client, if it is chunked). Returns
 * the bytes sent; -1 if the client went away, or the origin failed once it
 * had the head; or, if the client has been sent nothing (but
 * perhaps interim 1xx responses), ORIGIN_GONE, -502 or -504, or -400 or
 * -408 for a body that was malformed or stopped coming. */
static long relay_response(int fd, int clientfd, const struct http_request *req,
                           struct forward_ctx *ctx, struct cache_copy *k)
{
    char head[FORWARD_RESPONSE_HEAD_MAX];
    struct http_response resp;
    struct framing f;
    struct rio rio;
    struct response_tap t = {k, ctx->log};
    struct framing_tap tap = {tap_response, &t};
    long long body;
    int n, dechunk;

    rio_init(&rio, fd);
    if ((n = send_body_read_head(&rio, clientfd, req, ctx, head, sizeof head, &resp)) < 0)
        return n;
    if (framing_response(&resp, http_method_is(req, "HEAD"), &f) < 0)
        return -502;            /* framing we cannot trust: nothing of it goes on */
    if (ctx->stale != NULL && resp.status == 304) {
        ctx->origin_keeps = reusable(&f, &resp, &rio, req);     /* a 304 has no body */
        return refresh(head, n, ctx);
    }
    log_note_response(ctx->log, head, (size_t)n);
    cache_copy_add(k, head, (size_t)n);
    if ((dechunk = f.kind == FRAMING_CHUNKED && req->version == 10))
        drop_fields(&resp, "Transfer-Encoding");
    ctx->keep_alive = ctx->keep_alive && f.kind != FRAMING_CLOSE && !dechunk;
    if ((ctx->log->bytes = forward_send_head(clientfd, &resp, "X-Cache: MISS\r\n",
                                             ctx->keep_alive, NULL, 0)) < 0)
        return -1;
    body = dechunk ? relay_dechunked(&rio, clientfd, ctx->timeout_ms, &tap)
                   : framing_relay(&rio, clientfd, &f, ctx->timeout_ms, &tap);
    if (body < 0) {
        ctx->keep_alive = 0;    /* the client has part of a response */
        return -1;
    }
    invalidate_named(ctx, &resp);
    ctx->origin_keeps = reusable(&f, &resp, &rio, req) && !ctx->body_unread;
    return (long)(ctx->log->bytes);
}

#endif

#if STAGE > 3
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

#if STAGE >= 8
/* Over fd, a connection to u's origin, send the request head, and relay
 * the response (keeping it in the cache if it may): relay_response sends
 * the body first, if any. Returns ORIGIN_GONE if the origin cannot take
 * the head, or what relay_response returns. */
static long exchange(int fd, struct upstream *u, int clientfd,
                     const struct http_request *req, struct forward_ctx *ctx)
{
    long r;

    note_peer(ctx->log, fd);
    if (rio_writen(fd, u->head, u->len) < 0)
        return ORIGIN_GONE;
    if ((r = relay_response(fd, clientfd, req, ctx, &u->keep)) > 0)
        cache_copy_store(&u->keep, req, ctx);
    return r;
}
#else
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

/* Note in ctx->log the response whose first bytes buf[0..n) came through
 * rio, in a buffer of size bytes: read on until its status line is whole
 * (whole_first_line), then log_note_response. Returns the bytes now in buf. */
static ssize_t note_response(struct rio *rio, char *buf, size_t n, size_t size,
                             struct forward_ctx *ctx)
{
    ssize_t got = whole_first_line(rio, buf, n, size, ctx->timeout_ms);

    log_note_response(ctx->log, buf, (size_t)got);
    return got;
}
#else
/* Note in ctx->log the response whose first bytes are buf[0..n): nothing
 * to note before stage 5, which writes the log. Returns n. */
static ssize_t note_response(struct rio *rio, char *buf, size_t n, size_t size,
                             struct forward_ctx *ctx)
{
    (void)rio, (void)buf, (void)size, (void)ctx;
    return (ssize_t)n;
}
#endif

#if STAGE >= 6
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

/* Pass the response's bytes buf[0..n) on to clientfd, a copy kept in
 * u->keep for the cache, and the first ones (first) with "X-Cache: MISS".
 * Returns the bytes sent, or -1. */
static long pass_on(struct upstream *u, int clientfd, const char *buf, size_t n, int first)
{
    cache_copy_add(&u->keep, buf, n);
    return first ? send_first(clientfd, buf, n) : rio_writen(clientfd, buf, n);
}
#else
/* Pass the response's bytes buf[0..n) on to clientfd: before stage 6,
 * which has the cache, only that. Returns the bytes sent, or -1. */
static long pass_on(struct upstream *u, int clientfd, const char *buf, size_t n, int first)
{
    (void)u, (void)first;
    return rio_writen(clientfd, buf, n);
}
#endif

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
#endif

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
#endif

int forward_request(int clientfd, const struct http_request *req, struct forward_ctx *ctx)
{
#if STAGE > 3
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
     *    rio_set_deadline(&rio, ctx->timeout_ms) before each read) and
     *    rio_writen() it to clientfd, a buffer at a time, until the origin
     *    closes. Never gather the whole response: it may be 100 MiB. If the
     *    client has gone (rio_writen fails), stop and return -1. If nothing
     *    at all came from the origin, return -504 on ETIMEDOUT, else -502;
     *    if the origin fails after the first byte, return -1 too: the client
     *    has part of a response, and an error page cannot follow it.
     * 5. Close the origin's socket on every path, and return 0. */
    (void)clientfd;
    (void)req;
    (void)ctx;
    return -501;
#endif
}
