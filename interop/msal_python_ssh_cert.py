#!/usr/bin/env python3
"""MSAL Python 1.39 (unchanged) obtains SSH certificates from a running entra-emulator, the way
`az ssh` asks for them: `data={"token_type": "ssh-cert", "req_cnf": <JWK>, "key_id": <id>}`.

Usage:
  python interop/msal_python_ssh_cert.py --info INFO.json --public-key KEY.pub --out DIR

INFO.json is the connection info `entra-emulator serve --json` prints. KEY.pub is an OpenSSH
RSA public key line. In DIR the script writes `cert.pub` (the certificate line `ssh` reads, from
a username/password sign-in with the key's JWK) and `cache.json` (MSAL Python's serialized token
cache). It also checks, with MSAL Python's own API: the silent call with the same `key_id` is
answered from the cache; a silent call with another key gets a new certificate through the
refresh token. The last line of stdout is one JSON object {"ok": true|false, ...}; tokens are
never printed.
"""

import argparse
import base64
import hashlib
import json
import os
import struct
import sys
import traceback
import urllib.parse

import msal
import requests

SSH_SCOPE = ["https://pas.windows.net/CheckMyAccess/Linux/.default"]


class Session(requests.Session):
    """Trusts only the emulator's CA; sends user-realm GETs (built without the port) to it."""

    def __init__(self, info):
        super().__init__()
        self.verify = info["ca_file"]
        self.trust_env = False
        base = urllib.parse.urlsplit(info["base_url"])
        self._host, self._port = base.hostname, base.port

    def get(self, url, *args, **kwargs):
        parts = urllib.parse.urlsplit(url)
        if parts.hostname == self._host and parts.port is None:
            url = urllib.parse.urlunsplit(
                parts._replace(netloc="%s:%d" % (self._host, self._port)))
        return super().get(url, *args, **kwargs)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwk_of_openssh_line(line):
    """The RSA JWK and az ssh's key id of an `ssh-rsa AAAA...` line."""
    blob = base64.b64decode(line.split()[1])
    fields, offset = [], 0
    while offset < len(blob):
        (length,) = struct.unpack(">I", blob[offset:offset + 4])
        fields.append(blob[offset + 4:offset + 4 + length])
        offset += 4 + length
    kind, e, n = fields
    assert kind == b"ssh-rsa", kind
    n_text, e_text = b64url(n.lstrip(b"\0")), b64url(e.lstrip(b"\0"))
    key_id = hashlib.sha256((n_text + e_text).encode()).hexdigest()
    return {"kty": "RSA", "n": n_text, "e": e_text, "kid": key_id}, key_id


def ssh_data(jwk, key_id):
    return {"token_type": "ssh-cert", "req_cnf": json.dumps(jwk), "key_id": key_id}


def check_cert(result, what):
    if not (isinstance(result, dict) and result.get("access_token")):
        raise AssertionError("%s: no certificate: %s" % (what, {
            k: v for k, v in (result or {}).items() if k != "access_token"}))
    if result.get("token_type") != "ssh-cert":
        raise AssertionError("%s: token_type %r" % (what, result.get("token_type")))
    if not result["access_token"].startswith("AAAA"):
        raise AssertionError("%s: the access token is not an SSH certificate blob" % what)
    return result["access_token"]


def run(args):
    with open(args.info) as f:
        info = json.load(f)
    with open(args.public_key) as f:
        jwk, key_id = jwk_of_openssh_line(f.read())
    alice = next(u for u in info["users"] if not u["mfa_required"] and not u["guest"])
    app = msal.PublicClientApplication(
        info["public_client"]["client_id"], authority=info["authority"],
        instance_discovery=False, http_client=Session(info),
        token_cache=msal.SerializableTokenCache())

    first = app.acquire_token_by_username_password(
        alice["username"], alice["password"], SSH_SCOPE, data=ssh_data(jwk, key_id))
    cert = check_cert(first, "username/password")
    with open(os.path.join(args.out, "cert.pub"), "w") as f:
        f.write("ssh-rsa-cert-v01@openssh.com %s\n" % cert)

    account = app.get_accounts(alice["username"])[0]
    cached = app.acquire_token_silent_with_error(
        SSH_SCOPE, account, data=ssh_data(jwk, key_id))
    if check_cert(cached, "silent, same key") != cert:
        raise AssertionError("silent with the same key_id did not return the cached certificate")
    if cached.get("token_source") != "cache":
        raise AssertionError("silent, same key: token_source %r" % cached.get("token_source"))

    other_jwk = dict(jwk, n=b64url(bytes([0xC5]) * 256), kid="other")
    other = app.acquire_token_silent_with_error(
        SSH_SCOPE, account, data=ssh_data(other_jwk, "other"))
    if check_cert(other, "silent, other key") == cert:
        raise AssertionError("another key_id was answered with the first key's certificate")
    if other.get("token_source") != "identity_provider":
        raise AssertionError("silent, other key: token_source %r" % other.get("token_source"))

    # Leave the cache with the first key's certificate for the Rust side to read.
    again = app.acquire_token_silent_with_error(
        SSH_SCOPE, account, force_refresh=True, data=ssh_data(jwk, key_id))
    final_cert = check_cert(again, "forced refresh, first key")
    with open(os.path.join(args.out, "cache.json"), "w") as f:
        f.write(app.token_cache.serialize())
    with open(os.path.join(args.out, "final-cert.pub"), "w") as f:
        f.write("ssh-rsa-cert-v01@openssh.com %s\n" % final_cert)
    return {"key_id": key_id, "username": alice["username"], "msal": msal.__version__}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--info", required=True)
    parser.add_argument("--public-key", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    try:
        report = dict(run(args), ok=True)
    except Exception as exc:  # the report says what failed
        report = {"ok": False, "error": str(exc), "trace": traceback.format_exc()}
    print(json.dumps(report))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
