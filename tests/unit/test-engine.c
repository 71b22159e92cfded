/* Unit tests: the graph built from fake module declarations, and the engine
 * running fake modules: check order, parallel apply within dependencies,
 * a failure skips its dependants only, cleanup after a verified apply, a
 * check error is an error. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* cmocka.h needs the headers above */
#include <cmocka.h>

#include "engine/engine.h"
#include "graph/graph.h"
#include "modules/local.h"
#include "modules/module.h"
#include "plan/plan.h"

#define MAX_STEPS 64

/* What the fake modules saw and should do (guarded by mu). */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static const struct ferry_graph *cur_g; /* the graph being run */
static char calls[8192];                /* "check:ID apply:ID ..." */
static const char *fail_apply;          /* apply of this step id fails */
static const char *check_error;         /* check of this step id fails */
static const char *done_step;           /* check of this step says done */
static bool finished[MAX_STEPS];        /* apply returned */
static int n_apply[MAX_STEPS];          /* apply calls per step */
static int n_cleanup[MAX_STEPS];        /* cleanup calls per step */
static unsigned in_flight, max_in_flight;
static bool dep_violation; /* an apply started before a dependency ended */

static void
reset (const struct ferry_graph *g)
{
  cur_g = g;
  calls[0] = '\0';
  fail_apply = check_error = done_step = NULL;
  memset (finished, 0, sizeof finished);
  memset (n_apply, 0, sizeof n_apply);
  memset (n_cleanup, 0, sizeof n_cleanup);
  in_flight = max_in_flight = 0;
  dep_violation = false;
}

static void
note (const char *verb, const struct ferry_step *step)
{
  size_t len = strlen (calls);
  snprintf (calls + len, sizeof calls - len, "%s:%s ", verb, step->id);
}

static int
fake_check (struct ferry_ctx *ctx, const struct ferry_step *step,
            struct ferry_observation *ret, struct ferry_err *err)
{
  (void) ctx;
  pthread_mutex_lock (&mu);
  note ("check", step);
  pthread_mutex_unlock (&mu);
  if (check_error && strcmp (step->id, check_error) == 0)
    return ferry_err_set (err, 5, "cannot read '/fake/%s'", step->id);
  ret->need = done_step && strcmp (step->id, done_step) == 0
                  ? FERRY_NEED_DONE
                  : FERRY_NEED_CREATE;
  snprintf (ret->detail, sizeof ret->detail, "%s", step->id);
  return 0;
}

static int
fake_apply (struct ferry_ctx *ctx, const struct ferry_step *step,
            struct ferry_err *err)
{
  size_t i = (size_t) (step - cur_g->steps), j;
  bool fail;

  (void) ctx;
  pthread_mutex_lock (&mu);
  note ("apply", step);
  n_apply[i]++;
  for (j = 0; j < step->n_deps; j++)
    if (!finished[step->deps[j]] &&
        !(done_step && strcmp (cur_g->steps[step->deps[j]].id, done_step) == 0))
      dep_violation = true;
  if (++in_flight > max_in_flight)
    max_in_flight = in_flight;
  pthread_mutex_unlock (&mu);
  usleep (20000);
  pthread_mutex_lock (&mu);
  in_flight--;
  finished[i] = true;
  fail = fail_apply && strcmp (step->id, fail_apply) == 0;
  pthread_mutex_unlock (&mu);
  if (fail)
    return ferry_err_set (err, 0, "%s: fake failure", step->id);
  return 0;
}

static int
fake_verify (struct ferry_ctx *ctx, const struct ferry_step *step,
             struct ferry_err *err)
{
  (void) ctx;
  (void) step;
  (void) err;
  return 0;
}

static int
fake_cleanup (struct ferry_ctx *ctx, const struct ferry_step *step,
              struct ferry_err *err)
{
  (void) ctx;
  (void) err;
  pthread_mutex_lock (&mu);
  n_cleanup[step - cur_g->steps]++;
  pthread_mutex_unlock (&mu);
  return 0;
}

/* Fake modules: per disk "copy" (after "net", a plan-level step), per VM
 * "tune" after copy, per port "nic", and the VM's final "start" after
 * tune, copy and nic; "later" is declared but not in this build. */
