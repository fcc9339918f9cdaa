#!/usr/bin/env python3
"""MSAL Python 1.39's confidential-client additions against a running entra-emulator, leaving
its token cache for entra-msal to read.

Usage:
  python interop/msal_python_confidential.py --info INFO.json --cache-out CACHE.json \
      --forwarded-claims JSON

With the ready-made confidential client (its secret):
  1. acquire_token_for_client(forwarded_client_claims=JSON), twice (the second from the cache);
  2. a federated identity credential (its token for api://AzureADTokenExchange/.default), then
     acquire_token_by_user_federated_identity_credential for the first non-MFA user, by
     username and by object id.
The cache is serialized to CACHE.json. The last line of stdout is one JSON object
{"ok": true|false, ...}; tokens are never printed.
"""

import argparse
import json
import sys
import traceback

import msal
import requests

GRAPH = "https://graph.microsoft.com/User.Read"
TOKEN_EXCHANGE = "api://AzureADTokenExchange/.default"


def session(info):
    s = requests.Session()
    s.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
    s.verify = info["ca_file"]
    return s


def require(condition, message):
    if not condition:
        raise AssertionError(message)


def run(info, cache_out, forwarded):
    cfg = info["confidential_client"]
    cache = msal.SerializableTokenCache()
    app = msal.ConfidentialClientApplication(
        cfg["client_id"], client_credential=cfg["client_secret"], authority=info["authority"],
        instance_discovery=False, http_client=session(info), token_cache=cache)
    first = app.acquire_token_for_client([cfg["scope"]], forwarded_client_claims=forwarded)
    require("access_token" in first, "forwarded claims: %s" % first.get("error_description"))
    second = app.acquire_token_for_client([cfg["scope"]], forwarded_client_claims=forwarded)
    require(second.get("token_source") == "cache", "the second call was not from the cache")

    fic = app.acquire_token_for_client([TOKEN_EXCHANGE])
    require("access_token" in fic, "FIC token: %s" % fic.get("error_description"))
    alice = next(u for u in info["users"] if not u.get("mfa_required") and not u.get("guest"))
    by_name = app.acquire_token_by_user_federated_identity_credential(
        [GRAPH], fic["access_token"], username=alice["username"])
    require("access_token" in by_name, "user_fic by username: %s"
            % by_name.get("error_description"))
    oid = by_name["id_token_claims"]["oid"]
    by_oid = app.acquire_token_by_user_federated_identity_credential(
        ["api://emulator-api/access_as_user"], fic["access_token"], user_object_id=oid)
    require("access_token" in by_oid, "user_fic by object id: %s"
            % by_oid.get("error_description"))
    accounts = app.get_accounts(username=alice["username"])
    require(accounts, "no account after user_fic")
    with open(cache_out, "w") as f:
        f.write(cache.serialize())
    return {"ok": True, "msal_version": msal.__version__, "oid": oid,
            "account_source": accounts[0].get("account_source"),
            "username": alice["username"]}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--info", required=True)
    parser.add_argument("--cache-out", required=True)
    parser.add_argument("--forwarded-claims", required=True)
    args = parser.parse_args()
    with open(args.info) as f:
        info = json.load(f)
    try:
        result = run(info, args.cache_out, args.forwarded_claims)
    except Exception as exc:  # report, never a traceback as the last line
        traceback.print_exc()
        result = {"ok": False, "error": "%s: %s" % (type(exc).__name__, exc)}
    print(json.dumps(result))
    return 0 if result.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
