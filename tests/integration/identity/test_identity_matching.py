"""The matching flow (identity.resolve_customer) through plain SQL, as applications call it:
new customers, single matches, verified and unverified identifiers, several candidates under
each tenant policy, invalid input, and tenants kept apart."""

import psycopg
import pytest
from psycopg.types.json import Jsonb

from .support import ident


def identities_of(idb, customer):
    return sorted(idb.query("SELECT identity_type, identity_value, verified "
                            "FROM identity_pii.customer_identities WHERE customer_id = %s "
                            "ORDER BY 1, 2", [customer]))


def profile_stores(idb, customer):
    return sorted(str(r[0]) for r in idb.query(
        "SELECT store_id FROM identity.customer_profiles WHERE customer_id = %s", [customer]))


def counts(idb):
    return idb.query("SELECT (SELECT count(*) FROM identity.customers), "
                     "(SELECT count(*) FROM identity_pii.customer_identities), "
                     "(SELECT count(*) FROM identity.customer_profiles), "
                     "(SELECT count(*) FROM identity_pii.review_queue)")[0]


def test_new_identifiers_create_a_customer_with_normalised_identities(idb):
    acme = idb.tenants[0]
    customer, outcome = idb.resolve(acme, acme.stores[0], [
        ident("email", "  Ada.Lovelace@Example.COM "),
        ident("phone", "+44 20 7946 0958"),
        ident("external", "Shopify:AbC-123", verified=False)])
    assert outcome == "created"
    assert identities_of(idb, customer) == [("email", "ada.lovelace@example.com", True),
                                            ("external", "shopify:AbC-123", False),
                                            ("phone", "+442079460958", True)]
    assert profile_stores(idb, customer) == [acme.stores[0]]
    assert idb.value("SELECT status FROM identity.customers WHERE id = %s", [customer]) == "active"


def test_one_verified_match_links_and_adds_the_store_profile(idb):
    acme = idb.tenants[0]
    first, _ = idb.resolve(acme, acme.stores[0], [ident("email", "grace@example.com")])
    second, outcome = idb.resolve(acme, acme.stores[1], [ident("email", "GRACE@example.com"),
                                                        ident("phone", "+1 650 253 0000")])
    assert (second, outcome) == (first, "linked")
    assert profile_stores(idb, first) == sorted(acme.stores)
    assert ("phone", "+16502530000", True) in identities_of(idb, first)
    assert idb.value("SELECT count(*) FROM identity.customers") == 1


def test_a_repeated_request_links_without_adding_rows(idb):
    acme = idb.tenants[0]
    request = [ident("email", "repeat@example.com"), ident("external", "pos:77")]
    customer, _ = idb.resolve(acme, acme.stores[0], request)
    before = counts(idb)
    assert idb.resolve(acme, acme.stores[0], request) == (customer, "linked")
    assert counts(idb) == before


def test_an_unverified_identifier_never_links_automatically(idb):
    acme = idb.tenants[0]
    customer, _ = idb.resolve(acme, acme.stores[0], [ident("email", "ann@example.com")])
    assert idb.resolve(acme, acme.stores[1], [ident("email", "ann@example.com", False)]) == (
        None, "review")
    assert profile_stores(idb, customer) == [acme.stores[0]]
    (candidates, reason), = idb.query("SELECT candidates, reason FROM identity_pii.review_queue")
    assert [str(c) for c in candidates] == [customer]
    assert reason == "matched only through unverified identifiers"


def test_a_verified_request_does_not_link_to_an_unverified_stored_identity(idb):
    acme = idb.tenants[0]
    customer, _ = idb.resolve(acme, acme.stores[0], [ident("email", "guest@example.com", False)])
    assert idb.resolve(acme, acme.stores[1], [ident("email", "guest@example.com")]) == (
        None, "review")
    assert identities_of(idb, customer) == [("email", "guest@example.com", False)]


def test_an_unverified_exact_repeat_in_the_same_store_is_idempotent(idb):
    acme = idb.tenants[0]
    request = [ident("email", "guest2@example.com", False)]
    customer, _ = idb.resolve(acme, acme.stores[0], request)
    before = counts(idb)
    assert idb.resolve(acme, acme.stores[0], request) == (customer, "linked")
    assert counts(idb) == before
    # The same unverified identifier from another store is a new link: a person decides.
    assert idb.resolve(acme, acme.stores[1], request) == (None, "review")


