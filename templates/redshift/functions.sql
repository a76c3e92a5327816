{% if function == "hash" %}
-- Keyed SHA-256: key, then the source id with its length, then the value.
CREATE OR REPLACE FUNCTION {{ name }}(VARCHAR(64), VARCHAR(65535), VARCHAR(65535))
RETURNS VARCHAR(64)
IMMUTABLE
AS $$
  SELECT SHA2($1 || ':' || CAST(LEN($2) AS VARCHAR(10)) || ':' || $2 || ':' || $3, 256)
$$ LANGUAGE sql;
GRANT EXECUTE ON FUNCTION {{ name }}(VARCHAR(64), VARCHAR(65535), VARCHAR(65535)) TO PUBLIC;
{% elif function == "show_first" %}
-- The first n characters, the rest as `*`; short values entirely `*`.
CREATE OR REPLACE FUNCTION {{ name }}(VARCHAR(65535), INTEGER)
RETURNS VARCHAR(65535)
IMMUTABLE
AS $$
  SELECT CASE WHEN LEN($1) <= $2 THEN REPEAT('*', LEN($1))
              ELSE LEFT($1, $2) || REPEAT('*', LEN($1) - $2) END
$$ LANGUAGE sql;
GRANT EXECUTE ON FUNCTION {{ name }}(VARCHAR(65535), INTEGER) TO PUBLIC;
{% elif function == "show_last" %}
-- The last n characters, the rest as `*`; short values entirely `*`.
CREATE OR REPLACE FUNCTION {{ name }}(VARCHAR(65535), INTEGER)
RETURNS VARCHAR(65535)
IMMUTABLE
AS $$
  SELECT CASE WHEN LEN($1) <= $2 THEN REPEAT('*', LEN($1))
              ELSE REPEAT('*', LEN($1) - $2) || RIGHT($1, $2) END
$$ LANGUAGE sql;
GRANT EXECUTE ON FUNCTION {{ name }}(VARCHAR(65535), INTEGER) TO PUBLIC;
{% elif function == "sample" %}
-- A stable bucket from 0 to 9999 for a value.
CREATE OR REPLACE FUNCTION {{ name }}(VARCHAR(65535))
RETURNS INTEGER
IMMUTABLE
AS $$
  SELECT CAST(MOD(MOD(FNV_HASH($1), 10000) + 10000, 10000) AS INTEGER)
$$ LANGUAGE sql;
GRANT EXECUTE ON FUNCTION {{ name }}(VARCHAR(65535)) TO PUBLIC;
{% endif %}
