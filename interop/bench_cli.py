#!/usr/bin/env python3
"""`msal token --output token` answered from the cache, against the same job in MSAL Python.

Usage: python interop/bench_cli.py MSAL_BINARY [RUNS]

Starts `MSAL_BINARY emulator serve --json`, signs alice in once with `msal login --username`
(the token cache file is the one both sides read), then runs, RUNS times each (default 40),
every one a new process:

  msal --version                 process start alone
  msal accounts                  + config, token cache file load
  msal token --output token      + the silent flow (tenant discovery, then the cached token)
  python -c "import msal"        MSAL Python's import alone
  python msal_cli_python.py silent
                                 MSAL Python: load the same serialized cache,
                                 PublicClientApplication, acquire_token_silent, print the token

and prints min / median / mean wall time per command and the ratio of the two token jobs.
Both token jobs must print the same token (checked).
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SCOPE = "api://emulator-api/access_as_user"


def timed(argv, env, runs):
    samples = []
    out = None
    for _ in range(runs):
        start = time.perf_counter()
        p = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        samples.append((time.perf_counter() - start) * 1000)
        if p.returncode != 0:
            sys.exit("failed: %s\n%s" % (" ".join(argv), p.stderr.decode()))
        out = p.stdout.decode().strip()
    return samples, out


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    msal_bin = os.path.abspath(sys.argv[1])
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    work = tempfile.mkdtemp(prefix="bench-cli-")
    server = subprocess.Popen(
        [msal_bin, "emulator", "serve", "--json", "--state-dir", os.path.join(work, "state")],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        info = json.loads(server.stdout.readline())
        info_path = os.path.join(work, "info.json")
        with open(info_path, "w") as f:
            json.dump(info, f)
        cache = os.path.join(work, "token_cache.json")
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("MSAL_") and k != "KUBERNETES_EXEC_INFO"}
        env.update({
            "MSAL_AUTHORITY": info["authority"],
            "MSAL_CA_FILE": info["ca_file"],
            "MSAL_CLIENT_ID": info["public_client"]["client_id"],
            "MSAL_CACHE_FILE": cache,
            "XDG_CONFIG_HOME": os.path.join(work, "config"),
        })
        alice = next(u for u in info["users"] if u["username"].startswith("alice"))
        login = subprocess.run(
            [msal_bin, "login", "--username", alice["username"], "--scope", SCOPE],
            env=dict(env, MSAL_PASSWORD=alice["password"]), capture_output=True)
        if login.returncode != 0:
            sys.exit("login failed: %s" % login.stderr.decode())

        py = sys.executable
        jobs = [
            ("msal --version", [msal_bin, "--version"]),
            ("msal accounts", [msal_bin, "accounts"]),
            ("msal token --output token",
             [msal_bin, "token", "--scope", SCOPE, "--no-interactive", "--output", "token"]),
            ("python -c 'import msal'", [py, "-c", "import msal"]),
            ("MSAL Python acquire_token_silent",
             [py, os.path.join(HERE, "msal_cli_python.py"), "silent", info_path, cache, SCOPE]),
        ]
        results = {}
        for name, argv in jobs:
            timed(argv, env, 3)  # warm the page cache
            results[name] = timed(argv, env, runs)
        ours = results["msal token --output token"]
        theirs = results["MSAL Python acquire_token_silent"]
        if ours[1] != theirs[1]:
            sys.exit("the two token jobs printed different tokens")
        print("%d runs each, wall time per process (ms), cache file shared by both" % runs)
        print("%-34s %8s %8s %8s" % ("command", "min", "median", "mean"))
        for name, (samples, _) in results.items():
            print("%-34s %8.1f %8.1f %8.1f" % (name, min(samples), statistics.median(samples),
                                             statistics.mean(samples)))
        print("ratio MSAL Python / msal: %.0fx (medians), %.0fx (minimums)" % (
            statistics.median(theirs[0]) / statistics.median(ours[0]),
            min(theirs[0]) / min(ours[0])))
        print("load average during the runs: %.1f on %d CPUs" % (os.getloadavg()[0], os.cpu_count()))
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
