/* os-request: drive the OpenStack client (src/clients/openstack.c) from
 * shell tests.
 *
 *   os-request [-v] [--log FILE] [--retries N] [--backoff S] [--threads N]
 *              CLOUD CMD ...
 *     request SERVICE METHOD PATH [BODY] [ok404|ok409|noretry]...
 *     list SERVICE PATH KEY
 *     wait SERVICE PATH KEY WANT[,WANT] FAIL[,FAIL] DEADLINE
 *     endpoint SERVICE
 *
 * CLOUD is a clouds.yaml name ("-" = $OS_CLOUD or the OS_* variables).
 * SERVICE: identity, compute, volume, image, network.  Prints the status
 * and the reply as compact JSON (list: the item count and the items; wait:
 * the object), then "requests N"; on failure prints the error on stderr
 * and exits 1.  -v logs at debug level to stderr, --log FILE to FILE.
 * --threads N: request runs in N threads at once on one session (their
 * statuses must agree; the first error is reported). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/openstack.h"
#include "util/log.h"

static const char *const services[] = {"identity", "compute", "volume", "image",
                                       "network"};

static int
service (const char *s)
{
  for (size_t i = 0; i < sizeof services / sizeof services[0]; i++)
    if (strcmp (s, services[i]) == 0)
      return (int) i;
  fprintf (stderr, "os-request: unknown service '%s'\n", s);
  exit (2);
}

/* "a,b" into a NULL-terminated list (in place; "-" = empty). */
static const char **
split (char *s)
{
  const char **l = calloc (strlen (s) + 2, sizeof *l);
  size_t n = 0;

  if (strcmp (s, "-") != 0)
    for (char *t = strtok (s, ","); t; t = strtok (NULL, ","))
      l[n++] = t;
  return l;
}

static void
print_json (const cJSON *j)
{
  char *t = j ? cJSON_PrintUnformatted (j) : NULL;

  printf ("%s\n", t ? t : "null");
  free (t);
}

/* One thread's request (--threads). */
struct job {
  struct ferry_os *os;
  int s;
  const char *method, *path;
  const cJSON *body;
  unsigned flags;
  int rc;
  cJSON *j;
  struct ferry_err err;
};

static void *
run_job (void *p)
{
  struct job *jb = p;

  jb->rc = ferry_os_request (jb->os, jb->s, jb->method, jb->path, jb->body,
                             jb->flags, &jb->j, &jb->err);
  return NULL;
}

/* The request in N threads at once; the first result (or error) wins. */
static int
request_threads (unsigned n, struct job *proto, cJSON **ret,
                 struct ferry_err *err)
{
  struct job *jobs = calloc (n, sizeof *jobs);
  pthread_t *tids = calloc (n, sizeof *tids);
  int rc = 0;

  for (unsigned k = 0; k < n; k++) {
    jobs[k] = *proto;
    pthread_create (&tids[k], NULL, run_job, &jobs[k]);
  }
  for (unsigned k = 0; k < n; k++)
    pthread_join (tids[k], NULL);
  for (unsigned k = 0; k < n; k++) {
    if (rc >= 0 && jobs[k].rc < 0) {
      *err = jobs[k].err;
      rc = -1;
    } else if (rc >= 0 && k > 0 && jobs[k].rc != jobs[0].rc) {
      ferry_err_set (err, 0, "threads disagree: %d vs %d", jobs[0].rc,
                     jobs[k].rc);
      rc = -1;
    }
  }
  if (rc >= 0) {
    rc = jobs[0].rc;
    *ret = jobs[0].j;
    jobs[0].j = NULL;
  }
  for (unsigned k = 0; k < n; k++)
    cJSON_Delete (jobs[k].j);
  free (jobs);
  free (tids);
  return rc;
}

static void
usage (void)
{
  fprintf (stderr, "usage: os-request [-v] [--log FILE] [--retries N] "
                   "[--backoff S] CLOUD request|list|wait|endpoint ...\n");
  exit (2);
}

