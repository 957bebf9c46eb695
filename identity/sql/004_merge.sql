-- Merges and unmerges. A merge moves the absorbed customer's identities and store profiles to
-- the survivor and marks it merged; the audit log keeps the full before and after rows so that
-- identity.unmerge can put back exactly what was there.
--
-- Two profiles of the same store become one, the survivor's: its preferences become
-- absorbed.preferences || survivor.preferences (top-level keys; the survivor's value wins).

-- Every row of the given customers, their profiles and their identities (without values),
-- ordered by id.
CREATE FUNCTION identity._state(customer_ids uuid[])
RETURNS jsonb
LANGUAGE sql STABLE
AS $$
    SELECT jsonb_build_object(
        'customers', coalesce((SELECT jsonb_agg(to_jsonb(c) ORDER BY c.id)
                                 FROM identity.customers c WHERE c.id = ANY ($1)), '[]'),
        'profiles', coalesce((SELECT jsonb_agg(to_jsonb(p) ORDER BY p.id)
                                FROM identity.customer_profiles p
                               WHERE p.customer_id = ANY ($1)), '[]'),
        'identities', coalesce((SELECT jsonb_agg(to_jsonb(i) - 'identity_value' ORDER BY i.id)
                                  FROM identity_pii.customer_identities i
                                 WHERE i.customer_id = ANY ($1)), '[]'))
$$;

-- Locks two customers in a fixed order (so merges never deadlock with each other) and checks
-- they can take part in a merge: both exist, differ and belong to one tenant.
CREATE FUNCTION identity._lock_pair(first uuid, second uuid)
RETURNS uuid
LANGUAGE plpgsql
AS $$
DECLARE
    tenants uuid[];
BEGIN
    IF $1 IS NULL OR $2 IS NULL THEN
        RAISE EXCEPTION 'both customers are required' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF $1 = $2 THEN
        RAISE EXCEPTION 'cannot merge customer % with itself', $1
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT array_agg(l.tenant_id) INTO tenants
      FROM (SELECT c.tenant_id FROM identity.customers c
             WHERE c.id IN ($1, $2) ORDER BY c.id FOR UPDATE) l;
    IF coalesce(cardinality(tenants), 0) <> 2 THEN
        RAISE EXCEPTION 'unknown customer %',
            CASE WHEN EXISTS (SELECT 1 FROM identity.customers c WHERE c.id = $1) THEN $2
                 ELSE $1 END
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF tenants[1] <> tenants[2] THEN
        RAISE EXCEPTION 'customers % and % belong to different tenants', $1, $2
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN tenants[1];
END
$$;

-- Merges `absorbed` into `survivor`; returns the audit log id.
CREATE FUNCTION identity.merge_customers(survivor uuid, absorbed uuid,
                                         actor text DEFAULT session_user,
                                         reason text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tenant uuid := identity._lock_pair($1, $2);
    inactive uuid;
    merged_target uuid;
    before_state jsonb;
    audit_id bigint;
BEGIN
    SELECT c.id, c.merged_into INTO inactive, merged_target FROM identity.customers c
     WHERE c.id IN ($1, $2) AND c.status <> 'active' ORDER BY c.id = $1 DESC LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'customer % is already merged into %', inactive, merged_target
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'merge with the customer it was merged into';
    END IF;
    before_state := identity._state(ARRAY[$1, $2]);

    UPDATE identity.customer_profiles s
       SET preferences = a.preferences || s.preferences, updated_at = now()
      FROM identity.customer_profiles a
     WHERE s.customer_id = $1 AND a.customer_id = $2 AND a.store_id = s.store_id;
    DELETE FROM identity.customer_profiles a
     USING identity.customer_profiles s
     WHERE a.customer_id = $2 AND s.customer_id = $1 AND s.store_id = a.store_id;
    UPDATE identity.customer_profiles p SET customer_id = $1, updated_at = now()
     WHERE p.customer_id = $2;
    UPDATE identity_pii.customer_identities i SET customer_id = $1 WHERE i.customer_id = $2;
    UPDATE identity.customers c SET status = 'merged', merged_into = $1, updated_at = now()
     WHERE c.id = $2;
    UPDATE identity.customers c SET updated_at = now() WHERE c.id = $1;

    INSERT INTO identity.merge_log AS l (tenant_id, action, survivor_id, absorbed_id, actor,
                                         reason, before_state, after_state)
    VALUES (tenant, 'merge', $1, $2, coalesce($3, session_user), $4, before_state,
            identity._state(ARRAY[$1, $2]))
    RETURNING l.id INTO audit_id;
    RETURN audit_id;
END
$$;

-- Rows of a recorded state that no longer look as recorded, as "customer <id>, ..."; NULL
-- when all are unchanged.
CREATE FUNCTION identity._changed_rows(state jsonb)
RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT string_agg(x.kind || ' ' || x.id, ', ' ORDER BY x.kind, x.id)
      FROM (SELECT 'customer' AS kind, e ->> 'id' AS id
              FROM jsonb_array_elements($1 -> 'customers') e
             WHERE NOT EXISTS (SELECT 1 FROM identity.customers c
                                WHERE c.id = (e ->> 'id')::uuid AND to_jsonb(c) = e)
            UNION ALL
            SELECT 'profile', e ->> 'id'
              FROM jsonb_array_elements($1 -> 'profiles') e
             WHERE NOT EXISTS (SELECT 1 FROM identity.customer_profiles p
                                WHERE p.id = (e ->> 'id')::uuid AND to_jsonb(p) = e)
            UNION ALL
            SELECT 'identity', e ->> 'id'
              FROM jsonb_array_elements($1 -> 'identities') e
             WHERE NOT EXISTS (SELECT 1 FROM identity_pii.customer_identities i
                                WHERE i.id = (e ->> 'id')::uuid
                                  AND to_jsonb(i) - 'identity_value' = e)) x
$$;

-- Puts back the rows of `prior`: rows that exist only in `later` are removed, the others
-- get their recorded values.
CREATE FUNCTION identity._restore(prior jsonb, later jsonb)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE identity.customers c
       SET status = r.status, merged_into = r.merged_into, created_at = r.created_at,
           updated_at = r.updated_at
      FROM jsonb_populate_recordset(NULL::identity.customers, $1 -> 'customers') r
     WHERE c.id = r.id;

    DELETE FROM identity.customer_profiles p
     WHERE p.id IN (SELECT (e ->> 'id')::uuid FROM jsonb_array_elements($2 -> 'profiles') e)
       AND p.id NOT IN (SELECT (e ->> 'id')::uuid FROM jsonb_array_elements($1 -> 'profiles') e);
    INSERT INTO identity.customer_profiles AS p
    SELECT * FROM jsonb_populate_recordset(NULL::identity.customer_profiles, $1 -> 'profiles')
    ON CONFLICT ON CONSTRAINT customer_profiles_pkey DO UPDATE
        SET customer_id = excluded.customer_id, store_id = excluded.store_id,
            status = excluded.status, preferences = excluded.preferences,
            created_at = excluded.created_at, updated_at = excluded.updated_at;

    UPDATE identity_pii.customer_identities i
       SET customer_id = r.customer_id, verified = r.verified, source = r.source,
           created_at = r.created_at
      FROM jsonb_populate_recordset(NULL::identity_pii.customer_identities,
                                    $1 -> 'identities') r
     WHERE i.id = r.id;
END
$$;

-- Undoes a merge exactly. Refuses (55000) when rows the merge touched changed since, because
-- restoring them would silently throw those changes away; identities and profiles added to the
-- survivor after the merge stay with it. Returns the audit log id of the unmerge.
CREATE FUNCTION identity.unmerge(audit_id bigint, actor text DEFAULT session_user,
                                 reason text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    m identity.merge_log;
    undone_by bigint;
    changed text;
    current_state jsonb;
    new_id bigint;
BEGIN
    SELECT * INTO m FROM identity.merge_log l WHERE l.id = $1 FOR UPDATE;
    IF NOT FOUND OR m.action <> 'merge' THEN
        RAISE EXCEPTION 'audit entry % is not a merge', $1
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT l.id INTO undone_by FROM identity.merge_log l WHERE l.reverts = $1;
    IF FOUND THEN
        RAISE EXCEPTION 'merge % was already undone by audit entry %', $1, undone_by
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    PERFORM identity._lock_pair(m.survivor_id, m.absorbed_id);
    changed := identity._changed_rows(m.after_state);
    IF changed IS NOT NULL THEN
        RAISE EXCEPTION 'cannot unmerge %: rows it touched changed since', $1
            USING ERRCODE = 'object_not_in_prerequisite_state', DETAIL = 'changed: ' || changed,
                  HINT = 'undo later merges of these customers first, newest first';
    END IF;

    current_state := identity._state(ARRAY[m.survivor_id, m.absorbed_id]);
    PERFORM identity._restore(m.before_state, m.after_state);
    INSERT INTO identity.merge_log AS l (tenant_id, action, survivor_id, absorbed_id, actor,
                                         reason, before_state, after_state, reverts)
    VALUES (m.tenant_id, 'unmerge', m.survivor_id, m.absorbed_id, coalesce($2, session_user),
            $3, current_state, identity._state(ARRAY[m.survivor_id, m.absorbed_id]), $1)
    RETURNING l.id INTO new_id;
    RETURN new_id;
END
$$;
