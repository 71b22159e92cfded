/* ferry apply --worker: one of several processes (on one host or on many
 * that share the plan's state) applying one plan together, VM by VM.
 *
 * Who does what is decided by the state's locks, never by a list split by
 * hand:
 * - a VM is taken by its VM lock (FERRY_LOCK_SCOPE_VM) for as long as its
 *   steps run; a lock left by a dead worker is taken over (stale: its pid
 *   is gone on this host, or its lease expired in a backend with leases);
 * - the steps of no VM (flavors, plan-wide objects) run under the plan
 *   lock, by whichever worker takes it first;
 * - every worker holds a share of the wave lock (FERRY_LOCK_SCOPE_WAVE)
 *   from start to exit, tagged with the plan file's SHA-256: a worker
 *   with another version of the plan is refused while the wave runs, and
 *   a plain apply or destroy (which take the wave lock exclusively) is
 *   refused while any worker lives, even one between two VMs; a worker
 *   waits while a plain apply or destroy holds it;
 * - a plain `apply` holds the plan lock for its whole run and refuses to
 *   start while a worker holds a VM lock; a worker that took a VM lock and
 *   then sees the plan lock held gives the VM back and waits.  Each side
 *   takes its own lock before it looks at the other's, so at least one of
 *   them sees the other (the wave lock makes this the second line).
 *
 * What is done is read from the journal, re-read before every batch and
 * after a VM lock is taken: a VM is done when every selected step of it
 * has "done" as its last event; it may start when every step outside it
 * that its steps need (depends_on, shared steps) is done; it failed in
 * this wave when one of its steps failed after this worker started (so
 * that N workers do not retry a broken VM N times; the next `apply
 * --worker` retries it).
 *
 * Threads: the main thread classifies (on a fresh read-only view of the
 * state), takes VM locks and starts one thread per VM, up to --parallel
 * at once; a VM's thread opens its own view of the state (after its lock
 * was taken, so it sees everything the VM's last owner wrote), runs the
 * VM's steps through the engine and gives the lock back the moment they
 * end, so a quick VM never waits for a slow one.  The main thread waits
 * (polling the journal every POLL_MS) while other workers hold VMs it
 * could still get or depend on, and the worker exits when every selected
 * VM is done, failed or blocked behind a failure. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "util/cleanup.h"
#include "util/log.h"

#define POLL_MS 500    /* journal re-read while waiting on others */
#define STEPS_PER_VM 2 /* engine workers inside one VM (its disks) */

/* What the worker knows of one VM. */
enum vm_state {
  VM_WAITING, /* not done; a step it needs outside it is not done yet */
  VM_READY,   /* not done; everything it needs is done */
  VM_DONE,    /* every selected step's last event is done */
  VM_FAILED,  /* a step failed in this wave */
  VM_BLOCKED, /* needs a VM that failed or is blocked */
};

struct worker;

/* One VM being run by a thread of this worker. */
struct vm_job {
  struct worker *w;
  size_t v;                      /* index in the plan */
  struct ferry_state_lock *lock; /* its VM lock, released by the thread */
  pthread_t tid;
  bool running;               /* thread started, not joined (w->lock) */
  bool finished;              /* thread ended (w->lock) */
  volatile sig_atomic_t stop; /* its steps' ctx->stop: Ctrl-C, lost lock */
  volatile sig_atomic_t lost; /* its lock was lost (set by main) */
};