static const char *const copy_after[] = {"net", NULL};
static const char *const tune_after[] = {"copy", NULL};
static const char *const start_after[] = {"nic", "tune", "copy", NULL};
static const char *const later_after[] = {"start", NULL};

#define FAKE_CALLBACKS                                                         \
  .check = fake_check, .describe = ferry_describe_detail, .apply = fake_apply, \
  .verify = fake_verify, .cleanup = fake_cleanup

static const struct ferry_module m_copy = {.name = "copy",
                                           .summary = "s",
                                           .scope = FERRY_SCOPE_DISK,
                                           .after = copy_after,
                                           FAKE_CALLBACKS};
static const struct ferry_module m_later = {.name = "later",
                                            .summary = "s",
                                            .scope = FERRY_SCOPE_VM,
                                            .after = later_after,
                                            .planned = true};
static const struct ferry_module m_net = {
    .name = "net", .summary = "s", .scope = FERRY_SCOPE_PLAN, FAKE_CALLBACKS};
static const struct ferry_module m_nic = {
    .name = "nic",
    .summary = "s",
    .scope = FERRY_SCOPE_PORT,
    .targets = FERRY_KIND (FERRY_PLAN_TARGET_OPENSTACK),
    FAKE_CALLBACKS};
static const struct ferry_module m_start = {.name = "start",
                                            .summary = "s",
                                            .scope = FERRY_SCOPE_VM,
                                            .step_name = "go",
                                            .after = start_after,
                                            .vm_final = true,
                                            FAKE_CALLBACKS};
static const struct ferry_module m_tune = {.name = "tune",
                                           .summary = "s",
                                           .scope = FERRY_SCOPE_VM,
                                           .after = tune_after,
                                           FAKE_CALLBACKS};
static const struct ferry_module *const fake_modules[] = {
    &m_copy, &m_later, &m_net, &m_nic, &m_start, &m_tune};
static const struct ferry_registry fake_reg = {fake_modules, 6};

static struct ferry_plan_target local_target = {
    .name = "lab", .type = FERRY_PLAN_TARGET_LOCAL};
static struct ferry_plan_target os_target = {
    .name = "cloud", .type = FERRY_PLAN_TARGET_OPENSTACK};

/* vm0: local, 2 disks, 1 port (no nic: local); vm1: openstack, 1 disk,
 * 2 ports, depends on vm0. */
static struct ferry_plan *
make_plan (void)
{
  static struct ferry_disk_spec disks0[2], disks1[1];
  static struct ferry_port ports0[1], ports1[2];
  static char *deps1[] = {"vm0"};
  static struct ferry_vm vms[2];
  static struct ferry_plan_target targets[2];
  static struct ferry_plan p;

  memset (&p, 0, sizeof p);
  memset (vms, 0, sizeof vms);
  targets[0] = local_target;
  targets[1] = os_target;
  p.name = "t";
  p.targets = targets;
  p.n_targets = 2;
  p.defaults.target = "lab";
  vms[0].name = "vm0";
  vms[0].disks = disks0;
  vms[0].n_disks = 2;
  vms[0].ports = ports0;
  vms[0].n_ports = 1;
  vms[1].name = "vm1";
  vms[1].target = "cloud";
  vms[1].disks = disks1;
  vms[1].n_disks = 1;
  vms[1].ports = ports1;
  vms[1].n_ports = 2;
  vms[1].depends_on = deps1;
  vms[1].n_depends_on = 1;
  p.vms = vms;
  p.n_vms = 2;
  return &p;
}

static size_t
idx (const struct ferry_graph *g, const char *id)
{
  size_t i = ferry_graph_find (g, id);
  if (i == (size_t) -1)
    fail_msg ("no step '%s'", id);
  return i;
}

static struct ferry_graph *
build (void)
{
  struct ferry_graph *g = NULL;
  struct ferry_err err = {0};

  if (ferry_graph_build_with (make_plan (), &fake_reg, &g, &err) < 0)
    fail_msg ("build: %s", err.msg);
  assert_true (g->n <= MAX_STEPS);
  reset (g);
  return g;
}

