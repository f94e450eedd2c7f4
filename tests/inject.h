/* inject: make one system call fail, for the unit tests of code that must
 * survive the failure (a read, write or accept that a signal interrupts, a
 * client that resets before it is accepted) every run, not only when a
 * signal happens to land at the right moment.
 *
 * The unit runner alone is linked with -Wl,--wrap for read, recv, write,
 * send, accept, accept4, close and pthread_create (harness/stage.mk), so
 * that each call of these in the runner, the code under test's included,
 * goes through a wrapper in inject.c. The programs are linked without:
 * their calls go straight to the system. A wrapper fails the one call a
 * test asked for, on the one descriptor it named, before the call does
 * anything; it never makes a call succeed, and never hands out bytes. It
 * may also make a write short: the real call, for fewer bytes. A
 * test may also watch for one descriptor's close, to see what state the
 * code under test is in at that moment (a slot given back before it). */
#ifndef INJECT_H
#define INJECT_H

#include <stddef.h>

enum inject_call {
    INJECT_READ,                /* read(2) or recv(2) */
    INJECT_WRITE,               /* write(2) or send(2) */
    INJECT_ACCEPT,              /* accept(2) or accept4(2) */
    INJECT_THREAD,              /* pthread_create(3), on any fd: give -1; it
                                   returns err and leaves errno alone */
};

/* Make the next call of kind call on descriptor fd fail, once, with errno
 * err, having done nothing; later calls go through. Replaces a failure
 * asked for before that has not happened yet. */
void inject_fail_next(enum inject_call call, int fd, int err);

/* As inject_fail_next, for the next times calls (times >= 1) in a row. */
void inject_fail_times(enum inject_call call, int fd, int err, int times);

/* Make the next write(2) or send(2) on fd a short one: it is called for
 * at most most bytes (most >= 1) of what was asked, once. */
void inject_short_next(int fd, size_t most);

/* Whether the failure last asked for has happened (once at least). */
int inject_happened(void);

/* Seconds from the first to the last failure of those last asked for, as
 * they happened (0 until two have). */
double inject_span(void);

/* Call seen(fd, arg) when fd is next closed, just before it is, once.
 * Replaces a watch asked for before that has not fired yet. */
void inject_watch_close(int fd, void (*seen)(int fd, void *arg), void *arg);

/* Forget a failure asked for that has not happened, and a close watched
 * for that has not fired (the runner does this before each test). */
void inject_reset(void);

#endif
