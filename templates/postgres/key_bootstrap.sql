-- The hashing key, made from the database's cryptographic random source,
-- once; it never leaves the database, and this statement is safe to run
-- again. (`veil apply` sends a key of its own instead, made from the
-- operating system's random source.)
INSERT INTO {{ key_table }} ("k")
SELECT pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(CAST(pg_catalog.gen_random_uuid() AS text) || CAST(pg_catalog.gen_random_uuid() AS text), 'UTF8')), 'hex')
FROM (SELECT pg_catalog.count(*) AS n FROM {{ key_table }}) AS existing
WHERE existing.n = 0;
