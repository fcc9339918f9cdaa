#!/usr/bin/env python3
"""Run MSAL Python (unchanged, 1.39) against a running entra-emulator.

Usage:
  python interop/msal_python_interop.py --info INFO.json --scenario NAME [--verbose]

INFO.json is the connection-info object printed by
`entra-emulator serve --json --enable-control`. NAME is one of SCENARIOS or
"all". The last line of stdout is one JSON object
{"scenario": NAME, "ok": true|false, ...}; the exit status is 0 when ok, else 1.
Tokens themselves are never printed, only their claims.
"""

import argparse
import base64
import json
import logging
import os
import shlex
import stat
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse

import msal
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
BROWSER_SCRIPT = os.path.join(HERE, "browser_signin.py")

# Token-ish members that must not end up in the report.
SECRET_KEYS = {"access_token", "refresh_token", "id_token", "client_info"}


# --------------------------------------------------------------------------
# HTTP plumbing


class EmulatorSession(requests.Session):
    """The `http_client` handed to MSAL.

    Trusts only the emulator's CA (verify=ca_file; trust_env=False because these
    machines export REQUESTS_CA_BUNDLE, which would otherwise override verify).

    Why `get` rewrites URLs: before a username/password (ROPC) request, MSAL
    Python calls user-realm discovery at
    "https://{authority host}/common/userrealm/{user}?api-version=1.0", built
    from the authority's host name alone, so the emulator's port is dropped and
    the request would go to 127.0.0.1:443, where nothing listens (a connection
    error aborts the ROPC call; only a 404 makes MSAL fall back to plain ROPC).
    A real client cannot reconfigure that URL, so this session sends any GET
    for the emulator's host without an explicit port to the emulator's port.
    Every rewrite is recorded in `rewrites` for the report.
    """

    def __init__(self, info):
        super().__init__()
        self.verify = info["ca_file"]
        self.trust_env = False
        base = urllib.parse.urlsplit(info["base_url"])
        self._host = base.hostname
        self._port = base.port
        self.rewrites = []

    def _rewrite(self, url):
        parts = urllib.parse.urlsplit(url)
        if (parts.scheme == "https" and parts.hostname == self._host
                and parts.port is None and self._port is not None):
            host = "[%s]" % self._host if ":" in self._host else self._host
            new = urllib.parse.urlunsplit(parts._replace(netloc="%s:%d" % (host, self._port)))
            return new
        return url

    def get(self, url, *args, **kwargs):
        new = self._rewrite(url)
        if new != url:
            response = super().get(new, *args, **kwargs)
            self.rewrites.append({"from": url, "to": new, "status": response.status_code,
                                  "body": response.text[:300]})
            return response
        return super().get(url, *args, **kwargs)


class Control:
    """The emulator's control API (same trust as MSAL's session)."""

    def __init__(self, info):
        self.url = info["control_url"].rstrip("/")
        self.session = requests.Session()
        self.session.verify = info["ca_file"]
        self.session.trust_env = False

    def post(self, path, payload):
        r = self.session.post(self.url + path, json=payload, timeout=30)
        return r

    def requests_log(self):
        r = self.session.get(self.url + "/requests", timeout=30)
        r.raise_for_status()
        return r.json()


# --------------------------------------------------------------------------
# Helpers


class ScenarioFailure(Exception):
    def __init__(self, message, **details):
        super().__init__(message)
        self.details = details


def jwt_part(token, index):
    segment = token.split(".")[index]
    segment += "=" * (-len(segment) % 4)
    return json.loads(base64.urlsafe_b64decode(segment))


def describe(result):
    """A printable copy of an MSAL result: tokens replaced by their claims."""
    if not isinstance(result, dict):
        return result
    out = {}
    for key, value in result.items():
        if key in SECRET_KEYS:
            out[key] = "<%d chars>" % len(value) if isinstance(value, str) else "<present>"
        else:
            out[key] = value
    token = result.get("access_token")
    if isinstance(token, str) and token.count(".") == 2:
        try:
            out["access_token_header"] = jwt_part(token, 0)
            out["access_token_claims"] = jwt_part(token, 1)
        except Exception as exc:  # an opaque token is allowed; just say so
            out["access_token_claims"] = "undecodable: %s" % exc
    return out


def require(condition, message, **details):
    if not condition:
        raise ScenarioFailure(message, **details)


