/* Node tree → struct ferry_plan: every key checked for spelling, type and
 * range, every problem reported with its line:col and key path. */
#include "plan/plan-int.h"

#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"

/* Key sets of each mapping, in the order the documentation lists them. */
static const char *const top_keys[] = {
    "apiVersion", "kind",     "metadata", "state", "sources",
    "targets",    "defaults", "flavors",  "vms",   NULL};
static const char *const metadata_keys[] = {"name", "description", NULL};
static const char *const state_keys[] = {"backend", "path", "pool", "object",
                                         "conf",    "user", NULL};
static const char *const source_keys[] = {"type", "path", "allow_dirs", "pool",
                                          "conf", "user", "uri",        NULL};
static const char *const target_keys[] = {"type",
                                          "path",
                                          "uri",
                                          "migration_uri",
                                          "pool",
                                          "cloud",
                                          "ceph",
                                          "networks",
                                          "volume_mode",
                                          "volume_host",
                                          "create_flavors",
                                          "availability_zone",
                                          NULL};
static const char *const ceph_keys[] = {"conf", "user", "volumes_pool",
                                        "images_pool", NULL};
static const char *const defaults_keys[] = {
    "source", "target", "volume_type", "flavor", "guest_accel", NULL};
static const char *const flavor_keys[] = {"vcpus", "ram_mb", "disk_gb", NULL};
static const char *const vm_keys[] = {"name",
                                      "source",
                                      "target",
                                      "flavor",
                                      "vcpus",
                                      "ram_mb",
                                      "disks",
                                      "ports",
                                      "customize",
                                      "depends_on",
                                      "availability_zone",
                                      "key_name",
                                      "user_data",
                                      "os_type",
                                      "firmware",
                                      "machine_type",
                                      "image",
                                      "boot_from",
                                      "domain",
                                      "migrate",
                                      "shutdown",
                                      "shutdown_timeout",
                                      "start",
                                      "undefine_source",
                                      "new_uuid",
                                      "live",
                                      "warm",
                                      "stop_command",
                                      NULL};
static const char *const live_keys[] = {
    "storage",  "bandwidth", "max_downtime", "max_downtime_limit",
    "escalate", "stall",     "deadline",     "unsafe",
    NULL};
static const char *const disk_keys[] = {"file", "size_gb", "volume_type",
                                        "volume_mode", NULL};
static const char *const image_keys[] = {"name", NULL};
static const char *const port_keys[] = {
    "network", "subnet",  "fixed_ip", "mac",        "security_groups",
    "prefix",  "gateway", "dns",      "guest_name", NULL};
static const char *const customize_keys[] = {
    "virtio",    "virtio_drivers", "hostname",  "files",
    "firstboot", "runonce",        "autologon", NULL};
static const char *const file_keys[] = {"src", "dst", "mode", "owner", NULL};
static const char *const autologon_keys[] = {"user", "password", "count", NULL};
static const char *const secret_keys[] = {"env", "file", NULL};

/* Keys each source/target type uses (besides "type"), indexed by the
 * type's enum value (row 0, NONE, is empty). */
struct type_keys {
  const char *const *keys;     /* allowed */
  const char *const *required; /* required */
};
static const struct type_keys source_types[] = {
    [FERRY_SOURCE_NONE] = {NULL, NULL},
    [FERRY_SOURCE_DIRECTORY] = {(const char *const[]){"path", "allow_dirs",
                                                      NULL},
                                (const char *const[]){"path", NULL}},
    [FERRY_SOURCE_RBD] = {(const char *const[]){"pool", "conf", "user", NULL},
                          (const char *const[]){"pool", NULL}},
    [FERRY_SOURCE_LIBVIRT] = {(const char *const[]){"uri", "allow_dirs", "conf",
                                                    "user", NULL},
                              (const char *const[]){"uri", NULL}},
};
static_assert (FERRY_ARRAY_SIZE (source_types) == FERRY_SOURCE_LAST,
               "source_types needs a row for every source type");
static const struct type_keys target_types[] = {
    [FERRY_PLAN_TARGET_NONE] = {NULL, NULL},
    [FERRY_PLAN_TARGET_LOCAL] = {(const char *const[]){"path", "uri",
                                                       "networks", NULL},
                                 (const char *const[]){"path", NULL}},
    [FERRY_PLAN_TARGET_OPENSTACK] =
        {(const char *const[]){"cloud", "ceph", "networks", "volume_mode",
                               "volume_host", "create_flavors",
                               "availability_zone", NULL},
         (const char *const[]){"cloud", "ceph", NULL}},
    [FERRY_PLAN_TARGET_LIBVIRT] = {(const char *const[]){
                                       "uri", "path", "migration_uri",
                                       "networks", "pool", "ceph", NULL},
                                   (const char *const[]){"uri", NULL}},
};
static_assert (FERRY_ARRAY_SIZE (target_types) == FERRY_PLAN_TARGET_LAST,
               "target_types needs a row for every target type");

/* One family of kinds (source or target types) for check_type. */
struct kind_family {
  const char *what;                    /* "source", "target" */
  const struct type_keys *rows;        /* keys per kind, indexed by kind */
  size_t n;                            /* rows, the enum's _LAST */
  const char *(*name) (unsigned kind); /* the kind's spelling */
};

/* ferry_source_type_name and ferry_plan_target_type_name on unsigned. */
static const char *
source_type_name (unsigned t)
{
  return ferry_source_type_name ((enum ferry_source_type) t);
}
static const char *
target_type_name (unsigned t)
{
  return ferry_plan_target_type_name ((enum ferry_plan_target_type) t);
}

static const struct kind_family source_family = {
    "source", source_types, FERRY_SOURCE_LAST, source_type_name};
static const struct kind_family target_family = {
    "target", target_types, FERRY_PLAN_TARGET_LAST, target_type_name};

/* "PATH.KEY", or KEY at the top. */
static char *
path_key (struct ferry_pctx *ctx, const char *path, const char *key)
{
  char *r;

  if (asprintf (&r, "%s%s%s", path ? path : "", path && *path ? "." : "", key) <
      0) {
    ctx->oom = true;
    return NULL;
  }
  return r;
}

/* "PATH[I]". */
static char *
path_idx (struct ferry_pctx *ctx, const char *path, size_t i)
{
  char *r;

  if (asprintf (&r, "%s[%zu]", path ? path : "", i) < 0) {
    ctx->oom = true;
    return NULL;
  }
  return r;
}

/* strdup that records running out of memory in CTX (ctx->oom) instead of
 * making every caller check; NULL stays NULL. The caller owns the copy. */
static char *
xstrdup (struct ferry_pctx *ctx, const char *s)
{
  char *r;

  if (s == NULL)
    return NULL;
  r = strdup (s);
  if (r == NULL)
    ctx->oom = true;
  return r;
}

/* Resolve P against the plan's directory. */
static char *
resolve (struct ferry_pctx *ctx, const char *p)
{
  char *r;

  if (p == NULL)
    return NULL;
  r = ferry_plan_resolve (ctx->dir, p);
  if (r == NULL)
    ctx->oom = true;
  return r;
}

/* What a node is, for "must be X, not Y" messages. */
static const char *
node_what (const struct ferry_ynode *n)
{
  if (n->kind == FERRY_YNODE_SEQ)
    return "a list";
  if (n->kind == FERRY_YNODE_MAP)
    return "a mapping";
  switch (n->stype) {
  case FERRY_YSCALAR_INT:
    return "an integer";
  case FERRY_YSCALAR_BOOL:
    return "a boolean";
  case FERRY_YSCALAR_FLOAT:
    return "a number";
  case FERRY_YSCALAR_NULL:
    return "null";
  default:
    return "a string";
  }
}

