/* OpenStack cloud resolution (src/clients/openstack-cloud.c): clouds.yaml
 * and secure.yaml merging, the openstacksdk lookup order (with a temporary
 * HOME and working directory), OS_* overrides, defaults and errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "clients/openstack.h"

static char tmpdir[256];
static char oldcwd[4096];

static const char *const os_vars[] = {
    "OS_CLOUD",
    "OS_CLIENT_CONFIG_FILE",
    "OS_CLIENT_SECURE_FILE",
    "OS_AUTH_URL",
    "OS_AUTH_TYPE",
    "OS_USERNAME",
    "OS_USER_ID",
    "OS_PASSWORD",
    "OS_PROJECT_NAME",
    "OS_PROJECT_ID",
    "OS_USER_DOMAIN_NAME",
    "OS_USER_DOMAIN_ID",
    "OS_PROJECT_DOMAIN_NAME",
    "OS_PROJECT_DOMAIN_ID",
    "OS_REGION_NAME",
    "OS_INTERFACE",
    "OS_APPLICATION_CREDENTIAL_ID",
    "OS_APPLICATION_CREDENTIAL_NAME",
    "OS_APPLICATION_CREDENTIAL_SECRET",
    "OS_CACERT",
    "OS_INSECURE",
    "OS_API_TIMEOUT",
};

/* Write TEXT to DIR/NAME (DIR relative to the temporary directory,
 * created as needed); returns the absolute path (static buffer). */
static const char *
put (const char *dir, const char *name, const char *text)
{
  static char path[1024];
  char cmd[1200];
  FILE *f;

  snprintf (path, sizeof path, "%s/%s", tmpdir, dir);
  snprintf (cmd, sizeof cmd, "mkdir -p '%s'", path);
  assert_int_equal (system (cmd), 0);
  snprintf (path, sizeof path, "%s/%s/%s", tmpdir, dir, name);
  f = fopen (path, "w");
  assert_non_null (f);
  fputs (text, f);
  fclose (f);
  return path;
}

/* A fresh temporary directory as HOME and cwd, no OS_* variables. */
static int
setup (void **state)
{
  char path[512];

  (void) state;
  for (size_t i = 0; i < sizeof os_vars / sizeof os_vars[0]; i++)
    unsetenv (os_vars[i]);
  snprintf (tmpdir, sizeof tmpdir, "/tmp/test-os-cloud.XXXXXX");
  assert_non_null (mkdtemp (tmpdir));
  assert_non_null (getcwd (oldcwd, sizeof oldcwd));
  snprintf (path, sizeof path, "%s/cwd", tmpdir);
  assert_int_equal (mkdir (path, 0700), 0);
  assert_int_equal (chdir (path), 0);
  snprintf (path, sizeof path, "%s/home", tmpdir);
  setenv ("HOME", path, 1);
  return 0;
}

