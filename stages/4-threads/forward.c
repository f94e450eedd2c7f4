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

/* Fields of a request that concern one hop only, never passed on (RFC 9110
 * 7.6.1). Host is here too: the proxy writes its own, from the URL. So is
 * Expect: from stage 8 the proxy answers "100-continue" itself. */
static const char *const dropped_fields[] = {
    "Host", "Connection", "Proxy-Connection", "Keep-Alive", "TE", "Trailer", "Upgrade",
    "Proxy-Authorization", "Expect",
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

/* Whether field f must not be passed upstream. */
static int dropped(const struct http_request *req, const struct http_field *f)
{
    return hop_by_hop(dropped_fields, NDROPPED, req->fields, req->nfields, f);
}

int forward_build_request(const struct http_request *req, char *out, size_t size)
{
    /* ==== stage 3 exercise: forward_build_request ==== */
    struct text o = {out, 0, size};
    int v6 = memchr(req->host.p, ':', req->host.len) != NULL;

    text_put(&o, "%.*s %.*s%.*s " FORWARD_VERSION "\r\n", (int)req->method.len, req->method.p,
        (int)req->path.len, req->path.p, (int)req->query.len, req->query.p);
    text_put(&o, "Host: %s%.*s%s", v6 ? "[" : "", (int)req->host.len, req->host.p, v6 ? "]" : "");
    if (req->port != 80)
        text_put(&o, ":%u", req->port);
    text_put(&o, "\r\n");
    for (size_t i = 0; i < req->nfields; i++)
        if (!dropped(req, &req->fields[i]))
            text_put(&o, "%.*s: %.*s\r\n", (int)req->fields[i].name.len, req->fields[i].name.p,
                (int)req->fields[i].value.len, req->fields[i].value.p);
    text_put(&o, FORWARD_CONNECTION "Via: %s\r\n\r\n", FORWARD_VIA);
    return text_fits(&o) ? (int)o.len : -1;
    /* ==== end of stage 3 exercise: forward_build_request ==== */
}

/* ==== stage 3 exercise: helpers 1 ==== */
/* Relay what comes from fd to clientfd until fd closes. Returns the bytes
 * relayed once the origin has closed; -1 if the client went away, or the
 * origin failed mid-response (the client has part of it); or -502 or -504
 * if nothing came from the origin. */
static long relay(int fd, int clientfd, int timeout_ms)
{
    char buf[RIO_BUFSIZE];
    struct rio rio;
    long total = 0, sent;
    ssize_t n;

    rio_init(&rio, fd);
    for (;;) {
        rio_set_deadline(&rio, timeout_ms);
        n = rio_read(&rio, buf, sizeof buf);
        if (n <= 0)
            break;
        sent = rio_writen(clientfd, buf, (size_t)n);
        if (sent < 0)
            return -1;
        total += sent;
    }
    if (total > 0)              /* what went wrong after the first byte, the client sees */
        return n == 0 ? total : -1;
    return n < 0 && errno == ETIMEDOUT ? -504 : -502;
}
/* ==== end of stage 3 exercise: helpers 1 ==== */

int forward_request(int clientfd, const struct http_request *req, int timeout_ms)
{
    /* ==== stage 3 exercise: forward_request ==== */
    char host[HTTP_MAX_LINE + 1], port[8], head[FORWARD_HEAD_SIZE];
    int len = forward_build_request(req, head, sizeof head);
    long r;
    int fd = -1;

    snprintf(host, sizeof host, "%.*s", (int)req->host.len, req->host.p);
    snprintf(port, sizeof port, "%u", req->port);
    if (len < 0 || (fd = sock_connect(host, port)) < 0)
        r = -502;
    else {
        r = rio_writen(fd, head, (size_t)len) < 0 ? -502 : relay(fd, clientfd, timeout_ms);
        close(fd);
    }
    return r < 0 ? (int)r : 0;
    /* ==== end of stage 3 exercise: forward_request ==== */
}
