/* Plan loading: every kind of diagnostic with its exact file:line:col and
 * key path, defaults, path resolution, aliases and merge keys, secrets, and
 * the limits that keep a hostile plan from hurting us. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "plan/plan.h"

#define F "/plans/t.yaml"

/* The head shared by most tests: lines 1-7, VM a on lines 8-9. */
#define HEAD                                                                   \
  "apiVersion: ferry/v1\n"                                                     \
  "kind: MigrationPlan\n"                                                      \
  "metadata: {name: t}\n"                                                      \
  "targets:\n"                                                                 \
  "  out: {type: local, path: out}\n"                                          \
  "defaults: {target: out}\n"                                                  \
  "vms:\n"

/* Load YAML (with FLAGS) and return all diagnostics joined by newlines
 * ("" when the plan loaded).  *RET gets the plan when it loaded. */
static char *
diags (const char *yaml, unsigned flags, struct ferry_plan **ret)
{
  struct ferry_err err = {0};
  struct ferry_diag d = {0};
  struct ferry_plan *plan = NULL;
  char *out = strdup ("");
  size_t i;
  int r;

  r = ferry_plan_load_buffer (F, yaml, strlen (yaml), flags, &plan, &d, &err);
  assert_false (err.set);
  if (r == 0) {
    assert_int_equal (d.n, 0);
    if (ret)
      *ret = plan;
    else
      ferry_plan_free (plan);
    return out;
  }
  assert_true (d.n > 0);
  for (i = 0; i < d.n; i++) {
    char *t;
    assert_true (asprintf (&t, "%s%s%s", out, i ? "\n" : "", d.lines[i]) > 0);
    free (out);
    out = t;
  }
  ferry_diag_free (&d);
  return out;
}

#define NODISK FERRY_PLAN_NO_DISK_CHECK

/* Assert that YAML produces exactly WANT (lines joined by \n). */
static void
check (const char *yaml, const char *want)
{
  char *got = diags (yaml, NODISK, NULL);

  assert_string_equal (got, want);
  free (got);
}

static void
test_good_defaults (void **state)
{
  struct ferry_plan *p = NULL;
  char *got;

  (void) state;
  got = diags (HEAD "  - name: a\n"
                    "    disks: [{file: a.img}]\n",
               NODISK, &p);
  assert_string_equal (got, "");
  free (got);
  assert_non_null (p);
  assert_string_equal (p->api_version, "ferry/v1");
  assert_string_equal (p->name, "t");
  assert_string_equal (p->dir, "/plans");
  assert_int_equal (p->state.backend, FERRY_STATE_FILE);
  assert_string_equal (p->state.path, "/plans/.ferry/t.state");
  assert_int_equal (p->n_targets, 1);
  assert_string_equal (p->targets[0].path, "/plans/out");
  assert_int_equal (p->n_vms, 1);
  assert_string_equal (p->vms[0].target, "out");
  assert_null (p->vms[0].source);
  assert_int_equal (p->vms[0].vcpus, 1);
  assert_int_equal (p->vms[0].ram_mb, 1024);
  assert_int_equal (p->vms[0].n_disks, 1);
  assert_string_equal (p->vms[0].disks[0].path, "/plans/a.img");
  assert_int_equal (p->vms[0].pos.line, 8);
  assert_int_equal (p->vms[0].pos.col, 5);
  assert_ptr_equal (ferry_plan_vm (p, "a"), &p->vms[0]);
  assert_null (ferry_plan_vm (p, "b"));
  assert_non_null (ferry_plan_target (p, "out"));
  ferry_plan_free (p);
}

