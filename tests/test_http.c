/* Unit tests of the request-head parser: tables of requests, fed whole and cut
 * at every point, and heads built at the limits.
 *
 * Every input is copied, before it is parsed, into a buffer of exactly its
 * length that ends where an inaccessible page begins: a parser that reads
 * past the end of buf[0..len), which holds no NUL (strstr, strchr and strlen
 * read on to one), is stopped at the first byte too far, in every build, and
 * the test says so. Under ASan (make SAN=address) the buffer is malloc'd
 * instead, and ASan reports a read past either of its ends. */
#include "http.h"
#include "unit.h"

#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define COUNT(a) (sizeof(a) / sizeof(a)[0])
#define SHOWN 60                        /* input bytes shown in a message */
#define SHOWSIZE (4 * SHOWN + 8)        /* each byte is at most 4 once escaped */
#define SAIDSIZE 200                    /* a result in words: said() */
#define OVERREAD (-9998)                /* parse(): the parser read past its input */
#define NO_MEMORY (-9999)               /* parse_exact(): no buffer for the input */

#if defined(__SANITIZE_ADDRESS__)       /* gcc -fsanitize=address */
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)    /* clang -fsanitize=address */
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

/* Short names for the forms, to keep the table's rows short. */
#define ORIGIN HTTP_FORM_ORIGIN
#define ABSOLUTE HTTP_FORM_ABSOLUTE
#define AUTHORITY HTTP_FORM_AUTHORITY
#define ASTERISK HTTP_FORM_ASTERISK

struct valid_case {
    const char *what;
    const char *in;                     /* the bytes sent (no '\0' in them) */
    size_t ret;                         /* the head's length; 0: all of in */
    const char *method;
    enum http_form form;
    const char *scheme, *host;
    unsigned port;
    const char *path, *query;
    int version;
    size_t nfields;
    const char *field, *value;          /* if field: http_find_field gives value */
};

#define FIREFOX "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
#define POST_HEAD "POST /submit HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n"
#define FIRST_HEAD "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"

