/* cache: an in-memory cache of whole responses, shared by all threads, with
 * a size bound, least-recently-used eviction and HTTP's freshness rules.
 *
 * Entries are immutable once stored and reference counted: cache_lookup
 * hands out a reference, and an entry evicted while a thread still sends it
 * is freed only when that thread calls cache_release. */
#ifndef CACHE_H
#define CACHE_H

#include "http.h"

#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

#define CACHE_KEY_MAX (HTTP_MAX_LINE + 16)

/* What a response's head says about storing and reusing it (RFC 9111). */
struct cache_rules {
    int storable;               /* 200, complete, no no-store, private or Vary: * */
    long lifetime;              /* seconds it stays fresh from its date */
    long initial_age;           /* seconds old it was when it arrived */
};

/* A stored response. Read-only once in the cache; see cache_release. */
struct cache_entry {
    char *key;                  /* the normalised URL */
    char *data;                 /* the whole response, head and body */
    size_t len;                 /* bytes in data */
    size_t head_len;            /* bytes of the head, through its empty line */
    char *vary;                 /* the request's values of the fields Vary names, or NULL */
    time_t stored;              /* when it arrived */
    struct cache_rules rules;
    atomic_int refs;            /* the cache's reference, plus one per reader */
    atomic_ulong last_use;      /* the cache's clock at the last hit or insert */
    struct cache_entry *next;   /* the next entry in its hash bucket */
};

struct cache;

/* A cache of at most capacity bytes of entries, none over max_object bytes.
 * Returns it (free with cache_destroy), or NULL with errno set. */
struct cache *cache_create(size_t capacity, size_t max_object);

/* Free c and every entry no reader holds; readers keep theirs. */
void cache_destroy(struct cache *c);

/* The largest entry c stores, in bytes. */
size_t cache_max_object(const struct cache *c);

/* Write req's normalised URL into buf[0..size): "http://", the host in lower
 * case ([] around IPv6), ":port" unless 80, the path and the query. Returns
 * its length, or -1 if it does not fit. Pure. */
int cache_key(const struct http_request *req, char *buf, size_t size);

/* The entry stored under key, as a new reference the caller must give back
 * with cache_release, or NULL if there is none. Counts as a use. Many
 * threads may look up at once. */
struct cache_entry *cache_lookup(struct cache *c, const char *key);

/* Give back a reference from cache_lookup; the last one frees the entry. */
void cache_release(struct cache_entry *e);

/* Store a copy of the response data[0..len), with head_len bytes of head,
 * under key, replacing what was there, and evict the least recently used
 * entries until it fits. vary may be NULL. Returns 0, or -1 if it is too big
 * or memory is short (errno set); the cache is unchanged then. */
int cache_insert(struct cache *c, const char *key, const char *data, size_t len,
                 size_t head_len, const char *vary, const struct cache_rules *rules);

/* Drop what c holds under key, if anything: a change to the resource made
 * it stale. Readers keep the entries they hold. */
void cache_remove(struct cache *c, const char *key);

/* Read the rules for a response from its head[0..len), which arrived at now:
 * status, Cache-Control (no-store, private, no-cache, max-age, s-maxage),
 * Expires, Date and Age. With no explicit lifetime, default_lifetime
 * applies. Pure. */
void cache_read_rules(const char *head, size_t len, time_t now, long default_lifetime,
                      struct cache_rules *rules);

/* Whether e is still fresh at now, and in *age its age in seconds then. */
int cache_fresh(const struct cache_entry *e, time_t now, long *age);

/* Store the response data[0..len) that answered req under key, if HTTP lets
 * a shared cache keep it: a whole head, as much body as its Content-Length
 * says, storable by cache_read_rules (default_lifetime applies), and not
 * stale already, unless it has an ETag or Last-Modified to revalidate it
 * with (cache_refresh). The caller checks the request: a GET without
 * Authorization. Returns 1 if stored, else 0. */
int cache_store_response(struct cache *c, const char *key, const struct http_request *req,
                         const char *data, size_t len, long default_lifetime);

/* Whether entry e may answer req: req has the values e's request had for the
 * fields the response names in Vary. */
int cache_vary_matches(const struct cache_entry *e, const struct http_request *req);

/* Whether req's conditions hold false for e, so that 304 Not Modified
 * answers it (RFC 9110 section 13.1): If-None-Match lists e's ETag (compared
 * weakly) or is "*"; or, without If-None-Match, If-Modified-Since (in any of
 * the three date forms) is no earlier than e's Last-Modified. Pure. */
int cache_not_modified(const struct cache_entry *e, const struct http_request *req);

/* Write into buf[0..size) the fields that ask e's origin whether e is
 * still good (RFC 9110 section 13.1): "If-None-Match: " its ETag and
 * "If-Modified-Since: " its Last-Modified, each a "Name: value\r\n" line,
 * NUL-terminated. Returns the length: 0 if e has no validator, -1 if they
 * do not fit. Pure. */
int cache_conditions(const struct cache_entry *e, char *buf, size_t size);

/* The response e becomes now that its origin answered a revalidation with
 * the 304 head[0..len): e's head with the 304's fields added or replacing
 * e's (but the fields a 304 does not update: RFC 9111 section 3.2), e's
 * body, and rules read afresh (default_lifetime applies). It replaces e in
 * c if c is not NULL and it may be stored. Returns it as a reference the
 * caller gives back with cache_release, or NULL with errno set if memory
 * is short. */
struct cache_entry *cache_refresh(struct cache *c, const struct cache_entry *e, const char *head,
                                  size_t len, long default_lifetime);

struct forward_ctx;

/* A copy of a response as the proxy relays it, for the cache: p[0..len),
 * of at most max bytes; p is NULL once the response proved too big, or if
 * none is kept. */
struct cache_copy {
    char *p;
    size_t len, cap, max;
};

/* An empty copy, for a response that c may keep: room for 64 KiB to begin
 * with, or none (p NULL) without a cache (c NULL) or memory. The caller
 * frees p. */
struct cache_copy cache_copy_start(const struct cache *c);

/* Add buf[0..n) to k, or give up keeping once it would pass k->max: p is
 * then freed, and NULL. */
void cache_copy_add(struct cache_copy *k, const char *buf, size_t n);

/* Store k, the whole response to req, in ctx->cache under ctx->key, if
 * there is a copy and a cache, and HTTP allows (cache_store_response). k
 * stays the caller's. */
void cache_copy_store(const struct cache_copy *k, const struct http_request *req,
                      const struct forward_ctx *ctx);

/* Whether the response to req, once fetched, may go into the cache: req
 * has a cache key (ctx->key), is a GET without credentials (from stage 8,
 * without a body), and does not say no-store. */
int cache_may_keep(const struct http_request *req, const struct forward_ctx *ctx);

/* Answer req on connfd from c if c holds an entry under ctx->key that fits
 * req, is fresh, and the client did not ask for a reload: the entry with
 * Age and "X-Cache: HIT", or 304 if req's own conditions hold for it;
 * noted in ctx->log. An entry that fits but may not be used as it is
 * (stale, or a reload) goes into ctx->stale instead (from stage 8), for
 * the origin to revalidate, unless req is conditional itself. Returns
 * whether it answered. */
int cache_answer(struct cache *c, int connfd, const struct http_request *req,
                 struct forward_ctx *ctx);

/* After forward_request returned 0 for a request with ctx->stale: send
 * connfd ctx->refreshed, the entry the origin's 304 refreshed, if there is
 * one (and give it back), and note in ctx->log how the revalidation went. */
void cache_answer_refreshed(int connfd, struct forward_ctx *ctx);

#endif
