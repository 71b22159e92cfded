/* qemu-style RBD names: rbd:POOL/IMAGE[@SNAP][:conf=PATH][:id=USER]. */
#include "disk/rbdname.h"

#include <stdio.h>
#include <string.h>

bool
ferry_is_rbd_name (const char *name)
{
  return strncmp (name, "rbd:", 4) == 0;
}

/* Copy [s, s+n) into DST of DSTSZ bytes, refusing truncation. */
static int
copy_field (char *dst, size_t dstsz, const char *s, size_t n,
            const char *name, const char *what, struct ferry_err *err)
{
  if (n >= dstsz)
    return ferry_err_set (err, 0, "'%s': %s is too long", name, what);
  memcpy (dst, s, n);
  dst[n] = '\0';
  return 0;
}

int
ferry_rbd_name_parse (const char *name, struct ferry_rbd_name *ret,
                      struct ferry_err *err)
{
  struct ferry_rbd_name r;
  const char *p, *slash, *end, *at, *opt;
  size_t n;

  memset (&r, 0, sizeof r);
  if (!ferry_is_rbd_name (name))
    return ferry_err_set (err, 0, "'%s': not an rbd: name", name);
  p = name + 4;
  end = strchr (p, ':');
  if (end == NULL)
    end = p + strlen (p);
  slash = memchr (p, '/', (size_t) (end - p));
  if (slash == NULL || slash == p || slash + 1 == end)
    return ferry_err_set (err, 0,
                          "'%s': expected rbd:POOL/IMAGE[@SNAP][:conf=PATH]"
                          "[:id=USER]",
                          name);
  if (copy_field (r.pool, sizeof r.pool, p, (size_t) (slash - p), name,
                  "pool name", err) < 0)
    return -1;
  at = memchr (slash + 1, '@', (size_t) (end - slash - 1));
  n = (size_t) ((at ? at : end) - slash - 1);
  if (n == 0)
    return ferry_err_set (err, 0, "'%s': empty image name", name);
  if (copy_field (r.image, sizeof r.image, slash + 1, n, name, "image name",
                  err) < 0)
    return -1;
  if (at && copy_field (r.snap, sizeof r.snap, at + 1,
                        (size_t) (end - at - 1), name, "snapshot name",
                        err) < 0)
    return -1;
  if (at && r.snap[0] == '\0')
    return ferry_err_set (err, 0, "'%s': empty snapshot name", name);
  while (*end == ':') {
    opt = end + 1;
    end = strchr (opt, ':');
    if (end == NULL)
      end = opt + strlen (opt);
    n = (size_t) (end - opt);
    if (n > 5 && strncmp (opt, "conf=", 5) == 0) {
      if (copy_field (r.conf, sizeof r.conf, opt + 5, n - 5, name, "conf",
                      err) < 0)
        return -1;
    } else if (n > 3 && strncmp (opt, "id=", 3) == 0) {
      if (copy_field (r.id, sizeof r.id, opt + 3, n - 3, name, "id", err) <
          0)
        return -1;
    } else {
      return ferry_err_set (err, 0,
                            "'%s': unknown option '%.*s' (known: conf=, id=)",
                            name, (int) n, opt);
    }
  }
  *ret = r;
  return 0;
}
