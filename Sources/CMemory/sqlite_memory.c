// SQLite's allocator for Tally: malloc with an 8-byte size header (as SQLite's own), plus one
// process-wide count of the bytes in use, kept with a relaxed atomic, and an optional cap on it.
//
// Why: Debian's libsqlite3 is built without lookaside memory (SQLITE_OMIT_LOOKASIDE), so every
// cursor, record and bound value is a malloc and a free: about 60 of each per committed ledger
// transaction. With SQLite's memory statistics on (its default, and what sqlite3_hard_heap_limit64
// needs for the query sandbox's heap cap), each of those also takes SQLite's global memory mutex and
// updates its counters. Counting here instead, with statistics off, keeps the cap and drops the mutex:
// one atomic add per allocation and per free.
#include "tally_memory.h"
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>

static _Atomic long long used_bytes = 0;
static _Atomic long long limit_bytes = 0;

/// Counts `n` more bytes (n may be negative); 0 when a positive `n` would pass the cap.
static int reserve(long long n) {
    long long now = atomic_fetch_add_explicit(&used_bytes, n, memory_order_relaxed) + n;
    long long cap = atomic_load_explicit(&limit_bytes, memory_order_relaxed);
    if (n > 0 && cap > 0 && now > cap) {
        atomic_fetch_sub_explicit(&used_bytes, n, memory_order_relaxed);
        return 0;
    }
    return 1;
}

static void *tally_malloc(int n) {
    if (n <= 0 || n > 0x7FFFFFF0) return 0;
    n = (n + 7) & ~7; // as SQLite's own allocator: sizes in multiples of 8
    if (!reserve(n)) return 0;
    sqlite3_int64 *p = malloc((size_t)n + sizeof(sqlite3_int64));
    if (!p) {
        atomic_fetch_sub_explicit(&used_bytes, n, memory_order_relaxed);
        return 0;
    }
    p[0] = n;
    return p + 1;
}

static void tally_free(void *q) {
    if (!q) return;
    sqlite3_int64 *p = (sqlite3_int64 *)q - 1;
    atomic_fetch_sub_explicit(&used_bytes, p[0], memory_order_relaxed);
    free(p);
}

static int tally_size(void *q) { return q ? (int)((sqlite3_int64 *)q)[-1] : 0; }

// SQLite calls xRealloc only with a live allocation and a positive size.
static void *tally_realloc(void *q, int n) {
    if (n <= 0 || n > 0x7FFFFFF0) return 0;
    n = (n + 7) & ~7;
    sqlite3_int64 *p = (sqlite3_int64 *)q - 1;
    long long delta = (long long)n - p[0];
    if (!reserve(delta)) return 0;
    sqlite3_int64 *r = realloc(p, (size_t)n + sizeof(sqlite3_int64));
    if (!r) {
        atomic_fetch_sub_explicit(&used_bytes, delta, memory_order_relaxed);
        return 0;
    }
    r[0] = n;
    return r + 1;
}

static int tally_roundup(int n) { return (n + 7) & ~7; }
static int tally_init(void *unused) { (void)unused; return SQLITE_OK; }
static void tally_shutdown(void *unused) { (void)unused; }

int tally_sqlite_memory_install(void) {
    static const sqlite3_mem_methods methods = {
        tally_malloc, tally_free, tally_realloc, tally_size, tally_roundup, tally_init, tally_shutdown, 0,
    };
    int rc = sqlite3_config(SQLITE_CONFIG_MALLOC, &methods);
    if (rc != SQLITE_OK) return rc;
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

long long tally_sqlite_memory_used(void) { return atomic_load_explicit(&used_bytes, memory_order_relaxed); }

void tally_sqlite_memory_set_limit(long long bytes) {
    atomic_store_explicit(&limit_bytes, bytes > 0 ? bytes : 0, memory_order_relaxed);
}

long long tally_sqlite_memory_limit(void) { return atomic_load_explicit(&limit_bytes, memory_order_relaxed); }
