"""Side-by-side benchmark of issue 17: entra-msal against MSAL Python 1.39, interleaved in one run.

The nine scenarios run through each library's public API with an in-process stub HTTP client under
the library's own throttling layer (ours: ``crates/entra-msal/examples/bench_scenarios.rs``, driven
over a pipe; MSAL Python: a mock ``http_client`` answering with the same bodies byte for byte):

1. ``acquire_token_for_client`` hit, 1 tenant x 10 scopes; 2. the same over 1,000 tenants (one app
and cache per tenant, a stride walk ``i += 7919`` picks the app); 3./4. the same with a miss (MSAL
Python: the cache made read-only, as its ``tests/simulator.py``; ours: the stub files the token
under another scope, so ours writes a token on every miss); 5. a miss with 10,000 tokens cached;
6. filling a fresh app's cache to 10,000 tokens through ``acquire_token_for_client`` (MSAL Python:
one run, it takes minutes); 7. ``accounts()`` / ``get_accounts()`` with 1,000 accounts; 8.
serialize / deserialize those 1,000 accounts; 9. a file cache of 1,000 tokens (ours:
``PersistentTokenCache`` + ``FilePersistence``, temp file + fsync + rename; msal-extensions
``PersistedTokenCache(FilePersistence)``, in place, no fsync) gaining one token per call, wall and
CPU time reported separately.

Each side calibrates its batch to about ``--seconds`` per scenario; each round then runs every
scenario once on each side, back to back, alternating which side goes first. Reported: min and
median per operation over the rounds; ratio = MSAL Python / entra-msal (medians; minimums in
brackets). Targets are issue 17's.

Usage::

    python interop/bench_side_by_side.py [--rounds 7] [--seconds 0.2] [--rows 1,2,...]
        [--skip-python-fill] [--rust-bin PATH] [--json PATH] [--write-readme]

The script finds MSAL Python like ``scripts/test``: ``$ENTRA_INTEROP_PYTHON``, else the repository's
``.venv-interop`` (created from ``interop/requirements.txt`` when missing or stale), and re-runs
itself there. ``--write-readme`` replaces the generated part of README.md's Performance section.
"""

import argparse
import datetime
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
BEGIN = "<!-- bench_side_by_side:begin -->"
END = "<!-- bench_side_by_side:end -->"


def ensure_msal_python():
    """Re-executes under a Python that has msal and msal_extensions (scripts/test's venv)."""
    try:
        import msal  # noqa: F401
        import msal_extensions  # noqa: F401
        return
    except ImportError:
        pass
    python = os.environ.get("ENTRA_INTEROP_PYTHON")
    if not python:
        venv = os.path.join(REPO, ".venv-interop")
        python = os.path.join(venv, "bin", "python")
        requirements = os.path.join(HERE, "requirements.txt")
        with open(requirements, "rb") as f:
            want = hashlib.sha256(f.read()).hexdigest()
        marker = os.path.join(venv, ".requirements.sha256")
        try:
            with open(marker) as f:
                have = f.read().strip()
        except OSError:
            have = None
        ok = have == want and subprocess.call(
            [python, "-c", "import msal, msal_extensions, selenium"],
            stderr=subprocess.DEVNULL) == 0 if os.path.exists(python) else False
        if not ok:
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.check_call(["python3", "-m", "venv", venv])
            subprocess.check_call([os.path.join(venv, "bin", "pip"), "install", "--quiet",
                                   "--disable-pip-version-check", "-r", requirements])
            with open(marker, "w") as f:
                f.write(want + "\n")
    if os.environ.get("ENTRA_BENCH_REEXEC"):
        sys.exit("no msal and msal_extensions in {}".format(sys.executable))
    os.environ["ENTRA_BENCH_REEXEC"] = "1"
    os.execv(python, [python] + sys.argv)


ensure_msal_python()

import msal  # noqa: E402
import msal_extensions  # noqa: E402
from msal_extensions import FilePersistence, PersistedTokenCache  # noqa: E402

