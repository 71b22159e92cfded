/* YAML → node tree with line:col, using libyaml's event API.
 *
 * The document is hostile: nesting depth is tracked while reading events
 * (no recursion), aliases share nodes instead of copying them and the
 * number of nodes they would add when expanded is counted, so a
 * billion-laughs document is refused without being expanded. */
#include "plan/plan-int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "util/cleanup.h"

/* An open sequence or mapping while its events are read. */
struct yframe {
  struct ferry_ynode *node; /* the collection being built */
  char *anchor;             /* its anchor name, or NULL */
  size_t cap;               /* capacity of items / raw */
  struct ferry_yent *raw;   /* mappings: entries as written */
  size_t n_raw;
  struct ferry_ynode *key; /* mappings: key waiting for its value */
};

struct yanchor {
  char *name;
  struct ferry_ynode *node;
};

/* Parser state. */
struct yparse {
  struct ferry_pctx *ctx;
  struct ferry_ydoc *doc;
  struct yframe stack[FERRY_PLAN_MAX_DEPTH];
  size_t depth;
  struct yanchor *anchors;
  size_t n_anchors;
  size_t cap_anchors;
  uint64_t expanded; /* nodes added by aliases so far */
};

/* Convert a libyaml mark (0-based) to the 1-based line and column that
 * diagnostics show. */
static struct ferry_pos
mark_pos (yaml_mark_t m)
{
  struct ferry_pos p = {.line = (unsigned) m.line + 1,
                        .col = (unsigned) m.column + 1};
  return p;
}

/* Grow *ARR (of element size SZ) to hold at least N + 1 elements. */
static int
grow (void **arr, size_t *cap, size_t n, size_t sz)
{
  size_t ncap;
  void *p;

  if (n < *cap)
    return 0;
  ncap = *cap ? *cap * 2 : 8;
  p = reallocarray (*arr, ncap, sz);
  if (p == NULL)
    return -1;
  *arr = p;
  *cap = ncap;
  return 0;
}

/* Allocate a node owned by the document. */
static struct ferry_ynode *
node_new (struct yparse *y, enum ferry_ynode_kind kind, struct ferry_pos pos)
{
  struct ferry_ynode *n;

  if (grow ((void **) &y->doc->all, &y->doc->cap_all, y->doc->n_all,
            sizeof *y->doc->all) < 0)
    return NULL;
  n = calloc (1, sizeof *n);
  if (n == NULL)
    return NULL;
  n->kind = kind;
  n->pos = pos;
  n->size = 1;
  y->doc->all[y->doc->n_all++] = n;
  return n;
}

/* Is S all of [0-9_] with at least one digit, in [FROM, END)? */
static bool
all_digits (const char *s, const char *digits)
{
  bool any = false;

  for (; *s; s++) {
    if (*s == '_')
      continue;
    if (strchr (digits, *s) == NULL)
      return false;
    any = true;
  }
  return any;
}

/* Resolve a plain scalar as PyYAML (YAML 1.1) does, so that the JSON schema
 * test and ferry agree on what is a string. */
