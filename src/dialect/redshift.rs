//! Amazon Redshift: where it parts from the common SQL (see the SQL
//! reference pages named beside each method).

use super::SqlDialect;
use crate::ast::GranteeKind;
use crate::emit::script::STATEMENT_TIMEOUT_MS;
use crate::model::TypeKind;

pub struct Redshift;

impl SqlDialect for Redshift {
    fn name(&self) -> &'static str {
        "redshift"
    }

    fn max_name_bytes(&self) -> usize {
        127
    }

    /// Redshift folds ASCII letters to lower case even inside quotes.
    fn catalog_name(&self, name: &str) -> String {
        name.to_ascii_lowercase()
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
}
