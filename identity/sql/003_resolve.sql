-- The matching flow. identity.resolve_customer is the entry point for applications;
-- identity.resolve_batch runs the same flow over many rows in one round trip.
--
-- Rules (docs/identity.md has the full table):
--   * a match is *strong* when the request marks the identifier verified and the stored
--     identity is verified too; only strong matches link automatically;
--   * no match at all: a new customer with every identifier of the request;
--   * one strongly matched customer: linked; its store profile is created when missing, the
--     request's unclaimed identifiers are attached to it;
--   * several strongly matched customers: the tenant's policy, 'review' (queue the request,
--     link nothing) or 'oldest_verified' (the oldest of them wins);
--   * only weak matches: queued for review, except an exact repeat of what is stored (same
--     identifiers, same verified flags, one customer that already has this store's profile),
--     which returns that customer unchanged so that re-running an import adds nothing.
--
-- Concurrency: every write is guarded by a unique constraint. A request that loses a race
-- (unique_violation), is chosen as a deadlock victim or sees a customer merged under it rolls
-- back its subtransaction and starts again from the lookup, which then sees the winner's rows.
-- Identities are inserted in sorted order, so two requests never wait on each other in a cycle.

-- Checks the store belongs to the tenant.
CREATE FUNCTION identity._check_store(tenant_id uuid, store_id uuid)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF $2 IS NULL THEN
        RAISE EXCEPTION 'store_id is required' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM identity.registry_stores s WHERE s.id = $2 AND s.tenant_id = $1)
    THEN
        RAISE EXCEPTION 'store % does not belong to tenant %', $2, $1
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;

-- Adds a claim to a sorted claims array, keeping it sorted by (type, value) with one entry per
-- identifier (verified if any duplicate says so). Plain array work, no queries: this runs for
-- every identifier of every request.
CREATE FUNCTION identity._add_claim(claims identity.claim[], c identity.claim)
RETURNS identity.claim[]
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    pos int := cardinality($1) + 1;
BEGIN
    WHILE pos > 1 AND (($1[pos - 1]).identity_type, ($1[pos - 1]).identity_value)
                      > ($2.identity_type, $2.identity_value) LOOP
        pos := pos - 1;
    END LOOP;
    IF pos > 1 AND ($1[pos - 1]).identity_type = $2.identity_type
       AND ($1[pos - 1]).identity_value = $2.identity_value THEN
        $1[pos - 1] := ROW($2.identity_type, $2.identity_value,
                           ($1[pos - 1]).verified OR $2.verified)::identity.claim;
        RETURN $1;
    END IF;
    RETURN $1[1:pos - 1] || $2 || $1[pos:];
END
$$;

-- Parses and normalises the identities array of a request into sorted claims.
CREATE FUNCTION identity._claims(settings identity.settings, identities jsonb)
RETURNS identity.claim[]
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    item jsonb;
    verified jsonb;
    claims identity.claim[] := '{}';
BEGIN
    IF $2 IS NULL OR jsonb_typeof($2) <> 'array' OR jsonb_array_length($2) = 0 THEN
        RAISE EXCEPTION 'identities must be a non-empty JSON array of '
                        '{"type", "value", "verified"} objects'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF jsonb_array_length($2) > 50 THEN
        RAISE EXCEPTION 'at most 50 identities per request'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR n IN 0 .. jsonb_array_length($2) - 1 LOOP
        item := $2 -> n;
        IF jsonb_typeof(item) <> 'object'
           OR jsonb_typeof(item -> 'value') NOT IN ('string', 'number') THEN
            RAISE EXCEPTION 'each identity must be an object with a string "value"'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        verified := coalesce(item -> 'verified', 'false');
        IF jsonb_typeof(verified) <> 'boolean' THEN
            RAISE EXCEPTION '"verified" must be true or false'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        claims := identity._add_claim(claims, ROW(item ->> 'type',
                                                  identity._normalize($1, item ->> 'type',
                                                                      item ->> 'value',
                                                                      item ->> 'namespace'),
                                                  verified = 'true')::identity.claim);
    END LOOP;
    RETURN claims;
