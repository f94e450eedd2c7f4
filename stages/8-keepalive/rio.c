/* rio: robust I/O. See rio.h for the contracts. */
#include "rio.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>

ssize_t rio_writen(int fd, const void *buf, size_t n)
{
    /* ==== stage 1 exercise: rio_writen ==== */
    const char *p = buf;
    size_t left = n;

    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;       /* a signal came before anything was written */
            return -1;
        }
        p += w;                 /* a short write: send the rest */
        left -= (size_t)w;
    }
    return (ssize_t)n;
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
    ssize_t r;

    do {
        if (rio_wait(rp) < 0)
            return -1;
        r = read(rp->fd, rp->buf, sizeof rp->buf);
    } while (r < 0 && errno == EINTR);
    if (r > 0) {
        rp->cnt = (size_t)r;
        rp->next = rp->buf;
    }
    return r;
    /* ==== end of stage 1 exercise: rio_fill ==== */
}

/* ==== stage 1 exercise: helpers 1 ==== */
/* Hand out k buffered bytes of rp to dst. */
static void rio_take(struct rio *rp, void *dst, size_t k)
{
    memcpy(dst, rp->next, k);
    rp->next += k;
    rp->cnt -= k;
}
/* ==== end of stage 1 exercise: helpers 1 ==== */

ssize_t rio_read(struct rio *rp, void *buf, size_t n)
{
    /* ==== stage 1 exercise: rio_read ==== */
    size_t k;

    if (rp->cnt == 0) {
        ssize_t r = rio_fill(rp);
        if (r <= 0)
            return r;
    }
    k = n < rp->cnt ? n : rp->cnt;
    rio_take(rp, buf, k);
    return (ssize_t)k;
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
    size_t len = 0;

    while (len < maxlen - 1) {
        size_t k;
        char *nl;

        if (rp->cnt == 0) {
            ssize_t r = rio_fill(rp);
            if (r < 0)
                return -1;
            if (r == 0)
                break;          /* EOF: return the partial line, or 0 */
        }
        k = maxlen - 1 - len;
        if (k > rp->cnt)
            k = rp->cnt;
        nl = memchr(rp->next, '\n', k);
        if (nl != NULL)
            k = (size_t)(nl - rp->next) + 1;
        rio_take(rp, buf + len, k);
        len += k;
        if (nl != NULL)
            break;
    }
    buf[len] = '\0';
    if (len == maxlen - 1 && buf[len - 1] != '\n')
        return RIO_TOOLONG;
    return (ssize_t)len;
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
