/* A libvirt domain's XML read into struct ferry_lvx_domain and rewritten for
 * a target, with libxml2's tree API.  The XML comes from another host, so
 * the parser is locked down: at most 4 MiB, no network, no DTD (a DOCTYPE
 * stops the parser from its SAX callback before any entity is declared, so
 * entity bombs never start), no entity substitution, no XInclude, libxml2's
 * own error printing replaced by a handler that keeps the first error for
 * struct ferry_err.  Every value that ferry uses is checked here. */
#include "clients/libvirt-xml.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/SAX2.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "util/cleanup.h"
#include "util/dl.h"

#define LVX_MAX_XML ((size_t) 4 * 1024 * 1024)
#define LVX_MAX_VCPUS 4096
#define LVX_MAX_ATTRS 128
#define LVX_QEMU_NS "http://libvirt.org/schemas/domain/qemu/1.0"

#if LIBXML_VERSION >= 21200
typedef const xmlError *lvx_error_ptr;
#else
typedef xmlErrorPtr lvx_error_ptr;
#endif

static const char *const disk_type_names[] = {
    [FERRY_LVX_DISK_FILE] = "file",
    [FERRY_LVX_DISK_BLOCK] = "block",
    [FERRY_LVX_DISK_NETWORK] = "network",
    [FERRY_LVX_DISK_OTHER] = "other",
};
static_assert (FERRY_ARRAY_SIZE (disk_type_names) == FERRY_LVX_DISK_LAST,
               "disk_type_names matches enum ferry_lvx_disk_type");

/* libxml2's errors during one call: the first one, and the handlers that
 * were installed before (restored at the end of the call). */
struct lvx_errs {
  bool set;                     /* an error was recorded */
  int line;                     /* its line in the document */
  char msg[256];                /* libxml2's message, one line */
  xmlStructuredErrorFunc old_s; /* handler before this call */
  void *old_sctx;               /* its context */
  xmlGenericErrorFunc old_g;    /* generic handler before this call */
  void *old_gctx;               /* its context */
};

/* Per-parse state reached from the SAX callbacks through ctxt->_private. */
struct lvx_parse {
  bool doctype; /* a DOCTYPE was met: the parser was stopped */
  int line;     /* where */
};

const char *
ferry_lvx_disk_type_name (enum ferry_lvx_disk_type t)
{
  return (unsigned) t < FERRY_LVX_DISK_LAST ? disk_type_names[t] : "other";
}

/* Structured error handler: keep the first error (not warnings) as one
 * line, so nothing reaches stderr and the message can go into ferry_err. */
static void
lvx_on_error (void *data, lvx_error_ptr e)
{
  struct lvx_errs *errs = data;
  size_t n;

  if (errs == NULL || e == NULL || errs->set || e->level < XML_ERR_ERROR)
    return;
  errs->set = true;
  errs->line = e->line;
  snprintf (errs->msg, sizeof errs->msg, "%s",
            e->message ? e->message : "unknown error");
  n = strlen (errs->msg);
  while (n > 0 && (errs->msg[n - 1] == '\n' || errs->msg[n - 1] == ' '))
    errs->msg[--n] = '\0';
  for (n = 0; errs->msg[n] != '\0'; n++)
    if ((unsigned char) errs->msg[n] < 0x20)
      errs->msg[n] = ' ';
  /* House style: messages start lower-case ("Start tag expected"). */
  if (errs->msg[0] >= 'A' && errs->msg[0] <= 'Z' && errs->msg[1] >= 'a' &&
      errs->msg[1] <= 'z')
    errs->msg[0] = (char) (errs->msg[0] - 'A' + 'a');
}

/* Generic (printf-style) handler that drops everything: the structured one
 * above already has what matters. */
static void
lvx_drop_generic (void *ctx, const char *msg, ...)
{
  (void) ctx, (void) msg;
}

/* Route libxml2's errors (thread-local handlers) to ERRS for one call. */
static void
lvx_errs_begin (struct lvx_errs *errs)
{
  memset (errs, 0, sizeof *errs);
  xmlInitParser ();
  errs->old_s = xmlStructuredError;
  errs->old_sctx = xmlStructuredErrorContext;
  errs->old_g = xmlGenericError;
  errs->old_gctx = xmlGenericErrorContext;
  xmlSetStructuredErrorFunc (errs, lvx_on_error);
  xmlSetGenericErrorFunc (NULL, lvx_drop_generic);
}

/* Put back the handlers lvx_errs_begin replaced. */
static void
lvx_errs_end (struct lvx_errs *errs)
{
  xmlSetStructuredErrorFunc (errs->old_sctx, errs->old_s);
  xmlSetGenericErrorFunc (errs->old_gctx, errs->old_g);
}

/* SAX callback for <!DOCTYPE ...>: ferry never needs a DTD and a DTD is
 * where entity bombs and external entities live, so stop the parser here,
 * before the internal subset is read. */
static void
lvx_on_doctype (void *ctx, const xmlChar *name, const xmlChar *external_id,
                const xmlChar *system_id)
{
  xmlParserCtxtPtr ctxt = ctx;
  struct lvx_parse *p = ctxt->_private;

  (void) name, (void) external_id, (void) system_id;
  p->doctype = true;
  p->line = xmlSAX2GetLineNumber (ctxt);
  xmlStopParser (ctxt);
}

/* The line of byte POS of XML, for messages. */
static size_t
line_of (const char *xml, size_t pos)
{
  size_t line = 1, i;

  for (i = 0; i < pos; i++)
    line += xml[i] == '\n';
  return line;
}

/* Where the string END (length N) starts in XML from FROM on, or LEN. */
static size_t
skip_to (const char *xml, size_t len, size_t from, const char *end, size_t n)
{
  const char *p;

  if (from >= len)
    return len;
  p = memmem (xml + from, len - from, end, n);
  return p ? (size_t) (p - xml) + n : len;
}

/* libxml2 before 2.11 checks the attributes (and namespace declarations)
 * of an element for duplicates pairwise: 80,000 on one element take half a
 * minute.  No libvirt element has more than a few dozen, so count them in a
 * lexical pass first (quoted values, comments, CDATA sections and
 * processing instructions skipped; the document is read as UTF-8, so
 * bytes are characters here) and refuse a tag with more than
 * LVX_MAX_ATTRS.  Return 0, or -1 with ERR set. */
static int
lvx_prescan (const char *what, const char *xml, size_t len,
             struct ferry_err *err)
{
  size_t i = 0, n, start;
  const char *p;
  char q;