HOST = "login.microsoftonline.com"
CLIENT_ID = "client_id"
NEVER_REQUESTED = "never-requested"

# (row, scenario, target kind, target value)
ROWS = [
    ("1", "hit, 1 tenant × 10 tokens", "ratio", 100),
    ("2", "hit, 1,000 tenants × 10 tokens", "ratio", 100),
    ("3", "miss, 1 tenant × 10 tokens", "ratio", 50),
    ("4", "miss, 1,000 tenants × 10 tokens", "ratio", 50),
    ("5", "miss, 10,000 tokens in the cache", "ratio", 5000),
    ("6", "fill a cache to 10,000 tokens", "ours", 0.030),
    ("7", "accounts(), 1,000 accounts", "ratio", 100),
    ("8s", "serialize 1,000 accounts", "ratio", 20),
    ("8d", "deserialize 1,000 accounts", "ratio", 20),
    ("9", "file cache: add 1 token to 1,000 (wall)", "ratio", 20),
]


class Response(object):
    """Shaped like MSAL Python's tests/http_client.py MinimalResponse."""

    def __init__(self, status_code, text):
        self.status_code = status_code
        self.text = text
        self.headers = {}

    def raise_for_status(self):
        if self.status_code >= 400:
            raise RuntimeError("HTTP {}".format(self.status_code))


class Stub(object):
    """The bodies of bench_scenarios.rs's stub, byte for byte."""

    def __init__(self, echo=True):
        self.echo = echo

    def get(self, url, params=None, headers=None, **kwargs):
        tenant = url.split("://", 1)[1].split("/")[1]
        base = "https://{}/{}".format(HOST, tenant)
        return Response(200, json.dumps({
            "authorization_endpoint": base + "/oauth2/v2.0/authorize",
            "token_endpoint": base + "/oauth2/v2.0/token",
            "issuer": base + "/v2.0",
        }))

    def post(self, url, params=None, data=None, headers=None, **kwargs):
        scope = NEVER_REQUESTED
        if self.echo:
            scope = (data or {}).get("scope", "")
            if isinstance(scope, (list, tuple)):
                scope = " ".join(scope)
        return Response(200, json.dumps({
            "access_token": "AT", "token_type": "Bearer", "expires_in": 3600, "scope": scope}))

    def close(self):
        pass


def cca(tenant, http, token_cache=None):
    return msal.ConfidentialClientApplication(
        CLIENT_ID, client_credential="foo", authority="https://{}/tenant_{}".format(HOST, tenant),
        http_client=http, token_cache=token_cache)


def app_event(tenant, scope, now):
    return {
        "client_id": CLIENT_ID, "scope": [scope],
        "token_endpoint": "https://{}/tenant_{}/oauth2/v2.0/token".format(HOST, tenant),
        "environment": HOST, "grant_type": "client_credentials",
        "response": {"access_token": "AT", "token_type": "Bearer", "expires_in": 3600,
                     "scope": scope},
        "params": {}, "data": {"scope": [scope]},
    }


def b64url(data):
    import base64
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def pca_cache(accounts):
    cache = msal.SerializableTokenCache()
    now = int(time.time())
    utid = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    for i in range(accounts):
        uid = "{:08d}-0000-0000-0000-000000000000".format(i)
        claims = {"iss": "https://{}/{}/v2.0".format(HOST, utid),
                  "sub": "sub-{}".format(i), "aud": CLIENT_ID, "exp": now + 3600, "iat": now,
                  "oid": uid, "tid": utid, "preferred_username": "user{}@contoso.com".format(i),
                  "name": "User {}".format(i)}
        response = {
            "token_type": "Bearer", "scope": "User.Read profile openid",
            "expires_in": 3599, "ext_expires_in": 3599,
            "access_token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.{}.sig".format("a" * 1500),
            "refresh_token": "0.AX" + "r" * 1000,
            "id_token": "eyJhbGciOiJSUzI1NiJ9.{}.{}".format(
                b64url(json.dumps(claims, separators=(",", ":")).encode()), "s" * 342),
            "client_info": b64url(json.dumps({"uid": uid, "utid": utid},
                                             separators=(",", ":")).encode()),
        }
        cache.add({
            "client_id": CLIENT_ID, "scope": response["scope"].split(),
            "token_endpoint": "https://{}/common/oauth2/v2.0/token".format(HOST),
            "environment": HOST, "grant_type": "authorization_code",
            "response": response, "params": {},
            "data": {"scope": ["User.Read", "offline_access", "openid", "profile"]},
        }, now=now)
    return cache


