#!/usr/bin/env python3
"""Records seed inputs for the fuzz targets from real entra-emulator traffic.

Usage: fuzz/seed_corpora.py PATH/TO/entra-emulator [PYTHON_WITH_MSAL]

Starts the emulator (plain HTTP, control API on), sends the requests MSAL clients send (discovery,
client credentials, username/password, refresh, device code, errors), and writes each request and
answer into fuzz/seeds/<target>/ with the prefix bytes the target expects (see
crates/*/src/fuzzing.rs). With a Python that has `msal`, also writes MSAL Python's serialized
token cache for those answers. Re-running adds files named by content hash; nothing is removed.
"""

import base64
import hashlib
import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(ROOT, "seeds")
STATUSES = [200, 400, 401, 403, 404, 429, 500, 503, 302, 201]
ROUTES = ["token", "authorize-get", "authorize-post", "devicecode", "devicelogin-post",
          "instance", "openid", "userrealm", "logout", "devicelogin-get"]
TENANTS = ["common", "organizations", "7a1c0f52-3d8e-4b6a-9f21-c4e5d6b7a801",
           "contoso.example", "consumers"]


def save(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    name = "seed-" + hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def status_index(status):
    return STATUSES.index(status) if status in STATUSES else 1


def call(method, url, form=None):
    body = urllib.parse.urlencode(form).encode() if form is not None else None
    req = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        req.add_header("content-type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def record_emulator_request(route, tenant, payload):
    selector = ROUTES.index(route) + 16 * TENANTS.index(tenant)
    save("emulator_http", bytes([selector, 0]) + payload)
    if route not in ("authorize-get", "instance", "openid", "userrealm", "devicelogin-get"):
        save("emulator_form", b"\x00" + payload)


# The in-process emulator of the emulator_http target has fixed credentials (fuzzing.rs).
FUZZ_SECRET = "Fuzz-Secret-1"
FUZZ_PASSWORD = "Fuzz-Password-1"


def token(base, tenant, form):
    fixed = dict(form)
    if "client_secret" in fixed and fixed["client_secret"] != "wrong":
        fixed["client_secret"] = FUZZ_SECRET
    if "password" in fixed and fixed["password"] != "wrong":
        fixed["password"] = FUZZ_PASSWORD
    record_emulator_request("token", tenant, urllib.parse.urlencode(fixed).encode())
    status, body = call("POST", f"{base}/{tenant}/oauth2/v2.0/token", form)
    save("token_response", bytes([status_index(status), 0, 0]) + body)
    # client_flow: the same answer to a confidential (high bit clear) and a public client.
    save("client_flow", bytes([status_index(status), 0, 0]) + body)
    save("client_flow", bytes([status_index(status) | 0x80, 0, 0]) + body)
    if status == 200:
        j = json.loads(body)
        for k in ("id_token", "client_info"):
            if k in j:
                save("id_token_claims", j[k])
    else:
        j = json.loads(body)
        if j.get("claims"):
            save("id_token_claims", j["claims"])
    return status, body


def main():
    emulator = sys.argv[1]
    proc = subprocess.Popen([emulator, "serve", "--http", "--json", "--enable-control"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        info = json.loads(proc.stdout.readline())
        run(info)
    finally:
        proc.terminate()
        proc.wait()


def run(info):
    base = info["base_url"]
    tid = info["tenant_id"]
    conf = info["confidential_client"]
    pub = info["public_client"]
    alice = info["users"][0]

    # Discovery documents, as the discovery target reads them (authority 5: plain-HTTP loopback).
    for tenant in (tid, "common", "organizations", "contoso.example", "no-such-tenant"):
        status, body = call("GET", f"{base}/{tenant}/v2.0/.well-known/openid-configuration")
        save("discovery", bytes([5, status_index(status)]) + body)
        record_emulator_request("openid", tid if tenant == "no-such-tenant" else "common", b"")
    q = urllib.parse.urlencode({"api-version": "1.1",
                                "authorization_endpoint": f"{base}/{tid}/oauth2/v2.0/authorize"})
    status, body = call("GET", f"{base}/common/discovery/instance?{q}")
    for which in range(6):
        save("discovery", bytes([which, status_index(status)]) + body)
    record_emulator_request("instance", "common", q.encode())
    for user in ("alice@contoso.example", "someone@federated.fabrikam.example", "x@unknown.example"):
        status, body = call("GET", f"{base}/common/userrealm/{user}?api-version=1.0")
        save("discovery", bytes([0, status_index(status)]) + body)
    save("discovery", b"\x00\x00" + f"{base}/{tid}".encode())
    save("discovery", b"\x00\x00https://contoso.b2clogin.com/tfp/contoso.onmicrosoft.com/B2C_1_signin")

    # Client credentials: success and the common errors.
    token(base, tid, {"grant_type": "client_credentials", "client_id": conf["client_id"],
                      "client_secret": conf["client_secret"], "scope": conf["scope"]})
    token(base, tid, {"grant_type": "client_credentials", "client_id": conf["client_id"],
                      "client_secret": "wrong", "scope": conf["scope"]})
    token(base, tid, {"grant_type": "client_credentials", "client_id": conf["client_id"],
                      "client_secret": conf["client_secret"], "scope": "api://a/.default api://b/x"})
    # Username/password, refresh, MFA-required and consent-required users.
    scope = f"{pub['scope']} openid profile offline_access"
    status, body = token(base, tid, {"grant_type": "password", "client_id": pub["client_id"],
                                     "username": alice["username"], "password": alice["password"],
                                     "scope": scope, "client_info": "1"})
    ropc = json.loads(body) if status == 200 else None
    if ropc:
        token(base, tid, {"grant_type": "refresh_token", "client_id": pub["client_id"],
                          "refresh_token": ropc["refresh_token"], "scope": scope,
                          "client_info": "1"})
    for user in info["users"][1:]:
        token(base, tid, {"grant_type": "password", "client_id": pub["client_id"],
                          "username": user["username"], "password": user["password"],
                          "scope": scope, "client_info": "1"})
    token(base, tid, {"grant_type": "password", "client_id": pub["client_id"],
                      "username": alice["username"], "password": "wrong", "scope": scope})
    token(base, tid, {"grant_type": "authorization_code", "client_id": pub["client_id"],
                      "code": "bogus", "redirect_uri": "http://localhost", "scope": scope,
                      "code_verifier": "x" * 43})
    # Device code: the request, then a poll while pending.
    form = {"client_id": pub["client_id"], "scope": scope}
    record_emulator_request("devicecode", tid, urllib.parse.urlencode(form).encode())
    status, body = call("POST", f"{base}/{tid}/oauth2/v2.0/devicecode", form)
    if status == 200:
        dc = json.loads(body)
        token(base, tid, {"grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                          "client_id": pub["client_id"], "device_code": dc["device_code"]})
        record_emulator_request("devicelogin-post", "common",
                                urllib.parse.urlencode({"user_code": dc["user_code"]}).encode())
    # The authorization request a browser sends, and the loopback listener's side of it.
    auth = urllib.parse.urlencode({
        "client_id": pub["client_id"], "response_type": "code",
        "redirect_uri": "http://localhost:8400", "scope": scope, "state": "st4te",
        "nonce": "n0nce", "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGEjcw-cM",
        "code_challenge_method": "S256", "response_mode": "form_post", "prompt": "select_account"})
    record_emulator_request("authorize-get", tid, auth.encode())
    record_emulator_request("authorize-post", tid, b"request_id=r&username=alice%40contoso.example&password=pw")
    record_emulator_request("logout", tid, b"post_logout_redirect_uri=http%3A%2F%2Flocalhost")

    # The loopback listener's requests: a form_post answer, a query answer, and oddities.
    post_body = b"code=0.AXYA-code&state=st4te&session_state=5d6e"
    save("http1_request", b"POST / HTTP/1.1\r\nHost: localhost:8400\r\nContent-Type: "
         b"application/x-www-form-urlencoded\r\nContent-Length: %d\r\nOrigin: null\r\n\r\n%s"
         % (len(post_body), post_body))
    save("http1_request", b"GET /?code=abc&state=st4te HTTP/1.1\r\nHost: 127.0.0.1:8400\r\n"
         b"User-Agent: Mozilla/5.0\r\nAccept: text/html\r\n\r\n")
    save("http1_request", b"GET /?error=access_denied&error_description=AADSTS65004&state=s "
         b"HTTP/1.0\n\n")
    save("http1_request", b"\r\nPOST / HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\n"
         b"Content-Length: 10, 10\r\n\r\ncode=x&s=1")
    save("http1_request", b"GET /favicon.ico HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n")
    save("http1_request", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\ncode=\r\n0\r\n\r\n")

    # MSAL Python's serialized cache for the username/password answer.
    if ropc and len(sys.argv) > 2:
        script = (
            "import json,sys,msal\n"
            "resp=json.loads(sys.argv[1])\n"
            "c=msal.SerializableTokenCache()\n"
            "c.add({'client_id':sys.argv[2],'scope':sys.argv[3].split(),"
            "'token_endpoint':'https://login.microsoftonline.com/'+sys.argv[4]+'/oauth2/v2.0/token',"
            "'response':resp,'grant_type':'password','username':'alice@contoso.example'})\n"
            "print(c.serialize())\n")
        out = subprocess.run([sys.argv[2], "-c", script, json.dumps(ropc), pub["client_id"],
                              scope, tid], capture_output=True, text=True, check=True).stdout
        save("cache_json", out)


if __name__ == "__main__":
    main()
