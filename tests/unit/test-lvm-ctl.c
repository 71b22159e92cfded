/* Unit tests for the live-migration convergence control
 * (ferry_lvm_ctl_step): series of job samples in, actions out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "clients/libvirt-migrate.h"

#define MIB (1024ull * 1024ull)

/* A pre-copy sample at T seconds with REM MiB of memory remaining (memory
 * is moving: 64 MiB sent). */
static struct ferry_lvm_stats
mem_sample (double t, uint64_t rem)
{
  struct ferry_lvm_stats s;

  memset (&s, 0, sizeof s);
  s.elapsed_s = t;
  s.mem_total = 128 * MIB;
  s.mem_processed = 64 * MIB;
  s.mem_remaining = rem * MIB;
  s.throttle_pct = -1;
  return s;
}

/* A control allowing ESC, downtime 100 ms up to LIMIT, stall 5 s. */
static struct ferry_lvm_ctl
mk_ctl (unsigned esc, uint64_t limit, double deadline)
{
  struct ferry_lvm_ctl c;

  memset (&c, 0, sizeof c);
  c.escalate = esc;
  c.downtime_ms = 100;
  c.downtime_limit_ms = limit;
  c.stall_s = 5;
  c.deadline_s = deadline;
  return c;
}

/* Step CTL with a sample of memory pass IT at T with REM MiB remaining. */
static enum ferry_lvm_action
step_pass (struct ferry_lvm_ctl *c, double t, uint64_t it, double rem)
{
  struct ferry_lvm_stats s = mem_sample (t, 0);

  s.iterations = it;
  s.mem_remaining = (uint64_t) (rem * (double) MIB);
  return ferry_lvm_ctl_step (c, &s);
}

/* Step CTL with a memory sample; return the action. */
static enum ferry_lvm_action
step (struct ferry_lvm_ctl *c, double t, uint64_t rem)
{
  struct ferry_lvm_stats s = mem_sample (t, rem);

  return ferry_lvm_ctl_step (c, &s);
}

#define ALL                                                                    \
  (FERRY_LVM_ESC_DOWNTIME | FERRY_LVM_ESC_AUTO_CONVERGE |                      \
   FERRY_LVM_ESC_POSTCOPY)

/* Iterations whose lows keep falling (with the jumps of each new
 * iteration in between) need nothing, even over a long time. */
static void
test_converging (void **state)
{
  struct ferry_lvm_ctl c = mk_ctl (ALL, 400, 0);
  uint64_t low = 100;
  double t = 0;
  int it;

  (void) state;
  for (it = 0; it < 8; it++) {
    /* an iteration: back up to 2x the last low, then down to 0.7x */
    assert_int_equal (step (&c, t, low * 2), FERRY_LVM_ACT_NONE);
    assert_int_equal (step (&c, t + 2, low), FERRY_LVM_ACT_NONE);
    low = low * 7 / 10;
    assert_int_equal (step (&c, t + 4, low), FERRY_LVM_ACT_NONE);
    t += 4.5;
  }
  assert_int_equal (c.done, 0);
  assert_int_equal (c.downtime_ms, 100);
}

/* A stall raises the downtime, doubling up to the ceiling, one raise per
 * stall window; then one window for auto-converge; then post-copy. */
static void
test_stall_escalates_in_order (void **state)
{
  struct ferry_lvm_ctl c = mk_ctl (ALL, 300, 0);

  (void) state;
  assert_int_equal (step (&c, 0, 50), FERRY_LVM_ACT_NONE);
  assert_int_equal (step (&c, 4.9, 49), FERRY_LVM_ACT_NONE);
  assert_int_equal (step (&c, 5.0, 60), FERRY_LVM_ACT_RAISE_DOWNTIME);
  assert_int_equal (c.downtime_ms, 200);
  assert_int_equal (step (&c, 6, 50), FERRY_LVM_ACT_NONE);
  assert_int_equal (step (&c, 9.9, 50), FERRY_LVM_ACT_NONE);
  assert_int_equal (step (&c, 10, 50), FERRY_LVM_ACT_RAISE_DOWNTIME);
  assert_int_equal (c.downtime_ms, 300); /* capped, not 400 */
  /* at the ceiling: auto-converge armed but never showed: one window */
  assert_int_equal (step (&c, 15, 50), FERRY_LVM_ACT_NONE);
  assert_true (c.ac_waited);
  assert_int_equal (step (&c, 19.9, 50), FERRY_LVM_ACT_NONE);
  assert_int_equal (step (&c, 20, 50), FERRY_LVM_ACT_POSTCOPY);
  assert_int_equal (c.done, FERRY_LVM_ESC_DOWNTIME | FERRY_LVM_ESC_POSTCOPY);
  /* post-copy asked: nothing more, whatever the samples say */
  assert_int_equal (step (&c, 40, 50), FERRY_LVM_ACT_NONE);
}

