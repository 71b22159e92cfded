/* The OpenStack modules' shared parts: sessions per target and thread,
 * names, ferry's marks on objects, finding objects again. */
#include "modules/openstack.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"

struct os_entry {
  char *cloud;         /* clouds.yaml entry */
  pthread_t thread;    /* the thread using it */
  struct ferry_os *os; /* the session */
};

struct ferry_os_sessions {
  pthread_mutex_t lock;
  struct ferry_os_cloud **clouds; /* loaded once per name */
  size_t n_clouds;
  struct os_entry *e;
  size_t n;
};

struct ferry_os_sessions *
ferry_os_sessions_new (void)
{
  struct ferry_os_sessions *s = calloc (1, sizeof *s);

  if (s)
    pthread_mutex_init (&s->lock, NULL);
  return s;
}

void
ferry_os_sessions_free (struct ferry_os_sessions *s)
{
  size_t i;

  if (s == NULL)
    return;
  for (i = 0; i < s->n; i++) {
    ferry_os_close (s->e[i].os);
    free (s->e[i].cloud);
  }
  for (i = 0; i < s->n_clouds; i++)
    ferry_os_cloud_free (s->clouds[i]);
  free (s->clouds);
  free (s->e);
  pthread_mutex_destroy (&s->lock);
  free (s);
}

void
ferry_os_sessions_stats (struct ferry_os_sessions *s,
                         struct ferry_os_stats *ret)
{
  struct ferry_os_stats one;
  size_t i;

  memset (ret, 0, sizeof *ret);
  if (s == NULL)
    return;
  pthread_mutex_lock (&s->lock);
  for (i = 0; i < s->n; i++) {
    ferry_os_stats (s->e[i].os, &one);
    ret->requests += one.requests;
    ret->http_seconds += one.http_seconds;
    ret->wait_seconds += one.wait_seconds;
  }
  pthread_mutex_unlock (&s->lock);
}

/* The loaded cloud NAME (lock held). */
static struct ferry_os_cloud *
cloud_get (struct ferry_os_sessions *s, const char *name, struct ferry_err *err)
{
  struct ferry_os_cloud *c = NULL, **nc;
  size_t i;

  for (i = 0; i < s->n_clouds; i++)
    if (strcmp (s->clouds[i]->name, name) == 0)
      return s->clouds[i];
  if (ferry_os_cloud_load (name, &c, err) < 0)
    return NULL;
  nc = realloc (s->clouds, (s->n_clouds + 1) * sizeof *nc);
  if (nc == NULL) {
    ferry_os_cloud_free (c);
    ferry_err_set (err, ENOMEM, "cannot allocate memory");
    return NULL;
  }
  s->clouds = nc;
  s->clouds[s->n_clouds++] = c;
  return c;
}

struct ferry_os *
ferry_osm_session (struct ferry_ctx *ctx, const struct ferry_plan_target *t,
                   struct ferry_err *err)
{
  struct ferry_os_sessions *s = ctx->os;
  struct ferry_os_cloud *c;
  struct ferry_os *os = NULL;
  struct os_entry *ne;
  pthread_t self = pthread_self ();
  size_t i;

  if (s == NULL) {
    ferry_err_set (err, 0, "internal error: no openstack sessions in context");
    return NULL;
  }
  if (t == NULL || t->cloud == NULL) {
    ferry_err_set (err, 0, "target '%s' names no cloud",
                   t ? t->name : "(none)");
    return NULL;
  }
  pthread_mutex_lock (&s->lock);
  for (i = 0; i < s->n; i++)
    if (pthread_equal (s->e[i].thread, self) &&
        strcmp (s->e[i].cloud, t->cloud) == 0) {
      os = s->e[i].os;
      goto out;
    }
  c = cloud_get (s, t->cloud, err);
  if (c == NULL)
    goto out;
  ne = realloc (s->e, (s->n + 1) * sizeof *ne);
  if (ne == NULL) {
    ferry_err_set (err, ENOMEM, "cannot allocate memory");
    goto out;
  }
  s->e = ne;
  if (ferry_os_open (c, NULL, &os, err) < 0) {
    os = NULL;
    goto out;
  }
  s->e[s->n].cloud = strdup (t->cloud);
  s->e[s->n].thread = self;
  s->e[s->n].os = os;
  if (s->e[s->n].cloud == NULL) {
    ferry_os_close (os);
    os = NULL;
    ferry_err_set (err, ENOMEM, "cannot allocate memory");
    goto out;
  }
  s->n++;
out:
  pthread_mutex_unlock (&s->lock);
  return os;
}

