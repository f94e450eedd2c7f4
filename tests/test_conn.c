/* Unit tests of conn over socketpair(2): reading a request head the way a
 * server does, and the replies it sends. SOCK_SEQPACKET pairs keep each write
 * a read of its own, so a head arriving in pieces is the same every run. */
#include "conn.h"
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXPIECES 8

struct read_case {
    const char *what;
    const char *pieces[MAXPIECES];      /* each sent as one write */
    int close_after;                    /* close our end after the pieces */
    int timeout_ms;
    int ret;                            /* expected: > 0 the head's length, else as conn.h */
    const char *rest;                   /* what must still be in the rio afterwards */
};

static const struct read_case read_cases[] = {
    {"a whole head in one write", {"GET / HTTP/1.1\r\nHost: a\r\n\r\n"}, 1, 1000, 27, ""},
    {"a head in pieces", {"GE", "T / HT", "TP/1.1\r", "\nHost:", " a\r\n", "\r", "\n"}, 1, 1000,
     27, ""},
    {"a body after the head stays unread", {"POST / HTTP/1.1\r\nHost: a\r\n\r\nBODY"}, 1, 1000,
     28, "BODY"},
    {"the client closes at once", {NULL}, 1, 1000, 0, ""},
    {"the client closes mid-head", {"GET / HTTP/1.1\r\nHo"}, 1, 1000, -400, ""},
    {"the parser's error comes back", {"GET / HTTP/3.0\r\n\r\n"}, 1, 1000, -505, ""},
    {"a client that sends nothing", {NULL}, 0, 100, -408, ""},
    {"a client that stops mid-head", {"GET / HTTP/1.1\r\n"}, 0, 100, -408, ""},
};

/* Send c's pieces into a SEQPACKET pair; returns our end, or -1. */
static int feed(const struct read_case *c, int *peer)
{
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0) {
        EXPECT(0, "socketpair: %s", strerror(errno));
        return -1;
    }
    for (int i = 0; i < MAXPIECES && c->pieces[i] != NULL; i++)
        if (write(sv[1], c->pieces[i], strlen(c->pieces[i])) < 0)
            EXPECT(0, "write: %s", strerror(errno));
    if (c->close_after) {
        close(sv[1]);
        sv[1] = -1;
    }
    *peer = sv[1];
    return sv[0];
}

static void check_read_case(const struct read_case *c)
{
    static char head[CONN_HEAD_SIZE];
    char rest[64] = "";
    struct http_request req;
    struct rio rio;
    int peer, fd = feed(c, &peer), r;
    ssize_t n;

    if (fd < 0)
        return;
    rio_init(&rio, fd);
    r = conn_read_request(&rio, head, c->timeout_ms, &req);
    EXPECT(r == c->ret, "%s: conn_read_request returned %d, expected %d", c->what, r, c->ret);
    if (peer >= 0)
        close(peer);
    n = r > 0 ? rio_readnb(&rio, rest, sizeof rest - 1) : 0;
    rest[n > 0 ? n : 0] = '\0';
    EXPECT(r <= 0 || strcmp(rest, c->rest) == 0, "%s: after the head, the rio held \"%s\", "
           "expected \"%s\": read the head a line at a time, never past it", c->what, rest,
           c->rest);
    close(fd);
}

static void test_read_table(void)
{
    for (size_t i = 0; i < sizeof read_cases / sizeof read_cases[0]; i++)
        check_read_case(&read_cases[i]);
}

/* Send data[0..len), keep the connection open, and read: the answer must
 * come without waiting for more. */
static void check_too_long(const char *data, size_t len, int want, const char *what)
{
    static char head[CONN_HEAD_SIZE];
    struct http_request req;
    struct rio rio;
    int sv[2], r;

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return;
    if (write(sv[1], data, len) != (ssize_t)len)
        EXPECT(0, "write: %s", strerror(errno));
    rio_init(&rio, sv[0]);
    r = conn_read_request(&rio, head, 2000, &req);
    EXPECT(r == want, "%s (%zu bytes, the connection left open): conn_read_request returned "
           "%d, expected %d", what, len, r, want);
    close(sv[0]);
    close(sv[1]);
}

