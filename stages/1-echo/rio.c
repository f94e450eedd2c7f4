/* rio: robust I/O. See rio.h for the contracts. */
#include "rio.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>

ssize_t rio_writen(int fd, const void *buf, size_t n)
{
    /* ==== stage 1 exercise: rio_writen ==== */
    /* TODO(stage 1): write all n bytes of buf to fd.
     * write(2) may write fewer bytes than asked (a "short write", common on
     * sockets): move past what was written and call it again for the rest.
     * If write returns -1 with errno == EINTR, a signal interrupted it before
     * anything was written: just call it again. Any other error: return -1 and
     * leave errno as write set it. Return n when everything is out.
     * Read: man 2 write (RETURN VALUE and ERRORS). */
    (void)fd;
    (void)buf;
    (void)n;
    errno = ENOSYS;
    return -1;
    /* ==== end of stage 1 exercise: rio_writen ==== */
}

void rio_init(struct rio *rp, int fd)
{
    rp->fd = fd;
    rp->cnt = 0;
    rp->next = rp->buf;
    rp->timed = 0;
}

void rio_set_deadline(struct rio *rp, int ms)
{
    rp->timed = ms >= 0;
    if (!rp->timed)
        return;
    clock_gettime(CLOCK_MONOTONIC, &rp->deadline);
    rp->deadline.tv_sec += ms / 1000;
    rp->deadline.tv_nsec += (long)(ms % 1000) * 1000000;
    if (rp->deadline.tv_nsec >= 1000000000) {
        rp->deadline.tv_sec++;
        rp->deadline.tv_nsec -= 1000000000;
    }
}

/* Wait until rp's descriptor is readable. Returns 0 at once if rp has no
 * deadline; else 0, or -1 with errno ETIMEDOUT if rp's deadline passes first
 * (or another errno from poll). */
static int rio_wait(struct rio *rp)
{
    struct pollfd pfd = {.fd = rp->fd, .events = POLLIN};
    struct timespec now;
    long ms;
    int r;

    if (!rp->timed)
        return 0;
    do {
        clock_gettime(CLOCK_MONOTONIC, &now);
        ms = (rp->deadline.tv_sec - now.tv_sec) * 1000 +
             (rp->deadline.tv_nsec - now.tv_nsec) / 1000000;
        r = ms > 0 ? poll(&pfd, 1, (int)ms) : 0;
    } while (r < 0 && errno == EINTR);
    if (r == 0)
        errno = ETIMEDOUT;
    return r > 0 ? 0 : -1;
}

/* Refill rp's empty buffer with one read(2). Returns the count, 0 at EOF, or
 * -1 with errno set (ETIMEDOUT: rp's deadline passed first). */
static ssize_t rio_fill(struct rio *rp)
{
    /* ==== stage 1 exercise: rio_fill ==== */
    /* TODO(stage 1): refill rp's empty buffer with one read(2).
     * 1. Call rio_wait(rp) (given, above). It returns 0 at once when no
     *    deadline is set (rio_set_deadline); with one, it waits until rp->fd
     *    is readable. If it returns -1 (errno ETIMEDOUT: the deadline
     *    passed), return -1.
     * 2. read(rp->fd, rp->buf, sizeof rp->buf). If it returns -1 with errno
     *    == EINTR, a signal came before any byte did: go back to step 1.
     *    Any other -1: return -1, with errno as read set it. 0 is EOF:
     *    return 0.
     * 3. Otherwise set rp->cnt to the count and rp->next to rp->buf, and
     *    return the count.
     * Read: man 2 read (RETURN VALUE and ERRORS). */
    (void)rp;
    (void)rio_wait;             /* delete this line once rio_fill calls rio_wait */
    errno = ENOSYS;
    return -1;
    /* ==== end of stage 1 exercise: rio_fill ==== */
}

/* ==== stage 1 exercise: helpers 1 ==== */
/* ==== end of stage 1 exercise: helpers 1 ==== */

ssize_t rio_read(struct rio *rp, void *buf, size_t n)
{
    /* ==== stage 1 exercise: rio_read ==== */
    /* TODO(stage 1): hand out up to n bytes, refilling the buffer when empty.
     * 1. If rp->cnt is 0, refill the buffer: rio_fill(rp) (write it first,
     *    above). It returns 0 at EOF: return 0. It returns -1 on error:
     *    return -1.
     * 2. Copy min(n, rp->cnt) bytes from rp->next into buf (memcpy), advance
     *    rp->next, reduce rp->cnt, and return the count.
     * Never refill when bytes are still buffered: rio_read may return fewer
     * than n bytes, and its callers loop. Read: man 3 memcpy. */
    (void)rp;
    (void)buf;
    (void)n;
    errno = ENOSYS;
    return -1;
    /* ==== end of stage 1 exercise: rio_read ==== */
}

ssize_t rio_readnb(struct rio *rp, void *buf, size_t n)
{
    char *p = buf;
    size_t left = n;

    while (left > 0) {
        ssize_t r = rio_read(rp, p, left);
        if (r < 0)
            return -1;
        if (r == 0)
            break;              /* EOF: return what came */
        p += r;
        left -= (size_t)r;
    }
    return (ssize_t)(n - left);
}

ssize_t rio_readline(struct rio *rp, char *buf, size_t maxlen)
{
    /* ==== stage 1 exercise: rio_readline ==== */
    /* TODO(stage 1): copy one line, '\n' included, from rp into buf.
     * Take bytes from rp's buffer (refill it with rio_fill, as rio_read does,
     * when it is empty) until you have copied a '\n' (memchr finds it fast) or
     * EOF comes. Never store more than maxlen - 1 bytes: buf needs room for
     * the '\0' you add at the end. Return the number of bytes stored, which
     * is 0 only at EOF with nothing read. If maxlen - 1 bytes have come and
     * none was '\n', stop and return RIO_TOOLONG: the caller decides what a
     * long line means (the echo server sends it on in pieces; a proxy
     * answers 414). The rest of that line stays in the buffer for the next
     * call. A line may contain '\0' bytes, so callers use the returned
     * length, not strlen. Read: man 3 memchr. */
    (void)rp;
    (void)buf;
    (void)maxlen;
    errno = ENOSYS;
    return -1;
    /* ==== end of stage 1 exercise: rio_readline ==== */
}

ssize_t rio_peek(struct rio *rp, const char **p)
{
    if (rp->cnt == 0) {
        ssize_t r = rio_fill(rp);
        if (r <= 0)
            return r;
    }
    *p = rp->next;
    return (ssize_t)rp->cnt;
}

void rio_skip(struct rio *rp, size_t n)
{
    rp->next += n;
    rp->cnt -= n;
}
