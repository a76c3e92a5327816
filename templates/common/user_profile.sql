-- The querying user's own profile row; no row at all unless exactly one.
CREATE OR REPLACE VIEW {{ view }}{{ options }} AS
SELECT
{% for column in columns %}
  p.{{ column }}{% if not loop.last %},{% endif %}

{% endfor %}
FROM {{ profile }} AS p
WHERE p."immuta__userid" = {{ current_user }}
  AND (SELECT pg_catalog.count(*) FROM {{ profile }} AS q WHERE q."immuta__userid" = {{ current_user }}) = 1;
{% for grantee in grants %}
GRANT SELECT ON {{ view }} TO {{ grantee }};
{% endfor %}