/* Is S one of the strings in the NULL-terminated LIST? */
static bool
in_list (const char *const *list, const char *s)
{
  for (; *list; list++)
    if (strcmp (*list, s) == 0)
      return true;
  return false;
}

/* The closest of CANDIDATES to S (distance ≤ 2), or NULL. */
static const char *
suggest (const char *const *candidates, const char *s)
{
  const char *best = NULL;
  size_t bd = 3, d;

  for (; *candidates; candidates++) {
    d = ferry_plan_distance (s, *candidates, 2);
    if (d < bd && d < strlen (*candidates)) {
      bd = d;
      best = *candidates;
    }
  }
  return best;
}

/* Report every key of MAP that is not in ALLOWED. */
static void
check_keys (struct ferry_pctx *ctx, const struct ferry_ynode *map,
            const char *path, const char *const *allowed)
{
  size_t i;

  for (i = 0; i < map->n_ents; i++) {
    const struct ferry_ynode *k = map->ents[i].key;
    const char *hint;
    CLEANUP_FREE char *p = NULL;

    if (k->str == NULL || in_list (allowed, k->str))
      continue;
    p = path_key (ctx, path, k->str);
    hint = suggest (allowed, k->str);
    if (hint)
      ferry_plan_diag (ctx, k->pos, p, "unknown key; did you mean '%s'?", hint);
    else
      ferry_plan_diag (ctx, k->pos, p, "unknown key");
  }
}

/* Is N a mapping?  Reports "must be a mapping" when not. */
static bool
want_map (struct ferry_pctx *ctx, const struct ferry_ynode *n, const char *path)
{
  if (n->kind == FERRY_YNODE_MAP)
    return true;
  ferry_plan_diag (ctx, n->pos, path, "must be a mapping, not %s",
                   node_what (n));
  return false;
}

/* Is node N a sequence? If not, add a diagnostic at N naming PATH and say
 * false, so the caller skips it while the rest of the plan is still checked. */
static bool
want_list (struct ferry_pctx *ctx, const struct ferry_ynode *n,
           const char *path)
{
  if (n->kind == FERRY_YNODE_SEQ)
    return true;
  ferry_plan_diag (ctx, n->pos, path, "must be a list, not %s", node_what (n));
  return false;
}

/* Fetch KEY from MAP; reports a missing required key at MAP's position. */
static const struct ferry_ynode *
get (struct ferry_pctx *ctx, const struct ferry_ynode *map, const char *path,
     const char *key, bool required)
{
  const struct ferry_ynode *v = ferry_ynode_get (map, key);
  CLEANUP_FREE char *p = NULL;

  if (v == NULL && required) {
    p = path_key (ctx, path, key);
    ferry_plan_diag (ctx, map->pos, p, "missing required key");
  }
  return v;
}

/* A string scalar N into *RET (a copy). */
static bool
str_node (struct ferry_pctx *ctx, const struct ferry_ynode *n, const char *path,
          char **ret)
{
  if (n->kind != FERRY_YNODE_SCALAR || n->stype != FERRY_YSCALAR_STR) {
    if (n->kind == FERRY_YNODE_SCALAR && n->stype != FERRY_YSCALAR_NULL)
      ferry_plan_diag (ctx, n->pos, path, "must be a string, not %s (quote it)",
                       node_what (n));
    else
      ferry_plan_diag (ctx, n->pos, path, "must be a string, not %s",
                       node_what (n));
    return false;
  }
  if (n->str[0] == '\0') {
    ferry_plan_diag (ctx, n->pos, path, "must not be empty");
    return false;
  }
  *ret = xstrdup (ctx, n->str);
  return *ret != NULL;
}

/* KEY of MAP as a string.  Returns the value node when it was valid. */
static const struct ferry_ynode *
get_str (struct ferry_pctx *ctx, const struct ferry_ynode *map,
         const char *path, const char *key, bool required, char **ret)
{
  const struct ferry_ynode *v = get (ctx, map, path, key, required);
  CLEANUP_FREE char *p = NULL;

  if (v == NULL)
    return NULL;
  p = path_key (ctx, path, key);
  return str_node (ctx, v, p, ret) ? v : NULL;
}

/* KEY of MAP as an integer in [MIN, MAX]. */
static const struct ferry_ynode *
get_uint (struct ferry_pctx *ctx, const struct ferry_ynode *map,
          const char *path, const char *key, bool required, uint64_t min,
          uint64_t max, uint64_t *ret)
{
  const struct ferry_ynode *v = get (ctx, map, path, key, required);
  CLEANUP_FREE char *p = NULL;
  const char *s;
  uint64_t x = 0;
  bool neg = false, big = false;

  if (v == NULL)
    return NULL;
  p = path_key (ctx, path, key);
  if (v->kind != FERRY_YNODE_SCALAR || v->stype != FERRY_YSCALAR_INT) {
    ferry_plan_diag (ctx, v->pos, p, "must be an integer, not %s",
                     node_what (v));
    return NULL;
  }
  s = v->str;
  if (*s == '-' || *s == '+')
    neg = *s++ == '-';
  if (!*s || strspn (s, "0123456789") != strlen (s)) {
    ferry_plan_diag (ctx, v->pos, p, "must be a decimal integer");
    return NULL;
  }
  for (; *s; s++) {
    if (x > (UINT64_MAX - 9) / 10)
      big = true;
    else
      x = x * 10 + (uint64_t) (*s - '0');
  }
  if ((neg && x > 0) || x < min) {
    ferry_plan_diag (ctx, v->pos, p, "must be at least %" PRIu64, min);
    return NULL;
  }
  if (big || x > max) {
    ferry_plan_diag (ctx, v->pos, p, "must be at most %" PRIu64, max);
    return NULL;
  }
  *ret = x;
  return v;
}

/* Read the optional boolean KEY of MAP into *RET. It must be a YAML boolean
 * scalar (true/false, yes/no, on/off in any case); anything else is a
 * diagnostic naming PATH.KEY. Return the value node, or NULL when KEY is
 * absent or wrong, leaving *RET as it was so the caller's default stands. */
static const struct ferry_ynode *
get_bool (struct ferry_pctx *ctx, const struct ferry_ynode *map,
          const char *path, const char *key, bool *ret)
{
  const struct ferry_ynode *v = get (ctx, map, path, key, false);
  CLEANUP_FREE char *p = NULL;

  if (v == NULL)
    return NULL;
  if (v->kind != FERRY_YNODE_SCALAR || v->stype != FERRY_YSCALAR_BOOL) {
    p = path_key (ctx, path, key);
    ferry_plan_diag (ctx, v->pos, p, "must be true or false, not %s",
                     node_what (v));
    return NULL;
  }
  *ret = strchr ("tTyY", v->str[0]) != NULL || strcasecmp (v->str, "on") == 0;
  return v;
}

/* The optional KEY of MAP as one of NAMES (a NULL-terminated list, index 0
 * first) into *RET: the index.  Anything else is a diagnostic listing the
 * names.  Returns the value node when it was valid. */
