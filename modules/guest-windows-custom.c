/* modules/guest-windows-custom.c: network identity and customization of a
 * Windows guest (modules/guest.h; docs/guest-windows.md).
 *
 * Network: Windows binds a static address to the adapter it was set on;
 * the converted guest meets a new (virtio) adapter and comes up with
 * DHCP.  A first-boot PowerShell script (PowerShell 2.0 and WMI, so that
 * 2008 R2 runs it too) finds each port's adapter by MAC and sets the
 * port's address, prefix, gateway and DNS servers on it.
 *
 * Customize: files copied in (C:\dir\file or /dir/file), RunOnce commands,
 * first-boot scripts, AutoAdminLogon for N logons (the password from its
 * secret reference; a RunOnce script removes it after the last one), and
 * the host name (ComputerName and Tcpip's Hostname / NV Hostname). */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modules/guest-windows.h"
#include "plan/plan.h"
#include "util/cleanup.h"

#define WINLOGON "Microsoft\\Windows NT\\CurrentVersion\\Winlogon"

/* Growing text. */
struct text {
  char *s;
  size_t n;
  bool oom;
};

/* Append printf-style text to T (T->oom on failure). */
static void __attribute__ ((format (printf, 2, 3)))
text_add (struct text *t, const char *fmt, ...)
{
  va_list ap;
  char *add = NULL, *ns;
  int k;

  va_start (ap, fmt);
  k = vasprintf (&add, fmt, ap);
  va_end (ap);
  if (k < 0) {
    t->oom = true;
    return;
  }
  ns = realloc (t->s, t->n + (size_t) k + 1);
  if (ns == NULL) {
    t->oom = true;
    free (add);
    return;
  }
  memcpy (ns + t->n, add, (size_t) k + 1);
  t->s = ns;
  t->n += (size_t) k;
  free (add);
}

/* Is S safe inside a single-quoted PowerShell string and a batch line? */
static bool
plain (const char *s)
{
  for (; *s; s++)
    if (!isalnum ((unsigned char) *s) && !strchr (".:-_", *s))
      return false;
  return true;
}

static const char network_head[] =
    "# ferry: give each new network adapter the static address of its\n"
    "# port (docs/guest-windows.md).  Windows keeps a static address on\n"
    "# the adapter it was set on; the converted guest has new adapters.\n"
    "$log = '" FERRY_WIN_FB_WIN "\\network.log'\n"
    "function Log($m) { Add-Content -Path $log -Value ((Get-Date -Format "
    "s) + ' ' + $m) }\n"
    "$failed = $false\n"
    "function Find-Adapter($mac) {\n"
    "  for ($i = 0; $i -lt 60; $i++) {\n"
    "    $a = Get-WmiObject Win32_NetworkAdapter | Where-Object { "
    "$_.MACAddress -eq $mac -and $_.NetConnectionID }\n"
    "    if ($a) { return @($a)[0] }\n"
    "    Start-Sleep -Seconds 5\n"
    "  }\n"
    "  return $null\n"
    "}\n"
    "function Set-Address($mac, $ip, $prefix, $mask, $gw, $dns) {\n"
    "  $a = Find-Adapter $mac\n"
    "  if (-not $a) { Log \"no adapter with MAC $mac\"; $script:failed = "
    "$true; return }\n"
    "  $idx = $a.InterfaceIndex\n"
    "  Log \"adapter '$($a.NetConnectionID)' (index $idx) has MAC $mac\"\n"
    "  if ($ip.Contains(':')) {\n"
    "    $o = netsh interface ipv6 add address \"interface=$idx\" "
    "\"address=$ip/$prefix\" store=persistent; Log \"$ip/${prefix}: $o\"\n"
    "    if ($gw) { $o = netsh interface ipv6 add route ::/0 "
    "\"interface=$idx\" \"nexthop=$gw\" store=persistent; Log \"gateway "
    "${gw}: $o\" }\n"
    "    $n = 1\n"
    "    foreach ($d in $dns) { $o = netsh interface ipv6 add dnsservers "
    "\"name=$idx\" \"address=$d\" \"index=$n\"; Log \"dns ${d}: $o\"; $n++ "
    "}\n"
    "    return\n"
    "  }\n"
    "  $c = Get-WmiObject Win32_NetworkAdapterConfiguration -Filter "
    "\"Index=$($a.Index)\"\n"
    "  $r = $c.EnableStatic(@($ip), @($mask)).ReturnValue\n"
    "  Log \"$ip/$prefix ($mask): EnableStatic returned $r\"\n"
    "  if ($r -gt 1) { $script:failed = $true }\n"
    "  if ($gw) { $r = $c.SetGateways(@($gw), @([uint16]1)).ReturnValue; "
    "Log \"gateway ${gw}: SetGateways returned $r\" }\n"
    "  if ($dns.Count -gt 0) { $r = "
    "$c.SetDNSServerSearchOrder([string[]]$dns).ReturnValue; Log \"dns "
    "$($dns -join ','): SetDNSServerSearchOrder returned $r\" }\n"
    "}\n";

