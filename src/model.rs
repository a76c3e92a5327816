//! The checked model: every name resolved, every rule attached to the
//! sources and columns it covers, mask rules in precedence order per column.
//! This is what the compiler lowers and what `explain` reads.

use crate::ast::{self, CompareOp, ExemptionKind, GranteeKind, Interval, Literal, Subject};
use crate::span::Loc;
use crate::sql_expr::SqlExpr;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A checked project.
#[derive(Debug, Clone, Serialize)]
pub struct Model {
    pub integrations: Vec<Integration>,
    pub sources: Vec<Source>,
    pub access: Vec<AccessRule>,
    pub masks: Vec<MaskRule>,
    pub filters: Vec<FilterRule>,
    pub directory: Directory,
}

pub use crate::dialect::Dialect;
pub use crate::types::{SqlType, TypeKind};

/// A database the project governs.
#[derive(Debug, Clone, Serialize)]
pub struct Integration {
    pub name: String,
    pub dialect: Dialect,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub database: String,
    pub view_schema: String,
    pub node_type: Option<String>,
    /// The environment variable that holds the connection URL.
    pub connection_env: String,
    /// Who may select from the views; empty means `PUBLIC`.
    pub grant_to: Vec<Grantee>,
    pub expose_profile: bool,
    pub system_prefix: String,
    /// The zone time filters and `truncate` count in; a `timestamp` column
    /// holds wall-clock times of this zone.
    pub time_zone: String,
    pub loc: Loc,
}

/// A grantee of the views.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grantee {
    pub kind: GranteeKind,
    pub name: String,
}

/// A governed table and its view.
#[derive(Debug, Clone, Serialize)]
pub struct Source {
    pub id: String,
    pub integration: usize,
    /// The integration's dialect, which decides how names compare.
    pub dialect: Dialect,
    pub table: TableRef,
    pub view: String,
    pub tags: Vec<String>,
    /// The column time filters read.
    pub event_time: Option<usize>,
    pub columns: Vec<Column>,
    /// The table lives in another database than the integration's.
    pub cross_database: bool,
    pub loc: Loc,
}

/// `database.schema.table`; the database defaults to the integration's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableRef {
    pub database: String,
    pub schema: String,
    pub table: String,
}

/// A declared column.
#[derive(Debug, Clone, Serialize)]
pub struct Column {
    pub name: String,
    pub ty: SqlType,
    pub tags: Vec<String>,
    /// The mask rules that target this column, first in precedence first.
    pub masks: Vec<ColumnMask>,
    pub loc: Loc,
}

/// One mask rule as it applies to one column.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnMask {
    /// Index into `Model::masks`.
    pub rule: usize,
    /// The method in effect: the rule's, or `null` where the rule's method
    /// does not fit the column's type (tag and pattern rules only).
    pub method: ast::Method,
    pub fallback_to_null: bool,
    /// The rule's `when`, resolved against this column's source.
    pub when: Option<Arc<Predicate>>,
}

/// A row condition resolved against one source: columns by index (a
/// `column tagged` one too), each escape hatch parsed, its column names the
/// declared ones.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Predicate {
    Or(Vec<Predicate>),
    And(Vec<Predicate>),
    Not(Box<Predicate>),
    Compare {
        left: Operand,
        op: CompareOp,
        right: Operand,
    },
    IsNull {
        operand: Operand,
        negated: bool,
    },
    InList {
        operand: Operand,
        negated: bool,
        values: Vec<Literal>,
    },
    InUserGroups {
        operand: Operand,
        negated: bool,
    },
    InUserAttribute {
        operand: Operand,
        negated: bool,
        key: String,
    },
    Operand(Operand),
}

/// A value in a resolved condition.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Operand {
    Literal(Literal),
    /// A column of the source, by index.
    Column(usize),
    UserName,
    /// `sql "…"`: its text, and the expression it parses to.
    Sql {
        text: String,
        expr: SqlExpr,
    },
    Paren(Box<Predicate>),
}

/// What a filter keeps of one source, resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Filter {
    Where(Predicate),
    /// Rows whose event time (`column`) is newer (or older) than the span.
    Time {
        column: usize,
        newer: bool,
        amount: u32,
        unit: Interval,
    },
    /// A stable share of the rows, in hundredths of a percent, by `column`.
    Sample {
        threshold: u32,
        column: usize,
    },
    LimitToPurpose(String),
    LimitToAnyPurpose,
    Never,
}

/// `access SOURCES { … }`, resolved.
#[derive(Debug, Clone, Serialize)]
pub struct AccessRule {
    pub sources: Vec<usize>,
    pub allow: Vec<(Subject, Loc)>,
    pub require: Vec<(Subject, Loc)>,
    pub loc: Loc,
}

/// How a mask rule selects its columns; decides its rank in precedence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MaskScope {
    /// Names the column: rank 0.
    Named,
    /// By tag, with the tag's depth (`pii.email` is 2): rank 1, deeper first.
    Tagged { tag: String, depth: usize },
    /// By a pattern on column names: rank 2.
    Matching { pattern: String },
}

/// A mask rule, resolved.
#[derive(Debug, Clone, Serialize)]
pub struct MaskRule {
    pub scope: MaskScope,
    pub method: ast::Method,
    pub exemption: Option<(ExemptionKind, Subject)>,
    /// The condition as written (each column mask holds it resolved).
    pub when: Option<ast::Predicate>,
    pub priority: i64,
    pub loc: Loc,
}

/// A filter rule, resolved.
#[derive(Debug, Clone, Serialize)]
pub struct FilterRule {
    pub sources: Vec<usize>,
    /// The filter as written.
    pub kind: ast::FilterKind,
    /// What it keeps of each source of `sources`, in the same order.
    pub keeps: Vec<Filter>,
    pub except: Option<Subject>,
    pub loc: Loc,
}

/// The identities, checked: the vocabulary and the users.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Directory {
    pub groups: Vec<String>,
    /// Attribute key → allowed values (empty: any value).
    pub attributes: BTreeMap<String, Vec<String>>,
    pub purposes: BTreeMap<String, String>,
    /// Project → its purposes.
    pub projects: BTreeMap<String, Vec<String>>,
    pub users: Vec<User>,
}

/// One user's profile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct User {
    pub name: String,
    pub groups: Vec<String>,
    pub attributes: BTreeMap<String, Vec<String>>,
    pub projects: Vec<String>,
    pub current_project: Option<String>,
    pub acknowledged: Vec<String>,
    /// The purposes in effect: the current project's purposes the user has
    /// acknowledged.
    pub purposes: Vec<String>,
    /// Source ids the user's entry approves (`allow approved`).
    pub approved: Vec<String>,
}