/* asprintf or NULL. */
static char *xasprintf (const char *fmt, ...)
    __attribute__ ((format (printf, 1, 2)));
static char *
xasprintf (const char *fmt, ...)
{
  va_list ap;
  char *s = NULL;
  int r;

  va_start (ap, fmt);
  r = vasprintf (&s, fmt, ap);
  va_end (ap);
  return r < 0 ? NULL : s;
}

char *
ferry_osm_volume_name (const struct ferry_vm *vm, size_t disk)
{
  return xasprintf ("%s-disk%zu", vm->name, disk);
}

char *
ferry_osm_port_name (const struct ferry_vm *vm, size_t port)
{
  return xasprintf ("%s-port%zu", vm->name, port);
}

char *
ferry_osm_image_name (const struct ferry_plan *plan, const struct ferry_vm *vm)
{
  if (vm->image_name)
    return strdup (vm->image_name);
  return xasprintf ("%s-%s", plan->name, vm->name);
}

char *
ferry_osm_manage_image (const struct ferry_plan *plan,
                        const struct ferry_vm *vm, size_t disk)
{
  return xasprintf ("ferry-%s-%s-disk%zu", plan->name, vm->name, disk);
}

char *
ferry_osm_port_mark (const struct ferry_plan *plan, const struct ferry_vm *vm,
                     size_t port)
{
  return xasprintf ("ferry:plan=%s ferry:vm=%s ferry:port=%zu", plan->name,
                    vm->name, port);
}

cJSON *
ferry_osm_metadata (const struct ferry_plan *plan, const struct ferry_vm *vm,
                    const char *key, const char *val)
{
  cJSON *m = cJSON_CreateObject ();

  if (m == NULL || !cJSON_AddStringToObject (m, "ferry:plan", plan->name) ||
      !cJSON_AddStringToObject (m, "ferry:vm", vm->name) ||
      (key && !cJSON_AddStringToObject (m, key, val))) {
    cJSON_Delete (m);
    return NULL;
  }
  return m;
}

/* See openstack.h: vsnprintf at the end of what BUF holds. */
void
ferry_osm_appendf (char *buf, size_t len, const char *fmt, ...)
{
  size_t n = strnlen (buf, len);
  va_list ap;

  if (n + 1 >= len)
    return;
  va_start (ap, fmt);
  vsnprintf (buf + n, len - n, fmt, ap);
  va_end (ap);
}

const char *
ferry_osm_str (const cJSON *obj, const char *name)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive (obj, name);

  return cJSON_IsString (v) ? v->valuestring : NULL;
}

/* Does member MEMBER (an object) of OBJ have KEY = VAL? */
static bool
has_kv (const cJSON *obj, const char *member, const char *key, const char *val)
{
  const cJSON *m =
      member ? cJSON_GetObjectItemCaseSensitive (obj, member) : obj;
  const char *s = ferry_osm_str (m, key);

  return s && strcmp (s, val) == 0;
}

/* The one item of LIST that MATCH accepts: 1 (*RET detached), 0 none,
 * -1 two or more (an error naming WHAT and both ids). */
static int
pick_one (cJSON *list, bool (*match) (const cJSON *, const void *),
          const void *arg, const char *what, cJSON **ret, struct ferry_err *err)
{
  cJSON *it, *found = NULL;
  const char *status;
  int i = 0, at = -1;

  cJSON_ArrayForEach (it, list)
  {
    status = ferry_osm_str (it, "status");
    if (status && (strcasecmp (status, "deleting") == 0 ||
                   strcasecmp (status, "error_deleting") == 0 ||
                   strcasecmp (status, "deleted") == 0 ||
                   strcasecmp (status, "soft_deleted") == 0 ||
                   strcasecmp (status, "pending_delete") == 0)) {
      i++;
      continue;
    }
    if (match (it, arg)) {
      if (found)
        return ferry_err_set (err, EEXIST,
                              "two %s carry ferry's mark for this plan: '%s' "
                              "and '%s' (remove one, e.g. with ferry destroy)",
                              what, ferry_osm_str (found, "id"),
                              ferry_osm_str (it, "id"));
      found = it;
      at = i;
    }
    i++;
  }
  if (found == NULL)
    return 0;
  *ret = cJSON_DetachItemFromArray (list, at);
  return 1;
}

