/* port: the Neutron port of vms[].ports[N] exists, named "<vm>-port<N>"
 * and marked in its description as ferry's (modules/openstack.h), on the
 * plan's network with its fixed IP, MAC and security groups.
 *
 * Everything the plan names is resolved in the target's project first
 * (network, subnet, groups): a name that resolves to nothing or to several
 * objects blocks the step.  A port is found again by name and mark only, so
 * a kill -9 between Neutron's reply and the journal leaves a port the rerun
 * adopts instead of creating a second one.  An address or MAC that another
 * port already holds on the network is reported, never taken over: ferry
 * changes and deletes only what carries its mark.  A port's network, IP
 * and MAC cannot change in place; only its security groups are updated. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "modules/local.h"
#include "modules/module.h"
#include "modules/openstack.h"
#include "util/cleanup.h"
#include "util/log.h"

/* What the plan's port resolves to in the target's project. */
struct port_want {
  char *name;    /* "<vm>-port<N>" */
  char *mark;    /* "ferry:plan=P ferry:vm=V ferry:port=N" */
  cJSON *net;    /* the network (owned) */
  cJSON *subnet; /* the subnet of fixed_ip (owned), NULL without one */
  cJSON *groups; /* array of the security groups (owned), plan order */
  char why[900]; /* blocked: the reason, else "" */
};

/* Free what W holds and empty it. */
static void
want_clear (struct port_want *w)
{
  free (w->name);
  free (w->mark);
  cJSON_Delete (w->net);
  cJSON_Delete (w->subnet);
  cJSON_Delete (w->groups);
  memset (w, 0, sizeof *w);
}

/* "a/b?x=<escaped V>" (caller frees), NULL on ENOMEM. */
static char *
query (const char *fmt, const char *v)
{
  CLEANUP_FREE char *q = ferry_os_escape (v);
  char *s = NULL;

  if (q == NULL || asprintf (&s, fmt, q) < 0)
    return NULL;
  return s;
}

/* Does S look like a Neutron id (a UUID)? */
static bool
is_uuid (const char *s)
{
  size_t i;

  if (strlen (s) != 36)
    return false;
  for (i = 0; i < 36; i++)
    if (i == 8 || i == 13 || i == 18 || i == 23
            ? s[i] != '-'
            : !strchr ("0123456789abcdefABCDEF", s[i]))
      return false;
  return true;
}

/* The string member NAME of OBJ, or "?" (for messages). */
static const char *
sget (const cJSON *obj, const char *name)
{
  const char *s = ferry_osm_str (obj, name);

  return s ? s : "?";
}

/* Is boolean member NAME of OBJ true? */
static bool
is_true (const cJSON *obj, const char *name)
{
  return cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (obj, name));
}

/* The network the plan names (an id, else a name), visible to project
 * PROJECT: one of its own, else one shared with it.  Into W->net, or
 * W->why. */
static int
find_network (struct ferry_os *os, const char *project, const char *name,
              struct port_want *w, struct ferry_err *err)
{
  CLEANUP_FREE char *path = NULL;
  cJSON *list = NULL, *it, *j = NULL;
  int n_own = 0, n_shared = 0, st, i = 0, at_own = -1, at_shared = -1;
  char ids[300] = "";

