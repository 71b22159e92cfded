#!/usr/bin/env python3
"""os-fake.py PORTFILE LOGFILE [CERT KEY]: a canned-fault OpenStack on
127.0.0.1 (HTTPS with CERT and KEY).

Serves the faults a real cloud cannot be made to produce on demand, for
tests/t/60-os-client.t.  It listens on a free port (written to PORTFILE)
and picks the scenario from the first path segment, so one server serves
every test: a cloud whose auth_url is http://127.0.0.1:PORT/<scenario>/v3
gets a token whose catalog points back to /<scenario>/<service>/...
The scenario's kind is the segment up to the first '-' ("r500-2" is a
"r500").  Each request is appended to LOGFILE as
"<scenario> <METHOD> <path> <token-tag>" (token-tag is "A", "B", ... by
issue order, never the token).  The password must be $FAKE_PASSWORD.
"""
import json
import os
import socket
import ssl
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PROJECT = "p-0123456789"
PASSWORD = os.environ.get("FAKE_PASSWORD", "")
APP_SECRET = os.environ.get("FAKE_APP_SECRET", "")
lock = threading.Lock()
state = {}  # scenario -> {"hits": n, "tokens": [..]}


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


CLOSED = closed_port()


def st(scen):
    with lock:
        return state.setdefault(scen, {"hits": 0, "tokens": []})


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.000000Z")


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, code, obj=None, raw=None, ctype="application/json",
              headers=(), close=False):
        body = raw if raw is not None else (
            b"" if obj is None else json.dumps(obj).encode())
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def log(self, scen, tag):
        with open(sys.argv[2], "a") as f:
            f.write("%s %s %s %s\n" % (scen, self.command, self.path, tag))

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def catalog(self, scen):
        base = "%s://127.0.0.1:%d/%s" % (
            "https" if len(sys.argv) > 3 else "http",
            self.server.server_port, scen)
        if scen.split("-")[0] == "refused":
            base = "http://127.0.0.1:%d/%s" % (CLOSED, scen)
        eps = [("identity", base + "/v3"),
               ("compute", base + "/compute/v2.1"),
               ("volumev3", base + "/volume/v3/" + PROJECT),
               ("image", base + "/image"),
               ("network", base + "/network")]
        cat = []
        for t, url in eps:
            cat.append({"type": t, "name": t, "endpoints": [
                {"interface": "internal", "region_id": "RegionOne",
                 "region": "RegionOne", "url": url + "-internal"},
                {"interface": "public", "region_id": "RegionTwo",
                 "region": "RegionTwo", "url": url + "-two"},
                {"interface": "public", "region_id": "RegionOne",
                 "region": "RegionOne", "url": url}]})
        return cat

    def auth(self, scen, kind):
        try:
            req = json.loads(self.body())
            ident = req["auth"]["identity"]
            if ident["methods"] == ["password"]:
                good = ident["password"]["user"]["password"] == PASSWORD
            else:
                good = ident["application_credential"]["secret"] == APP_SECRET
        except (ValueError, KeyError, TypeError):
            return self.reply(400, {"error": {"code": 400,
                              "message": "malformed auth request"}},
                              close=True)
        s = st(scen)
        if not good or kind == "badauth":
            self.log(scen, "-")
            return self.reply(401, {"error": {
                "code": 401, "title": "Unauthorized",
                "message": "The request you have made requires "
                           "authentication."}}, close=True)
        with lock:
            s["tokens"].append("gAAAAAB-fake-token-%s-%d-%s" % (
                scen, len(s["tokens"]) + 1, os.urandom(8).hex()))
            tok, n = s["tokens"][-1], len(s["tokens"])
        self.log(scen, chr(ord("A") + n - 1))
        # "expiring": the first token has 62 s left, so 2 s later the
        # client must see it as expiring within 60 s and ask again
        life = 62 if kind == "expiring" and n == 1 else 3600
        exp = datetime.now(timezone.utc) + timedelta(seconds=life)
        self.reply(201, {"token": {
            "expires_at": iso(exp), "methods": ["password"],
            "project": {"id": PROJECT, "name": "demo",
                        "domain": {"id": "default"}},
            "catalog": self.catalog(scen)}},
            headers=[("X-Subject-Token", tok)], close=True)

    def handle_any(self):
        parts = self.path.split("/")
        if len(parts) < 3:
            return self.reply(404, raw=b"no scenario", ctype="text/plain")
        scen = parts[1]
        kind = scen.split("-")[0]
        rest = "/" + "/".join(parts[2:])
        if rest == "/v3/auth/tokens" and self.command == "POST":
            return self.auth(scen, kind)
        s = st(scen)
        tok = self.headers.get("X-Auth-Token")
        with lock:
            tag = (chr(ord("A") + s["tokens"].index(tok))
                   if tok in s["tokens"] else "?")
            s["hits"] += 1
            hit = s["hits"]
        self.body()
        self.log(scen, tag)
        if tag == "?":
            return self.reply(401, {"error": {"code": 401,
                              "message": "unknown token"}})
        if rest.startswith("/volume/") and self.headers.get(
                "OpenStack-API-Version") != "volume 3.50":
            return self.reply(400, {"badRequest": {
                "code": 400, "message": "no microversion header"}})
        if rest.startswith("/compute/") and self.headers.get(
                "OpenStack-API-Version") != "compute 2.67":
            return self.reply(400, {"badRequest": {
                "code": 400, "message": "no microversion header"}})
        ok = {"volumes": [{"id": "v1", "status": "available"}]}
        if kind == "ok":
            return self.reply(200, ok)
        if kind == "slow":
            time.sleep(3)
            return self.reply(200, ok)
        if kind == "r500":
            if hit <= 2:
                return self.reply(500, {"computeFault": {
                    "code": 500, "message": "boom"}})
            return self.reply(200, ok)
        if kind == "r429":
            if hit == 1:
                return self.reply(429, {"overLimit": {
                    "code": 429, "message": "slow down"}},
                    headers=[("Retry-After", "1")])
            return self.reply(200, ok)
        if kind == "e404":
            return self.reply(404, {"itemNotFound": {
                "message": "volume type 'ceph' not found", "code": 404}})
        if kind == "e400":
            return self.reply(400, {"badRequest": {
                "message": "Invalid input for field/attribute size.",
                "code": 400}})
        if kind == "e500":
            return self.reply(500, {"computeFault": {
                "code": 500, "message": "the database is down"}})
        if kind == "neutron404":
            return self.reply(404, {"NeutronError": {
                "type": "NetworkNotFound", "detail": "",
                "message": "Network nope could not be found."}})
        if kind == "glance404":
            return self.reply(404, raw=(
                b"<html>\n <head>\n  <title>404 Not Found</title>\n </head>\n"
                b" <body>\n  <h1>404 Not Found</h1>\n  No image found with "
                b"ID 42<br /><br />\n\n\n </body>\n</html>"),
                ctype="text/html; charset=UTF-8")
        if kind == "busy409":
            if hit == 1:
                return self.reply(409, {"conflictingRequest": {
                    "code": 409, "message": "Cannot 'attach_volume' "
                    "instance x while it is in task_state spawning"}})
            return self.reply(200, ok)
        if kind == "plain409":
            return self.reply(409, {"conflictingRequest": {
                "code": 409, "message": "Volume name 'a' already exists"}})
        if kind == "cut":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b'{"volumes": [{"id": "v1", "sta')
            self.wfile.flush()
            self.close_connection = True
            return
        if kind == "badjson":
            return self.reply(200, raw=b'{"volumes": [{"id": "v1",]}')
        if kind == "r401":
            if tag == "A":
                return self.reply(401, {"error": {
                    "code": 401, "message": "token revoked"}})
            return self.pages(rest, 2)
        if kind == "a401":
            return self.reply(401, {"error": {
                "code": 401, "message": "The request you have made requires "
                "authentication."}})
        if kind == "pages":
            return self.pages(rest, 3)
        if kind in ("wait", "waiterr", "expiring"):
            status = "creating" if hit < (4 if kind == "expiring" else 3) else (
                "error" if kind == "waiterr" else "available")
            return self.reply(200, {"server": {
                "id": "s1", "status": status,
                "fault": {"message": "No valid host was found."}}})
        return self.reply(500, raw=b"unknown scenario", ctype="text/plain")

    def pages(self, rest, n):
        """Page i of n of volumes, servers (Nova/Cinder links with another
        host), networks (Neutron links) or images (Glance "next")."""
        path, _, query = rest.partition("?")
        marker = 0
        for kv in query.split("&"):
            if kv.startswith("marker="):
                marker = int(kv[7:])
        items = [{"id": "i%d" % (marker * 2 + k), "name": "n"}
                 for k in range(2)]
        nxt = marker + 1 if marker + 1 < n else None
        key = {"volume": "volumes", "compute": "servers",
               "network": "networks", "image": "images"}[
                   path.split("/")[1]]
        body = {key: items}
        if nxt is not None:
            if key == "images":
                body["next"] = "/v2/images?marker=%d" % nxt
            else:
                body[key + "_links"] = [{
                    "rel": "next",
                    "href": "http://proxy.invalid:8776%s?limit=2&marker=%d" %
                            (path, nxt)}]
        return self.reply(200, body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any


class Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # a client that gave up on a slow or stalled scenario (the tests of
        # timeouts do that on purpose) closes before the reply is written
        if isinstance(sys.exc_info()[1], (BrokenPipeError,
                                           ConnectionResetError)):
            return
        super().handle_error(request, client_address)


def main():
    srv = Server(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    if len(sys.argv) > 3:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[3], sys.argv[4])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    tmp = sys.argv[1] + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_port)
    os.rename(tmp, sys.argv[1])
    srv.serve_forever()


if __name__ == "__main__":
    main()