static const struct valid_case valid_cases[] = {
    {"curl to a server",
     "GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
     0, "GET", ORIGIN, "", "", 80, "/", "", 11, 3, "User-Agent", "curl/7.88.1"},
    {"curl through a proxy",
     "GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/7.88.1\r\n"
     "Accept: */*\r\nProxy-Connection: Keep-Alive\r\n\r\n",
     0, "GET", ABSOLUTE, "http", "example.com", 80, "/", "", 11, 4,
     "Proxy-Connection", "Keep-Alive"},
    {"Firefox's GET through a proxy",
     "GET http://example.com/index.html?lang=en HTTP/1.1\r\n"
     "Host: example.com\r\n"
     "User-Agent: " FIREFOX "\r\n"
     "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
     "image/webp,image/png,image/svg+xml,*/*;q=0.8\r\n"
     "Accept-Language: en-US,en;q=0.5\r\n"
     "Accept-Encoding: gzip, deflate\r\n"
     "Connection: keep-alive\r\n"
     "Upgrade-Insecure-Requests: 1\r\n"
     "Priority: u=0, i\r\n"
     "Proxy-Connection: keep-alive\r\n\r\n",
     0, "GET", ABSOLUTE, "http", "example.com", 80, "/index.html", "?lang=en", 11, 9,
     "User-Agent", FIREFOX},
    {"Firefox's CONNECT through a proxy",
     "CONNECT getpocket.cdn.mozilla.net:443 HTTP/1.1\r\n"
     "User-Agent: " FIREFOX "\r\n"
     "Proxy-Connection: keep-alive\r\n"
     "Connection: keep-alive\r\n"
     "Host: getpocket.cdn.mozilla.net:443\r\n\r\n",
     0, "CONNECT", AUTHORITY, "", "getpocket.cdn.mozilla.net", 443, "", "", 11, 4,
     "Host", "getpocket.cdn.mozilla.net:443"},
    {"bare LF line endings", "GET /a HTTP/1.1\nHost: x\n\n",
     0, "GET", ORIGIN, "", "", 80, "/a", "", 11, 1, "Host", "x"},
    {"CRLF and LF mixed", "GET /a HTTP/1.1\r\nHost: x\nAccept: */*\r\n\n",
     0, "GET", ORIGIN, "", "", 80, "/a", "", 11, 2, "Accept", "*/*"},
    {"empty lines (CRLF) before the request line", "\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
     0, "GET", ORIGIN, "", "", 80, "/", "", 11, 1, "Host", "x"},
    {"empty lines (LF) before the request line", "\n\nGET / HTTP/1.1\nHost: x\n\n",
     0, "GET", ORIGIN, "", "", 80, "/", "", 11, 1, "Host", "x"},
    {"HTTP/1.0 without Host", "GET /index.html HTTP/1.0\r\n\r\n",
     0, "GET", ORIGIN, "", "", 80, "/index.html", "", 10, 0, NULL, NULL},
    {"HTTP/1.0 with Host", "GET / HTTP/1.0\r\nHost: example.com\r\n\r\n",
     0, "GET", ORIGIN, "", "", 80, "/", "", 10, 1, "Host", "example.com"},
    {"HTTP/1.0 absolute form without Host", "GET http://example.com/a HTTP/1.0\r\n\r\n",
     0, "GET", ABSOLUTE, "http", "example.com", 80, "/a", "", 10, 0, "Host", NULL},
    {"a query", "GET /search?q=proxy&lang=en HTTP/1.1\r\nHost: x\r\n\r\n",
     0, "GET", ORIGIN, "", "", 80, "/search", "?q=proxy&lang=en", 11, 1, NULL, NULL},
    {"an empty query", "GET /a? HTTP/1.1\r\nHost: x\r\n\r\n",
     0, "GET", ORIGIN, "", "", 80, "/a", "?", 11, 1, NULL, NULL},
    {"a fragment, dropped", "GET /page#intro HTTP/1.1\r\nHost: x\r\n\r\n",
     0, "GET", ORIGIN, "", "", 80, "/page", "", 11, 1, NULL, NULL},
    {"a query, then a fragment, dropped", "GET /p?a=1#frag HTTP/1.1\r\nHost: x\r\n\r\n",
     0, "GET", ORIGIN, "", "", 80, "/p", "?a=1", 11, 1, NULL, NULL},
    {"a '?' inside the fragment is no query", "GET /p#a?b HTTP/1.1\r\nHost: x\r\n\r\n",
     0, "GET", ORIGIN, "", "", 80, "/p", "", 11, 1, NULL, NULL},
    {"absolute form with a port",
     "GET http://example.com:8080/x/y HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
     0, "GET", ABSOLUTE, "http", "example.com", 8080, "/x/y", "", 11, 1, NULL, NULL},
    {"absolute form with no path", "GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n",
     0, "GET", ABSOLUTE, "http", "example.com", 80, "/", "", 11, 1, NULL, NULL},
    {"absolute form with a port and no path",
     "GET http://example.com:8080 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
     0, "GET", ABSOLUTE, "http", "example.com", 8080, "/", "", 11, 1, NULL, NULL},
    {"absolute form with a query and no path",
     "GET http://example.com?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n",
     0, "GET", ABSOLUTE, "http", "example.com", 80, "/", "?x=1", 11, 1, NULL, NULL},
    {"absolute form with a port, a query and no path",
     "GET http://example.com:81?x HTTP/1.1\r\nHost: example.com:81\r\n\r\n",
     0, "GET", ABSOLUTE, "http", "example.com", 81, "/", "?x", 11, 1, NULL, NULL},
    {"absolute form with a fragment and no path",
     "GET http://example.com#top HTTP/1.1\r\nHost: example.com\r\n\r\n",
     0, "GET", ABSOLUTE, "http", "example.com", 80, "/", "", 11, 1, NULL, NULL},
    {"absolute form with path, query and fragment",
     "GET http://example.com:8080/a/b?c=d#e HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
     0, "GET", ABSOLUTE, "http", "example.com", 8080, "/a/b", "?c=d", 11, 1, NULL, NULL},
    {"an '@' in the path is no userinfo",
     "GET http://example.com/a@b HTTP/1.1\r\nHost: example.com\r\n\r\n",
     0, "GET", ABSOLUTE, "http", "example.com", 80, "/a@b", "", 11, 1, NULL, NULL},
    {"a host of every reg-name punctuation",
     "GET http://a-b_c.d~e!$&'()*+,;=%41/ HTTP/1.1\r\nHost: x\r\n\r\n",
     0, "GET", ABSOLUTE, "http", "a-b_c.d~e!$&'()*+,;=%41", 80, "/", "", 11, 1, NULL, NULL},
    {"an IPv4 host", "GET http://192.0.2.7/ HTTP/1.1\r\nHost: 192.0.2.7\r\n\r\n",
     0, "GET", ABSOLUTE, "http", "192.0.2.7", 80, "/", "", 11, 1, NULL, NULL},
    {"an IPv4 host with a port",
     "GET http://127.0.0.1:3128/status HTTP/1.1\r\nHost: 127.0.0.1:3128\r\n\r\n",
     0, "GET", ABSOLUTE, "http", "127.0.0.1", 3128, "/status", "", 11, 1, NULL, NULL},
    {"an IPv6 host", "GET http://[2001:db8::1]/ HTTP/1.1\r\nHost: [2001:db8::1]\r\n\r\n",
     0, "GET", ABSOLUTE, "http", "2001:db8::1", 80, "/", "", 11, 1, "Host", "[2001:db8::1]"},
    {"an IPv6 host with a port", "GET http://[::1]:8080/x?y HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
     0, "GET", ABSOLUTE, "http", "::1", 8080, "/x", "?y", 11, 1, NULL, NULL},
    {"an IPv6 host and no path", "GET http://[::1] HTTP/1.1\r\nHost: [::1]\r\n\r\n",
     0, "GET", ABSOLUTE, "http", "::1", 80, "/", "", 11, 1, NULL, NULL},
    {"an IPv4-mapped IPv6 host", "GET http://[::ffff:192.0.2.1]/ HTTP/1.1\r\nHost: x\r\n\r\n",
     0, "GET", ABSOLUTE, "http", "::ffff:192.0.2.1", 80, "/", "", 11, 1, NULL, NULL},
    {"a scheme in upper case",
     "GET HTTP://EXAMPLE.COM/Index.HTML HTTP/1.1\r\nHost: EXAMPLE.COM\r\n\r\n",
     0, "GET", ABSOLUTE, "HTTP", "EXAMPLE.COM", 80, "/Index.HTML", "", 11, 1, NULL, NULL},
    {"a scheme in mixed case", "GET hTTp://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n",
     0, "GET", ABSOLUTE, "hTTp", "example.com", 80, "/", "", 11, 1, NULL, NULL},
    {"OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: example.com\r\n\r\n",
     0, "OPTIONS", ASTERISK, "", "", 80, "*", "", 11, 1, NULL, NULL},
    {"CONNECT to an IPv6 address", "CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n",
     0, "CONNECT", AUTHORITY, "", "::1", 443, "", "", 11, 1, NULL, NULL},
    {"CONNECT to an IPv4 address",
     "CONNECT 192.0.2.7:8443 HTTP/1.1\r\nHost: 192.0.2.7:8443\r\n\r\n",
     0, "CONNECT", AUTHORITY, "", "192.0.2.7", 8443, "", "", 11, 1, NULL, NULL},
    {"an unknown method", "BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n",
     0, "BREW", ORIGIN, "", "", 80, "/pot", "", 11, 1, NULL, NULL},
    {"a method with tchar punctuation", "M-SEARCH /x HTTP/1.1\r\nHost: x\r\n\r\n",
     0, "M-SEARCH", ORIGIN, "", "", 80, "/x", "", 11, 1, NULL, NULL},
    {"a method in lower case is still a token", "get / HTTP/1.1\r\nHost: x\r\n\r\n",
     0, "get", ORIGIN, "", "", 80, "/", "", 11, 1, NULL, NULL},
    {"spaces and tabs around values",
     "GET / HTTP/1.1\r\nHost: \t x \t \r\nX-Pad:\t\tinner  spaces\tkept\t \r\n\r\n",
     0, "GET", ORIGIN, "", "", 80, "/", "", 11, 2, "X-Pad", "inner  spaces\tkept"},
    {"no space after the colon", "GET / HTTP/1.1\r\nHost:x\r\n\r\n",
     0, "GET", ORIGIN, "", "", 80, "/", "", 11, 1, "Host", "x"},
    {"an empty value", "GET / HTTP/1.1\r\nHost: x\r\nX-Empty:\r\n\r\n",
     0, "GET", ORIGIN, "", "", 80, "/", "", 11, 2, "X-Empty", ""},
    {"a value of spaces and tabs only", "GET / HTTP/1.1\r\nHost: x\r\nX-Blank:  \t \r\n\r\n",
     0, "GET", ORIGIN, "", "", 80, "/", "", 11, 2, "X-Blank", ""},
    {"obs-text in a value", "GET / HTTP/1.1\r\nHost: x\r\nX-Name: caf\xc3\xa9 \x80\xff\r\n\r\n",
     0, "GET", ORIGIN, "", "", 80, "/", "", 11, 2, "X-Name", "caf\xc3\xa9 \x80\xff"},
    {"a colon inside a value",
     "GET / HTTP/1.1\r\nHost: x\r\nReferer: http://example.com:8080/a\r\n\r\n",
     0, "GET", ORIGIN, "", "", 80, "/", "", 11, 2, "Referer", "http://example.com:8080/a"},
    {"a lower-case host field", "GET / HTTP/1.1\r\nhost: x\r\n\r\n",
     0, "GET", ORIGIN, "", "", 80, "/", "", 11, 1, "Host", "x"},
    {"fields whose names begin with Host are not Host",
     "GET / HTTP/1.1\r\nHostile: a\r\nHost: x\r\nHost-Name: b\r\n\r\n",
     0, "GET", ORIGIN, "", "", 80, "/", "", 11, 3, "Host", "x"},
    {"a field name of tchar punctuation",
     "GET / HTTP/1.1\r\nHost: x\r\nX-A_b.c!#$%&'*+^`|~: 1\r\n\r\n",
     0, "GET", ORIGIN, "", "", 80, "/", "", 11, 2, "x-a_B.C!#$%&'*+^`|~", "1"},
    {"port 1", "GET http://example.com:1/ HTTP/1.1\r\nHost: example.com:1\r\n\r\n",
     0, "GET", ABSOLUTE, "http", "example.com", 1, "/", "", 11, 1, NULL, NULL},
    {"port 65535", "GET http://example.com:65535/ HTTP/1.1\r\nHost: example.com:65535\r\n\r\n",
     0, "GET", ABSOLUTE, "http", "example.com", 65535, "/", "", 11, 1, NULL, NULL},
    {"a port with leading zeros", "GET http://example.com:00080/ HTTP/1.1\r\nHost: x\r\n\r\n",
     0, "GET", ABSOLUTE, "http", "example.com", 80, "/", "", 11, 1, NULL, NULL},
    {"a head followed by body bytes", POST_HEAD "hello", sizeof POST_HEAD - 1,
     "POST", ORIGIN, "", "", 80, "/submit", "", 11, 2, "Content-Length", "5"},
    {"a head followed by the next request", FIRST_HEAD "GET /2 HTTP/1.1\r\nHost: x\r\n\r\n",
     sizeof FIRST_HEAD - 1, "GET", ORIGIN, "", "", 80, "/1", "", 11, 1, NULL, NULL},
};