struct mark {
  const struct ferry_plan *plan;
  const struct ferry_vm *vm;
  const char *key; /* extra metadata key, or NULL */
  const char *val;
  const char *member; /* "metadata", or NULL for top-level properties */
  const char *plan_key, *vm_key;
};

static bool
match_mark (const cJSON *o, const void *arg)
{
  const struct mark *m = arg;

  return has_kv (o, m->member, m->plan_key, m->plan->name) &&
         has_kv (o, m->member, m->vm_key, m->vm->name) &&
         (m->key == NULL || has_kv (o, m->member, m->key, m->val));
}

/* GET PATH (a list of KEY), then pick_one with M. */
static int
find_marked (struct ferry_os *os, enum ferry_os_service svc, const char *path,
             const char *key, const struct mark *m, const char *what,
             cJSON **ret, struct ferry_err *err)
{
  cJSON *list = NULL;
  int r;

  *ret = NULL;
  if (ferry_os_list (os, svc, path, key, &list, err) < 0)
    return -1;
  r = pick_one (list, match_mark, m, what, ret, err);
  cJSON_Delete (list);
  return r;
}

int
ferry_osm_find_volume (struct ferry_os *os, const struct ferry_plan *plan,
                       const struct ferry_vm *vm, size_t disk, cJSON **ret,
                       struct ferry_err *err)
{
  CLEANUP_FREE char *name = ferry_osm_volume_name (vm, disk);
  CLEANUP_FREE char *q = NULL, *path = NULL;
  char d[32];
  struct mark m = {plan,       vm,           "ferry:disk", d,
                   "metadata", "ferry:plan", "ferry:vm"};

  snprintf (d, sizeof d, "%zu", disk);
  if (name == NULL || (q = ferry_os_escape (name)) == NULL ||
      (path = xasprintf ("/volumes/detail?name=%s", q)) == NULL)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  return find_marked (os, FERRY_OS_VOLUME, path, "volumes", &m, "volumes", ret,
                      err);
}

static bool
match_port (const cJSON *o, const void *arg)
{
  const char *want = arg, *desc = ferry_osm_str (o, "description");

  return desc && strcmp (desc, want) == 0;
}

int
ferry_osm_find_port (struct ferry_os *os, const struct ferry_plan *plan,
                     const struct ferry_vm *vm, size_t port, cJSON **ret,
                     struct ferry_err *err)
{
  CLEANUP_FREE char *name = ferry_osm_port_name (vm, port);
  CLEANUP_FREE char *mark = ferry_osm_port_mark (plan, vm, port);
  CLEANUP_FREE char *q = NULL, *path = NULL;
  cJSON *list = NULL;
  int r;

  *ret = NULL;
  if (name == NULL || mark == NULL || (q = ferry_os_escape (name)) == NULL ||
      (path = xasprintf ("/v2.0/ports?name=%s", q)) == NULL)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  if (ferry_os_list (os, FERRY_OS_NETWORK, path, "ports", &list, err) < 0)
    return -1;
  r = pick_one (list, match_port, mark, "ports", ret, err);
  cJSON_Delete (list);
  return r;
}

int
ferry_osm_find_server (struct ferry_os *os, const struct ferry_plan *plan,
                       const struct ferry_vm *vm, cJSON **ret,
                       struct ferry_err *err)
{
  struct mark m = {plan, vm, NULL, NULL, "metadata", "ferry:plan", "ferry:vm"};
  CLEANUP_FREE char *q = NULL, *path = NULL;
  char re[200];
  size_t i, j = 0;

