"""Writes a benchmark's results: CSV files, a markdown report with ratios against PgBouncer
(same pooling mode) and against direct connections, and gnuplot charts of throughput and CPU
per transaction by client count."""

import csv
import math
import os
import shutil
import subprocess

CHARTS = {"tps": ("tps", "transactions per second"),
          "cpu": ("cpu_us_per_tx", "pooler CPU per transaction (us)")}


def write_csv(path: str, rows: list) -> None:
    if not rows:
        return
    with open(path, "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0].keys()))
        writer.writeheader()
        writer.writerows(rows)


def _fmt(value, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def _ratio(value, reference) -> str:
    if value is None or not reference:
        return "-"
    return f"{value / reference:.2f}x"


def _index(runs: list) -> dict:
    return {(r.target, r.protocol, r.clients, r.connect_per_tx): r for r in runs}


def _reference(index: dict, run, target: str):
    ref = index.get((target, run.protocol, run.clients, run.connect_per_tx))
    return ref if ref is not None and ref.status == "ok" else None


def _pgbouncer_of(run) -> str:
    return f"pgbouncer/{run.mode}" if run.mode else ""


def _run_line(index: dict, run) -> str:
    head = f"| {run.clients} | {run.target} "
    if run.status != "ok":
        message = run.error.replace("|", "/") or "failed"
        return head + f"| **failed**: {message} | | | | | | | |"
    pgb = _reference(index, run, _pgbouncer_of(run))
    direct = _reference(index, run, "direct")
    pgb_tps, pgb_cpu = (pgb.tps, pgb.cpu_us_per_tx) if pgb else (None, None)
    return head + "| " + " | ".join([
        _fmt(run.tps, 0), _ratio(run.tps, pgb_tps) if run.kind != "pgbouncer" else "-",
        _ratio(run.tps, direct.tps if direct else None) if run.kind != "direct" else "-",
        _fmt(run.latency_avg_ms, 3), _fmt(run.latency_p99_ms, 3), _fmt(run.cpu_us_per_tx, 1),
        _ratio(run.cpu_us_per_tx, pgb_cpu) if run.kind != "pgbouncer" else "-",
        _fmt(run.syscalls_per_tx, 1)]) + " |"


RUN_HEADER = ("| clients | target | tps | tps vs PgBouncer | tps vs direct | latency avg ms | "
              "latency p99 ms | pooler CPU us/tx | CPU vs PgBouncer | pooler syscalls/tx |\n"
              "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")


def _throughput_sections(runs: list) -> list:
    index = _index(runs)
    lines = []
    for protocol in dict.fromkeys(r.protocol for r in runs if not r.connect_per_tx):
        lines += [f"### pgbench -S -M {protocol}", "", RUN_HEADER]
        lines += [_run_line(index, r) for r in
                  sorted((r for r in runs if r.protocol == protocol and not r.connect_per_tx),
                         key=lambda r: r.clients)]
        lines.append("")
    connect = [r for r in runs if r.connect_per_tx]
    if connect:
        lines += [f"### A new connection per transaction (pgbench -S -C, {connect[0].clients} "
                  "clients)", "", RUN_HEADER]
        lines += [_run_line(index, r) for r in connect] + [""]
    return lines


def _memory_section(points: list) -> list:
    if not points:
        return []
    lines = ["## Memory per idle client", "",
             "Resident-set growth of the pooler process while it holds authenticated idle "
             "clients (fresh process, before the throughput runs).", "",
             "| target | idle clients | connected | refused | RSS before MiB | RSS after MiB | "
             "bytes per client | vs PgBouncer |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    ref = {(p.mode, p.idle_clients): p for p in points if p.kind == "pgbouncer"}
    for p in points:
        if p.status != "ok" and p.connected == 0:
            lines.append(f"| {p.target} | {p.idle_clients:,} | **failed**: "
                         f"{p.error.replace('|', '/')} | | | | | |")
            continue
        pgb = ref.get((p.mode, p.idle_clients))
        ok = p.status == "ok"
        note = "" if ok else f" (**failed**: {p.error.replace('|', '/')})"
        # With refused clients the growth also holds their queued state: no per-client figure.
        per_client = _fmt(p.bytes_per_client, 0) if ok else "-"
        versus = _ratio(p.bytes_per_client, pgb.bytes_per_client) \
            if ok and pgb and pgb.status == "ok" and p.kind != "pgbouncer" else "-"
        lines.append("| " + " | ".join([
            p.target, f"{p.idle_clients:,}", f"{p.connected:,}{note}", f"{p.refused:,}",
            _mib(p.rss_before_kb), _mib(p.rss_after_kb), per_client, versus]) + " |")
    return lines + [""]


def _mib(kb) -> str:
    return "n/a" if kb is None else f"{kb / 1024:.1f}"


def _goals(runs: list, points: list) -> list:
    """storegate's goals against PgBouncer in the same mode, point by point."""
    index = _index(runs)
    lines = ["## storegate against its goals", "",
             "Goal: CPU per transaction below PgBouncer's, throughput at least PgBouncer's, "
             "memory per idle client at most PgBouncer's (same pooling mode).", "",
             "| storegate target | tps vs PgBouncer (geometric mean) | CPU/tx vs PgBouncer "
             "(geometric mean) | CPU/tx below PgBouncer | tps at least PgBouncer | "
             "memory/client at most PgBouncer | failed runs |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name in dict.fromkeys(r.target for r in runs if r.kind == "storegate"):
        own = [r for r in runs if r.target == name]
        pairs = [(r, _reference(index, r, _pgbouncer_of(r))) for r in own if r.status == "ok"]
        pairs = [(r, ref) for r, ref in pairs if ref is not None]
        cpu = [r.cpu_us_per_tx < ref.cpu_us_per_tx for r, ref in pairs
               if r.cpu_us_per_tx is not None and ref.cpu_us_per_tx is not None]
        tps = [r.tps >= ref.tps for r, ref in pairs if r.tps and ref.tps]
        memory = _memory_goal(points, name)
        failed = sum(1 for r in own if r.status != "ok")
        tps_mean = _geomean([r.tps / ref.tps for r, ref in pairs if r.tps and ref.tps])
        cpu_mean = _geomean([r.cpu_us_per_tx / ref.cpu_us_per_tx for r, ref in pairs
                             if r.cpu_us_per_tx and ref.cpu_us_per_tx])
        lines.append(f"| {name} | {tps_mean} | {cpu_mean} | {sum(cpu)} of {len(cpu)} | "
                     f"{sum(tps)} of {len(tps)} | {memory} | {failed} of {len(own)} |")
    return lines + [""]


def _geomean(ratios: list) -> str:
    """The geometric mean of ratios over the points both sides completed: one noisy point
    moves it less than it moves a count of wins."""
    if not ratios:
        return "n/a"
    return f"{math.exp(sum(math.log(r) for r in ratios) / len(ratios)):.2f}x ({len(ratios)} points)"


def _memory_goal(points: list, name: str) -> str:
    own = [p for p in points if p.target == name and p.status == "ok"]
    ref = {(p.mode, p.idle_clients): p for p in points
           if p.kind == "pgbouncer" and p.status == "ok"}
    met = [p.bytes_per_client <= ref[(p.mode, p.idle_clients)].bytes_per_client
           for p in own if (p.mode, p.idle_clients) in ref]
    failed = sum(1 for p in points if p.target == name and p.status != "ok")
    text = f"{sum(met)} of {len(met)}" if met else "n/a"
    return text + (f" ({failed} failed)" if failed else "")


def markdown(machine: dict, settings: dict, runs: list, points: list, charts: list) -> str:
    lines = ["# storegate and PgBouncer side by side", "",
             f"Measured {machine['date']} on {machine['nproc']} cores ({machine['cpu']}), "
             f"Linux {machine['kernel']}, {machine['memory']} RAM.", ""]
    lines += _load_note(runs)
    lines += ["| setting | value |", "| --- | --- |"]
    lines += [f"| {key} | {value} |" for key, value in {**settings, **machine["versions"]}.items()]
    lines.append("")
    lines += _goals(runs, points)
    if charts:
        lines += ["## Charts", ""] + [f"![{c}]({c})" for c in charts] + [""]
    lines += ["## Throughput, latency and pooler cost", "",
              "Ratios compare with PgBouncer in the same pooling mode and with direct "
              "connections to PostgreSQL at the same point. CPU and system calls are those "
              "of the pooler or relay process alone (n/a for direct connections).", ""]
    lines += _throughput_sections(runs)
    lines += _memory_section(points)
    return "\n".join(lines) + "\n"


def _load_note(runs: list) -> list:
    loads = sorted(r.load_before for r in runs if r.load_before is not None)
    if not loads:
        return []
    return [f"1-minute load average when each run started: min {loads[0]:.1f}, median "
            f"{loads[len(loads) // 2]:.1f}, max {loads[-1]:.1f} (per run in throughput.csv). "
            "Anything else running on the machine shows here; at every point the targets "
            "take turns, so such noise reaches all of them alike.", ""]


def _gnuplot_data(path: str, runs: list, protocol: str, column: str, targets: list) -> None:
    by_key = {(r.target, r.clients): r for r in runs
              if r.protocol == protocol and not r.connect_per_tx}
    clients = sorted({r.clients for r in by_key.values()})
    with open(path, "w") as out:
        out.write("clients " + " ".join(targets) + "\n")
        for count in clients:
            values = []
            for target in targets:
                run = by_key.get((target, count))
                value = getattr(run, column) if run and run.status == "ok" else None
                values.append("NaN" if value is None else str(value))
            out.write(f"{count} " + " ".join(values) + "\n")


def charts(out_dir: str, runs: list) -> list:
    """tps.png and cpu.png, one panel per protocol; [] when gnuplot is missing."""
    if shutil.which("gnuplot") is None:
        return []
    protocols = list(dict.fromkeys(r.protocol for r in runs if not r.connect_per_tx))
    made = []
    for name, (column, label) in CHARTS.items():
        targets = list(dict.fromkeys(r.target for r in runs if r.kind != "direct"
                                     or column == "tps"))
        panels = []
        for protocol in protocols:
            data = os.path.join(out_dir, f"{name}-{protocol}.dat")
            _gnuplot_data(data, runs, protocol, column, targets)
            panels.append(f"set title 'pgbench -S -M {protocol}'\n"
                          f"plot for [i=2:{len(targets) + 1}] '{data}' using 1:i "
                          "with linespoints title columnheader(i)")
        counts = sorted({r.clients for r in runs if not r.connect_per_tx})
        xtics = ", ".join(f'"{c}" {c}' for c in counts)
        script = os.path.join(out_dir, f"{name}.gp")
        with open(script, "w") as gp:
            gp.write(f"""set terminal pngcairo size {520 * len(protocols)},460 font ',9'
set output '{os.path.join(out_dir, name + ".png")}'
set datafile missing 'NaN'
set logscale x 2
set xrange [0.8:360]
set xtics ({xtics})
set xlabel 'clients'
set ylabel '{label}'
set yrange [0:*]
set key top left font ',8'
set grid
set multiplot layout 1,{len(protocols)}
""" + "\n".join(panels) + "\nunset multiplot\n")
        done = subprocess.run(["gnuplot", script], capture_output=True, text=True)
        if done.returncode == 0:
            made.append(name + ".png")
        else:
            print(f"bench: gnuplot failed for {name}: {done.stderr.strip()[:300]}")
    return made


def publish(out_dir: str, docs_dir: str, files: list) -> None:
    """Copies the report and its charts where the README links to them."""
    os.makedirs(docs_dir, exist_ok=True)
    for name in files:
        source = os.path.join(out_dir, name)
        if os.path.exists(source):
            shutil.copy(source, os.path.join(docs_dir, name))