static void
test_relative_paths (void **state)
{
  struct ferry_plan *p = NULL;
  char *got;

  (void) state;
  got =
      diags ("apiVersion: ferry/v1\n"
             "kind: MigrationPlan\n"
             "metadata: {name: rel}\n"
             "state: {path: /var/lib/ferry/rel.state}\n"
             "sources:\n"
             "  dc1: {type: directory, path: ../datastore}\n"
             "  abs: {type: directory, path: /mnt/ds}\n"
             "  pool: {type: rbd, pool: vms, conf: ceph.conf}\n"
             "targets:\n"
             "  out: {type: local, path: /srv/out}\n"
             "flavors:\n"
             "  m1: {vcpus: 4, ram_mb: 8192}\n"
             "defaults: {target: out, source: dc1, flavor: m1}\n"
             "vms:\n"
             "  - name: a\n"
             "    disks: [{file: a/a.vmdk}, {file: /x/b.vhdx}]\n"
             "    customize:\n"
             "      files: [{src: files/motd, dst: /etc/motd, "
             "mode: \"0644\"}]\n"
             "      firstboot: [fix.sh]\n"
             "      autologon: {user: Administrator, "
             "password: {file: secrets/pw}}\n"
             "  - {name: b, source: abs, ram_mb: 512, disks: [{file: b.img}]}\n"
             "  - {name: c, source: pool, disks: [{file: c-disk}]}\n",
             NODISK, &p);
  assert_string_equal (got, "");
  free (got);
  assert_string_equal (p->state.path, "/var/lib/ferry/rel.state");
  assert_string_equal (p->sources[0].path, "/datastore"); /* normalised */
  assert_string_equal (p->vms[0].source, "dc1");
  assert_string_equal (p->vms[0].disks[0].path, "/datastore/a/a.vmdk");
  assert_string_equal (p->vms[0].disks[1].path, "/x/b.vhdx");
  assert_int_equal (p->vms[0].vcpus, 4);
  assert_int_equal (p->vms[0].ram_mb, 8192);
  assert_true (p->vms[0].has_customize);
  assert_string_equal (p->vms[0].customize.files[0].src, "/plans/files/motd");
  assert_string_equal (p->vms[0].customize.files[0].mode, "0644");
  assert_string_equal (p->vms[0].customize.firstboot[0], "/plans/fix.sh");
  assert_int_equal (p->vms[0].customize.autologon.password.kind,
                    FERRY_SECRET_FILE);
  assert_string_equal (p->vms[0].customize.autologon.password.ref,
                       "/plans/secrets/pw");
  assert_int_equal (p->vms[0].customize.autologon.count, 1);
  assert_string_equal (p->vms[1].disks[0].path, "/mnt/ds/b.img");
  assert_int_equal (p->vms[1].ram_mb, 512);
  assert_int_equal (p->vms[1].vcpus, 4);
  assert_string_equal (p->vms[2].disks[0].path,
                       "rbd:vms/c-disk:conf=/plans/ceph.conf");
  assert_int_equal (p->vms[2].disks[0].loc.kind, FERRY_LOCATION_RBD);
  assert_string_equal (p->vms[2].disks[0].loc.rbd.pool, "vms");
  assert_string_equal (p->vms[2].disks[0].loc.rbd.image, "c-disk");
  assert_string_equal (p->vms[2].disks[0].loc.rbd.conf, "/plans/ceph.conf");
  assert_null (p->vms[2].disks[0].loc.rbd.user);
  assert_null (p->vms[2].disks[0].loc.rbd.snap);
  assert_int_equal (p->vms[0].disks[0].loc.kind, FERRY_LOCATION_FILE);
  assert_string_equal (p->vms[0].disks[0].loc.file.path, "/datastore/a/a.vmdk");
  ferry_plan_free (p);
}

/* Source and target types: parsed once into enums whose names round-trip;
 * the rbd source's user key. */