  while (i < len && (p = memchr (xml + i, '<', len - i)) != NULL) {
    i = start = (size_t) (p - xml);
    if (len - i >= 4 && memcmp (p, "<!--", 4) == 0) {
      i = skip_to (xml, len, i + 4, "-->", 3);
      continue;
    }
    if (len - i >= 9 && memcmp (p, "<![CDATA[", 9) == 0) {
      i = skip_to (xml, len, i + 9, "]]>", 3);
      continue;
    }
    if (len - i >= 2 && memcmp (p, "<?", 2) == 0) {
      i = skip_to (xml, len, i + 2, "?>", 2);
      continue;
    }
    for (i++, n = 0, q = 0; i < len; i++) {
      char c = xml[i];
      if (q != 0) {
        if (c == q)
          q = 0;
      } else if (c == '"' || c == '\'')
        q = c;
      else if (c == '>')
        break;
      else if (c == '=' && ++n > LVX_MAX_ATTRS)
        return ferry_err_set (err, 0,
                              "%s: line %zu: more than %d attributes in one "
                              "tag",
                              what, line_of (xml, start), LVX_MAX_ATTRS);
    }
  }
  return 0;
}

/* Parse untrusted XML (WHAT names it in messages) with the locked-down
 * options.  Return the document (xmlFreeDoc), or NULL with ERR set. */
static xmlDocPtr
lvx_read (const char *what, const char *xml, size_t len, struct lvx_errs *errs,
          struct ferry_err *err)
{
  struct lvx_parse p = {0};
  xmlParserCtxtPtr ctxt;
  xmlDocPtr doc;

  if (xml == NULL || len == 0)
    return ferry_err_set (err, 0, "%s: empty document", what), NULL;
  if (len > LVX_MAX_XML)
    return ferry_err_set (err, 0, "%s: %zu bytes, more than the 4 MiB allowed",
                          what, len),
           NULL;
  if (lvx_prescan (what, xml, len, err) < 0)
    return NULL;
  ctxt = xmlNewParserCtxt ();
  if (ctxt == NULL)
    return ferry_err_set (err, ENOMEM, "%s: cannot make a parser", what), NULL;
  ctxt->_private = &p;
  ctxt->sax->internalSubset = lvx_on_doctype;
  /* UTF-8 whatever the document declares: libvirt writes nothing else,
   * and lvx_prescan reads bytes as characters. */
  doc = xmlCtxtReadMemory (ctxt, xml, (int) len, NULL, "UTF-8",
                           XML_PARSE_NONET | XML_PARSE_IGNORE_ENC);
  xmlFreeParserCtxt (ctxt);
  if (p.doctype) {
    xmlFreeDoc (doc);
    return ferry_err_set (err, 0, "%s: line %d: a DOCTYPE is not allowed", what,
                          p.line),
           NULL;
  }
  if (doc == NULL) {
    if (errs->set)
      return ferry_err_set (err, 0, "%s: line %d: %s", what, errs->line,
                            errs->msg),
             NULL;
    return ferry_err_set (err, 0, "%s: not well-formed", what), NULL;
  }
  if (doc->intSubset != NULL || doc->extSubset != NULL) {
    xmlFreeDoc (doc);
    return ferry_err_set (err, 0, "%s: a DOCTYPE is not allowed", what), NULL;
  }
  if (xmlDocGetRootElement (doc) == NULL) {
    xmlFreeDoc (doc);
    return ferry_err_set (err, 0, "%s: no root element", what), NULL;
  }
  return doc;
}

/* Parse XML and check that its root is <domain> (no namespace).  Return
 * the document, or NULL with ERR set. */
static xmlDocPtr
lvx_read_domain (const char *xml, size_t len, struct lvx_errs *errs,
                 struct ferry_err *err)
{
  xmlDocPtr doc = lvx_read ("domain XML", xml, len, errs, err);
  xmlNodePtr root;

  if (doc == NULL)
    return NULL;
  root = xmlDocGetRootElement (doc);
  if (root->ns != NULL || !xmlStrEqual (root->name, BAD_CAST "domain")) {
    xmlFreeDoc (doc);
    return ferry_err_set (err, 0,
                          "domain XML: the root element is not <domain>"),
           NULL;
  }
  return doc;
}

/* True if N is an element called NAME in no namespace. */
static bool
is_el (xmlNodePtr n, const char *name)
{
  return n != NULL && n->type == XML_ELEMENT_NODE && n->ns == NULL &&
         xmlStrEqual (n->name, BAD_CAST name);
}

/* The first child element of N called NAME (no namespace), or NULL. */
static xmlNodePtr
child (xmlNodePtr n, const char *name)
{
  xmlNodePtr c;

  if (n == NULL)
    return NULL;
  for (c = n->children; c != NULL; c = c->next)
    if (is_el (c, name))
      return c;
  return NULL;
}

/* The value of attribute NAME (no namespace) of N, NULL when absent.
 * Without a DTD libxml2 resolves character and predefined entity
 * references while parsing, so a value is one text node (or none: ""). */
static const char *
attr (xmlNodePtr n, const char *name)
{
  xmlAttrPtr a;

  if (n == NULL)
    return NULL;
  for (a = n->properties; a != NULL; a = a->next) {
    if (a->ns != NULL || !xmlStrEqual (a->name, BAD_CAST name))
      continue;
    if (a->children == NULL)
      return "";
    if (a->children->type == XML_TEXT_NODE && a->children->next == NULL &&
        a->children->content != NULL)
      return (const char *) a->children->content;
    return "\x01"; /* not a plain value: fails every check below */
  }
  return NULL;
}

/* Free what xmlNodeGetContent and xmlGetNoNsProp return. */
static void
lvx_xfree (xmlChar **p)
{
  if (*p)
    xmlFree (*p);
}
#define CLEANUP_XFREE __attribute__ ((cleanup (lvx_xfree)))

/* A printable copy of untrusted S for messages: at most 64 bytes, control
 * characters and quotes replaced by '?'. */
static const char *
show (const char *s, char buf[static 72])
{
  size_t i;

  if (s == NULL)
    return "";
  for (i = 0; s[i] != '\0' && i < 64; i++)
    buf[i] = ((unsigned char) s[i] < 0x20 || s[i] == 0x7f || s[i] == '\'')
                 ? '?'
                 : s[i];
  if (s[i] != '\0') {
    memcpy (buf + i, "...", 3);
    i += 3;
  }
  buf[i] = '\0';
  return buf;
}

/* True if S is a non-empty value without control characters (names,
 * paths, network names). */
static bool
text_ok (const char *s)
{
  if (s == NULL || *s == '\0')
    return false;
  for (; *s; s++)
    if ((unsigned char) *s < 0x20 || *s == 0x7f)
      return false;
  return true;
}

/* True if S is a short token of [A-Za-z0-9._+-] (types, buses, formats,
 * models, target devices), 1 to 32 bytes. */
static bool
token_ok (const char *s)
{
  size_t i;

  if (s == NULL || *s == '\0')
    return false;
  for (i = 0; s[i]; i++) {
    char c = s[i];
    if (i >= 32 || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                     (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                     c == '-' || c == '+'))
      return false;
  }
  return true;
}

/* S without leading and trailing XML blanks, copied into a new string
 * (*RET, caller frees).  Return 0, or -1 on allocation failure. */
static int
trim_dup (const char *s, char **ret)
{
  size_t n;

  while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
    s++;
  n = strlen (s);
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' ||
                   s[n - 1] == '\r'))
    n--;
  *ret = strndup (s, n);
  return *ret ? 0 : -1;
}