static const struct ferry_ynode *
get_enum (struct ferry_pctx *ctx, const struct ferry_ynode *map,
          const char *path, const char *key, const char *const *names, int *ret)
{
  CLEANUP_FREE char *s = NULL;
  CLEANUP_FREE char *p = NULL;
  const struct ferry_ynode *v = get_str (ctx, map, path, key, false, &s);
  char list[256] = "";
  size_t i, len = 0;

  if (v == NULL)
    return NULL;
  for (i = 0; names[i]; i++) {
    if (strcmp (names[i], s) == 0) {
      *ret = (int) i;
      return v;
    }
    len += (size_t) snprintf (list + len,
                              len < sizeof list ? sizeof list - len : 0,
                              "%s'%s'", i ? ", " : "", names[i]);
  }
  p = path_key (ctx, path, key);
  ferry_plan_diag (ctx, v->pos, p, "unknown value '%s' (expected %s)", s, list);
  return NULL;
}

/* Volume modes as a plan spells them (index = enum value - 1). */
static const char *const volume_mode_words[] = {"write-in-place", "manage",
                                                NULL};

/* KEY of MAP as a list of strings. */
static void
get_strv (struct ferry_pctx *ctx, const struct ferry_ynode *map,
          const char *path, const char *key, char ***ret, size_t *n)
{
  const struct ferry_ynode *v = get (ctx, map, path, key, false);
  CLEANUP_FREE char *p = NULL;
  size_t i;

  if (v == NULL)
    return;
  p = path_key (ctx, path, key);
  if (!want_list (ctx, v, p))
    return;
  *ret = calloc (v->n_items + 1, sizeof **ret);
  if (*ret == NULL) {
    ctx->oom = true;
    return;
  }
  for (i = 0; i < v->n_items; i++) {
    CLEANUP_FREE char *ip = path_idx (ctx, p, i);
    char *s = NULL;
    if (str_node (ctx, v->items[i], ip, &s))
      (*ret)[(*n)++] = s;
  }
}

/* [A-Za-z0-9][A-Za-z0-9_.-]{0,62} (VM, source, target, flavor names). */
static bool
valid_name (const char *s)
{
  size_t n = strlen (s), i;

  if (n == 0 || n > 63 || !isalnum ((unsigned char) s[0]))
    return false;
  for (i = 1; i < n; i++)
    if (!isalnum ((unsigned char) s[i]) && !strchr ("_.-", s[i]))
      return false;
  return true;
}

/* [a-z0-9][a-z0-9-]* of at most 63 characters (metadata.name). */
static bool
valid_plan_name (const char *s)
{
  size_t n = strlen (s), i;

  if (n == 0 || n > 63)
    return false;
  for (i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
          (s[i] == '-' && i > 0)))
      return false;
  return true;
}

/* RFC 1123 host name: dot-separated labels of letters, digits and inner
 * hyphens, each at most 63 characters, 253 in all. */
static bool
valid_hostname (const char *s)
{
  size_t n = strlen (s), len = 0, i;

  if (n == 0 || n > 253)
    return false;
  for (i = 0; i <= n; i++) {
    if (s[i] == '.' || s[i] == '\0') {
      if (len == 0 || len > 63 || s[i - 1] == '-')
        return false;
      len = 0;
      continue;
    }
    if (!isalnum ((unsigned char) s[i]) && !(s[i] == '-' && len > 0))
      return false;
    len++;
  }
  return true;
}

/* aa:bb:cc:dd:ee:ff (either case); stores it lower-cased in S. */
static bool
valid_mac (char *s)
{
  size_t i;

  if (strlen (s) != 17)
    return false;
  for (i = 0; i < 17; i++) {
    if (i % 3 == 2) {
      if (s[i] != ':')
        return false;
    } else if (!isxdigit ((unsigned char) s[i]))
      return false;
    else
      s[i] = (char) tolower ((unsigned char) s[i]);
  }
  return true;
}

/* An IPv4 or IPv6 address. */
static bool
valid_ip (const char *s)
{
  unsigned char buf[16];

  return inet_pton (AF_INET, s, buf) == 1 || inet_pton (AF_INET6, s, buf) == 1;
}

/* "644", "0644", "1755": 3 or 4 octal digits. */
static bool
valid_mode (const char *s)
{
  size_t n = strlen (s);

  return (n == 3 || n == 4) && strspn (s, "01234567") == n;
}

/* A guest path: absolute POSIX ("/etc/motd") or a Windows drive path
 * ("C:\\dir\\file", "C:/dir/file"). */
static bool
valid_guest_path (const char *s)
{
  if (s[0] == '/')
    return true;
  return isalpha ((unsigned char) s[0]) && s[1] == ':' &&
         (s[2] == '\\' || s[2] == '/');
}

/* "UID:GID", both decimal. */
static bool
valid_owner (const char *s)
{
  size_t a = strspn (s, "0123456789"), b;

  if (a == 0 || a > 10 || s[a] != ':')
    return false;
  b = strspn (s + a + 1, "0123456789");
  return b > 0 && b <= 10 && s[a + 1 + b] == '\0';
}

/* A Linux interface name: 1-15 of [A-Za-z0-9_.-]. */
static bool
valid_ifname (const char *s)
{
  size_t n = strlen (s);

  return n > 0 && n <= 15 &&
         strspn (s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                    "0123456789_.-") == n;
}

/* [A-Za-z_][A-Za-z0-9_]* */
static bool
valid_env_name (const char *s)
{
  size_t i;

  if (!(isalpha ((unsigned char) s[0]) || s[0] == '_'))
    return false;
  for (i = 1; s[i]; i++)
    if (!(isalnum ((unsigned char) s[i]) || s[i] == '_'))
      return false;
  return true;
}

/* A secret reference {env: NAME} or {file: PATH}.  A literal value is an
 * error, and its text is never repeated in the message. */
static void
parse_secret (struct ferry_pctx *ctx, const struct ferry_ynode *n,
              const char *path, struct ferry_secret *s)
{
  const struct ferry_ynode *env, *file;
  char *v = NULL;

  s->pos = n->pos;
  if (n->kind == FERRY_YNODE_SCALAR) {
    ferry_plan_diag (ctx, n->pos, path,
                     "literal secret not allowed; use {env: NAME} or "
                     "{file: PATH}");
    return;
  }
  if (!want_map (ctx, n, path))
    return;
  check_keys (ctx, n, path, secret_keys);
  env = ferry_ynode_get (n, "env");
  file = ferry_ynode_get (n, "file");
  if ((env == NULL) == (file == NULL)) {
    ferry_plan_diag (ctx, n->pos, path,
                     "a secret reference needs exactly one of 'env' or "
                     "'file'");
    return;
  }
  if (env) {
    CLEANUP_FREE char *p = path_key (ctx, path, "env");
    if (!str_node (ctx, env, p, &v))
      return;
    if (!valid_env_name (v)) {
      ferry_plan_diag (ctx, env->pos, p,
                       "'%s' is not a valid environment variable name", v);
      free (v);
      return;
    }
    s->kind = FERRY_SECRET_ENV;
    s->ref = v;
  } else {
    CLEANUP_FREE char *p = path_key (ctx, path, "file");
    if (!str_node (ctx, file, p, &v))
      return;
    s->kind = FERRY_SECRET_FILE;
    s->ref = resolve (ctx, v);
    free (v);
  }
}

/* "'a', 'b' or 'c'": the kinds of FAM, for a message (NULL on OOM). */
static char *
kind_list (const struct kind_family *fam)
{
  char *out = NULL, *next;
  size_t i;

  for (i = 1; i < fam->n; i++) {
    if (asprintf (&next, "%s%s'%s'", out ? out : "",
                  i == 1 ? "" : (i + 1 == fam->n ? " or " : ", "),
                  fam->name ((unsigned) i)) < 0) {
      free (out);
      return NULL;
    }
    free (out);
    out = next;
  }
  return out;
}

