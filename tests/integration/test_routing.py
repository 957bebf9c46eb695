"""Every routing form reaches the store's own backend database."""

import pytest

from harness.util import backend_identity, client_env, psql

STORES = ["alpha", "beta", "gamma"]
FORMS = ["options", "user", "database"]


def expected(registry, slug):
    store = registry.stores[slug]
    return (store.database, store.cluster.port)


@pytest.mark.parametrize("via", FORMS)
@pytest.mark.parametrize("slug", STORES)
def test_store_uuid_routes_to_its_backend(proxy, registry, slug, via):
    dsn = proxy.dsn(registry.stores[slug].id, via=via, password=registry.passwords["app"])
    assert backend_identity(dsn) == expected(registry, slug)


@pytest.mark.parametrize("via", FORMS)
@pytest.mark.parametrize("slug", STORES)
def test_store_slug_is_an_alias(proxy, registry, slug, via):
    dsn = proxy.dsn(slug, via=via, password=registry.passwords["app"])
    assert backend_identity(dsn) == expected(registry, slug)


@pytest.mark.parametrize("slug", ["beta", "gamma"])
def test_pgoptions_environment_routes(proxy, registry, slug):
    store = registry.stores[slug]
    env = client_env(registry.passwords["app"], PGOPTIONS=f"-c storegate.store={store.id}")
    done = psql(proxy.dsn(), "SELECT current_database() || ':' || inet_server_port()", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{store.database}:{store.cluster.port}"


def test_options_win_over_user_and_database(proxy, registry):
    """routing.sources is ordered: options, then user, then database."""
    alpha, gamma = registry.stores["alpha"], registry.stores["gamma"]
    dsn = proxy.dsn(gamma.id, via="options", user=f"app.{alpha.slug}",
                    dbname=f"store_{alpha.slug}", password=registry.passwords["app"])
    assert backend_identity(dsn) == expected(registry, "gamma")


@pytest.mark.parametrize("tenant", ["acme", "id"])
def test_tenant_connection_reaches_the_common_database(proxy, registry, tenant):
    key = registry.tenant_id if tenant == "id" else registry.tenant_slug
    dsn = proxy.dsn(password=registry.passwords["app"], options=f"-c storegate.tenant={key}")
    assert backend_identity(dsn) == ("acme_common", registry.clusters["shared"].port)
