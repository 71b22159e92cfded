/* OpenStack client: the session (Keystone v3 token and catalog), one
 * request function with retries, pagination and status polling.
 *
 * Every request gets its own curl easy handle, so worker threads share only
 * the session: its mutex guards the token, its expiry and the counters;
 * the project id and the endpoints are set once, by the first successful
 * authentication, and never change afterwards (so the pointers handed out
 * stay valid until ferry_os_close).  Connections, DNS and TLS sessions are
 * shared through a curl share handle whose own locks the mutexes below
 * implement.
 *
 * Nothing secret is logged: one debug line per request, "METHOD URL ->
 * STATUS (n ms)"; headers and bodies never. */
#include "clients/openstack.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/dl.h"
#include "util/log.h"

/* Replies bigger than this are refused (a full image list is far less). */
#define MAX_REPLY (64u << 20)
/* Re-authenticate when the token expires within this many seconds. */
#define TOKEN_MARGIN 60
/* A Retry-After above this is capped. */
#define MAX_RETRY_AFTER 120.0

static const char *const service_names[] = {
    [FERRY_OS_IDENTITY] = "keystone", [FERRY_OS_COMPUTE] = "nova",
    [FERRY_OS_VOLUME] = "cinder",     [FERRY_OS_IMAGE] = "glance",
    [FERRY_OS_NETWORK] = "neutron",
};
_Static_assert(FERRY_ARRAY_SIZE (service_names) == FERRY_OS_SERVICE_LAST,
               "service_names");

/* Catalog types of each service, preferred first. */
static const char *const service_types[][3] = {
    [FERRY_OS_IDENTITY] = {"identity", NULL},
    [FERRY_OS_COMPUTE] = {"compute", NULL},
    [FERRY_OS_VOLUME] = {"volumev3", "block-storage", NULL},
    [FERRY_OS_IMAGE] = {"image", NULL},
    [FERRY_OS_NETWORK] = {"network", NULL},
};
_Static_assert(FERRY_ARRAY_SIZE (service_types) == FERRY_OS_SERVICE_LAST,
               "service_types");

/* See openstack.h. */
const char *
ferry_os_service_name (enum ferry_os_service s)
{
  return s < FERRY_OS_SERVICE_LAST ? service_names[s] : "openstack";
}

struct ferry_os {
  struct ferry_os_cloud cloud; /* deep copy; secrets wiped at close */
  struct ferry_os_opts opts;   /* retries and backoff */
  CURLSH *share;               /* connections, DNS, TLS sessions */
  pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST]; /* for SHARE */
  /* auth_lock guards token, expires, auth_gen, authed and the writing of
   * project_id and endpoints; it is held across the Keystone exchange so
   * that other threads wait for the new token instead of asking too */
  pthread_mutex_t auth_lock;
  char *token;       /* X-Subject-Token; secret: never log */
  time_t expires;    /* token's expires_at, 0 = unknown */
  unsigned auth_gen; /* incremented by every authentication */
  bool authed;       /* project_id and endpoints are set (never reset) */
  char *project_id;  /* the token's project */
  char *endpoints[FERRY_OS_SERVICE_LAST]; /* catalog URLs, no '/' at end */
  pthread_mutex_t stats_lock;             /* guards stats */
  struct ferry_os_stats stats;            /* counters */
};

/* curl_global_init is not thread-safe: once per process. */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void
curl_init_once (void)
{
  curl_init_rc = curl_global_init (CURL_GLOBAL_DEFAULT);
}

/* Overwrite and free a secret string. */
static void
wipe_free (char *s)
{
  if (s) {
    explicit_bzero (s, strlen (s));
    free (s);
  }
}

