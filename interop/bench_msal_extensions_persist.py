"""msal-extensions' persisted cache under the workload of `crates/entra-msal/benches/persist.rs`.

The cost of adding one token to a persisted cache that holds 1,000 and 10,000 client-credential
tokens (one tenant, ``scope_0..N-1``, the stub responses of the Rust benchmark), with
``msal_extensions.PersistedTokenCache(FilePersistence(path))``: one ``TokenCache.add`` of the
``scope`` token, which is what ``acquire_token_for_client`` does with a new token (msal-extensions
locks the file, reloads it if it changed, and rewrites all of it). The added token replaces the
same entry every time, so the cache keeps its size, as in the Rust benchmark.

Timings are the median over ``--repeat`` runs of the mean time per add. When Criterion results of
``cargo bench -p entra-msal --features redis --bench persist`` exist (``target/criterion``, or
``--criterion-dir``), the table shows the Rust figures and the ratios beside them.

Usage::

    python interop/bench_msal_extensions_persist.py [--repeat 5] [--criterion-dir DIR]
"""

import argparse
import json
import os
import statistics
import tempfile
import time

import msal
from msal_extensions import FilePersistence, PersistedTokenCache

CLIENT_ID = "client_id"
ENVIRONMENT = "login.microsoftonline.com"
REALM = "tenant_0"
NOW = 4_000_000_000


def event(scope):
    return {
        "client_id": CLIENT_ID,
        "scope": [scope],
        "token_endpoint": "https://{}/{}/oauth2/v2.0/token".format(ENVIRONMENT, REALM),
        "response": {"access_token": "AT for " + scope, "token_type": "bearer",
                     "expires_in": 3600},
        "params": {},
        "data": {},
        "grant_type": "client_credentials",
    }


def filled(n):
    cache = msal.SerializableTokenCache()
    for i in range(n):
        cache.add(event("scope_%d" % i), now=NOW)
    return cache.serialize()


def measure(n, repeat, calls):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "msal_cache.json")
        with open(path, "w") as f:
            f.write(filled(n))
        cache = PersistedTokenCache(FilePersistence(path))
        cache.add(event("scope"), now=NOW)  # warm up: loads the file once
        runs = []
        for _ in range(repeat):
            start = time.perf_counter()
            for _ in range(calls):
                cache.add(event("scope"), now=NOW)
            runs.append((time.perf_counter() - start) / calls)
        return statistics.median(runs)


def criterion_mean(root, group, name):
    path = os.path.join(root, group, name, "new", "estimates.json")
    try:
        with open(path) as f:
            return json.load(f)["mean"]["point_estimate"] / 1e9
    except OSError:
        return None


def fmt(seconds):
    if seconds is None:
        return "-"
    if seconds >= 1:
        return "%.2f s" % seconds
    if seconds >= 1e-3:
        return "%.2f ms" % (seconds * 1e3)
    return "%.1f µs" % (seconds * 1e6)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--criterion-dir", default=os.path.join(
        os.path.dirname(__file__), "..", "target", "criterion"))
    args = parser.parse_args()
    print("msal %s, msal-extensions FilePersistence" % msal.__version__)
    print("| tokens in cache | msal-extensions | entra-msal file | ratio "
          "| entra-msal encrypted file | entra-msal Redis |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n, calls in [(1000, 20), (10000, 3)]:
        py = measure(n, args.repeat, calls)
        name = "add_one_to_%d" % n
        rust = criterion_mean(args.criterion_dir, "persist_file", name)
        enc = criterion_mean(args.criterion_dir, "persist_encrypted_file", name)
        red = criterion_mean(args.criterion_dir, "persist_redis", name)
        ratio = "%.0f×" % (py / rust) if rust else "-"
        print("| %s | %s | %s | %s | %s | %s |" % (
            "{:,}".format(n), fmt(py), fmt(rust), ratio, fmt(enc), fmt(red)))


if __name__ == "__main__":
    main()
