/* cache: the shared response cache. See cache.h for the contracts.
 *
 *   buckets[hash(key)] -> entry -> entry -> NULL      (under c->lock)
 *
 * Lookups take c->lock for reading, so hits run at once in many threads; a
 * hit marks its entry used with one atomic store of the cache's clock.
 * Inserts take it for writing, and evict the entry with the oldest mark until
 * the new one fits: exact LRU, at the price of a scan per eviction, which is
 * cheap next to the network for a cache of a few thousand entries.
 *
 * An entry is never changed once stored, and never freed while a thread
 * reads it: each reader holds a reference, and the cache holds one of its
 * own, which eviction gives up. The last to let go frees it. */
#include "cache.h"
#include "forward.h"
#include "log.h"
#include "rio.h"
#include "text.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NBUCKETS 1024

struct cache {
    pthread_rwlock_t lock;      /* guards buckets and size */
    size_t capacity;            /* bytes of entries at most */
    size_t max_object;          /* bytes of one entry at most */
    size_t size;                /* bytes of entries now */
    atomic_ulong clock;         /* ticks once per use: orders uses for LRU */
    struct cache_entry *buckets[NBUCKETS];
};

/* FNV-1a: a simple, good enough string hash. */
static size_t hash(const char *key)
{
    unsigned long h = 2166136261u;

    for (; *key; key++)
        h = (h ^ (unsigned char)*key) * 16777619u;
    return h % NBUCKETS;
}

struct cache *cache_create(size_t capacity, size_t max_object)
{
    struct cache *c = calloc(1, sizeof *c);
    int err;

    if (c == NULL)
        return NULL;
    if ((err = pthread_rwlock_init(&c->lock, NULL)) != 0) {
        free(c);
        errno = err;
        return NULL;
    }
    c->capacity = capacity;
    c->max_object = max_object < capacity ? max_object : capacity;
    return c;
}

size_t cache_max_object(const struct cache *c)
{
    return c->max_object;
}

void cache_destroy(struct cache *c)
{
    for (size_t i = 0; i < NBUCKETS; i++)
        while (c->buckets[i] != NULL) {
            struct cache_entry *e = c->buckets[i];
            c->buckets[i] = e->next;
            cache_release(e);
        }
    pthread_rwlock_destroy(&c->lock);
    free(c);
}

