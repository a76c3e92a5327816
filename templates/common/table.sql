CREATE TABLE IF NOT EXISTS {{ table }} (
{% for column in columns %}
  {{ column.name }} {{ column.type }}{% if column.not_null %} NOT NULL{% endif %},
{% endfor %}
  PRIMARY KEY ({{ primary_key }})
{% block options %});
{% endblock %}
REVOKE ALL ON {{ table }} FROM PUBLIC;