/* The steps, their order and edges come from the declarations alone. */
static void
test_graph_from_declarations (void **state)
{
  struct ferry_graph *g = build ();
  char *text = ferry_graph_render (g, false);

  (void) state;
  assert_string_equal (text,
                       "vm1/nic/0 [nic]\n"
                       "vm1/nic/1 [nic]\n"
                       "net [net]\n"
                       "vm0/copy/disk0 [copy] <- net\n"
                       "vm0/copy/disk1 [copy] <- net\n"
                       "vm1/copy/disk0 [copy] <- net\n"
                       "vm0/tune [tune] <- vm0/copy/disk0, vm0/copy/disk1\n"
                       "vm1/tune [tune] <- vm1/copy/disk0\n"
                       "vm0/go [start] <- vm0/tune\n"
                       "vm0/later [later, not available] <- vm0/go\n"
                       "vm1/go [start] <- vm1/nic/0, vm1/nic/1, vm1/tune, "
                       "vm0/go\n"
                       "vm1/later [later, not available] <- vm1/go\n");
  assert_int_equal (g->steps[idx (g, "vm1/nic/1")].scope, FERRY_SCOPE_PORT);
  assert_int_equal (g->steps[idx (g, "vm1/nic/1")].index, 1);
  assert_int_equal (ferry_graph_vm_final (g, "vm1"), idx (g, "vm1/go"));
  free (text);
  ferry_graph_free (g);
}

/* Bad tables are refused: an unknown `after` name, a missing callback,
 * unsorted, a cycle of `after`. */
static void
test_bad_registry (void **state)
{
  static const char *const bad_after[] = {"nosuch", NULL};
  static const struct ferry_module bad = {.name = "bad",
                                          .summary = "s",
                                          .scope = FERRY_SCOPE_VM,
                                          .after = bad_after,
                                          FAKE_CALLBACKS};
  static const struct ferry_module nocb = {
      .name = "nocb", .summary = "s", .scope = FERRY_SCOPE_VM};
  const struct ferry_module *const t1[] = {&bad};
  const struct ferry_module *const t2[] = {&nocb};
  const struct ferry_module *const t3[] = {&m_tune, &m_copy};
  static const char *const ping_after[] = {"pong", NULL};
  static const char *const pong_after[] = {"ping", NULL};
  static const struct ferry_module ping = {.name = "ping",
                                           .summary = "s",
                                           .scope = FERRY_SCOPE_VM,
                                           .after = ping_after,
                                           FAKE_CALLBACKS};
  static const struct ferry_module pong = {.name = "pong",
                                           .summary = "s",
                                           .scope = FERRY_SCOPE_VM,
                                           .after = pong_after,
                                           FAKE_CALLBACKS};
  const struct ferry_module *const t4[] = {&ping, &pong};
  const struct ferry_registry r1 = {t1, 1}, r2 = {t2, 1}, r3 = {t3, 2},
                              r4 = {t4, 2};
  struct ferry_graph *g = NULL;
  struct ferry_err err = {0};

  (void) state;
  assert_int_equal (ferry_graph_build_with (make_plan (), &r1, &g, &err), -1);
  assert_non_null (strstr (err.msg, "'nosuch'"));
  memset (&err, 0, sizeof err);
  assert_int_equal (ferry_registry_check (&r2, &err), -1);
  assert_non_null (strstr (err.msg, "mandatory callback"));
  memset (&err, 0, sizeof err);
  assert_int_equal (ferry_registry_check (&r3, &err), -1);
  assert_non_null (strstr (err.msg, "not sorted"));
  memset (&err, 0, sizeof err);
  assert_int_equal (ferry_registry_check (&r4, &err), -1);
  assert_non_null (strstr (err.msg, "cycle"));
  memset (&err, 0, sizeof err);
  assert_int_equal (ferry_modules_check (&err), 0);
}

/* Observe checks every step once, in topological order; planned ones are
 * blocked with their dependants. */
