-- The hashing key: made here from the database's random source, once.
-- It never leaves the database; this statement is safe to run again.
INSERT INTO {{ key_table }} ("k")
SELECT encode(sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8')), 'hex')
FROM (SELECT COUNT(*) AS n FROM {{ key_table }}) AS existing
WHERE existing.n = 0;