static void
test_kinds (void **state)
{
  struct ferry_plan *p = NULL;
  unsigned i;
  char *got;

  (void) state;
  for (i = 1; i < FERRY_SOURCE_LAST; i++)
    assert_int_equal (ferry_source_type_from_name (ferry_source_type_name (i)),
                      i);
  for (i = 1; i < FERRY_PLAN_TARGET_LAST; i++)
    assert_int_equal (
        ferry_plan_target_type_from_name (ferry_plan_target_type_name (i)), i);
  assert_null (ferry_source_type_name (FERRY_SOURCE_NONE));
  assert_null (ferry_source_type_name (FERRY_SOURCE_LAST));
  assert_null (ferry_plan_target_type_name (FERRY_PLAN_TARGET_LAST));
  assert_int_equal (ferry_source_type_from_name ("nfs"), -1);
  assert_int_equal (ferry_source_type_from_name (NULL), -1);
  assert_int_equal (ferry_plan_target_type_from_name ("Local"), -1);
  assert_string_equal (ferry_source_type_name (FERRY_SOURCE_RBD), "rbd");
  assert_string_equal (
      ferry_plan_target_type_name (FERRY_PLAN_TARGET_OPENSTACK), "openstack");

  got = diags ("apiVersion: ferry/v1\n"
               "kind: MigrationPlan\n"
               "metadata: {name: k}\n"
               "sources:\n"
               "  d: {type: directory, path: /d}\n"
               "  r: {type: rbd, pool: vms, user: migrate}\n"
               "  l: {type: libvirt, uri: 'qemu:///system'}\n"
               "targets:\n"
               "  o: {type: openstack, cloud: c, ceph: {volumes_pool: v}}\n"
               "  v: {type: libvirt, uri: 'qemu:///system'}\n"
               "  f: {type: local, path: /out}\n"
               "defaults: {target: f}\n"
               "vms: [{name: a, source: r, disks: [{file: a}]}]\n",
               NODISK, &p);
  assert_string_equal (got, "");
  free (got);
  assert_int_equal (p->sources[0].type, FERRY_SOURCE_DIRECTORY);
  assert_int_equal (p->sources[1].type, FERRY_SOURCE_RBD);
  assert_string_equal (p->sources[1].user, "migrate");
  /* the disk's location carries the source's user */
  assert_string_equal (p->vms[0].disks[0].loc.rbd.user, "migrate");
  assert_int_equal (p->sources[2].type, FERRY_SOURCE_LIBVIRT);
  assert_int_equal (p->targets[0].type, FERRY_PLAN_TARGET_OPENSTACK);
  assert_int_equal (p->targets[1].type, FERRY_PLAN_TARGET_LIBVIRT);
  assert_int_equal (p->targets[2].type, FERRY_PLAN_TARGET_LOCAL);
  ferry_plan_free (p);

  /* rbd disks: IMAGE@SNAP, names with ':' and '@' escaped for display */
  got = diags ("apiVersion: ferry/v1\n"
               "kind: MigrationPlan\n"
               "metadata: {name: k}\n"
               "sources:\n"
               "  r: {type: rbd, pool: 'p:1', conf: '/c:1.conf', user: u}\n"
               "targets: {f: {type: local, path: /out}}\n"
               "vms: [{name: a, source: r, target: f, disks: [{file: "
               "'a:b@s1'}]}]\n",
               NODISK, &p);
  assert_string_equal (got, "");
  free (got);
  assert_string_equal (p->vms[0].disks[0].loc.rbd.pool, "p:1");
  assert_string_equal (p->vms[0].disks[0].loc.rbd.image, "a:b");
  assert_string_equal (p->vms[0].disks[0].loc.rbd.snap, "s1");
  assert_string_equal (p->vms[0].disks[0].loc.rbd.conf, "/c:1.conf");
  assert_string_equal (p->vms[0].disks[0].path,
                       "rbd:p\\:1/a\\:b@s1:conf=/c\\:1.conf:id=u");
  ferry_plan_free (p);
  check ("apiVersion: ferry/v1\n"
         "kind: MigrationPlan\n"
         "metadata: {name: k}\n"
         "sources: {r: {type: rbd, pool: p}}\n"
         "targets: {f: {type: local, path: /out}}\n"
         "vms: [{name: a, source: r, target: f, disks: [{file: a/b}, "
         "{file: '@s'}, {file: 'a@'}]}]\n",
         F ":6:54: vms[0].disks[0].file: 'a/b' is not an rbd image name "
           "(IMAGE or IMAGE@SNAP)\n" F
           ":6:67: vms[0].disks[1].file: '@s' is not an rbd image name "
           "(IMAGE or IMAGE@SNAP)\n" F
           ":6:81: vms[0].disks[2].file: 'a@' is not an rbd image name "
           "(IMAGE or IMAGE@SNAP)");

  /* state backends: parsed into the enum; the tests' memory store is not a
   * plan's choice */
  got = diags ("apiVersion: ferry/v1\n"
               "kind: MigrationPlan\n"
               "metadata: {name: k}\n"
               "state: {backend: rados, pool: ferry}\n"
               "targets: {f: {type: local, path: /out}}\n"
               "vms: [{name: a, target: f, disks: [{file: a}]}]\n",
               NODISK, &p);
  assert_string_equal (got, "");
  free (got);
  assert_int_equal (p->state.backend, FERRY_STATE_RADOS);
  assert_string_equal (p->state.object, "k");
  ferry_plan_free (p);
  check ("apiVersion: ferry/v1\n"
         "kind: MigrationPlan\n"
         "metadata: {name: k}\n"
         "state: {backend: memory}\n"
         "targets: {f: {type: local, path: /out}}\n"
         "vms: [{name: a, target: f, disks: [{file: a}]}]\n",
         F ":4:18: state.backend: unknown state backend 'memory' (expected "
           "'file' or 'rados')");
  assert_int_equal (ferry_state_backend_from_name ("rados"), FERRY_STATE_RADOS);
  assert_string_equal (ferry_state_backend_name (FERRY_STATE_FILE), "file");

  /* user belongs to rbd sources only */
  check ("apiVersion: ferry/v1\n"
         "kind: MigrationPlan\n"
         "metadata: {name: k}\n"
         "sources: {d: {type: directory, path: /d, user: x}}\n"
         "targets: {f: {type: local, path: /out}}\n"
         "vms: [{name: a, source: d, target: f, disks: [{file: a}]}]\n",
         F ":4:42: sources.d.user: not used by sources of type 'directory'");
}

static void
test_unknown_key_did_you_mean (void **state)
{
  (void) state;
  check (HEAD "  - name: a\n"
              "    dsks: [{file: a.img}]\n",
         F ":8:5: vms[0].disks: missing required key\n" F
           ":9:5: vms[0].dsks: unknown key; did you mean 'disks'?");
  check (HEAD "  - name: a\n"
              "    disks: [{file: a.img}]\n"
              "    wibble: 1\n",
         F ":10:5: vms[0].wibble: unknown key");
  check ("apiVersoin: ferry/v1\n"
         "kind: MigrationPlan\n"
         "metadata: {name: t}\n"
         "vms: [{name: a, target: x, disks: [{file: a}]}]\n",
         F ":1:1: apiVersoin: unknown key; did you mean 'apiVersion'?\n" F
           ":1:1: apiVersion: missing required key\n" F
           ":4:25: vms[0].target: unknown target 'x'");
}

static void
test_wrong_type (void **state)
{
  (void) state;
  check (HEAD "  - name: a\n"
              "    vcpus: two\n"
              "    ram_mb: [1]\n"
              "    disks: {file: a.img}\n"
              "    customize: {virtio: maybe, files: [{src: a, dst: /a, "
              "mode: 0644}]}\n",
         F ":9:12: vms[0].vcpus: must be an integer, not a string\n" F
           ":10:13: vms[0].ram_mb: must be an integer, not a list\n" F
           ":11:12: vms[0].disks: must be a list, not a mapping\n" F
           ":12:25: vms[0].customize.virtio: must be true or false, not a "
           "string\n" F
           ":12:64: vms[0].customize.files[0].mode: must be a string, not an "
           "integer (quote it)");
}

/* YAML 1.1 reads an unquoted 10:20:30:40:50:59 as a (base 60) integer,
 * as the schema test's PyYAML does: ferry asks for quotes. */
