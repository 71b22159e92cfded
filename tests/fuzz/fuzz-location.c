/* Fuzz the location parser (the rbd: names of the command line): whatever
 * parses must format to a name that parses to the same location, and the
 * copy must equal the original. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/location.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct ferry_location loc, back, copy;
  struct ferry_err err = {0};
  char *name, *s;

  name = malloc (size + 1);
  if (name == NULL)
    return 0;
  memcpy (name, data, size);
  name[size] = '\0';
  if (ferry_location_parse (name, &loc, &err) == 0) {
    s = ferry_location_format (&loc);
    if (s == NULL)
      __builtin_trap ();
    if (ferry_location_parse (s, &back, &err) < 0)
      __builtin_trap ();
    /* a file that looked like rbd: comes back with "./" in front */
    if (loc.kind == FERRY_LOCATION_RBD && !ferry_location_equal (&loc, &back))
      __builtin_trap ();
    if (back.kind != loc.kind)
      __builtin_trap ();
    if (ferry_location_copy (&copy, &loc, &err) < 0 ||
        !ferry_location_equal (&loc, &copy))
      __builtin_trap ();
    ferry_location_clear (&copy);
    ferry_location_clear (&back);
    ferry_location_clear (&loc);
    free (s);
  } else if (!err.set) {
    __builtin_trap ();
  }
  free (name);
  return 0;
}
