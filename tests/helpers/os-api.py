#!/usr/bin/env python3
"""os-api.py — a tiny OpenStack REST client for the tests (stdlib only).

  os-api.py [--cloud NAME] SERVICE METHOD PATH [BODY [CONTENT-TYPE]]

Authenticates with the clouds.yaml entry NAME (default $OS_CLOUD, file
$OS_CLIENT_CONFIG_FILE; secrets are read from the file, never from argv),
finds SERVICE (compute, volumev3, image, network, identity) in the catalog,
sends the request and prints the JSON reply (or nothing).  Exit 0 on 2xx,
1 otherwise (the body goes to stderr).  The token is cached per cloud in
$TMPDIR/os-api-<cloud>.json for 30 minutes.
"""
import json, os, sys, time, urllib.request, urllib.error
import yaml

def auth(cloud, fresh=False):
    cache = os.path.join(os.environ.get("TMPDIR", "/tmp"), "os-api-%s-%d.json" % (cloud, os.getuid()))
    try:
        if fresh:
            raise OSError
        c = json.load(open(cache))
        if c["cfg"] == os.environ.get("OS_CLIENT_CONFIG_FILE") and c["t"] > time.time() - 1800:
            return c["token"], c["catalog"]
    except Exception:
        pass
    cfg = yaml.safe_load(open(os.environ["OS_CLIENT_CONFIG_FILE"]))["clouds"][cloud]
    a = cfg["auth"]
    url = a["auth_url"].rstrip("/")
    if not url.endswith("/v3"):
        url += "/v3"
    if cfg.get("auth_type") == "v3applicationcredential":
        ident = {"methods": ["application_credential"], "application_credential":
                 {"id": a["application_credential_id"], "secret": a["application_credential_secret"]}}
        body = {"auth": {"identity": ident}}
    else:
        ident = {"methods": ["password"], "password": {"user": {"name": a["username"],
                 "domain": {"name": a.get("user_domain_name", "Default")}, "password": a["password"]}}}
        body = {"auth": {"identity": ident, "scope": {"project": {"name": a["project_name"],
                 "domain": {"name": a.get("project_domain_name", "Default")}}}}}
    req = urllib.request.Request(url + "/auth/tokens", json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        token = r.headers["X-Subject-Token"]
        catalog = json.load(r)["token"]["catalog"]
    fd = os.open(cache, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"cfg": os.environ.get("OS_CLIENT_CONFIG_FILE"), "t": time.time(),
                   "token": token, "catalog": catalog}, f)
    return token, catalog

def main():
    args = sys.argv[1:]
    cloud = os.environ.get("OS_CLOUD", "lab")
    if args[:1] == ["--cloud"]:
        cloud, args = args[1], args[2:]
    svc, method, path = args[0], args[1], args[2]
    svc = {"volume": "volumev3"}.get(svc, svc)
    body = args[3].encode() if len(args) > 3 and args[3] != "" else None
    ctype = args[4] if len(args) > 4 else "application/json"
    for attempt in (0, 1):
        if request(cloud, svc, method, path, body, ctype, attempt == 1):
            return

def request(cloud, svc, method, path, body, ctype, fresh):
    """True when done; False on a 401 with a cached token (retry fresh)."""
    token, catalog = auth(cloud, fresh)
    base = None
    for s in catalog:
        if s["type"] == svc:
            for e in s["endpoints"]:
                if e["interface"] == "public":
                    base = e["url"].rstrip("/")
    if base is None:
        sys.exit("os-api: no %s endpoint" % svc)
    hdr = {"X-Auth-Token": token, "Content-Type": ctype,
           "OpenStack-API-Version": "compute 2.67, volume 3.50"}
    if svc == "network" and not path.startswith("/v2.0"):
        path = "/v2.0" + path
    req = urllib.request.Request(base + path, body, hdr, method=method)
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            data = r.read()
    except urllib.error.HTTPError as e:
        if e.code == 401 and not fresh:
            return False
        sys.stderr.write("os-api: HTTP %d: %s\n" % (e.code, e.read().decode(errors="replace")[:500]))
        sys.exit(1)
    if data:
        sys.stdout.write(data.decode() + "\n")
    return True

main()
