/* Unit tests of sock over loopback. Every port comes from the OS (port "0"). */
#include "inject.h"
#include "sock.h"
#include "unit.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The port fd is bound to, as a string in buf[6]. */
static const char *port_of(int fd, char buf[6])
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    unsigned port = 0;

    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
        port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                              : ((struct sockaddr_in *)&ss)->sin_port);
    snprintf(buf, 6, "%u", port);
    return buf;
}

/* Connect to listenfd's port at host, accept, and pass a byte each way.
 * Returns whether it all worked; says what failed if not. */
static int round_trip(int listenfd, const char *host)
{
    char port[6], c = 0;
    int cfd, afd = -1, ok = 0;

    cfd = sock_connect(host, port_of(listenfd, port));
    EXPECT(cfd >= 0, "sock_connect(\"%s\", \"%s\") returned %d (%s)", host, port, cfd,
           cfd == -1 ? strerror(errno) : "SOCK_ENAME");
    if (cfd < 0)
        return 0;
    afd = sock_accept(listenfd);
    if (afd >= 0 && write(cfd, "x", 1) == 1 && read(afd, &c, 1) == 1 && c == 'x' &&
        write(afd, "y", 1) == 1 && read(cfd, &c, 1) == 1 && c == 'y')
        ok = 1;
    EXPECT(ok, "connected to %s port %s, but sock_accept() or a byte each way failed", host, port);
    if (afd >= 0)
        close(afd);
    close(cfd);
    return ok;
}

static void test_listen_and_connect_ipv4(void)
{
    int fd = sock_listen("127.0.0.1", "0");

    EXPECT(fd >= 0, "sock_listen(\"127.0.0.1\", \"0\") returned %d (%s)", fd, strerror(errno));
    if (fd >= 0) {
        round_trip(fd, "127.0.0.1");
        close(fd);
    }
}

static void test_listen_and_connect_ipv6(void)
{
    int fd = sock_listen("::1", "0");

    EXPECT(fd >= 0, "sock_listen(\"::1\", \"0\") returned %d (%s); this test needs IPv6 "
           "on the loopback interface", fd, strerror(errno));
    if (fd >= 0) {
        round_trip(fd, "::1");
        close(fd);
    }
}

/* With no host, one listener serves IPv4 and IPv6 clients alike. */
static void test_listen_any_serves_both(void)
{
    int fd = sock_listen(NULL, "0");

    EXPECT(fd >= 0, "sock_listen(NULL, \"0\") returned %d (%s)", fd, strerror(errno));
    if (fd >= 0) {
        round_trip(fd, "127.0.0.1");
        round_trip(fd, "::1");
        close(fd);
    }
}

static void test_connect_refused(void)
{
    char port[6];
    int fd = sock_listen("127.0.0.1", "0"), c;

    if (fd < 0)
        return (void)EXPECT(0, "sock_listen(\"127.0.0.1\", \"0\") failed: %s", strerror(errno));
    port_of(fd, port);
    close(fd);                          /* now nothing listens there */
    errno = 0;
    c = sock_connect("127.0.0.1", port);
    EXPECT(c == -1 && errno == ECONNREFUSED, "sock_connect to a closed port returned %d, "
           "errno %s; expected -1 and ECONNREFUSED", c, strerror(errno));
    if (c >= 0)
        close(c);
}

static void test_bad_names(void)
{
    int l = sock_listen(NULL, "notaport"), c = sock_connect("127.0.0.1", "notaport");

    EXPECT(l == SOCK_ENAME, "sock_listen(NULL, \"notaport\") returned %d, expected "
           "SOCK_ENAME (%d)", l, SOCK_ENAME);
    EXPECT(c == SOCK_ENAME, "sock_connect(\"127.0.0.1\", \"notaport\") returned %d, "
           "expected SOCK_ENAME (%d)", c, SOCK_ENAME);
    if (l >= 0)
        close(l);
    if (c >= 0)
        close(c);
}

static void test_port_in_use(void)
{
    char port[6];
    int a = sock_listen("127.0.0.1", "0"), b;

    if (a < 0)
        return (void)EXPECT(0, "sock_listen(\"127.0.0.1\", \"0\") failed: %s", strerror(errno));
    errno = 0;
    b = sock_listen("127.0.0.1", port_of(a, port));
    EXPECT(b == -1 && errno == EADDRINUSE, "a second sock_listen on port %s returned %d, "
           "errno %s; expected -1 and EADDRINUSE", port, b, strerror(errno));
    if (b >= 0)
        close(b);
    close(a);
}