static enum ferry_yscalar
resolve_plain (const char *s)
{
  static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
  static const char *const bools[] = {
      "yes",   "Yes",   "YES",   "no", "No", "NO", "true", "True", "TRUE",
      "false", "False", "FALSE", "on", "On", "ON", "off",  "Off",  "OFF"};
  const char *p = s;
  size_t i;

  for (i = 0; i < FERRY_ARRAY_SIZE (nulls); i++)
    if (strcmp (s, nulls[i]) == 0)
      return FERRY_YSCALAR_NULL;
  for (i = 0; i < FERRY_ARRAY_SIZE (bools); i++)
    if (strcmp (s, bools[i]) == 0)
      return FERRY_YSCALAR_BOOL;
  if (strcmp (s, "<<") == 0)
    return FERRY_YSCALAR_MERGE;
  if (*p == '-' || *p == '+')
    p++;
  if (strncmp (p, "0b", 2) == 0 && all_digits (p + 2, "01"))
    return FERRY_YSCALAR_INT;
  if (strncmp (p, "0x", 2) == 0 && all_digits (p + 2, "0123456789abcdefABCDEF"))
    return FERRY_YSCALAR_INT;
  if (all_digits (p, "0123456789") && (*p != '_'))
    return FERRY_YSCALAR_INT;
  /* Sexagesimal 190:20:30 (PyYAML reads it as an integer): digits, then
   * groups of ':' and one or two digits, the two-digit ones below 60. */
  if (*p >= '1' && *p <= '9' && strchr (p, ':')) {
    const char *q = p + strspn (p, "0123456789_");
    bool ok = *q == ':';

    while (ok && *q == ':') {
      q++;
      if (!(*q >= '0' && *q <= '9'))
        ok = false;
      else if (q[1] >= '0' && q[1] <= '9') {
        ok = *q <= '5';
        q += 2;
      } else
        q++;
    }
    if (ok && *q == '\0')
      return FERRY_YSCALAR_INT;
  }
  /* Floats: 1.5, -2., 1.0e+3, .inf, .nan. */
  if (strcmp (p, ".inf") == 0 || strcmp (p, ".Inf") == 0 ||
      strcmp (p, ".INF") == 0 || strcmp (s, ".nan") == 0 ||
      strcmp (s, ".NaN") == 0 || strcmp (s, ".NAN") == 0)
    return FERRY_YSCALAR_FLOAT;
  {
    const char *q = p;
    bool digits = false;
    while ((*q >= '0' && *q <= '9') || *q == '_')
      digits = true, q++;
    if (*q == '.') {
      q++;
      while ((*q >= '0' && *q <= '9') || *q == '_')
        digits = true, q++;
      if ((*q == 'e' || *q == 'E') && (q[1] == '-' || q[1] == '+') &&
          q[2] >= '0' && q[2] <= '9') {
        q += 2;
        while (*q >= '0' && *q <= '9')
          q++;
      }
      if (digits && *q == '\0')
        return FERRY_YSCALAR_FLOAT;
    }
  }
  return FERRY_YSCALAR_STR;
}

/* Record an anchor (a later one with the same name wins, as in YAML). */
static int
anchor_add (struct yparse *y, char *name, struct ferry_ynode *node)
{
  if (grow ((void **) &y->anchors, &y->cap_anchors, y->n_anchors,
            sizeof *y->anchors) < 0)
    return -1;
  y->anchors[y->n_anchors].name = name;
  y->anchors[y->n_anchors].node = node;
  y->n_anchors++;
  return 0;
}

/* The node anchor NAME was last defined on, or NULL. Searched from the
 * newest, since YAML lets a later anchor of the same name override an
 * earlier one for the aliases that follow it. */
static struct ferry_ynode *
anchor_find (struct yparse *y, const char *name)
{
  size_t i;

  for (i = y->n_anchors; i > 0; i--)
    if (strcmp (y->anchors[i - 1].name, name) == 0)
      return y->anchors[i - 1].node;
  return NULL;
}

/* Attach a finished NODE to the open collection (or make it the root). */
static int
attach (struct yparse *y, struct ferry_ynode *node)
{
  struct yframe *f;

  if (y->depth == 0) {
    y->doc->root = node;
    return 0;
  }
  f = &y->stack[y->depth - 1];
  if (f->node->kind == FERRY_YNODE_SEQ) {
    if (grow ((void **) &f->node->items, &f->cap, f->node->n_items,
              sizeof *f->node->items) < 0)
      return -1;
    f->node->items[f->node->n_items++] = node;
    return 0;
  }
  if (f->key == NULL) {
    if (node->kind != FERRY_YNODE_SCALAR)
      ferry_plan_diag (y->ctx, node->pos, NULL, "mapping keys must be scalars");
    f->key = node;
    return 0;
  }
  if (grow ((void **) &f->raw, &f->cap, f->n_raw, sizeof *f->raw) < 0)
    return -1;
  f->raw[f->n_raw].key = f->key;
  f->raw[f->n_raw].value = node;
  f->n_raw++;
  f->key = NULL;
  return 0;
}

