"""MSAL Python's encrypted token cache on Linux (msal-extensions 1.3.1 LibsecretPersistence),
driven by crates/entra-msal/tests/persistence_keyring.rs to check that entra-msal's
LibsecretPersistence shares it, both ways.

    python msal_python_libsecret.py write SPEC_JSON   # add an app token, save through libsecret
    python msal_python_libsecret.py read SPEC_JSON    # load through libsecret, list the tokens

SPEC_JSON: {"signal": path, "schema_name": str|null, "attributes": {..}|null,
            "client_id": str, "token_endpoint": str, "scope": str, "access_token": str}

Needs PyGObject with the Secret GIR (Debian: python3-gi gir1.2-secret-1) and a Secret Service
on $DBUS_SESSION_BUS_ADDRESS. The last line of stdout is a JSON verdict.
"""
import json
import sys

import msal
from msal_extensions import LibsecretPersistence, PersistedTokenCache


def persistence(spec):
    # Exactly the constructor applications call (msal_extensions/persistence.py).
    kwargs = {}
    if spec.get("schema_name") is not None:
        kwargs["schema_name"] = spec["schema_name"]
    if spec.get("attributes") is not None:
        kwargs["attributes"] = spec["attributes"]
    return LibsecretPersistence(spec["signal"], **kwargs)


def write(spec):
    cache = PersistedTokenCache(persistence(spec))
    # What acquire_token_for_client stores after a token response.
    cache.add({
        "client_id": spec["client_id"],
        "scope": [spec["scope"]],
        "token_endpoint": spec["token_endpoint"],
        "response": {
            "access_token": spec["access_token"],
            "token_type": "Bearer",
            "expires_in": 3600,
        },
        "grant_type": "client_credentials",
    })
    return {"ok": True}


def read(spec):
    cache = PersistedTokenCache(persistence(spec))
    tokens = list(cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN))  # a generator
    return {
        "ok": True,
        "access_tokens": sorted(t["secret"] for t in tokens),
        "clients": sorted({t["client_id"] for t in tokens}),
    }


def main():
    mode, spec = sys.argv[1], json.loads(sys.argv[2])
    verdict = {"write": write, "read": read}[mode](spec)
    print(json.dumps(verdict))


if __name__ == "__main__":
    main()
