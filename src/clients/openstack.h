/* OpenStack client: clouds.yaml, Keystone v3, the service catalog and one
 * request function with retries, for the openstack target's modules.
 *
 * libcurl + cJSON.  A session (struct ferry_os) authenticates lazily on its
 * first request, reuses its token, and re-authenticates once on a 401 or
 * when the token is about to expire.  Tokens, passwords and application
 * credential secrets never reach the log, even at debug level: requests
 * are logged as "METHOD URL -> STATUS (n ms)" only. */
#ifndef FERRY_CLIENTS_OPENSTACK_H
#define FERRY_CLIENTS_OPENSTACK_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* One cloud of clouds.yaml (+ secure.yaml + OS_* variables), resolved. */
struct ferry_os_cloud {
  char *name;      /* the clouds.yaml key, or "envvars" */
  char *file;      /* clouds.yaml it came from, NULL for env only */
  char *auth_type; /* "password" or "v3applicationcredential" */
  char *auth_url;  /* Keystone, e.g. http://127.0.0.1:5000/v3 */
  char *username, *user_id, *user_domain_name, *user_domain_id;
  char *project_name, *project_id, *project_domain_name, *project_domain_id;
  char *password;                    /* secret: never log */
  char *app_cred_id, *app_cred_name; /* application credential */
  char *app_cred_secret;             /* secret: never log */
  char *region_name;                 /* NULL = any */
  char *interface; /* "public" (default), "internal", "admin" */
  char *cacert;    /* CA bundle, NULL = system */
  bool verify;     /* TLS verification (default true) */
  double timeout;  /* seconds per request (default 60) */
};

/* Find cloud NAME (NULL: $OS_CLOUD, else the OS_* variables alone) the
 * way openstacksdk does: $OS_CLIENT_CONFIG_FILE, ./clouds.yaml,
 * ~/.config/openstack/clouds.yaml, /etc/openstack/clouds.yaml (the first
 * that exists), merged with secure.yaml from the same places, then OS_*
 * variables (OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME, ...)
 * override.  Errors name the file and key. */
int ferry_os_cloud_load (const char *name, struct ferry_os_cloud **ret,
                         struct ferry_err *err);
void ferry_os_cloud_free (struct ferry_os_cloud *c);

enum ferry_os_service {
  FERRY_OS_IDENTITY, /* "identity" (keystone) */
  FERRY_OS_COMPUTE,  /* "compute" (nova) */
  FERRY_OS_VOLUME,   /* "volumev3" / "block-storage" (cinder) */
  FERRY_OS_IMAGE,    /* "image" (glance) */
  FERRY_OS_NETWORK,  /* "network" (neutron) */
  FERRY_OS_SERVICE_LAST
};
/* "keystone", "nova", "cinder", "glance", "neutron": the prefix of errors */
const char *ferry_os_service_name (enum ferry_os_service s);

/* Microversions sent with every request (OpenStack-API-Version). */
#define FERRY_OS_COMPUTE_MICROVERSION "2.67"
#define FERRY_OS_VOLUME_MICROVERSION "3.50"

struct ferry_os_opts {
  unsigned retries;    /* attempts after the first (default 5) */
  double backoff_base; /* first wait, seconds (default 0.5) */
  double backoff_max;  /* cap of one wait, seconds (default 20) */
};

struct ferry_os;

/* A session on CLOUD (copied).  OPTS may be NULL.  No network traffic
 * yet: Keystone is asked on the first request. */
int ferry_os_open (const struct ferry_os_cloud *cloud,
                   const struct ferry_os_opts *opts, struct ferry_os **ret,
                   struct ferry_err *err);
void ferry_os_close (struct ferry_os *os);

/* The scoped project's id (authenticates if needed); NULL on error. */
const char *ferry_os_project_id (struct ferry_os *os, struct ferry_err *err);
/* The endpoint of SERVICE from the catalog (interface and region of the
 * cloud), no trailing slash; NULL on error ("no 'volumev3' endpoint ...").
 * Identity is the cloud's auth_url (always ending in /v3), so identity
 * paths read "/users/ID" whatever the catalog says.  Cinder's endpoint
 * includes the project id; Glance's and Neutron's have no version
 * ("/v2/images", "/v2.0/networks"); Nova's ends in /v2.1. */
