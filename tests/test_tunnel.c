/* Unit tests of tunnel over socketpairs: the port list, and the relay in
 * both directions with half-close, run in a thread of its own.
 *
 * Every wait for the relay (for bytes, an EOF, its return) is on the event
 * itself, with WAIT_MS as a safety net: a relay that never does what the
 * test waits for fails it in WAIT_MS, with a message that says what was
 * awaited, not when the runner's time limit kills the test. */
#define _GNU_SOURCE             /* syscall(SYS_gettid): the relaying thread's id, for /proc */
#include "tunnel.h"
#include "unit.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 2000            /* a safety net for each event a test waits for */

static const struct {
    const char *list;
    int ok;
    size_t n;
    unsigned first, last;
} port_cases[] = {
    {"443", 0, 1, 443, 443},
    {"443,8443,563", 0, 3, 443, 563},
    {"1,65535", 0, 2, 1, 65535},
    {"", -1, 0, 0, 0},
    {"0", -1, 0, 0, 0},
    {"65536", -1, 0, 0, 0},
    {"443,", -1, 0, 0, 0},
    {"443;80", -1, 0, 0, 0},
    {"https", -1, 0, 0, 0},
};

static void test_parse_ports(void)
{
    for (size_t i = 0; i < sizeof port_cases / sizeof port_cases[0]; i++) {
        struct tunnel_ports p;
        int r = tunnel_parse_ports(port_cases[i].list, &p);
        int ok = r == port_cases[i].ok &&
                 (r < 0 || (p.n == port_cases[i].n && p.port[0] == port_cases[i].first &&
                            p.port[p.n - 1] == port_cases[i].last));
        EXPECT(ok, "tunnel_parse_ports(\"%s\") returned %d, expected %d", port_cases[i].list, r,
               port_cases[i].ok);
    }
}

/* A tunnel_relay running in a thread of its own, between the inner ends of
 * two socketpairs: the test plays the client on c[0] and the origin on o[1].
 * On the heap: a relay that never returns outlives its test's stack frame. */
struct relay_run {
    int c[2], o[2], idle_ms, result, done;
    long long to_client;
    double ms;                  /* how long tunnel_relay took to return */
    pid_t tid;                  /* the relaying thread's, for /proc */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed;
};

static void *run_relay(void *arg)
{
    struct relay_run *r = arg;
    struct timespec began, ended;
    int result;

    pthread_mutex_lock(&r->lock);
    r->tid = (pid_t)syscall(SYS_gettid);
    pthread_mutex_unlock(&r->lock);
    clock_gettime(CLOCK_MONOTONIC, &began);
    result = tunnel_relay(r->c[1], r->o[0], r->idle_ms, &r->to_client);
    clock_gettime(CLOCK_MONOTONIC, &ended);
    pthread_mutex_lock(&r->lock);
    r->ms = (double)(ended.tv_sec - began.tv_sec) * 1e3 +
            (double)(ended.tv_nsec - began.tv_nsec) / 1e6;
    r->result = result;
    r->done = 1;
    pthread_cond_signal(&r->changed);
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

/* Two socketpairs and a thread relaying between them with idle_ms; NULL
 * (the test failed) if they could not be made. */
static struct relay_run *start_relay(int idle_ms)
{
    struct relay_run *r = calloc(1, sizeof *r);
    pthread_condattr_t attr;

    if (r == NULL || socketpair(AF_UNIX, SOCK_STREAM, 0, r->c) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM, 0, r->o) < 0) {
        EXPECT(0, "the test could not make its socketpairs");
        return NULL;
    }
    r->idle_ms = idle_ms;
    r->tid = -1;
    pthread_mutex_init(&r->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&r->changed, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&r->thread, NULL, run_relay, r) != 0) {
        EXPECT(0, "the test could not start the relay's thread");
        return NULL;
    }
    return r;
}

/* Whether r's tunnel_relay returned within ms (r->result is then its value). */
static int relay_returned(struct relay_run *r, int ms)
{
    struct timespec until;
    int done;

    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&r->lock);
    while (!r->done && pthread_cond_timedwait(&r->changed, &r->lock, &until) == 0)
        ;
    done = r->done;
    pthread_mutex_unlock(&r->lock);
    return done;
}

/* Whether r's tunnel_relay returns 0 within WAIT_MS, once when says what
 * happened; if not, the test fails saying so. */
static int expect_returned(struct relay_run *r, const char *when)
{
    int back = relay_returned(r, WAIT_MS);

    EXPECT(back && r->result == 0, "%s: expected tunnel_relay to return 0 within 2 s, %s",
           when, back ? "it returned -1" : "it had not returned");
    return back && r->result == 0;
}

/* Join r's thread and free r, once tunnel_relay has returned; a relay still
 * running is left alone (the test has failed, and its process ends). */