/* After the server closes a connection first, its port sits in TIME_WAIT;
 * only SO_REUSEADDR lets a restarted server listen there again at once. */
static void test_relisten_after_close(void)
{
    char port[6];
    int l = sock_listen("127.0.0.1", "0"), c, a, again;

    if (l < 0)
        return (void)EXPECT(0, "sock_listen(\"127.0.0.1\", \"0\") failed: %s", strerror(errno));
    port_of(l, port);
    c = sock_connect("127.0.0.1", port);
    a = c >= 0 ? accept(l, NULL, NULL) : -1;
    if (a >= 0)
        close(a);                       /* the server side closes first */
    close(l);
    if (c >= 0)
        close(c);
    again = sock_listen("127.0.0.1", port);
    EXPECT(a >= 0 && again >= 0, "listening again on port %s after a connection returned "
           "%d (%s); is SO_REUSEADDR set?", port, again, strerror(errno));
    if (again >= 0)
        close(again);
}

/* sock_accept hands over clients, and fails only when the listener is bad. */
static void test_accept(void)
{
    int fd = sock_listen("127.0.0.1", "0"), r;

    EXPECT(fd >= 0, "sock_listen(\"127.0.0.1\", \"0\") returned %d (%s)", fd, strerror(errno));
    if (fd >= 0) {
        round_trip(fd, "127.0.0.1");
        close(fd);
    }
    errno = 0;
    r = sock_accept(-1);
    EXPECT(r == -1 && errno == EBADF, "sock_accept(-1) returned %d, errno %s; expected -1 "
           "and EBADF, at once", r, strerror(errno));
}

/* accept(2) can fail because of one client, and the next would do: it reset
 * before it was taken (ECONNABORTED), or a signal came first (EINTR).
 * sock_accept calls it again. inject.h makes the first accept fail so. */
static void test_accept_retries(void)
{
    static const struct {
        int err;
        const char *name, *why;
    } cases[] = {
        {ECONNABORTED, "ECONNABORTED", "a client reset its connection before it was taken; "
         "that concerns that client only"},
        {EINTR, "EINTR", "a signal interrupted accept before it took a client"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char port[6], c = 0;
        int fd = sock_listen("127.0.0.1", "0"), cfd, afd, err;

        if (fd < 0)
            return (void)EXPECT(0, "sock_listen(\"127.0.0.1\", \"0\") returned %d (%s)", fd,
                                strerror(errno));
        if ((cfd = sock_connect("127.0.0.1", port_of(fd, port))) < 0) {
            EXPECT(0, "sock_connect to the listener returned %d (%s)", cfd, strerror(errno));
            close(fd);
            return;
        }
        inject_fail_next(INJECT_ACCEPT, fd, cases[i].err);
        errno = 0;
        afd = sock_accept(fd);          /* a client waits: it must be taken */
        err = errno;
        if (afd == -1 && err == cases[i].err)
            EXPECT(0, "sock_accept returned -1 with errno %s: %s. Call accept again",
                   cases[i].name, cases[i].why);
        else
            EXPECT(afd >= 0 && write(cfd, "x", 1) == 1 && read(afd, &c, 1) == 1 && c == 'x',
                   "sock_accept, its first accept(2) failing with %s, returned %d%s%s; "
                   "expected the waiting client's connection", cases[i].name, afd,
                   afd < 0 ? ", errno " : "", afd < 0 ? strerror(err) : "");
        if (afd >= 0)
            close(afd);
        close(cfd);
        close(fd);
    }
}

UNIT_SUITE(sock,
           {"accept", test_accept},
           {"accept_retries", test_accept_retries},
           {"listen_and_connect_ipv4", test_listen_and_connect_ipv4},
           {"listen_and_connect_ipv6", test_listen_and_connect_ipv6},
           {"listen_any_serves_both", test_listen_any_serves_both},
           {"connect_refused", test_connect_refused},
           {"bad_names", test_bad_names},
           {"port_in_use", test_port_in_use},
           {"relisten_after_close", test_relisten_after_close})
