#ifndef TALLY_CPOSTGRES_SHIM_H
#define TALLY_CPOSTGRES_SHIM_H
#include <libpq-fe.h>
#endif
