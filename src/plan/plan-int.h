/* Internals of the plan loader: the YAML node tree (yaml.c), the diagnostic
 * collector (plan.c), tree → struct (parse.c), cross checks (validate.c). */
#ifndef FERRY_PLAN_INT_H
#define FERRY_PLAN_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plan/plan.h"

#define FERRY_PLAN_MAX_BYTES (16u << 20) /* larger plan files are refused */
#define FERRY_PLAN_MAX_DEPTH 64          /* deepest nesting accepted */
#define FERRY_PLAN_MAX_EXPANDED 10000    /* nodes added by alias expansion */

enum ferry_ynode_kind {
  FERRY_YNODE_SCALAR,
  FERRY_YNODE_SEQ,
  FERRY_YNODE_MAP,
  FERRY_YNODE_LAST
};

/* What a scalar resolves to (YAML 1.1 plain-scalar rules, as PyYAML). */
enum ferry_yscalar {
  FERRY_YSCALAR_STR,
  FERRY_YSCALAR_INT,
  FERRY_YSCALAR_BOOL,
  FERRY_YSCALAR_FLOAT,
  FERRY_YSCALAR_NULL,
  FERRY_YSCALAR_MERGE, /* a plain "<<" key */
  FERRY_YSCALAR_LAST
};

struct ferry_ynode;

/* One entry of a mapping (after merge keys are applied). */
struct ferry_yent {
  struct ferry_ynode *key;   /* a scalar */
  struct ferry_ynode *value; /* any node, possibly shared through an alias */
};

/* A node of the document.  Aliases share nodes, so the tree is a DAG and
 * nothing below the document may be modified after it is built. */
struct ferry_ynode {
  enum ferry_ynode_kind kind; /* scalar, sequence or mapping */
  enum ferry_yscalar stype;   /* scalars: resolved type */
  struct ferry_pos pos;       /* where the node starts */
  char *str;                  /* scalars: the value, NUL-terminated */
  struct ferry_ynode **items; /* sequences */
  size_t n_items;
  struct ferry_yent *ents; /* mappings, in document order */
  size_t n_ents;
  uint64_t size;  /* nodes in the fully expanded subtree */
  unsigned depth; /* levels in the fully expanded subtree */
};

/* A parsed document; owns every node. */
struct ferry_ydoc {
  struct ferry_ynode *root; /* NULL for an empty document */
  struct ferry_ynode **all; /* every node allocated, for freeing */
  size_t n_all;
  size_t cap_all;
};

/* One collected diagnostic. */
struct ferry_pdiag {
  struct ferry_pos pos; /* for sorting; line 0 sorts first */
  size_t seq;           /* insertion order, breaks ties */
  char *line;           /* the formatted line */
};

/* State shared by the loader passes. */
struct ferry_pctx {
  const char *file;      /* plan file name, for messages */
  const char *dir;       /* directory relative paths resolve against */
  unsigned flags;        /* FERRY_PLAN_* */
  struct ferry_pdiag *d; /* diagnostics so far */
  size_t n_d;
  size_t cap_d;
  bool oom; /* an allocation failed somewhere */
};

/* Add "file:line:col: path: message" (path may be NULL or ""). */
void ferry_plan_diag (struct ferry_pctx *ctx, struct ferry_pos pos,
                      const char *path, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

/* Parse BUF into DOC.  Problems are added to CTX; returns -1 when the
 * document could not be built at all. */
int ferry_plan_yaml_parse (struct ferry_pctx *ctx, const char *buf, size_t len,
                           struct ferry_ydoc *doc);
void ferry_plan_yaml_free (struct ferry_ydoc *doc);
/* The value for KEY in mapping MAP (NULL if MAP is not a mapping). */
const struct ferry_ynode *ferry_ynode_get (const struct ferry_ynode *map,
                                           const char *key);
/* The entry for KEY (to reach the key's position). */
const struct ferry_yent *ferry_ynode_ent (const struct ferry_ynode *map,
                                          const char *key);

/* Build PLAN from the document ROOT, reporting every problem in CTX. */
void ferry_plan_parse_tree (struct ferry_pctx *ctx,
                            const struct ferry_ynode *root,
                            struct ferry_plan *plan);
/* Cross checks (names, duplicates, cycles, disks) on a parsed PLAN. */
void ferry_plan_validate (struct ferry_pctx *ctx,
                          const struct ferry_ynode *root,
                          struct ferry_plan *plan);

/* Resolve P against DIR (absolute P is returned as a copy). */
char *ferry_plan_resolve (const char *dir, const char *p);
/* Damerau-free Levenshtein distance, capped at CAP + 1. */
size_t ferry_plan_distance (const char *a, const char *b, size_t cap);

#endif
