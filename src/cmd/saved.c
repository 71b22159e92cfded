/* Saved plans (`ferry plan -o SAVED`, `ferry apply SAVED`): a small JSON
 * file with the SHA-256 of the plan file and of what was observed. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "cmd/cmd.h"
#include "modules/module.h"
#include "util/cleanup.h"

/* SHA-256 of a buffer as 64 hex digits. */
static void
sha256_hex (const void *buf, size_t len, char out[65])
{
  unsigned char md[32];
  unsigned int n = 0, i;

  EVP_Digest (buf, len, md, &n, EVP_sha256 (), NULL);
  for (i = 0; i < 32; i++)
    snprintf (out + 2 * i, 3, "%02x", md[i]);
}

/* SHA-256 of the contents of PATH as 64 hex digits and a NUL in OUT,
 * read in 64 KiB blocks.  0, or -1 when PATH cannot be opened or read
 * (OUT is not valid then).  Prints nothing. */
int
ferry_sha256_file (const char *path, char out[65])
{
  CLEANUP_FCLOSE FILE *f = fopen (path, "re");
  EVP_MD_CTX *c;
  unsigned char buf[65536], md[32];
  unsigned int n = 0, i;
  size_t r;

  if (f == NULL || (c = EVP_MD_CTX_new ()) == NULL)
    return -1;
  EVP_DigestInit_ex (c, EVP_sha256 (), NULL);
  while ((r = fread (buf, 1, sizeof buf, f)) > 0)
    EVP_DigestUpdate (c, buf, r);
  EVP_DigestFinal_ex (c, md, &n);
  EVP_MD_CTX_free (c);
  for (i = 0; i < 32; i++)
    snprintf (out + 2 * i, 3, "%02x", md[i]);
  return ferror (f) ? -1 : 0;
}

/* SHA-256 (64 hex digits and a NUL, in OUT) of one "id\tneed\tdetail" line
 * per step of R in graph order, excluded steps left out: what `apply`
 * compares to tell whether the world changed since the plan was saved.
 * OUT is "" when no memory stream can be had, which no stored hash
 * matches. */
void
ferry_observations_hash (const struct ferry_run *r, char out[65])
{
  const struct ferry_graph *g = r->graph;
  char *buf = NULL;
  size_t len = 0, k, i;
  FILE *f = open_memstream (&buf, &len);

  if (f == NULL) {
    out[0] = '\0';
    return;
  }
  for (k = 0; k < g->n; k++) {
    i = g->order[k];
    if (r->res[i].status == FERRY_STATUS_EXCLUDED)
      continue;
    fprintf (f, "%s\t%s\t%s\n", g->steps[i].id,
             ferry_need_name (r->res[i].obs.need), r->res[i].obs.detail);
  }
  fclose (f);
  sha256_hex (buf, len, out);
  free (buf);
}

/* Whether the first bytes of F are a saved plan: JSON with the
 * "ferry_saved_plan" marker. */
static bool
looks_saved (FILE *f)
{
  char buf[8192];
  size_t n = fread (buf, 1, sizeof buf - 1, f);
  cJSON *root;
  bool yes;

  buf[n] = '\0';
  if (n == 0 || buf[0] != '{' || (root = cJSON_Parse (buf)) == NULL)
    return false;
  yes = cJSON_IsNumber (cJSON_GetObjectItem (root, "ferry_saved_plan"));
  cJSON_Delete (root);
  return yes;
}

/* `plan -o OUT` must never destroy a file it did not write (see cmd.h). */
int
ferry_saved_check_target (const char *out, const char *plan_file)
{
  struct stat so, sp;
  CLEANUP_FCLOSE FILE *f = NULL;

  if (stat (out, &so) < 0)
    return 0; /* nothing there (or fopen reports why not) */
  if (stat (plan_file, &sp) == 0 && so.st_dev == sp.st_dev &&
      so.st_ino == sp.st_ino) {
    ferry_error ("refusing to write the saved plan to '%s': it is "
                 "the plan file '%s'",
                 out, plan_file);
    return -1;
  }
  if (!S_ISREG (so.st_mode) || so.st_size == 0)
    return 0;
  f = fopen (out, "re");
  if (f == NULL || !looks_saved (f)) {
    ferry_error ("refusing to write the saved plan over '%s': it "
                 "exists and is not a saved plan (remove it or choose another "
                 "name)",
                 out);
    return -1;
  }
  return 0;
}