/* The text of element N, trimmed, into *RET (caller frees; "" when N has
 * no text).  Return 0, or -1 with ERR set (allocation). */
static int
text_of (xmlNodePtr n, char **ret, struct ferry_err *err)
{
  CLEANUP_XFREE xmlChar *c = xmlNodeGetContent (n);

  if (trim_dup (c ? (const char *) c : "", ret) < 0)
    return ferry_err_set (err, ENOMEM, "domain XML: cannot allocate memory");
  return 0;
}

/* Parse a decimal unsigned number (digits only, XML blanks around) into
 * *RET.  Return 0, or -1 when S is not one or does not fit in 64 bits. */
static int
parse_u64 (const char *s, uint64_t *ret)
{
  uint64_t v = 0;
  bool any = false;

  if (s == NULL)
    return -1;
  while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
    s++;
  for (; *s >= '0' && *s <= '9'; s++) {
    if (__builtin_mul_overflow (v, 10, &v) ||
        __builtin_add_overflow (v, (uint64_t) (*s - '0'), &v))
      return -1;
    any = true;
  }
  while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
    s++;
  if (!any || *s != '\0')
    return -1;
  *ret = v;
  return 0;
}

/* Parse an unsigned number in C notation (decimal, or hex with 0x, as
 * libvirt writes addresses) no larger than MAX.  Return 0 or -1. */
static int
parse_addr (const char *s, unsigned long max, unsigned long *ret)
{
  char *end;
  unsigned long v;

  if (s == NULL || !((*s >= '0' && *s <= '9')))
    return -1;
  errno = 0;
  v = strtoul (s, &end, 0);
  if (errno != 0 || *end != '\0' || v > max)
    return -1;
  *ret = v;
  return 0;
}

/* The size in bytes of memory unit UNIT as libvirt reads it (NULL or ""
 * is KiB; b/byte/bytes; k/K/KiB... powers of 1024; KB/MB... powers of
 * 1000).  Return 0, or -1 for an unknown unit. */
static int
unit_scale (const char *unit, uint64_t *ret)
{
  static const char prefixes[] = "kmgtpe";
  const char *p;
  uint64_t base, scale = 1;
  int i, power;

  if (unit == NULL || *unit == '\0') {
    *ret = 1024;
    return 0;
  }
  if (strcasecmp (unit, "b") == 0 || strcasecmp (unit, "byte") == 0 ||
      strcasecmp (unit, "bytes") == 0) {
    *ret = 1;
    return 0;
  }
  p = strchr (prefixes,
              unit[0] >= 'A' && unit[0] <= 'Z' ? unit[0] - 'A' + 'a' : unit[0]);
  if (p == NULL || unit[0] == '\0')
    return -1;
  power = (int) (p - prefixes) + 1;
  if (unit[1] == '\0' || strcasecmp (unit + 1, "iB") == 0)
    base = 1024;
  else if ((unit[1] == 'b' || unit[1] == 'B') && unit[2] == '\0')
    base = 1000;
  else
    return -1;
  for (i = 0; i < power; i++)
    if (__builtin_mul_overflow (scale, base, &scale))
      return -1;
  *ret = scale;
  return 0;
}

/* <memory>/<currentMemory> element N in KiB (rounded up, as libvirt
 * does) into *RET.  The size in bytes must fit in 64 bits and not be 0.
 * Return 0, or -1 with ERR set. */
static int
parse_memory (xmlNodePtr n, uint64_t *ret, struct ferry_err *err)
{
  CLEANUP_FREE char *text = NULL;
  const char *unit = attr (n, "unit");
  uint64_t v, scale, bytes;
  char b1[72], b2[72];

  if (text_of (n, &text, err) < 0)
    return -1;
  if (parse_u64 (text, &v) < 0)
    return ferry_err_set (err, 0, "domain XML: <%s> '%s' is not a number",
                          (const char *) n->name, show (text, b1));
  if (unit_scale (unit, &scale) < 0)
    return ferry_err_set (err, 0, "domain XML: <%s> has an unknown unit '%s'",
                          (const char *) n->name, show (unit, b2));
  if (__builtin_mul_overflow (v, scale, &bytes))
    return ferry_err_set (err, 0, "domain XML: <%s> %s %s is too large",
                          (const char *) n->name, show (text, b1),
                          unit ? show (unit, b2) : "KiB");
  if (bytes == 0)
    return ferry_err_set (err, 0, "domain XML: <%s> is 0",
                          (const char *) n->name);
  *ret = bytes / 1024 + (bytes % 1024 != 0);
  return 0;
}

/* Check that S is a UUID (8-4-4-4-12 hex digits, either case) and store
 * its lower-case form in *RET.  Return 0, or -1 with ERR set. */
static int
parse_uuid (const char *s, char **ret, struct ferry_err *err)
{
  char buf[37], b[72];
  size_t i;

  if (strlen (s) != 36)
    goto bad;
  for (i = 0; i < 36; i++) {
    char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-')
        goto bad;
    } else if (c >= 'A' && c <= 'F')
      c = (char) (c - 'A' + 'a');
    else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      goto bad;
    buf[i] = c;
  }
  buf[36] = '\0';
  *ret = strdup (buf);
  if (*ret == NULL)
    return ferry_err_set (err, ENOMEM, "domain XML: cannot allocate memory");
  return 0;
bad:
  return ferry_err_set (err, 0, "domain XML: bad uuid '%s'", show (s, b));
}

/* Check that S is a unicast MAC address (aa:bb:cc:dd:ee:ff, either case)
 * and store its lower-case form in *RET.  Return 0, or -1 with ERR. */
static int
parse_mac (const char *s, char **ret, struct ferry_err *err)
{
  char buf[18], b[72];
  size_t i;
  unsigned first;

  if (s == NULL || strlen (s) != 17)
    goto bad;
  for (i = 0; i < 17; i++) {
    char c = s[i];
    if (i % 3 == 2) {
      if (c != ':')
        goto bad;
    } else if (c >= 'A' && c <= 'F')
      c = (char) (c - 'A' + 'a');
    else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      goto bad;
    buf[i] = c;
  }
  buf[17] = '\0';
  first = (unsigned) strtoul (buf, NULL, 16);
  if (first & 1)
    return ferry_err_set (
        err, 0, "domain XML: mac address '%s' is a multicast address", buf);
  *ret = strdup (buf);
  if (*ret == NULL)
    return ferry_err_set (err, ENOMEM, "domain XML: cannot allocate memory");
  return 0;
bad:
  return ferry_err_set (err, 0, "domain XML: bad mac address '%s'",
                        show (s, b));
}

/* Copy optional attribute value V into *RET (NULL stays NULL), checked
 * with OK (when not NULL).  WHAT and NAME describe it in messages.
 * Return 0, or -1 with ERR set. */
static int
copy_checked (const char *v, bool (*ok) (const char *), const char *what,
              const char *name, char **ret, struct ferry_err *err)
{
  char b[72];

  if (v == NULL)
    return 0;
  if (ok != NULL && !ok (v))
    return ferry_err_set (err, 0, "domain XML: %s: bad %s '%s'", what, name,
                          show (v, b));
  *ret = strdup (v);
  if (*ret == NULL)
    return ferry_err_set (err, ENOMEM, "domain XML: cannot allocate memory");
  return 0;
}

