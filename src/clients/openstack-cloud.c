/* OpenStack client: resolving a cloud from clouds.yaml, secure.yaml and the
 * OS_* variables, the way openstacksdk looks them up.
 *
 * Each file is read once with libyaml's document loader; only the scalars
 * ferry needs are taken from clouds.<name> (and its auth: mapping).
 * secure.yaml's values override clouds.yaml's, and OS_* variables override
 * both.  Secrets are wiped when the cloud is freed. */
#include "clients/openstack.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

#include "util/cleanup.h"

/* Where a string field of struct ferry_os_cloud is set from: its key in
 * the auth: mapping (AUTH) or at the cloud's top level (TOP), and its
 * OS_* variable.  NULL when that source does not exist. */
struct field {
  const char *auth;
  const char *top;
  const char *env;
  size_t off;
};

#define F(a, t, e, m)                                                          \
  {                                                                            \
    a, t, e, offsetof (struct ferry_os_cloud, m)                               \
  }
static const struct field fields[] = {
    F ("auth_url", NULL, "OS_AUTH_URL", auth_url),
    F (NULL, "auth_type", "OS_AUTH_TYPE", auth_type),
    F ("username", NULL, "OS_USERNAME", username),
    F ("user_id", NULL, "OS_USER_ID", user_id),
    F ("user_domain_name", NULL, "OS_USER_DOMAIN_NAME", user_domain_name),
    F ("user_domain_id", NULL, "OS_USER_DOMAIN_ID", user_domain_id),
    F ("project_name", NULL, "OS_PROJECT_NAME", project_name),
    F ("project_id", NULL, "OS_PROJECT_ID", project_id),
    F ("project_domain_name", NULL, "OS_PROJECT_DOMAIN_NAME",
       project_domain_name),
    F ("project_domain_id", NULL, "OS_PROJECT_DOMAIN_ID", project_domain_id),
    F ("password", NULL, "OS_PASSWORD", password),
    F ("application_credential_id", NULL, "OS_APPLICATION_CREDENTIAL_ID",
       app_cred_id),
    F ("application_credential_name", NULL, "OS_APPLICATION_CREDENTIAL_NAME",
       app_cred_name),
    F ("application_credential_secret", NULL,
       "OS_APPLICATION_CREDENTIAL_SECRET", app_cred_secret),
    F (NULL, "region_name", "OS_REGION_NAME", region_name),
    F (NULL, "interface", "OS_INTERFACE", interface),
    F (NULL, "cacert", "OS_CACERT", cacert),
};
#undef F

/* The field's slot in C. */
static char **
slot (struct ferry_os_cloud *c, const struct field *f)
{
  return (char **) ((char *) c + f->off);
}

/* Overwrite and free a secret string. */
static void
wipe_free (char *s)
{
  if (s) {
    explicit_bzero (s, strlen (s));
    free (s);
  }
}

/* Free C and everything it holds (wiping the secrets); NULL is fine. */
void
ferry_os_cloud_free (struct ferry_os_cloud *c)
{
  if (!c)
    return;
  wipe_free (c->password);
  c->password = NULL;
  wipe_free (c->app_cred_secret);
  c->app_cred_secret = NULL;
  for (size_t i = 0; i < FERRY_ARRAY_SIZE (fields); i++)
    free (*slot (c, &fields[i]));
  free (c->name);
  free (c->file);
  free (c);
}

/* Replace string *P by a copy of V (wiping the old value: it may be a
 * secret). */
static int
set_str (char **p, const char *v, struct ferry_err *err)
{
  char *n = strdup (v);

  if (!n)
    return ferry_err_set (err, errno, "cannot allocate memory");
  wipe_free (*p);
  *p = n;
  return 0;
}

/* A parsed YAML file, and its name for errors. */
struct ydoc {
  yaml_document_t doc;
  bool loaded;
  const char *file;
};

static void
ydoc_free (struct ydoc *d)
{
  if (d->loaded)
    yaml_document_delete (&d->doc);
  d->loaded = false;
}

/* Load FILE into D; -1 with "clouds.yaml: FILE:LINE: ..." when it is not
 * YAML. */
static int
ydoc_load (struct ydoc *d, const char *what, const char *file,
           struct ferry_err *err)
{
  CLEANUP_FCLOSE FILE *f = fopen (file, "r");
  yaml_parser_t parser;
  int r;

  d->file = file;
  d->loaded = false;
  if (!f)
    return ferry_err_set (err, errno, "%s: cannot open '%s'", what, file);
  if (!yaml_parser_initialize (&parser))
    return ferry_err_set (err, ENOMEM, "%s: cannot allocate memory", what);
  yaml_parser_set_input_file (&parser, f);
  r = yaml_parser_load (&parser, &d->doc);
  if (!r) {
    ferry_err_set (err, 0, "%s: %s:%zu: %s", what, file,
                   parser.problem_mark.line + 1,
                   parser.problem ? parser.problem : "invalid YAML");
    yaml_parser_delete (&parser);
    return -1;
  }
  yaml_parser_delete (&parser);
  d->loaded = true;
  return 0;
}

