-- Decisions on the review queue. A decision is remembered: an identical request later
-- (same store, same identifiers) links to the chosen customer instead of queueing again.
--   link     attach the request's unclaimed identifiers and store profile to `customer`
--   merge    merge every other candidate into `customer` (audited merges), then link
--   new      a new customer with the request's unclaimed identifiers
--   dismiss  close the item; nothing is linked and an identical request is queued again

-- The active customer standing for `customer` in the tenant, or an error.
CREATE FUNCTION identity._decision_customer(tenant_id uuid, customer uuid)
RETURNS uuid
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    found_id uuid;
BEGIN
    IF $2 IS NULL THEN
        RAISE EXCEPTION 'this decision needs a customer' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT c.id INTO found_id FROM identity.customers c
     WHERE c.id = identity.canonical_customer($2) AND c.tenant_id = $1;
    IF found_id IS NULL THEN
        RAISE EXCEPTION 'customer % is not a customer of tenant %', $2, $1
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN found_id;
END
$$;

-- Merges every active candidate other than the survivor into it.
CREATE FUNCTION identity._merge_candidates(survivor uuid, candidates uuid[], actor text,
                                           reason text)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    other uuid;
BEGIN
    IF NOT $1 = ANY (ARRAY(SELECT identity.canonical_customer(c) FROM unnest($2) c)) THEN
        RAISE EXCEPTION 'customer % is not one of the candidates of this review item', $1
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR other IN SELECT DISTINCT identity.canonical_customer(c) AS id FROM unnest($2) c
                  ORDER BY 1 LOOP
        IF other IS NOT NULL AND other <> $1 THEN
            PERFORM identity.merge_customers($1, other, $3, $4);
        END IF;
    END LOOP;
END
$$;

-- Decides a pending review item; returns the customer the request now belongs to (NULL when
-- dismissed) and the outcome: linked, merged, created or dismissed.
CREATE FUNCTION identity.review_decide(review_id bigint, decision text,
                                       customer uuid DEFAULT NULL,
                                       actor text DEFAULT session_user, note text DEFAULT NULL,
                                       OUT customer_id uuid, OUT outcome text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    q identity_pii.review_queue;
    claims identity.claim[];
    who text := coalesce($4, session_user);
BEGIN
    SELECT * INTO q FROM identity_pii.review_queue r WHERE r.id = $1 FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no review item %', $1 USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF q.status <> 'pending' THEN
        RAISE EXCEPTION 'review item % was already decided (%)', $1, q.decision
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    claims := ARRAY(SELECT ROW(e ->> 'type', e ->> 'value', (e ->> 'verified')::boolean)
                           ::identity.claim
                      FROM jsonb_array_elements(q.identities) e);

    CASE $2
        WHEN 'link' THEN
            customer_id := identity._decision_customer(q.tenant_id, $3);
            PERFORM identity._link(customer_id, q.tenant_id, q.store_id, claims,
                                  identity._holders(q.tenant_id, claims), 'review');
            outcome := 'linked';
        WHEN 'merge' THEN
            customer_id := identity._decision_customer(q.tenant_id, $3);
            PERFORM identity._merge_candidates(customer_id, q.candidates, who,
                                               format('review %s: %s', $1, coalesce($5, '')));
            PERFORM identity._link(customer_id, q.tenant_id, q.store_id, claims,
                                  identity._holders(q.tenant_id, claims), 'review');
            outcome := 'merged';
        WHEN 'new' THEN
            customer_id := identity._create(q.tenant_id, q.store_id, claims,
                                           identity._holders(q.tenant_id, claims), 'review');
            outcome := 'created';
        WHEN 'dismiss' THEN
            outcome := 'dismissed';
        ELSE
            RAISE EXCEPTION 'invalid decision: link, merge, new or dismiss expected'
                USING ERRCODE = 'invalid_parameter_value';
    END CASE;

    UPDATE identity_pii.review_queue r
       SET status = 'decided', decision = $2, decided_customer = customer_id,
           decided_by = who, decided_at = now(), note = $5
     WHERE r.id = $1;
END
$$;
