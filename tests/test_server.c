/* Unit tests of server over loopback: clients served at once, the bound on
 * how many, connections closed, slots given back (a refused client's too,
 * before the close: inject.h watches it), going on after accepts that fail
 * with EMFILE, pausing between them, a pthread_create that fails (both made
 * to fail by inject.h), and server_run returning when its listener is shut
 * down. The serve callback here waits
 * for other clients rather than sleeping: only a server that serves them at
 * once lets them all through. */
#include "inject.h"
#include "server.h"
#include "sock.h"
#include "unit.h"

#include <errno.h>
#include <stdatomic.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 1000            /* how long serve waits for the others (a safety net) */

/* What the serve callback shares with the test. */
struct meeting {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int inside;                 /* serve calls running now */
    int expected;               /* how many must be inside at once */
    int open;                   /* set by the test to let every serve return */
};

static struct meeting meeting = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};

/* Wait, holding meeting.lock, until ok() or WAIT_MS pass; returns ok(). */
static int wait_until(int (*ok)(void))
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += WAIT_MS / 1000;
    while (!ok() && pthread_cond_timedwait(&meeting.changed, &meeting.lock, &until) == 0)
        ;
    return ok();
}

static int all_in(void)
{
    return meeting.inside >= meeting.expected || meeting.open;
}

static int gate_open(void)
{
    return meeting.open;
}

static int two_in(void)
{
    return meeting.inside == 2;
}

/* Serve: come in, wait until all expected clients are in (or the test opens
 * the gate), then tell the client "together" or "alone". */
static void serve_meeting(int fd, void *arg)
{
    int together;

    (void)arg;
    pthread_mutex_lock(&meeting.lock);
    meeting.inside++;
    pthread_cond_broadcast(&meeting.changed);
    together = wait_until(all_in);
    pthread_mutex_unlock(&meeting.lock);
    if (write(fd, together ? "together" : "alone", together ? 8 : 5) < 0)
        return;
    pthread_mutex_lock(&meeting.lock);
    wait_until(gate_open);
    meeting.inside--;
    pthread_mutex_unlock(&meeting.lock);
}

static void refuse_busy(int fd, void *arg)
{
    (void)arg;
    if (write(fd, "busy", 4) < 0)
        return;
}

/* A server under test. Each test keeps its own in static storage, not on
 * its stack: the server's client threads may still touch it (s->active)
 * after the test has returned, until its process ends. */
struct running {
    struct server s;
    pthread_t thread, server_thread;    /* server_thread: set by run() */
    int result, err;
    char port[6];
};

/* If not 0, the errno that start() makes the server's first accept fail
 * with (inject.h), before server_run begins. */
static int first_accept_fails_with;
static int accept_failures = 1;        /* that many accepts in a row fail */

static void *run(void *arg)
{
    struct running *r = arg;

    r->server_thread = pthread_self();
    r->result = server_run(&r->s);
    r->err = errno;
    return NULL;
}

/* Start a server with max_clients on a loopback port from the OS, whose
 * serve callback is serve (with r for its arg). */
static int start_serving(struct running *r, long max_clients, int expected,
                         void (*serve)(int fd, void *arg))
{
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    int fd = sock_listen("127.0.0.1", "0");

    meeting.inside = 0;
    meeting.expected = expected;
    meeting.open = 0;
    if (fd < 0 || getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
        EXPECT(0, "sock_listen on loopback failed: %s", strerror(errno));
        return -1;
    }
    snprintf(r->port, sizeof r->port, "%u", ntohs(sin.sin_port));
    r->s = (struct server){.listenfd = fd, .max_clients = max_clients, .serve = serve,
                           .refuse = refuse_busy, .arg = r};
    if (first_accept_fails_with != 0)
        inject_fail_times(INJECT_ACCEPT, fd, first_accept_fails_with, accept_failures);
    pthread_create(&r->thread, NULL, run, r);
    return 0;
}

/* Start a server with max_clients whose serve callback is serve_meeting. */
static int start(struct running *r, long max_clients, int expected)
{
    return start_serving(r, max_clients, expected, serve_meeting);
}