def read_only(app):
    app.token_cache.modify = lambda *args, **kwargs: None  # as tests/simulator.py


class PyScenario(object):
    """MSAL Python's side of one row: prepare() outside the timing, run(ops) timed."""

    def __init__(self, row):
        self.row = row
        self.next = 0
        self.prepare = lambda: None
        if row in ("1", "2", "3", "4", "5"):
            tenants = 1000 if row in ("2", "4") else 1
            tokens = 10000 if row == "5" else 10
            hit = row in ("1", "2")
            self.apps = []
            for t in range(tenants):
                http = Stub(echo=True)
                app = cca(t, http)
                for i in range(tokens):
                    scope = "scope_{}".format(i)
                    if row == "5":
                        app.token_cache.add(app_event(t, scope, int(time.time())))
                    else:
                        app.acquire_token_for_client([scope])
                if hit:
                    app.acquire_token_for_client(["scope"])
                http.echo = hit
                read_only(app)
                result = app.acquire_token_for_client(["scope"])
                assert result.get("token_source") == ("cache" if hit else "identity_provider"), \
                    result
                self.apps.append(app)
            self.run = self.run_apps
        elif row == "6":
            self.run = self.run_fill
        elif row == "7":
            self.app = msal.PublicClientApplication(
                CLIENT_ID, authority="https://{}/common".format(HOST),
                token_cache=pca_cache(1000), http_client=Stub())
            assert len(self.app.get_accounts()) == 1000
            self.run = self.run_accounts
        elif row == "8s":
            self.cache = pca_cache(1000)
            self.run = self.run_serialize
        elif row == "8d":
            self.text = pca_cache(1000).serialize()
            self.run = self.run_deserialize
        elif row == "9":
            template = msal.SerializableTokenCache()
            now = int(time.time())
            for i in range(1000):
                template.add(app_event(0, "scope_{}".format(i), now), now=now)
            self.template = template.serialize()
            self.dir = tempfile.mkdtemp(prefix="entra-bench-py-")
            self.prepare = self.prepare_file
            self.run = self.run_file
        else:
            raise ValueError(row)

    def run_apps(self, ops):
        apps = self.apps
        for _ in range(ops):
            self.next += 7919
            apps[self.next % len(apps)].acquire_token_for_client(["scope"])

    def run_fill(self, ops):
        for _ in range(ops):
            app = cca(0, Stub(echo=True))
            for i in range(10000):
                app.acquire_token_for_client(["scope_{}".format(i)])

    def run_accounts(self, ops):
        for _ in range(ops):
            self.app.get_accounts()

    def run_serialize(self, ops):
        for _ in range(ops):
            self.cache.serialize()

    def run_deserialize(self, ops):
        for _ in range(ops):
            msal.SerializableTokenCache().deserialize(self.text)

    def prepare_file(self):
        path = os.path.join(self.dir, "msal_cache.json")
        with open(path, "w") as f:
            f.write(self.template)
        self.app = cca(0, Stub(echo=True), PersistedTokenCache(FilePersistence(path)))
        self.run_file(1)

    def run_file(self, ops):
        for _ in range(ops):
            self.next += 1
            self.app.acquire_token_for_client(["new_{}".format(self.next)])


def py_measure(scenario, ops):
    scenario.prepare()
    cpu = time.process_time()
    start = time.perf_counter()
    scenario.run(ops)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu
    return {"ops": ops, "wall_ns": wall * 1e9 / ops, "cpu_ns": cpu * 1e9 / ops}