/* The first-boot network script for the ports with a fixed IP (none:
 * nothing to do). */
int
ferry_guest_win_network (struct ferry_guest_op *op, struct ferry_changes *ch,
                         struct ferry_err *err)
{
  struct text t = {0};
  size_t i, j, n = 0;
  int rc = -1;

  text_add (&t, "%s", network_head);
  for (i = 0; i < op->n_nics; i++) {
    const struct ferry_guest_nic *nic = &op->nics[i];
    char mac[18], mask[16] = "";
    bool v6;

    if (nic->ip == NULL)
      continue;
    v6 = strchr (nic->ip, ':') != NULL;
    if (nic->mac == NULL || strlen (nic->mac) != 17) {
      ferry_err_set (err, 0,
                     "port %zu ('%s') has no MAC address: Windows needs it "
                     "to find the adapter the address belongs to",
                     i, nic->ip);
      goto out;
    }
    if (nic->prefix == 0 || nic->prefix > (v6 ? 128u : 32u)) {
      ferry_err_set (err, 0,
                     "port %zu ('%s') has no prefix length: set "
                     "ports[].prefix",
                     i, nic->ip);
      goto out;
    }
    if (!plain (nic->ip) || !plain (nic->mac) ||
        (nic->gateway && !plain (nic->gateway))) {
      ferry_err_set (err, 0, "port %zu: unexpected characters in '%s'", i,
                     nic->ip);
      goto out;
    }
    for (j = 0; j < 17; j++)
      mac[j] = (char) toupper ((unsigned char) nic->mac[j]);
    mac[17] = 0;
    if (!v6) {
      uint32_t m = nic->prefix ? 0xffffffffu << (32 - nic->prefix) : 0;
      snprintf (mask, sizeof mask, "%u.%u.%u.%u", m >> 24, (m >> 16) & 0xff,
                (m >> 8) & 0xff, m & 0xff);
    }
    text_add (&t, "Set-Address '%s' '%s' %u '%s' '%s' @(", mac, nic->ip,
              nic->prefix, mask, nic->gateway ? nic->gateway : "");
    for (j = 0; nic->dns && nic->dns[j]; j++) {
      if (!plain (nic->dns[j])) {
        ferry_err_set (err, 0, "port %zu: unexpected characters in '%s'", i,
                       nic->dns[j]);
        goto out;
      }
      text_add (&t, "%s'%s'", j ? ", " : "", nic->dns[j]);
    }
    text_add (&t, ")\n");
    n++;
  }
  text_add (&t, "if ($failed) { exit 1 }\nexit 0\n");
  if (t.oom) {
    ferry_err_set (err, ENOMEM, "cannot allocate memory");
    goto out;
  }
  if (n == 0) {
    rc = 0;
    goto out;
  }
  {
    CLEANUP_FREE char *ps = ferry_crlf (t.s);
    if (ps == NULL) {
      ferry_err_set (err, ENOMEM, "cannot allocate memory");
      goto out;
    }
    if (ferry_winfile_put (op, ch, FERRY_WIN_FB_DIR "/network.ps1", ps,
                           strlen (ps), err) < 0 ||
        ferry_win_firstboot_add (
            op, ch, "5200-network.bat",
            "@echo off\n"
            "rem ferry: static addresses of the ports, by MAC\n"
            "%SystemRoot%\\System32\\WindowsPowerShell\\v1.0\\powershell.exe "
            "-NoProfile -ExecutionPolicy Bypass -File \"" FERRY_WIN_FB_WIN
            "\\network.ps1\"\n",
            err) < 0)
      goto out;
  }
  rc = 0;
out:
  free (t.s);
  return rc;
}

/* A plan's guest path ("C:\dir\file" or "/dir/file") as a path in the
 * mounted system drive (caller frees); NULL with ERR set. */
static char *
guest_path (const char *dst, struct ferry_err *err)
{
  char *p, *q;

  if (isalpha ((unsigned char) dst[0]) && dst[1] == ':') {
    if (toupper ((unsigned char) dst[0]) != 'C') {
      ferry_err_set (err, 0,
                     "guest path '%s': only drive C: (the system drive) "
                     "is supported",
                     dst);
      return NULL;
    }
    dst += 2;
  }
  p = strdup (dst);
  if (p == NULL) {
    ferry_err_set (err, errno, "cannot allocate memory");
    return NULL;
  }
  for (q = p; *q; q++)
    if (*q == '\\')
      *q = '/';
  if (p[0] != '/' || strstr (p, "/../") || strcmp (p, "/") == 0) {
    ferry_err_set (err, 0, "guest path '%s' is not an absolute file path", dst);
    free (p);
    return NULL;
  }
  return p;
}