/* The value of KEY in mapping node MAP (NULL when absent or MAP is not a
 * mapping). */
static yaml_node_t *
ymap_get (yaml_document_t *doc, yaml_node_t *map, const char *key)
{
  yaml_node_pair_t *p;

  if (!map || map->type != YAML_MAPPING_NODE)
    return NULL;
  for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
       p++) {
    yaml_node_t *k = yaml_document_get_node (doc, p->key);
    if (k && k->type == YAML_SCALAR_NODE &&
        strcmp ((const char *) k->data.scalar.value, key) == 0)
      return yaml_document_get_node (doc, p->value);
  }
  return NULL;
}

/* Node clouds.NAME of D, NULL when absent. */
static yaml_node_t *
find_cloud (struct ydoc *d, const char *name)
{
  yaml_node_t *root = yaml_document_get_root_node (&d->doc);

  return ymap_get (&d->doc, ymap_get (&d->doc, root, "clouds"), name);
}

/* The scalar KEY of mapping MAP into *P; a non-scalar is an error naming
 * the file and key. */
static int
take_scalar (struct ydoc *d, yaml_node_t *map, const char *prefix,
             const char *key, const char *cloud, char **p,
             struct ferry_err *err)
{
  yaml_node_t *v = ymap_get (&d->doc, map, key);

  if (!v)
    return 0;
  if (v->type != YAML_SCALAR_NODE)
    return ferry_err_set (err, 0,
                          "clouds.yaml: %s: cloud '%s': %s%s: not a string",
                          d->file, cloud, prefix, key);
  return set_str (p, (const char *) v->data.scalar.value, err);
}

/* YAML booleans as openstacksdk accepts them; -1 when V is none. */
static int
parse_bool (const char *v)
{
  static const char *const yes[] = {"true", "yes", "on", "1"};
  static const char *const no[] = {"false", "no", "off", "0"};

  for (size_t i = 0; i < FERRY_ARRAY_SIZE (yes); i++) {
    if (strcasecmp (v, yes[i]) == 0)
      return 1;
    if (strcasecmp (v, no[i]) == 0)
      return 0;
  }
  return -1;
}

/* A positive number of seconds, or -1. */
static double
parse_seconds (const char *v)
{
  char *end;
  double d;

  errno = 0;
  d = strtod (v, &end);
  if (errno || end == v || *end || !(d > 0) || d > 86400)
    return -1;
  return d;
}

/* Apply "verify" (a bool or a CA file path, as openstacksdk allows) */
static int
apply_verify (struct ferry_os_cloud *c, const char *v, const char *where,
              struct ferry_err *err)
{
  int b = parse_bool (v);

  if (b >= 0) {
    c->verify = b;
    return 0;
  }
  if (v[0] == '/') {
    c->verify = true;
    return set_str (&c->cacert, v, err);
  }
  return ferry_err_set (err, 0, "%s: verify: '%s' is not a boolean", where, v);
}

/* Apply "api_timeout". */
static int
apply_timeout (struct ferry_os_cloud *c, const char *v, const char *where,
               struct ferry_err *err)
{
  double t = parse_seconds (v);

  if (t < 0)
    return ferry_err_set (err, 0,
                          "%s: api_timeout: '%s' is not a positive number "
                          "of seconds",
                          where, v);
  c->timeout = t;
  return 0;
}

/* Merge cloud NODE of D into C. */
static int
merge_yaml (struct ferry_os_cloud *c, struct ydoc *d, yaml_node_t *node,
            const char *name, struct ferry_err *err)
{
  yaml_node_t *auth = ymap_get (&d->doc, node, "auth");
  CLEANUP_FREE char *domain = NULL, *verify = NULL, *timeout = NULL;
  char where[512];

  if (node->type != YAML_MAPPING_NODE)
    return ferry_err_set (err, 0, "clouds.yaml: %s: cloud '%s': not a mapping",
                          d->file, name);
  if (auth && auth->type != YAML_MAPPING_NODE)
    return ferry_err_set (err, 0,
                          "clouds.yaml: %s: cloud '%s': auth: not a mapping",
                          d->file, name);
  for (size_t i = 0; i < FERRY_ARRAY_SIZE (fields); i++) {
    const struct field *f = &fields[i];
    if (f->auth &&
        take_scalar (d, auth, "auth.", f->auth, name, slot (c, f), err) < 0)
      return -1;
    if (f->top && take_scalar (d, node, "", f->top, name, slot (c, f), err) < 0)
      return -1;
  }
  /* openstacksdk's one-domain shorthand: the user's and the project's */
  if (take_scalar (d, auth, "auth.", "domain_name", name, &domain, err) < 0)
    return -1;
  if (domain) {
    if (!c->user_domain_name && !c->user_domain_id &&
        set_str (&c->user_domain_name, domain, err) < 0)
      return -1;
    if (!c->project_domain_name && !c->project_domain_id &&
        set_str (&c->project_domain_name, domain, err) < 0)
      return -1;
  }
  snprintf (where, sizeof where, "clouds.yaml: %s: cloud '%s'", d->file, name);
  if (take_scalar (d, node, "", "verify", name, &verify, err) < 0 ||
      (verify && apply_verify (c, verify, where, err) < 0))
    return -1;
  if (take_scalar (d, node, "", "api_timeout", name, &timeout, err) < 0 ||
      (timeout && apply_timeout (c, timeout, where, err) < 0))
    return -1;
  return 0;
}

