{#- SQL-standard bodies (`RETURN …`) are parsed when the function is
    created, so every name in them is bound then, never looked up through
    the caller's search path; PostgreSQL can still inline them. -#}
{% if function == "hash" %}
-- Keyed SHA-256: key, then the source id with its length, then the value.
CREATE OR REPLACE FUNCTION {{ name }}(text, text, text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to($1 || ':' || CAST(pg_catalog.length($2) AS text) || ':' || $2 || ':' || $3, 'UTF8')), 'hex');
GRANT EXECUTE ON FUNCTION {{ name }}(text, text, text) TO PUBLIC;
{% elif function == "show_first" %}
-- The first n characters, the rest as `*`; short values entirely `*`.
CREATE OR REPLACE FUNCTION {{ name }}(text, integer)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN CASE WHEN pg_catalog.length($1) <= $2 THEN pg_catalog.repeat('*', pg_catalog.length($1))
            ELSE pg_catalog.left($1, $2) || pg_catalog.repeat('*', pg_catalog.length($1) - $2) END;
GRANT EXECUTE ON FUNCTION {{ name }}(text, integer) TO PUBLIC;
{% elif function == "show_last" %}
-- The last n characters, the rest as `*`; short values entirely `*`.
CREATE OR REPLACE FUNCTION {{ name }}(text, integer)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN CASE WHEN pg_catalog.length($1) <= $2 THEN pg_catalog.repeat('*', pg_catalog.length($1))
            ELSE pg_catalog.repeat('*', pg_catalog.length($1) - $2) || pg_catalog.right($1, $2) END;
GRANT EXECUTE ON FUNCTION {{ name }}(text, integer) TO PUBLIC;
{% elif function == "show" %}
-- The first and the last characters, every other one as the mask
-- character; a value with nothing left to hide entirely masked.
CREATE OR REPLACE FUNCTION {{ name }}(text, integer, integer, text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN CASE WHEN pg_catalog.length($1) <= $2 + $3 THEN pg_catalog.repeat($4, pg_catalog.length($1))
            ELSE pg_catalog.left($1, $2) || pg_catalog.repeat($4, pg_catalog.length($1) - $2 - $3) || pg_catalog.right($1, $3) END;
GRANT EXECUTE ON FUNCTION {{ name }}(text, integer, integer, text) TO PUBLIC;
{% elif function == "sample" %}
-- A stable bucket from 0 to 9999 for a value: the first 32 bits of its MD5,
-- as on Redshift, so a sample keeps the same rows on both.
CREATE OR REPLACE FUNCTION {{ name }}(text)
RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN CAST(CAST(CAST('x' || pg_catalog.substr(pg_catalog.md5($1), 1, 8) AS bit(32)) AS bigint) % 10000 AS integer);
GRANT EXECUTE ON FUNCTION {{ name }}(text) TO PUBLIC;
{% endif %}
