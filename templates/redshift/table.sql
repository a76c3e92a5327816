{#- Redshift copies the small tables to every node and sorts by the key. -#}
{% extends "common/table" %}
{% block options %})
DISTSTYLE ALL
SORTKEY ({{ sort_key }});
{% endblock %}