/* Overrides from the OS_* variables. */
static int
merge_env (struct ferry_os_cloud *c, struct ferry_err *err)
{
  const char *v;

  for (size_t i = 0; i < FERRY_ARRAY_SIZE (fields); i++) {
    v = getenv (fields[i].env);
    if (v && *v && set_str (slot (c, &fields[i]), v, err) < 0)
      return -1;
  }
  v = getenv ("OS_INSECURE");
  if (v && *v) {
    int b = parse_bool (v);
    if (b < 0)
      return ferry_err_set (err, 0, "OS_INSECURE: '%s' is not a boolean", v);
    c->verify = !b;
  }
  v = getenv ("OS_API_TIMEOUT");
  if (v && *v && apply_timeout (c, v, "OS_API_TIMEOUT", err) < 0)
    return -1;
  return 0;
}

/* The first existing file of openstacksdk's search path for BASE
 * ("clouds.yaml") with $ENVVAR first; NULL when none exists (not an
 * error).  A set $ENVVAR that names no file is an error. */
static int
find_file (const char *base, const char *envvar, char **ret,
           struct ferry_err *err)
{
  const char *e = getenv (envvar);
  const char *home = getenv ("HOME");
  char *cand[3] = {NULL, NULL, NULL};
  int r = 0;

  *ret = NULL;
  if (e && *e) {
    if (access (e, F_OK) < 0)
      return ferry_err_set (err, errno, "%s: %s '%s'", base, envvar, e);
    *ret = strdup (e);
    if (!*ret)
      return ferry_err_set (err, errno, "cannot allocate memory");
    return 0;
  }
  if (asprintf (&cand[0], "./%s", base) < 0)
    cand[0] = NULL;
  if (home && *home &&
      asprintf (&cand[1], "%s/.config/openstack/%s", home, base) < 0)
    cand[1] = NULL;
  if (asprintf (&cand[2], "/etc/openstack/%s", base) < 0)
    cand[2] = NULL;
  if (!cand[0] || !cand[2])
    r = ferry_err_set (err, ENOMEM, "cannot allocate memory");
  for (size_t i = 0; r == 0 && i < 3; i++) {
    if (cand[i] && access (cand[i], F_OK) == 0) {
      *ret = cand[i];
      cand[i] = NULL;
      break;
    }
  }
  for (size_t i = 0; i < 3; i++)
    free (cand[i]);
  return r;
}

/* auth_url with "/v3" (openstacksdk accepts both), no trailing slash. */
static int
normalize_auth_url (struct ferry_os_cloud *c, struct ferry_err *err)
{
  size_t n = strlen (c->auth_url);
  char *u;

  while (n > 0 && c->auth_url[n - 1] == '/')
    n--;
  if (n >= 3 && strncmp (c->auth_url + n - 3, "/v3", 3) == 0) {
    c->auth_url[n] = '\0';
    return 0;
  }
  if (asprintf (&u, "%.*s/v3", (int) n, c->auth_url) < 0)
    return ferry_err_set (err, errno, "cannot allocate memory");
  free (c->auth_url);
  c->auth_url = u;
  return 0;
}

