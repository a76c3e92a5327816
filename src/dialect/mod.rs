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
use crate::types::{SqlType, TypeKind};
use serde::{Deserialize, Serialize};

/// The longest any one statement of veil's may run, in milliseconds: a
/// read or a change that takes longer is cancelled by the server.
pub const STATEMENT_TIMEOUT_MS: u64 = 10 * 60 * 1000;

/// A built-in function, qualified: a view or function body never finds a
/// function through a search path its user controls (Redshift re-reads a
/// late-binding view's text at query time).
pub fn builtin(name: &str) -> String {
    format!("pg_catalog.{name}")
}

/// The SQL dialect of an integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    Redshift,
    Postgres,
}

impl Dialect {
    pub const ALL: [Dialect; 2] = [Dialect::Redshift, Dialect::Postgres];

    /// The dialect a policy names.
    pub fn named(name: &str) -> Option<Dialect> {
        Dialect::ALL.into_iter().find(|d| d.name() == name)
    }

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

    /// Whether the catalog folds ASCII letters to lower case, even in
    /// quoted names.
    fn folds_case(&self) -> bool {
        false
    }

    /// The name the catalog stores for a table, column or schema name.
    fn catalog_name(&self, name: &str) -> String {
        if self.folds_case() {
            name.to_ascii_lowercase()
        } else {
            name.to_string()
        }
    }

    /// Whether a session may act as another role for a transaction
    /// (`SET LOCAL ROLE`), which `veil test --live` needs.
    fn acts_as_users(&self) -> bool {
        false
    }

    /// Whether two table, column or schema names name one object.
    fn same_name(&self, a: &str, b: &str) -> bool {
        if self.folds_case() {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    }

    /// Whether a string literal holding a backslash is written with this
    /// prefix (`E'…'`), so that it reads the same whatever the server's
    /// settings; a dialect without one always reads `\` as an escape.
    fn backslash_prefix(&self) -> &'static str {
        ""
    }

    /// Whether an integration declares its node type.
    fn has_node_types(&self) -> bool {
        false
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

    /// The most bytes a long and a short text column of veil's hold, where
    /// the database bounds them.
    fn text_limits(&self) -> Option<(usize, usize)> {
        None
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
    fn text_is(&self) -> (crate::types::TypeKind, &'static str) {
        (crate::types::TypeKind::Varchar(None), "text")
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

    /// A value as text that no session setting changes: the bytes `hash`
    /// and `sample` read. Casts of dates, times and floats follow
    /// `DateStyle`, `TimeZone`, `IntervalStyle` and `extra_float_digits`;
    /// a dialect writes those otherwise.
    fn canonical_text(&self, value: &str, _ty: &SqlType) -> String {
        format!("CAST({value} AS {})", self.long_text())
    }

    /// A value shown as text, the same in every session: dates and times as
    /// ISO 8601 (`2026-11-30`, `2026-11-30 08:15:00.5`), a `timestamptz` as
    /// the wall-clock time in the zone `zone` (a literal), floats in
    /// decimal. `None` when the type's plain cast is already stable.
    fn display_text(&self, _value: &str, _ty: &SqlType, _zone: &str) -> Option<String> {
        None
    }

    /// `value` truncated to `unit` (a keyword) in its own type, counted in
    /// the zone `zone` (a literal) for a `timestamptz`.
    fn truncate(&self, value: &str, unit: &str, _kind: TypeKind, _zone: &str) -> String {
        format!("{}('{unit}', {value})", builtin("date_trunc"))
    }

    /// The options a view of veil's is created with, as they follow its
    /// name.
    fn view_options(&self) -> &'static str {
        ""
    }

    /// A grantee of a `GRANT`, its name already quoted.
    fn grantee(&self, _kind: GranteeKind, quoted: &str) -> String {
        quoted.to_string()
    }

    // -- sessions, locks, the script ----------------------------------------

    /// The start of the script's one transaction.
    fn begin(&self) -> &'static str {
        "BEGIN;"
    }

    /// Its end, when every statement went through.
    fn commit(&self) -> &'static str {
        "COMMIT;"
    }

    /// Its end, when one did not.
    fn rollback(&self) -> &'static str {
        "ROLLBACK"
    }

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

    /// The catalog query: one row per (object, aspect) of every schema,
    /// relation and routine in veil's schemas (`ours`, an `IN (…)`); each
    /// row kind, name, aspect, value.
    fn catalog_query(&self, ours: &str) -> String;

    /// The hashing key's rows: how many, and a fingerprint of them, never
    /// their value; `table` is the key's table, quoted.
    fn key_query(&self, table: &str) -> String;

    /// The catalog's columns of the declared tables (`wanted`, an `IN (…)`
    /// of their names as [`SqlDialect::table_key`] spells them). Each row:
    /// database, schema, table, column, type name, and (Redshift) character
    /// length, numeric precision and numeric scale.
    fn columns_query(&self, wanted: &str) -> String;

    /// Grants on the declared tables (`wanted`, an `IN (…)` of
    /// `schema.table`), on whole tables and single columns. Each row:
    /// schema, table, grantee kind (`user`, `group`, `role`, `public`),
    /// grantee name, privilege, the table's owner, the column.
    fn grants_query(&self, wanted: &str) -> String;

    /// Who can get around the views without a grant on the tables, and
    /// what a user could slip onto the connecting role's path (`on_path`,
    /// an `IN (…)` of its schemas). Each row: what (`reads_all`,
    /// `superuser`, `writable`, `sees_grants`), a name and a detail.
    fn exposure_query(&self, on_path: &str) -> String;

    /// Every column of every table and view outside the system's schemas and
    /// `skip` (an `IN (…)`), for `veil import`, in column order. Each row:
    /// database, schema, relation, `table` or `view`, column, type name,
    /// and (Redshift) character length, numeric precision and scale.
    fn relations_query(&self, skip: &str) -> String;

    /// How the side-table digests hash each row: SHA-256 unless the
    /// database has a cheaper hash veil computes too.
    fn side_row_hash(&self) -> crate::hash::RowHash {
        crate::hash::RowHash::Sha256
    }

    /// The SHA-256 of `row` (an expression of text), as 64 hex digits.
    fn row_hash(&self, row: &str) -> String;

    /// The sum, as text, of the 48-bit slices at `at` of `hash`, a column
    /// of [`row_hash`](Self::row_hash)es.
    fn digest_slice(&self, hash: &str, at: u32) -> String;

    /// What keeps the planner from folding a derived table into the query
    /// around it, so that a digest hashes each row once, not once per
    /// slice.
    fn fence(&self) -> &'static str {
        ""
    }

    /// The type a count or a length is cast to as text.
    fn number_text(&self, _digits: u32) -> String {
        "text".into()
    }

    /// Who a grant as the catalog query spells it (`grantee PRIVILEGE`)
    /// is to: `None` for `PUBLIC`.
    fn grant_holder<'g>(&self, grant: &'g str) -> Option<Option<(GranteeKind, &'g str)>> {
        // The name may hold spaces: the privilege is the last word (before
        // a column list).
        let grant = grant.split(" (").next().unwrap_or(grant);
        let (name, _) = grant.rsplit_once(' ')?;
        Some((name != "PUBLIC").then_some((GranteeKind::Role, name)))
    }

    /// How the column query names a table.
    fn table_key(&self, _database: &str, schema: &str, table: &str) -> String {
        format!("{schema}.{table}")
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
