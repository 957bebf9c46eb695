"""Store isolation on a shared backend: the policy `storegate registry rls` prints keeps each
store's sessions to its own rows, and a session storegate did not tag sees none."""

import subprocess

import psycopg


def test_rls_policy_separates_stores(proxy, registry, binary, clusters):
    shared = clusters["shared"]
    alpha, beta = registry.stores["alpha"].id, registry.stores["beta"].id
    policy = subprocess.run([binary, "registry", "rls", "--table", "public.rls_orders"],
                            capture_output=True, text=True, check=True).stdout
    with shared.connect("shared_db") as conn:
        conn.execute("DROP TABLE IF EXISTS rls_orders")
        conn.execute("CREATE TABLE rls_orders (store_id uuid, item text)")
        conn.execute("ALTER TABLE rls_orders OWNER TO sg_shared")
        conn.execute("INSERT INTO rls_orders VALUES (%s, 'a1'), (%s, 'a2'), (%s, 'b1')",
                     (alpha, alpha, beta))
        conn.execute(policy)
    password = registry.passwords["app"]
    for store, expected in (("alpha", ["a1", "a2"]), ("beta", ["b1"])):
        with psycopg.connect(proxy.dsn(store, password=password), autocommit=True) as conn:
            rows = conn.execute("SELECT item FROM rls_orders ORDER BY item").fetchall()
            assert [r[0] for r in rows] == expected
            # Writing another store's row is refused by the policy's WITH CHECK.
            other = beta if store == "alpha" else alpha
            try:
                conn.execute("INSERT INTO rls_orders VALUES (%s, 'x')", (other,))
                raise AssertionError("insert for another store was accepted")
            except psycopg.errors.InsufficientPrivilege:
                pass
    # The owner connecting directly, without storegate's tag, sees nothing.
    direct = shared.dsn("shared_db", "sg_shared", registry.passwords["sg_shared"])
    with psycopg.connect(direct) as conn:
        assert conn.execute("SELECT count(*) FROM rls_orders").fetchone()[0] == 0
