/* ferry convert SRC DST: one disk, like qemu-img convert -O raw. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "disk/confine.h"
#include "disk/convert.h"
#include "disk/disk.h"
#include "util/cleanup.h"
#include "util/location.h"
#include "util/log.h"

enum {
  OPT_RESUME_FROM = FERRY_OPT_LONG,
  OPT_CHUNK_SIZE,
  OPT_CHECKPOINT_INTERVAL,
  OPT_DIRECT,
  OPT_ALLOW_DIR,
  OPT_ONTO,
};

static const struct ferry_option convert_options[] = {
    {"progress", 'p', NULL, "show bytes done/total, rate and ETA"},
    {"parallel", 'j', "N",
     "worker threads (default: 1 per CPU into a file, 2 into RBD; at least 2)"},
    {"checksum", 'c', NULL, "print the SHA-256 of the virtual disk"},
    {"resume-from", OPT_RESUME_FROM, "OFFSET",
     "everything below OFFSET is already on the target"},
    {"chunk-size", OPT_CHUNK_SIZE, "SIZE", "unit of work per worker"},
    {"checkpoint-interval", OPT_CHECKPOINT_INTERVAL, "SIZE",
     "report durable checkpoints this often"},
    {"direct", OPT_DIRECT, NULL, "write a file target with O_DIRECT"},
    {"allow-dir", OPT_ALLOW_DIR, "DIR",
     "files SRC names (extents, parents) may also be in DIR (repeatable)"},
    {"onto", OPT_ONTO, "LAYER",
     "DST already holds LAYER (a file of SRC's chain): write only what "
     "the layers above it define"},
    {0},
};

/* Standalone checkpoints: one line per durable offset on stderr, so a
 * script can resume with --resume-from the last one. */
static int
print_checkpoint (void *opaque, uint64_t offset, struct ferry_err *err)
{
  (void) opaque, (void) err;
  fprintf (stderr, "ferry: checkpoint %llu\n", (unsigned long long) offset);
  return 0;
}

struct progress_state {
  bool tty;    /* live line on a TTY */
  double last; /* last plain-line time */
};

/* --progress: a live line on a TTY, a plain line every 10 s otherwise. */
static void
print_progress (void *opaque, const struct ferry_convert_progress *p)
{
  struct progress_state *ps = opaque;
  double pct = p->total ? 100.0 * (double) p->done / (double) p->total : 100;
  double rate = p->elapsed > 0 ? (double) p->done / p->elapsed : 0;
  double eta = rate > 0 ? (double) (p->total - p->done) / rate : 0;

  if (!ps->tty && !p->final && p->elapsed - ps->last < 10)
    return;
  ps->last = p->elapsed;
  fprintf (stderr,
           "%s%5.1f%%  %llu/%llu MiB  read %llu MiB  %.0f MiB/s  ETA %.0fs%s",
           ps->tty ? "\r" : "", pct, (unsigned long long) (p->done >> 20),
           (unsigned long long) (p->total >> 20),
           (unsigned long long) (p->data_read >> 20), rate / 1048576.0, eta,
           ps->tty && !p->final ? "  " : "\n");
}

/* --resume-from OFFSET promises that everything below OFFSET is already on
 * DST: refuse when DST does not exist or is shorter than OFFSET, instead of
 * creating a target whose first OFFSET bytes are holes and calling it a
 * conversion.  Prints; 0 or -1. */
static int
check_resume_target (const char *name, const struct ferry_location *dst,
                     uint64_t offset)
{
  struct ferry_err err = {0};
  struct ferry_disk *d;
  struct stat st;
  uint64_t have;

  if (offset == 0)
    return 0;
  if (dst->kind == FERRY_LOCATION_RBD) {
    if (ferry_disk_open_location (dst, NULL, &d, &err) < 0) {
      ferry_error ("--resume-from %llu: cannot open the target "
                   "to resume: %s",
                   (unsigned long long) offset, err.msg);
      return -1;
    }
    have = d->virtual_size;
    ferry_disk_close (d);
  } else if (stat (dst->file.path, &st) < 0) {
    ferry_error ("--resume-from %llu: target '%s' does not exist "
                 "(resume only into the target of an interrupted conversion): "
                 "%s",
                 (unsigned long long) offset, name, strerror (errno));
    return -1;
  } else if (!S_ISREG (st.st_mode))
    return 0; /* a block device: its whole size is there */
  else
    have = (uint64_t) st.st_size;
  if (have < offset) {
    ferry_error ("--resume-from %llu: target '%s' holds only %llu "
                 "bytes, less than the resume offset",
                 (unsigned long long) offset, name, (unsigned long long) have);
    return -1;
  }
  return 0;
}

/* --onto promises that DST holds a layer of the source: refuse a DST that
 * does not exist (it would be created empty).  Prints; 0 or -1. */