def test_verified_match_upgrades_the_customers_unverified_identifier(idb):
    acme = idb.tenants[0]
    customer, _ = idb.resolve(acme, acme.stores[0], [ident("email", "up@example.com"),
                                                     ident("phone", "+33 1 42 68 53 00", False)])
    assert idb.resolve(acme, acme.stores[0], [ident("email", "up@example.com"),
                                              ident("phone", "+33142685300")]) == (customer,
                                                                                   "linked")
    assert ("phone", "+33142685300", True) in identities_of(idb, customer)


def two_customers(idb, tenant):
    older, _ = idb.resolve(tenant, tenant.stores[0], [ident("email", "older@example.com")])
    newer, _ = idb.resolve(tenant, tenant.stores[1], [ident("phone", "+49 30 901820")])
    return older, newer


def test_several_candidates_under_review_policy_queue_and_link_nothing(idb):
    acme = idb.tenants[0]
    older, newer = two_customers(idb, acme)
    request = [ident("email", "older@example.com"), ident("phone", "+4930901820"),
               ident("external", "crm:9")]
    before = counts(idb)
    assert idb.resolve(acme, acme.stores[0], request) == (None, "review")
    assert idb.resolve(acme, acme.stores[0], request) == (None, "review")
    customers, identities, profiles, reviews = counts(idb)
    assert (customers, identities, profiles) == before[:3]
    assert reviews == before[3] + 1  # one pending item per distinct request
    (candidates, reason, status), = idb.query(
        "SELECT candidates, reason, status FROM identity_pii.review_queue")
    assert sorted(str(c) for c in candidates) == sorted([older, newer])
    assert (reason, status) == ("verified identifiers of several customers", "pending")


def test_several_candidates_under_oldest_verified_policy_link_the_oldest(idb):
    acme = idb.tenants[0]
    idb.query("SELECT identity.configure_tenant(%s, 'oldest_verified')", [acme.id])
    older, newer = two_customers(idb, acme)
    result = idb.resolve(acme, acme.stores[1], [ident("email", "older@example.com"),
                                                ident("phone", "+4930901820"),
                                                ident("external", "crm:9")])
    assert result == (older, "linked")
    assert ("external", "crm:9", True) in identities_of(idb, older)
    assert identities_of(idb, newer) == [("phone", "+4930901820", True)]
    assert idb.value("SELECT count(*) FROM identity_pii.review_queue") == 0


def test_the_same_email_in_two_tenants_gives_two_customers(idb):
    acme, globex = idb.tenants
    a, outcome_a = idb.resolve(acme, acme.stores[0], [ident("email", "shared@example.com")])
    g, outcome_g = idb.resolve(globex, globex.stores[0], [ident("email", "shared@example.com")])
    assert (outcome_a, outcome_g) == ("created", "created")
    assert a != g
    assert idb.value("SELECT tenant_id::text FROM identity.customers WHERE id = %s", [g]) == globex.id


def test_a_store_of_another_tenant_is_refused(idb):
    acme, globex = idb.tenants
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="does not belong to tenant"):
        idb.resolve(acme, globex.stores[0], [ident("email", "x@example.com")])


@pytest.mark.parametrize("identities, message", [
    ([ident("email", "no-at-sign")], "invalid email address"),
    ([ident("email", "two@@example.com")], "invalid email address"),
    ([ident("email", "a@localhost")], "invalid email address"),
    ([ident("phone", "12")], "invalid phone number"),
    ([ident("phone", "+1 650 253 0000 ext 5")], "invalid phone number"),
    ([ident("phone", "650 253 0000")], "national number without a country calling code"),
    ([ident("external", "12345")], "invalid external id"),
    ([ident("fax", "+1 650 253 0000")], "invalid identity type"),
    ([{"type": "email", "value": "a@example.com", "verified": "yes"}], "verified"),
    ([], "non-empty JSON array"),
    ({"type": "email", "value": "a@example.com"}, "non-empty JSON array"),
])
def test_invalid_input_is_rejected_with_22023_and_nothing_is_stored(idb, identities, message):
    acme = idb.tenants[0]
    with pytest.raises(psycopg.errors.InvalidParameterValue, match=message):
        idb.resolve(acme, acme.stores[0], identities)
    assert counts(idb) == (0, 0, 0, 0)


def test_a_bad_identifier_rejects_the_whole_request(idb):
    acme = idb.tenants[0]
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        idb.resolve(acme, acme.stores[0], [ident("email", "fine@example.com"),
                                           ident("phone", "not a number")])
    assert counts(idb) == (0, 0, 0, 0)


