/* inject: the wrappers the unit runner's read, recv, write, send, accept,
 * accept4, close and pthread_create go through (ld --wrap,
 * harness/stage.mk), the one failure a test may ask of them, and the one
 * close it may watch for. See inject.h. */
#include "inject.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

/* The failure asked for: armed holds how many calls are still to fail. */
static struct {
    atomic_int armed;
    atomic_int happened;
    enum inject_call call;
    int fd;
    int err;
    struct timespec first, last;    /* when the first and last failed */
} next;

/* The short write asked for: armed until a write on fd takes it. */
static struct {
    atomic_int armed;
    int fd;
    size_t most;
} shorten;

/* The close watched for: armed until fd's close fires it. */
static struct {
    atomic_int armed;
    int fd;
    void (*seen)(int fd, void *arg);
    void *arg;
} watch;

void inject_fail_times(enum inject_call call, int fd, int err, int times)
{
    atomic_store(&next.armed, 0);
    next.call = call;
    next.fd = fd;
    next.err = err;
    atomic_store(&next.happened, 0);
    atomic_store(&next.armed, times);
}

void inject_fail_next(enum inject_call call, int fd, int err)
{
    inject_fail_times(call, fd, err, 1);
}

int inject_happened(void)
{
    return atomic_load(&next.happened) > 0;
}

double inject_span(void)
{
    if (atomic_load(&next.happened) < 2)
        return 0;
    return (double)(next.last.tv_sec - next.first.tv_sec) +
           (double)(next.last.tv_nsec - next.first.tv_nsec) / 1e9;
}

void inject_short_next(int fd, size_t most)
{
    atomic_store(&shorten.armed, 0);
    shorten.fd = fd;
    shorten.most = most;
    atomic_store(&shorten.armed, 1);
}

void inject_watch_close(int fd, void (*seen)(int fd, void *arg), void *arg)
{
    atomic_store(&watch.armed, 0);
    watch.fd = fd;
    watch.seen = seen;
    watch.arg = arg;
    atomic_store(&watch.armed, 1);
}

void inject_reset(void)
{
    atomic_store(&next.armed, 0);
    atomic_store(&watch.armed, 0);
    atomic_store(&shorten.armed, 0);
}

/* Whether this call (call on fd) is one to fail; if so, sets errno. */
static int fails(enum inject_call call, int fd)
{
    int left = atomic_load(&next.armed);

    if (left <= 0 || next.call != call || next.fd != fd)
        return 0;
    while (left > 0 && !atomic_compare_exchange_weak(&next.armed, &left, left - 1))
        ;
    if (left <= 0)
        return 0;
    clock_gettime(CLOCK_MONOTONIC, atomic_load(&next.happened) == 0 ? &next.first : &next.last);
    atomic_fetch_add(&next.happened, 1);
    errno = next.err;
    return 1;
}

/* The system's own functions (ld --wrap=NAME: __real_NAME is NAME), and the
 * wrappers every call of NAME in the runner reaches instead. The _chk ones
 * are what glibc's _FORTIFY_SOURCE (on by default in Ubuntu's gcc) turns
 * some calls of read and recv into. */
ssize_t __real_read(int fd, void *buf, size_t n);
ssize_t __real___read_chk(int fd, void *buf, size_t n, size_t size);
ssize_t __real_recv(int fd, void *buf, size_t n, int flags);
ssize_t __real___recv_chk(int fd, void *buf, size_t n, size_t size, int flags);
ssize_t __real_write(int fd, const void *buf, size_t n);
ssize_t __real_send(int fd, const void *buf, size_t n, int flags);
int __real_accept(int fd, struct sockaddr *addr, socklen_t *len);
int __real_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
int __real_close(int fd);
int __real_pthread_create(pthread_t *thread, const pthread_attr_t *attr,
                          void *(*start)(void *), void *arg);

ssize_t __wrap_read(int fd, void *buf, size_t n);
ssize_t __wrap___read_chk(int fd, void *buf, size_t n, size_t size);
ssize_t __wrap_recv(int fd, void *buf, size_t n, int flags);
ssize_t __wrap___recv_chk(int fd, void *buf, size_t n, size_t size, int flags);
ssize_t __wrap_write(int fd, const void *buf, size_t n);
ssize_t __wrap_send(int fd, const void *buf, size_t n, int flags);
int __wrap_accept(int fd, struct sockaddr *addr, socklen_t *len);
int __wrap_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
int __wrap_close(int fd);
int __wrap_pthread_create(pthread_t *thread, const pthread_attr_t *attr,
                          void *(*start)(void *), void *arg);

ssize_t __wrap_read(int fd, void *buf, size_t n)
{
    return fails(INJECT_READ, fd) ? -1 : __real_read(fd, buf, n);
}

ssize_t __wrap___read_chk(int fd, void *buf, size_t n, size_t size)
{
    return fails(INJECT_READ, fd) ? -1 : __real___read_chk(fd, buf, n, size);
}

ssize_t __wrap_recv(int fd, void *buf, size_t n, int flags)
{
    return fails(INJECT_READ, fd) ? -1 : __real_recv(fd, buf, n, flags);
}

ssize_t __wrap___recv_chk(int fd, void *buf, size_t n, size_t size, int flags)
{
    return fails(INJECT_READ, fd) ? -1 : __real___recv_chk(fd, buf, n, size, flags);
}

/* n, or fewer if a short write was asked for on fd. */
static size_t shortened(int fd, size_t n)
{
    if (!atomic_load(&shorten.armed) || shorten.fd != fd || !atomic_exchange(&shorten.armed, 0))
        return n;
    return n < shorten.most ? n : shorten.most;
}

ssize_t __wrap_write(int fd, const void *buf, size_t n)
{
    return fails(INJECT_WRITE, fd) ? -1 : __real_write(fd, buf, shortened(fd, n));
}

ssize_t __wrap_send(int fd, const void *buf, size_t n, int flags)
{
    return fails(INJECT_WRITE, fd) ? -1 : __real_send(fd, buf, shortened(fd, n), flags);
}

int __wrap_accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    return fails(INJECT_ACCEPT, fd) ? -1 : __real_accept(fd, addr, len);
}

int __wrap_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    return fails(INJECT_ACCEPT, fd) ? -1 : __real_accept4(fd, addr, len, flags);
}

int __wrap_close(int fd)
{
    if (atomic_load(&watch.armed) && watch.fd == fd && atomic_exchange(&watch.armed, 0))
        watch.seen(fd, watch.arg);
    return __real_close(fd);
}

/* pthread_create returns its error and leaves errno as it was. */
int __wrap_pthread_create(pthread_t *thread, const pthread_attr_t *attr,
                          void *(*start)(void *), void *arg)
{
    int saved = errno;

    if (fails(INJECT_THREAD, -1)) {
        errno = saved;
        return next.err;
    }
    return __real_pthread_create(thread, attr, start, arg);
}
