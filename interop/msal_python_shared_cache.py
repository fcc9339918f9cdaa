#!/usr/bin/env python3
"""MSAL Python 1.39 and entra-msal sharing one token cache file.

Usage:
  python interop/msal_python_shared_cache.py --info INFO.json --cache FILE --step STEP

INFO.json is the emulator's connection info (`entra-emulator serve --json --enable-control`).
Steps:
  write-app-token    acquire_token_for_client with the ready-made secret client, then write the
                     serialized cache to FILE
  write-user-token   the web-app auth-code flow (approved through the control API) for alice,
                     then write the cache to FILE
  read-app-token     load FILE, acquire_token_for_client must come from the cache
  read-user-token    load FILE, get_accounts must list alice, acquire_token_silent must come from
                     the cache, and a forced refresh must work with the refresh token in FILE
  write-public-user  a PublicClientApplication signs alice in with the device flow (approved
                     through the control API), then writes the cache to FILE
  read-public-user   load FILE into a PublicClientApplication: as read-user-token
The last stdout line is one JSON object; "token_sha256" is the SHA-256 of the access token
(tokens are never printed). Exit status 0 when "ok" is true.
"""

import argparse
import hashlib
import json
import sys
import urllib.parse

import msal
import requests

REDIRECT_URI = "https://localhost/auth/callback"
USER_SCOPE = "api://emulator-api/access_as_user"


def session(info):
    s = requests.Session()
    s.verify = info["ca_file"]
    s.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
    return s


def app(info, cache):
    c = info["confidential_client"]
    return msal.ConfidentialClientApplication(
        c["client_id"], client_credential=c["client_secret"], authority=info["authority"],
        instance_discovery=False, http_client=session(info), token_cache=cache)


def digest(result):
    token = result.get("access_token") or ""
    return hashlib.sha256(token.encode()).hexdigest() if token else None


def load(path):
    cache = msal.SerializableTokenCache()
    with open(path, encoding="utf-8") as f:
        cache.deserialize(f.read())
    return cache


def save(cache, path):
    with open(path, "w", encoding="utf-8") as f:
        f.write(cache.serialize())


def write_app_token(info, path):
    cache = msal.SerializableTokenCache()
    result = app(info, cache).acquire_token_for_client([info["confidential_client"]["scope"]])
    save(cache, path)
    return {"ok": "access_token" in result, "token_sha256": digest(result), "error": result.get("error")}


def write_user_token(info, path):
    cache = msal.SerializableTokenCache()
    a = app(info, cache)
    flow = a.initiate_auth_code_flow([USER_SCOPE], redirect_uri=REDIRECT_URI)
    http = session(info)
    http.get(flow["auth_uri"])  # the emulator registers the pending sign-in
    approved = http.post(info["control_url"] + "/authorize/approve",
                         json={"state": flow["state"], "username": info["users"][0]["username"]})
    approved.raise_for_status()
    params = approved.json()["params"]
    result = a.acquire_token_by_auth_code_flow(flow, params)
    save(cache, path)
    return {"ok": "access_token" in result, "token_sha256": digest(result), "error": result.get("error"),
            "home_account_id": (a.get_accounts() or [{}])[0].get("home_account_id")}


def read_app_token(info, path):
    cache = load(path)
    result = app(info, cache).acquire_token_for_client([info["confidential_client"]["scope"]])
    return {"ok": result.get("token_source") == "cache", "token_source": result.get("token_source"),
            "token_sha256": digest(result), "error": result.get("error")}


def public_app(info, cache):
    return msal.PublicClientApplication(
        info["public_client"]["client_id"], authority=info["authority"],
        instance_discovery=False, http_client=session(info), token_cache=cache)


def write_public_user(info, path):
    cache = msal.SerializableTokenCache()
    a = public_app(info, cache)
    flow = a.initiate_device_flow([USER_SCOPE])
    if "user_code" not in flow:
        return {"ok": False, "error": flow}
    approved = session(info).post(info["control_url"] + "/device/approve",
                                  json={"user_code": flow["user_code"], "username": info["users"][0]["username"]})
    approved.raise_for_status()
    result = a.acquire_token_by_device_flow(flow)
    save(cache, path)
    return {"ok": "access_token" in result, "token_sha256": digest(result), "error": result.get("error"),
            "home_account_id": (a.get_accounts() or [{}])[0].get("home_account_id")}


def read_public_user(info, path):
    return read_user_token(info, path, public_app)


def read_user_token(info, path, make_app=app):
    cache = load(path)
    a = make_app(info, cache)
    accounts = a.get_accounts(username=info["users"][0]["username"])
    if not accounts:
        return {"ok": False, "error": "get_accounts found no account", "accounts": a.get_accounts()}
    cached = a.acquire_token_silent([USER_SCOPE], account=accounts[0]) or {}
    refreshed = a.acquire_token_silent_with_error([USER_SCOPE], account=accounts[0], force_refresh=True) or {}
    return {
        "ok": cached.get("token_source") == "cache" and refreshed.get("token_source") == "identity_provider",
        "cached_source": cached.get("token_source"),
        "token_sha256": digest(cached),
        "refreshed_source": refreshed.get("token_source"),
        "refresh_error": refreshed.get("error"),
        "home_account_id": accounts[0].get("home_account_id"),
    }


STEPS = {
    "write-app-token": write_app_token,
    "write-user-token": write_user_token,
    "read-app-token": read_app_token,
    "read-user-token": read_user_token,
    "write-public-user": write_public_user,
    "read-public-user": read_public_user,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--info", required=True)
    parser.add_argument("--cache", required=True)
    parser.add_argument("--step", required=True, choices=sorted(STEPS))
    args = parser.parse_args()
    with open(args.info, encoding="utf-8") as f:
        info = json.load(f)
    try:
        report = STEPS[args.step](info, args.cache)
    except Exception as e:  # report, never hang or print a traceback as the result
        report = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
    report["step"] = args.step
    print(json.dumps(report))
    sys.exit(0 if report.get("ok") else 1)


if __name__ == "__main__":
    main()