/* Append a blocker line (printf FMT) to D.  Return 0, or -1 with ERR. */
static int __attribute__ ((format (printf, 3, 4)))
add_blocker (struct ferry_lvx_domain *d, struct ferry_err *err, const char *fmt,
             ...)
{
  va_list ap;
  char *line, **n;
  int r;

  va_start (ap, fmt);
  r = vasprintf (&line, fmt, ap);
  va_end (ap);
  if (r < 0)
    return ferry_err_set (err, ENOMEM, "domain XML: cannot allocate memory");
  n = realloc (d->blockers, (d->n_blockers + 1) * sizeof *n);
  if (n == NULL) {
    free (line);
    return ferry_err_set (err, ENOMEM, "domain XML: cannot allocate memory");
  }
  d->blockers = n;
  d->blockers[d->n_blockers++] = line;
  return 0;
}

/* The blocker line for <hostdev> element H: its kind and, when it is
 * well-formed, the host address it names. */
static int
hostdev_blocker (struct ferry_lvx_domain *d, xmlNodePtr h,
                 struct ferry_err *err)
{
  const char *mode = attr (h, "mode");
  const char *type = attr (h, "type");
  xmlNodePtr src = child (h, "source");
  xmlNodePtr addr = child (src, "address");
  unsigned long dom, bus, slot, fn, dev, tgt, unit;
  char b1[72], b2[72];

  if (mode != NULL && strcmp (mode, "subsystem") != 0)
    return add_blocker (d, err, "hostdev %s '%s' (host device passthrough)",
                        show (mode, b1), show (type, b2));
  if (type == NULL)
    return add_blocker (d, err, "hostdev (device passthrough)");
  if (strcmp (type, "pci") == 0) {
    if (parse_addr (attr (addr, "domain"), 0xffff, &dom) == 0 &&
        parse_addr (attr (addr, "bus"), 0xff, &bus) == 0 &&
        parse_addr (attr (addr, "slot"), 0x1f, &slot) == 0 &&
        parse_addr (attr (addr, "function"), 7, &fn) == 0)
      return add_blocker (d, err,
                          "hostdev pci %04lx:%02lx:%02lx.%lx (device "
                          "passthrough)",
                          dom, bus, slot, fn);
    return add_blocker (d, err, "hostdev pci (device passthrough)");
  }
  if (strcmp (type, "usb") == 0) {
    const char *vendor = attr (child (src, "vendor"), "id");
    const char *product = attr (child (src, "product"), "id");
    unsigned long v, p;
    if (parse_addr (vendor, 0xffff, &v) == 0 &&
        parse_addr (product, 0xffff, &p) == 0)
      return add_blocker (d, err,
                          "hostdev usb %04lx:%04lx (device passthrough)", v, p);
    if (parse_addr (attr (addr, "bus"), 0xffff, &bus) == 0 &&
        parse_addr (attr (addr, "device"), 0xffff, &dev) == 0)
      return add_blocker (d, err,
                          "hostdev usb bus %lu device %lu (device passthrough)",
                          bus, dev);
    return add_blocker (d, err, "hostdev usb (device passthrough)");
  }
  if (strcmp (type, "scsi") == 0) {
    const char *adapter = attr (child (src, "adapter"), "name");
    if (adapter != NULL && token_ok (adapter) &&
        parse_addr (attr (addr, "bus"), 0xffff, &bus) == 0 &&
        parse_addr (attr (addr, "target"), 0xffff, &tgt) == 0 &&
        parse_addr (attr (addr, "unit"), 0xffffffff, &unit) == 0)
      return add_blocker (d, err,
                          "hostdev scsi %s:%lu:%lu:%lu (device passthrough)",
                          adapter, bus, tgt, unit);
    return add_blocker (d, err, "hostdev scsi (device passthrough)");
  }
  if (strcmp (type, "mdev") == 0) {
    const char *uuid = attr (addr, "uuid");
    CLEANUP_FREE char *u = NULL;
    struct ferry_err ignore = {0};
    if (uuid != NULL && parse_uuid (uuid, &u, &ignore) == 0)
      return add_blocker (d, err, "hostdev mdev %s (mediated device)", u);
    return add_blocker (d, err, "hostdev mdev (mediated device)");
  }
  return add_blocker (d, err, "hostdev %s (device passthrough)",
                      show (type, b1));
}

/* Read <disk> element N into DISK (index I for messages) and add the
 * blockers it brings to D.  Return 0, or -1 with ERR set. */
static int
parse_disk (struct ferry_lvx_domain *d, size_t i, xmlNodePtr n,
            struct ferry_lvx_disk *disk, struct ferry_err *err)
{
  const char *type = attr (n, "type");
  const char *device = attr (n, "device");
  xmlNodePtr target = child (n, "target");
  xmlNodePtr src = child (n, "source");
  xmlNodePtr host = child (src, "host");
  xmlNodePtr bs;
  char what[64], b1[72], b2[72];
  bool removable;

  snprintf (what, sizeof what, "disk %zu", i + 1);
  if (type == NULL)
    type = "file"; /* libvirt's default */
  if (device == NULL)
    device = "disk";
  if (copy_checked (type, token_ok, what, "type", &disk->type_name, err) < 0)
    return -1;
  if (strcmp (device, "disk") != 0 && strcmp (device, "cdrom") != 0 &&
      strcmp (device, "floppy") != 0 && strcmp (device, "lun") != 0)
    return ferry_err_set (err, 0, "domain XML: %s: unknown device '%s'", what,
                          show (device, b1));
  if (copy_checked (device, NULL, what, "device", &disk->device, err) < 0)
    return -1;
  if (attr (target, "dev") == NULL)
    return ferry_err_set (err, 0, "domain XML: %s has no <target dev>", what);
  if (copy_checked (attr (target, "dev"), token_ok, what, "target",
                    &disk->target, err) < 0)
    return -1;
  snprintf (what, sizeof what, "disk '%s'", disk->target);
  if (copy_checked (attr (target, "bus"), token_ok, what, "bus", &disk->bus,
                    err) < 0 ||
      copy_checked (attr (child (n, "driver"), "type"), token_ok, what,
                    "format", &disk->format, err) < 0)
    return -1;
  disk->readonly = child (n, "readonly") != NULL;
  disk->shareable = child (n, "shareable") != NULL;
  removable = strcmp (device, "cdrom") == 0 || strcmp (device, "floppy") == 0;

