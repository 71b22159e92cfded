/* Live migration of one libvirt domain under ferry's convergence control
 * (see libvirt-migrate.h): the pure control step, the migration thread and
 * its watcher, and the observation of both hosts a resume needs.  libvirt's
 * own error printing is silenced; errors come back in struct ferry_err. */
#include "clients/libvirt-migrate.h"

#include <errno.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/dl.h"

/* Progress: a new low must be this fraction of the old one or less. */
#define PROGRESS_FRACTION 0.95

/* libvirt's default maximum downtime, in ms, when none is given. */
#define DEFAULT_DOWNTIME_MS 300

/* Sample S has any data yet (the job left libvirt's prepare phase). */
static bool
has_data (const struct ferry_lvm_stats *s)
{
  return s->mem_total > 0 || s->disk_total > 0;
}

/* The disk copy runs (or just ended): disks are copied and no memory was
 * sent yet. */
static bool
disk_phase (const struct ferry_lvm_stats *s)
{
  return s->disk_total > 0 && s->mem_processed == 0;
}

/* The phase of sample S: 1 disk copy, 2 first memory pass, 3 later
 * passes (0 in CTL: none seen yet). */
static int
phase (const struct ferry_lvm_stats *s)
{
  if (disk_phase (s))
    return 1;
  return s->iterations >= 2 ? 3 : 2;
}

/* Restart the stall clock at sample S. */
static void
restart_clock (struct ferry_lvm_ctl *ctl, const struct ferry_lvm_stats *s)
{
  ctl->best_at_s = s->elapsed_s;
  ctl->clock_pass = s->iterations;
}

/* Is CTL stalled at sample S?  stall_s without progress; in the later
 * passes also a pass start seen since the clock started (the pass running
 * then may still end with a smaller dirty set), or 3 x stall_s. */
static bool
stalled (const struct ferry_lvm_ctl *ctl, const struct ferry_lvm_stats *s)
{
  double idle = s->elapsed_s - ctl->best_at_s;

  if (idle < ctl->stall_s)
    return false;
  if (ctl->phase < 3)
    return true;
  return s->iterations > ctl->clock_pass || idle >= 3 * ctl->stall_s;
}

/* Record sample S as progress when it is a new low by the rule of the
 * header comment; restart the stall clock then. */
static void
track_progress (struct ferry_lvm_ctl *ctl, const struct ferry_lvm_stats *s)
{
  uint64_t rem = s->mem_remaining + s->disk_remaining;
  int ph = phase (s);
  bool new_pass = s->iterations > ctl->iteration;
  bool progress;

  if (s->iterations > ctl->iteration)
    ctl->iteration = s->iterations;
  if (ph > ctl->phase) {
    /* a new phase measures something else: its first sample is the low */
    ctl->phase = ph;
    progress = true;
  } else if (ph == 1)
    progress = rem < ctl->best_remaining || rem == 0;
  else if (ph == 3 && !new_pass)
    progress = false; /* mid-pass: what is left of this pass says nothing */
  else
    progress = (double) rem <= (double) ctl->best_remaining * PROGRESS_FRACTION;
  if (progress) {
    ctl->best_remaining = rem;
    restart_clock (ctl, s);
  }
}