/* Auto-converge's throttle is noted as it rises (not when it stays), the
 * first one restarts the stall clock, and post-copy follows a stall. */
static void
test_throttle_notes (void **state)
{
  struct ferry_lvm_ctl c =
      mk_ctl (FERRY_LVM_ESC_AUTO_CONVERGE | FERRY_LVM_ESC_POSTCOPY, 0, 0);
  struct ferry_lvm_stats s;

  (void) state;
  assert_int_equal (step (&c, 0, 50), FERRY_LVM_ACT_NONE);
  s = mem_sample (4, 50);
  s.throttle_pct = 20;
  assert_int_equal (ferry_lvm_ctl_step (&c, &s), FERRY_LVM_ACT_NOTE_THROTTLE);
  assert_int_equal (c.done, FERRY_LVM_ESC_AUTO_CONVERGE);
  s.elapsed_s = 6; /* same throttle, 6 s after the last low: not stalled
                      since the throttle engaged at 4 s */
  assert_int_equal (ferry_lvm_ctl_step (&c, &s), FERRY_LVM_ACT_NONE);
  s.elapsed_s = 7;
  s.throttle_pct = 30;
  assert_int_equal (ferry_lvm_ctl_step (&c, &s), FERRY_LVM_ACT_NOTE_THROTTLE);
  assert_int_equal (c.last_throttle, 30);
  s.elapsed_s = 9;
  assert_int_equal (ferry_lvm_ctl_step (&c, &s), FERRY_LVM_ACT_POSTCOPY);
}

/* With no escalation allowed a stall does nothing; the deadline aborts,
 * and only the deadline. */
static void
test_nothing_allowed_aborts_at_deadline (void **state)
{
  struct ferry_lvm_ctl c = mk_ctl (0, 400, 60);
  double t;

  (void) state;
  for (t = 0; t < 60; t += 0.5)
    assert_int_equal (step (&c, t, 50), FERRY_LVM_ACT_NONE);
  assert_int_equal (c.downtime_ms, 100);
  assert_int_equal (step (&c, 60, 50), FERRY_LVM_ACT_ABORT);
}

/* The deadline aborts even while making progress (before post-copy). */
static void
test_deadline_while_converging (void **state)
{
  struct ferry_lvm_ctl c = mk_ctl (ALL, 400, 10);

  (void) state;
  assert_int_equal (step (&c, 0, 100), FERRY_LVM_ACT_NONE);
  assert_int_equal (step (&c, 9, 10), FERRY_LVM_ACT_NONE);
  assert_int_equal (step (&c, 10, 5), FERRY_LVM_ACT_ABORT);
}

/* After post-copy was asked for, or once the sample shows it running, the
 * deadline never aborts. */
static void
test_no_abort_after_postcopy (void **state)
{
  struct ferry_lvm_ctl c = mk_ctl (FERRY_LVM_ESC_POSTCOPY, 0, 12);
  struct ferry_lvm_ctl d = mk_ctl (0, 0, 12);
  struct ferry_lvm_stats s;

  (void) state;
  assert_int_equal (step (&c, 0, 50), FERRY_LVM_ACT_NONE);
  assert_int_equal (step (&c, 5, 50), FERRY_LVM_ACT_POSTCOPY);
  assert_int_equal (step (&c, 12, 50), FERRY_LVM_ACT_NONE);
  assert_int_equal (step (&c, 100, 50), FERRY_LVM_ACT_NONE);

  /* switched outside the control (e.g. by hand): seen in the sample */
  s = mem_sample (13, 50);
  s.postcopy = true;
  assert_int_equal (ferry_lvm_ctl_step (&d, &s), FERRY_LVM_ACT_NONE);
  assert_true (d.done & FERRY_LVM_ESC_POSTCOPY);
}

