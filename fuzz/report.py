#!/usr/bin/env python3
"""Prints the README's fuzzing table from fuzz/work/summary.tsv (written by scripts/fuzz): for each
target, the total executions and time over all recorded runs and the last run's coverage."""
import collections
import os
import sys

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "work", "summary.tsv")
totals = collections.OrderedDict()
for line in open(path):
    when, target, secs, execs, cov, ft, corp, outcome = line.rstrip("\n").split("\t")
    t = totals.setdefault(target, {"secs": 0, "execs": 0, "runs": 0})
    t["secs"] += int(secs)
    t["execs"] += int(execs) if execs.isdigit() else 0
    t["runs"] += 1
    t.update(cov=cov, ft=ft, corp=corp, longest=max(t.get("longest", 0), int(secs)))
order = sys.argv[1:] or list(totals)
print("| target | executions | time | cov | ft | corpus |")
print("|---|---:|---:|---:|---:|---:|")
for name in order:
    t = totals[name]
    print(f"| `{name}` | {t['execs']:,} | {t['secs'] // 60} min {t['secs'] % 60} s | {t['cov']} | {t['ft']} | {t['corp']} |")
