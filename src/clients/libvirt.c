/* libvirt calls (define, look-up), with libvirt's own error printing
 * silenced: errors come back through struct ferry_err. */
#include "clients/libvirt.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <string.h>

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