  /* Nova's name filter is a regular expression: anchor and escape */
  re[j++] = '^';
  for (i = 0; vm->name[i] && j < sizeof re - 4; i++) {
    if (strchr (".^$*+?()[]{}|\\", vm->name[i]))
      re[j++] = '\\';
    re[j++] = vm->name[i];
  }
  re[j++] = '$';
  re[j] = '\0';
  if ((q = ferry_os_escape (re)) == NULL ||
      (path = xasprintf ("/servers/detail?name=%s", q)) == NULL)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  return find_marked (os, FERRY_OS_COMPUTE, path, "servers", &m, "servers", ret,
                      err);
}

int
ferry_osm_find_image (struct ferry_os *os, const struct ferry_plan *plan,
                      const struct ferry_vm *vm, cJSON **ret,
                      struct ferry_err *err)
{
  struct mark m = {plan, vm, NULL, NULL, NULL, "ferry_plan", "ferry_vm"};
  CLEANUP_FREE char *name = ferry_osm_image_name (plan, vm);
  CLEANUP_FREE char *q = NULL, *path = NULL;

  if (name == NULL || (q = ferry_os_escape (name)) == NULL ||
      (path = xasprintf ("/v2/images?name=%s", q)) == NULL)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  return find_marked (os, FERRY_OS_IMAGE, path, "images", &m, "images", ret,
                      err);
}

int
ferry_osm_rbd (const struct ferry_plan_target *t, const char *pool,
               const char *image, struct ferry_location *ret,
               struct ferry_err *err)
{
  struct ferry_rbd_location f = {0};

  f.conf = t->ceph.conf;
  f.user = t->ceph.user;
  f.pool = (char *) (pool ? pool : t->ceph.volumes_pool);
  f.image = (char *) image;
  return ferry_location_set_rbd (ret, &f, false, err);
}

uint64_t
ferry_osm_volume_gib (const struct ferry_disk_spec *spec, uint64_t vsize)
{
  uint64_t gib = (vsize + (1ull << 30) - 1) >> 30;

  if (spec->size_gb > gib)
    gib = spec->size_gb;
  return gib ? gib : 1;
}

double
ferry_osm_deadline (double dflt)
{
  const char *s = getenv ("FERRY_TEST_OS_DEADLINE");
  char *end;
  double d;

  if (s == NULL || *s == '\0')
    return dflt;
  d = strtod (s, &end);
  return *end == '\0' && d > 0 ? d : dflt;
}

/* The image properties of VM's boot volume (NULL when out of memory). */
static cJSON *
boot_properties (const struct ferry_vm *vm)
{
  cJSON *m = cJSON_CreateObject ();

  if (m == NULL || !cJSON_AddStringToObject (m, "hw_disk_bus", "virtio") ||
      !cJSON_AddStringToObject (m, "hw_vif_model", "virtio") ||
      (vm->os_type && !cJSON_AddStringToObject (m, "os_type", vm->os_type)) ||
      (vm->firmware && strcmp (vm->firmware, "uefi") == 0 &&
       !cJSON_AddStringToObject (m, "hw_firmware_type", "uefi")) ||
      (vm->machine_type &&
       !cJSON_AddStringToObject (m, "hw_machine_type", vm->machine_type))) {
    cJSON_Delete (m);
    return NULL;
  }
  return m;
}

int
ferry_osm_volume_make_bootable (struct ferry_os *os, const struct ferry_vm *vm,
                                const char *id, struct ferry_err *err)
{
  CLEANUP_FREE char *path = xasprintf ("/volumes/%s/action", id);
  cJSON *body = cJSON_CreateObject (), *a, *props = boot_properties (vm);
  int r = -1;

  if (path == NULL || body == NULL || props == NULL)
    goto oom;
  a = cJSON_AddObjectToObject (body, "os-set_bootable");
  if (a == NULL || !cJSON_AddTrueToObject (a, "bootable"))
    goto oom;
  if (ferry_os_request (os, FERRY_OS_VOLUME, "POST", path, body, 0, NULL, err) <
      0)
    goto out;
  cJSON_Delete (body);
  body = cJSON_CreateObject ();
  a = body ? cJSON_AddObjectToObject (body, "os-set_image_metadata") : NULL;
  if (a == NULL)
    goto oom;
  cJSON_AddItemToObject (a, "metadata", props);
  props = NULL;
  if (ferry_os_request (os, FERRY_OS_VOLUME, "POST", path, body, 0, NULL, err) <
      0)
    goto out;
  r = 0;
  goto out;
oom:
  ferry_err_set (err, ENOMEM, "cannot allocate memory");
out:
  cJSON_Delete (body);
  cJSON_Delete (props);
  return r;
}

