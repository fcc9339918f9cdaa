#!/usr/bin/env python3
"""MSAL Python 1.39 next to the `msal` CLI: the cache file it writes, and the silent job the
benchmark compares.

Usage:
  python interop/msal_cli_python.py signin INFO.json CACHE.json RESULT.json
      MSAL Python signs alice in against the running emulator (username/password, the
      ready-made public client) and writes its SerializableTokenCache to CACHE.json.
      RESULT.json gets {"access_token": ..., "username": ..., "home_account_id": ...}
      for the test to compare with what `msal token --cache-file CACHE.json` prints
      (written to a file, never printed).

  python interop/msal_cli_python.py silent INFO.json CACHE.json SCOPE
      The benchmark's job: load the serialized cache, build a PublicClientApplication,
      acquire_token_silent for the first account, print the access token (like
      `msal token --output token`). Exit status 1 when there is no token.

INFO.json is the connection info of `entra-emulator serve --json` (or `msal emulator serve`).
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import msal  # noqa: E402

from msal_python_interop import EmulatorSession  # noqa: E402


def app(info, cache):
    return msal.PublicClientApplication(
        info["public_client"]["client_id"],
        authority=info["authority"],
        instance_discovery=False,
        http_client=EmulatorSession(info),
        token_cache=cache,
    )


def signin(info_path, cache_path, result_path):
    info = json.load(open(info_path))
    cache = msal.SerializableTokenCache()
    alice = next(u for u in info["users"] if u["username"].startswith("alice"))
    result = app(info, cache).acquire_token_by_username_password(
        alice["username"], alice["password"], [info["public_client"]["scope"]])
    if "access_token" not in result:
        print(json.dumps({"ok": False, "error": result.get("error"),
                          "error_description": result.get("error_description")}))
        return 1
    with open(cache_path, "w") as f:
        f.write(cache.serialize())
    account = app(info, cache).get_accounts()[0]
    with open(result_path, "w") as f:
        json.dump({"access_token": result["access_token"], "username": account["username"],
                   "home_account_id": account["home_account_id"]}, f)
    print(json.dumps({"ok": True}))
    return 0


def silent(info_path, cache_path, scope):
    info = json.load(open(info_path))
    cache = msal.SerializableTokenCache()
    with open(cache_path) as f:
        cache.deserialize(f.read())
    pca = app(info, cache)
    accounts = pca.get_accounts()
    result = pca.acquire_token_silent([scope], account=accounts[0]) if accounts else None
    if not result or "access_token" not in result:
        print("no token", file=sys.stderr)
        return 1
    print(result["access_token"])
    return 0


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "signin" and len(sys.argv) == 5:
        sys.exit(signin(*sys.argv[2:]))
    if mode == "silent" and len(sys.argv) == 5:
        sys.exit(silent(*sys.argv[2:]))
    print(__doc__, file=sys.stderr)
    sys.exit(2)