/* A failed switch (caller clears the bit) is asked again next sample; no
 * switch before memory moves. */
static void
test_postcopy_retry_and_wait_for_memory (void **state)
{
  struct ferry_lvm_ctl c = mk_ctl (FERRY_LVM_ESC_POSTCOPY, 0, 0);
  struct ferry_lvm_stats s;

  (void) state;
  s = mem_sample (0, 128);
  s.mem_processed = 0;
  assert_int_equal (ferry_lvm_ctl_step (&c, &s), FERRY_LVM_ACT_NONE);
  s.elapsed_s = 6;
  assert_int_equal (ferry_lvm_ctl_step (&c, &s), FERRY_LVM_ACT_NONE);
  s.elapsed_s = 7;
  s.mem_processed = 4096;
  assert_int_equal (ferry_lvm_ctl_step (&c, &s), FERRY_LVM_ACT_POSTCOPY);
  c.done &= ~FERRY_LVM_ESC_POSTCOPY; /* the switch failed */
  s.elapsed_s = 7.5;
  assert_int_equal (ferry_lvm_ctl_step (&c, &s), FERRY_LVM_ACT_POSTCOPY);
}

/* In the first pass remaining jumping up (the bitmap of a sync without a
 * pass change) is not progress: the stall clock runs from the last low,
 * which the jump does not move. */
static void
test_jump_up_is_not_progress (void **state)
{
  struct ferry_lvm_ctl c = mk_ctl (FERRY_LVM_ESC_DOWNTIME, 400, 0);

  (void) state;
  assert_int_equal (step (&c, 0, 100), FERRY_LVM_ACT_NONE);
  assert_int_equal (step (&c, 2, 20), FERRY_LVM_ACT_NONE); /* low at 2 s */
  assert_int_equal (step (&c, 3, 90), FERRY_LVM_ACT_NONE); /* new iteration */
  assert_int_equal (step (&c, 5, 40), FERRY_LVM_ACT_NONE);
  assert_int_equal (step (&c, 6.9, 20), FERRY_LVM_ACT_NONE); /* not < 19 */
  assert_int_equal (c.best_remaining, 20 * MIB);
  assert_int_equal (step (&c, 7, 21), FERRY_LVM_ACT_RAISE_DOWNTIME);
  /* a real new low (<= 95%) after a jump restarts the clock */
  assert_int_equal (step (&c, 8, 80), FERRY_LVM_ACT_NONE);
  assert_int_equal (step (&c, 11, 19), FERRY_LVM_ACT_NONE);
  assert_int_equal (step (&c, 15.9, 60), FERRY_LVM_ACT_NONE);
  assert_int_equal (step (&c, 16, 60), FERRY_LVM_ACT_RAISE_DOWNTIME);
  assert_int_equal (c.downtime_ms, 400);
  /* at the ceiling with nothing else allowed: nothing, ever */
  assert_int_equal (step (&c, 100, 60), FERRY_LVM_ACT_NONE);
}

/* From the second pass on, what remains within a pass (always falling
 * to about 0 at its end) is no progress: only the dirty set at each pass
 * start counts.  Shrinking dirty sets need nothing; a dirty set that stays
 * is a stall even though every pass ends near 0. */
