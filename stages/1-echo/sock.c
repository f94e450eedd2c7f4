/* sock: TCP sockets through getaddrinfo. See sock.h for the contracts. */
#include "sock.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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