static void
test_unquoted_mac (void **state)
{
  (void) state;
  check (HEAD "  - {name: a, disks: [{file: a}], ports: [{network: n, mac: "
              "10:20:30:40:50:59}]}\n",
         F ":8:61: vms[0].ports[0].mac: must be a string, not an integer "
           "(quote it)");
  check (HEAD "  - {name: a, disks: [{file: a}], ports: [{network: n, mac: "
              "52:54:00:3c:01:61}]}\n",
         "");
}

static void
test_ranges_and_formats (void **state)
{
  (void) state;
  check (HEAD "  - name: -bad\n"
              "    vcpus: 0\n"
              "    ram_mb: 32\n"
              "    disks: [{file: a.img, size_gb: 0}]\n"
              "    ports:\n"
              "      - {network: n, mac: \"00:50:56:zz:bb:cc\", "
              "fixed_ip: 10.0.0.300}\n"
              "    customize: {hostname: bad_host, files: [{src: a, dst: "
              "etc/a, mode: \"999\"}]}\n",
         F ":8:11: vms[0].name: invalid VM name '-bad' (letters, digits, "
           "'_', '.', '-', starting with a letter or digit; at most 63)\n" F
           ":9:12: vms[0].vcpus: must be at least 1\n" F
           ":10:13: vms[0].ram_mb: must be at least 64\n" F
           ":11:36: vms[0].disks[0].size_gb: must be at least 1\n" F
           ":13:27: vms[0].ports[0].mac: '00:50:56:zz:bb:cc' is not a MAC "
           "address (aa:bb:cc:dd:ee:ff)\n" F
           ":13:58: vms[0].ports[0].fixed_ip: '10.0.0.300' is not an IPv4 or "
           "IPv6 address\n" F
           ":14:27: vms[0].customize.hostname: 'bad_host' is not a valid "
           "host name\n" F
           ":14:59: vms[0].customize.files[0].dst: must be an absolute path "
           "(/etc/motd, or C:\\dir\\file in a Windows guest)\n" F
           ":14:72: vms[0].customize.files[0].mode: must be an octal mode "
           "string like \"0644\"");
}

static void
test_missing_required (void **state)
{
  (void) state;
  check ("kind: MigrationPlan\n"
         "metadata: {description: x}\n"
         "targets:\n"
         "  o: {type: openstack, cloud: prod, ceph: {user: cinder}}\n"
         "  l: {type: libvirt}\n"
         "vms:\n"
         "  - disks: [{size_gb: 2}]\n"
         "    target: o\n"
         "    ports: [{fixed_ip: \"fe80::1\"}]\n",
         F ":1:1: apiVersion: missing required key\n" F
           ":2:11: metadata.name: missing required key\n" F
           ":4:43: targets.o.ceph.volumes_pool: missing required key\n" F
           ":5:6: targets.l.uri: missing required key\n" F
           ":7:5: vms[0].name: missing required key\n" F
           ":7:5: vms[0]: a VM on openstack target 'o' needs a flavor (set "
           "'flavor' here or 'defaults.flavor')\n" F
           ":7:13: vms[0].disks[0].file: missing required key\n" F
           ":9:13: vms[0].ports[0].network: missing required key");
}

static void
test_type_specific_keys (void **state)
{
  (void) state;
  check ("apiVersion: ferry/v1\n"
         "kind: MigrationPlan\n"
         "metadata: {name: t}\n"
         "state: {backend: file, pool: x}\n"
         "sources:\n"
         "  s: {type: directory, path: /d, uri: \"qemu:///system\"}\n"
         "  r: {type: nfs}\n"
         "targets:\n"
         "  out: {type: local, path: out, cloud: prod}\n"
         "vms: [{name: a, target: out, disks: [{file: a}]}]\n",
         F ":4:24: state.pool: not used by backend 'file'\n" F
           ":6:34: sources.s.uri: not used by sources of type 'directory'\n" F
           ":7:13: sources.r.type: unknown source type 'nfs' (expected "
           "'directory', 'rbd' or 'libvirt')\n" F
           ":9:33: targets.out.cloud: not used by targets of type 'local'");
}

/* The remaining message kinds: state backends, kind, mappings, empty
 * strings, upper bounds, non-decimal integers, names, complex keys. */
static void
test_more_messages (void **state)
{
  (void) state;
  check ("apiVersion: ferry/v1\n"
         "kind: Plan\n"
         "metadata: {name: t}\n"
         "state: {backend: etcd}\n"
         "sources: [a]\n"
         "targets:\n"
         "  bad name: {type: cloud}\n"
         "  o: {type: local, path: \"\"}\n"
         "flavors: {f: {vcpus: 5000, ram_mb: 0x100}}\n"
         "vms: [{name: a, target: o, disks: [{file: a}], ? [x] : y}]\n",
         F ":2:7: kind: unsupported kind 'Plan' (expected 'MigrationPlan')\n" F
           ":4:18: state.backend: unknown state backend 'etcd' (expected "
           "'file' or 'rados')\n" F
           ":5:10: sources: must be a mapping, not a list\n" F
           ":7:3: targets.bad name: invalid target name (letters, digits, "
           "'_', '.', '-'; at most 63)\n" F
           ":7:20: targets.bad name.type: unknown target type 'cloud' "
           "(expected 'local', 'openstack' or 'libvirt')\n" F
           ":8:26: targets.o.path: must not be empty\n" F
           ":9:22: flavors.f.vcpus: must be at most 4096\n" F
           ":9:36: flavors.f.ram_mb: must be a decimal integer\n" F
           ":10:50: mapping keys must be scalars");
  check ("apiVersion: ferry/v1\n"
         "kind: MigrationPlan\n"
         "metadata: {name: t}\n"
         "state: {backend: rados, path: x}\n"
         "vms: [{name: a, disks: [{file: a}]}]\n",
         F ":4:8: state.pool: missing required key\n" F
           ":4:25: state.path: not used by backend 'rados'\n" F
           ":5:7: vms[0]: no target (set 'target' here or "
           "'defaults.target')");
}

