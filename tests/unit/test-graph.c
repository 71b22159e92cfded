/* Unit tests: step graph expansion, edges, cycles, --target selection, and
 * --phase selection, and the module registry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "graph/graph.h"
#include "modules/module.h"
#include "plan/plan.h"

static struct ferry_plan_target local_target = {
    .name = "lab", .type = FERRY_PLAN_TARGET_LOCAL, .path = "/tmp/out"};
static struct ferry_plan_target os_target = {
    .name = "cloud", .type = FERRY_PLAN_TARGET_OPENSTACK, .cloud = "prod"};

/* A plan built by hand: the graph does not depend on the parser. */
static struct ferry_plan *
make_plan (size_t n_vms)
{
  struct ferry_plan *p = calloc (1, sizeof *p);
  size_t i;

  p->name = "t";
  p->targets = calloc (2, sizeof *p->targets);
  p->targets[0] = local_target;
  p->targets[1] = os_target;
  p->n_targets = 2;
  p->defaults.target = "lab";
  p->vms = calloc (n_vms, sizeof *p->vms);
  p->n_vms = n_vms;
  for (i = 0; i < n_vms; i++) {
    char *name;
    if (asprintf (&name, "vm%zu", i) < 0)
      abort ();
    p->vms[i].name = name;
    p->vms[i].disks = calloc (2, sizeof *p->vms[i].disks);
    p->vms[i].n_disks = 2;
    p->vms[i].depends_on = calloc (4, sizeof (char *));
  }
  return p;
}

static void
free_plan (struct ferry_plan *p)
{
  size_t i;

  for (i = 0; i < p->n_vms; i++) {
    free (p->vms[i].name);
    free (p->vms[i].disks);
    free (p->vms[i].depends_on);
  }
  free (p->vms);
  free (p->targets);
  free (p);
}

static size_t
idx (const struct ferry_graph *g, const char *id)
{
  size_t i = ferry_graph_find (g, id);
  assert_true (i != (size_t) -1);
  return i;
}

/* position of step I in the topological order */
static size_t
pos (const struct ferry_graph *g, size_t i)
{
  size_t k;
  for (k = 0; k < g->n; k++)
    if (g->order[k] == i)
      return k;
  fail ();
  return 0;
}

static bool
needs (const struct ferry_graph *g, const char *a, const char *b)
{
  const struct ferry_step *s = &g->steps[idx (g, a)];
  size_t j, bi = idx (g, b);
  for (j = 0; j < s->n_deps; j++)
    if (s->deps[j] == bi)
      return true;
  return false;
}

static void
test_local_expansion (void **state)
{
  struct ferry_plan *p = make_plan (2);
  struct ferry_graph *g = NULL;
  struct ferry_err err = {0};

  (void) state;
  p->vms[1].depends_on[0] = "vm0";
  p->vms[1].n_depends_on = 1;
  assert_int_equal (ferry_graph_build (p, &g, &err), 0);
  assert_int_equal (g->n, 6);
  assert_true (needs (g, "vm0/define", "vm0/convert/disk0"));
  assert_true (needs (g, "vm0/define", "vm0/convert/disk1"));
  assert_true (needs (g, "vm1/define", "vm0/define"));
  assert_false (needs (g, "vm0/define", "vm1/define"));
  assert_true (pos (g, idx (g, "vm1/define")) > pos (g, idx (g, "vm0/define")));
  assert_non_null (g->steps[idx (g, "vm0/convert/disk1")].module);
  assert_int_equal (g->steps[idx (g, "vm0/convert/disk1")].index, 1);
  assert_int_equal (g->steps[idx (g, "vm0/convert/disk1")].scope,
                    FERRY_SCOPE_DISK);
  assert_ptr_equal (g->steps[idx (g, "vm0/convert/disk1")].obj.disk,
                    &p->vms[0].disks[1]);
  assert_int_equal (ferry_graph_vm_final (g, "vm1"), idx (g, "vm1/define"));
  ferry_graph_free (g);
  free_plan (p);
}

