"""Runs the Google Benchmark micro-benchmarks (bench/micro/, target storegate_micro) and turns
their JSON output into a markdown table."""

import json
import os
import subprocess

MIN_TIME = "0.3"
# Counters the benchmarks report besides time and rates, with the unit shown after them.
COUNTERS = {"table_bytes_per_store": "bytes per store"}


def run(binary: str, out_dir: str) -> list:
    """The benchmarks' JSON records; [] (with a message) when the binary fails."""
    path = os.path.join(out_dir, "micro.json")
    done = subprocess.run([binary, f"--benchmark_min_time={MIN_TIME}",
                           f"--benchmark_out={path}", "--benchmark_out_format=json"],
                          capture_output=True, text=True, timeout=900)
    with open(os.path.join(out_dir, "micro.txt"), "w") as out:
        out.write(done.stdout + done.stderr)
    if done.returncode != 0 or not os.path.exists(path):
        print(f"bench: micro-benchmarks failed ({done.returncode}); see micro.txt", flush=True)
        return []
    with open(path) as data:
        return json.load(data).get("benchmarks", [])


def _rate(record: dict) -> str:
    if "bytes_per_second" in record:
        return f"{record['bytes_per_second'] / 2**20:,.0f} MiB/s"
    if "items_per_second" in record:
        return f"{record['items_per_second'] / 1e6:,.2f} M/s"
    return "-"


def _counters(record: dict) -> str:
    return ", ".join(f"{record[key]:,.0f} {unit}" for key, unit in COUNTERS.items()
                     if key in record) or "-"


def markdown(records: list) -> list:
    if not records:
        return []
    lines = ["## Micro-benchmarks", "",
             "Google Benchmark, `storegate_micro` (built with -DSTOREGATE_BENCH=ON); CPU time "
             "per iteration. The scanner benchmarks read a 4 MiB server stream in chunks of "
             "the given size; the routing-table ones work on 1,000,000 stores.", "",
             "| benchmark | CPU time | rate | other |", "| --- | ---: | ---: | --- |"]
    for r in records:
        if r.get("error_occurred"):
            lines.append(f"| {r['name']} | **error**: {r.get('error_message', '')} | | |")
            continue
        lines.append(f"| {r['name']} | {r['cpu_time']:,.1f} {r['time_unit']} | {_rate(r)} | "
                     f"{_counters(r)} |")
    return lines + [""]