static void
test_duplicates (void **state)
{
  (void) state;
  check (HEAD "  - name: a\n"
              "    disks: [{file: a.img}]\n"
              "    ports:\n"
              "      - {network: n, mac: \"00:50:56:AA:BB:CC\", "
              "fixed_ip: \"2001:db8::1\"}\n"
              "      - {network: n, fixed_ip: 10.0.0.1}\n"
              "  - name: a\n"
              "    disks: [{file: b.img}]\n"
              "    ports:\n"
              "      - {network: n, mac: \"00:50:56:aa:bb:cc\", "
              "fixed_ip: \"2001:db8:0::1\"}\n"
              "      - {network: n, fixed_ip: 10.0.0.1}\n",
         F ":13:11: vms[1].name: duplicate VM name 'a' (first at line 8)\n" F
           ":16:27: vms[1].ports[0].mac: duplicate MAC address "
           "'00:50:56:aa:bb:cc' (first at line 11)\n" F
           ":16:58: vms[1].ports[0].fixed_ip: duplicate fixed IP "
           "'2001:db8::1' (first at line 11)\n" F
           ":17:32: vms[1].ports[1].fixed_ip: duplicate fixed IP '10.0.0.1' "
           "(first at line 12)");
}

static void
test_duplicate_key (void **state)
{
  (void) state;
  check (HEAD "  - name: a\n"
              "    disks: [{file: a.img}]\n"
              "    name: b\n",
         F ":10:5: duplicate key 'name' (first at line 8)");
}

static void
test_depends_on (void **state)
{
  (void) state;
  check (HEAD "  - {name: a, disks: [{file: a}], depends_on: [b]}\n"
              "  - {name: b, disks: [{file: b}], depends_on: [c, b]}\n"
              "  - {name: c, disks: [{file: c}], depends_on: [a, db1]}\n"
              "  - {name: db01, disks: [{file: d}], depends_on: [zzz]}\n",
         F ":9:51: vms[1].depends_on[1]: a VM cannot depend on itself\n" F
           ":10:48: vms[2].depends_on[0]: dependency cycle: a -> b -> c -> "
           "a\n" F
           ":10:51: vms[2].depends_on[1]: unknown VM 'db1'; did you mean "
           "'db01'?\n" F ":11:51: vms[3].depends_on[0]: unknown VM 'zzz'");
}

static void
test_unknown_refs (void **state)
{
  (void) state;
  check ("apiVersion: ferry/v1\n"
         "kind: MigrationPlan\n"
         "metadata: {name: t}\n"
         "sources: {dc1: {type: directory, path: /d}}\n"
         "targets: {cloud: {type: libvirt, uri: \"qemu:///system\"}}\n"
         "flavors: {m1.web: {vcpus: 2, ram_mb: 4096}}\n"
         "defaults: {source: dc2, flavor: m1.big}\n"
         "vms:\n"
         "  - {name: a, target: clod, source: dc1, flavor: m1.wbe, disks: "
         "[{file: a}]}\n"
         "  - {name: b, disks: [{file: b}]}\n",
         F ":7:20: defaults.source: unknown source 'dc2'; did you mean "
           "'dc1'?\n" F ":7:33: defaults.flavor: unknown flavor 'm1.big'\n" F
           ":9:23: vms[0].target: unknown target 'clod'; did you mean "
           "'cloud'?\n" F
           ":9:50: vms[0].flavor: unknown flavor 'm1.wbe'; did you mean "
           "'m1.web'?\n" F ":10:5: vms[1]: no target (set 'target' here or "
           "'defaults.target')");
}

static void
test_literal_secret (void **state)
{
  char *got;

  (void) state;
  got = diags (HEAD "  - name: a\n"
                    "    disks: [{file: a.img}]\n"
                    "    customize:\n"
                    "      autologon: {user: admin, password: Hunter2Secret}\n",
               NODISK, NULL);
  assert_string_equal (got, F ":11:42: vms[0].customize.autologon.password: "
                              "literal secret not allowed; use {env: NAME} or "
                              "{file: PATH}");
  assert_null (strstr (got, "Hunter2"));
  free (got);
  check (HEAD "  - name: a\n"
              "    disks: [{file: a.img}]\n"
              "    customize:\n"
              "      autologon: {user: admin, password: {env: X, file: y}}\n",
         F ":11:42: vms[0].customize.autologon.password: a secret reference "
           "needs exactly one of 'env' or 'file'");
  check (HEAD "  - name: a\n"
              "    disks: [{file: a.img}]\n"
              "    customize:\n"
              "      autologon: {user: admin, password: {env: 1X}}\n",
         F ":11:48: vms[0].customize.autologon.password.env: '1X' is not a "
           "valid environment variable name");
}

