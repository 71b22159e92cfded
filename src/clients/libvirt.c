/* libvirt calls (define, look-up), with libvirt's own error printing
 * silenced: errors come back through struct ferry_err. */
#include "clients/libvirt.h"

#include <errno.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/dl.h"

/* libvirt error handler that prints nothing: libvirt would otherwise write
 * its errors to stderr itself; ferry reports them through struct ferry_err
 * instead. */
static void
quiet (void *opaque, virErrorPtr e)
{
  (void) opaque, (void) e;
}

/* Connect to libvirt at URI (read-only for look-ups), with libvirt's own
 * error printing silenced. Return the connection (close with
 * virConnectClose), or NULL with ERR naming the URI and libvirt's reason. */
static virConnectPtr
connect_uri (const char *uri, bool readonly, struct ferry_err *err)
{
  virConnectPtr c;

  if (ferry_dl_load (&ferry_dl_virt, err) < 0)
    return NULL;
  virSetErrorFunc (NULL, quiet);
  c = readonly ? virConnectOpenReadOnly (uri) : virConnectOpen (uri);
  if (c == NULL) {
    const char *m = virGetLastErrorMessage ();
    ferry_err_set (err, 0, "cannot connect to libvirt at '%s': %s", uri,
                   m ? m : "unknown error");
  }
  return c;
}

/* Define (not start) the domain XML on the libvirt at URI and copy its UUID
 * into RET_UUID (VIR_UUID_STRING_BUFLEN bytes). The domain is looked up
 * again by UUID after the define, so a define that did not stick is an error
 * rather than a step reported done. Return 0, or -1 with ERR set. */
int
ferry_libvirt_define (const char *uri, const char *xml, char *ret_uuid,
                      struct ferry_err *err)
{
  virConnectPtr c;
  virDomainPtr d, again;
  char uuid[VIR_UUID_STRING_BUFLEN];
  int r = -1;

  c = connect_uri (uri, false, err);
  if (c == NULL)
    return -1;
  d = virDomainDefineXML (c, xml);
  if (d == NULL) {
    ferry_err_set (err, 0, "cannot define domain on '%s': %s", uri,
                   virGetLastErrorMessage ());
    goto out;
  }
  if (virDomainGetUUIDString (d, uuid) < 0) {
    ferry_err_set (err, 0, "cannot read the domain's uuid: %s",
                   virGetLastErrorMessage ());
    virDomainFree (d);
    goto out;
  }
  virDomainFree (d);
  again = virDomainLookupByUUIDString (c, uuid);
  if (again == NULL) {
    ferry_err_set (err, 0, "domain %s vanished after define on '%s'", uuid,
                   uri);
    goto out;
  }
  virDomainFree (again);
  memcpy (ret_uuid, uuid, VIR_UUID_STRING_BUFLEN);
  r = 0;
out:
  virConnectClose (c);
  return r;
}

/* Does a domain called NAME exist on the libvirt at URI? Set *RET_EXISTS
 * and, when it does, its UUID in RET_UUID (empty if unreadable). Any failed
 * name look-up counts as absent; only a failed connection is an error.
 * Return 0, or -1 with ERR set. */
int
ferry_libvirt_lookup (const char *uri, const char *name, bool *ret_exists,
                      char *ret_uuid, struct ferry_err *err)
{
  virConnectPtr c;
  virDomainPtr d;

  c = connect_uri (uri, true, err);
  if (c == NULL)
    return -1;
  d = virDomainLookupByName (c, name);
  *ret_exists = d != NULL;
  if (d) {
    if (virDomainGetUUIDString (d, ret_uuid) < 0)
      ret_uuid[0] = '\0';
    virDomainFree (d);
  }
  virConnectClose (c);
  return 0;
}

/* Fill D from the domain DOM (its XML: the persistent definition when it
 * has one, without secrets).  Return 0, or -1 with ERR set. */