/* Defaults and the checks that the auth method has what it needs. */
static int
finish (struct ferry_os_cloud *c, const char *where, struct ferry_err *err)
{
  if (!c->auth_url || !*c->auth_url)
    return ferry_err_set (err, 0, "%s: no auth.auth_url (or OS_AUTH_URL)",
                          where);
  if (strncmp (c->auth_url, "http://", 7) != 0 &&
      strncmp (c->auth_url, "https://", 8) != 0)
    return ferry_err_set (err, 0,
                          "%s: auth.auth_url: '%s' is not an http(s) URL",
                          where, c->auth_url);
  if (normalize_auth_url (c, err) < 0)
    return -1;
  if (!c->auth_type &&
      set_str (&c->auth_type,
               c->app_cred_secret ? "v3applicationcredential" : "password",
               err) < 0)
    return -1;
  if (strcmp (c->auth_type, "v3password") == 0 &&
      set_str (&c->auth_type, "password", err) < 0)
    return -1;
  if (!c->interface && set_str (&c->interface, "public", err) < 0)
    return -1;
  if (strcmp (c->interface, "public") && strcmp (c->interface, "internal") &&
      strcmp (c->interface, "admin"))
    return ferry_err_set (err, 0,
                          "%s: interface: '%s' is not public, internal or "
                          "admin",
                          where, c->interface);
  if (strcmp (c->auth_type, "password") == 0) {
    if (!c->username && !c->user_id)
      return ferry_err_set (err, 0, "%s: no auth.username or auth.user_id",
                            where);
    if (!c->password)
      return ferry_err_set (err, 0, "%s: no auth.password (or OS_PASSWORD)",
                            where);
    if (!c->project_name && !c->project_id)
      return ferry_err_set (
          err, 0, "%s: no auth.project_name or auth.project_id", where);
  } else if (strcmp (c->auth_type, "v3applicationcredential") == 0) {
    if (!c->app_cred_secret)
      return ferry_err_set (err, 0, "%s: no auth.application_credential_secret",
                            where);
    if (!c->app_cred_id && !(c->app_cred_name && (c->username || c->user_id)))
      return ferry_err_set (err, 0,
                            "%s: no auth.application_credential_id (or "
                            "application_credential_name and username)",
                            where);
  } else
    return ferry_err_set (err, 0,
                          "%s: auth_type: '%s' is not supported (password, "
                          "v3applicationcredential)",
                          where, c->auth_type);
  return 0;
}

/* The clouds.yaml part of the lookup: C->file and the named cloud's
 * values, then secure.yaml's over them. */
static int
load_files (struct ferry_os_cloud *c, const char *name, struct ferry_err *err)
{
  CLEANUP_FREE char *file = NULL, *secure = NULL;
  struct ydoc d = {0};
  yaml_node_t *node;
  int r;

  if (find_file ("clouds.yaml", "OS_CLIENT_CONFIG_FILE", &file, err) < 0)
    return -1;
  if (!file)
    return ferry_err_set (err, 0,
                          "clouds.yaml: cloud '%s' not found: no clouds.yaml "
                          "(OS_CLIENT_CONFIG_FILE, ./clouds.yaml, "
                          "~/.config/openstack/clouds.yaml, "
                          "/etc/openstack/clouds.yaml)",
                          name);
  if (ydoc_load (&d, "clouds.yaml", file, err) < 0)
    return -1;
  node = find_cloud (&d, name);
  if (!node) {
    ydoc_free (&d);
    return ferry_err_set (err, 0, "clouds.yaml: cloud '%s' not found in %s",
                          name, file);
  }
  r = merge_yaml (c, &d, node, name, err);
  ydoc_free (&d);
  if (r < 0)
    return -1;
  c->file = TAKE_PTR (file);

  if (find_file ("secure.yaml", "OS_CLIENT_SECURE_FILE", &secure, err) < 0)
    return -1;
  if (!secure)
    return 0;
  if (ydoc_load (&d, "secure.yaml", secure, err) < 0)
    return -1;
  node = find_cloud (&d, name);
  r = node ? merge_yaml (c, &d, node, name, err) : 0;
  ydoc_free (&d);
  if (r < 0)
    ferry_err_prefix (err, "secure.yaml");
  return r;
}

/* See openstack.h. */
int
ferry_os_cloud_load (const char *name, struct ferry_os_cloud **ret,
                     struct ferry_err *err)
{
  struct ferry_os_cloud *c = calloc (1, sizeof *c);
  char where[600];

  if (!c)
    return ferry_err_set (err, errno, "cannot allocate memory");
  c->verify = true;
  c->timeout = 60;
  if (!name || !*name)
    name = getenv ("OS_CLOUD");
  if (name && !*name)
    name = NULL;
  if (set_str (&c->name, name ? name : "envvars", err) < 0)
    goto fail;
  if (name && load_files (c, name, err) < 0)
    goto fail;
  if (merge_env (c, err) < 0)
    goto fail;
  if (c->file)
    snprintf (where, sizeof where, "clouds.yaml: %s: cloud '%s'", c->file,
              c->name);
  else
    snprintf (where, sizeof where, "OS_* variables");
  if (finish (c, where, err) < 0)
    goto fail;
  *ret = c;
  return 0;
fail:
  ferry_os_cloud_free (c);
  return -1;
}
