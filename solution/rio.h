/* rio: robust I/O. Reads and writes that survive short counts and signals,
 * and a buffered reader with a bounded line reader. */
#ifndef RIO_H
#define RIO_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#define RIO_BUFSIZE 8192

/* Returned by rio_readline when a line does not fit in the caller's buffer. */
#define RIO_TOOLONG (-2)

struct rio {
    int fd;                    /* descriptor read from */
    size_t cnt;                /* unread bytes in buf */
    char *next;                /* next unread byte in buf */
    int timed;                 /* whether reads give up at deadline */
    struct timespec deadline;  /* on CLOCK_MONOTONIC */
    char buf[RIO_BUFSIZE];     /* bytes read from fd but not yet handed out */
};

/* Write all n bytes of buf to fd, retrying after short writes and EINTR.
 * Returns n, or -1 with errno set (EPIPE: the peer has gone). */
ssize_t rio_writen(int fd, const void *buf, size_t n);

/* Make rp an empty read buffer over fd. rp belongs to the caller; fd stays open. */
void rio_init(struct rio *rp, int fd);

/* Make reads through rp that would wait past ms milliseconds from now fail
 * with errno ETIMEDOUT; a negative ms lifts the limit. */
void rio_set_deadline(struct rio *rp, int ms);

/* Read up to n bytes through rp's buffer: whatever is buffered, or else one
 * read(2). Returns the count (at least 1), 0 at EOF, or -1 with errno set. */
ssize_t rio_read(struct rio *rp, void *buf, size_t n);

/* Read exactly n bytes through rp's buffer. Returns n, fewer only if EOF came
 * first (0 at EOF), or -1 with errno set. */
ssize_t rio_readnb(struct rio *rp, void *buf, size_t n);

/* Read one line, up to and including '\n', into buf (size maxlen >= 2) and
 * NUL-terminate it. The line may itself hold NUL bytes: use the returned length.
 * Returns the length, the partial length if EOF cut the line short, 0 at EOF,
 * -1 with errno set, or RIO_TOOLONG when maxlen - 1 bytes came without a '\n'
 * (even if EOF follows them): buf then holds those maxlen - 1 bytes, and the
 * rest of the line stays unread. */
ssize_t rio_readline(struct rio *rp, char *buf, size_t maxlen);

/* Point *p at rp's unread buffered bytes, first reading once (as rio_read
 * does) if there are none, without handing them out: they stay unread until
 * rio_skip. Returns how many there are (at least 1), 0 at EOF, or -1 with
 * errno set. For relaying a body straight from rp's buffer. */
ssize_t rio_peek(struct rio *rp, const char **p);

/* Hand out (and drop) the first n of the bytes rio_peek showed. */
void rio_skip(struct rio *rp, size_t n);

#endif
