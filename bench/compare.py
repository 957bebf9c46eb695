#!/usr/bin/env python3
"""storegate side by side with PgBouncer, HAProxy (a plain TCP relay) and direct connections,
in front of one throwaway PostgreSQL 15. Started by bench/run.sh, which installs and builds
what this needs first.

Phases, all in one run:
  1. memory per idle client: 1,000 then 10,000 authenticated idle clients per pooler
  2. pgbench -S in -M simple, extended and prepared at 1, 16, 64 and 256 clients; at every
     point each target runs once, in turn (the starting target rotates), so machine noise
     reaches all of them alike
  3. pgbench -S -C: a new connection for every transaction
A target or a run that fails is recorded as failed in the report; the run goes on."""

import argparse
import datetime
import os
import platform
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

import measure
import memory
import micro
import report
import targets as tg

REPO = tg.REPO
PROTOCOLS = ["simple", "extended", "prepared"]
CLIENTS = [1, 16, 64, 256]
IDLE_LEVELS = [1000, 10000]
TRANSACTION_POOL = 20
# A target on which pgbench hangs this many times in a row is skipped for the rest of the run:
# each hang costs the run's length plus a grace period, and the report says why.
MAX_HANGS = 2
REPORT_FILES = ["README.md", "throughput.csv", "memory.csv", "micro.json", "tps.png", "cpu.png"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=os.path.join(REPO, "build-bench", "storegate"))
    parser.add_argument("--variant", action="append", default=variants_from_env(),
                        metavar="NAME=PATH",
                        help="another storegate binary, benchmarked as storegate-NAME/... "
                             "beside the main one, taking turns with the others at every point "
                             "(repeatable; default $BENCH_VARIANTS, comma-separated)")
    parser.add_argument("--protocols", default=",".join(PROTOCOLS),
                        help="pgbench -M values (default simple,extended,prepared)")
    parser.add_argument("--clients", default=",".join(str(c) for c in CLIENTS),
                        help="client counts (default 1,16,64,256)")
    parser.add_argument("--no-connect", action="store_true",
                        help="skip the connection-per-transaction run")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: -M simple at 1 and 16 clients, 1,000 idle clients")
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("BENCH_SECONDS", 5)),
                        help="pgbench -T per point (default $BENCH_SECONDS or 5)")
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", 1)),
                        help="runs per target and point; the report shows the median-tps one "
                             "(default $BENCH_ROUNDS or 1)")
    parser.add_argument("--scale", type=int, default=int(os.environ.get("BENCH_SCALE", 1)),
                        help="pgbench -i scale factor")
    parser.add_argument("--threads", default="1,2", help="storegate server.threads values")
    parser.add_argument("--connect-clients", type=int, default=16,
                        help="clients of the connection-per-transaction run")
    parser.add_argument("--only", help="comma-separated target names to run (e.g. "
                        "direct,storegate/transaction/2t); default: all")
    parser.add_argument("--micro", help="storegate_micro binary to run after the system runs")
    parser.add_argument("--no-memory", action="store_true", help="skip the idle-client phase")
    parser.add_argument("--no-syscalls", action="store_true", help="do not attach perf")
    parser.add_argument("--out", help="results folder (default bench/results/<timestamp>)")
    parser.add_argument("--publish", choices=["auto", "yes", "no"], default="auto",
                        help="copy the report to docs/benchmarks (auto: full runs only)")
    parser.add_argument("--keep", action="store_true", help="keep servers' folders and logs")
    return parser.parse_args()


def variants_from_env() -> list:
    return [v for v in os.environ.get("BENCH_VARIANTS", "").split(",") if v.strip()]


def parse_variants(specs: list) -> dict:
    variants = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or "/" in name or not os.access(path, os.X_OK):
            raise SystemExit(f"bench: --variant wants NAME=PATH to an executable, got {spec!r}")
        variants[name.strip()] = path.strip()
    return variants


def raise_descriptor_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < 2 * max(IDLE_LEVELS) + 1000:
        print(f"bench: descriptor hard limit {hard} is low for {max(IDLE_LEVELS):,} idle clients "
              "(raise it with ulimit -Hn as root)", flush=True)


def first_line(argv: list) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        return (done.stdout or done.stderr).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "unknown"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info(binary: str, variants: dict, perf_ok: bool) -> dict:
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    commit = first_line(["git", "-C", REPO, "describe", "--always", "--dirty"])
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "kernel": platform.release(),
        "memory": f"{pages / 2**30:.0f} GiB",
        "versions": {
            "storegate": f"{first_line([binary, '--version'])} (commit {commit})",
            **{f"storegate-{name}": f"{first_line([path, '--version'])} ({path})"
               for name, path in variants.items()},
            "PgBouncer": first_line(["pgbouncer", "--version"]),
            "HAProxy": first_line(["haproxy", "-v"]).split(" - ")[0],
            "PostgreSQL": first_line([tg.pg_program("postgres"), "--version"]),
            "system calls": "perf stat -e raw_syscalls:sys_enter" if perf_ok
            else "n/a (perf cannot count raw_syscalls here)",
        },
    }