  /* An ejected cdrom may be written as <source file=''/>. */
  if (removable && xmlStrEqual (BAD_CAST attr (src, "file"), BAD_CAST "") &&
      attr (src, "dev") == NULL)
    src = NULL;
  if (strcmp (type, "file") == 0) {
    disk->type = FERRY_LVX_DISK_FILE;
    if (copy_checked (attr (src, "file"), text_ok, what, "source file",
                      &disk->path, err) < 0)
      return -1;
  } else if (strcmp (type, "block") == 0) {
    disk->type = FERRY_LVX_DISK_BLOCK;
    if (copy_checked (attr (src, "dev"), text_ok, what, "source dev",
                      &disk->path, err) < 0)
      return -1;
  } else if (strcmp (type, "network") == 0) {
    const char *port = attr (host, "port");
    uint64_t p;
    disk->type = FERRY_LVX_DISK_NETWORK;
    if (attr (src, "protocol") == NULL && !removable)
      return ferry_err_set (err, 0, "domain XML: %s has no source protocol",
                            what);
    if (copy_checked (attr (src, "protocol"), token_ok, what, "protocol",
                      &disk->protocol, err) < 0 ||
        copy_checked (attr (src, "name"), text_ok, what, "source name",
                      &disk->name, err) < 0 ||
        copy_checked (attr (host, "name"), text_ok, what, "host", &disk->host,
                      err) < 0)
      return -1;
    if (port != NULL) {
      if (parse_u64 (port, &p) < 0 || p == 0 || p > 65535)
        return ferry_err_set (err, 0, "domain XML: %s: bad port '%s'", what,
                              show (port, b1));
      disk->port = (unsigned) p;
    }
  } else
    disk->type = FERRY_LVX_DISK_OTHER;
  disk->empty = removable && disk->path == NULL && disk->name == NULL;

  for (bs = child (n, "backingStore"); bs != NULL;
       bs = child (bs, "backingStore"))
    if (child (bs, "source") != NULL)
      disk->n_backing++;

  /* The caller decides about removable media: no blockers for them. */
  if (removable)
    return 0;
  if (strcmp (type, "volume") == 0)
    return add_blocker (d, err,
                        "%s: storage pool volume '%s/%s': not supported; use a "
                        "file or rbd disk",
                        what, show (attr (src, "pool"), b1),
                        show (attr (src, "volume"), b2));
  if (strcmp (type, "nvme") == 0)
    return add_blocker (d, err,
                        "%s: host NVMe device (type 'nvme'): not "
                        "supported",
                        what);
  if (strcmp (type, "vhostuser") == 0)
    return add_blocker (d, err,
                        "%s: vhost-user disk (type 'vhostuser'): not "
                        "supported",
                        what);
  if (strcmp (type, "dir") == 0)
    return add_blocker (d, err,
                        "%s: host directory as a disk (type 'dir'): "
                        "not supported",
                        what);
  if (disk->type == FERRY_LVX_DISK_OTHER)
    return add_blocker (d, err, "%s: disk type '%s': not supported", what,
                        disk->type_name);
  if (disk->type == FERRY_LVX_DISK_NETWORK &&
      strcmp (disk->protocol, "rbd") != 0 &&
      strcmp (disk->protocol, "nbd") != 0 &&
      strcmp (disk->protocol, "iscsi") != 0)
    return add_blocker (d, err,
                        "%s: network protocol '%s': not supported; use "
                        "rbd, nbd or iscsi",
                        what, disk->protocol);
  return 0;
}

/* Read <interface> element N (index I for messages) into NIC and add the
 * blockers it brings to D.  Return 0, or -1 with ERR set. */
static int
parse_nic (struct ferry_lvx_domain *d, size_t i, xmlNodePtr n,
           struct ferry_lvx_nic *nic, struct ferry_err *err)
{
  const char *type = attr (n, "type");
  xmlNodePtr src = child (n, "source");
  const char *source = NULL;
  const char *mac = attr (child (n, "mac"), "address");
  char what[64];

  snprintf (what, sizeof what, "interface %zu", i + 1);
  if (type == NULL)
    return ferry_err_set (err, 0, "domain XML: %s has no type", what);
  if (copy_checked (type, token_ok, what, "type", &nic->type, err) < 0)
    return -1;
  if (strcmp (type, "network") == 0)
    source = attr (src, "network");
  else if (strcmp (type, "bridge") == 0)
    source = attr (src, "bridge");
  else if (strcmp (type, "direct") == 0)
    source = attr (src, "dev");
  if (copy_checked (source, text_ok, what, "source", &nic->source, err) < 0 ||
      copy_checked (attr (child (n, "model"), "type"), token_ok, what, "model",
                    &nic->model, err) < 0)
    return -1;
  if (mac != NULL && parse_mac (mac, &nic->mac, err) < 0)
    return -1;
  if (strcmp (type, "hostdev") == 0)
    return add_blocker (d, err,
                        "interface type 'hostdev' (SR-IOV passthrough)");
  if (strcmp (type, "vdpa") == 0)
    return add_blocker (d, err,
                        "interface type 'vdpa' (vDPA device "
                        "passthrough)");
  return 0;
}

/* Count the child elements of N called NAME. */
static size_t
count_children (xmlNodePtr n, const char *name)
{
  xmlNodePtr c;
  size_t k = 0;

  if (n == NULL)
    return 0;
  for (c = n->children; c != NULL; c = c->next)
    if (is_el (c, name))
      k++;
  return k;
}

/* Read <devices> (DEVS, may be NULL) into D: disks, NICs, the guest agent
 * channel and the devices that tie the domain to its host.  Return 0, or
 * -1 with ERR set. */
static int
parse_devices (struct ferry_lvx_domain *d, xmlNodePtr devs,
               struct ferry_err *err)
{
  size_t nd = count_children (devs, "disk"),
         nn = count_children (devs, "interface");
  xmlNodePtr c;
  char b1[72], b2[72];
  int r = 0;

  if (devs == NULL)
    return 0;
  if (nd > 0 && (d->disks = calloc (nd, sizeof *d->disks)) == NULL)
    return ferry_err_set (err, ENOMEM, "domain XML: cannot allocate memory");
  if (nn > 0 && (d->nics = calloc (nn, sizeof *d->nics)) == NULL)
    return ferry_err_set (err, ENOMEM, "domain XML: cannot allocate memory");
  for (c = devs->children; c != NULL && r == 0; c = c->next) {
    if (is_el (c, "disk")) {
      d->n_disks++;
      r = parse_disk (d, d->n_disks - 1, c, &d->disks[d->n_disks - 1], err);
    } else if (is_el (c, "interface")) {
      d->n_nics++;
      r = parse_nic (d, d->n_nics - 1, c, &d->nics[d->n_nics - 1], err);
    } else if (is_el (c, "channel")) {
      const char *name = attr (child (c, "target"), "name");
      if (name != NULL && strcmp (name, "org.qemu.guest_agent.0") == 0)
        d->has_agent = true;
    } else if (is_el (c, "hostdev"))
      r = hostdev_blocker (d, c, err);
    else if (is_el (c, "filesystem"))
      r = add_blocker (d, err, "filesystem '%s' (host directory passthrough)",
                       show (attr (child (c, "target"), "dir"), b1));
    else if (is_el (c, "smartcard")) {
      const char *mode = attr (c, "mode");
      if (mode != NULL && strcmp (mode, "passthrough") == 0)
        r = add_blocker (d, err, "smartcard passthrough (host smartcard)");
    } else if (is_el (c, "tpm")) {
      xmlNodePtr be = child (c, "backend");
      const char *type = attr (be, "type");
      if (type != NULL && strcmp (type, "passthrough") == 0)
        r = add_blocker (d, err, "tpm passthrough '%s' (host TPM)",
                         show (attr (child (be, "device"), "path"), b1));
    } else if (is_el (c, "redirdev") &&
               !xmlStrEqual (BAD_CAST attr (c, "type"), BAD_CAST "spicevmc"))
      /* spicevmc redirects the SPICE client's USB devices (virt-install
       * adds two by default): nothing on the host, so it moves. */
      r = add_blocker (d, err, "redirdev bus '%s' type '%s' (USB redirection)",
                       show (attr (c, "bus"), b1), show (attr (c, "type"), b2));
    else if (is_el (c, "shmem"))
      r = add_blocker (d, err, "shmem '%s' (host shared memory)",
                       show (attr (c, "name"), b1));
  }
  return r;
}

