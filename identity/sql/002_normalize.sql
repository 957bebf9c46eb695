-- Normalisation of identifiers: the one place every path (resolve, batch import, lookups, the
-- command line) turns raw input into the stored form. Invalid input raises SQLSTATE 22023
-- (invalid_parameter_value) and is never stored half-normalised. Messages never repeat the
-- value itself: it is personal data and error messages end up in server logs.

-- Email: trimmed and lower-cased. With provider rules, the mailbox providers listed in
-- identity.email_providers also ignore dots and/or "+tag" suffixes in the local part.
CREATE FUNCTION identity.normalize_email(value text, provider_rules boolean DEFAULT false)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
DECLARE
    v text := lower(btrim($1, E' \t\r\n'));
    local_part text;
    domain_part text;
    provider identity.email_providers;
    label constant text := '([a-z0-9]|[^\x01-\x7f])'
                           || '(([a-z0-9-]|[^\x01-\x7f])*([a-z0-9]|[^\x01-\x7f]))?';
BEGIN
    IF v IS NULL OR v = '' THEN
        RAISE EXCEPTION 'invalid email address: empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF v !~ '^[^@]+@[^@]+$' THEN
        RAISE EXCEPTION 'invalid email address: exactly one "@" with text on both sides expected'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF v ~ '[[:space:][:cntrl:]"(),:;<>\[\]\\]' THEN
        RAISE EXCEPTION 'invalid email address: contains spaces, quotes or other characters '
                        'not allowed in an address' USING ERRCODE = 'invalid_parameter_value';
    END IF;

    local_part := split_part(v, '@', 1);
    domain_part := split_part(v, '@', 2);
    IF length(local_part) > 64 OR length(v) > 254 THEN
        RAISE EXCEPTION 'invalid email address: longer than 64 characters before "@" or 254 in all'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF local_part ~ '(^\.|\.$|\.\.)' THEN
        RAISE EXCEPTION 'invalid email address: dot at the start or end of the name, or two dots'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Domain: two or more labels of letters, digits and inner hyphens (or non-ASCII letters).
    IF domain_part !~ ('^' || label || '(\.' || label || ')+$') THEN
        RAISE EXCEPTION 'invalid email address: the domain must be a host name like example.com'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    IF provider_rules THEN
        SELECT * INTO provider FROM identity.email_providers p WHERE p.domain = domain_part;
        IF FOUND THEN
            IF provider.strip_plus_tag THEN
                local_part := split_part(local_part, '+', 1);
            END IF;
            IF provider.ignore_dots THEN
                local_part := replace(local_part, '.', '');
            END IF;
            domain_part := provider.canonical_domain;
            IF local_part = '' THEN
                RAISE EXCEPTION 'invalid email address: nothing left of the name without its '
                                '"+tag"' USING ERRCODE = 'invalid_parameter_value';
            END IF;
        END IF;
    END IF;
    RETURN local_part || '@' || domain_part;
END
$$;

