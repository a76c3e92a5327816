-- The rule set of every source an access rule covers, from the policies:
-- the valid tables view reads it.
DELETE FROM {{ rules }};