def require_token(result, what):
    require(isinstance(result, dict) and result.get("access_token"),
            "%s: no access_token" % what, result=describe(result))
    require(str(result.get("token_type", "")).lower() == "bearer",
            "%s: token_type is %r, expected Bearer" % (what, result.get("token_type")),
            result=describe(result))


def new_pca(info, session, client="public_client", **kwargs):
    return msal.PublicClientApplication(
        info[client]["client_id"],
        authority=info["authority"],
        instance_discovery=False,
        http_client=session,
        **kwargs)


def new_cca(info, session, credential, client_id):
    return msal.ConfidentialClientApplication(
        client_id,
        client_credential=credential,
        authority=info["authority"],
        instance_discovery=False,
        azure_region=False,  # documented in 1.39: explicitly no region
        http_client=session,
    )


def user(info, mfa=False):
    for u in info["users"]:
        if bool(u.get("mfa_required")) == mfa and not u.get("guest"):
            return u
    raise ScenarioFailure("INFO.json has no %s user" % ("MFA" if mfa else "non-MFA"))


def new_log_entries(control, before):
    entries = control.requests_log()
    return entries[before:] if len(entries) >= before else entries


def token_posts(entries, grant_type):
    return [e for e in entries
            if e.get("method") == "POST"
            and e.get("path", "").endswith("/oauth2/v2.0/token")
            and (e.get("form") or {}).get("grant_type") == grant_type]


# --------------------------------------------------------------------------
# Scenarios. Each returns a details dict or raises ScenarioFailure.


def scenario_client_credentials_secret(info):
    cfg = info["confidential_client"]
    session = EmulatorSession(info)
    app = new_cca(info, session, cfg["client_secret"], cfg["client_id"])
    first = app.acquire_token_for_client([cfg["scope"]])
    require_token(first, "first acquire_token_for_client")
    require(first.get("token_source") == "identity_provider",
            "first call: token_source %r" % first.get("token_source"), result=describe(first))
    second = app.acquire_token_for_client([cfg["scope"]])
    require_token(second, "second acquire_token_for_client")
    require(second.get("token_source") == "cache",
            "second call did not come from the cache (token_source %r)"
            % second.get("token_source"), result=describe(second))
    require(second["access_token"] == first["access_token"],
            "cached token differs from the first one")
    return {"first": describe(first), "second_token_source": second["token_source"]}


# The claims challenge that makes acquire_token_for_client skip the cache (telemetry scenario).
TELEMETRY_CLAIMS = '{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}'
# A scope no application of the emulator exposes: the token request fails.
TELEMETRY_UNKNOWN_SCOPE = "api://no-such-api/.default"


def scenario_telemetry_client_credentials(info):
    """The sequence whose x-client-*-telemetry headers entra-msal's request_telemetry.rs
    compares with its own: a miss, a cache hit, a failure, then two requests forced by a
    claims challenge."""
    cfg = info["confidential_client"]
    session = EmulatorSession(info)
    app = new_cca(info, session, cfg["client_secret"], cfg["client_id"])
    require_token(app.acquire_token_for_client([cfg["scope"]]), "first call")
    hit = app.acquire_token_for_client([cfg["scope"]])
    require(hit.get("token_source") == "cache", "second call was not a cache hit")
    failed = app.acquire_token_for_client([TELEMETRY_UNKNOWN_SCOPE])
    require("error" in failed, "the unknown scope did not fail", result=describe(failed))
    for n in (1, 2):
        require_token(app.acquire_token_for_client(
            [cfg["scope"]], claims_challenge=TELEMETRY_CLAIMS), "forced call %d" % n)
    return {"error": failed.get("error")}


