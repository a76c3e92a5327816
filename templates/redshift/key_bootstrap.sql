-- The hashing key: made here from the database's random source, once.
-- It never leaves the database; this statement is safe to run again.
INSERT INTO {{ key_table }} ("k")
SELECT SHA2(
  CAST(RANDOM() AS VARCHAR(32)) || CAST(RANDOM() AS VARCHAR(32)) ||
  CAST(RANDOM() AS VARCHAR(32)) || CAST(RANDOM() AS VARCHAR(32)) ||
  CAST(GETDATE() AS VARCHAR(32)), 256)
FROM (SELECT COUNT(*) AS n FROM {{ key_table }}) AS existing
WHERE existing.n = 0;