static void
test_openstack_expansion (void **state)
{
  struct ferry_plan *p = make_plan (1);
  struct ferry_graph *g = NULL;
  struct ferry_err err = {0};
  struct ferry_port ports[2] = {{.network = "a"}, {.network = "b"}};
  struct ferry_flavor fl = {.name = "m1", .vcpus = 1, .ram_mb = 512};

  (void) state;
  p->vms[0].target = "cloud";
  p->vms[0].ports = ports;
  p->vms[0].n_ports = 2;
  p->vms[0].flavor = "m1";
  p->vms[0].disks[0].size_gb = 40;
  p->vms[0].has_customize = true;
  p->vms[0].customize.virtio = true;
  p->vms[0].customize.hostname = "h";
  p->flavors = &fl;
  p->n_flavors = 1;
  assert_int_equal (ferry_graph_build (p, &g, &err), 0);
  assert_true (needs (g, "vm0/convert/disk0", "vm0/volume/disk0"));
  assert_true (needs (g, "vm0/inspect", "vm0/convert/disk0"));
  assert_true (needs (g, "vm0/inspect", "vm0/convert/disk1"));
  assert_true (needs (g, "vm0/resize", "vm0/inspect"));
  assert_true (needs (g, "vm0/inject", "vm0/port/0"));
  assert_true (needs (g, "vm0/inject", "vm0/port/1"));
  assert_true (needs (g, "vm0/inject", "vm0/resize"));
  assert_true (needs (g, "vm0/customize", "vm0/inject"));
  assert_true (needs (g, "vm0/boot", "vm0/customize"));
  assert_true (needs (g, "vm0/boot", "flavor/m1"));
  assert_false (g->steps[idx (g, "vm0/customize")].module->planned);
  assert_false (g->steps[idx (g, "vm0/boot")].module->planned);
  assert_ptr_equal (g->steps[idx (g, "vm0/port/1")].obj.port, &ports[1]);
  assert_ptr_equal (g->steps[idx (g, "flavor/m1")].obj.flavor, &fl);
  assert_int_equal (ferry_graph_vm_final (g, "vm0"), idx (g, "vm0/boot"));
  ferry_graph_free (g);
  free_plan (p);
}

static void
test_cycle_is_printed (void **state)
{
  struct ferry_plan *p = make_plan (3);
  struct ferry_graph *g = NULL;
  struct ferry_err err = {0};

  (void) state;
  p->vms[0].depends_on[0] = "vm1";
  p->vms[0].n_depends_on = 1;
  p->vms[1].depends_on[0] = "vm2";
  p->vms[1].n_depends_on = 1;
  p->vms[2].depends_on[0] = "vm0";
  p->vms[2].n_depends_on = 1;
  assert_int_equal (ferry_graph_build (p, &g, &err), -1);
  assert_non_null (strstr (err.msg, "dependency cycle: "));
  assert_non_null (strstr (err.msg, "vm0/define"));
  assert_non_null (strstr (err.msg, "vm1/define"));
  assert_non_null (strstr (err.msg, "vm2/define"));
  free_plan (p);
}

static void
test_select (void **state)
{
  struct ferry_plan *p = make_plan (3);
  struct ferry_graph *g = NULL;
  struct ferry_err err = {0};
  char *want[] = {"vm2"}, *bad[] = {"nosuch"};
  bool *keep;

  (void) state;
  p->vms[2].depends_on[0] = "vm0";
  p->vms[2].n_depends_on = 1;
  assert_int_equal (ferry_graph_build (p, &g, &err), 0);
  keep = calloc (g->n, sizeof *keep);
  assert_int_equal (ferry_graph_select (g, want, 1, keep, &err), 0);
  assert_true (keep[idx (g, "vm2/define")]);
  assert_true (keep[idx (g, "vm2/convert/disk0")]);
  assert_true (keep[idx (g, "vm0/define")]);
  assert_true (keep[idx (g, "vm0/convert/disk1")]);
  assert_false (keep[idx (g, "vm1/define")]);
  assert_int_equal (ferry_graph_select (g, bad, 1, keep, &err), -1);
  assert_non_null (strstr (err.msg, "'nosuch'"));
  free (keep);
  ferry_graph_free (g);
  free_plan (p);
}

/* --phase: a warm VM gets precopy steps before its converts; precopy runs
 * only those, the default phase cold VMs whole and warm VMs up to their
 * pre-copy, cutover everything. */
