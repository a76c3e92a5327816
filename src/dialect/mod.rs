//! The one place that knows how the dialects differ. [`SqlDialect`]'s
//! defaults are the SQL both databases read; [`Postgres`] and
//! [`Redshift`] override only what differs: types and their limits, the
//! clock, regular expressions, rounding, grantees, the lock and timeout
//! forms, the session settings and the catalog queries. Every other module
//! asks `dialect.sql()` rather than matching on the dialect.

mod postgres;
mod redshift;

pub use postgres::Postgres;
pub use redshift::Redshift;

use crate::ast::GranteeKind;
use serde::{Deserialize, Serialize};

/// The SQL dialect of an integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    Redshift,
    Postgres,
}

impl Dialect {
    /// What this dialect writes differently.
    pub fn sql(self) -> &'static dyn SqlDialect {
        match self {
            Dialect::Redshift => &Redshift,
            Dialect::Postgres => &Postgres,
        }
    }

    pub fn name(self) -> &'static str {
        self.sql().name()
    }

    /// The statement's time, as the dialect writes it.
    pub fn clock(self) -> &'static str {
        self.sql().clock()
    }

    /// The longest identifier the dialect accepts, in bytes.
    pub fn max_name_bytes(self) -> usize {
        self.sql().max_name_bytes()
    }

    /// The name the catalog stores for a table, column or schema name.
    pub fn catalog_name(self, name: &str) -> String {
        self.sql().catalog_name(name)
    }
}

/// How a dialect writes what veil needs. A method with a default is common
/// SQL; each dialect overrides what it writes otherwise.
pub trait SqlDialect: Sync {
    /// The dialect's name in policies and output.
    fn name(&self) -> &'static str;

    // -- names and types --------------------------------------------------

    /// The longest identifier, in bytes.
    fn max_name_bytes(&self) -> usize;

    /// The name the catalog stores for a table, column or schema name.
    fn catalog_name(&self, name: &str) -> String {
        name.to_string()
    }

    /// The column type of a text of any length veil writes (lists, SQL).
    fn long_text(&self) -> &'static str {
        "text"
    }

    /// The column type of a short text veil writes (a group, a key).
    fn short_text(&self) -> &'static str {
        "text"
    }

    /// The type a user name is read as.
    fn user_name(&self) -> &'static str {
        "text"
    }

    /// The type of the time a row was written.
    fn written_at(&self) -> &'static str {
        "timestamptz"
    }

    /// The longest `varchar` a column may declare.
    fn max_varchar(&self) -> u32;

    /// The length of a `varchar` declared without one; `None` is unbounded.
    fn default_varchar(&self) -> Option<u32> {
        None
    }

    /// The largest `varchar` an expression can yield; `None` is unbounded.
    fn widest_varchar(&self) -> Option<u32> {
        None
    }

    /// Whether `varchar(max)` is written for the longest.
    fn has_varchar_max(&self) -> bool {
        false
    }

    /// How `text` is stored.
    fn text_is(&self) -> (crate::model::TypeKind, &'static str) {
        (crate::model::TypeKind::Varchar(None), "text")
    }

    /// Types only this dialect has, kept as declared.
    fn own_types(&self) -> &'static [&'static str];

    // -- expressions ------------------------------------------------------

    /// The statement's time.
    fn clock(&self) -> &'static str {
        "CURRENT_TIMESTAMP"
    }

    /// The wall-clock time now in the zone `zone` (a literal), as a
    /// `timestamp`, whatever zone the session is set to.
    fn now_in_zone(&self, zone: &str) -> String {
        format!("(CURRENT_TIMESTAMP AT TIME ZONE {zone})")
    }

    /// The querying user's name, comparable with the profile's columns.
    fn current_user(&self) -> &'static str {
        "CAST(current_user AS text)"
    }

    /// Every match of `pattern` in `value` replaced (all three SQL).
    fn regex_replace(&self, function: &str, value: &str, pattern: &str, with: &str) -> String {
        format!("{function}({value}, {pattern}, {with}, 'g')")
    }

    /// The exact type `round` computes in, for a source of scale
    /// `source_scale` (`None` for a float) and a multiple of scale `scale`.
    fn rounding_type(&self, _source_scale: Option<usize>, _scale: usize) -> String {
        "numeric".into()
    }

    /// The largest float the rounding type holds, as a literal.
    fn float_rounding_limit(&self) -> &'static str {
        "1e300"
    }

    /// Whether a division in the rounding type loses integer digits, so
    /// that only small enough values may be divided.
    fn division_loses_digits(&self) -> bool {
        false
    }

    /// A grantee of a `GRANT`, its name already quoted.
    fn grantee(&self, _kind: GranteeKind, quoted: &str) -> String {
        quoted.to_string()
    }

    // -- sessions, locks, the script ----------------------------------------

    /// The settings every session of veil's runs with; `zone` is a literal.
    fn session_settings(&self, zone: &str) -> String;

    /// The lock on `table` that keeps other applies out and lets plans read.
    fn lock_table(&self, table: &str) -> String {
        format!("LOCK TABLE {table} IN EXCLUSIVE MODE;")
    }

    /// The bound on the wait for the lock, or (`end`) its end; empty where
    /// nothing is sent.
    fn lock_timeout(&self, ms: u128, end: bool) -> String;

    /// A transaction-scoped lock on `key` before any table exists.
    fn advisory_lock(&self, _key: i64) -> Option<String> {
        None
    }

    // -- the catalog ----------------------------------------------------------

    /// The catalog relation that lists routines with their kind.
    fn routines(&self) -> &'static str {
        "pg_catalog.pg_proc"
    }

    /// Whether a table is named with its database (cross-database reads).
    fn names_database(&self) -> bool {
        false
    }

    /// What the catalog calls the owner of an object.
    fn owner_kind(&self) -> &'static str {
        "role"
    }
}
