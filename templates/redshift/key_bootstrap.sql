-- The hashing key is made by `veil apply` from the operating system's
-- random source and sent as a parameter, only when none exists: Redshift
-- has no cryptographic random function, so this file makes no key. Run by
-- hand, insert one yourself, once, from a random source of your own
-- (64 hex characters, such as the output of `openssl rand -hex 32`):
--   INSERT INTO {{ key_table }} ("k") VALUES ('…');
-- Until then every `hash` mask shows NULL. The key never leaves the
-- database.
SELECT COUNT(*) AS keys FROM {{ key_table }};