static void
test_phase (void **state)
{
  struct ferry_plan *p = make_plan (2);
  struct ferry_graph *g = NULL;
  struct ferry_err err = {0};
  bool *keep;
  size_t i;

  (void) state;
  p->vms[1].warm = true;
  assert_int_equal (ferry_graph_build (p, &g, &err), 0);
  assert_int_equal (g->n, 8);
  assert_true (needs (g, "vm1/convert/disk0", "vm1/precopy/disk0"));
  assert_true (needs (g, "vm1/convert/disk1", "vm1/precopy/disk1"));
  assert_int_equal (ferry_graph_find (g, "vm0/precopy/disk0"), (size_t) -1);
  keep = calloc (g->n, sizeof *keep);

  memset (keep, 1, g->n * sizeof *keep);
  assert_int_equal (ferry_graph_select_phase (g, FERRY_PHASE_PRECOPY, keep), 6);
  for (i = 0; i < g->n; i++)
    assert_int_equal (keep[i], strstr (g->steps[i].id, "/precopy/") != NULL);

  memset (keep, 1, g->n * sizeof *keep);
  assert_int_equal (ferry_graph_select_phase (g, FERRY_PHASE_DEFAULT, keep), 3);
  assert_true (keep[idx (g, "vm0/define")]);
  assert_true (keep[idx (g, "vm0/convert/disk1")]);
  assert_true (keep[idx (g, "vm1/precopy/disk1")]);
  assert_false (keep[idx (g, "vm1/convert/disk0")]);
  assert_false (keep[idx (g, "vm1/define")]);

  memset (keep, 1, g->n * sizeof *keep);
  assert_int_equal (ferry_graph_select_phase (g, FERRY_PHASE_CUTOVER, keep), 0);

  /* within a --target selection: never more than it had */
  memset (keep, 0, g->n * sizeof *keep);
  keep[idx (g, "vm0/define")] = true;
  assert_int_equal (ferry_graph_select_phase (g, FERRY_PHASE_PRECOPY, keep), 1);
  for (i = 0; i < g->n; i++)
    assert_false (keep[i]);
  assert_int_equal (ferry_phase_from_name ("cutover"), FERRY_PHASE_CUTOVER);
  assert_int_equal (ferry_phase_from_name ("warm"), -1);
  free (keep);
  ferry_graph_free (g);
  free_plan (p);
}

static void
test_render (void **state)
{
  struct ferry_plan *p = make_plan (1);
  struct ferry_graph *g = NULL;
  struct ferry_err err = {0};
  char *text;

  (void) state;
  assert_int_equal (ferry_graph_build (p, &g, &err), 0);
  text = ferry_graph_render (g, true);
  assert_non_null (strstr (text, "\"vm0/convert/disk0\" -> \"vm0/define\""));
  free (text);
  text = ferry_graph_render (g, false);
  assert_non_null (strstr (text, "vm0/define [libvirt] <- vm0/convert/disk0"));
  free (text);
  ferry_graph_free (g);
  free_plan (p);
}

static void
test_registry (void **state)
{
  struct ferry_err err = {0};
  size_t i;

  (void) state;
  assert_int_equal (ferry_modules_check (&err), 0);
  assert_true (ferry_n_modules >= 2);
  for (i = 0; i < ferry_n_modules; i++) {
    assert_ptr_equal (ferry_module_find (ferry_modules[i]->name),
                      ferry_modules[i]);
    if (i > 0)
      assert_true (strcmp (ferry_modules[i - 1]->name, ferry_modules[i]->name) <
                   0);
    assert_non_null (ferry_modules[i]->check);
    assert_non_null (ferry_modules[i]->apply);
    assert_non_null (ferry_modules[i]->verify);
    assert_non_null (ferry_modules[i]->describe);
  }
  assert_null (ferry_module_find ("nosuch"));
  assert_null (ferry_module_find (""));
  assert_string_equal (ferry_need_sign (FERRY_NEED_UPDATE), "~");
  assert_string_equal (ferry_need_name (FERRY_NEED_BLOCKED), "blocked");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_local_expansion),
      cmocka_unit_test (test_openstack_expansion),
      cmocka_unit_test (test_cycle_is_printed),
      cmocka_unit_test (test_select),
      cmocka_unit_test (test_phase),
      cmocka_unit_test (test_render),
      cmocka_unit_test (test_registry),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