/* Read <os> (may be NULL) into D: arch, machine, firmware.  Return 0, or
 * -1 with ERR set. */
static int
parse_os (struct ferry_lvx_domain *d, xmlNodePtr os, struct ferry_err *err)
{
  xmlNodePtr type = child (os, "type");
  xmlNodePtr loader = child (os, "loader");
  xmlNodePtr nvram = child (os, "nvram");
  const char *fw = attr (os, "firmware");
  const char *ltype = attr (loader, "type");

  if (copy_checked (attr (type, "arch"), token_ok, "os", "arch", &d->arch,
                    err) < 0 ||
      copy_checked (attr (type, "machine"), token_ok, "os", "machine",
                    &d->machine, err) < 0)
    return -1;
  d->uefi = (fw != NULL && strcmp (fw, "efi") == 0) ||
            (ltype != NULL && strcmp (ltype, "pflash") == 0);
  if (loader != NULL) {
    CLEANUP_FREE char *t = NULL;
    if (text_of (loader, &t, err) < 0 ||
        (*t && copy_checked (t, text_ok, "os", "loader", &d->loader, err) < 0))
      return -1;
  }
  if (nvram != NULL) {
    CLEANUP_FREE char *t = NULL;
    const char *file = attr (child (nvram, "source"), "file");
    if (file != NULL)
      return copy_checked (file, text_ok, "os", "nvram", &d->nvram, err);
    if (text_of (nvram, &t, err) < 0 ||
        (*t && copy_checked (t, text_ok, "os", "nvram", &d->nvram, err) < 0))
      return -1;
  }
  return 0;
}

/* Read <vcpu> (may be NULL: 1 vCPU, libvirt's default) into D->vcpus:
 * current= if given, else the maximum, both 1..4096.  Return 0 or -1. */
static int
parse_vcpus (struct ferry_lvx_domain *d, xmlNodePtr v, struct ferry_err *err)
{
  CLEANUP_FREE char *t = NULL;
  const char *cur = attr (v, "current");
  uint64_t max, c;
  char b[72];

  d->vcpus = 1;
  if (v == NULL)
    return 0;
  if (text_of (v, &t, err) < 0)
    return -1;
  if (parse_u64 (t, &max) < 0 || max < 1 || max > LVX_MAX_VCPUS)
    return ferry_err_set (err, 0, "domain XML: <vcpu> '%s' is not 1 to %d",
                          show (t, b), LVX_MAX_VCPUS);
  c = max;
  if (cur != NULL && (parse_u64 (cur, &c) < 0 || c < 1 || c > max))
    return ferry_err_set (err, 0,
                          "domain XML: <vcpu current> '%s' is not 1 to %u",
                          show (cur, b), (unsigned) max);
  d->vcpus = (unsigned) c;
  return 0;
}

/* Read DOC's <domain> into D.  Return 0, or -1 with ERR set. */
static int
parse_domain (xmlDocPtr doc, struct ferry_lvx_domain *d, struct ferry_err *err)
{
  xmlNodePtr root = xmlDocGetRootElement (doc);
  xmlNodePtr name = child (root, "name"), uuid = child (root, "uuid");
  xmlNodePtr mem = child (root, "currentMemory"), c;
  CLEANUP_FREE char *t = NULL;
  char b[72];

  if (attr (root, "type") == NULL)
    return ferry_err_set (err, 0, "domain XML: <domain> has no type");
  if (copy_checked (attr (root, "type"), token_ok, "<domain>", "type", &d->type,
                    err) < 0)
    return -1;
  if (name == NULL)
    return ferry_err_set (err, 0, "domain XML: no <name>");
  if (text_of (name, &t, err) < 0)
    return -1;
  if (!text_ok (t) || strchr (t, '/') != NULL)
    return ferry_err_set (err, 0, "domain XML: bad name '%s'", show (t, b));
  d->name = TAKE_PTR (t);
  if (uuid != NULL &&
      (text_of (uuid, &t, err) < 0 || parse_uuid (t, &d->uuid, err) < 0))
    return -1;
  if (mem == NULL)
    mem = child (root, "memory");
  if (mem == NULL)
    return ferry_err_set (err, 0, "domain XML: no <memory>");
  if (parse_memory (mem, &d->memory_kib, err) < 0 ||
      parse_vcpus (d, child (root, "vcpu"), err) < 0 ||
      parse_os (d, child (root, "os"), err) < 0 ||
      parse_devices (d, child (root, "devices"), err) < 0)
    return -1;
  for (c = root->children; c != NULL; c = c->next)
    if (c->type == XML_ELEMENT_NODE && c->ns != NULL && c->ns->href != NULL &&
        xmlStrEqual (c->ns->href, BAD_CAST LVX_QEMU_NS) &&
        xmlStrEqual (c->name, BAD_CAST "commandline") &&
        add_blocker (d, err, "qemu:commandline passthrough arguments") < 0)
      return -1;
  return 0;
}

/* Parse untrusted domain XML into *RET: see libvirt-xml.h.  libxml2's error
 * handlers are swapped for the call only, so its messages land in ERR. */
int
ferry_lvx_domain_parse (const char *xml, size_t len,
                        struct ferry_lvx_domain *ret, struct ferry_err *err)
{
  struct lvx_errs errs;
  xmlDocPtr doc;
  int r = -1;

  memset (ret, 0, sizeof *ret);
  if (ferry_dl_load (&ferry_dl_xml2, err) < 0)
    return -1;
  lvx_errs_begin (&errs);
  doc = lvx_read_domain (xml, len, &errs, err);
  if (doc != NULL) {
    r = parse_domain (doc, ret, err);
    xmlFreeDoc (doc);
  }
  lvx_errs_end (&errs);
  return r;
}

/* Free the strings of one disk. */
static void
disk_free (struct ferry_lvx_disk *k)
{
  free (k->type_name);
  free (k->device);
  free (k->target);
  free (k->bus);
  free (k->format);
  free (k->path);
  free (k->protocol);
  free (k->name);
  free (k->host);
}

/* Free what ferry_lvx_domain_parse filled in (also after a failed parse:
 * every pointer is NULL or owned) and zero D. */