static double
now_mono (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sleep S seconds (fractions allowed). */
static void
sleep_seconds (double s)
{
  struct timespec ts;

  if (!(s > 0))
    return;
  ts.tv_sec = (time_t) s;
  ts.tv_nsec = (long) ((s - (double) ts.tv_sec) * 1e9);
  while (nanosleep (&ts, &ts) < 0 && errno == EINTR)
    ;
}

/* The curl share's lock callbacks: one mutex per kind of shared data. */
static void
share_lock (CURL *h, curl_lock_data data, curl_lock_access a, void *p)
{
  struct ferry_os *os = p;

  (void) h;
  (void) a;
  pthread_mutex_lock (&os->share_locks[data]);
}

static void
share_unlock (CURL *h, curl_lock_data data, void *p)
{
  struct ferry_os *os = p;

  (void) h;
  pthread_mutex_unlock (&os->share_locks[data]);
}

/* Copy string field by field (NULL stays NULL). */
static int
dup_field (char **dst, const char *src)
{
  *dst = NULL;
  if (!src)
    return 0;
  *dst = strdup (src);
  return *dst ? 0 : -1;
}

/* See openstack.h. */
int
ferry_os_open (const struct ferry_os_cloud *cloud,
               const struct ferry_os_opts *opts, struct ferry_os **ret,
               struct ferry_err *err)
{
  struct ferry_os *os;
  struct ferry_os_cloud *c;
  int bad = 0;

  if (ferry_dl_load (&ferry_dl_curl, err) < 0)
    return -1;
  pthread_once (&curl_once, curl_init_once);
  if (curl_init_rc != CURLE_OK)
    return ferry_err_set (err, 0, "cannot initialise libcurl: %s",
                          curl_easy_strerror (curl_init_rc));
  os = calloc (1, sizeof *os);
  if (!os)
    return ferry_err_set (err, errno, "cannot allocate memory");
  c = &os->cloud;
  *c = *cloud;
  bad |= dup_field (&c->name, cloud->name);
  bad |= dup_field (&c->file, cloud->file);
  bad |= dup_field (&c->auth_type, cloud->auth_type);
  bad |= dup_field (&c->auth_url, cloud->auth_url);
  bad |= dup_field (&c->username, cloud->username);
  bad |= dup_field (&c->user_id, cloud->user_id);
  bad |= dup_field (&c->user_domain_name, cloud->user_domain_name);
  bad |= dup_field (&c->user_domain_id, cloud->user_domain_id);
  bad |= dup_field (&c->project_name, cloud->project_name);
  bad |= dup_field (&c->project_id, cloud->project_id);
  bad |= dup_field (&c->project_domain_name, cloud->project_domain_name);
  bad |= dup_field (&c->project_domain_id, cloud->project_domain_id);
  bad |= dup_field (&c->password, cloud->password);
  bad |= dup_field (&c->app_cred_id, cloud->app_cred_id);
  bad |= dup_field (&c->app_cred_name, cloud->app_cred_name);
  bad |= dup_field (&c->app_cred_secret, cloud->app_cred_secret);
  bad |= dup_field (&c->region_name, cloud->region_name);
  bad |= dup_field (&c->interface, cloud->interface);
  bad |= dup_field (&c->cacert, cloud->cacert);
  if (!(c->timeout > 0))
    c->timeout = 60;
  os->opts.retries = 5;
  os->opts.backoff_base = 0.5;
  os->opts.backoff_max = 20;
  if (opts)
    os->opts = *opts;
  pthread_mutex_init (&os->auth_lock, NULL);
  pthread_mutex_init (&os->stats_lock, NULL);
  for (size_t i = 0; i < CURL_LOCK_DATA_LAST; i++)
    pthread_mutex_init (&os->share_locks[i], NULL);
  os->share = curl_share_init ();
  if (bad || !os->share || !c->auth_url) {
    ferry_os_close (os);
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  }
  curl_share_setopt (os->share, CURLSHOPT_LOCKFUNC, share_lock);
  curl_share_setopt (os->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
  curl_share_setopt (os->share, CURLSHOPT_USERDATA, os);
  curl_share_setopt (os->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt (os->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  curl_share_setopt (os->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
  *ret = os;
  return 0;
}

/* See openstack.h. */
void
ferry_os_close (struct ferry_os *os)
{
  struct ferry_os_cloud *c;

  if (!os)
    return;
  c = &os->cloud;
  if (os->share)
    curl_share_cleanup (os->share);
  wipe_free (os->token);
  wipe_free (c->password);
  wipe_free (c->app_cred_secret);
  free (c->name);
  free (c->file);
  free (c->auth_type);
  free (c->auth_url);
  free (c->username);
  free (c->user_id);
  free (c->user_domain_name);
  free (c->user_domain_id);
  free (c->project_name);
  free (c->project_id);
  free (c->project_domain_name);
  free (c->project_domain_id);
  free (c->app_cred_id);
  free (c->app_cred_name);
  free (c->region_name);
  free (c->interface);
  free (c->cacert);
  free (os->project_id);
  for (size_t i = 0; i < FERRY_OS_SERVICE_LAST; i++)
    free (os->endpoints[i]);
  pthread_mutex_destroy (&os->auth_lock);
  pthread_mutex_destroy (&os->stats_lock);
  for (size_t i = 0; i < CURL_LOCK_DATA_LAST; i++)
    pthread_mutex_destroy (&os->share_locks[i]);
  free (os);
}

/* See openstack.h. */
void
ferry_os_stats (const struct ferry_os *os, struct ferry_os_stats *ret)
{
  struct ferry_os *m = (struct ferry_os *) os;

  pthread_mutex_lock (&m->stats_lock);
  *ret = os->stats;
  pthread_mutex_unlock (&m->stats_lock);
}

/* See openstack.h. */
char *
ferry_os_escape (const char *s)
{
  static const char hex[] = "0123456789ABCDEF";
  size_t n = strlen (s);
  char *r = malloc (3 * n + 1), *p = r;

  if (!r)
    return NULL;
  for (; *s; s++) {
    unsigned char ch = (unsigned char) *s;
    if (isalnum (ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~')
      *p++ = (char) ch;
    else {
      *p++ = '%';
      *p++ = hex[ch >> 4];
      *p++ = hex[ch & 15];
    }
  }
  *p = '\0';
  return r;
}

/* ---- one HTTP exchange ---- */

/* What one exchange brought back. */
struct reply {
  char *body;          /* NUL-terminated */
  size_t len;          /* bytes in BODY */
  bool too_big;        /* the reply exceeded MAX_REPLY */
  long status;         /* HTTP status, 0 when none */
  double retry_after;  /* Retry-After seconds, -1 if absent */
  char *subject_token; /* X-Subject-Token (auth only); secret */
  CURLcode rc;         /* curl's result */
  char errbuf[CURL_ERROR_SIZE];
};

/* Free what R holds (wiping the token) and make it empty again. */
static void
reply_reset (struct reply *r)
{
  free (r->body);
  wipe_free (r->subject_token);
  memset (r, 0, sizeof *r);
  r->retry_after = -1;
}

/* curl's body callback: append to the reply, refusing more than
 * MAX_REPLY bytes (curl then fails the transfer). */
static size_t
on_body (char *data, size_t size, size_t nmemb, void *p)
{
  struct reply *r = p;
  size_t n = size * nmemb;
  char *b;

  if (n > MAX_REPLY - r->len) {
    r->too_big = true;
    return 0;
  }
  b = realloc (r->body, r->len + n + 1);
  if (!b)
    return 0;
  memcpy (b + r->len, data, n);
  r->len += n;
  b[r->len] = '\0';
  r->body = b;
  return n;
}

/* Header line H (N bytes, not NUL-terminated) named NAME: its trimmed
 * value, malloc'd; NULL when H is another header. */
static char *
header_value (const char *h, size_t n, const char *name)
{
  size_t k = strlen (name);
  const char *v, *e;

  if (n <= k || strncasecmp (h, name, k) != 0 || h[k] != ':')
    return NULL;
  v = h + k + 1;
  e = h + n;
  while (v < e && (*v == ' ' || *v == '\t'))
    v++;
  while (e > v && isspace ((unsigned char) e[-1]))
    e--;
  return strndup (v, (size_t) (e - v));
}

/* curl's header callback: keeps X-Subject-Token (never logged) and
 * Retry-After in seconds (an HTTP date is ignored: backoff applies). */
static size_t
on_header (char *data, size_t size, size_t nmemb, void *p)
{
  struct reply *r = p;
  size_t n = size * nmemb;
  char *v;

  /* a new status line (after a 100 Continue) starts a new header set */
  if (n >= 5 && strncmp (data, "HTTP/", 5) == 0) {
    r->retry_after = -1;
    wipe_free (r->subject_token);
    r->subject_token = NULL;
  }
  if ((v = header_value (data, n, "X-Subject-Token"))) {
    wipe_free (r->subject_token);
    r->subject_token = v;
  } else if ((v = header_value (data, n, "Retry-After"))) {
    char *end;
    double s = strtod (v, &end);
    if (end != v && *end == '\0' && s >= 0)
      r->retry_after = s > MAX_RETRY_AFTER ? MAX_RETRY_AFTER : s;
    free (v);
  }
  return n;
}

/* A body streamed from a reader (ferry_os_upload). */
struct upload {
  ferry_os_read_fn read; /* the caller's reader */
  void *opaque;          /* its argument */
  uint64_t size;         /* bytes to send */
  uint64_t offset;       /* bytes sent so far */
  struct ferry_err err;  /* the reader's error */
  bool failed;           /* the reader failed: abort */
};

/* curl's read callback: the next bytes from the caller's reader. */
static size_t
on_read (char *buf, size_t size, size_t nitems, void *p)
{
  struct upload *u = p;
  size_t want = size * nitems, got = 0;

  if (u->offset >= u->size)
    return 0;
  if (want > u->size - u->offset)
    want = (size_t) (u->size - u->offset);
  if (u->read (u->opaque, buf, want, u->offset, &got, &u->err) < 0 ||
      got == 0 || got > want) {
    if (!u->err.set)
      ferry_err_set (&u->err, EIO, "short read at offset %llu",
                     (unsigned long long) u->offset);
    u->failed = true;
    return CURL_READFUNC_ABORT;
  }
  u->offset += got;
  return got;
}

/* Send one request; fills R.  TOKEN (may be NULL) becomes X-Auth-Token;
 * the microversion header is chosen by S.  Returns 0, or -1 only when the
 * request could not even be built (R->rc tells transport failures). */
static int
exchange (struct ferry_os *os, enum ferry_os_service s, const char *method,
          const char *url, const char *body, struct upload *up,
          const char *token, unsigned flags, struct reply *r,
          struct ferry_err *err)
{
  CURL *h = curl_easy_init ();
  struct curl_slist *hdrs = NULL, *t;
  CLEANUP_FREE char *auth = NULL;
  double t0, dt;
  long timeout_ms = (long) (os->cloud.timeout * 1000);
  int bad = 0;

  reply_reset (r);
  if (!h)
    return ferry_err_set (err, ENOMEM, "cannot create a curl handle");
#define ADD(x)                                                                 \
  do {                                                                         \
    t = curl_slist_append (hdrs, (x));                                         \
    if (!t)                                                                    \
      bad = 1;                                                                 \
    else                                                                       \
      hdrs = t;                                                                \
  } while (0)
  ADD ("Accept: application/json");
  if (up)
    ADD ("Content-Type: application/octet-stream");
  else if (body && (flags & FERRY_OS_JSON_PATCH))
    ADD ("Content-Type: application/openstack-images-v2.1-json-patch");
  else if (body)
    ADD ("Content-Type: application/json");
  /* no "Expect: 100-continue" round trip for JSON bodies */
  ADD ("Expect:");
  if (s == FERRY_OS_COMPUTE) {
    ADD ("OpenStack-API-Version: compute " FERRY_OS_COMPUTE_MICROVERSION);
    ADD ("X-OpenStack-Nova-API-Version: " FERRY_OS_COMPUTE_MICROVERSION);
  } else if (s == FERRY_OS_VOLUME)
    ADD ("OpenStack-API-Version: volume " FERRY_OS_VOLUME_MICROVERSION);
  if (token) {
    if (asprintf (&auth, "X-Auth-Token: %s", token) < 0) {
      auth = NULL;
      bad = 1;
    } else
      ADD (auth);
  }
#undef ADD
  if (bad) {
    curl_slist_free_all (hdrs);
    curl_easy_cleanup (h);
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  }
  curl_easy_setopt (h, CURLOPT_URL, url);
  curl_easy_setopt (h, CURLOPT_CUSTOMREQUEST, method);
  if (strcmp (method, "HEAD") == 0)
    curl_easy_setopt (h, CURLOPT_NOBODY, 1L);
  /* a POST or PUT without a body still sends "Content-Length: 0" */
  if (body || strcmp (method, "POST") == 0 || strcmp (method, "PUT") == 0 ||
      strcmp (method, "PATCH") == 0) {
    curl_easy_setopt (h, CURLOPT_POSTFIELDS, body ? body : "");
    curl_easy_setopt (h, CURLOPT_POSTFIELDSIZE,
                      (long) (body ? strlen (body) : 0));
  }
  if (up) {
    /* a stream of any length: no overall timeout, but a stall aborts */
    up->offset = 0;
    curl_easy_setopt (h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt (h, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt (h, CURLOPT_READDATA, up);
    curl_easy_setopt (h, CURLOPT_INFILESIZE_LARGE, (curl_off_t) up->size);
    timeout_ms = 0;
    curl_easy_setopt (h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt (h, CURLOPT_LOW_SPEED_TIME, 120L);
  }
  curl_easy_setopt (h, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt (h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt (h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (h, CURLOPT_SHARE, os->share);
  curl_easy_setopt (h, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt (h, CURLOPT_CONNECTTIMEOUT_MS,
                    timeout_ms && timeout_ms < 10000 ? timeout_ms : 10000L);
  curl_easy_setopt (h, CURLOPT_USERAGENT, "ferry/" FERRY_VERSION);
  curl_easy_setopt (h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt (h, CURLOPT_WRITEDATA, r);
  curl_easy_setopt (h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt (h, CURLOPT_HEADERDATA, r);
  curl_easy_setopt (h, CURLOPT_ERRORBUFFER, r->errbuf);
  if (os->cloud.cacert)
    curl_easy_setopt (h, CURLOPT_CAINFO, os->cloud.cacert);
  if (!os->cloud.verify) {
    curl_easy_setopt (h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt (h, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  t0 = now_mono ();
  r->rc = curl_easy_perform (h);
  dt = now_mono () - t0;
  curl_easy_getinfo (h, CURLINFO_RESPONSE_CODE, &r->status);
  if (r->rc != CURLE_OK && !r->errbuf[0])
    snprintf (r->errbuf, sizeof r->errbuf, "%s", curl_easy_strerror (r->rc));
  if (r->rc == CURLE_OK)
    ferry_debug ("%s %s -> %ld (%.0f ms)", method, url, r->status, dt * 1000);
  else
    ferry_debug ("%s %s -> %s (%.0f ms)", method, url, r->errbuf, dt * 1000);
  pthread_mutex_lock (&os->stats_lock);
  os->stats.requests++;
  os->stats.http_seconds += dt;
  pthread_mutex_unlock (&os->stats_lock);
  if (auth)
    explicit_bzero (auth, strlen (auth));
  curl_slist_free_all (hdrs);
  curl_easy_cleanup (h);
  return 0;
}

/* ---- error messages ---- */

/* Copy the printable part of S (N bytes) into OUT, tags removed,
 * whitespace runs collapsed: glance's HTML and plain-text errors. */
static void
flatten_text (const char *s, size_t n, char *out, size_t outsz)
{
  size_t o = 0;
  bool in_tag = false, space = true;

  for (size_t i = 0; i < n && o + 1 < outsz; i++) {
    unsigned char ch = (unsigned char) s[i];
    if (in_tag) {
      if (ch == '>')
        in_tag = false;
      continue;
    }
    if (ch == '<') {
      in_tag = true;
      ch = ' ';
    }
    if (isspace (ch) || !isprint (ch)) {
      if (!space)
        out[o++] = ' ';
      space = true;
      continue;
    }
    out[o++] = (char) ch;
    space = false;
  }
  while (o > 0 && out[o - 1] == ' ')
    o--;
  out[o] = '\0';
}

/* Drop leading "404 Not Found" titles (glance's HTML repeats them in
 * <title> and <h1>) from MSG, in place. */
static void
strip_status_titles (char *msg, long status)
{
  static const struct {
    long code;
    const char *title;
  } titles[] = {
      {400, "400 Bad Request"},
      {401, "401 Unauthorized"},
      {403, "403 Forbidden"},
      {404, "404 Not Found"},
      {405, "405 Method Not Allowed"},
      {409, "409 Conflict"},
      {413, "413 Request Entity Too Large"},
      {415, "415 Unsupported Media Type"},
      {500, "500 Internal Server Error"},
      {501, "501 Not Implemented"},
      {502, "502 Bad Gateway"},
      {503, "503 Service Unavailable"},
      {504, "504 Gateway Timeout"},
  };

  for (size_t i = 0; i < FERRY_ARRAY_SIZE (titles); i++) {
    size_t k = strlen (titles[i].title);
    if (titles[i].code != status)
      continue;
    /* "404 Not Found", then "Not Found" alone (keystone's <h1>) */
    for (;;) {
      const char *t = titles[i].title;
      size_t n = k;
      char *p;
      if (strncmp (msg, t, n) != 0 || (msg[n] != ' ' && msg[n] != '\0')) {
        t += 4;
        n -= 4;
        if (strncmp (msg, t, n) != 0 || (msg[n] != ' ' && msg[n] != '\0'))
          break;
      }
      p = msg + n;
      while (*p == ' ')
        p++;
      memmove (msg, p, strlen (p) + 1);
    }
  }
}

/* The service's own message in reply R, into MSG. */
static void
service_message (const struct reply *r, char *msg, size_t msgsz)
{
  cJSON *j = r->body ? cJSON_ParseWithLength (r->body, r->len) : NULL;
  const cJSON *m = NULL, *it;

  msg[0] = '\0';
  if (j && cJSON_IsObject (j)) {
    m = cJSON_GetObjectItemCaseSensitive (j, "message");
    if (!cJSON_IsString (m))
      m = NULL;
    /* {"itemNotFound": {"message": ...}}, {"NeutronError": ...},
     * {"error": {"message": ...}} */
    cJSON_ArrayForEach (it, j)
    {
      if (m)
        break;
      if (cJSON_IsObject (it)) {
        m = cJSON_GetObjectItemCaseSensitive (it, "message");
        if (!cJSON_IsString (m))
          m = NULL;
      }
    }
    if (!m && cJSON_IsString (
                  it = cJSON_GetObjectItemCaseSensitive (j, "NeutronError")))
      m = it;
  }
  if (m)
    flatten_text (m->valuestring, strlen (m->valuestring), msg, msgsz);
  else if (!j && r->body)
    flatten_text (r->body, r->len, msg, msgsz);
  cJSON_Delete (j);
  strip_status_titles (msg, r->status);
  if (strlen (msg) > 300)
    strcpy (msg + 297, "...");
}

/* ERR = "cinder: <message> (HTTP 404)". */
static int
http_error (enum ferry_os_service s, const char *method, const char *url,
            const struct reply *r, struct ferry_err *err)
{
  char msg[1024];

  service_message (r, msg, sizeof msg);
  if (!msg[0])
    return ferry_err_set (err, 0, "%s: %s %s failed (HTTP %ld)",
                          ferry_os_service_name (s), method, url, r->status);
  return ferry_err_set (err, 0, "%s: %s (HTTP %ld)", ferry_os_service_name (s),
                        msg, r->status);
}

/* ---- retries ---- */

/* A 409 that says the object is busy: worth another try. */
static bool
busy_conflict (const struct reply *r)
{
  char msg[1024];

  service_message (r, msg, sizeof msg);
  return strcasestr (msg, "in transition") || strcasestr (msg, "is busy") ||
         strcasestr (msg, "task_state");
}

/* Transport failures worth another try. */
static bool
transient_curl (CURLcode rc)
{
  switch (rc) {
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_CONNECT:
  case CURLE_OPERATION_TIMEDOUT:
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_PARTIAL_FILE:
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
    return true;
  default:
    return false;
  }
}

/* The wait before retry number N (0-based): base * 2^N capped at max, with
 * "equal jitter" (half fixed, half random) so parallel workers spread. */
static double
backoff (const struct ferry_os_opts *o, unsigned n)
{
  double w = o->backoff_base * pow (2, n < 30 ? n : 30);
  unsigned seed = (unsigned) (now_mono () * 1e6) ^ (unsigned) pthread_self ();

  if (w > o->backoff_max)
    w = o->backoff_max;
  return w / 2 + w / 2 * ((double) rand_r (&seed) / RAND_MAX);
}

/* The request with retries, no auth logic: returns 0 with R holding the
 * last reply (any status), or -1 with ERR set (transport failure after the
 * retries, or an unbuildable request).  RETRY_409 lets busy-409s retry. */
static int
send_retrying (struct ferry_os *os, enum ferry_os_service s, const char *method,
               const char *url, const char *body, const char *token,
               unsigned flags, struct reply *r, struct ferry_err *err)
{
  unsigned max = (flags & FERRY_OS_NO_RETRY) ? 0 : os->opts.retries;

  for (unsigned n = 0;; n++) {
    double wait;
    if (exchange (os, s, method, url, body, NULL, token, flags, r, err) < 0)
      return -1;
    if (r->rc == CURLE_OK && (r->status < 500 || r->status == 501) &&
        r->status != 429 &&
        !(r->status == 409 && !(flags & FERRY_OS_OK_409) && busy_conflict (r)))
      return 0;
    if (r->rc != CURLE_OK && !transient_curl (r->rc))
      break;
    if (n >= max)
      break;
    wait = backoff (&os->opts, n);
    if (r->rc == CURLE_OK && r->retry_after >= 0)
      wait = r->retry_after;
    if (r->rc == CURLE_OK)
      ferry_debug ("%s: HTTP %ld, retry %u/%u in %.1f s",
                   ferry_os_service_name (s), r->status, n + 1, max, wait);
    else
      ferry_debug ("%s: %s, retry %u/%u in %.1f s", ferry_os_service_name (s),
                   r->errbuf, n + 1, max, wait);
    sleep_seconds (wait);
  }
  if (r->rc == CURLE_OK)
    return 0; /* the caller reports the HTTP status */
  if (r->too_big)
    return ferry_err_set (err, 0, "%s: %s %s: reply larger than %u MiB",
                          ferry_os_service_name (s), method, url,
                          MAX_REPLY >> 20);
  if (r->rc == CURLE_PARTIAL_FILE)
    return ferry_err_set (err, 0, "%s: %s %s: reply cut short (%s)",
                          ferry_os_service_name (s), method, url, r->errbuf);
  return ferry_err_set (err, 0, "%s: %s %s: %s", ferry_os_service_name (s),
                        method, url, r->errbuf);
}

/* ---- Keystone ---- */

/* {"name"|"id": ..., } for a domain; NULL when neither is set (Keystone
 * then needs the ids, so "default" is used as openstacksdk's default). */
static cJSON *
domain_json (const char *name, const char *id)
{
  cJSON *d = cJSON_CreateObject ();

  if (!d)
    return NULL;
  if (id)
    cJSON_AddStringToObject (d, "id", id);
  else if (name)
    cJSON_AddStringToObject (d, "name", name);
  else
    cJSON_AddStringToObject (d, "id", "default");
  return d;
}

/* The {"user": ...} part of a password or app-credential identity. */
static cJSON *
user_json (const struct ferry_os_cloud *c)
{
  cJSON *u = cJSON_CreateObject ();

  if (!u)
    return NULL;
  if (c->user_id)
    cJSON_AddStringToObject (u, "id", c->user_id);
  else {
    cJSON_AddStringToObject (u, "name", c->username);
    cJSON_AddItemToObject (
        u, "domain", domain_json (c->user_domain_name, c->user_domain_id));
  }
  return u;
}

/* The POST /auth/tokens body as text; a secret, wiped by the caller. */
static char *
auth_body (const struct ferry_os_cloud *c)
{
  cJSON *root = cJSON_CreateObject ();
  cJSON *auth = cJSON_AddObjectToObject (root, "auth");
  cJSON *id = cJSON_AddObjectToObject (auth, "identity");
  cJSON *methods = cJSON_AddArrayToObject (id, "methods");
  char *text;

  if (!root || !auth || !id || !methods) {
    cJSON_Delete (root);
    return NULL;
  }
  if (strcmp (c->auth_type, "v3applicationcredential") == 0) {
    cJSON *ac = cJSON_AddObjectToObject (id, "application_credential");
    cJSON_AddItemToArray (methods,
                          cJSON_CreateString ("application_credential"));
    if (c->app_cred_id)
      cJSON_AddStringToObject (ac, "id", c->app_cred_id);
    else {
      cJSON_AddStringToObject (ac, "name", c->app_cred_name);
      cJSON_AddItemToObject (ac, "user", user_json (c));
    }
    cJSON_AddStringToObject (ac, "secret", c->app_cred_secret);
  } else {
    cJSON *pw = cJSON_AddObjectToObject (id, "password");
    cJSON *user = user_json (c);
    cJSON *scope = cJSON_AddObjectToObject (auth, "scope");
    cJSON *proj = cJSON_AddObjectToObject (scope, "project");
    cJSON_AddItemToArray (methods, cJSON_CreateString ("password"));
    if (user)
      cJSON_AddStringToObject (user, "password", c->password);
    cJSON_AddItemToObject (pw, "user", user);
    if (c->project_id)
      cJSON_AddStringToObject (proj, "id", c->project_id);
    else {
      cJSON_AddStringToObject (proj, "name", c->project_name);
      cJSON_AddItemToObject (
          proj, "domain",
          domain_json (c->project_domain_name, c->project_domain_id));
    }
  }
  text = cJSON_PrintUnformatted (root);
  /* wipe the copies of the secret inside the tree */
  {
    cJSON *s = cJSON_GetObjectItem (id, "password");
    s = s ? cJSON_GetObjectItem (cJSON_GetObjectItem (s, "user"), "password")
          : cJSON_GetObjectItem (
                cJSON_GetObjectItem (id, "application_credential"), "secret");
    if (cJSON_IsString (s))
      explicit_bzero (s->valuestring, strlen (s->valuestring));
  }
  cJSON_Delete (root);
  return text;
}

/* "2026-12-05T03:00:00.000000Z" as a time_t; 0 if unreadable. */
static time_t
parse_expires (const char *s)
{
  struct tm tm = {0};
  const char *p = strptime (s, "%Y-%m-%dT%H:%M:%S", &tm);

  if (!p)
    return 0;
  return timegm (&tm);
}

/* The URL of one of the catalog's SERVICE endpoints matching the cloud's
 * interface and region; NULL if none. */
static const char *
catalog_url (const struct ferry_os_cloud *c, const cJSON *catalog,
             enum ferry_os_service s)
{
  const cJSON *svc, *ep;

  for (size_t t = 0; service_types[s][t]; t++) {
    cJSON_ArrayForEach (svc, catalog)
    {
      const cJSON *type = cJSON_GetObjectItemCaseSensitive (svc, "type");
      if (!cJSON_IsString (type) ||
          strcmp (type->valuestring, service_types[s][t]) != 0)
        continue;
      cJSON_ArrayForEach (ep,
                          cJSON_GetObjectItemCaseSensitive (svc, "endpoints"))
      {
        const cJSON *i = cJSON_GetObjectItemCaseSensitive (ep, "interface");
        const cJSON *r = cJSON_GetObjectItemCaseSensitive (ep, "region_id");
        const cJSON *r2 = cJSON_GetObjectItemCaseSensitive (ep, "region");
        const cJSON *u = cJSON_GetObjectItemCaseSensitive (ep, "url");
        if (!cJSON_IsString (i) || !cJSON_IsString (u) ||
            strcmp (i->valuestring, c->interface) != 0)
          continue;
        if (c->region_name &&
            !(cJSON_IsString (r) &&
              strcmp (r->valuestring, c->region_name) == 0) &&
            !(cJSON_IsString (r2) &&
              strcmp (r2->valuestring, c->region_name) == 0))
          continue;
        return u->valuestring;
      }
    }
  }
  return NULL;
}

/* Authenticate: a new token (AUTH_LOCK held by the caller), and on the
 * first success the project id and endpoints. */
static int
authenticate_locked (struct ferry_os *os, struct ferry_err *err)
{
  CLEANUP_FREE char *url = NULL;
  char *body;
  struct reply r = {0};
  cJSON *j = NULL;
  const cJSON *tok, *v;
  int ret = -1;

  if (asprintf (&url, "%s/auth/tokens", os->cloud.auth_url) < 0) {
    url = NULL;
    return ferry_err_set (err, errno, "cannot allocate memory");
  }
  body = auth_body (&os->cloud);
  if (!body)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  ret = send_retrying (os, FERRY_OS_IDENTITY, "POST", url, body, NULL, 0, &r,
                       err);
  explicit_bzero (body, strlen (body));
  free (body);
  if (ret < 0)
    goto out;
  ret = -1;
  if (r.status != 201 && r.status != 200) {
    http_error (FERRY_OS_IDENTITY, "POST", url, &r, err);
    goto out;
  }
  if (!r.subject_token || !*r.subject_token) {
    ferry_err_set (err, 0, "keystone: no X-Subject-Token in the reply to %s",
                   url);
    goto out;
  }
  j = r.body ? cJSON_ParseWithLength (r.body, r.len) : NULL;
  tok = cJSON_GetObjectItemCaseSensitive (j, "token");
  if (!cJSON_IsObject (tok)) {
    ferry_err_set (err, 0, "keystone: malformed token reply from %s", url);
    goto out;
  }
  v = cJSON_GetObjectItemCaseSensitive (tok, "expires_at");
  os->expires = cJSON_IsString (v) ? parse_expires (v->valuestring) : 0;
  if (!os->authed) {
    const cJSON *catalog = cJSON_GetObjectItemCaseSensitive (tok, "catalog");
    v = cJSON_GetObjectItemCaseSensitive (
        cJSON_GetObjectItemCaseSensitive (tok, "project"), "id");
    if (!cJSON_IsString (v)) {
      ferry_err_set (err, 0,
                     "keystone: the token from %s is not scoped to a project",
                     url);
      goto out;
    }
    if (!cJSON_IsArray (catalog)) {
      ferry_err_set (err, 0,
                     "keystone: no service catalog in the token from %s", url);
      goto out;
    }
    os->project_id = strdup (v->valuestring);
    for (size_t s = 0; s < FERRY_OS_SERVICE_LAST; s++) {
      /* identity paths are relative to auth_url, which always ends in
       * /v3 (catalogs differ: with or without the version) */
      const char *u = s == FERRY_OS_IDENTITY
                          ? os->cloud.auth_url
                          : catalog_url (&os->cloud, catalog, s);
      size_t n;
      if (!u)
        continue;
      os->endpoints[s] = strdup (u);
      if (!os->endpoints[s])
        break;
      n = strlen (os->endpoints[s]);
      while (n > 0 && os->endpoints[s][n - 1] == '/')
        os->endpoints[s][--n] = '\0';
    }
    if (!os->project_id) {
      ferry_err_set (err, ENOMEM, "cannot allocate memory");
      goto out;
    }
    os->authed = true;
  }
  wipe_free (os->token);
  os->token = r.subject_token;
  r.subject_token = NULL;
  os->auth_gen++;
  ret = 0;
out:
  cJSON_Delete (j);
  reply_reset (&r);
  return ret;
}

/* A copy of a valid token into *RET and its generation into *GEN;
 * authenticates when there is none, when it expires within TOKEN_MARGIN
 * seconds, or when REFUSED (a 401) and the token of generation
 * REFUSED_GEN is still the current one (else another thread renewed it
 * already). */
static int
get_token (struct ferry_os *os, bool refused, unsigned refused_gen, char **ret,
           unsigned *gen, struct ferry_err *err)
{
  bool renewed;
  int r = 0;

  pthread_mutex_lock (&os->auth_lock);
  renewed = refused && os->auth_gen != refused_gen;
  if (!os->token || (refused && !renewed) ||
      (!renewed && os->expires && os->expires - time (NULL) < TOKEN_MARGIN))
    r = authenticate_locked (os, err);
  if (r == 0) {
    *ret = strdup (os->token);
    *gen = os->auth_gen;
    if (!*ret)
      r = ferry_err_set (err, errno, "cannot allocate memory");
  }
  pthread_mutex_unlock (&os->auth_lock);
  return r;
}

/* See openstack.h. */
const char *
ferry_os_project_id (struct ferry_os *os, struct ferry_err *err)
{
  int r = 0;

  pthread_mutex_lock (&os->auth_lock);
  if (!os->authed)
    r = authenticate_locked (os, err);
  pthread_mutex_unlock (&os->auth_lock);
  return r < 0 ? NULL : os->project_id;
}

/* See openstack.h. */
const char *
ferry_os_endpoint (struct ferry_os *os, enum ferry_os_service s,
                   struct ferry_err *err)
{
  if (s >= FERRY_OS_SERVICE_LAST) {
    ferry_err_set (err, EINVAL, "unknown openstack service %d", (int) s);
    return NULL;
  }
  if (!ferry_os_project_id (os, err))
    return NULL;
  if (!os->endpoints[s]) {
    ferry_err_set (err, 0,
                   "%s: no '%s' endpoint with interface '%s'%s%s%s in the "
                   "service catalog",
                   ferry_os_service_name (s), service_types[s][0],
                   os->cloud.interface,
                   os->cloud.region_name ? " in region '" : "",
                   os->cloud.region_name ? os->cloud.region_name : "",
                   os->cloud.region_name ? "'" : "");
    return NULL;
  }
  return os->endpoints[s];
}

/* ---- requests ---- */

/* PATH joined to the endpoint of S (or PATH itself if absolute). */
static char *
make_url (struct ferry_os *os, enum ferry_os_service s, const char *path,
          struct ferry_err *err)
{
  const char *ep;
  char *url;

  if (strncmp (path, "http://", 7) == 0 || strncmp (path, "https://", 8) == 0)
    url = strdup (path);
  else {
    ep = ferry_os_endpoint (os, s, err);
    if (!ep)
      return NULL;
    if (asprintf (&url, "%s%s%s", ep, path[0] == '/' ? "" : "/", path) < 0)
      url = NULL;
  }
  if (!url)
    ferry_err_set (err, ENOMEM, "cannot allocate memory");
  return url;
}

/* See openstack.h. */
int
ferry_os_request (struct ferry_os *os, enum ferry_os_service s,
                  const char *method, const char *path, const cJSON *body,
                  unsigned flags, cJSON **ret, struct ferry_err *err)
{
  CLEANUP_FREE char *url = NULL, *text = NULL;
  struct reply r = {0};
  char *token = NULL;
  unsigned gen = 0;
  bool reauthed = false;
  int status = -1;

  if (s >= FERRY_OS_SERVICE_LAST)
    return ferry_err_set (err, EINVAL, "unknown openstack service %d", (int) s);
  url = make_url (os, s, path, err);
  if (!url)
    return -1;
  if (body && !(text = cJSON_PrintUnformatted (body)))
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  for (;;) {
    if (get_token (os, reauthed, gen, &token, &gen, err) < 0)
      goto out;
    if (send_retrying (os, s, method, url, text, token, flags, &r, err) < 0)
      goto out;
    wipe_free (token);
    token = NULL;
    if (r.status != 401 || reauthed)
      break;
    ferry_debug ("%s: HTTP 401, authenticating again",
                 ferry_os_service_name (s));
    reauthed = true;
  }
  if (!(r.status >= 200 && r.status < 300) &&
      !(r.status == 404 && (flags & FERRY_OS_OK_404)) &&
      !(r.status == 409 && (flags & FERRY_OS_OK_409))) {
    http_error (s, method, url, &r, err);
    goto out;
  }
  if (r.status >= 200 && r.status < 300 && r.len > 0 &&
      strcmp (method, "HEAD") != 0) {
    cJSON *j = cJSON_ParseWithLength (r.body, r.len);
    if (!j) {
      ferry_err_set (err, 0,
                     "%s: %s %s: malformed JSON in the reply (HTTP %ld)",
                     ferry_os_service_name (s), method, url, r.status);
      goto out;
    }
    if (ret)
      *ret = j;
    else
      cJSON_Delete (j);
  } else if (ret)
    *ret = NULL;
  status = (int) r.status;
out:
  wipe_free (token);
  reply_reset (&r);
  return status;
}

/* The next page's path after a reply J of ferry_os_list: the "next" link
 * of "<key>_links" (its query on PATH's own path: Nova's and Cinder's
 * absolute links may name another host or scheme behind a proxy) or
 * Glance's "next" (relative to the endpoint root).  NULL when none;
 * *BAD on a malformed link. */
static char *
next_page (const cJSON *j, const char *path, const char *key, bool *bad)
{
  char links_key[128];
  const cJSON *links, *l, *n;
  const char *href = NULL, *q;
  char *r = NULL;

  *bad = false;
  n = cJSON_GetObjectItemCaseSensitive (j, "next");
  if (cJSON_IsString (n) && n->valuestring[0]) {
    if (n->valuestring[0] != '/') {
      *bad = true;
      return NULL;
    }
    return strdup (n->valuestring);
  }
  snprintf (links_key, sizeof links_key, "%s_links", key);
  links = cJSON_GetObjectItemCaseSensitive (j, links_key);
  cJSON_ArrayForEach (l, links)
  {
    const cJSON *rel = cJSON_GetObjectItemCaseSensitive (l, "rel");
    const cJSON *h = cJSON_GetObjectItemCaseSensitive (l, "href");
    if (cJSON_IsString (rel) && strcmp (rel->valuestring, "next") == 0 &&
        cJSON_IsString (h))
      href = h->valuestring;
  }
  if (!href)
    return NULL;
  q = strchr (href, '?');
  if (!q || !q[1]) {
    *bad = true;
    return NULL;
  }
  if (asprintf (&r, "%.*s%s", (int) strcspn (path, "?"), path, q) < 0)
    r = NULL;
  return r;
}

/* See openstack.h. */
int
ferry_os_list (struct ferry_os *os, enum ferry_os_service s, const char *path,
               const char *key, cJSON **ret, struct ferry_err *err)
{
  cJSON *all = cJSON_CreateArray ();
  char *cur = strdup (path);
  unsigned pages = 0;

  if (!all || !cur)
    goto nomem;
  while (cur) {
    cJSON *j = NULL, *items, *it;
    char *next;
    bool bad;

    if (++pages > 10000) {
      ferry_err_set (err, 0, "%s: GET %s: more than 10000 pages",
                     ferry_os_service_name (s), path);
      goto fail;
    }
    if (ferry_os_request (os, s, "GET", cur, NULL, 0, &j, err) < 0)
      goto fail;
    items = cJSON_DetachItemFromObjectCaseSensitive (j, key);
    if (!cJSON_IsArray (items)) {
      ferry_err_set (err, 0, "%s: GET %s: the reply has no '%s' list",
                     ferry_os_service_name (s), cur, key);
      cJSON_Delete (items);
      cJSON_Delete (j);
      goto fail;
    }
    while ((it = cJSON_DetachItemFromArray (items, 0)))
      cJSON_AddItemToArray (all, it);
    cJSON_Delete (items);
    next = next_page (j, cur, key, &bad);
    cJSON_Delete (j);
    if (bad) {
      ferry_err_set (err, 0, "%s: GET %s: malformed next-page link",
                     ferry_os_service_name (s), cur);
      goto fail;
    }
    /* a server that links a page to itself would loop forever */
    if (next && strcmp (next, cur) == 0) {
      ferry_err_set (err, 0, "%s: GET %s: the next page is the same page",
                     ferry_os_service_name (s), cur);
      free (next);
      goto fail;
    }
    free (cur);
    cur = next;
  }
  *ret = all;
  return 0;
nomem:
  ferry_err_set (err, ENOMEM, "cannot allocate memory");
fail:
  free (cur);
  cJSON_Delete (all);
  return -1;
}

/* Status string S in the NULL-terminated LIST (case-insensitive)? */
static bool
in_list (const char *s, const char *const *list)
{
  for (; list && *list; list++)
    if (strcasecmp (s, *list) == 0)
      return true;
  return false;
}

/* The failure message of object O: Nova's fault.message, else a
 * *_message / "message" string; "" when none. */
static const char *
object_fault (const cJSON *o)
{
  static const char *const keys[] = {"message", "error_message",
                                     "migration_status"};
  const cJSON *f = cJSON_GetObjectItemCaseSensitive (
      cJSON_GetObjectItemCaseSensitive (o, "fault"), "message");

  if (cJSON_IsString (f))
    return f->valuestring;
  for (size_t i = 0; i < FERRY_ARRAY_SIZE (keys) - 1; i++) {
    f = cJSON_GetObjectItemCaseSensitive (o, keys[i]);
    if (cJSON_IsString (f))
      return f->valuestring;
  }
  return "";
}

/* The poll-interval multiplier: FERRY_TEST_OS_POLL_SCALE (a test hook;
 * 0.01 makes the 1..10 s waits 10..100 ms), else 1. */
static double
poll_scale (void)
{
  const char *v = getenv ("FERRY_TEST_OS_POLL_SCALE");
  char *end;
  double d;

  if (!v || !*v)
    return 1;
  d = strtod (v, &end);
  return (*end || !(d > 0) || d > 1) ? 1 : d;
}

/* See openstack.h. */
int
ferry_os_wait (struct ferry_os *os, enum ferry_os_service s, const char *path,
               const char *key, const char *const *want,
               const char *const *fail, double deadline, cJSON **ret,
               struct ferry_err *err)
{
  double start = now_mono (), scale = poll_scale (), step = 1;
  char last[64] = "";

  for (;;) {
    cJSON *j = NULL, *o;
    const cJSON *st;
    double left, w;
    int code =
        ferry_os_request (os, s, "GET", path, NULL, FERRY_OS_OK_404, &j, err);
    if (code < 0)
      return -1;
    if (code == 404) {
      cJSON_Delete (j);
      if (in_list ("DELETED", want)) {
        if (ret)
          *ret = NULL;
        return 0;
      }
      return ferry_err_set (err, 0, "%s: '%s' not found (HTTP 404)",
                            ferry_os_service_name (s), path);
    }
    /* KEY NULL: the reply is the object itself (Glance v2) */
    o = key ? cJSON_GetObjectItemCaseSensitive (j, key) : j;
    st = cJSON_GetObjectItemCaseSensitive (o, "status");
    if (!cJSON_IsString (st)) {
      cJSON_Delete (j);
      return ferry_err_set (err, 0, "%s: GET %s: the reply has no '%s%sstatus'",
                            ferry_os_service_name (s), path, key ? key : "",
                            key ? "." : "");
    }
    snprintf (last, sizeof last, "%s", st->valuestring);
    if (in_list (st->valuestring, want)) {
      if (ret)
        *ret = key ? cJSON_DetachItemViaPointer (j, o) : j;
      if (key || !ret)
        cJSON_Delete (j);
      return 0;
    }
    if (in_list (st->valuestring, fail)) {
      const char *f = object_fault (o);
      ferry_err_set (err, 0, "%s: '%s' went to status '%s'%s%s",
                     ferry_os_service_name (s), path, st->valuestring,
                     *f ? ": " : "", f);
      cJSON_Delete (j);
      return -1;
    }
    cJSON_Delete (j);
    left = deadline - (now_mono () - start);
    if (left <= 0)
      return ferry_err_set (err, 0,
                            "%s: '%s' still in status '%s' after %.0f s",
                            ferry_os_service_name (s), path, last, deadline);
    w = step * scale;
    if (w > left)
      w = left;
    sleep_seconds (w);
    pthread_mutex_lock (&os->stats_lock);
    os->stats.wait_seconds += w;
    pthread_mutex_unlock (&os->stats_lock);
    step = step * 2 > 10 ? 10 : step * 2;
  }
}

/* See openstack.h: one PUT streamed from READ, sent again from offset 0
 * only after a 401 (the reader reads at an offset, so it can). */
int
ferry_os_upload (struct ferry_os *os, enum ferry_os_service s, const char *path,
                 uint64_t size, ferry_os_read_fn read, void *opaque,
                 struct ferry_err *err)
{
  CLEANUP_FREE char *url = NULL;
  struct upload up = {read, opaque, size, 0, {0}, false};
  struct reply r = {0};
  char *token = NULL;
  unsigned gen = 0;
  bool reauthed = false;
  int status = -1;

  if (s >= FERRY_OS_SERVICE_LAST)
    return ferry_err_set (err, EINVAL, "unknown openstack service %d", (int) s);
  url = make_url (os, s, path, err);
  if (!url)
    return -1;
  for (;;) {
    if (get_token (os, reauthed, gen, &token, &gen, err) < 0)
      goto out;
    if (exchange (os, s, "PUT", url, NULL, &up, token, 0, &r, err) < 0)
      goto out;
    wipe_free (token);
    token = NULL;
    if (up.failed) {
      ferry_err_set (err, up.err.errnum, "%s: PUT %s: %s",
                     ferry_os_service_name (s), url, up.err.msg);
      goto out;
    }
    if (r.rc != CURLE_OK) {
      ferry_err_set (err, 0, "%s: PUT %s: %s", ferry_os_service_name (s), url,
                     r.errbuf);
      goto out;
    }
    if (r.status != 401 || reauthed)
      break;
    reauthed = true;
  }
  if (!(r.status >= 200 && r.status < 300)) {
    http_error (s, "PUT", url, &r, err);
    goto out;
  }
  status = (int) r.status;
out:
  wipe_free (token);
  reply_reset (&r);
  return status;
}
