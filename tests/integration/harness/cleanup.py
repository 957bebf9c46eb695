"""Stops every server the harness started under a directory: PostgreSQL clusters (found by
their postmaster.pid) and storegate processes (found by storegate.pid). The backstop for runs
that were killed before their own cleanup ran; also `scripts/demo.sh stop`.

Usage: python3 -m harness.cleanup DIR [--remove]"""

import os
import shutil
import signal
import subprocess
import sys
import time

from . import lifecycle
from .pg import pg_program


def _pid_from(path: str) -> int:
    try:
        with open(path) as pid_file:
            return int(pid_file.readline().strip())
    except (OSError, ValueError):
        return 0


def _is_storegate(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return b"storegate" in cmdline.read().split(b"\0")[0]
    except OSError:
        return False


def stop_storegate(pid_path: str) -> None:
    pid = _pid_from(pid_path)
    if pid and _is_storegate(pid):
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if not _is_storegate(pid):
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
    os.unlink(pid_path)


def stop_cluster(data_dir: str) -> None:
    argv = [pg_program("pg_ctl"), "-D", data_dir, "-m", "fast", "-w", "-t", "20", "stop"]
    if subprocess.run(lifecycle.as_postgres(argv), capture_output=True).returncode != 0:
        argv[4] = "immediate"
        subprocess.run(lifecycle.as_postgres(argv), capture_output=True)


def stop_everything_under(root: str) -> int:
    """Returns how many servers it stopped."""
    pid_files, data_dirs = [], []
    for folder, _, files in os.walk(root):
        if "storegate.pid" in files:
            pid_files.append(os.path.join(folder, "storegate.pid"))
        if "postmaster.pid" in files:
            data_dirs.append(folder)
    for path in pid_files:
        stop_storegate(path)
    for data_dir in data_dirs:
        stop_cluster(data_dir)
    return len(pid_files) + len(data_dirs)


def main(argv: list) -> int:
    if not argv or not os.path.isdir(argv[0]):
        return 0
    stopped = stop_everything_under(argv[0])
    if stopped:
        print(f"stopped {stopped} leftover server(s) under {argv[0]}")
    if "--remove" in argv[1:]:
        shutil.rmtree(argv[0], ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