/* Write the saved plan OUT for the run R: a JSON object with the marker
 * "ferry_saved_plan", the version, the plan file's absolute path, its
 * SHA-256 and the observations hash.  OUT is first checked with
 * ferry_saved_check_target.  Prints its errors; 0 or -1. */
int
ferry_saved_write (const char *out, const struct ferry_run *r)
{
  char plan_hash[65], obs_hash[65], abs[PATH_MAX];
  cJSON *root;
  char *text, *tmp;
  FILE *f;
  int w;

  if (ferry_sha256_file (r->plan->file, plan_hash) < 0 ||
      realpath (r->plan->file, abs) == NULL) {
    ferry_error ("cannot read '%s': %s", r->plan->file, strerror (errno));
    return -1;
  }
  if (ferry_saved_check_target (out, r->plan->file) < 0)
    return -1;
  ferry_observations_hash (r, obs_hash);
  root = cJSON_CreateObject ();
  cJSON_AddNumberToObject (root, "ferry_saved_plan", 1);
  cJSON_AddStringToObject (root, "ferry_version", FERRY_VERSION);
  cJSON_AddStringToObject (root, "plan_file", abs);
  cJSON_AddStringToObject (root, "plan_sha256", plan_hash);
  cJSON_AddStringToObject (root, "observations_sha256", obs_hash);
  text = cJSON_Print (root);
  cJSON_Delete (root);
  if (text == NULL) {
    ferry_error ("cannot write '%s': out of memory", out);
    return -1;
  }
  /* a whole saved plan or the old file: write beside it, then rename */
  if (asprintf (&tmp, "%s.tmp%ld", out, (long) getpid ()) < 0) {
    ferry_error ("cannot write '%s': out of memory", out);
    free (text);
    return -1;
  }
  f = fopen (tmp, "wxe");
  if (f == NULL) {
    ferry_error ("cannot write '%s': %s", tmp, strerror (errno));
    free (text), free (tmp);
    return -1;
  }
  w = fprintf (f, "%s\n", text);
  if (fflush (f) != 0 || fsync (fileno (f)) < 0)
    w = -1;
  if (fclose (f) != 0 || w < 0 || rename (tmp, out) < 0) {
    ferry_error ("cannot write '%s': %s", out, strerror (errno));
    unlink (tmp);
    free (text), free (tmp);
    return -1;
  }
  free (text), free (tmp);
  return 0;
}

/* Tell whether FILE is a saved plan and if so set *RET_IS_SAVED and copy
 * the plan path into *RET_PLAN (caller frees) and both hashes (65 bytes
 * each, NUL included).  Only the first 8 KiB are read.  A file that cannot
 * be opened, does not start with '{' or does not parse as JSON returns 0
 * with *RET_IS_SAVED false: it goes on to the plan loader, which reports
 * it if unreadable.  -1 (printed) for a JSON object without the marker or
 * a field, or with a hash that is not 64 characters, and when the path
 * cannot be copied. */
int
ferry_saved_read (const char *file, char **ret_plan, char *plan_hash,
                  char *obs_hash, bool *ret_is_saved)
{
  CLEANUP_FCLOSE FILE *f = fopen (file, "re");
  char buf[8192];
  size_t n;
  cJSON *root, *p, *h, *o, *m;

  *ret_is_saved = false;
  if (f == NULL)
    return 0; /* the plan loader reports it */
  n = fread (buf, 1, sizeof buf - 1, f);
  buf[n] = '\0';
  if (n == 0 || buf[0] != '{')
    return 0;
  root = cJSON_Parse (buf);
  if (root == NULL)
    return 0;
  m = cJSON_GetObjectItem (root, "ferry_saved_plan");
  p = cJSON_GetObjectItem (root, "plan_file");
  h = cJSON_GetObjectItem (root, "plan_sha256");
  o = cJSON_GetObjectItem (root, "observations_sha256");
  if (!cJSON_IsNumber (m) || !cJSON_IsString (p) || !cJSON_IsString (h) ||
      !cJSON_IsString (o) || strlen (h->valuestring) != 64 ||
      strlen (o->valuestring) != 64) {
    cJSON_Delete (root);
    ferry_error ("'%s' is not a valid saved plan", file);
    return -1;
  }
  *ret_plan = strdup (p->valuestring);
  memcpy (plan_hash, h->valuestring, 65);
  memcpy (obs_hash, o->valuestring, 65);
  cJSON_Delete (root);
  *ret_is_saved = true;
  return *ret_plan ? 0 : -1;
}
