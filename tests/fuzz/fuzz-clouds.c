/* libFuzzer target: clouds.yaml resolution (src/clients/openstack-cloud.c)
 * on arbitrary bytes as the clouds.yaml file, for a named cloud and for
 * $OS_CLOUD.  Checks the contract: a cloud is returned exactly when no
 * error is recorded, with its name and an auth_url. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "clients/openstack.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Load NAME from the current clouds.yaml and check the contract. */
static void
load (const char *name)
{
  struct ferry_os_cloud *c = NULL;
  struct ferry_err err = {0};

  if (ferry_os_cloud_load (name, &c, &err) == 0) {
    if (c == NULL || err.set || c->name == NULL || c->auth_url == NULL)
      __builtin_trap ();
    ferry_os_cloud_free (c);
  } else if (c != NULL || !err.set) {
    __builtin_trap ();
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static char path[64], secure[64];
  FILE *f;

  if (path[0] == '\0') {
    snprintf (path, sizeof path, "/tmp/fuzz-clouds-%ld.yaml", (long) getpid ());
    snprintf (secure, sizeof secure, "/tmp/fuzz-clouds-%ld-secure.yaml",
              (long) getpid ());
    f = fopen (secure, "w");
    if (f == NULL)
      return 0;
    fputs ("clouds: {}\n", f);
    fclose (f);
    /* only the file speaks: no variable of the environment may */
    unsetenv ("OS_AUTH_URL");
    unsetenv ("OS_USERNAME");
    unsetenv ("OS_PASSWORD");
    unsetenv ("OS_PROJECT_NAME");
    setenv ("OS_CLIENT_CONFIG_FILE", path, 1);
    setenv ("OS_CLIENT_SECURE_FILE", secure, 1);
    setenv ("OS_CLOUD", "lab", 1);
  }
  f = fopen (path, "wb");
  if (f == NULL)
    return 0;
  fwrite (data, 1, size, f);
  fclose (f);
  load ("prod");
  load (NULL);
  return 0;
}