struct worker {
  struct ferry_run *r;
  const struct ferry_ctx *ctx;          /* the run's context (copied) */
  const struct ferry_engine_events *ev; /* the UI's callbacks */
  unsigned parallel;                    /* VMs at once */
  int64_t start_ms;                     /* this worker's start */
  size_t n_vms;                         /* r->plan->n_vms */
  size_t *step_vm;                      /* per step: its VM index, or n_vms */
  enum vm_state *vs;                    /* per VM (main thread) */
  bool *selected;                       /* per VM: has selected steps */
  struct vm_job *jobs;                  /* per VM */
  pthread_mutex_t lock;                 /* guards the fields below, jobs */
  pthread_cond_t cond;                  /* a job finished */
  bool *mine;                           /* per VM: this worker finished it */
  bool *mine_snap;                      /* mine, as classify last saw it */
  enum vm_state *seen;                  /* per VM: what a VM thread found
                                           done or failed by another worker
                                           (VM_READY: nothing) */
  struct ferry_state_lock *wave;        /* our share of the wave lock */
  struct ferry_state *look;             /* the main thread's view, kept */
  bool look_stale;                      /* read it again next round */
  unsigned epoch;                       /* views read so far */
  unsigned *busy;                       /* per VM: epoch its lock was busy */
  bool *failed_here;                    /* per VM: failed in this worker */
  unsigned n_running;                   /* jobs running */
  size_t n_applied, n_vm_mine;          /* totals for the summary */
  bool error;                           /* a thread hit an engine error */
};

/* Wall-clock ms. */
static int64_t
wall_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_REALTIME, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleep MS milliseconds. */
static void
nap_ms (unsigned ms)
{
  struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000L};

  nanosleep (&ts, NULL);
}

/* True if step I is selected (the --target/--phase mask). */
static bool
selected (const struct worker *w, size_t i)
{
  return w->r->keep == NULL || w->r->keep[i];
}

/* True if ST's last event of step I is done. */
static bool
step_done (const struct worker *w, struct ferry_state *st, size_t i)
{
  const struct ferry_step_record *rec =
      ferry_state_step (st, w->r->graph->steps[i].id);

  return rec != NULL && rec->last == FERRY_EVENT_DONE;
}

/* True if ST says step I failed after this worker started. */
static bool
step_failed_now (const struct worker *w, struct ferry_state *st, size_t i)
{
  const struct ferry_step_record *rec =
      ferry_state_step (st, w->r->graph->steps[i].id);

  return rec != NULL && rec->last == FERRY_EVENT_FAIL &&
         rec->time_ms >= w->start_ms;
}

/* Open a view of the state: read-only for the main thread's look, or for
 * writing (a VM's thread; the plan lock is not taken); VM (may be NULL):
 * only that VM's journal and the plan-wide one are needed.  NULL
 * (printed) on error. */
static struct ferry_state *
view (const struct worker *w, bool write, const char *vm)
{
  struct ferry_state_cfg cfg = w->r->plan->state;
  struct ferry_state *st = NULL;
  struct ferry_err err = {0};

  cfg.only_vm = vm;
  if (ferry_state_open (&cfg, !write, &st, &err) < 0) {
    ferry_die_err (&err);
    return NULL;
  }
  return st;
}

/* The state of VM V in ST, ignoring what other VMs need: done (every
 * selected step's last event is done, whoever did it), failed in this wave
 * (a step failed after this worker started, or FAILED_HERE: this worker
 * failed it or lost it), or ready. */
static enum vm_state
vm_own_state (const struct worker *w, struct ferry_state *st, size_t v,
              bool failed_here)
{
  const struct ferry_graph *g = w->r->graph;
  bool done = true, failed = failed_here;
  size_t i;

  for (i = 0; i < g->n; i++) {
    if (w->step_vm[i] != v || !selected (w, i))
      continue;
    if (step_failed_now (w, st, i))
      failed = true;
    if (!step_done (w, st, i))
      done = false;
  }
  return done ? VM_DONE : failed ? VM_FAILED : VM_READY;
}