static void
test_secret_read (void **state)
{
  struct ferry_secret s = {0};
  struct ferry_err err = {0};
  char dir[] = "/tmp/test-plan.XXXXXX";
  char path[256], *v = NULL, *big;
  FILE *f;

  (void) state;
  s.kind = FERRY_SECRET_ENV;
  s.ref = (char *) "FERRY_TEST_PLAN_PW";
  setenv ("FERRY_TEST_PLAN_PW", "s3cret", 1);
  assert_int_equal (ferry_secret_read (&s, &v, &err), 0);
  assert_string_equal (v, "s3cret");
  free (v);
  unsetenv ("FERRY_TEST_PLAN_PW");
  assert_int_equal (ferry_secret_read (&s, &v, &err), -1);
  assert_string_equal (err.msg,
                       "environment variable 'FERRY_TEST_PLAN_PW' is not set");

  assert_non_null (mkdtemp (dir));
  snprintf (path, sizeof path, "%s/pw", dir);
  f = fopen (path, "w");
  fputs ("line one\n\n", f);
  fclose (f);
  s.kind = FERRY_SECRET_FILE;
  s.ref = path;
  ferry_err_clear (&err);
  assert_int_equal (ferry_secret_read (&s, &v, &err), 0);
  assert_string_equal (v, "line one\n"); /* only one newline stripped */
  free (v);

  big = malloc (65 * 1024);
  memset (big, 'x', 65 * 1024);
  f = fopen (path, "w");
  fwrite (big, 1, 65 * 1024, f);
  fclose (f);
  free (big);
  ferry_err_clear (&err);
  assert_int_equal (ferry_secret_read (&s, &v, &err), -1);
  assert_non_null (strstr (err.msg, "is larger than 64 KiB"));
  unlink (path);
  ferry_err_clear (&err);
  assert_int_equal (ferry_secret_read (&s, &v, &err), -1);
  assert_non_null (strstr (err.msg, "cannot open secret file"));
  rmdir (dir);
}

static void
test_secret_refs_parsed (void **state)
{
  struct ferry_plan *p = NULL;
  char *got;

  (void) state;
  got = diags (HEAD "  - name: a\n"
                    "    disks: [{file: a.img}]\n"
                    "    customize:\n"
                    "      virtio: yes\n"
                    "      hostname: web01.example.com\n"
                    "      autologon: {user: admin, password: {env: PW}, "
                    "count: 3}\n",
               NODISK, &p);
  assert_string_equal (got, "");
  free (got);
  assert_true (p->vms[0].customize.virtio);
  assert_string_equal (p->vms[0].customize.hostname, "web01.example.com");
  assert_true (p->vms[0].customize.has_autologon);
  assert_int_equal (p->vms[0].customize.autologon.password.kind,
                    FERRY_SECRET_ENV);
  assert_string_equal (p->vms[0].customize.autologon.password.ref, "PW");
  assert_int_equal (p->vms[0].customize.autologon.password.pos.line, 13);
  assert_int_equal (p->vms[0].customize.autologon.count, 3);
  ferry_plan_free (p);
}

static void
test_anchors_merge (void **state)
{
  struct ferry_plan *p = NULL;
  char *got;

  (void) state;
  got = diags (HEAD "  - &base\n"
                    "    name: a\n"
                    "    vcpus: 2\n"
                    "    disks: &d [{file: a.img, size_gb: 10}]\n"
                    "  - <<: *base\n"
                    "    name: b\n"
                    "    ports: [{network: n, security_groups: &sg [web, "
                    "ssh]}]\n"
                    "  - <<: [{vcpus: 8, ram_mb: 2048}, *base]\n"
                    "    name: c\n"
                    "    disks: *d\n"
                    "    ports: [{network: m, security_groups: *sg}]\n",
               NODISK, &p);
  assert_string_equal (got, "");
  free (got);
  assert_int_equal (p->n_vms, 3);
  assert_string_equal (p->vms[1].name, "b");
  assert_int_equal (p->vms[1].vcpus, 2);
  assert_int_equal (p->vms[1].disks[0].size_gb, 10);
  assert_string_equal (p->vms[1].disks[0].path, "/plans/a.img");
  assert_int_equal (p->vms[1].ports[0].n_security_groups, 2);
  assert_string_equal (p->vms[1].ports[0].security_groups[1], "ssh");
  assert_string_equal (p->vms[2].name, "c");
  assert_int_equal (p->vms[2].vcpus, 8); /* the first merged map wins */
  assert_int_equal (p->vms[2].ram_mb, 2048);
  assert_string_equal (p->vms[2].ports[0].security_groups[0], "web");
  ferry_plan_free (p);

  /* Errors inside an aliased node point at where it was written. */
  check (HEAD "  - &base {name: a, disks: [{file: a, size_gb: x}]}\n"
              "  - {<<: *base, name: b}\n",
         F ":8:48: vms[0].disks[0].size_gb: must be an integer, not a "
           "string\n" F
           ":8:48: vms[1].disks[0].size_gb: must be an integer, not a "
           "string");
  check (HEAD "  - {<<: 3, name: a, disks: [{file: a}]}\n",
         F ":8:10: merge key '<<' needs a mapping or a list of mappings");
  check (HEAD "  - *nope\n",
         F ":8:5: alias '*nope' names no anchor defined before it");
}