END
$$;

-- Follows merged_into to the customer that now stands for `customer_id`; NULL if unknown.
CREATE FUNCTION identity.canonical_customer(customer_id uuid)
RETURNS uuid
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH RECURSIVE chain (id, merged_into, depth) AS (
        SELECT c.id, c.merged_into, 0 FROM identity.customers c WHERE c.id = $1
        UNION ALL
        SELECT c.id, c.merged_into, chain.depth + 1
          FROM chain JOIN identity.customers c ON c.id = chain.merged_into
         WHERE chain.depth < 1000
    )
    SELECT id FROM chain WHERE merged_into IS NULL
$$;

-- Who holds each claim now: per claim (same positions as the claims array) the identity row,
-- its customer and its verified flag, NULL when nobody holds it. One index lookup per claim;
-- a set-based join here gets a generic plan that can scan a whole tenant's identities.
CREATE TYPE identity.holders AS (ids uuid[], customers uuid[], verified boolean[]);

CREATE FUNCTION identity._holders(tenant_id uuid, claims identity.claim[])
RETURNS identity.holders
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    c identity.claim;
    held_id uuid;
    held_by uuid;
    held_verified boolean;
    h identity.holders := ROW('{}', '{}', '{}');
BEGIN
    FOREACH c IN ARRAY $2 LOOP
        SELECT i.id, i.customer_id, i.verified INTO held_id, held_by, held_verified
          FROM identity_pii.customer_identities i
         WHERE i.tenant_id = $1 AND i.identity_type = c.identity_type
           AND i.identity_value = c.identity_value;
        h.ids := h.ids || held_id;
        h.customers := h.customers || held_by;
        h.verified := h.verified || held_verified;
    END LOOP;
    RETURN h;
END
$$;

-- Attaches the claims nobody held to the customer, in the claims' sorted order so concurrent
-- requests take unique-index entries in one order (a claim taken meanwhile raises
-- unique_violation and the caller starts over), and marks verified the ones the customer holds
-- unverified when the request verified them.
CREATE FUNCTION identity._attach(customer_id uuid, tenant_id uuid, claims identity.claim[],
                                 holders identity.holders, source text)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    IF array_position(($4).customers, NULL) IS NOT NULL THEN
        INSERT INTO identity_pii.customer_identities
            (tenant_id, customer_id, identity_type, identity_value, verified, source)
        SELECT $2, $1, c.identity_type, c.identity_value, c.verified, $5
          FROM unnest($3) WITH ORDINALITY AS c (identity_type, identity_value, verified, n)
         WHERE ($4).customers[c.n] IS NULL
         ORDER BY c.n;
    END IF;
    FOR n IN 1 .. coalesce(cardinality($3), 0) LOOP
        IF $4.customers[n] = $1 AND ($3[n]).verified AND NOT $4.verified[n] THEN
            UPDATE identity_pii.customer_identities i SET verified = true WHERE i.id = $4.ids[n];
        END IF;
    END LOOP;
END
$$;

-- Links the request to an existing customer: identities and the store profile.
CREATE FUNCTION identity._link(customer_id uuid, tenant_id uuid, store_id uuid,
                               claims identity.claim[], holders identity.holders, source text)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    current_status text;
BEGIN
    -- FOR SHARE keeps a merge from absorbing the customer until this transaction ends.
    SELECT c.status INTO current_status FROM identity.customers c
     WHERE c.id = $1 AND c.tenant_id = $2 FOR SHARE;
    IF current_status IS DISTINCT FROM 'active' THEN
        RAISE EXCEPTION 'customer % was merged or removed concurrently', $1
            USING ERRCODE = 'serialization_failure';
    END IF;
    PERFORM identity._attach($1, $2, $4, $5, $6);
    INSERT INTO identity.customer_profiles (customer_id, store_id) VALUES ($1, $3)
        ON CONFLICT ON CONSTRAINT customer_profiles_customer_id_store_id_key DO NOTHING;