/* Classify every VM from ST (see the head comment); main thread. */
static void
classify (struct worker *w, struct ferry_state *st)
{
  const struct ferry_graph *g = w->r->graph;
  size_t v, i, j, d;
  bool changed;

  pthread_mutex_lock (&w->lock);
  for (v = 0; v < w->n_vms; v++) {
    w->mine_snap[v] = w->mine[v];
    w->vs[v] = w->mine[v] ? VM_DONE
               : w->seen[v] != VM_READY
                   ? w->seen[v]
                   : vm_own_state (w, st, v, w->failed_here[v]);
  }
  pthread_mutex_unlock (&w->lock);
  /* a VM not done whose outside needs are not all done waits */
  for (i = 0; i < g->n; i++) {
    v = w->step_vm[i];
    if (v == w->n_vms || !selected (w, i) || w->vs[v] != VM_READY)
      continue;
    for (j = 0; j < g->steps[i].n_deps; j++) {
      d = g->steps[i].deps[j];
      if (w->step_vm[d] != v && !step_done (w, st, d) &&
          !(w->step_vm[d] != w->n_vms && w->mine_snap[w->step_vm[d]])) {
        w->vs[v] = VM_WAITING;
        break;
      }
    }
  }
  /* waiting on a failed or blocked VM is being blocked (to a fixpoint) */
  do {
    changed = false;
    for (i = 0; i < g->n; i++) {
      v = w->step_vm[i];
      if (v == w->n_vms || !selected (w, i) || w->vs[v] != VM_WAITING)
        continue;
      for (j = 0; j < g->steps[i].n_deps; j++) {
        d = g->steps[i].deps[j];
        if (w->step_vm[d] != w->n_vms && w->step_vm[d] != v &&
            (w->vs[w->step_vm[d]] == VM_FAILED ||
             w->vs[w->step_vm[d]] == VM_BLOCKED)) {
          w->vs[v] = VM_BLOCKED;
          changed = true;
          break;
        }
      }
    }
  } while (changed);
}

/* Run the engine over the steps in KEEP with ST; results in RES (one per
 * step).  STOP (NULL: the run's) is what the steps watch to stop early.
 * -1 on an engine error (printed). */
static int
run_steps (struct worker *w, struct ferry_state *st, const bool *keep,
           unsigned parallel, volatile sig_atomic_t *stop,
           struct ferry_step_result *res)
{
  struct ferry_ctx ctx = *w->ctx;
  struct ferry_err err = {0};

  ctx.state = st;
  if (stop)
    ctx.stop = stop;
  if (ferry_engine_apply (&ctx, w->r->graph, keep, NULL, parallel, w->ev, res,
                          &err) < 0) {
    ferry_die_err (&err);
    return -1;
  }
  return 0;
}

/* If JOB's lock is lost (and not noted yet), stop its steps and say so,
 * once; from the main thread's watch or the VM's own thread at its end,
 * under w->lock (the thread drops job->lock there). */
static void
note_lost (struct worker *w, struct vm_job *job)
{
  pthread_mutex_lock (&w->lock);
  if (job->lock != NULL && !job->lost && ferry_state_lock_lost (job->lock)) {
    job->lost = 1;
    job->stop = 1;
    ferry_error ("worker: vm '%s': lost its lock (not renewed in time: the "
                 "cluster was unreachable, or the lock was broken); "
                 "stopping its steps, another worker may take it over",
                 w->r->plan->vms[job->v].name);
  }
  pthread_mutex_unlock (&w->lock);
}

/* A VM's thread: its own view of the state, its steps, its lock back. */
static void *
vm_thread (void *arg)
{
  struct vm_job *job = arg;
  struct worker *w = job->w;
  const struct ferry_graph *g = w->r->graph;
  struct ferry_state *st = view (w, true, w->r->plan->vms[job->v].name);
  bool *keep = calloc (g->n + 1, sizeof *keep);
  struct ferry_step_result *res = calloc (g->n + 1, sizeof *res);
  struct ferry_state_lock *lock;
  enum vm_state found = VM_READY;
  size_t i, applied = 0;
  bool failed = false, ran = false, error = false;

  if (st == NULL || keep == NULL || res == NULL) {
    if (st != NULL)
      ferry_error ("out of memory");
    error = true;
    goto out;
  }
  /* what the VM's last owner left, now that it is ours; from here on,
   * nothing is recorded for it once its lock is lost */
  ferry_state_set_fence (st, job->lock);
  found = vm_own_state (w, st, job->v, false);
  if (found != VM_READY)
    goto out;
  for (i = 0; i < g->n; i++)
    keep[i] = w->step_vm[i] == job->v && selected (w, i);
  ran = true;
  if (run_steps (w, st, keep, STEPS_PER_VM, &job->stop, res) < 0) {
    error = true;
    goto out;
  }
  for (i = 0; i < g->n; i++) {
    enum ferry_status s = res[i].status;
    if (!keep[i])
      continue;
    applied += s == FERRY_STATUS_APPLIED;
    /* skipped after Ctrl-C is not a failure: the next run resumes it (a
     * lost lock is: this worker must not take the VM again) */
    if (s != FERRY_STATUS_APPLIED && s != FERRY_STATUS_UNCHANGED &&
        !(s == FERRY_STATUS_SKIPPED && ferry_arg_stop && !job->lost))
      failed = true;
  }
out:
  ferry_state_close (st);
  note_lost (w, job);
  pthread_mutex_lock (&w->lock);
  lock = job->lock; /* the watcher reads job->lock under w->lock */
  job->lock = NULL;
  pthread_mutex_unlock (&w->lock);
  ferry_state_lock_release (lock);
  free (keep);
  free (res);
  pthread_mutex_lock (&w->lock);
  job->finished = true;
  w->seen[job->v] = found;
  w->n_applied += applied;
  if (failed || error)
    w->failed_here[job->v] = true;
  else if (ran && !ferry_arg_stop && !w->mine[job->v]) {
    w->mine[job->v] = true;
    w->n_vm_mine++;
  }
  if (error)
    w->error = true;
  w->n_running--;
  pthread_cond_broadcast (&w->cond);
  pthread_mutex_unlock (&w->lock);
  return NULL;
}

