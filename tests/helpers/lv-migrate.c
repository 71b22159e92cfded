/* lv-migrate: one live migration through ferry_lvm_migrate, by hand or
 * from a benchmark, and the observation calls a resume uses.
 *
 *   lv-migrate SRC_URI DST_URI DOMAIN [--non-shared] [--unsafe]
 *     [--bandwidth MIB] [--downtime MS] [--downtime-limit MS]
 *     [--escalate downtime,auto-converge,postcopy] [--stall S]
 *     [--deadline S] [--poll S] [--undefine-source] [--dest-xml FILE]
 *     [--dst-client URI] [--disk DEV]... [--adopt] [--quiet]
 *   lv-migrate --observe SRC_URI DST_URI DOMAIN
 *   lv-migrate --wait-job SRC_URI DOMAIN TIMEOUT_S
 *   lv-migrate --clean-target DST_URI DOMAIN UUID
 *
 * Migration: prints "T event: ..." lines, "T progress: ..." per sample
 * (not with --quiet) and a last "result: ..." line with the total time,
 * downtime, bytes, iterations and escalations.  SIGINT/SIGTERM abort the
 * migration (before post-copy).  --adopt: take over the job a killed run
 * left (or finish what it left).  Exit 0, or 1 with the error on stderr. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clients/libvirt-migrate.h"

static volatile sig_atomic_t stop; /* set by SIGINT/SIGTERM: abort */

/* SIGINT/SIGTERM: ask the migration to abort. */
static void
on_signal (int sig)
{
  (void) sig;
  stop = 1;
}