int
main (int argc, char **argv)
{
  struct ferry_os_opts opts = {5, 0.5, 20};
  struct ferry_err err = {0};
  struct ferry_os_cloud *cloud = NULL;
  struct ferry_os *os = NULL;
  struct ferry_os_stats st;
  cJSON *j = NULL;
  const char *cmd;
  int i = 1, rc = -1, s;
  unsigned threads = 1;

  ferry_log_set_level (FERRY_LOG_WARN);
  for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
    if (strcmp (argv[i], "-v") == 0)
      ferry_log_set_level (FERRY_LOG_DEBUG);
    else if (strcmp (argv[i], "--log") == 0 && i + 1 < argc) {
      ferry_log_set_level (FERRY_LOG_DEBUG);
      if (ferry_log_open_file (argv[++i]) < 0) {
        perror (argv[i]);
        return 2;
      }
    } else if (strcmp (argv[i], "--retries") == 0 && i + 1 < argc)
      opts.retries = (unsigned) atoi (argv[++i]);
    else if (strcmp (argv[i], "--threads") == 0 && i + 1 < argc)
      threads = (unsigned) atoi (argv[++i]);
    else if (strcmp (argv[i], "--backoff") == 0 && i + 1 < argc)
      opts.backoff_base = opts.backoff_max = atof (argv[++i]);
    else
      usage ();
  }
  if (argc - i < 3)
    usage ();
  if (ferry_os_cloud_load (strcmp (argv[i], "-") ? argv[i] : NULL, &cloud,
                           &err) < 0 ||
      ferry_os_open (cloud, &opts, &os, &err) < 0)
    goto out;
  cmd = argv[i + 1];
  s = service (argv[i + 2]);
  i += 3;
  if (strcmp (cmd, "request") == 0 && argc - i >= 2) {
    cJSON *body = NULL;
    unsigned flags = 0;
    const char *method = argv[i], *path = argv[i + 1];
    for (i += 2; i < argc; i++) {
      if (strcmp (argv[i], "ok404") == 0)
        flags |= FERRY_OS_OK_404;
      else if (strcmp (argv[i], "ok409") == 0)
        flags |= FERRY_OS_OK_409;
      else if (strcmp (argv[i], "noretry") == 0)
        flags |= FERRY_OS_NO_RETRY;
      else if (!body && !(body = cJSON_Parse (argv[i]))) {
        fprintf (stderr, "os-request: bad JSON body\n");
        return 2;
      }
    }
    if (threads > 1) {
      struct job proto = {.os = os,
                          .s = s,
                          .method = method,
                          .path = path,
                          .body = body,
                          .flags = flags};
      rc = request_threads (threads, &proto, &j, &err);
    } else
      rc = ferry_os_request (os, s, method, path, body, flags, &j, &err);
    cJSON_Delete (body);
    if (rc >= 0) {
      printf ("status %d\n", rc);
      print_json (j);
    }
  } else if (strcmp (cmd, "list") == 0 && argc - i == 2) {
    rc = ferry_os_list (os, s, argv[i], argv[i + 1], &j, &err);
    if (rc >= 0) {
      printf ("items %d\n", cJSON_GetArraySize (j));
      print_json (j);
    }
  } else if (strcmp (cmd, "wait") == 0 && argc - i == 5) {
    const char **want = split (argv[i + 2]), **fail = split (argv[i + 3]);
    rc = ferry_os_wait (os, s, argv[i], argv[i + 1], want, fail,
                        atof (argv[i + 4]), &j, &err);
    if (rc >= 0)
      print_json (j);
    free (want);
    free (fail);
  } else if (strcmp (cmd, "endpoint") == 0 && argc - i == 0) {
    const char *ep = ferry_os_endpoint (os, s, &err);
    const char *p = ep ? ferry_os_project_id (os, &err) : NULL;
    if (p) {
      printf ("%s\nproject %s\n", ep, p);
      rc = 0;
    }
  } else
    usage ();
  if (rc >= 0) {
    ferry_os_stats (os, &st);
    printf ("requests %lu\n", st.requests);
  }
out:
  cJSON_Delete (j);
  ferry_os_close (os);
  ferry_os_cloud_free (cloud);
  ferry_log_close_file ();
  if (rc < 0) {
    fprintf (stderr, "os-request: %s\n", err.msg);
    return 1;
  }
  return 0;
}
