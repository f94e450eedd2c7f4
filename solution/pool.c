/* pool: idle origin connections for reuse. See pool.h.
 *
 * A plain array under one mutex: a hundred entries, each looked at with a
 * string compare, cost far less than the connect they save, and the lock
 * is never held across a system call (descriptors are closed after it is
 * let go). */
#include "pool.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct idle {
    char key[POOL_KEY_MAX];     /* "host port" */
    int fd;
    struct timespec since;      /* when it was given back (CLOCK_MONOTONIC) */
};

struct pool {
    pthread_mutex_t lock;
    int idle_ms;                /* how long an entry stays */
    size_t n, max;              /* entries in use, and room */
    struct idle slot[];         /* slot[0..n), in no order */
};

struct pool *pool_create(size_t max_idle, int idle_ms)
{
    struct pool *p = calloc(1, sizeof *p + max_idle * sizeof p->slot[0]);
    int err;

    if (p == NULL)
        return NULL;
    if ((err = pthread_mutex_init(&p->lock, NULL)) != 0) {
        free(p);
        errno = err;
        return NULL;
    }
    p->idle_ms = idle_ms;
    p->max = max_idle;
    return p;
}

void pool_destroy(struct pool *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n; i++)
        close(p->slot[i].fd);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* Write host:port's key into key[POOL_KEY_MAX]. Returns 0, or -1 if it
 * does not fit. */
static int make_key(char *key, const char *host, const char *port)
{
    int n = snprintf(key, POOL_KEY_MAX, "%s %s", host, port);

    return n >= 0 && n < POOL_KEY_MAX ? 0 : -1;
}

/* Nanoseconds from a to b. */
static long long ns_between(const struct timespec *a, const struct timespec *b)
{
    return (b->tv_sec - a->tv_sec) * 1000000000LL + (b->tv_nsec - a->tv_nsec);
}

/* Whether an entry given back at since has waited as long as p lets one
 * wait, at now. */
static int expired(const struct pool *p, const struct timespec *since, const struct timespec *now)
{
    return ns_between(since, now) >= p->idle_ms * 1000000LL;
}

/* Take out of p an entry for key, if any: its descriptor, with *since set,
 * or -1. The search starts from the end, where pool_give appends, so it is
 * usually the one given back last: the one the origin is least likely to
 * have closed for idling. Called with p->lock held. */
static int take_entry(struct pool *p, const char *key, struct timespec *since)
{
    for (size_t i = p->n; i-- > 0;) {
        if (strcmp(p->slot[i].key, key) != 0)
            continue;
        int fd = p->slot[i].fd;

        *since = p->slot[i].since;
        p->slot[i] = p->slot[--p->n];   /* the last entry fills the hole */
        return fd;
    }
    return -1;
}

/* Whether fd, a connection on which nothing is expected, is still usable:
 * readable means the origin closed it (EOF), reset it, or sent bytes that
 * answer nothing, and none of those can carry a request. */
static int still_open(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int r;

    while ((r = poll(&pfd, 1, 0)) < 0 && errno == EINTR)
        ;
    return r == 0;
}

int pool_take(struct pool *p, const char *host, const char *port)
{
    char key[POOL_KEY_MAX];
    struct timespec since, now;
    int fd;

    if (p == NULL || make_key(key, host, port) < 0)
        return -1;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        fd = take_entry(p, key, &since);
        pthread_mutex_unlock(&p->lock);
        if (fd < 0)
            return -1;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (!expired(p, &since, &now) && still_open(fd))
            return fd;
        close(fd);              /* too old, or closed under us: try the next */
    }
}

/* The entry of p given back longest ago. p holds at least one. */
static struct idle *oldest(struct pool *p)
{
    struct idle *o = &p->slot[0];

    for (size_t i = 1; i < p->n; i++)
        if (ns_between(&p->slot[i].since, &o->since) > 0)
            o = &p->slot[i];
    return o;
}

/* The most expired entries pool_give closes at once. */
#define REAP_MAX 16

/* Take out of p up to REAP_MAX entries that have expired by now, putting
 * their descriptors in fds. Returns how many. Called with p->lock held. */
static size_t reap(struct pool *p, const struct timespec *now, int *fds)
{
    size_t n = 0;

    for (size_t i = p->n; i-- > 0 && n < REAP_MAX;)
        if (expired(p, &p->slot[i].since, now)) {
            fds[n++] = p->slot[i].fd;
            p->slot[i] = p->slot[--p->n];
        }
    return n;
}

/* Give e to p, making room if need be. Returns the descriptor to close in
 * its place (the oldest entry's, or e's if p holds none), or -1. Called
 * with p->lock held. */
static int keep(struct pool *p, const struct idle *e)
{
    struct idle *o;
    int drop;

    if (p->n < p->max) {
        p->slot[p->n++] = *e;
        return -1;
    }
    if (p->n == 0)
        return e->fd;
    o = oldest(p);              /* it would have expired first */
    drop = o->fd;
    *o = *e;
    return drop;
}

void pool_give(struct pool *p, const char *host, const char *port, int fd)
{
    struct idle e = {.fd = fd};
    int closing[REAP_MAX + 1];
    size_t n = 0;

    if (p == NULL || make_key(e.key, host, port) < 0) {
        close(fd);
        return;
    }
    clock_gettime(CLOCK_MONOTONIC, &e.since);
    pthread_mutex_lock(&p->lock);
    n = reap(p, &e.since, closing);     /* entries are closed at a give after they expire */
    if ((closing[n] = keep(p, &e)) >= 0)
        n++;
    pthread_mutex_unlock(&p->lock);
    while (n > 0)
        close(closing[--n]);
}