/* Let every serve return, shut the listener down, and join the server. */
static void stop(struct running *r)
{
    pthread_mutex_lock(&meeting.lock);
    meeting.open = 1;
    pthread_cond_broadcast(&meeting.changed);
    pthread_mutex_unlock(&meeting.lock);
    shutdown(r->s.listenfd, SHUT_RDWR);
    pthread_join(r->thread, NULL);
    close(r->s.listenfd);
}

/* A client of r's server, which gives up reading after 3 s. */
static int client(const struct running *r)
{
    struct timeval limit = {3, 0};
    int fd = sock_connect("127.0.0.1", r->port);

    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    return fd;
}

/* Read what the server sends on fd until it closes, into buf[size].
 * Returns 1 if the server closed the connection, 0 if the read ended
 * otherwise (3 s passed, buf filled, an error). */
static int read_reply(int fd, char *buf, size_t size)
{
    size_t len = 0;
    ssize_t n = -1;

    while (len + 1 < size && (n = read(fd, buf + len, size - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    return n == 0;
}

static void test_serves_clients_at_once(void)
{
    static struct running r;
    int fds[3];
    char got[16];

    if (start(&r, 10, 3) < 0)
        return;
    for (int i = 0; i < 3; i++)
        fds[i] = client(&r);
    for (int i = 0; i < 3; i++) {
        read_reply(fds[i], got, 9);
        EXPECT(strcmp(got, "together") == 0, "client %d of 3 connected at once got \"%s\", "
               "expected serve()'s \"together\": %s", i + 1, got,
               strcmp(got, "alone") == 0 ? "its serve() ran while the others were not being "
               "served; serve each client in a thread of its own" : "nothing came in 3 s: was "
               "its serve() called with its own connection? (a thread handed &fd may read the "
               "next client's)");
        close(fds[i]);
    }
    stop(&r);
}

static void test_bound_refuses_the_extra_client(void)
{
    static struct running r;
    char got[16] = "";
    int fds[3];

    if (start(&r, 2, 2) < 0)
        return;
    fds[0] = client(&r);
    fds[1] = client(&r);
    pthread_mutex_lock(&meeting.lock);
    wait_until(two_in);                     /* both in serve, held there */
    pthread_mutex_unlock(&meeting.lock);
    fds[2] = client(&r);
    read_reply(fds[2], got, sizeof got);
    EXPECT(strcmp(got, "busy") == 0, "with max_clients 2 and 2 clients being served, a "
           "third got \"%s\", expected refuse()'s \"busy\" at once", got);
    stop(&r);
    for (int i = 0; i < 3; i++)
        close(fds[i]);
}

static void test_connections_closed_and_slots_freed(void)
{
    static struct running r;
    char got[16];

    if (start(&r, 1, 1) < 0)
        return;
    pthread_mutex_lock(&meeting.lock);
    meeting.open = 1;                       /* serve returns at once */
    pthread_mutex_unlock(&meeting.lock);
    for (int i = 0; i < 5; i++) {
        int fd = client(&r), closed = read_reply(fd, got, sizeof got);

        EXPECT(strcmp(got, "together") == 0, "client %d, one after another with "
               "max_clients 1, got \"%s\", expected \"together\": is each slot given back "
               "before the close?", i + 1, got);
        EXPECT(closed, "client %d got \"%s\", and then the connection stayed open for 3 s "
               "after serve() returned: close each connection once serve returns", i + 1, got);
        close(fd);
        if (!closed)
            break;
    }
    stop(&r);
}

/* The active count when the watched connection was closed (-1: never),
 * and whether serve ran in a thread other than server_run's. */
static atomic_long active_at_close = -1;
static atomic_int served_elsewhere;

static void note_active(int fd, void *arg)
{
    struct running *r = arg;

    (void)fd;
    atomic_store(&active_at_close, atomic_load(&r->s.active));
}

/* Serve: watch for this connection's close (inject.h) and say "served". */
static void serve_watched(int fd, void *arg)
{
    struct running *r = arg;

    atomic_store(&served_elsewhere, !pthread_equal(pthread_self(), r->server_thread));
    inject_watch_close(fd, note_active, arg);
    if (write(fd, "served", 6) < 0)
        return;
}

/* One client, max_clients 1: when its connection is closed, its slot must
 * already be back (s->active 0). A slot given back after the close leaves
 * a moment when the client has its answer, connects again and is refused. */
static void test_slot_given_back_before_close(void)
{
    static struct running r;
    char got[16] = "";
    int fd, closed;

    atomic_store(&active_at_close, -1);
    if (start_serving(&r, 1, 1, serve_watched) < 0)
        return;
    fd = client(&r);
    closed = read_reply(fd, got, sizeof got);
    EXPECT(strcmp(got, "served") == 0 && closed, "a client got \"%s\" and %s, expected "
           "serve()'s \"served\" and then the close", got,
           closed ? "the close" : "no close in 3 s");
    EXPECT(atomic_load(&served_elsewhere), "serve() ran in server_run's own thread: serve "
           "each client in a thread of its own");
    EXPECT(atomic_load(&active_at_close) == 0, "when the client's connection was closed, "
           "s->active was %ld, expected 0: give the slot back (atomic_fetch_sub) before "
           "close(fd), so that a client that sees the close and comes back finds it free",
           atomic_load(&active_at_close));
    stop(&r);
    close(fd);
}

/* pthread_create fails once (inject.h): that client is refused at once,
 * its connection closed, and its slot given back: the next is served. */
static void test_thread_failure_refuses(void)
{
    static struct running r;
    char got[16] = "", next[16] = "";
    int fd, closed, fd2, closed2;

    if (start(&r, 1, 1) < 0)
        return;
    pthread_mutex_lock(&meeting.lock);
    meeting.open = 1;                       /* serve returns at once */
    pthread_mutex_unlock(&meeting.lock);
    inject_fail_next(INJECT_THREAD, -1, EAGAIN);
    fd = client(&r);
    closed = read_reply(fd, got, sizeof got);
    EXPECT(inject_happened(), "server_run did not call pthread_create for a client");
    EXPECT(strcmp(got, "busy") == 0 && closed, "pthread_create failed with EAGAIN for a "
           "client, which got \"%s\" and %s; expected refuse()'s \"busy\" and the close: "
           "when pthread_create fails, refuse the client and close its connection", got,
           closed ? "the close" : "no close in 3 s");
    fd2 = client(&r);
    closed2 = read_reply(fd2, next, sizeof next);
    EXPECT(strcmp(next, "together") == 0 && closed2, "with max_clients 1, the client after "
           "the one whose pthread_create failed got \"%s\"%s, expected \"together\": give "
           "back the slot of a client you could not start a thread for", next,
           closed2 ? "" : " and no close in 3 s");
    stop(&r);
    close(fd);
    close(fd2);
}

/* With max_clients 2: two clients held, a third refused; once the two are
 * done (their connections closed, so their slots are back), two clients at
 * once are served again: the refused client's slot was given back too. */
static void test_refused_slot_given_back(void)
{
    static struct running r;
    char got[16] = "", again[2][16];
    int fds[3], next[2];

    if (start(&r, 2, 2) < 0)
        return;
    fds[0] = client(&r);
    fds[1] = client(&r);
    pthread_mutex_lock(&meeting.lock);
    wait_until(two_in);                     /* both in serve, held there */
    pthread_mutex_unlock(&meeting.lock);
    fds[2] = client(&r);
    read_reply(fds[2], got, sizeof got);    /* "busy", then the close */
    pthread_mutex_lock(&meeting.lock);
    meeting.open = 1;                       /* the two return */
    pthread_cond_broadcast(&meeting.changed);
    pthread_mutex_unlock(&meeting.lock);
    for (int i = 0; i < 2; i++)
        read_reply(fds[i], again[i], sizeof again[i]);  /* to the close: slot back */
    pthread_mutex_lock(&meeting.lock);
    meeting.inside = 0;
    meeting.expected = 2;
    meeting.open = 0;
    pthread_mutex_unlock(&meeting.lock);
    for (int i = 0; i < 2; i++)
        next[i] = client(&r);
    for (int i = 0; i < 2; i++) {
        read_reply(next[i], again[i], sizeof again[i]);
        if (i == 0) {
            pthread_mutex_lock(&meeting.lock);
            meeting.open = 1;
            pthread_cond_broadcast(&meeting.changed);
            pthread_mutex_unlock(&meeting.lock);
        }
    }
    EXPECT(strcmp(got, "busy") == 0 && strcmp(again[0], "together") == 0 &&
           strcmp(again[1], "together") == 0, "with max_clients 2: 2 clients held, a third "
           "got \"%s\" (expected \"busy\"); once the two were done, 2 clients at once got "
           "\"%s\" and \"%s\", expected \"together\" twice: give back the slot of a client "
           "you refuse", got, again[0], again[1]);
    stop(&r);
    for (int i = 0; i < 3; i++)
        close(fds[i]);
    close(next[0]);
    close(next[1]);
}

/* The server's first accept fails with EMFILE, as when the process has no
 * descriptor left: server_run waits a moment and goes on, and the client
 * waiting in the backlog is served. */
static void test_goes_on_after_emfile(void)
{
    static struct running r;
    char got[16] = "";
    int fd, failed;

    first_accept_fails_with = EMFILE;
    failed = start(&r, 4, 1);
    first_accept_fails_with = 0;
    if (failed < 0)
        return;
    fd = client(&r);
    read_reply(fd, got, 9);
    EXPECT(inject_happened(), "server_run did not call accept (through sock_accept) on its "
           "listener");
    EXPECT(strcmp(got, "together") == 0, "after an accept that failed with EMFILE (no "
           "descriptor free), the next client got \"%s\", expected serve()'s \"together\": "
           "on EMFILE or ENFILE, wait a moment and go on (did server_run return?)", got);
    stop(&r);
    close(fd);
}

/* 50 accepts in a row fail with EMFILE: server_run pauses after each
 * (10 ms asked; 1 ms at least here) rather than spinning on accept at full
 * CPU while no descriptor is free, and then serves the client. */
static void test_emfile_pauses(void)
{
    static struct running r;
    char got[16] = "";
    int fd, failed;

    first_accept_fails_with = EMFILE;
    accept_failures = 50;
    failed = start(&r, 4, 1);
    first_accept_fails_with = 0;
    accept_failures = 1;
    if (failed < 0)
        return;
    fd = client(&r);
    read_reply(fd, got, 9);
    EXPECT(strcmp(got, "together") == 0, "after 50 accepts that failed with EMFILE, the "
           "client got \"%s\", expected serve()'s \"together\"", got);
    EXPECT(inject_span() >= 0.049, "50 accepts failed with EMFILE within %.1f ms: server_run "
           "calls accept again at once, spinning at full CPU while no descriptor is free; "
           "wait a moment (nanosleep, 10 ms) after EMFILE or ENFILE", inject_span() * 1000);
    stop(&r);
    close(fd);
}

static void test_returns_when_listener_shut(void)
{
    static struct running r;

    if (start(&r, 4, 1) < 0)
        return;
    stop(&r);                               /* joins: hangs here if it never returns */
    EXPECT(r.result == -1, "server_run returned %d after its listener was shut down, "
           "expected -1", r.result);
}

UNIT_SUITE(server,
           {"serves_clients_at_once", test_serves_clients_at_once},
           {"bound_refuses_the_extra_client", test_bound_refuses_the_extra_client},
           {"connections_closed_and_slots_freed", test_connections_closed_and_slots_freed},
           {"refused_slot_given_back", test_refused_slot_given_back},
           {"goes_on_after_emfile", test_goes_on_after_emfile},
           {"emfile_pauses", test_emfile_pauses},
           {"slot_given_back_before_close", test_slot_given_back_before_close},
           {"thread_failure_refuses", test_thread_failure_refuses},
           {"returns_when_listener_shut", test_returns_when_listener_shut})