struct error_case {
    const char *what;
    struct bytes in;
    int status;                         /* what http_parse_request must return */
};

/* A request line with a Host field; a Host field then field lines f. */
#define LINE(line) B(line "\r\nHost: x\r\n\r\n")
#define FIELDS(f) B("GET / HTTP/1.1\r\nHost: x\r\n" f "\r\n")

static const struct error_case error_cases[] = {
    {"no version", LINE("GET /"), -400},
    {"a method alone", B("GET\r\n\r\n"), -400},
    {"not a request line", B("hello\r\n\r\n"), -400},
    {"two spaces after the method", LINE("GET  / HTTP/1.1"), -400},
    {"two spaces before the version", LINE("GET /  HTTP/1.1"), -400},
    {"a space after the version", LINE("GET / HTTP/1.1 "), -400},
    {"a tab instead of a space", LINE("GET\t/ HTTP/1.1"), -400},
    {"a version in lower case", LINE("GET / http/1.1"), -400},
    {"HTTP/1", LINE("GET / HTTP/1"), -400},
    {"HTTP/1.1x", LINE("GET / HTTP/1.1x"), -400},
    {"HTTP/11", LINE("GET / HTTP/11"), -400},
    {"a letter for a version digit", LINE("GET / HTTP/1.x"), -400},
    {"a '(' in the method", LINE("GE(T / HTTP/1.1"), -400},
    {"a '/' in the method", LINE("GET/ / HTTP/1.1"), -400},
    {"a non-ASCII method", LINE("G\xc3\x89T / HTTP/1.1"), -400},
    {"an empty method", LINE(" / HTTP/1.1"), -400},
    {"a bare CR in the request line", LINE("GET /\r HTTP/1.1"), -400},
    {"CR CR LF after the request line", B("GET / HTTP/1.1\r\r\nHost: x\r\n\r\n"), -400},
    {"HTTP/2.0", LINE("GET / HTTP/2.0"), -505},
    {"HTTP/1.2", LINE("GET / HTTP/1.2"), -505},
    {"HTTP/0.9", LINE("GET / HTTP/0.9"), -505},
    {"no Host in HTTP/1.1", B("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n"), -400},
    {"no fields at all in HTTP/1.1", B("GET / HTTP/1.1\r\n\r\n"), -400},
    {"no Host in HTTP/1.1, only a field whose name begins with Host",
     B("GET / HTTP/1.1\r\nHostile: x\r\n\r\n"), -400},
    {"two Host fields", FIELDS("Host: x\r\n"), -400},
    {"two Host fields, in other cases", FIELDS("HOST: y\r\n"), -400},
    {"two Host fields in HTTP/1.0", B("GET / HTTP/1.0\r\nhost: a\r\nHost: b\r\n\r\n"), -400},
    {"a space before the colon", B("GET / HTTP/1.1\r\nHost : x\r\n\r\n"), -400},
    {"a tab before the colon", FIELDS("Accept\t: */*\r\n"), -400},
    {"obs-fold with a space", FIELDS("X-Long: a\r\n  b\r\n"), -400},
    {"obs-fold with a tab", FIELDS("X-Long: a\r\n\tb\r\n"), -400},
    {"a space before the first field", B("GET / HTTP/1.1\r\n Host: x\r\n\r\n"), -400},
    {"a field line with no colon", FIELDS("NoColonHere\r\n"), -400},
    {"an empty field name", FIELDS(": value\r\n"), -400},
    {"a '(' in a field name", FIELDS("X(A): b\r\n"), -400},
    {"a bare CR in a value", FIELDS("X-A: a\rb\r\n"), -400},
    {"a NUL in a value", FIELDS("X-A: a\0b\r\n"), -400},
    {"a NUL in a field name", FIELDS("X-\0A: b\r\n"), -400},
    {"a DEL in a value", FIELDS("X-A: a\x7f" "b\r\n"), -400},
    {"a control character in a value", FIELDS("X-A: a\x01" "b\r\n"), -400},
    {"a control character in the target", LINE("GET /a\x01" "b HTTP/1.1"), -400},
    {"a DEL in the target", LINE("GET /a\x7f HTTP/1.1"), -400},
    {"a NUL in the target", LINE("GET /a\0b HTTP/1.1"), -400},
    {"userinfo in the URL", LINE("GET http://user:pw@example.com/ HTTP/1.1"), -400},
    {"a user name in the URL", LINE("GET http://user@example.com/ HTTP/1.1"), -400},
    {"an empty host", LINE("GET http:/// HTTP/1.1"), -400},
    {"an empty host with a port", LINE("GET http://:8080/ HTTP/1.1"), -400},
    {"a '<' in the host", LINE("GET http://exa<mple.com/ HTTP/1.1"), -400},
    {"port 0", LINE("GET http://example.com:0/ HTTP/1.1"), -400},
    {"port 65536", LINE("GET http://example.com:65536/ HTTP/1.1"), -400},
    {"a port of 6 digits", LINE("GET http://example.com:123456/ HTTP/1.1"), -400},
    {"a port that is no number", LINE("GET http://example.com:http/ HTTP/1.1"), -400},
    {"a port with a sign", LINE("GET http://example.com:+80/ HTTP/1.1"), -400},
    {"an empty port", LINE("GET http://example.com:/ HTTP/1.1"), -400},
    {"two ports", LINE("GET http://example.com:80:81/ HTTP/1.1"), -400},
    {"an unclosed IPv6 bracket", LINE("GET http://[::1/ HTTP/1.1"), -400},
    {"junk after the IPv6 ']'", LINE("GET http://[::1]x/ HTTP/1.1"), -400},
    {"empty IPv6 brackets", LINE("GET http://[]/ HTTP/1.1"), -400},
    {"a 'g' in an IPv6 address", LINE("GET http://[::g]/ HTTP/1.1"), -400},
    {"an IPv4 address in brackets, no ':'", LINE("GET http://[1.2.3.4]/ HTTP/1.1"), -400},
    {"CONNECT with an origin-form target", LINE("CONNECT / HTTP/1.1"), -400},
    {"CONNECT with an absolute-form target", LINE("CONNECT http://example.com:443/ HTTP/1.1"),
     -400},
    {"GET with an authority-form target", LINE("GET example.com:80 HTTP/1.1"), -400},
    {"CONNECT without a port", LINE("CONNECT example.com HTTP/1.1"), -400},
    {"CONNECT with an empty port", LINE("CONNECT example.com: HTTP/1.1"), -400},
    {"connect in lower case (methods are case-sensitive)",
     LINE("connect example.com:443 HTTP/1.1"), -400},
    {"GET *", LINE("GET * HTTP/1.1"), -400},
    {"OPTIONS **", LINE("OPTIONS ** HTTP/1.1"), -400},
    {"an https:// URL", LINE("GET https://example.com/ HTTP/1.1"), -501},
    {"an HTTPS:// URL", LINE("GET HTTPS://example.com/ HTTP/1.1"), -501},
    {"an ftp:// URL", LINE("GET ftp://example.com/ HTTP/1.1"), -501},
    {"a '_' in the scheme", LINE("GET h_ttp://example.com/ HTTP/1.1"), -400},
    {"an empty scheme", LINE("GET ://example.com/ HTTP/1.1"), -400},
};

