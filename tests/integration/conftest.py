"""Fixtures for the integration tests: real PostgreSQL clusters, a seeded registry, and
storegate processes started from the build under test ($STOREGATE_BIN, else build/storegate)."""

import os
import shutil
import signal
import tempfile

import pytest

from harness import lifecycle
from harness.storegate import Storegate, StoregateFactory, default_binary
from harness.topology import Topology

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEST_TIMEOUT = int(os.environ.get("STOREGATE_TEST_TIMEOUT", "180"))


def _make_run_dir() -> tuple:
    """(directory, whether this session created it). $STOREGATE_TEST_DIR wins; otherwise a
    fresh folder under .run/tests, or under /tmp when the postgres OS user cannot reach it."""
    if os.environ.get("STOREGATE_TEST_DIR"):
        path = os.environ["STOREGATE_TEST_DIR"]
        os.makedirs(path, exist_ok=True)
        os.chmod(path, 0o755)
        return path, False
    parent = os.path.join(REPO, ".run", "tests")
    os.makedirs(parent, exist_ok=True)
    path = tempfile.mkdtemp(prefix="run-", dir=parent)
    os.chmod(path, 0o755)
    if not lifecycle.postgres_can_enter(path):
        os.rmdir(path)
        path = tempfile.mkdtemp(prefix="storegate-tests-")
        os.chmod(path, 0o755)
    return path, True


def pytest_configure(config):
    config.storegate_run_dir, config.storegate_owns_run_dir = _make_run_dir()


def pytest_sessionfinish(session, exitstatus):
    run_dir = session.config.storegate_run_dir
    if session.testsfailed == 0 and session.config.storegate_owns_run_dir:
        shutil.rmtree(run_dir, ignore_errors=True)
    elif session.testsfailed:
        print(f"\nlogs of this run: {run_dir}")


@pytest.fixture(scope="session")
def run_dir(pytestconfig) -> str:
    return pytestconfig.storegate_run_dir


@pytest.fixture(scope="session")
def binary() -> str:
    path = default_binary()
    if not os.access(path, os.X_OK):
        pytest.fail(f"storegate binary not found at {path}: build it (scripts/build.sh) or set "
                    "STOREGATE_BIN")
    return path


@pytest.fixture(scope="session")
def topology(run_dir):
    """Clusters, roles and databases (no registry rows yet)."""
    topo = Topology(os.path.join(run_dir, "pg"), default_binary())
    try:
        topo.start_clusters()
        yield topo
    finally:
        topo.stop()


@pytest.fixture(scope="session")
def clusters(topology) -> dict:
    """{"shared": PgCluster, "dedicated": PgCluster, "registry": PgCluster}"""
    return topology.clusters


@pytest.fixture(scope="session")
def registry(topology, binary):
    """The topology with the registry migrated by `storegate registry init` and seeded:
    stores alpha, beta (shared1), gamma (dedicated1), delta (dead1, unreachable)."""
    topology.binary = binary
    topology.setup_registry()
    return topology


@pytest.fixture
def storegate(registry, binary, run_dir):
    """Factory: storegate(overrides={"pool": {"size": 1}}) -> a started Storegate."""
    factory = StoregateFactory(registry, binary, run_dir)
    yield factory
    factory.stop_all()


@pytest.fixture(scope="session")
def proxy(registry, binary, run_dir):
    """One storegate with the default test configuration, shared by the tests that only
    connect through it."""
    factory = StoregateFactory(registry, binary, run_dir)
    yield factory()
    factory.stop_all()


@pytest.fixture(autouse=True)
def _watchdog():
    """Fails a test that hangs (a proxy that never answers) instead of stalling the run."""

    def expire(signum, frame):
        raise TimeoutError(f"test exceeded {TEST_TIMEOUT}s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(TEST_TIMEOUT)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attaches the storegate logs of a failed test to its report."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    instances = []
    for value in getattr(item, "funcargs", {}).values():
        if isinstance(value, Storegate):
            instances.append(value)
        elif isinstance(value, StoregateFactory):
            instances.extend(value.instances)
    for index, instance in enumerate(instances):
        report.sections.append((f"storegate log {index} ({instance.log_path})",
                                instance.log_tail()))
