/* http: HTTP/1.x request heads, parsed by a pure function over (buf, len).
 *
 * The parser never reads a socket: it is handed the bytes that have arrived so
 * far and says "a whole head, this long", "incomplete: read more", or which
 * error status the request deserves. Nothing is allocated: the parsed request
 * points into the caller's buffer. */
#ifndef HTTP_H
#define HTTP_H

#include <stddef.h>

#define HTTP_INCOMPLETE (-2)    /* the head has not fully arrived yet */
#define HTTP_MAX_LINE 8000      /* a longer request line is 414 */
#define HTTP_MAX_HEAD 16384     /* a longer head is 431 */
#define HTTP_MAX_FIELDS 100     /* more header fields are 431 */

/* A string that points into the parsed buffer; not NUL-terminated. */
struct http_str {
    const char *p;
    size_t len;
};

/* The four forms of request-target (RFC 9112 section 3.2). */
enum http_form {
    HTTP_FORM_ORIGIN,           /* /path?query: for a server */
    HTTP_FORM_ABSOLUTE,         /* http://host:port/path?query: for a proxy */
    HTTP_FORM_AUTHORITY,        /* host:port: CONNECT only */
    HTTP_FORM_ASTERISK,         /* *: OPTIONS only */
};

struct http_field {
    struct http_str name;       /* a token, as sent (compare without case) */
    struct http_str value;      /* without leading and trailing spaces or tabs */
};

struct http_request {
    struct http_str method;     /* a token; whether it is known is the caller's call */
    struct http_str target;     /* the request-target as sent */
    enum http_form form;
    struct http_str scheme;     /* absolute form: "http" in any case; else empty */
    struct http_str host;       /* absolute and authority forms: a name, an IPv4
                                   address, or an IPv6 address without its [] */
    unsigned port;              /* 1-65535; 80 if the target has none */
    struct http_str path;       /* origin and absolute forms: "/" if the target has
                                   none; "*" for asterisk form; empty for authority */
    struct http_str query;      /* "?..." or empty; a "#fragment" is dropped */
    int version;                /* 10 for HTTP/1.0, 11 for HTTP/1.1 */
    size_t nfields;
    struct http_field fields[HTTP_MAX_FIELDS];
};

/* Parse the request head at the start of buf[0..len). Returns the head's
 * length in bytes (through the empty line that ends it), HTTP_INCOMPLETE if
 * more bytes are needed, or a negative HTTP status if the request cannot be
 * accepted: -400, -414, -431, -501 (a scheme other than http) or -505. req is
 * meaningful only on success, and then points into buf. Sets no errno. */
int http_parse_request(const char *buf, size_t len, struct http_request *req);

/* The first field of req named name (without regard to case), or NULL. */
const struct http_field *http_find_field(const struct http_request *req, const char *name);

/* Whether req's method is exactly method (methods are case-sensitive). */
int http_method_is(const struct http_request *req, const char *method);

/* Whether s equals the NUL-terminated word, without regard to case. */
int http_str_equal(struct http_str s, const char *word);

/* Take the next element of the comma-separated list *list (a field value
 * such as Connection's) into *elem, without the spaces and tabs around it,
 * and move *list past it. Returns 1 when it has set *elem; 0, leaving *elem
 * alone, when the call before took the last element. So "a, b" gives 1
 * ("a"), 1 ("b"), then 0; the idiom is
 *     while (http_next_element(&list, &elem)) ...use elem...
 * Empty elements ("a, , b", "a,", and "" itself) come back as an empty
 * *elem. Pure. */
int http_next_element(struct http_str *list, struct http_str *elem);

/* Take the next field line of the message head head[0..len) after *at
 * into *f, its name and its value without the spaces and tabs around it,
 * and move *at past it. *at NULL starts after the head's first line (the
 * request or status line); *at == head starts at head[0], for a head
 * without one. Lines without a name and a colon are skipped; the empty line
 * or the end of head[0..len) (a head may be cut short) ends the fields.
 * Returns 1 when it has set *f, 0 at the end. So every reader of a head
 * reads it the same way:
 *     for (const char *at = NULL; http_next_field(head, len, &at, &f);) ...
 * Pure: head has been parsed before, or is scanned only for what it says. */
int http_next_field(const char *head, size_t len, const char **at, struct http_field *f);

/* The reason phrase of an HTTP status ("Not Found" for 404), or "Unknown". */
const char *http_reason(int status);


/* A response head, as an origin server sends it. */
struct http_response {
    int version;                /* 10 for HTTP/1.0, 11 for HTTP/1.1 */
    int status;                 /* 100 to 999 */
    struct http_str reason;     /* the reason phrase, perhaps empty */
    size_t nfields;
    struct http_field fields[HTTP_MAX_FIELDS];
};

/* Parse the response head at the start of buf[0..len): the status line
 * "HTTP/1.x NNN reason", the fields, and the empty line. Returns the head's
 * length, HTTP_INCOMPLETE if no empty line has come yet, or -502 if it is
 * not a head we can trust (no HTTP/1.x status line, a malformed field, more
 * than HTTP_MAX_FIELDS fields). resp then points into buf. Sets no errno. */
int http_parse_response(const char *buf, size_t len, struct http_response *resp);

/* Whether s is a token (RFC 9110 section 5.6.2): one or more tchars. */
int http_is_token(struct http_str s);

#endif
