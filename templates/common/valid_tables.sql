-- The sources the querying user may query, one row each, derived from the
-- access rules: each rule set's condition is decided once per query, and
-- nothing at all is shown without exactly one profile row.
CREATE OR REPLACE VIEW {{ view }}{{ options }} AS
SELECT DISTINCT r."source"
FROM {{ rules }} AS r
CROSS JOIN (
  SELECT
{% for decision in decisions %}
    {{ decision.expr }} AS {{ decision.name }}{% if not loop.last %},{% endif %}

{% endfor %}
  FROM {{ user_profile }}
) AS me
LEFT JOIN (
  SELECT DISTINCT x."source" FROM {{ approvals }} AS x WHERE x."userid" = {{ current_user }}
) AS a ON a."source" = r."source"
WHERE {{ where }};
{% for grantee in grants %}
GRANT SELECT ON {{ view }} TO {{ grantee }};
{% endfor %}