  if (is_uuid (name)) {
    if ((path = query ("/v2.0/networks/%s", name)) == NULL)
      return ferry_err_set (err, ENOMEM, "cannot allocate memory");
    st = ferry_os_request (os, FERRY_OS_NETWORK, "GET", path, NULL,
                           FERRY_OS_OK_404, &j, err);
    if (st < 0)
      return -1;
    if (st == 200 && cJSON_IsObject (cJSON_GetObjectItem (j, "network"))) {
      w->net = cJSON_DetachItemFromObject (j, "network");
      cJSON_Delete (j);
      return 0;
    }
    cJSON_Delete (j);
    free (path);
  }
  if ((path = query ("/v2.0/networks?name=%s", name)) == NULL)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  if (ferry_os_list (os, FERRY_OS_NETWORK, path, "networks", &list, err) < 0)
    return -1;
  cJSON_ArrayForEach (it, list)
  {
    const char *p = ferry_osm_str (it, "project_id");
    if (p && strcmp (p, project) == 0) {
      n_own++;
      at_own = i;
    } else if (is_true (it, "shared")) {
      n_shared++;
      at_shared = i;
    } else {
      i++;
      continue;
    }
    ferry_osm_appendf (ids, sizeof ids, "%s'%s'", ids[0] ? ", " : "",
                       sget (it, "id"));
    i++;
  }
  if (n_own == 1)
    w->net = cJSON_DetachItemFromArray (list, at_own);
  else if (n_own == 0 && n_shared == 1)
    w->net = cJSON_DetachItemFromArray (list, at_shared);
  else if (n_own + n_shared == 0)
    snprintf (w->why, sizeof w->why,
              "network '%s' not found in the project (nor shared with it)",
              name);
  else
    snprintf (w->why, sizeof w->why,
              "network name '%s' matches %d networks (%s); name it by id", name,
              n_own + n_shared, ids);
  cJSON_Delete (list);
  return 0;
}

/* The subnet of the port's fixed IP on W->net: the plan's `subnet` (name
 * or id), else the one whose CIDR holds the address. */
static int
find_subnet (struct ferry_os *os, const struct ferry_port *port,
             struct port_want *w, struct ferry_err *err)
{
  const char *net_id = ferry_osm_str (w->net, "id");
  const char *net_name = ferry_osm_str (w->net, "name");
  const char *cidr, *gw, *sname;
  CLEANUP_FREE char *path = NULL;
  cJSON *list = NULL, *it;
  int i = 0, at = -1, n = 0;
  char seen[400] = "";

  if (net_id == NULL)
    return ferry_err_set (err, 0, "neutron: network '%s' has no id",
                          port->network);
  if ((path = query ("/v2.0/subnets?network_id=%s", net_id)) == NULL)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  if (ferry_os_list (os, FERRY_OS_NETWORK, path, "subnets", &list, err) < 0)
    return -1;
  cJSON_ArrayForEach (it, list)
  {
    const char *id = ferry_osm_str (it, "id");
    sname = ferry_osm_str (it, "name");
    cidr = ferry_osm_str (it, "cidr");
    ferry_osm_appendf (seen, sizeof seen, "%s%s %s", seen[0] ? ", " : "",
                       sname && *sname ? sname : (id ? id : "?"),
                       cidr ? cidr : "?");
    if (port->subnet ? (id && strcmp (id, port->subnet) == 0) ||
                           (sname && strcmp (sname, port->subnet) == 0)
                     : cidr && ferry_osm_cidr_contains (cidr, port->fixed_ip)) {
      n++;
      at = i;
    }
    i++;
  }
  if (n == 1)
    w->subnet = cJSON_DetachItemFromArray (list, at);
  cJSON_Delete (list);
  if (n == 0 && port->subnet)
    snprintf (w->why, sizeof w->why,
              "subnet '%s' not found on network '%s' (its subnets: %s)",
              port->subnet, net_name ? net_name : port->network,
              seen[0] ? seen : "none");
  else if (n == 0)
    snprintf (w->why, sizeof w->why,
              "no subnet of network '%s' contains %s (its subnets: %s)",
              net_name ? net_name : port->network, port->fixed_ip,
              seen[0] ? seen : "none");
  else if (n > 1)
    snprintf (w->why, sizeof w->why,
              "%d subnets of network '%s' match '%s'; name the subnet by id", n,
              net_name ? net_name : port->network,
              port->subnet ? port->subnet : port->fixed_ip);
  if (w->subnet == NULL)
    return 0;
  sname = ferry_osm_str (w->subnet, "name");
  cidr = ferry_osm_str (w->subnet, "cidr");
  gw = ferry_osm_str (w->subnet, "gateway_ip");
  if (cidr == NULL || !ferry_osm_cidr_contains (cidr, port->fixed_ip))
    snprintf (w->why, sizeof w->why, "%s is not in subnet '%s' (%s)",
              port->fixed_ip, sname ? sname : port->subnet,
              cidr ? cidr : "no cidr");
  else if (gw && ferry_osm_same_ip (gw, port->fixed_ip))
    snprintf (w->why, sizeof w->why, "%s is the gateway of subnet '%s'",
              port->fixed_ip, sname ? sname : "?");
  return 0;
}