static int
dom_read (virDomainPtr dom, struct ferry_libvirt_dom *d, struct ferry_err *err)
{
  int st = -1, reason = 0, persistent;

  d->exists = true;
  if (virDomainGetUUIDString (dom, d->uuid) < 0)
    d->uuid[0] = '\0';
  if (virDomainGetState (dom, &st, &reason, 0) < 0)
    return ferry_err_set (err, 0, "cannot read the state of domain '%s': %s",
                          virDomainGetName (dom), virGetLastErrorMessage ());
  d->state = st;
  d->reason = reason;
  persistent = virDomainIsPersistent (dom);
  d->persistent = persistent == 1;
  d->n_snapshots = virDomainSnapshotNum (dom, 0);
  if (d->n_snapshots < 0)
    d->n_snapshots = 0;
  d->xml =
      virDomainGetXMLDesc (dom, d->persistent ? VIR_DOMAIN_XML_INACTIVE : 0);
  if (d->xml == NULL)
    return ferry_err_set (err, 0, "cannot read the XML of domain '%s': %s",
                          virDomainGetName (dom), virGetLastErrorMessage ());
  return 0;
}

/* Read domain NAME on URI: whether it exists, its state, snapshots, UUID
 * and XML.  A failed look-up by name means absent (libvirt says "domain
 * not found"); a failed connection is an error.  Return 0 / -1. */
int
ferry_libvirt_domain_get (const char *uri, const char *name,
                          struct ferry_libvirt_dom *ret, struct ferry_err *err)
{
  virConnectPtr c;
  virDomainPtr d;
  int r = 0;

  memset (ret, 0, sizeof *ret);
  ret->state = -1;
  c = connect_uri (uri, true, err);
  if (c == NULL)
    return -1;
  d = virDomainLookupByName (c, name);
  if (d == NULL) {
    virErrorPtr e = virGetLastError ();
    if (e && e->code != VIR_ERR_NO_DOMAIN)
      r = ferry_err_set (err, 0, "cannot look up domain '%s' on '%s': %s", name,
                         uri, e->message ? e->message : "unknown error");
  } else {
    r = dom_read (d, ret, err);
    virDomainFree (d);
  }
  virConnectClose (c);
  return r;
}

/* Free what ferry_libvirt_domain_get allocated. */
void
ferry_libvirt_dom_clear (struct ferry_libvirt_dom *d)
{
  free (d->xml);
  d->xml = NULL;
}

/* A virDomainState in virsh's words. */
const char *
ferry_libvirt_state_name (int s)
{
  switch (s) {
  case VIR_DOMAIN_RUNNING:
    return "running";
  case VIR_DOMAIN_BLOCKED:
    return "blocked";
  case VIR_DOMAIN_PAUSED:
    return "paused";
  case VIR_DOMAIN_SHUTDOWN:
    return "shutting down";
  case VIR_DOMAIN_SHUTOFF:
    return "shut off";
  case VIR_DOMAIN_CRASHED:
    return "crashed";
  case VIR_DOMAIN_PMSUSPENDED:
    return "suspended";
  case -1:
    return "absent";
  default:
    return "unknown";
  }
}

/* Look up NAME on the read-write connection C; NULL with ERR set. */
static virDomainPtr
lookup_rw (virConnectPtr c, const char *uri, const char *name,
           struct ferry_err *err)
{
  virDomainPtr d = virDomainLookupByName (c, name);

  if (d == NULL)
    ferry_err_set (err, 0, "cannot find domain '%s' on '%s': %s", name, uri,
                   virGetLastErrorMessage ());
  return d;
}

/* Ask domain NAME on URI to shut down (ACPI; the guest agent if the
 * hypervisor refuses ACPI) and poll its state every 0.5 s until it is shut
 * off, TIMEOUT_S passed (ETIMEDOUT, domain left running) or *STOP is set
 * (EINTR).  The request is repeated every 30 s: a guest still booting may
 * ignore the first.  Never forces the domain off.  Return 0 / -1. */
