/* Lines of changes a guest operation would make or made (modules/guest.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modules/guest.h"

void
ferry_changes_add (struct ferry_changes *ch, const char *fmt, ...)
{
  char **l = realloc (ch->lines, (ch->n + 1) * sizeof *l);
  va_list ap;
  char *s = NULL;

  if (l == NULL)
    return;
  ch->lines = l;
  va_start (ap, fmt);
  if (vasprintf (&s, fmt, ap) < 0)
    s = NULL;
  va_end (ap);
  l[ch->n] = s ? s : strdup ("(out of memory)");
  if (l[ch->n])
    ch->n++;
}

void
ferry_changes_clear (struct ferry_changes *ch)
{
  size_t i;

  for (i = 0; i < ch->n; i++)
    free (ch->lines[i]);
  free (ch->lines);
  ch->lines = NULL;
  ch->n = 0;
}

void
ferry_changes_summary (const struct ferry_changes *ch, char *buf, size_t len)
{
  size_t i, k;
  int w;

  if (len == 0)
    return;
  w = snprintf (buf, len, "%zu change%s", ch->n, ch->n == 1 ? "" : "s");
  k = w < 0 ? 0 : (size_t) w < len ? (size_t) w : len - 1;
  for (i = 0; i < ch->n && k + 1 < len; i++) {
    w = snprintf (buf + k, len - k, "%s%s", i ? "; " : ": ", ch->lines[i]);
    if (w < 0 || (size_t) w >= len - k) {
      if (len > 4)
        memcpy (buf + len - 4, "...", 4);
      return;
    }
    k += (size_t) w;
  }
}
