/* modules/guest-linux-network.c: the guest's network configuration keeps
 * working on the new NICs (ferry_guest_linux_network, modules/guest.h).
 *
 * A VMware guest's configuration names its interface (ens192, eth0) in
 * /etc/network/interfaces, netplan, ifcfg-* or NetworkManager keyfiles;
 * on KVM the virtio NIC would get another name (ens3, enp1s0) and none of
 * that configuration would apply.  Rather than rewrite every file in
 * every format, ferry pins the old name to the new NIC's MAC, which the
 * plan knows for each port:
 *
 *   - systemd guests: /etc/systemd/network/10-ferry-<name>.link
 *     ([Match] MACAddress= Type=ether, [Link] Name=<name>), read by udev
 *     before its default naming policy (99-default.link);
 *   - other guests: one line per NIC in
 *     /etc/udev/rules.d/70-ferry-net-names.rules (NAME= by ATTR{address}).
 *
 * Configurations that also bind to the old VMware MAC are pointed at the
 * new one: HWADDR= in ifcfg files, mac-address= in NetworkManager
 * keyfiles of that interface, macaddress: in the interface's netplan
 * block.  Addresses, routes and DNS are left as the guest has them.
 *
 * An initramfs that names NICs itself (it carries udev's
 * 99-default.link: Debian's does) must carry the .link files too, since
 * udev never renames an interface the initramfs already renamed: such an
 * initramfs is rebuilt (ferry_lx_initramfs) - by inject, which runs
 * right after and checks the .link files too, when customize.virtio.
 *
 * The old name of port I is ports[I].guest_name from the plan, or, when
 * the VM has one port and the guest configures exactly one interface
 * besides lo, that interface.  A port without a MAC or without a known
 * old name is left alone. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "modules/guest-linux-util.h"
#include "util/cleanup.h"

/* Add NAME (LEN bytes) to the NUL-separated set B unless present. */
static void
set_add (struct ferry_lx_buf *b, const char *name, size_t len)
{
  const char *p;

  if (len == 0 || (len == 2 && strncmp (name, "lo", 2) == 0))
    return;
  for (p = b->s; p && p < b->s + b->len; p += strlen (p) + 1)
    if (strlen (p) == len && strncmp (p, name, len) == 0)
      return;
  ferry_lx_buf_add (b, name, len);
  ferry_lx_buf_add (b, "", 1);
}

static size_t
indent_of (const char *line)
{
  return strspn (line, " ");
}

/* Every interface the guest configures (besides lo), NUL-separated. */
static int
configured (guestfs_h *g, struct ferry_lx_buf *set, struct ferry_err *err)
{
  char **files;
  size_t i;

  {
    CLEANUP_FREE char *t = NULL;
    const char *l;
    if (ferry_lx_read (g, "/etc/network/interfaces", &t, NULL, err) < 0)
      return -1;
    for (l = t; l && *l; l += strcspn (l, "\n") + (l[strcspn (l, "\n")] != 0)) {
      const char *s = l + strspn (l, " \t");
      if (strncmp (s, "iface ", 6) == 0) {
        s += 6 + strspn (s + 6, " \t");
        set_add (set, s, strcspn (s, " \t\n"));
      }
    }
  }
  files = ferry_lx_glob (g, "/etc/sysconfig/network-scripts", "");
  for (i = 0; files && files[i]; i++) {
    const char *b = strrchr (files[i], '/') + 1;
    if (strncmp (b, "ifcfg-", 6) == 0 && strchr (b + 6, '.') == NULL)
      set_add (set, b + 6, strlen (b + 6));
  }
  ferry_lx_strv_free (files);
  files = ferry_lx_glob (g, "/etc/NetworkManager/system-connections", "");
  for (i = 0; files && files[i]; i++) {
    CLEANUP_FREE char *t = NULL;
    const char *h;
    if (ferry_lx_read (g, files[i], &t, NULL, err) < 0)
      goto fail;
    h = t ? strstr (t, "\ninterface-name=") : NULL;
    if (h)
      set_add (set, h + 16, strcspn (h + 16, "\n"));
  }
  ferry_lx_strv_free (files);
  files = ferry_lx_glob (g, "/etc/netplan", ".yaml");
  for (i = 0; files && files[i]; i++) {
    CLEANUP_FREE char *t = NULL;
    const char *l;
    size_t eth = 0, child = 0;
    bool in = false;
    if (ferry_lx_read (g, files[i], &t, NULL, err) < 0)
      goto fail;
    for (l = t; l && *l; l += strcspn (l, "\n") + (l[strcspn (l, "\n")] != 0)) {
      size_t ind = indent_of (l), n = strcspn (l + ind, ":\n");
      if (l[ind] == '\n' || l[ind] == '#' || l[ind] == '\0')
        continue;
      if (in && ind <= eth)
        in = false;
      if (!in && strncmp (l + ind, "ethernets:", 10) == 0) {
        in = true;
        eth = ind;
        child = 0;
        continue;
      }
      if (in && (child == 0 || ind == child) && l[ind + n] == ':') {
        child = ind;
        set_add (set, l + ind, n);
      }
    }
  }
  ferry_lx_strv_free (files);
  return 0;
fail:
  ferry_lx_strv_free (files);
  return -1;
}

