{% if function == "hash" %}
-- Keyed SHA-256: key, then the source id with its length, then the value.
CREATE OR REPLACE FUNCTION {{ name }}(text, text, text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
  SELECT encode(sha256(convert_to($1 || ':' || length($2)::text || ':' || $2 || ':' || $3, 'UTF8')), 'hex')
$$;
GRANT EXECUTE ON FUNCTION {{ name }}(text, text, text) TO PUBLIC;
{% elif function == "show_first" %}
-- The first n characters, the rest as `*`; short values entirely `*`.
CREATE OR REPLACE FUNCTION {{ name }}(text, integer)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
  SELECT CASE WHEN length($1) <= $2 THEN repeat('*', length($1))
              ELSE left($1, $2) || repeat('*', length($1) - $2) END
$$;
GRANT EXECUTE ON FUNCTION {{ name }}(text, integer) TO PUBLIC;
{% elif function == "show_last" %}
-- The last n characters, the rest as `*`; short values entirely `*`.
CREATE OR REPLACE FUNCTION {{ name }}(text, integer)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
  SELECT CASE WHEN length($1) <= $2 THEN repeat('*', length($1))
              ELSE repeat('*', length($1) - $2) || right($1, $2) END
$$;
GRANT EXECUTE ON FUNCTION {{ name }}(text, integer) TO PUBLIC;
{% elif function == "sample" %}
-- A stable bucket from 0 to 9999 for a value.
CREATE OR REPLACE FUNCTION {{ name }}(text)
RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
  SELECT ((('x' || substr(md5($1), 1, 8))::bit(32)::bigint) % 10000)::integer
$$;
GRANT EXECUTE ON FUNCTION {{ name }}(text) TO PUBLIC;
{% endif %}