def scenario_client_credentials_certificate(info):
    cfg = info["certificate_client"]
    with open(cfg["private_key_file"]) as f:
        key_pem = f.read()
    with open(cfg["certificate_file"]) as f:
        cert_pem = f.read()
    control = Control(info)
    variants = [
        ("sha1_thumbprint", {"private_key": key_pem, "thumbprint": cfg["thumbprint_sha1"]},
         "RS256", "x5t"),
        ("public_certificate", {"private_key": key_pem, "public_certificate": cert_pem},
         "PS256", "x5t#S256"),
    ]
    details = {}
    failures = []
    for name, credential, want_alg, want_header in variants:
        before = len(control.requests_log())
        app = new_cca(info, EmulatorSession(info), credential, cfg["client_id"])
        result = app.acquire_token_for_client([cfg["scope"]])
        entry = {"result": describe(result)}
        posts = token_posts(new_log_entries(control, before), "client_credentials")
        if posts:
            assertion = posts[-1]["form"].get("client_assertion")
            if assertion:
                header = jwt_part(assertion, 0)
                entry["assertion_header"] = {k: v for k, v in header.items() if k != "x5c"}
                entry["assertion_has_x5c"] = "x5c" in header
                if header.get("alg") != want_alg or want_header not in header:
                    failures.append("%s: assertion header %r, expected alg %s with %s"
                                    % (name, entry["assertion_header"], want_alg, want_header))
        else:
            entry["note"] = "token POST not found in the control request log"
        if not (result.get("access_token")
                and str(result.get("token_type", "")).lower() == "bearer"):
            failures.append("%s: no Bearer access token" % name)
        details[name] = entry
    require(not failures, "; ".join(failures), variants=details)
    return {"variants": details}


def scenario_device_flow(info):
    cfg = info["public_client"]
    alice = user(info)
    control = Control(info)
    app = new_pca(info, EmulatorSession(info))
    flow = app.initiate_device_flow([cfg["scope"]])
    require("user_code" in flow and "device_code" in flow,
            "initiate_device_flow failed", flow=describe(flow))
    warnings = []
    # One poll before approval: expect authorization_pending. The next poll
    # follows at once, which makes MSAL warn "Attempted too soon"; that is
    # this test's doing, so silence it.
    import warnings as warnings_module
    warnings_module.filterwarnings("ignore", message="Attempted too soon")
    pending = app.acquire_token_by_device_flow(flow, exit_condition=lambda f: True)
    if pending.get("error") != "authorization_pending":
        warnings.append("poll before approval returned %r, expected authorization_pending"
                        % pending.get("error"))
    r = control.post("/device/approve", {"user_code": flow["user_code"],
                                         "username": alice["username"]})
    require(r.status_code == 200, "control /device/approve returned %d" % r.status_code,
            body=r.text[:500])
    deadline = time.time() + 60
    result = app.acquire_token_by_device_flow(
        flow, exit_condition=lambda f: time.time() > min(deadline, f.get("expires_at", deadline)))
    require_token(result, "acquire_token_by_device_flow")
    claims = result.get("id_token_claims") or {}
    require(claims.get("preferred_username", "").lower() == alice["username"].lower(),
            "id_token preferred_username %r, expected %s"
            % (claims.get("preferred_username"), alice["username"]), result=describe(result))
    details = {"flow": {k: flow.get(k) for k in ("user_code", "verification_uri", "expires_in",
                                                 "interval", "message")},
               "pending_poll": describe(pending), "result": describe(result)}
    if warnings:
        details["warnings"] = warnings
    return details


def scenario_username_password(info):
    cfg = info["public_client"]
    alice = user(info)
    bob = user(info, mfa=True)
    session = EmulatorSession(info)
    app = new_pca(info, session)
    result = app.acquire_token_by_username_password(
        alice["username"], alice["password"], [cfg["scope"]])
    require_token(result, "ROPC for %s" % alice["username"])
    claims = result.get("id_token_claims") or {}
    require(claims.get("preferred_username", "").lower() == alice["username"].lower(),
            "id_token preferred_username %r" % claims.get("preferred_username"),
            result=describe(result))

    # A fresh app for bob: MSAL replays a failed POST from its HTTP cache.
    bob_session = EmulatorSession(info)
    bob_app = new_pca(info, bob_session)
    bob_result = bob_app.acquire_token_by_username_password(
        bob["username"], bob["password"], [cfg["scope"]])
    bob_info = {
        "error": bob_result.get("error"),
        "error_codes": bob_result.get("error_codes"),
        "has_claims": "claims" in bob_result,
        "suberror": bob_result.get("suberror"),
        "error_description": (bob_result.get("error_description") or "")[:300],
    }
    require("access_token" not in bob_result, "MFA user %s got a token by ROPC" % bob["username"],
            bob=describe(bob_result))
    require(50076 in (bob_result.get("error_codes") or []),
            "MFA user error_codes lack 50076", bob=bob_info)
    warnings = []
    if bob_result.get("error") not in ("invalid_grant", "interaction_required"):
        warnings.append("bob: error %r, expected invalid_grant or interaction_required"
                        % bob_result.get("error"))
    if "claims" not in bob_result:
        warnings.append("bob: no claims member in the error")
    details = {"alice": describe(result), "bob": bob_info,
               "userrealm_rewrites": session.rewrites}
    if warnings:
        details["warnings"] = warnings
    return details


