/* pool: idle origin connections for reuse. See pool.h.
 *
 * A plain array under one mutex: a hundred entries, each looked at with a
 * string compare, cost far less than the connect they save. Descriptors
 * are closed after the lock is let go.
 *
 * A reaper thread closes what nobody will take: entries that have waited
 * idle_ms, and connections the origin has ended (their socket would wait
 * in CLOSE-WAIT until the next pool_take for the host). On Linux it sleeps
 * in epoll_wait over the idle descriptors, until the oldest entry expires:
 * pool_give adds a descriptor to the epoll set, pool_take takes it out,
 * one system call each, and neither ever wakes the reaper. Elsewhere it
 * only sleeps until the oldest entry expires (poll on its wake-up pipe),
 * and pool_take drops the connections the origin ended.
 *
 *   pool_give --EPOLL_CTL_ADD, append--> slot[] --take, EPOLL_CTL_DEL--> pool_take
 *                                          |  readable: the origin ended it
 *                                        reaper --close--> expired or ended entries
 *
 * Who may touch a descriptor: the thread that holds it, or, while it is in
 * the pool, whoever holds the lock. So pool_give watches it before putting
 * it in (once there, another thread may take it, or the reaper close it),
 * and pool_take unwatches it after taking it out; no system call is made
 * under the lock but for the reaper's, when an origin ends a connection. */
#include "pool.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/epoll.h>
#endif

struct idle {
    char key[POOL_KEY_MAX];     /* "host port" */
    int fd;
    struct timespec since;      /* when it was given back (CLOCK_MONOTONIC) */
};

struct pool {
    pthread_mutex_t lock;
    int idle_ms;                /* how long an entry stays */
    int wake[2];                /* a byte on wake[1] stops the reaper */
    int watch;                  /* Linux: an epoll set of the idle descriptors and wake[0] */
    pthread_t reaper;           /* running if max > 0 */
    size_t n, max;              /* entries in use, and room */
    struct idle slot[];         /* slot[0..n), in no order */
};

/* The most descriptors the reaper closes at one wake-up. */
#define REAP_MAX 16

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

#ifdef __linux__
/* Start watching wake[0] in a new epoll set. Returns 0, or -1. */
static int watch_open(struct pool *p)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = p->wake[0]};

    if ((p->watch = epoll_create1(EPOLL_CLOEXEC)) < 0)
        return -1;
    return epoll_ctl(p->watch, EPOLL_CTL_ADD, p->wake[0], &ev);
}

/* Watch fd, about to go into the pool, for the origin's end of it: one
 * event at most (EPOLLONESHOT), so that the reaper does not wake again and
 * again for one that pool_take has taken and not yet unwatched. An event
 * that comes before fd is in the pool finds no entry, and is lost: fd then
 * waits for its expiry or pool_take's check, as on a failure here. */
static void watch_add(const struct pool *p, int fd)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT, .data.fd = fd};

    epoll_ctl(p->watch, EPOLL_CTL_ADD, fd, &ev);
}

/* Stop watching fd, taken to carry a request. (Closing a descriptor
 * unwatches it too.) */
static void watch_drop(const struct pool *p, int fd)
{
    epoll_ctl(p->watch, EPOLL_CTL_DEL, fd, NULL);
}

/* Wait at most timeout_ms for watched descriptors to become readable, and
 * put up to REAP_MAX of them in ready. Returns how many, or -1 if the
 * reaper is to stop. */
static int watch_wait(const struct pool *p, int timeout_ms, int *ready)
{
    struct epoll_event ev[REAP_MAX];
    int n = epoll_wait(p->watch, ev, REAP_MAX, timeout_ms), k = 0;

    for (int i = 0; i < n; i++) {
        if (ev[i].data.fd == p->wake[0])
            return -1;
        ready[k++] = ev[i].data.fd;
    }
    return k;
}
#else
static int watch_open(struct pool *p)
{
    p->watch = -1;
    return 0;
}

static void watch_add(const struct pool *p, int fd)
{
    (void)p, (void)fd;
}

static void watch_drop(const struct pool *p, int fd)
{
    (void)p, (void)fd;
}

/* Wait at most timeout_ms. Returns 0, or -1 if the reaper is to stop. */
static int watch_wait(const struct pool *p, int timeout_ms, int *ready)
{
    struct pollfd pfd = {.fd = p->wake[0], .events = POLLIN};

    (void)ready;
    return poll(&pfd, 1, timeout_ms) > 0 ? -1 : 0;
}
#endif

/* The entry of p given back longest ago. p holds at least one. */
static struct idle *oldest(struct pool *p)
{
    struct idle *o = &p->slot[0];

    for (size_t i = 1; i < p->n; i++)
        if (ns_between(&p->slot[i].since, &o->since) > 0)
            o = &p->slot[i];
    return o;
}

/* Milliseconds until p's oldest entry expires (rounded up), or idle_ms if
 * p holds none: an entry given back during that wait expires after it, so
 * pool_give never needs to wake the reaper. */