def settings(args, session_pool: int) -> dict:
    return {
        "workload": f"pgbench -S (scale {args.scale}), -T {args.seconds} per point, -j up to "
                    f"{os.cpu_count()}, {args.rounds} round(s) per point (median-tps run shown)",
        "pool size": f"{session_pool} in session mode (one per client), {TRANSACTION_POOL} in "
                     "transaction mode; the same for PgBouncer and storegate",
        "client auth": "SCRAM-SHA-256 against a stored verifier (PgBouncer and storegate)",
        "logging": "defaults (PgBouncer logs connections; storegate log.level info)",
        "PostgreSQL settings": "fsync=off, shared_buffers=256MB, on the same machine",
    }


def throughput(targets: list, args, workdir: str, password: str, count_syscalls: bool) -> list:
    """Every run, in the order made. With several rounds each target runs each point that
    many times, the rounds of a point back to back with the order rotated each time."""
    protocols = [p for p in args.protocols.split(",") if p.strip()]
    clients = [int(c) for c in args.clients.split(",") if c.strip()]
    if args.quick:
        protocols, clients = protocols[:1], clients[:2]
    points = [(p, c, False) for p in protocols for c in clients]
    if not args.no_connect:
        points.append(("simple", args.connect_clients, True))
    total = len(points) * len(targets) * args.rounds
    print(f"bench: {total} pgbench runs of {args.seconds}s (about "
          f"{total * (args.seconds + 2) / 60:.0f} min)", flush=True)
    runs = []
    hangs = {}
    turn = 0
    for protocol, count, connect in points:
        for round_no in range(args.rounds):
            shift = turn % len(targets)
            turn += 1
            for target in targets[shift:] + targets[:shift]:
                run = one_run(target, (protocol, count, connect), args, workdir, password,
                              count_syscalls, hangs)
                run.round = round_no + 1
                runs.append(run)
                print(f"[{len(runs):3}/{total}] {progress_line(run)}", flush=True)
    return runs


def one_run(target, point: tuple, args, workdir: str, password: str, count_syscalls: bool,
            hangs: dict):
    protocol, count, connect = point
    if hangs.get(target.name, 0) >= MAX_HANGS:
        return measure.Run(*measure.TargetColumns.of(target), protocol, count, connect,
                           error=f"skipped: pgbench hung {MAX_HANGS} times on this target")
    run = measure.run_pgbench(target, protocol, count, args.seconds, connect, workdir, password,
                              count_syscalls)
    hangs[target.name] = hangs.get(target.name, 0) + 1 if run.hung else 0
    return run