static int
teardown (void **state)
{
  char cmd[512];

  (void) state;
  assert_int_equal (chdir (oldcwd), 0);
  snprintf (cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  assert_int_equal (system (cmd), 0);
  return 0;
}

static const char clouds_yaml[] =
    "clouds:\n"
    "  prod:\n"
    "    auth:\n"
    "      auth_url: https://keystone.example:5000\n"
    "      username: alice\n"
    "      project_name: migrate\n"
    "      domain_name: Corp\n"
    "    region_name: RegionOne\n"
    "    interface: internal\n"
    "    api_timeout: 30\n"
    "    cacert: /etc/ssl/corp.pem\n"
    "  lab:\n"
    "    auth: {auth_url: 'http://127.0.0.1:5000/v3/', username: demo,\n"
    "           password: labpw, project_id: p1, user_domain_id: default}\n"
    "    verify: false\n";

static const char secure_yaml[] = "clouds:\n"
                                  "  prod:\n"
                                  "    auth: {password: s3cret}\n";

/* Load NAME, failing the test on error. */
static struct ferry_os_cloud *
load_ok (const char *name)
{
  struct ferry_err err = {0};
  struct ferry_os_cloud *c = NULL;

  if (ferry_os_cloud_load (name, &c, &err) < 0)
    fail_msg ("load '%s': %s", name ? name : "(null)", err.msg);
  return c;
}

/* Load NAME expecting an error; returns the message (static). */
static const char *
load_fails (const char *name)
{
  static struct ferry_err err;
  struct ferry_os_cloud *c = NULL;

  memset (&err, 0, sizeof err);
  assert_int_equal (ferry_os_cloud_load (name, &c, &err), -1);
  assert_null (c);
  return err.msg;
}

/* secure.yaml's password merged over clouds.yaml; every key read. */
static void
test_merge (void **state)
{
  struct ferry_os_cloud *c;
  char want[1024];

  (void) state;
  setenv ("OS_CLIENT_CONFIG_FILE", put ("cfg", "clouds.yaml", clouds_yaml), 1);
  setenv ("OS_CLIENT_SECURE_FILE", put ("cfg", "secure.yaml", secure_yaml), 1);
  c = load_ok ("prod");
  assert_string_equal (c->name, "prod");
  snprintf (want, sizeof want, "%s/cfg/clouds.yaml", tmpdir);
  assert_string_equal (c->file, want);
  assert_string_equal (c->auth_url, "https://keystone.example:5000/v3");
  assert_string_equal (c->auth_type, "password");
  assert_string_equal (c->username, "alice");
  assert_string_equal (c->password, "s3cret");
  assert_string_equal (c->project_name, "migrate");
  assert_string_equal (c->user_domain_name, "Corp");
  assert_string_equal (c->project_domain_name, "Corp");
  assert_string_equal (c->region_name, "RegionOne");
  assert_string_equal (c->interface, "internal");
  assert_string_equal (c->cacert, "/etc/ssl/corp.pem");
  assert_true (c->verify);
  assert_true (c->timeout == 30);
  ferry_os_cloud_free (c);

  c = load_ok ("lab");
  assert_string_equal (c->auth_url, "http://127.0.0.1:5000/v3");
  assert_string_equal (c->password, "labpw");
  assert_string_equal (c->project_id, "p1");
  assert_string_equal (c->user_domain_id, "default");
  assert_null (c->user_domain_name);
  assert_null (c->region_name);
  assert_string_equal (c->interface, "public");
  assert_false (c->verify);
  assert_true (c->timeout == 60);
  ferry_os_cloud_free (c);
}

/* OS_* variables override both files; OS_CLOUD names the cloud. */
static void
test_env_overrides (void **state)
{
  struct ferry_os_cloud *c;

  (void) state;
  setenv ("OS_CLIENT_CONFIG_FILE", put ("cfg", "clouds.yaml", clouds_yaml), 1);
  setenv ("OS_CLIENT_SECURE_FILE", put ("cfg", "secure.yaml", secure_yaml), 1);
  setenv ("OS_CLOUD", "prod", 1);
  setenv ("OS_PASSWORD", "from-env", 1);
  setenv ("OS_REGION_NAME", "RegionTwo", 1);
  setenv ("OS_INSECURE", "true", 1);
  setenv ("OS_API_TIMEOUT", "5", 1);
  c = load_ok (NULL);
  assert_string_equal (c->name, "prod");
  assert_string_equal (c->password, "from-env");
  assert_string_equal (c->region_name, "RegionTwo");
  assert_string_equal (c->username, "alice");
  assert_false (c->verify);
  assert_true (c->timeout == 5);
  ferry_os_cloud_free (c);
}

/* No cloud name, no OS_CLOUD: the OS_* variables alone. */
static void
test_envvars_only (void **state)
{
  struct ferry_os_cloud *c;

  (void) state;
  put ("cwd", "clouds.yaml", clouds_yaml); /* not read */
  setenv ("OS_AUTH_URL", "http://10.0.0.1:5000", 1);
  setenv ("OS_APPLICATION_CREDENTIAL_ID", "ac1", 1);
  setenv ("OS_APPLICATION_CREDENTIAL_SECRET", "acs", 1);
  c = load_ok (NULL);
  assert_string_equal (c->name, "envvars");
  assert_null (c->file);
  assert_string_equal (c->auth_url, "http://10.0.0.1:5000/v3");
  assert_string_equal (c->auth_type, "v3applicationcredential");
  assert_string_equal (c->app_cred_id, "ac1");
  assert_string_equal (c->app_cred_secret, "acs");
  ferry_os_cloud_free (c);
  unsetenv ("OS_AUTH_URL");
  assert_string_equal (load_fails (NULL),
                       "OS_* variables: no auth.auth_url (or OS_AUTH_URL)");
}

/* ./clouds.yaml, then ~/.config/openstack/clouds.yaml;
 * $OS_CLIENT_CONFIG_FILE before both; the first file found is the only
 * one read. */
static void
test_lookup_order (void **state)
{
  static const char home_yaml[] =
      "clouds:\n  c: {auth: {auth_url: 'http://home', username: u,\n"
      "    password: p, project_name: x}}\n";
  static const char cwd_yaml[] =
      "clouds:\n  c: {auth: {auth_url: 'http://cwd', username: u,\n"
      "    password: p, project_name: x}}\n";
  static const char env_yaml[] =
      "clouds:\n  c: {auth: {auth_url: 'http://env', username: u,\n"
      "    password: p, project_name: x}}\n";
  static const char home_secure[] =
      "clouds:\n  c: {auth: {password: home-secret}}\n";
  struct ferry_os_cloud *c;
  char path[1024];

  (void) state;
  assert_string_equal (
      load_fails ("c"),
      "clouds.yaml: cloud 'c' not found: no clouds.yaml "
      "(OS_CLIENT_CONFIG_FILE, ./clouds.yaml, "
      "~/.config/openstack/clouds.yaml, /etc/openstack/clouds.yaml)");
  put ("home/.config/openstack", "clouds.yaml", home_yaml);
  put ("home/.config/openstack", "secure.yaml", home_secure);
  c = load_ok ("c");
  assert_string_equal (c->auth_url, "http://home/v3");
  assert_string_equal (c->password, "home-secret");
  ferry_os_cloud_free (c);

  put ("cwd", "clouds.yaml", cwd_yaml);
  c = load_ok ("c");
  assert_string_equal (c->auth_url, "http://cwd/v3");
  assert_string_equal (c->file, "./clouds.yaml");
  /* secure.yaml is looked up on its own path: the one in HOME */
  assert_string_equal (c->password, "home-secret");
  ferry_os_cloud_free (c);

  setenv ("OS_CLIENT_CONFIG_FILE", put ("cfg", "clouds.yaml", env_yaml), 1);
  c = load_ok ("c");
  assert_string_equal (c->auth_url, "http://env/v3");
  ferry_os_cloud_free (c);

  snprintf (path, sizeof path, "%s/nonexistent.yaml", tmpdir);
  setenv ("OS_CLIENT_CONFIG_FILE", path, 1);
  assert_non_null (strstr (load_fails ("c"), "nonexistent.yaml"));
}

/* Errors name the file and the key. */
static void
test_errors (void **state)
{
  char want[1024];
  const char *f;

  (void) state;
  f = put ("cfg", "clouds.yaml", clouds_yaml);
  setenv ("OS_CLIENT_CONFIG_FILE", f, 1);
  snprintf (want, sizeof want, "clouds.yaml: cloud 'nope' not found in %s", f);
  assert_string_equal (load_fails ("nope"), want);
  /* prod without secure.yaml has no password */
  snprintf (want, sizeof want,
            "clouds.yaml: %s: cloud 'prod': no auth.password (or "
            "OS_PASSWORD)",
            f);
  assert_string_equal (load_fails ("prod"), want);

  f = put ("cfg", "bad.yaml", "clouds:\n  x: [1, 2\n");
  setenv ("OS_CLIENT_CONFIG_FILE", f, 1);
  snprintf (want, sizeof want, "clouds.yaml: %s:", f);
  assert_memory_equal (load_fails ("x"), want, strlen (want));

  f = put ("cfg", "type.yaml",
           "clouds:\n  x:\n    auth_type: token\n"
           "    auth: {auth_url: 'http://k', token: t}\n");
  setenv ("OS_CLIENT_CONFIG_FILE", f, 1);
  snprintf (want, sizeof want,
            "clouds.yaml: %s: cloud 'x': auth_type: 'token' is not supported "
            "(password, v3applicationcredential)",
            f);
  assert_string_equal (load_fails ("x"), want);

  f = put ("cfg", "nested.yaml",
           "clouds:\n  x:\n    auth:\n      auth_url: [a]\n");
  setenv ("OS_CLIENT_CONFIG_FILE", f, 1);
  snprintf (want, sizeof want,
            "clouds.yaml: %s: cloud 'x': auth.auth_url: not a string", f);
  assert_string_equal (load_fails ("x"), want);

  f = put ("cfg", "timeout.yaml",
           "clouds:\n  x:\n    api_timeout: soon\n"
           "    auth: {auth_url: 'http://k', username: u, password: p,\n"
           "           project_name: x}\n");
  setenv ("OS_CLIENT_CONFIG_FILE", f, 1);
  snprintf (want, sizeof want,
            "clouds.yaml: %s: cloud 'x': api_timeout: 'soon' is not a "
            "positive number of seconds",
            f);
  assert_string_equal (load_fails ("x"), want);

  f = put ("cfg", "url.yaml",
           "clouds:\n  x:\n"
           "    auth: {auth_url: 'keystone:5000', username: u, password: p,\n"
           "           project_name: x}\n");
  setenv ("OS_CLIENT_CONFIG_FILE", f, 1);
  snprintf (want, sizeof want,
            "clouds.yaml: %s: cloud 'x': auth.auth_url: 'keystone:5000' is "
            "not an http(s) URL",
            f);
  assert_string_equal (load_fails ("x"), want);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown (test_merge, setup, teardown),
      cmocka_unit_test_setup_teardown (test_env_overrides, setup, teardown),
      cmocka_unit_test_setup_teardown (test_envvars_only, setup, teardown),
      cmocka_unit_test_setup_teardown (test_lookup_order, setup, teardown),
      cmocka_unit_test_setup_teardown (test_errors, setup, teardown),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
