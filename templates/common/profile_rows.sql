-- Every user's profile, from identities.yaml: the only source of truth.
{% for table in side_tables %}
DELETE FROM {{ table }};
{% endfor %}
DELETE FROM {{ profile }};
