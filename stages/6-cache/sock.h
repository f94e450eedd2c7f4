/* sock: TCP sockets through getaddrinfo, for IPv4 and IPv6 alike. */
#ifndef SOCK_H
#define SOCK_H

#include <stddef.h>

/* Returned instead of -1 when getaddrinfo cannot resolve the host or port;
 * errno is then not meaningful. */
#define SOCK_ENAME (-3)

/* Open a TCP socket listening on host:port, with SO_REUSEADDR set. A NULL host
 * means every local address, IPv6 and IPv4 on one socket where the system allows
 * it. Returns the listening descriptor (the caller closes it), -1 with errno set
 * on a system error (EADDRINUSE: the port is taken), or SOCK_ENAME. */
int sock_listen(const char *host, const char *port);

/* Connect to host:port over TCP, trying each address getaddrinfo returns in
 * turn. Returns the connected descriptor (the caller closes it), -1 with errno
 * set from the last address tried, or SOCK_ENAME. */
int sock_connect(const char *host, const char *port);

/* Accept the next client on listenfd, going on after failures that concern
 * one client only (it reset before we took it, a signal came, memory was
 * short for a moment). Returns the client's descriptor (the caller closes it),
 * or -1 with errno set: listenfd is broken (EBADF, EINVAL, ENOTSOCK), or no
 * descriptor is left (EMFILE, ENFILE), which retrying at once cannot mend. */
int sock_accept(int listenfd);

/* Make every write to fd fail, with errno EAGAIN (or a short count), once
 * it has waited timeout_ms for a peer that takes nothing (SO_SNDTIMEO): a
 * peer that stops reading cannot hold a thread for ever. Returns 0, or -1
 * with errno set. */
int sock_send_timeout(int fd, int timeout_ms);

/* Write the numeric address of fd's peer ("127.0.0.1", "::1") into
 * buf[0..size), as getnameinfo(3) does: thread-safe, unlike inet_ntoa.
 * Returns 0, or -1 if it cannot be had. */
int sock_peer_name(int fd, char *buf, size_t size);

#endif