static void
test_alias_bomb (void **state)
{
  const char *bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                     "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                     "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                     "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                     "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                     "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
                     "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
                     "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
  struct timespec t0, t1;

  (void) state;
  clock_gettime (CLOCK_MONOTONIC, &t0);
  check (bomb, F ":4:36: aliases expand to more than 10000 nodes; refusing "
                 "the document (an alias bomb?)");
  clock_gettime (CLOCK_MONOTONIC, &t1);
  assert_true (t1.tv_sec - t0.tv_sec < 2);
}

static void
test_deep_nesting (void **state)
{
  size_t n = 1000, i;
  char *s = malloc (2 * n + 8);
  char *got;

  (void) state;
  for (i = 0; i < n; i++)
    s[i] = '[';
  for (i = 0; i < n; i++)
    s[n + i] = ']';
  strcpy (s + 2 * n, "\n");
  got = diags (s, NODISK, NULL);
  assert_string_equal (got, F ":1:65: nesting deeper than 64 levels");
  free (got);
  free (s);
  /* Through an alias: 40 levels used 30 levels deep. */
  s = malloc (256);
  strcpy (s, "a: &x ");
  for (i = 0; i < 40; i++)
    strcat (s, "[");
  for (i = 0; i < 40; i++)
    strcat (s, "]");
  strcat (s, "\nb: ");
  for (i = 0; i < 30; i++)
    strcat (s, "[");
  strcat (s, "*x");
  for (i = 0; i < 30; i++)
    strcat (s, "]");
  strcat (s, "\n");
  check (s, F ":2:34: alias '*x' nests deeper than 64 levels when expanded");
  free (s);
}

static void
test_too_large (void **state)
{
  size_t len = 100u << 20;
  char *buf = malloc (len);
  struct ferry_err err = {0};
  struct ferry_diag d = {0};
  struct ferry_plan *p = NULL;
  struct timespec t0, t1;

  (void) state;
  assert_non_null (buf);
  memset (buf, '#', len);
  clock_gettime (CLOCK_MONOTONIC, &t0);
  assert_int_equal (ferry_plan_load_buffer (F, buf, len, 0, &p, &d, &err), -1);
  clock_gettime (CLOCK_MONOTONIC, &t1);
  assert_true (t1.tv_sec - t0.tv_sec < 2);
  assert_int_equal (d.n, 1);
  assert_string_equal (d.lines[0], F ": plan file is too large (104857600 "
                                     "bytes; the limit is 16 MiB)");
  ferry_diag_free (&d);
  free (buf);
}

static void
test_syntax_and_encoding (void **state)
{
  char *got;
  static const char nul[] = "apiVersion: ferry/v1\nkind: Mig\0rationPlan\n";
  struct ferry_err err = {0};
  struct ferry_diag d = {0};
  struct ferry_plan *p = NULL;

  (void) state;
  check ("apiVersion: ferry/v1\n"
         "kind: [MigrationPlan\n"
         "metadata: {name: t}\n",
         F ":3:9: YAML syntax error: did not find expected ',' or ']' (while "
           "parsing a flow sequence at line 2)");
  check ("a: b\n  c: d\n",
         F ":2:4: YAML syntax error: mapping values are not allowed in this "
           "context");
  check ("apiVersion: ferry/v1\nkind: \xc3\x28\n",
         F ":2:7: plan file is not valid UTF-8");
  assert_int_equal (
      ferry_plan_load_buffer (F, nul, sizeof nul - 1, NODISK, &p, &d, &err),
      -1);
  assert_int_equal (d.n, 1);
  assert_string_equal (d.lines[0], F ":2:10: NUL byte in plan file");
  ferry_diag_free (&d);
  check ("", F ":1:1: plan is empty");
  check ("- a\n", F ":1:1: a plan must be a mapping, not a list");
  check ("a: 1\n---\nb: 2\n",
         F ":2:1: plan file must hold exactly one YAML document");
  got = diags (HEAD "  - {name: a, disks: [{file: !!binary aGk=}]}\n", NODISK,
               NULL);
  assert_string_equal (got, F ":8:30: unsupported YAML tag "
                              "'tag:yaml.org,2002:binary'");
  free (got);
}

/* Everything at once: each problem is reported, sorted by position. */
static void
test_many_errors (void **state)
{
  (void) state;
  check ("apiVersion: ferry/v2\n"
         "kind: MigrationPlan\n"
         "metadata: {name: Bad_Name}\n"
         "targets: {out: {type: local, path: out}}\n"
         "flavors: {f: {vcpus: 1, ram_mb: 1}}\n"
         "vms:\n"
         "  - {name: a, target: out, disks: [], colour: red}\n"
         "  - {name: a, target: out, disks: [{file: x}], flavor: f}\n",
         F ":1:13: apiVersion: unsupported apiVersion 'ferry/v2' (expected "
           "'ferry/v1')\n" F
           ":3:18: metadata.name: invalid plan name 'Bad_Name' (lower-case "
           "letters, digits and '-', starting with a letter or digit; at most "
           "63)\n" F ":5:33: flavors.f.ram_mb: must be at least 64\n" F
           ":7:35: vms[0].disks: needs at least one disk\n" F
           ":7:39: vms[0].colour: unknown key\n" F
           ":8:12: vms[1].name: duplicate VM name 'a' (first at line 7)");
}

