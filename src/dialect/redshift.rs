//! Amazon Redshift: where it parts from the common SQL (see the SQL
//! reference pages named beside each method).

use super::{STATEMENT_TIMEOUT_MS, SqlDialect, builtin};
use crate::ast::GranteeKind;
use crate::types::{SqlType, TypeKind};

pub struct Redshift;

impl SqlDialect for Redshift {
    fn name(&self) -> &'static str {
        "redshift"
    }

    fn max_name_bytes(&self) -> usize {
        127
    }

    /// Redshift folds ASCII letters to lower case even inside quotes.
    fn folds_case(&self) -> bool {
        true
    }

    fn has_node_types(&self) -> bool {
        true
    }

    fn long_text(&self) -> &'static str {
        "VARCHAR(65535)"
    }

    fn short_text(&self) -> &'static str {
        "VARCHAR(1024)"
    }

    fn user_name(&self) -> &'static str {
        "VARCHAR(128)"
    }

    fn written_at(&self) -> &'static str {
        "TIMESTAMP"
    }

    fn text_limits(&self) -> Option<(usize, usize)> {
        Some((65535, 1024))
    }

    fn max_varchar(&self) -> u32 {
        65535
    }

    fn default_varchar(&self) -> Option<u32> {
        Some(256)
    }

    fn widest_varchar(&self) -> Option<u32> {
        Some(65535)
    }

    fn has_varchar_max(&self) -> bool {
        true
    }

    /// Redshift stores `text` as `varchar(256)`.
    fn text_is(&self) -> (TypeKind, &'static str) {
        (TypeKind::Varchar(Some(256)), "varchar(256)")
    }

    fn own_types(&self) -> &'static [&'static str] {
        &["super", "varbyte"]
    }

    /// `CURRENT_TIMESTAMP` is a deprecated leader-node function;
    /// `GETDATE()` is the statement's time (`r_GETDATE`).
    fn clock(&self) -> &'static str {
        "GETDATE()"
    }

    /// `GETDATE()` is the session's wall clock; read as a `timestamptz` in
    /// that same session it is the instant now.
    fn now_in_zone(&self, zone: &str) -> String {
        format!("(CAST(pg_catalog.getdate() AS TIMESTAMPTZ) AT TIME ZONE {zone})")
    }

    fn current_user(&self) -> &'static str {
        "current_user"
    }

    fn canonical_text(&self, value: &str, ty: &SqlType) -> String {
        let to_char = builtin("to_char");
        match ty.kind {
            TypeKind::Date => format!("{to_char}({value}, 'YYYY-MM-DD')"),
            TypeKind::Timestamp => format!("{to_char}({value}, 'YYYY-MM-DD HH24:MI:SS.US')"),
            TypeKind::TimestampTz => {
                format!("{to_char}({value} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')")
            }
            // Exact to 18 decimals below 10^18; larger floats keep the
            // session's float text (README, limits).
            TypeKind::Real | TypeKind::Double => format!(
                "CASE WHEN {abs}({value}) < 1e18 THEN CAST(CAST({value} AS DECIMAL(38,18)) AS {text}) ELSE CAST({value} AS {text}) END",
                abs = builtin("abs"),
                text = self.long_text()
            ),
            _ => format!("CAST({value} AS {})", self.long_text()),
        }
    }

    fn display_text(&self, value: &str, ty: &SqlType, zone: &str) -> Option<String> {
        let (to_char, text) = (builtin("to_char"), self.long_text());
        // The fraction of a second without trailing zeros, as PostgreSQL's
        // ISO output writes it.
        let trimmed =
            |t: String| format!("{rtrim}({rtrim}({t}, '0'), '.')", rtrim = builtin("rtrim"));
        Some(match ty.kind {
            TypeKind::Date => format!("{to_char}({value}, 'YYYY-MM-DD')"),
            TypeKind::Timestamp => {
                trimmed(format!("{to_char}({value}, 'YYYY-MM-DD HH24:MI:SS.US')"))
            }
            TypeKind::TimestampTz => trimmed(format!(
                "{to_char}({value} AT TIME ZONE {zone}, 'YYYY-MM-DD HH24:MI:SS.US')"
            )),
            // Exact below 10^18; larger floats keep the session's float
            // text (README, limits).
            TypeKind::Real | TypeKind::Double => format!(
                "CASE WHEN {abs}({value}) < 1e18 THEN {} ELSE CAST({value} AS {text}) END",
                trimmed(format!("CAST(CAST({value} AS DECIMAL(38,18)) AS {text})")),
                abs = builtin("abs")
            ),
            _ => return None,
        })
    }

    fn truncate(&self, value: &str, unit: &str, kind: TypeKind, zone: &str) -> String {
        let trunc = builtin("date_trunc");
        match kind {
            TypeKind::Date => format!("CAST({trunc}('{unit}', {value}) AS DATE)"),
            TypeKind::TimestampTz => {
                format!("({trunc}('{unit}', {value} AT TIME ZONE {zone}) AT TIME ZONE {zone})")
            }
            _ => format!("{trunc}('{unit}', {value})"),
        }
    }

    /// Redshift's `REGEXP_REPLACE` replaces every match and takes no flags
    /// (`REGEXP_REPLACE`).
    fn regex_replace(&self, function: &str, value: &str, pattern: &str, with: &str) -> String {
        format!("{function}({value}, {pattern}, {with})")
    }

    /// `NUMERIC` without a precision is `NUMERIC(18,0)` on Redshift: the
    /// type keeps the scale of the source and of the multiple, and six
    /// places for a float.
    fn rounding_type(&self, source_scale: Option<usize>, scale: usize) -> String {
        match source_scale {
            None => format!("NUMERIC(38,{})", scale.max(6)),
            Some(s) => format!("NUMERIC(38,{})", s.max(scale)),
        }
    }

    /// `NUMERIC(38)` holds floats below 10^30.
    fn float_rounding_limit(&self) -> &'static str {
        "1e30"
    }

    /// A division of `NUMERIC(38,s)` leaves fewer integer digits than the
    /// column has (`r_numeric_computations`).
    fn division_loses_digits(&self) -> bool {
        true
    }

    fn grantee(&self, kind: GranteeKind, quoted: &str) -> String {
        match kind {
            GranteeKind::Group => format!("GROUP {quoted}"),
            GranteeKind::Role => format!("ROLE {quoted}"),
            _ => quoted.to_string(),
        }
    }

    fn session_settings(&self, zone: &str) -> String {
        format!(
            "SET search_path TO pg_catalog, pg_temp;\nSET statement_timeout TO {STATEMENT_TIMEOUT_MS};\nSET timezone TO {zone};\nSET datestyle TO 'ISO, MDY';"
        )
    }

    /// `LOCK` has no mode clause and is always exclusive (`r_LOCK`).
    fn lock_table(&self, table: &str) -> String {
        format!("LOCK TABLE {table};")
    }

    /// Redshift has no lock timeout; it bounds every statement instead
    /// (`r_statement_timeout`), so the bound is set for the `LOCK` alone,
    /// then set back to veil's own (RESET would go to the server's).
    fn lock_timeout(&self, ms: u128, end: bool) -> String {
        if end {
            format!("SET statement_timeout TO {STATEMENT_TIMEOUT_MS};")
        } else {
            format!("SET statement_timeout TO {ms};")
        }
    }

    /// Redshift's `pg_proc` predates `prokind`; its `pg_proc_info` has it.
    fn routines(&self) -> &'static str {
        "pg_catalog.pg_proc_info"
    }

    fn names_database(&self) -> bool {
        true
    }

    fn owner_kind(&self) -> &'static str {
        "user"
    }

    // Redshift's views carry no options; grants come from its privilege
    // views (which show a non-superuser only what it may see: the live
    // checks warn of that). The first branch's columns are text (`|| ''`):
    // a `name` there would make every later value a `name`, cut at its
    // length.
    fn catalog_query(&self, ours: &str) -> String {
        format!(
            "SELECT 'schema', n.nspname || '', 'owner', u.usename || ''
               FROM pg_catalog.pg_namespace n LEFT JOIN pg_catalog.pg_user u ON u.usesysid = n.nspowner
              WHERE n.nspname {ours}
             UNION ALL
             SELECT 'schema', s.namespace_name, 'grant', s.identity_type || ' ' || s.identity_name || ' ' || s.privilege_type
               FROM pg_catalog.svv_schema_privileges s
               LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = s.namespace_name
               LEFT JOIN pg_catalog.pg_user u ON u.usesysid = n.nspowner
              WHERE s.namespace_name {ours} AND s.identity_name <> COALESCE(u.usename, '')
             UNION ALL
             SELECT CASE c.relkind WHEN 'v' THEN 'view' ELSE 'table' END, n.nspname || '.' || c.relname, 'owner', u.usename
               FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
               LEFT JOIN pg_catalog.pg_user u ON u.usesysid = c.relowner
              WHERE n.nspname {ours} AND c.relkind IN ('r', 'v')
             UNION ALL
             SELECT CASE c.relkind WHEN 'v' THEN 'view' ELSE 'table' END, p.namespace_name || '.' || p.relation_name, 'grant',
                    p.identity_type || ' ' || p.identity_name || ' ' || p.privilege_type
               FROM pg_catalog.svv_relation_privileges p
               JOIN pg_catalog.pg_namespace n ON n.nspname = p.namespace_name
               JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = p.relation_name
               LEFT JOIN pg_catalog.pg_user u ON u.usesysid = c.relowner
              WHERE p.namespace_name {ours} AND p.identity_name <> COALESCE(u.usename, '')
             UNION ALL
             SELECT 'view', v.schemaname || '.' || v.viewname, 'definition', v.definition
               FROM pg_catalog.pg_views v WHERE v.schemaname {ours}
             UNION ALL
             SELECT CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END, n.nspname || '.' || p.proname, 'owner', u.usename
               FROM pg_catalog.pg_proc_info p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
               LEFT JOIN pg_catalog.pg_user u ON u.usesysid = p.proowner
              WHERE n.nspname {ours}
             UNION ALL
             SELECT CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END, n.nspname || '.' || p.proname, 'definition',
                    CASE WHEN p.prosecdef THEN 'definer ' ELSE 'invoker ' END || p.prosrc
               FROM pg_catalog.pg_proc_info p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname {ours}
             UNION ALL
             SELECT CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END, n.nspname || '.' || p.proname, 'signature',
                    n.nspname || '.' || p.proname || '(' || pg_catalog.oidvectortypes(p.proargtypes) || ')'
               FROM pg_catalog.pg_proc_info p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname {ours}
             UNION ALL
             SELECT DISTINCT CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END, f.namespace_name || '.' || f.function_name, 'grant',
                    f.identity_type || ' ' || f.identity_name || ' ' || f.privilege_type
               FROM pg_catalog.svv_function_privileges f
               JOIN pg_catalog.pg_namespace n ON n.nspname = f.namespace_name
               JOIN pg_catalog.pg_proc_info p ON p.pronamespace = n.oid AND p.proname = f.function_name
               LEFT JOIN pg_catalog.pg_user u ON u.usesysid = p.proowner
              WHERE f.namespace_name {ours} AND f.identity_name <> COALESCE(u.usename, '')"
        )
    }

    // One key is the rule; with more the count tells already.
    fn key_query(&self, table: &str) -> String {
        format!(
            "SELECT CAST(COUNT(*) AS VARCHAR(20)),
                    pg_catalog.sha2(COALESCE(MIN(k.\"k\"), '') || ',' || COALESCE(MAX(k.\"k\"), ''), 256)
               FROM {table} AS k"
        )
    }

    fn columns_query(&self, wanted: &str) -> String {
        format!(
            "SELECT database_name, schema_name, table_name, column_name, data_type, character_maximum_length, numeric_precision, numeric_scale
               FROM svv_all_columns
              WHERE (database_name || '.' || schema_name || '.' || table_name) {wanted}"
        )
    }

    // svv_relation_privileges and svv_column_privileges list explicit
    // grants in the connected database; the owner's own privileges are
    // left out below.
    fn grants_query(&self, wanted: &str) -> String {
        format!(
            "SELECT p.namespace_name, p.relation_name, p.identity_type, p.identity_name, p.privilege_type, u.usename, CAST(NULL AS VARCHAR(128))
               FROM pg_catalog.svv_relation_privileges p
               LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = p.namespace_name
               LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = p.relation_name
               LEFT JOIN pg_catalog.pg_user u ON u.usesysid = c.relowner
              WHERE (p.namespace_name || '.' || p.relation_name) {wanted}
             UNION ALL
             SELECT p.namespace_name, p.relation_name, p.identity_type, p.identity_name, p.privilege_type, u.usename, p.column_name
               FROM pg_catalog.svv_column_privileges p
               LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = p.namespace_name
               LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = p.relation_name
               LEFT JOIN pg_catalog.pg_user u ON u.usesysid = c.relowner
              WHERE (p.namespace_name || '.' || p.relation_name) {wanted}"
        )
    }

    fn exposure_query(&self, on_path: &str) -> String {
        format!(
            "SELECT 'superuser', u.usename, '' FROM pg_catalog.pg_user u
              WHERE u.usesuper AND u.usename <> current_user
             UNION ALL
             SELECT 'sees_grants', u.usename, CASE WHEN u.usesuper THEN 'all' ELSE 'some' END
               FROM pg_catalog.pg_user u WHERE u.usename = current_user
             UNION ALL
             SELECT 'writable', p.namespace_name, p.identity_name
               FROM pg_catalog.svv_schema_privileges p
               LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = p.namespace_name
               LEFT JOIN pg_catalog.pg_user o ON o.usesysid = n.nspowner
              WHERE p.privilege_type = 'CREATE' AND p.identity_name <> COALESCE(o.usename, '')
                AND (p.namespace_name {on_path} OR (p.namespace_name = current_user AND '$user' {on_path}))"
        )
    }

    /// `svv_all_columns` and `svv_all_tables` span the cluster's databases.
    fn relations_query(&self, skip: &str) -> String {
        format!(
            "SELECT c.database_name, c.schema_name, c.table_name,
                    CASE WHEN t.table_type = 'VIEW' THEN 'view' ELSE 'table' END,
                    c.column_name, c.data_type, c.character_maximum_length, c.numeric_precision, c.numeric_scale
               FROM svv_all_columns c
               JOIN svv_all_tables t
                 ON t.database_name = c.database_name AND t.schema_name = c.schema_name AND t.table_name = c.table_name
              WHERE c.schema_name NOT IN ('pg_catalog', 'information_schema', 'pg_internal', 'pg_automv')
                AND c.schema_name NOT {skip}
              ORDER BY c.database_name, c.schema_name, c.table_name, c.ordinal_position"
        )
    }

    fn row_hash(&self, row: &str) -> String {
        format!("pg_catalog.sha2({row}, 256)")
    }

    fn digest_slice(&self, hash: &str, at: u32) -> String {
        format!(
            "CAST(SUM(CAST(pg_catalog.strtol(pg_catalog.substring({hash}, {at}, 12), 16) AS NUMERIC(38,0))) AS VARCHAR(40))"
        )
    }

    fn number_text(&self, digits: u32) -> String {
        format!("VARCHAR({digits})")
    }

    /// A grant reads `kind name PRIVILEGE` on Redshift.
    fn grant_holder<'g>(&self, grant: &'g str) -> Option<Option<(GranteeKind, &'g str)>> {
        let (kind, rest) = grant.split_once(' ')?;
        let (name, _) = rest.trim_end().rsplit_once(' ')?;
        Some(match kind {
            "public" => None,
            "group" => Some((GranteeKind::Group, name)),
            "role" => Some((GranteeKind::Role, name)),
            _ => Some((GranteeKind::User, name)),
        })
    }

    /// Its column view spans the cluster's databases.
    fn table_key(&self, database: &str, schema: &str, table: &str) -> String {
        format!("{database}.{schema}.{table}")
    }
}
