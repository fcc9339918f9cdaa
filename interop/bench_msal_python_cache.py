"""MSAL Python's token cache under the workloads of `crates/entra-msal/benches/cache.rs`.

Two measurements per scenario:

* **app**: MSAL Python's real public path, ``ConfidentialClientApplication.acquire_token_for_client``,
  set up like MSAL's own ``tests/simulator.py`` (``ClientCredentialGrantSimulator``): one app
  per tenant, each with its own cache, filled with ``scope_0..N-1`` tokens (plus ``scope`` for
  a hit), then made read-only (``token_cache.modify`` becomes a no-op), and a call for
  ``["scope"]`` on a random app. Instead of patching ``tenant_discovery`` and passing ``post=``,
  every app gets a stub ``http_client`` that serves the OIDC discovery document and answers
  token requests, so nothing touches the network. For 10,000 and 100,000 tokens the cache is
  filled with ``TokenCache.add`` directly (filling it through the app takes O(N^2): about 130 s
  for 10,000 tokens on these machines).
* **cache**: ``TokenCache.search`` / ``TokenCache.add`` directly, on the same workload the Rust
  benchmark measures: **one** cache shared by all tenants; a hit is a search that finds the
  token; a miss is a search that finds nothing followed by the ``add`` of the stub response,
  filed under another scope so the cache keeps its size. Fill = search + add per token.
  Serialization uses ``SerializableTokenCache.serialize`` / ``deserialize`` on caches of 1,000
  and 5,000 accounts, each with an access token, a refresh token, an ID token and an account,
  built with the same token sizes as the Rust benchmark.

Timings are the median over ``repeat`` runs of the mean time per call. When Criterion results
of ``cargo bench -p entra-msal --bench cache`` and ``--bench client_credentials`` exist
(``target/criterion``, or ``--criterion-dir``), the table adds the Rust means and the ratios,
side by side: the app scenarios against ``acquire_token_for_client``, the cache ones against
the Rust cache.

Usage::

    python interop/bench_msal_python_cache.py [--quick] [--fill-10k] [--criterion-dir DIR]
"""
import argparse
import base64
import gc
import json
import os
import random
import statistics
import sys
import time

import msal
from msal.token_cache import TokenCache

CLIENT_ID = "client_id"
ENVIRONMENT = "login.microsoftonline.com"
NOW = 1700000000


class StubResponse(object):
    def __init__(self, status_code, text):
        self.status_code = status_code
        self.text = text
        self.headers = {}

    def raise_for_status(self):
        if self.status_code >= 400:
            raise RuntimeError("HTTP {}".format(self.status_code))


class StubHttpClient(object):
    """OIDC discovery for any tenant; a client-credentials answer for any token request."""

    def get(self, url, params=None, headers=None, **kwargs):
        base = url.split("/v2.0/.well-known/")[0]
        return StubResponse(200, json.dumps({
            "authorization_endpoint": base + "/oauth2/v2.0/authorize",
            "token_endpoint": base + "/oauth2/v2.0/token",
            "issuer": base + "/v2.0",
        }))

    def post(self, url, params=None, data=None, headers=None, **kwargs):
        return StubResponse(200, json.dumps({
            "access_token": "AT for {}".format((data or {}).get("scope")),
            "token_type": "bearer", "expires_in": 3600,
        }))

    def close(self):
        pass


def measure(fn, number, repeat):
    """Median over `repeat` runs of the mean seconds per call of `fn`."""
    means = []
    gc.collect()
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        means.append((time.perf_counter() - start) / number)
    return statistics.median(means)


# --- app level: MSAL's acquire_token_for_client, like tests/simulator.py -----------------------

def app_event(tenant, scope):
    return {
        "client_id": CLIENT_ID, "scope": [scope],
        "token_endpoint": "https://{}/{}/oauth2/v2.0/token".format(ENVIRONMENT, tenant),
        "environment": ENVIRONMENT, "grant_type": "client_credentials",
        "response": {"access_token": "AT for " + scope, "token_type": "bearer",
                     "expires_in": 3600},
        "params": {}, "data": {"scope": [scope]},
    }


def app_scenario(tenants, tokens_per_tenant, cache_hit, fill_directly=False):
    http = StubHttpClient()
    apps = [msal.ConfidentialClientApplication(
        CLIENT_ID, client_credential="foo",
        authority="https://{}/tenant_{}".format(ENVIRONMENT, t), http_client=http)
        for t in range(tenants)]
    for t, app in enumerate(apps):
        for i in range(tokens_per_tenant):
            scope = "scope_{}".format(i)
            if fill_directly:
                app.token_cache.add(app_event("tenant_{}".format(t), scope))
            else:
                app.acquire_token_for_client([scope])
        if cache_hit:
            app.acquire_token_for_client(["scope"])
        app.token_cache.modify = lambda *args, **kwargs: None  # Read-only, as in the simulator
        result = app.acquire_token_for_client(["scope"])
        assert result.get("token_source") == ("cache" if cache_hit else "identity_provider"), result
    return lambda: random.choice(apps).acquire_token_for_client(["scope"])


