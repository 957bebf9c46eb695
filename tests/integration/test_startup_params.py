"""Startup parameters reach the server session; storegate's own settings do not."""

import psycopg

from harness import wire


def test_startup_parameters_reach_the_server_session(proxy, registry):
    gamma = registry.stores["gamma"]
    params = {
        "user": "app",
        "database": "app",
        "application_name": "sg-params-test",
        "TimeZone": "Asia/Tokyo",
        "DateStyle": "SQL, DMY",
        "options": f"-c storegate.store={gamma.id} -c search_path=sg_schema,public",
    }
    with wire.WireClient(proxy.host, proxy.port) as client:
        result = client.startup(params, registry.passwords["app"])
        assert result.ok, result.error
        rows, error = client.query(
            "SELECT current_setting('application_name'), current_setting('TimeZone'), "
            "current_setting('DateStyle'), current_setting('search_path'), "
            "current_setting('storegate.store', true)")
        client.terminate()
    assert error is None, error
    assert rows[0][:3] == ["sg-params-test", "Asia/Tokyo", "SQL, DMY"]
    # A -c value is kept as written, a SET value is normalized: either spelling is the list.
    assert rows[0][3].replace(" ", "") == "sg_schema,public"
    assert rows[0][4] in (None, ""), "storegate.store leaked to the server session"
    # What the client was told (ParameterStatus) matches the session.
    assert result.parameters.get("application_name") == "sg-params-test"
    assert result.parameters.get("TimeZone") == "Asia/Tokyo"
    assert result.parameters.get("DateStyle") == "SQL, DMY"


def test_libpq_client_gets_its_parameters(proxy, registry):
    dsn = proxy.dsn("alpha", via="user", password=registry.passwords["app"],
                    application_name="sg-libpq", options="-c statement_timeout=4321")
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT current_setting('application_name'), "
                           "current_setting('statement_timeout')").fetchone()
    assert row == ("sg-libpq", "4321ms")


def test_shared_backend_session_carries_the_store_id(proxy, registry):
    """Row-level security on a shared database scopes rows by storegate.store_id."""
    for slug in ("alpha", "beta"):
        store = registry.stores[slug]
        with psycopg.connect(proxy.dsn(slug, password=registry.passwords["app"])) as conn:
            value = conn.execute("SELECT current_setting('storegate.store_id', true)").fetchone()
        assert value[0] == store.id


def test_newer_protocol_and_protocol_options_are_negotiated_down(proxy, registry):
    """A client asking for protocol 3.2 with a _pq_ option hears, before authentication, that
    the session speaks 3.0 without the option (NegotiateProtocolVersion), as from PostgreSQL
    itself; a 3.0 client without options hears nothing of the kind."""
    gamma = registry.stores["gamma"]
    params = {"user": "app", "database": "app", "options": f"-c storegate.store={gamma.id}",
              "_pq_.test_option": "on"}
    answers = {}
    for name, port, login in (
            ("postgres", gamma.cluster.port, ("sg_dedicated", registry.passwords["sg_dedicated"],
                                              gamma.database)),
            ("storegate", proxy.port, ("app", registry.passwords["app"], "app"))):
        user, password, database = login
        wanted = dict(params, user=user, database=database)
        if name == "postgres":
            del wanted["options"]
        with wire.WireClient("127.0.0.1", port) as client:
            result = client.startup(wanted, password, version=(3 << 16) | 2)
            assert result.ok, result.error
            assert client.query("SELECT 1")[0] == [["1"]]
        answers[name] = result.negotiated
    assert answers["storegate"] == answers["postgres"] == (3 << 16, ["_pq_.test_option"])
    with wire.WireClient(proxy.host, proxy.port) as client:
        result = client.startup({"user": "app", "database": "app",
                                 "options": f"-c storegate.store={gamma.id}"},
                                registry.passwords["app"])
        assert result.ok and result.negotiated is None
