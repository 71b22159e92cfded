/* libFuzzer target: libvirt domain XML (src/clients/libvirt-xml.c), which
 * ferry reads from another host.  Every input is parsed, then rewritten the
 * way a migration rewrites it (one disk to a raw file when the domain has
 * one disk, a network rename, ferry's metadata, a new name, no uuid, no
 * nvram path) and its metadata read back.  Checks the contract: a parse
 * that succeeds gives checked values; a rewrite of a domain that parsed
 * parses again, with the rewritten values. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clients/libvirt-xml.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Trap unless D holds what a successful parse promises. */
static void
check_domain (const struct ferry_lvx_domain *d)
{
  size_t i;

  if (d->name == NULL || d->type == NULL || d->vcpus < 1 || d->vcpus > 4096 ||
      d->memory_kib == 0 || (d->uuid != NULL && strlen (d->uuid) != 36))
    __builtin_trap ();
  for (i = 0; i < d->n_disks; i++)
    if (d->disks[i].target == NULL || d->disks[i].device == NULL ||
        d->disks[i].type_name == NULL ||
        d->disks[i].type >= FERRY_LVX_DISK_LAST ||
        ferry_lvx_disk_type_name (d->disks[i].type) == NULL)
      __builtin_trap ();
  for (i = 0; i < d->n_nics; i++)
    if (d->nics[i].type == NULL ||
        (d->nics[i].mac != NULL && strlen (d->nics[i].mac) != 17))
      __builtin_trap ();
  for (i = 0; i < d->n_blockers; i++)
    if (d->blockers[i] == NULL || d->blockers[i][0] == '\0')
      __builtin_trap ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const char file[] = "/var/lib/ferry/fuzz-disk.raw";
  static const struct ferry_lvx_disk_rewrite one[] = {
      {.file = file, .format = "raw"}};
  static const struct ferry_lvx_net_map nets[] = {{"default", "prod"},
                                                  {"br0", "br1"}};
  struct ferry_lvx_rewrite rw = {
      .nets = nets,
      .n_nets = 2,
      .drop_uuid = true,
      .name = "fuzzed",
      .domain_type = "kvm",
      .metadata =
          "<ferry:migration xmlns:ferry='" FERRY_LVX_NS "' plan='p' step='s'/>",
      .drop_nvram_path = true,
  };
  struct ferry_lvx_domain d, again;
  struct ferry_err err = {0};
  const char *xml = (const char *) data;
  char *out = NULL, *v = NULL;
  bool parsed;
  int r;

  r = ferry_lvx_domain_parse (xml, size, &d, &err);
  if ((r == 0) == err.set)
    __builtin_trap ();
  parsed = r == 0;
  if (parsed) {
    check_domain (&d);
    if (d.n_disks == 1) {
      rw.disks = one;
      rw.n_disks = 1;
    }
  }

  memset (&err, 0, sizeof err);
  r = ferry_lvx_domain_rewrite (xml, size, &rw, &out, &err);
  if ((r == 0) == err.set || (r == 0) != (out != NULL))
    __builtin_trap ();
  if (r == 0 && parsed) {
    /* What ferry wrote must read back, with what it wrote. */
    memset (&err, 0, sizeof err);
    if (ferry_lvx_domain_parse (out, strlen (out), &again, &err) != 0)
      __builtin_trap ();
    check_domain (&again);
    if (strcmp (again.name, "fuzzed") != 0 || again.uuid != NULL ||
        again.nvram != NULL || again.n_disks != d.n_disks ||
        again.n_nics != d.n_nics)
      __builtin_trap ();
    if (d.n_disks == 1 &&
        (again.disks[0].type != FERRY_LVX_DISK_FILE ||
         again.disks[0].path == NULL || strcmp (again.disks[0].path, file) ||
         again.disks[0].n_backing != 0 ||
         strcmp (again.disks[0].format, "raw") != 0))
      __builtin_trap ();
    ferry_lvx_domain_free (&again);
    if (ferry_lvx_metadata_get (out, strlen (out), "migration", "plan", &v,
                                &err) != 0 ||
        v == NULL || strcmp (v, "p") != 0)
      __builtin_trap ();
    free (v);
  }
  free (out);
  ferry_lvx_domain_free (&d);

  memset (&err, 0, sizeof err);
  if (ferry_lvx_metadata_get (xml, size, "migration", "plan", &v, &err) == 0)
    free (v);
  return 0;
}
