/* What the OpenStack modules (flavor, volume, volume-swap, image, port,
 * boot) share: one client session per target and thread, the names and
 * metadata ferry gives the objects it creates, and finding them again
 * without the journal ("the world is the truth").
 *
 * Every object ferry creates carries the plan's and the VM's name:
 * volumes and servers as metadata ferry:plan, ferry:vm (+ ferry:disk),
 * ports in their description "ferry:plan=P ferry:vm=V ferry:port=N"
 * (set atomically at creation), images as properties ferry_plan,
 * ferry_vm.  Finding is by name, then by that mark: an object of the same
 * name without it is someone else's and is never touched. */
#ifndef FERRY_MODULES_OPENSTACK_H
#define FERRY_MODULES_OPENSTACK_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "clients/openstack.h"
#include "modules/module.h"
#include "util/location.h"

/* The RBD image metadata that proves a disk's data complete: the source
 * chain's identity, set by convert after its last flush (and copied by
 * image to the images it makes). */
#define FERRY_OSM_CONVERTED_KEY "ferry.converted"

/* The sessions of one run (struct ferry_ctx.os): made by the command. */
struct ferry_os_sessions *ferry_os_sessions_new (void);
void ferry_os_sessions_free (struct ferry_os_sessions *s);
/* Requests, HTTP seconds and wait seconds of every session so far. */
void ferry_os_sessions_stats (struct ferry_os_sessions *s,
                              struct ferry_os_stats *ret);

/* The session on target T's cloud for the calling thread (clouds.yaml is
 * read once per cloud and run); NULL with ERR on error. */
struct ferry_os *ferry_osm_session (struct ferry_ctx *ctx,
                                    const struct ferry_plan_target *t,
                                    struct ferry_err *err);

/* Names: "<vm>-disk<N>" (volumes), "<vm>-port<N>" (ports), the image's
 * (image.name, default "<plan>-<vm>"), and the RBD image a manage-mode
 * disk is converted into, "ferry-<plan>-<vm>-disk<N>".  Callers free. */
char *ferry_osm_volume_name (const struct ferry_vm *vm, size_t disk);
char *ferry_osm_port_name (const struct ferry_vm *vm, size_t port);
char *ferry_osm_image_name (const struct ferry_plan *plan,
                            const struct ferry_vm *vm);
char *ferry_osm_manage_image (const struct ferry_plan *plan,
                              const struct ferry_vm *vm, size_t disk);
/* "ferry:plan=P ferry:vm=V ferry:port=N" (caller frees). */
char *ferry_osm_port_mark (const struct ferry_plan *plan,
                           const struct ferry_vm *vm, size_t port);

/* {"ferry:plan": P, "ferry:vm": V} plus KEY: VAL when KEY is not NULL. */
cJSON *ferry_osm_metadata (const struct ferry_plan *plan,
                           const struct ferry_vm *vm, const char *key,
                           const char *val);

/* Find ferry's object of this plan and VM: 1 with the object in *RET
 * (caller frees), 0 when there is none, -1 on error (two of them is an
 * error naming both).  Objects being deleted are ignored. */
int ferry_osm_find_volume (struct ferry_os *os, const struct ferry_plan *plan,
                           const struct ferry_vm *vm, size_t disk, cJSON **ret,
                           struct ferry_err *err);
int ferry_osm_find_port (struct ferry_os *os, const struct ferry_plan *plan,
                         const struct ferry_vm *vm, size_t port, cJSON **ret,
                         struct ferry_err *err);
int ferry_osm_find_server (struct ferry_os *os, const struct ferry_plan *plan,
                           const struct ferry_vm *vm, cJSON **ret,
                           struct ferry_err *err);
int ferry_osm_find_image (struct ferry_os *os, const struct ferry_plan *plan,
                          const struct ferry_vm *vm, cJSON **ret,
                          struct ferry_err *err);

/* The RBD image IMAGE in target T's volumes pool (or POOL when not NULL),
 * with T's ceph conf and user, into *RET (clear with ferry_location_clear). */
int ferry_osm_rbd (const struct ferry_plan_target *t, const char *pool,
                   const char *image, struct ferry_location *ret,
                   struct ferry_err *err);

/* Append printf-style text to the NUL-terminated string in BUF (LEN
 * bytes), cutting what does not fit: for one-line details built from
 * lists. */
void ferry_osm_appendf (char *buf, size_t len, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/* IPv4/IPv6 addresses as Neutron gives them: the same address (IPv6 in
 * any of its spellings)?  Is IP inside CIDR ("10.0.0.0/24", "fd00::/64",
 * same family)?  Anything unparsable is false. */
bool ferry_osm_same_ip (const char *a, const char *b);
bool ferry_osm_cidr_contains (const char *cidr, const char *ip);

/* The string member NAME of OBJ, or NULL. */
const char *ferry_osm_str (const cJSON *obj, const char *name);

/* Bytes a disk's volume needs, rounded up to whole GiB: the source's
 * virtual size, or size_gb when bigger. */
uint64_t ferry_osm_volume_gib (const struct ferry_disk_spec *spec,
                               uint64_t virtual_size);

/* Make volume ID (the VM's boot volume) bootable with the image metadata
 * Nova boots it by: hw_disk_bus=virtio, hw_vif_model=virtio, os_type,
 * hw_firmware_type=uefi, hw_machine_type from the VM when set. */
int ferry_osm_volume_make_bootable (struct ferry_os *os,
                                    const struct ferry_vm *vm, const char *id,
                                    struct ferry_err *err);
/* Does VOL (a Cinder volume object) have the flag and metadata above? */
bool ferry_osm_volume_is_bootable (const cJSON *vol, const struct ferry_vm *vm);
/* Wait until volume ID (disk I of VM) is available (or in use), at most
 * DEADLINE seconds, failing on an error state; then, for the boot disk,
 * make it bootable when it is not yet. */
int ferry_osm_volume_settle (struct ferry_os *os, const struct ferry_vm *vm,
                             size_t i, const char *id, double deadline,
                             struct ferry_err *err);
/* Is disk I of VM the one Nova boots from (the first disk, unless the VM
 * boots from its image)? */
bool ferry_osm_boot_disk (const struct ferry_vm *vm, size_t i);
/* A test hook: when $FERRY_TEST_OS_PAUSE equals POINT ("port:created"),
 * say "ferry: test pause at 'POINT'" on stderr and wait to be killed, so
 * a test can kill -9 ferry at exactly that point. */
void ferry_osm_test_pause (const char *point);

/* Deadlines (seconds) for waits, FERRY_TEST_OS_DEADLINE overrides all. */
double ferry_osm_deadline (double dflt);

#endif