/* Show up to SHOWN bytes of p[0..n), escaped, in out[size]. */
static const char *show(const char *p, size_t n, char *out, size_t size)
{
    size_t o = 0;

    out[0] = '\0';
    for (size_t i = 0; i < n && i < SHOWN && o + 5 < size; i++) {
        unsigned char c = (unsigned char)p[i];
        o += (size_t)snprintf(out + o, size - o, c == '\n' ? "\\n" : c == '\r' ? "\\r"
                              : c == '\t' ? "\\t" : c == '"' ? "\\\"" : c == '\\' ? "\\\\"
                              : c >= 32 && c < 127 ? "%c" : "\\x%02x", c);
    }
    if (n > SHOWN && o + 4 < size)
        snprintf(out + o, size - o, "...");
    return out;
}

static size_t page;                     /* the page size, once dup_exact has asked */

/* How many bytes of whole pages n bytes take. */
static size_t pages_for(size_t n)
{
    return (n + page - 1) / page * page;
}

/* A copy of p[0..n) whose last byte is the last before an inaccessible
 * page (under ASan: in a malloc'd buffer of exactly n bytes), or NULL.
 * Free it with free_exact(b, n). */
static char *dup_exact(const char *p, size_t n)
{
    void *block = NULL;
    char *b;

    if (UNDER_ASAN) {
        b = malloc(n);
        if (b == NULL && n == 0)
            b = malloc(1);              /* malloc(0) may return NULL */
    } else {
        if (page == 0)
            page = sysconf(_SC_PAGESIZE) > 0 ? (size_t)sysconf(_SC_PAGESIZE) : 4096;
        if (posix_memalign(&block, page, pages_for(n) + page) != 0)
            block = NULL;
        else if (mprotect((char *)block + pages_for(n), page, PROT_NONE) < 0) {
            free(block);
            block = NULL;
        }
        b = block ? (char *)block + pages_for(n) - n : NULL;
    }
    EXPECT(b != NULL, "no buffer of %zu bytes for the input (malloc or mprotect failed)", n);
    if (b != NULL && n > 0)
        memcpy(b, p, n);
    return b;
}

static void free_exact(char *b, size_t n)
{
    if (b == NULL || UNDER_ASAN) {
        free(b);
        return;
    }
    b += n;                             /* where the inaccessible page begins */
    mprotect(b, page, PROT_READ | PROT_WRITE);
    free(b - pages_for(n));
}

static sigjmp_buf overread;             /* where parse() goes on after one */
static char *volatile guard;            /* the inaccessible page after the input parsed */

/* SIGSEGV: a read of guard is an overread, which parse() reports; any
 * other fault is the crash it would have been. */
static void on_fault(int sig, siginfo_t *info, void *context)
{
    char *at = info->si_addr;

    (void)context;
    if (guard != NULL && at >= guard && at < guard + page)
        siglongjmp(overread, 1);
    signal(sig, SIG_DFL);               /* the fault comes again, and kills */
}