/* Decide the next action for sample S (rules in the header comment). */
enum ferry_lvm_action
ferry_lvm_ctl_step (struct ferry_lvm_ctl *ctl, const struct ferry_lvm_stats *s)
{
  bool in_postcopy = s->postcopy || (ctl->done & FERRY_LVM_ESC_POSTCOPY);

  if (s->postcopy)
    ctl->done |= FERRY_LVM_ESC_POSTCOPY;
  if (in_postcopy)
    return FERRY_LVM_ACT_NONE;
  if (ctl->deadline_s > 0 && s->elapsed_s >= ctl->deadline_s)
    return FERRY_LVM_ACT_ABORT;
  if (!has_data (s))
    return FERRY_LVM_ACT_NONE;
  track_progress (ctl, s);
  if ((ctl->escalate & FERRY_LVM_ESC_AUTO_CONVERGE) && s->throttle_pct > 0 &&
      s->throttle_pct > ctl->last_throttle) {
    if (!(ctl->done & FERRY_LVM_ESC_AUTO_CONVERGE))
      restart_clock (ctl, s);
    ctl->done |= FERRY_LVM_ESC_AUTO_CONVERGE;
    ctl->last_throttle = s->throttle_pct;
    return FERRY_LVM_ACT_NOTE_THROTTLE;
  }
  if (!stalled (ctl, s))
    return FERRY_LVM_ACT_NONE;

  /* stalled */
  if ((ctl->escalate & FERRY_LVM_ESC_DOWNTIME) &&
      ctl->downtime_ms < ctl->downtime_limit_ms) {
    ctl->downtime_ms = ctl->downtime_ms > 0 ? ctl->downtime_ms * 2 : 1;
    if (ctl->downtime_ms > ctl->downtime_limit_ms)
      ctl->downtime_ms = ctl->downtime_limit_ms;
    ctl->done |= FERRY_LVM_ESC_DOWNTIME;
    restart_clock (ctl, s);
    return FERRY_LVM_ACT_RAISE_DOWNTIME;
  }
  if ((ctl->escalate & FERRY_LVM_ESC_AUTO_CONVERGE) &&
      !(ctl->done & FERRY_LVM_ESC_AUTO_CONVERGE) && !ctl->ac_waited) {
    ctl->ac_waited = true;
    restart_clock (ctl, s);
    return FERRY_LVM_ACT_NONE;
  }
  if ((ctl->escalate & FERRY_LVM_ESC_POSTCOPY) && s->mem_processed > 0) {
    ctl->done |= FERRY_LVM_ESC_POSTCOPY;
    return FERRY_LVM_ACT_POSTCOPY;
  }
  return FERRY_LVM_ACT_NONE;
}

/* "memory 120/256 MiB, disk 16/16 MiB, 8.1 MiB/s, ..." (header). */
void
ferry_lvm_stats_format (const struct ferry_lvm_stats *s, char *buf, size_t len)
{
  const double mib = 1024.0 * 1024.0;
  char disk[64] = "", thr[32] = "";

  if (s->disk_total > 0)
    snprintf (disk, sizeof disk, ", disk %.0f/%.0f MiB",
              (double) s->disk_processed / mib, (double) s->disk_total / mib);
  if (s->throttle_pct > 0)
    snprintf (thr, sizeof thr, ", throttle %d%%", s->throttle_pct);
  snprintf (buf, len,
            "memory %.0f/%.0f MiB%s, %.1f MiB/s, dirty %.1f MiB/s, "
            "iteration %llu, expected downtime %llu ms%s%s",
            (double) s->mem_processed / mib, (double) s->mem_total / mib, disk,
            (double) s->mem_bps / mib, (double) s->dirty_rate / mib,
            (unsigned long long) s->iterations,
            (unsigned long long) s->expected_downtime_ms, thr,
            s->postcopy ? ", post-copy" : "");
}

/* libvirt error handler that prints nothing (errors go to ferry_err). */
static void
quiet (void *opaque, virErrorPtr e)
{
  (void) opaque, (void) e;
}

/* libvirt's last error message on this thread, never NULL. */
static const char *
last_error (void)
{
  const char *m = virGetLastErrorMessage ();

  return m ? m : "unknown error";
}

/* Connect to URI with libvirt's printing silenced; NULL with ERR set. */
static virConnectPtr
open_uri (const char *uri, bool readonly, struct ferry_err *err)
{
  virConnectPtr c;

  if (ferry_dl_load (&ferry_dl_virt, err) < 0)
    return NULL;
  virSetErrorFunc (NULL, quiet);
  c = readonly ? virConnectOpenReadOnly (uri) : virConnectOpen (uri);
  if (c == NULL)
    ferry_err_set (err, 0, "cannot connect to libvirt at '%s': %s", uri,
                   last_error ());
  return c;
}

/* Look NAME up on C: the domain, or NULL with *RET_ABSENT true when there
 * is no such domain, or NULL with ERR set on any other failure. */
static virDomainPtr
lookup (virConnectPtr c, const char *uri, const char *name, bool *ret_absent,
        struct ferry_err *err)
{
  virDomainPtr d = virDomainLookupByName (c, name);
  virErrorPtr e;

  *ret_absent = false;
  if (d != NULL)
    return d;
  e = virGetLastError ();
  if (e != NULL && e->code == VIR_ERR_NO_DOMAIN) {
    *ret_absent = true;
    return NULL;
  }
  ferry_err_set (err, 0, "cannot look up domain '%s' on '%s': %s", name, uri,
                 last_error ());
  return NULL;
}