/* FNV-1a hash of string S, for the duplicate-key table of ent_put. */
static uint64_t
hash_str (const char *s)
{
  uint64_t h = 1469598103934665603ull;

  for (; *s; s++)
    h = (h ^ (unsigned char) *s) * 1099511628211ull;
  return h;
}

/* Append ENT to MAP unless its key is already there (hash table TAB of
 * size MASK + 1 holds indices + 1).  Returns the index of the existing
 * entry, or -1 when appended. */
static ssize_t
ent_put (struct ferry_ynode *map, size_t *tab, size_t mask,
         const struct ferry_yent *ent)
{
  const char *k = ent->key->str ? ent->key->str : "";
  size_t h = (size_t) hash_str (k) & mask;

  while (tab[h]) {
    const struct ferry_yent *o = &map->ents[tab[h] - 1];
    if (strcmp (o->key->str ? o->key->str : "", k) == 0)
      return (ssize_t) (tab[h] - 1);
    h = (h + 1) & mask;
  }
  map->ents[map->n_ents] = *ent;
  tab[h] = ++map->n_ents;
  return -1;
}

/* Build a mapping's final entries: explicit keys (duplicates are errors),
 * then entries brought in by "<<" merge keys that are not already set. */
static int
map_finish (struct yparse *y, struct yframe *f)
{
  struct ferry_ynode *map = f->node;
  size_t total = 0, i, j, k, mask = 1;
  CLEANUP_FREE size_t *tab = NULL;
  ssize_t old;

  if (f->key) /* cannot happen with libyaml, but be safe */
    ferry_plan_diag (y->ctx, f->key->pos, NULL, "key without a value");
  for (i = 0; i < f->n_raw; i++) {
    const struct ferry_ynode *v = f->raw[i].value;
    if (f->raw[i].key->stype != FERRY_YSCALAR_MERGE)
      total++;
    else if (v->kind == FERRY_YNODE_MAP)
      total += v->n_ents;
    else if (v->kind == FERRY_YNODE_SEQ)
      for (j = 0; j < v->n_items; j++)
        if (v->items[j]->kind == FERRY_YNODE_MAP)
          total += v->items[j]->n_ents;
  }
  while (mask < total * 2 + 1)
    mask <<= 1;
  tab = calloc (mask, sizeof *tab);
  map->ents = calloc (total ? total : 1, sizeof *map->ents);
  if (tab == NULL || map->ents == NULL)
    return -1;
  mask--;
  for (i = 0; i < f->n_raw; i++) {
    if (f->raw[i].key->stype == FERRY_YSCALAR_MERGE)
      continue;
    old = ent_put (map, tab, mask, &f->raw[i]);
    if (old >= 0)
      ferry_plan_diag (y->ctx, f->raw[i].key->pos, NULL,
                       "duplicate key '%s' (first at line %u)",
                       f->raw[i].key->str, map->ents[old].key->pos.line);
  }
  for (i = 0; i < f->n_raw; i++) {
    const struct ferry_ynode *v = f->raw[i].value;
    if (f->raw[i].key->stype != FERRY_YSCALAR_MERGE)
      continue;
    if (v->kind == FERRY_YNODE_MAP) {
      for (k = 0; k < v->n_ents; k++)
        ent_put (map, tab, mask, &v->ents[k]);
      continue;
    }
    if (v->kind == FERRY_YNODE_SEQ) {
      bool bad = false;
      for (j = 0; j < v->n_items; j++)
        if (v->items[j]->kind != FERRY_YNODE_MAP)
          bad = true;
        else
          for (k = 0; k < v->items[j]->n_ents; k++)
            ent_put (map, tab, mask, &v->items[j]->ents[k]);
      if (!bad)
        continue;
    }
    ferry_plan_diag (y->ctx, v->pos, NULL,
                     "merge key '<<' needs a mapping or a list of mappings");
  }
  for (i = 0; i < map->n_ents; i++) {
    const struct ferry_ynode *kn = map->ents[i].key, *vn = map->ents[i].value;
    map->size += kn->size + vn->size;
    if (vn->depth + 1 > map->depth)
      map->depth = vn->depth + 1;
  }
  if (map->depth == 0)
    map->depth = 1;
  return 0;
}