/* http_parse_request over b[0..n), a dup_exact() copy: what it returns, or
 * OVERREAD if it read past b[n - 1]. */
static int parse(char *b, size_t n, struct http_request *req)
{
    struct sigaction sa, old;
    volatile int r = OVERREAD;

    if (UNDER_ASAN)
        return http_parse_request(b, n, req);
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    guard = b + n;
    sigaction(SIGSEGV, &sa, &old);
    if (sigsetjmp(overread, 1) == 0)
        r = http_parse_request(b, n, req);
    sigaction(SIGSEGV, &old, NULL);
    guard = NULL;
    return r;
}

/* Parse p[0..n) from a buffer of exactly n bytes. req's strings dangle after. */
static int parse_exact(const char *p, size_t n, struct http_request *req)
{
    char *b = dup_exact(p, n);
    int r = b != NULL ? parse(b, n, req) : NO_MEMORY;

    free_exact(b, n);
    return r;
}

/* What http_parse_request's result r means, in words, in out[SAIDSIZE]. */
static const char *said(int r, char *out)
{
    if (r == OVERREAD)
        snprintf(out, SAIDSIZE, "nothing: it read past the end of its input, buf[0..len), "
                 "which holds no NUL (strstr, strchr and strlen read on to one)");
    else if (r == HTTP_INCOMPLETE)
        snprintf(out, SAIDSIZE, "HTTP_INCOMPLETE (%d)", r);
    else if (r < 0 && strcmp(http_reason(-r), "Unknown") != 0)
        snprintf(out, SAIDSIZE, "%d (%s)", r, http_reason(-r));
    else
        snprintf(out, SAIDSIZE, "%d", r);
    return out;
}

/* Whether s is exactly want, case included. */
static int str_is(struct http_str s, const char *want)
{
    size_t n = strlen(want);

    return s.len == n && (n == 0 || memcmp(s.p, want, n) == 0);
}

static const char *form_name(enum http_form f)
{
    static const char *const names[] = {
        "HTTP_FORM_ORIGIN", "HTTP_FORM_ABSOLUTE", "HTTP_FORM_AUTHORITY", "HTTP_FORM_ASTERISK",
    };

    return (unsigned)f < COUNT(names) ? names[f] : "no form";
}

/* Check the field c names, if any, against what http_find_field finds. */
static void check_named_field(const struct valid_case *c, const struct http_request *req,
                              const char *in)
{
    const struct http_field *f;
    char got[SHOWSIZE], want[SHOWSIZE];

    if (c->field == NULL)
        return;
    f = http_find_field(req, c->field);
    if (c->value == NULL) {
        EXPECT(f == NULL, "%s: sent \"%s\": found a field %s, expected none", c->what, in,
               c->field);
        return;
    }
    EXPECT(f != NULL && str_is(f->value, c->value), "%s: sent \"%s\": field %s is %s%s%s, "
           "expected \"%s\"", c->what, in, c->field, f ? "\"" : "",
           f ? show(f->value.p, f->value.len, got, sizeof got) : "missing", f ? "\"" : "",
           show(c->value, strlen(c->value), want, sizeof want));
}

/* Check every part of req against valid case c; in is c's input, shown. */
static void check_parts(const struct valid_case *c, const struct http_request *req,
                        const char *in)
{
    const struct {
        const char *name;
        struct http_str got;
        const char *want;
    } parts[] = {
        {"method", req->method, c->method}, {"scheme", req->scheme, c->scheme},
        {"host", req->host, c->host},       {"path", req->path, c->path},
        {"query", req->query, c->query},
    };
    char got[SHOWSIZE], want[SHOWSIZE];

    for (size_t i = 0; i < COUNT(parts); i++)
        EXPECT(str_is(parts[i].got, parts[i].want), "%s: sent \"%s\": %s is \"%s\", "
               "expected \"%s\"", c->what, in, parts[i].name,
               show(parts[i].got.p, parts[i].got.len, got, sizeof got),
               show(parts[i].want, strlen(parts[i].want), want, sizeof want));
    EXPECT(req->form == c->form, "%s: sent \"%s\": form is %s, expected %s", c->what, in,
           form_name(req->form), form_name(c->form));
    EXPECT(req->port == c->port, "%s: sent \"%s\": port is %u, expected %u", c->what, in,
           req->port, c->port);
    EXPECT(req->version == c->version, "%s: sent \"%s\": version is %d, expected %d",
           c->what, in, req->version, c->version);
    EXPECT(req->nfields == c->nfields, "%s: sent \"%s\": nfields is %zu, expected %zu",
           c->what, in, req->nfields, c->nfields);
    check_named_field(c, req, in);
}

/* Parse valid case c whole and check the return and every part of the result. */
static void check_valid(const struct valid_case *c)
{
    size_t n = strlen(c->in), want = c->ret ? c->ret : n;
    char *buf = dup_exact(c->in, n), in[SHOWSIZE], got[SAIDSIZE];
    struct http_request req;
    int r;

    if (buf == NULL)
        return;
    r = parse(buf, n, &req);
    show(c->in, n, in, sizeof in);
    EXPECT(r == (int)want, "%s: sent \"%s\" (%zu bytes): returned %s, expected %zu "
           "(the head's length)", c->what, in, n, said(r, got), want);
    if (r == (int)want)
        check_parts(c, &req, in);
    free_exact(buf, n);
}

static void check_error(const struct error_case *c)
{
    struct http_request req;
    char in[SHOWSIZE], got[SAIDSIZE], want[SAIDSIZE];
    int r = parse_exact(c->in.p, c->in.n, &req);

    EXPECT(r == c->status, "%s: sent \"%s\": returned %s, expected %s", c->what,
           show(c->in.p, c->in.n, in, sizeof in), said(r, got), said(c->status, want));
}

static void test_valid_requests(void)
{
    for (size_t i = 0; i < COUNT(valid_cases); i++) {
        unit_row();             /* scored by row: each is a form of request */
        check_valid(&valid_cases[i]);
    }
}

static void test_errors(void)
{
    for (size_t i = 0; i < COUNT(error_cases); i++) {
        unit_row();             /* scored by row: each is a rule of its own */
        check_error(&error_cases[i]);
    }
}

/* What a parse of the first k bytes of an input may return, when the whole
 * input gives whole: a strict prefix of a head is incomplete, and once the
 * head is all there (body bytes follow) it gives the head's length; an error
 * may be found early, but no other error. Says so in want[size]. */