static void
test_check_order (void **state)
{
  struct ferry_graph *g = build ();
  struct ferry_step_result res[MAX_STEPS];
  struct ferry_ctx ctx = {.dry_run = true};
  struct ferry_err err = {0};
  char want[4096] = "";
  size_t k, i;

  (void) state;
  ctx.plan = make_plan ();
  assert_int_equal (ferry_engine_observe (&ctx, g, NULL, res, &err), 0);
  for (k = 0; k < g->n; k++) {
    i = g->order[k];
    if (!g->steps[i].module->planned) {
      size_t len = strlen (want);
      snprintf (want + len, sizeof want - len, "check:%s ", g->steps[i].id);
    }
  }
  assert_string_equal (calls, want);
  assert_int_equal (res[idx (g, "vm0/later")].status, FERRY_STATUS_BLOCKED);
  assert_non_null (strstr (res[idx (g, "vm0/later")].obs.detail,
                           "module 'later' is not available"));
  assert_int_equal (res[idx (g, "vm0/go")].status, FERRY_STATUS_PENDING);
  assert_int_equal (res[idx (g, "vm0/go")].obs.need, FERRY_NEED_CREATE);
  ferry_graph_free (g);
}

/* A check that fails is an error naming the step, not "blocked". */
static void
test_check_error (void **state)
{
  struct ferry_graph *g = build ();
  struct ferry_step_result res[MAX_STEPS];
  struct ferry_ctx ctx = {.dry_run = true};
  struct ferry_err err = {0};

  (void) state;
  ctx.plan = make_plan ();
  check_error = "vm0/tune";
  assert_int_equal (ferry_engine_observe (&ctx, g, NULL, res, &err), -1);
  assert_string_equal (
      err.msg, "vm0/tune: cannot read '/fake/vm0/tune': Input/output error");
  assert_int_equal (err.errnum, 5);
  assert_int_equal (res[idx (g, "vm0/tune")].status, FERRY_STATUS_FAILED);
  /* its dependants are blocked, the other steps were still observed */
  assert_int_equal (res[idx (g, "vm0/go")].obs.need, FERRY_NEED_BLOCKED);
  assert_int_equal (res[idx (g, "vm1/tune")].obs.need, FERRY_NEED_CREATE);
  ferry_graph_free (g);
}

/* A fresh in-memory state: the engine sees the state interface only, so
 * the memory backend serves it as well as the file one. */
static struct ferry_state *
memory_state (void)
{
  static unsigned n;
  char name[64];
  struct ferry_state_cfg cfg = {.backend = FERRY_STATE_MEMORY, .path = name};
  struct ferry_state *st = NULL;
  struct ferry_err err = {0};

  snprintf (name, sizeof name, "test-engine-%u", n++);
  if (ferry_state_open (&cfg, false, &st, &err) < 0)
    fail_msg ("state: %s", err.msg);
  return st;
}

/* Run apply with PARALLEL workers on the graph minus the planned steps. */
static int
run_apply (struct ferry_graph *g, unsigned parallel,
           struct ferry_step_result *res)
{
  struct ferry_ctx ctx = {0};
  struct ferry_err err = {0};
  bool keep[MAX_STEPS];
  size_t i;
  int rc;

  for (i = 0; i < g->n; i++)
    keep[i] = !g->steps[i].module->planned;
  ctx.plan = make_plan ();
  ctx.state = memory_state ();
  rc = ferry_engine_apply (&ctx, g, keep, NULL, parallel, NULL, res, &err);
  ferry_state_close (ctx.state);
  return rc;
}

/* Parallel workers never start a step before its dependencies ended, and
 * do run independent steps at once; cleanup follows each applied step. */
static void
test_parallel_apply (void **state)
{
  struct ferry_graph *g = build ();
  struct ferry_step_result res[MAX_STEPS];
  size_t i;

  (void) state;
  done_step = "vm1/nic/0";
  assert_int_equal (run_apply (g, 4, res), 0);
  assert_false (dep_violation);
  assert_true (max_in_flight >= 2);
  for (i = 0; i < g->n; i++) {
    if (g->steps[i].module->planned) {
      assert_int_equal (res[i].status, FERRY_STATUS_EXCLUDED);
      continue;
    }
    if (strcmp (g->steps[i].id, "vm1/nic/0") == 0) {
      assert_int_equal (res[i].status, FERRY_STATUS_UNCHANGED);
      assert_int_equal (n_apply[i], 0);
      assert_int_equal (n_cleanup[i], 0); /* nothing was applied */
      continue;
    }
    assert_int_equal (res[i].status, FERRY_STATUS_APPLIED);
    assert_int_equal (n_apply[i], 1);
    assert_int_equal (n_cleanup[i], 1);
  }
  ferry_graph_free (g);
}

