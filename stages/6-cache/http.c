/* http: the request-head parser. See http.h for the contracts.
 *
 * A head, as RFC 9112 section 2.1 has it, with the limits we enforce:
 *
 *   [empty lines]                       ignored before the request line
 *   METHOD SP target SP HTTP/1.1 CRLF   at most HTTP_MAX_LINE bytes, else 414
 *   Name: value CRLF                    at most HTTP_MAX_FIELDS fields, else 431
 *   ...
 *   CRLF                                the whole head at most HTTP_MAX_HEAD, else 431
 *
 * A bare LF may end a line instead of CRLF. Parsing goes line by line through
 * a cursor over the head, once the whole head has arrived. */
#include "http.h"

#include <string.h>
#include <strings.h>

/* The bytes of the head not yet parsed. */
struct cursor {
    const char *p;
    const char *end;
};

static const struct {
    int status;
    const char *reason;
} reasons[] = {
    {200, "OK"},
    {400, "Bad Request"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {408, "Request Timeout"},
    {414, "URI Too Long"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
    {508, "Loop Detected"},
};

const char *http_reason(int status)
{
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (reasons[i].status == status)
            return reasons[i].reason;
    return "Unknown";
}

int http_method_is(const struct http_request *req, const char *method)
{
    return req->method.len == strlen(method) && memcmp(req->method.p, method, req->method.len) == 0;
}

int http_str_equal(struct http_str s, const char *word)
{
    return strlen(word) == s.len && strncasecmp(s.p, word, s.len) == 0;
}

/* The first of fields[0..n) named name (without regard to case), or NULL. */
static const struct http_field *find_field(const struct http_field *fields, size_t n,
                                           const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (http_str_equal(fields[i].name, name))
            return &fields[i];
    return NULL;
}

const struct http_field *http_find_field(const struct http_request *req, const char *name)
{
    return find_field(req->fields, req->nfields, name);
}

int http_next_element(struct http_str *list, struct http_str *elem)
{
    const char *p = list->p, *end, *comma, *e;

    if (p == NULL)
        return 0;               /* past the last element (and NULL + 0 is undefined) */
    end = p + list->len;
    comma = memchr(p, ',', list->len);
    e = comma ? comma : end;
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    *elem = (struct http_str){p, (size_t)(e - p)};
    *list = comma ? (struct http_str){comma + 1, (size_t)(end - comma - 1)}
                  : (struct http_str){NULL, 0};
    return 1;
}

int http_next_field(const char *head, size_t len, const char **at, struct http_field *f)
{
    const char *end = head + len, *p = *at, *nl, *e, *colon;

    if (p == NULL)
        p = (nl = memchr(head, '\n', len)) != NULL ? nl + 1 : end;
    for (; p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL; p = nl + 1) {
        e = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
        if (e == p)
            break;              /* the empty line */
        if ((colon = memchr(p, ':', (size_t)(e - p))) == NULL || colon == p)
            continue;
        f->name = (struct http_str){p, (size_t)(colon - p)};
        for (p = colon + 1; p < e && (*p == ' ' || *p == '\t'); p++)
            ;
        while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        f->value = (struct http_str){p, (size_t)(e - p)};
        *at = nl + 1;
        return 1;
    }
    *at = end;
    return 0;
}

/* The helpers below are yours to use. UNUSED_OK keeps the compiler quiet
 * about those your code does not call yet. */
#define UNUSED_OK __attribute__((unused))

/* Character classes, from RFC 9110 section 5.6.2 and RFC 3986 appendix A. */

static UNUSED_OK int is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* A token character: what methods and field names are made of. */
static UNUSED_OK int is_tchar(unsigned char c)
{
    return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* A character of an IPv6 address: hex digits, ':' and '.'. */
static UNUSED_OK int is_ipv6_char(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
           c == ':' || c == '.';
}

/* A character allowed in a host name (reg-name). */
static UNUSED_OK int is_host_char(unsigned char c)
{
    return is_alnum(c) || (c != '\0' && strchr("-._~!$&'()*+,;=%", c) != NULL);
}

/* Whether s is a URI scheme: a letter, then letters, digits, '+', '-', '.'. */
static UNUSED_OK int is_scheme(struct http_str s)
{
    for (size_t i = 0; i < s.len; i++)
        if (!is_alnum((unsigned char)s.p[i]) && (i == 0 || !strchr("+-.", s.p[i])))
            return 0;
    return s.len > 0 && !(s.p[0] >= '0' && s.p[0] <= '9');
}

/* Whether every byte of s satisfies ok, and s is not empty. */
static UNUSED_OK int all_of(struct http_str s, int (*ok)(unsigned char))
{
    for (size_t i = 0; i < s.len; i++)
        if (!ok((unsigned char)s.p[i]))
            return 0;
    return s.len > 0;
}

static UNUSED_OK struct http_str span(const char *p, const char *end)
{
    return (struct http_str){p, (size_t)(end - p)};
}

/* Where c's next line ends: just past its '\n', or NULL if it has none. */
static UNUSED_OK const char *line_end(const struct cursor *c)
{
    const char *nl = memchr(c->p, '\n', (size_t)(c->end - c->p));

    return nl ? nl + 1 : NULL;
}

/* Take c's next line, without its CRLF or LF, into *line. Returns 0, or
 * -400 if the line holds a CR that does not end it. c must hold a whole line. */
static int next_line(struct cursor *c, struct http_str *line)
{
    const char *end = line_end(c), *e = end - 1;

    if (e > c->p && e[-1] == '\r')
        e--;
    *line = span(c->p, e);
    c->p = end;
    return memchr(line->p, '\r', line->len) ? -400 : 0;
}

/* The length of the line from p to end (just past its '\n'), without its
 * CRLF or LF. */
static UNUSED_OK size_t line_length(const char *p, const char *end)
{
    return (size_t)(end - p) - 1 - (end - p >= 2 && end[-2] == '\r');
}

/* Whether c's next line is empty: "\n" or "\r\n". */
static UNUSED_OK int empty_line(const struct cursor *c)
{
    const char *end = line_end(c);

    return end != NULL && (end - c->p == 1 || (end - c->p == 2 && c->p[0] == '\r'));
}

/* Find the head in buf[0..len): skip the empty lines allowed before the
 * request line, and find the empty line that ends the head. Returns the head's
 * length, HTTP_INCOMPLETE, -414 or -431; sets *start to where the request
 * line begins. */
static int find_head(const char *buf, size_t len, size_t *start)
{
    /* ==== stage 2 exercise: find_head ==== */
    struct cursor c = {buf, buf + len};
    const char *end;

    while (empty_line(&c))
        c.p = line_end(&c);
    *start = (size_t)(c.p - buf);
    if ((end = line_end(&c)) == NULL) { /* the request line is still coming */
        if (len - *start > HTTP_MAX_LINE + 2)
            return -414;
        return len > HTTP_MAX_HEAD ? -431 : HTTP_INCOMPLETE;
    }
    if (line_length(c.p, end) > HTTP_MAX_LINE)
        return -414;
    for (c.p = end; (end = line_end(&c)) != NULL; c.p = end)
        if (empty_line(&c))
            return (size_t)(end - buf) <= HTTP_MAX_HEAD ? (int)(end - buf) : -431;
    return len > HTTP_MAX_HEAD ? -431 : HTTP_INCOMPLETE;
    /* ==== end of stage 2 exercise: find_head ==== */
}

/* Parse a port, 1 to 65535, of at most 5 digits. Returns it, or -400. */
static UNUSED_OK int parse_port(struct http_str s)
{
    unsigned port = 0;

    if (s.len == 0 || s.len > 5)
        return -400;
    for (size_t i = 0; i < s.len; i++) {
        if (s.p[i] < '0' || s.p[i] > '9')
            return -400;
        port = port * 10 + (unsigned)(s.p[i] - '0');
    }
    return port >= 1 && port <= 65535 ? (int)port : -400;
}

/* Parse host[:port] or [v6]:port into req. Without a port, the port is 80,
 * unless port_required. Returns 0 or -400. */
static UNUSED_OK int parse_authority(struct http_str a, int port_required,
                                     struct http_request *req)
{
    /* ==== stage 2 exercise: parse_authority ==== */
    const char *end = a.p + a.len, *colon;
    int port = 80;

    if (memchr(a.p, '@', a.len))
        return -400;                    /* userinfo: user:password@host */
    if (a.len > 0 && a.p[0] == '[') {   /* an IPv6 literal */
        const char *close = memchr(a.p, ']', a.len);
        if (close == NULL || (close + 1 < end && close[1] != ':'))
            return -400;
        req->host = span(a.p + 1, close);
        colon = close + 1 < end ? close + 1 : NULL;
        if (!all_of(req->host, is_ipv6_char) || !memchr(req->host.p, ':', req->host.len))
            return -400;                /* "[1.2.3.4]" is no IPv6 address */
    } else {
        colon = memchr(a.p, ':', a.len);
        req->host = span(a.p, colon ? colon : end);
        if (!all_of(req->host, is_host_char))
            return -400;
    }
    if (colon != NULL)
        port = parse_port(span(colon + 1, end));
    else if (port_required)
        return -400;
    req->port = (unsigned)port;
    return port < 0 ? -400 : 0;
    /* ==== end of stage 2 exercise: parse_authority ==== */
}

/* Set req's path and query from s (what follows the authority, or an
 * origin-form target), dropping any fragment. */
static UNUSED_OK void parse_path(struct http_str s, struct http_request *req)
{
    const char *end = s.p + s.len, *hash = memchr(s.p, '#', s.len), *q;

    if (hash != NULL)
        end = hash;
    q = memchr(s.p, '?', (size_t)(end - s.p));
    req->path = span(s.p, q ? q : end);
    req->query = q ? span(q, end) : span(end, end);
    if (req->path.len == 0)
        req->path = (struct http_str){"/", 1};
}

/* Parse req->target into its form, scheme, host, port, path and query.
 * Returns 0, -400, or -501 for a scheme other than http. */
static int parse_target(struct http_request *req)
{
    /* ==== stage 2 exercise: parse_target ==== */
    struct http_str t = req->target;
    const char *end = t.p + t.len, *sep = NULL, *auth_end;

    for (size_t i = 0; i < t.len; i++)
        if ((unsigned char)t.p[i] <= ' ' || t.p[i] == 0x7f)
            return -400;                /* no controls or spaces in a target */
    req->port = 80;
    if (t.p[0] == '/' || (t.len == 1 && t.p[0] == '*')) {     /* a path, or "*" alone */
        req->form = t.p[0] == '/' ? HTTP_FORM_ORIGIN : HTTP_FORM_ASTERISK;
        parse_path(t, req);
        return 0;
    }
    for (const char *p = t.p; p + 2 < end && sep == NULL; p++)
        if (p[0] == ':' && p[1] == '/' && p[2] == '/')
            sep = p;
    if (sep == NULL) {
        req->form = HTTP_FORM_AUTHORITY;
        return parse_authority(t, 1, req);
    }
    req->form = HTTP_FORM_ABSOLUTE;
    req->scheme = span(t.p, sep);
    if (!http_str_equal(req->scheme, "http"))
        return is_scheme(req->scheme) ? -501 : -400;
    for (auth_end = sep + 3; auth_end < end && !strchr("/?#", *auth_end); auth_end++)
        ;
    parse_path(span(auth_end, end), req);
    return parse_authority(span(sep + 3, auth_end), 0, req);
    /* ==== end of stage 2 exercise: parse_target ==== */
}

/* Parse the request line "METHOD SP target SP HTTP/x.y" into req. Returns 0;
 * -400 if it is malformed (not three parts, a method that is not a token, an
 * empty target, a version not of the form HTTP/d.d); or -505 for a version
 * other than HTTP/1.0 and HTTP/1.1. Never -501 once written (the stub's -501
 * only says it is not yet): whether a method is served is the caller's call,
 * and a scheme other than http is parse_target's -501. */
static int parse_request_line(struct http_str line, struct http_request *req)
{
    /* ==== stage 2 exercise: parse_request_line ==== */
    const char *end = line.p + line.len;
    const char *sp1 = memchr(line.p, ' ', line.len), *sp2;
    struct http_str v;

    if (sp1 == NULL || (sp2 = memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1))) == NULL)
        return -400;
    req->method = span(line.p, sp1);
    req->target = span(sp1 + 1, sp2);
    v = span(sp2 + 1, end);
    if (!all_of(req->method, is_tchar) || req->target.len == 0)
        return -400;
    if (v.len != 8 || memcmp(v.p, "HTTP/", 5) != 0 || v.p[6] != '.' ||
        v.p[5] < '0' || v.p[5] > '9' || v.p[7] < '0' || v.p[7] > '9')
        return -400;                    /* not HTTP-version at all */
    if (v.p[5] != '1' || (v.p[7] != '0' && v.p[7] != '1'))
        return -505;                    /* a version we do not speak */
    req->version = v.p[7] == '1' ? 11 : 10;
    return 0;
    /* ==== end of stage 2 exercise: parse_request_line ==== */
}

/* Whether c may stand in a field value: visible, space, tab, or obs-text. */
static UNUSED_OK int is_value_char(unsigned char c)
{
    return c == '\t' || (c >= ' ' && c != 0x7f);
}

/* Parse one field line "Name: value" into f. Returns 0 or -400. */
static int parse_field(struct http_str line, struct http_field *f)
{
    /* ==== stage 2 exercise: parse_field ==== */
    const char *end = line.p + line.len, *colon = memchr(line.p, ':', line.len);
    const char *v, *e;

    if (line.p[0] == ' ' || line.p[0] == '\t')
        return -400;                    /* obs-fold: a continued line */
    if (colon == NULL)
        return -400;
    f->name = span(line.p, colon);
    if (!all_of(f->name, is_tchar))
        return -400;                    /* also catches "Name : value" */
    for (v = colon + 1; v < end && (*v == ' ' || *v == '\t'); v++)
        ;
    for (e = end; e > v && (e[-1] == ' ' || e[-1] == '\t'); e--)
        ;
    f->value = span(v, e);
    for (const char *p = v; p < e; p++)
        if (!is_value_char((unsigned char)*p))
            return -400;
    return 0;
    /* ==== end of stage 2 exercise: parse_field ==== */
}

/* Parse the field lines up to the empty line into fields[0..*n), at most
 * HTTP_MAX_FIELDS of them. Returns 0, -400 or -431. */
static int parse_fields(struct cursor *c, struct http_field *fields, size_t *n)
{
    struct http_str line;
    int err;

    *n = 0;
    while ((err = next_line(c, &line)) == 0 && line.len > 0) {
        if (*n == HTTP_MAX_FIELDS)
            return -431;
        if ((err = parse_field(line, &fields[(*n)++])) < 0)
            return err;
    }
    return err;
}

/* Check what holds across the head: the target's form suits the method, and
 * Host is there once (HTTP/1.1) or at most once (HTTP/1.0). Returns 0 or -400. */
static int check_request(const struct http_request *req)
{
    /* ==== stage 2 exercise: check_request ==== */
    size_t hosts = 0;

    if ((req->form == HTTP_FORM_AUTHORITY) != http_method_is(req, "CONNECT"))
        return -400;
    if (req->form == HTTP_FORM_ASTERISK && !http_method_is(req, "OPTIONS"))
        return -400;
    for (size_t i = 0; i < req->nfields; i++)
        hosts += http_str_equal(req->fields[i].name, "Host");
    return hosts > 1 || (req->version == 11 && hosts == 0) ? -400 : 0;
    /* ==== end of stage 2 exercise: check_request ==== */
}

int http_parse_request(const char *buf, size_t len, struct http_request *req)
{
    struct cursor c;
    struct http_str line;
    size_t start;
    int head = find_head(buf, len, &start), err;

    if (head < 0)
        return head;
    memset(req, 0, offsetof(struct http_request, fields));
    c = (struct cursor){buf + start, buf + head};
    if ((err = next_line(&c, &line)) < 0 || (err = parse_request_line(line, req)) < 0 ||
        (err = parse_target(req)) < 0 || (err = parse_fields(&c, req->fields, &req->nfields)) < 0 ||
        (err = check_request(req)) < 0)
        return err;
    return head;
}

/* Parse the status line "HTTP/1.x NNN reason" into resp. Returns 0 or -502. */
static int parse_status_line(struct http_str line, struct http_response *resp)
{
    const char *p = line.p, *end = line.p + line.len;

    if (line.len < 12 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') ||
        p[8] != ' ')
        return -502;
    resp->version = p[7] == '1' ? 11 : 10;
    resp->status = 0;
    for (p += 9; p < line.p + 12; p++) {
        if (*p < '0' || *p > '9')
            return -502;
        resp->status = resp->status * 10 + (*p - '0');
    }
    if (resp->status < 100 || (p < end && *p != ' '))
        return -502;
    resp->reason = p < end ? span(p + 1, end) : span(end, end);
    for (size_t i = 0; i < resp->reason.len; i++)
        if (!is_value_char((unsigned char)resp->reason.p[i]))
            return -502;                /* a control byte: it would cut the line short */
    return 0;
}

int http_parse_response(const char *buf, size_t len, struct http_response *resp)
{
    struct cursor c = {buf, buf + len};
    struct http_str line;
    const char *end;

    for (end = line_end(&c); end != NULL && !empty_line(&c); end = line_end(&c))
        c.p = end;
    if (end == NULL)
        return HTTP_INCOMPLETE;         /* no empty line yet */
    c = (struct cursor){buf, end};
    if (next_line(&c, &line) < 0 || parse_status_line(line, resp) < 0 ||
        parse_fields(&c, resp->fields, &resp->nfields) < 0)
        return -502;
    return (int)(end - buf);
}

int http_is_token(struct http_str s)
{
    return all_of(s, is_tchar);
}