static int prefix_ok(int r, size_t k, int whole, char *want, size_t size)
{
    char status[SAIDSIZE];

    if (whole >= 0 && k >= (size_t)whole) {
        snprintf(want, size, "%d, the head's length", whole);
        return r == whole;
    }
    if (whole >= 0 || whole == HTTP_INCOMPLETE) {
        snprintf(want, size, "HTTP_INCOMPLETE (%d)", HTTP_INCOMPLETE);
        return r == HTTP_INCOMPLETE;
    }
    snprintf(want, size, "HTTP_INCOMPLETE (%d) or %s", HTTP_INCOMPLETE, said(whole, status));
    return r == HTTP_INCOMPLETE || r == whole;
}

/* Parse every strict prefix of in[0..n), each from a buffer of exactly its
 * length, and report the first whose result is not allowed. */
static void check_prefixes(const char *what, const char *in, size_t n, int whole)
{
    struct http_request req;
    char want[SAIDSIZE + 32], tail[SHOWSIZE], got[SAIDSIZE];

    for (size_t k = 0; k < n; k++) {
        size_t from = k > SHOWN ? k - SHOWN : 0;
        int r = parse_exact(in, k, &req);

        if (!prefix_ok(r, k, whole, want, sizeof want)) {
            EXPECT(0, "%s: sent only the first %zu of its %zu bytes, \"%s%s\": returned %s, "
                   "expected %s", what, k, n, from > 0 ? "..." : "",
                   show(in + from, k - from, tail, sizeof tail), said(r, got), want);
            return;
        }
    }
}

/* Scored by row: each row is one input, fed at every split point. */
static void test_every_split(void)
{
    for (size_t i = 0; i < COUNT(valid_cases); i++) {
        const struct valid_case *c = &valid_cases[i];
        size_t n = strlen(c->in);

        unit_row();
        check_prefixes(c->what, c->in, n, (int)(c->ret ? c->ret : n));
        check_valid(c);
    }
    for (size_t i = 0; i < COUNT(error_cases); i++) {
        const struct error_case *c = &error_cases[i];

        unit_row();
        check_prefixes(c->what, c->in.p, c->in.n, c->status);
        check_error(c);
    }
}

static const struct error_case incomplete_cases[] = {
    {"empty input", B(""), HTTP_INCOMPLETE},
    {"a lone CR", B("\r"), HTTP_INCOMPLETE},
    {"only empty lines (CRLF)", B("\r\n\r\n\r\n"), HTTP_INCOMPLETE},
    {"only empty lines (LF)", B("\n\n\n"), HTTP_INCOMPLETE},
    {"empty lines, then part of a request line", B("\r\n\nGET /"), HTTP_INCOMPLETE},
    {"a request line without its LF", B("GET / HTTP/1.1"), HTTP_INCOMPLETE},
    {"a request line cut after its CR", B("GET / HTTP/1.1\r"), HTTP_INCOMPLETE},
    {"a request line alone", B("GET / HTTP/1.1\r\n"), HTTP_INCOMPLETE},
    {"an HTTP/1.0 request line alone", B("GET / HTTP/1.0\r\n"), HTTP_INCOMPLETE},
    {"a field line cut", B("GET / HTTP/1.1\r\nHost: exa"), HTTP_INCOMPLETE},
    {"a head missing its empty line", B("GET / HTTP/1.1\r\nHost: x\r\n"), HTTP_INCOMPLETE},
    {"a head missing its empty line (LF)", B("GET / HTTP/1.1\nHost: x\n"), HTTP_INCOMPLETE},
    {"a head whose last CRLF is cut after the CR", B("GET / HTTP/1.1\r\nHost: x\r\n\r"),
     HTTP_INCOMPLETE},
};

static void test_incomplete(void)
{
    for (size_t i = 0; i < COUNT(incomplete_cases); i++) {
        const struct error_case *c = &incomplete_cases[i];

        check_error(c);
        check_prefixes(c->what, c->in.p, c->in.n, HTTP_INCOMPLETE);
    }
}

/* A growing buffer of text, for heads built at the limits. */
struct text {
    char *p;
    size_t n, cap;
    int failed;                         /* out of memory */
};