/* The security groups the plan names, each by name in project PROJECT. */
static int
find_groups (struct ferry_os *os, const char *project,
             const struct ferry_port *port, struct port_want *w,
             struct ferry_err *err)
{
  size_t i;

  w->groups = cJSON_CreateArray ();
  if (w->groups == NULL)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  for (i = 0; i < port->n_security_groups && !w->why[0]; i++) {
    const char *name = port->security_groups[i];
    CLEANUP_FREE char *q = ferry_os_escape (name);
    CLEANUP_FREE char *path = NULL;
    cJSON *list = NULL;
    int n;

    if (q == NULL ||
        asprintf (&path, "/v2.0/security-groups?name=%s&project_id=%s", q,
                  project) < 0) {
      path = NULL;
      return ferry_err_set (err, ENOMEM, "cannot allocate memory");
    }
    if (ferry_os_list (os, FERRY_OS_NETWORK, path, "security_groups", &list,
                       err) < 0)
      return -1;
    n = cJSON_GetArraySize (list);
    if (n == 1)
      cJSON_AddItemToArray (w->groups, cJSON_DetachItemFromArray (list, 0));
    else if (n == 0)
      snprintf (w->why, sizeof w->why,
                "security group '%s' not found in the project", name);
    else
      snprintf (w->why, sizeof w->why,
                "security group name '%s' matches %d groups of the project "
                "('%s', '%s'...); rename them apart",
                name, n, sget (cJSON_GetArrayItem (list, 0), "id"),
                sget (cJSON_GetArrayItem (list, 1), "id"));
    cJSON_Delete (list);
  }
  return 0;
}

/* Are the ids and names (and the subnet's cidr) W is used with in
 * requests and messages there?  Neutron's replies are not trusted. */
static int
want_complete (const struct port_want *w, struct ferry_err *err)
{
  const cJSON *g;

  if (!ferry_osm_str (w->net, "id") || !ferry_osm_str (w->net, "name"))
    return ferry_err_set (err, 0, "neutron: a network without id or name");
  if (w->subnet &&
      (!ferry_osm_str (w->subnet, "id") || !ferry_osm_str (w->subnet, "name") ||
       !ferry_osm_str (w->subnet, "cidr")))
    return ferry_err_set (err, 0, "neutron: a subnet without id, name or cidr");
  cJSON_ArrayForEach (g, w->groups)
  {
    if (!ferry_osm_str (g, "id") || !ferry_osm_str (g, "name"))
      return ferry_err_set (err, 0,
                            "neutron: a security group without id or name");
  }
  return 0;
}

/* Resolve the step's port into W: 0 (blocked when W->why is set), -1 on
 * an API error. */
static int
port_resolve (struct ferry_os *os, const struct ferry_plan *plan,
              const struct ferry_step *step, struct port_want *w,
              struct ferry_err *err)
{
  const struct ferry_port *port = step->obj.port;
  const char *project;

  memset (w, 0, sizeof *w);
  w->name = ferry_osm_port_name (step->vm, step->index);
  w->mark = ferry_osm_port_mark (plan, step->vm, step->index);
  if (w->name == NULL || w->mark == NULL)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  if ((project = ferry_os_project_id (os, err)) == NULL)
    return -1;
  if (find_network (os, project, port->network, w, err) < 0)
    return -1;
  if (!w->why[0] && port->fixed_ip && find_subnet (os, port, w, err) < 0)
    return -1;
  if (!w->why[0] && find_groups (os, project, port, w, err) < 0)
    return -1;
  return w->why[0] ? 0 : want_complete (w, err);
}