static int
check_onto_target (const char *name, const struct ferry_location *dst)
{
  struct ferry_err err = {0};
  struct ferry_disk *d;

  if (dst->kind == FERRY_LOCATION_RBD) {
    if (ferry_disk_open_location (dst, NULL, &d, &err) < 0) {
      ferry_error ("--onto: cannot open the target '%s': %s", name, err.msg);
      return -1;
    }
    ferry_disk_close (d);
  } else if (access (dst->file.path, F_OK) < 0) {
    ferry_error ("--onto: target '%s' does not exist (it must hold the "
                 "layer): %s",
                 name, strerror (errno));
    return -1;
  }
  return 0;
}

/* Parse the options, convert, print the checksum and a summary. */
static int
convert_run (int argc, char **argv)
{
  struct ferry_convert_opts co = {0};
  struct ferry_convert_stats st;
  struct progress_state ps = {0};
  struct ferry_err err = {0};
  CLEANUP_CONFINE struct ferry_confine conf = {0};
  CLEANUP_LOCATION struct ferry_location src = {0};
  CLEANUP_LOCATION struct ferry_location dst = {0};
  CLEANUP_FREE char **allow = calloc ((size_t) argc + 1, sizeof *allow);
  size_t n_allow = 0;
  bool progress = false;
  unsigned i;
  int c;

  if (allow == NULL) {
    ferry_err_set (&err, ENOMEM, "cannot allocate memory");
    return ferry_die_err (&err);
  }
  while ((c = ferry_cmd_getopt (&ferry_cmd_convert, argc, argv)) != -1) {
    switch (c) {
    case 'p':
      progress = true;
      break;
    case 'j':
      if (ferry_opt_count ("parallel", optarg, 64, &co.threads) < 0)
        return FERRY_EXIT_ERROR;
      break;
    case 'c':
      co.checksum = true;
      break;
    case OPT_RESUME_FROM:
      if (ferry_opt_size ("resume-from", optarg, 0, &co.resume_from) < 0)
        return FERRY_EXIT_ERROR;
      break;
    case OPT_CHUNK_SIZE:
      if (ferry_opt_size ("chunk-size", optarg, 0, &co.chunk_size) < 0)
        return FERRY_EXIT_ERROR;
      break;
    case OPT_CHECKPOINT_INTERVAL:
      if (ferry_opt_size ("checkpoint-interval", optarg, 0,
                          &co.checkpoint_interval) < 0)
        return FERRY_EXIT_ERROR;
      break;
    case OPT_DIRECT:
      co.direct = true;
      break;
    case OPT_ALLOW_DIR:
      allow[n_allow++] = optarg;
      break;
    case OPT_ONTO:
      co.onto = optarg;
      break;
    case 'h':
      ferry_command_usage (&ferry_cmd_convert, stdout);
      return FERRY_EXIT_OK;
    default:
      return FERRY_EXIT_ERROR;
    }
  }
  if (argc - optind != 2)
    return ferry_cmd_usage_error (&ferry_cmd_convert);
  /* the command line is where names become locations */
  if (ferry_location_parse (argv[optind], &src, &err) < 0 ||
      ferry_location_parse (argv[optind + 1], &dst, &err) < 0)
    return ferry_die_err (&err);
  if (check_resume_target (argv[optind + 1], &dst, co.resume_from) < 0 ||
      (co.onto && check_onto_target (argv[optind + 1], &dst) < 0))
    return FERRY_EXIT_ERROR;
  if (progress) {
    ps.tty = isatty (2);
    co.progress = print_progress;
    co.opaque = &ps;
  }
  if (ferry_confine_for_image (&conf, &src, allow, n_allow, &err) < 0)
    return ferry_die_err (&err);
  co.confine = &conf;
  co.stop = &ferry_arg_stop;
  co.checkpoint = print_checkpoint;
  ferry_install_signals ();
  if (ferry_convert (&src, &dst, &co, &st, &err) < 0) {
    ferry_die_err (&err);
    return ferry_arg_stop ? FERRY_EXIT_INTERRUPTED : FERRY_EXIT_ERROR;
  }
  if (co.checksum) {
    printf ("sha256 ");
    for (i = 0; i < 32; i++)
      printf ("%02x", st.sha256[i]);
    printf ("  %s\n", argv[optind]);
  }
  ferry_info ("converted %llu bytes (%llu read, %llu written) in %.2fs",
              (unsigned long long) st.virtual_size,
              (unsigned long long) st.data_read,
              (unsigned long long) st.written, st.seconds);
  if (co.onto)
    ferry_info ("onto '%s': %llu bytes written, %llu bytes zeroed", co.onto,
                (unsigned long long) st.written,
                (unsigned long long) st.zeroed);
  return FERRY_EXIT_OK;
}

const struct ferry_command ferry_cmd_convert = {
    .name = "convert",
    .run = convert_run,
    .usage = "SRC DST",
    .summary = "convert one disk to raw (file or rbd:)",
    .description = "Convert SRC (vmdk, vhd, vhdx, qcow2, raw, "
                   "rbd:POOL/IMAGE@SNAP) into raw DST (a file or "
                   "rbd:POOL/IMAGE).  Files SRC names (extents, parents, "
                   "backing files) must be in SRC's directory or an "
                   "--allow-dir.",
    .options = convert_options,
};