/* Seconds on the monotonic clock. */
static double
now_s (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Sleep S seconds (interrupted sleeps are not resumed: the caller polls). */
static void
sleep_s (double s)
{
  struct timespec ts;

  ts.tv_sec = (time_t) s;
  ts.tv_nsec = (long) ((s - (double) ts.tv_sec) * 1e9);
  nanosleep (&ts, NULL);
}

/* Copy libvirt's job statistics (PAR, N) into RET (elapsed_s untouched). */
static void
stats_from_params (virTypedParameterPtr par, int n, bool completed,
                   struct ferry_lvm_stats *ret)
{
  unsigned long long v, page = 0, rate = 0;
  int i;

#define GET(key, field)                                                        \
  if (virTypedParamsGetULLong (par, n, key, &v) == 1)                          \
    ret->field = v;
  GET (VIR_DOMAIN_JOB_MEMORY_TOTAL, mem_total);
  GET (VIR_DOMAIN_JOB_MEMORY_PROCESSED, mem_processed);
  GET (VIR_DOMAIN_JOB_MEMORY_REMAINING, mem_remaining);
  GET (VIR_DOMAIN_JOB_MEMORY_BPS, mem_bps);
  GET (VIR_DOMAIN_JOB_MEMORY_ITERATION, iterations);
  GET (VIR_DOMAIN_JOB_DISK_TOTAL, disk_total);
  GET (VIR_DOMAIN_JOB_DISK_PROCESSED, disk_processed);
  GET (VIR_DOMAIN_JOB_DISK_REMAINING, disk_remaining);
#undef GET
  if (virTypedParamsGetULLong (par, n, VIR_DOMAIN_JOB_DOWNTIME, &v) == 1) {
    if (completed)
      ret->downtime_ms = v;
    else
      ret->expected_downtime_ms = v;
  }
  virTypedParamsGetULLong (par, n, VIR_DOMAIN_JOB_MEMORY_DIRTY_RATE, &rate);
  virTypedParamsGetULLong (par, n, VIR_DOMAIN_JOB_MEMORY_PAGE_SIZE, &page);
  ret->dirty_rate = rate * (page ? page : 4096);
  if (virTypedParamsGetInt (par, n, VIR_DOMAIN_JOB_AUTO_CONVERGE_THROTTLE,
                            &i) == 1)
    ret->throttle_pct = i;
}

/* Read DOM's job statistics (COMPLETED: of the finished job) into RET;
 * *RET_TYPE gets the virDomainJobType.  0, or -1 (libvirt's error left). */
static int
job_stats (virDomainPtr dom, bool completed, int *ret_type,
           struct ferry_lvm_stats *ret)
{
  virTypedParameterPtr par = NULL;
  int n = 0, type = 0;

  if (virDomainGetJobStats (dom, &type, &par, &n,
                            completed ? VIR_DOMAIN_JOB_STATS_COMPLETED : 0) < 0)
    return -1;
  memset (ret, 0, sizeof *ret);
  ret->throttle_pct = -1;
  stats_from_params (par, n, completed, ret);
  virTypedParamsFree (par, n);
  *ret_type = type;
  /* post-copy: the source domain is paused with reason POSTCOPY */
  if (!completed) {
    int state, reason;

    if (virDomainGetState (dom, &state, &reason, 0) == 0 &&
        state == VIR_DOMAIN_PAUSED && reason == VIR_DOMAIN_PAUSED_POSTCOPY)
      ret->postcopy = true;
  }
  return 0;
}

/* The migration call, run in its own thread on its own connection. */
struct mig_job {
  /* set before the thread starts, read-only after */
  const struct ferry_lvm_params *p;
  char uuid[VIR_UUID_STRING_BUFLEN]; /* the source domain */
  unsigned flags;                    /* VIR_MIGRATE_* */
  /* written by the thread, read by the caller after `done` (atomic) */
  int ret;       /* virDomainMigrateToURI3's */
  char msg[512]; /* libvirt's message when ret < 0 */
  int done;      /* 1 once the call returned (atomic) */
};

/* Fill the migration parameters of P into PAR, N and MAX; -1 on failure. */
static int
mig_params (const struct ferry_lvm_params *p, virTypedParameterPtr *par, int *n,
            int *max)
{
  size_t i;

  if (p->bandwidth_mib > 0 &&
      virTypedParamsAddULLong (par, n, max, VIR_MIGRATE_PARAM_BANDWIDTH,
                               p->bandwidth_mib) < 0)
    return -1;
  if (p->dest_xml != NULL &&
      (virTypedParamsAddString (par, n, max, VIR_MIGRATE_PARAM_DEST_XML,
                                p->dest_xml) < 0 ||
       virTypedParamsAddString (par, n, max, VIR_MIGRATE_PARAM_PERSIST_XML,
                                p->dest_xml) < 0))
    return -1;
  for (i = 0; i < p->n_disks; i++)
    if (virTypedParamsAddString (par, n, max, VIR_MIGRATE_PARAM_MIGRATE_DISKS,
                                 p->disks[i]) < 0)
      return -1;
  return 0;
}

/* Thread body: open the source, migrate, record the outcome. */
static void *
mig_thread (void *opaque)
{
  struct mig_job *j = opaque;
  virConnectPtr c;
  virDomainPtr d = NULL;
  virTypedParameterPtr par = NULL;
  int n = 0, max = 0;

  j->ret = -1;
  virSetErrorFunc (NULL, quiet);
  c = virConnectOpen (j->p->src_uri);
  if (c != NULL)
    d = virDomainLookupByUUIDString (c, j->uuid);
  if (d == NULL)
    snprintf (j->msg, sizeof j->msg, "%s", last_error ());
  else if (mig_params (j->p, &par, &n, &max) < 0)
    snprintf (j->msg, sizeof j->msg, "%s", last_error ());
  else {
    j->ret = virDomainMigrateToURI3 (d, j->p->dst_uri, par, n, j->flags);
    if (j->ret < 0)
      snprintf (j->msg, sizeof j->msg, "%s", last_error ());
  }
  virTypedParamsFree (par, n);
  if (d != NULL)
    virDomainFree (d);
  if (c != NULL)
    virConnectClose (c);
  __atomic_store_n (&j->done, 1, __ATOMIC_SEQ_CST);
  return NULL;
}

/* The VIR_MIGRATE_* flags for P. */
static unsigned
mig_flags (const struct ferry_lvm_params *p)
{
  unsigned f =
      VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_PERSIST_DEST;

  /* post-copy: the completed stats stay on the source only, so ferry
   * undefines the source itself after reading them */
  if (p->undefine_source && !(p->escalate & FERRY_LVM_ESC_POSTCOPY))
    f |= VIR_MIGRATE_UNDEFINE_SOURCE;
  if (p->storage == FERRY_LVM_NON_SHARED)
    f |= VIR_MIGRATE_NON_SHARED_DISK;
  if (p->escalate & FERRY_LVM_ESC_AUTO_CONVERGE)
    f |= VIR_MIGRATE_AUTO_CONVERGE;
  if (p->escalate & FERRY_LVM_ESC_POSTCOPY)
    f |= VIR_MIGRATE_POSTCOPY;
  if (p->unsafe)
    f |= VIR_MIGRATE_UNSAFE;
  return f;
}

static void event (const struct ferry_lvm_params *p, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));
/* Report the message FMT... through P's event callback, if any. */
static void
event (const struct ferry_lvm_params *p, const char *fmt, ...)
{
  char msg[512];
  va_list ap;

  if (p->event == NULL)
    return;
  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  p->event (p->opaque, msg);
}