/* Do arrays of strings A and B hold the same strings (in any order)? */
static bool
ids_equal_sets (const cJSON *a, const cJSON *b)
{
  const cJSON *x, *y;
  bool found;

  if (cJSON_GetArraySize (a) != cJSON_GetArraySize (b))
    return false;
  cJSON_ArrayForEach (x, a)
  {
    found = false;
    cJSON_ArrayForEach (y, b)
    {
      if (cJSON_IsString (x) && cJSON_IsString (y) &&
          strcmp (x->valuestring, y->valuestring) == 0)
        found = true;
    }
    if (!found)
      return false;
  }
  return true;
}

/* The ids of W's groups, as an array of strings (caller frees). */
static cJSON *
want_group_ids (const struct port_want *w)
{
  cJSON *ids = cJSON_CreateArray (), *g, *s;

  if (ids == NULL)
    return NULL;
  cJSON_ArrayForEach (g, w->groups)
  {
    s = cJSON_CreateString (ferry_osm_str (g, "id") ? ferry_osm_str (g, "id")
                                                    : "");
    if (s == NULL) {
      cJSON_Delete (ids);
      return NULL;
    }
    cJSON_AddItemToArray (ids, s);
  }
  return ids;
}

/* "lab-sg, lab-sg2": the names of W's groups into BUF. */
static void
want_group_names (const struct port_want *w, char *buf, size_t len)
{
  const cJSON *g;

  buf[0] = '\0';
  cJSON_ArrayForEach (g, w->groups)
  {
    ferry_osm_appendf (buf, len, "%s%s", buf[0] ? ", " : "",
                       ferry_osm_str (g, "name"));
  }
}

/* The names of the security groups with ids IDS (ids of groups Neutron
 * does not show are given as they are) into BUF. */
static int
group_names (struct ferry_os *os, const cJSON *ids, char *buf, size_t len,
             struct ferry_err *err)
{
  const cJSON *id, *g;
  cJSON *list = NULL;
  const char *name;

  buf[0] = '\0';
  if (cJSON_GetArraySize (ids) == 0) {
    snprintf (buf, len, "none");
    return 0;
  }
  if (ferry_os_list (os, FERRY_OS_NETWORK,
                     "/v2.0/security-groups?fields=id&fields=name",
                     "security_groups", &list, err) < 0)
    return -1;
  cJSON_ArrayForEach (id, ids)
  {
    name = NULL;
    cJSON_ArrayForEach (g, list)
    {
      if (cJSON_IsString (id) && ferry_osm_str (g, "id") &&
          strcmp (ferry_osm_str (g, "id"), id->valuestring) == 0)
        name = ferry_osm_str (g, "name");
    }
    ferry_osm_appendf (buf, len, "%s%s", buf[0] ? ", " : "",
                       name ? name
                            : (cJSON_IsString (id) ? id->valuestring : "?"));
  }
  cJSON_Delete (list);
  return 0;
}

/* The address of PORT's fixed IP on SUBNET_ID equal to IP, or NULL. */
static const cJSON *
port_has_ip (const cJSON *port, const char *subnet_id, const char *ip)
{
  const cJSON *f;
  const char *a, *s;

  cJSON_ArrayForEach (f, cJSON_GetObjectItemCaseSensitive (port, "fixed_ips"))
  {
    a = ferry_osm_str (f, "ip_address");
    s = ferry_osm_str (f, "subnet_id");
    if (a && s && ferry_osm_same_ip (a, ip) && strcmp (s, subnet_id) == 0)
      return f;
  }
  return NULL;
}

/* "127.100.0.21, 127.100.0.22" (PORT's addresses) into BUF. */
static void
port_ips (const cJSON *port, char *buf, size_t len)
{
  const cJSON *f;

  buf[0] = '\0';
  cJSON_ArrayForEach (f, cJSON_GetObjectItemCaseSensitive (port, "fixed_ips"))
  {
    ferry_osm_appendf (buf, len, "%s%s", buf[0] ? ", " : "",
                       ferry_osm_str (f, "ip_address"));
  }
  if (!buf[0])
    snprintf (buf, len, "no IP");
}

