"""MSAL Python 1.39's ManagedIdentityClient against entra-emulator's managed-identity endpoints.

Driven by crates/entra-msal/tests/managed_identity_interop_msal_python.rs. The managed-identity
environment variables (IDENTITY_ENDPOINT, MSI_ENDPOINT, ...) are set on this process by the test,
exactly as Azure sets them on a host.

Usage: ``msal_python_managed_identity.py SPEC.json``, where SPEC is
``{"identity": {"ManagedIdentityIdType": ..., "Id": ...}, "resource": ...,
"cache_in": path or null, "cache_out": path or null, "arc_key_directory": path or null}``.

``arc_key_directory`` replaces MSAL Python's fixed ``/var/opt/azcmagent/tokens`` (a test cannot
write there); nothing else of MSAL is changed.

The last line of stdout is one JSON object: the detected source, ``token_source``, the SHA-256
of the access token (never the token), ``expires_in`` and ``refresh_on``, or ``error``.
"""
import hashlib
import json
import sys

import msal
import msal.managed_identity as mi
import requests


def main():
    spec = json.load(open(sys.argv[1]))
    if spec.get("arc_key_directory"):
        mi._supported_arc_platforms_and_their_prefixes["linux"] = spec["arc_key_directory"]
    cache = msal.SerializableTokenCache()
    if spec.get("cache_in"):
        cache.deserialize(open(spec["cache_in"]).read())
    session = requests.Session()
    session.trust_env = False  # no proxy or CA bundle from the machine
    client = msal.ManagedIdentityClient(
        spec["identity"], http_client=session, token_cache=cache)
    source = {
        id(mi.SERVICE_FABRIC): "service_fabric", id(mi.APP_SERVICE): "app_service",
        id(mi.MACHINE_LEARNING): "machine_learning", id(mi.AZURE_ARC): "azure_arc",
        id(mi.CLOUD_SHELL): "cloud_shell", id(mi.DEFAULT_TO_VM): "imds",
    }[id(mi.get_managed_identity_source())]
    out = {"source": source}
    try:
        result = client.acquire_token_for_client(resource=spec["resource"])
    except Exception as e:  # a transport or MSAL error: report it, do not hide it
        out["error"] = "{}: {}".format(type(e).__name__, e)
        print(json.dumps(out))
        return 1
    if "access_token" in result:
        out.update({
            "token_source": result.get("token_source"),
            "token_sha256": hashlib.sha256(result["access_token"].encode()).hexdigest(),
            "expires_in": result.get("expires_in"),
            "refresh_on": result.get("refresh_on"),
        })
    else:
        out["error"] = "{}: {}".format(result.get("error"), result.get("error_description"))
    if spec.get("cache_out"):
        open(spec["cache_out"], "w").write(cache.serialize())
    print(json.dumps(out))
    return 0 if "error" not in out else 1


if __name__ == "__main__":
    sys.exit(main())