/* State of the watcher loop in the caller's thread. */
struct watch {
  struct ferry_lvm_ctl ctl;    /* convergence control */
  bool job_seen;               /* a job showed on the source */
  bool downtime_set;           /* the start value of max downtime applied */
  bool aborted;                /* virDomainAbortJob succeeded */
  const char *why;             /* "the deadline" or "a stop request" */
  struct ferry_lvm_stats last; /* the last sample */
  double since_s;              /* the stall clock's start before the step */
};

/* Act on A for the running job of DOM (P, W): report, set, switch, abort. */
static void
act (const struct ferry_lvm_params *p, virDomainPtr dom, struct watch *w,
     enum ferry_lvm_action a)
{
  const struct ferry_lvm_stats *s = &w->last;

  switch (a) {
  case FERRY_LVM_ACT_RAISE_DOWNTIME:
    if (virDomainMigrateSetMaxDowntime (dom, w->ctl.downtime_ms, 0) < 0)
      event (p, "cannot raise max downtime to %llu ms: %s",
             (unsigned long long) w->ctl.downtime_ms, last_error ());
    else
      event (p,
             "no progress for %.0f s (expected downtime %llu ms): max "
             "downtime raised to %llu ms",
             s->elapsed_s - w->since_s,
             (unsigned long long) s->expected_downtime_ms,
             (unsigned long long) w->ctl.downtime_ms);
    break;
  case FERRY_LVM_ACT_NOTE_THROTTLE:
    event (p, "auto-converge throttles the guest's cpu to %d%%",
           s->throttle_pct);
    break;
  case FERRY_LVM_ACT_POSTCOPY:
    if (virDomainMigrateStartPostCopy (dom, 0) < 0) {
      /* before RAM moves qemu refuses: ask again on the next sample */
      w->ctl.done &= ~FERRY_LVM_ESC_POSTCOPY;
      event (p, "cannot switch to post-copy yet: %s", last_error ());
    } else
      event (p, "switched to post-copy after %.0f MiB of memory",
             (double) s->mem_processed / 1048576.0);
    break;
  case FERRY_LVM_ACT_ABORT:
    if (w->aborted)
      break;
    if (virDomainAbortJob (dom) < 0)
      event (p, "cannot abort the migration: %s", last_error ());
    else {
      w->aborted = true;
      event (p, "aborted at %s (%.1f s): the guest stays on the source", w->why,
             s->elapsed_s);
    }
    break;
  case FERRY_LVM_ACT_NONE:
  case FERRY_LVM_ACT_LAST:
    break;
  }
}