def py_calibrate(scenario, seconds):
    ops = 1
    while True:
        sample = py_measure(scenario, ops)
        if sample["wall_ns"] * ops >= seconds * 1e9 / 4 or ops >= 1 << 24:
            return max(1, int(seconds * 1e9 / max(sample["wall_ns"], 1.0)))
        ops *= 4


class Rust(object):
    def __init__(self, binary):
        self.proc = subprocess.Popen([binary, "serve"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)

    def run(self, row, seconds):
        self.proc.stdin.write("run {} {}\n".format(row, seconds))
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("bench_scenarios exited")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply

    def close(self):
        self.proc.stdin.write("quit\n")
        self.proc.stdin.flush()
        self.proc.wait()


def build_rust():
    subprocess.check_call(["cargo", "build", "--quiet", "--release", "--locked", "-p",
                           "entra-msal", "--example", "bench_scenarios"], cwd=REPO)
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(REPO, "target")
    return os.path.join(target, "release", "examples", "bench_scenarios")


def fmt(ns):
    if ns is None:
        return "–"
    if ns >= 1e9:
        return "{:.2f} s".format(ns / 1e9)
    if ns >= 1e6:
        return "{:.2f} ms".format(ns / 1e6)
    if ns >= 1e3:
        return "{:.2f} µs".format(ns / 1e3)
    return "{:.0f} ns".format(ns)


def ratio(python, ours):
    if not python or not ours:
        return None
    return python / ours


def fmt_ratio(r):
    if r is None:
        return "–"
    return "{:,.0f}×".format(r) if r >= 20 else "{:.1f}×".format(r)


def loadavg():
    try:
        return "{:.2f} / {:.2f} / {:.2f}".format(*os.getloadavg())
    except OSError:
        return "?"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_head():
    try:
        head = subprocess.check_output(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                                       text=True).strip()
        dirty = subprocess.call(["git", "diff", "--quiet", "HEAD", "--", "crates"],
                                cwd=REPO) != 0
        return head + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "?"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=0.2, help="batch length per scenario")
    parser.add_argument("--rows", default=",".join(r[0] for r in ROWS))
    parser.add_argument("--skip-python-fill", action="store_true",
                        help="skip MSAL Python's row 6 (one run takes minutes)")
    parser.add_argument("--rust-bin", help="a built bench_scenarios (default: cargo build)")
    parser.add_argument("--json", help="write every sample here")
    parser.add_argument("--write-readme", action="store_true",
                        help="replace the generated part of README.md's Performance section")
    args = parser.parse_args()
    rows = [r for r in ROWS if r[0] in args.rows.split(",")]

    binary = args.rust_bin or build_rust()
    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = loadavg()
    print("MSAL Python {} + msal-extensions {} on CPython {}; entra-msal {}".format(
        msal.__version__, msal_extensions.__version__, platform.python_version(), git_head()),
        file=sys.stderr)
    print("load average at the start: {}".format(load_start), file=sys.stderr)

    rust = Rust(binary)
    py = {}
    py_batch = {}
    samples = {row: {"python": [], "rust": []} for row, _, _, _ in rows}
    loads = []
    try:
        for row, name, _, _ in rows:
            print("setting up row {} ({})".format(row, name), file=sys.stderr)
            if row == "6":
                continue
            py[row] = PyScenario(row)
            py_batch[row] = py_calibrate(py[row], args.seconds)
        for r in range(args.rounds):
            for row, name, _, _ in rows:
                sides = ["python", "rust"] if r % 2 == 0 else ["rust", "python"]
                for side in sides:
                    if side == "rust":
                        samples[row]["rust"].append(rust.run(row, args.seconds))
                    elif row != "6":
                        samples[row]["python"].append(py_measure(py[row], py_batch[row]))
            loads.append(os.getloadavg()[0])
            print("round {}/{} done, load {:.2f}".format(r + 1, args.rounds, loads[-1]),
                  file=sys.stderr)
        if any(row == "6" for row, _, _, _ in rows) and not args.skip_python_fill:
            print("MSAL Python row 6: one fill of 10,000 tokens (minutes)", file=sys.stderr)
            before = rust.run("6", args.seconds)
            samples["6"]["python"].append(py_measure(PyScenario("6"), 1))
            after = rust.run("6", args.seconds)
            samples["6"]["rust"] += [before, after]
    finally:
        rust.close()
        for scenario in py.values():
            if getattr(scenario, "dir", None):
                shutil.rmtree(scenario.dir, ignore_errors=True)
    load_end = loadavg()

    def stats(row, side, key="wall_ns"):
        values = [s[key] for s in samples[row][side] if s.get(key)]
        if not values:
            return None, None
        return min(values), statistics.median(values)

    lines = []
    lines.append("Measured {} UTC on {} ({} CPUs), entra-msal {} against MSAL Python {} + "
                 "msal-extensions {} on CPython {}. Load average (1/5/15 min) {} at the start, "
                 "{} at the end; 1-minute load during the rounds {:.2f}–{:.2f}. {} rounds, "
                 "batches of about {} s; min / median per operation. Command: "
                 "`python interop/bench_side_by_side.py{}`.".format(
                     started.strftime("%Y-%m-%d %H:%M"), cpu_model(), os.cpu_count(),
                     git_head(), msal.__version__, msal_extensions.__version__,
                     platform.python_version(), load_start, load_end,
                     min(loads) if loads else 0, max(loads) if loads else 0, args.rounds,
                     args.seconds,
                     " --rows " + args.rows if args.rows != ",".join(r[0] for r in ROWS) else ""))
    lines.append("")
    lines.append("| # | scenario | MSAL Python min / median | entra-msal min / median "
                 "| ratio median (min) | target | |")
    lines.append("|---|---|---:|---:|---:|---|---|")
    met_all = True

    def add_line(row, name, kind, goal, key="wall_ns"):
        nonlocal met_all
        pmin, pmed = stats(row, "python", key)
        rmin, rmed = stats(row, "rust", key)
        rat, rat_min = ratio(pmed, rmed), ratio(pmin, rmin)
        if kind == "ratio":
            target = "≥ {:,}×".format(goal)
            met = rat is not None and rat >= goal
        else:
            target = "ours ≤ {:g} ms".format(goal * 1e3)
            met = rmed is not None and rmed <= goal * 1e9
        met_all = met_all and met
        lines.append("| {} | {} | {} / {} | {} / {} | {} ({}) | {} | {} |".format(
            row, name, fmt(pmin), fmt(pmed), fmt(rmin), fmt(rmed), fmt_ratio(rat),
            fmt_ratio(rat_min), target, "met" if met else "MISSED"))

    for row, name, kind, goal in rows:
        add_line(row, name, kind, goal)
        if row == "9":
            add_line("9", "file cache: add 1 token to 1,000 (CPU)", "ratio", 30, key="cpu_ns")
    allocs = ", ".join("{} {:,.1f}".format(row, statistics.median(
        s["allocations"] for s in samples[row]["rust"])) for row, _, _, _ in rows
        if samples[row]["rust"])
    lines.append("")
    lines.append("entra-msal heap allocations per operation (median), by row: {}.".format(allocs))
    if "6" in samples and not samples["6"]["python"]:
        lines.append("MSAL Python's row 6 was skipped (`--skip-python-fill`).")
    text = "\n".join(lines)
    print(text)
    print("all targets met" if met_all else "some targets missed", file=sys.stderr)

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"started": started.isoformat(), "load_start": load_start,
                       "load_end": load_end, "loads": loads, "samples": samples}, f, indent=1)
    if args.write_readme:
        path = os.path.join(REPO, "README.md")
        with open(path) as f:
            readme = f.read()
        if BEGIN not in readme or END not in readme:
            sys.exit("README.md has no {} ... {} markers".format(BEGIN, END))
        head, rest = readme.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        with open(path, "w") as f:
            f.write(head + BEGIN + "\n" + text + "\n" + END + tail)
        print("README.md updated", file=sys.stderr)
    return 0 if met_all else 1


if __name__ == "__main__":
    sys.exit(main())
