/* stop: the plan's hook that shuts a warm VM's source down at the cutover
 * (vms[].stop_command, docs/warm.md).
 *
 * The command runs once, in the cutover phase, after the VM's pre-copies
 * and before its disks' cutover copies; ferry waits for it (argv as the
 * plan gives it, no shell; standard input /dev/null, its output goes to
 * ferry's).  Exit status 0 means the source is down.
 *
 * Done is bound to the disks: the DONE record carries a digest of every
 * disk's chain identity (disk/identity.h) taken after the command
 * returned.  A source that ran again afterwards wrote its top files, so
 * their identities moved and the command runs again before the next
 * cutover: a cutover never trusts an old "it was stopped". */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "disk/disk.h"
#include "disk/identity.h"
#include "modules/local.h"
#include "modules/module.h"
#include "util/log.h"

/* The digest of every disk's chain identity of VM, hex into OUT (65). */
static int
disks_digest (struct ferry_ctx *ctx, const struct ferry_vm *vm, char *out,
              struct ferry_err *err)
{
  EVP_MD_CTX *md = EVP_MD_CTX_new ();
  unsigned char sum[32];
  char id[FERRY_IDENT_HEX];
  struct ferry_disk *d;
  unsigned int n = 0, i;
  size_t k;
  int r = -1;

  if (md == NULL || EVP_DigestInit_ex (md, EVP_sha256 (), NULL) != 1) {
    ferry_err_set (err, ENOMEM, "cannot initialise SHA-256");
    goto out;
  }
  for (k = 0; k < vm->n_disks; k++) {
    if (ferry_plan_disk_get (ctx->plan,
                             ferry_plan_source (ctx->plan, vm->source),
                             &vm->disks[k].loc, &d, err) < 0)
      goto out;
    r = ferry_disk_identity (d, id, sizeof id, err);
    ferry_plan_disk_put (ctx->plan, d, false);
    if (r < 0)
      goto out;
    r = -1;
    EVP_DigestUpdate (md, id, strlen (id));
  }
  EVP_DigestFinal_ex (md, sum, &n);
  for (i = 0; i < 32; i++)
    snprintf (out + 2 * i, 3, "%02x", sum[i]);
  r = 0;
out:
  EVP_MD_CTX_free (md);
  return r;
}

/* "tops=<digest>" as DONE's ident. */
#define STOP_IDENT "tops=%64[0-9a-f]"

static int
stop_check (struct ferry_ctx *ctx, const struct ferry_step *step,
            struct ferry_observation *ret, struct ferry_err *err)
{
  const struct ferry_step_record *rec =
      ctx->state ? ferry_state_step (ctx->state, step->id) : NULL;
  char now[FERRY_IDENT_HEX], then[FERRY_IDENT_HEX] = "";

  if (rec && rec->done_ident)
    (void) sscanf (rec->done_ident, STOP_IDENT, then);
  if (then[0] && disks_digest (ctx, step->vm, now, err) < 0)
    return -1;
  if (then[0] && strcmp (now, then) == 0) {
    ret->need = FERRY_NEED_DONE;
    snprintf (ret->detail, sizeof ret->detail,
              "'%s' ran; the disks are as it left them",
              step->vm->stop_command[0]);
  } else {
    ret->need = FERRY_NEED_CREATE;
    snprintf (ret->detail, sizeof ret->detail,
              "run '%s' (%zu argument%s) to shut the source down%s",
              step->vm->stop_command[0], step->vm->n_stop_command - 1,
              step->vm->n_stop_command == 2 ? "" : "s",
              then[0] ? " again (the disks changed since it ran: the VM ran "
                        "again)"
                      : "");
  }
  return 0;
}

/* Run the command and wait for it; 0 when it exited 0. */
static int
run_command (const struct ferry_step *step, struct ferry_err *err)
{
  char *const *argv = step->vm->stop_command;
  int status, fd;
  pid_t pid, w;

  ferry_info ("%s: running '%s'", step->id, argv[0]);
  fflush (NULL);
  pid = fork ();
  if (pid < 0)
    return ferry_err_set (err, errno, "cannot fork");
  if (pid == 0) {
    fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd >= 0)
      dup2 (fd, 0);
    execvp (argv[0], argv);
    fprintf (stderr, "ferry: cannot run '%s': %s\n", argv[0], strerror (errno));
    _exit (127);
  }
  do
    w = waitpid (pid, &status, 0);
  while (w < 0 && errno == EINTR);
  if (w < 0)
    return ferry_err_set (err, errno, "cannot wait for '%s'", argv[0]);
  if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
    return 0;
  if (WIFEXITED (status))
    return ferry_err_set (err, 0,
                          "stop command '%s' exited with status %d: the "
                          "source is not known to be down",
                          argv[0], WEXITSTATUS (status));
  return ferry_err_set (err, 0, "stop command '%s' was killed by signal %d",
                        argv[0], WTERMSIG (status));
}

static int
stop_apply (struct ferry_ctx *ctx, const struct ferry_step *step,
            struct ferry_err *err)
{
  char digest[FERRY_IDENT_HEX], ident[80];
  struct ferry_journal_entry e = {0};

  if (ctx->dry_run)
    return 0;
  if (run_command (step, err) < 0 ||
      disks_digest (ctx, step->vm, digest, err) < 0)
    return -1;
  if (ctx->state == NULL)
    return 0;
  snprintf (ident, sizeof ident, "tops=%s", digest);
  e.step = step->id;
  e.event = FERRY_EVENT_DONE;
  e.ident = ident;
  return ferry_state_append (ctx->state, &e, err);
}

static int
stop_verify (struct ferry_ctx *ctx, const struct ferry_step *step,
             struct ferry_err *err)
{
  return ferry_verify_by_check (stop_check, ctx, step, NULL, err);
}

/* Warm VMs with a stop_command. */
static bool
stop_applies (const struct ferry_plan *plan, const struct ferry_step *step)
{
  (void) plan;
  return step->vm && step->vm->warm && step->vm->n_stop_command > 0;
}

static const char *const stop_after[] = {"precopy", NULL};
const struct ferry_module ferry_module_stop = {
    .name = "stop",
    .summary = "warm VMs: run the plan's stop_command at the cutover (the "
               "source shut down before its deltas are copied)",
    .scope = FERRY_SCOPE_VM,
    .after = stop_after,
    .applies = stop_applies,
    .check = stop_check,
    .describe = ferry_describe_detail,
    .apply = stop_apply,
    .verify = stop_verify,
};
