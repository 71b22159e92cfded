/* The libvirt seam: the only place that calls libvirt. */
#ifndef FERRY_CLIENT_LIBVIRT_H
#define FERRY_CLIENT_LIBVIRT_H

#include <stdbool.h>

#include "util/err.h"

/* Define (persistently) the domain XML on URI and confirm it by looking it
 * up by UUID; *ret_uuid (37 bytes) gets its UUID. */
int ferry_libvirt_define (const char *uri, const char *xml, char *ret_uuid,
                          struct ferry_err *err);
/* Is a domain NAME defined on URI?  *ret_uuid gets its UUID if so. */
int ferry_libvirt_lookup (const char *uri, const char *name, bool *ret_exists,
                          char *ret_uuid, struct ferry_err *err);

#endif
