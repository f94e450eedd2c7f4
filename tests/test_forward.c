/* Unit tests of forward_build_request: what the origin gets for a client's
 * request. A table of client heads and the exact bytes that must go upstream. */
#include "forward.h"
#include "unit.h"

#include <string.h>

/* Via names the version the client spoke (RFC 9110 7.6.3). */
#define END FORWARD_CONNECTION "Via: 1.1 " FORWARD_VIA_NAME "\r\n\r\n"
#define END_10 FORWARD_CONNECTION "Via: 1.0 " FORWARD_VIA_NAME "\r\n\r\n"

struct build_case {
    const char *what;
    const char *client;         /* the client's request head */
    const char *upstream;       /* what must go to the origin */
};

static const struct build_case build_cases[] = {
    {"curl through a proxy",
     "GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/7.88.1\r\n"
     "Accept: */*\r\nProxy-Connection: Keep-Alive\r\n\r\n",
     "GET / " FORWARD_VERSION "\r\nHost: example.com\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n" END},
    {"a port that is not 80",
     "GET http://example.com:8080/a HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
     "GET /a " FORWARD_VERSION "\r\nHost: example.com:8080\r\n" END},
    {"port 80 written out", "GET http://example.com:80/ HTTP/1.1\r\nHost: example.com\r\n\r\n",
     "GET / " FORWARD_VERSION "\r\nHost: example.com\r\n" END},
    {"an IPv6 host keeps its brackets",
     "GET http://[::1]:8080/x HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
     "GET /x " FORWARD_VERSION "\r\nHost: [::1]:8080\r\n" END},
    {"the query is kept, the fragment dropped",
     "GET http://h/a/b?c=d&e#frag HTTP/1.1\r\nHost: h\r\n\r\n",
     "GET /a/b?c=d&e " FORWARD_VERSION "\r\nHost: h\r\n" END},
    {"no path becomes /", "GET http://h?q HTTP/1.1\r\nHost: h\r\n\r\n",
     "GET /?q " FORWARD_VERSION "\r\nHost: h\r\n" END},
    {"the client's Host is replaced by the URL's",
     "GET http://real.example/ HTTP/1.1\r\nHost: other.example\r\nAccept: x\r\n\r\n",
     "GET / " FORWARD_VERSION "\r\nHost: real.example\r\nAccept: x\r\n" END},
    {"HTTP/1.0 without Host", "GET http://h/ HTTP/1.0\r\nAccept: x\r\n\r\n",
     "GET / " FORWARD_VERSION "\r\nHost: h\r\nAccept: x\r\n" END_10},
    {"HEAD", "HEAD http://h/r HTTP/1.1\r\nHost: h\r\n\r\n", "HEAD /r " FORWARD_VERSION "\r\nHost: h\r\n" END},
    {"every hop-by-hop field goes",
     "GET http://h/ HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\nKeep-Alive: 300\r\n"
     "TE: trailers\r\nTrailer: X\r\nUpgrade: h2c\r\nProxy-Authorization: Basic eDp5\r\n"
     "Proxy-Connection: keep-alive\r\nAccept: a\r\n\r\n",
     "GET / " FORWARD_VERSION "\r\nHost: h\r\nAccept: a\r\n" END},
    {"hop-by-hop names in any case",
     "GET http://h/ HTTP/1.1\r\nhost: h\r\nproxy-connection: keep-alive\r\nKEEP-ALIVE: 1\r\n"
     "connection: close\r\nX-Kept: 1\r\n\r\n",
     "GET / " FORWARD_VERSION "\r\nHost: h\r\nX-Kept: 1\r\n" END},
    {"fields that Connection names go too",
     "GET http://h/ HTTP/1.1\r\nHost: h\r\nConnection: x-a , X-B,keep-alive\r\nX-A: 1\r\n"
     "x-b: 2\r\nX-C: 3\r\nX-AB: 4\r\n\r\n",
     "GET / " FORWARD_VERSION "\r\nHost: h\r\nX-C: 3\r\nX-AB: 4\r\n" END},
    {"Connection never removes Content-Length or Host",
     "PUT http://h/ HTTP/1.1\r\nHost: h\r\nConnection: Content-Length, host, X-A\r\n"
     "Content-Length: 5\r\nX-A: 1\r\n\r\n",
     "PUT / " FORWARD_VERSION "\r\nHost: h\r\nContent-Length: 5\r\n" END},
    {"Connection never removes Transfer-Encoding",
     "POST http://h/ HTTP/1.1\r\nHost: h\r\nConnection: transfer-encoding\r\n"
     "Transfer-Encoding: chunked\r\n\r\n",
     "POST / " FORWARD_VERSION "\r\nHost: h\r\nTransfer-Encoding: chunked\r\n" END},
    {"other fields pass in order, repeats and all",
     "GET http://h/ HTTP/1.1\r\nB: 2\r\nHost: h\r\nA: 1\r\nB: 3\r\nCookie: a=b; c=d\r\n\r\n",
     "GET / " FORWARD_VERSION "\r\nHost: h\r\nB: 2\r\nA: 1\r\nB: 3\r\nCookie: a=b; c=d\r\n" END},
    {"the client's Via stays, ours follows",
     "GET http://h/ HTTP/1.1\r\nHost: h\r\nVia: 1.0 fred\r\n\r\n",
     "GET / " FORWARD_VERSION "\r\nHost: h\r\nVia: 1.0 fred\r\n" END},
    {"a value keeps its inner spaces",
     "GET http://h/ HTTP/1.1\r\nHost: h\r\nUser-Agent:   Mozilla/5.0 (X11; Linux)  \r\n\r\n",
     "GET / " FORWARD_VERSION "\r\nHost: h\r\nUser-Agent: Mozilla/5.0 (X11; Linux)\r\n" END},
    /* TRACE and OPTIONS (RFC 9110 7.6.2, RFC 9112 3.2.4). */
    {"Max-Forwards of a TRACE goes down by one",
     "TRACE http://h/ HTTP/1.1\r\nHost: h\r\nMax-Forwards: 3\r\nA: 1\r\n\r\n",
     "TRACE / " FORWARD_VERSION "\r\nHost: h\r\nA: 1\r\nMax-Forwards: 2\r\n" END},
    {"Max-Forwards past the largest counts as it",
     "OPTIONS http://h/ HTTP/1.1\r\nHost: h\r\nMax-Forwards: 99999999999999999999\r\n\r\n",
     "OPTIONS / " FORWARD_VERSION "\r\nHost: h\r\nMax-Forwards: 65534\r\n" END},
    {"a Max-Forwards that is no number is dropped",
     "OPTIONS http://h/ HTTP/1.1\r\nHost: h\r\nMax-Forwards: 3x\r\n\r\n",
     "OPTIONS / " FORWARD_VERSION "\r\nHost: h\r\n" END},
    {"two Max-Forwards lines are dropped",
     "TRACE http://h/ HTTP/1.1\r\nHost: h\r\nMax-Forwards: 3\r\nMax-Forwards: 3\r\n\r\n",
     "TRACE / " FORWARD_VERSION "\r\nHost: h\r\n" END},
    {"another method's Max-Forwards passes unchanged",
     "GET http://h/ HTTP/1.1\r\nHost: h\r\nMax-Forwards: 0\r\n\r\n",
     "GET / " FORWARD_VERSION "\r\nHost: h\r\nMax-Forwards: 0\r\n" END},
    {"OPTIONS about the server is OPTIONS *",
     "OPTIONS http://[::1]:8080 HTTP/1.1\r\nHost: x\r\n\r\n",
     "OPTIONS * " FORWARD_VERSION "\r\nHost: [::1]:8080\r\n" END},
    {"OPTIONS with a path, or a query, is not",
     "OPTIONS http://h?q HTTP/1.1\r\nHost: h\r\n\r\n",
     "OPTIONS /?q " FORWARD_VERSION "\r\nHost: h\r\n" END},
};

