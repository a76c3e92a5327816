//! PostgreSQL: the common SQL, with its own settings and timeouts.

use super::{STATEMENT_TIMEOUT_MS, SqlDialect, builtin};
use crate::types::{SqlType, TypeKind};

pub struct Postgres;

impl SqlDialect for Postgres {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn acts_as_users(&self) -> bool {
        true
    }

    fn max_name_bytes(&self) -> usize {
        63
    }

    /// An escape string reads the same whatever
    /// `standard_conforming_strings` is set to.
    fn backslash_prefix(&self) -> &'static str {
        "E"
    }

    /// A view a user's functions and operators cannot see past.
    fn view_options(&self) -> &'static str {
        " WITH (security_barrier)"
    }

    fn max_varchar(&self) -> u32 {
        10_485_760
    }

    fn own_types(&self) -> &'static [&'static str] {
        &["uuid", "json", "jsonb", "bytea"]
    }

    fn canonical_text(&self, value: &str, ty: &SqlType) -> String {
        match ty.kind {
            TypeKind::Date => format!(
                "CASE WHEN {}({value}) THEN CAST({value} - DATE '2000-01-01' AS text) ELSE CAST({value} AS text) END",
                builtin("isfinite")
            ),
            TypeKind::Timestamp | TypeKind::TimestampTz => {
                format!("CAST(EXTRACT(EPOCH FROM {value}) AS text)")
            }
            TypeKind::Real | TypeKind::Double => {
                format!("CAST(CAST({value} AS numeric) AS text)")
            }
            TypeKind::Other if ty.sql == "bytea" => {
                format!("{}({value}, 'hex')", builtin("encode"))
            }
            _ => format!("CAST({value} AS text)"),
        }
    }

    fn display_text(&self, value: &str, ty: &SqlType, zone: &str) -> Option<String> {
        Some(match ty.kind {
            // JSON's form of a date or time is ISO 8601 whatever the
            // session's settings (`infinity` and `BC` included).
            TypeKind::Date | TypeKind::Timestamp => json_text(value),
            TypeKind::TimestampTz => json_text(&format!("({value} AT TIME ZONE {zone})")),
            // A float's numeric value has DBL_DIG (FLT_DIG) digits, whatever
            // `extra_float_digits` says.
            TypeKind::Real | TypeKind::Double => {
                format!("CAST(CAST({value} AS numeric) AS text)")
            }
            _ => return None,
        })
    }

    /// `date_trunc` of a date is a timestamp: the mask's value is the
    /// column's type. Values the conversions cannot carry (a date beyond
    /// the last timestamp, an instant at the edge of the range) are masked
    /// entirely.
    fn truncate(&self, value: &str, unit: &str, kind: TypeKind, zone: &str) -> String {
        let trunc = builtin("date_trunc");
        match kind {
            TypeKind::Date => format!(
                "CASE WHEN {value} < DATE '294276-01-01' THEN CAST({trunc}('{unit}', CAST({value} AS timestamp)) AS date) END"
            ),
            TypeKind::TimestampTz => format!(
                "CASE WHEN {value} > TIMESTAMPTZ '4713-01-01 00:00:00+00 BC' AND {value} < TIMESTAMPTZ '294276-12-01 00:00:00+00' THEN ({trunc}('{unit}', {value} AT TIME ZONE {zone}) AT TIME ZONE {zone}) END"
            ),
            _ => format!("{trunc}('{unit}', {value})"),
        }
    }

    fn session_settings(&self, zone: &str) -> String {
        format!(
            "SET search_path = pg_catalog, pg_temp;\nSET statement_timeout = {STATEMENT_TIMEOUT_MS};\nSET TimeZone = {zone};\n\
             SET DateStyle = 'ISO, MDY';\nSET IntervalStyle = 'postgres';\nSET extra_float_digits = 1;\n\
             SET bytea_output = 'hex';\nSET standard_conforming_strings = on;"
        )
    }

    /// PostgreSQL bounds the wait for a lock itself.
    fn lock_timeout(&self, ms: u128, end: bool) -> String {
        if end {
            String::new()
        } else {
            format!("SET LOCAL lock_timeout = {ms};")
        }
    }

    fn advisory_lock(&self, key: i64) -> Option<String> {
        Some(format!("SELECT pg_catalog.pg_advisory_xact_lock({key});"))
    }

    fn catalog_query(&self, ours: &str) -> String {
        format!(
            "WITH rel AS (
               SELECT c.oid, c.relowner, c.relacl, c.reloptions, c.relrowsecurity, c.relkind,
                      CASE c.relkind WHEN 'v' THEN 'view' ELSE 'table' END AS kind,
                      n.nspname || '.' || c.relname AS name
                 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname {ours} AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
             ), pro AS (
               SELECT p.oid, p.proowner, p.proacl, p.prokind,
                      CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END AS kind,
                      n.nspname || '.' || p.proname AS name
                 FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
                WHERE n.nspname {ours}
             ), grantee AS (
               SELECT 0::oid AS oid, 'PUBLIC' AS name
               UNION ALL SELECT r.oid, r.rolname::text FROM pg_catalog.pg_roles r
             )
             SELECT 'schema', n.nspname::text, 'owner', pg_catalog.pg_get_userbyid(n.nspowner)::text
               FROM pg_catalog.pg_namespace n WHERE n.nspname {ours}
             UNION ALL
             SELECT 'schema', n.nspname::text, 'grant', g.name || ' ' || a.privilege_type
               FROM pg_catalog.pg_namespace n
               CROSS JOIN LATERAL pg_catalog.aclexplode(COALESCE(n.nspacl, pg_catalog.acldefault('n', n.nspowner))) a
               JOIN grantee g ON g.oid = a.grantee
              WHERE n.nspname {ours} AND a.grantee <> n.nspowner
             UNION ALL
             SELECT kind, name, 'owner', pg_catalog.pg_get_userbyid(relowner)::text FROM rel
             UNION ALL
             SELECT r.kind, r.name, 'grant', g.name || ' ' || a.privilege_type
               FROM rel r
               CROSS JOIN LATERAL pg_catalog.aclexplode(COALESCE(r.relacl, pg_catalog.acldefault('r', r.relowner))) a
               JOIN grantee g ON g.oid = a.grantee
              WHERE a.grantee <> r.relowner
             UNION ALL
             SELECT r.kind, r.name, 'grant', g.name || ' ' || a.privilege_type || ' (' || t.attname || ')'
               FROM rel r
               JOIN pg_catalog.pg_attribute t ON t.attrelid = r.oid AND t.attnum > 0 AND NOT t.attisdropped
               CROSS JOIN LATERAL pg_catalog.aclexplode(t.attacl) a
               JOIN grantee g ON g.oid = a.grantee
              WHERE a.grantee <> r.relowner
             UNION ALL
             SELECT r.kind, r.name, 'option', o FROM rel r CROSS JOIN LATERAL pg_catalog.unnest(r.reloptions) o
             UNION ALL
             SELECT kind, name, 'option', 'row level security' FROM rel WHERE relrowsecurity
             UNION ALL
             SELECT r.kind, r.name, 'option', 'rule ' || w.rulename
               FROM rel r JOIN pg_catalog.pg_rewrite w ON w.ev_class = r.oid WHERE w.rulename <> '_RETURN'
             UNION ALL
             SELECT r.kind, r.name, 'option', 'trigger ' || t.tgname
               FROM rel r JOIN pg_catalog.pg_trigger t ON t.tgrelid = r.oid WHERE NOT t.tgisinternal
             UNION ALL
             SELECT r.kind, r.name, 'definition',
                    pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(w.ev_action::text, 'UTF8')), 'hex')
               FROM rel r JOIN pg_catalog.pg_rewrite w ON w.ev_class = r.oid AND w.rulename = '_RETURN'
             UNION ALL
             SELECT kind, name, 'owner', pg_catalog.pg_get_userbyid(proowner)::text FROM pro
             UNION ALL
             SELECT p.kind, p.name, 'grant', g.name || ' ' || a.privilege_type
               FROM pro p
               CROSS JOIN LATERAL pg_catalog.aclexplode(COALESCE(p.proacl, pg_catalog.acldefault('f', p.proowner))) a
               JOIN grantee g ON g.oid = a.grantee
              WHERE a.grantee <> p.proowner
             UNION ALL
             SELECT kind, name, 'definition',
                    pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(pg_catalog.pg_get_functiondef(oid), 'UTF8')), 'hex')
               FROM pro
             UNION ALL
             SELECT kind, name, 'signature', CAST(oid::pg_catalog.regprocedure AS text) FROM pro"
        )
    }

    fn key_query(&self, table: &str) -> String {
        format!(
            "SELECT CAST(pg_catalog.count(*) AS text),
                    pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(COALESCE(pg_catalog.string_agg(k.\"k\", ',' ORDER BY k.\"k\"), ''), 'UTF8')), 'hex')
               FROM {table} AS k"
        )
    }

    fn columns_query(&self, wanted: &str) -> String {
        format!(
            "SELECT CAST(pg_catalog.current_database() AS text), n.nspname, c.relname, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), NULL::int4, NULL::int4, NULL::int4
               FROM pg_catalog.pg_attribute a
               JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE a.attnum > 0 AND NOT a.attisdropped AND (n.nspname || '.' || c.relname) {wanted}"
        )
    }

    fn grants_query(&self, wanted: &str) -> String {
        format!(
            "SELECT n.nspname, c.relname,
                    CASE WHEN a.grantee = 0 THEN 'public' ELSE 'role' END,
                    COALESCE(r.rolname, ''), a.privilege_type, o.rolname, CAST(NULL AS text)
               FROM pg_catalog.pg_class c
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
               JOIN pg_catalog.pg_roles o ON o.oid = c.relowner
               CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) a
               LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
              WHERE (n.nspname || '.' || c.relname) {wanted} AND a.grantee <> c.relowner
             UNION ALL
             SELECT n.nspname, c.relname,
                    CASE WHEN a.grantee = 0 THEN 'public' ELSE 'role' END,
                    COALESCE(r.rolname, ''), a.privilege_type, o.rolname, CAST(t.attname AS text)
               FROM pg_catalog.pg_attribute t
               JOIN pg_catalog.pg_class c ON c.oid = t.attrelid
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
               JOIN pg_catalog.pg_roles o ON o.oid = c.relowner
               CROSS JOIN LATERAL pg_catalog.aclexplode(t.attacl) a
               LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
              WHERE (n.nspname || '.' || c.relname) {wanted} AND t.attnum > 0 AND NOT t.attisdropped
                AND a.grantee <> c.relowner"
        )
    }

    fn exposure_query(&self, on_path: &str) -> String {
        format!(
            "SELECT 'reads_all', r.rolname, 'pg_read_all_data'
               FROM pg_catalog.pg_roles r
              WHERE pg_catalog.pg_has_role(r.oid, 'pg_read_all_data', 'MEMBER')
                AND NOT r.rolsuper AND r.rolname <> 'pg_read_all_data'
             UNION ALL
             SELECT 'superuser', r.rolname, ''
               FROM pg_catalog.pg_roles r
              WHERE r.rolsuper AND r.rolcanlogin AND r.rolname <> CAST(current_user AS text)
             UNION ALL
             SELECT 'writable', n.nspname, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(a.grantee) END
               FROM pg_catalog.pg_namespace n
               CROSS JOIN LATERAL pg_catalog.aclexplode(n.nspacl) a
              WHERE a.privilege_type = 'CREATE' AND a.grantee <> n.nspowner
                AND (n.nspname {on_path} OR (n.nspname = CAST(current_user AS text) AND '$user' {on_path}))"
        )
    }

    fn relations_query(&self, skip: &str) -> String {
        format!(
            "SELECT CAST(pg_catalog.current_database() AS text), CAST(n.nspname AS text), CAST(c.relname AS text),
                    CASE WHEN c.relkind IN ('v', 'm') THEN 'view' ELSE 'table' END,
                    CAST(a.attname AS text), pg_catalog.format_type(a.atttypid, a.atttypmod), NULL::int4, NULL::int4, NULL::int4
               FROM pg_catalog.pg_class c
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
               JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
              WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
                AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
                AND n.nspname NOT LIKE 'pg\\_temp%' AND n.nspname NOT LIKE 'pg\\_toast%'
                AND n.nspname NOT {skip}
              ORDER BY n.nspname, c.relname, a.attnum"
        )
    }

    /// PostgreSQL's own text hash: SHA-256 costs the server 2 µs a call.
    fn side_row_hash(&self) -> crate::hash::RowHash {
        crate::hash::RowHash::PostgresText
    }

    fn row_hash(&self, row: &str) -> String {
        format!("pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to({row}, 'UTF8')), 'hex')")
    }

    fn digest_slice(&self, hash: &str, at: u32) -> String {
        format!(
            "CAST(pg_catalog.sum(CAST(CAST('x' || pg_catalog.substr({hash}, {at}, 12) AS bit(48)) AS bigint)) AS text)"
        )
    }

    /// A subquery with `OFFSET` is planned on its own.
    fn fence(&self) -> &'static str {
        " OFFSET 0"
    }
}

/// The text of a date or time's JSON string: ISO 8601 in every session.
fn json_text(value: &str) -> String {
    format!(
        "{translate}({btrim}(CAST({to_json}({value}) AS text), '\"'), 'T', ' ')",
        translate = builtin("translate"),
        btrim = builtin("btrim"),
        to_json = builtin("to_json")
    )
}