/* One poll of the running job of DOM: sample, report, decide, act.  False
 * when no job runs (or it cannot be read). */
static bool
poll_once (const struct ferry_lvm_params *p, virDomainPtr dom, double t0,
           struct watch *w)
{
  struct ferry_lvm_stats s;
  enum ferry_lvm_action a;
  int type;

  if (job_stats (dom, false, &type, &s) < 0 || type == VIR_DOMAIN_JOB_NONE)
    return false;
  s.elapsed_s = now_s () - t0;
  if (!w->job_seen) {
    w->job_seen = true;
    event (p, "migration job started on the source (%.1f s)", s.elapsed_s);
  }
  if (!w->downtime_set && p->max_downtime_ms > 0) {
    /* applies to the running job only once it exists */
    if (virDomainMigrateSetMaxDowntime (dom, w->ctl.downtime_ms, 0) == 0) {
      w->downtime_set = true;
      event (p, "max downtime set to %llu ms",
             (unsigned long long) w->ctl.downtime_ms);
    }
  }
  if (has_data (&s))
    w->last = s; /* not the empty samples of a job being cancelled */
  if (p->progress != NULL)
    p->progress (p->opaque, &s);
  if (p->stop != NULL && *p->stop && !s.postcopy &&
      !(w->ctl.done & FERRY_LVM_ESC_POSTCOPY)) {
    w->why = "a stop request";
    act (p, dom, w, FERRY_LVM_ACT_ABORT);
    return true;
  }
  w->since_s = w->ctl.best_at_s;
  a = ferry_lvm_ctl_step (&w->ctl, &s);
  if (a == FERRY_LVM_ACT_ABORT)
    w->why = "the deadline";
  act (p, dom, w, a);
  return true;
}

/* After success: the completed job's stats into RET (source for a
 * post-copy-armed job, else destination), check the domain runs persistent
 * on the destination, undefine the source when asked and libvirt did not. */
static int
finish (const struct ferry_lvm_params *p, virDomainPtr src, unsigned flags,
        struct ferry_lvm_result *ret, struct ferry_err *err)
{
  const char *duri = p->dst_client_uri ? p->dst_client_uri : p->dst_uri;
  struct ferry_lvm_stats st;
  virConnectPtr dc;
  virDomainPtr dd;
  int type, state, reason, i, r = -1;
  bool absent, have = false;