static void
test_passes (void **state)
{
  struct ferry_lvm_ctl c = mk_ctl (FERRY_LVM_ESC_DOWNTIME, 400, 0);
  struct ferry_lvm_ctl d = mk_ctl (FERRY_LVM_ESC_DOWNTIME, 400, 0);
  double t = 10, set = 64;
  uint64_t it;

  (void) state;
  /* the full pass, then pass 2 starts with a 40 MiB dirty set */
  assert_int_equal (step_pass (&c, 0, 1, 100), FERRY_LVM_ACT_NONE);
  assert_int_equal (step_pass (&c, 4, 1, 50), FERRY_LVM_ACT_NONE);
  assert_int_equal (step_pass (&c, 8, 1, 0.1), FERRY_LVM_ACT_NONE);
  assert_int_equal (step_pass (&c, 10, 2, 40), FERRY_LVM_ACT_NONE);
  assert_int_equal (step_pass (&c, 12, 2, 5), FERRY_LVM_ACT_NONE);
  assert_int_equal (step_pass (&c, 13.5, 2, 0.01), FERRY_LVM_ACT_NONE);
  /* pass 3: the same dirty set; its tail goes lower than ever */
  assert_int_equal (step_pass (&c, 14, 3, 39), FERRY_LVM_ACT_NONE);
  assert_int_equal (step_pass (&c, 14.9, 3, 0.001), FERRY_LVM_ACT_NONE);
  assert_int_equal (step_pass (&c, 15, 3, 0.0001),
                    FERRY_LVM_ACT_RAISE_DOWNTIME);
  assert_int_equal (c.downtime_ms, 200);
  /* pass 4: a dirty set 25% smaller is progress again */
  assert_int_equal (step_pass (&c, 16, 4, 30), FERRY_LVM_ACT_NONE);
  /* a long pass: no stall before the next pass starts ... */
  assert_int_equal (step_pass (&c, 20.9, 4, 0.5), FERRY_LVM_ACT_NONE);
  assert_int_equal (step_pass (&c, 25, 4, 0.4), FERRY_LVM_ACT_NONE);
  /* ... and a pass start without progress is one */
  assert_int_equal (step_pass (&c, 26, 5, 30), FERRY_LVM_ACT_RAISE_DOWNTIME);
  assert_int_equal (c.downtime_ms, 400);

  /* shrinking dirty sets with 3 s passes: nothing for a long time */
  assert_int_equal (step_pass (&d, 0, 1, 128), FERRY_LVM_ACT_NONE);
  for (it = 2; it < 12; it++) {
    assert_int_equal (step_pass (&d, t, it, set), FERRY_LVM_ACT_NONE);
    assert_int_equal (step_pass (&d, t + 1.5, it, set / 2), FERRY_LVM_ACT_NONE);
    assert_int_equal (step_pass (&d, t + 2.9, it, 0.01), FERRY_LVM_ACT_NONE);
    set *= 0.8;
    t += 3;
  }
  assert_int_equal (d.done, 0);
}

/* In the later passes a pass that never ends is a stall after 3 x stall_s
 * (its start was the last progress). */
static void
test_endless_pass (void **state)
{
  struct ferry_lvm_ctl c = mk_ctl (FERRY_LVM_ESC_DOWNTIME, 400, 0);

  (void) state;
  assert_int_equal (step_pass (&c, 0, 1, 128), FERRY_LVM_ACT_NONE);
  assert_int_equal (step_pass (&c, 10, 2, 100), FERRY_LVM_ACT_NONE);
  assert_int_equal (step_pass (&c, 15, 2, 90), FERRY_LVM_ACT_NONE);
  assert_int_equal (step_pass (&c, 24.9, 2, 50), FERRY_LVM_ACT_NONE);
  assert_int_equal (step_pass (&c, 25, 2, 50), FERRY_LVM_ACT_RAISE_DOWNTIME);
}

/* While the disk copy runs (no memory sent yet), a slowly shrinking disk
 * is progress; a disk copy that stops shrinking is a stall. */
static void
test_disk_phase (void **state)
{
  struct ferry_lvm_ctl c = mk_ctl (ALL, 400, 0);
  struct ferry_lvm_stats s;
  double t;
  uint64_t left = 10000 * MIB;

  (void) state;
  memset (&s, 0, sizeof s);
  s.mem_total = 128 * MIB;
  s.mem_remaining = 128 * MIB;
  s.disk_total = 10000 * MIB;
  s.throttle_pct = -1;
  for (t = 0; t < 60; t += 1) {
    s.elapsed_s = t;
    s.disk_remaining = left;
    s.disk_processed = s.disk_total - left;
    left -= MIB; /* 1 MiB/s of 10 GiB: far below 5% per window */
    assert_int_equal (ferry_lvm_ctl_step (&c, &s), FERRY_LVM_ACT_NONE);
  }
  /* the copy stops shrinking after the last low at 59 s */
  s.elapsed_s = 63.9;
  assert_int_equal (ferry_lvm_ctl_step (&c, &s), FERRY_LVM_ACT_NONE);
  s.elapsed_s = 64;
  assert_int_equal (ferry_lvm_ctl_step (&c, &s), FERRY_LVM_ACT_RAISE_DOWNTIME);
}

