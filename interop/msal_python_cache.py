"""Token-cache interoperability between MSAL Python 1.39 and entra-msal.

Two modes, both driven by crates/entra-msal/tests/cache_interop_msal_python.rs:

``write OUT.json``
    MSAL Python fills a ``SerializableTokenCache`` by calling ``TokenCache.add``
    directly with realistic token-endpoint events (the ones ``ClientApplication``
    produces): a user token from an authorization-code grant (client_info,
    id_token, refresh_token, foci, ext_expires_in as a string), an app token
    from a client-credentials grant (refresh_in), and an app token with an FMI
    path (an ``atext`` entry). ``serialize()`` goes to OUT.json.

``read IN.json EXPECT.json``
    MSAL Python deserializes a cache written by entra-msal and looks for the
    tokens EXPECT.json describes, first with its own search API
    (``TokenCache.search``), then through the public application API without a
    network: ``PublicClientApplication.get_accounts`` and
    ``acquire_token_silent`` (a cache hit, then a refresh with the cached
    refresh token), and ``ConfidentialClientApplication.acquire_token_for_client``
    (a cache hit). HTTP goes to a stub ``http_client`` that serves the OIDC
    discovery document and answers the refresh; it records every request.

The last line of stdout is one JSON object: ``{"ok": ..., ...}``; the exit
status is 0 only when ``ok`` is true. Secrets are never printed, only whether
they matched.
"""
import base64
import json
import sys
import time

import msal
from msal.token_cache import TokenCache, _compute_ext_cache_key

ENVIRONMENT = "login.microsoftonline.com"
TENANT = "7a1b2c3d-0000-4000-8000-00000000c0de"
USER_CLIENT_ID = "11111111-aaaa-4bbb-8ccc-000000000001"
APP_CLIENT_ID = "22222222-aaaa-4bbb-8ccc-000000000002"
UID = "00000000-0000-0000-1111-222222222222"
USERNAME = "alice@contoso.example"
USER_SCOPE = "User.Read Mail.Read openid profile"
APP_SCOPES = ["https://graph.microsoft.com/.default"]
FMI_SCOPES = ["api://AzureFMITokenExchange/.default"]
FMI_PATH = "agent-app-id"
TOKEN_ENDPOINT = "https://{}/{}/oauth2/v2.0/token".format(ENVIRONMENT, TENANT)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unsigned_jwt(claims):
    header = b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "k1"}).encode())
    return "{}.{}.{}".format(header, b64url(json.dumps(claims).encode()), "c2lnbmF0dXJl")


def id_token(now, client_id):
    return unsigned_jwt({
        "aud": client_id,
        "iss": "https://{}/{}/v2.0".format(ENVIRONMENT, TENANT),
        "iat": now, "nbf": now, "exp": now + 3600,
        "name": "Alice", "oid": UID, "preferred_username": USERNAME,
        "sub": "alice-pairwise-sub", "tid": TENANT, "ver": "2.0",
    })


def client_info():
    return b64url(json.dumps({"uid": UID, "utid": TENANT}).encode())


def write(out_path):
    now = int(time.time())
    cache = msal.SerializableTokenCache()
    user_response = {
        "token_type": "Bearer",
        "scope": USER_SCOPE,
        "expires_in": 3599,
        "ext_expires_in": "7199",
        "access_token": "msal-python-user-at",
        "refresh_token": "msal-python-user-rt",
        "id_token": id_token(now, USER_CLIENT_ID),
        "client_info": client_info(),
        "foci": "1",
    }
    cache.add({
        "client_id": USER_CLIENT_ID,
        "scope": user_response["scope"].split(),
        "token_endpoint": TOKEN_ENDPOINT,
        "environment": ENVIRONMENT,
        "grant_type": "authorization_code",
        "response": user_response,
        "params": {},
        "data": {
            "scope": ["User.Read", "Mail.Read", "offline_access", "openid", "profile"],
            "code": "auth-code", "redirect_uri": "http://localhost",
            "code_verifier": "verifier", "client_info": 1,
        },
    }, now=now)
    cache.add({
        "client_id": APP_CLIENT_ID,
        "scope": APP_SCOPES,
        "token_endpoint": TOKEN_ENDPOINT,
        "environment": ENVIRONMENT,
        "grant_type": "client_credentials",
        "response": {"token_type": "Bearer", "expires_in": 3599, "refresh_in": 1799,
                     "access_token": "msal-python-app-at"},
        "params": {},
        "data": {"scope": APP_SCOPES, "client_secret": "s"},
    }, now=now)
    cache.add({
        "client_id": APP_CLIENT_ID,
        "scope": FMI_SCOPES,
        "token_endpoint": TOKEN_ENDPOINT,
        "environment": ENVIRONMENT,
        "grant_type": "client_credentials",
        "response": {"token_type": "Bearer", "expires_in": 3599,
                     "access_token": "msal-python-fmi-at"},
        "params": {},
        "data": {"scope": FMI_SCOPES, "fmi_path": FMI_PATH},
    }, now=now)
    with open(out_path, "w") as f:
        f.write(cache.serialize())
    return {"ok": True, "now": now, "msal_version": msal.__version__,
            "ext_cache_key": _compute_ext_cache_key({"fmi_path": FMI_PATH})}


