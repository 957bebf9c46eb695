"""`storegate identity ...` from the command line: every subcommand once, init's versioning
and concurrency, and the bulk import (100,000 rows, 5% bad) including its rerun."""

import csv
import os
import re
import subprocess
import uuid

import pytest

from .support import IdentityDb, seeded_database


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_init_is_versioned_and_idempotent(idb):
    assert ok(idb.cli("init")) == "identity schema already at version 6\n"
    assert idb.query("SELECT version, name FROM identity.schema_version ORDER BY 1")[0] == (
        1, "001_schema.sql")
    assert idb.value("SELECT count(*) FROM identity.schema_version") == 6


def test_concurrent_inits_apply_each_migration_once(identity_cluster, binary):
    name = "identity_" + uuid.uuid4().hex[:12]
    identity_cluster.create_db(name)
    db = IdentityDb(identity_cluster, binary, name)
    ok(subprocess.run([binary, "registry", "init", "--dsn", db.dsn], capture_output=True,
                      text=True, timeout=120, check=False))
    runs = [subprocess.Popen([binary, "identity", "init", "--dsn", db.dsn], text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(4)]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0, 0], outputs
    migrated = [out for out, _ in outputs if "migrated from version 0 to 6" in out]
    assert len(migrated) == 1
    assert db.value("SELECT count(*) FROM identity.schema_version") == 6


