/* sock: TCP sockets through getaddrinfo. See sock.h for the contracts. */
#include "sock.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* Look up host:port for a TCP socket; flags adds AI_PASSIVE for a listener.
 * Returns 0, with the addresses in *res (freeaddrinfo frees them), or
 * getaddrinfo's error code. */
static int sock_resolve(const char *host, const char *port, int flags,
                        struct addrinfo **res)
{
    /* ==== stage 1 exercise: sock_resolve ==== */
    struct addrinfo hints;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;        /* IPv4 or IPv6, whatever host has */
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = flags | AI_NUMERICSERV;
    return getaddrinfo(host, port, &hints, res);
    /* ==== end of stage 1 exercise: sock_resolve ==== */
}

/* Close fd without disturbing errno, and return -1. */
static int sock_fail(int fd)
{
    int saved = errno;

    close(fd);
    errno = saved;
    return -1;
}

/* Free res without disturbing errno, and return fd. */
static int sock_done(struct addrinfo *res, int fd)
{
    int saved = errno;

    freeaddrinfo(res);
    errno = saved;
    return fd;
}

/* ==== stage 1 exercise: helpers 1 ==== */
/* A socket bound to ai and listening, or -1 with errno set. */
static int sock_listen_on(const struct addrinfo *ai)
{
    int one = 1, zero = 0;
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);

    if (fd < 0)
        return -1;
    /* Rebind at once after a restart, despite old connections in TIME_WAIT. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
        return sock_fail(fd);
    /* An IPv6 socket takes IPv4 clients too, as ::ffff:a.b.c.d. */
    if (ai->ai_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) < 0)
        return sock_fail(fd);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0)
        return sock_fail(fd);
    return fd;
}

/* A socket connected to ai, or -1 with errno set. */
static int sock_connect_to(const struct addrinfo *ai)
{
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);

    if (fd < 0)
        return -1;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)
        return sock_fail(fd);
    return fd;
}
/* ==== end of stage 1 exercise: helpers 1 ==== */

int sock_listen(const char *host, const char *port)
{
    /* ==== stage 1 exercise: sock_listen ==== */
    struct addrinfo *res, *p;
    int fd = -1;

    if (sock_resolve(host, port, AI_PASSIVE, &res) != 0)
        return SOCK_ENAME;
    /* With no host, try the IPv6 wildcard [::] first: it serves both families. */
    for (p = res; host == NULL && p != NULL && fd < 0; p = p->ai_next)
        if (p->ai_family == AF_INET6)
            fd = sock_listen_on(p);
    for (p = res; p != NULL && fd < 0; p = p->ai_next)
        fd = sock_listen_on(p);
    return sock_done(res, fd);
    /* ==== end of stage 1 exercise: sock_listen ==== */
}

int sock_connect(const char *host, const char *port)
{
    /* ==== stage 1 exercise: sock_connect ==== */
    struct addrinfo *res, *p;
    int fd = -1;

    if (sock_resolve(host, port, 0, &res) != 0)
        return SOCK_ENAME;
    for (p = res; p != NULL && fd < 0; p = p->ai_next)
        fd = sock_connect_to(p);
    return sock_done(res, fd);
    /* ==== end of stage 1 exercise: sock_connect ==== */
}

/* ==== stage 1 exercise: helpers 2 ==== */
/* Errors of accept(2) that concern one client only, so that trying again
 * makes sense. Linux also reports there a network error already pending on
 * the new connection (man 2 accept, "Error handling"). */
static const int accept_transient[] = {
    ECONNABORTED, EINTR, ENOBUFS, ENOMEM, EPROTO, EPERM,
    ENETDOWN, ENOPROTOOPT, EHOSTUNREACH, ENETUNREACH,
};

static int sock_transient(int err)
{
    for (size_t i = 0; i < sizeof accept_transient / sizeof accept_transient[0]; i++)
        if (err == accept_transient[i])
            return 1;
    return 0;
}
/* ==== end of stage 1 exercise: helpers 2 ==== */

int sock_accept(int listenfd)
{
    /* ==== stage 1 exercise: sock_accept ==== */
    for (;;) {
        int fd = accept(listenfd, NULL, NULL);
        if (fd >= 0 || !sock_transient(errno))
            return fd;
    }
    /* ==== end of stage 1 exercise: sock_accept ==== */
}

int sock_nodelay(int fd)
{
    int on = 1;

    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
}