  /* an adopted job's stats show a moment after the job ended */
  for (i = 0; src != NULL && !(flags & VIR_MIGRATE_UNDEFINE_SOURCE) && !have &&
              i < (p->adopt ? 10 : 1);
       i++) {
    if (job_stats (src, true, &type, &st) == 0 && type != VIR_DOMAIN_JOB_NONE)
      have = true;
    else if (p->adopt)
      sleep_s (0.3);
  }
  dc = open_uri (duri, false, err);
  if (dc == NULL)
    return -1;
  dd = lookup (dc, duri, p->domain, &absent, err);
  if (dd == NULL) {
    if (absent)
      ferry_err_set (err, 0, "domain '%s' is not on '%s' after its migration",
                     p->domain, duri);
    goto out;
  }
  if (!have && job_stats (dd, true, &type, &st) == 0 &&
      type != VIR_DOMAIN_JOB_NONE)
    have = true;
  if (have) {
    /* the destination's completed stats carry no disk figures: keep the
     * last running sample's */
    if (st.disk_total == 0) {
      st.disk_total = ret->last.disk_total;
      st.disk_processed = ret->last.disk_processed;
    }
    ret->last = st;
  }
  if (virDomainGetState (dd, &state, &reason, 0) < 0 ||
      state != VIR_DOMAIN_RUNNING || virDomainIsPersistent (dd) != 1) {
    ferry_err_set (err, 0,
                   "domain '%s' does not run persistent on '%s' after its "
                   "migration",
                   p->domain, duri);
    goto out;
  }
  /* a source still running (split brain) is never undefined */
  if (src != NULL && p->undefine_source &&
      !(flags & VIR_MIGRATE_UNDEFINE_SOURCE) && virDomainIsActive (src) == 0 &&
      virDomainUndefine (src) < 0) {
    ferry_err_set (
        err, 0, "cannot undefine domain '%s' on '%s' after its migration: %s",
        p->domain, p->src_uri, last_error ());
    goto out;
  }
  r = 0;
out:
  if (dd != NULL)
    virDomainFree (dd);
  virConnectClose (dc);
  return r;
}

/* The control for P (defaults of the header applied). */
static void
ctl_init (const struct ferry_lvm_params *p, struct ferry_lvm_ctl *ctl)
{
  memset (ctl, 0, sizeof *ctl);
  ctl->escalate = p->escalate;
  ctl->downtime_ms =
      p->max_downtime_ms > 0 ? p->max_downtime_ms : DEFAULT_DOWNTIME_MS;
  ctl->downtime_limit_ms = p->max_downtime_limit_ms > 0
                               ? p->max_downtime_limit_ms
                               : 4 * ctl->downtime_ms;
  ctl->stall_s = p->stall_s > 0 ? p->stall_s : 10;
  ctl->deadline_s = p->deadline_s;
}

/* Start the migration thread for DOM (J filled here); then watch its job
 * until the call returns.  0, or -1 with ERR set (RET->aborted). */
static int
run_migration (const struct ferry_lvm_params *p, virDomainPtr dom,
               struct mig_job *j, struct watch *w, struct ferry_lvm_result *ret,
               struct ferry_err *err)
{
  double t0 = now_s (), poll = p->poll_s > 0 ? p->poll_s : 0.5, next;
  pthread_t t;

  if (pthread_create (&t, NULL, mig_thread, j) != 0)
    return ferry_err_set (err, errno, "cannot start the migration of '%s'",
                          p->domain);
  event (p, "migrating '%s' to '%s'", p->domain, p->dst_uri);
  /* sample every POLL seconds, but notice the end within 20 ms */
  next = now_s () + poll;
  while (!__atomic_load_n (&j->done, __ATOMIC_SEQ_CST)) {
    sleep_s (0.02);
    if (!__atomic_load_n (&j->done, __ATOMIC_SEQ_CST) && now_s () >= next) {
      poll_once (p, dom, t0, w);
      next = now_s () + poll;
    }
  }
  pthread_join (t, NULL);
  ret->total_s = now_s () - t0;
  if (j->ret == 0)
    return 0;
  ret->aborted = w->aborted;
  if (w->aborted)
    return ferry_err_set (err, 0,
                          "migration of '%s' to '%s' aborted at %s after "
                          "%.1f s (the guest runs on the source): %s",
                          p->domain, p->dst_uri, w->why, ret->total_s, j->msg);
  return ferry_err_set (err, 0, "cannot migrate '%s' to '%s': %s", p->domain,
                        p->dst_uri, j->msg);
}

