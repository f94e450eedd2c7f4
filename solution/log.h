/* log: the access log, one line per request answered, in Squid's native
 * access.log format, so that standard tools (goaccess, awk) read it:
 *
 *   time.ms   elapsed-ms client TAG/status bytes method URL - HIER/peer type
 *   1764255600.123     45 127.0.0.1 TCP_MISS/200 1534 GET http://h/a - HIER_DIRECT/127.0.0.1
 *     text/html                                      (all on one line) 
 */
#ifndef LOG_H
#define LOG_H

#include "http.h"

#include <stddef.h>
#include <time.h>

/* How a request was answered: Squid's result codes. */
enum log_tag {
    LOG_NONE,                   /* refused before any upstream work (NONE_NONE) */
    LOG_MISS,                   /* fetched from the origin, or failed trying (TCP_MISS) */
    LOG_HIT,                    /* served from the cache, stage 6 (TCP_HIT) */
    LOG_DENIED,                 /* refused by policy: 503 over max-clients, 403 (TCP_DENIED) */
    LOG_TUNNEL,                 /* a CONNECT tunnel, stage 7 (TCP_TUNNEL) */
    LOG_REFRESH,                /* served from the cache once the origin said it is still
                                   good (TCP_REFRESH_UNMODIFIED) */
    LOG_REFRESH_MODIFIED,       /* the origin sent a new response instead (TCP_REFRESH_MODIFIED) */
};

/* The longest line log_format writes: what is logged of a request is at most
 * a request line (escaping can triple it) and a few short fields. */
#define LOG_LINE_MAX (3 * HTTP_MAX_LINE + 512)

struct log_entry {
    struct timespec start;      /* when the client was accepted (CLOCK_REALTIME) */
    long elapsed_ms;            /* from then to the last byte sent */
    char client[64];            /* the client's address, numeric */
    enum log_tag tag;
    int status;                 /* the status the client got */
    long long bytes;            /* bytes the client was sent, head included */
    struct http_str method;     /* empty if the request could not be parsed */
    struct http_str url;        /* the request-target; empty if unparsed */
    char peer[64];              /* the origin's address, or "" if none was reached */
    char type[128];             /* the response's Content-Type, or "" */
};

/* Write e into buf[0..size) as one line of the log, '\n' included, and
 * NUL-terminate it. Spaces and control bytes in a field are written as %XX,
 * so that every request stays one line and one field stays one field; an
 * empty field is "-", and an unparsed request is "NONE error:invalid-request".
 * Returns the line's length, or -1 if it does not fit. Pure: no I/O. */
int log_format(const struct log_entry *e, char *buf, size_t size);

/* Open the log at path for appending (O_APPEND), creating it (mode 0644) if
 * needed. Returns the descriptor, or -1 with errno set. */
int log_open(const char *path);

/* Append e to the log on fd with a single write(2) of the whole line, so
 * that lines written by threads at once never interleave. Returns 0, or -1
 * with errno set. */
int log_write(int fd, const struct log_entry *e);

/* Note in e the status and Content-Type of the response whose first bytes
 * are buf[0..n), as far as they are there. */
void log_note_response(struct log_entry *e, const char *buf, size_t n);

/* Fill in e->elapsed_ms: the time from e->start until now. */
void log_stop_clock(struct log_entry *e);

#endif