/* "type" and the keys that depend on it, for sources and targets: the
 * kind (0, NONE, when missing or unknown, with a diagnostic). */
static unsigned
check_type (struct ferry_pctx *ctx, const struct ferry_ynode *map,
            const char *path, const struct kind_family *fam)
{
  const struct ferry_ynode *tn;
  const struct type_keys *t;
  CLEANUP_FREE char *type = NULL;
  size_t i, j;
  int kind;

  tn = get_str (ctx, map, path, "type", true, &type);
  if (tn == NULL)
    return 0;
  kind = 0;
  for (i = 1; i < fam->n; i++)
    if (strcmp (fam->name ((unsigned) i), type) == 0)
      kind = (int) i;
  if (kind == 0) {
    CLEANUP_FREE char *p = path_key (ctx, path, "type");
    CLEANUP_FREE char *list = kind_list (fam);
    if (list == NULL)
      ctx->oom = true;
    else
      ferry_plan_diag (ctx, tn->pos, p, "unknown %s type '%s' (expected %s)",
                       fam->what, type, list);
    return 0;
  }
  t = &fam->rows[kind];
  for (i = 0; i < map->n_ents; i++) {
    const struct ferry_ynode *k = map->ents[i].key;
    bool used = false;
    if (k->str == NULL || strcmp (k->str, "type") == 0)
      continue;
    for (j = 1; j < fam->n; j++)
      if (in_list (fam->rows[j].keys, k->str))
        used = true;
    if (used && !in_list (t->keys, k->str)) {
      CLEANUP_FREE char *p = path_key (ctx, path, k->str);
      ferry_plan_diag (ctx, k->pos, p, "not used by %ss of type '%s'",
                       fam->what, type);
    }
  }
  for (i = 0; t->required[i]; i++)
    get (ctx, map, path, t->required[i], true);
  return (unsigned) kind;
}

/* Fill plan->state from the optional state: mapping N (NULL when absent).
 * The backend (an enum, parsed here once) defaults to file; keys of the other
 * backend are diagnostics rather than silently ignored. A file backend's path
 * is resolved against the plan's directory and defaults to .ferry/NAME.state
 * (a rados backend's conf is resolved the same way); a
 * rados backend needs a pool and its object defaults to the plan's name, so two
 * plans do not share a journal by accident. Must run after metadata.name is
 * read. */
static void
parse_state (struct ferry_pctx *ctx, const struct ferry_ynode *n,
             struct ferry_plan *plan)
{
  struct ferry_state_cfg *st = &plan->state;
  const struct ferry_ynode *b = NULL;
  CLEANUP_FREE char *backend = NULL;
  CLEANUP_FREE char *conf = NULL;
  char *path = NULL;
  size_t i;
  int k;

  st->backend = FERRY_STATE_FILE;
  if (n) {
    st->pos = n->pos;
    if (!want_map (ctx, n, "state"))
      n = NULL;
  }
  if (n) {
    check_keys (ctx, n, "state", state_keys);
    b = get_str (ctx, n, "state", "backend", false, &backend);
    get_str (ctx, n, "state", "path", false, &path);
    get_str (ctx, n, "state", "pool", false, &st->pool);
    get_str (ctx, n, "state", "object", false, &st->object);
    get_str (ctx, n, "state", "conf", false, &conf);
    st->conf = resolve (ctx, conf);
    get_str (ctx, n, "state", "user", false, &st->user);
  }
  if (b) {
    /* the memory store is for tests, not for plans */
    k = ferry_state_backend_from_name (backend);
    if (k != FERRY_STATE_FILE && k != FERRY_STATE_RADOS) {
      ferry_plan_diag (ctx, b->pos, "state.backend",
                       "unknown state backend '%s' (expected 'file' or "
                       "'rados')",
                       backend);
      free (path);
      return;
    }
    st->backend = (enum ferry_state_backend) k;
  }
  if (st->backend == FERRY_STATE_RADOS) {
    if (n)
      get (ctx, n, "state", "pool", true);
    if (n && ferry_ynode_get (n, "path"))
      ferry_plan_diag (ctx, ferry_ynode_ent (n, "path")->key->pos, "state.path",
                       "not used by backend 'rados'");
    if (st->object == NULL && plan->name)
      st->object = xstrdup (ctx, plan->name);
  } else {
    static const char *const rados_only[] = {"pool", "object", "conf", "user",
                                             NULL};
    for (i = 0; n && rados_only[i]; i++) {
      const struct ferry_yent *e = ferry_ynode_ent (n, rados_only[i]);
      if (e) {
        CLEANUP_FREE char *p = path_key (ctx, "state", rados_only[i]);
        ferry_plan_diag (ctx, e->key->pos, p, "not used by backend 'file'");
      }
    }
    if (path == NULL && plan->name &&
        asprintf (&path, ".ferry/%s.state", plan->name) < 0) {
      path = NULL;
      ctx->oom = true;
    }
    st->path = resolve (ctx, path);
  }
  free (path);
}

/* Fill plan->sources from the sources: mapping N, one entry per key (the
 * source's name). Paths (path, allow_dirs, conf) are resolved against the
 * plan's directory here, so later code never depends on the working
 * directory. Problems are diagnostics; the arrays are allocated one longer
 * than needed, zero-terminated. */
static void
parse_sources (struct ferry_pctx *ctx, const struct ferry_ynode *n,
               struct ferry_plan *plan)
{
  size_t i, j;

  if (!want_map (ctx, n, "sources"))
    return;
  plan->sources = calloc (n->n_ents + 1, sizeof *plan->sources);
  if (plan->sources == NULL) {
    ctx->oom = true;
    return;
  }
  for (i = 0; i < n->n_ents; i++) {
    const struct ferry_ynode *k = n->ents[i].key, *v = n->ents[i].value;
    struct ferry_source *s = &plan->sources[plan->n_sources++];
    CLEANUP_FREE char *p = path_key (ctx, "sources", k->str ? k->str : "");
    char *dir = NULL;

    s->name = xstrdup (ctx, k->str ? k->str : "");
    s->pos = v->pos;
    if (k->str && !valid_name (k->str))
      ferry_plan_diag (ctx, k->pos, p,
                       "invalid source name (letters, digits, '_', '.', "
                       "'-'; at most 63)");
    if (!want_map (ctx, v, p))
      continue;
    check_keys (ctx, v, p, source_keys);
    s->type = (enum ferry_source_type) check_type (ctx, v, p, &source_family);
    get_str (ctx, v, p, "path", false, &dir);
    s->path = resolve (ctx, dir);
    free (dir);
    dir = NULL;
    /* more directories the source's images may name files in */
    get_strv (ctx, v, p, "allow_dirs", &s->allow_dirs, &s->n_allow_dirs);
    for (j = 0; j < s->n_allow_dirs; j++) {
      char *r = resolve (ctx, s->allow_dirs[j]);
      if (r) {
        free (s->allow_dirs[j]);
        s->allow_dirs[j] = r;
      }
    }
    get_str (ctx, v, p, "pool", false, &s->pool);
    get_str (ctx, v, p, "conf", false, &dir);
    s->conf = resolve (ctx, dir);
    free (dir);
    dir = NULL;
    get_str (ctx, v, p, "user", false, &s->user);
    get_str (ctx, v, p, "uri", false, &s->uri);
  }
}

/* TARGET's networks: mapping under MAP (at PATH): each key a source
 * network or bridge name, each value the target's name for it. */
