/* proxy [OPTION]... [PORT]: a forward proxy on 127.0.0.1:PORT (8080).
 *
 * For each client: read the request, check that it is one a proxy serves,
 * forward it, relay the response; then close, or from stage 8 read the
 * client's next request on the same connection (keep-alive). Stage 3 serves
 * one client at a time; from stage 4 on each client has a thread. */
#include "conn.h"
#include "forward.h"
#include "http.h"
#include "log.h"
#include "opt.h"
#include "rio.h"
#include "server.h"
#include "sock.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The address the proxy listens on: this machine only. An open proxy on a
 * public address would relay anyone's traffic. */
#define LISTEN_HOST "127.0.0.1"

struct config {
    const char *bind;           /* the address to listen on (--bind, from stage 7) */
    long header_timeout;        /* seconds a client has to send its head */
    long upstream_timeout;      /* seconds the origin may keep us waiting */
    long max_clients;           /* clients served at once; more get 503 */
    const char *log_path;       /* the access log */
    long verbose;               /* say on stderr who connects */
    int logfd;                  /* the access log, open for appending */
};

/* What the proxy does with a request: 0 to forward it, or the negated
 * status that refuses it. */
static int admit(const struct http_request *req)
{
    if (http_method_is(req, "CONNECT"))
        return -501;            /* tunnels come in stage 7 */
    if (req->form != HTTP_FORM_ABSOLUTE)
        return -400;            /* not meant for a proxy */
    if (!http_method_is(req, "GET") && !http_method_is(req, "HEAD"))
        return -501;            /* bodies come in stage 8 */
    if (http_find_field(req, "Transfer-Encoding") != NULL ||
        (http_find_field(req, "Content-Length") != NULL &&
         !http_str_equal(http_find_field(req, "Content-Length")->value, "0")))
        return -501;            /* a GET with a body, too: stage 8 */
    return 0;                   /* from stage 8, every method, bodies and all */
}

/* Start e, the log entry of connfd's request: the clock, and who asks. */
static void start_entry(struct log_entry *e, int connfd, const struct config *cfg)
{
    clock_gettime(CLOCK_REALTIME, &e->start);
    if (sock_peer_name(connfd, e->client, sizeof e->client) < 0)
        e->client[0] = '\0';
    if (cfg->verbose)
        fprintf(stderr, "proxy: client %s connected (fd %d)\n", e->client, connfd);
}

/* Send connfd the error page for status, and note it in e. */
static void reply_error(int connfd, int status, struct log_entry *e)
{
    long sent = conn_send_error(connfd, status);

    e->status = status;
    e->bytes = sent > 0 ? sent : 0;
    snprintf(e->type, sizeof e->type, "text/html");
}

/* Stop e's clock and append e to the log. */
static void finish_entry(struct log_entry *e, const struct config *cfg)
{
    char why[128];

    log_stop_clock(e);
    if (log_write(cfg->logfd, e) < 0 && cfg->verbose && strerror_r(errno, why, sizeof why) == 0)
        fprintf(stderr, "proxy: cannot write the log: %s\n", why);  /* strerror_r: threads */
}

/* Check req, read from connfd, as a proxy does before it answers: admit()
 * it, then (from stage 8) the framing of its body, then (from stage 7) the
 * client's address. Returns 0 to answer it, or the negated status that
 * refuses it. */
static int check(int connfd, const struct http_request *req, const struct config *cfg,
                 struct forward_ctx *ctx)
{
    int r = admit(req);

    (void)ctx;
    (void)connfd;
    (void)cfg;
    return r;
}

/* Answer req, which check() let through, noting it in ctx->log: a tunnel
 * for a CONNECT (from stage 7), else from the cache (from stage 6) or the
 * origin. Returns 0, -1 if the client has gone or has part of a response,
 * or the negated status it should get instead. */
static int respond(int connfd, struct rio *rio, const struct http_request *req,
                   const struct config *cfg, struct forward_ctx *ctx)
{
    (void)rio;
    (void)cfg;
    ctx->log->tag = LOG_MISS;
    return forward_request(connfd, req, ctx);
}

/* Serve one request from connfd, read through rio: read it, check that it is
 * one a proxy serves, answer it, log it. Returns whether the connection may
 * carry another request. Threads run this at once: everything it uses is on
 * its own stack. */
static int serve(int connfd, struct rio *rio, const struct config *cfg)
{
    char head[CONN_HEAD_SIZE];
    struct http_request req;
    struct log_entry e = {.tag = LOG_NONE};
    struct forward_ctx ctx = {.timeout_ms = (int)cfg->upstream_timeout * 1000, .log = &e,
    };
    int r;

    start_entry(&e, connfd, cfg);
    if ((r = conn_read_request(rio, head, (int)cfg->header_timeout * 1000, &req)) == 0 ||
        r == -1)
        return 0;               /* the client left, or its connection failed */
    if (r > 0) {
        e.method = req.method;
        e.url = req.target;
        if ((r = check(connfd, &req, cfg, &ctx)) == 0)
            r = respond(connfd, rio, &req, cfg, &ctx);
    }
    if (r == -403)
        e.tag = LOG_DENIED;
    if (r < -1)                 /* -1: the client has left, or has part of a reply */
        reply_error(connfd, -r, &e);
    finish_entry(&e, cfg);
    return 0;
}


/* Serve one client: its requests, one after another (from stage 8; until
 * then, one), then close. */
