/* The libvirt seam: the only place that calls libvirt. */
#ifndef FERRY_CLIENT_LIBVIRT_H
#define FERRY_CLIENT_LIBVIRT_H

#include <signal.h>
#include <stdbool.h>

#include "util/err.h"

/* Define (persistently) the domain XML on URI and confirm it by looking it
 * up by UUID; *ret_uuid (37 bytes) gets its UUID. */
int ferry_libvirt_define (const char *uri, const char *xml, char *ret_uuid,
                          struct ferry_err *err);
/* Is a domain NAME defined on URI?  *ret_uuid gets its UUID if so. */
int ferry_libvirt_lookup (const char *uri, const char *name, bool *ret_exists,
                          char *ret_uuid, struct ferry_err *err);

/* A domain as a libvirt host holds it. */
struct ferry_libvirt_dom {
  bool exists;     /* defined or running there */
  bool persistent; /* has a persistent definition */
  int state;       /* virDomainState; -1 when absent */
  int reason;      /* the state's reason */
  int n_snapshots; /* snapshot metadata libvirt keeps for it */
  char uuid[37];   /* "" when absent */
  char *xml;       /* its XML (the persistent definition when there is
                      one; never secrets), NULL when absent; caller frees */
};

/* Read domain NAME on URI (read-only connection) into *RET; an absent
 * domain is not an error (ret->exists false).  0 / -1. */
int ferry_libvirt_domain_get (const char *uri, const char *name,
                              struct ferry_libvirt_dom *ret,
                              struct ferry_err *err);
void ferry_libvirt_dom_clear (struct ferry_libvirt_dom *d);

/* "running", "shut off", "paused", ... for virDomainState S. */
const char *ferry_libvirt_state_name (int s);

/* Shut domain NAME on URI down gracefully (ACPI, then the guest agent if
 * ACPI is refused) and wait up to TIMEOUT_S for it to be shut off; a domain
 * already shut off is success.  On timeout: -1 (ETIMEDOUT) and the domain
 * keeps running (never forced off).  STOP (may be NULL) ends the wait early
 * (-1, EINTR). */
int ferry_libvirt_shutdown (const char *uri, const char *name,
                            unsigned timeout_s, volatile sig_atomic_t *stop,
                            struct ferry_err *err);
/* Start the defined domain NAME on URI (running already: success). */
int ferry_libvirt_start (const char *uri, const char *name,
                         struct ferry_err *err);
/* Undefine NAME on URI, only if it is shut off and its UUID is UUID
 * (keeping its NVRAM file and disks); absent: success. */
int ferry_libvirt_undefine (const char *uri, const char *name, const char *uuid,
                            struct ferry_err *err);

/* Ask the guest agent of running domain NAME on URI for the guest's time
 * (a ping: the agent answers only from a live guest).  0 / -1. */
int ferry_libvirt_agent_ping (const char *uri, const char *name,
                              struct ferry_err *err);

#endif
