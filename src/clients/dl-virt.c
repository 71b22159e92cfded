/* libvirt.so.0 loaded on first use: stubs for the functions ferry calls
 * (see util/dl.h).  The connection helpers load it with a clear error
 * first; a stub without the library returns -1 or NULL, as libvirt does
 * on failure (virGetLastError () then returns NULL). */
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stddef.h>

#include "util/dl.h"

struct ferry_dl ferry_dl_virt = FERRY_DL_INIT ("libvirt.so.0");

FERRY_DL_FN (ferry_dl_virt, int, virConnectClose, -1, (virConnectPtr conn),
             (conn))
FERRY_DL_FN (ferry_dl_virt, virConnectPtr, virConnectOpen, NULL,
             (const char *name), (name))
FERRY_DL_FN (ferry_dl_virt, virConnectPtr, virConnectOpenReadOnly, NULL,
             (const char *name), (name))
FERRY_DL_FN (ferry_dl_virt, int, virDomainAbortJob, -1, (virDomainPtr dom),
             (dom))
FERRY_DL_FN (ferry_dl_virt, int, virDomainCreate, -1, (virDomainPtr domain),
             (domain))
FERRY_DL_FN (ferry_dl_virt, virDomainPtr, virDomainDefineXML, NULL,
             (virConnectPtr conn, const char *xml), (conn, xml))
FERRY_DL_FN (ferry_dl_virt, int, virDomainDestroy, -1, (virDomainPtr domain),
             (domain))
FERRY_DL_FN (ferry_dl_virt, int, virDomainFree, -1, (virDomainPtr domain),
             (domain))
FERRY_DL_FN (ferry_dl_virt, int, virDomainGetJobInfo, -1,
             (virDomainPtr dom, virDomainJobInfoPtr info), (dom, info))
FERRY_DL_FN (ferry_dl_virt, int, virDomainGetJobStats, -1,
             (virDomainPtr domain, int *type, virTypedParameterPtr *params,
              int *nparams, unsigned int flags),
             (domain, type, params, nparams, flags))
FERRY_DL_FN (ferry_dl_virt, const char *, virDomainGetName, NULL,
             (virDomainPtr domain), (domain))
FERRY_DL_FN (ferry_dl_virt, int, virDomainGetState, -1,
             (virDomainPtr domain, int *state, int *reason, unsigned int flags),
             (domain, state, reason, flags))
FERRY_DL_FN (ferry_dl_virt, int, virDomainGetTime, -1,
             (virDomainPtr dom, long long *seconds, unsigned int *nseconds,
              unsigned int flags),
             (dom, seconds, nseconds, flags))
FERRY_DL_FN (ferry_dl_virt, int, virDomainGetUUIDString, -1,
             (virDomainPtr domain, char *buf), (domain, buf))
FERRY_DL_FN (ferry_dl_virt, char *, virDomainGetXMLDesc, NULL,
             (virDomainPtr domain, unsigned int flags), (domain, flags))
FERRY_DL_FN (ferry_dl_virt, int, virDomainIsActive, -1, (virDomainPtr dom),
             (dom))
FERRY_DL_FN (ferry_dl_virt, int, virDomainIsPersistent, -1, (virDomainPtr dom),
             (dom))
FERRY_DL_FN (ferry_dl_virt, virDomainPtr, virDomainLookupByName, NULL,
             (virConnectPtr conn, const char *name), (conn, name))
FERRY_DL_FN (ferry_dl_virt, virDomainPtr, virDomainLookupByUUIDString, NULL,
             (virConnectPtr conn, const char *uuid), (conn, uuid))
FERRY_DL_FN (ferry_dl_virt, int, virDomainMigrateSetMaxDowntime, -1,
             (virDomainPtr domain, unsigned long long downtime,
              unsigned int flags),
             (domain, downtime, flags))
FERRY_DL_FN (ferry_dl_virt, int, virDomainMigrateStartPostCopy, -1,
             (virDomainPtr domain, unsigned int flags), (domain, flags))
FERRY_DL_FN (ferry_dl_virt, int, virDomainMigrateToURI3, -1,
             (virDomainPtr domain, const char *dconnuri,
              virTypedParameterPtr params, unsigned int nparams,
              unsigned int flags),
             (domain, dconnuri, params, nparams, flags))
FERRY_DL_FN (ferry_dl_virt, int, virDomainShutdown, -1, (virDomainPtr domain),
             (domain))
FERRY_DL_FN (ferry_dl_virt, int, virDomainShutdownFlags, -1,
             (virDomainPtr domain, unsigned int flags), (domain, flags))
FERRY_DL_FN (ferry_dl_virt, int, virDomainSnapshotNum, -1,
             (virDomainPtr domain, unsigned int flags), (domain, flags))
FERRY_DL_FN (ferry_dl_virt, int, virDomainUndefine, -1, (virDomainPtr domain),
             (domain))
FERRY_DL_FN (ferry_dl_virt, int, virDomainUndefineFlags, -1,
             (virDomainPtr domain, unsigned int flags), (domain, flags))
FERRY_DL_FN (ferry_dl_virt, virErrorPtr, virGetLastError, NULL, (void), ())
FERRY_DL_FN (ferry_dl_virt, const char *, virGetLastErrorMessage, NULL, (void),
             ())
FERRY_DL_VOID (ferry_dl_virt, virSetErrorFunc,
               (void *userData, virErrorFunc handler), (userData, handler))
FERRY_DL_FN (ferry_dl_virt, int, virTypedParamsAddString, -1,
             (virTypedParameterPtr * params, int *nparams, int *maxparams,
              const char *name, const char *value),
             (params, nparams, maxparams, name, value))
FERRY_DL_FN (ferry_dl_virt, int, virTypedParamsAddULLong, -1,
             (virTypedParameterPtr * params, int *nparams, int *maxparams,
              const char *name, unsigned long long value),
             (params, nparams, maxparams, name, value))
FERRY_DL_VOID (ferry_dl_virt, virTypedParamsFree,
               (virTypedParameterPtr params, int nparams), (params, nparams))
FERRY_DL_FN (ferry_dl_virt, int, virTypedParamsGetInt, -1,
             (virTypedParameterPtr params, int nparams, const char *name,
              int *value),
             (params, nparams, name, value))
FERRY_DL_FN (ferry_dl_virt, int, virTypedParamsGetULLong, -1,
             (virTypedParameterPtr params, int nparams, const char *name,
              unsigned long long *value),
             (params, nparams, name, value))