static void handle(int connfd, void *arg)
{
    const struct config *cfg = arg;
    struct rio rio;

    sock_send_timeout(connfd, (int)cfg->upstream_timeout * 1000);  /* a client that stops reading */
    rio_init(&rio, connfd);
    serve(connfd, &rio, cfg);
}

/* Answer a client over the max-clients bound. */
static void refuse(int connfd, void *arg)
{
    struct log_entry e = {.tag = LOG_DENIED};

    start_entry(&e, connfd, arg);
    reply_error(connfd, 503, &e);
    finish_entry(&e, arg);
}

/* Wait until s serves no client, for at most seconds. Returns whether it
 * got there. */
static int drain(struct server *s, int seconds)
{
    struct timespec pause = {0, 10 * 1000 * 1000};

    for (int i = 0; i < seconds * 100 && atomic_load(&s->active) > 0; i++)
        nanosleep(&pause, NULL);
    return atomic_load(&s->active) == 0;
}

/* Serve clients, each in a thread, until the listener fails or is shut
 * down; then let the requests in flight finish (at most the upstream
 * timeout, and a little more). Returns whether no client is left. */
static int serve_clients(int listenfd, struct config *cfg)
{
    struct server s = {.listenfd = listenfd, .max_clients = cfg->max_clients,
                       .serve = handle, .refuse = refuse, .arg = cfg};

    server_run(&s);
    return drain(&s, (int)cfg->upstream_timeout + 5);
}

/* Set cfg to the defaults, which the options then change. */
static void set_defaults(struct config *cfg)
{
    *cfg = (struct config){.bind = LISTEN_HOST, .header_timeout = 10, .upstream_timeout = 30,
                           .max_clients = 256,
                           .log_path = "log.txt",
    };
}

/* Fill cfg from the defaults and the command line; sets *port. Returns
 * what opt_parse returns: 0 to go on, 1 to stop at once, -1 on an error.
 * (main then checks cfg: check_config.) */
static int parse_config(int argc, char **argv, struct config *cfg, const char **port)
{
    const struct opt opts[] = {
        {.name = "--header-timeout", .kind = OPT_NUMBER, .min = 1, .max = 3600,
         .value = &cfg->header_timeout, .help = "seconds a client has to send its request head"},
        {.name = "--timeout", .kind = OPT_NUMBER, .min = 1, .max = 3600,
         .value = &cfg->upstream_timeout,
         .help = "seconds the origin (or a quiet tunnel) may keep us waiting"},
        {.name = "--max-clients", .kind = OPT_NUMBER, .min = 1, .max = 100000,
         .value = &cfg->max_clients, .help = "clients served at once; more get 503"},
        {.name = "--log", .kind = OPT_TEXT, .text = &cfg->log_path,
         .help = "the access log, in Squid's format"},
        {.name = "-v", .kind = OPT_FLAG, .value = &cfg->verbose,
         .help = "say on stderr who connects"},
    };

    set_defaults(cfg);
    return opt_parse(argc, argv, opts, sizeof opts / sizeof opts[0], port);
}

/* Open what cfg says the proxy works with: the log, and the cache (from
 * stage 6). Returns 0, or -1 after saying what failed. */
static int open_services(struct config *cfg)
{
    if ((cfg->logfd = log_open(cfg->log_path)) < 0) {
        fprintf(stderr, "proxy: cannot open the log %s: %s\n", cfg->log_path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Give back what open_services took, once no client thread is left. */
static void close_services(struct config *cfg)
{
    close(cfg->logfd);
}

/* Listen on host, port. Returns the listening socket, or -1 after saying
 * what failed. */
static int start(const char *host, const char *port)
{
    int listenfd;

    if ((listenfd = sock_listen(host, port)) < 0) {
        fprintf(stderr, "proxy: cannot listen on %s port %s: %s\n", host, port,
                listenfd == SOCK_ENAME ? "no such address" : strerror(errno));
        return -1;
    }
    fprintf(stderr, "proxy: listening on %s port %s\n", host, port);
    return listenfd;
}

/* The listening socket, for the signal handler; and whether it has run. */
static int listen_fd = -1;
static volatile sig_atomic_t stopping;

/* SIGINT, SIGTERM: stop accepting. shutdown(2) is async-signal-safe, and
 * makes the accept loop end; requests in flight go on. */
static void stop(int sig)
{
    (void)sig;
    stopping = 1;
    shutdown(listen_fd, SHUT_RDWR);
}

/* Stop on SIGINT and SIGTERM; never die of SIGPIPE (a client that hangs up
 * is EPIPE from write, not the end of the proxy). */
static void handle_signals(void)
{
    struct sigaction sa = {.sa_handler = stop}, ignore = {.sa_handler = SIG_IGN};

    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGPIPE, &ignore, NULL);
}

int main(int argc, char **argv)
{
    struct config cfg;
    const char *port = "8080";
    int r;

    r = parse_config(argc, argv, &cfg, &port);
    if (r != 0)
        return r < 0 ? 2 : 0;
    if (open_services(&cfg) < 0)
        return 1;
    if ((listen_fd = start(cfg.bind, port)) < 0)
        return 1;
    handle_signals();
    if (serve_clients(listen_fd, &cfg))
        close_services(&cfg);   /* no thread uses them any more */
    if (!stopping)
        fprintf(stderr, "proxy: accept: %s\n", strerror(errno));
    close(listen_fd);
    fprintf(stderr, "proxy: %s\n", stopping ? "stopped" : "stopped on an error");
    return stopping ? 0 : 1;
}