static void end_relay(struct relay_run *r)
{
    if (r == NULL || !relay_returned(r, 0))
        return;
    pthread_join(r->thread, NULL);
    for (int i = 0; i < 2; i++) {
        close(r->c[i]);
        close(r->o[i]);
    }
    free(r);
}

/* Wait (WAIT_MS at most) for fd to have bytes or EOF; then read up to n
 * bytes, until n came, EOF, an error or WAIT_MS. *how says how it ended. */
static size_t read_within(int fd, char *buf, size_t n, const char **how)
{
    size_t got = 0;

    *how = "";
    while (got < n) {
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t k;

        if (poll(&p, 1, WAIT_MS) <= 0) {
            *how = ", then nothing more for 2 s";
            break;
        }
        if ((k = read(fd, buf + got, n - got)) <= 0) {
            *how = k == 0 ? ", then EOF" : ", then a read error";
            break;
        }
        got += (size_t)k;
    }
    return got;
}

/* Whether the bytes want, a string, come on fd (within WAIT_MS); if not,
 * the test fails saying what, and what came instead. */
static int expect_bytes(int fd, const char *want, const char *what)
{
    char buf[64];
    const char *how;
    size_t n = strlen(want), got = read_within(fd, buf, n, &how);
    int ok = got == n && memcmp(buf, want, n) == 0;

    EXPECT(ok, "%s: expected \"%s\" within 2 s, got %zu bytes \"%.*s\"%s", what, want, got,
           (int)got, buf, how);
    return ok;
}

/* Whether EOF comes on fd (within WAIT_MS); if not, the test fails saying so. */
static int expect_eof(int fd, const char *what)
{
    char c;
    const char *how;
    size_t got = read_within(fd, &c, 1, &how);

    EXPECT(got == 0 && strcmp(how, ", then EOF") == 0, "%s: expected EOF within 2 s, got %s",
           what, got ? "a byte instead" : how + 7);
    return got == 0 && strcmp(how, ", then EOF") == 0;
}

static void test_relay_both_ways(void)
{
    struct relay_run *r = start_relay(5000);

    if (r == NULL)
        return;
    if (write(r->c[0], "up!", 3) != 3 ||
        !expect_bytes(r->o[1], "up!", "bytes from the client, at the origin") ||
        write(r->o[1], "down", 4) != 4 ||
        !expect_bytes(r->c[0], "down", "bytes from the origin, at the client"))
        return end_relay(r);
    shutdown(r->c[0], SHUT_WR);         /* the client is done sending */
    if (!expect_eof(r->o[1], "the client's EOF (shutdown SHUT_WR), at the origin: pass it on "
                    "with shutdown(origin, SHUT_WR)") ||
        write(r->o[1], "late", 4) != 4 ||
        !expect_bytes(r->c[0], "late", "after the client's EOF, the origin's bytes at the "
                      "client: keep relaying the other direction (half-close)"))
        return end_relay(r);
    shutdown(r->o[1], SHUT_WR);         /* now the origin is done too */
    if (!expect_eof(r->c[0], "the origin's EOF, at the client"))
        return end_relay(r);
    if (expect_returned(r, "both sides had sent EOF"))
        EXPECT(r->to_client == 8, "tunnel_relay counted %lld bytes to the client, expected 8",
               r->to_client);
    end_relay(r);
}

static void test_relay_gives_up_when_idle(void)
{
    struct relay_run *r = start_relay(100);

    if (r == NULL)
        return;
    if (relay_returned(r, WAIT_MS)) {
        EXPECT(r->result == -1, "tunnel_relay with no traffic for its 100 ms returned %d, "
               "expected -1", r->result);
        EXPECT(r->ms >= 100, "tunnel_relay with idle_ms 100 and no traffic returned after "
               "%.1f ms, expected after 100 ms at least: wait for traffic (poll, with idle_ms "
               "for its timeout) before giving up", r->ms);
    } else
        EXPECT(0, "tunnel_relay with idle_ms 100 and no traffic at all had not returned "
               "after 2 s: expected -1 once 100 ms pass with nothing to relay (poll's timeout)");
    end_relay(r);
}