static int until_next_expiry(struct pool *p)
{
    struct timespec now;
    long long ns = p->idle_ms * 1000000LL;

    clock_gettime(CLOCK_MONOTONIC, &now);
    pthread_mutex_lock(&p->lock);
    if (p->n > 0)
        ns -= ns_between(&oldest(p)->since, &now);
    pthread_mutex_unlock(&p->lock);
    return ns <= 0 ? 0 : (int)((ns + 999999) / 1000000);
}

/* Take out of p the entries among ready (descriptors the watch saw
 * readable) that the origin has ended, putting their descriptors in fds.
 * An event may be stale (its descriptor taken and closed since, and the
 * number given to a new connection), so each is checked with still_open.
 * Returns how many. Called with p->lock held. */
static size_t take_ended(struct pool *p, const int *ready, size_t nready, int *fds)
{
    size_t n = 0;

    for (size_t r = 0; r < nready; r++)
        for (size_t i = 0; i < p->n; i++)
            if (p->slot[i].fd == ready[r]) {
                if (!still_open(ready[r])) {
                    fds[n++] = ready[r];
                    p->slot[i] = p->slot[--p->n];
                }
                break;
            }
    return n;
}

/* Take out of p up to REAP_MAX entries that have expired by now, putting
 * their descriptors in fds. Returns how many. Called with p->lock held. */
static size_t take_expired(struct pool *p, const struct timespec *now, int *fds)
{
    size_t n = 0;

    for (size_t i = p->n; i-- > 0 && n < REAP_MAX;)
        if (expired(p, &p->slot[i].since, now)) {
            fds[n++] = p->slot[i].fd;
            p->slot[i] = p->slot[--p->n];
        }
    return n;
}

/* The reaper: until pool_destroy wakes it, close the entries of p that
 * have expired, or whose origin ended them. (More than REAP_MAX expired at
 * once: the next wait is 0 ms.) */
static void *reap(void *arg)
{
    struct pool *p = arg;
    int ready[REAP_MAX], closing[2 * REAP_MAX], k;

    while ((k = watch_wait(p, until_next_expiry(p), ready)) >= 0) {
        struct timespec now;
        size_t n;

        clock_gettime(CLOCK_MONOTONIC, &now);
        pthread_mutex_lock(&p->lock);
        n = take_ended(p, ready, (size_t)k, closing);
        n += take_expired(p, &now, closing + n);
        pthread_mutex_unlock(&p->lock);
        while (n > 0)
            close(closing[--n]);
    }
    return NULL;
}

/* Open p's wake-up pipe and watch, and start its reaper. Returns 0, or an
 * error number (what is open stays open, for pool_destroy). */
static int start_reaper(struct pool *p)
{
    if (pipe(p->wake) < 0 || watch_open(p) < 0)
        return errno;
    return pthread_create(&p->reaper, NULL, reap, p);
}

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
    p->max = idle_ms > 0 ? max_idle : 0;       /* nothing could be handed out again */
    p->wake[0] = p->wake[1] = p->watch = -1;
    if (p->max > 0 && (err = start_reaper(p)) != 0) {
        p->max = 0;                             /* no reaper to stop */
        pool_destroy(p);
        errno = err;
        return NULL;
    }
    return p;
}

void pool_destroy(struct pool *p)
{
    if (p == NULL)
        return;
    if (p->max > 0) {
        while (write(p->wake[1], "", 1) < 0 && errno == EINTR)
            ;
        pthread_join(p->reaper, NULL);
    }
    for (size_t i = 0; i < p->n; i++)
        close(p->slot[i].fd);
    for (int *fd = (int[]){p->wake[0], p->wake[1], p->watch}, i = 0; i < 3; i++)
        if (fd[i] >= 0)
            close(fd[i]);
    pthread_mutex_destroy(&p->lock);
    free(p);
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
        if (!expired(p, &since, &now) && still_open(fd)) {
            watch_drop(p, fd);
            return fd;
        }
        close(fd);              /* ended just now, before the reaper saw: try the next */
    }
}

/* Add e to p's idle connections, in the oldest one's place if p is full.
 * Returns the descriptor to close (the oldest entry's), or -1. Called
 * with p->lock held. */
static int add_idle(struct pool *p, const struct idle *e)
{
    struct idle *o;
    int drop;

    if (p->n < p->max) {
        p->slot[p->n++] = *e;
        return -1;
    }
    o = oldest(p);              /* it would have expired first */
    drop = o->fd;
    *o = *e;
    return drop;
}

void pool_give(struct pool *p, const char *host, const char *port, int fd)
{
    struct idle e = {.fd = fd};
    int drop;

    if (p == NULL || p->max == 0 || make_key(e.key, host, port) < 0) {
        close(fd);
        return;
    }
    clock_gettime(CLOCK_MONOTONIC, &e.since);
    watch_add(p, fd);
    pthread_mutex_lock(&p->lock);
    drop = add_idle(p, &e);
    pthread_mutex_unlock(&p->lock);
    if (drop >= 0)
        close(drop);
}