bool
ferry_osm_volume_is_bootable (const cJSON *vol, const struct ferry_vm *vm)
{
  const char *b = ferry_osm_str (vol, "bootable");
  const cJSON *meta =
      cJSON_GetObjectItemCaseSensitive (vol, "volume_image_metadata");
  cJSON *want = boot_properties (vm), *it;
  bool ok = b && strcasecmp (b, "true") == 0 && want != NULL;

  cJSON_ArrayForEach (it, want)
  {
    if (!ok)
      break;
    ok = has_kv (meta, NULL, it->string, it->valuestring);
  }
  cJSON_Delete (want);
  return ok;
}

int
ferry_osm_volume_settle (struct ferry_os *os, const struct ferry_vm *vm,
                         size_t i, const char *id, double deadline,
                         struct ferry_err *err)
{
  static const char *const want[] = {"available", "in-use", NULL};
  static const char *const fail[] = {"error", "error_restoring",
                                     "error_extending", "error_managing", NULL};
  CLEANUP_FREE char *path = xasprintf ("/volumes/%s", id);
  cJSON *vol = NULL;
  int r = 0;

  if (path == NULL)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  if (ferry_os_wait (os, FERRY_OS_VOLUME, path, "volume", want, fail, deadline,
                     &vol, err) < 0)
    return -1;
  if (ferry_osm_boot_disk (vm, i) && !ferry_osm_volume_is_bootable (vol, vm))
    r = ferry_osm_volume_make_bootable (os, vm, id, err);
  cJSON_Delete (vol);
  return r;
}

bool
ferry_osm_boot_disk (const struct ferry_vm *vm, size_t i)
{
  return i == 0 && vm->boot_from == FERRY_BOOT_FROM_VOLUME;
}

/* Parse an IPv4 or IPv6 address into ADDR (16 bytes); its family, or -1. */
static int
parse_ip (const char *s, unsigned char addr[16])
{
  memset (addr, 0, 16);
  if (inet_pton (AF_INET, s, addr) == 1)
    return AF_INET;
  if (inet_pton (AF_INET6, s, addr) == 1)
    return AF_INET6;
  return -1;
}

/* See openstack.h: both parsed, compared as bytes. */
bool
ferry_osm_same_ip (const char *a, const char *b)
{
  unsigned char x[16], y[16];
  int fa = parse_ip (a, x);

  return fa >= 0 && fa == parse_ip (b, y) && memcmp (x, y, 16) == 0;
}

/* See openstack.h: the prefix's whole bytes, then its last bits.  CIDR
 * comes from Neutron: its length and prefix are checked, never trusted. */
bool
ferry_osm_cidr_contains (const char *cidr, const char *ip)
{
  unsigned char net[16], a[16];
  char base[64];
  const char *slash = strchr (cidr, '/');
  char *end;
  long bits;
  int fam, maxbits, i;

  if (slash == NULL || (size_t) (slash - cidr) >= sizeof base)
    return false;
  memcpy (base, cidr, (size_t) (slash - cidr));
  base[slash - cidr] = '\0';
  fam = parse_ip (base, net);
  if (fam < 0 || parse_ip (ip, a) != fam)
    return false;
  maxbits = fam == AF_INET ? 32 : 128;
  errno = 0;
  bits = strtol (slash + 1, &end, 10);
  if (errno || *end || end == slash + 1 || bits < 0 || bits > maxbits)
    return false;
  for (i = 0; i < bits / 8; i++)
    if (net[i] != a[i])
      return false;
  if (bits % 8) {
    unsigned char m = (unsigned char) (0xff << (8 - bits % 8));
    if ((net[i] & m) != (a[i] & m))
      return false;
  }
  return true;
}

/* See openstack.h: a kill -9 window for tests, by name. */
void
ferry_osm_test_pause (const char *point)
{
  const char *s = getenv ("FERRY_TEST_OS_PAUSE");

  if (s == NULL || strcmp (s, point) != 0)
    return;
  fprintf (stderr, "ferry: test pause at '%s'\n", point);
  fflush (stderr);
  for (;;)
    sleep (1);
}
