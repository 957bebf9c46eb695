"""Review queue decisions (identity.review_decide): link, merge, new and dismiss, and that a
decision is remembered for identical requests."""

import psycopg
import pytest

from .support import ident


def queued(idb, tenant):
    """Two customers and a request that matches both; returns (older, newer, review id)."""
    older, _ = idb.resolve(tenant, tenant.stores[0], [ident("email", "r1@example.com")])
    newer, _ = idb.resolve(tenant, tenant.stores[1], [ident("phone", "+1 415 555 0100")])
    request = [ident("email", "r1@example.com"), ident("phone", "+14155550100"),
               ident("external", "loyalty:7")]
    assert idb.resolve(tenant, tenant.stores[1], request) == (None, "review")
    review_id = idb.value("SELECT id FROM identity_pii.review_queue WHERE status = 'pending'")
    return older, newer, review_id, request


def decide(idb, review_id, decision, customer=None, note=None):
    row = idb.query("SELECT customer_id, outcome FROM identity.review_decide(%s, %s, %s, 'dba', "
                    "%s)", [review_id, decision, customer, note])[0]
    return (str(row[0]) if row[0] else None, row[1])


def holder(idb, value):
    return str(idb.value("SELECT customer_id FROM identity_pii.customer_identities "
                         "WHERE identity_value = %s", [value]))


def test_link_attaches_the_free_identifiers_and_is_remembered(idb):
    acme = idb.tenants[0]
    older, newer, review_id, request = queued(idb, acme)
    assert decide(idb, review_id, "link", older) == (older, "linked")
    assert holder(idb, "loyalty:7") == older
    assert holder(idb, "+14155550100") == newer  # held identifiers stay where they are
    assert idb.query("SELECT status, decision, decided_by FROM identity_pii.review_queue") == [
        ("decided", "link", "dba")]
    # The identical request now follows the decision instead of queueing again.
    assert idb.resolve(acme, acme.stores[1], request) == (older, "linked")
    assert idb.value("SELECT count(*) FROM identity_pii.review_queue") == 1


def test_merge_merges_the_other_candidates_with_an_audit_entry(idb):
    acme = idb.tenants[0]
    older, newer, review_id, request = queued(idb, acme)
    assert decide(idb, review_id, "merge", newer, "same person, checked by phone") == (
        newer, "merged")
    assert idb.query("SELECT status, merged_into::text FROM identity.customers WHERE id = %s",
                     [older]) == [("merged", newer)]
    assert {holder(idb, v) for v in ("r1@example.com", "+14155550100", "loyalty:7")} == {newer}
    (actor, reason), = idb.query("SELECT actor, reason FROM identity.merge_log")
    assert actor == "dba"
    assert reason == f"review {review_id}: same person, checked by phone"
    assert idb.resolve(acme, acme.stores[0], request) == (newer, "linked")


def test_new_creates_a_separate_customer_for_the_free_identifiers(idb):
    acme = idb.tenants[0]
    older, newer, review_id, _ = queued(idb, acme)
    created, outcome = decide(idb, review_id, "new")
    assert outcome == "created" and created not in (older, newer)
    assert holder(idb, "loyalty:7") == created


def test_dismiss_links_nothing(idb):
    acme = idb.tenants[0]
    _, _, review_id, request = queued(idb, acme)
    identities = idb.value("SELECT count(*) FROM identity_pii.customer_identities")
    assert decide(idb, review_id, "dismiss") == (None, "dismissed")
    assert idb.value("SELECT count(*) FROM identity_pii.customer_identities") == identities
    # Dismissed requests are not remembered: the next identical one waits for a person again.
    assert idb.resolve(acme, acme.stores[1], request) == (None, "review")
    assert idb.value("SELECT count(*) FROM identity_pii.review_queue WHERE status = 'pending'") == 1


def test_decisions_are_checked(idb):
    acme, globex = idb.tenants
    older, _, review_id, _ = queued(idb, acme)
    stranger, _ = idb.resolve(globex, globex.stores[0], [ident("email", "r1@example.com")])
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="not a customer of tenant"):
        decide(idb, review_id, "link", stranger)
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="needs a customer"):
        decide(idb, review_id, "merge")
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="invalid decision"):
        decide(idb, review_id, "maybe", older)
    decide(idb, review_id, "link", older)
    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState, match="already decided"):
        decide(idb, review_id, "link", older)
