{#- The per-user decisions are computed once per query, each an uncorrelated
    scalar subquery. The exactly-one-profile-row rule is one of them rather
    than a join with user_profile: a joined row whose plan carries a subquery
    would keep PostgreSQL from scanning the table with parallel workers. -#}
CREATE OR REPLACE VIEW {{ view }} WITH (security_barrier) AS
SELECT
{% for column in columns %}
  {{ column.expr }} AS {{ column.name }}{% if not loop.last %},{% endif %}

{% endfor %}
FROM {{ table }} AS t
CROSS JOIN (
  SELECT
    (SELECT pg_catalog.count(*) FROM {{ profile }} AS q WHERE q."immuta__userid" = CAST(current_user AS text)) = 1 AS "one_profile"{% if decisions %},{% endif %}

{% for decision in decisions %}
    {{ decision.expr }} AS {{ decision.name }}{% if not loop.last %},{% endif %}

{% endfor %}
) AS me
WHERE me."one_profile"
  AND {{ where }};
{% for grantee in grants %}
GRANT SELECT ON {{ view }} TO {{ grantee }};
{% endfor %}