END
$$;

-- Creates a customer with the request's unclaimed identities and its store profile.
CREATE FUNCTION identity._create(tenant_id uuid, store_id uuid, claims identity.claim[],
                                 holders identity.holders, source text)
RETURNS uuid
LANGUAGE plpgsql
AS $$
DECLARE
    new_id uuid;
BEGIN
    INSERT INTO identity.customers (tenant_id) VALUES ($1) RETURNING id INTO new_id;
    PERFORM identity._attach(new_id, $1, $3, $4, $5);
    INSERT INTO identity.customer_profiles (customer_id, store_id) VALUES (new_id, $2);
    RETURN new_id;
END
$$;

-- Key of a request in the review queue: the same store and identifiers give the same key.
CREATE FUNCTION identity._request_key(store_id uuid, claims identity.claim[])
RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
    SELECT md5($1::text || ' ' || array_to_string($2, ' '))
$$;

CREATE FUNCTION identity._claims_json(claims identity.claim[])
RETURNS jsonb
LANGUAGE sql IMMUTABLE
AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_object('type', c.identity_type,
                                                 'value', c.identity_value,
                                                 'verified', c.verified)
                              ORDER BY c.identity_type, c.identity_value), '[]'::jsonb)
      FROM unnest($1) c
$$;

-- The customer a person chose for an identical earlier request (link, merge or new), if any.
CREATE FUNCTION identity._remembered_decision(tenant_id uuid, request_key text)
RETURNS uuid
LANGUAGE sql STABLE
AS $$
    SELECT identity.canonical_customer(q.decided_customer)
      FROM identity_pii.review_queue q
     WHERE q.tenant_id = $1 AND q.request_key = $2 AND q.status = 'decided'
       AND q.decided_customer IS NOT NULL
     ORDER BY q.decided_at DESC
     LIMIT 1
$$;

-- True when linking the request to the customer would change nothing: the customer holds every
-- claim (with the same verified flag when `exact`, else at least as verified) and has the
-- store's profile. Such requests return without locks or writes.
CREATE FUNCTION identity._holds_all(customer_id uuid, store_id uuid, claims identity.claim[],
                                    holders identity.holders, exact boolean)
RETURNS boolean
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    FOR n IN 1 .. cardinality($3) LOOP
        IF $4.customers[n] IS DISTINCT FROM $1
           OR ($3[n]).verified AND NOT $4.verified[n]
           OR $5 AND $4.verified[n] AND NOT ($3[n]).verified THEN
            RETURN false;
        END IF;
    END LOOP;
    RETURN EXISTS (SELECT 1 FROM identity.customer_profiles p
                    WHERE p.customer_id = $1 AND p.store_id = $2);
END
$$;

-- Queues the request for review (once per distinct pending request).
CREATE FUNCTION identity._queue(tenant_id uuid, store_id uuid, claims identity.claim[],
                                candidates uuid[], reason text, source text, request_key text)
RETURNS void
LANGUAGE sql
AS $$
    INSERT INTO identity_pii.review_queue
        (tenant_id, store_id, identities, candidates, reason, source, request_key)
    VALUES ($1, $2, identity._claims_json($3), $4, $5, $6, $7)
    ON CONFLICT (tenant_id, request_key) WHERE status = 'pending' DO NOTHING
$$;

CREATE FUNCTION identity._outcome(customer_id uuid, outcome text)
RETURNS identity.resolution
LANGUAGE sql IMMUTABLE
AS $$
    SELECT ROW($1, $2, NULL, NULL, NULL, NULL)::identity.resolution
$$;

-- One attempt of the matching flow; may raise (the caller retries or reports).
CREATE FUNCTION identity._resolve_attempt(settings identity.settings, store_id uuid,
                                          claims identity.claim[], source text)
