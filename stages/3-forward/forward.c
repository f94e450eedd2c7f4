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
/* ==== end of stage 3 exercise: helpers 1 ==== */

int forward_build_request(const struct http_request *req, char *out, size_t size)
{
    /* ==== stage 3 exercise: forward_build_request ==== */
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
    /* ==== end of stage 3 exercise: forward_build_request ==== */
}

/* ==== stage 3 exercise: helpers 2 ==== */
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
/* ==== end of stage 3 exercise: helpers 3 ==== */

int forward_request(int clientfd, const struct http_request *req, struct forward_ctx *ctx)
{
    /* ==== stage 3 exercise: forward_request ==== */
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
    /* ==== end of stage 3 exercise: forward_request ==== */
}
