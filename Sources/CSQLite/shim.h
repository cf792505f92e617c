#ifndef TALLY_CSQLITE_SHIM_H
#define TALLY_CSQLITE_SHIM_H
#include <sqlite3.h>

// Swift cannot call C variadic functions; these wrappers expose the few variadic
// SQLite calls Tally needs with fixed signatures.
static inline int tally_sqlite3_db_config_int(sqlite3 *db, int op, int value, int *out) {
    return sqlite3_db_config(db, op, value, out);
}

// SQLITE_TRANSIENT is a macro that casts -1 to a function pointer; Swift cannot import it.
static inline sqlite3_destructor_type tally_sqlite3_transient(void) {
    return SQLITE_TRANSIENT;
}
// tally_patients(x): the number of distinct non-NULL values of x in the group — what
// COUNT(DISTINCT x) answers (BINARY collation; an integral REAL counts as the INTEGER it equals),
// with a hash set instead of SQLite's ephemeral B-tree, several times faster for the distinct-patient
// count every federated query carries. Memory comes from sqlite3_malloc64, so the process's SQLite
// heap cap applies; running out fails the statement with SQLITE_NOMEM.
#include <string.h>

typedef struct { unsigned long long hash; unsigned long long off; unsigned long long len1; } tally_slot;
typedef struct {
    tally_slot *slots; unsigned long long cap, count;
    unsigned char *arena; unsigned long long used, size;
} tally_set;

static inline unsigned long long tally_fnv(const unsigned char *p, unsigned long long n, unsigned char tag) {
    unsigned long long h = 1469598103934665603ULL ^ tag;
    for (unsigned long long i = 0; i < n; i++) { h ^= p[i]; h *= 1099511628211ULL; }
    h ^= h >> 29; h *= 0xbf58476d1ce4e5b9ULL; h ^= h >> 32;
    return h;
}

static inline int tally_set_grow(tally_set *s) {
    unsigned long long cap = s->cap ? s->cap * 2 : 64;
    tally_slot *slots = (tally_slot *)sqlite3_malloc64(cap * sizeof(tally_slot));
    if (!slots) return 0;
    memset(slots, 0, cap * sizeof(tally_slot));
    for (unsigned long long i = 0; i < s->cap; i++) {
        if (!s->slots[i].len1) continue;
        unsigned long long j = s->slots[i].hash & (cap - 1);
        while (slots[j].len1) j = (j + 1) & (cap - 1);
        slots[j] = s->slots[i];
    }
    sqlite3_free(s->slots);
    s->slots = slots;
    s->cap = cap;
    return 1;
}

static inline void tally_patients_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    (void)argc;
    sqlite3_value *v = argv[0];
    int type = sqlite3_value_type(v);
    if (type == SQLITE_NULL) return;
    tally_set *s = (tally_set *)sqlite3_aggregate_context(ctx, sizeof(tally_set));
    if (!s) { sqlite3_result_error_nomem(ctx); return; }
    unsigned char buf[8];
    const unsigned char *p; unsigned long long n; unsigned char tag;
    if (type == SQLITE_FLOAT) {
        double d = sqlite3_value_double(v);
        if (d >= -9.2e18 && d <= 9.2e18 && (double)(long long)d == d) { type = SQLITE_INTEGER; }
    }
    if (type == SQLITE_INTEGER) {
        long long i = sqlite3_value_int64(v); memcpy(buf, &i, 8); p = buf; n = 8; tag = 1;
    } else if (type == SQLITE_FLOAT) {
        double d = sqlite3_value_double(v); memcpy(buf, &d, 8); p = buf; n = 8; tag = 2;
    } else if (type == SQLITE_TEXT) {
        p = sqlite3_value_text(v); n = (unsigned long long)sqlite3_value_bytes(v); tag = 3;
        if (!p) { sqlite3_result_error_nomem(ctx); return; }
    } else {
        p = (const unsigned char *)sqlite3_value_blob(v); n = (unsigned long long)sqlite3_value_bytes(v); tag = 4;
        if (!p && n) { sqlite3_result_error_nomem(ctx); return; }
    }
    if ((s->count + 1) * 2 > s->cap && !tally_set_grow(s)) { sqlite3_result_error_nomem(ctx); return; }
    unsigned long long h = tally_fnv(p, n, tag);
    unsigned long long j = h & (s->cap - 1);
    while (s->slots[j].len1) {
        tally_slot *t = &s->slots[j];
        if (t->hash == h && t->len1 == n + 1 && s->arena[t->off] == tag && (n == 0 || memcmp(s->arena + t->off + 1, p, n) == 0)) return;
        j = (j + 1) & (s->cap - 1);
    }
    if (s->used + n + 1 > s->size) {
        unsigned long long size = s->size ? s->size * 2 : 4096;
        while (size < s->used + n + 1) size *= 2;
        unsigned char *a = (unsigned char *)sqlite3_realloc64(s->arena, size);
        if (!a) { sqlite3_result_error_nomem(ctx); return; }
        s->arena = a; s->size = size;
    }
    s->arena[s->used] = tag;
    if (n) memcpy(s->arena + s->used + 1, p, n);
    s->slots[j].hash = h; s->slots[j].off = s->used; s->slots[j].len1 = n + 1;
    s->used += n + 1;
    s->count++;
}

static inline void tally_patients_final(sqlite3_context *ctx) {
    tally_set *s = (tally_set *)sqlite3_aggregate_context(ctx, 0);
    if (!s) { sqlite3_result_int64(ctx, 0); return; }
    sqlite3_result_int64(ctx, (long long)s->count);
    sqlite3_free(s->slots); sqlite3_free(s->arena);
    s->slots = 0; s->arena = 0;
}

/// Registers Tally's SQL functions on a connection.
static inline int tally_register_functions(sqlite3 *db) {
    return sqlite3_create_function_v2(db, "tally_patients", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, 0, 0,
                                      tally_patients_step, tally_patients_final, 0);
}
#endif
