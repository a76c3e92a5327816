//! PostgreSQL: the common SQL, with its own settings and timeouts.

use super::SqlDialect;
use crate::emit::script::STATEMENT_TIMEOUT_MS;

pub struct Postgres;

impl SqlDialect for Postgres {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn max_name_bytes(&self) -> usize {
        63
    }

    fn max_varchar(&self) -> u32 {
        10_485_760
    }

    fn own_types(&self) -> &'static [&'static str] {
        &["uuid", "json", "jsonb", "bytea"]
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
}