/* Append n bytes to t: those of s, or n copies of c if s is NULL. */
static void put_run(struct text *t, const char *s, size_t n, int c)
{
    if (t->failed)
        return;
    if (t->n + n > t->cap) {
        size_t cap = 2 * (t->n + n);
        char *p = realloc(t->p, cap);
        EXPECT(p != NULL, "realloc(%zu) failed", cap);
        if (p == NULL) {
            t->failed = 1;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
    if (s != NULL)
        memcpy(t->p + t->n, s, n);
    else
        memset(t->p + t->n, c, n);
    t->n += n;
}

static void put(struct text *t, const char *s)
{
    put_run(t, s, strlen(s), 0);
}

/* A head of n fields: Host, then X-Field-2 and on. */
static void make_fields(struct text *t, size_t n)
{
    char line[64];

    put(t, "GET / HTTP/1.1\r\nHost: x\r\n");
    for (size_t i = 2; i <= n; i++) {
        snprintf(line, sizeof line, "X-Field-%zu: %zu\r\n", i, i);
        put(t, line);
    }
    put(t, "\r\n");
}

/* A request line "GET /aaa...a HTTP/1.1" of n bytes (n >= 14), without CRLF. */
static void put_request_line(struct text *t, size_t n)
{
    put(t, "GET /");
    put_run(t, NULL, n - 14, 'a');
    put(t, " HTTP/1.1");
}

/* A whole head whose request line is n bytes, CRLF not counted. */
static void make_line(struct text *t, size_t n)
{
    put_request_line(t, n);
    put(t, "\r\nHost: x\r\n\r\n");
}

/* A request line of n bytes and its CR, with its LF yet to come. */
static void make_line_cr(struct text *t, size_t n)
{
    put_request_line(t, n);
    put(t, "\r");
}

/* n bytes of a request line, with no LF yet. */
static void make_open_line(struct text *t, size_t n)
{
    put(t, "GET /");
    put_run(t, NULL, n - 5, 'a');
}

/* A head of exactly n bytes, padded with a long X-Pad field. */
static void make_head(struct text *t, size_t n)
{
    put(t, "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ");
    put_run(t, NULL, n - t->n - 4, 'a');
    put(t, "\r\n\r\n");
}

/* n bytes of head, whole lines, with no empty line yet. */
static void make_open_head(struct text *t, size_t n)
{
    put(t, "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ");
    put_run(t, NULL, n - t->n - 2, 'a');
    put(t, "\r\n");
}

/* n bytes of head (make_head's), the first two an empty line ("\r\n"),
 * which counts towards HTTP_MAX_HEAD like any other. */
static void make_head_after_empty(struct text *t, size_t n)
{
    put(t, "\r\nGET / HTTP/1.1\r\nHost: x\r\nX-Pad: ");
    put_run(t, NULL, n - t->n - 4, 'a');
    put(t, "\r\n\r\n");
}

struct limit_case {
    const char *what;
    void (*make)(struct text *t, size_t size);
    size_t size;
    int want;                           /* a status, or 0: all of it is one head */
    size_t nfields;                     /* if want is 0 */
};

static const struct limit_case limit_cases[] = {
    {"exactly HTTP_MAX_FIELDS fields", make_fields, HTTP_MAX_FIELDS, 0, HTTP_MAX_FIELDS},
    {"HTTP_MAX_FIELDS + 1 fields", make_fields, HTTP_MAX_FIELDS + 1, -431, 0},
    {"a request line of exactly HTTP_MAX_LINE bytes", make_line, HTTP_MAX_LINE, 0, 1},
    {"a request line of HTTP_MAX_LINE + 1 bytes", make_line, HTTP_MAX_LINE + 1, -414, 0},
    {"a request line of HTTP_MAX_LINE bytes and its CR, no LF yet", make_line_cr,
     HTTP_MAX_LINE, HTTP_INCOMPLETE, 0},
    {"HTTP_MAX_LINE + 3 bytes of request line, no LF yet", make_open_line, HTTP_MAX_LINE + 3,
     -414, 0},
    {"4 * HTTP_MAX_LINE bytes of request line, no LF yet", make_open_line, 4 * HTTP_MAX_LINE,
     -414, 0},
    {"a head of exactly HTTP_MAX_HEAD bytes", make_head, HTTP_MAX_HEAD, 0, 2},
    {"a head of HTTP_MAX_HEAD + 1 bytes", make_head, HTTP_MAX_HEAD + 1, -431, 0},
    {"a head of HTTP_MAX_HEAD + 2 bytes", make_head, HTTP_MAX_HEAD + 2, -431, 0},
    {"an empty line and a head: exactly HTTP_MAX_HEAD bytes from buf[0]", make_head_after_empty,
     HTTP_MAX_HEAD, 0, 2},
    {"an empty line and a head: HTTP_MAX_HEAD + 1 bytes from buf[0]", make_head_after_empty,
     HTTP_MAX_HEAD + 1, -431, 0},
    {"HTTP_MAX_HEAD + 1 bytes of head, no empty line yet", make_open_head, HTTP_MAX_HEAD + 1,
     -431, 0},
    {"4 * HTTP_MAX_HEAD bytes of head, no empty line yet", make_open_head, 4 * HTTP_MAX_HEAD,
     -431, 0},
};

/* Build c's input, parse it whole, and, if it is one head, all but its last byte. */
static void check_limit(const struct limit_case *c)
{
    struct text t = {0};
    struct http_request req;
    char got[SAIDSIZE], expected[SAIDSIZE];
    int r, want;

    c->make(&t, c->size);
    if (!t.failed) {
        want = c->want != 0 ? c->want : (int)t.n;
        r = parse_exact(t.p, t.n, &req);
        EXPECT(r == want, "%s (%zu bytes in all): returned %s, expected %s", c->what, t.n,
               said(r, got), said(want, expected));
        if (r == want && c->want == 0) {
            EXPECT(req.nfields == c->nfields, "%s: nfields is %zu, expected %zu", c->what,
                   req.nfields, c->nfields);
            r = parse_exact(t.p, t.n - 1, &req);
            EXPECT(r == HTTP_INCOMPLETE, "%s: all but its last byte returned %s, expected "
                   "HTTP_INCOMPLETE (%d)", c->what, said(r, got), HTTP_INCOMPLETE);
        }
    }
    free(t.p);
}

static void test_limits(void)
{
    for (size_t i = 0; i < COUNT(limit_cases); i++)
        check_limit(&limit_cases[i]);
}

/* Whether s lies within buf[0..n); an empty s points at no byte, so it does. */
static int inside(struct http_str s, const char *buf, size_t n)
{
    uintptr_t p = (uintptr_t)s.p, b = (uintptr_t)buf;

    return s.len == 0 || (p >= b && p - b <= n && s.len <= n - (p - b));
}

/* Whether s neither begins nor ends with a space or a tab. */
static int trimmed(struct http_str s)
{
    return s.len == 0 || (s.p[0] != ' ' && s.p[0] != '\t' && s.p[s.len - 1] != ' ' &&
                          s.p[s.len - 1] != '\t');
}

/* Check that req's strings lie within the head buf[0..n) it was parsed from. */
static void check_pointers(const char *what, const struct http_request *req, const char *buf,
                           size_t n)
{
    const struct {
        const char *name;
        struct http_str s;
    } parts[] = {
        {"method", req->method}, {"target", req->target}, {"scheme", req->scheme},
        {"host", req->host},     {"path", req->path},     {"query", req->query},
    };

    for (size_t i = 0; i < COUNT(parts); i++)
        EXPECT(inside(parts[i].s, buf, n) ||
               (strcmp(parts[i].name, "path") == 0 && str_is(parts[i].s, "/")),
               "%s: %s does not point into the head it was parsed from", what, parts[i].name);
    EXPECT(req->method.len > 0 && req->target.len > 0, "%s: method or target is empty", what);
    for (size_t i = 0; i < req->nfields && i < HTTP_MAX_FIELDS; i++) {
        const struct http_field *f = &req->fields[i];
        EXPECT(f->name.len > 0 && inside(f->name, buf, n) && inside(f->value, buf, n),
               "%s: field %zu's name or value does not point into the head", what, i + 1);
        EXPECT(trimmed(f->value), "%s: field %zu's value begins or ends with a space or tab",
               what, i + 1);
    }
}

static void test_fields_point_into_buffer(void)
{
    for (size_t i = 0; i < COUNT(valid_cases); i++) {
        const struct valid_case *c = &valid_cases[i];
        size_t n = strlen(c->in);
        char *buf = dup_exact(c->in, n), in[SHOWSIZE], got[SAIDSIZE];
        struct http_request req;
        int r;

        if (buf == NULL)
            return;
        r = parse(buf, n, &req);
        EXPECT(r > 0, "%s: sent \"%s\": returned %s, expected the head's length", c->what,
               show(c->in, n, in, sizeof in), said(r, got));
        if (r > 0)
            check_pointers(c->what, &req, buf, (size_t)r);
        free_exact(buf, n);
    }
}

/* http_find_field on a request with no fields at all. */
static void check_find_no_field(void)
{
    static const char head[] = "GET / HTTP/1.0\r\n\r\n";
    struct http_request req;

    if (parse_exact(head, sizeof head - 1, &req) == (int)sizeof head - 1)
        EXPECT(http_find_field(&req, "Host") == NULL, "http_find_field(\"Host\") in a "
               "request with no fields returned a field, expected NULL");
}

static void check_find_field(void)
{
    static const char head[] = "GET / HTTP/1.1\r\nHost: example.com\r\nX-Dup: first\r\n"
                               "x-dup: second\r\nACCEPT: */*\r\nX-Empty:\r\n\r\n";
    static const struct {
        const char *name, *want;        /* want NULL: no such field */
    } cases[] = {
        {"Host", "example.com"}, {"host", "example.com"}, {"HOST", "example.com"},
        {"X-Dup", "first"},      {"x-dup", "first"},      {"X-DUP", "first"},
        {"Accept", "*/*"},       {"X-Empty", ""},         {"Hos", NULL},
        {"Hostname", NULL},      {"Host:", NULL},         {"Missing", NULL},
        {"", NULL},
    };
    char *buf = dup_exact(head, sizeof head - 1), got[SHOWSIZE], result[SAIDSIZE];
    struct http_request req;
    int r = buf != NULL ? parse(buf, sizeof head - 1, &req) : NO_MEMORY;

    EXPECT(r == (int)sizeof head - 1, "http_parse_request returned %s on a plain head; "
           "see valid_requests", said(r, result));
    for (size_t i = 0; r == (int)sizeof head - 1 && i < COUNT(cases); i++) {
        const struct http_field *f = http_find_field(&req, cases[i].name);
        const char *want = cases[i].want;
        EXPECT(want == NULL ? f == NULL : f != NULL && str_is(f->value, want),
               "http_find_field(\"%s\") in \"Host: example.com, X-Dup: first, x-dup: second, "
               "ACCEPT: */*, X-Empty:\": got %s%s%s, expected %s%s%s", cases[i].name,
               f ? "\"" : "", f ? show(f->value.p, f->value.len, got, sizeof got) : "NULL",
               f ? "\"" : "", want ? "\"" : "", want ? want : "NULL", want ? "\"" : "");
    }
    free_exact(buf, sizeof head - 1);
}

static void check_str_equal(void)
{
    static const struct {
        const char *p;
        size_t len;                     /* of p's bytes, the string is the first len */
        const char *word;
        int want;
    } cases[] = {
        {"Host", 4, "Host", 1},  {"Host", 4, "host", 1},     {"Host", 4, "HOST", 1},
        {"GET", 3, "gEt", 1},    {"Hostname", 4, "Host", 1}, {"Host", 4, "Hostname", 0},
        {"Host", 4, "Hos", 0},   {"Hos", 3, "Host", 0},      {"Host", 4, "Hosu", 0},
        {"", 0, "", 1},          {"x", 1, "", 0},            {"", 0, "x", 0},
        {"a-b", 3, "A-B", 1},    {"a_b", 3, "a-b", 0},
    };

    for (size_t i = 0; i < COUNT(cases); i++) {
        struct http_str s = {cases[i].p, cases[i].len};
        int r = http_str_equal(s, cases[i].word) != 0;
        EXPECT(r == cases[i].want, "http_str_equal(\"%.*s\", \"%s\") is %s, expected %s",
               (int)cases[i].len, cases[i].p, cases[i].word, r ? "true" : "false",
               cases[i].want ? "true" : "false");
    }
}

/* http_next_element over a list, to its end and past it. The call past the
 * last element once did NULL + 0, which is undefined (clang's UBSan and the
 * fuzzer caught it: fuzz/). */
static void check_next_element(void)
{
    static const struct {
        const char *list;
        const char *want[4];            /* the elements in order, then NULL */
    } cases[] = {
        {"close", {"close", NULL}},       {"a, b", {"a", "b", NULL}},
        {" a ,\tb\t", {"a", "b", NULL}}, {"a, , b", {"a", "", "b", NULL}},
        {"a,", {"a", "", NULL}},          {"", {"", NULL}},
    };

    for (size_t i = 0; i < COUNT(cases); i++) {
        struct http_str list = {cases[i].list, strlen(cases[i].list)}, elem;
        size_t k = 0;

        for (; cases[i].want[k] != NULL; k++)
            EXPECT(http_next_element(&list, &elem) && str_is(elem, cases[i].want[k]),
                   "http_next_element on \"%s\": element %zu is not \"%s\"", cases[i].list,
                   k, cases[i].want[k]);
        EXPECT(!http_next_element(&list, &elem) && !http_next_element(&list, &elem),
               "http_next_element on \"%s\": more than %zu elements", cases[i].list, k);
    }
}

static void check_reason(void)
{
    static const struct {
        int status;
        const char *want;
    } cases[] = {
        {200, "OK"},          {400, "Bad Request"},     {404, "Not Found"},
        {414, "URI Too Long"}, {431, "Request Header Fields Too Large"},
        {501, "Not Implemented"}, {502, "Bad Gateway"}, {504, "Gateway Timeout"},
        {505, "HTTP Version Not Supported"}, {299, "Unknown"},
    };

    for (size_t i = 0; i < COUNT(cases); i++) {
        const char *r = http_reason(cases[i].status);
        EXPECT(r != NULL && strcmp(r, cases[i].want) == 0, "http_reason(%d) is \"%s\", "
               "expected \"%s\"", cases[i].status, r ? r : "(null)", cases[i].want);
    }
}

static void test_helpers(void)
{
    check_find_no_field();
    check_find_field();
    check_str_equal();
    check_next_element();
    check_reason();
}

UNIT_SUITE(http,
           {"valid_requests", test_valid_requests},
           {"errors", test_errors},
           {"incomplete", test_incomplete},
           {"every_split", test_every_split},
           {"limits", test_limits},
           {"fields_point_into_buffer", test_fields_point_into_buffer},
           {"helpers", test_helpers})