class StubResponse(object):
    def __init__(self, status_code, body):
        self.status_code = status_code
        self.text = json.dumps(body)
        self.headers = {"Content-Type": "application/json"}

    def raise_for_status(self):
        if self.status_code >= 400:
            raise RuntimeError("HTTP {}".format(self.status_code))


class StubHttpClient(object):
    """Serves OIDC discovery for any tenant and answers refresh-token grants."""

    def __init__(self, refresh_response):
        self.requests = []
        self.refresh_response = refresh_response
        self.refresh_tokens_received = []

    def get(self, url, params=None, headers=None, **kwargs):
        self.requests.append(("GET", url))
        if url.endswith("/.well-known/openid-configuration"):
            base = url[: -len("/v2.0/.well-known/openid-configuration")]
            return StubResponse(200, {
                "authorization_endpoint": base + "/oauth2/v2.0/authorize",
                "token_endpoint": base + "/oauth2/v2.0/token",
                "device_authorization_endpoint": base + "/oauth2/v2.0/devicecode",
                "issuer": "https://{}/{}/v2.0".format(ENVIRONMENT, TENANT),
            })
        return StubResponse(404, {"error": "not_found"})

    def post(self, url, params=None, data=None, headers=None, **kwargs):
        self.requests.append(("POST", url))
        data = data or {}
        if data.get("grant_type") == "refresh_token":
            self.refresh_tokens_received.append(data.get("refresh_token"))
            return StubResponse(200, self.refresh_response)
        return StubResponse(400, {"error": "invalid_request",
                                  "error_description": "unexpected request"})

    def close(self):
        pass


def first(generator):
    return next(iter(generator), None)