int sock_send_timeout(int fd, int timeout_ms)
{
    struct timeval limit = {.tv_sec = timeout_ms / 1000, .tv_usec = timeout_ms % 1000 * 1000};

    return setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
}

int sock_peer_name(int fd, char *buf, size_t size)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;

    if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0 ||
        getnameinfo((struct sockaddr *)&ss, len, buf, (socklen_t)size, NULL, 0,
                    NI_NUMERICHOST) != 0)
        return -1;
    if (strncmp(buf, "::ffff:", 7) == 0)       /* an IPv4 client of an IPv6 socket */
        memmove(buf, buf + 7, strlen(buf + 7) + 1);
    return 0;
}

/* A socket connected to ai within ms milliseconds, or -1 with errno set
 * (ETIMEDOUT if it took longer). The socket is blocking again on return,
 * and a write to it that waits ms with nothing taken fails (EAGAIN). */
static int sock_connect_within(const struct addrinfo *ai, int ms)
{
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol), flags, err = 0;
    struct pollfd pfd = {.events = POLLOUT};
    socklen_t len = sizeof err;

    if (fd < 0)
        return -1;
    flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return sock_fail(fd);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        if (errno != EINPROGRESS)
            return sock_fail(fd);
        pfd.fd = fd;
        while ((err = poll(&pfd, 1, ms)) < 0 && errno == EINTR)
            ;
        if (err == 0)
            errno = ETIMEDOUT;
        if (err <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 ||
            (err != 0 && (errno = err)))
            return sock_fail(fd);
    }
    if (fcntl(fd, F_SETFL, flags) < 0 || sock_send_timeout(fd, ms) < 0)
        return sock_fail(fd);
    return fd;
}

int sock_connect_timeout(const char *host, const char *port, int timeout_ms)
{
    struct addrinfo *res, *p;
    int fd = -1, timed_out = 0;

    if (sock_resolve(host, port, 0, &res) != 0)
        return SOCK_ENAME;
    for (p = res; p != NULL && fd < 0; p = p->ai_next)
        if ((fd = sock_connect_within(p, timeout_ms)) < 0 && errno == ETIMEDOUT)
            timed_out = 1;
    if (fd < 0 && timed_out)
        errno = ETIMEDOUT;
    return sock_done(res, fd);
}

int sock_connect_status(int err)
{
    if (err == ETIMEDOUT)
        return -504;
    if (err == EMFILE || err == ENFILE)
        return -503;
    return -502;
}

int sock_parse_cidr(const char *text, struct sock_cidr *c)
{
    char addr[64];
    const char *slash = strchr(text, '/');
    size_t len = slash ? (size_t)(slash - text) : strlen(text);
    char *end;
    long bits;

    if (len == 0 || len >= sizeof addr)
        return -1;
    memcpy(addr, text, len);
    addr[len] = '\0';
    c->family = strchr(addr, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(c->family, addr, c->addr) != 1)
        return -1;
    bits = c->family == AF_INET ? 32 : 128;
    if (slash != NULL) {
        errno = 0;
        long b = strtol(slash + 1, &end, 10);
        if (errno != 0 || end == slash + 1 || *end != '\0' || b < 0 || b > bits)
            return -1;
        bits = b;
    }
    c->bits = (int)bits;
    return 0;
}

/* Whether the first bits bits of a and b agree. */
static int same_prefix(const unsigned char *a, const unsigned char *b, int bits)
{
    int whole = bits / 8, rest = bits % 8;

    return memcmp(a, b, (size_t)whole) == 0 &&
           (rest == 0 || ((a[whole] ^ b[whole]) & (0xff << (8 - rest)) & 0xff) == 0);
}

int sock_peer_in(int fd, const struct sock_cidr *blocks, size_t n)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    const unsigned char *addr;
    int family;

    if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
        return 0;
    family = ss.ss_family;
    addr = family == AF_INET ? (const unsigned char *)&((struct sockaddr_in *)&ss)->sin_addr
                             : ((struct sockaddr_in6 *)&ss)->sin6_addr.s6_addr;
    if (family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&ss)->sin6_addr)) {
        family = AF_INET;
        addr += 12;
    }
    for (size_t i = 0; i < n; i++)
        if (blocks[i].family == family && same_prefix(addr, blocks[i].addr, blocks[i].bits))
            return 1;
    return 0;
}
