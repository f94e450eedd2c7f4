/* Unit tests of pool (the reference's upstream keep-alive pool), over
 * socketpairs standing in for origin connections. */
#include "pool.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A connected pair: c[0] is "our" end, c[1] the origin's. */
static int pair(int c[2])
{
    return socketpair(AF_UNIX, SOCK_STREAM, 0, c);
}

/* Whether fd is an open descriptor. */
static int is_open(int fd)
{
    return fcntl(fd, F_GETFD) != -1 || errno != EBADF;
}

static void test_give_then_take(void)
{
    struct pool *p = pool_create(4, 60000);
    int c[2];

    if (p == NULL || pair(c) < 0)
        return (void)EXPECT(0, "pool_create or socketpair failed");
    EXPECT(pool_take(p, "h", "80") == -1, "an empty pool gave a connection");
    pool_give(p, "h", "80", c[0]);
    EXPECT(pool_take(p, "h", "8080") == -1, "a connection to h 80 was given for h 8080");
    EXPECT(pool_take(p, "other", "80") == -1, "a connection to h 80 was given for other 80");
    EXPECT(pool_take(p, "h", "80") == c[0], "the connection given back was not taken again");
    EXPECT(pool_take(p, "h", "80") == -1, "one connection was taken twice");
    EXPECT(pool_take(NULL, "h", "80") == -1, "pool_take(NULL) gave a connection");
    close(c[0]);
    close(c[1]);
    pool_destroy(p);
}

/* A pooled connection that the origin closed, reset, or wrote to unasked
 * is dropped (and closed) by pool_take, never handed out. */
static void test_unusable_dropped(void)
{
    static const char *const what[] = {"closed by the origin", "with bytes nobody asked for"};

    for (int i = 0; i < 2; i++) {
        struct pool *p = pool_create(4, 60000);
        int c[2];

        if (p == NULL || pair(c) < 0)
            return (void)EXPECT(0, "pool_create or socketpair failed");
        pool_give(p, "h", "80", c[0]);
        if (i == 0)
            close(c[1]);
        else
            EXPECT(write(c[1], "x", 1) == 1, "write failed");
        EXPECT(pool_take(p, "h", "80") == -1, "a connection %s was handed out", what[i]);
        EXPECT(!is_open(c[0]), "a connection %s was dropped but not closed", what[i]);
        if (i == 1)
            close(c[1]);
        pool_destroy(p);
    }
}

/* idle_ms 0: every connection would have waited too long by the time it
 * is asked for, so none is kept. */
static void test_expired_dropped(void)
{
    struct pool *p = pool_create(4, 0);
    int c[2];

    if (p == NULL || pair(c) < 0)
        return (void)EXPECT(0, "pool_create or socketpair failed");
    pool_give(p, "h", "80", c[0]);
    EXPECT(pool_take(p, "h", "80") == -1, "a connection older than idle_ms was handed out");
    EXPECT(!is_open(c[0]), "an expired connection was not closed");
    close(c[1]);
    pool_destroy(p);
}

/* Whether the proxy's end of the pair c (c[0]) is closed within 10 s: the
 * origin's end, c[1], reads EOF. */
static int closed_soon(const int c[2])
{
    struct pollfd pfd = {.fd = c[1], .events = POLLIN};
    char b;

    return poll(&pfd, 1, 10000) == 1 && read(c[1], &b, 1) == 0;
}

/* The pool's thread closes an entry once it has waited idle_ms, though
 * nobody gives or takes; and (on Linux) one the origin ends at once. */
