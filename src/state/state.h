/* The state interface: the journal (what ferry did, step by step) and the
 * locks (who is running) behind one ops table, so that the engine and the
 * CLI never know where state lives.  The plan's `state:` block chooses the
 * backend: "file" (a journal file and lock files beside it), "rados" (a
 * Ceph pool: state/rados.c) and "memory" (in-process, for the unit
 * tests; not a plan value).
 *
 * Layering.  A backend stores and returns events and owns the locks; it
 * does not interpret events.  The fold (state/fold.c) turns events into
 * per-step records (last event, checkpoint and its identity, created ids,
 * last failure) for every backend alike; state.c checks entries, orders
 * appends, and answers lookups from the fold.
 *
 * What a backend must guarantee (struct ferry_state_ops):
 *
 * - open: replay every stored event into the fold it is given, in append
 *   order, with ferry_fold_line (or ferry_fold_apply for events it stores
 *   already parsed); an event it cannot read is counted with
 *   ferry_fold_note_bad and skipped, never fatal.  READONLY opens never
 *   create a journal; a state that does not exist is then empty.  Locks
 *   work on a read-only state (READONLY is about the journal).
 * - append: when it returns 0 the event is durable (fsync'd, or
 *   acknowledged by a majority of OSDs): a crash afterwards replays it.
 *   When it returns -1 the event may or may not be stored (a torn write),
 *   but a later append must still be readable and a torn event must be
 *   skipped on replay.  Appends are called one at a time (state.c holds a
 *   mutex), in the order they must replay.
 * - locks: a lock has a scope (the whole plan, or one VM by name); scopes
 *   are independent (the plan lock does not exclude a VM lock, nor two VMs
 *   each other).  lock_acquire is exclusive per scope across every process
 *   and host using the same state: at most one holder at any time, even
 *   when several takers race, and also when FERRY_LOCK_TAKE_STALE removes a
 *   stale lock (the removal and the taking must be atomic with respect to
 *   other takers and breakers).  A lock records its owner (host, pid, start
 *   time, ferry version) readable by lock_read from any process; a holder
 *   refused gets EBUSY with the owner named in the message.  lock_release
 *   removes the lock only if it is still the one this handle took (it may
 *   have been broken and retaken).  lock_break removes a lock that is stale
 *   (ferry_lock_is_stale: owner on this host, pid gone; a backend with
 *   expiring locks may also call an expired lock stale), or any lock with
 *   FORCE, and returns whom it belonged to; the lock removed is the one
 *   whose owner was judged.
 * - the wave lock (FERRY_LOCK_SCOPE_WAVE) is the one lock that can be
 *   shared (FERRY_LOCK_SHARED, see there): shared holders must agree on a
 *   tag, and the check and the taking are atomic (two takers with
 *   different tags never both hold it).  A holder that dies loses it (the
 *   kernel drops a flock, a lease expires) or leaves it stale
 *   (FERRY_LOCK_TAKE_STALE takes stale holders' share away, exclusive or
 *   shared).  It is not read (lock_read) nor broken by hand (lock_break):
 *   who holds it is what the VM and plan locks say.
 * - lock handles may outlive the state that made them (release must not
 *   need it), and a process that dies without releasing leaves a lock that
 *   ferry_lock_is_stale (or the expiry) recognises.
 * - secrets never reach stored events (the engine never passes any). */
#ifndef FERRY_STATE_H
#define FERRY_STATE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#include "plan/plan.h"
#include "state/fold.h"
#include "state/journal.h"
#include "state/lock.h"
#include "util/err.h"

/* enum ferry_state_backend (file, rados, memory) and its names live in
 * plan/plan.h: the plan's state.backend is parsed into it once. */

enum ferry_lock_scope_kind {
  FERRY_LOCK_SCOPE_PLAN, /* the whole plan (apply, unlock) */
  FERRY_LOCK_SCOPE_VM,   /* one VM (apply --worker) */
  FERRY_LOCK_SCOPE_WAVE, /* who applies the plan: shared by the workers of
                            one plan file, exclusive for a plain apply,
                            destroy and unlock --force */
  FERRY_LOCK_SCOPE_LAST
};

