/* Unit tests of tunnel over socketpairs: the port list, and the relay in
 * both directions with half-close, run in a thread of its own. */
#include "tunnel.h"
#include "unit.h"

#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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

struct relay_run {
    int client, origin, idle_ms, result;
    long long to_client;
};

static void *run_relay(void *arg)
{
    struct relay_run *r = arg;

    r->result = tunnel_relay(r->client, r->origin, r->idle_ms, &r->to_client);
    return NULL;
}

/* Read exactly n bytes from fd into buf; returns how many came. */
static size_t read_n(int fd, char *buf, size_t n)
{
    size_t got = 0;
    ssize_t r;

    while (got < n && (r = read(fd, buf + got, n - got)) > 0)
        got += (size_t)r;
    return got;
}

static void test_relay_both_ways(void)
{
    int c[2], o[2];
    char buf[16];
    pthread_t t;
    struct relay_run r = {.idle_ms = 5000};

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, c) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, o) < 0)
        return (void)EXPECT(0, "socketpair failed");
    r.client = c[1];
    r.origin = o[0];
    pthread_create(&t, NULL, run_relay, &r);
    EXPECT(write(c[0], "up!", 3) == 3 && read_n(o[1], buf, 3) == 3 && memcmp(buf, "up!", 3) == 0,
           "bytes from the client did not reach the origin");
    EXPECT(write(o[1], "down", 4) == 4 && read_n(c[0], buf, 4) == 4 &&
           memcmp(buf, "down", 4) == 0, "bytes from the origin did not reach the client");
    shutdown(c[0], SHUT_WR);            /* the client is done sending */
    EXPECT(read(o[1], buf, 1) == 0, "the client's EOF did not reach the origin: shutdown(SHUT_WR)");
    EXPECT(write(o[1], "late", 4) == 4 && read_n(c[0], buf, 4) == 4 &&
           memcmp(buf, "late", 4) == 0, "after the client's EOF, the origin's bytes no longer "
           "reached it: keep relaying the other direction (half-close)");
    close(o[1]);                        /* now the origin is done too */
    EXPECT(read(c[0], buf, 1) == 0, "the origin's EOF did not reach the client");
    pthread_join(t, NULL);
    EXPECT(r.result == 0 && r.to_client == 8, "tunnel_relay returned %d and counted %lld bytes "
           "to the client, expected 0 and 8", r.result, r.to_client);
    close(c[0]);
    close(c[1]);
    close(o[0]);
}

static void test_relay_gives_up_when_idle(void)
{
    int c[2], o[2];
    long long to_client = 0;
    int r;

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, c) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, o) < 0)
        return (void)EXPECT(0, "socketpair failed");
    r = tunnel_relay(c[1], o[0], 100, &to_client);
    EXPECT(r == -1, "tunnel_relay with no traffic for its 100 ms returned %d, expected -1", r);
    for (int i = 0; i < 2; i++) {
        close(c[i]);
        close(o[i]);
    }
}

UNIT_SUITE(tunnel,
           {"parse_ports", test_parse_ports},
           {"relay_both_ways", test_relay_both_ways},
           {"relay_gives_up_when_idle", test_relay_gives_up_when_idle})