/* Does the guest boot with systemd (and so read .link files)? */
static bool
has_systemd (guestfs_h *g)
{
  return ferry_lx_exists (g, "/usr/lib/systemd/systemd") ||
         ferry_lx_exists (g, "/lib/systemd/systemd") ||
         ferry_lx_exists (g, "/usr/lib/systemd/systemd-udevd") ||
         ferry_lx_exists (g, "/lib/systemd/systemd-udevd");
}

/* Write PATH with WANT unless it has it already. */
static int
ensure_file (struct ferry_guest_op *op, const char *path, const char *want,
             const char *why, struct ferry_changes *ch, struct ferry_err *err)
{
  CLEANUP_FREE char *have = NULL, *dir = strdup (path);

  if (dir == NULL)
    return ferry_err_set (err, ENOMEM, "out of memory");
  if (ferry_lx_read (op->g, path, &have, NULL, err) < 0)
    return -1;
  if (have && strcmp (have, want) == 0)
    return 0;
  ferry_changes_add (ch, "%s: %s (%s)", path, have ? "update" : "create", why);
  if (!op->apply)
    return 0;
  *strrchr (dir, '/') = '\0';
  if (ferry_lx_mkdir_p (op->g, dir, err) < 0 ||
      ferry_lx_write (op->g, path, want, err) < 0)
    return -1;
  return 0;
}

/* Replace the value after KEY on every line of TEXT that starts (after
 * indentation) with KEY and whose value is not MAC (case-insensitive,
 * quotes kept); only lines inside [FROM, TO) when FROM is given. */
static char *
rewrite_mac (const char *text, const char *key, const char *mac,
             const char *file, const char *from, const char *to,
             struct ferry_changes *ch)
{
  struct ferry_lx_buf b = {0};
  const char *l, *next;
  size_t kl = strlen (key);
  bool changed = false;

  for (l = text; *l; l = next) {
    const char *s = l + strspn (l, " \t"), *v, *e;
    next = l + strcspn (l, "\n");
    next += *next == '\n';
    if ((from == NULL || (l >= from && l < to)) && strncmp (s, key, kl) == 0) {
      v = s + kl;
      v += strspn (v, " \t\"'");
      e = v + strspn (v, "0123456789abcdefABCDEF:");
      if ((size_t) (e - v) == 17 && strncasecmp (v, mac, 17) != 0) {
        ferry_changes_add (ch, "%s: %s%s%.*s -> %s", file, key,
                           key[kl - 1] == ':' ? " " : "", 17, v, mac);
        ferry_lx_buf_add (&b, l, (size_t) (v - l));
        ferry_lx_buf_add (&b, mac, 17);
        ferry_lx_buf_add (&b, e, (size_t) (next - e));
        changed = true;
        continue;
      }
    }
    ferry_lx_buf_add (&b, l, (size_t) (next - l));
  }
  if (!changed || b.oom) {
    free (b.s);
    return NULL;
  }
  return b.s;
}

/* Point the MAC bindings of interface NAME at MAC. */
static int
rebind (struct ferry_guest_op *op, const char *name, const char *mac,
        struct ferry_changes *ch, struct ferry_err *err)
{
  static const char *const ifcfg_dirs[] = {"/etc/sysconfig/network-scripts",
                                           "/etc/sysconfig/network", NULL};
  char **files;
  size_t i;
  int rc = 0;