/* The one-line description of the port: the existing one (PORT) or the
 * one to create (PORT NULL). */
static void
port_line (const struct port_want *w, const cJSON *port,
           const struct ferry_port *spec, char *buf, size_t len)
{
  char ips[200], groups[300];

  if (port)
    port_ips (port, ips, sizeof ips);
  else if (spec->fixed_ip)
    snprintf (ips, sizeof ips, "%s", spec->fixed_ip);
  else
    snprintf (ips, sizeof ips, "IP by Neutron");
  snprintf (buf, len, "port %s", w->name);
  if (port)
    ferry_osm_appendf (buf, len, " (%s)", sget (port, "id"));
  ferry_osm_appendf (buf, len, " on %s %s", ferry_osm_str (w->net, "name"),
                     ips);
  if (w->subnet)
    ferry_osm_appendf (buf, len, " (subnet %s)",
                       ferry_osm_str (w->subnet, "name"));
  if (port && ferry_osm_str (port, "mac_address"))
    ferry_osm_appendf (buf, len, " %s", ferry_osm_str (port, "mac_address"));
  else
    ferry_osm_appendf (buf, len, " %s",
                       spec->mac ? spec->mac : "MAC by Neutron");
  if (spec->n_security_groups) {
    want_group_names (w, groups, sizeof groups);
    ferry_osm_appendf (buf, len, "; groups %s", groups);
  }
}

/* Compare ferry's existing PORT with W and SPEC: done, update (groups
 * only) or blocked (network, IP or MAC differ: a port cannot change them),
 * with the line in DETAIL. */
static int
port_compare (struct ferry_os *os, const cJSON *port, const struct port_want *w,
              const struct ferry_port *spec, enum ferry_need *need,
              char *detail, size_t len, struct ferry_err *err)
{
  const char *id = sget (port, "id");
  const char *net = ferry_osm_str (port, "network_id");
  const char *mac = ferry_osm_str (port, "mac_address");
  const cJSON *have =
      cJSON_GetObjectItemCaseSensitive (port, "security_groups");
  cJSON *want_ids = NULL;
  char ips[200], was[300], now[300];
  bool same;

  port_ips (port, ips, sizeof ips);
  if (net == NULL || strcmp (net, ferry_osm_str (w->net, "id")) != 0) {
    *need = FERRY_NEED_BLOCKED;
    snprintf (detail, len,
              "ferry's port %s (%s) is on network '%s', the plan says '%s'; "
              "a port cannot move: destroy the port (ferry destroy, or delete "
              "it) and apply again",
              w->name, id, net ? net : "?", spec->network);
    return 0;
  }
  if (spec->fixed_ip &&
      !port_has_ip (port, ferry_osm_str (w->subnet, "id"), spec->fixed_ip)) {
    *need = FERRY_NEED_BLOCKED;
    snprintf (detail, len,
              "ferry's port %s (%s) has %s, the plan says %s on subnet '%s'; "
              "a port's IP cannot change in place: destroy the port (ferry "
              "destroy, or delete it) and apply again",
              w->name, id, ips, spec->fixed_ip,
              ferry_osm_str (w->subnet, "name"));
    return 0;
  }
  if (spec->mac && (mac == NULL || strcasecmp (mac, spec->mac) != 0)) {
    *need = FERRY_NEED_BLOCKED;
    snprintf (detail, len,
              "ferry's port %s (%s) has MAC %s, the plan says %s; a port's "
              "MAC cannot change in place: destroy the port (ferry destroy, or "
              "delete it) and apply again",
              w->name, id, mac ? mac : "none", spec->mac);
    return 0;
  }
  if (spec->n_security_groups == 0) {
    *need = FERRY_NEED_DONE;
    port_line (w, port, spec, detail, len);
    return 0;
  }
  if ((want_ids = want_group_ids (w)) == NULL)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  same = ids_equal_sets (have, want_ids);
  cJSON_Delete (want_ids);
  if (same) {
    *need = FERRY_NEED_DONE;
    port_line (w, port, spec, detail, len);
    return 0;
  }
  if (group_names (os, have, was, sizeof was, err) < 0)
    return -1;
  want_group_names (w, now, sizeof now);
  *need = FERRY_NEED_UPDATE;
  snprintf (detail, len, "port %s (%s): groups: %s → %s", w->name, id, was,
            now);
  return 0;
}