/* Close the innermost collection and attach it to its parent. */
static int
pop (struct yparse *y)
{
  struct yframe *f = &y->stack[--y->depth];
  struct ferry_ynode *n = f->node;
  size_t i;
  int r = 0;

  if (n->kind == FERRY_YNODE_MAP) {
    r = map_finish (y, f);
  } else {
    n->depth = 1;
    for (i = 0; i < n->n_items; i++) {
      n->size += n->items[i]->size;
      if (n->items[i]->depth + 1 > n->depth)
        n->depth = n->items[i]->depth + 1;
    }
  }
  free (f->raw);
  if (r == 0 && f->anchor) {
    r = anchor_add (y, f->anchor, n);
    if (r == 0)
      f->anchor = NULL;
  }
  free (f->anchor);
  memset (f, 0, sizeof *f);
  if (r < 0)
    return -1;
  return attach (y, n);
}

/* Is TAG acceptable on a node of KIND? */
static bool
tag_ok (const char *tag, enum ferry_ynode_kind kind)
{
  if (tag == NULL || strcmp (tag, "!") == 0)
    return true;
  switch (kind) {
  case FERRY_YNODE_SCALAR:
    return strcmp (tag, "tag:yaml.org,2002:str") == 0;
  case FERRY_YNODE_SEQ:
    return strcmp (tag, "tag:yaml.org,2002:seq") == 0;
  case FERRY_YNODE_MAP:
    return strcmp (tag, "tag:yaml.org,2002:map") == 0;
  default:
    return false;
  }
}

/* Reject NUL bytes and invalid UTF-8 before libyaml sees the text, naming
 * the line and column of the first bad byte. */