  for (i = 0; ifcfg_dirs[i] && rc == 0; i++) {
    CLEANUP_FREE char *path = NULL, *t = NULL, *out = NULL;
    if (asprintf (&path, "%s/ifcfg-%s", ifcfg_dirs[i], name) < 0)
      return ferry_err_set (err, ENOMEM, "out of memory");
    if (ferry_lx_read (op->g, path, &t, NULL, err) < 0)
      return -1;
    if (t && (out = rewrite_mac (t, "HWADDR=", mac, path, NULL, NULL, ch)) &&
        op->apply)
      rc = ferry_lx_write (op->g, path, out, err);
  }
  files = ferry_lx_glob (op->g, "/etc/NetworkManager/system-connections", "");
  for (i = 0; rc == 0 && files && files[i]; i++) {
    CLEANUP_FREE char *t = NULL, *out = NULL, *want = NULL;
    if (ferry_lx_read (op->g, files[i], &t, NULL, err) < 0) {
      rc = -1;
      break;
    }
    if (t == NULL || asprintf (&want, "\ninterface-name=%s\n", name) < 0 ||
        strstr (t, want) == NULL)
      continue;
    out = rewrite_mac (t, "mac-address=", mac, files[i], NULL, NULL, ch);
    if (out && op->apply)
      rc = ferry_lx_write (op->g, files[i], out, err);
  }
  ferry_lx_strv_free (files);
  files = ferry_lx_glob (op->g, "/etc/netplan", ".yaml");
  for (i = 0; rc == 0 && files && files[i]; i++) {
    CLEANUP_FREE char *t = NULL, *out = NULL;
    const char *l, *from = NULL, *to = NULL;
    size_t nl = strlen (name), ind = 0;
    if (ferry_lx_read (op->g, files[i], &t, NULL, err) < 0) {
      rc = -1;
      break;
    }
    /* the block of "<name>:" is every deeper-indented line after it */
    for (l = t; l && *l; l += strcspn (l, "\n") + (l[strcspn (l, "\n")] != 0)) {
      size_t in = indent_of (l);
      if (from == NULL) {
        if (strncmp (l + in, name, nl) == 0 && l[in + nl] == ':') {
          from = l;
          ind = in;
        }
      } else if (l[in] != '\n' && l[in] != '#' && in <= ind) {
        to = l;
        break;
      }
    }
    if (from == NULL)
      continue;
    if (to == NULL)
      to = t + strlen (t);
    out = rewrite_mac (t, "macaddress:", mac, files[i], from, to, ch);
    if (out && op->apply)
      rc = ferry_lx_write (op->g, files[i], out, err);
  }
  ferry_lx_strv_free (files);
  return rc;
}

/* Pin each port's old name to its MAC, then move the MAC bindings:
 * see the head of this file. */
int
ferry_guest_linux_network (struct ferry_guest_op *op, struct ferry_changes *ch,
                           struct ferry_err *err)
{
  struct ferry_lx_buf set = {0}, rules = {0};
  char *links[17] = {NULL};
  size_t n_links = 0;
  bool systemd = has_systemd (op->g);
  size_t i, n_set = 0;
  const char *p;
  int rc = -1;

  if (configured (op->g, &set, err) < 0)
    goto out;
  for (p = set.s; p && p < set.s + set.len; p += strlen (p) + 1)
    n_set++;
  for (i = 0; i < op->n_nics; i++) {
    const struct ferry_guest_nic *nic = &op->nics[i];
    const char *name = nic->guest_name;
    if (nic->mac == NULL || strlen (nic->mac) != 17)
      continue;
    if (name == NULL && op->n_nics == 1 && n_set == 1)
      name = set.s;
    if (name == NULL || name[0] == '\0' || strchr (name, '/') ||
        strlen (name) > 15)
      continue;
    if (systemd) {
      CLEANUP_FREE char *path = NULL, *want = NULL;
      if (asprintf (&path, "/etc/systemd/network/10-ferry-%s.link", name) < 0 ||
          asprintf (&want,
                    "# Written by ferry: the NIC with this MAC keeps the name\n"
                    "# the guest's network configuration uses.\n"
                    "[Match]\nMACAddress=%s\nType=ether\n\n[Link]\nName=%s\n",
                    nic->mac, name) < 0) {
        ferry_err_set (err, ENOMEM, "out of memory");
        goto out;
      }
      if (ensure_file (op, path, want, nic->mac, ch, err) < 0)
        goto out;
      if (n_links < 16 && (links[n_links] = strdup (path + 1)) != NULL)
        n_links++;
    } else
      ferry_lx_buf_addf (&rules,
                         "SUBSYSTEM==\"net\", ACTION==\"add\", "
                         "DRIVERS==\"?*\", ATTR{address}==\"%s\", "
                         "ATTR{type}==\"1\", NAME=\"%s\"\n",
                         nic->mac, name);
    if (rebind (op, name, nic->mac, ch, err) < 0)
      goto out;
  }
  if (rules.len) {
    CLEANUP_FREE char *want = NULL;
    if (asprintf (&want,
                  "# Written by ferry: each NIC keeps the name the guest's\n"
                  "# network configuration uses.\n%s",
                  rules.s) < 0) {
      ferry_err_set (err, ENOMEM, "out of memory");
      goto out;
    }
    if (ensure_file (op, "/etc/udev/rules.d/70-ferry-net-names.rules", want,
                     "names by MAC", ch, err) < 0)
      goto out;
  }
  /* an initramfs that names NICs must name them the same way; with
   * customize.virtio the inject operation that runs next checks the same
   * and rebuilds once for both (an update-initramfs under TCG costs ~5
   * min: never twice) */
  if (n_links && !op->vm->customize.virtio &&
      ferry_lx_initramfs (op, false, links, ch, err) < 0)
    goto out;
  if (set.oom || rules.oom) {
    ferry_err_set (err, ENOMEM, "out of memory");
    goto out;
  }
  rc = 0;
out:
  for (i = 0; i < n_links; i++)
    free (links[i]);
  free (set.s);
  free (rules.s);
  return rc;
}
