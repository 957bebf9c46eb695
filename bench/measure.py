"""One pgbench run against one target, with what it cost the target's process: CPU time from
/proc/<pid>/stat (utime + stime of all its threads) and system calls counted by
`perf stat -e raw_syscalls:sys_enter` attached to it. Latencies come from pgbench's
per-transaction log, so the p99 is a real percentile, not an estimate."""

import glob
import math
import os
import re
import signal
import subprocess
import time
from dataclasses import asdict, dataclass, field

from targets import DATABASE, USER, pg_program

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# How long pgbench may overrun its -T (connecting and disconnecting its clients) before the
# run counts as hung.
GRACE_SECONDS = 20


@dataclass
class TargetColumns:
    """The columns that name a target in every result row."""

    target: str
    kind: str
    mode: str
    threads: int

    @staticmethod
    def of(target) -> tuple:
        return target.name, target.kind, target.mode, target.threads


@dataclass
class Run(TargetColumns):
    protocol: str
    clients: int
    connect_per_tx: bool
    status: str = "failed"
    error: str = ""
    hung: bool = False
    transactions: int = 0
    tps: float | None = None
    latency_avg_ms: float | None = None
    latency_p99_ms: float | None = None
    cpu_us_per_tx: float | None = None
    syscalls_per_tx: float | None = None
    pgbench_seconds: float = 0.0
    load_before: float | None = None  # 1-minute load average when the run started
    round: int = 1
    extra: dict = field(default_factory=dict)

    def row(self) -> dict:
        values = asdict(self)
        values.pop("extra")
        return values


def process_cpu_seconds(pid: int) -> float | None:
    """utime + stime of the whole process (every thread), in seconds."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            # The command name may hold spaces: fields are counted after its closing paren.
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    except (OSError, IndexError, ValueError):
        return None


def perf_usable() -> bool:
    """True when perf can count the raw_syscalls tracepoint here (it needs tracefs and a
    kernel that lets this user attach to other processes)."""
    try:
        done = subprocess.run(["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "true"],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0 and "raw_syscalls:sys_enter" in done.stderr \
        and "<not supported>" not in done.stderr


class SyscallCounter:
    """perf stat attached to a running process for the duration of a run."""

    def __init__(self, pid: int, out_path: str):
        self.out_path = out_path
        self.process = subprocess.Popen(
            ["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "-p", str(pid),
             "-o", out_path], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        time.sleep(0.3)  # attaching takes a moment; counting must cover the whole run

    def finish(self) -> int | None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return None
        try:
            with open(self.out_path) as out:
                for line in out:
                    parts = line.strip().split(",")
                    if len(parts) > 2 and parts[2].startswith("raw_syscalls:sys_enter"):
                        return int(parts[0]) if parts[0].isdigit() else None
        except OSError:
            pass
        return None


def latencies_from_log(prefix: str) -> list:
    """Per-transaction latencies in microseconds from pgbench --log files (one per thread):
    `client_id transaction_no time script_no time_epoch time_us ...`; failed or skipped
    transactions carry a word instead of a time and are left out."""
    values = []
    for path in glob.glob(prefix + ".*"):
        with open(path) as log:
            for line in log:
                parts = line.split(maxsplit=3)
                if len(parts) > 2 and parts[2].isdigit():
                    values.append(int(parts[2]))
        os.unlink(path)
    return values


def percentile(sorted_values: list, fraction: float) -> float:
    index = max(0, math.ceil(fraction * len(sorted_values)) - 1)
    return sorted_values[index]


# What explains a failed run, most specific first: the server's or pooler's message, then
# pgbench's own complaint, then an aborted client.
ERROR_PATTERNS = [r"(?:ERROR|FATAL):\s+(.*)", r"pgbench: error: (.*)", r"(client \d+ aborted.*)",
                  r"(pgbench did not finish.*)"]


def first_error(output: str) -> str:
    for pattern in ERROR_PATTERNS:
        found = re.search(pattern, output)
        if found:
            return " ".join(found.group(1).split())[:240]
    lines = output.strip().splitlines()
    return lines[-1][:240] if lines else "no output"


def pgbench_argv(target, protocol: str, clients: int, seconds: int, connect: bool,
                 log_prefix: str) -> list:
    argv = [pg_program("pgbench"), "-n", "-S", "-M", protocol, "-c", str(clients),
            "-j", str(min(clients, os.cpu_count() or 1)), "-T", str(seconds),
            "--log", f"--log-prefix={log_prefix}",
            "-h", target.host, "-p", str(target.port), "-U", USER, DATABASE]
    if connect:
        argv.insert(1, "-C")
    return argv


def parse_output(run: Run, output: str, returncode: int) -> None:
    processed = re.search(r"number of transactions actually processed: (\d+)", output)
    failed = re.search(r"number of failed transactions: (\d+)", output)
    tps = re.search(r"^tps = ([\d.]+)", output, re.MULTILINE)
    run.transactions = int(processed.group(1)) if processed else 0
    if tps:
        run.tps = float(tps.group(1))
    if returncode == 0 and run.transactions > 0 and not (failed and int(failed.group(1))):
        run.status = "ok"
    else:
        run.error = first_error(output)
        if run.transactions == 0 and returncode == 0:
            # pgbench counts connecting its clients against -T: with many clients that each
            # make a new server process, the whole run can go by before the first transaction.
            run.error = "no transaction completed within -T (connecting the clients took it all)"
        run.extra["output"] = output


def add_latencies(run: Run, log_prefix: str) -> None:
    values = sorted(latencies_from_log(log_prefix))
    if values:
        run.latency_avg_ms = round(sum(values) / len(values) / 1000, 3)
        run.latency_p99_ms = round(percentile(values, 0.99) / 1000, 3)


def run_pgbench(target, protocol: str, clients: int, seconds: int, connect: bool,
                workdir: str, password: str, count_syscalls: bool) -> Run:
    run = Run(*TargetColumns.of(target), protocol, clients, connect)
    if target.error or not target.alive():
        run.error = target.error or f"{target.name} is not running"
        return run
    log_prefix = os.path.join(workdir, "txlog")
    run.load_before = round(os.getloadavg()[0], 2)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(PGPASSWORD=password, PGCONNECT_TIMEOUT="10")
    cpu_before = process_cpu_seconds(target.pid) if target.pid else None
    counter = SyscallCounter(target.pid, os.path.join(workdir, "perf.out")) \
        if count_syscalls and target.pid else None
    started = time.monotonic()
    try:
        done = subprocess.run(pgbench_argv(target, protocol, clients, seconds, connect,
                                           log_prefix),
                              capture_output=True, text=True, env=env,
                              timeout=seconds + GRACE_SECONDS)
        output, returncode = done.stdout + done.stderr, done.returncode
    except subprocess.TimeoutExpired as exc:
        output = f"pgbench did not finish within {seconds + GRACE_SECONDS}s {exc.stderr or ''}"
        returncode = -1
        run.hung = True
    run.pgbench_seconds = round(time.monotonic() - started, 2)
    syscalls = counter.finish() if counter else None
    cpu_after = process_cpu_seconds(target.pid) if target.pid else None
    parse_output(run, output, returncode)
    add_latencies(run, log_prefix)
    if run.transactions > 0 and cpu_before is not None and cpu_after is not None:
        run.cpu_us_per_tx = round((cpu_after - cpu_before) * 1e6 / run.transactions, 2)
    if run.transactions > 0 and syscalls is not None:
        run.syscalls_per_tx = round(syscalls / run.transactions, 2)
    return run
