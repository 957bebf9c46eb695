"""Everything the harness starts is registered here and stopped at interpreter exit, also when a
test fails or the run is interrupted with SIGTERM/SIGINT."""

import atexit
import os
import shutil
import signal
import subprocess
import sys
import threading

_running: list = []
_handlers_installed = False


def _stop_all() -> None:
    # Newest first: storegate before the clusters it talks to.
    for item in reversed(list(_running)):
        try:
            item.stop()
        except Exception as exc:  # keep stopping the rest
            print(f"harness: stopping {item!r} failed: {exc}", file=sys.stderr)


def _interrupt_on_signal(signum, frame):
    # Unwinds like Ctrl-C: pytest stops the run and tears its fixtures down, scripts unwind,
    # and atexit runs in both cases.
    raise KeyboardInterrupt(f"signal {signum}")


def _install_handlers() -> None:
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(_stop_all)
    if threading.current_thread() is threading.main_thread():
        # SIGTERM would otherwise end the interpreter without running atexit.
        signal.signal(signal.SIGTERM, _interrupt_on_signal)


def register(item) -> None:
    _install_handlers()
    if item not in _running:
        _running.append(item)


def unregister(item) -> None:
    if item in _running:
        _running.remove(item)


def running_as_root() -> bool:
    return os.geteuid() == 0


def as_postgres(argv: list) -> list:
    """PostgreSQL's server programs refuse to run as root: run them as the OS user postgres."""
    if running_as_root():
        return ["runuser", "-u", "postgres", "--"] + argv
    return argv


def chown_postgres(path: str) -> None:
    if running_as_root():
        shutil.chown(path, "postgres", "postgres")


def postgres_can_enter(path: str) -> bool:
    """True when the user that runs the clusters can traverse to `path`."""
    if not running_as_root():
        return os.access(path, os.X_OK)
    result = subprocess.run(as_postgres(["test", "-x", path]), check=False)
    return result.returncode == 0


def tail(path: str, lines: int) -> str:
    """The last lines of a server's log, for failure messages; empty when it has none yet."""
    try:
        with open(path, errors="replace") as log:
            return "".join(log.readlines()[-lines:])
    except OSError:
        return ""
