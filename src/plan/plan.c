/* Loading a plan: read the file, parse, build, validate, collect every
 * diagnostic sorted by position; freeing and looking things up. */
#include "plan/plan-int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"

/* Record one diagnostic in CTX, formatted as "FILE:LINE:COL: PATH: message"
 * (the position and the key path are left out when unknown), for the loader
 * to sort and hand back. Never fails: running out of memory only sets
 * ctx->oom, which the loader turns into an error, so callers can report and
 * go on. */
void
ferry_plan_diag (struct ferry_pctx *ctx, struct ferry_pos pos, const char *path,
                 const char *fmt, ...)
{
  CLEANUP_FREE char *msg = NULL;
  char *line = NULL;
  va_list ap;
  int r;

  va_start (ap, fmt);
  r = vasprintf (&msg, fmt, ap);
  va_end (ap);
  if (r < 0) {
    msg = NULL;
    ctx->oom = true;
    return;
  }
  if (pos.line && path && *path)
    r = asprintf (&line, "%s:%u:%u: %s: %s", ctx->file, pos.line, pos.col, path,
                  msg);
  else if (pos.line)
    r = asprintf (&line, "%s:%u:%u: %s", ctx->file, pos.line, pos.col, msg);
  else if (path && *path)
    r = asprintf (&line, "%s: %s: %s", ctx->file, path, msg);
  else
    r = asprintf (&line, "%s: %s", ctx->file, msg);
  if (r < 0) {
    ctx->oom = true;
    return;
  }
  if (ctx->n_d == ctx->cap_d) {
    size_t ncap = ctx->cap_d ? ctx->cap_d * 2 : 16;
    struct ferry_pdiag *p = reallocarray (ctx->d, ncap, sizeof *p);
    if (p == NULL) {
      free (line);
      ctx->oom = true;
      return;
    }
    ctx->d = p;
    ctx->cap_d = ncap;
  }
  ctx->d[ctx->n_d].pos = pos;
  ctx->d[ctx->n_d].seq = ctx->n_d;
  ctx->d[ctx->n_d].line = line;
  ctx->n_d++;
}

/* qsort order for diagnostics: by line, then column, then the order they
 * were made, so the sort is stable and the output follows the file. */
