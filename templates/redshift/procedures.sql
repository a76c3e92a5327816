{% if procedure == "delete" %}
-- Removes one user's profile row (for identity tools between applies).
CREATE OR REPLACE PROCEDURE {{ name }}(p_user VARCHAR(128))
AS $$
BEGIN
{% for table in side_tables %}
  DELETE FROM {{ table }} WHERE "userid" = p_user;
{% endfor %}
  DELETE FROM {{ profile }} WHERE "immuta__userid" = p_user;
END;
$$ LANGUAGE plpgsql
SECURITY DEFINER
SET search_path TO pg_catalog;
REVOKE ALL ON PROCEDURE {{ name }}(VARCHAR(128)) FROM PUBLIC;
{% else %}
-- Replaces one user's profile row (for identity tools between applies).
-- Lists are JSON arrays of strings; attributes a JSON array of [key, value].
CREATE OR REPLACE PROCEDURE {{ name }}(
  p_user VARCHAR(128), p_groups VARCHAR(65535), p_attributes VARCHAR(65535),
  p_projects VARCHAR(65535), p_current_project VARCHAR(1024),
  p_purposes VARCHAR(65535), p_approved VARCHAR(65535))
AS $$
DECLARE
  i INTEGER;
  pair VARCHAR(65535);
BEGIN
  -- Redshift does not document how its JSON functions read escapes
  -- (`\"`, `\\`, `\u…`): a list holding one is refused rather than
  -- read wrongly. Names with quotes, backslashes or control characters are
  -- written by `veil apply` from identities.yaml instead.
  IF POSITION('\\' IN COALESCE(p_groups, '') || COALESCE(p_attributes, '') || COALESCE(p_projects, '')
                    || COALESCE(p_purposes, '') || COALESCE(p_approved, '')) > 0 THEN
    RAISE EXCEPTION 'a list holds an escaped character, which this procedure does not read; let veil apply write this user';
  END IF;
  CALL {{ delete }}(p_user);
  INSERT INTO {{ profile }} ("immuta__userid", "groups", "attributes", "projects", "current_project", "purposes", "approved", "updated_at")
  VALUES (p_user, p_groups, p_attributes, p_projects, p_current_project, p_purposes, p_approved, GETDATE());
  FOR i IN 0 .. JSON_ARRAY_LENGTH(p_groups) - 1 LOOP
    INSERT INTO {{ groups }} ("userid", "name") VALUES (p_user, JSON_EXTRACT_ARRAY_ELEMENT_TEXT(p_groups, i));
  END LOOP;
  FOR i IN 0 .. JSON_ARRAY_LENGTH(p_attributes) - 1 LOOP
    pair := JSON_EXTRACT_ARRAY_ELEMENT_TEXT(p_attributes, i);
    INSERT INTO {{ attributes }} ("userid", "key", "value")
    VALUES (p_user, JSON_EXTRACT_ARRAY_ELEMENT_TEXT(pair, 0), JSON_EXTRACT_ARRAY_ELEMENT_TEXT(pair, 1));
  END LOOP;
  FOR i IN 0 .. JSON_ARRAY_LENGTH(p_purposes) - 1 LOOP
    INSERT INTO {{ purposes }} ("userid", "name") VALUES (p_user, JSON_EXTRACT_ARRAY_ELEMENT_TEXT(p_purposes, i));
  END LOOP;
  FOR i IN 0 .. JSON_ARRAY_LENGTH(p_approved) - 1 LOOP
    INSERT INTO {{ approvals }} ("userid", "source") VALUES (p_user, JSON_EXTRACT_ARRAY_ELEMENT_TEXT(p_approved, i));
  END LOOP;
END;
$$ LANGUAGE plpgsql
SECURITY DEFINER
SET search_path TO pg_catalog;
REVOKE ALL ON PROCEDURE {{ name }}(VARCHAR(128), VARCHAR(65535), VARCHAR(65535), VARCHAR(65535), VARCHAR(1024), VARCHAR(65535), VARCHAR(65535)) FROM PUBLIC;
{% endif %}