/* Real files: missing, unreadable by its reader, too small a size_gb. */
static void
test_disk_checks (void **state)
{
  char dir[] = "/tmp/test-plan.XXXXXX";
  char plan[256], path[256];
  struct ferry_err err = {0};
  struct ferry_diag d = {0};
  struct ferry_plan *p = NULL;
  FILE *f;
  int fd;

  (void) state;
  assert_non_null (mkdtemp (dir));
  snprintf (path, sizeof path, "%s/disks", dir);
  mkdir (path, 0755);
  snprintf (path, sizeof path, "%s/disks/big.raw", dir);
  fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  assert_true (fd >= 0);
  assert_int_equal (ftruncate (fd, (off_t) 3 << 30), 0);
  close (fd);
  snprintf (path, sizeof path, "%s/disks/bad.qcow2", dir);
  f = fopen (path, "w");
  fwrite ("QFI\xfb\0\0\0\x09garbage-garbage-garbage", 1, 30, f);
  fclose (f);
  snprintf (plan, sizeof plan, "%s/p.yaml", dir);
  f = fopen (plan, "w");
  fputs ("apiVersion: ferry/v1\n"
         "kind: MigrationPlan\n"
         "metadata: {name: t}\n"
         "sources: {d: {type: directory, path: disks}}\n"
         "targets: {out: {type: local, path: out}}\n"
         "defaults: {target: out, source: d}\n"
         "vms:\n"
         "  - name: a\n"
         "    disks:\n"
         "      - {file: big.raw, size_gb: 2}\n"
         "      - {file: big.raw, size_gb: 3}\n"
         "      - {file: missing.vmdk}\n"
         "      - {file: bad.qcow2}\n",
         f);
  fclose (f);
  assert_int_equal (ferry_plan_load (plan, 0, &p, &d, &err), -1);
  assert_false (err.set);
  assert_int_equal (d.n, 3);
  {
    char *want;
    assert_true (asprintf (&want,
                           "%s:10:34: vms[0].disks[0].size_gb: must be at "
                           "least the source's virtual size (3221225472 "
                           "bytes)",
                           plan) > 0);
    assert_string_equal (d.lines[0], want);
    free (want);
    assert_true (asprintf (&want,
                           "%s:12:16: vms[0].disks[2].file: cannot open "
                           "'%s/disks/missing.vmdk': No such file or "
                           "directory",
                           plan, dir) > 0);
    assert_string_equal (d.lines[1], want);
    free (want);
    assert_true (asprintf (&want, "%s:13:16: vms[0].disks[3].file: ", plan) >
                 0);
    assert_memory_equal (d.lines[2], want, strlen (want));
    assert_non_null (strstr (d.lines[2], "bad.qcow2"));
    free (want);
  }
  ferry_diag_free (&d);
  /* The same plan passes when disks are not checked. */
  assert_int_equal (ferry_plan_load (plan, NODISK, &p, &d, &err), 0);
  assert_string_equal (p->vms[0].disks[2].path + strlen (dir),
                       "/disks/missing.vmdk");
  ferry_plan_free (p);
  unlink (plan);
  snprintf (path, sizeof path, "%s/disks/big.raw", dir);
  unlink (path);
  snprintf (path, sizeof path, "%s/disks/bad.qcow2", dir);
  unlink (path);
  snprintf (path, sizeof path, "%s/disks", dir);
  rmdir (path);
  rmdir (dir);

  ferry_err_clear (&err);
  assert_int_equal (ferry_plan_load ("/nonexistent/p.yaml", 0, &p, &d, &err),
                    -1);
  assert_string_equal (err.msg, "cannot open plan '/nonexistent/p.yaml': No "
                                "such file or directory");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_good_defaults),
      cmocka_unit_test (test_relative_paths),
      cmocka_unit_test (test_unknown_key_did_you_mean),
      cmocka_unit_test (test_wrong_type),
      cmocka_unit_test (test_unquoted_mac),
      cmocka_unit_test (test_ranges_and_formats),
      cmocka_unit_test (test_missing_required),
      cmocka_unit_test (test_type_specific_keys),
      cmocka_unit_test (test_more_messages),
      cmocka_unit_test (test_duplicates),
      cmocka_unit_test (test_duplicate_key),
      cmocka_unit_test (test_depends_on),
      cmocka_unit_test (test_unknown_refs),
      cmocka_unit_test (test_literal_secret),
      cmocka_unit_test (test_secret_read),
      cmocka_unit_test (test_secret_refs_parsed),
      cmocka_unit_test (test_anchors_merge),
      cmocka_unit_test (test_alias_bomb),
      cmocka_unit_test (test_deep_nesting),
      cmocka_unit_test (test_too_large),
      cmocka_unit_test (test_syntax_and_encoding),
      cmocka_unit_test (test_many_errors),
      cmocka_unit_test (test_disk_checks),
      cmocka_unit_test (test_kinds),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