static void
parse_networks (struct ferry_pctx *ctx, const struct ferry_ynode *map,
                const char *path, struct ferry_plan_target *t)
{
  const struct ferry_ynode *n = ferry_ynode_get (map, "networks");
  CLEANUP_FREE char *p = path_key (ctx, path, "networks");
  size_t i;

  if (n == NULL || !want_map (ctx, n, p))
    return;
  t->networks = calloc (n->n_ents + 1, sizeof *t->networks);
  if (t->networks == NULL) {
    ctx->oom = true;
    return;
  }
  for (i = 0; i < n->n_ents; i++) {
    const struct ferry_ynode *k = n->ents[i].key, *v = n->ents[i].value;
    struct ferry_net_map *m = &t->networks[t->n_networks];
    CLEANUP_FREE char *kp = path_key (ctx, p, k->str ? k->str : "");

    if (k->str == NULL || k->str[0] == '\0') {
      ferry_plan_diag (ctx, k->pos, kp, "needs a network name as key");
      continue;
    }
    if (!str_node (ctx, v, kp, &m->to))
      continue;
    m->from = xstrdup (ctx, k->str);
    m->pos = k->pos;
    t->n_networks++;
  }
}

/* Fill plan->targets from the targets: mapping N, one entry per key (the
 * target's name), with its optional ceph: block; ceph.volumes_pool is
 * required for an openstack target. Paths are resolved against the plan's
 * directory. Problems are diagnostics. */
static void
parse_targets (struct ferry_pctx *ctx, const struct ferry_ynode *n,
               struct ferry_plan *plan)
{
  size_t i;

  if (!want_map (ctx, n, "targets"))
    return;
  plan->targets = calloc (n->n_ents + 1, sizeof *plan->targets);
  if (plan->targets == NULL) {
    ctx->oom = true;
    return;
  }
  for (i = 0; i < n->n_ents; i++) {
    const struct ferry_ynode *k = n->ents[i].key, *v = n->ents[i].value;
    const struct ferry_ynode *c;
    struct ferry_plan_target *t = &plan->targets[plan->n_targets++];
    CLEANUP_FREE char *p = path_key (ctx, "targets", k->str ? k->str : "");
    CLEANUP_FREE char *cp = NULL;
    char *tmp = NULL;
    int mode;

    t->name = xstrdup (ctx, k->str ? k->str : "");
    t->pos = v->pos;
    if (k->str && !valid_name (k->str))
      ferry_plan_diag (ctx, k->pos, p,
                       "invalid target name (letters, digits, '_', '.', "
                       "'-'; at most 63)");
    if (!want_map (ctx, v, p))
      continue;
    check_keys (ctx, v, p, target_keys);
    t->type =
        (enum ferry_plan_target_type) check_type (ctx, v, p, &target_family);
    get_str (ctx, v, p, "path", false, &tmp);
    t->path = resolve (ctx, tmp);
    free (tmp);
    tmp = NULL;
    get_str (ctx, v, p, "uri", false, &t->uri);
    get_str (ctx, v, p, "migration_uri", false, &t->migration_uri);
    parse_networks (ctx, v, p, t);
    get_str (ctx, v, p, "pool", false, &t->pool);
    get_str (ctx, v, p, "cloud", false, &t->cloud);
    c = ferry_ynode_get (v, "ceph");
    cp = path_key (ctx, p, "ceph");
    if (c && want_map (ctx, c, cp)) {
      check_keys (ctx, c, cp, ceph_keys);
      tmp = NULL;
      get_str (ctx, c, cp, "conf", false, &tmp);
      t->ceph.conf = resolve (ctx, tmp);
      free (tmp);
      tmp = NULL;
      get_str (ctx, c, cp, "user", false, &t->ceph.user);
      get_str (ctx, c, cp, "volumes_pool",
               t->type == FERRY_PLAN_TARGET_OPENSTACK, &t->ceph.volumes_pool);
      get_str (ctx, c, cp, "images_pool", false, &t->ceph.images_pool);
    }
    if (get_enum (ctx, v, p, "volume_mode", volume_mode_words, &mode))
      t->volume_mode = (enum ferry_volume_mode) (mode + 1);
    get_str (ctx, v, p, "volume_host", false, &t->volume_host);
    get_bool (ctx, v, p, "create_flavors", &t->create_flavors);
    get_str (ctx, v, p, "availability_zone", false, &t->availability_zone);
  }
}

/* Fill plan->flavors from the flavors: mapping N: vcpus and ram_mb are
 * required, disk_gb optional, each within its bounds. Problems are
 * diagnostics. */
static void
parse_flavors (struct ferry_pctx *ctx, const struct ferry_ynode *n,
               struct ferry_plan *plan)
{
  size_t i;
  uint64_t x;

  if (!want_map (ctx, n, "flavors"))
    return;
  plan->flavors = calloc (n->n_ents + 1, sizeof *plan->flavors);
  if (plan->flavors == NULL) {
    ctx->oom = true;
    return;
  }
  for (i = 0; i < n->n_ents; i++) {
    const struct ferry_ynode *k = n->ents[i].key, *v = n->ents[i].value;
    struct ferry_flavor *f = &plan->flavors[plan->n_flavors++];
    CLEANUP_FREE char *p = path_key (ctx, "flavors", k->str ? k->str : "");

    f->name = xstrdup (ctx, k->str ? k->str : "");
    f->pos = v->pos;
    if (k->str && !valid_name (k->str))
      ferry_plan_diag (ctx, k->pos, p,
                       "invalid flavor name (letters, digits, '_', '.', "
                       "'-'; at most 63)");
    if (!want_map (ctx, v, p))
      continue;
    check_keys (ctx, v, p, flavor_keys);
    if (get_uint (ctx, v, p, "vcpus", true, 1, 4096, &x))
      f->vcpus = (unsigned) x;
    if (get_uint (ctx, v, p, "ram_mb", true, 64, 16777216, &x))
      f->ram_mb = (unsigned) x;
    if (get_uint (ctx, v, p, "disk_gb", false, 1, 1048576, &x))
      f->disk_gb = (unsigned) x;
  }
}

/* Fill VM's disks from the list N (at PATH, for diagnostics): at least one
 * disk, each with a file and optional size_gb and volume_type. The file name
 * is kept as written: it is relative to the VM's source, not to the plan. */
static void
parse_disks (struct ferry_pctx *ctx, const struct ferry_ynode *n,
             const char *path, struct ferry_vm *vm)
{
  size_t i;

  if (!want_list (ctx, n, path))
    return;
  if (n->n_items == 0) {
    ferry_plan_diag (ctx, n->pos, path, "needs at least one disk");
    return;
  }
  vm->disks = calloc (n->n_items, sizeof *vm->disks);
  if (vm->disks == NULL) {
    ctx->oom = true;
    return;
  }
  for (i = 0; i < n->n_items; i++) {
    const struct ferry_ynode *d = n->items[i];
    struct ferry_disk_spec *ds = &vm->disks[vm->n_disks++];
    CLEANUP_FREE char *p = path_idx (ctx, path, i);
    int k;

    ds->pos = d->pos;
    if (!want_map (ctx, d, p))
      continue;
    check_keys (ctx, d, p, disk_keys);
    get_str (ctx, d, p, "file", true, &ds->file);
    get_uint (ctx, d, p, "size_gb", false, 1, 1048576, &ds->size_gb);
    get_str (ctx, d, p, "volume_type", false, &ds->volume_type);
    if (get_enum (ctx, d, p, "volume_mode", volume_mode_words, &k))
      ds->volume_mode = (enum ferry_volume_mode) (k + 1);
  }
}

/* Fill VM's ports from the list N (at PATH): each needs a network; fixed_ip
 * and mac are checked for syntax here so that a typo fails validation, not a
 * cloud call. */