static void test_too_long(void)
{
    static char data[3 * HTTP_MAX_HEAD];
    size_t n = 0;

    memset(data, 'a', HTTP_MAX_HEAD + 100);
    memcpy(data, "GET /", 5);
    check_too_long(data, HTTP_MAX_LINE + 10, -414, "a request line too long");
    check_too_long(data, HTTP_MAX_HEAD + 100, -414, "a head too long, all in one line");
    n = (size_t)snprintf(data, sizeof data, "GET / HTTP/1.1\r\nHost: a\r\n");
    while (n < 2 * HTTP_MAX_HEAD)
        n += (size_t)snprintf(data + n, sizeof data - n, "X-Pad: %090d\r\n", 0);
    check_too_long(data, n, -431, "a head too long, in many lines");
}

/* The header timeout is for the head alone. Once conn_read_request has
 * returned a head, the deadline it set must be gone (rio_set_deadline(rp,
 * -1)): a body, or the next request, read through the same rio later would
 * otherwise fail with ETIMEDOUT as soon as the head's time was up. */
static void test_deadline_lifted(void)
{
    static const char head[] = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\n";
    static char buf[CONN_HEAD_SIZE];
    struct http_request req;
    struct rio rio;
    char body[8] = "";
    int sv[2], r;

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return (void)EXPECT(0, "socketpair: %s", strerror(errno));
    if (write(sv[1], head, sizeof head - 1) != (ssize_t)sizeof head - 1 ||
        write(sv[1], "BODY", 4) != 4)
        EXPECT(0, "write: %s", strerror(errno));
    rio_init(&rio, sv[0]);
    r = conn_read_request(&rio, buf, 1000, &req);
    EXPECT(r == (int)sizeof head - 1, "conn_read_request returned %d, expected %d (the head's "
           "length); see conn/read_table", r, (int)sizeof head - 1);
    EXPECT(r <= 0 || !rio.timed, "conn_read_request returned the head, but left its 1000 ms "
           "deadline on the rio: reading the body through it would fail with ETIMEDOUT once "
           "that second is up. Lift it before returning the head: rio_set_deadline(rp, -1)");
    EXPECT(r <= 0 || (rio_readnb(&rio, body, 4) == 4 && memcmp(body, "BODY", 4) == 0),
           "after the head, the body \"BODY\" could not be read through the rio (got \"%s\")",
           body);
    close(sv[0]);
    close(sv[1]);
}

/* Read everything fd's peer sent until it closed, into buf[size]. */
static size_t read_all(int fd, char *buf, size_t size)
{
    struct rio rio;
    ssize_t n;

    rio_init(&rio, fd);
    n = rio_readnb(&rio, buf, size - 1);
    buf[n > 0 ? n : 0] = '\0';
    return n > 0 ? (size_t)n : 0;
}

static void test_send_error(void)
{
    char reply[1024], *body;
    int sv[2];
    long r;
    size_t got;

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return;
    r = conn_send_error(sv[1], 404);
    close(sv[1]);
    got = read_all(sv[0], reply, sizeof reply);
    close(sv[0]);
    body = strstr(reply, "\r\n\r\n");
    EXPECT(strncmp(reply, "HTTP/1.1 404 Not Found\r\n", 24) == 0,
           "conn_send_error(fd, 404) sent \"%.40s\", expected the status line "
           "\"HTTP/1.1 404 Not Found\"", reply);
    EXPECT(r == (long)got, "conn_send_error returned %ld, but sent %zu bytes", r, got);
    EXPECT(strstr(reply, "\r\nConnection: close\r\n") &&
           strstr(reply, "\r\nContent-Type: text/html"),
           "the error reply lacks Connection: close or Content-Type: text/html: \"%.200s\"", reply);
    EXPECT(body && strstr(body, "404 Not Found"), "the error page does not name its status");
    EXPECT(body && strstr(reply, "Content-Length: ") &&
           (size_t)atoi(strstr(reply, "Content-Length: ") + 16) == strlen(body + 4),
           "Content-Length does not match the body's %zu bytes", body ? strlen(body + 4) : 0);
}

static void test_send_head_only(void)
{
    char reply[1024];
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return;
    conn_send(sv[1], 200, "text/plain", "hello", 5, 1);
    close(sv[1]);
    read_all(sv[0], reply, sizeof reply);
    close(sv[0]);
    EXPECT(strstr(reply, "Content-Length: 5\r\n") && strstr(reply, "\r\n\r\n")[4] == '\0',
           "conn_send(..., head_only) must announce the length and send no body: \"%s\"", reply);
}

UNIT_SUITE(conn,
           {"read_table", test_read_table},
           {"too_long", test_too_long},
           {"deadline_lifted", test_deadline_lifted},
           {"send_error", test_send_error},
           {"send_head_only", test_send_head_only})