/* enum <-> "plan", "vm", "wave"; -1 if unknown. */
const char *ferry_lock_scope_name (enum ferry_lock_scope_kind k);
int ferry_lock_scope_from_name (const char *s);

struct ferry_lock_scope {
  enum ferry_lock_scope_kind kind; /* plan, VM or wave */
  const char *vm;                  /* VM scope: the VM's name, else NULL */
  const char *tag; /* shared wave lock: what every holder must agree on
                      (the plan file's SHA-256, hex), else NULL */
};

/* Lock flag (with FERRY_LOCK_TAKE_STALE, state/lock.h): take the wave lock
 * shared.  Any number of holders with the same scope tag hold it at once;
 * it is refused with EBUSY while it is held exclusively, and with
 * FERRY_LOCK_ETAG while it is held shared under another tag.  An
 * exclusive wave lock is refused (EBUSY) while anybody holds it.  Only the
 * wave scope takes this flag, and only the wave scope is shared. */
#define FERRY_LOCK_SHARED 2u
/* The errnum of a shared wave lock refused because its holders hold it
 * under another tag (the message names that tag; no errno text). */
#define FERRY_LOCK_ETAG EDOM

/* The backend operations; see the head comment for the contract.  DATA is
 * what open returned.  Every function returns 0 / -1 (err set) unless
 * said otherwise. */
struct ferry_state_ops {
  const char *name; /* "file", ... */
  int (*open) (const struct ferry_state_cfg *cfg, bool readonly,
               struct ferry_fold *fold, void **ret_data, struct ferry_err *err);
  void (*close) (void *data);
  /* where the state lives, for messages ("journal '/x/y.state'") */
  const char *(*where) (void *data);
  int (*append) (void *data, const struct ferry_journal_entry *e,
                 struct ferry_err *err);
  /* AS: owner to record (never NULL here); *RET_TAKEN: whose stale lock
   * was taken over (pid 0: none) */
  int (*lock_acquire) (void *data, const struct ferry_lock_scope *scope,
                       const struct ferry_lock_owner *as, unsigned flags,
                       void **ret_lock, struct ferry_lock_owner *ret_taken,
                       struct ferry_err *err);
  void (*lock_release) (void *lock);
  /* 1 held (*RET owner; pid 0 = unknown/garbled), 0 free, -1 error */
  int (*lock_read) (void *data, const struct ferry_lock_scope *scope,
                    struct ferry_lock_owner *ret, struct ferry_err *err);
  /* 1 removed (*RET_OWNER), 0 no lock, -1 refused (EBUSY) or error */
  int (*lock_break) (void *data, const struct ferry_lock_scope *scope,
                     bool force, struct ferry_lock_owner *ret_owner,
                     struct ferry_err *err);
  /* true once the backend knows LOCK is no longer ours (an expiring lock
   * whose renewal failed); NULL: locks are never lost (file, memory) */
  bool (*lock_lost) (void *lock);
};

struct ferry_state;      /* an open state: backend + fold */
struct ferry_state_lock; /* a held lock */

/* Open the state CFG describes (CFG->backend: file, rados or memory; CFG->path
 * for file and memory) and replay its journal. READONLY: no append, no journal
 * created; locks still work (ferry unlock and status open read-only). */
int ferry_state_open (const struct ferry_state_cfg *cfg, bool readonly,
                      struct ferry_state **ret, struct ferry_err *err);
/* Close; NULL is fine.  Locks taken from ST stay valid. */
void ferry_state_close (struct ferry_state *st);
/* The backend's name and where the state lives (for messages). */
const char *ferry_state_backend (const struct ferry_state *st);
const char *ferry_state_where (const struct ferry_state *st);

/* Append one event: checked, time filled in (time_ms 0 = now), durable
 * when it returns 0, then folded in.  Safe from several threads. */