/* Adopt: watch (and control) the job a killed ferry left on DOM until it
 * ends.  0 when it ended or none ran (whether the guest arrived is for
 * finish to tell); -1 with ERR when it was aborted here. */
static int
adopt_job (const struct ferry_lvm_params *p, virDomainPtr dom, struct watch *w,
           struct ferry_lvm_result *ret, struct ferry_err *err)
{
  double t0 = now_s (), poll = p->poll_s > 0 ? p->poll_s : 0.5;

  if (dom != NULL && poll_once (p, dom, t0, w)) {
    event (p, "adopted the running migration job of '%s'", p->domain);
    do
      sleep_s (poll);
    while (poll_once (p, dom, t0, w));
  }
  ret->total_s = now_s () - t0;
  ret->aborted = w->aborted;
  if (w->aborted)
    return ferry_err_set (err, 0,
                          "migration of '%s' to '%s' aborted at %s after "
                          "%.1f s (the guest runs on the source)",
                          p->domain, p->dst_uri, w->why, ret->total_s);
  return 0;
}

/* Migrate (header). */
int
ferry_lvm_migrate (const struct ferry_lvm_params *p,
                   struct ferry_lvm_result *ret, struct ferry_err *err)
{
  struct mig_job *j;
  struct watch w;
  virConnectPtr sc;
  virDomainPtr dom;
  bool absent;
  int r = -1;

  memset (ret, 0, sizeof *ret);
  sc = open_uri (p->src_uri, false, err);
  if (sc == NULL)
    return -1;
  dom = lookup (sc, p->src_uri, p->domain, &absent, err);
  if (dom == NULL && !(absent && p->adopt)) {
    if (absent)
      ferry_err_set (err, 0, "no domain '%s' on '%s'", p->domain, p->src_uri);
    virConnectClose (sc);
    return -1;
  }
  j = calloc (1, sizeof *j);
  if (j == NULL) {
    ferry_err_set (err, errno, "cannot migrate '%s'", p->domain);
    goto out;
  }
  j->p = p;
  j->flags = mig_flags (p);
  if (dom != NULL && virDomainGetUUIDString (dom, j->uuid) < 0) {
    ferry_err_set (err, 0, "cannot read the uuid of '%s': %s", p->domain,
                   last_error ());
    goto out;
  }
  memset (&w, 0, sizeof w);
  ctl_init (p, &w.ctl);
  w.downtime_set = p->adopt; /* the killed run set it; raises still apply */

  if (p->adopt ? adopt_job (p, dom, &w, ret, err) < 0
               : run_migration (p, dom, j, &w, ret, err) < 0) {
    ret->escalated = w.ctl.done;
    ret->last = w.last;
    goto out;
  }
  ret->escalated = w.ctl.done;
  ret->last = w.last;
  if (finish (p, dom, j->flags, ret, err) < 0)
    goto out;
  event (p, "migrated '%s' in %.1f s, downtime %llu ms", p->domain,
         ret->total_s, (unsigned long long) ret->last.downtime_ms);
  r = 0;
out:
  free (j);
  if (dom != NULL)
    virDomainFree (dom);
  virConnectClose (sc);
  return r;
}

/* Fill SIDE for NAME on the connection C at URI. */
static int
observe_side (virConnectPtr c, const char *uri, const char *name,
              struct ferry_lvm_side *side, struct ferry_err *err)
{
  virDomainPtr d;
  virDomainJobInfo info;
  bool absent;
  int r = -1;

  memset (side, 0, sizeof *side);
  side->state = -1;
  d = lookup (c, uri, name, &absent, err);
  if (d == NULL)
    return absent ? 0 : -1;
  side->exists = true;
  if (virDomainGetUUIDString (d, side->uuid) < 0 ||
      virDomainGetState (d, &side->state, &side->reason, 0) < 0) {
    ferry_err_set (err, 0, "cannot read domain '%s' on '%s': %s", name, uri,
                   last_error ());
    goto out;
  }
  side->persistent = virDomainIsPersistent (d) == 1;
  if (virDomainGetJobInfo (d, &info) == 0)
    side->job = info.type;
  r = 0;
out:
  virDomainFree (d);
  return r;
}