static int
diag_cmp (const void *a, const void *b)
{
  const struct ferry_pdiag *x = a, *y = b;

  if (x->pos.line != y->pos.line)
    return x->pos.line < y->pos.line ? -1 : 1;
  if (x->pos.col != y->pos.col)
    return x->pos.col < y->pos.col ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Resolve path P against directory DIR (the plan's): absolute paths and an
 * empty or "." DIR leave P as is; the result is normalized lexically. Return
 * a malloc'd string the caller frees, or NULL when P is NULL or memory runs
 * out. */
char *
ferry_plan_resolve (const char *dir, const char *p)
{
  char *r;

  if (p == NULL)
    return NULL;
  if (p[0] == '/' || dir == NULL || strcmp (dir, ".") == 0 || *dir == '\0')
    r = strdup (p);
  else if (asprintf (&r, "%s%s%s", dir, dir[strlen (dir) - 1] == '/' ? "" : "/",
                     p) < 0)
    r = NULL;
  if (r)
    ferry_path_normalize (r);
  return r;
}

/* Levenshtein edit distance between A and B, for "did you mean" hints. Gives
 * up early, returning CAP + 1, when the distance must exceed CAP or either
 * string has 64 characters or more, so a hint costs little and needs no
 * allocation (one row on the stack). */
size_t
ferry_plan_distance (const char *a, const char *b, size_t cap)
{
  size_t la = strlen (a), lb = strlen (b), i, j;
  size_t row[64], prev, tmp, best;

  if (la >= FERRY_ARRAY_SIZE (row) || lb >= FERRY_ARRAY_SIZE (row))
    return cap + 1;
  if ((la > lb ? la - lb : lb - la) > cap)
    return cap + 1;
  for (j = 0; j <= lb; j++)
    row[j] = j;
  for (i = 1; i <= la; i++) {
    prev = row[0];
    row[0] = i;
    best = row[0];
    for (j = 1; j <= lb; j++) {
      tmp = row[j];
      row[j] = prev + (a[i - 1] != b[j - 1]);
      if (tmp + 1 < row[j])
        row[j] = tmp + 1;
      if (row[j - 1] + 1 < row[j])
        row[j] = row[j - 1] + 1;
      prev = tmp;
      if (row[j] < best)
        best = row[j];
    }
    if (best > cap)
      return cap + 1;
  }
  return row[lb] > cap ? cap + 1 : row[lb];
}

/* The directory of FILE, made absolute so that the engine can use resolved
 * paths from any working directory. */
static char *
plan_dir (const char *file)
{
  const char *slash = strrchr (file, '/');
  CLEANUP_FREE char *d = NULL;
  char cwd[4096];
  char *r;

  if (slash == NULL)
    d = strdup (".");
  else if (slash == file)
    d = strdup ("/");
  else
    d = strndup (file, (size_t) (slash - file));
  if (d == NULL)
    return NULL;
  if (d[0] == '/')
    return TAKE_PTR (d);
  if (getcwd (cwd, sizeof cwd) == NULL)
    return TAKE_PTR (d);
  if (strcmp (d, ".") == 0)
    return strdup (cwd);
  if (asprintf (&r, "%s/%s", cwd, d) < 0)
    return NULL;
  return r;
}

/* Load a plan from BUF (LEN bytes) as if read from FILE: parse the YAML,
 * build the plan, validate it. On success return 0 with *RET (free with
 * ferry_plan_free). When the plan has problems, return -1 with every
 * diagnostic in DIAG, sorted by position (free with ferry_diag_free), and
 * ERR untouched. A plan over the size limit is a diagnostic too. When memory
 * runs out, return -1 with ERR set. Validation runs only on a tree that
 * parsed, so its messages never follow from a syntax error. */
int
ferry_plan_load_buffer (const char *file, const char *buf, size_t len,
                        unsigned flags, struct ferry_plan **ret,
                        struct ferry_diag *diag, struct ferry_err *err)
{
  struct ferry_pctx ctx = {.file = file, .flags = flags};
  struct ferry_ydoc doc;
  struct ferry_plan *plan = NULL;
  size_t i;
  int r = -1;

  memset (diag, 0, sizeof *diag);
  memset (&doc, 0, sizeof doc);
  plan = calloc (1, sizeof *plan);
  if (plan == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  plan->file = strdup (file);
  plan->dir = plan_dir (file);
  plan->disk_cache = ferry_disk_cache_new ();
  if (plan->file == NULL || plan->dir == NULL || plan->disk_cache == NULL) {
    ferry_plan_free (plan);
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  }
  ctx.dir = plan->dir;

  if (len > FERRY_PLAN_MAX_BYTES)
    ferry_plan_diag (&ctx, (struct ferry_pos){0, 0}, NULL,
                     "plan file is too large (%zu bytes; the limit is %u MiB)",
                     len, FERRY_PLAN_MAX_BYTES >> 20);
  else if (ferry_plan_yaml_parse (&ctx, buf, len, &doc) == 0) {
    ferry_plan_parse_tree (&ctx, doc.root, plan);
    if (!ctx.oom)
      ferry_plan_validate (&ctx, doc.root, plan);
  }
  ferry_plan_yaml_free (&doc);

  if (ctx.oom) {
    ferry_err_set (err, ENOMEM, "cannot allocate memory");
    goto out;
  }
  if (ctx.n_d == 0) {
    *ret = TAKE_PTR (plan);
    r = 0;
    goto out;
  }
  qsort (ctx.d, ctx.n_d, sizeof *ctx.d, diag_cmp);
  diag->lines = calloc (ctx.n_d, sizeof *diag->lines);
  if (diag->lines == NULL) {
    ferry_err_set (err, errno, "cannot allocate memory");
    goto out;
  }
  for (i = 0; i < ctx.n_d; i++) {
    diag->lines[i] = ctx.d[i].line;
    ctx.d[i].line = NULL;
  }
  diag->n = ctx.n_d;
out:
  for (i = 0; i < ctx.n_d; i++)
    free (ctx.d[i].line);
  free (ctx.d);
  ferry_plan_free (plan);
  return r;
}

/* Read the plan FILE (at most one byte past the size limit, enough for
 * ferry_plan_load_buffer to say it is too big without reading a huge file)
 * and load it as ferry_plan_load_buffer does. Return 0, or -1 with DIAG or
 * ERR set as described there; ERR also for a file that cannot be opened or
 * read. */
int
ferry_plan_load (const char *file, unsigned flags, struct ferry_plan **ret,
                 struct ferry_diag *diag, struct ferry_err *err)
{
  CLEANUP_CLOSE int fd = -1;
  CLEANUP_FREE char *buf = NULL;
  size_t len = 0, cap = 0;
  ssize_t n;

  memset (diag, 0, sizeof *diag);
  fd = open (file, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return ferry_err_set (err, errno, "cannot open plan '%s'", file);
  /* Read at most one byte past the limit: enough to know it is too big. */
  for (;;) {
    if (len == cap) {
      size_t ncap = cap ? cap * 2 : 65536;
      char *p;
      if (ncap > FERRY_PLAN_MAX_BYTES + 1)
        ncap = FERRY_PLAN_MAX_BYTES + 1;
      if (ncap == cap)
        break;
      p = realloc (buf, ncap);
      if (p == NULL)
        return ferry_err_set (err, errno, "cannot allocate memory");
      buf = p;
      cap = ncap;
    }
    n = read (fd, buf + len, cap - len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return ferry_err_set (err, errno, "cannot read plan '%s'", file);
    if (n == 0)
      break;
    len += (size_t) n;
  }
  return ferry_plan_load_buffer (file, buf ? buf : "", len, flags, ret, diag,
                                 err);
}

/* Free the N strings of V and V itself. */
static void
free_strv (char **v, size_t n)
{
  size_t i;

  for (i = 0; i < n; i++)
    free (v[i]);
  free (v);
}

/* Free PLAN and every string and array it owns; NULL is allowed. Also used
 * on a plan the parser filled only in part, so each field may be NULL. */
void
ferry_plan_free (struct ferry_plan *plan)
{
  size_t i, j;

  if (plan == NULL)
    return;
  ferry_disk_cache_free (plan->disk_cache);
  free (plan->file);
  free (plan->dir);
  free (plan->api_version);
  free (plan->kind);
  free (plan->name);
  free (plan->state.path);
  free (plan->state.pool);
  free (plan->state.object);
  free (plan->state.conf);
  free (plan->state.user);
  for (i = 0; i < plan->n_sources; i++) {
    struct ferry_source *s = &plan->sources[i];
    free (s->name);
    free (s->path);
    for (j = 0; j < s->n_allow_dirs; j++)
      free (s->allow_dirs[j]);
    free (s->allow_dirs);
    free (s->pool);
    free (s->conf);
    free (s->user);
    free (s->uri);
  }
  free (plan->sources);
  for (i = 0; i < plan->n_targets; i++) {
    struct ferry_plan_target *t = &plan->targets[i];
    free (t->name);
    free (t->path);
    free (t->uri);
    free (t->pool);
    free (t->cloud);
    free (t->ceph.conf);
    free (t->ceph.user);
    free (t->ceph.volumes_pool);
    free (t->ceph.images_pool);
    free (t->volume_host);
    free (t->availability_zone);
    free (t->migration_uri);
    for (j = 0; j < t->n_networks; j++) {
      free (t->networks[j].from);
      free (t->networks[j].to);
    }
    free (t->networks);
  }
  free (plan->targets);
  free (plan->defaults.source);
  free (plan->defaults.target);
  free (plan->defaults.volume_type);
  free (plan->defaults.flavor);
  free (plan->defaults.guest_accel);
  for (i = 0; i < plan->n_flavors; i++)
    free (plan->flavors[i].name);
  free (plan->flavors);
  for (i = 0; i < plan->n_vms; i++) {
    struct ferry_vm *vm = &plan->vms[i];
    struct ferry_customize *c = &vm->customize;
    free (vm->name);
    free (vm->source);
    free (vm->target);
    free (vm->flavor);
    free (vm->availability_zone);
    free (vm->key_name);
    free (vm->user_data);
    free (vm->os_type);
    free (vm->firmware);
    free (vm->machine_type);
    free (vm->image_name);
    free (vm->domain);
    if (vm->found && plan->found_free)
      plan->found_free (vm->found);
    for (j = 0; j < vm->n_disks; j++) {
      free (vm->disks[j].file);
      free (vm->disks[j].path);
      ferry_location_clear (&vm->disks[j].loc);
      free (vm->disks[j].volume_type);
    }
    free (vm->disks);
    for (j = 0; j < vm->n_ports; j++) {
      free (vm->ports[j].network);
      free (vm->ports[j].subnet);
      free (vm->ports[j].fixed_ip);
      free (vm->ports[j].mac);
      free (vm->ports[j].gateway);
      free (vm->ports[j].guest_name);
      free_strv (vm->ports[j].dns, vm->ports[j].n_dns);
      free_strv (vm->ports[j].security_groups, vm->ports[j].n_security_groups);
    }
    free (vm->ports);
    free (c->hostname);
    for (j = 0; j < c->n_files; j++) {
      free (c->files[j].src);
      free (c->files[j].dst);
      free (c->files[j].mode);
      free (c->files[j].owner);
    }
    free (c->files);
    free (c->virtio_drivers);
    free_strv (c->runonce, c->n_runonce);
    free_strv (c->firstboot, c->n_firstboot);
    free (c->autologon.user);
    free (c->autologon.password.ref);
    free_strv (vm->depends_on, vm->n_depends_on);
    free_strv (vm->stop_command, vm->n_stop_command);
  }
  free (plan->vms);
  free (plan);
}

/* Free the lines of DIAG and leave it empty (the struct is the caller's);
 * NULL is allowed. */
void
ferry_diag_free (struct ferry_diag *diag)
{
  if (diag == NULL)
    return;
  free_strv (diag->lines, diag->n);
  diag->lines = NULL;
  diag->n = 0;
}

/* The VM called NAME in PLAN, or NULL (also when NAME is NULL, so an unset
 * reference can be passed as is). */
const struct ferry_vm *
ferry_plan_vm (const struct ferry_plan *plan, const char *name)
{
  size_t i;

  for (i = 0; name && i < plan->n_vms; i++)
    if (plan->vms[i].name && strcmp (plan->vms[i].name, name) == 0)
      return &plan->vms[i];
  return NULL;
}

/* The target called NAME in PLAN, or NULL (also when NAME is NULL). */
const struct ferry_plan_target *
ferry_plan_target (const struct ferry_plan *plan, const char *name)
{
  size_t i;

  for (i = 0; name && i < plan->n_targets; i++)
    if (strcmp (plan->targets[i].name, name) == 0)
      return &plan->targets[i];
  return NULL;
}

/* The source called NAME in PLAN, or NULL (also when NAME is NULL). */
const struct ferry_source *
ferry_plan_source (const struct ferry_plan *plan, const char *name)
{
  size_t i;

  for (i = 0; name && i < plan->n_sources; i++)
    if (strcmp (plan->sources[i].name, name) == 0)
      return &plan->sources[i];
  return NULL;
}

/* The flavor called NAME in PLAN, or NULL (also when NAME is NULL). */
const struct ferry_flavor *
ferry_plan_flavor (const struct ferry_plan *plan, const char *name)
{
  size_t i;

  for (i = 0; name && i < plan->n_flavors; i++)
    if (strcmp (plan->flavors[i].name, name) == 0)
      return &plan->flavors[i];
  return NULL;
}
