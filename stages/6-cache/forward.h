/* forward: pass a client's request on to the origin server, and relay the
 * origin's response back, as a forward proxy does. */
#ifndef FORWARD_H
#define FORWARD_H

#include "http.h"
#include "log.h"
#include "cache.h"
#include "framing.h"
#include "rio.h"
#include "pool.h"

#include <stddef.h>

/* The version of the requests the proxy sends: from stage 8 HTTP/1.1, as a
 * request body may be chunked, and HTTP/1.0 has no chunks. */
#define FORWARD_VERSION "HTTP/1.0"

/* The Connection field of the requests the proxy sends. The stages' is
 * "close": a stage-8 starter's framing stubs read a response until the
 * origin closes, and earlier stages always do. The reference's is
 * none: it keeps the connection for the next request (pool.h). */
#define FORWARD_CONNECTION "Connection: close\r\n"

/* The size of a buffer that holds any request forward_build_request writes
 * for a head the parser accepted. */
#define FORWARD_HEAD_SIZE (HTTP_MAX_HEAD + 1024)

/* Write into out[0..size) the request to send the origin for req, as RFC
 * 9110 and RFC 9112 have it: the request line in origin form with
 * FORWARD_VERSION ("OPTIONS *" for an OPTIONS whose URL has no path and no
 * query: RFC 9112 section 3.2.4), a Host field built from the URL, the
 * client's fields in order minus Host and the hop-by-hop ones (Connection
 * and every field it names, Proxy-Connection, Keep-Alive, TE, Trailer,
 * Upgrade, Proxy-Authorization; Expect goes on, for the origin to answer),
 * for a TRACE or OPTIONS a Max-Forwards one less than forward_hops says,
 * or none (RFC 9110 section 7.6.2), then FORWARD_CONNECTION and a Via that
 * names the version the client spoke ("Via: 1.0 proxylab" for HTTP/1.0,
 * section 7.6.3), all NUL-terminated. Returns the length (without the NUL),
 * or -1 if size is too small for it and its NUL. Pure: no I/O, no
 * allocation, no errno. */
int forward_build_request(const struct http_request *req, char *out, size_t size);

/* The largest Max-Forwards the proxy reads: a larger one counts as this. */
#define FORWARD_HOPS_MAX 65535L

/* What req's Max-Forwards says (RFC 9110 section 7.6.2): how many more
 * proxies a TRACE or OPTIONS may pass, at most FORWARD_HOPS_MAX; or -1 when
 * nothing counts them: another method, no Max-Forwards, or one that is not
 * a single number (1*DIGIT), which is then dropped, as Squid drops it. */
long forward_hops(const struct http_request *req);

/* What forward_request needs besides the request, and what it reports.
 * Each field says the stage from which forward_request uses it: until
 * then, it is there and goes unused. */
struct forward_ctx {
    int timeout_ms;             /* how long the origin may keep us waiting */
    struct log_entry *log;      /* stage 5: filled in with status, bytes, peer, type */
    struct cache *cache;        /* stage 6: where to keep a response that may be kept,
                                   or NULL */
    const char *key;            /* stage 6: the request's cache key */
    long default_lifetime;      /* stage 6: seconds fresh, for a response that says
                                   nothing */
    struct rio *client;         /* stage 8: the client's connection, where the request's
                                   body comes from */
    struct framing body;        /* stage 8: how that body is delimited */
    int keep_alive;             /* stage 8, in: whether the client would keep its
                                   connection; out: whether it still may, after this
                                   response */
    struct pool *pool;          /* idle origin connections to reuse and give back, or
                                   NULL (only the reference's keeps any: FORWARD_CONNECTION) */
    int origin_keeps;           /* out: whether the origin's connection may carry another */
    struct cache *invalidate;   /* stage 8: for an unsafe method, where to drop the URLs a
                                   successful response's Location and Content-Location
                                   name, or NULL */
    struct cache_entry *stale;  /* stage 8: a stored response to revalidate, or NULL: the
                                   request asks the origin whether it is still good (NULL
                                   again if it has nothing to ask with) */
    struct cache_entry *refreshed;  /* stage 8, out: it, updated, if the origin said 304 (the
                                       client has been sent nothing: the caller sends it,
                                       then gives it back with cache_release), else NULL */
    int body_unread;            /* stage 8, out: whether the origin answered before the
                                   request's body ended: the client's connection closes,
                                   and lingers first */
};

/* Connect to req's origin (every address of its host, in turn), send it the
 * request, and relay its response to clientfd as it arrives, in constant
 * memory, until the origin closes. ctx->timeout_ms bounds each wait for the
 * origin, and from stage 5 ctx->log is filled in. Returns 0 once the
 * response is relayed; -1 if the client went away, or the origin failed
 * after the first byte (the client has part of the response: there is
 * nothing more to send it); or the negated status the client should get
 * instead, when it has been sent nothing yet: -502 if the origin cannot be
 * reached or closes without a byte, -504 if it does not answer in time.
 * From stage 6, the response goes to ctx->cache too if it may be stored,
 * and the client gets it with "X-Cache: MISS". From stage 8, the request's
 * body (ctx->body) goes from ctx->client to the origin first, and the
 * response is relayed only to its end, its head passed through
 * forward_send_head; -400 means the client's chunked body was malformed,
 * -408 that it stopped coming. With ctx->stale the request carries its
 * validators, and a 304 from the origin sets ctx->refreshed instead of
 * reaching the client. And no "100 Continue" of
 * its own is sent: the origin's is relayed, and the origin watched while
 * the body goes, as it may answer before its end (RFC 9112 section 9.5).
 * Such an early response reaches the client with "Connection: close", and
 * ctx->body_unread says so. */
int forward_request(int clientfd, const struct http_request *req, struct forward_ctx *ctx);

/* The name the proxy gives itself in the Via fields it adds. */
#define FORWARD_VIA_NAME "proxylab"

/* Send fd the head of resp, as the client should get it: its status line
 * with the proxy's own version (HTTP/1.1), its fields minus the hop-by-hop
 * ones (Connection and those it names, Keep-Alive, Proxy-Connection, TE,
 * Upgrade) and minus those extra sets, a Date if resp has none, "Via: 1.x
 * proxylab" (x: resp's version), the lines in extra ("Name: value\r\n"
 * each, 8 at most), "Connection: keep-alive" or "Connection: close", and
 * the empty line; then body[0..len) (len may be 0), in the same writev(2).
 * Returns the bytes sent, head and body, or -1 with errno set. */
long forward_send_head(int fd, const struct http_response *resp, const char *extra,
                       int keep_alive, const char *body, size_t len);

#endif
