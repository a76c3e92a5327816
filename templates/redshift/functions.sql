{#- Every built-in a body calls is qualified: Redshift resolves a SQL
    function's body when a query calls it, and a user who puts pg_catalog
    after a schema of their own on the search path would otherwise have
    their functions called instead (Redshift's "Preventing UDF naming
    conflicts"). -#}
{% if function == "hash" %}
-- Keyed SHA-256: key, then the source id with its length, then the value.
CREATE OR REPLACE FUNCTION {{ name }}(VARCHAR(64), VARCHAR(65535), VARCHAR(65535))
RETURNS VARCHAR(64)
IMMUTABLE
AS $$
  SELECT pg_catalog.sha2($1 || ':' || CAST(pg_catalog.len($2) AS VARCHAR(10)) || ':' || $2 || ':' || $3, 256)
$$ LANGUAGE sql;
GRANT EXECUTE ON FUNCTION {{ name }}(VARCHAR(64), VARCHAR(65535), VARCHAR(65535)) TO PUBLIC;
{% elif function == "show_first" %}
-- The first n characters, the rest as `*`; short values entirely `*`.
CREATE OR REPLACE FUNCTION {{ name }}(VARCHAR(65535), INTEGER)
RETURNS VARCHAR(65535)
IMMUTABLE
AS $$
  SELECT CASE WHEN pg_catalog.len($1) <= $2 THEN pg_catalog.repeat('*', pg_catalog.len($1))
              ELSE pg_catalog.left($1, $2) || pg_catalog.repeat('*', pg_catalog.len($1) - $2) END
$$ LANGUAGE sql;
GRANT EXECUTE ON FUNCTION {{ name }}(VARCHAR(65535), INTEGER) TO PUBLIC;
{% elif function == "show_last" %}
-- The last n characters, the rest as `*`; short values entirely `*`.
CREATE OR REPLACE FUNCTION {{ name }}(VARCHAR(65535), INTEGER)
RETURNS VARCHAR(65535)
IMMUTABLE
AS $$
  SELECT CASE WHEN pg_catalog.len($1) <= $2 THEN pg_catalog.repeat('*', pg_catalog.len($1))
              ELSE pg_catalog.repeat('*', pg_catalog.len($1) - $2) || pg_catalog.right($1, $2) END
$$ LANGUAGE sql;
GRANT EXECUTE ON FUNCTION {{ name }}(VARCHAR(65535), INTEGER) TO PUBLIC;
{% elif function == "show" %}
-- The first and the last characters, every other one as the mask
-- character; a value with nothing left to hide entirely masked.
CREATE OR REPLACE FUNCTION {{ name }}(VARCHAR(65535), INTEGER, INTEGER, VARCHAR(1))
RETURNS VARCHAR(65535)
IMMUTABLE
AS $$
  SELECT CASE WHEN pg_catalog.len($1) <= $2 + $3 THEN pg_catalog.repeat($4, pg_catalog.len($1))
              ELSE pg_catalog.left($1, $2) || pg_catalog.repeat($4, pg_catalog.len($1) - $2 - $3) || pg_catalog.right($1, $3) END
$$ LANGUAGE sql;
GRANT EXECUTE ON FUNCTION {{ name }}(VARCHAR(65535), INTEGER, INTEGER, VARCHAR(1)) TO PUBLIC;
{% elif function == "sample" %}
-- A stable bucket from 0 to 9999 for a value: the first 32 bits of its MD5,
-- as on PostgreSQL, so a sample keeps the same rows on both.
CREATE OR REPLACE FUNCTION {{ name }}(VARCHAR(65535))
RETURNS INTEGER
IMMUTABLE
AS $$
  SELECT CAST(pg_catalog.mod(pg_catalog.strtol(pg_catalog.substring(pg_catalog.md5($1), 1, 8), 16), 10000) AS INTEGER)
$$ LANGUAGE sql;
GRANT EXECUTE ON FUNCTION {{ name }}(VARCHAR(65535)) TO PUBLIC;
{% endif %}
