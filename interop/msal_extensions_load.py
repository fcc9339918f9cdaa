#!/usr/bin/env python3
"""MSAL Python 1.39 + msal-extensions 1.3.1 writing (or reading) one cache file shared with
entra-msal processes, for the shared-cache stress test (crates/entra-msal-cli/tests/commands.rs).

Usage:
  python interop/msal_extensions_load.py write --info INFO.json --cache FILE --lock LOCK \
      --prefix PREFIX --count N
  python interop/msal_extensions_load.py read --cache FILE --seconds S

write: the ready-made secret client calls acquire_token_for_client(["api://load-PREFIX-i/.default"])
for i in 0..N with msal_extensions.PersistedTokenCache(FilePersistence(FILE)). LOCK chooses
msal-extensions' lock:
  - "filelock": what a default `pip install msal-extensions` uses. Without portalocker,
    msal_extensions/token_cache.py's `from .cache_lock import ...` fails with ImportError (its
    `import portalocker` fails) and it falls back to `from .filelock import ...`. Setting
    sys.modules["portalocker"] = None before importing msal_extensions makes that import fail
    the same way, so the same code path runs as in an install without portalocker.
  - "portalocker": the `msal-extensions[portalocker]` install (cache_lock.py).
The first output line is {"lock": "<module of the CrossPlatLock in use>"}; then one JSON line per
scope, printed only after acquire_token_for_client returned: {"scope", "ok", "error"}.

read: msal-extensions' own FilePersistence.load() in a loop for S seconds while others write;
every text read must be non-empty, valid JSON. The last line is {"reads", "bad", "examples"}.
"""

import argparse
import json
import sys
import time


def write(args):
    if args.lock == "filelock":
        sys.modules["portalocker"] = None  # a default install: no portalocker
    import msal
    import requests
    from msal_extensions import FilePersistence, PersistedTokenCache
    from msal_extensions import token_cache as tc

    print(json.dumps({"lock": tc.CrossPlatLock.__module__}), flush=True)
    with open(args.info, encoding="utf-8") as f:
        info = json.load(f)
    http = requests.Session()
    http.verify = info["ca_file"]
    http.trust_env = False
    client = info["confidential_client"]
    app = msal.ConfidentialClientApplication(
        client["client_id"], client_credential=client["client_secret"],
        authority=info["authority"], instance_discovery=False, http_client=http,
        token_cache=PersistedTokenCache(FilePersistence(args.cache)))
    for i in range(args.count):
        scope = "api://load-{}-{}/.default".format(args.prefix, i)
        try:
            result = app.acquire_token_for_client([scope])
            ok, error = bool(result.get("access_token")), result.get("error")
        except Exception as e:  # msal-extensions' LockError after its 5 s wait, for instance
            ok, error = False, "{}: {}".format(type(e).__name__, e)
        print(json.dumps({"scope": scope, "ok": ok, "error": error}), flush=True)
    return 0


def read(args):
    from msal_extensions import FilePersistence
    from msal_extensions.persistence import PersistenceNotFound

    persistence = FilePersistence(args.cache)
    reads, bad, examples = 0, 0, []
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        try:
            text = persistence.load()
        except PersistenceNotFound:
            time.sleep(0.001)
            continue
        reads += 1
        try:
            if not isinstance(json.loads(text), dict):
                raise ValueError("not an object")
        except ValueError as e:
            bad += 1
            if len(examples) < 3:
                examples.append("{} bytes: {}".format(len(text), e))
    print(json.dumps({"reads": reads, "bad": bad, "examples": examples}), flush=True)
    return 0


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="mode", required=True)
    w = sub.add_parser("write")
    w.add_argument("--info", required=True)
    w.add_argument("--cache", required=True)
    w.add_argument("--lock", choices=["filelock", "portalocker"], required=True)
    w.add_argument("--prefix", required=True)
    w.add_argument("--count", type=int, default=12)
    r = sub.add_parser("read")
    r.add_argument("--cache", required=True)
    r.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args()
    return write(args) if args.mode == "write" else read(args)


if __name__ == "__main__":
    sys.exit(main())