static void test_reaped(void)
{
    struct pool *p = pool_create(4, 50), *q = pool_create(4, 60000);
    int a[2], b[2];

    if (p == NULL || q == NULL || pair(a) < 0 || pair(b) < 0)
        return (void)EXPECT(0, "pool_create or socketpair failed");
    pool_give(p, "a", "80", a[0]);
    EXPECT(closed_soon(a), "a connection idle for idle_ms was not closed");
#ifdef __linux__
    pool_give(q, "b", "80", b[0]);
    shutdown(b[1], SHUT_WR);            /* the origin ends it */
    EXPECT(closed_soon(b), "a connection the origin ended was not closed");
#else
    close(b[0]);
#endif
    pool_destroy(p);
    pool_destroy(q);
    close(a[1]);
    close(b[1]);
}

/* A full pool makes room by closing the connection given back longest ago;
 * a pool of 0 and a key too long keep nothing; pool_destroy closes the rest. */
static void test_bounds(void)
{
    char host[POOL_KEY_MAX + 8];
    struct pool *p = pool_create(2, 60000), *none = pool_create(0, 60000);
    int a[2], b[2], c[2], d[2], e[2];

    if (p == NULL || none == NULL || pair(a) < 0 || pair(b) < 0 || pair(c) < 0 || pair(d) < 0 ||
        pair(e) < 0)
        return (void)EXPECT(0, "pool_create or socketpair failed");
    pool_give(p, "h", "80", a[0]);
    pool_give(p, "h", "80", b[0]);
    pool_give(p, "h", "80", c[0]);
    EXPECT(!is_open(a[0]), "a full pool did not close its oldest connection");
    EXPECT(is_open(b[0]) && is_open(c[0]), "a full pool closed a newer connection");
    pool_give(none, "h", "80", d[0]);
    EXPECT(!is_open(d[0]), "a pool of 0 kept a connection");
    memset(host, 'x', sizeof host - 1);
    host[sizeof host - 1] = '\0';
    pool_give(p, host, "80", e[0]);
    EXPECT(!is_open(e[0]) && is_open(b[0]) && is_open(c[0]),
           "a host name too long for a key was pooled, or displaced another");
    pool_destroy(p);
    pool_destroy(none);
    EXPECT(!is_open(b[0]) && !is_open(c[0]), "pool_destroy left connections open");
    for (int *x[] = {a, b, c, d, e}, i = 0; i < 5; i++)
        close(x[i][1]);
}

enum { THREADS = 4, ROUNDS = 500 };

struct churn {
    struct pool *p;
    int fd;                     /* this thread's connection */
    int lost;                   /* rounds in which it was not there to take */
};

/* Give the thread's connection back and take it again, ROUNDS times. Each
 * thread has its own key, so each must always get its own connection. */
static void *churn(void *arg)
{
    struct churn *c = arg;
    char port[16];

    snprintf(port, sizeof port, "%d", c->fd);
    for (int i = 0; i < ROUNDS; i++) {
        pool_give(c->p, "h", port, c->fd);
        c->lost += pool_take(c->p, "h", port) != c->fd;
    }
    return NULL;
}

static void test_threads(void)
{
    struct pool *p = pool_create(THREADS, 60000);
    struct churn c[THREADS];
    pthread_t t[THREADS];
    int fds[THREADS][2];
    int lost = 0;

    if (p == NULL)
        return (void)EXPECT(0, "pool_create failed");
    for (int i = 0; i < THREADS; i++) {
        if (pair(fds[i]) < 0)
            return (void)EXPECT(0, "socketpair failed");
        c[i] = (struct churn){p, fds[i][0], 0};
        if (pthread_create(&t[i], NULL, churn, &c[i]) != 0)
            abort();            /* threads already started point into this frame */
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        lost += c[i].lost;
        close(fds[i][0]);
        close(fds[i][1]);
    }
    EXPECT(lost == 0, "%d of %d takes did not get back the connection just given", lost,
           THREADS * ROUNDS);
    pool_destroy(p);
}

UNIT_SUITE(pool, {"give_then_take", test_give_then_take},
           {"unusable_dropped", test_unusable_dropped}, {"expired_dropped", test_expired_dropped},
           {"reaped", test_reaped},
           {"bounds", test_bounds}, {"threads", test_threads})
