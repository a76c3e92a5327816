CREATE SCHEMA IF NOT EXISTS {{ schema }};
REVOKE ALL ON SCHEMA {{ schema }} FROM PUBLIC;
{% for grantee in usage %}
GRANT USAGE ON SCHEMA {{ schema }} TO {{ grantee }};
{% endfor %}
