/*
 * tests/lab/libvirt-guest/init.c — /init of the libvirt lab's test guest
 * (tests/lab/libvirt-guest.sh builds it static into a cpio initramfs that
 * boots with the Debian kernel; there is no shell or busybox in the guest).
 *
 * It mounts proc, sysfs and devtmpfs, loads the virtio modules from /mods
 * (finit_module), waits for /dev/vda, and then once a second writes
 *   COUNTER n uptime=SECS boot=BOOTID
 * to /dev/ttyS0 and to /dev/vda: sector n holds that line and sector 0 the
 * latest one (O_DIRECT + fsync, so the disk log survives a migration exactly
 * as far as the guest believes it wrote it).  The lines let a test see that
 * a migrated guest kept running (same boot id, counter and uptime go on) and
 * that its disk lost no write (sectors 1..n without a gap).
 *
 * Kernel command line (read from /proc/cmdline):
 *   ferry.dirty=MIB  a child allocates MIB MiB and writes a changing,
 *                    non-zero value into every 4 KiB page in a tight loop,
 *                    so memory is dirtied faster than a throttled link copies
 *   ferry.nodisk=1   no disk: counter lines go to the serial port only
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SECTOR 512
#define PAGE 4096

static const char *const modules[] = {
    "virtio_ring",           "virtio",     "virtio_pci_modern_dev",
    "virtio_pci_legacy_dev", "virtio_pci", "virtio_blk",
};

/* Serial port fd (or -1 before it is open): every message goes there. */
static int tty = -1;

/* Print a line to the serial port (or the console before it is open). */
static void
say (const char *fmt, ...)
{
  char buf[600];
  va_list ap;
  int len;

  va_start (ap, fmt);
  len = vsnprintf (buf, sizeof buf - 2, fmt, ap);
  va_end (ap);
  if (len < 0)
    return;
  if ((size_t) len > sizeof buf - 3)
    len = sizeof buf - 3;
  buf[len++] = '\r';
  buf[len++] = '\n';
  if (write (tty >= 0 ? tty : 2, buf, (size_t) len) < 0) {
    /* nowhere left to report to */
  }
}

/* Read the first line of PATH into BUF (without the newline); 0 or -1. */
static int
read_line (const char *path, char *buf, size_t size)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  ssize_t n;

  if (fd < 0)
    return -1;
  n = read (fd, buf, size - 1);
  close (fd);
  if (n < 0)
    return -1;
  buf[n] = '\0';
  buf[strcspn (buf, "\n")] = '\0';
  return 0;
}

/* Value of the kernel command line option KEY= as a number, or DEF. */
static long
cmdline_num (const char *cmdline, const char *key, long def)
{
  size_t klen = strlen (key);
  const char *p = cmdline;

  while (*p) {
    while (*p == ' ')
      p++;
    if (strncmp (p, key, klen) == 0 && p[klen] == '=')
      return strtol (p + klen + 1, NULL, 10);
    p += strcspn (p, " ");
  }
  return def;
}

/* Load /mods/NAME.ko; an already loaded module is fine. */
static void
load_module (const char *name)
{
  char path[64];
  int fd;

  snprintf (path, sizeof path, "/mods/%s.ko", name);
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    say ("init: cannot open '%s': %s", path, strerror (errno));
    return;
  }
  if (syscall (SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST)
    say ("init: cannot load module '%s': %s", name, strerror (errno));
  close (fd);
}

/* The memory dirtier: never returns. */
static void
dirty_loop (long mib)
{
  size_t size = (size_t) mib << 20;
  uint64_t gen = 1;
  unsigned char *mem;

  mem = mmap (NULL, size, PROT_READ | PROT_WRITE,
              MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (mem == MAP_FAILED) {
    say ("init: cannot allocate %ld MiB to dirty: %s", mib, strerror (errno));
    for (;;)
      pause ();
  }
  say ("READY dirty=%ld MiB", mib);
  for (;;) {
    for (size_t off = 0; off < size; off += PAGE) {
      /* non-zero and different each pass: never a zero page */
      volatile uint64_t *w = (volatile uint64_t *) (mem + off);
      w[0] = gen ^ off;
      w[1] = ~(gen + off);
    }
    gen++;
  }
}

/* Write LINE padded to one sector at sector N of FD (O_DIRECT, aligned). */
static int
write_sector (int fd, unsigned char *sec, const char *line, long n)
{
  memset (sec, ' ', SECTOR);
  memcpy (sec, line, strlen (line));
  sec[SECTOR - 1] = '\n';
  if (pwrite (fd, sec, SECTOR, (off_t) n * SECTOR) != SECTOR)
    return -1;
  return 0;
}

int
main (void)
{
  char cmdline[4096] = "", boot[64] = "?", up[64], line[256];
  unsigned char *sec = NULL;
  long dirty, nodisk, n;
  int disk = -1;

  mount ("proc", "/proc", "proc", 0, NULL);
  mount ("sysfs", "/sys", "sysfs", 0, NULL);
  mount ("devtmpfs", "/dev", "devtmpfs", 0, NULL);
  tty = open ("/dev/ttyS0", O_WRONLY | O_NOCTTY | O_CLOEXEC);
  read_line ("/proc/cmdline", cmdline, sizeof cmdline);
  dirty = cmdline_num (cmdline, "ferry.dirty", 0);
  nodisk = cmdline_num (cmdline, "ferry.nodisk", 0);
  read_line ("/proc/sys/kernel/random/boot_id", boot, sizeof boot);

  for (size_t i = 0; i < sizeof modules / sizeof modules[0]; i++)
    load_module (modules[i]);

  if (!nodisk) {
    struct stat st;
    for (int i = 0; i < 200 && stat ("/dev/vda", &st) != 0; i++)
      usleep (50000);
    disk = open ("/dev/vda", O_WRONLY | O_DIRECT | O_CLOEXEC);
    if (disk < 0)
      say ("init: no /dev/vda: %s", strerror (errno));
    else if (posix_memalign ((void **) &sec, PAGE, SECTOR) != 0) {
      say ("init: out of memory");
      close (disk);
      disk = -1;
    }
  }

  if (dirty > 0) {
    pid_t pid = fork ();
    if (pid == 0) {
      if (setpriority (PRIO_PROCESS, 0, 10) != 0) {
        /* the counter still runs, only later */
      }
      dirty_loop (dirty);
    }
    if (pid < 0)
      say ("init: cannot fork the dirtier: %s", strerror (errno));
  }
  say ("READY boot=%s disk=%s dirty=%ld", boot, disk >= 0 ? "/dev/vda" : "none",
       dirty);

  for (n = 1;; n++) {
    if (read_line ("/proc/uptime", up, sizeof up) != 0)
      strcpy (up, "0");
    up[strcspn (up, " ")] = '\0';
    snprintf (line, sizeof line, "COUNTER %ld uptime=%s boot=%s", n, up, boot);
    say ("%s", line);
    if (disk >= 0 &&
        (write_sector (disk, sec, line, n) != 0 ||
         write_sector (disk, sec, line, 0) != 0 || fsync (disk) != 0))
      say ("init: disk write %ld failed: %s", n, strerror (errno));
    while (waitpid (-1, NULL, WNOHANG) > 0)
      ;
    sleep (1);
  }
}
