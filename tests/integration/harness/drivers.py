"""The pgjdbc and node-postgres test clients in tests/integration/clients: compiling and
running them, and installing node-postgres from npm the first time."""

import os
import shutil
import subprocess

import pytest

CLIENTS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "clients")
JDBC_JAR = "/usr/share/java/postgresql.jar"


def run_java(name: str, args: list, build_dir, timeout: int = 150) -> subprocess.CompletedProcess:
    """Compiles clients/java/<name>.java into build_dir and runs it with pgjdbc."""
    if not shutil.which("javac") or not os.path.exists(JDBC_JAR):
        pytest.fail("javac and libpostgresql-jdbc-java are required (scripts/install-deps.sh)")
    source = os.path.join(CLIENTS_DIR, "java", f"{name}.java")
    build = subprocess.run(["javac", "-d", str(build_dir), source], capture_output=True,
                           text=True, timeout=120)
    assert build.returncode == 0, build.stderr
    return subprocess.run(["java", "-cp", f"{build_dir}:{JDBC_JAR}", name, *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def run_node(script: str, args: list, timeout: int = 150) -> subprocess.CompletedProcess:
    """Runs clients/node/<script> with node-postgres, installed from npm on first use."""
    node_dir = os.path.join(CLIENTS_DIR, "node")
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.fail("node and npm are required (scripts/install-deps.sh)")
    if not os.path.isdir(os.path.join(node_dir, "node_modules", "pg")):
        result = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=node_dir,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
    return subprocess.run(["node", script, *map(str, args)], cwd=node_dir,
                          capture_output=True, text=True, timeout=timeout)
