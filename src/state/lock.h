/* Plan locks: a lock file created with O_EXCL holding the owner's host,
 * pid, start time and ferry version (git's lockfile shape). */
#ifndef FERRY_LOCK_H
#define FERRY_LOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/err.h"

struct ferry_lock_owner {
  char host[256];     /* gethostname */
  pid_t pid;          /* owner process */
  int64_t started;    /* seconds since the epoch */
  char version[32];   /* ferry version */
  int64_t renewed_ms; /* lock_read: wall-clock ms of the holder's last
                         renewal that the backend recorded (rados: the
                         heartbeat); 0 when unknown or never renewed */
};

struct ferry_lock;

/* Take the lock at PATH.  If somebody holds it: -1, errno-style EBUSY in
 * ERR, whose message names the owner (host, pid, start time, version) and
 * says how to release a stale lock (ferry unlock). */
int ferry_lock_acquire (const char *path, struct ferry_lock **ret,
                        struct ferry_err *err);
/* Take over a lock whose owner is stale (see ferry_lock_is_stale). */
#define FERRY_LOCK_TAKE_STALE 1u
/* ferry_lock_acquire, general form: WHAT names the locked object in
 * messages ("plan", "vm 'web01'"); AS is the owner to record (NULL: this
 * process, see ferry_lock_owner_self); with FERRY_LOCK_TAKE_STALE a stale
 * lock is removed and taken, atomically with respect to every other
 * taker, and *RET_TAKEN (if not NULL) says whose it was (pid 0: nobody's). */
int ferry_lock_acquire_as (const char *path, const char *what,
                           const struct ferry_lock_owner *as, unsigned flags,
                           struct ferry_lock **ret,
                           struct ferry_lock_owner *ret_taken,
                           struct ferry_err *err);
/* The owner record of this process (host, pid, now, FERRY_VERSION). */
void ferry_lock_owner_self (struct ferry_lock_owner *ret);
/* Release (removes the file) and free; NULL is fine. */
void ferry_lock_release (struct ferry_lock *lock);
/* Read the owner of the lock at PATH: 1 if present, 0 if not, -1 error. */
int ferry_lock_read (const char *path, struct ferry_lock_owner *ret,
                     struct ferry_err *err);
/* True if the owner is on this host and its pid is gone. */
bool ferry_lock_is_stale (const struct ferry_lock_owner *owner);
/* Remove the lock at PATH: only when stale unless FORCE; atomic: the
 * lock removed is the one whose owner was judged.  *ret_owner gets
 * whom it belonged to.  Returns 1 removed, 0 no lock, -1 refused/error. */
int ferry_lock_break (const char *path, bool force,
                      struct ferry_lock_owner *ret_owner,
                      struct ferry_err *err);
/* "pid 1234 on host 'h' since 2026-11-23T20:41:00Z (ferry 0.1.0)", or
 * "an unknown owner (the lock file is garbled)" when OWNER->pid is 0 (what
 * ferry_lock_read returns for a lock file it cannot parse). */
void ferry_lock_describe (const struct ferry_lock_owner *owner, char *buf,
                          size_t len);

#endif