def test_an_unknown_tenant_is_refused(idb):
    ghost = type(idb.tenants[0])("00000000-0000-0000-0000-000000000001", "ghost")
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="unknown tenant"):
        idb.resolve(ghost, idb.tenants[0].stores[0], [ident("email", "x@example.com")])


def test_normalisation_follows_the_tenant_settings(idb):
    acme = idb.tenants[0]
    assert idb.value("SELECT identity.normalize_identity(%s, 'email', 'Jo.Doe+shop@GMail.com')",
                     [acme.id]) == "jo.doe+shop@gmail.com"
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        idb.value("SELECT identity.normalize_identity(%s, 'phone', '020 7946 0958')", [acme.id])
    idb.query("SELECT identity.configure_tenant(%s, email_provider_rules => true, "
              "default_calling_code => '44')", [acme.id])
    assert idb.value("SELECT identity.normalize_identity(%s, 'email', 'Jo.Doe+shop@GMail.com')",
                     [acme.id]) == "jodoe@gmail.com"
    assert idb.value("SELECT identity.normalize_identity(%s, 'email', 'jo.doe+x@googlemail.com')",
                     [acme.id]) == "jodoe@gmail.com"
    assert idb.value("SELECT identity.normalize_identity(%s, 'email', 'Jo.Doe+x@example.com')",
                     [acme.id]) == "jo.doe+x@example.com"
    assert idb.value("SELECT identity.normalize_identity(%s, 'phone', '020 7946 0958')",
                     [acme.id]) == "+442079460958"


def test_provider_rules_make_spellings_of_one_gmail_address_match(idb):
    acme = idb.tenants[0]
    idb.query("SELECT identity.configure_tenant(%s, email_provider_rules => true)", [acme.id])
    customer, _ = idb.resolve(acme, acme.stores[0], [ident("email", "jo.doe@gmail.com")])
    assert idb.resolve(acme, acme.stores[1], [ident("email", "JoDoe+news@googlemail.com")]) == (
        customer, "linked")


def test_find_customer_looks_up_by_normalised_value(idb):
    acme, globex = idb.tenants
    customer, _ = idb.resolve(acme, acme.stores[0], [ident("external", "shopify:42")])
    assert str(idb.value("SELECT identity.find_customer(%s, 'external', ' SHOPIFY:42')",
                         [acme.id])) == customer
    assert idb.value("SELECT identity.find_customer(%s, 'external', 'shopify:42')",
                     [globex.id]) is None


def test_resolve_batch_reports_bad_rows_and_goes_on(idb):
    acme = idb.tenants[0]
    rows = [{"store_id": acme.stores[0], "identities": [ident("email", "b1@example.com")]},
            {"store_id": "not-a-uuid", "identities": [ident("email", "b2@example.com")]},
            {"store_id": acme.stores[0], "identities": [ident("phone", "1")]},
            {"store_id": acme.stores[1], "identities": [ident("email", "B1@example.com")]}]
    result = idb.query("SELECT ord, outcome, sqlstate, message FROM identity.resolve_batch("
                       "%s, %s::jsonb, 'test')", [acme.id, Jsonb(rows)])
    assert [(r[0], r[1], r[2]) for r in result] == [(1, "created", None), (2, "error", "22023"),
                                                    (3, "error", "22023"), (4, "linked", None)]
    assert "phone" in result[2][3]
    assert idb.value("SELECT count(*) FROM identity.customers") == 1


def test_applications_resolve_without_reading_identifier_values(idb):
    acme = idb.tenants[0]
    idb.cluster.execute("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles "
                        "WHERE rolname = 'identity_test_app') THEN "
                        "CREATE ROLE identity_test_app LOGIN IN ROLE storegate_identity_app; "
                        "END IF; END $$")
    with psycopg.connect(host=idb.cluster.socket_dir, port=idb.cluster.port,
                         user="identity_test_app", dbname=idb.name, autocommit=True) as app:
        row = app.execute("SELECT customer_id, outcome FROM identity.resolve_customer(%s, %s, "
                          "%s::jsonb)", [acme.id, acme.stores[0],
                                         Jsonb([ident("email", "app@example.com")])]).fetchone()
        assert row[1] == "created"
        assert app.execute("SELECT count(*) FROM identity.customers").fetchone()[0] == 1
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app.execute("SELECT identity_value FROM identity_pii.customer_identities")
    with psycopg.connect(host=idb.cluster.socket_dir, port=idb.cluster.port,
                         user="identity_test_app", dbname=idb.name, autocommit=True) as app:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app.execute("SELECT identity.merge_customers(%s, %s)", [row[0], row[0]])