RETURNS identity.resolution
LANGUAGE plpgsql
AS $$
DECLARE
    tenant uuid := $1.tenant_id;
    holders identity.holders := identity._holders(tenant, $3);
    strong uuid[] := '{}';
    weak uuid[] := '{}';
    chosen uuid;
    request_key text;
BEGIN
    FOR n IN 1 .. cardinality($3) LOOP
        IF holders.customers[n] IS NULL THEN
            CONTINUE;
        ELSIF ($3[n]).verified AND holders.verified[n] THEN
            IF NOT holders.customers[n] = ANY (strong) THEN
                strong := strong || holders.customers[n];
            END IF;
        ELSIF NOT holders.customers[n] = ANY (weak) THEN
            weak := weak || holders.customers[n];
        END IF;
    END LOOP;
    weak := ARRAY(SELECT w FROM unnest(weak) w WHERE NOT w = ANY (strong) ORDER BY w);
    strong := ARRAY(SELECT s FROM unnest(strong) s ORDER BY s);

    IF strong = '{}' AND weak = '{}' THEN
        RETURN identity._outcome(identity._create(tenant, $2, $3, holders, $4), 'created');
    ELSIF cardinality(strong) = 1 THEN
        chosen := strong[1];
    ELSIF cardinality(strong) > 1 AND $1.match_policy = 'oldest_verified' THEN
        SELECT c.id INTO chosen FROM identity.customers c
         WHERE c.id = ANY (strong) ORDER BY c.created_at, c.id LIMIT 1;
    ELSIF strong = '{}' AND cardinality(weak) = 1
          AND identity._holds_all(weak[1], $2, $3, holders, true) THEN
        RETURN identity._outcome(weak[1], 'linked');
    ELSE
        request_key := identity._request_key($2, $3);
        chosen := identity._remembered_decision(tenant, request_key);
        IF chosen IS NULL THEN
            IF strong = '{}' THEN
                PERFORM identity._queue(tenant, $2, $3, weak,
                                        'matched only through unverified identifiers', $4,
                                        request_key);
            ELSE
                PERFORM identity._queue(tenant, $2, $3, strong,
                                        'verified identifiers of several customers', $4,
                                        request_key);
            END IF;
            RETURN identity._outcome(NULL, 'review');
        END IF;
    END IF;

    IF NOT identity._holds_all(chosen, $2, $3, holders, false) THEN
        PERFORM identity._link(chosen, tenant, $2, $3, holders, $4);
    END IF;
    RETURN identity._outcome(chosen, 'linked');
END
$$;

-- The matching flow with its retry loop. Errors come back as outcome 'error' with their
-- SQLSTATE; losing a race too often comes back as 40001 so the caller can retry later.
CREATE FUNCTION identity._resolve_one(settings identity.settings, store_id uuid,
                                      identities jsonb, source text)
RETURNS identity.resolution
LANGUAGE plpgsql
AS $$
DECLARE
    max_attempts constant int := 10;
    result identity.resolution;
BEGIN
    FOR attempt IN 1 .. max_attempts LOOP
        BEGIN
            IF $4 IS NULL OR $4 = '' OR length($4) > 64 THEN
                RAISE EXCEPTION 'source must be 1 to 64 characters'
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            PERFORM identity._check_store($1.tenant_id, $2);
            RETURN identity._resolve_attempt($1, $2, identity._claims($1, $3), $4);
        EXCEPTION
            WHEN unique_violation OR deadlock_detected OR serialization_failure THEN
                IF attempt = max_attempts THEN
                    GET STACKED DIAGNOSTICS result.detail = MESSAGE_TEXT;
                    result.outcome := 'error';
                    result.sqlstate := '40001';
                    result.message := 'identity resolution kept conflicting with concurrent '
                                      'requests; retry the transaction';
                    RETURN result;
                END IF;
            WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS result.sqlstate = RETURNED_SQLSTATE,
                                        result.message = MESSAGE_TEXT,
                                        result.detail = PG_EXCEPTION_DETAIL,
                                        result.hint = PG_EXCEPTION_HINT;
                result.outcome := 'error';
                RETURN result;
        END;
    END LOOP;