/* The scrub of the AutoAdminLogon password: run at each logon by RunOnce,
 * it registers itself again while AutoLogonCount (which Windows counts
 * down) is above 0, then removes the password and turns autologon off. */
static const char scrub_bat[] =
    "@echo off\n"
    "rem ferry: AutoAdminLogon for a number of logons; after the last one,\n"
    "rem remove the password from the registry and turn autologon off\n"
    "set \"wl=HKLM\\SOFTWARE\\" WINLOGON "\"\n"
    "set \"ro=HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\RunOnce\"\n"
    "set left=0\n"
    "for /f \"tokens=3\" %%c in ('reg query \"%wl%\" /v AutoLogonCount "
    "2^>nul ^| find \"AutoLogonCount\"') do set /a left=%%c\n"
    "if %left% gtr 0 (\n"
    "  reg add \"%ro%\" /v ferry-autologon-scrub /t REG_SZ /d \"cmd /c "
    "\\\"" FERRY_WIN_FB_WIN "\\autologon-scrub.bat\\\"\" /f >nul\n"
    "  exit /b 0\n"
    ")\n"
    "reg delete \"%wl%\" /v DefaultPassword /f >nul 2>&1\n"
    "reg add \"%wl%\" /v AutoAdminLogon /t REG_SZ /d 0 /f >nul\n"
    "reg delete \"%wl%\" /v AutoLogonCount /f >nul 2>&1\n"
    "echo %date% %time% autologon: password removed >> \"" FERRY_WIN_FB_WIN
    "\\log.txt\"\n";

/* SOFTWARE: RunOnce commands, AutoAdminLogon. */
static int
software_hive (struct ferry_guest_op *op, struct ferry_changes *ch,
               struct ferry_err *err)
{
  const struct ferry_customize *c = &op->vm->customize;
  struct ferry_winreg r;
  CLEANUP_FREE char *pw = NULL;
  int64_t n;
  size_t i;
  int rc = -1;

  if (c->n_runonce == 0 && !c->has_autologon)
    return 0;
  if (c->has_autologon &&
      ferry_secret_read (&c->autologon.password, &pw, err) < 0) {
    ferry_err_prefix (err, "customize.autologon.password");
    return -1;
  }
  if (ferry_winreg_open (&r, op, "SOFTWARE", ch, err) < 0)
    goto out;
  if (c->n_runonce) {
    n = ferry_winreg_key (&r, FERRY_WIN_RUNONCE, err);
    if (n < 0)
      goto abort;
    for (i = 0; i < c->n_runonce; i++) {
      char name[48];
      snprintf (name, sizeof name, "ferry-runonce-%02zu", i + 1);
      if (ferry_winreg_set_str (&r, n, FERRY_WIN_RUNONCE, name, FERRY_REG_SZ,
                                c->runonce[i], false, err) < 0)
        goto abort;
    }
  }
  if (c->has_autologon) {
    n = ferry_winreg_key (&r, WINLOGON, err);
    if (n < 0 ||
        ferry_winreg_set_str (&r, n, WINLOGON, "AutoAdminLogon", FERRY_REG_SZ,
                              "1", false, err) < 0 ||
        ferry_winreg_set_str (&r, n, WINLOGON, "DefaultUserName", FERRY_REG_SZ,
                              c->autologon.user, false, err) < 0 ||
        ferry_winreg_set_str (&r, n, WINLOGON, "DefaultPassword", FERRY_REG_SZ,
                              pw, true, err) < 0 ||
        ferry_winreg_set_dword (&r, n, WINLOGON, "AutoLogonCount",
                                c->autologon.count, err) < 0)
      goto abort;
    n = ferry_winreg_key (&r, FERRY_WIN_RUNONCE, err);
    if (n < 0 || ferry_winreg_set_str (&r, n, FERRY_WIN_RUNONCE,
                                       "ferry-autologon-scrub", FERRY_REG_SZ,
                                       "cmd /c \"" FERRY_WIN_FB_WIN
                                       "\\autologon-scrub.bat\"",
                                       false, err) < 0)
      goto abort;
  }
  rc = ferry_winreg_close (&r, err);
  goto out;
abort:
  ferry_winreg_abort (&r);
out:
  if (pw)
    memset (pw, 0, strlen (pw));
  return rc;
}

/* SYSTEM: the host name.  Windows' computer name is the first label,
 * upper case, at most 15 characters (NetBIOS); Tcpip keeps it as given. */
