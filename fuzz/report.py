#!/usr/bin/env python3
"""Prints docs/fuzzing.md's campaign table from the summaries scripts/fuzz appends to.

Usage: fuzz/report.py CAMPAIGN.tsv [EARLIER.tsv ...]

One row per run of the campaign: executions, time, coverage (`cov`, `ft`), corpus size, outcome;
and per target the executions of all earlier runs, summed over the other files given."""
import collections
import sys


def load(paths):
    totals = collections.OrderedDict()
    for line in (line for path in paths for line in open(path)):
        when, target, secs, execs, cov, ft, corp, outcome = line.rstrip("\n").split("\t")
        t = totals.setdefault(target, {"secs": 0, "execs": 0, "outcomes": []})
        t["secs"] += int(secs)
        t["execs"] += int(execs) if execs.isdigit() else 0
        t["outcomes"].append(outcome)
        t.update(cov=cov, ft=ft, corp=corp)
    return totals


earlier = load(sys.argv[2:])
print("| target | executions | time | cov | ft | corpus | outcome | earlier runs |")
print("|---|---:|---:|---:|---:|---:|---|---:|")
for line in open(sys.argv[1]):
    when, name, secs, execs, cov, ft, corp, outcome = line.rstrip("\n").split("\t")
    secs = int(secs)
    execs = int(execs) if execs.isdigit() else 0
    e = earlier.get(name)
    before = f"{e['execs']:,} in {e['secs']} s" if e else ""
    stop = "10 M" if execs >= 10_000_000 else ("30 min" if secs >= 1800 else "time cap")
    if not outcome.startswith("ok"):
        stop, outcome = "stopped", "crash (finding)"
    print(f"| `{name}` | {execs:,} ({stop}) | {secs // 60} min {secs % 60:02d} s "
          f"| {cov} | {ft} | {corp} | {outcome} | {before} |")