def scenario_username_password_federated(info):
    """A federated user through WS-Trust: MSAL Python's own user-realm discovery, MEX parsing,
    RequestSecurityToken and SAML grant, against the emulated federation server; WS-Trust 1.3
    (SAML 2.0) first, then 2005 (SAML 1.1) with the MEX document offering only that; a wrong
    password must fail with the federation server's fault."""
    cfg = info["public_client"]
    require(info.get("federated_users"), "INFO.json lists no federated_users")
    erin = info["federated_users"][0]
    control = Control(info)
    details = {}
    for label, mex, grant, endpoint in (
            ("ws_trust_13", {"ws_trust_13": True, "ws_trust_2005": True},
             "urn:ietf:params:oauth:grant-type:saml2-bearer", "/adfs/services/trust/13/usernamemixed"),
            ("ws_trust_2005", {"ws_trust_13": False, "ws_trust_2005": True},
             "urn:ietf:params:oauth:grant-type:saml1_1-bearer", "/adfs/services/trust/2005/usernamemixed")):
        r = control.post("/federation/mex", mex)
        require(r.status_code == 200, "control /federation/mex: HTTP %d" % r.status_code)
        before = len(control.requests_log())
        session = EmulatorSession(info)
        app = new_pca(info, session)
        result = app.acquire_token_by_username_password(
            erin["username"], erin["password"], [cfg["scope"]])
        require_token(result, "federated ROPC (%s) for %s" % (label, erin["username"]))
        claims = result.get("id_token_claims") or {}
        require(claims.get("preferred_username", "").lower() == erin["username"].lower(),
                "id_token preferred_username %r" % claims.get("preferred_username"),
                result=describe(result))
        entries = new_log_entries(control, before)
        paths = [e.get("path") for e in entries]
        require("/adfs/services/trust/mex" in paths, "MSAL Python did not read the MEX document",
                paths=paths)
        require(endpoint in paths, "MSAL Python did not use %s" % endpoint, paths=paths)
        require(token_posts(entries, grant), "no token request with grant_type %s" % grant,
                paths=paths)
        require(not token_posts(entries, "password"), "the password went to the token endpoint")
        accounts = app.get_accounts(username=erin["username"])
        require(len(accounts) == 1, "accounts after federated ROPC: %r" % accounts)
        silent = app.acquire_token_silent([cfg["scope"]], account=accounts[0])
        require_token(silent, "silent after federated ROPC (%s)" % label)
        require(silent.get("token_source") == "cache",
                "silent token_source %r, expected cache" % silent.get("token_source"))
        details[label] = describe(result)

    # A wrong password: MSAL Python raises with the SOAP fault it read.
    app = new_pca(info, EmulatorSession(info))
    try:
        wrong = app.acquire_token_by_username_password(erin["username"], "not-the-password",
                                                       [cfg["scope"]])
        raise ScenarioFailure("a wrong password did not fail", result=describe(wrong))
    except RuntimeError as exc:
        require("FailedAuthentication" in str(exc) and "ID3242" in str(exc),
                "unexpected error for a wrong password: %s" % exc)
        details["wrong_password"] = str(exc)[:300]
    control.post("/federation/mex", {"ws_trust_13": True, "ws_trust_2005": True})
    return details


BROWSER_WRAPPER = """#!/bin/sh
# $BROWSER for MSAL's webbrowser.open(): runs browser_signin.py in the
# background and returns at once. webbrowser's GenericBrowser waits for this
# command, and MSAL only starts serving its loopback listener after
# webbrowser.open() returns, so a foreground sign-in would deadlock.
( {python} {script} "$1"; echo $? > {rc} ) > {out} 2> {err} < /dev/null &
exit 0
"""