/* The CPU time thread t has used, in ms, or -1 if it cannot be told. */
static long cpu_ms(pthread_t t)
{
    clockid_t id;
    struct timespec ts;

    if (pthread_getcpuclockid(t, &id) != 0 || clock_gettime(id, &ts) != 0)
        return -1;
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

#define WINDOW_MS 1000          /* how long the relay's CPU time is measured */
#define CPU_MAX_MS 100          /* of it, the most it may use: waiting in poll uses ~0 */

/* The test's end done of one side sends EOF, and the other side (the
 * test's end other) sees it passed on, then stays idle: meanwhile the relay
 * must wait without spending CPU. */
static int expect_idle_relay(struct relay_run *r, int done, int other, const char *side)
{
    struct timespec window = {WINDOW_MS / 1000, (WINDOW_MS % 1000) * 1000000L};
    char what[160];
    long before, after;

    shutdown(done, SHUT_WR);
    snprintf(what, sizeof what, "the %s's EOF, passed on to the other side", side);
    if (!expect_eof(other, what))
        return 0;
    before = cpu_ms(r->thread);
    nanosleep(&window, NULL);           /* not a wait for an event: the measurement's window */
    after = cpu_ms(r->thread);
    if (relay_returned(r, 0)) {
        EXPECT(0, "with the %s's side at EOF and the other still open, tunnel_relay returned "
               "%d: expected it to go on relaying the other direction", side, r->result);
        return 0;
    }
    if (before < 0 || after < 0)
        return (void)EXPECT(0, "the test could not read the relaying thread's CPU clock"), 0;
    EXPECT(after - before < CPU_MAX_MS, "with the %s's side at EOF and the other idle, the "
           "relaying thread used %ld ms of CPU in %d ms, expected under %d (waiting in poll "
           "uses none): stop polling a side once it is at EOF (a negative fd in its pollfd), "
           "or poll reports it readable at once, for ever", side, after - before, WINDOW_MS,
           CPU_MAX_MS);
    return after - before < CPU_MAX_MS;
}

/* Half-close one side, then the other, each time leaving the open side idle
 * while the relay's CPU time is measured: a relay that polls the side at
 * EOF finds it readable at once, reads 0, and spins at full CPU. */
static void test_relay_idle_when_half_closed(void)
{
    for (int client_first = 1; client_first >= 0; client_first--) {
        struct relay_run *r = start_relay(10000);
        int first, second;

        if (r == NULL)
            return;
        first = client_first ? r->c[0] : r->o[1];
        second = client_first ? r->o[1] : r->c[0];
        if (!expect_idle_relay(r, first, second, client_first ? "client" : "origin"))
            return end_relay(r);
        shutdown(second, SHUT_WR);
        if (!expect_eof(first, "the second side's EOF, passed on to the first"))
            return end_relay(r);
        expect_returned(r, "both sides had sent EOF");
        end_relay(r);
    }
}

static void on_signal(int sig)
{
    (void)sig;
}

/* Whether signal sig is pending for thread tid, from /proc (-1: unknown). */
static int signal_pending(pid_t tid, int sig)
{
    char path[64], line[256];
    unsigned long long mask;
    int found = -1;
    FILE *f;

    snprintf(path, sizeof path, "/proc/self/task/%d/status", (int)tid);
    if ((f = fopen(path, "r")) == NULL)
        return -1;
    while (found < 0 && fgets(line, sizeof line, f))
        if (sscanf(line, "SigPnd: %llx", &mask) == 1)
            found = (mask >> (sig - 1)) & 1;
    fclose(f);
    return found;
}

/* Interrupt r's thread with SIGUSR1, and wait (WAIT_MS at most) until the
 * kernel has taken the signal from its pending ones: the call it was
 * waiting in has then returned (EINTR, or a short count), and no byte the
 * test sends next can change that. (Not until the handler has run: a
 * sanitizer may put that off.) Returns whether it was taken, or the relay
 * has returned. */
static int interrupt(struct relay_run *r, const char *where)
{
    struct timespec tick = {0, 1000000L};       /* polling /proc: nothing signals a state */

    pthread_kill(r->thread, SIGUSR1);
    for (int ms = 0; ms < WAIT_MS; ms++) {
        if (signal_pending(r->tid, SIGUSR1) == 0 || relay_returned(r, 0))
            return 1;                   /* taken, or the relay has ended (and its thread) */
        nanosleep(&tick, NULL);
    }
    EXPECT(0, "the relaying thread was sent SIGUSR1 while it waited in %s, and 2 s later the "
           "signal was still pending (/proc/self/task/%d/status)", where, (int)r->tid);
    return 0;
}

/* The state of thread tid (R running, S waiting in a call, ...) from
 * /proc, or '?' if it cannot be read. */
static char thread_state(pid_t tid)
{
    char path[64], line[512], *paren;
    FILE *f;

    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
    if ((f = fopen(path, "r")) == NULL)
        return '?';
    paren = fgets(line, sizeof line, f) ? strrchr(line, ')') : NULL;
    fclose(f);
    return paren != NULL && paren[1] == ' ' ? paren[2] : '?';
}

/* Whether, within WAIT_MS, r's thread is seen waiting in a system call
 * while ready() holds for fd (checked after the state, so that the two go
 * together: a reader woken by fd's bytes is running, not waiting). */
static int wait_blocked(struct relay_run *r, int fd, int (*ready)(int fd))
{
    struct timespec tick = {0, 1000000L};       /* polling /proc: nothing signals a state */

    for (int ms = 0; ms < WAIT_MS; ms++) {
        pthread_mutex_lock(&r->lock);
        pid_t tid = r->tid;
        pthread_mutex_unlock(&r->lock);
        if (tid > 0 && thread_state(tid) == 'S' && ready(fd))
            return 1;
        nanosleep(&tick, NULL);
    }
    return 0;
}

static int always(int fd)
{
    (void)fd;
    return 1;
}

/* Whether fd has bytes waiting to be read. */
static int has_bytes(int fd)
{
    int n = 0;

    return ioctl(fd, FIONREAD, &n) == 0 && n > 0;
}

/* A byte of the pattern sent through the relay, at offset i. */
static char pattern_at(size_t i)
{
    return (char)((i * 2654435761u) >> 13);
}

/* Fill the client's side until the relay waits in a write to the origin,
 * which reads nothing: c[1] has bytes and the relay sleeps, so not in poll.
 * Returns the bytes sent, or 0 if the relay was never seen so. */
static size_t fill_until_blocked(struct relay_run *r, char *data, size_t size)
{
    size_t sent = 0;

    for (size_t i = 0; i < size; i++)
        data[i] = pattern_at(i);
    for (int tries = 0; tries < 1000 && sent < size; tries++) {
        struct pollfd p = {r->c[0], POLLOUT, 0};
        ssize_t k;

        if (poll(&p, 1, 20) > 0 && (k = send(r->c[0], data + sent, size - sent,
                                              MSG_DONTWAIT)) > 0)
            sent += (size_t)k;
        else if (wait_blocked(r, r->c[1], has_bytes))
            return sent;
    }
    return 0;
}

/* The relay's bytes at the origin: sent bytes of the pattern, then EOF. */
static void expect_pattern(int fd, size_t sent)
{
    char *got = malloc(sent + 1);
    const char *how;
    size_t n = got ? read_within(fd, got, sent + 1, &how) : 0, diff = 0;

    while (diff < n && diff < sent && got[diff] == pattern_at(diff))
        diff++;
    EXPECT(n == sent && diff == sent && strcmp(how, ", then EOF") == 0, "a signal interrupted "
           "the relay's write to the origin, which was waiting for room: expected the %zu bytes "
           "sent, then EOF, got %zu bytes%s, the first wrong at offset %zu: a write a signal "
           "interrupts may write part (a short count) or nothing (EINTR): rio_writen goes on",
           sent, n, how, diff);
    free(got);
}

/* With r's thread interrupted by signals (no SA_RESTART), first while it
 * waits in poll with nothing to relay, then while it waits in a write to
 * an origin that has stopped reading, the bytes must all come through. */
static void relay_interrupted(struct relay_run *r, char *data, size_t size)
{
    size_t sent;

    if (!wait_blocked(r, -1, always))
        return (void)EXPECT(0, "the relaying thread was not seen waiting (in poll) within 2 s "
                            "of its start, with nothing to relay%s", relay_returned(r, 0) ?
                            ": tunnel_relay had returned" : "");
    if (!interrupt(r, "poll") || write(r->c[0], "after a signal", 14) != 14 ||
        !expect_bytes(r->o[1], "after a signal", "a signal interrupted the relay's poll "
                      "(EINTR), then the client sent bytes; at the origin: poll again"))
        return;
    if ((sent = fill_until_blocked(r, data, size)) == 0)
        return (void)EXPECT(0, "the test sent the client's side bytes the origin never read, "
                            "and never saw the relaying thread wait in a write: expected it "
                            "to within 2 s");
    if (!interrupt(r, "a write"))
        return;
    shutdown(r->c[0], SHUT_WR);
    expect_pattern(r->o[1], sent);
    shutdown(r->o[1], SHUT_WR);
    expect_returned(r, "both sides had sent EOF");
}

/* Signals interrupt the relay: it must take EINTR and short writes in its
 * stride, losing no byte. */
static void test_relay_through_signals(void)
{
    struct sigaction sa = {.sa_handler = on_signal}, old;
    size_t size = 8 << 20;
    char *data = malloc(size);
    struct relay_run *r = data ? start_relay(10000) : NULL;

    if (r != NULL) {
        sigaction(SIGUSR1, &sa, &old);
        relay_interrupted(r, data, size);
        end_relay(r);               /* before the handler goes: r may be running still */
        sigaction(SIGUSR1, &old, NULL);
    }
    free(data);
}

UNIT_SUITE(tunnel,
           {"parse_ports", test_parse_ports},
           {"relay_both_ways", test_relay_both_ways},
           {"relay_gives_up_when_idle", test_relay_gives_up_when_idle},
           {"relay_idle_when_half_closed", test_relay_idle_when_half_closed},
           {"relay_through_signals", test_relay_through_signals})
