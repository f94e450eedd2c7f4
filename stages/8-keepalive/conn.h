/* conn: a client's connection as a server sees it: read the request head,
 * send a reply. */
#ifndef CONN_H
#define CONN_H

#include "http.h"
#include "rio.h"

/* The size of conn_read_request's buffer: the largest head accepted, and
 * one byte more to tell that a head is larger. */
#define CONN_HEAD_SIZE (HTTP_MAX_HEAD + 2)

/* Read a request head from rp into buf (CONN_HEAD_SIZE bytes) and parse it
 * into req, allowing timeout_ms for all of it. Returns the head's length; 0 if
 * the client closed before sending a byte; -1 with errno set if reading
 * failed; or the negated HTTP status the client should get: -408 if the head
 * was not in on time, -400 if the client closed mid-head, or the parser's
 * error. On success req points into buf. */
int conn_read_request(struct rio *rp, char *buf, int timeout_ms, struct http_request *req);

/* Send fd a whole reply: the status line, Content-Type type, Content-Length n,
 * Connection: close, then body[0..n) unless head_only. Returns the number of
 * bytes sent, or -1 with errno set. */
long conn_send(int fd, int status, const char *type, const char *body, size_t n, int head_only);

/* Send fd the error reply for status: a short HTML page that names it.
 * Returns the number of bytes sent, or -1 with errno set. */
long conn_send_error(int fd, int status);

#endif