/* Is ADDR (an IP when IS_IP, else a MAC) held on W's network by a port
 * that is not ferry's port for this step?  W->why says by which. */
static int
port_holder (struct ferry_os *os, const struct port_want *w, bool is_ip,
             const char *addr, char *why, size_t len, struct ferry_err *err)
{
  const char *net = ferry_osm_str (w->net, "id");
  CLEANUP_FREE char *filter = NULL, *q = NULL, *path = NULL;
  cJSON *list = NULL, *p;
  const char *desc, *owner;

  if ((is_ip && asprintf (&filter, "ip_address=%s", addr) < 0) ||
      (!is_ip && (filter = strdup (addr)) == NULL) ||
      (q = ferry_os_escape (filter)) == NULL ||
      asprintf (&path, "/v2.0/ports?network_id=%s&%s=%s", net,
                is_ip ? "fixed_ips" : "mac_address", q) < 0) {
    path = NULL;
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  }
  if (ferry_os_list (os, FERRY_OS_NETWORK, path, "ports", &list, err) < 0)
    return -1;
  cJSON_ArrayForEach (p, list)
  {
    const char *mac = ferry_osm_str (p, "mac_address");
    const cJSON *f;
    bool holds = false;

    if (is_ip) {
      cJSON_ArrayForEach (f, cJSON_GetObjectItemCaseSensitive (p, "fixed_ips"))
      {
        const char *a = ferry_osm_str (f, "ip_address");
        if (a && ferry_osm_same_ip (a, addr))
          holds = true;
      }
    } else
      holds = mac && strcasecmp (mac, addr) == 0;
    if (!holds)
      continue;
    desc = ferry_osm_str (p, "description");
    owner = ferry_osm_str (p, "device_owner");
    snprintf (why, len, "%s is held by port %s '%s' (device_owner %s), ", addr,
              sget (p, "id"),
              ferry_osm_str (p, "name") ? ferry_osm_str (p, "name") : "",
              owner && *owner ? owner : "none");
    if (desc && strncmp (desc, "ferry:plan=", 11) == 0)
      ferry_osm_appendf (why, len,
                         "which ferry created for another port ('%s')", desc);
    else
      ferry_osm_appendf (why, len, "which ferry did not create");
    break;
  }
  cJSON_Delete (list);
  return 0;
}

/* Is the plan's IP or MAC held by another port?  WHY when so. */
static int
port_conflict (struct ferry_os *os, const struct port_want *w,
               const struct ferry_port *spec, char *why, size_t len,
               struct ferry_err *err)
{
  why[0] = '\0';
  if (spec->fixed_ip &&
      port_holder (os, w, true, spec->fixed_ip, why, len, err) < 0)
    return -1;
  if (!why[0] && spec->mac &&
      port_holder (os, w, false, spec->mac, why, len, err) < 0)
    return -1;
  return 0;
}

/* Observe: resolve what the plan names (blocked when it does not resolve),
 * find ferry's port and compare it, or look for another port holding the
 * address before saying "create".  GETs only. */
static int
port_check (struct ferry_ctx *ctx, const struct ferry_step *step,
            struct ferry_observation *ret, struct ferry_err *err)
{
  const struct ferry_port *spec = step->obj.port;
  struct port_want w;
  struct ferry_os *os;
  cJSON *port = NULL;
  int r = -1, f;