static void
parse_ports (struct ferry_pctx *ctx, const struct ferry_ynode *n,
             const char *path, struct ferry_vm *vm)
{
  const struct ferry_ynode *v;
  size_t i, j;
  uint64_t x;

  if (!want_list (ctx, n, path))
    return;
  vm->ports = calloc (n->n_items + 1, sizeof *vm->ports);
  if (vm->ports == NULL) {
    ctx->oom = true;
    return;
  }
  for (i = 0; i < n->n_items; i++) {
    const struct ferry_ynode *d = n->items[i];
    struct ferry_port *pt = &vm->ports[vm->n_ports++];
    CLEANUP_FREE char *p = path_idx (ctx, path, i);
    CLEANUP_FREE char *kp = NULL;
    CLEANUP_FREE char *kp2 = NULL;

    pt->pos = d->pos;
    if (!want_map (ctx, d, p))
      continue;
    check_keys (ctx, d, p, port_keys);
    get_str (ctx, d, p, "network", true, &pt->network);
    get_str (ctx, d, p, "subnet", false, &pt->subnet);
    kp = path_key (ctx, p, "fixed_ip");
    v = get_str (ctx, d, p, "fixed_ip", false, &pt->fixed_ip);
    if (v && !valid_ip (pt->fixed_ip))
      ferry_plan_diag (ctx, v->pos, kp, "'%s' is not an IPv4 or IPv6 address",
                       pt->fixed_ip);
    kp2 = path_key (ctx, p, "mac");
    v = get_str (ctx, d, p, "mac", false, &pt->mac);
    if (v && !valid_mac (pt->mac))
      ferry_plan_diag (ctx, v->pos, kp2,
                       "'%s' is not a MAC address (aa:bb:cc:dd:ee:ff)",
                       pt->mac);
    get_strv (ctx, d, p, "security_groups", &pt->security_groups,
              &pt->n_security_groups);
    if (get_uint (ctx, d, p, "prefix", false, 0, 128, &x))
      pt->prefix = (unsigned) x;
    v = get_str (ctx, d, p, "gateway", false, &pt->gateway);
    if (v && !valid_ip (pt->gateway)) {
      CLEANUP_FREE char *gp = path_key (ctx, p, "gateway");
      ferry_plan_diag (ctx, v->pos, gp, "'%s' is not an IPv4 or IPv6 address",
                       pt->gateway);
    }
    get_strv (ctx, d, p, "dns", &pt->dns, &pt->n_dns);
    for (j = 0; j < pt->n_dns; j++)
      if (!valid_ip (pt->dns[j])) {
        CLEANUP_FREE char *dp = path_key (ctx, p, "dns");
        ferry_plan_diag (ctx, d->pos, dp, "'%s' is not an IPv4 or IPv6 address",
                         pt->dns[j]);
      }
    v = get_str (ctx, d, p, "guest_name", false, &pt->guest_name);
    if (v && !valid_ifname (pt->guest_name)) {
      CLEANUP_FREE char *np = path_key (ctx, p, "guest_name");
      ferry_plan_diag (ctx, v->pos, np, "'%s' is not an interface name",
                       pt->guest_name);
    }
  }
}

/* Fill VM's customize block from mapping N (at PATH): virtio, hostname,
 * files to copy (src resolved against the plan's directory, dst absolute,
 * mode octal), firstboot scripts (resolved likewise) and autologon with its
 * password as a secret reference ({env: NAME} or {file: PATH}; a literal is
 * refused). Problems are diagnostics. */
static void
parse_customize (struct ferry_pctx *ctx, const struct ferry_ynode *n,
                 const char *path, struct ferry_vm *vm)
{
  struct ferry_customize *c = &vm->customize;
  const struct ferry_ynode *v, *a;
  CLEANUP_FREE char *fp = NULL;
  CLEANUP_FREE char *ap = NULL;
  char *tmp = NULL;
  size_t i;
  uint64_t x;

  c->pos = n->pos;
  if (!want_map (ctx, n, path))
    return;
  vm->has_customize = true;
  check_keys (ctx, n, path, customize_keys);
  get_bool (ctx, n, path, "virtio", &c->virtio);
  v = get_str (ctx, n, path, "hostname", false, &c->hostname);
  if (v && !valid_hostname (c->hostname)) {
    CLEANUP_FREE char *p = path_key (ctx, path, "hostname");
    ferry_plan_diag (ctx, v->pos, p, "'%s' is not a valid host name",
                     c->hostname);
  }
  fp = path_key (ctx, path, "files");
  v = ferry_ynode_get (n, "files");
  if (v && want_list (ctx, v, fp)) {
    c->files = calloc (v->n_items + 1, sizeof *c->files);
    if (c->files == NULL) {
      ctx->oom = true;
      return;
    }
    for (i = 0; i < v->n_items; i++) {
      const struct ferry_ynode *f = v->items[i], *d;
      struct ferry_file_copy *fc = &c->files[c->n_files++];
      CLEANUP_FREE char *p = path_idx (ctx, fp, i);
      CLEANUP_FREE char *src = NULL;

      fc->pos = f->pos;
      if (!want_map (ctx, f, p))
        continue;
      check_keys (ctx, f, p, file_keys);
      get_str (ctx, f, p, "src", true, &src);
      fc->src = resolve (ctx, src);
      d = get_str (ctx, f, p, "dst", true, &fc->dst);
      if (d && !valid_guest_path (fc->dst)) {
        CLEANUP_FREE char *dp = path_key (ctx, p, "dst");
        ferry_plan_diag (
            ctx, d->pos, dp,
            "must be an absolute path (/etc/motd, or C:\\dir\\file "
            "in a Windows guest)");
      }
      d = get_str (ctx, f, p, "owner", false, &fc->owner);
      if (d && !valid_owner (fc->owner)) {
        CLEANUP_FREE char *dp = path_key (ctx, p, "owner");
        ferry_plan_diag (ctx, d->pos, dp,
                         "must be numeric \"UID:GID\" like \"0:0\"");
      }
      d = get_str (ctx, f, p, "mode", false, &fc->mode);
      if (d && !valid_mode (fc->mode)) {
        CLEANUP_FREE char *dp = path_key (ctx, p, "mode");
        ferry_plan_diag (ctx, d->pos, dp,
                         "must be an octal mode string like \"0644\"");
      }
    }
  }
  get_str (ctx, n, path, "virtio_drivers", false, &tmp);
  c->virtio_drivers = resolve (ctx, tmp);
  free (tmp);
  get_strv (ctx, n, path, "runonce", &c->runonce, &c->n_runonce);
  get_strv (ctx, n, path, "firstboot", &c->firstboot, &c->n_firstboot);
  for (i = 0; i < c->n_firstboot; i++) {
    char *r = resolve (ctx, c->firstboot[i]);
    if (r) {
      free (c->firstboot[i]);
      c->firstboot[i] = r;
    }
  }
  ap = path_key (ctx, path, "autologon");
  a = ferry_ynode_get (n, "autologon");
  if (a && want_map (ctx, a, ap)) {
    CLEANUP_FREE char *pp = path_key (ctx, ap, "password");
    c->has_autologon = true;
    check_keys (ctx, a, ap, autologon_keys);
    get_str (ctx, a, ap, "user", true, &c->autologon.user);
    v = get (ctx, a, ap, "password", true);
    if (v)
      parse_secret (ctx, v, pp, &c->autologon.password);
    c->autologon.count = 1;
    if (get_uint (ctx, a, ap, "count", false, 1, 100, &x))
      c->autologon.count = (unsigned) x;
  }
}

