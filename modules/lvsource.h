/* The libvirt source: VMs that name a `domain` take their disks, NICs,
 * CPU, memory and firmware from that domain on the source's libvirt.
 * Discovery runs once per command, after the plan is validated and before
 * the graph is built (src/cmd/run.c), so the graph has a convert step per
 * discovered disk like for any other source.  What discovery cannot use
 * (an unreachable host, a missing domain, a passthrough device) is kept as
 * the VM's blocker: its first step shows it and nothing of it runs. */
#ifndef FERRY_MODULES_LVSOURCE_H
#define FERRY_MODULES_LVSOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "clients/libvirt-xml.h"
#include "clients/libvirt.h"
#include "plan/plan.h"

/* What discovery found for one VM (vm->found). */
struct ferry_lv_found {
  char *uri;                    /* the source's libvirt uri */
  struct ferry_libvirt_dom src; /* the domain on the source (xml, state) */
  struct ferry_lvx_domain dom;  /* its parsed XML (valid when parsed) */
  bool parsed;
  /* the source domain is gone but the target holds the domain ferry moved
   * there (its metadata names this plan and VM): the migration happened */
  bool on_target_only;
  size_t *disk_index; /* vm->disks[i] is dom.disks[disk_index[i]] */
  char *blocker;      /* why nothing of this VM can run, or NULL */
  char *summary;      /* "2 disks (vda qcow2 ..., vdb raw), 1 NIC, ..." */
};

/* Discover every VM of PLAN with a domain (READONLY: never writes; the
 * same either way today).  Fills vm->found and, for cold migrations,
 * vm->disks, vm->ports (unless the plan lists ports), vcpus, ram_mb and
 * firmware.  Return 0, or -1 with ERR set only when out of memory:
 * problems of one VM become its blocker. */
int ferry_lvsource_discover (struct ferry_plan *plan, struct ferry_err *err);

/* ferry's metadata element for VM's domain on the target:
 * <ferry:migration xmlns:ferry=... plan=... vm=... source-uri=...
 *  source-uuid=...> with one <ferry:disk source=PATH/> per copied disk.
 * Caller frees. */
char *ferry_lvsource_metadata (const struct ferry_plan *plan,
                               const struct ferry_vm *vm);

/* VM's source domain XML for target T: disk I of the domain per DR[I]
 * (dom.n_disks entries), T's network renames, DROP_UUID, ferry's metadata.
 * *RET_XML: caller frees.  0 / -1. */
int ferry_lvsource_rewrite (const struct ferry_plan *plan,
                            const struct ferry_vm *vm,
                            const struct ferry_plan_target *t,
                            const struct ferry_lvx_disk_rewrite *dr,
                            bool drop_uuid, char **ret_xml,
                            struct ferry_err *err);

/* Write S to F escaped for XML text and attribute values. */
void ferry_lvsource_xml_text (FILE *f, const char *s);

/* Is the domain XML (of a target) one ferry wrote for PLAN's VM? */
bool ferry_lvsource_is_ours (const struct ferry_plan *plan,
                             const struct ferry_vm *vm, const char *xml);

struct ferry_ctx;
struct ferry_step;
/* A cold migration's disk belongs to the target domain once the VM's
 * define step is done (journal) and the target holds ferry's domain for
 * it: the guest may have run there and written the disk, so convert must
 * not compare it with the source any more (or redo it).  1 handed over
 * (DETAIL says so), 0 not, -1 error. */
int ferry_lvsource_handed_over (struct ferry_ctx *ctx,
                                const struct ferry_step *step, char *detail,
                                size_t len, struct ferry_err *err);

/* A domain of the VM's name on its libvirt target that ferry did not
 * define for this plan and VM: 1 (DETAIL says so; the VM is blocked, that
 * domain is never touched), 0 none, -1 error. */
int ferry_lvsource_foreign (struct ferry_ctx *ctx,
                            const struct ferry_step *step, char *detail,
                            size_t len, struct ferry_err *err);

/* The target's name for source network or bridge NAME (NAME itself when
 * the target maps nothing). */
const char *ferry_lvsource_net (const struct ferry_plan_target *t,
                                const char *name);

#endif