int
ferry_libvirt_shutdown (const char *uri, const char *name, unsigned timeout_s,
                        volatile sig_atomic_t *stop, struct ferry_err *err)
{
  virConnectPtr c;
  virDomainPtr d;
  int st = -1, reason, r = -1;
  unsigned ticks;

  c = connect_uri (uri, false, err);
  if (c == NULL)
    return -1;
  d = lookup_rw (c, uri, name, err);
  if (d == NULL)
    goto out;
  for (ticks = 0;; ticks++) {
    if (virDomainGetState (d, &st, &reason, 0) < 0) {
      ferry_err_set (err, 0, "cannot read the state of '%s' on '%s': %s", name,
                     uri, virGetLastErrorMessage ());
      break;
    }
    if (st == VIR_DOMAIN_SHUTOFF) {
      r = 0;
      break;
    }
    if (ticks >= 2 * timeout_s) {
      ferry_err_set (err, ETIMEDOUT,
                     "domain '%s' on '%s' is still %s after %u s of "
                     "shutdown: it was left running (shut it down by hand, "
                     "or raise shutdown_timeout)",
                     name, uri, ferry_libvirt_state_name (st), timeout_s);
      break;
    }
    if (stop && *stop) {
      ferry_err_set (err, EINTR, "interrupted while '%s' shuts down", name);
      break;
    }
    if (ticks % 60 == 0 && st != VIR_DOMAIN_SHUTDOWN &&
        virDomainShutdownFlags (d, VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN |
                                       VIR_DOMAIN_SHUTDOWN_GUEST_AGENT) < 0 &&
        virDomainShutdown (d) < 0) {
      ferry_err_set (err, 0, "cannot shut down '%s' on '%s': %s", name, uri,
                     virGetLastErrorMessage ());
      break;
    }
    usleep (500000);
  }
  virDomainFree (d);
out:
  virConnectClose (c);
  return r;
}

/* Start NAME on URI unless it already runs.  Return 0 / -1. */
int
ferry_libvirt_start (const char *uri, const char *name, struct ferry_err *err)
{
  virConnectPtr c;
  virDomainPtr d;
  int r = -1, active;

  c = connect_uri (uri, false, err);
  if (c == NULL)
    return -1;
  d = lookup_rw (c, uri, name, err);
  if (d == NULL)
    goto out;
  active = virDomainIsActive (d);
  if (active == 1 || virDomainCreate (d) == 0)
    r = 0;
  else
    ferry_err_set (err, 0, "cannot start domain '%s' on '%s': %s", name, uri,
                   virGetLastErrorMessage ());
  virDomainFree (d);
out:
  virConnectClose (c);
  return r;
}

/* Undefine NAME on URI when it is shut off and has UUID; keep its NVRAM
 * (VIR_DOMAIN_UNDEFINE_KEEP_NVRAM) and never touch storage.  Absent is
 * success.  Return 0 / -1. */
int
ferry_libvirt_undefine (const char *uri, const char *name, const char *uuid,
                        struct ferry_err *err)
{
  virConnectPtr c;
  virDomainPtr d;
  char have[VIR_UUID_STRING_BUFLEN];
  int r = -1, st = -1, reason;

  c = connect_uri (uri, false, err);
  if (c == NULL)
    return -1;
  d = virDomainLookupByName (c, name);
  if (d == NULL) {
    r = 0;
    goto out;
  }
  if (virDomainGetUUIDString (d, have) < 0 || strcmp (have, uuid) != 0)
    ferry_err_set (err, 0,
                   "domain '%s' on '%s' is not the one ferry moved (uuid %s, "
                   "expected %s): left alone",
                   name, uri, have, uuid);
  else if (virDomainGetState (d, &st, &reason, 0) < 0 ||
           st != VIR_DOMAIN_SHUTOFF)
    ferry_err_set (err, 0,
                   "domain '%s' on '%s' is %s: only a shut-off domain is "
                   "undefined",
                   name, uri, ferry_libvirt_state_name (st));
  else if (virDomainUndefineFlags (d, VIR_DOMAIN_UNDEFINE_KEEP_NVRAM) < 0)
    ferry_err_set (err, 0, "cannot undefine '%s' on '%s': %s", name, uri,
                   virGetLastErrorMessage ());
  else
    r = 0;
  virDomainFree (d);
out:
  virConnectClose (c);
  return r;
}

/* The guest agent's guest-get-time through virDomainGetTime, as a ping.
 * Return 0 / -1 (no agent, agent not answering). */
int
ferry_libvirt_agent_ping (const char *uri, const char *name,
                          struct ferry_err *err)
{
  virConnectPtr c;
  virDomainPtr d;
  long long secs = 0;
  unsigned int nsecs = 0;
  int r = -1;

  c = connect_uri (uri, false, err);
  if (c == NULL)
    return -1;
  d = lookup_rw (c, uri, name, err);
  if (d) {
    if (virDomainGetTime (d, &secs, &nsecs, 0) == 0)
      r = 0;
    else
      ferry_err_set (err, 0,
                     "the guest agent of '%s' on '%s' does not answer: %s",
                     name, uri, virGetLastErrorMessage ());
    virDomainFree (d);
  }
  virConnectClose (c);
  return r;
}
