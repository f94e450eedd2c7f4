/* httpd [--header-timeout SECONDS] PORT: a single-threaded HTTP server that
 * answers each request with what the parser made of it (stage 2).
 *
 *   $ printf 'GET /a?b HTTP/1.1\r\nHost: x\r\n\r\n' | nc -N 127.0.0.1 5000
 *   HTTP/1.1 200 OK
 *   ...
 *   method: GET
 *   form: origin
 *   ...
 *
 * A request the parser refuses gets its error status instead, and a client
 * that sends nothing for --header-timeout seconds gets 408. One request per
 * connection: every reply says Connection: close. */
#include "conn.h"
#include "http.h"
#include "opt.h"
#include "rio.h"
#include "sock.h"
#include "text.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The methods this server knows; any other token gets 501 (RFC 9110 9.1). */
static const char *const known_methods[] = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
};

static const char *const form_names[] = {
    [HTTP_FORM_ORIGIN] = "origin",
    [HTTP_FORM_ABSOLUTE] = "absolute",
    [HTTP_FORM_AUTHORITY] = "authority",
    [HTTP_FORM_ASTERISK] = "asterisk",
};

static int known(const struct http_request *req)
{
    for (size_t i = 0; i < sizeof known_methods / sizeof known_methods[0]; i++)
        if (http_method_is(req, known_methods[i]))
            return 1;
    return 0;
}

/* s, or "-" if s is empty, as printf's "%.*s" arguments want them. */
#define OR_DASH(s) (int)((s).len ? (s).len : 1), ((s).len ? (s).p : "-")

/* Write what the parser found in req into r, a line per item. */
static void describe(const struct http_request *req, struct text *r)
{
    text_put(r, "method: %.*s\nform: %s\n", (int)req->method.len, req->method.p,
        form_names[req->form]);
    text_put(r, "scheme: %.*s\nhost: %.*s\nport: %u\n", OR_DASH(req->scheme), OR_DASH(req->host),
        req->port);
    text_put(r, "path: %.*s\nquery: %.*s\nversion: HTTP/1.%d\n", OR_DASH(req->path),
        OR_DASH(req->query), req->version - 10);
    for (size_t i = 0; i < req->nfields; i++)
        text_put(r, "field: %.*s: %.*s\n", (int)req->fields[i].name.len, req->fields[i].name.p,
            (int)req->fields[i].value.len, req->fields[i].value.p);
}

/* Serve one client: read its request and answer it. */
static void handle(int connfd, int timeout_ms)
{
    static char head[CONN_HEAD_SIZE], report[2 * CONN_HEAD_SIZE];
    struct text r = {report, 0, sizeof report};
    struct http_request req;
    struct rio rio;
    int n;

    rio_init(&rio, connfd);
    n = conn_read_request(&rio, head, timeout_ms, &req);
    if (n == 0 || n == -1)
        return;                 /* the client left, or its connection failed */
    if (n < 0) {
        conn_send_error(connfd, -n);
        return;
    }
    if (!known(&req)) {
        conn_send_error(connfd, 501);
        return;
    }
    describe(&req, &r);
    if (!text_fits(&r)) {       /* cannot be: the report has room for twice the head */
        conn_send_error(connfd, 500);
        return;
    }
    conn_send(connfd, 200, "text/plain; charset=utf-8", report, r.len,
              http_method_is(&req, "HEAD"));
}

int main(int argc, char **argv)
{
    long timeout = 10;
    const struct opt opts[] = {
        {.name = "--header-timeout", .kind = OPT_NUMBER, .min = 1, .max = 3600,
         .value = &timeout, .help = "seconds a client has to send its request head"},
    };
    const char *port = NULL;    /* no default: PORT must be given */
    int listenfd, connfd, r;

    if ((r = opt_parse(argc, argv, opts, sizeof opts / sizeof opts[0], &port)) != 0)
        return r < 0 ? 2 : 0;
    signal(SIGPIPE, SIG_IGN);
    if ((listenfd = sock_listen(NULL, port)) < 0) {
        fprintf(stderr, "httpd: cannot listen on port %s: %s\n", port,
                listenfd == SOCK_ENAME ? "bad port" : strerror(errno));
        return 1;
    }
    while ((connfd = sock_accept(listenfd)) >= 0) {
        handle(connfd, (int)timeout * 1000);
        close(connfd);
    }
    fprintf(stderr, "httpd: accept: %s\n", strerror(errno));
    close(listenfd);
    return 1;
}