def scenario_interactive(info):
    cfg = info["public_client"]
    alice = user(info)
    work = tempfile.mkdtemp(prefix="interop-browser-")
    rc_file = os.path.join(work, "rc")
    out_file = os.path.join(work, "out")
    err_file = os.path.join(work, "err")
    # The basename must not be a name webbrowser knows (e.g. "chromium"),
    # otherwise it would substitute its own controller for this command.
    wrapper = os.path.join(work, "interop-browser")
    with open(wrapper, "w") as f:
        f.write(BROWSER_WRAPPER.format(
            python=shlex.quote(sys.executable), script=shlex.quote(BROWSER_SCRIPT),
            rc=shlex.quote(rc_file), out=shlex.quote(out_file), err=shlex.quote(err_file)))
    os.chmod(wrapper, stat.S_IRWXU)
    # webbrowser reads $BROWSER once, when first used; set it before that.
    os.environ["BROWSER"] = wrapper
    os.environ["INTEROP_USERNAME"] = alice["username"]
    os.environ["INTEROP_PASSWORD"] = alice["password"]
    os.environ["INTEROP_CA_FILE"] = info["ca_file"]
    os.environ.setdefault("INTEROP_TIMEOUT", "60")

    app = new_pca(info, EmulatorSession(info))
    box = {}

    def run():
        try:
            box["result"] = app.acquire_token_interactive(
                [cfg["scope"]], login_hint=alice["username"], timeout=120)
        except BaseException as exc:
            box["exception"] = "%s: %s" % (type(exc).__name__, exc)
            box["traceback"] = traceback.format_exc()

    def browser_report():
        rep = {}
        if os.path.exists(rc_file):
            with open(rc_file) as f:
                rep["exit_code"] = f.read().strip()
        if os.path.exists(out_file):
            with open(out_file) as f:
                lines = f.read().strip().splitlines()
            if lines:
                try:
                    rep["status"] = json.loads(lines[-1])
                except ValueError:
                    rep["stdout"] = lines[-1][:500]
        if os.path.exists(err_file):
            with open(err_file) as f:
                rep["log_tail"] = f.read().strip().splitlines()[-15:]
        return rep

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.time() + 150
    browser_failed_at = None
    while thread.is_alive() and time.time() < deadline:
        thread.join(0.5)
        if browser_failed_at is None and os.path.exists(rc_file):
            with open(rc_file) as f:
                code = f.read().strip()
            if code and code != "0":
                browser_failed_at = time.time()
        # The browser gave up: MSAL would wait for its full timeout, so stop here.
        if browser_failed_at and time.time() - browser_failed_at > 3:
            raise ScenarioFailure("browser sign-in failed; MSAL still waiting",
                                  browser=browser_report())
    if thread.is_alive():
        raise ScenarioFailure("acquire_token_interactive did not return",
                              browser=browser_report())
    # Let the background browser script finish and record its status.
    for _ in range(40):
        if os.path.exists(rc_file) and os.path.getsize(rc_file):
            break
        time.sleep(0.25)
    browser = browser_report()
    if "exception" in box:
        raise ScenarioFailure("acquire_token_interactive raised " + box["exception"],
                              traceback=box["traceback"], browser=browser)
    result = box.get("result")
    require(isinstance(result, dict) and result.get("access_token")
            and str(result.get("token_type", "")).lower() == "bearer",
            "acquire_token_interactive: no Bearer access token",
            result=describe(result), browser=browser)
    claims = result.get("id_token_claims") or {}
    require(claims.get("preferred_username", "").lower() == alice["username"].lower(),
            "id_token preferred_username %r" % claims.get("preferred_username"),
            result=describe(result), browser=browser)
    return {"result": describe(result), "browser": browser.get("status", browser)}


def scenario_silent_refresh(info):
    cfg = info["public_client"]
    alice = user(info)
    control = Control(info)
    r = control.post("/settings", {"access_token_lifetime_seconds": 60})
    require(r.status_code in (200, 204), "control /settings returned %d" % r.status_code,
            body=r.text[:500])
    try:
        app = new_pca(info, EmulatorSession(info))
        first = app.acquire_token_by_username_password(
            alice["username"], alice["password"], [cfg["scope"]])
        require_token(first, "ROPC sign-in")
        warnings = []
        if int(first.get("expires_in", 0)) > 300:
            warnings.append("expires_in %s ignores access_token_lifetime_seconds=60"
                            % first.get("expires_in"))
        accounts = app.get_accounts()
        require(accounts, "get_accounts() is empty after sign-in")
        before = len(token_posts(control.requests_log(), "refresh_token"))
        second = app.acquire_token_silent([cfg["scope"]], account=accounts[0])
        require(second is not None, "acquire_token_silent returned None",
                accounts=accounts)
        require_token(second, "acquire_token_silent")
        require(second.get("token_source") == "identity_provider",
                "silent call did not refresh (token_source %r); expires_in of the first "
                "token was %s" % (second.get("token_source"), first.get("expires_in")),
                result=describe(second))
        refreshes = token_posts(control.requests_log(), "refresh_token")
        require(len(refreshes) > before,
                "no POST .../oauth2/v2.0/token with grant_type=refresh_token in the request log",
                refresh_posts_before=before, refresh_posts_after=len(refreshes))
        if second["access_token"] == first["access_token"]:
            warnings.append("refreshed access token equals the first one")
        last = refreshes[-1]
        details = {
            "first_expires_in": first.get("expires_in"),
            "accounts": [a.get("username") for a in accounts],
            "refreshed": describe(second),
            "refresh_request": {"path": last.get("path"),
                                "form_keys": sorted((last.get("form") or {}).keys())},
        }
        if warnings:
            details["warnings"] = warnings
        return details
    finally:
        reset = control.post("/settings", {"access_token_lifetime_seconds": None})
        if reset.status_code not in (200, 204):
            logging.warning("resetting /settings failed: %d %s", reset.status_code, reset.text)