int cache_key(const struct http_request *req, char *buf, size_t size)
{
    int v6 = memchr(req->host.p, ':', req->host.len) != NULL, n;
    size_t len;

    n = snprintf(buf, size, "http://%s%.*s%s", v6 ? "[" : "", (int)req->host.len, req->host.p,
                 v6 ? "]" : "");
    if (n < 0 || (size_t)n >= size)
        return -1;
    for (char *p = buf + 7; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    len = (size_t)n;
    n = req->port == 80 ? snprintf(buf + len, size - len, "%.*s%.*s", (int)req->path.len,
                                   req->path.p, (int)req->query.len, req->query.p)
                        : snprintf(buf + len, size - len, ":%u%.*s%.*s", req->port,
                                   (int)req->path.len, req->path.p, (int)req->query.len,
                                   req->query.p);
    return n < 0 || (size_t)n >= size - len ? -1 : (int)(len + (size_t)n);
}

void cache_release(struct cache_entry *e)
{
    /* ==== stage 6 exercise: cache_release ==== */
    if (e != NULL && atomic_fetch_sub(&e->refs, 1) == 1) {
        free(e->key);
        free(e->data);
        free(e->vary);
        free(e);
    }
    /* ==== end of stage 6 exercise: cache_release ==== */
}

/* ==== stage 6 exercise: helpers 1 ==== */
/* The bytes an entry is counted for. */
static size_t cost(const struct cache_entry *e)
{
    return e->len;
}

/* The entry under key in c, or NULL; c->lock must be held. With prev, also
 * where the link to it is, for unlinking. */
static struct cache_entry *find(struct cache *c, const char *key, struct cache_entry ***prev)
{
    struct cache_entry **link = &c->buckets[hash(key)];

    while (*link != NULL && strcmp((*link)->key, key) != 0)
        link = &(*link)->next;
    if (prev != NULL)
        *prev = link;
    return *link;
}

/* Unlink the entry *link points to, and give up the cache's reference. */
static void unlink_entry(struct cache *c, struct cache_entry **link)
{
    struct cache_entry *e = *link;

    *link = e->next;
    c->size -= cost(e);
    cache_release(e);
}

/* Evict the least recently used entry; c->lock held for writing, and c
 * holding at least one entry. */
static void evict_one(struct cache *c)
{
    struct cache_entry **oldest = NULL;

    for (size_t i = 0; i < NBUCKETS; i++)
        for (struct cache_entry **l = &c->buckets[i]; *l != NULL; l = &(*l)->next)
            if (oldest == NULL || atomic_load(&(*l)->last_use) < atomic_load(&(*oldest)->last_use))
                oldest = l;
    unlink_entry(c, oldest);
}

/* A new entry holding copies of what it is made of, with the cache's
 * reference; or NULL with errno set. */
static struct cache_entry *new_entry(const char *key, const char *data, size_t len,
                                     size_t head_len, const char *vary,
                                     const struct cache_rules *rules)
{
    struct cache_entry *e = calloc(1, sizeof *e);

    if (e == NULL)
        return NULL;
    e->key = strdup(key);
    e->data = malloc(len);
    e->vary = vary ? strdup(vary) : NULL;
    if (e->key == NULL || e->data == NULL || (vary && e->vary == NULL)) {
        atomic_init(&e->refs, 1);
        cache_release(e);
        errno = ENOMEM;
        return NULL;
    }
    memcpy(e->data, data, len);
    e->len = len;
    e->head_len = head_len;
    e->stored = time(NULL);
    e->rules = *rules;
    atomic_init(&e->refs, 1);
    return e;
}

/* Put e into c in place of what c holds under e's key, evicting the least
 * recently used entries until it fits; c->lock held for writing. */
static void link_entry(struct cache *c, struct cache_entry *e)
{
    struct cache_entry **link;

    if (find(c, e->key, &link) != NULL)
        unlink_entry(c, link);          /* the newer response replaces it */
    while (c->size + cost(e) > c->capacity && c->size > 0)
        evict_one(c);
    atomic_store(&e->last_use, atomic_fetch_add(&c->clock, 1) + 1);
    e->next = c->buckets[hash(e->key)];
    c->buckets[hash(e->key)] = e;
    c->size += cost(e);
}
/* ==== end of stage 6 exercise: helpers 1 ==== */

struct cache_entry *cache_lookup(struct cache *c, const char *key)
{
    /* ==== stage 6 exercise: cache_lookup ==== */
    struct cache_entry *e;

    pthread_rwlock_rdlock(&c->lock);
    if ((e = find(c, key, NULL)) != NULL) {
        atomic_fetch_add(&e->refs, 1);
        atomic_store(&e->last_use, atomic_fetch_add(&c->clock, 1) + 1);
    }
    pthread_rwlock_unlock(&c->lock);
    return e;
    /* ==== end of stage 6 exercise: cache_lookup ==== */
}

int cache_insert(struct cache *c, const char *key, const char *data, size_t len,
                 size_t head_len, const char *vary, const struct cache_rules *rules)
{
    /* ==== stage 6 exercise: cache_insert ==== */
    struct cache_entry *e;

    if (len > c->max_object) {
        errno = EFBIG;
        return -1;
    }
    if ((e = new_entry(key, data, len, head_len, vary, rules)) == NULL)
        return -1;
    pthread_rwlock_wrlock(&c->lock);
    link_entry(c, e);
    pthread_rwlock_unlock(&c->lock);
    return 0;
    /* ==== end of stage 6 exercise: cache_insert ==== */
}

void cache_remove(struct cache *c, const char *key)
{
    /* ==== stage 6 exercise: cache_remove ==== */
    struct cache_entry **link;

    pthread_rwlock_wrlock(&c->lock);
    if (find(c, key, &link) != NULL)
        unlink_entry(c, link);
    pthread_rwlock_unlock(&c->lock);
    /* ==== end of stage 6 exercise: cache_remove ==== */
}

/* The value of the next response field name in head[0..len) after *at
 * (NULL: from the top): sets *v and *at past its line and returns its
 * length, or returns -1 if there is no more such field. */
static long next_field(const char *head, size_t len, const char *name, const char **at,
                       const char **v)
{
    struct http_field f;

    while (http_next_field(head, len, at, &f))
        if (http_str_equal(f.name, name)) {
            *v = f.value.p;
            return (long)f.value.len;
        }
    return -1;
}

/* The value of the first response field name in head[0..len): as next_field. */
static long field(const char *head, size_t len, const char *name, const char **v)
{
    const char *at = NULL;

    return next_field(head, len, name, &at, v);
}

/* The largest number of seconds the cache counts (RFC 9111 1.2.2): bigger
 * ones become this, so no sum of them can overflow. */
#define SECONDS_MAX 2147483648L

/* The decimal number at the start of v[0..n) (after spaces), at most
 * SECONDS_MAX; -1 if there is none. Reads nothing past v + n. */
static long number(const char *v, long n)
{
    long i = 0, x = 0;

    while (i < n && (v[i] == ' ' || v[i] == '\t'))
        i++;
    if (i == n || v[i] < '0' || v[i] > '9')
        return -1;
    for (; i < n && v[i] >= '0' && v[i] <= '9'; i++)
        x = x < SECONDS_MAX ? x * 10 + (v[i] - '0') : SECONDS_MAX;
    return x < SECONDS_MAX ? x : SECONDS_MAX;
}

/* Whether the comma-separated list v[0..n) has directive d, and in *arg
 * the number after "d=" if it has one (else -1). */
static int directive(const char *v, long n, const char *d, long *arg)
{
    size_t dl = strlen(d);

    if (n <= 0)
        return 0;
    for (const char *p = v, *end = v + n; p < end; p++) {
        while (p < end && (*p == ' ' || *p == ',' || *p == '\t'))
            p++;
        if ((size_t)(end - p) >= dl && strncasecmp(p, d, dl) == 0 &&
            (p + dl == end || strchr(" ,=\t", p[dl]))) {
            *arg = p + dl < end && p[dl] == '=' ? number(p + dl + 1, end - p - (long)dl - 1) : -1;
            return 1;
        }
        while (p < end && *p != ',')
            p++;
    }
    return 0;
}

/* Whether any Cache-Control field of head[0..len) has directive d: the
 * fields of one name make one list (RFC 9110 section 5.3). As directive. */
static int cc_directive(const char *head, size_t len, const char *d, long *arg)
{
    const char *at = NULL, *v;
    long n;

    while ((n = next_field(head, len, "Cache-Control", &at, &v)) >= 0)
        if (directive(v, n, d, arg))
            return 1;
    return 0;
}

/* Whether a Vary field of head[0..len) has "*": it varies on anything. */
static int varies_on_anything(const char *head, size_t len)
{
    const char *at = NULL, *v;
    long n;

    while ((n = next_field(head, len, "Vary", &at, &v)) >= 0)
        if (memchr(v, '*', (size_t)n))
            return 1;
    return 0;
}

/* Days from 1970-01-01 to year-month-day (month 0-11): timegm is not POSIX. */
static long days_since_epoch(int year, int month, int day)
{
    static const int before[] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    long y = year - 1;

    return (y * 365 + y / 4 - y / 100 + y / 400) - 719162 + before[month] +
           (leap && month > 1) + day - 1;
}

/* The three forms of an HTTP date (RFC 9110 section 5.6.7), as patterns
 * where 'a' is any letter, '0' any digit and '_' a digit or a space (every
 * other byte stands for itself), with where each number starts. The
 * obsolete RFC 850 form begins with a whole weekday: its pattern starts
 * after it. sscanf alone would take signs, spaces and other lengths. */
static const struct date_form {
    const char *pattern;
    int after_weekday;          /* the pattern starts after a run of letters */
    int day, month, year, year_digits, hour;
} date_forms[] = {
    {"aaa, 00 aaa 0000 00:00:00 GMT", 0, 5, 8, 12, 4, 17},   /* IMF-fixdate */
    {", 00-aaa-00 00:00:00 GMT", 1, 2, 5, 9, 2, 12},          /* RFC 850 */
    {"aaa aaa _0 00:00:00 0000", 0, 8, 4, 20, 4, 11},         /* asctime */
};

/* Whether byte c fits pattern byte p: 'a' a letter, '0' a digit, '_' a
 * digit or a space, any other byte itself. */
static int fits(char p, unsigned char c)
{
    unsigned char lower = (unsigned char)(c | 0x20);
    int digit = c >= '0' && c <= '9';

    if (p == 'a')
        return lower >= 'a' && lower <= 'z';
    if (p == '0')
        return digit;
    if (p == '_')
        return digit || c == ' ';
    return c == (unsigned char)p;
}

/* Whether v[0..n) has pattern's shape. */
static int has_shape(const char *v, long n, const char *pattern)
{
    if (n != (long)strlen(pattern))
        return 0;
    for (long i = 0; i < n; i++)
        if (!fits(pattern[i], (unsigned char)v[i]))
            return 0;
    return 1;
}

/* The number in v[0..k), spaces counting as nothing. */
static int digits(const char *v, int k)
{
    int x = 0;

    for (int i = 0; i < k; i++)
        x = v[i] == ' ' ? x : x * 10 + (v[i] - '0');
    return x;
}

/* v[0..n) in form f as time_t, or -1. */
static time_t date_in_form(const char *v, long n, const struct date_form *f)
{
    static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
    char mon[3];
    int month, year, h, m, sec, day;

    while (f->after_weekday && n > 0 && ((*v | 0x20) >= 'a' && (*v | 0x20) <= 'z'))
        v++, n--;
    if (!has_shape(v, n, f->pattern))
        return -1;
    for (int i = 0; i < 3; i++)
        mon[i] = (char)(v[f->month + i] | 0x20);
    for (month = 0; month < 12 && memcmp(months + 3 * month, mon, 3) != 0; month++)
        ;
    day = digits(v + f->day, 2);
    year = digits(v + f->year, f->year_digits);
    if (f->year_digits == 2)
        year += year < 70 ? 2000 : 1900;            /* RFC 850's two digits */
    h = digits(v + f->hour, 2), m = digits(v + f->hour + 3, 2), sec = digits(v + f->hour + 6, 2);
    if (month == 12 || day < 1 || day > 31 || year < 1970 || h > 23 || m > 59 || sec > 60)
        return -1;
    return (time_t)(days_since_epoch(year, month, day) * 86400L + h * 3600L + m * 60L + sec);
}

/* An HTTP date in any of its three forms (IMF-fixdate, "Sun, 06 Nov 1994
 * 08:49:37 GMT"; RFC 850; asctime) as time_t, or -1. */
static time_t http_date(const char *v, long n)
{
    time_t t = -1;

    for (size_t i = 0; t < 0 && i < sizeof date_forms / sizeof date_forms[0]; i++)
        t = date_in_form(v, n, &date_forms[i]);
    return t;
}

/* Whether the cache knows what status means for caching: the statuses
 * RFC 9110 defines as cacheable by default, and the redirects. */
static int understood(int status)
{
    static const int known[] = {200, 203, 204, 300, 301, 302, 303, 307, 308, 404, 405, 410,
                                414, 501};

    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (known[i] == status)
            return 1;
    return 0;
}

/* Whether status is cacheable by default (RFC 9110 section 15.1): a cache
 * may give it heuristic freshness. 206 is too, but this cache keeps only
 * whole responses. */
static int heuristically_cacheable(int status)
{
    return status == 200 || status == 203 || status == 204 || status == 300 ||
           status == 301 || status == 308 || status == 404 || status == 405 ||
           status == 410 || status == 414 || status == 501;
}

/* Whether the status of the response head[0..len) lets it be stored (RFC
 * 9111 section 3): 200; or, when it says how long it stays fresh
 * (explicit: an Expires field, or max-age or s-maxage), any final status
 * but 206 (a part: the cache keeps whole responses) and 304; or, with a
 * Last-Modified (heuristic), a status cacheable by default. With
 * must-understand, only a status the cache understands. */
static int storable_status(const char *head, size_t len, int explicit, int heuristic)
{
    long arg;
    int status;

    if (len < 12 || memcmp(head, "HTTP/1.", 7) != 0 || head[8] != ' ')
        return 0;
    status = (head[9] - '0') * 100 + (head[10] - '0') * 10 + (head[11] - '0');
    if (cc_directive(head, len, "must-understand", &arg) && !understood(status))
        return 0;               /* RFC 9111 section 5.2.2.3 */
    if (status == 200 || (heuristic && heuristically_cacheable(status)))
        return 1;
    return explicit && status >= 200 && status <= 599 && status != 206 && status != 304;
}

/* The heuristic lifetime of a response dated dated, last modified at
 * modified (-1: unknown), in seconds (RFC 9111 section 4.2.2): a tenth of
 * the time since, at most a day; without Last-Modified, default_lifetime. */
static long heuristic_lifetime(time_t dated, time_t modified, long default_lifetime)
{
    if (modified < 0)
        return default_lifetime;
    if (modified >= dated)
        return 0;
    return (dated - modified) / 10 < 86400 ? (long)((dated - modified) / 10) : 86400;
}

/* The response's Age in seconds (RFC 9111 section 5.1): 0 if it has none,
 * and SECONDS_MAX, which makes it stale, if it cannot be trusted: more than
 * one Age line, or anything but digits (a list, a sign, a word). */
static long age_field(const char *head, size_t len)
{
    const char *at = NULL, *v;
    long n, i, age = 0, lines = 0;

    while ((n = next_field(head, len, "Age", &at, &v)) >= 0) {
        while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
            n--;
        for (i = 0; i < n && v[i] >= '0' && v[i] <= '9'; i++)
            ;
        age = n > 0 && i == n ? number(v, n) : -1;
        lines++;
    }
    if (lines == 0)
        return 0;
    return lines > 1 || age < 0 ? SECONDS_MAX : age;
}

/* The seconds from earlier to later: 0 if later is not after earlier, and
 * at most SECONDS_MAX. */
static long seconds_between(time_t earlier, time_t later)
{
    if (later <= earlier)
        return 0;
    return later - earlier < SECONDS_MAX ? (long)(later - earlier) : SECONDS_MAX;
}

void cache_read_rules(const char *head, size_t len, time_t now, long default_lifetime,
                      struct cache_rules *r)
{
    const char *v;
    long n, arg;
    time_t date = (n = field(head, len, "Date", &v)) > 0 ? http_date(v, n) : -1;
    time_t expires = (n = field(head, len, "Expires", &v)) >= 0 ? http_date(v, n) : -2;
    time_t dated = date > 0 ? date : now;       /* no Date: the time it arrived */
    time_t modified = (n = field(head, len, "Last-Modified", &v)) > 0 ? http_date(v, n) : -1;
    int explicit = expires != -2 || cc_directive(head, len, "s-maxage", &arg) ||
                   cc_directive(head, len, "max-age", &arg);

    r->storable = storable_status(head, len, explicit, modified >= 0) &&
                  !cc_directive(head, len, "no-store", &arg) &&
                  !cc_directive(head, len, "private", &arg) && !varies_on_anything(head, len);
    if (cc_directive(head, len, "no-cache", &arg))
        r->lifetime = 0;                        /* store, but revalidate every time */
    else if (cc_directive(head, len, "s-maxage", &arg) ||
             cc_directive(head, len, "max-age", &arg))
        r->lifetime = arg > 0 ? arg : 0;
    else if (expires != -2)
        r->lifetime = seconds_between(dated, expires);
    else
        r->lifetime = heuristic_lifetime(dated, modified, default_lifetime);
    r->initial_age = date > 0 ? seconds_between(date, now) : 0;
    if ((n = age_field(head, len)) > r->initial_age)
        r->initial_age = n;
}

int cache_fresh(const struct cache_entry *e, time_t now, long *age)
{
    /* ==== stage 6 exercise: cache_fresh ==== */
    *age = e->rules.initial_age + (long)(now > e->stored ? now - e->stored : 0);
    return e->rules.lifetime > *age;
    /* ==== end of stage 6 exercise: cache_fresh ==== */
}

/* Append to buf[0..size), from *out on, the values req has for the
 * fields the list v[0..n) names, a "name:value" line each, moving *out.
 * Returns 0, or -1 if they do not fit. */
static int vary_list(const char *v, long n, const struct http_request *req, char *buf,
                     size_t size, size_t *out)
{
    struct http_str list = {v, (size_t)n}, name;

    while (http_next_element(&list, &name)) {
        const struct http_field *f;
        char word[64];
        int w;

        snprintf(word, sizeof word, "%.*s", (int)name.len, name.p);
        f = http_find_field(req, word);
        w = snprintf(buf + *out, size - *out, "%s:%.*s\n", word, f ? (int)f->value.len : 0,
                     f ? f->value.p : "");
        if (w < 0 || (size_t)w >= size - *out)
            return -1;
        *out += (size_t)w;
    }
    return 0;
}

/* Write into buf[0..size) the values req has for the fields the response
 * head[0..len) names in Vary (every Vary field: one list), a "name:value"
 * line each. Returns the length (0 without Vary), or -1 if they do not
 * fit. */
static int vary_values(const char *head, size_t len, const struct http_request *req,
                       char *buf, size_t size)
{
    const char *at = NULL, *v;
    size_t out = 0;
    long n;

    buf[0] = '\0';
    while ((n = next_field(head, len, "Vary", &at, &v)) >= 0)
        if (n > 0 && vary_list(v, n, req, buf, size, &out) < 0)
            return -1;                  /* an empty Vary names no field */
    return (int)out;
}

/* Where the head of response data[0..len) ends, just past its empty line;
 * 0 if it has none. */
static size_t head_end(const char *data, size_t len)
{
    for (const char *p = data, *nl; (nl = memchr(p, '\n', len - (size_t)(p - data))); p = nl + 1)
        if (nl - p == 0 || (nl - p == 1 && p[0] == '\r'))
            return (size_t)(nl + 1 - data);
    return 0;
}

/* Whether the head line p[0..n) is a Set-Cookie or Set-Cookie2 field. */
static int cookie_line(const char *p, size_t n)
{
    return (n > 11 && strncasecmp(p, "Set-Cookie:", 11) == 0) ||
           (n > 12 && strncasecmp(p, "Set-Cookie2:", 12) == 0);
}

/* A copy of the response data[0..*len), whose head is its first *head
 * bytes, without its Set-Cookie lines: a cookie was for the client that
 * caused the response, not for those a hit serves (as Squid keeps them).
 * Updates *len and *head; returns the copy (the caller frees it), or NULL
 * if memory is short. */
static char *without_cookies(const char *data, size_t *len, size_t *head)
{
    char *out = malloc(*len), *o = out;
    const char *p = data, *end = data + *head, *nl;
    size_t body = *len - *head;

    if (out == NULL)
        return NULL;
    for (; p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL; p = nl + 1)
        if (!cookie_line(p, (size_t)(nl + 1 - p))) {
            memcpy(o, p, (size_t)(nl + 1 - p));
            o += nl + 1 - p;
        }
    *head = (size_t)(o - out);
    memcpy(o, end, body);
    *len = *head + body;
    return out;
}

/* Insert the response as cache_insert does, without its Set-Cookie lines. */
static int insert_response(struct cache *c, const char *key, const char *data, size_t len,
                           size_t head, const char *vary, const struct cache_rules *rules)
{
    const char *v;
    char *copy;
    int r;

    if (field(data, head, "Set-Cookie", &v) < 0 && field(data, head, "Set-Cookie2", &v) < 0)
        return cache_insert(c, key, data, len, head, vary, rules);
    if ((copy = without_cookies(data, &len, &head)) == NULL)
        return -1;
    r = cache_insert(c, key, copy, len, head, vary, rules);
    free(copy);
    return r;
}

/* Whether the response head[0..len), stale already, is stored all the
 * same: it has a validator, and the proxy asks its origin whether it is
 * still good before it is used (proxy.c). */
static int kept_stale(const char *head, size_t len)
{
    const char *v;

    return field(head, len, "ETag", &v) > 0 || field(head, len, "Last-Modified", &v) > 0;
}

int cache_store_response(struct cache *c, const char *key, const struct http_request *req,
                         const char *data, size_t len, long default_lifetime)
{
    size_t head = head_end(data, len);
    struct cache_rules rules;
    char vary[1024];
    const char *v;
    long n;

    if (head == 0 || len > c->max_object)
        return 0;
    if ((n = field(data, head, "Content-Length", &v)) >= 0 && number(v, n) != (long)(len - head))
        return 0;                       /* cut short, or longer than it said */
    if (field(data, head, "Transfer-Encoding", &v) >= 0)
        return 0;                       /* chunked: whether it is whole, stage 8 can tell */
    cache_read_rules(data, head, time(NULL), default_lifetime, &rules);
    if (!rules.storable || (n = vary_values(data, head, req, vary, sizeof vary)) < 0)
        return 0;
    if (rules.lifetime <= rules.initial_age && !kept_stale(data, head))
        return 0;                       /* stale already */
    return insert_response(c, key, data, len, head, n > 0 ? vary : NULL, &rules) == 0;
}

/* Whether the entity tag list (an If-None-Match value) has tag, compared
 * weakly: W/ left out of both (RFC 9110 section 8.8.3.2). */
static int etag_listed(struct http_str list, struct http_str tag)
{
    struct http_str t;

    if (tag.len > 2 && memcmp(tag.p, "W/", 2) == 0)
        tag.p += 2, tag.len -= 2;
    while (http_next_element(&list, &t)) {
        if (t.len > 2 && memcmp(t.p, "W/", 2) == 0)
            t.p += 2, t.len -= 2;
        if ((t.len == 1 && t.p[0] == '*') ||
            (t.len == tag.len && tag.len > 0 && memcmp(t.p, tag.p, t.len) == 0))
            return 1;
    }
    return 0;
}

int cache_not_modified(const struct cache_entry *e, const struct http_request *req)
{
    const struct http_field *inm = http_find_field(req, "If-None-Match");
    const struct http_field *ims = http_find_field(req, "If-Modified-Since");
    const char *v;
    long n;
    time_t since, modified;

    if (inm != NULL) {
        n = field(e->data, e->head_len, "ETag", &v);
        return (inm->value.len == 1 && inm->value.p[0] == '*') ||
               (n > 0 && etag_listed(inm->value, (struct http_str){v, (size_t)n}));
    }
    if (ims == NULL || (since = http_date(ims->value.p, (long)ims->value.len)) < 0)
        return 0;
    n = field(e->data, e->head_len, "Last-Modified", &v);
    modified = n > 0 ? http_date(v, n) : -1;
    return modified >= 0 && modified <= since;
}

int cache_vary_matches(const struct cache_entry *e, const struct http_request *req)
{
    char now[1024];
    int n = vary_values(e->data, e->head_len, req, now, sizeof now);

    return n == 0 ? e->vary == NULL : n > 0 && e->vary != NULL && strcmp(now, e->vary) == 0;
}

int cache_conditions(const struct cache_entry *e, char *buf, size_t size)
{
    struct text o = {buf, 0, size};
    const char *etag, *modified;
    long n = field(e->data, e->head_len, "ETag", &etag);
    long m = field(e->data, e->head_len, "Last-Modified", &modified);

    if (size > 0)
        buf[0] = '\0';
    if (n > 0)
        text_put(&o, "If-None-Match: %.*s\r\n", (int)n, etag);
    if (m > 0)
        text_put(&o, "If-Modified-Since: %.*s\r\n", (int)m, modified);
    return text_fits(&o) ? (int)o.len : -1;
}

/* Whether a stale entry that fits req goes to its origin to revalidate: not
 * before stage 8, where forward_request can ask (and read a 304). */
static int revalidates(const struct http_request *req)
{
    (void)req;
    return 0;
}

/* Answering from the cache, and keeping what the origin sends: the proxy's
 * two paths through the cache (cache.h). */

struct cache_copy cache_copy_start(const struct cache *c)
{
    struct cache_copy k = {NULL, 0, 0, c != NULL ? cache_max_object(c) : 0};

    if (c != NULL)
        k.p = malloc(k.cap = k.max < 65536 ? k.max : 65536);
    return k;
}

void cache_copy_add(struct cache_copy *k, const char *buf, size_t n)
{
    if (k->p != NULL && k->len + n > k->cap) {
        size_t cap = k->cap * 2 > k->len + n ? k->cap * 2 : k->len + n;
        char *p = NULL;

        if (cap > k->max)
            cap = k->max;
        if (k->len + n <= k->max)
            p = realloc(k->p, cap);
        if (p == NULL)
            free(k->p);             /* too big for the cache, or no memory */
        k->p = p;
        k->cap = cap;
    }
    if (k->p != NULL) {
        memcpy(k->p + k->len, buf, n);
        k->len += n;
    }
}

void cache_copy_store(const struct cache_copy *k, const struct http_request *req,
                      const struct forward_ctx *ctx)
{
    if (k->p != NULL && ctx->cache != NULL)
        cache_store_response(ctx->cache, ctx->key, req, k->p, k->len, ctx->default_lifetime);
}

/* Send connfd the cached response e, age seconds old, with Age, "X-Cache:
 * HIT" and its Content-Length in its head, and note it in log. keep_alive
 * says which Connection field to send. */
static void send_hit(int connfd, const struct cache_entry *e, long age, int keep_alive,
                     struct log_entry *log)
{
    struct http_response resp;
    char extra[128];
    long sent;

    log->tag = LOG_HIT;
    log_note_response(log, e->data, e->head_len);
    snprintf(extra, sizeof extra, "Age: %ld\r\nX-Cache: HIT\r\nContent-Length: %zu\r\n", age,
             e->len - e->head_len);
    if (http_parse_response(e->data, e->head_len, &resp) < 0 ||
        (sent = forward_send_head(connfd, &resp, extra, keep_alive, e->data + e->head_len,
                                  e->len - e->head_len)) < 0)
        return;
    log->bytes = sent;
}
/* Send connfd "304 Not Modified" for the cached response e, age seconds
 * old, with the fields of e a 304 carries (RFC 9110 section 15.4.5), and
 * note it in log. */
static void send_not_modified(int connfd, const struct cache_entry *e, long age, int keep_alive,
                              struct log_entry *log)
{
    static const char *const kept[] = {"Cache-Control", "Content-Location", "Date", "ETag",
                                       "Expires", "Last-Modified", "Vary"};
    struct http_response resp;
    char extra[64];
    size_t n = 0;
    long sent;

    if (http_parse_response(e->data, e->head_len, &resp) < 0)
        return;
    for (size_t i = 0; i < resp.nfields; i++)
        for (size_t k = 0; k < sizeof kept / sizeof kept[0]; k++)
            if (http_str_equal(resp.fields[i].name, kept[k]))
                resp.fields[n++] = resp.fields[i];
    resp.nfields = n;
    resp.status = 304;
    resp.reason = (struct http_str){"Not Modified", 12};
    log->tag = LOG_HIT;
    log_note_response(log, e->data, e->head_len);
    snprintf(extra, sizeof extra, "Age: %ld\r\nX-Cache: HIT\r\n", age);
    if ((sent = forward_send_head(connfd, &resp, extra, keep_alive, NULL, 0)) >= 0) {
        log->status = 304;
        log->bytes = sent;
    }
}

/* Whether the cache may answer req at all: a GET without credentials (and,
 * from stage 8, without a body: Content-Length: 0 is none). */
static int cacheable(const struct http_request *req, const struct forward_ctx *ctx)
{
    if (ctx->body.kind != FRAMING_NONE &&
        !(ctx->body.kind == FRAMING_LENGTH && ctx->body.length == 0))
        return 0;
    return http_method_is(req, "GET") && http_find_field(req, "Authorization") == NULL;
}

/* What a request's Cache-Control (and, without one, Pragma) asks of the
 * cache (RFC 9111 section 5.2.1): a reload, which the cache must not answer
 * (no-cache, max-age=0), and no-store, which keeps its response out. */
enum { ASK_RELOAD = 1, ASK_NO_STORE = 2 };

static int request_asks(const struct http_request *req)
{
    int asks = 0, cache_control = 0, pragma = 0;
    struct http_str list, d;

    for (size_t i = 0; i < req->nfields; i++) {
        int cc = http_str_equal(req->fields[i].name, "Cache-Control");

        if (!cc && !http_str_equal(req->fields[i].name, "Pragma"))
            continue;
        cache_control |= cc;
        for (list = req->fields[i].value; http_next_element(&list, &d);) {
            if (!cc)
                pragma |= http_str_equal(d, "no-cache");
            else if (http_str_equal(d, "no-cache") || http_str_equal(d, "max-age=0"))
                asks |= ASK_RELOAD;
            else if (http_str_equal(d, "no-store"))
                asks |= ASK_NO_STORE;
        }
    }
    return asks | (pragma && !cache_control ? ASK_RELOAD : 0);
}

int cache_answer(struct cache *c, int connfd, const struct http_request *req,
                 struct forward_ctx *ctx)
{
    struct cache_entry *e = cacheable(req, ctx) ? cache_lookup(c, ctx->key) : NULL;
    long age;
    int fits = e != NULL && cache_vary_matches(e, req);
    int hit = fits && !(request_asks(req) & ASK_RELOAD) && cache_fresh(e, time(NULL), &age);

    if (fits && !hit && revalidates(req)) {
        ctx->stale = e;         /* the caller revalidates it, and gives it back */
        return 0;
    }
    if (hit && cache_not_modified(e, req))
        send_not_modified(connfd, e, age, ctx->keep_alive, ctx->log);
    else if (hit)
        send_hit(connfd, e, age, ctx->keep_alive, ctx->log);
    cache_release(e);
    return hit;
}

void cache_answer_refreshed(int connfd, struct forward_ctx *ctx)
{
    long age;

    if (ctx->refreshed == NULL) {
        ctx->log->tag = LOG_REFRESH_MODIFIED;   /* relayed: the origin sent a new response */
        return;
    }
    cache_fresh(ctx->refreshed, time(NULL), &age);
    send_hit(connfd, ctx->refreshed, age, ctx->keep_alive, ctx->log);
    ctx->log->tag = LOG_REFRESH;
    cache_release(ctx->refreshed);
}

int cache_may_keep(const struct http_request *req, const struct forward_ctx *ctx)
{
    return ctx->key[0] && cacheable(req, ctx) && !(request_asks(req) & ASK_NO_STORE);
}