/* The OpenStack keys of VM's mapping M (at PATH): availability_zone,
 * key_name, user_data (a file, resolved), os_type, firmware, machine_type,
 * image ({name}) and boot_from (image needs an image). */
static void
parse_vm_openstack (struct ferry_pctx *ctx, const struct ferry_ynode *m,
                    const char *p, struct ferry_vm *vm)
{
  static const char *const os_types[] = {"linux", "windows", NULL};
  static const char *const firmwares[] = {"bios", "uefi", NULL};
  static const char *const boot_froms[] = {"volume", "image", NULL};
  const struct ferry_ynode *v;
  char *tmp = NULL;
  int k;

  get_str (ctx, m, p, "availability_zone", false, &vm->availability_zone);
  get_str (ctx, m, p, "key_name", false, &vm->key_name);
  get_str (ctx, m, p, "user_data", false, &tmp);
  vm->user_data = resolve (ctx, tmp);
  free (tmp);
  if (get_enum (ctx, m, p, "os_type", os_types, &k))
    vm->os_type = xstrdup (ctx, os_types[k]);
  if (get_enum (ctx, m, p, "firmware", firmwares, &k))
    vm->firmware = xstrdup (ctx, firmwares[k]);
  get_str (ctx, m, p, "machine_type", false, &vm->machine_type);
  v = ferry_ynode_get (m, "image");
  if (v) {
    CLEANUP_FREE char *ip = path_key (ctx, p, "image");
    if (want_map (ctx, v, ip)) {
      vm->has_image = true;
      check_keys (ctx, v, ip, image_keys);
      get_str (ctx, v, ip, "name", false, &vm->image_name);
    }
  }
  v = get_enum (ctx, m, p, "boot_from", boot_froms, &k);
  if (v) {
    vm->boot_from = (enum ferry_boot_from) k;
    if (vm->boot_from == FERRY_BOOT_FROM_IMAGE && !vm->has_image) {
      CLEANUP_FREE char *bp = path_key (ctx, p, "boot_from");
      ferry_plan_diag (ctx, v->pos, bp,
                       "'image' needs the VM's image: block (image: {})");
    }
  }
}

/* Escalations as a plan spells them (bit i = word i). */
static const char *const escalate_words[] = {"downtime", "auto-converge",
                                             "postcopy", NULL};

/* VM's live: block M (at PATH). */
static void
parse_live (struct ferry_pctx *ctx, const struct ferry_ynode *m, const char *p,
            struct ferry_vm *vm)
{
  static const char *const storages[] = {"copy", "shared", NULL};
  struct ferry_live_cfg *l = &vm->live;
  CLEANUP_FREE char *ep = path_key (ctx, p, "escalate");
  const struct ferry_ynode *e;
  uint64_t x;
  size_t i;
  int k;

  l->pos = m->pos;
  check_keys (ctx, m, p, live_keys);
  if (get_enum (ctx, m, p, "storage", storages, &k))
    l->storage = (enum ferry_live_storage) k;
  if (get_uint (ctx, m, p, "bandwidth", false, 1, 1048576, &x))
    l->bandwidth_mib = (unsigned) x;
  if (get_uint (ctx, m, p, "max_downtime", false, 1, 3600000, &x))
    l->max_downtime_ms = (unsigned) x;
  if (get_uint (ctx, m, p, "max_downtime_limit", false, 1, 3600000, &x))
    l->max_downtime_limit_ms = (unsigned) x;
  if (l->max_downtime_ms && l->max_downtime_limit_ms &&
      l->max_downtime_limit_ms < l->max_downtime_ms) {
    CLEANUP_FREE char *lp = path_key (ctx, p, "max_downtime_limit");
    ferry_plan_diag (ctx, m->pos, lp, "is below max_downtime (%u < %u)",
                     l->max_downtime_limit_ms, l->max_downtime_ms);
  }
  l->escalate = FERRY_ESCALATE_DOWNTIME;
  e = ferry_ynode_get (m, "escalate");
  if (e && want_list (ctx, e, ep)) {
    l->escalate = 0;
    for (i = 0; i < e->n_items; i++) {
      const struct ferry_ynode *it = e->items[i];
      CLEANUP_FREE char *ip = path_idx (ctx, ep, i);
      unsigned b = 0;
      size_t w;

      for (w = 0;
           it->kind == FERRY_YNODE_SCALAR && it->str && escalate_words[w]; w++)
        if (strcmp (escalate_words[w], it->str) == 0)
          b = 1u << w;
      if (b == 0)
        ferry_plan_diag (ctx, it->pos, ip,
                         "unknown escalation '%s' (expected 'downtime', "
                         "'auto-converge', 'postcopy')",
                         it->str ? it->str : "");
      l->escalate |= b;
    }
  }
  l->stall_s = 10;
  if (get_uint (ctx, m, p, "stall", false, 1, 86400, &x))
    l->stall_s = (unsigned) x;
  if (get_uint (ctx, m, p, "deadline", false, 1, 7 * 86400, &x))
    l->deadline_s = (unsigned) x;
  get_bool (ctx, m, p, "unsafe", &l->unsafe);
}

/* The libvirt-source keys of VM's mapping M (at PATH): migrate, shutdown,
 * shutdown_timeout, start, undefine_source, new_uuid and live (only with
 * migrate: live).  Whether the source is a libvirt one is checked in
 * validate.c. */
static void
parse_vm_libvirt (struct ferry_pctx *ctx, const struct ferry_ynode *m,
                  const char *p, struct ferry_vm *vm)
{
  static const char *const migrates[] = {"cold", "live", NULL};
  static const char *const keys[] = {"migrate",
                                     "shutdown",
                                     "shutdown_timeout",
                                     "start",
                                     "undefine_source",
                                     "new_uuid",
                                     "live",
                                     NULL};
  const struct ferry_ynode *v;
  uint64_t x;
  size_t i;
  int k;

  if (vm->domain == NULL) {
    for (i = 0; keys[i]; i++) {
      v = ferry_ynode_get (m, keys[i]);
      if (v) {
        CLEANUP_FREE char *kp = path_key (ctx, p, keys[i]);
        ferry_plan_diag (ctx, v->pos, kp, "only for a VM with a domain");
      }
    }
    return;
  }
  if (get_enum (ctx, m, p, "migrate", migrates, &k))
    vm->migrate = (enum ferry_migrate) k;
  get_bool (ctx, m, p, "shutdown", &vm->shutdown);
  vm->shutdown_timeout_s = 300;
  if (get_uint (ctx, m, p, "shutdown_timeout", false, 1, 86400, &x))
    vm->shutdown_timeout_s = (unsigned) x;
  get_bool (ctx, m, p, "start", &vm->start);
  get_bool (ctx, m, p, "undefine_source", &vm->undefine_source);
  get_bool (ctx, m, p, "new_uuid", &vm->new_uuid);
  vm->live.escalate = FERRY_ESCALATE_DOWNTIME;
  vm->live.stall_s = 10;
  v = ferry_ynode_get (m, "live");
  if (v) {
    CLEANUP_FREE char *lp = path_key (ctx, p, "live");
    if (vm->migrate != FERRY_MIGRATE_LIVE)
      ferry_plan_diag (ctx, v->pos, lp, "only with migrate: live");
    else if (want_map (ctx, v, lp))
      parse_live (ctx, v, lp, vm);
  }
  if (vm->migrate == FERRY_MIGRATE_LIVE) {
    static const char *const cold_only[] = {"shutdown", "shutdown_timeout",
                                            "start", "new_uuid", NULL};
    for (i = 0; cold_only[i]; i++) {
      v = ferry_ynode_get (m, cold_only[i]);
      if (v) {
        CLEANUP_FREE char *kp = path_key (ctx, p, cold_only[i]);
        ferry_plan_diag (ctx, v->pos, kp,
                         "only with migrate: cold (a live migration keeps "
                         "the guest running and its UUID)");
      }
    }
  }
}