def representative(runs: list) -> list:
    """One run per target and point: the completed run with the median tps among its rounds
    (the upper of the middle two for an even count; the first failure when none completed)."""
    groups = {}
    for run in runs:
        key = (run.target, run.protocol, run.clients, run.connect_per_tx)
        groups.setdefault(key, []).append(run)
    chosen = []
    for group in groups.values():
        done = sorted((r for r in group if r.status == "ok"), key=lambda r: r.tps)
        chosen.append(done[len(done) // 2] if done else group[0])
    return chosen


def progress_line(run) -> str:
    connect = " -C" if run.connect_per_tx else ""
    head = f"{run.target:26} {run.protocol:8} c={run.clients:<3}{connect}"
    if run.status != "ok":
        return f"{head} FAILED: {run.error}"
    cost = "" if run.cpu_us_per_tx is None else f" cpu={run.cpu_us_per_tx}us/tx"
    cost += "" if run.syscalls_per_tx is None else f" syscalls={run.syscalls_per_tx}/tx"
    return (f"{head} tps={run.tps:9.0f} avg={run.latency_avg_ms}ms p99={run.latency_p99_ms}ms"
            f"{cost} load={run.load_before}")


def idle_phase(targets: list, args, password: str) -> list:
    levels = IDLE_LEVELS[:1] if args.quick else IDLE_LEVELS
    points = []
    for target in (t for t in targets if t.pooler):
        for point in memory.idle_memory(target, levels, password):
            points.append(point)
            result = f"{point.bytes_per_client} bytes/client" if point.status == "ok" \
                else f"FAILED: {point.error}"
            print(f"[memory] {target.name:26} {point.idle_clients:>6} idle: "
                  f"connected={point.connected} {result}", flush=True)
    return points


def write_results(out_dir: str, machine: dict, config: dict, all_runs: list, points: list,
                  micro_records: list) -> None:
    runs = representative(all_runs)
    report.write_csv(os.path.join(out_dir, "throughput.csv"), [r.row() for r in runs])
    if len(all_runs) > len(runs):
        report.write_csv(os.path.join(out_dir, "throughput-rounds.csv"),
                         [r.row() for r in all_runs])
    report.write_csv(os.path.join(out_dir, "memory.csv"), [p.row() for p in points])
    made = report.charts(out_dir, runs)
    text = report.markdown(machine, config, runs, points, made)
    text += "\n".join(micro.markdown(micro_records))
    with open(os.path.join(out_dir, "README.md"), "w") as out:
        out.write(text)


def save_failures(runs: list, out_dir: str) -> None:
    """pgbench's whole output of every failed run, for whoever looks into it."""
    failed = [r for r in runs if "output" in r.extra]
    if not failed:
        return
    with open(os.path.join(out_dir, "failures.log"), "w") as out:
        for run in failed:
            out.write(f"=== {run.target} -M {run.protocol} -c {run.clients}"
                      f"{' -C' if run.connect_per_tx else ''}\n{run.extra['output']}\n")


def save_logs(targets: list, out_dir: str) -> None:
    logs = os.path.join(out_dir, "logs")
    os.makedirs(logs, exist_ok=True)
    for target in targets:
        if target.log_path and os.path.exists(target.log_path):
            shutil.copy(target.log_path, os.path.join(logs, target.name.replace("/", "-") + ".log"))


def select_targets(targets: list, wanted: list) -> list:
    """The targets named in `wanted`; the others are stopped."""
    for target in targets:
        if target.name not in wanted:
            target.stop()
    chosen = [t for t in targets if t.name in wanted]
    if not chosen:
        raise SystemExit(f"bench: no target named {', '.join(wanted)}; names are "
                         f"{', '.join(t.name for t in targets)}")
    return chosen


def measure_all(args, workdir: str, out_dir: str) -> tuple:
    """Starts PostgreSQL and every target, runs the idle-client and pgbench phases, stops
    everything; returns (machine, memory points, pgbench runs)."""
    threads = [int(t) for t in args.threads.split(",") if t.strip()]
    session_pool = max(CLIENTS) + 4
    storegates = len(threads) * (1 + len(args.variants))
    max_connections = (session_pool + TRANSACTION_POOL) * (1 + storegates) + 2 * max(CLIENTS)
    perf_ok = not args.no_syscalls and measure.perf_usable()
    backend = tg.Backend(workdir, secrets.token_hex(12), max_connections + 50)
    targets = []
    try:
        print(f"bench: PostgreSQL, pgbench -i -s {args.scale} ...", flush=True)
        backend.start(args.scale)
        targets = tg.start_all(backend, workdir, args.binary, session_pool, TRANSACTION_POOL,
                               threads, args.variants)
        if args.only:
            targets = select_targets(targets, args.only.split(","))
        machine = machine_info(args.binary, args.variants, perf_ok)
        points = [] if args.no_memory else idle_phase(targets, args, backend.password)
        runs = throughput(targets, args, workdir, backend.password, perf_ok)
        save_failures(runs, out_dir)
        save_logs(targets, out_dir)
        return machine, points, runs
    finally:
        tg.stop_all(targets)
        backend.stop()


def main() -> int:
    args = parse_args()
    raise_descriptor_limit()
    for program in ("pgbouncer", "haproxy"):
        tg.require_program(program)
    if not os.access(args.binary, os.X_OK):
        raise SystemExit(f"bench: no storegate binary at {args.binary} (bench/run.sh builds it)")
    args.variants = parse_variants(args.variant)
    out_dir = args.out or os.path.join(REPO, "bench", "results", time.strftime("%Y%m%d-%H%M%S"))
    os.makedirs(out_dir, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="storegate-bench-")
    os.chmod(workdir, 0o755)
    try:
        machine, points, runs = measure_all(args, workdir, out_dir)
    finally:
        if args.keep:
            print(f"bench: servers' folders kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    # With the servers stopped, so that they do not share the cores with it.
    micro_records = micro.run(args.micro, out_dir) if args.micro else []
    write_results(out_dir, machine, settings(args, max(CLIENTS) + 4), runs, points,
                  micro_records)
    if args.publish == "yes" or (args.publish == "auto" and not args.quick):
        report.publish(out_dir, os.path.join(REPO, "docs", "benchmarks"), REPORT_FILES)
        print("bench: report copied to docs/benchmarks/")
    print(f"bench: results in {out_dir}/README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
