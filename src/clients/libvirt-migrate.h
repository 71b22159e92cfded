/* Live migration of one libvirt domain between two hosts, under ferry's
 * convergence control, and the observation a resume needs.
 *
 * ferry_lvm_migrate runs virDomainMigrateToURI3 (peer-to-peer, live,
 * persistent on the destination) in a thread and watches
 * virDomainGetJobStats from the calling thread every poll interval.  When
 * the remaining data stops shrinking for `stall_s` seconds it escalates, in
 * this order and only as far as ESCALATE allows:
 *   1. raise the maximum downtime (virDomainMigrateSetMaxDowntime), doubling
 *      up to max_downtime_limit_ms;
 *   2. auto-converge: qemu cannot switch it on mid-flight, so when allowed it
 *      is armed at the start (VIR_MIGRATE_AUTO_CONVERGE) and engages only
 *      when the guest dirties faster than the link sends; ferry reports the
 *      throttle as it rises and counts it as a step once it is engaged;
 *   3. post-copy: armed at the start (VIR_MIGRATE_POSTCOPY) when allowed,
 *      switched with virDomainMigrateStartPostCopy.
 * Each change is reported through the event callback.  At the deadline (or
 * on *stop) it aborts the job (virDomainAbortJob) before post-copy: the
 * guest keeps running on the source.  After post-copy started, abort is
 * impossible; it waits for the end.
 *
 * All calls go through libvirt's API; nothing is shelled out. */
#ifndef FERRY_CLIENT_LIBVIRT_MIGRATE_H
#define FERRY_CLIENT_LIBVIRT_MIGRATE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Escalations the plan allows (bits). */
#define FERRY_LVM_ESC_DOWNTIME (1u << 0)
#define FERRY_LVM_ESC_AUTO_CONVERGE (1u << 1)
#define FERRY_LVM_ESC_POSTCOPY (1u << 2)

/* One sample of the job (virDomainGetJobStats), bytes unless said. */
struct ferry_lvm_stats {
  double elapsed_s;        /* since the migration call started */
  uint64_t mem_total;      /* VIR_DOMAIN_JOB_MEMORY_TOTAL */
  uint64_t mem_processed;  /* ..._MEMORY_PROCESSED */
  uint64_t mem_remaining;  /* ..._MEMORY_REMAINING */
  uint64_t mem_bps;        /* ..._MEMORY_BPS */
  uint64_t dirty_rate;     /* ..._MEMORY_DIRTY_RATE x page size, bytes/s */
  uint64_t iterations;     /* ..._MEMORY_ITERATION */
  uint64_t disk_total;     /* ..._DISK_TOTAL */
  uint64_t disk_processed; /* ..._DISK_PROCESSED */
  uint64_t disk_remaining; /* ..._DISK_REMAINING */
  uint64_t expected_downtime_ms; /* ..._DOWNTIME (running job: expected) */
  uint64_t downtime_ms;          /* completed job: the real downtime, else 0 */
  int throttle_pct;              /* ..._AUTO_CONVERGE_THROTTLE, -1 unknown */
  bool postcopy;                 /* post-copy phase started */
};

/* Convergence control, a pure state machine (unit-tested without libvirt):
 * feed each sample, get what to do next. */
enum ferry_lvm_action {
  FERRY_LVM_ACT_NONE,           /* keep going */
  FERRY_LVM_ACT_RAISE_DOWNTIME, /* set max downtime to ctl.downtime_ms */
  FERRY_LVM_ACT_NOTE_THROTTLE,  /* auto-converge engaged / throttle rose */
  FERRY_LVM_ACT_POSTCOPY,       /* switch to post-copy now */
  FERRY_LVM_ACT_ABORT,          /* deadline passed (pre post-copy) */
  FERRY_LVM_ACT_LAST
};

struct ferry_lvm_ctl {
  /* configuration */
  unsigned escalate;          /* FERRY_LVM_ESC_* allowed */
  uint64_t downtime_ms;       /* current max downtime (start value in) */
  uint64_t downtime_limit_ms; /* raise up to this */
  double stall_s;             /* no new low of remaining data for this long */
  double deadline_s;          /* abort after this (0 = none) */
  /* state (zero-initialised) */
  uint64_t best_remaining; /* lowest mem+disk remaining seen */
  double best_at_s;        /* when it was seen */
  int last_throttle;       /* last throttle reported */
  unsigned done;           /* escalations taken (FERRY_LVM_ESC_* bits) */
  uint64_t iteration;      /* the last memory pass seen */
  int phase; /* 0 no data yet, 1 disk copy, 2 first pass, 3 later passes */
  uint64_t clock_pass; /* the pass when the stall clock last started */
  bool ac_waited;      /* one stall window granted to auto-converge */
};

