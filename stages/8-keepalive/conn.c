/* conn: a client's connection. See conn.h for the contracts. */
#include "conn.h"

#include <errno.h>
#include <stdio.h>

int conn_read_request(struct rio *rp, char *buf, int timeout_ms, struct http_request *req)
{
    /* ==== stage 2 exercise: conn_read_request ==== */
    size_t len = 0, room;
    ssize_t n;
    int r = HTTP_INCOMPLETE;

    rio_set_deadline(rp, timeout_ms);
    while (r == HTTP_INCOMPLETE) {
        room = CONN_HEAD_SIZE - len;
        if (room > HTTP_MAX_LINE + 4)
            room = HTTP_MAX_LINE + 4;   /* a request line too long shows at once */
        if ((n = rio_readline(rp, buf + len, room)) == 0)
            return len == 0 ? 0 : -400;                 /* the client closed mid-head */
        if (n < 0 && n != RIO_TOOLONG)
            return errno == ETIMEDOUT ? -408 : -1;
        len += n == RIO_TOOLONG ? room - 1 : (size_t)n; /* a long line: the parser decides */
        if (n == RIO_TOOLONG || (n <= 2 && buf[len - 1] == '\n') || len > HTTP_MAX_HEAD)
            r = http_parse_request(buf, len, req);      /* here only: at every line, O(n^2) */
    }
    rio_set_deadline(rp, -1);
    return r;
    /* ==== end of stage 2 exercise: conn_read_request ==== */
}

long conn_send(int fd, int status, const char *type, const char *body, size_t n, int head_only)
{
    char head[256];
    int len = snprintf(head, sizeof head,
                       "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                       "Connection: close\r\n\r\n",
                       status, http_reason(status), type, n);

    if (len < 0 || (size_t)len >= sizeof head) {
        errno = EOVERFLOW;
        return -1;
    }
    if (rio_writen(fd, head, (size_t)len) < 0 ||
        (!head_only && rio_writen(fd, body, n) < 0))
        return -1;
    return len + (head_only ? 0 : (long)n);
}

long conn_send_error(int fd, int status)
{
    char page[512];
    int n = snprintf(page, sizeof page,
                     "<!DOCTYPE html>\n<html><head><title>%d %s</title></head>\n"
                     "<body><h1>%d %s</h1></body></html>\n",
                     status, http_reason(status), status, http_reason(status));

    return conn_send(fd, status, "text/html; charset=utf-8", page, (size_t)n, 0);
}