const char *ferry_os_endpoint (struct ferry_os *os, enum ferry_os_service s,
                               struct ferry_err *err);

/* Flags of ferry_os_request.  Without FERRY_OS_NO_RETRY a POST is sent
 * again after a connection error or a 5xx: pass it for a POST that must not
 * run twice (creating a volume); a 401 is re-authenticated either way. */
enum {
  FERRY_OS_OK_404 = 1 << 0,   /* a 404 is an answer, not an error */
  FERRY_OS_OK_409 = 1 << 1,   /* a 409 is an answer (no retry) */
  FERRY_OS_NO_RETRY = 1 << 2, /* one attempt (non-idempotent POSTs) */
  /* the body is a Glance JSON patch (Content-Type
   * application/openstack-images-v2.1-json-patch, e.g. adding a location) */
  FERRY_OS_JSON_PATCH = 1 << 3,
};

/* One request: METHOD on PATH relative to the service's endpoint ("/volumes
 * /detail?limit=100") or an absolute URL (pagination links), with BODY as
 * JSON (NULL = none).  Retries with bounded exponential backoff and jitter
 * on connection errors, 5xx, 429 (honouring Retry-After) and a 409 that
 * says the object is in transition; never on another 4xx.  Returns the
 * HTTP status (2xx, or 404/409 when FLAGS allow) with the parsed reply in
 * *RET (NULL for an empty body; caller frees; RET may be NULL); -1 with
 * ERR = "cinder: <the service's own message> (HTTP 404)" otherwise.  A
 * reply that is not JSON where JSON was expected is an error too. */
int ferry_os_request (struct ferry_os *os, enum ferry_os_service s,
                      const char *method, const char *path, const cJSON *body,
                      unsigned flags, cJSON **ret, struct ferry_err *err);

/* GET PATH and every next page (Nova/Cinder/Neutron "<key>_links" rel
 * "next", Glance "next"): all items of array KEY ("volumes") in *RET
 * (a cJSON array, caller frees). */
int ferry_os_list (struct ferry_os *os, enum ferry_os_service s,
                   const char *path, const char *key, cJSON **ret,
                   struct ferry_err *err);

/* Poll GET PATH until object KEY's "status" is one of WANT (a
 * NULL-terminated list, compared case-insensitively), failing at once
 * when it is one of FAIL (the error carries the object's fault or
 * error message), or after DEADLINE seconds.  Waits grow from 1 s to 10 s
 * (multiplied by $FERRY_TEST_OS_POLL_SCALE, a test hook in (0, 1]).
 * KEY NULL: the reply is the object (Glance v2).  The object in *RET
 * (caller frees; RET may be NULL).  A 404 fails unless
 * WANT contains "DELETED", which then matches it. */
int ferry_os_wait (struct ferry_os *os, enum ferry_os_service s,
                   const char *path, const char *key, const char *const *want,
                   const char *const *fail, double deadline, cJSON **ret,
                   struct ferry_err *err);

/* A reader for ferry_os_upload: up to LEN bytes at OFFSET into BUF, the
 * count in *RET_N (at least 1); -1 with ERR aborts the upload. */
typedef int (*ferry_os_read_fn) (void *opaque, void *buf, size_t len,
                                 uint64_t offset, size_t *ret_n,
                                 struct ferry_err *err);

/* PUT SIZE bytes from READ to PATH as application/octet-stream (Glance's
 * PUT /v2/images/ID/file), streamed: sent once (again from offset 0 only
 * after a 401 and a new token), with no overall timeout but aborted when
 * less than 1 byte/s moves for 120 s.  The HTTP status (2xx), or -1 with
 * ERR (the service's message, or the reader's error). */
int ferry_os_upload (struct ferry_os *os, enum ferry_os_service s,
                     const char *path, uint64_t size, ferry_os_read_fn read,
                     void *opaque, struct ferry_err *err);

/* Counters for the benchmark: requests sent, and seconds spent waiting
 * for replies and in ferry_os_wait's sleeps. */
struct ferry_os_stats {
  unsigned long requests;
  double http_seconds;
  double wait_seconds;
};
void ferry_os_stats (const struct ferry_os *os, struct ferry_os_stats *ret);

/* A URL path component escaped (caller frees). */
char *ferry_os_escape (const char *s);

#endif