/* Seconds since the first call. */
static double
stamp (void)
{
  static double t0;
  struct timespec ts;
  double t;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  t = (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
  if (t0 == 0)
    t0 = t;
  return t - t0;
}

/* Event callback: one timestamped line. */
static void
on_event (void *opaque, const char *msg)
{
  (void) opaque;
  printf ("%6.1f event: %s\n", stamp (), msg);
  fflush (stdout);
}

/* Progress callback: the sample and what remains, one line. */
static void
on_progress (void *opaque, const struct ferry_lvm_stats *s)
{
  char buf[256];

  (void) opaque;
  ferry_lvm_stats_format (s, buf, sizeof buf);
  printf ("%6.1f progress: %s (remaining memory %llu, disk %llu bytes)\n",
          stamp (), buf, (unsigned long long) s->mem_remaining,
          (unsigned long long) s->disk_remaining);
  fflush (stdout);
}

/* Read FILE whole into a string (NULL on failure, message printed). */
static char *
slurp (const char *file)
{
  FILE *f = fopen (file, "r");
  char *buf = NULL;
  size_t len = 0;

  if (f == NULL) {
    perror (file);
    return NULL;
  }
  if (getdelim (&buf, &len, '\0', f) < 0) {
    perror (file);
    free (buf);
    buf = NULL;
  }
  fclose (f);
  return buf;
}

/* Parse "downtime,auto-converge,postcopy" into FERRY_LVM_ESC_* bits. */
static int
parse_escalate (const char *arg, unsigned *ret)
{
  char *copy = strdup (arg), *tok, *save = NULL;
  unsigned bits = 0;
  int r = 0;

  for (tok = strtok_r (copy, ",", &save); tok != NULL;
       tok = strtok_r (NULL, ",", &save)) {
    if (strcmp (tok, "downtime") == 0)
      bits |= FERRY_LVM_ESC_DOWNTIME;
    else if (strcmp (tok, "auto-converge") == 0)
      bits |= FERRY_LVM_ESC_AUTO_CONVERGE;
    else if (strcmp (tok, "postcopy") == 0)
      bits |= FERRY_LVM_ESC_POSTCOPY;
    else if (strcmp (tok, "none") != 0) {
      fprintf (stderr, "lv-migrate: unknown escalation '%s'\n", tok);
      r = -1;
    }
  }
  free (copy);
  *ret = bits;
  return r;
}

/* virDomainState as virsh names it. */
static const char *
state_name (int state)
{
  static const char *const names[] = {
      "nostate",  "running", "blocked", "paused",
      "shutdown", "shutoff", "crashed", "pmsuspended",
  };

  if (state < 0)
    return "absent";
  if ((size_t) state < sizeof names / sizeof names[0])
    return names[state];
  return "unknown";
}

/* One side of an observation, one line. */
static void
print_side (const char *label, const struct ferry_lvm_side *s)
{
  printf ("%s: exists=%d persistent=%d state=%s(%d) reason=%d job=%d "
          "uuid=%s\n",
          label, s->exists, s->persistent, state_name (s->state), s->state,
          s->reason, s->job, s->exists ? s->uuid : "-");
}

/* Print the usage; exit code 1. */
static int
usage (void)
{
  fprintf (stderr, "usage: lv-migrate SRC_URI DST_URI DOMAIN [options] | "
                   "--observe SRC DST DOMAIN | --wait-job SRC DOMAIN "
                   "TIMEOUT | --clean-target DST DOMAIN UUID\n");
  return 1;
}

/* FERRY_LVM_ESC_* bits as "downtime,postcopy" (or "none"). */
static void
escalations (unsigned bits, char *buf, size_t len)
{
  snprintf (buf, len, "%s%s%s%s",
            bits & FERRY_LVM_ESC_DOWNTIME ? "downtime," : "",
            bits & FERRY_LVM_ESC_AUTO_CONVERGE ? "auto-converge," : "",
            bits & FERRY_LVM_ESC_POSTCOPY ? "postcopy," : "",
            bits == 0 ? "none" : "");
  if (bits != 0)
    buf[strlen (buf) - 1] = '\0';
}

int
main (int argc, char **argv)
{
  struct ferry_lvm_params p = {0};
  struct ferry_lvm_result res;
  struct ferry_err err = {0};
  const char *disks[16];
  char *xml = NULL, esc[64];
  bool quiet = false;
  int i, r;

  stamp ();
  if (argc >= 5 && strcmp (argv[1], "--observe") == 0) {
    struct ferry_lvm_where w;

    if (ferry_lvm_observe (argv[2], argv[3], argv[4], &w, &err) < 0) {
      fprintf (stderr, "lv-migrate: %s\n", err.msg);
      return 1;
    }
    print_side ("src", &w.src);
    print_side ("dst", &w.dst);
    return 0;
  }
  if (argc >= 5 && strcmp (argv[1], "--wait-job") == 0) {
    r = ferry_lvm_wait_job (argv[2], argv[3], atof (argv[4]), &stop, &err);
    if (r < 0)
      fprintf (stderr, "lv-migrate: %s\n", err.msg);
    else
      printf ("no job after %.1f s\n", stamp ());
    return r < 0;
  }
  if (argc >= 5 && strcmp (argv[1], "--clean-target") == 0) {
    r = ferry_lvm_clean_target (argv[2], argv[3], argv[4], &err);
    if (r < 0)
      fprintf (stderr, "lv-migrate: %s\n", err.msg);
    return r < 0;
  }
  if (argc < 4)
    return usage ();
  p.src_uri = argv[1];
  p.dst_uri = argv[2];
  p.domain = argv[3];
  p.disks = disks;
  for (i = 4; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

    if (strcmp (a, "--non-shared") == 0)
      p.storage = FERRY_LVM_NON_SHARED;
    else if (strcmp (a, "--unsafe") == 0)
      p.unsafe = true;
    else if (strcmp (a, "--undefine-source") == 0)
      p.undefine_source = true;
    else if (strcmp (a, "--adopt") == 0)
      p.adopt = true;
    else if (strcmp (a, "--quiet") == 0)
      quiet = true;
    else if (v == NULL)
      return usage ();
    else if (strcmp (a, "--bandwidth") == 0)
      p.bandwidth_mib = strtoull (v, NULL, 10), i++;
    else if (strcmp (a, "--downtime") == 0)
      p.max_downtime_ms = strtoull (v, NULL, 10), i++;
    else if (strcmp (a, "--downtime-limit") == 0)
      p.max_downtime_limit_ms = strtoull (v, NULL, 10), i++;
    else if (strcmp (a, "--stall") == 0)
      p.stall_s = atof (v), i++;
    else if (strcmp (a, "--deadline") == 0)
      p.deadline_s = atof (v), i++;
    else if (strcmp (a, "--poll") == 0)
      p.poll_s = atof (v), i++;
    else if (strcmp (a, "--dst-client") == 0)
      p.dst_client_uri = v, i++;
    else if (strcmp (a, "--disk") == 0 && p.n_disks < 16)
      disks[p.n_disks++] = v, i++;
    else if (strcmp (a, "--escalate") == 0) {
      if (parse_escalate (v, &p.escalate) < 0)
        return 1;
      i++;
    } else if (strcmp (a, "--dest-xml") == 0) {
      xml = slurp (v);
      if (xml == NULL)
        return 1;
      p.dest_xml = xml, i++;
    } else
      return usage ();
  }
  signal (SIGINT, on_signal);
  signal (SIGTERM, on_signal);
  p.stop = &stop;
  p.event = on_event;
  p.progress = quiet ? NULL : on_progress;

  r = ferry_lvm_migrate (&p, &res, &err);
  escalations (res.escalated, esc, sizeof esc);
  if (r < 0)
    fprintf (stderr, "lv-migrate: %s\n", err.msg);
  printf ("result: %s, total %.1f s, downtime %llu ms, memory %llu bytes, "
          "disk %llu bytes, iterations %llu, escalations %s%s\n",
          r == 0        ? "migrated"
          : res.aborted ? "aborted"
                        : "failed",
          res.total_s, (unsigned long long) res.last.downtime_ms,
          (unsigned long long) res.last.mem_processed,
          (unsigned long long) res.last.disk_processed,
          (unsigned long long) res.last.iterations, esc,
          res.last.downtime_ms == 0 && r == 0 ? " (no completed stats)" : "");
  free (xml);
  return r < 0;
}
