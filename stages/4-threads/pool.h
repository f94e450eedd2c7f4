/* pool: idle connections to origin servers, kept open for the next request
 * to the same host and port (an upstream keep-alive pool).
 *
 * No stage's exercise: given code in every proxy stage, which only the
 * reference puts to work (docs/performance.md). The stages ask the origin
 * to close ("Connection: close", forward.h), so nothing is ever pooled
 * there. A new connection per request costs a handshake, the origin's
 * accept, and a socket left in TIME_WAIT; at thousands of misses a second
 * the ephemeral ports fill up and the slowest misses wait tens of
 * milliseconds. Squid and nginx keep their upstream connections; so does
 * the reference.
 *
 * A connection goes back into the pool only when its response ended by its
 * framing (Content-Length, chunks or no body) and the origin did not ask to
 * close; forward.c decides that. An origin may still close a pooled
 * connection at any moment: the pool's reaper thread closes its side as
 * soon as it sees that (on Linux), pool_take drops those it can see closed,
 * and forward.c retries a request once on a fresh connection when a pooled
 * one fails before the response begins. */
#ifndef POOL_H
#define POOL_H

#include <stddef.h>

/* The longest "host port" key pooled; connections to longer names are not kept. */
#define POOL_KEY_MAX 272

struct pool;

/* A pool that keeps at most max_idle connections (0, or idle_ms 0: none,
 * every pool_give closes), each for idle_ms after it is given back: a
 * thread of the pool's own then closes it, or sooner if the origin ends it
 * (on Linux; elsewhere pool_take drops those). Returns it (the caller frees
 * it with pool_destroy), or NULL with errno set. */
struct pool *pool_create(size_t max_idle, int idle_ms);

/* Stop p's thread, close every connection p holds, and free it. NULL is
 * allowed. No other thread may be using p. */
void pool_destroy(struct pool *p);

/* An idle connection to host:port, taken out of p: the caller now owns it
 * (closes it, or gives it back). Connections the origin has closed, or that
 * have waited longer than idle_ms, are closed on the way. Returns the
 * descriptor, or -1 if p holds none for host:port (or p is NULL). Sets no
 * errno. Thread-safe. */
int pool_take(struct pool *p, const char *host, const char *port);

/* Give fd, a connection to host:port with nothing unread or unanswered on
 * it, to p for a later pool_take: p owns it now. A full p closes the
 * connection it was given longest ago to make room; p of size 0 (or NULL)
 * closes fd. Thread-safe. */
void pool_give(struct pool *p, const char *host, const char *port, int fd);

#endif