/* The disk copy ends with nothing remaining, then waits for memory to
 * start; the first memory pass starts with all of memory remaining: a new
 * phase, not a stall. */
static void
test_disk_then_memory (void **state)
{
  struct ferry_lvm_ctl c = mk_ctl (ALL, 400, 0);
  struct ferry_lvm_stats s;
  double t;

  (void) state;
  memset (&s, 0, sizeof s);
  s.throttle_pct = -1;
  s.disk_total = 16 * MIB;
  for (t = 0; t < 4; t += 1) {
    s.elapsed_s = t;
    s.disk_remaining = (uint64_t) (16 - 4 * t) * MIB;
    assert_int_equal (ferry_lvm_ctl_step (&c, &s), FERRY_LVM_ACT_NONE);
  }
  /* copied, memory not yet started (libvirt: memory total 0) */
  s.disk_remaining = 0;
  for (t = 4; t < 12; t += 1) {
    s.elapsed_s = t;
    assert_int_equal (ferry_lvm_ctl_step (&c, &s), FERRY_LVM_ACT_NONE);
  }
  s.mem_total = 128 * MIB;
  for (t = 12; t < 40; t += 1) {
    s.elapsed_s = t;
    s.iterations = 1;
    s.mem_processed = (uint64_t) (t - 11) * 4 * MIB;
    s.mem_remaining = s.mem_total - s.mem_processed;
    assert_int_equal (ferry_lvm_ctl_step (&c, &s), FERRY_LVM_ACT_NONE);
  }
  assert_int_equal (c.done, 0);
}

/* Samples without data (libvirt still preparing) start no stall clock. */
static void
test_no_data_yet (void **state)
{
  struct ferry_lvm_ctl c = mk_ctl (ALL, 400, 0);
  struct ferry_lvm_stats s;

  (void) state;
  memset (&s, 0, sizeof s);
  s.throttle_pct = -1;
  for (s.elapsed_s = 0; s.elapsed_s < 30; s.elapsed_s += 1)
    assert_int_equal (ferry_lvm_ctl_step (&c, &s), FERRY_LVM_ACT_NONE);
  assert_int_equal (step (&c, 30, 100), FERRY_LVM_ACT_NONE);
  assert_int_equal (step (&c, 34.9, 100), FERRY_LVM_ACT_NONE);
  assert_int_equal (step (&c, 35, 100), FERRY_LVM_ACT_RAISE_DOWNTIME);
}

/* The formatted sample names what a user watches. */
static void
test_format (void **state)
{
  struct ferry_lvm_stats s = mem_sample (1, 8);
  char buf[256];

  (void) state;
  s.disk_total = 16 * MIB;
  s.disk_processed = 16 * MIB;
  s.mem_bps = 8 * MIB;
  s.iterations = 3;
  s.expected_downtime_ms = 300;
  ferry_lvm_stats_format (&s, buf, sizeof buf);
  assert_string_equal (buf, "memory 64/128 MiB, disk 16/16 MiB, 8.0 MiB/s, "
                            "dirty 0.0 MiB/s, iteration 3, expected "
                            "downtime 300 ms");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_converging),
      cmocka_unit_test (test_stall_escalates_in_order),
      cmocka_unit_test (test_throttle_notes),
      cmocka_unit_test (test_nothing_allowed_aborts_at_deadline),
      cmocka_unit_test (test_deadline_while_converging),
      cmocka_unit_test (test_no_abort_after_postcopy),
      cmocka_unit_test (test_postcopy_retry_and_wait_for_memory),
      cmocka_unit_test (test_jump_up_is_not_progress),
      cmocka_unit_test (test_passes),
      cmocka_unit_test (test_endless_pass),
      cmocka_unit_test (test_disk_phase),
      cmocka_unit_test (test_disk_then_memory),
      cmocka_unit_test (test_no_data_yet),
      cmocka_unit_test (test_format),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
