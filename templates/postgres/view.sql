CREATE OR REPLACE VIEW {{ view }} WITH (security_barrier) AS
SELECT
{% for column in columns %}
  {{ column.expr }} AS {{ column.name }}{% if not loop.last %},{% endif %}

{% endfor %}
FROM {{ table }} AS t
CROSS JOIN (
  SELECT
{% for decision in decisions %}
    {{ decision.expr }} AS {{ decision.name }}{% if not loop.last %},{% endif %}

{% endfor %}
  FROM {{ user_profile }}
) AS me
WHERE {{ where }};
{% for grantee in grants %}
GRANT SELECT ON {{ view }} TO {{ grantee }};
{% endfor %}
