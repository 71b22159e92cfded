/* libxml2.so.2 loaded on first use: stubs for the functions ferry calls
 * (see util/dl.h).  libxml2 pulls in ICU and libstdc++ (~6 ms of
 * start-up); only the libvirt domain XML code (clients/libvirt-xml.c)
 * uses it, and loads it with a clear error first.
 *
 * Two kinds of non-function symbols: xmlFree is a variable (a function
 * pointer) in this libxml2 build, so it is defined here pointing at a
 * function that calls the library's own xmlFree; the error-handler globals
 * (xmlGenericError, ...) are macros over __xmlGenericError () and friends,
 * which are stubbed to return a harmless local slot when libxml2 is
 * missing. */
#include <libxml/SAX2.h>
#include <libxml/globals.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <stddef.h>

#include "util/dl.h"

struct ferry_dl ferry_dl_xml2 = FERRY_DL_INIT ("libxml2.so.2");

/* Free P with the library's deallocator (what its xmlFree points at). */
static void
dl_xml_free (void *p)
{
  static void *sym;
  xmlFreeFunc *real = ferry_dl_sym (&ferry_dl_xml2, "xmlFree", &sym);

  if (real != NULL && *real != NULL)
    (*real) (p);
}

xmlFreeFunc xmlFree = dl_xml_free;

/* Slots the handler macros read and write without libxml2. */
static xmlGenericErrorFunc no_generic;
static xmlStructuredErrorFunc no_structured;
static void *no_generic_ctx, *no_structured_ctx;

#define XML_GLOBAL(type, name, fallback)                                       \
  type name (void)                                                             \
  {                                                                            \
    static void *sym_;                                                         \
    __typeof__ (name) *fn_ =                                                   \
        (__typeof__ (name) *) ferry_dl_sym (&ferry_dl_xml2, #name, &sym_);     \
    return fn_ ? fn_ () : (fallback);                                          \
  }

XML_GLOBAL (xmlGenericErrorFunc *, __xmlGenericError, &no_generic)
XML_GLOBAL (void **, __xmlGenericErrorContext, &no_generic_ctx)
XML_GLOBAL (xmlStructuredErrorFunc *, __xmlStructuredError, &no_structured)
XML_GLOBAL (void **, __xmlStructuredErrorContext, &no_structured_ctx)

FERRY_DL_FN (ferry_dl_xml2, xmlNodePtr, xmlAddChild, NULL,
             (xmlNodePtr parent, xmlNodePtr cur), (parent, cur))
FERRY_DL_FN (ferry_dl_xml2, xmlNodePtr, xmlAddNextSibling, NULL,
             (xmlNodePtr cur, xmlNodePtr elem), (cur, elem))
FERRY_DL_FN (ferry_dl_xml2, xmlNodePtr, xmlAddPrevSibling, NULL,
             (xmlNodePtr cur, xmlNodePtr elem), (cur, elem))
FERRY_DL_FN (ferry_dl_xml2, xmlDocPtr, xmlCtxtReadMemory, NULL,
             (xmlParserCtxtPtr ctxt, const char *buffer, int size,
              const char *URL, const char *encoding, int options),
             (ctxt, buffer, size, URL, encoding, options))
FERRY_DL_FN (ferry_dl_xml2, xmlNodePtr, xmlDocCopyNode, NULL,
             (xmlNodePtr node, xmlDocPtr doc, int recursive),
             (node, doc, recursive))
FERRY_DL_VOID (ferry_dl_xml2, xmlDocDumpMemoryEnc,
               (xmlDocPtr out_doc, xmlChar **doc_txt_ptr, int *doc_txt_len,
                const char *txt_encoding),
               (out_doc, doc_txt_ptr, doc_txt_len, txt_encoding))
FERRY_DL_FN (ferry_dl_xml2, xmlNodePtr, xmlDocGetRootElement, NULL,
             (const xmlDoc *doc), (doc))
FERRY_DL_VOID (ferry_dl_xml2, xmlFreeDoc, (xmlDocPtr cur), (cur))
FERRY_DL_VOID (ferry_dl_xml2, xmlFreeNode, (xmlNodePtr cur), (cur))
FERRY_DL_VOID (ferry_dl_xml2, xmlFreeParserCtxt, (xmlParserCtxtPtr ctxt),
               (ctxt))
FERRY_DL_VOID (ferry_dl_xml2, xmlInitParser, (void), ())
FERRY_DL_FN (ferry_dl_xml2, int, xmlIsBlankNode, 0, (const xmlNode *node),
             (node))
FERRY_DL_FN (ferry_dl_xml2, xmlNodePtr, xmlNewDocNode, NULL,
             (xmlDocPtr doc, xmlNsPtr ns, const xmlChar *name,
              const xmlChar *content),
             (doc, ns, name, content))
FERRY_DL_FN (ferry_dl_xml2, xmlNodePtr, xmlNewDocText, NULL,
             (const xmlDoc *doc, const xmlChar *content), (doc, content))
FERRY_DL_FN (ferry_dl_xml2, xmlParserCtxtPtr, xmlNewParserCtxt, NULL, (void),
             ())
FERRY_DL_FN (ferry_dl_xml2, xmlChar *, xmlNodeGetContent, NULL,
             (const xmlNode *cur), (cur))
FERRY_DL_VOID (ferry_dl_xml2, xmlNodeSetContent,
               (xmlNodePtr cur, const xmlChar *content), (cur, content))
FERRY_DL_FN (ferry_dl_xml2, int, xmlReconciliateNs, -1,
             (xmlDocPtr doc, xmlNodePtr tree), (doc, tree))
FERRY_DL_FN (ferry_dl_xml2, xmlNodePtr, xmlReplaceNode, NULL,
             (xmlNodePtr old, xmlNodePtr cur), (old, cur))
FERRY_DL_FN (ferry_dl_xml2, int, xmlSAX2GetLineNumber, 0, (void *ctx), (ctx))
FERRY_DL_VOID (ferry_dl_xml2, xmlSetGenericErrorFunc,
               (void *ctx, xmlGenericErrorFunc handler), (ctx, handler))
FERRY_DL_FN (ferry_dl_xml2, xmlAttrPtr, xmlSetProp, NULL,
             (xmlNodePtr node, const xmlChar *name, const xmlChar *value),
             (node, name, value))
FERRY_DL_VOID (ferry_dl_xml2, xmlSetStructuredErrorFunc,
               (void *ctx, xmlStructuredErrorFunc handler), (ctx, handler))
FERRY_DL_VOID (ferry_dl_xml2, xmlStopParser, (xmlParserCtxtPtr ctxt), (ctxt))
FERRY_DL_FN (ferry_dl_xml2, int, xmlStrEqual, 0,
             (const xmlChar *str1, const xmlChar *str2), (str1, str2))
FERRY_DL_VOID (ferry_dl_xml2, xmlUnlinkNode, (xmlNodePtr cur), (cur))
FERRY_DL_FN (ferry_dl_xml2, int, xmlUnsetProp, -1,
             (xmlNodePtr node, const xmlChar *name), (node, name))