/* Pass Ctrl-C on to every running VM, and stop a VM whose lock was lost
 * (main thread, every POLL_MS at most).  The lease: a backend with
 * expiring locks calls a lock lost well before the cluster frees it
 * (state/rados.c), so the VM stops before another worker can take it. */
static void
watch_jobs (struct worker *w)
{
  size_t v;

  for (v = 0; v < w->n_vms; v++) {
    struct vm_job *job = &w->jobs[v];
    bool running;
    pthread_mutex_lock (&w->lock);
    running = job->running && !job->finished;
    pthread_mutex_unlock (&w->lock);
    if (!running)
      continue;
    if (ferry_arg_stop)
      job->stop = 1;
    note_lost (w, job);
  }
}

/* Join the threads that ended (main thread). */
static void
reap (struct worker *w)
{
  size_t v;

  for (v = 0; v < w->n_vms; v++) {
    bool done;
    pthread_mutex_lock (&w->lock);
    done = w->jobs[v].running && w->jobs[v].finished;
    pthread_mutex_unlock (&w->lock);
    if (done) {
      pthread_join (w->jobs[v].tid, NULL);
      w->jobs[v].running = false;
    }
  }
}

/* Wait up to MS for a job to end (main thread). */
static void
wait_jobs (struct worker *w, unsigned ms)
{
  struct timespec ts;

  watch_jobs (w);
  clock_gettime (CLOCK_REALTIME, &ts);
  ts.tv_sec += ms / 1000;
  ts.tv_nsec += (long) (ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock (&w->lock);
  pthread_cond_timedwait (&w->cond, &w->lock, &ts);
  pthread_mutex_unlock (&w->lock);
}

/* The steps of no VM (flavors, plan-wide objects): run them under the
 * plan lock if ST does not say they are done.  1 ran or nothing to do, 0
 * the plan lock is busy (try later), -1 failed (printed). */
static int
shared_steps (struct worker *w, struct ferry_state *st)
{
  const struct ferry_lock_scope plan = {.kind = FERRY_LOCK_SCOPE_PLAN,
                                        .vm = NULL};
  const struct ferry_graph *g = w->r->graph;
  struct ferry_state_lock *lock = NULL;
  struct ferry_state *wst = NULL;
  struct ferry_err err = {0};
  CLEANUP_FREE bool *keep = calloc (g->n + 1, sizeof *keep);
  CLEANUP_FREE struct ferry_step_result *res = calloc (g->n + 1, sizeof *res);
  size_t i, n = 0;
  int rc = 1;

  if (keep == NULL || res == NULL) {
    ferry_error ("out of memory");
    return -1;
  }
  for (i = 0; i < g->n; i++)
    if (w->step_vm[i] == w->n_vms && selected (w, i) && !step_done (w, st, i))
      n++;
  if (n == 0)
    return 1;
  if (ferry_state_lock_acquire (st, &plan, FERRY_LOCK_TAKE_STALE, &lock, NULL,
                                &err) < 0) {
    if (err.errnum == EBUSY)
      return 0;
    ferry_die_err (&err);
    return -1;
  }
  wst = view (w, true, NULL);
  if (wst == NULL) {
    ferry_state_lock_release (lock);
    return -1;
  }
  for (i = 0; i < g->n; i++)
    keep[i] =
        w->step_vm[i] == w->n_vms && selected (w, i) && !step_done (w, wst, i);
  if (run_steps (w, wst, keep, w->parallel, NULL, res) < 0)
    rc = -1;
  for (i = 0; rc == 1 && i < g->n; i++)
    if (keep[i] && res[i].status != FERRY_STATUS_APPLIED &&
        res[i].status != FERRY_STATUS_UNCHANGED) {
      ferry_error ("worker: plan-wide step %s %s%s%s: no VM can go on",
                   g->steps[i].id, ferry_status_name (res[i].status),
                   res[i].msg[0] ? ": " : "", res[i].msg);
      rc = -1;
    }
  ferry_state_close (wst);
  ferry_state_lock_release (lock);
  return rc;
}

/* Take the lock of ready VM V and start its thread.  1 started, 0 not
 * (held by another worker, or the plan lock is held: *STOP set), -1
 * error (printed). */
static int
start_vm (struct worker *w, struct ferry_state *st, size_t v, bool *stop)
{
  const struct ferry_lock_scope plan = {.kind = FERRY_LOCK_SCOPE_PLAN,
                                        .vm = NULL};
  const struct ferry_lock_scope scope = {.kind = FERRY_LOCK_SCOPE_VM,
                                         .vm = w->r->plan->vms[v].name};
  struct ferry_lock_owner taken = {0}, holder;
  struct vm_job *job = &w->jobs[v];
  struct ferry_err err = {0};
  int k;

  if (ferry_state_lock_acquire (st, &scope, FERRY_LOCK_TAKE_STALE, &job->lock,
                                &taken, &err) < 0) {
    if (err.errnum != EBUSY)
      ferry_warn ("worker: vm '%s': %s", scope.vm, err.msg);
    return 0;
  }
  /* a plain apply (or a worker's plan-wide steps) holds the plan lock:
   * give the VM back and wait */
  k = ferry_state_lock_read (st, &plan, &holder, &err);
  if (k < 0)
    ferry_warn ("worker: %s", err.msg);
  if (k < 0 || (k == 1 && !ferry_lock_is_stale (&holder))) {
    ferry_state_lock_release (job->lock);
    job->lock = NULL;
    *stop = true;
    return 0;
  }
  if (taken.pid != 0)
    ferry_warn ("worker: vm '%s': taking over the lock of pid %d on host "
                "'%s' (that worker is gone)",
                scope.vm, (int) taken.pid, taken.host);
  job->w = w;
  job->v = v;
  job->finished = false;
  job->stop = 0;
  job->lost = 0;
  pthread_mutex_lock (&w->lock);
  w->n_running++;
  pthread_mutex_unlock (&w->lock);
  if (pthread_create (&job->tid, NULL, vm_thread, job) != 0) {
    ferry_error ("worker: cannot start a thread for vm '%s'", scope.vm);
    ferry_state_lock_release (job->lock);
    job->lock = NULL;
    pthread_mutex_lock (&w->lock);
    w->n_running--;
    pthread_mutex_unlock (&w->lock);
    return -1;
  }
  job->running = true;
  return 1;
}

/* One look: run the shared steps, or start ready VMs in the free slots.
 * The main thread's view of the journal is kept between rounds and read
 * again only when the last round could start nothing (everything left was
 * held by other workers or waited on them): what this worker finished
 * itself it knows (w->mine), a VM another worker finished meanwhile costs
 * one lock attempt and its thread's two reads, and a VM whose lock was
 * busy is not tried again before the next read.  So the journal is not
 * read whole after every VM (RADOS: one read per VM each time).
 * 1 go on, 0 nothing is left for anyone and no job runs, -1 error. */
static int
round_once (struct worker *w)
{
  size_t v, left = 0;
  unsigned running, started = 0;
  bool stop = false, fresh = false;
  int r = 1, k;

  reap (w);
  if (w->look == NULL || w->look_stale) {
    fresh = true;
    ferry_state_close (w->look);
    w->look = view (w, false, NULL);
    if (w->look == NULL)
      return -1;
    w->look_stale = false;
    w->epoch++;
  }
  pthread_mutex_lock (&w->lock);
  running = w->n_running;
  pthread_mutex_unlock (&w->lock);
  if (running == 0) {
    k = shared_steps (w, w->look);
    if (k <= 0) {
      w->look_stale = true;
      if (k == 0)
        wait_jobs (w, POLL_MS);
      return k < 0 ? -1 : 1;
    }
  }
  classify (w, w->look);
  for (v = 0; v < w->n_vms; v++)
    if (w->selected[v] && !w->jobs[v].running &&
        (w->vs[v] == VM_READY || w->vs[v] == VM_WAITING))
      left++;
  for (v = 0; v < w->n_vms && !stop && running < w->parallel; v++) {
    if (!w->selected[v] || w->vs[v] != VM_READY || w->jobs[v].running ||
        w->busy[v] == w->epoch)
      continue;
    k = start_vm (w, w->look, v, &stop);
    if (k < 0) {
      r = -1;
      break;
    }
    if (k == 0 && !stop)
      w->busy[v] = w->epoch;
    running += (unsigned) k;
    started += (unsigned) k;
  }
  if (r < 0)
    return -1;
  if (left == 0 && running == 0) {
    /* nothing left by this view: make sure with a fresh one */
    if (fresh)
      return 0;
    w->look_stale = true;
    return 1;
  }
  if (started == 0)
    w->look_stale = true; /* waiting on others: look again next time */
  wait_jobs (w, POLL_MS);
  return 1;
}

/* Join the wave: take a share of the wave lock under the plan file's
 * SHA-256, so that every worker runs the same plan and no plain apply or
 * destroy runs beside them.  Waits while a plain apply or destroy holds it.
 * 0, or -1 (printed; *INTERRUPTED when Ctrl-C ended the wait). */
static int
wave_join (struct worker *w, bool *interrupted)
{
  struct ferry_lock_scope wave = {.kind = FERRY_LOCK_SCOPE_WAVE};
  struct ferry_lock_owner taken = {0};
  struct ferry_err err = {0};
  struct ferry_state *st;
  bool said = false;
  char hash[65];

  if (ferry_sha256_file (w->r->plan->file, hash) < 0) {
    ferry_error ("worker: cannot read '%s'", w->r->plan->file);
    return -1;
  }
  wave.tag = hash;
  /* a view for the lock only: one VM's journal is the least it reads */
  st = view (w, false, w->r->plan->n_vms ? w->r->plan->vms[0].name : NULL);
  if (st == NULL)
    return -1;
  while (ferry_state_lock_acquire (st, &wave,
                                   FERRY_LOCK_SHARED | FERRY_LOCK_TAKE_STALE,
                                   &w->wave, &taken, &err) < 0) {
    if (err.errnum == FERRY_LOCK_ETAG) {
      ferry_error ("worker: %s: every host of a wave must apply the same "
                   "plan file; copy it from the others, or wait until their "
                   "wave ends",
                   err.msg);
      ferry_state_close (st);
      return -1;
    }
    if (err.errnum != EBUSY) {
      ferry_die_err (&err);
      ferry_state_close (st);
      return -1;
    }
    if (!said)
      ferry_info ("worker: waiting: %s", err.msg);
    said = true;
    if (ferry_arg_stop) {
      *interrupted = true;
      ferry_state_close (st);
      return -1;
    }
    memset (&err, 0, sizeof err);
    nap_ms (POLL_MS);
  }
  ferry_state_close (st);
  if (taken.pid != 0)
    ferry_warn ("worker: taking over the wave lock of pid %d on this host "
                "(that process is gone)",
                (int) taken.pid);
  return 0;
}

/* See cmd.h. */
int
ferry_apply_worker (struct ferry_run *r, struct ferry_ctx *ctx,
                    unsigned parallel, const struct ferry_engine_events *ev)
{
  const struct ferry_graph *g = r->graph;
  struct ferry_state *st = NULL;
  struct worker w = {0};
  size_t i, v, n_done = 0, n_failed = 0, n_blocked = 0, n_sel = 0;
  bool interrupted = false;
  int rc = FERRY_EXIT_ERROR, k = 1;

  w.r = r;
  w.ctx = ctx;
  w.ev = ev;
  w.parallel = parallel ? parallel : 1;
  if (wave_join (&w, &interrupted) < 0)
    return interrupted ? FERRY_EXIT_INTERRUPTED : FERRY_EXIT_ERROR;
  ferry_test_gate ("FERRY_TEST_WORKER_GATE");
  w.start_ms = wall_ms ();
  w.n_vms = r->plan->n_vms;
  pthread_mutex_init (&w.lock, NULL);
  pthread_cond_init (&w.cond, NULL);
  w.step_vm = calloc (g->n + 1, sizeof *w.step_vm);
  w.vs = calloc (w.n_vms + 1, sizeof *w.vs);
  w.selected = calloc (w.n_vms + 1, sizeof *w.selected);
  w.mine = calloc (w.n_vms + 1, sizeof *w.mine);
  w.failed_here = calloc (w.n_vms + 1, sizeof *w.failed_here);
  w.jobs = calloc (w.n_vms + 1, sizeof *w.jobs);
  w.mine_snap = calloc (w.n_vms + 1, sizeof *w.mine_snap);
  w.busy = calloc (w.n_vms + 1, sizeof *w.busy);
  w.seen = calloc (w.n_vms + 1, sizeof *w.seen);
  if (!w.step_vm || !w.vs || !w.selected || !w.mine || !w.failed_here ||
      !w.jobs || !w.mine_snap || !w.busy || !w.seen) {
    ferry_error ("out of memory");
    goto out;
  }
  for (v = 0; v < w.n_vms; v++)
    w.seen[v] = VM_READY;
  for (i = 0; i < g->n; i++) {
    const struct ferry_vm *vm = g->steps[i].vm;
    w.step_vm[i] = vm ? (size_t) (vm - r->plan->vms) : w.n_vms;
    if (vm && selected (&w, i))
      w.selected[w.step_vm[i]] = true;
  }
  for (v = 0; v < w.n_vms; v++)
    n_sel += w.selected[v];
  ferry_info ("worker: %zu VMs selected, up to %u at once (pid %d)", n_sel,
              w.parallel, (int) getpid ());
  /* after Ctrl-C: start nothing more, let the running VMs stop */
  while (k > 0 && !w.error) {
    if (ferry_arg_stop) {
      pthread_mutex_lock (&w.lock);
      k = w.n_running > 0;
      pthread_mutex_unlock (&w.lock);
      if (k)
        wait_jobs (&w, POLL_MS);
      continue;
    }
    k = round_once (&w);
  }
  /* k < 0 or an engine error: let the running VMs end before leaving */
  for (;;) {
    unsigned n;
    pthread_mutex_lock (&w.lock);
    n = w.n_running;
    pthread_mutex_unlock (&w.lock);
    if (n == 0)
      break;
    wait_jobs (&w, POLL_MS);
  }
  reap (&w);
  if (k < 0 || w.error)
    goto out;
  st = view (&w, false, NULL);
  if (st == NULL)
    goto out;
  classify (&w, st);
  ferry_state_close (st);
  for (v = 0; v < w.n_vms; v++) {
    if (!w.selected[v])
      continue;
    if (w.vs[v] == VM_DONE)
      n_done++;
    else if (w.vs[v] == VM_FAILED)
      n_failed++;
    else if (w.vs[v] == VM_BLOCKED)
      n_blocked++;
  }
  ferry_info ("worker: %zu of %zu VMs done (%zu by this worker, %zu steps "
              "applied), %zu failed, %zu blocked behind a failure",
              n_done, n_sel, w.n_vm_mine, w.n_applied, n_failed, n_blocked);
  for (v = 0; v < w.n_vms; v++)
    if (w.selected[v] && w.vs[v] == VM_FAILED)
      ferry_error ("worker: vm '%s' failed (see 'ferry status')",
                   r->plan->vms[v].name);
  if (ferry_arg_stop)
    rc = FERRY_EXIT_INTERRUPTED;
  else
    rc = n_done == n_sel ? FERRY_EXIT_OK : FERRY_EXIT_ERROR;
out:
  pthread_mutex_destroy (&w.lock);
  pthread_cond_destroy (&w.cond);
  free (w.step_vm);
  free (w.vs);
  free (w.selected);
  free (w.mine);
  free (w.failed_here);
  free (w.jobs);
  free (w.mine_snap);
  free (w.busy);
  free (w.seen);
  ferry_state_close (w.look);
  ferry_state_lock_release (w.wave);
  return rc;
}

/* 0 when R's plan lock is still held by this process; else -1, printed. */
static int
plan_lock_still_ours (struct ferry_run *r)
{
  const struct ferry_lock_scope plan = {.kind = FERRY_LOCK_SCOPE_PLAN};
  struct ferry_lock_owner holder, self;
  struct ferry_err err = {0};
  char who[512];
  int k;

  memset (&holder, 0, sizeof holder);
  ferry_lock_owner_self (&self);
  k = ferry_state_lock_read (r->state, &plan, &holder, &err);
  if (k < 0) {
    ferry_die_err (&err);
    return -1;
  }
  if (k == 1 && holder.pid == self.pid && strcmp (holder.host, self.host) == 0)
    return 0;
  if (k == 1) {
    ferry_lock_describe (&holder, who, sizeof who);
    ferry_error ("%s: the plan's lock was removed while this run started "
                 "(ferry unlock --force) and is now held by %s: nothing was "
                 "done; run again once it ends",
                 ferry_state_where (r->state), who);
  } else
    ferry_error ("%s: the plan's lock was removed while this run started "
                 "(ferry unlock --force): nothing was done; run again",
                 ferry_state_where (r->state));
  return -1;
}

/* See cmd.h. */
int
ferry_run_check_workers (struct ferry_run *r)
{
  struct ferry_lock_owner holder;
  struct ferry_err err = {0};
  char who[512];
  size_t v;
  int k;

  for (v = 0; v < r->plan->n_vms; v++) {
    const struct ferry_lock_scope scope = {.kind = FERRY_LOCK_SCOPE_VM,
                                           .vm = r->plan->vms[v].name};
    k = ferry_state_lock_read (r->state, &scope, &holder, &err);
    if (k < 0) {
      ferry_die_err (&err);
      return -1;
    }
    if (k == 1 && !ferry_lock_is_stale (&holder)) {
      ferry_lock_describe (&holder, who, sizeof who);
      ferry_error ("vm '%s' is being applied by a worker (%s): join the wave "
                   "with 'ferry apply --worker', or wait for it to end",
                   scope.vm, who);
      return -1;
    }
  }
  /* workers between two VMs hold no VM lock, but their share of the wave */
  if (ferry_run_wave_exclusive (r, &r->wave, &err) < 0) {
    ferry_error ("%s: join the wave with 'ferry apply --worker', or wait for "
                 "it to end",
                 err.msg);
    return -1;
  }
  /* `ferry unlock --force` removes the plan lock once it holds the wave
   * lock: between taking the plan lock and the wave lock it could have
   * removed ours (and another run taken it).  Now that the wave lock is
   * ours nobody can; make sure the plan lock still is. */
  return plan_lock_still_ours (r);
}

/* See cmd.h. */
int
ferry_run_wave_exclusive (struct ferry_run *r, struct ferry_state_lock **ret,
                          struct ferry_err *err)
{
  const struct ferry_lock_scope wave = {.kind = FERRY_LOCK_SCOPE_WAVE};
  struct ferry_lock_owner taken = {0};

  if (ferry_state_lock_acquire (r->state, &wave, FERRY_LOCK_TAKE_STALE, ret,
                                &taken, err) < 0)
    return -1;
  if (taken.pid != 0)
    ferry_warn ("taking over the wave lock of pid %d on this host: that "
                "process is gone (crashed or killed)",
                (int) taken.pid);
  return 0;
}