static void check_build(const struct build_case *c)
{
    static char out[FORWARD_HEAD_SIZE];
    struct http_request req;
    int n = http_parse_request(c->client, strlen(c->client), &req), len;

    EXPECT(n > 0, "%s: the parser refused the client's request (%d)", c->what, n);
    if (n <= 0)
        return;
    len = forward_build_request(&req, out, sizeof out);
    EXPECT(len == (int)strlen(c->upstream) && memcmp(out, c->upstream, strlen(c->upstream)) == 0,
           "%s: forward_build_request returned %d:\n%.*s\nexpected %zu:\n%s", c->what, len,
           len > 0 ? len : 0, out, strlen(c->upstream), c->upstream);
}

static void test_build_table(void)
{
    for (size_t i = 0; i < sizeof build_cases / sizeof build_cases[0]; i++) {
        unit_row();             /* scored by row: each is a rule of the rewrite */
        check_build(&build_cases[i]);
    }
}

/* Too small a buffer is -1, never an overflow or a cut request. */
static void test_build_too_small(void)
{
    const struct build_case *c = &build_cases[0];
    char out[64];
    struct http_request req;
    int len;

    memset(out, 'x', sizeof out);
    if (http_parse_request(c->client, strlen(c->client), &req) <= 0)
        return (void)EXPECT(0, "the parser refused %s", c->what);
    len = forward_build_request(&req, out, 10);
    EXPECT(len == -1, "forward_build_request into 10 bytes returned %d, expected -1", len);
    for (size_t i = 10; i < sizeof out; i++)
        if (out[i] != 'x')
            return (void)EXPECT(0, "forward_build_request wrote past the 10 bytes it was given");
    {
        static char big[FORWARD_HEAD_SIZE];
        size_t need = strlen(c->upstream) + 1;      /* the request and its NUL */

        len = forward_build_request(&req, big, need);
        EXPECT(len == (int)need - 1, "forward_build_request into exactly %zu bytes (the "
               "request and a NUL) returned %d, expected %zu", need, len, need - 1);
    }
}

UNIT_SUITE(forward,
           {"build_table", test_build_table},
           {"build_too_small", test_build_too_small})