-- Phone: E.164 ("+" and 7 to 15 digits). Accepts "+<country><number>", the international call
-- prefixes "00" (and "011" when the default calling code is 1), and national numbers when a
-- default calling code is given: one national trunk prefix is dropped ("0", or "1" in the +1
-- plan; Italy, San Marino and the Vatican keep their leading 0). Spaces, dots, hyphens, slashes
-- and parentheses are separators; anything else (letters, extensions) is refused.
-- Limitation: one generic trunk-prefix rule for national numbers - numbers of countries with
-- other trunk prefixes (8 in Russia, ...) match only when written with "+".
CREATE FUNCTION identity.normalize_phone(value text, default_calling_code text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    v text := btrim($1, E' \t\r\n');
    cc text := nullif(btrim($2), '');
    digits text;
BEGIN
    IF v IS NULL OR v = '' THEN
        RAISE EXCEPTION 'invalid phone number: empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF v !~ '^\+?[0-9 ().\-/]+$' THEN
        RAISE EXCEPTION 'invalid phone number: only digits, one leading "+", spaces, dots, '
                        'hyphens, slashes and parentheses are allowed'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF cc IS NOT NULL AND cc !~ '^[1-9][0-9]{0,2}$' THEN
        RAISE EXCEPTION 'invalid default calling code: 1 to 3 digits, not starting with 0'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    digits := regexp_replace(v, '[^0-9]', '', 'g');
    IF left(v, 1) = '+' THEN
        NULL;
    ELSIF left(digits, 2) = '00' THEN
        digits := substr(digits, 3);
    ELSIF cc = '1' AND left(digits, 3) = '011' THEN
        digits := substr(digits, 4);
    ELSIF cc IS NULL THEN
        RAISE EXCEPTION 'invalid phone number: national number without a country calling code'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'write it as +<country code><number>, or set the tenant''s '
                         'default_calling_code';
    ELSE
        IF cc = '1' AND length(digits) = 11 AND left(digits, 1) = '1' THEN
            digits := substr(digits, 2);
        ELSIF cc NOT IN ('39', '378', '379') AND left(digits, 1) = '0' THEN
            digits := substr(digits, 2);
        END IF;
        digits := cc || digits;
    END IF;

    IF left(digits, 1) = '0' OR digits = '' THEN
        RAISE EXCEPTION 'invalid phone number: country calling codes do not start with 0'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF length(digits) NOT BETWEEN 7 AND 15 THEN
        RAISE EXCEPTION 'invalid phone number: 7 to 15 digits expected including the country '
                        'calling code' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF left(digits, 1) = '1' AND length(digits) <> 11 THEN
        RAISE EXCEPTION 'invalid phone number: numbers in the +1 plan have 10 digits after the 1'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN '+' || digits;
END
$$;

-- External id: "<namespace>:<id>" such as "shopify:123", or the id with its namespace given
-- separately. The namespace is lower-cased; the id is trimmed and otherwise kept as is, since
-- other systems' ids may be case-sensitive.
CREATE FUNCTION identity.normalize_external(value text, namespace text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    v text := btrim($1, E' \t\r\n');
    ns text;
    id text;
BEGIN
    IF $2 IS NOT NULL THEN
        v := btrim($2) || ':' || v;
    END IF;
    IF v IS NULL OR position(':' IN v) <= 1 THEN
        RAISE EXCEPTION 'invalid external id: "<namespace>:<id>" expected, e.g. "shopify:123"'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    ns := lower(btrim(split_part(v, ':', 1)));
    id := btrim(substr(v, position(':' IN v) + 1), E' \t\r\n');
    IF ns !~ '^[a-z][a-z0-9_.-]{0,62}$' THEN
        RAISE EXCEPTION 'invalid external id: the namespace must start with a letter and use '
                        'only a-z, 0-9, "_", "." and "-" (at most 63)'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF id = '' OR length(id) > 255 OR id ~ '[[:space:][:cntrl:]]' THEN
        RAISE EXCEPTION 'invalid external id: the id after the namespace must be 1 to 255 '
                        'characters without spaces' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN ns || ':' || id;
END
$$;

-- A tenant's settings, or the defaults when it has no row. Unknown tenants raise 22023.
CREATE FUNCTION identity.tenant_settings(tenant_id uuid)
RETURNS identity.settings
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s identity.settings;
BEGIN
    SELECT * INTO s FROM identity.settings t WHERE t.tenant_id = $1;
    IF FOUND THEN
        RETURN s;
    END IF;
    IF $1 IS NULL OR NOT EXISTS (SELECT 1 FROM identity.registry_tenants t WHERE t.id = $1) THEN
        RAISE EXCEPTION 'unknown tenant %', $1 USING ERRCODE = 'invalid_parameter_value';
    END IF;
    s.tenant_id := $1;
    s.match_policy := 'review';
    s.email_provider_rules := false;
    RETURN s;
END
$$;

-- Creates or changes a tenant's settings; NULL keeps a setting, '' clears the calling code.
CREATE FUNCTION identity.configure_tenant(tenant_id uuid, match_policy text DEFAULT NULL,
                                          email_provider_rules boolean DEFAULT NULL,
                                          default_calling_code text DEFAULT NULL)
RETURNS identity.settings
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s identity.settings := identity.tenant_settings($1);
BEGIN
    s.match_policy := coalesce($2, s.match_policy);
    s.email_provider_rules := coalesce($3, s.email_provider_rules);
    IF $4 IS NOT NULL THEN
        s.default_calling_code := nullif(ltrim(btrim($4), '+'), '');
    END IF;
    IF s.match_policy NOT IN ('review', 'oldest_verified') THEN
        RAISE EXCEPTION 'invalid match policy: review or oldest_verified expected'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF s.default_calling_code !~ '^[1-9][0-9]{0,2}$' THEN
        RAISE EXCEPTION 'invalid default calling code: 1 to 3 digits, not starting with 0'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO identity.settings AS t (tenant_id, match_policy, email_provider_rules,
                                        default_calling_code, updated_at)
    VALUES (s.tenant_id, s.match_policy, s.email_provider_rules, s.default_calling_code, now())
    ON CONFLICT ON CONSTRAINT settings_pkey DO UPDATE
        SET match_policy = excluded.match_policy,
            email_provider_rules = excluded.email_provider_rules,
            default_calling_code = excluded.default_calling_code,
            updated_at = excluded.updated_at
    RETURNING * INTO s;
    RETURN s;
END
$$;

-- Normalises one identifier with the given settings. Internal: callers pass settings they
-- already read so a batch reads them once.
CREATE FUNCTION identity._normalize(settings identity.settings, identity_type text,
                                    value text, namespace text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    CASE $2
        WHEN 'email' THEN
            RETURN identity.normalize_email($3, $1.email_provider_rules);
        WHEN 'phone' THEN
            RETURN identity.normalize_phone($3, $1.default_calling_code);
        WHEN 'external' THEN
            RETURN identity.normalize_external($3, $4);
        ELSE
            RAISE EXCEPTION 'invalid identity type "%": email, phone or external expected',
                left(coalesce($2, 'null'), 40) USING ERRCODE = 'invalid_parameter_value';
    END CASE;
END
$$;

-- Normalises one identifier with the tenant's settings.
CREATE FUNCTION identity.normalize_identity(tenant_id uuid, identity_type text, value text)
RETURNS text
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT identity._normalize(identity.tenant_settings($1), $2, $3)
$$;
