-- Access: two cluster-wide NOLOGIN roles that DBAs grant to login roles.
--   storegate_identity_app    applications: resolve and look up customers, read customers and
--                             profiles, change profile status and preferences; no PII
--   storegate_identity_admin  DBAs: everything the app role can, plus the identity_pii schema
--                             (identifier values, review queue), merges and review decisions
-- Creating the roles needs CREATEROLE; where init runs without it, a superuser creates them
-- once per cluster beforehand.

-- Roles and membership are cluster-wide, so inits of other databases of the cluster may create
-- them at the same moment: whoever comes second finds them there.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'storegate_identity_app') THEN
        BEGIN
            CREATE ROLE storegate_identity_app NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'storegate_identity_admin') THEN
        BEGIN
            CREATE ROLE storegate_identity_admin NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
    IF NOT pg_has_role('storegate_identity_admin', 'storegate_identity_app', 'MEMBER') THEN
        BEGIN
            GRANT storegate_identity_app TO storegate_identity_admin;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE EXCEPTION 'identity: creating the roles storegate_identity_app and '
                    'storegate_identity_admin needs CREATEROLE'
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'ask a superuser to create both roles (NOLOGIN), then run init again';
END
$$;

REVOKE ALL ON SCHEMA identity, identity_pii FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA identity FROM PUBLIC;
ALTER DEFAULT PRIVILEGES IN SCHEMA identity REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

GRANT USAGE ON SCHEMA identity TO storegate_identity_app;
GRANT SELECT ON identity.customers, identity.settings, identity.email_providers,
                identity.registry_tenants, identity.registry_stores
    TO storegate_identity_app;
GRANT SELECT, UPDATE (status, preferences, updated_at) ON identity.customer_profiles
    TO storegate_identity_app;
GRANT EXECUTE ON FUNCTION
    identity.resolve_customer(uuid, uuid, jsonb, text),
    identity.resolve_batch(uuid, jsonb, text),
    identity.find_customer(uuid, text, text),
    identity.canonical_customer(uuid),
    identity.tenant_settings(uuid),
    identity.normalize_identity(uuid, text, text),
    identity.normalize_email(text, boolean),
    identity.normalize_phone(text, text),
    identity.normalize_external(text, text)
    TO storegate_identity_app;

GRANT USAGE ON SCHEMA identity_pii TO storegate_identity_admin;
GRANT SELECT ON ALL TABLES IN SCHEMA identity_pii TO storegate_identity_admin;
GRANT SELECT ON identity.merge_log, identity.schema_version TO storegate_identity_admin;
GRANT INSERT, UPDATE, DELETE ON identity.email_providers TO storegate_identity_admin;
GRANT EXECUTE ON FUNCTION
    identity.merge_customers(uuid, uuid, text, text),
    identity.unmerge(bigint, text, text),
    identity.review_decide(bigint, text, uuid, text, text),
    identity.configure_tenant(uuid, text, boolean, text)
    TO storegate_identity_admin;