static int
hostname (struct ferry_guest_op *op, struct ferry_changes *ch,
          struct ferry_err *err)
{
  const char *h = op->vm->customize.hostname;
  const char *ccs = op->info->current_control_set;
  char label[64], upper[64];
  CLEANUP_FREE char *cn = NULL, *tcp = NULL;
  struct ferry_winreg r;
  size_t k, i;
  int64_t n;

  k = strcspn (h, ".");
  if (k == 0 || k > 15)
    return ferry_err_set (err, 0,
                          "hostname '%s': a Windows computer name is 1 to "
                          "15 characters",
                          h);
  memcpy (label, h, k);
  label[k] = 0;
  for (i = 0; i <= k; i++)
    upper[i] = (char) toupper ((unsigned char) label[i]);
  if (ccs == NULL)
    return ferry_err_set (err, 0, "no current control set in SYSTEM");
  if (asprintf (&cn, "%s\\Control\\ComputerName\\ComputerName", ccs) < 0 ||
      asprintf (&tcp, "%s\\Services\\Tcpip\\Parameters", ccs) < 0)
    return ferry_err_set (err, errno, "cannot allocate memory");
  if (ferry_winreg_open (&r, op, "SYSTEM", ch, err) < 0)
    return -1;
  n = ferry_winreg_key (&r, cn, err);
  if (n < 0 || ferry_winreg_set_str (&r, n, cn, "ComputerName", FERRY_REG_SZ,
                                     upper, false, err) < 0)
    goto abort;
  n = ferry_winreg_key (&r, tcp, err);
  if (n < 0 ||
      ferry_winreg_set_str (&r, n, tcp, "Hostname", FERRY_REG_SZ, label, false,
                            err) < 0 ||
      ferry_winreg_set_str (&r, n, tcp, "NV Hostname", FERRY_REG_SZ, label,
                            false, err) < 0)
    goto abort;
  return ferry_winreg_close (&r, err);
abort:
  ferry_winreg_abort (&r);
  return -1;
}

/* Files, first-boot scripts, the autologon scrub, SOFTWARE (RunOnce,
 * Winlogon), SYSTEM (host name), in this order. */
int
ferry_guest_win_customize (struct ferry_guest_op *op, struct ferry_changes *ch,
                           struct ferry_err *err)
{
  const struct ferry_customize *c = &op->vm->customize;
  size_t i;

  if (!op->vm->has_customize)
    return 0;
  for (i = 0; i < c->n_files; i++) {
    CLEANUP_FREE char *p = guest_path (c->files[i].dst, err);
    if (p == NULL || ferry_winfile_copy (op, ch, p, c->files[i].src, err) < 0)
      return -1;
  }
  for (i = 0; i < c->n_firstboot; i++) {
    const char *base = strrchr (c->firstboot[i], '/');
    const char *dot;
    CLEANUP_FREE char *dst = NULL, *bat = NULL, *name = NULL;

    base = base ? base + 1 : c->firstboot[i];
    dot = strrchr (base, '.');
    if (!plain (base))
      return ferry_err_set (err, 0,
                            "first-boot script '%s': use letters, digits, "
                            "'.', '-' and '_' in its name",
                            c->firstboot[i]);
    if (asprintf (&dst, "%s/user/%s", FERRY_WIN_FB_DIR, base) < 0 ||
        asprintf (&name, "6%03zu-%s.bat", i + 1, base) < 0)
      return ferry_err_set (err, errno, "cannot allocate memory");
    if (dot && strcasecmp (dot, ".ps1") == 0) {
      if (asprintf (&bat,
                    "@echo off\n"
                    "%%SystemRoot%%\\System32\\WindowsPowerShell\\v1.0\\"
                    "powershell.exe -NoProfile -ExecutionPolicy Bypass -File "
                    "\"%s\\user\\%s\"\n",
                    FERRY_WIN_FB_WIN, base) < 0)
        bat = NULL;
    } else if (asprintf (&bat, "@echo off\ncall \"%s\\user\\%s\"\n",
                         FERRY_WIN_FB_WIN, base) < 0)
      bat = NULL;
    if (bat == NULL)
      return ferry_err_set (err, errno, "cannot allocate memory");
    if (ferry_winfile_copy (op, ch, dst, c->firstboot[i], err) < 0 ||
        ferry_win_firstboot_add (op, ch, name, bat, err) < 0)
      return -1;
  }
  if (c->has_autologon) {
    CLEANUP_FREE char *s = ferry_crlf (scrub_bat);
    if (s == NULL)
      return ferry_err_set (err, errno, "cannot allocate memory");
    if (ferry_winfile_put (op, ch, FERRY_WIN_FB_DIR "/autologon-scrub.bat", s,
                           strlen (s), err) < 0)
      return -1;
  }
  if (software_hive (op, ch, err) < 0)
    return -1;
  if (c->hostname && hostname (op, ch, err) < 0)
    return -1;
  return 0;
}
