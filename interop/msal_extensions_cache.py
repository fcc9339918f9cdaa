#!/usr/bin/env python3
"""MSAL Python 1.39 with msal-extensions 1.3.1 and entra-msal sharing one persisted cache file.

Usage:
  python interop/msal_extensions_cache.py --info INFO.json --cache FILE --scope SCOPE

INFO.json is the emulator's connection info (`entra-emulator serve --json --enable-control`).
The ready-made secret client calls acquire_token_for_client(SCOPE) with a token cache of
msal_extensions.PersistedTokenCache(FilePersistence(FILE)): the token comes from FILE when it
is there, else from the emulator and is then written to FILE.

The last stdout line is one JSON object: "ok", "token_source" ("cache" or
"identity_provider"), "token_sha256" (the SHA-256 of the access token; tokens are never
printed) and "error". Exit status 0 when "ok" is true.
"""

import argparse
import hashlib
import json
import sys

import msal
import requests
from msal_extensions import FilePersistence, PersistedTokenCache


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--info", required=True)
    parser.add_argument("--cache", required=True)
    parser.add_argument("--scope", required=True)
    args = parser.parse_args()
    with open(args.info, encoding="utf-8") as f:
        info = json.load(f)

    http = requests.Session()
    http.verify = info["ca_file"]
    http.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
    client = info["confidential_client"]
    app = msal.ConfidentialClientApplication(
        client["client_id"], client_credential=client["client_secret"],
        authority=info["authority"], instance_discovery=False, http_client=http,
        token_cache=PersistedTokenCache(FilePersistence(args.cache)))
    result = app.acquire_token_for_client([args.scope])
    token = result.get("access_token")
    report = {
        "ok": bool(token),
        "token_source": result.get("token_source"),
        "token_sha256": hashlib.sha256(token.encode()).hexdigest() if token else None,
        "error": result.get("error"),
    }
    print(json.dumps(report))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
