"""MSAL Python 1.39 with Microsoft's broker runtime (msal[broker], pymsalruntime) signs in through
the emulator's broker service.

Usage: DBUS_SESSION_BUS_ADDRESS=<the emulator's bus> python msal_python_broker.py INFO_JSON_FILE

INFO_JSON_FILE is the emulator's connection info (`serve --json`). The broker must auto-approve
interactive requests. Prints one JSON object with the results; exits non-zero on failure.
"""

import json
import sys

import msal
import requests


def main():
    with open(sys.argv[1]) as f:
        info = json.load(f)
    session = requests.Session()
    session.verify = info["ca_file"]
    session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
    client_id = info["public_client"]["client_id"]
    app = msal.PublicClientApplication(
        client_id,
        authority=info["authority"],
        instance_discovery=False,
        http_client=session,
        enable_broker_on_linux=True,
    )
    out = {"broker_enabled": bool(app._enable_broker)}
    if not app._enable_broker:
        print(json.dumps(out))
        return 1

    # No prompt: getAccounts, then acquireTokenSilently for the device user.
    sso = app.acquire_token_interactive(
        ["User.Read"],
        parent_window_handle=msal.PublicClientApplication.CONSOLE_WINDOW_HANDLE,
    )
    out["sso"] = summary(sso)
    if "access_token" not in sso:
        print(json.dumps(out))
        return 1

    # prompt="select_account" goes straight to acquireTokenInteractively.
    interactive = app.acquire_token_interactive(
        ["User.Read"],
        prompt="select_account",
        parent_window_handle=msal.PublicClientApplication.CONSOLE_WINDOW_HANDLE,
    )
    out["interactive"] = summary(interactive)
    if "access_token" not in interactive:
        print(json.dumps(out))
        return 1

    accounts = app.get_accounts()
    out["accounts"] = [a.get("username") for a in accounts]
    # A new scope: MSAL Python asks the broker (acquireTokenSilently).
    silent = app.acquire_token_silent(
        ["api://emulator-api/access_as_user"], account=accounts[0])
    out["silent"] = summary(silent)
    print(json.dumps(out))
    return 0 if silent and "access_token" in silent else 1


def summary(result):
    if not result:
        return {"result": None}
    if "access_token" in result:
        claims = result.get("id_token_claims") or {}
        return {
            "token_source": result.get("token_source"),
            "token_type": result.get("token_type"),
            "scope": result.get("scope"),
            "username": claims.get("preferred_username"),
            "expires_in": result.get("expires_in"),
            "access_token_prefix": result["access_token"][:3],
        }
    return {"error": result.get("error"), "error_description": result.get("error_description")}


if __name__ == "__main__":
    sys.exit(main())
