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
#include "cache.h"
#include "tunnel.h"
#include "framing.h"
#include "rio.h"
#include "server.h"
#include "sock.h"
#include "text.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
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
#define MAX_ALLOW 32            /* --allow given at most this many times */

struct config {
    const char *bind;           /* the address to listen on (--bind, from stage 7) */
    long header_timeout;        /* seconds a client has to send its head */
    long upstream_timeout;      /* seconds the origin may keep us waiting */
    long idle_timeout;          /* seconds a kept-alive client may wait between requests */
    long max_clients;           /* clients served at once; more get 503 */
    const char *log_path;       /* the access log */
    long verbose;               /* say on stderr who connects */
    int logfd;                  /* the access log, open for appending */
    const char *connect_list;   /* the ports CONNECT may reach, "443,8443" */
    struct tunnel_ports connect_ports;
    const char *allow_text[MAX_ALLOW];  /* --allow CIDR, as given */
    long nallow;
    struct sock_cidr allow[MAX_ALLOW];  /* the clients served; others get 403 */
    long cache_size;            /* bytes the cache holds at most */
    long max_object;            /* bytes of the largest response it keeps */
    long default_ttl;           /* seconds fresh, for a response that says nothing */
    struct cache *cache;
    long origin_pool;           /* idle origin connections kept for reuse, at most */
    struct pool *pool;
};

/* Whether hop, one element of a Via field ("1.1 proxylab (comment)"),
 * names this proxy as the one that received the request, whatever the
 * version it received it in. */
static int names_us(struct http_str hop)
{
    size_t n = strlen(FORWARD_VIA_NAME);
    const char *by = memchr(hop.p, ' ', hop.len), *end = hop.p + hop.len;

    if (by == NULL || (size_t)(end - ++by) < n)
        return 0;               /* past the protocol ("1.1 "): room for our name? */
    return strncasecmp(by, FORWARD_VIA_NAME, n) == 0 && (by + n == end || by[n] == ' ');
}

/* Whether req has passed through this proxy before: a Via field names it.
 * A request aimed at the proxy itself would otherwise go round, a thread
 * and two descriptors a turn, until none were left (Squid checks the
 * same way, by its own name in Via). */
static int looped(const struct http_request *req)
{
    struct http_str list, hop;

    for (size_t i = 0; i < req->nfields; i++) {
        if (!http_str_equal(req->fields[i].name, "Via"))
            continue;
        for (list = req->fields[i].value; http_next_element(&list, &hop);)
            if (names_us(hop))
                return 1;
    }
    return 0;
}

/* The methods that change nothing on the origin (RFC 9110 9.2.1). */
static const char *const safe_methods[] = {"GET", "HEAD", "OPTIONS", "TRACE"};

/* Whether req's method is safe. */
static int safe(const struct http_request *req)
{
    for (size_t i = 0; i < sizeof safe_methods / sizeof safe_methods[0]; i++)
        if (http_method_is(req, safe_methods[i]))
            return 1;
    return 0;
}

/* What the proxy does with a request: 0 to forward it, or the negated
 * status that refuses it. */
