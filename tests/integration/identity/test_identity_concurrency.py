"""Concurrent matching: 8 workers resolving overlapping identifiers at the same time never
create a second customer for one person and never pass a deadlock or unique violation on to
the caller (identity.resolve_customer retries inside)."""

import random
import threading
from collections import Counter

import psycopg
from psycopg.types.json import Jsonb

from .support import ident

PERSONS = 2500  # x 4 identifiers = 10,000 identities
WORKERS = 8


def identifiers(person: int) -> list:
    """A person's four identifiers; every request carries the first, so one person's requests
    always meet on it whatever the order."""
    return [ident("email", f"person{person}@example.com"),
            ident("phone", f"+1 646 {200 + person // 10000:03d} {person % 10000:04d}"),
            ident("external", f"crm:{person}"),
            ident("email", f"alt.{person}@example.org")]


def worker(idb, tenant, number: int, outcomes: Counter, sent: set, errors: list, start):
    rng = random.Random(number)
    persons = [p for p in range(PERSONS) if p % WORKERS == number or rng.random() < 0.4]
    rng.shuffle(persons)
    try:
        with idb.connect() as conn:
            start.wait()
            for person in persons:
                first, *rest = identifiers(person)
                extras = rest if person % WORKERS == number else rng.sample(rest, rng.randint(1, 3))
                store = rng.choice(tenant.stores)
                row = conn.execute("SELECT outcome FROM identity.resolve_customer(%s, %s, %s)",
                                   [tenant.id, store, Jsonb([first] + extras)]).fetchone()
                outcomes[row[0]] += 1
                sent.add((person, store))
    except psycopg.Error as error:  # reported by the test, which must see none
        errors.append(f"worker {number}: {error.sqlstate} {error}")


def test_overlapping_concurrent_requests_make_one_customer_per_person(idb):
    acme = idb.tenants[0]
    outcomes, sent, errors = Counter(), set(), []
    start = threading.Barrier(WORKERS)
    threads = [threading.Thread(target=worker, args=(idb, acme, n, outcomes, sent, errors, start))
               for n in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert outcomes["created"] == PERSONS
    assert set(outcomes) == {"created", "linked"}
    assert idb.value("SELECT count(*) FROM identity.customers") == PERSONS
    assert idb.value("SELECT count(*) FROM identity_pii.customer_identities") == 4 * PERSONS
    # Every identifier of one person sits on that person's one customer.
    split = idb.value("""
        SELECT count(*) FROM (
            SELECT substring(identity_value from '[0-9]+') AS person
              FROM identity_pii.customer_identities
             WHERE identity_type <> 'phone'
             GROUP BY 1 HAVING count(DISTINCT customer_id) > 1) s""")
    assert split == 0
    phones_apart = idb.value("""
        SELECT count(*) FROM identity_pii.customer_identities p
          JOIN identity_pii.customer_identities e
            ON e.customer_id = p.customer_id AND e.identity_type = 'external'
         WHERE p.identity_type = 'phone'
           AND (substring(p.identity_value from 6))::int % 10000
               <> (substring(e.identity_value from 5))::int % 10000""")
    assert phones_apart == 0
    assert idb.value("SELECT count(*) FROM identity.customer_profiles") == len(sent)
    assert idb.value("SELECT count(*) FROM identity_pii.review_queue") == 0