/* Fill plan->vms from the vms: list N (at least one VM): name, source,
 * target and flavor references (whether they exist is checked later, in
 * validate.c), vcpus and ram_mb, disks (required), ports, customize and
 * depends_on. Problems are diagnostics. */
static void
parse_vms (struct ferry_pctx *ctx, const struct ferry_ynode *n,
           struct ferry_plan *plan)
{
  const struct ferry_ynode *v;
  size_t i;
  uint64_t x;

  if (!want_list (ctx, n, "vms"))
    return;
  if (n->n_items == 0)
    ferry_plan_diag (ctx, n->pos, "vms", "needs at least one VM");
  plan->vms = calloc (n->n_items + 1, sizeof *plan->vms);
  if (plan->vms == NULL) {
    ctx->oom = true;
    return;
  }
  for (i = 0; i < n->n_items; i++) {
    const struct ferry_ynode *m = n->items[i];
    struct ferry_vm *vm = &plan->vms[plan->n_vms++];
    CLEANUP_FREE char *p = path_idx (ctx, "vms", i);
    CLEANUP_FREE char *dp = NULL;

    vm->pos = m->pos;
    if (!want_map (ctx, m, p))
      continue;
    check_keys (ctx, m, p, vm_keys);
    v = get_str (ctx, m, p, "name", true, &vm->name);
    if (v && !valid_name (vm->name)) {
      CLEANUP_FREE char *np = path_key (ctx, p, "name");
      ferry_plan_diag (ctx, v->pos, np,
                       "invalid VM name '%s' (letters, digits, '_', '.', "
                       "'-', starting with a letter or digit; at most 63)",
                       vm->name);
    }
    get_str (ctx, m, p, "source", false, &vm->source);
    get_str (ctx, m, p, "target", false, &vm->target);
    get_str (ctx, m, p, "flavor", false, &vm->flavor);
    if (get_uint (ctx, m, p, "vcpus", false, 1, 4096, &x))
      vm->vcpus = (unsigned) x;
    if (get_uint (ctx, m, p, "ram_mb", false, 64, 16777216, &x))
      vm->ram_mb = (unsigned) x;
    dp = path_key (ctx, p, "disks");
    get_str (ctx, m, p, "domain", false, &vm->domain);
    /* a domain brings its own disks; otherwise they are listed */
    v = get (ctx, m, p, "disks", vm->domain == NULL);
    if (v && vm->domain)
      ferry_plan_diag (ctx, v->pos, dp,
                       "a VM with a domain takes its disks from the domain: "
                       "remove disks");
    else if (v)
      parse_disks (ctx, v, dp, vm);
    parse_vm_libvirt (ctx, m, p, vm);
    get_bool (ctx, m, p, "warm", &vm->warm);
    get_strv (ctx, m, p, "stop_command", &vm->stop_command,
              &vm->n_stop_command);
    free (dp);
    dp = path_key (ctx, p, "ports");
    v = ferry_ynode_get (m, "ports");
    if (v)
      parse_ports (ctx, v, dp, vm);
    free (dp);
    dp = path_key (ctx, p, "customize");
    v = ferry_ynode_get (m, "customize");
    if (v)
      parse_customize (ctx, v, dp, vm);
    get_strv (ctx, m, p, "depends_on", &vm->depends_on, &vm->n_depends_on);
    parse_vm_openstack (ctx, m, p, vm);
  }
}

/* Turn the YAML tree ROOT into PLAN: check apiVersion ferry/v1, kind
 * MigrationPlan and metadata, then each top-level section in the order that
 * later ones need (metadata.name before state). Every problem becomes a
 * diagnostic in CTX with its position and key path, and parsing goes on, so
 * one run reports all of them; out of memory sets ctx->oom. Strings in PLAN
 * are owned by it (ferry_plan_free). */
void
ferry_plan_parse_tree (struct ferry_pctx *ctx, const struct ferry_ynode *root,
                       struct ferry_plan *plan)
{
  static const char *const guest_accels[] = {"auto", "kvm", "tcg", NULL};
  const struct ferry_ynode *v, *md;
  struct ferry_pos start = {1, 1};
  int k;

  if (root == NULL ||
      (root->kind == FERRY_YNODE_SCALAR && root->stype == FERRY_YSCALAR_NULL)) {
    ferry_plan_diag (ctx, start, NULL, "plan is empty");
    return;
  }
  if (root->kind != FERRY_YNODE_MAP) {
    ferry_plan_diag (ctx, root->pos, NULL, "a plan must be a mapping, not %s",
                     node_what (root));
    return;
  }
  check_keys (ctx, root, "", top_keys);
  v = get_str (ctx, root, "", "apiVersion", true, &plan->api_version);
  if (v && strcmp (plan->api_version, "ferry/v1") != 0)
    ferry_plan_diag (ctx, v->pos, "apiVersion",
                     "unsupported apiVersion '%s' (expected 'ferry/v1')",
                     plan->api_version);
  v = get_str (ctx, root, "", "kind", true, &plan->kind);
  if (v && strcmp (plan->kind, "MigrationPlan") != 0)
    ferry_plan_diag (ctx, v->pos, "kind",
                     "unsupported kind '%s' (expected 'MigrationPlan')",
                     plan->kind);
  md = get (ctx, root, "", "metadata", true);
  if (md && want_map (ctx, md, "metadata")) {
    check_keys (ctx, md, "metadata", metadata_keys);
    v = get_str (ctx, md, "metadata", "name", true, &plan->name);
    if (v && !valid_plan_name (plan->name))
      ferry_plan_diag (ctx, v->pos, "metadata.name",
                       "invalid plan name '%s' (lower-case letters, digits "
                       "and '-', starting with a letter or digit; at most "
                       "63)",
                       plan->name);
    v = get (ctx, md, "metadata", "description", false);
    if (v) {
      char *d = NULL;
      if (str_node (ctx, v, "metadata.description", &d))
        free (d);
    }
  }
  parse_state (ctx, ferry_ynode_get (root, "state"), plan);
  if ((v = ferry_ynode_get (root, "sources")))
    parse_sources (ctx, v, plan);
  if ((v = ferry_ynode_get (root, "targets")))
    parse_targets (ctx, v, plan);
  if ((v = ferry_ynode_get (root, "defaults")) &&
      want_map (ctx, v, "defaults")) {
    check_keys (ctx, v, "defaults", defaults_keys);
    get_str (ctx, v, "defaults", "source", false, &plan->defaults.source);
    get_str (ctx, v, "defaults", "target", false, &plan->defaults.target);
    get_str (ctx, v, "defaults", "volume_type", false,
             &plan->defaults.volume_type);
    get_str (ctx, v, "defaults", "flavor", false, &plan->defaults.flavor);
    if (get_enum (ctx, v, "defaults", "guest_accel", guest_accels, &k))
      plan->defaults.guest_accel = xstrdup (ctx, guest_accels[k]);
  }
  if ((v = ferry_ynode_get (root, "flavors")))
    parse_flavors (ctx, v, plan);
  if ((v = get (ctx, root, "", "vms", true)))
    parse_vms (ctx, v, plan);
}
