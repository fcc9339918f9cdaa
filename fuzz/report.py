#!/usr/bin/env python3
"""Prints the README's fuzzing table from the summaries scripts/fuzz appends to.

Usage: fuzz/report.py CAMPAIGN.tsv [EARLIER.tsv]

Per target: executions, time, coverage (`cov`, `ft`) and corpus size of the campaign's runs, and
the executions of the earlier (validation) runs when a second file is given."""
import collections
import sys


def load(path):
    totals = collections.OrderedDict()
    for line in open(path):
        when, target, secs, execs, cov, ft, corp, outcome = line.rstrip("\n").split("\t")
        t = totals.setdefault(target, {"secs": 0, "execs": 0, "outcomes": []})
        t["secs"] += int(secs)
        t["execs"] += int(execs) if execs.isdigit() else 0
        t["outcomes"].append(outcome)
        t.update(cov=cov, ft=ft, corp=corp)
    return totals


campaign = load(sys.argv[1])
earlier = load(sys.argv[2]) if len(sys.argv) > 2 else {}
print("| target | executions | time | cov | ft | corpus | earlier runs |")
print("|---|---:|---:|---:|---:|---:|---:|")
for name, t in campaign.items():
    e = earlier.get(name)
    before = f"{e['execs']:,} in {e['secs']} s" if e else ""
    stop = "10 M reached" if t["execs"] >= 10_000_000 else "time cap"
    print(f"| `{name}` | {t['execs']:,} ({stop}) | {t['secs'] // 60} min {t['secs'] % 60:02d} s "
          f"| {t['cov']} | {t['ft']} | {t['corp']} | {before} |")
