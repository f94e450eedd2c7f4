/* inject: make one system call fail, for the unit tests of code that must
 * survive the failure (a read, write or accept that a signal interrupts, a
 * client that resets before it is accepted) every run, not only when a
 * signal happens to land at the right moment.
 *
 * The unit runner alone is linked with -Wl,--wrap for read, recv, write,
 * send, accept and accept4 (harness/stage.mk), so that each call of these
 * in the runner, the code under test's included, goes through a wrapper in
 * inject.c. The programs are linked without: their calls go straight to
 * the system. A wrapper fails the one call a test asked for, on the one
 * descriptor it named, before the call does anything; it never makes a
 * call succeed, and never hands out bytes. */
#ifndef INJECT_H
#define INJECT_H

enum inject_call {
    INJECT_READ,                /* read(2) or recv(2) */
    INJECT_WRITE,               /* write(2) or send(2) */
    INJECT_ACCEPT,              /* accept(2) or accept4(2) */
};

/* Make the next call of kind call on descriptor fd fail, once, with errno
 * err, having done nothing; later calls go through. Replaces a failure
 * asked for before that has not happened yet. */
void inject_fail_next(enum inject_call call, int fd, int err);

/* Whether the failure last asked for has happened. */
int inject_happened(void);

/* Forget a failure asked for that has not happened (the runner does this
 * before each test). */
void inject_reset(void);

#endif