def test_init_without_registry_tables_fails_clearly(bare_db, binary, identity_cluster):
    name, dsn = bare_db()
    result = subprocess.run([binary, "identity", "init", "--dsn", dsn], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert "no tenants and stores tables" in result.stderr
    assert "storegate registry init" in result.stderr
    assert identity_cluster.execute("SELECT to_regnamespace('identity')", dbname=name) == [(None,)]


def test_every_subcommand_once(idb):
    acme = idb.tenants[0]
    out = ok(idb.cli("settings", "--tenant", "acme", "--calling-code", "1",
                     "--policy", "review"))
    assert out == (f"tenant {acme.id}: match_policy=review email_provider_rules=off "
                   "default_calling_code=1\n")

    out = ok(idb.cli("resolve", "--tenant", "acme", "--store", "acme-s1", "--verified",
                     "--email", "Cli@Example.com", "--phone", "(212) 203-4567"))
    outcome, first = out.split()
    assert outcome == "created"
    out = ok(idb.cli("resolve", "--tenant", acme.id, "--store", acme.stores[1], "--identities",
                     '[{"type": "email", "value": "cli@example.com", "verified": true}]'))
    assert out.split() == ["linked", first]
    second = ok(idb.cli("resolve", "--tenant", "acme", "--store", "acme-s2", "--verified",
                        "--external", "erp:55")).split()[1]

    assert ok(idb.cli("resolve", "--tenant", "acme", "--store", "acme-s1", "--verified",
                      "--email", "cli@example.com", "--external", "erp:55")) == "review -\n"
    out = ok(idb.cli("review", "list", "--tenant", "acme"))
    review_id = re.search(r"^review (\d+) pending", out, re.M).group(1)
    assert "identities: email cli@example.com (verified), external erp:55 (verified)" in out
    assert out.endswith("1 review item(s)\n")
    assert ok(idb.cli("review", "decide", "--id", review_id, "--decision", "link",
                      "--customer", first, "--note", "checked")) == f"linked {first}\n"

    out = ok(idb.cli("merge", "--survivor", first, "--absorbed", second, "--reason", "dup"))
    audit = re.fullmatch(rf"merged {second} into {first} \(audit (\d+)\)\n", out).group(1)
    out = ok(idb.cli("unmerge", "--audit-id", audit, "--actor", "ops"))
    assert re.fullmatch(rf"undid merge {audit} \(audit \d+\)\n", out)
    assert idb.value("SELECT actor FROM identity.merge_log WHERE action = 'unmerge'") == "ops"


def test_cli_reports_errors_with_their_sqlstate(idb):
    # Valid by the SQL length rules, but not a number the +1 plan can have: libphonenumber.
    result = idb.cli("resolve", "--tenant", "acme", "--store", "acme-s1",
                     "--phone", "+1 555 123 4567")
    assert result.returncode == 1
    assert "not a valid number in the +1 numbering plan (SQLSTATE 22023)" in result.stderr
    result = idb.cli("resolve", "--tenant", "acme", "--store", "acme-s1", "--email", "nope")
    assert result.returncode == 1
    assert "invalid email address" in result.stderr and "SQLSTATE 22023" in result.stderr
    result = idb.cli("merge", "--survivor", str(uuid.uuid4()), "--absorbed", str(uuid.uuid4()))
    assert result.returncode == 1 and "unknown customer" in result.stderr
    result = idb.cli("resolve", "--tenant", "nosuch", "--store", "x", "--email", "a@b.co")
    assert result.returncode == 1 and "unknown tenant nosuch" in result.stderr
    assert idb.value("SELECT count(*) FROM identity.customers") == 0


# --- import -------------------------------------------------------------------------------

ROWS = 100_000
PERSONS = 70_000
REVIEW_EVERY = 125  # among the rows after the persons' first appearance
BAD_KINDS = ["bad email", "bad phone", "unknown store", "no identifiers", "bad external id"]


def phone(person: int) -> str:
    exchange, line = 200 + person // 10_000, person % 10_000
    return f"+1 212 {exchange} {line:04d}" if person % 2 else f"(212) {exchange}-{line:04d}"


def person_row(person: int, store: str, email_case: bool = False) -> list:
    email = f"P{person}@Example.com" if email_case else f"p{person}@example.com"
    external = f"shopify:{person}" if person % 3 == 0 else ""
    return [store, email, "true", phone(person), "yes", external, "1"]


def bad_row(kind: str, i: int) -> list:
    row = person_row(PERSONS + i, "acme-s1")
    if kind == "bad email":
        row[1] = f"user{i}-at-example.com"
    elif kind == "bad phone":
        row[3] = f"+1 555 {i % 1000:03d} 0000"
    elif kind == "unknown store":
        row[0] = "no-such-store"
    elif kind == "no identifiers":
        row[1] = row[3] = row[5] = ""
    else:
        row[5] = f"noprefix{i}"
    return row


def write_export(path: str) -> dict:
    """Writes the export; returns the expected outcome counts of a first import."""
    expected = {"created": 0, "linked": 0, "queued": 0, "rejected": 0}
    good = 0
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["store", "email", "email_verified", "phone", "phone_verified",
                         "external_id", "external_verified"])
        for i in range(ROWS):
            if i % 20 == 19:
                writer.writerow(bad_row(BAD_KINDS[(i // 20) % len(BAD_KINDS)], i))
                expected["rejected"] += 1
                continue
            if good < PERSONS:
                writer.writerow(person_row(good, "acme-s1" if good % 2 else "acme-s2"))
                expected["created"] += 1
            elif good % REVIEW_EVERY == 0:
                a, b = (good * 31) % PERSONS, (good * 31 + 1) % PERSONS
                writer.writerow(["acme-s1", f"p{a}@example.com", "true", phone(b), "true", "", ""])
                expected["queued"] += 1
            else:
                person = (good * 7919) % PERSONS
                writer.writerow(person_row(person, "acme-s2" if person % 2 else "acme-s1",
                                           email_case=True))
                expected["linked"] += 1
            good += 1
    return expected


def summary_counts(stdout: str) -> dict:
    return {key: int(re.search(rf"^  {key} +(\d+)", stdout, re.M).group(1))
            for key in ("created", "linked", "queued", "rejected")}


def table_counts(idb) -> tuple:
    return idb.query("SELECT (SELECT count(*) FROM identity.customers), "
                     "(SELECT count(*) FROM identity_pii.customer_identities), "
                     "(SELECT count(*) FROM identity.customer_profiles), "
                     "(SELECT count(*) FROM identity_pii.review_queue)")[0]


@pytest.fixture(scope="module")
def first_import(identity_cluster, binary, tmp_path_factory):
    """A database after importing the large export once: (db, path, expected counts, result).
    Module-scoped, so the two tests below share one first import."""
    db = seeded_database(identity_cluster, binary)
    ok(db.cli("settings", "--tenant", "acme", "--calling-code", "1"))
    path = os.path.join(tmp_path_factory.mktemp("import"), "customers.csv")
    expected = write_export(path)
    result = db.cli("import", path, "--tenant", "acme", "--batch-size", "2000")
    return db, path, expected, result


def test_import_of_a_large_export_counts_every_row(first_import):
    db, path, expected, result = first_import
    assert sum(expected.values()) == ROWS and expected["rejected"] == ROWS // 20
    assert summary_counts(ok(result)) == expected
    assert f"imported {path}: {ROWS} rows" in result.stdout
    assert "import progress: 100%" in result.stderr  # stderr is no terminal: plain lines
    customers, identities, _, reviews = table_counts(db)
    assert customers == PERSONS and reviews == expected["queued"]
    assert identities == 2 * PERSONS + len(range(0, PERSONS, 3))

    with open(path + ".rejects.csv", newline="") as rejects:
        rows = list(csv.reader(rejects))
    assert rows[0][:3] == ["line", "reason", "store"]
    assert len(rows) == 1 + expected["rejected"]
    assert [row[0] for row in rows[1:4]] == ["21", "41", "61"]  # in file order
    reasons = [row[1] for row in rows[1:]]
    per_kind = ROWS // 20 // len(BAD_KINDS)
    assert sum(r.startswith("invalid email address") for r in reasons) == per_kind
    assert sum(r.startswith("invalid phone number") for r in reasons) == per_kind
    assert reasons.count("unknown store (not a store of this tenant)") == per_kind
    assert reasons.count("no email, phone or external id") == per_kind
    assert sum(r.startswith("invalid external id") for r in reasons) == per_kind
    assert f"  {per_kind}  no email, phone or external id\n" in result.stdout


def test_import_rerun_adds_nothing(first_import):
    db, path, expected, _ = first_import
    before = table_counts(db)
    again = db.cli("import", path, "--tenant", "acme", "--batch-size", "2000")
    assert summary_counts(ok(again)) == {
        "created": 0, "linked": expected["created"] + expected["linked"],
        "queued": expected["queued"], "rejected": expected["rejected"]}
    assert table_counts(db) == before


def test_import_with_a_default_store_and_namespace(idb, tmp_path):
    path = os.path.join(tmp_path, "small.csv")
    with open(path, "w", newline="") as out:
        out.write('\ufeffEmail,External_ID,Verified,notes\n'
                  'a@example.com,1001,true,"first, with comma"\n'
                  '\n'
                  '"b@example.com",1002,maybe,\n'
                  'A@example.com,,true,"multi\nline"\n')
    result = idb.cli("import", path, "--tenant", "acme", "--store", "acme-s2",
                     "--external-namespace", "Shopify", "--rejects",
                     os.path.join(tmp_path, "out.csv"))
    assert summary_counts(ok(result)) == {"created": 1, "linked": 1, "queued": 0, "rejected": 1}
    assert 'ignoring column "notes"' in result.stderr
    assert idb.value("SELECT identity_value FROM identity_pii.customer_identities "
                     "WHERE identity_type = 'external'") == "shopify:1001"
    with open(os.path.join(tmp_path, "out.csv"), newline="") as rejects:
        assert list(csv.reader(rejects))[1][:2] == ["4", "invalid verified flag (true or false "
                                                         "expected)"]


def test_import_needs_a_store(idb, tmp_path):
    path = os.path.join(tmp_path, "nostore.csv")
    with open(path, "w") as out:
        out.write("email\na@example.com\n")
    result = idb.cli("import", path, "--tenant", "acme")
    assert result.returncode == 1
    assert "no store column" in result.stderr