# --- cache level: the Rust benchmark's workload -------------------------------------------------

def cache_event(tenant, scope, now=NOW):
    return {
        "client_id": CLIENT_ID, "scope": [scope],
        "token_endpoint": "https://{}/{}/oauth2/v2.0/token".format(ENVIRONMENT, tenant),
        "environment": ENVIRONMENT, "grant_type": "client_credentials",
        "response": {"access_token": "AT for " + scope, "token_type": "bearer",
                     "expires_in": 3600},
        "params": {}, "data": {"scope": [scope]},
    }


def find(cache, tenant, scopes):
    return next(iter(cache.search(TokenCache.CredentialType.ACCESS_TOKEN, target=scopes, query={
        "client_id": CLIENT_ID, "environment": ENVIRONMENT, "realm": tenant,
        "home_account_id": None}, now=NOW)), None)


def shared_cache(tenants, tokens_per_tenant, cache_hit):
    cache = msal.SerializableTokenCache()
    realms = ["tenant_{}".format(t) for t in range(tenants)]
    for realm in realms:
        for i in range(tokens_per_tenant):
            cache.add(cache_event(realm, "scope_{}".format(i)), now=NOW)
        if cache_hit:
            cache.add(cache_event(realm, "scope"), now=NOW)
    return cache, realms


def cache_hit_scenario(tenants, tokens_per_tenant):
    cache, realms = shared_cache(tenants, tokens_per_tenant, True)
    assert find(cache, realms[0], ["scope"])
    return lambda: find(cache, random.choice(realms), ["scope"])


def cache_miss_scenario(tenants, tokens_per_tenant):
    cache, realms = shared_cache(tenants, tokens_per_tenant, False)

    def miss():
        realm = random.choice(realms)
        if find(cache, realm, ["scope"]) is None:
            cache.add(cache_event(realm, "scope_added"), now=NOW)
    return miss


def fill(tokens):
    cache = msal.SerializableTokenCache()
    for i in range(tokens):
        scope = ["scope_{}".format(i)]
        if find(cache, "tenant_0", scope) is None:
            cache.add(cache_event("tenant_0", scope[0]), now=NOW)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def pca_cache(accounts):
    cache = msal.SerializableTokenCache()
    utid = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    for i in range(accounts):
        uid = "{:08d}-0000-0000-0000-000000000000".format(i)
        claims = {"iss": "https://{}/{}/v2.0".format(ENVIRONMENT, utid),
                  "sub": "sub-{}".format(i), "aud": CLIENT_ID, "exp": NOW + 3600, "iat": NOW,
                  "oid": uid, "tid": utid, "preferred_username": "user{}@contoso.com".format(i),
                  "name": "User {}".format(i)}
        response = {
            "token_type": "Bearer", "scope": "User.Read profile openid",
            "expires_in": 3599, "ext_expires_in": 3599,
            "access_token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.{}.sig".format("a" * 1500),
            "refresh_token": "0.AX" + "r" * 1000,
            "id_token": "eyJhbGciOiJSUzI1NiJ9.{}.{}".format(
                b64url(json.dumps(claims).encode()), "s" * 342),
            "client_info": b64url(json.dumps({"uid": uid, "utid": utid}).encode()),
        }
        cache.add({
            "client_id": CLIENT_ID, "scope": response["scope"].split(),
            "token_endpoint": "https://{}/common/oauth2/v2.0/token".format(ENVIRONMENT),
            "environment": ENVIRONMENT, "grant_type": "authorization_code",
            "response": response, "params": {},
            "data": {"scope": ["User.Read", "offline_access", "openid", "profile"]},
        }, now=NOW)
    return cache


def rust_mean_seconds(criterion_dir, name):
    path = os.path.join(criterion_dir, *name.split("/"), "new", "estimates.json")
    try:
        with open(path) as f:
            return json.load(f)["mean"]["point_estimate"] / 1e9
    except (OSError, KeyError, ValueError):
        return None


