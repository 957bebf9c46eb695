-- Tenant-level customer identity: canonical customers, their store profiles and the map of
-- identifiers that recognises one person across a tenant's stores.
--
-- Everything that holds identifier values (email addresses, phone numbers, external ids) lives
-- in the schema identity_pii, which only the admin role can read; applications reach it through
-- the SECURITY DEFINER functions of the schema identity.

CREATE SCHEMA IF NOT EXISTS identity_pii;

-- The registry tables are referenced through views created here, so that functions bind to
-- the tables found at install time whatever the caller's search_path is.
DO $$
DECLARE
    tenant_slug text := 'NULL::text';
BEGIN
    IF to_regclass('tenants') IS NULL OR to_regclass('stores') IS NULL THEN
        RAISE EXCEPTION 'identity: the registry tables tenants and stores are not in this database'
            USING ERRCODE = 'undefined_table',
                  HINT = 'run storegate registry init --dsn DSN on this database first';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_attribute
                WHERE attrelid = 'tenants'::regclass AND attname = 'slug' AND NOT attisdropped) THEN
        tenant_slug := 't.slug::text';
    END IF;
    EXECUTE format('CREATE VIEW identity.registry_tenants AS SELECT t.id, %s AS slug FROM %s t',
                   tenant_slug, 'tenants'::regclass);
    EXECUTE format('CREATE VIEW identity.registry_stores AS '
                   'SELECT s.id, s.tenant_id, s.slug::text AS slug FROM %s s', 'stores'::regclass);
END
$$;

-- Per-tenant matching settings; a tenant without a row uses the column defaults.
CREATE TABLE identity.settings (
    tenant_id uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    match_policy text NOT NULL DEFAULT 'review'
        CHECK (match_policy IN ('review', 'oldest_verified')),
    email_provider_rules boolean NOT NULL DEFAULT false,
    default_calling_code text CHECK (default_calling_code ~ '^[1-9][0-9]{0,2}$'),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Mailbox providers that deliver several spellings of one address to the same inbox. Used only
-- for tenants with settings.email_provider_rules on; DBAs may add rows.
CREATE TABLE identity.email_providers (
    domain text PRIMARY KEY CHECK (domain = lower(domain)),
    canonical_domain text NOT NULL CHECK (canonical_domain = lower(canonical_domain)),
    ignore_dots boolean NOT NULL,
    strip_plus_tag boolean NOT NULL
);

INSERT INTO identity.email_providers (domain, canonical_domain, ignore_dots, strip_plus_tag)
VALUES ('gmail.com', 'gmail.com', true, true),
       ('googlemail.com', 'gmail.com', true, true),
       ('outlook.com', 'outlook.com', false, true),
       ('hotmail.com', 'hotmail.com', false, true),
       ('live.com', 'live.com', false, true),
       ('icloud.com', 'icloud.com', false, true),
       ('me.com', 'me.com', false, true),
       ('fastmail.com', 'fastmail.com', false, true),
       ('proton.me', 'proton.me', false, true),
       ('protonmail.com', 'protonmail.com', false, true);

CREATE TABLE identity.customers (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'merged')),
    merged_into uuid REFERENCES identity.customers (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- Target of the identities' composite key, so an identity can never point across tenants.
    UNIQUE (id, tenant_id),
    CHECK ((status = 'merged') = (merged_into IS NOT NULL)),
    CHECK (merged_into <> id)
);

CREATE INDEX customers_tenant_created ON identity.customers (tenant_id, created_at);
CREATE INDEX customers_merged_into ON identity.customers (merged_into)
    WHERE merged_into IS NOT NULL;

-- Limitation: nothing checks that a profile's store belongs to its customer's tenant on direct
-- writes (the SQL functions check) - matters only for rows written around them.
CREATE TABLE identity.customer_profiles (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id uuid NOT NULL REFERENCES identity.customers (id),
    store_id uuid NOT NULL REFERENCES stores (id),
    status text NOT NULL DEFAULT 'active',
    preferences jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(preferences) = 'object'),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (customer_id, store_id)
);

CREATE INDEX customer_profiles_store ON identity.customer_profiles (store_id);

-- The identity map. Values are stored normalised only (see identity.normalize_*); the checks
-- below refuse the most common half-normalised spellings from direct writes.
CREATE TABLE identity_pii.customer_identities (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id uuid NOT NULL,
    customer_id uuid NOT NULL,
    identity_type text NOT NULL CHECK (identity_type IN ('email', 'phone', 'external')),
    identity_value text NOT NULL,
    verified boolean NOT NULL DEFAULT false,
    source text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (customer_id, tenant_id) REFERENCES identity.customers (id, tenant_id),
    UNIQUE (tenant_id, identity_type, identity_value),
    CHECK (CASE identity_type
               WHEN 'email' THEN identity_value = lower(identity_value)
                                 AND identity_value ~ '^[^@[:space:]]+@[^@[:space:]]+$'
               WHEN 'phone' THEN identity_value ~ '^\+[1-9][0-9]{6,14}$'
               ELSE identity_value ~ '^[a-z][a-z0-9_.-]{0,62}:[^[:space:]]'
           END)
);

CREATE INDEX customer_identities_customer ON identity_pii.customer_identities (customer_id);

-- Requests that matched several customers (or matched only through unverified identifiers)
-- wait here for a person to decide. The identities column holds normalised values: PII.
CREATE TABLE identity_pii.review_queue (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    store_id uuid NOT NULL REFERENCES stores (id),
    identities jsonb NOT NULL,
    candidates uuid[] NOT NULL,
    reason text NOT NULL,
    source text NOT NULL,
    -- md5 of the store and the normalised identities: one pending item per distinct request.
    request_key text NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'decided')),
    decision text CHECK (decision IN ('link', 'merge', 'new', 'dismiss')),
    decided_customer uuid REFERENCES identity.customers (id),
    decided_by text,
    decided_at timestamptz,
    note text,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'decided') = (decision IS NOT NULL))
);

CREATE UNIQUE INDEX review_queue_pending_request ON identity_pii.review_queue
    (tenant_id, request_key) WHERE status = 'pending';
CREATE INDEX review_queue_decided_request ON identity_pii.review_queue
    (tenant_id, request_key, decided_at) WHERE status = 'decided';
CREATE INDEX review_queue_tenant_status ON identity_pii.review_queue (tenant_id, status, id);

-- Audit log of merges and unmerges. The states are the full rows of both customers, their
-- profiles and their identities (without identity values, so the log holds no PII) before and
-- after the change: enough for identity.unmerge to restore the exact prior state.
CREATE TABLE identity.merge_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    action text NOT NULL CHECK (action IN ('merge', 'unmerge')),
    survivor_id uuid NOT NULL REFERENCES identity.customers (id),
    absorbed_id uuid NOT NULL REFERENCES identity.customers (id),
    actor text NOT NULL,
    reason text,
    before_state jsonb NOT NULL,
    after_state jsonb NOT NULL,
    reverts bigint UNIQUE REFERENCES identity.merge_log (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((action = 'unmerge') = (reverts IS NOT NULL))
);

CREATE INDEX merge_log_customers ON identity.merge_log (tenant_id, survivor_id, absorbed_id);

-- One normalised identifier of a request.
CREATE TYPE identity.claim AS (identity_type text, identity_value text, verified boolean);

-- Result of resolving one request; outcome 'error' carries the error instead of raising it so
-- that a batch can report a bad row and go on.
CREATE TYPE identity.resolution AS (
    customer_id uuid,
    outcome text,
    sqlstate text,
    message text,
    detail text,
    hint text
);