static int
check_text (struct ferry_pctx *ctx, const unsigned char *s, size_t len)
{
  struct ferry_pos pos = {1, 1};
  size_t i = 0, n, k;
  uint32_t cp;

  while (i < len) {
    unsigned char c = s[i];
    if (c == 0) {
      ferry_plan_diag (ctx, pos, NULL, "NUL byte in plan file");
      return -1;
    }
    if (c < 0x80)
      n = 1, cp = c;
    else if ((c & 0xe0) == 0xc0)
      n = 2, cp = c & 0x1f;
    else if ((c & 0xf0) == 0xe0)
      n = 3, cp = c & 0x0f;
    else if ((c & 0xf8) == 0xf0)
      n = 4, cp = c & 0x07;
    else
      goto bad;
    if (i + n > len)
      goto bad;
    for (k = 1; k < n; k++) {
      if ((s[i + k] & 0xc0) != 0x80)
        goto bad;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
      goto bad;
    i += n;
    if (c == '\n')
      pos.line++, pos.col = 1;
    else
      pos.col++;
  }
  return 0;
bad:
  ferry_plan_diag (ctx, pos, NULL, "plan file is not valid UTF-8");
  return -1;
}

/* Handle one libyaml event.  Returns 1 at the end of the stream, 0 to go
 * on, -1 to stop (a diagnostic was added), -2 on allocation failure. */
static int
on_event (struct yparse *y, yaml_event_t *ev, unsigned *n_docs)
{
  struct ferry_pos pos = mark_pos (ev->start_mark);
  struct ferry_ynode *n;
  const char *anchor = NULL, *tag = NULL;
  enum ferry_ynode_kind kind;

  switch (ev->type) {
  case YAML_STREAM_END_EVENT:
    return 1;
  case YAML_DOCUMENT_START_EVENT:
    if (++*n_docs > 1) {
      ferry_plan_diag (y->ctx, pos, NULL,
                       "plan file must hold exactly one YAML document");
      return -1;
    }
    return 0;
  case YAML_ALIAS_EVENT:
    n = anchor_find (y, (const char *) ev->data.alias.anchor);
    if (n == NULL) {
      ferry_plan_diag (y->ctx, pos, NULL,
                       "alias '*%s' names no anchor defined before it",
                       (const char *) ev->data.alias.anchor);
      return -1;
    }
    if (y->depth + n->depth > FERRY_PLAN_MAX_DEPTH) {
      ferry_plan_diag (y->ctx, pos, NULL,
                       "alias '*%s' nests deeper than %d levels when "
                       "expanded",
                       (const char *) ev->data.alias.anchor,
                       FERRY_PLAN_MAX_DEPTH);
      return -1;
    }
    y->expanded += n->size;
    if (y->expanded > FERRY_PLAN_MAX_EXPANDED) {
      ferry_plan_diag (y->ctx, pos, NULL,
                       "aliases expand to more than %d nodes; refusing the "
                       "document (an alias bomb?)",
                       FERRY_PLAN_MAX_EXPANDED);
      return -1;
    }
    return attach (y, n) < 0 ? -2 : 0;
  case YAML_SCALAR_EVENT:
    kind = FERRY_YNODE_SCALAR;
    anchor = (const char *) ev->data.scalar.anchor;
    tag = (const char *) ev->data.scalar.tag;
    break;
  case YAML_SEQUENCE_START_EVENT:
    kind = FERRY_YNODE_SEQ;
    anchor = (const char *) ev->data.sequence_start.anchor;
    tag = (const char *) ev->data.sequence_start.tag;
    break;
  case YAML_MAPPING_START_EVENT:
    kind = FERRY_YNODE_MAP;
    anchor = (const char *) ev->data.mapping_start.anchor;
    tag = (const char *) ev->data.mapping_start.tag;
    break;
  case YAML_SEQUENCE_END_EVENT:
  case YAML_MAPPING_END_EVENT:
    if (y->depth == 0)
      return 0;
    return pop (y) < 0 ? -2 : 0;
  default:
    return 0;
  }

  if (kind != FERRY_YNODE_SCALAR && y->depth >= FERRY_PLAN_MAX_DEPTH) {
    ferry_plan_diag (y->ctx, pos, NULL, "nesting deeper than %d levels",
                     FERRY_PLAN_MAX_DEPTH);
    return -1;
  }
  n = node_new (y, kind, pos);
  if (n == NULL)
    return -2;
  if (!tag_ok (tag, kind))
    ferry_plan_diag (y->ctx, pos, NULL, "unsupported YAML tag '%s'", tag);
  if (kind == FERRY_YNODE_SCALAR) {
    n->str =
        strndup ((const char *) ev->data.scalar.value, ev->data.scalar.length);
    if (n->str == NULL)
      return -2;
    if (strlen (n->str) != ev->data.scalar.length) {
      ferry_plan_diag (y->ctx, pos, NULL, "NUL character in a scalar");
      return -1;
    }
    n->stype = FERRY_YSCALAR_STR;
    if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && tag == NULL)
      n->stype = resolve_plain (n->str);
    if (anchor) {
      char *a = strdup (anchor);
      if (a == NULL || anchor_add (y, a, n) < 0) {
        free (a);
        return -2;
      }
    }
    return attach (y, n) < 0 ? -2 : 0;
  }
  y->stack[y->depth].node = n;
  if (anchor) {
    y->stack[y->depth].anchor = strdup (anchor);
    if (y->stack[y->depth].anchor == NULL)
      return -2;
  }
  y->depth++;
  return 0;
}

