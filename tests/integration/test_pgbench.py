"""pgbench through storegate in every query mode: no failed transaction."""

import pytest

from harness.storegate import StoregateFactory
from harness.util import client_env, pgbench

CLIENTS = 16
TRANSACTIONS = 200


@pytest.fixture(scope="module")
def bench_proxy(registry, binary, run_dir):
    """Session pooling with a server connection for every pgbench client."""
    gamma = registry.stores["gamma"]
    init = pgbench(["-i", "-s", "1", "-q", "-h", gamma.cluster.host, "-p", gamma.cluster.port,
                    "-U", "sg_dedicated", gamma.database],
                   env=client_env(registry.passwords["sg_dedicated"]))
    assert init.returncode == 0, init.output
    factory = StoregateFactory(registry, binary, run_dir)
    yield factory({"pool": {"size": CLIENTS + 4}})
    factory.stop_all()


@pytest.mark.parametrize("mode", ["simple", "extended", "prepared"])
def test_pgbench_select_only(bench_proxy, registry, mode):
    gamma = registry.stores["gamma"]
    env = client_env(registry.passwords["app"], PGOPTIONS=f"-c storegate.store={gamma.id}")
    result = pgbench(["-n", "-S", "-M", mode, "-c", CLIENTS, "-j", 2, "-t", TRANSACTIONS,
                      "-h", bench_proxy.host, "-p", bench_proxy.port, "-U", "app", "app"],
                     env=env)
    assert result.returncode == 0, result.output
    assert result.processed == CLIENTS * TRANSACTIONS, result.output
    assert result.expected == CLIENTS * TRANSACTIONS
    assert result.failed == 0, result.output
