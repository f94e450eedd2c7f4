/* inject: the wrappers the unit runner's read, recv, write, send, accept and
 * accept4 go through (ld --wrap, harness/stage.mk), and the one failure a
 * test may ask of them. See inject.h. */
#include "inject.h"

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

/* The failure asked for: armed until a matching call takes it. */
static struct {
    atomic_int armed;
    atomic_int happened;
    enum inject_call call;
    int fd;
    int err;
} next;

void inject_fail_next(enum inject_call call, int fd, int err)
{
    atomic_store(&next.armed, 0);
    next.call = call;
    next.fd = fd;
    next.err = err;
    atomic_store(&next.happened, 0);
    atomic_store(&next.armed, 1);
}

int inject_happened(void)
{
    return atomic_load(&next.happened);
}

void inject_reset(void)
{
    atomic_store(&next.armed, 0);
}

/* Whether this call (call on fd) is the one to fail; if so, sets errno. */
static int fails(enum inject_call call, int fd)
{
    if (!atomic_load(&next.armed) || next.call != call || next.fd != fd ||
        !atomic_exchange(&next.armed, 0))
        return 0;
    atomic_store(&next.happened, 1);
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

ssize_t __wrap_read(int fd, void *buf, size_t n);
ssize_t __wrap___read_chk(int fd, void *buf, size_t n, size_t size);
ssize_t __wrap_recv(int fd, void *buf, size_t n, int flags);
ssize_t __wrap___recv_chk(int fd, void *buf, size_t n, size_t size, int flags);
ssize_t __wrap_write(int fd, const void *buf, size_t n);
ssize_t __wrap_send(int fd, const void *buf, size_t n, int flags);
int __wrap_accept(int fd, struct sockaddr *addr, socklen_t *len);
int __wrap_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);

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

ssize_t __wrap_write(int fd, const void *buf, size_t n)
{
    return fails(INJECT_WRITE, fd) ? -1 : __real_write(fd, buf, n);
}

ssize_t __wrap_send(int fd, const void *buf, size_t n, int flags)
{
    return fails(INJECT_WRITE, fd) ? -1 : __real_send(fd, buf, n, flags);
}

int __wrap_accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    return fails(INJECT_ACCEPT, fd) ? -1 : __real_accept(fd, addr, len);
}

int __wrap_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    return fails(INJECT_ACCEPT, fd) ? -1 : __real_accept4(fd, addr, len, flags);
}