def scenario_scope_forms_cache(info):
    """Tokens for every scope form Entra answers differently are found again by MSAL's cache:
    short Graph names, qualified ones (echoed qualified), and delegated `.default` (echoed as
    the consented permissions plus `.default`). A silent call for the same scopes makes no
    token request."""
    alice = user(info)
    control = Control(info)
    details = {}
    for scopes in (["User.Read"],
                   ["https://graph.microsoft.com/User.Read"],
                   ["https://graph.microsoft.com/.default"],
                   ["api://emulator-api/.default"],
                   ["api://emulator-api/access_as_user"]):
        session = EmulatorSession(info)
        app = new_pca(info, session)
        result = app.acquire_token_by_username_password(
            alice["username"], alice["password"], scopes)
        require_token(result, "ROPC for %s" % scopes)
        accounts = app.get_accounts(username=alice["username"])
        require(accounts, "no cached account after ROPC for %s" % scopes)
        before = len(control.requests_log())
        silent = app.acquire_token_silent(scopes, account=accounts[0])
        require_token(silent, "silent for %s" % scopes)
        posts = token_posts(new_log_entries(control, before), "refresh_token")
        require(silent["access_token"] == result["access_token"] and not posts,
                "silent for %s went to the network: the answered scope %r is not found by the "
                "requested one" % (scopes, result.get("scope")),
                result=describe(result), silent=describe(silent))
        details[" ".join(scopes)] = result.get("scope")
    return details


SCENARIOS = {
    "scope_forms_cache": scenario_scope_forms_cache,
    "client_credentials_secret": scenario_client_credentials_secret,
    "client_credentials_certificate": scenario_client_credentials_certificate,
    "telemetry_client_credentials": scenario_telemetry_client_credentials,
    "device_flow": scenario_device_flow,
    "username_password": scenario_username_password,
    "username_password_federated": scenario_username_password_federated,
    "interactive": scenario_interactive,
    "silent_refresh": scenario_silent_refresh,
}


def run_one(name, info):
    started = time.time()
    try:
        details = SCENARIOS[name](info)
        report = {"scenario": name, "ok": True}
        report.update(details)
    except ScenarioFailure as exc:
        report = {"scenario": name, "ok": False, "error": str(exc)}
        report.update(exc.details)
    except Exception as exc:
        report = {"scenario": name, "ok": False,
                  "error": "%s: %s" % (type(exc).__name__, exc),
                  "traceback": traceback.format_exc()}
    report["seconds"] = round(time.time() - started, 2)
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--info", required=True, help="emulator connection info JSON file")
    parser.add_argument("--scenario", required=True, choices=sorted(SCENARIOS) + ["all"])
    parser.add_argument("--verbose", action="store_true", help="MSAL debug logging on stderr")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        stream=sys.stderr)
    # Settings that would send MSAL elsewhere than the emulator.
    for var in ("MSAL_FORCE_REGION", "AZUREPS_HOST_ENVIRONMENT"):
        os.environ.pop(var, None)

    with open(args.info) as f:
        info = json.load(f)
    if args.scenario == "all":
        results = [run_one(name, info) for name in SCENARIOS]
        report = {"scenario": "all", "ok": all(r["ok"] for r in results),
                  "msal_version": msal.__version__, "results": results}
    else:
        report = run_one(args.scenario, info)
        report["msal_version"] = msal.__version__
    sys.stdout.write(json.dumps(report, default=str) + "\n")
    sys.stdout.flush()
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