/* Decide the next action for sample S; updates CTL's state.
 *
 * Progress, with "remaining" = mem_remaining + disk_remaining, by phase:
 * the disk copy (disks are copied, no memory sent yet): any new low of
 * remaining, or nothing remaining (copied, waiting for memory to start);
 * the first memory pass (iterations < 2): a new low at least 5% below the
 * previous low; later passes: only the first sample of each new pass
 * counts (remaining is then about the dirty set the pass must send; within
 * a pass it always falls and says nothing about convergence), and it is
 * progress when at least 5% below the lowest pass-start value seen.  The
 * first sample of each phase sets the low and counts as progress.
 *
 * A stall is stall_s seconds without progress since the last progress or
 * the last escalation (the clock starts at the first sample with data); in
 * the later passes a stall also needs a pass to have started since the
 * clock did (the pass running may yet end with a smaller dirty set), or
 * 3 x stall_s without progress.
 *
 * On a stall, in order: double downtime_ms up to downtime_limit_ms
 * (RAISE_DOWNTIME, once per stall); then, if auto-converge is armed but its
 * throttle never showed, wait one more stall window; then POSTCOPY (only
 * once mem_processed > 0).  A throttle above the last one reported is
 * NOTE_THROTTLE (the first one restarts the stall clock).  ABORT at the
 * deadline, never once post-copy was asked for or runs.  POSTCOPY marks
 * FERRY_LVM_ESC_POSTCOPY in done; a caller whose switch failed clears that
 * bit so that the next sample asks again. */
enum ferry_lvm_action ferry_lvm_ctl_step (struct ferry_lvm_ctl *ctl,
                                          const struct ferry_lvm_stats *s);

enum ferry_lvm_storage {
  FERRY_LVM_SHARED,     /* disks stay where they are (NFS, RBD, NBD, ...) */
  FERRY_LVM_NON_SHARED, /* VIR_MIGRATE_NON_SHARED_DISK: disks are mirrored
                           onto destination disks ferry created first */
};

struct ferry_lvm_params {
  const char *src_uri;        /* source libvirt */
  const char *dst_uri;        /* destination libvirt, as the SOURCE libvirtd
                                 reaches it (peer-to-peer) */
  const char *dst_client_uri; /* as ferry reaches it (NULL = dst_uri) */
  const char *domain;         /* name on the source */
  enum ferry_lvm_storage storage;
  const char *dest_xml;     /* NULL, or the domain XML for the destination
                               (VIR_MIGRATE_PARAM_DEST_XML and PERSIST_XML) */
  const char *const *disks; /* non-shared: target devs to copy (NULL: all
                               writable disks) */
  size_t n_disks;
  uint64_t bandwidth_mib;         /* MiB/s, 0 = unlimited */
  uint64_t max_downtime_ms;       /* start value, 0 = libvirt's default (300) */
  uint64_t max_downtime_limit_ms; /* escalation ceiling (0 = 4x start) */
  unsigned escalate;              /* FERRY_LVM_ESC_* allowed */
  double stall_s;                 /* default 10 */
  double deadline_s;              /* 0 = none */
  double poll_s;                  /* default 0.5 */
  bool undefine_source;           /* VIR_MIGRATE_UNDEFINE_SOURCE */
  bool unsafe;                    /* VIR_MIGRATE_UNSAFE (a file both hosts see
                                     on a filesystem libvirt does not know is
                                     shared) */
  /* resume after a killed ferry: start nothing; watch and control the job
   * libvirtd still runs (peer-to-peer jobs outlive their client) until it
   * ends, then finish as a migration does.  No job at all is fine: success
   * when the domain runs persistent on the destination. */
  bool adopt;
  volatile sig_atomic_t *stop; /* set: abort (before post-copy) */
  /* called from the calling thread; may be NULL */
  void (*event) (void *opaque, const char *msg);
  void (*progress) (void *opaque, const struct ferry_lvm_stats *s);
  void *opaque;
};

struct ferry_lvm_result {
  struct ferry_lvm_stats last; /* the completed job's stats (downtime) */
  double total_s;              /* wall time of the migration */
  unsigned escalated;          /* FERRY_LVM_ESC_* taken */
  bool aborted;                /* deadline or stop: guest on the source */
};

/* Migrate; 0 when the domain runs on the destination (persistent), -1 with
 * ERR set otherwise (RET->aborted says the guest stayed on the source). */
int ferry_lvm_migrate (const struct ferry_lvm_params *p,
                       struct ferry_lvm_result *ret, struct ferry_err *err);

/* Where a domain is, across both hosts (for check and resume). */
struct ferry_lvm_side {
  bool exists;     /* defined or running there */
  bool persistent; /* has a persistent definition */
  int state;       /* virDomainState (VIR_DOMAIN_RUNNING, ...), -1 absent */
  int reason;      /* its reason (e.g. VIR_DOMAIN_PAUSED_MIGRATION) */
  int job;         /* virDomainJobType of its active job, 0 = none */
  char uuid[37];
};
struct ferry_lvm_where {
  struct ferry_lvm_side src, dst;
};

int ferry_lvm_observe (const char *src_uri, const char *dst_client_uri,
                       const char *domain, struct ferry_lvm_where *ret,
                       struct ferry_err *err);

/* Wait (up to TIMEOUT_S) until no migration job runs for DOMAIN on
 * SRC_URI; 0 when none runs, -1 on timeout (ERR). */
int ferry_lvm_wait_job (const char *src_uri, const char *domain,
                        double timeout_s, volatile sig_atomic_t *stop,
                        struct ferry_err *err);

/* Remove a half-arrived domain from the destination: only one that is not
 * running (paused for an incoming migration, or shut off and transient)
 * and has UUID; destroy, and undefine if persistent.  0 / -1. */
int ferry_lvm_clean_target (const char *dst_client_uri, const char *domain,
                            const char *uuid, struct ferry_err *err);

/* "memory 120/256 MiB, disk 16/16 MiB, 8.1 MiB/s, dirty 40 MiB/s,
 * iteration 3, expected downtime 300 ms" */
void ferry_lvm_stats_format (const struct ferry_lvm_stats *s, char *buf,
                             size_t len);

#endif
