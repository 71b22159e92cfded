/* ferry command line: the only place that prints errors and picks exit
 * codes. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <malloc.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>

#include "disk/convert.h"
#include "disk/disk.h"
#include "engine/engine.h"
#include "graph/graph.h"
#include "modules/module.h"
#include "plan/plan.h"
#include "state/journal.h"
#include "state/lock.h"
#include "util/cleanup.h"
#include "util/err.h"
#include "util/log.h"

extern const char ferry_schema_json[];

/* Exit codes (docs/ferry.1.md). */
enum {
  EXIT_OK = 0,
  EXIT_ERROR = 1,      /* error, invalid plan, failed steps, lock held */
  EXIT_CHANGES = 2,    /* plan --detailed-exitcode: changes pending */
  EXIT_INTERRUPTED = 130,
};

static volatile sig_atomic_t arg_stop;

static void
on_signal (int sig)
{
  (void) sig;
  arg_stop = 1;
}

static void
install_signals (void)
{
  struct sigaction sa;

  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);
}

static int
die_err (const struct ferry_err *err)
{
  fprintf (stderr, "ferry: error: %s\n", err->msg);
  return 1;
}

/* Parse a size with optional K/M/G/T suffix (powers of 1024). */
static int
parse_size (const char *s, uint64_t *ret)
{
  char *end;
  unsigned long long v;

  errno = 0;
  v = strtoull (s, &end, 10);
  if (errno || end == s)
    return -1;
  switch (*end) {
  case 'T': case 't': v <<= 10; /* fallthrough */
  case 'G': case 'g': v <<= 10; /* fallthrough */
  case 'M': case 'm': v <<= 10; /* fallthrough */
  case 'K': case 'k': v <<= 10; end++; break;
  case '\0': break;
  default: return -1;
  }
  if (*end == 'i' || *end == 'B')
    end++;
  if (*end == 'B')
    end++;
  if (*end)
    return -1;
  *ret = v;
  return 0;
}

/* Standalone checkpoints: one line per durable offset on stderr, so a
 * script can resume with --resume-from the last one. */
static int
print_checkpoint (void *opaque, uint64_t offset, struct ferry_err *err)
{
  (void) opaque, (void) err;
  fprintf (stderr, "ferry: checkpoint %llu\n", (unsigned long long) offset);
  return 0;
}

/* Parse a size option (see parse_size) of at least MIN; print the error. */
static int
opt_size (const char *name, const char *arg, uint64_t min, uint64_t *ret)
{
  if (parse_size (arg, ret) < 0 || *ret < min) {
    fprintf (stderr, "ferry: error: --%s: bad size '%s'\n", name, arg);
    return -1;
  }
  return 0;
}

/* Parse a count option in 1..MAX; print the error. */
static int
opt_count (const char *name, const char *arg, unsigned max, unsigned *ret)
{
  char *end;
  unsigned long v;

  errno = 0;
  v = strtoul (arg, &end, 10);
  if (errno || *end || end == arg || v == 0 || v > max) {
    fprintf (stderr, "ferry: error: --%s: expected 1..%u\n", name, max);
    return -1;
  }
  *ret = (unsigned) v;
  return 0;
}

struct progress_state {
  bool tty;       /* live line on a TTY */
  double last;    /* last plain-line time */
};

static void
print_progress (void *opaque, const struct ferry_convert_progress *p)
{
  struct progress_state *ps = opaque;
  double pct = p->total ? 100.0 * (double) p->done / (double) p->total : 100;
  double rate = p->elapsed > 0 ? (double) p->done / p->elapsed : 0;
  double eta = rate > 0 ? (double) (p->total - p->done) / rate : 0;

  if (!ps->tty && !p->final && p->elapsed - ps->last < 10)
    return;
  ps->last = p->elapsed;
  fprintf (stderr,
           "%s%5.1f%%  %llu/%llu MiB  read %llu MiB  %.0f MiB/s  ETA %.0fs%s",
           ps->tty ? "\r" : "", pct,
           (unsigned long long) (p->done >> 20),
           (unsigned long long) (p->total >> 20),
           (unsigned long long) (p->data_read >> 20), rate / 1048576.0, eta,
           ps->tty && !p->final ? "  " : "\n");
}