  memset (&w, 0, sizeof w);
  if ((os = ferry_osm_session (ctx, step->target, err)) == NULL)
    return -1;
  if (port_resolve (os, ctx->plan, step, &w, err) < 0)
    goto out;
  if (w.why[0]) {
    ret->need = FERRY_NEED_BLOCKED;
    snprintf (ret->detail, sizeof ret->detail, "%s", w.why);
    r = 0;
    goto out;
  }
  f = ferry_osm_find_port (os, ctx->plan, step->vm, step->index, &port, err);
  if (f < 0)
    goto out;
  if (f == 1) {
    r = port_compare (os, port, &w, spec, &ret->need, ret->detail,
                      sizeof ret->detail, err);
    goto out;
  }
  if (port_conflict (os, &w, spec, ret->detail, sizeof ret->detail, err) < 0)
    goto out;
  if (ret->detail[0])
    ret->need = FERRY_NEED_BLOCKED;
  else {
    ret->need = FERRY_NEED_CREATE;
    port_line (&w, NULL, spec, ret->detail, sizeof ret->detail);
  }
  r = 0;
out:
  cJSON_Delete (port);
  want_clear (&w);
  return r;
}

/* The POST /v2.0/ports body: name, mark, network, fixed IP, MAC, groups. */
static cJSON *
port_body (const struct port_want *w, const struct ferry_port *spec)
{
  cJSON *root = cJSON_CreateObject (), *p = cJSON_CreateObject ();
  cJSON *ips = NULL, *ip = NULL, *groups = NULL;
  bool ok;

  if (root == NULL || p == NULL) {
    cJSON_Delete (root);
    cJSON_Delete (p);
    return NULL;
  }
  cJSON_AddItemToObject (root, "port", p);
  ok = cJSON_AddStringToObject (p, "name", w->name) &&
       cJSON_AddStringToObject (p, "description", w->mark) &&
       cJSON_AddStringToObject (p, "network_id", ferry_osm_str (w->net, "id"));
  if (ok && spec->fixed_ip) {
    ok = (ips = cJSON_AddArrayToObject (p, "fixed_ips")) != NULL &&
         (ip = cJSON_CreateObject ()) != NULL;
    if (ok)
      cJSON_AddItemToArray (ips, ip);
    ok = ok &&
         cJSON_AddStringToObject (ip, "subnet_id",
                                  ferry_osm_str (w->subnet, "id")) &&
         cJSON_AddStringToObject (ip, "ip_address", spec->fixed_ip);
  }
  if (ok && spec->mac)
    ok = cJSON_AddStringToObject (p, "mac_address", spec->mac) != NULL;
  if (ok && spec->n_security_groups) {
    ok = (groups = want_group_ids (w)) != NULL;
    if (ok)
      cJSON_AddItemToObject (p, "security_groups", groups);
  }
  if (!ok) {
    cJSON_Delete (root);
    return NULL;
  }
  return root;
}

/* PUT the plan's groups on ferry's port ID. */
static int
port_put_groups (struct ferry_os *os, const struct port_want *w, const char *id,
                 struct ferry_err *err)
{
  CLEANUP_FREE char *path = NULL;
  cJSON *body = cJSON_CreateObject (), *p = NULL, *ids = want_group_ids (w);
  int r = -1;

  if (body == NULL || ids == NULL ||
      (p = cJSON_AddObjectToObject (body, "port")) == NULL ||
      (path = query ("/v2.0/ports/%s", id)) == NULL) {
    ferry_err_set (err, ENOMEM, "cannot allocate memory");
    goto out;
  }
  cJSON_AddItemToObject (p, "security_groups", TAKE_PTR (ids));
  if (ferry_os_request (os, FERRY_OS_NETWORK, "PUT", path, body, 0, NULL, err) <
      0) {
    ferry_err_prefix (err, "cannot set the security groups of port '%s'",
                      w->name);
    goto out;
  }
  r = 0;
out:
  cJSON_Delete (ids);
  cJSON_Delete (body);
  return r;
}