/* Where DOMAIN is on both hosts (header). */
int
ferry_lvm_observe (const char *src_uri, const char *dst_client_uri,
                   const char *domain, struct ferry_lvm_where *ret,
                   struct ferry_err *err)
{
  struct ferry_lvm_where w;
  virConnectPtr sc, dc;
  int r = -1;

  sc = open_uri (src_uri, true, err);
  if (sc == NULL)
    return -1;
  dc = open_uri (dst_client_uri, true, err);
  if (dc == NULL) {
    virConnectClose (sc);
    return -1;
  }
  if (observe_side (sc, src_uri, domain, &w.src, err) == 0 &&
      observe_side (dc, dst_client_uri, domain, &w.dst, err) == 0) {
    *ret = w;
    r = 0;
  }
  virConnectClose (dc);
  virConnectClose (sc);
  return r;
}

/* Wait until no job runs for DOMAIN on SRC_URI (header). */
int
ferry_lvm_wait_job (const char *src_uri, const char *domain, double timeout_s,
                    volatile sig_atomic_t *stop, struct ferry_err *err)
{
  virConnectPtr c;
  virDomainPtr d;
  virDomainJobInfo info;
  double t0 = now_s ();
  bool absent;
  int r = -1;

  c = open_uri (src_uri, true, err);
  if (c == NULL)
    return -1;
  d = lookup (c, src_uri, domain, &absent, err);
  if (d == NULL) {
    virConnectClose (c);
    return absent ? 0 : -1;
  }
  for (;;) {
    if (virDomainGetJobInfo (d, &info) < 0) {
      /* gone (undefined by a finished migration): no job */
      virErrorPtr e = virGetLastError ();
      if (e != NULL && e->code == VIR_ERR_NO_DOMAIN)
        r = 0;
      else
        ferry_err_set (err, 0, "cannot read the job of '%s' on '%s': %s",
                       domain, src_uri, last_error ());
      break;
    }
    if (info.type == VIR_DOMAIN_JOB_NONE) {
      r = 0;
      break;
    }
    if ((stop != NULL && *stop) || now_s () - t0 >= timeout_s) {
      ferry_err_set (err, 0, "a job still runs for '%s' on '%s' after %.0f s",
                     domain, src_uri, now_s () - t0);
      break;
    }
    sleep_s (0.5);
  }
  virDomainFree (d);
  virConnectClose (c);
  return r;
}

/* Remove a half-arrived domain from the destination (header). */
int
ferry_lvm_clean_target (const char *dst_client_uri, const char *domain,
                        const char *uuid, struct ferry_err *err)
{
  char have[VIR_UUID_STRING_BUFLEN];
  virConnectPtr c;
  virDomainPtr d;
  bool absent;
  int state, reason, r = -1;

  c = open_uri (dst_client_uri, false, err);
  if (c == NULL)
    return -1;
  d = lookup (c, dst_client_uri, domain, &absent, err);
  if (d == NULL) {
    virConnectClose (c);
    return absent ? 0 : -1;
  }
  if (virDomainGetUUIDString (d, have) < 0 ||
      virDomainGetState (d, &state, &reason, 0) < 0) {
    ferry_err_set (err, 0, "cannot read domain '%s' on '%s': %s", domain,
                   dst_client_uri, last_error ());
    goto out;
  }
  if (strcmp (have, uuid) != 0) {
    ferry_err_set (err, 0,
                   "refusing to remove domain '%s' on '%s': its uuid is "
                   "'%s', not '%s'",
                   domain, dst_client_uri, have, uuid);
    goto out;
  }
  if (state == VIR_DOMAIN_RUNNING) {
    ferry_err_set (err, 0, "refusing to remove domain '%s' on '%s': it runs",
                   domain, dst_client_uri);
    goto out;
  }
  if (virDomainIsActive (d) == 1 && virDomainDestroy (d) < 0) {
    ferry_err_set (err, 0, "cannot destroy domain '%s' on '%s': %s", domain,
                   dst_client_uri, last_error ());
    goto out;
  }
  if (virDomainIsPersistent (d) == 1 && virDomainUndefine (d) < 0) {
    ferry_err_set (err, 0, "cannot undefine domain '%s' on '%s': %s", domain,
                   dst_client_uri, last_error ());
    goto out;
  }
  r = 0;
out:
  virDomainFree (d);
  virConnectClose (c);
  return r;
}