int ferry_state_append (struct ferry_state *st,
                        const struct ferry_journal_entry *e,
                        struct ferry_err *err);
/* Fence ST with LOCK (NULL: none): from the moment ferry_state_lock_lost
 * says LOCK is lost, every append fails (ENOLCK) — a worker that lost its
 * VM records no checkpoint and no done for it.  LOCK must outlive ST's
 * appends. */
void ferry_state_set_fence (struct ferry_state *st,
                            struct ferry_state_lock *lock);
/* The record of STEP, or NULL if the journal never saw it.  The pointer
 * stays valid until ferry_state_close. */
const struct ferry_step_record *ferry_state_step (struct ferry_state *st,
                                                  const char *step);
/* All records, in order of first appearance. */
size_t ferry_state_count (struct ferry_state *st);
const struct ferry_step_record *ferry_state_at (struct ferry_state *st,
                                                size_t i);
/* Events skipped on replay (torn last line after a crash, ...), and the
 * 1-based number of the first one (0 if none). */
size_t ferry_state_bad_lines (struct ferry_state *st, size_t *ret_first);

/* Take the lock of SCOPE for this process.  Held: -1, EBUSY in ERR naming
 * the owner.  FLAGS: FERRY_LOCK_TAKE_STALE takes over a lock whose owner
 * is gone, atomically, and reports whose it was in *RET_TAKEN (may be
 * NULL; pid 0 when nothing was taken over). */
int ferry_state_lock_acquire (struct ferry_state *st,
                              const struct ferry_lock_scope *scope,
                              unsigned flags, struct ferry_state_lock **ret,
                              struct ferry_lock_owner *ret_taken,
                              struct ferry_err *err);
/* The same, recording AS as the owner (tests, tools acting for a run). */
int ferry_state_lock_acquire_as (struct ferry_state *st,
                                 const struct ferry_lock_scope *scope,
                                 const struct ferry_lock_owner *as,
                                 unsigned flags, struct ferry_state_lock **ret,
                                 struct ferry_lock_owner *ret_taken,
                                 struct ferry_err *err);
/* Release (only if still ours) and free; NULL is fine. */
void ferry_state_lock_release (struct ferry_state_lock *lock);
/* True when the backend knows LOCK is no longer ours: rados, when a
 * renewal was refused (broken, expired) or none succeeded for a whole lock
 * duration.  The holder must stop writing what the lock protects.  Always
 * false for the file and memory backends (their locks do not expire). */
bool ferry_state_lock_lost (struct ferry_state_lock *lock);
/* The owner of SCOPE's lock: 1 held (in *RET unless NULL; pid 0: unknown
 * owner), 0 free, -1 error. */
int ferry_state_lock_read (struct ferry_state *st,
                           const struct ferry_lock_scope *scope,
                           struct ferry_lock_owner *ret, struct ferry_err *err);
/* Remove SCOPE's lock: only when stale unless FORCE.  1 removed (whose in
 * *RET_OWNER, may be NULL), 0 no lock, -1 refused (EBUSY) or error. */
int ferry_state_lock_break (struct ferry_state *st,
                            const struct ferry_lock_scope *scope, bool force,
                            struct ferry_lock_owner *ret_owner,
                            struct ferry_err *err);

/* The backends (state/file.c, state/memory.c, state/rados.c). */
extern const struct ferry_state_ops ferry_state_file_ops;
extern const struct ferry_state_ops ferry_state_rados_ops;
extern const struct ferry_state_ops ferry_state_memory_ops;

/* File backend: the path of the lock file of SCOPE for the journal at
 * JOURNAL ("<journal>.lock" for the plan, "<journal>.vm.<name>.lock" for a
 * VM, the name escaped); malloc'd, NULL when out of memory or VM scope
 * without a valid name.  Exposed for the tests and the ferry_lock_*
 * wrappers; callers of the interface never need it. */
char *ferry_state_file_lock_path (const char *journal,
                                  const struct ferry_lock_scope *scope);

#endif