/* ferry convert SRC DST */
static int
cmd_convert (int argc, char **argv)
{
  static const struct option opts[] = {
      {"progress", no_argument, 0, 'p'},
      {"parallel", required_argument, 0, 'j'},
      {"checksum", no_argument, 0, 'c'},
      {"resume-from", required_argument, 0, 'r'},
      {"chunk-size", required_argument, 0, 'C'},
      {"checkpoint-interval", required_argument, 0, 'I'},
      {"direct", no_argument, 0, 'D'},
      {"allow-dir", required_argument, 0, 'a'},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  struct ferry_convert_opts co = {0};
  struct ferry_convert_stats st;
  struct progress_state ps = {0};
  struct ferry_err err = {0};
  CLEANUP_CONFINE struct ferry_confine conf = {0};
  CLEANUP_FREE char **allow = calloc ((size_t) argc, sizeof *allow);
  size_t n_allow = 0;
  bool progress = false;
  unsigned i;
  int c;

  if (allow == NULL)
    return ferry_err_set (&err, ENOMEM, "cannot allocate memory"),
           die_err (&err);
  while ((c = getopt_long (argc, argv, "pj:ch", opts, NULL)) != -1) {
    switch (c) {
    case 'p': progress = true; break;
    case 'j':
      if (opt_count ("parallel", optarg, 64, &co.threads) < 0)
        return EXIT_ERROR;
      break;
    case 'c': co.checksum = true; break;
    case 'r':
      if (opt_size ("resume-from", optarg, 0, &co.resume_from) < 0)
        return EXIT_ERROR;
      break;
    case 'C':
      if (opt_size ("chunk-size", optarg, 0, &co.chunk_size) < 0)
        return EXIT_ERROR;
      break;
    case 'I':
      if (opt_size ("checkpoint-interval", optarg, 0,
                    &co.checkpoint_interval) < 0)
        return EXIT_ERROR;
      break;
    case 'D': co.direct = true; break;
    case 'a':
      allow[n_allow++] = optarg;
      break;
    case 'h':
      printf ("usage: ferry convert SRC DST [--progress] [--parallel N] "
              "[--checksum]\n"
              "                     [--resume-from OFFSET] [--chunk-size SIZE]"
              " [--checkpoint-interval SIZE] [--direct]\n"
              "                     [--allow-dir DIR]...\n"
              "Convert SRC (vmdk, vhd, vhdx, qcow2, raw, rbd:POOL/IMAGE@SNAP)"
              " into raw DST (a file or rbd:POOL/IMAGE).\n"
              "Files SRC names (extents, parents) must be in SRC's directory"
              " or a --allow-dir.\n");
      return 0;
    default: return 1;
    }
  }
  if (argc - optind != 2) {
    fprintf (stderr, "usage: ferry convert SRC DST [options] (see --help)\n");
    return 1;
  }
  if (progress) {
    ps.tty = isatty (2);
    co.progress = print_progress;
    co.opaque = &ps;
  }
  if (ferry_confine_for_image (&conf, argv[optind], allow, n_allow, &err) < 0)
    return die_err (&err);
  co.confine = &conf;
  co.stop = &arg_stop;
  co.checkpoint = print_checkpoint;
  install_signals ();
  if (ferry_convert (argv[optind], argv[optind + 1], &co, &st, &err) < 0) {
    die_err (&err);
    return arg_stop ? EXIT_INTERRUPTED : EXIT_ERROR;
  }
  if (co.checksum) {
    printf ("sha256 ");
    for (i = 0; i < 32; i++)
      printf ("%02x", st.sha256[i]);
    printf ("  %s\n", argv[optind]);
  }
  ferry_info ("converted %llu bytes (%llu read, %llu written) in %.2fs",
              (unsigned long long) st.virtual_size,
              (unsigned long long) st.data_read,
              (unsigned long long) st.written, st.seconds);
  return 0;
}

/* Parse "ferry CMD [--FLAG] ARG", the shape of the commands with one
 * boolean option.  Returns 0 (ARG in *ret_arg), 1 after printing --help,
 * -1 after printing a usage error. */
static int
one_flag_args (int argc, char **argv, const char *flag, const char *usage,
               const char *help, bool *ret_flag, const char **ret_arg)
{
  const struct option opts[] = {{flag, no_argument, 0, 'f'},
                                {"help", no_argument, 0, 'h'},
                                {0, 0, 0, 0}};
  int c;

  *ret_flag = false;
  while ((c = getopt_long (argc, argv, "h", opts, NULL)) != -1) {
    if (c == 'f')
      *ret_flag = true;
    else if (c == 'h') {
      printf ("usage: %s\n%s\n", usage, help);
      return 1;
    } else
      return -1;
  }
  if (argc - optind != 1) {
    fprintf (stderr, "usage: %s\n", usage);
    return -1;
  }
  *ret_arg = argv[optind];
  return 0;
}

/* ferry inspect DISK [--json]: format, size, allocation, chain, and the
 * problems found while walking every table (exit 1 if any). */
static int
cmd_inspect (int argc, char **argv)
{
  static const struct option opts[] = {{"json", no_argument, 0, 'j'},
                                       {"allow-dir", required_argument, 0, 'a'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  struct ferry_err err = {0};
  struct ferry_disk *disk, *l;
  struct ferry_map m;
  uint64_t off = 0, alloc = 0;
  CLEANUP_CONFINE struct ferry_confine conf = {0};
  CLEANUP_FREE char **allow = calloc ((size_t) argc, sizeof *allow);
  size_t n_allow = 0;
  const char *file;
  bool json = false;
  int depth = 0, c;

  if (allow == NULL)
    return ferry_err_set (&err, ENOMEM, "cannot allocate memory"),
           die_err (&err);
  while ((c = getopt_long (argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'j':
      json = true;
      break;
    case 'a':
      allow[n_allow++] = optarg;
      break;
    case 'h':
      printf ("usage: ferry inspect DISK [--json] [--allow-dir DIR]...\n"
              "Show format, subformat, virtual size, allocated bytes, the "
              "snapshot chain\nand problems found in the image's tables.  "
              "Files DISK names must be in\nits directory or a "
              "--allow-dir.\n");
      return EXIT_OK;
    default:
      return EXIT_ERROR;
    }
  }
  if (argc - optind != 1) {
    fprintf (stderr,
             "usage: ferry inspect DISK [--json] [--allow-dir DIR]...\n");
    return EXIT_ERROR;
  }
  file = argv[optind];
  if (ferry_confine_for_image (&conf, file, allow, n_allow, &err) < 0 ||
      ferry_disk_open_confined (file, &conf, &disk, &err) < 0)
    return die_err (&err);
  /* walk the whole map: every table entry gets checked on the way */
  while (off < disk->virtual_size) {
    if (ferry_disk_map (disk, off, disk->virtual_size - off, &m, &err) < 0)
      break;
    if (!m.zero)
      alloc += m.length;
    off += m.length;
  }
  if (json) {
    cJSON *root = cJSON_CreateObject (), *chain = cJSON_CreateArray ();
    cJSON *problems = cJSON_CreateArray (), *o;
    char *text;
    cJSON_AddStringToObject (root, "file", disk->path);
    cJSON_AddStringToObject (root, "format", disk->format->name);
    cJSON_AddStringToObject (root, "subformat", disk->subformat);
    cJSON_AddNumberToObject (root, "virtual_size", (double) disk->virtual_size);
    cJSON_AddNumberToObject (root, "allocated", (double) alloc);
    for (l = disk; l; l = l->parent) {
      o = cJSON_CreateObject ();
      cJSON_AddStringToObject (o, "file", l->path);
      cJSON_AddStringToObject (o, "format", l->format->name);
      cJSON_AddStringToObject (o, "subformat", l->subformat);
      cJSON_AddNumberToObject (o, "virtual_size", (double) l->virtual_size);
      cJSON_AddItemToArray (chain, o);
    }
    cJSON_AddItemToObject (root, "chain", chain);
    if (err.set)
      cJSON_AddItemToArray (problems, cJSON_CreateString (err.msg));
    cJSON_AddItemToObject (root, "problems", problems);
    text = cJSON_Print (root);
    printf ("%s\n", text);
    free (text);
    cJSON_Delete (root);
  } else {
    printf ("file:         %s\nformat:       %s\nsubformat:    %s\n"
            "virtual size: %llu bytes\nallocated:    %llu bytes%s\n",
            disk->path, disk->format->name, disk->subformat,
            (unsigned long long) disk->virtual_size,
            (unsigned long long) alloc, err.set ? " (at least)" : "");
    for (l = disk->parent; l; l = l->parent)
      printf ("parent[%d]:    %s (%s %s, %llu bytes)\n", depth++, l->path,
              l->format->name, l->subformat,
              (unsigned long long) l->virtual_size);
    printf ("problems:     %s\n", err.set ? err.msg : "none");
  }
  ferry_disk_close (disk);
  if (err.set) {
    fprintf (stderr, "ferry: error: %s\n", err.msg);
    return EXIT_ERROR;
  }
  return EXIT_OK;
}

/* ---- plan loading shared by the plan commands ---- */

struct loaded {
  struct ferry_plan *plan;   /* validated plan */
  struct ferry_graph *graph; /* its steps */
  char *journal_path;        /* state.path */
  char *lock_path;           /* state.path + ".lock" */
};

static void
loaded_free (struct loaded *l)
{
  ferry_graph_free (l->graph);
  ferry_plan_free (l->plan);
  free (l->journal_path);
  free (l->lock_path);
}

/* Load, validate and expand FILE; print every problem.  0 or -1. */
static int
load_plan (const char *file, unsigned flags, struct loaded *ret)
{
  struct ferry_diag diag = {0};
  struct ferry_err err = {0};
  size_t i;

  memset (ret, 0, sizeof *ret);
  if (ferry_plan_load (file, flags, &ret->plan, &diag, &err) < 0) {
    for (i = 0; i < diag.n; i++)
      fprintf (stderr, "%s\n", diag.lines[i]);
    if (err.set)
      fprintf (stderr, "ferry: error: %s\n", err.msg);
    else if (diag.n)
      fprintf (stderr, "ferry: error: %s: %zu problem%s found\n", file,
               diag.n, diag.n == 1 ? "" : "s");
    ferry_diag_free (&diag);
    return -1;
  }
  ferry_diag_free (&diag);
  if (ferry_graph_build (ret->plan, &ret->graph, &err) < 0) {
    fprintf (stderr, "ferry: error: %s: %s\n", file, err.msg);
    loaded_free (ret);
    return -1;
  }
  if (ret->plan->state.backend && strcmp (ret->plan->state.backend, "file")) {
    fprintf (stderr,
             "ferry: error: %s: state backend '%s' is not available in "
             "ferry %s (use backend: file)\n",
             file, ret->plan->state.backend, FERRY_VERSION);
    loaded_free (ret);
    return -1;
  }
  ret->journal_path = strdup (ret->plan->state.path);
  if (ret->journal_path == NULL ||
      asprintf (&ret->lock_path, "%s.lock", ret->plan->state.path) < 0) {
    fprintf (stderr, "ferry: error: out of memory\n");
    loaded_free (ret);
    return -1;
  }
  return 0;
}

/* --target VM... → selection mask (NULL when no --target). */
static int
select_targets (const struct loaded *l, char **targets, size_t n,
                bool **ret_keep)
{
  struct ferry_err err = {0};
  bool *keep;

  *ret_keep = NULL;
  if (n == 0)
    return 0;
  keep = calloc (l->graph->n + 1, sizeof *keep);
  if (keep == NULL)
    return -1;
  if (ferry_graph_select (l->graph, targets, n, keep, &err) < 0) {
    free (keep);
    return die_err (&err), -1;
  }
  *ret_keep = keep;
  return 0;
}

/* SHA-256 of a buffer as 64 hex digits. */
static void
sha256_hex (const void *buf, size_t len, char out[65])
{
  unsigned char md[32];
  unsigned int n = 0, i;

  EVP_Digest (buf, len, md, &n, EVP_sha256 (), NULL);
  for (i = 0; i < 32; i++)
    snprintf (out + 2 * i, 3, "%02x", md[i]);
}

/* SHA-256 of a file's contents (-1 if unreadable). */
static int
sha256_file (const char *path, char out[65])
{
  CLEANUP_FCLOSE FILE *f = fopen (path, "re");
  EVP_MD_CTX *c;
  unsigned char buf[65536], md[32];
  unsigned int n = 0, i;
  size_t r;

  if (f == NULL || (c = EVP_MD_CTX_new ()) == NULL)
    return -1;
  EVP_DigestInit_ex (c, EVP_sha256 (), NULL);
  while ((r = fread (buf, 1, sizeof buf, f)) > 0)
    EVP_DigestUpdate (c, buf, r);
  EVP_DigestFinal_ex (c, md, &n);
  EVP_MD_CTX_free (c);
  for (i = 0; i < 32; i++)
    snprintf (out + 2 * i, 3, "%02x", md[i]);
  return ferror (f) ? -1 : 0;
}

/* Digest of what was observed: id, verdict and detail of every step. */
static void
observations_hash (const struct ferry_graph *g,
                   const struct ferry_step_result *res, char out[65])
{
  char *buf = NULL;
  size_t len = 0, k, i;
  FILE *f = open_memstream (&buf, &len);

  if (f == NULL) {
    out[0] = '\0';
    return;
  }
  for (k = 0; k < g->n; k++) {
    i = g->order[k];
    if (res[i].status == FERRY_STATUS_EXCLUDED)
      continue;
    fprintf (f, "%s\t%s\t%s\n", g->steps[i].id,
             ferry_need_name (res[i].obs.need), res[i].obs.detail);
  }
  fclose (f);
  sha256_hex (buf, len, out);
  free (buf);
}

struct counts {
  size_t create, update, done, blocked;
};

static void
count_need (const struct ferry_graph *g, const struct ferry_step_result *res,
            struct counts *c)
{
  size_t i;

  memset (c, 0, sizeof *c);
  for (i = 0; i < g->n; i++) {
    if (res[i].status == FERRY_STATUS_EXCLUDED)
      continue;
    switch (res[i].obs.need) {
    case FERRY_NEED_CREATE: c->create++; break;
    case FERRY_NEED_UPDATE: c->update++; break;
    case FERRY_NEED_DONE: c->done++; break;
    default: c->blocked++; break;
    }
  }
}

/* Print the observations as `ferry plan` does (text or JSON). */
static void
print_plan (const struct loaded *l, const struct ferry_step_result *res,
            bool json, FILE *out)
{
  const struct ferry_graph *g = l->graph;
  char line[1200];
  struct counts c;
  size_t k, i;

  count_need (g, res, &c);
  if (json) {
    cJSON *root = cJSON_CreateObject (), *steps = cJSON_CreateArray (), *s;
    char *text;
    cJSON_AddStringToObject (root, "plan", l->plan->name);
    cJSON_AddStringToObject (root, "file", l->plan->file);
    for (k = 0; k < g->n; k++) {
      i = g->order[k];
      if (res[i].status == FERRY_STATUS_EXCLUDED)
        continue;
      s = cJSON_CreateObject ();
      cJSON_AddStringToObject (s, "id", g->steps[i].id);
      cJSON_AddStringToObject (s, "module", g->steps[i].module_name);
      cJSON_AddStringToObject (s, "action", ferry_need_name (res[i].obs.need));
      cJSON_AddStringToObject (s, "detail", res[i].obs.detail);
      cJSON_AddItemToArray (steps, s);
    }
    cJSON_AddItemToObject (root, "steps", steps);
    s = cJSON_CreateObject ();
    cJSON_AddNumberToObject (s, "create", (double) c.create);
    cJSON_AddNumberToObject (s, "update", (double) c.update);
    cJSON_AddNumberToObject (s, "done", (double) c.done);
    cJSON_AddNumberToObject (s, "blocked", (double) c.blocked);
    cJSON_AddItemToObject (root, "summary", s);
    text = cJSON_Print (root);
    fprintf (out, "%s\n", text);
    free (text);
    cJSON_Delete (root);
    return;
  }
  for (k = 0; k < g->n; k++) {
    i = g->order[k];
    const struct ferry_step *s = &g->steps[i];
    if (res[i].status == FERRY_STATUS_EXCLUDED)
      continue;
    if (s->module && res[i].obs.need != FERRY_NEED_BLOCKED)
      s->module->describe (s, &res[i].obs, line, sizeof line);
    else
      snprintf (line, sizeof line, "%s", res[i].obs.detail);
    fprintf (out, "%s %s: %s%s%s\n", ferry_need_sign (res[i].obs.need),
             s->id,
             res[i].obs.need == FERRY_NEED_BLOCKED ? "blocked (" : "", line,
             res[i].obs.need == FERRY_NEED_BLOCKED ? ")" : "");
  }
  fprintf (out, "\n%zu to create, %zu to update, %zu done, %zu blocked\n",
           c.create, c.update, c.done, c.blocked);
}

/* Open the journal read-only (a missing journal is empty). */
static struct ferry_journal *
open_journal_ro (const struct loaded *l)
{
  struct ferry_journal *j = NULL;
  struct ferry_err err = {0};
  size_t first = 0, bad;

  if (ferry_journal_open (l->journal_path, true, &j, &err) < 0) {
    die_err (&err);
    return NULL;
  }
  bad = ferry_journal_bad_lines (j, &first);
  if (bad)
    ferry_warn ("journal '%s': %zu unreadable line%s ignored (first: line "
                "%zu; a torn line after a crash is expected)",
                l->journal_path, bad, bad == 1 ? "" : "s", first);
  return j;
}

/* Write the saved plan: plan file hash, observations hash, steps. */
static int
write_saved (const char *out, const struct loaded *l,
             const struct ferry_step_result *res)
{
  char plan_hash[65], obs_hash[65], abs[PATH_MAX];
  cJSON *root;
  char *text;
  FILE *f;

  if (sha256_file (l->plan->file, plan_hash) < 0 ||
      realpath (l->plan->file, abs) == NULL) {
    fprintf (stderr, "ferry: error: cannot read '%s': %s\n", l->plan->file,
             strerror (errno));
    return -1;
  }
  observations_hash (l->graph, res, obs_hash);
  root = cJSON_CreateObject ();
  cJSON_AddNumberToObject (root, "ferry_saved_plan", 1);
  cJSON_AddStringToObject (root, "ferry_version", FERRY_VERSION);
  cJSON_AddStringToObject (root, "plan_file", abs);
  cJSON_AddStringToObject (root, "plan_sha256", plan_hash);
  cJSON_AddStringToObject (root, "observations_sha256", obs_hash);
  text = cJSON_Print (root);
  cJSON_Delete (root);
  f = fopen (out, "we");
  if (f == NULL || fprintf (f, "%s\n", text) < 0 || fclose (f) != 0) {
    fprintf (stderr, "ferry: error: cannot write '%s': %s\n", out,
             strerror (errno));
    free (text);
    return -1;
  }
  free (text);
  return 0;
}

/* ---- ferry validate ---- */
static int
cmd_validate (int argc, char **argv)
{
  static const struct option opts[] = {
      {"no-disk-check", no_argument, 0, 'n'},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  unsigned flags = 0;
  struct loaded l;
  int c, rc = EXIT_OK, i;

  while ((c = getopt_long (argc, argv, "h", opts, NULL)) != -1) {
    if (c == 'n')
      flags |= FERRY_PLAN_NO_DISK_CHECK;
    else if (c == 'h') {
      printf ("usage: ferry validate [--no-disk-check] PLAN...\n"
              "Check syntax and semantics of migration plans (no changes, "
              "no network).\n");
      return EXIT_OK;
    } else
      return EXIT_ERROR;
  }
  if (optind >= argc) {
    fprintf (stderr, "usage: ferry validate [--no-disk-check] PLAN...\n");
    return EXIT_ERROR;
  }
  for (i = optind; i < argc; i++) {
    if (load_plan (argv[i], flags, &l) < 0) {
      rc = EXIT_ERROR;
      continue;
    }
    printf ("%s: ok (%zu vm%s, %zu steps)\n", argv[i], l.plan->n_vms,
            l.plan->n_vms == 1 ? "" : "s", l.graph->n);
    loaded_free (&l);
  }
  return rc;
}

/* ---- ferry plan ---- */
static int
cmd_plan (int argc, char **argv)
{
  static const struct option opts[] = {
      {"out", required_argument, 0, 'o'},
      {"json", no_argument, 0, 'j'},
      {"detailed-exitcode", no_argument, 0, 'd'},
      {"target", required_argument, 0, 't'},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  const char *out = NULL;
  bool json = false, detailed = false;
  char *targets[256];
  size_t n_targets = 0;
  CLEANUP_FREE bool *keep = NULL;
  CLEANUP_FREE struct ferry_step_result *res = NULL;
  struct ferry_ctx ctx = {0};
  struct ferry_err err = {0};
  struct counts cnt;
  struct loaded l;
  int c, rc;

  while ((c = getopt_long (argc, argv, "o:jt:h", opts, NULL)) != -1) {
    switch (c) {
    case 'o': out = optarg; break;
    case 'j': json = true; break;
    case 'd': detailed = true; break;
    case 't':
      if (n_targets == FERRY_ARRAY_SIZE (targets)) {
        fprintf (stderr, "ferry: error: too many --target options\n");
        return EXIT_ERROR;
      }
      targets[n_targets++] = optarg;
      break;
    case 'h':
      printf ("usage: ferry plan PLAN [-o SAVED] [--json] "
              "[--detailed-exitcode] [--target VM]...\n"
              "Observe the world (read-only) and print what apply would "
              "change.\n");
      return EXIT_OK;
    default: return EXIT_ERROR;
    }
  }
  if (argc - optind != 1) {
    fprintf (stderr, "usage: ferry plan PLAN [options] (see --help)\n");
    return EXIT_ERROR;
  }
  if (load_plan (argv[optind], 0, &l) < 0)
    return EXIT_ERROR;
  rc = EXIT_ERROR;
  if (select_targets (&l, targets, n_targets, &keep) < 0)
    goto out;
  res = calloc (l.graph->n + 1, sizeof *res);
  ctx.plan = l.plan;
  ctx.dry_run = true;
  ctx.journal = open_journal_ro (&l);
  if (res == NULL || ctx.journal == NULL)
    goto out;
  if (ferry_engine_observe (&ctx, l.graph, keep, res, &err) < 0) {
    die_err (&err);
    goto out;
  }
  print_plan (&l, res, json, stdout);
  if (out && write_saved (out, &l, res) < 0)
    goto out;
  count_need (l.graph, res, &cnt);
  rc = detailed && (cnt.create || cnt.update || cnt.blocked) ? EXIT_CHANGES
                                                              : EXIT_OK;
out:
  ferry_journal_close (ctx.journal);
  loaded_free (&l);
  return rc;
}

/* ---- ferry apply ---- */

struct apply_ui {
  bool json;                /* JSON events on stdout */
  bool tty;                 /* stderr is a terminal: live progress line */
  pthread_mutex_t lock;     /* guards the fields below */
  double last_line;         /* last progress print (plain mode) */
  bool live;                /* a live line is on screen */
};

static double
mono_now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void
ui_step (void *opaque, const struct ferry_step *step,
         const struct ferry_step_result *res)
{
  struct apply_ui *ui = opaque;
  cJSON *o;
  char *text;

  pthread_mutex_lock (&ui->lock);
  if (ui->json) {
    o = cJSON_CreateObject ();
    cJSON_AddStringToObject (o, "event", "step");
    cJSON_AddStringToObject (o, "step", step->id);
    cJSON_AddStringToObject (o, "status", ferry_status_name (res->status));
    if (res->status != FERRY_STATUS_RUNNING)
      cJSON_AddStringToObject (o, "action", ferry_need_name (res->obs.need));
    if (res->obs.detail[0])
      cJSON_AddStringToObject (o, "detail", res->obs.detail);
    if (res->msg[0])
      cJSON_AddStringToObject (o, "message", res->msg);
    text = cJSON_PrintUnformatted (o);
    printf ("%s\n", text);
    fflush (stdout);
    free (text);
    cJSON_Delete (o);
  } else if (res->status != FERRY_STATUS_RUNNING) {
    if (ui->live) {
      fputs ("\r\033[K", stderr);
      ui->live = false;
    }
    switch (res->status) {
    case FERRY_STATUS_UNCHANGED:
      printf ("= %s: %s\n", step->id, res->obs.detail);
      break;
    case FERRY_STATUS_APPLIED:
      printf ("%s %s: %s (%.1fs)\n", ferry_need_sign (res->obs.need),
              step->id, res->obs.detail, res->seconds);
      break;
    default:
      printf ("! %s: %s: %s\n", step->id, ferry_status_name (res->status),
              res->msg);
      break;
    }
    fflush (stdout);
  }
  pthread_mutex_unlock (&ui->lock);
}

static void
ui_progress (struct ferry_ctx *ctx, const struct ferry_step *step,
             uint64_t done, uint64_t total, double elapsed, bool final)
{
  struct apply_ui *ui = ctx->opaque;
  double rate = elapsed > 0 ? (double) done / elapsed : 0;
  double eta = rate > 0 ? (double) (total - done) / rate : 0;
  double t = mono_now ();

  pthread_mutex_lock (&ui->lock);
  if (ui->json) {
    printf ("{\"event\":\"progress\",\"step\":\"%s\",\"done\":%llu,"
            "\"total\":%llu,\"rate\":%.0f,\"eta\":%.0f}\n",
            step->id, (unsigned long long) done, (unsigned long long) total,
            rate, eta);
    fflush (stdout);
  } else if (ui->tty) {
    fprintf (stderr, "\r\033[K%s: %5.1f%% %llu/%llu MiB %.0f MiB/s ETA %.0fs",
             step->id, total ? 100.0 * (double) done / (double) total : 100,
             (unsigned long long) (done >> 20),
             (unsigned long long) (total >> 20), rate / 1048576, eta);
    ui->live = !final;
    if (final)
      fputs ("\r\033[K", stderr);
  } else if (t - ui->last_line >= 10 || final) {
    ui->last_line = t;
    fprintf (stderr, "%s: %.1f%% %llu/%llu MiB %.0f MiB/s ETA %.0fs\n",
             step->id, total ? 100.0 * (double) done / (double) total : 100,
             (unsigned long long) (done >> 20),
             (unsigned long long) (total >> 20), rate / 1048576, eta);
  }
  pthread_mutex_unlock (&ui->lock);
}

/* If FILE is a saved plan, fill the plan path and the expected hashes. */
static int
read_saved (const char *file, char **ret_plan, char *plan_hash,
            char *obs_hash, bool *ret_is_saved)
{
  CLEANUP_FCLOSE FILE *f = fopen (file, "re");
  char buf[8192];
  size_t n;
  cJSON *root, *p, *h, *o, *m;

  *ret_is_saved = false;
  if (f == NULL)
    return 0; /* load_plan reports it */
  n = fread (buf, 1, sizeof buf - 1, f);
  buf[n] = '\0';
  if (n == 0 || buf[0] != '{')
    return 0;
  root = cJSON_Parse (buf);
  if (root == NULL)
    return 0;
  m = cJSON_GetObjectItem (root, "ferry_saved_plan");
  p = cJSON_GetObjectItem (root, "plan_file");
  h = cJSON_GetObjectItem (root, "plan_sha256");
  o = cJSON_GetObjectItem (root, "observations_sha256");
  if (!cJSON_IsNumber (m) || !cJSON_IsString (p) || !cJSON_IsString (h) ||
      !cJSON_IsString (o) || strlen (h->valuestring) != 64 ||
      strlen (o->valuestring) != 64) {
    cJSON_Delete (root);
    fprintf (stderr, "ferry: error: '%s' is not a valid saved plan\n", file);
    return -1;
  }
  *ret_plan = strdup (p->valuestring);
  memcpy (plan_hash, h->valuestring, 65);
  memcpy (obs_hash, o->valuestring, 65);
  cJSON_Delete (root);
  *ret_is_saved = true;
  return *ret_plan ? 0 : -1;
}

/* Take the plan's lock; a lock left by a dead process on this host (a
 * crashed or killed apply) is taken over with a warning. */
static int
take_lock (const char *path, struct ferry_lock **ret)
{
  struct ferry_lock_owner owner;
  struct ferry_err err = {0};

  if (ferry_lock_acquire (path, ret, &err) == 0)
    return 0;
  if (ferry_lock_read (path, &owner, NULL) == 1 &&
      ferry_lock_is_stale (&owner)) {
    ferry_warn ("taking over the lock of pid %d on this host: that process "
                "is gone (crashed or killed)",
                (int) owner.pid);
    ferry_err_clear (&err);
    if (ferry_lock_break (path, false, &owner, &err) >= 0 &&
        ferry_lock_acquire (path, ret, &err) == 0)
      return 0;
  }
  return die_err (&err), -1;
}

static int
cmd_apply (int argc, char **argv)
{
  static const struct option opts[] = {
      {"parallel", required_argument, 0, 'p'},
      {"target", required_argument, 0, 't'},
      {"dry-run", no_argument, 0, 'n'},
      {"yes", no_argument, 0, 'y'},
      {"json", no_argument, 0, 'j'},
      {"io-threads", required_argument, 0, 'I'},
      {"checkpoint-interval", required_argument, 0, 'C'},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  unsigned parallel = 2;
  bool dry_run = false, yes = false, json = false, is_saved = false;
  char *targets[256];
  size_t n_targets = 0, i;
  CLEANUP_FREE bool *keep = NULL;
  CLEANUP_FREE struct ferry_step_result *res = NULL;
  CLEANUP_FREE char *saved_plan = NULL;
  char saved_hash[65], saved_obs[65], hash[65];
  struct ferry_engine_events ev = {0};
  struct apply_ui ui = {0};
  struct ferry_ctx ctx = {0};
  struct ferry_err err = {0};
  struct ferry_lock *lock = NULL;
  const char *file;
  struct loaded l;
  size_t n_ok = 0, n_unch = 0, n_fail = 0, n_skip = 0;
  int c, rc;

  while ((c = getopt_long (argc, argv, "p:t:nyjh", opts, NULL)) != -1) {
    switch (c) {
    case 'p':
      if (opt_count ("parallel", optarg, 256, &parallel) < 0)
        return EXIT_ERROR;
      break;
    case 't':
      if (n_targets == FERRY_ARRAY_SIZE (targets)) {
        fprintf (stderr, "ferry: error: too many --target options\n");
        return EXIT_ERROR;
      }
      targets[n_targets++] = optarg;
      break;
    case 'n': dry_run = true; break;
    case 'y': yes = true; break;
    case 'j': json = true; break;
    case 'I':
      if (opt_count ("io-threads", optarg, 64, &ctx.io_threads) < 0)
        return EXIT_ERROR;
      break;
    case 'C':
      if (opt_size ("checkpoint-interval", optarg, 4096,
                    &ctx.checkpoint_interval) < 0)
        return EXIT_ERROR;
      break;
    case 'h':
      printf ("usage: ferry apply PLAN|SAVED [--parallel N] [--target VM]..."
              " [--dry-run] [--yes] [--json]\n"
              "                  [--io-threads N] [--checkpoint-interval "
              "SIZE]\n"
              "Converge the world to the plan; rerun to resume after any "
              "failure.\n");
      return EXIT_OK;
    default: return EXIT_ERROR;
    }
  }
  if (argc - optind != 1) {
    fprintf (stderr, "usage: ferry apply PLAN|SAVED [options] (see --help)\n");
    return EXIT_ERROR;
  }
  file = argv[optind];
  if (read_saved (file, &saved_plan, saved_hash, saved_obs, &is_saved) < 0)
    return EXIT_ERROR;
  if (is_saved) {
    if (sha256_file (saved_plan, hash) < 0) {
      fprintf (stderr, "ferry: error: cannot read plan '%s' named by saved "
                       "plan '%s'\n", saved_plan, file);
      return EXIT_ERROR;
    }
    if (strcmp (hash, saved_hash) != 0) {
      fprintf (stderr,
               "ferry: error: saved plan '%s' is stale: '%s' changed since "
               "it was saved; run 'ferry plan' again\n",
               file, saved_plan);
      return EXIT_ERROR;
    }
    file = saved_plan;
  }
  if (!yes && !dry_run) {
    if (!isatty (0)) {
      fprintf (stderr, "ferry: error: refusing to apply without --yes "
                       "(standard input is not a terminal)\n");
      return EXIT_ERROR;
    }
  }
  if (load_plan (file, 0, &l) < 0)
    return EXIT_ERROR;
  rc = EXIT_ERROR;
  if (select_targets (&l, targets, n_targets, &keep) < 0)
    goto out;
  res = calloc (l.graph->n + 1, sizeof *res);
  if (res == NULL)
    goto out;
  ctx.plan = l.plan;
  if (is_saved || (!yes && !dry_run)) {
    /* show (and for saved plans, compare) what is about to change */
    ctx.dry_run = true;
    ctx.journal = open_journal_ro (&l);
    if (ctx.journal == NULL)
      goto out;
    ferry_engine_observe (&ctx, l.graph, keep, res, &err);
    ferry_journal_close (ctx.journal);
    ctx.journal = NULL;
    if (is_saved) {
      observations_hash (l.graph, res, hash);
      if (strcmp (hash, saved_obs) != 0) {
        fprintf (stderr,
                 "ferry: error: saved plan '%s' is stale: the world changed "
                 "since it was saved; run 'ferry plan' again\n",
                 argv[optind]);
        goto out;
      }
    }
    if (!yes && !dry_run) {
      char answer[16] = "";
      print_plan (&l, res, false, stdout);
      printf ("\nApply these changes? Only 'yes' is accepted: ");
      fflush (stdout);
      if (fgets (answer, sizeof answer, stdin) == NULL ||
          strcmp (answer, "yes\n") != 0) {
        fprintf (stderr, "ferry: apply cancelled\n");
        goto out;
      }
    }
  }
  ctx.dry_run = dry_run;
  if (dry_run) {
    ctx.journal = open_journal_ro (&l);
    if (ctx.journal == NULL)
      goto out;
  } else {
    if (take_lock (l.lock_path, &lock) < 0)
      goto out;
    if (ferry_journal_open (l.journal_path, false, &ctx.journal, &err) < 0) {
      die_err (&err);
      goto out;
    }
    size_t first = 0, bad = ferry_journal_bad_lines (ctx.journal, &first);
    if (bad)
      ferry_warn ("journal '%s': %zu unreadable line%s ignored (first: "
                  "line %zu; a torn line after a crash is expected)",
                  l.journal_path, bad, bad == 1 ? "" : "s", first);
  }
  ctx.stop = &arg_stop;
  ctx.progress = ui_progress;
  ctx.opaque = &ui;
  ui.json = json;
  ui.tty = isatty (2);
  pthread_mutex_init (&ui.lock, NULL);
  ev.step = ui_step;
  ev.opaque = &ui;
  install_signals ();
  ferry_info ("%s %s: %zu steps, %u parallel", dry_run ? "dry-run" : "apply",
              l.plan->file, l.graph->n, parallel);
  if (ferry_engine_apply (&ctx, l.graph, keep, parallel, &ev, res, &err) <
      0) {
    die_err (&err);
    goto out;
  }
  for (i = 0; i < l.graph->n; i++) {
    switch (res[i].status) {
    case FERRY_STATUS_APPLIED: n_ok++; break;
    case FERRY_STATUS_UNCHANGED: n_unch++; break;
    case FERRY_STATUS_EXCLUDED: break;
    case FERRY_STATUS_SKIPPED: n_skip++; break;
    default: n_fail++; break;
    }
  }
  if (json)
    printf ("{\"event\":\"summary\",\"applied\":%zu,\"unchanged\":%zu,"
            "\"failed\":%zu,\"skipped\":%zu,\"dry_run\":%s}\n",
            n_ok, n_unch, n_fail, n_skip, dry_run ? "true" : "false");
  else
    printf ("\n%s: %zu %s, %zu unchanged, %zu failed, %zu skipped\n",
            dry_run ? "Dry run" : "Apply", n_ok,
            dry_run ? "would change" : "applied", n_unch, n_fail, n_skip);
  if (arg_stop)
    rc = EXIT_INTERRUPTED;
  else
    rc = n_fail || n_skip ? EXIT_ERROR : EXIT_OK;
  if (rc == EXIT_ERROR)
    fprintf (stderr, "ferry: error: %zu step%s failed, %zu skipped; fix the "
                     "cause and run apply again to resume\n",
             n_fail, n_fail == 1 ? "" : "s", n_skip);
out:
  ferry_journal_close (ctx.journal);
  ferry_lock_release (lock);
  loaded_free (&l);
  return rc;
}

/* ---- ferry status ---- */
static int
cmd_status (int argc, char **argv)
{
  const struct ferry_step_record *rec;
  struct ferry_journal *j;
  struct loaded l;
  const char *file;
  bool json;
  char when[64];
  cJSON *root = NULL, *arr = NULL, *o;
  size_t k, i;
  int r;

  r = one_flag_args (argc, argv, "json", "ferry status PLAN [--json]",
                     "Show each step's state as the journal records it.",
                     &json, &file);
  if (r)
    return r < 0 ? EXIT_ERROR : EXIT_OK;
  if (load_plan (file, FERRY_PLAN_NO_DISK_CHECK, &l) < 0)
    return EXIT_ERROR;
  j = open_journal_ro (&l);
  if (j == NULL) {
    loaded_free (&l);
    return EXIT_ERROR;
  }
  if (json) {
    root = cJSON_CreateObject ();
    arr = cJSON_CreateArray ();
    cJSON_AddStringToObject (root, "plan", l.plan->name);
    cJSON_AddStringToObject (root, "journal", l.journal_path);
    cJSON_AddItemToObject (root, "steps", arr);
  }
  for (k = 0; k < l.graph->n; k++) {
    i = l.graph->order[k];
    const char *id = l.graph->steps[i].id, *state = "not started";
    rec = ferry_journal_step (j, id);
    when[0] = '\0';
    if (rec) {
      time_t t = (time_t) (rec->time_ms / 1000);
      struct tm tm;
      gmtime_r (&t, &tm);
      strftime (when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
      state = rec->last == FERRY_EVENT_DONE   ? "done"
              : rec->last == FERRY_EVENT_FAIL ? "failed"
                                              : "in progress";
    }
    if (json) {
      o = cJSON_CreateObject ();
      cJSON_AddStringToObject (o, "id", id);
      cJSON_AddStringToObject (o, "state", state);
      if (rec) {
        cJSON_AddStringToObject (o, "changed", when);
        if (rec->has_checkpoint)
          cJSON_AddNumberToObject (o, "checkpoint", (double) rec->checkpoint);
        if (rec->msg)
          cJSON_AddStringToObject (o, "message", rec->msg);
      }
      cJSON_AddItemToArray (arr, o);
    } else {
      printf ("%-40s %-12s %s", id, state, when);
      if (rec && rec->has_checkpoint && rec->last != FERRY_EVENT_DONE)
        printf ("  checkpoint %llu MiB",
                (unsigned long long) (rec->checkpoint >> 20));
      if (rec && rec->last == FERRY_EVENT_FAIL && rec->msg)
        printf ("  %s", rec->msg);
      putchar ('\n');
    }
  }
  if (json) {
    char *text = cJSON_Print (root);
    printf ("%s\n", text);
    free (text);
    cJSON_Delete (root);
  }
  ferry_journal_close (j);
  loaded_free (&l);
  return EXIT_OK;
}

/* ---- ferry graph ---- */
static int
cmd_graph (int argc, char **argv)
{
  struct loaded l;
  const char *file;
  bool dot;
  char *text;
  int r;

  r = one_flag_args (argc, argv, "dot", "ferry graph PLAN [--dot]",
                     "Print the dependency graph of the plan's steps.", &dot,
                     &file);
  if (r)
    return r < 0 ? EXIT_ERROR : EXIT_OK;
  if (load_plan (file, FERRY_PLAN_NO_DISK_CHECK, &l) < 0)
    return EXIT_ERROR;
  text = ferry_graph_render (l.graph, dot);
  if (text)
    fputs (text, stdout);
  free (text);
  loaded_free (&l);
  return text ? EXIT_OK : EXIT_ERROR;
}

/* ---- ferry unlock ---- */
static int
cmd_unlock (int argc, char **argv)
{
  struct ferry_lock_owner owner;
  struct ferry_err err = {0};
  struct loaded l;
  const char *file;
  bool force;
  int r;

  r = one_flag_args (argc, argv, "force", "ferry unlock PLAN [--force]",
                     "Remove the plan's lock if its owner is dead on this "
                     "host (--force: any lock).",
                     &force, &file);
  if (r)
    return r < 0 ? EXIT_ERROR : EXIT_OK;
  if (load_plan (file, FERRY_PLAN_NO_DISK_CHECK, &l) < 0)
    return EXIT_ERROR;
  memset (&owner, 0, sizeof owner);
  r = ferry_lock_break (l.lock_path, force, &owner, &err);
  if (r < 0)
    die_err (&err);
  else if (r == 0)
    printf ("%s: not locked\n", file);
  else
    printf ("%s: removed lock of pid %d on host '%s' (ferry %s)\n", file,
            (int) owner.pid, owner.host, owner.version);
  loaded_free (&l);
  return r < 0 ? EXIT_ERROR : EXIT_OK;
}

static void
usage (FILE *f)
{
  fprintf (f,
           "usage: ferry [--version] [-v] [--log-file PATH] COMMAND [ARGS]\n"
           "\n"
           "Plans (YAML, see ferry-plan(5)):\n"
           "  validate PLAN...      check syntax and semantics\n"
           "  plan PLAN             show what apply would change (read-only)\n"
           "  apply PLAN|SAVED      converge; rerun to resume\n"
           "  status PLAN           per-step state from the journal\n"
           "  graph PLAN            the dependency graph (--dot)\n"
           "  unlock PLAN           release a stale lock\n"
           "  schema                print the plan's JSON Schema\n"
           "  modules               list the step modules\n"
           "Disks:\n"
           "  convert SRC DST       convert one disk to raw (file or rbd:)\n"
           "  inspect DISK          format, size, allocation, chain\n"
           "\n"
           "Run 'ferry COMMAND --help' for a command's options; man ferry.\n");
}

int
main (int argc, char **argv)
{
  struct ferry_err err = {0};
  const char *cmd;
  int i = 1;
  size_t m;

  /* Big buffers (chunks, librbd's copies) come and go on many threads: a
   * fixed mmap threshold gives them back to the kernel when freed instead
   * of letting glibc's per-thread arenas keep them (RSS 265 → 90 MiB on an
   * RBD conversion). */
  mallopt (M_MMAP_THRESHOLD, 256 << 10);
  if (ferry_modules_check (&err) < 0)
    return die_err (&err);
  /* global options before the command */
  while (i < argc && argv[i][0] == '-') {
    if (strcmp (argv[i], "-v") == 0 || strcmp (argv[i], "--verbose") == 0) {
      ferry_log_set_level (FERRY_LOG_DEBUG);
    } else if (strcmp (argv[i], "-q") == 0 ||
               strcmp (argv[i], "--quiet") == 0) {
      ferry_log_set_level (FERRY_LOG_WARN);
    } else if (strcmp (argv[i], "--log-file") == 0 && i + 1 < argc) {
      if (ferry_log_open_file (argv[++i]) < 0) {
        fprintf (stderr, "ferry: error: cannot open log file '%s': %s\n",
                 argv[i], strerror (errno));
        return EXIT_ERROR;
      }
    } else if (strcmp (argv[i], "--version") == 0) {
      printf ("ferry %s\n", FERRY_VERSION);
      return EXIT_OK;
    } else if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0) {
      usage (stdout);
      return EXIT_OK;
    } else {
      fprintf (stderr, "ferry: error: unknown option '%s'\n", argv[i]);
      usage (stderr);
      return EXIT_ERROR;
    }
    i++;
  }
  if (i >= argc) {
    usage (stderr);
    return EXIT_ERROR;
  }
  cmd = argv[i];
  argc -= i;
  argv += i;
  optind = 1;
  if (strcmp (cmd, "version") == 0) {
    printf ("ferry %s\n", FERRY_VERSION);
    return EXIT_OK;
  }
  if (strcmp (cmd, "help") == 0) {
    usage (stdout);
    return EXIT_OK;
  }
  if (strcmp (cmd, "schema") == 0) {
    fputs (ferry_schema_json, stdout);
    return EXIT_OK;
  }
  if (strcmp (cmd, "modules") == 0) {
    for (m = 0; m < ferry_n_modules; m++)
      printf ("%-10s %s\n", ferry_modules[m]->name, ferry_modules[m]->summary);
    return EXIT_OK;
  }
  if (strcmp (cmd, "validate") == 0)
    return cmd_validate (argc, argv);
  if (strcmp (cmd, "plan") == 0)
    return cmd_plan (argc, argv);
  if (strcmp (cmd, "apply") == 0)
    return cmd_apply (argc, argv);
  if (strcmp (cmd, "status") == 0)
    return cmd_status (argc, argv);
  if (strcmp (cmd, "graph") == 0)
    return cmd_graph (argc, argv);
  if (strcmp (cmd, "unlock") == 0)
    return cmd_unlock (argc, argv);
  if (strcmp (cmd, "convert") == 0)
    return cmd_convert (argc, argv);
  if (strcmp (cmd, "inspect") == 0)
    return cmd_inspect (argc, argv);
  fprintf (stderr, "ferry: error: unknown command '%s'\n", cmd);
  usage (stderr);
  return EXIT_ERROR;
}
