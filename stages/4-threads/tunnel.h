/* tunnel: CONNECT. The proxy connects to host:port for the client, answers
 * "200 Connection established", then relays bytes both ways, unread and
 * unchanged (for HTTPS, TLS runs end to end through it). */
#ifndef TUNNEL_H
#define TUNNEL_H

#include "http.h"
#include "log.h"
#include "rio.h"

#include <stddef.h>

#define TUNNEL_MAX_PORTS 32

/* The ports CONNECT may reach (Squid's SSL_ports: 443 by default). */
struct tunnel_ports {
    unsigned port[TUNNEL_MAX_PORTS];
    size_t n;
};

/* Parse a comma-separated list of ports ("443,8443") into p. Returns 0, or
 * -1 if an element is not a port from 1 to 65535 or there are too many. */
int tunnel_parse_ports(const char *list, struct tunnel_ports *p);

/* Relay between client and origin until both directions are done: when one
 * side reaches EOF, shut down writing to the other (half-close) and keep
 * relaying the other direction. Gives up after idle_ms with no traffic, or
 * on an error. Adds to *to_client the bytes sent to the client. Returns 0 if
 * both directions ended cleanly, -1 if not. */
int tunnel_relay(int client, int origin, int idle_ms, long long *to_client);

/* Serve the CONNECT request req from the client on connfd, whose buffered
 * reader rp may already hold the first bytes meant for the origin: check the
 * port against allowed, connect, answer 200, and relay until both sides are
 * done. Fills in e's status, bytes and peer. Returns 0 once the tunnel has
 * closed, or the negated status the client should get instead: -403 for a
 * port not allowed, -502 if the origin cannot be reached, -504 if it does
 * not answer within idle_ms. */
int tunnel_serve(int connfd, struct rio *rp, const struct http_request *req,
                 const struct tunnel_ports *allowed, int idle_ms, struct log_entry *e);

#endif