static int admit(const struct http_request *req)
{
    if (looped(req))
        return -508;            /* sent to the proxy itself, by the proxy */
    if (http_method_is(req, "CONNECT"))
        return 0;               /* the parser saw to it: host:port */
    if (req->form != HTTP_FORM_ABSOLUTE)
        return -400;            /* not meant for a proxy */
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

/* Fields a TRACE's answer leaves out of the request it shows: credentials,
 * which a script that reads the answer should not see (RFC 9110 section
 * 9.3.8). */
static const char *const unechoed_fields[] = {"Authorization", "Proxy-Authorization", "Cookie"};

/* The methods the proxy passes on, for the Allow of its own answer to an
 * OPTIONS: those of RFC 9110 section 9 (any other goes on too). */
#define ALLOWED_METHODS "GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE"

/* Whether f is one of unechoed_fields. */
static int unechoed(const struct http_field *f)
{
    for (size_t k = 0; k < sizeof unechoed_fields / sizeof unechoed_fields[0]; k++)
        if (http_str_equal(f->name, unechoed_fields[k]))
            return 1;
    return 0;
}

/* Write into t the request req as the proxy received it, for a TRACE's
 * answer (message/http): its request line and its fields, but the
 * unechoed ones. */
static void put_trace(struct text *t, const struct http_request *req)
{
    text_put(t, "%.*s %.*s HTTP/1.%d\r\n", (int)req->method.len, req->method.p,
             (int)req->target.len, req->target.p, req->version % 10);
    for (size_t i = 0; i < req->nfields; i++)
        if (!unechoed(&req->fields[i]))
            text_put(t, "%.*s: %.*s\r\n", (int)req->fields[i].name.len, req->fields[i].name.p,
                     (int)req->fields[i].value.len, req->fields[i].value.p);
    text_put(t, "\r\n");
}

static void linger(int connfd, struct rio *rio);

/* Answer req, a TRACE or OPTIONS that may pass no further proxy, as its
 * final recipient (RFC 9110 section 7.6.2): 200, with the request for a
 * TRACE (message/http), and Allow and no content for an OPTIONS; noted in
 * ctx->log. A request body is not read: the connection then closes, once
 * the client has sent it (linger). Returns 0, or -1 if the client has gone. */
static int answer_as_final(int connfd, const struct http_request *req, struct forward_ctx *ctx)
{
    static const struct http_response ok = {.version = 11, .status = 200, .reason = {"OK", 2}};
    char body[FORWARD_HEAD_SIZE], extra[96];
    struct text t = {body, 0, sizeof body};
    int trace = http_method_is(req, "TRACE");
    int bodyless = ctx->body.kind == FRAMING_NONE ||
                   (ctx->body.kind == FRAMING_LENGTH && ctx->body.length == 0);
    long sent;

    if (trace)
        put_trace(&t, req);
    if (!text_fits(&t))
        return -500;            /* cannot happen: a head the parser took fits */
    snprintf(extra, sizeof extra, "%sContent-Length: %zu\r\n",
             trace ? "Content-Type: message/http\r\n" : "Allow: " ALLOWED_METHODS "\r\n", t.len);
    ctx->keep_alive = ctx->keep_alive && bodyless;
    ctx->log->tag = LOG_NONE;   /* Squid's NONE_NONE: no cache, no origin */
    ctx->log->status = 200;
    if (trace)
        snprintf(ctx->log->type, sizeof ctx->log->type, "message/http");
    if ((sent = forward_send_head(connfd, &ok, extra, ctx->keep_alive, body, t.len)) < 0)
        return -1;
    ctx->log->bytes = sent;
    if (!bodyless)
        linger(connfd, ctx->client);
    return 0;
}

/* Fetch req from its origin, keeping the response in the cache if it may.
 * Returns what forward_request returns. */
static int fetch(int connfd, const struct http_request *req, const struct config *cfg,
                 struct forward_ctx *ctx)
{
    struct cache_entry *stale = ctx->stale;     /* forward_request may forget it */
    int r;

    ctx->cache = cache_may_keep(req, ctx) ? cfg->cache : NULL;
    ctx->invalidate = ctx->key[0] && !safe(req) ? cfg->cache : NULL;
    ctx->log->tag = LOG_MISS;
    r = forward_request(connfd, req, ctx);
    /* A change that succeeded makes what the cache holds for the URL stale
     * (RFC 9111 section 4.4). */
    if (r == 0 && !safe(req) && ctx->log->status >= 200 && ctx->log->status < 400)
        cache_remove(cfg->cache, ctx->key);
    if (r == 0 && ctx->stale != NULL)
        cache_answer_refreshed(connfd, ctx);
    cache_release(stale);
    return r;
}

/* Answer req, for a proxy: from the cache, or else from its origin. Returns
 * what forward_request returns. */
static int answer(int connfd, const struct http_request *req, const struct config *cfg,
                  struct forward_ctx *ctx)
{
    char key[CACHE_KEY_MAX];

    if (forward_hops(req) == 0)
        return answer_as_final(connfd, req, ctx);  /* no proxy further: Max-Forwards: 0 */
    ctx->key = key;
    if (cache_key(req, key, sizeof key) < 0)
        key[0] = '\0';
    return key[0] && cache_answer(cfg->cache, connfd, req, ctx) ? 0 : fetch(connfd, req, cfg, ctx);
}

/* How long a closing connection waits for the client's last bytes. */
#define LINGER_MS 1000

/* Get connfd ready to close after an error reply: say we are done
 * (shutdown), then read and drop what the client still sends, until it
 * closes or LINGER_MS have passed. Closing a socket that has unread bytes
 * sends an RST, and the client could lose the reply still on its way to
 * it: a 414 sent before the rest of a long request line was read, say. */
static void linger(int connfd, struct rio *rio)
{
    char buf[RIO_BUFSIZE];

    shutdown(connfd, SHUT_WR);
    rio_set_deadline(rio, LINGER_MS);
    while (rio_read(rio, buf, sizeof buf) > 0)
        ;
}

/* Check req, read from connfd, as a proxy does before it answers: admit()
 * it, then (from stage 8) the framing of its body, then (from stage 7) the
 * client's address. Returns 0 to answer it, or the negated status that
 * refuses it. */
static int check(int connfd, const struct http_request *req, const struct config *cfg,
                 struct forward_ctx *ctx)
{
    int r = admit(req);

    if (r == 0 && req->form == HTTP_FORM_ABSOLUTE && (r = framing_request(req, &ctx->body)) == 0)
        ctx->keep_alive = framing_keep_alive(req);    /* CONNECT: a tunnel, not a body */
    if (r == 0 && !sock_peer_in(connfd, cfg->allow, (size_t)cfg->nallow))
        r = -403;               /* a client outside --allow */
    return r;
}

/* Answer req, which check() let through, noting it in ctx->log: a tunnel
 * for a CONNECT (from stage 7), else from the cache (from stage 6) or the
 * origin. Returns 0, -1 if the client has gone or has part of a response,
 * or the negated status it should get instead. */
static int respond(int connfd, struct rio *rio, const struct http_request *req,
                   const struct config *cfg, struct forward_ctx *ctx)
{
    if (req->form == HTTP_FORM_AUTHORITY) {
        ctx->log->tag = LOG_TUNNEL;
        return tunnel_serve(connfd, rio, req, &cfg->connect_ports,
                            (int)cfg->upstream_timeout * 1000, ctx->log);
    }
    return answer(connfd, req, cfg, ctx);
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
                              .default_lifetime = cfg->default_ttl,
                              .client = rio,
                              .pool = cfg->pool,
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
    if (r < -1 || ctx.body_unread)  /* the rest of the body is unread: linger too */
        linger(connfd, rio);
    return r == 0 && ctx.keep_alive && req.form == HTTP_FORM_ABSOLUTE;
}

/* A pipe that becomes readable, for good, once the proxy is stopping: idle
 * kept-alive connections wait on it too, and close at once. */
static int stop_pipe[2] = {-1, -1};

/* Wait until the next request begins to come through rio (it may be there
 * already), for at most seconds, unless the proxy is stopping. Returns
 * whether it has. */
static int next_request_comes(struct rio *rio, long seconds)
{
    struct pollfd pfd[2] = {{.fd = rio->fd, .events = POLLIN},
                            {.fd = stop_pipe[0], .events = POLLIN}};
    int r;

    /* Give the other threads their turn first. A kept-alive client under
     * load has its next request waiting at once, so its thread would serve
     * request after request without ever blocking, until the scheduler
     * preempted it, mid-request, when its time slice ran out; that request
     * then waited while every other busy thread had a whole slice (64
     * threads on 2 cores: 60 ms). Yielding here hands the core over between
     * requests, so a request waits for others' requests, not their slices:
     * the p99 of a 1 KiB hit fell from 30-70 ms to 3 ms, at the same rate
     * (docs/performance.md). */
    sched_yield();
    if (rio->cnt > 0)
        return 1;               /* pipelined: sent with an earlier one */
    while ((r = poll(pfd, 2, (int)seconds * 1000)) < 0 && errno == EINTR)
        ;
    return r > 0 && !(pfd[1].revents & POLLIN);
}


/* Serve one client: its requests, one after another (from stage 8; until
 * then, one), then close. */
static void handle(int connfd, void *arg)
{
    const struct config *cfg = arg;
    struct rio rio;

    sock_send_timeout(connfd, (int)cfg->upstream_timeout * 1000);  /* a client that stops reading */
    rio_init(&rio, connfd);
    /* A kept-alive connection stays open after a response, so nothing
     * flushes the response's last small write: Nagle's algorithm holds it
     * back until the client ACKs the write before, and the client delays
     * that ACK (by up to 40 ms) while it waits for the rest. With keep-alive
     * that was every response's latency (docs/performance.md). */
    sock_nodelay(connfd);
    while (serve(connfd, &rio, cfg) && next_request_comes(&rio, cfg->idle_timeout))
        ;
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

/* Check what the options said and turn it into cfg's tables. Returns 0, or
 * -1 after saying what is wrong. */
static int check_config(const char *prog, struct config *cfg)
{
    static const char *const loopback[] = {"127.0.0.0/8", "::1"};

    if (tunnel_parse_ports(cfg->connect_list, &cfg->connect_ports) < 0) {
        fprintf(stderr, "%s: --connect-ports %s: not a list of ports like 443,8443\n", prog,
                cfg->connect_list);
        return -1;
    }
    if (cfg->nallow == 0)               /* by default, this machine only */
        for (size_t i = 0; i < 2; i++)
            cfg->allow_text[cfg->nallow++] = loopback[i];
    for (long i = 0; i < cfg->nallow; i++)
        if (sock_parse_cidr(cfg->allow_text[i], &cfg->allow[i]) < 0) {
            fprintf(stderr, "%s: --allow %s: not an address or block like 10.0.0.0/8\n",
                    prog, cfg->allow_text[i]);
            return -1;
        }
    return 0;
}

/* Set cfg to the defaults, which the options then change. */
static void set_defaults(struct config *cfg)
{
    *cfg = (struct config){.bind = LISTEN_HOST, .header_timeout = 10, .upstream_timeout = 30,
                           .idle_timeout = 15,
                           .max_clients = 256,
                           .log_path = "log.txt",
                           .cache_size = 64L << 20, .max_object = 1L << 20, .default_ttl = 300,
                           .connect_list = "443",
                           .origin_pool = 128,
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
        {.name = "--idle-timeout", .kind = OPT_NUMBER, .min = 1, .max = 3600,
         .value = &cfg->idle_timeout,
         .help = "seconds a kept-alive connection may wait for its next request"},
        {.name = "--max-clients", .kind = OPT_NUMBER, .min = 1, .max = 100000,
         .value = &cfg->max_clients, .help = "clients served at once; more get 503"},
        {.name = "--log", .kind = OPT_TEXT, .text = &cfg->log_path,
         .help = "the access log, in Squid's format"},
        {.name = "-v", .kind = OPT_FLAG, .value = &cfg->verbose,
         .help = "say on stderr who connects"},
        {.name = "--connect-ports", .kind = OPT_TEXT, .text = &cfg->connect_list,
         .help = "the ports CONNECT may reach, comma-separated"},
        {.name = "--bind", .kind = OPT_TEXT, .text = &cfg->bind,
         .help = "the address to listen on"},
        {.name = "--allow", .kind = OPT_LIST, .max = MAX_ALLOW, .value = &cfg->nallow,
         .text = cfg->allow_text, .help = "clients served, as CIDR (default: this machine)"},
        {.name = "--cache-size", .kind = OPT_NUMBER, .min = 0, .max = 1L << 40,
         .value = &cfg->cache_size, .help = "bytes the cache holds at most"},
        {.name = "--max-object", .kind = OPT_NUMBER, .min = 0, .max = 1L << 40,
         .value = &cfg->max_object, .help = "bytes of the largest response cached"},
        {.name = "--default-ttl", .kind = OPT_NUMBER, .min = 0, .max = 1L << 30,
         .value = &cfg->default_ttl, .help = "seconds fresh, for responses that do not say"},
        {.name = "--origin-pool", .kind = OPT_NUMBER, .min = 0, .max = 4096,
         .value = &cfg->origin_pool,
         .help = "idle origin connections kept open for reuse (0: none)"},
    };

    set_defaults(cfg);
    return opt_parse(argc, argv, opts, sizeof opts / sizeof opts[0], port);
}

/* Open what cfg says the proxy works with: the log, and the cache (from
 * stage 6). Returns 0, or -1 after saying what failed. */
static int open_services(struct config *cfg)
{
    if ((cfg->cache = cache_create((size_t)cfg->cache_size, (size_t)cfg->max_object)) == NULL) {
        fprintf(stderr, "proxy: cannot make the cache: %s\n", strerror(errno));
        return -1;
    }
    /* Origin connections wait in the pool as long as clients' do between requests. */
    if ((cfg->pool = pool_create((size_t)cfg->origin_pool, (int)cfg->idle_timeout * 1000)) ==
        NULL) {
        fprintf(stderr, "proxy: cannot make the origin pool: %s\n", strerror(errno));
        return -1;
    }
    if ((cfg->logfd = log_open(cfg->log_path)) < 0) {
        fprintf(stderr, "proxy: cannot open the log %s: %s\n", cfg->log_path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Give back what open_services took, once no client thread is left. */
static void close_services(struct config *cfg)
{
    cache_destroy(cfg->cache);
    pool_destroy(cfg->pool);
    close(cfg->logfd);
}

/* Listen on host, port. Returns the listening socket, or -1 after saying
 * what failed. */
static int start(const char *host, const char *port)
{
    int listenfd;

    /* Before listening: once it listens, the proxy is ready and has all it keeps open. */
    if (pipe(stop_pipe) < 0)
        perror("proxy: pipe");  /* idle connections then close at their timeout */
    if ((listenfd = sock_listen(host, port)) < 0) {
        fprintf(stderr, "proxy: cannot listen on %s port %s: %s\n", host, port,
                listenfd == SOCK_ENAME ? "no such address" : strerror(errno));
        return -1;
    }
    fprintf(stderr, "proxy: listening on %s port %s\n", host, port);
    if (strncmp(host, "127.", 4) != 0 && strcmp(host, "::1") != 0 && strcmp(host, "localhost"))
        fprintf(stderr, "proxy: warning: %s is not this machine only: whoever reaches it and "
                "is in --allow can use this proxy, and through it reach other hosts\n", host);
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
    if (write(stop_pipe[1], "", 1) < 0)
        return;                 /* cannot happen: it is written once */
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
    if (r == 0)
        r = check_config(argv[0], &cfg);
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
