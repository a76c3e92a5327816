{% if procedure == "delete" %}
-- Removes one user's profile row (for identity tools between applies).
CREATE OR REPLACE PROCEDURE {{ name }}(p_user text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
{% for table in side_tables %}
  DELETE FROM {{ table }} WHERE "userid" = p_user;
{% endfor %}
  DELETE FROM {{ profile }} WHERE "immuta__userid" = p_user;
END
$$;
REVOKE ALL ON PROCEDURE {{ name }}(text) FROM PUBLIC;
{% else %}
-- Replaces one user's profile row (for identity tools between applies).
-- Lists are JSON arrays of strings; attributes a JSON array of [key, value].
CREATE OR REPLACE PROCEDURE {{ name }}(
  p_user text, p_groups text, p_attributes text, p_projects text,
  p_current_project text, p_purposes text, p_approved text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  CALL {{ delete }}(p_user);
  INSERT INTO {{ profile }} ("immuta__userid", "groups", "attributes", "projects", "current_project", "purposes", "approved", "updated_at")
  VALUES (p_user, p_groups, p_attributes, p_projects, p_current_project, p_purposes, p_approved, CURRENT_TIMESTAMP);
  INSERT INTO {{ groups }} ("userid", "name")
  SELECT DISTINCT p_user, v FROM json_array_elements_text(p_groups::json) AS v;
  INSERT INTO {{ attributes }} ("userid", "key", "value")
  SELECT DISTINCT p_user, pair->>0, pair->>1 FROM json_array_elements(p_attributes::json) AS pair;
  INSERT INTO {{ purposes }} ("userid", "name")
  SELECT DISTINCT p_user, v FROM json_array_elements_text(p_purposes::json) AS v;
  INSERT INTO {{ approvals }} ("userid", "source")
  SELECT DISTINCT p_user, v FROM json_array_elements_text(p_approved::json) AS v;
END
$$;
REVOKE ALL ON PROCEDURE {{ name }}(text, text, text, text, text, text, text) FROM PUBLIC;
{% endif %}
