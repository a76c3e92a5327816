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
    /// The project's settings (`veil.yaml`).
    pub settings: crate::settings::Settings,
    pub integrations: Vec<Integration>,
    pub sources: Vec<Source>,
    pub access: Vec<AccessRule>,
    pub masks: Vec<MaskRule>,
    pub filters: Vec<FilterRule>,
    pub directory: Directory,
    /// The expectations `veil test` checks; nothing else reads them.
    pub expectations: Vec<Expectation>,
    /// The environment of `veil.yaml` the integrations are deployed as
    /// (`project::load_checked` applies it), if one was chosen.
    pub environment: Option<String>,
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
    pub when: Option<Arc<Predicate<usize>>>,
}

/// A condition on a row. `C` names a column: its index among the source's
/// columns in the model (resolved by the checker, a `column tagged` one
/// too, each escape hatch parsed with the declared names), its catalog name
/// in the IR (`ir::RowPred`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Predicate<C> {
    Or(Vec<Predicate<C>>),
    And(Vec<Predicate<C>>),
    Not(Box<Predicate<C>>),
    Compare {
        left: Operand<C>,
        op: CompareOp,
        right: Operand<C>,
    },
    IsNull {
        operand: Operand<C>,
        negated: bool,
    },
    InList {
        operand: Operand<C>,
        negated: bool,
        values: Vec<Literal>,
    },
    InUserGroups {
        operand: Operand<C>,
        negated: bool,
    },
    InUserAttribute {
        operand: Operand<C>,
        negated: bool,
        key: String,
    },
    /// `[not] in lookup(…)`: among the values of a lookup table on its
    /// rows keyed by the querying user's name.
    InLookup {
        operand: Operand<C>,
        negated: bool,
        lookup: Lookup,
    },
    /// A boolean operand standing alone.
    Operand(Operand<C>),
    /// `event_time` within (`newer`) or beyond `amount` units of the clock.
    Age {
        column: C,
        column_type: TypeKind,
        newer: bool,
        amount: u32,
        unit: Interval,
    },
    /// A stable hash bucket of the column (0–9999) under `threshold`.
    Sample {
        column: C,
        column_type: SqlType,
        threshold: u32,
    },
}

/// A lookup table as a condition reads it: a declared source's base table
/// and two of its columns, every name as the catalog stores it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lookup {
    /// The lookup source's id.
    pub source: String,
    pub table: TableRef,
    /// The table is in another database of the cluster (as the filtered
    /// source's is): named with its database.
    pub cross_database: bool,
    /// The column compared with the querying user's name.
    pub key: String,
    /// The column whose values the operand must be among.
    pub value: String,
}

/// A value in a condition.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Operand<C> {
    Column(C),
    Literal(Literal),
    UserName,
    /// `sql "…"`, parsed.
    Sql(SqlExpr),
    Paren(Box<Predicate<C>>),
}

/// How a condition's columns are named anew: each column, and the column
/// names inside an escape hatch.
pub struct Rename<'f, C, D> {
    pub column: &'f dyn Fn(&C) -> D,
    pub sql: &'f dyn Fn(&str) -> String,
}

impl<C> Predicate<C> {
    /// The same condition with its columns named by `rename`.
    pub fn rename<D>(&self, rename: &Rename<'_, C, D>) -> Predicate<D> {
        let all = |parts: &[Predicate<C>]| parts.iter().map(|p| p.rename(rename)).collect();
        match self {
            Predicate::Or(parts) => Predicate::Or(all(parts)),
            Predicate::And(parts) => Predicate::And(all(parts)),
            Predicate::Not(inner) => Predicate::Not(Box::new(inner.rename(rename))),
            Predicate::Compare { left, op, right } => Predicate::Compare {
                left: left.rename(rename),
                op: *op,
                right: right.rename(rename),
            },
            Predicate::IsNull { operand, negated } => Predicate::IsNull {
                operand: operand.rename(rename),
                negated: *negated,
            },
            Predicate::InList {
                operand,
                negated,
                values,
            } => Predicate::InList {
                operand: operand.rename(rename),
                negated: *negated,
                values: values.clone(),
            },
            Predicate::InUserGroups { operand, negated } => Predicate::InUserGroups {
                operand: operand.rename(rename),
                negated: *negated,
            },
            Predicate::InUserAttribute {
                operand,
                negated,
                key,
            } => Predicate::InUserAttribute {
                operand: operand.rename(rename),
                negated: *negated,
                key: key.clone(),
            },
            Predicate::InLookup {
                operand,
                negated,
                lookup,
            } => Predicate::InLookup {
                operand: operand.rename(rename),
                negated: *negated,
                lookup: lookup.clone(),
            },
            Predicate::Operand(o) => Predicate::Operand(o.rename(rename)),
            Predicate::Age {
                column,
                column_type,
                newer,
                amount,
                unit,
            } => Predicate::Age {
                column: (rename.column)(column),
                column_type: *column_type,
                newer: *newer,
                amount: *amount,
                unit: *unit,
            },
            Predicate::Sample {
                column,
                column_type,
                threshold,
            } => Predicate::Sample {
                column: (rename.column)(column),
                column_type: column_type.clone(),
                threshold: *threshold,
            },
        }
    }