/* Converge: resolve and find again; adopt ferry's port (PUT the groups
 * when they differ) or create it with one POST, then record it. */
static int
port_apply (struct ferry_ctx *ctx, const struct ferry_step *step,
            struct ferry_err *err)
{
  const struct ferry_port *spec = step->obj.port;
  CLEANUP_FREE char *rec_id = NULL;
  cJSON *port = NULL, *body = NULL, *reply = NULL;
  enum ferry_need need;
  struct port_want w;
  struct ferry_os *os;
  char detail[1024];
  const char *id;
  int r = -1, f;

  memset (&w, 0, sizeof w);
  if ((os = ferry_osm_session (ctx, step->target, err)) == NULL)
    return -1;
  if (port_resolve (os, ctx->plan, step, &w, err) < 0)
    goto out;
  if (w.why[0]) {
    ferry_err_set (err, 0, "%s", w.why);
    goto out;
  }
  f = ferry_osm_find_port (os, ctx->plan, step->vm, step->index, &port, err);
  if (f < 0)
    goto out;
  if (f == 1) {
    /* ours already (a rerun, or a kill after Neutron's reply) */
    id = ferry_osm_str (port, "id");
    if (id == NULL) {
      ferry_err_set (err, 0, "neutron: port '%s' has no id", w.name);
      goto out;
    }
    if (port_compare (os, port, &w, spec, &need, detail, sizeof detail, err) <
        0)
      goto out;
    if (need == FERRY_NEED_BLOCKED) {
      ferry_err_set (err, 0, "%s", detail);
      goto out;
    }
    if (need == FERRY_NEED_UPDATE && port_put_groups (os, &w, id, err) < 0)
      goto out;
  } else {
    if (port_conflict (os, &w, spec, detail, sizeof detail, err) < 0)
      goto out;
    if (detail[0]) {
      ferry_err_set (err, 0, "%s", detail);
      goto out;
    }
    if ((body = port_body (&w, spec)) == NULL) {
      ferry_err_set (err, ENOMEM, "cannot allocate memory");
      goto out;
    }
    /* one attempt: a retried POST could make a second port */
    if (ferry_os_request (os, FERRY_OS_NETWORK, "POST", "/v2.0/ports", body,
                          FERRY_OS_NO_RETRY, &reply, err) < 0) {
      ferry_err_prefix (err, "cannot create port '%s'", w.name);
      goto out;
    }
    id = ferry_osm_str (cJSON_GetObjectItemCaseSensitive (reply, "port"), "id");
    if (id == NULL) {
      ferry_err_set (
          err, 0, "neutron: the reply to creating port '%s' has no id", w.name);
      goto out;
    }
    ferry_info ("%s: created port %s (%s)", step->id, w.name, id);
    ferry_osm_test_pause ("port:created");
  }
  if (asprintf (&rec_id, "port:%s", id) < 0) {
    rec_id = NULL;
    ferry_err_set (err, ENOMEM, "cannot allocate memory");
    goto out;
  }
  r = ferry_ctx_record (ctx, step, FERRY_EVENT_CREATED, 0, rec_id, err);
out:
  cJSON_Delete (reply);
  cJSON_Delete (body);
  cJSON_Delete (port);
  want_clear (&w);
  return r;
}

/* The port now matches the plan: check says done. */
static int
port_verify (struct ferry_ctx *ctx, const struct ferry_step *step,
             struct ferry_err *err)
{
  return ferry_verify_by_check (port_check, ctx, step,
                                "port does not match the plan", err);
}

/* Per port of a VM on an OpenStack target. */
const struct ferry_module ferry_module_port = {
    .name = "port",
    .summary = "the Neutron port exists with its MAC, IP and groups",
    .scope = FERRY_SCOPE_PORT,
    .targets = FERRY_KIND (FERRY_PLAN_TARGET_OPENSTACK),
    .check = port_check,
    .describe = ferry_describe_detail,
    .apply = port_apply,
    .verify = port_verify,
};
