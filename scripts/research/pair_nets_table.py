#!/usr/bin/env python3
"""The pair-network table from scripts/research/pair_nets.sh's eval reports.

    python3 scripts/research/pair_nets_table.py runs/pair

Reads DIR/eval-ARCH-sSEED/report.json (one seed's 4 ORL folds each) and prints, per
architecture, every fold's EER (mean over seeds), the mean EER with its spread over seeds
(sample standard deviation, and min-max), mean TAR@FAR=1e-3, and the cost per decision from the
report's detail (MACs per 1:1 and per 1:N over 10 people).
"""
import json
import pathlib
import re
import statistics
import sys

d = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "runs/pair")
by_arch = {}
for rep in sorted(d.glob("eval-*-s*/report.json")):
    m = re.match(r"eval-(.+)-s(\d+)$", rep.parent.name)
    arch, seed = m.group(1), int(m.group(2))
    doc = json.loads(rep.read_text())
    net = doc["methods"][0]
    folds = [f["verification"]["eer"]["rate"] for f in net["folds"]]
    tar = next(t["tar"] for t in net["mean"]["tar_at_far"] if abs(t["target_far"] - 1e-3) < 1e-12)
    by_arch.setdefault(arch, []).append((seed, folds, net["mean"]["eer"], tar, net["name"], net["detail"]))

print("| method | seeds | EER %, folds 0/1/2/3 (mean over seeds) | mean EER % (sd; min-max over seeds) | TAR@FAR=1e-3 % | MACs per 1:1 | MACs per 1:N, N=10 |")
print("|---|---|---|---|---|---|---|")
for arch, rows in by_arch.items():
    seeds = [r[0] for r in rows]
    per_fold = [statistics.mean(r[1][k] for r in rows) * 100 for k in range(4)]
    means = [r[2] * 100 for r in rows]
    sd = statistics.stdev(means) if len(means) > 1 else float("nan")
    tar = statistics.mean(r[3] for r in rows) * 100
    detail = rows[0][5]
    one = re.search(r"(\d+) MACs per 1:1", detail)
    many = re.search(r"(\d+) per 1:N over 10 people", detail)
    fmt = lambda m: f"{int(m.group(1)) / 1e6:.1f} M" if m else "-"
    print(
        f"| {rows[0][4]} | {','.join(map(str, seeds))} | {' / '.join(f'{v:.1f}' for v in per_fold)} | "
        f"**{statistics.mean(means):.2f}** ({sd:.2f}; {min(means):.1f}-{max(means):.1f}) | {tar:.1f} | {fmt(one)} | {fmt(many)} |"
    )