def read(in_path, expect_path):
    with open(expect_path) as f:
        expect = json.load(f)
    with open(in_path) as f:
        state = f.read()
    cache = msal.SerializableTokenCache()
    cache.deserialize(state)
    env, tenant = expect["environment"], expect["tenant"]
    user, app, fmi = expect["user"], expect["app"], expect["fmi"]
    checks = {}

    # 1. MSAL's own search API.
    at = first(cache.search(TokenCache.CredentialType.ACCESS_TOKEN, target=user["scopes"], query={
        "client_id": user["client_id"], "environment": env, "realm": tenant,
        "home_account_id": user["home_account_id"]}))
    checks["search_user_access_token"] = bool(at) and at["secret"] == user["at_secret"] \
        and at.get("target") == user["target"]
    rt = first(cache.search(TokenCache.CredentialType.REFRESH_TOKEN, query={
        "environment": env, "home_account_id": user["home_account_id"],
        "client_id": user["client_id"]}))
    checks["search_refresh_token"] = bool(rt) and rt["secret"] == user["rt_secret"]
    frt = first(cache.search(TokenCache.CredentialType.REFRESH_TOKEN, query={
        "environment": env, "home_account_id": user["home_account_id"],
        "family_id": user["family_id"]}))
    checks["search_family_refresh_token"] = bool(frt) and frt["secret"] == user["rt_secret"]
    account = first(cache.search(TokenCache.CredentialType.ACCOUNT, query={
        "home_account_id": user["home_account_id"], "environment": env, "realm": tenant}))
    checks["search_account"] = bool(account) and account.get("username") == user["username"] \
        and account.get("local_account_id") == user["local_account_id"] \
        and account.get("authority_type") == "MSSTS" \
        and account.get("account_source") == "authorization_code"
    idt = first(cache.search(TokenCache.CredentialType.ID_TOKEN, query={
        "home_account_id": user["home_account_id"], "environment": env, "realm": tenant,
        "client_id": user["client_id"]}))
    checks["search_id_token"] = bool(idt) and idt["secret"] == user["id_token"]
    meta = first(cache.search(TokenCache.CredentialType.APP_METADATA, query={
        "environment": env, "client_id": user["client_id"]}))
    checks["search_app_metadata"] = bool(meta) and meta.get("family_id") == user["family_id"]
    app_at = first(cache.search(TokenCache.CredentialType.ACCESS_TOKEN, target=app["scopes"], query={
        "client_id": app["client_id"], "environment": env, "realm": tenant,
        "home_account_id": None}))
    checks["search_app_access_token"] = bool(app_at) and app_at["secret"] == app["at_secret"]
    ext_key = _compute_ext_cache_key({"fmi_path": fmi["fmi_path"]})
    fmi_at = first(cache.search(TokenCache.CredentialType.ACCESS_TOKEN, target=fmi["scopes"], query={
        "client_id": fmi["client_id"], "environment": env, "realm": tenant,
        "home_account_id": None, "ext_cache_key": ext_key}))
    checks["search_fmi_access_token"] = bool(fmi_at) and fmi_at["secret"] == fmi["at_secret"]
    leaked = first(cache.search(TokenCache.CredentialType.ACCESS_TOKEN, target=fmi["scopes"], query={
        "client_id": fmi["client_id"], "environment": env, "realm": tenant,
        "home_account_id": None}))
    checks["fmi_token_isolated"] = leaked is None

    # 2. The public application API, with a stub HTTP client (no network).
    authority = "https://{}/{}".format(env, tenant)
    refreshed_claims = {"aud": user["client_id"], "iss": "https://{}/{}/v2.0".format(env, tenant),
                        "iat": expect["now"], "exp": expect["now"] + 3600, "oid": UID,
                        "preferred_username": user["username"], "sub": "alice-pairwise-sub",
                        "tid": tenant}
    http = StubHttpClient({
        "token_type": "Bearer", "scope": "Calendars.Read openid profile",
        "expires_in": 3599, "access_token": "refreshed-at", "refresh_token": "refreshed-rt",
        "id_token": unsigned_jwt(refreshed_claims), "client_info": client_info(),
    })
    pca = msal.PublicClientApplication(
        user["client_id"], authority=authority, token_cache=cache, http_client=http,
        instance_discovery=False)
    accounts = pca.get_accounts()
    checks["get_accounts"] = [a.get("username") for a in accounts] == [user["username"]]
    hit = pca.acquire_token_silent(user["scopes"], accounts[0]) if accounts else None
    checks["silent_cache_hit"] = bool(hit) and hit.get("access_token") == user["at_secret"] \
        and hit.get("token_source") == "cache"
    posts_before = len([r for r in http.requests if r[0] == "POST"])
    refreshed = pca.acquire_token_silent(["Calendars.Read"], accounts[0]) if accounts else None
    checks["silent_refresh_with_cached_rt"] = bool(refreshed) \
        and refreshed.get("access_token") == "refreshed-at" \
        and http.refresh_tokens_received == [user["rt_secret"]]
    checks["no_post_for_cache_hit"] = posts_before == 0
    rt_after = first(cache.search(TokenCache.CredentialType.REFRESH_TOKEN, query={
        "environment": env, "home_account_id": user["home_account_id"],
        "client_id": user["client_id"]}))
    checks["refresh_token_rotated"] = bool(rt_after) and rt_after["secret"] == "refreshed-rt"

    app_http = StubHttpClient({})
    cca = msal.ConfidentialClientApplication(
        app["client_id"], client_credential="not-used", authority=authority,
        token_cache=cache, http_client=app_http, instance_discovery=False)
    app_result = cca.acquire_token_for_client(app["scopes"])
    checks["app_token_cache_hit"] = app_result.get("access_token") == app["at_secret"] \
        and app_result.get("token_source") == "cache" \
        and not [r for r in app_http.requests if r[0] == "POST"]

    failures = sorted(k for k, v in checks.items() if not v)
    return {"ok": not failures, "failures": failures, "checks": checks,
            "msal_version": msal.__version__}


def main(argv):
    try:
        if len(argv) == 3 and argv[1] == "write":
            verdict = write(argv[2])
        elif len(argv) == 4 and argv[1] == "read":
            verdict = read(argv[2], argv[3])
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except Exception as e:  # Report, do not hide: the Rust test prints stderr on failure.
        import traceback
        traceback.print_exc()
        verdict = {"ok": False, "error": "{}: {}".format(type(e).__name__, e)}
    print(json.dumps(verdict, sort_keys=True))
    return 0 if verdict.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
