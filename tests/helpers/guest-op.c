/* guest-op PLAN VM OP [--apply]: run one guest operation (modules/guest.h)
 * by hand on the VM's local target files (<target.path>/<vm>-disk<N>.raw,
 * which the test made; convert is not involved), in one appliance:
 *
 *   OP: inspect | resize | win-inject | win-network | win-customize |
 *       linux-inject | linux-network | linux-customize
 *
 * Without --apply: launches read-only, prints "change: LINE" for every
 * change the operation would make, then "changes: N".  With --apply:
 * launches read-write, applies ("applied: LINE" each), then runs the
 * operation again read-only-style in the same appliance and prints
 * "recheck: N" (0 means idempotent).  inspect prints the JSON record.
 * A blocked guest prints "blocked: WHY" and exits 2.  Exit 0, 1 on error
 * (message on stderr).  Lets the guest operations be tested before and
 * besides the modules that run them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clients/guestfs.h"
#include "modules/guest.h"
#include "modules/local.h"
#include "plan/plan.h"

static const struct {
  const char *name;
  ferry_guest_op_fn fn;
} ops[] = {
    {"resize", ferry_guest_resize},
    {"win-inject", ferry_guest_win_inject},
    {"win-network", ferry_guest_win_network},
    {"win-customize", ferry_guest_win_customize},
    {"linux-inject", ferry_guest_linux_inject},
    {"linux-network", ferry_guest_linux_network},
    {"linux-customize", ferry_guest_linux_customize},
};

int
main (int argc, char **argv)
{
  struct ferry_err err = {0};
  struct ferry_diag diag = {0};
  struct ferry_plan *plan = NULL;
  const struct ferry_vm *vm = NULL;
  struct ferry_step step = {0};
  struct ferry_location *disks = NULL;
  struct ferry_guest_nic *nics = NULL;
  uint64_t *sizes = NULL;
  struct ferry_gfs *gf = NULL;
  struct ferry_guest_info info = {0};
  struct ferry_changes ch = {0};
  struct ferry_guest_op op = {0};
  ferry_guest_op_fn fn = NULL;
  bool apply = argc == 5 && strcmp (argv[4], "--apply") == 0;
  size_t i;
  int rc = 1;

  if (argc < 4 || argc > 5 || (argc == 5 && !apply)) {
    fprintf (stderr, "usage: guest-op PLAN VM OP [--apply]\n");
    return 1;
  }
  for (i = 0; i < sizeof ops / sizeof ops[0]; i++)
    if (strcmp (argv[3], ops[i].name) == 0)
      fn = ops[i].fn;
  if (fn == NULL && strcmp (argv[3], "inspect") != 0) {
    fprintf (stderr, "guest-op: unknown operation '%s'\n", argv[3]);
    return 1;
  }
  if (ferry_plan_load (argv[1], 0, &plan, &diag, &err) < 0)
    goto out;
  for (i = 0; i < plan->n_vms; i++)
    if (strcmp (plan->vms[i].name, argv[2]) == 0)
      vm = &plan->vms[i];
  if (vm == NULL) {
    ferry_err_set (&err, 0, "no vm '%s'", argv[2]);
    goto out;
  }
  step.vm = vm;
  step.target = ferry_plan_target (plan, vm->target);
  disks = calloc (vm->n_disks + 1, sizeof *disks);
  sizes = calloc (vm->n_disks + 1, sizeof *sizes);
  nics = calloc (vm->n_ports + 1, sizeof *nics);
  for (i = 0; i < vm->n_disks; i++) {
    struct stat st;
    disks[i].kind = FERRY_LOCATION_FILE;
    disks[i].file.path = ferry_local_disk_path (&step, i);
    if (stat (disks[i].file.path, &st) == 0)
      sizes[i] = (uint64_t) st.st_size;
  }
  for (i = 0; i < vm->n_ports; i++) {
    nics[i].mac = vm->ports[i].mac;
    nics[i].ip = vm->ports[i].fixed_ip;
    nics[i].prefix = vm->ports[i].prefix;
    nics[i].gateway = vm->ports[i].gateway;
    nics[i].dns = vm->ports[i].dns;
    nics[i].guest_name = vm->ports[i].guest_name;
  }
  if (ferry_gfs_launch (disks, NULL, vm->n_disks, !apply, FERRY_GFS_ACCEL_TCG,
                        &gf, &err) < 0 ||
      ferry_gfs_inspect (gf, &info, &err) < 0)
    goto out;
  if (fn == NULL) {
    char *j = ferry_guest_info_json (&info);
    printf ("%s\n", j ? j : "{}");
    free (j);
    rc = info.blocked ? 2 : 0;
    goto out;
  }
  if (info.blocked) {
    printf ("blocked: %s\n", info.blocked);
    rc = 2;
    goto out;
  }
  op.g = ferry_gfs_handle (gf);
  op.info = &info;
  op.plan = plan;
  op.vm = vm;
  op.target = step.target;
  op.nics = nics;
  op.n_nics = vm->n_ports;
  op.disk_bytes = sizes;
  op.n_disks = vm->n_disks;
  if (apply) {
    if (ferry_gfs_mount (gf, &info, true, &err) < 0)
      goto out;
    op.apply = true;
    if (fn (&op, &ch, &err) < 0)
      goto out;
    for (i = 0; i < ch.n; i++)
      printf ("applied: %s\n", ch.lines[i]);
    ferry_changes_clear (&ch);
    op.apply = false;
    if (fn (&op, &ch, &err) < 0)
      goto out;
    for (i = 0; i < ch.n; i++)
      printf ("still: %s\n", ch.lines[i]);
    printf ("recheck: %zu\n", ch.n);
  } else {
    if (fn (&op, &ch, &err) < 0)
      goto out;
    for (i = 0; i < ch.n; i++)
      printf ("change: %s\n", ch.lines[i]);
    printf ("changes: %zu\n", ch.n);
  }
  rc = 0;
out:
  if (gf && ferry_gfs_close (gf, rc == 0 ? &err : &(struct ferry_err){0}) < 0)
    rc = 1;
  for (i = 0; i < diag.n; i++)
    fprintf (stderr, "%s\n", diag.lines[i]);
  if (err.set)
    fprintf (stderr, "guest-op: error: %s\n", err.msg);
  ferry_changes_clear (&ch);
  ferry_guest_info_clear (&info);
  for (i = 0; vm && disks && i < vm->n_disks; i++)
    free (disks[i].file.path);
  free (disks);
  free (sizes);
  free (nics);
  ferry_diag_free (&diag);
  ferry_plan_free (plan);
  return rc;
}
