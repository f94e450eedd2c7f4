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

/* ==== stage 1 exercise: helpers 1 ==== */
/* ==== end of stage 1 exercise: helpers 1 ==== */

int sock_listen(const char *host, const char *port)
{
    /* ==== stage 1 exercise: sock_listen ==== */
    /* TODO(stage 1): return a socket listening on host:port.
     * 1. getaddrinfo(host, port, &hints, &res) with hints zeroed (memset),
     *    then ai_family = AF_UNSPEC, ai_socktype = SOCK_STREAM and
     *    ai_flags = AI_PASSIVE | AI_NUMERICSERV. If it fails, return
     *    SOCK_ENAME. A NULL host with AI_PASSIVE gives the wildcard addresses.
     * 2. For each address in the list, until one works: socket(), then
     *    setsockopt(SO_REUSEADDR) so a restarted server can rebind at once,
     *    then bind() and listen(fd, SOMAXCONN). If a step fails, close the
     *    socket and try the next address.
     *    IPv6: for an AF_INET6 address, also setsockopt(IPPROTO_IPV6,
     *    IPV6_V6ONLY, 0), so that one socket on [::] serves IPv4 clients
     *    too; and when host is NULL, try the IPv6 addresses first (the
     *    list has 0.0.0.0 before ::, and 0.0.0.0 would serve IPv4 only).
     * 3. freeaddrinfo(res), and return the socket, or -1 with errno as the
     *    last failing call set it (EADDRINUSE: "Address already in use").
     * Read: man 3 getaddrinfo (its EXAMPLES), man 2 bind, man 7 socket. */
    (void)host;
    (void)port;
    errno = ENOSYS;
    return -1;
    /* ==== end of stage 1 exercise: sock_listen ==== */
}

int sock_connect(const char *host, const char *port)
{
    /* ==== stage 1 exercise: sock_connect ==== */
    /* TODO(stage 1): return a socket connected to host:port.
     * As in sock_listen, getaddrinfo (without AI_PASSIVE this time), and on
     * failure return SOCK_ENAME. Then for each address until one works:
     * socket() and connect(); if connect fails, close that socket and try the
     * next address (a name often has an IPv6 and an IPv4 address, and only one
     * may answer). freeaddrinfo, and return the socket or -1 with errno from
     * the last attempt (ECONNREFUSED: nothing listens there).
     * Read: man 3 getaddrinfo, man 2 connect. */
    (void)host;
    (void)port;
    errno = ENOSYS;
    return -1;
    /* ==== end of stage 1 exercise: sock_connect ==== */
}

/* ==== stage 1 exercise: helpers 2 ==== */
/* ==== end of stage 1 exercise: helpers 2 ==== */

int sock_accept(int listenfd)
{
    /* ==== stage 1 exercise: sock_accept ==== */
    /* TODO(stage 1): return accept(listenfd, NULL, NULL), but call it again
     * when it fails because of one client rather than because listenfd is
     * bad. ECONNABORTED (the client reset before we took it), EINTR (a
     * signal), ENOBUFS and ENOMEM (a shortage) are about one client, and
     * so are the network errors Linux passes on (see "Error handling" in
     * the man page): go on.
     * Anything else, return -1: EBADF, EINVAL, ENOTSOCK, EOPNOTSUPP mean
     * listenfd is broken, and EMFILE (no descriptor left) would fail again
     * at once, so retrying would spin: the caller must act.
     * Read: man 2 accept (ERRORS). */
    (void)listenfd;
    errno = ENOSYS;
    return -1;
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