def fmt(seconds):
    if seconds is None:
        return "-"
    if seconds >= 1:
        return "{:.2f} s".format(seconds)
    if seconds >= 1e-3:
        return "{:.2f} ms".format(seconds * 1e3)
    return "{:.2f} µs".format(seconds * 1e6)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    parser.add_argument("--fill-10k", action="store_true",
                        help="also time the fill of 10,000 tokens (about a minute or more)")
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--criterion-dir",
                        default=os.path.join(here, "..", "target", "criterion"))
    args = parser.parse_args()
    q = 0.2 if args.quick else 1.0
    n = lambda count: max(1, int(count * q))  # noqa: E731
    random.seed(7)

    rows = []  # (scenario, rust cache bench, app seconds, cache seconds, rust app bench)

    # Criterion names of `cargo bench -p entra-msal --bench client_credentials` (the same
    # scenarios through ConfidentialClientApplication::acquire_token_for_client).
    app_bench = {
        "hit, 1 tenant x 10 tokens": "cca 1 tenant, 10 tokens per tenant, cache hit",
        "hit, 1000 tenants x 10 tokens": "cca 1000 tenants, 10 tokens per tenant, cache hit",
        "miss, 1 tenant x 10 tokens": "cca 1 tenant, 10 tokens per tenant, cache miss",
        "miss, 1000 tenants x 10 tokens": "cca 1000 tenants, 10 tokens per tenant, cache miss",
        "miss, 1 tenant x 10,000 tokens": "cca 1 tenant, 10000 tokens, cache miss",
        "miss, 1 tenant x 100,000 tokens": "cca 1 tenant, 100000 tokens, cache miss",
    }

    def row(label, rust_name, app=None, cache=None):
        rows.append((label, rust_name, app, cache, app_bench.get(label)))
        print("  {:<34} app {:>10}  cache {:>10}".format(label, fmt(app), fmt(cache)),
              file=sys.stderr)

    print("msal {} on Python {}".format(msal.__version__, sys.version.split()[0]), file=sys.stderr)
    for label, tenants in (("hit, 1 tenant x 10 tokens", 1), ("hit, 1000 tenants x 10 tokens", 1000)):
        app = measure(app_scenario(tenants, 10, True), n(2000), 5)
        cache = measure(cache_hit_scenario(tenants, 10), n(5000), 5)
        name = "cca_hit/{}_{}_10_tokens".format(tenants, "tenant" if tenants == 1 else "tenants")
        row(label, name, app, cache)
    for label, tenants in (("miss, 1 tenant x 10 tokens", 1), ("miss, 1000 tenants x 10 tokens", 1000)):
        app = measure(app_scenario(tenants, 10, False), n(1000), 5)
        cache = measure(cache_miss_scenario(tenants, 10), n(200 if tenants > 1 else 2000), 5)
        name = "cca_miss/{}_{}_10_tokens".format(tenants, "tenant" if tenants == 1 else "tenants")
        row(label, name, app, cache)
    for tokens, number in ((10000, 20), (100000, 3)):
        app = measure(app_scenario(1, tokens, False, fill_directly=True), n(number), 3)
        cache = measure(cache_miss_scenario(1, tokens), n(number), 3)
        row("miss, 1 tenant x {:,} tokens".format(tokens),
            "cca_miss/1_tenant_{}_tokens".format(tokens), app, cache)
    row("fill 1,000 tokens (search + add)", "fill/1000_tokens_1_tenant",
        cache=measure(lambda: fill(1000), 1, 3))
    if args.fill_10k:
        row("fill 10,000 tokens (search + add)", "fill/10000_tokens_1_tenant",
            cache=measure(lambda: fill(10000), 1, 1))
    for accounts in (1000, 5000):
        cache = pca_cache(accounts)
        state = cache.serialize()
        row("serialize {:,} accounts".format(accounts),
            "serialization/serialize_{}_accounts".format(accounts),
            cache=measure(cache.serialize, 1, 3))
        row("deserialize {:,} accounts ({:.1f} MB)".format(accounts, len(state) / 1e6),
            "serialization/deserialize_{}_accounts".format(accounts),
            cache=measure(lambda: msal.SerializableTokenCache().deserialize(state), 1, 3))

    have_rust = any(rust_mean_seconds(args.criterion_dir, r[1]) for r in rows)
    have_app = any(r[4] and rust_mean_seconds(args.criterion_dir, r[4]) for r in rows)
    header = "| scenario | MSAL Python app | MSAL Python cache |"
    rule = "|---|---:|---:|"
    if have_app:
        header += " entra-msal app | speed-up vs app |"
        rule += "---:|---:|"
    if have_rust:
        header += " entra-msal cache | speed-up vs cache |"
        rule += "---:|---:|"
    print(header)
    print(rule)

    def ratio(python, rust):
        return "{:,.0f}x".format(python / rust) if rust and python else "-"

    for label, rust_name, app, cache, rust_app_name in rows:
        line = "| {} | {} | {} |".format(label, fmt(app), fmt(cache))
        if have_app:
            rust_app = rust_mean_seconds(args.criterion_dir, rust_app_name) if rust_app_name else None
            line += " {} | {} |".format(fmt(rust_app), ratio(app, rust_app))
        if have_rust:
            rust = rust_mean_seconds(args.criterion_dir, rust_name)
            line += " {} | {} |".format(fmt(rust), ratio(cache, rust))
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
