/* Parse qemu-style RBD names: rbd:POOL/IMAGE[@SNAP][:conf=PATH][:id=USER]. */
#ifndef FERRY_RBDNAME_H
#define FERRY_RBDNAME_H

#include <stdbool.h>

#include "util/err.h"

struct ferry_rbd_name {
  char pool[128];
  char image[256];
  char snap[128]; /* "" when none */
  char conf[512]; /* "" = librados default search */
  char id[128];   /* "" = "admin" */
};

/* True if NAME starts with "rbd:". */
bool ferry_is_rbd_name (const char *name);
int ferry_rbd_name_parse (const char *name, struct ferry_rbd_name *ret,
                          struct ferry_err *err);

#endif