    /// Calls `found` with every column the condition reads.
    pub fn columns<'p>(&'p self, found: &mut dyn FnMut(ColumnRef<'p, C>)) {
        let operand = |o: &'p Operand<C>, found: &mut dyn FnMut(ColumnRef<'p, C>)| match o {
            Operand::Column(c) => found(ColumnRef::Column(c)),
            Operand::Sql(expr) => {
                let mut names = Vec::new();
                expr.columns(&mut names);
                for name in names {
                    found(ColumnRef::Named(name));
                }
            }
            Operand::Paren(inner) => inner.columns(found),
            Operand::Literal(_) | Operand::UserName => {}
        };
        match self {
            Predicate::Or(parts) | Predicate::And(parts) => {
                parts.iter().for_each(|p| p.columns(found))
            }
            Predicate::Not(inner) => inner.columns(found),
            Predicate::Compare { left, right, .. } => {
                operand(left, found);
                operand(right, found);
            }
            Predicate::IsNull { operand: o, .. }
            | Predicate::InList { operand: o, .. }
            | Predicate::InUserGroups { operand: o, .. }
            | Predicate::InUserAttribute { operand: o, .. }
            | Predicate::InLookup { operand: o, .. }
            | Predicate::Operand(o) => operand(o, found),
            Predicate::Age { column, .. } | Predicate::Sample { column, .. } => {
                found(ColumnRef::Column(column))
            }
        }
    }
}

/// A column a condition reads: a column operand, or a name in an escape
/// hatch.
pub enum ColumnRef<'p, C> {
    Column(&'p C),
    Named(String),
}

impl<C> Operand<C> {
    fn rename<D>(&self, rename: &Rename<'_, C, D>) -> Operand<D> {
        match self {
            Operand::Column(c) => Operand::Column((rename.column)(c)),
            Operand::Literal(l) => Operand::Literal(l.clone()),
            Operand::UserName => Operand::UserName,
            Operand::Sql(expr) => Operand::Sql(expr.clone().rename_columns(rename.sql)),
            Operand::Paren(inner) => Operand::Paren(Box::new(inner.rename(rename))),
        }
    }
}

/// What a filter keeps of one source, resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Filter {
    /// Rows for which the condition holds (`where`, a time window, a
    /// sample).
    Rows(Predicate<usize>),
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
    /// `for SUBJECT`: the users the filter applies to (all when `None`).
    pub only_for: Option<Subject>,
    pub except: Option<Subject>,
    pub loc: Loc,
}

/// `expect user "NAME" on SOURCE { … }`, its names resolved where the
/// project has them (`None` where it does not: `veil test` fails there).
#[derive(Debug, Clone, Serialize)]
pub struct Expectation {
    pub loc: Loc,
    pub user: String,
    /// The user's index in `directory.users`.
    pub user_index: Option<usize>,
    pub source: String,
    pub source_index: Option<usize>,
    pub lines: Vec<ExpectLine>,
}

/// One statement of an expectation.
#[derive(Debug, Clone, Serialize)]
pub struct ExpectLine {
    pub loc: Loc,
    pub expect: ast::Expect,
    /// A column statement: the column's index in the source. A filter
    /// statement: the index in `filters` of the source's filter written so.
    pub target: Option<usize>,
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