void
ferry_lvx_domain_free (struct ferry_lvx_domain *d)
{
  size_t i;

  if (d == NULL)
    return;
  free (d->name);
  free (d->uuid);
  free (d->type);
  free (d->arch);
  free (d->machine);
  free (d->loader);
  free (d->nvram);
  for (i = 0; i < d->n_disks; i++)
    disk_free (&d->disks[i]);
  free (d->disks);
  for (i = 0; i < d->n_nics; i++) {
    free (d->nics[i].type);
    free (d->nics[i].source);
    free (d->nics[i].mac);
    free (d->nics[i].model);
  }
  free (d->nics);
  for (i = 0; i < d->n_blockers; i++)
    free (d->blockers[i]);
  free (d->blockers);
  memset (d, 0, sizeof *d);
}

/* Unlink and free N together with the blank text node before it (its
 * indentation), so the rewritten document has no empty lines. */
static void
remove_node (xmlNodePtr n)
{
  xmlNodePtr prev = n->prev;

  if (prev != NULL && prev->type == XML_TEXT_NODE && xmlIsBlankNode (prev)) {
    xmlUnlinkNode (prev);
    xmlFreeNode (prev);
  }
  xmlUnlinkNode (n);
  xmlFreeNode (n);
}

/* Remove every child element of N called NAME. */
static void
remove_children (xmlNodePtr n, const char *name)
{
  xmlNodePtr c, next;

  for (c = n->children; c != NULL; c = next) {
    next = c->next;
    if (is_el (c, name))
      remove_node (c);
  }
}

/* A new empty element NAME in DOC, or NULL with ERR set. */
static xmlNodePtr
new_el (xmlDocPtr doc, const char *name, struct ferry_err *err)
{
  xmlNodePtr n = xmlNewDocNode (doc, NULL, BAD_CAST name, NULL);

  if (n == NULL)
    ferry_err_set (err, ENOMEM, "domain XML: cannot allocate memory");
  return n;
}

/* Set attribute NAME of N to VALUE (stored as text: serialisation escapes
 * it).  Return 0, or -1 with ERR set. */
static int
set_attr (xmlNodePtr n, const char *name, const char *value,
          struct ferry_err *err)
{
  if (xmlSetProp (n, BAD_CAST name, BAD_CAST value) == NULL)
    return ferry_err_set (err, ENOMEM, "domain XML: cannot allocate memory");
  return 0;
}

/* Rewrite <disk> N (I for messages) as RW says: a file source instead of
 * whatever was there (other source attributes, hosts, auth, backing chain
 * dropped), and/or a new driver format keeping the other driver
 * attributes.  Return 0, or -1 with ERR set. */
static int
rewrite_disk (xmlNodePtr n, size_t i, const struct ferry_lvx_disk_rewrite *rw,
              struct ferry_err *err)
{
  xmlNodePtr driver = child (n, "driver"), src, old, c;

  if (rw->file != NULL) {
    if (!text_ok (rw->file))
      return ferry_err_set (err, 0, "rewrite: disk %zu: bad file path", i + 1);
    if ((src = new_el (n->doc, "source", err)) == NULL)
      return -1;
    if (set_attr (src, "file", rw->file, err) < 0) {
      xmlFreeNode (src);
      return -1;
    }
    old = child (n, "source");
    if (old != NULL) {
      xmlReplaceNode (old, src);
      xmlFreeNode (old);
    } else if (driver != NULL)
      xmlAddNextSibling (driver, src);
    else if ((c = child (n, "target")) != NULL)
      xmlAddPrevSibling (c, src);
    else
      xmlAddChild (n, src);
    /* Only the new <source> stays; what described the old one goes. */
    for (c = n->children; c != NULL; c = old) {
      old = c->next;
      if ((is_el (c, "source") && c != src) || is_el (c, "backingStore") ||
          is_el (c, "auth") || is_el (c, "mirror"))
        remove_node (c);
    }
    if (set_attr (n, "type", "file", err) < 0)
      return -1;
  }
  if (rw->format != NULL) {
    if (!token_ok (rw->format))
      return ferry_err_set (err, 0, "rewrite: disk %zu: bad format '%s'", i + 1,
                            rw->format);
    if (driver == NULL) {
      if ((driver = new_el (n->doc, "driver", err)) == NULL)
        return -1;
      for (c = n->children; c != NULL && c->type != XML_ELEMENT_NODE;
           c = c->next)
        ;
      if (c != NULL)
        xmlAddPrevSibling (c, driver);
      else
        xmlAddChild (n, driver);
      if (set_attr (driver, "name", "qemu", err) < 0)
        return -1;
    }
    if (set_attr (driver, "type", rw->format, err) < 0)
      return -1;
  }
  return 0;
}

/* Rename the network or bridge of <interface> N when a map entry names it
 * exactly.  A renamed network's source loses what tied it to the old
 * host's network (the live bridge name and port id).  Return 0 or -1. */
static int
rewrite_nic (xmlNodePtr n, const struct ferry_lvx_rewrite *rw,
             struct ferry_err *err)
{
  const char *type = attr (n, "type"), *key, *cur;
  xmlNodePtr src = child (n, "source");
  size_t i;

  if (type == NULL || src == NULL)
    return 0;
  if (strcmp (type, "network") == 0)
    key = "network";
  else if (strcmp (type, "bridge") == 0)
    key = "bridge";
  else
    return 0;
  cur = attr (src, key);
  if (cur == NULL)
    return 0;
  for (i = 0; i < rw->n_nets; i++) {
    if (rw->nets[i].from == NULL || strcmp (rw->nets[i].from, cur) != 0)
      continue;
    if (!text_ok (rw->nets[i].to))
      return ferry_err_set (err, 0, "rewrite: bad network name for '%s'",
                            rw->nets[i].from);
    if (strcmp (key, "network") == 0) {
      xmlUnsetProp (src, BAD_CAST "bridge");
      xmlUnsetProp (src, BAD_CAST "portid");
    }
    return set_attr (src, key, rw->nets[i].to, err);
  }
  return 0;
}

/* Put METADATA (one element with its own namespace) under <metadata> of
 * ROOT, replacing elements of the same namespace URI; create <metadata>
 * after <uuid> (or <name>) when absent.  Return 0, or -1 with ERR set. */
static int
rewrite_metadata (xmlNodePtr root, const char *metadata, struct lvx_errs *errs,
                  struct ferry_err *err)
{
  xmlDocPtr mdoc = lvx_read ("metadata XML", metadata,
                             metadata ? strlen (metadata) : 0, errs, err);
  xmlNodePtr mroot, copy, md, c, next, first = NULL, anchor;
  int r = -1;

