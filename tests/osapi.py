#!/usr/bin/env python3
# tests/osapi.py CLOUD METHOD SERVICE PATH [BODY-JSON] [CONTENT-TYPE]: one REST call
# to the lab with a token of clouds.yaml's CLOUD (cached in $OSAPI_CACHE);
# prints the reply body; exit 1 on an HTTP error (status and body on stderr).
import json, os, sys, urllib.request, urllib.error, yaml
cloud, method, service, path = sys.argv[1:5]
body = sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] != "" else None
ctype = sys.argv[6] if len(sys.argv) > 6 else "application/json"
cache = os.path.join(os.environ.get("OSAPI_CACHE", "/tmp"), "osapi-%s.json" % cloud)
def auth():
    c = yaml.safe_load(open(os.environ["OS_CLIENT_CONFIG_FILE"]))["clouds"][cloud]["auth"]
    req = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": c["username"], "domain": {"name": c["user_domain_name"]},
        "password": c["password"]}}}, "scope": {"project": {"name": c.get("project_name", c["username"]),
        "domain": {"name": c["project_domain_name"]}}}}}
    r = urllib.request.urlopen(urllib.request.Request(c["auth_url"] + "/auth/tokens",
        data=json.dumps(req).encode(), headers={"Content-Type": "application/json"}))
    cat = json.load(r)["token"]["catalog"]
    eps = {e["type"]: [x["url"] for x in e["endpoints"] if x["interface"] == "public"][0] for e in cat}
    d = {"token": r.headers["X-Subject-Token"], "eps": eps}
    json.dump(d, open(cache, "w"))
    return d
try:
    d = json.load(open(cache))
except Exception:
    d = auth()
svc = {"compute": "compute", "volume": "volumev3", "image": "image", "network": "network"}[service]
def call(d):
    url = d["eps"][svc].rstrip("/") + path
    h = {"X-Auth-Token": d["token"], "Content-Type": ctype}
    if svc == "volumev3": h["OpenStack-API-Version"] = "volume 3.50"
    if svc == "compute": h["OpenStack-API-Version"] = "compute 2.67"
    return urllib.request.urlopen(urllib.request.Request(url, method=method,
        data=body.encode() if body is not None else None, headers=h))
try:
    try:
        r = call(d)
    except urllib.error.HTTPError as e:
        if e.code != 401: raise
        r = call(auth())
    sys.stdout.write(r.read().decode())
except urllib.error.HTTPError as e:
    sys.stderr.write("HTTP %d %s\n" % (e.code, e.read().decode()[:500]))
    sys.exit(1)