/* Parse plan text BUF (LEN bytes) into DOC: exactly one YAML document, after
 * check_text has vetted the raw bytes. Syntax errors become diagnostics in
 * CTX with their position; running out of memory sets ctx->oom instead.
 * Every node made is recorded in DOC, even when parsing fails half way, so
 * the caller frees DOC with ferry_plan_yaml_free in both cases. Return 0, or
 * -1. */
int
ferry_plan_yaml_parse (struct ferry_pctx *ctx, const char *buf, size_t len,
                       struct ferry_ydoc *doc)
{
  struct yparse y = {.ctx = ctx, .doc = doc};
  yaml_parser_t parser;
  yaml_event_t ev;
  unsigned n_docs = 0;
  int r = 0;
  size_t i;

  memset (doc, 0, sizeof *doc);
  if (check_text (ctx, (const unsigned char *) buf, len) < 0)
    return -1;
  if (!yaml_parser_initialize (&parser)) {
    ctx->oom = true;
    return -1;
  }
  yaml_parser_set_input_string (&parser, (const unsigned char *) buf, len);
  yaml_parser_set_encoding (&parser, YAML_UTF8_ENCODING);
  for (;;) {
    if (!yaml_parser_parse (&parser, &ev)) {
      struct ferry_pos pos = mark_pos (parser.problem_mark);
      if (parser.error == YAML_MEMORY_ERROR)
        ctx->oom = true;
      else if (parser.context)
        ferry_plan_diag (
            ctx, pos, NULL, "YAML syntax error: %s (%s at line %u)",
            parser.problem ? parser.problem : "unknown problem", parser.context,
            (unsigned) parser.context_mark.line + 1);
      else
        ferry_plan_diag (ctx, pos, NULL, "YAML syntax error: %s",
                         parser.problem ? parser.problem : "unknown problem");
      r = -1;
      break;
    }
    r = on_event (&y, &ev, &n_docs);
    yaml_event_delete (&ev);
    if (r == -2)
      ctx->oom = true;
    if (r != 0)
      break;
  }
  yaml_parser_delete (&parser);
  while (y.depth > 0) {
    struct yframe *f = &y.stack[--y.depth];
    free (f->raw);
    free (f->anchor);
  }
  for (i = 0; i < y.n_anchors; i++)
    free (y.anchors[i].name);
  free (y.anchors);
  return r == 1 ? 0 : -1;
}

/* Free every node of DOC (through its list of all nodes, so aliases shared
 * by several parents are freed once) and leave DOC empty; NULL is allowed. */
void
ferry_plan_yaml_free (struct ferry_ydoc *doc)
{
  size_t i;

  if (doc == NULL)
    return;
  for (i = 0; i < doc->n_all; i++) {
    free (doc->all[i]->str);
    free (doc->all[i]->items);
    free (doc->all[i]->ents);
    free (doc->all[i]);
  }
  free (doc->all);
  memset (doc, 0, sizeof *doc);
}

/* The entry of mapping MAP whose key is KEY, or NULL when there is none or
 * MAP is NULL or not a mapping, so lookups can be chained without checks.
 * Keys are unique after parsing, so the first match is the only one. */
const struct ferry_yent *
ferry_ynode_ent (const struct ferry_ynode *map, const char *key)
{
  size_t i;

  if (map == NULL || map->kind != FERRY_YNODE_MAP)
    return NULL;
  for (i = 0; i < map->n_ents; i++)
    if (map->ents[i].key->str && strcmp (map->ents[i].key->str, key) == 0)
      return &map->ents[i];
  return NULL;
}

/* The value of KEY in mapping MAP, or NULL (as for ferry_ynode_ent). */
const struct ferry_ynode *
ferry_ynode_get (const struct ferry_ynode *map, const char *key)
{
  const struct ferry_yent *e = ferry_ynode_ent (map, key);

  return e ? e->value : NULL;
}