  if (mdoc == NULL)
    return -1;
  mroot = xmlDocGetRootElement (mdoc);
  if (mroot->ns == NULL || mroot->ns->href == NULL || !*mroot->ns->href) {
    ferry_err_set (err, 0, "metadata XML: the element has no namespace");
    goto out;
  }
  copy = xmlDocCopyNode (mroot, root->doc, 1);
  if (copy == NULL) {
    ferry_err_set (err, ENOMEM, "domain XML: cannot allocate memory");
    goto out;
  }
  md = child (root, "metadata");
  if (md == NULL) {
    if ((md = new_el (root->doc, "metadata", err)) == NULL) {
      xmlFreeNode (copy);
      goto out;
    }
    anchor = child (root, "uuid");
    if (anchor == NULL)
      anchor = child (root, "name");
    if (anchor != NULL)
      xmlAddNextSibling (anchor, md);
    else if (root->children != NULL)
      xmlAddPrevSibling (root->children, md);
    else
      xmlAddChild (root, md);
  }
  for (c = md->children; c != NULL; c = next) {
    next = c->next;
    if (c->type != XML_ELEMENT_NODE || c->ns == NULL || c->ns->href == NULL ||
        !xmlStrEqual (c->ns->href, mroot->ns->href))
      continue;
    if (first == NULL) {
      first = c;
      xmlReplaceNode (c, copy);
      xmlFreeNode (c);
    } else
      remove_node (c);
  }
  if (first == NULL)
    xmlAddChild (md, copy);
  xmlReconciliateNs (root->doc, copy);
  r = 0;
out:
  xmlFreeDoc (mdoc);
  return r;
}

/* Apply RW to DOC's <domain>.  Return 0, or -1 with ERR set. */
static int
rewrite_domain (xmlDocPtr doc, const struct ferry_lvx_rewrite *rw,
                struct lvx_errs *errs, struct ferry_err *err)
{
  xmlNodePtr root = xmlDocGetRootElement (doc);
  xmlNodePtr devs = child (root, "devices"), c, n;
  size_t nd = count_children (devs, "disk"), i = 0;

  if (rw->disks != NULL ? rw->n_disks != nd : rw->n_disks != 0)
    return ferry_err_set (err, 0,
                          "rewrite: %zu disk rewrites for a domain with %zu "
                          "disks",
                          rw->n_disks, nd);
  for (c = devs ? devs->children : NULL; c != NULL; c = c->next) {
    if (is_el (c, "disk")) {
      if (rw->disks != NULL && rewrite_disk (c, i, &rw->disks[i], err) < 0)
        return -1;
      i++;
    } else if (is_el (c, "interface") && rewrite_nic (c, rw, err) < 0)
      return -1;
  }
  if (rw->drop_uuid)
    remove_children (root, "uuid");
  if (rw->name != NULL) {
    if (!text_ok (rw->name) || strchr (rw->name, '/') != NULL)
      return ferry_err_set (err, 0, "rewrite: bad domain name");
    n = child (root, "name");
    if (n == NULL) {
      if ((n = new_el (doc, "name", err)) == NULL)
        return -1;
      if (root->children != NULL)
        xmlAddPrevSibling (root->children, n);
      else
        xmlAddChild (root, n);
    }
    xmlNodeSetContent (n, NULL);
    if (xmlAddChild (n, xmlNewDocText (doc, BAD_CAST rw->name)) == NULL)
      return ferry_err_set (err, ENOMEM, "domain XML: cannot allocate memory");
  }
  if (rw->domain_type != NULL) {
    if (!token_ok (rw->domain_type))
      return ferry_err_set (err, 0, "rewrite: bad domain type");
    if (set_attr (root, "type", rw->domain_type, err) < 0)
      return -1;
  }
  if (rw->drop_nvram_path &&
      (n = child (child (root, "os"), "nvram")) != NULL) {
    xmlNodeSetContent (n, NULL);
    xmlUnsetProp (n, BAD_CAST "type");
  }
  if (rw->metadata != NULL &&
      rewrite_metadata (root, rw->metadata, errs, err) < 0)
    return -1;
  return 0;
}

/* Serialise DOC as UTF-8 into *RET (malloc'd, NUL-terminated).  Return 0,
 * or -1 with ERR set. */
static int
dump_doc (xmlDocPtr doc, char **ret, struct ferry_err *err)
{
  xmlChar *mem = NULL;
  int size = 0;
  char *s;

  xmlDocDumpMemoryEnc (doc, &mem, &size, "UTF-8");
  if (mem == NULL || size < 0)
    return ferry_err_set (err, ENOMEM, "domain XML: cannot serialise");
  s = malloc ((size_t) size + 1);
  if (s == NULL) {
    xmlFree (mem);
    return ferry_err_set (err, ENOMEM, "domain XML: cannot allocate memory");
  }
  memcpy (s, mem, (size_t) size);
  s[size] = '\0';
  xmlFree (mem);
  *ret = s;
  return 0;
}

/* Parse XML (same checks on the document as for reading), apply RW to the
 * tree and serialise it: the rest of the document is kept as it was. */
int
ferry_lvx_domain_rewrite (const char *xml, size_t len,
                          const struct ferry_lvx_rewrite *rw, char **ret_xml,
                          struct ferry_err *err)
{
  struct lvx_errs errs;
  xmlDocPtr doc;
  int r = -1;

  if (ferry_dl_load (&ferry_dl_xml2, err) < 0)
    return -1;
  lvx_errs_begin (&errs);
  doc = lvx_read_domain (xml, len, &errs, err);
  if (doc != NULL) {
    if (rewrite_domain (doc, rw, &errs, err) == 0)
      r = dump_doc (doc, ret_xml, err);
    xmlFreeDoc (doc);
  }
  lvx_errs_end (&errs);
  return r;
}

/* Find ferry's ELEM under DOC's <metadata> and copy its attribute ATTR into
 * *RET (NULL when either is absent).  Return 0, or -1 with ERR set. */
static int
metadata_get (xmlDocPtr doc, const char *elem, const char *attr_name,
              char **ret, struct ferry_err *err)
{
  xmlNodePtr md = child (xmlDocGetRootElement (doc), "metadata"), c;
  const char *v;

  for (c = md ? md->children : NULL; c != NULL; c = c->next) {
    if (c->type != XML_ELEMENT_NODE || c->ns == NULL || c->ns->href == NULL ||
        !xmlStrEqual (c->ns->href, BAD_CAST FERRY_LVX_NS) ||
        !xmlStrEqual (c->name, BAD_CAST elem))
      continue;
    v = attr (c, attr_name);
    if (v == NULL)
      break;
    *ret = strdup (v);
    if (*ret == NULL)
      return ferry_err_set (err, ENOMEM, "domain XML: cannot allocate memory");
    return 0;
  }
  *ret = NULL;
  return 0;
}

/* Read one attribute of ferry's metadata element back from domain XML
 * (what a resumed migration reads on the target). */
int
ferry_lvx_metadata_get (const char *xml, size_t len, const char *elem,
                        const char *attr_name, char **ret,
                        struct ferry_err *err)
{
  struct lvx_errs errs;
  xmlDocPtr doc;
  int r = -1;

  if (ferry_dl_load (&ferry_dl_xml2, err) < 0)
    return -1;
  lvx_errs_begin (&errs);
  doc = lvx_read_domain (xml, len, &errs, err);
  if (doc != NULL) {
    r = metadata_get (doc, elem, attr_name, ret, err);
    xmlFreeDoc (doc);
  }
  lvx_errs_end (&errs);
  return r;
}