/* A failed step skips its dependants only; no cleanup after a failure
 * (temporaries are resume evidence). */
static void
test_failure_skips_dependants (void **state)
{
  struct ferry_graph *g = build ();
  struct ferry_step_result res[MAX_STEPS];

  (void) state;
  fail_apply = "vm0/copy/disk1";
  assert_int_equal (run_apply (g, 2, res), 1);
  assert_int_equal (res[idx (g, "vm0/copy/disk1")].status, FERRY_STATUS_FAILED);
  assert_non_null (strstr (res[idx (g, "vm0/copy/disk1")].msg, "fake failure"));
  assert_int_equal (n_cleanup[idx (g, "vm0/copy/disk1")], 0);
  assert_int_equal (res[idx (g, "vm0/tune")].status, FERRY_STATUS_SKIPPED);
  assert_int_equal (res[idx (g, "vm0/go")].status, FERRY_STATUS_SKIPPED);
  assert_int_equal (res[idx (g, "vm1/go")].status, FERRY_STATUS_SKIPPED);
  assert_int_equal (n_apply[idx (g, "vm0/tune")], 0);
  /* independent steps went on */
  assert_int_equal (res[idx (g, "vm0/copy/disk0")].status,
                    FERRY_STATUS_APPLIED);
  assert_int_equal (res[idx (g, "vm1/copy/disk0")].status,
                    FERRY_STATUS_APPLIED);
  assert_int_equal (res[idx (g, "vm1/tune")].status, FERRY_STATUS_APPLIED);
  assert_int_equal (res[idx (g, "vm1/nic/1")].status, FERRY_STATUS_APPLIED);
  assert_int_equal (n_cleanup[idx (g, "vm1/tune")], 1);
  ferry_graph_free (g);
}

/* In apply, a check error fails the step (with the message) and skips its
 * dependants. */
static void
test_apply_check_error (void **state)
{
  struct ferry_graph *g = build ();
  struct ferry_step_result res[MAX_STEPS];

  (void) state;
  check_error = "vm1/tune";
  assert_int_equal (run_apply (g, 2, res), 1);
  assert_int_equal (res[idx (g, "vm1/tune")].status, FERRY_STATUS_FAILED);
  assert_non_null (
      strstr (res[idx (g, "vm1/tune")].msg, "cannot read '/fake/vm1/tune'"));
  assert_int_equal (n_apply[idx (g, "vm1/tune")], 0);
  assert_int_equal (res[idx (g, "vm1/go")].status, FERRY_STATUS_SKIPPED);
  assert_int_equal (res[idx (g, "vm0/go")].status, FERRY_STATUS_APPLIED);
  ferry_graph_free (g);
}

/* libvirt disk names: the kernel's vda..vdz, vdaa..vdzz, vdaaa. */
static void
test_disk_names (void **state)
{
  char buf[16], big[32];
  static const struct {
    size_t i;
    const char *name;
  } cases[] = {{0, "vda"},    {25, "vdz"},    {26, "vdaa"},
               {27, "vdab"},  {51, "vdaz"},   {52, "vdba"},
               {701, "vdzz"}, {702, "vdaaa"}, {18277, "vdzzz"}};
  size_t k;

  (void) state;
  for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    ferry_libvirt_disk_name (cases[k].i, buf, sizeof buf);
    assert_string_equal (buf, cases[k].name);
  }
  ferry_libvirt_disk_name (SIZE_MAX, big, sizeof big);
  assert_int_equal (strlen (big), 2 + 14); /* 26^14 > 2^64 */
  ferry_libvirt_disk_name (26, buf, 4);    /* too small: empty, no overflow */
  assert_string_equal (buf, "");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_graph_from_declarations),
      cmocka_unit_test (test_bad_registry),
      cmocka_unit_test (test_check_order),
      cmocka_unit_test (test_check_error),
      cmocka_unit_test (test_parallel_apply),
      cmocka_unit_test (test_failure_skips_dependants),
      cmocka_unit_test (test_apply_check_error),
      cmocka_unit_test (test_disk_names),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