END
$$;

-- Raises the error carried by a resolution, with its detail and hint when it has them.
CREATE FUNCTION identity._raise(r identity.resolution)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    IF r.detail IS NOT NULL AND r.detail <> '' AND r.hint IS NOT NULL AND r.hint <> '' THEN
        RAISE EXCEPTION USING ERRCODE = r.sqlstate, MESSAGE = r.message, DETAIL = r.detail,
                              HINT = r.hint;
    ELSIF r.detail IS NOT NULL AND r.detail <> '' THEN
        RAISE EXCEPTION USING ERRCODE = r.sqlstate, MESSAGE = r.message, DETAIL = r.detail;
    ELSIF r.hint IS NOT NULL AND r.hint <> '' THEN
        RAISE EXCEPTION USING ERRCODE = r.sqlstate, MESSAGE = r.message, HINT = r.hint;
    END IF;
    RAISE EXCEPTION USING ERRCODE = r.sqlstate, MESSAGE = r.message;
END
$$;

-- The matching flow for one request. `identities` is a JSON array of
-- {"type": "email"|"phone"|"external", "value": "...", "verified": true|false}; external ids
-- may give their namespace in the value ("shopify:123") or as "namespace". Returns the
-- customer and the outcome: created, linked, or review (customer_id NULL).
CREATE FUNCTION identity.resolve_customer(tenant_id uuid, store_id uuid, identities jsonb,
                                          source text DEFAULT 'api',
                                          OUT customer_id uuid, OUT outcome text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r identity.resolution := identity._resolve_one(identity.tenant_settings($1), $2, $3, $4);
BEGIN
    IF r.outcome = 'error' THEN
        PERFORM identity._raise(r);
    END IF;
    customer_id := r.customer_id;
    outcome := r.outcome;
END
$$;

-- The matching flow over a JSON array of rows {"store_id": uuid, "identities": [...]}, in
-- order, in the caller's transaction. Bad rows come back with outcome 'error' and their
-- SQLSTATE and message; rows that lost races too often come back as 'retry' (nothing written)
-- and should be sent again in a later transaction.
-- Limitation: one subtransaction per row overflows the backend's subtransaction cache in large
-- batches - other sessions' snapshots get slower while such a batch runs.
CREATE FUNCTION identity.resolve_batch(tenant_id uuid, rows jsonb,
                                       source text DEFAULT 'import')
RETURNS TABLE (ord integer, customer_id uuid, outcome text, sqlstate text, message text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    settings identity.settings := identity.tenant_settings($1);
    item jsonb;
    store text;
    r identity.resolution;
BEGIN
    IF jsonb_typeof($2) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'rows must be a JSON array' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    ord := 0;
    FOR item IN SELECT e FROM jsonb_array_elements($2) AS e LOOP
        ord := ord + 1;
        store := item ->> 'store_id';
        IF store IS NULL OR store !~* '^[0-9a-f]{8}-?([0-9a-f]{4}-?){3}[0-9a-f]{12}$' THEN
            r := ROW(NULL, 'error', '22023', 'store_id must be a uuid', NULL, NULL)
                     ::identity.resolution;
        ELSE
            r := identity._resolve_one(settings, store::uuid, item -> 'identities', $3);
        END IF;
        customer_id := r.customer_id;
        outcome := CASE WHEN r.sqlstate = '40001' THEN 'retry' ELSE r.outcome END;
        sqlstate := r.sqlstate;
        message := r.message;
        RETURN NEXT;
    END LOOP;
END
$$;

-- The customer holding an identifier (normalised with the tenant's rules), or NULL.
CREATE FUNCTION identity.find_customer(tenant_id uuid, identity_type text, value text)
RETURNS uuid
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT i.customer_id FROM identity_pii.customer_identities i
     WHERE i.tenant_id = $1 AND i.identity_type = $2
       AND i.identity_value = identity.normalize_identity($1, $2, $3)
$$;
