#ifndef TALLY_MEMORY_H
#define TALLY_MEMORY_H

// SQLite's allocator, counted by Tally instead of by SQLite (sqlite_memory.c).

/// Installs the allocator and turns SQLite's own memory statistics off. Must run before SQLite
/// initialises (before the first connection opens); returns SQLITE_OK, or SQLite's refusal.
int tally_sqlite_memory_install(void);
/// Bytes SQLite holds through the allocator (requested sizes, not counting malloc's overhead).
long long tally_sqlite_memory_used(void);
/// Caps those bytes: an allocation that would pass `bytes` fails (SQLITE_NOMEM). 0 or less: no cap.
void tally_sqlite_memory_set_limit(long long bytes);
long long tally_sqlite_memory_limit(void);

#endif
