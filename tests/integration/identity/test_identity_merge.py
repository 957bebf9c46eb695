"""Merges and unmerges: what moves, the preferences rule, the audit log, and that an unmerge
restores the exact prior state."""

import psycopg
import pytest
from psycopg.types.json import Jsonb

from .support import ident

# Every row of the tables a merge touches, as JSON, so states compare exactly (timestamps too).
SNAPSHOT = """
SELECT (SELECT jsonb_agg(to_jsonb(c) ORDER BY c.id) FROM identity.customers c),
       (SELECT jsonb_agg(to_jsonb(p) ORDER BY p.id) FROM identity.customer_profiles p),
       (SELECT jsonb_agg(to_jsonb(i) ORDER BY i.id) FROM identity_pii.customer_identities i)
"""


def set_preferences(idb, customer, store, preferences):
    idb.query("UPDATE identity.customer_profiles SET preferences = %s "
              "WHERE customer_id = %s AND store_id = %s", [Jsonb(preferences), customer, store])


def pair(idb, tenant):
    """A survivor with a profile in store 1, and a customer to absorb with profiles in both
    stores (one of them clashing with the survivor's) and an unverified phone number."""
    s1, s2 = tenant.stores
    survivor, _ = idb.resolve(tenant, s1, [ident("email", "keep@example.com")])
    absorbed, _ = idb.resolve(tenant, s1, [ident("email", "dup@example.com"),
                                           ident("phone", "+1 212 555 0101", False)])
    idb.resolve(tenant, s2, [ident("email", "dup@example.com")])
    set_preferences(idb, survivor, s1, {"lang": "en", "newsletter": False})
    set_preferences(idb, absorbed, s1, {"lang": "fr", "size": "M"})
    set_preferences(idb, absorbed, s2, {"theme": "dark"})
    return survivor, absorbed


def merge(idb, survivor, absorbed, reason="duplicate"):
    return idb.value("SELECT identity.merge_customers(%s, %s, 'alice', %s)",
                     [survivor, absorbed, reason])


def test_merge_moves_identities_and_profiles(idb):
    acme = idb.tenants[0]
    s1, s2 = acme.stores
    survivor, absorbed = pair(idb, acme)
    merge(idb, survivor, absorbed)
    assert idb.query("SELECT status, merged_into::text FROM identity.customers WHERE id = %s",
                     [absorbed]) == [("merged", survivor)]
    assert idb.value("SELECT count(*) FROM identity_pii.customer_identities "
                     "WHERE customer_id = %s", [survivor]) == 3
    profiles = dict((str(r[0]), r[1]) for r in idb.query(
        "SELECT store_id, preferences FROM identity.customer_profiles WHERE customer_id = %s",
        [survivor]))
    # Same store: absorbed || survivor, the survivor's keys win.
    assert profiles == {s1: {"lang": "en", "newsletter": False, "size": "M"},
                        s2: {"theme": "dark"}}
    assert idb.value("SELECT count(*) FROM identity.customer_profiles WHERE customer_id = %s",
                     [absorbed]) == 0
    # Requests with the absorbed customer's identifiers now find the survivor.
    assert idb.resolve(acme, s2, [ident("email", "dup@example.com")]) == (survivor, "linked")


def test_unmerge_restores_the_exact_prior_state_and_the_log_explains_both(idb):
    acme = idb.tenants[0]
    survivor, absorbed = pair(idb, acme)
    before = idb.query(SNAPSHOT)
    audit = merge(idb, survivor, absorbed, "same phone")
    assert idb.query(SNAPSHOT) != before
    undo = idb.value("SELECT identity.unmerge(%s, 'bob', 'different people')", [audit])
    assert idb.query(SNAPSHOT) == before

    log = idb.query("SELECT id, action, survivor_id::text, absorbed_id::text, actor, reason, "
                    "reverts, before_state, after_state FROM identity.merge_log ORDER BY id")
    assert [row[:7] for row in log] == [
        (audit, "merge", survivor, absorbed, "alice", "same phone", None),
        (undo, "unmerge", survivor, absorbed, "bob", "different people", audit)]
    merge_row, unmerge_row = log
    assert merge_row[8] == unmerge_row[7]  # the unmerge started from what the merge left
    assert unmerge_row[8] == merge_row[7]  # and ended where the merge started
    absorbed_before = [c for c in merge_row[7]["customers"] if c["id"] == absorbed][0]
    absorbed_after = [c for c in merge_row[8]["customers"] if c["id"] == absorbed][0]
    assert (absorbed_before["status"], absorbed_after["status"]) == ("active", "merged")
    assert all("identity_value" not in i for i in merge_row[7]["identities"])  # no PII in the log


def test_unmerge_keeps_identities_added_to_the_survivor_after_the_merge(idb):
    acme = idb.tenants[0]
    survivor, absorbed = pair(idb, acme)
    audit = merge(idb, survivor, absorbed)
    idb.resolve(acme, acme.stores[0], [ident("email", "keep@example.com"),
                                       ident("external", "pos:1")])
    idb.value("SELECT identity.unmerge(%s)", [audit])
    assert str(idb.value("SELECT customer_id FROM identity_pii.customer_identities "
                         "WHERE identity_value = 'pos:1'")) == survivor
    assert str(idb.value("SELECT customer_id FROM identity_pii.customer_identities "
                         "WHERE identity_value = 'dup@example.com'")) == absorbed


def test_unmerge_refuses_when_rows_it_touched_changed(idb):
    acme = idb.tenants[0]
    survivor, absorbed = pair(idb, acme)
    audit = merge(idb, survivor, absorbed)
    set_preferences(idb, survivor, acme.stores[0], {"lang": "de"})
    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState, match="changed since") as err:
        idb.value("SELECT identity.unmerge(%s)", [audit])
    assert "profile" in err.value.diag.message_detail
    assert idb.value("SELECT count(*) FROM identity.merge_log") == 1


def test_a_merge_is_undone_once(idb):
    acme = idb.tenants[0]
    survivor, absorbed = pair(idb, acme)
    audit = merge(idb, survivor, absorbed)
    undo = idb.value("SELECT identity.unmerge(%s)", [audit])
    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState, match="already undone"):
        idb.value("SELECT identity.unmerge(%s)", [audit])
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="not a merge"):
        idb.value("SELECT identity.unmerge(%s)", [undo])


def test_merges_are_checked(idb):
    acme, globex = idb.tenants
    survivor, absorbed = pair(idb, acme)
    other, _ = idb.resolve(globex, globex.stores[0], [ident("email", "keep@example.com")])
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="with itself"):
        merge(idb, survivor, survivor)
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="different tenants"):
        merge(idb, survivor, other)
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="unknown customer"):
        merge(idb, survivor, "00000000-0000-0000-0000-0000000000aa")
    merge(idb, survivor, absorbed)
    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState, match="already merged"):
        merge(idb, survivor, absorbed)
    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState, match="already merged"):
        merge(idb, absorbed, survivor)
