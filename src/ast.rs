//! The syntax tree of one `.veil` file, as written. Names are already folded
//! (bare identifiers to lower case) and strings unescaped; nothing is resolved.

use crate::span::Node;
use serde::Serialize;

/// A name: an identifier, or one part of a dotted path.
pub type Name = Node<String>;

/// A whole policy file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct File {
    pub items: Vec<Node<Item>>,
}

/// One top-level declaration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Item {
    Integration(Integration),
    Source(Source),
    Access(Access),
    Mask(Mask),
    Filter(Filter),
    Expectation(Expectation),
}

/// A dotted name: `sales.orders`, `pii.email`, `db.schema.table`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Path {
    pub parts: Vec<String>,
}

impl Path {
    pub fn dotted(&self) -> String {
        self.parts.join(".")
    }
}

/// `integration NAME { … }`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Integration {
    pub name: Name,
    pub properties: Vec<Node<Property>>,
}

/// `key = value`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Property {
    pub key: Name,
    pub value: Node<Value>,
}

/// The value of a property.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Value {
    String(String),
    Number(String),
    Bool(bool),
    Env(String),
    List(Vec<Node<ListItem>>),
    Path(Path),
}

/// One element of a list value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum ListItem {
    Grantee(GranteeKind, String),
    String(String),
    Path(Path),
}

/// Who a view is granted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GranteeKind {
    Group,
    User,
    Role,
}

impl GranteeKind {
    pub fn keyword(self) -> &'static str {
        match self {
            GranteeKind::Group => "group",
            GranteeKind::User => "user",
            GranteeKind::Role => "role",
        }
    }
}

/// `source ID { … }`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Source {
    pub id: Node<Path>,
    pub entries: Vec<Node<SourceEntry>>,
}

/// A property or the columns block of a source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum SourceEntry {
    Property(Property),
    Columns(Vec<Node<Column>>),
}

/// `NAME TYPE [tags(…)]`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Column {
    pub name: Name,
    pub ty: Node<TypeExpr>,
    pub tags: Vec<Node<Path>>,
}

/// A SQL type as written: lower-cased name, arguments, time-zone suffix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TypeExpr {
    pub name: String,
    pub args: Vec<String>,
    /// `Some(true)` for `with time zone`, `Some(false)` for `without time zone`.
    pub time_zone: Option<bool>,
}

/// A source selector.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Selector {
    Source(Path),
    Tagged(Path),
}

/// A condition on the querying user.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Subject {
    Everyone,
    Approved,
    User(String),
    Group(String),
    Attribute(String, Option<String>),
    Purpose(String),
    AnyPurpose,
    Not(Box<Node<Subject>>),
    And(Vec<Node<Subject>>),
    Or(Vec<Node<Subject>>),
    /// Parentheses as written, kept so that `fmt` reproduces them.
    Paren(Box<Node<Subject>>),
}

/// `access SOURCES { … }`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Access {
    pub sources: Vec<Node<Selector>>,
    pub lines: Vec<Node<AccessLine>>,
}

/// `allow S` or `require S`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccessLine {
    pub kind: AccessKind,
    pub subject: Node<Subject>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessKind {
    Allow,
    Require,
}

/// `mask TARGET using METHOD …`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mask {
    pub target: Node<MaskTarget>,
    pub method: Node<Method>,
    pub exemption: Option<Node<Exemption>>,
    pub when: Option<Node<Predicate>>,
    pub priority: Option<Node<i64>>,
}

/// What a mask rule covers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum MaskTarget {
    Columns {
        columns: Vec<Name>,
        sources: Vec<Node<Selector>>,
    },
    Tagged {
        tag: Node<Path>,
        sources: Vec<Node<Selector>>,
    },
    Matching {
        pattern: Node<String>,
        sources: Vec<Node<Selector>>,
    },
}

/// A masking method.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Method {
    Hash,
    Null,
    Constant(Literal),
    Regex {
        pattern: Node<String>,
        replacement: String,
    },
    Round(String),
    Truncate(TimeUnit),
    ShowFirst(u32),
    ShowLast(u32),
    /// `show(first N, last M, mask "c")`: both ends kept, or another mask
    /// character than `*` (one end alone with `*` is `ShowFirst` or
    /// `ShowLast`).
    Show {
        first: u32,
        last: u32,
        mask: char,
    },
    None,
}

/// The precision of `truncate(…)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    Year,
    Quarter,
    Month,
    Week,
    Day,
    Hour,
}

impl TimeUnit {
    pub const ALL: [TimeUnit; 6] = [
        TimeUnit::Year,
        TimeUnit::Quarter,
        TimeUnit::Month,
        TimeUnit::Week,
        TimeUnit::Day,
        TimeUnit::Hour,
    ];

    pub fn keyword(self) -> &'static str {
        match self {
            TimeUnit::Year => "year",
            TimeUnit::Quarter => "quarter",
            TimeUnit::Month => "month",
            TimeUnit::Week => "week",
            TimeUnit::Day => "day",
            TimeUnit::Hour => "hour",
        }
    }
}

/// `except S` or `for S`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Exemption {
    pub kind: ExemptionKind,
    pub subject: Node<Subject>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExemptionKind {
    /// The rule does not apply to users for whom the condition is TRUE.
    Except,
    /// The rule applies only to users for whom the condition is not FALSE.
    For,
}

/// `filter SOURCES KIND [except S]`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Filter {
    pub sources: Vec<Node<Selector>>,
    pub kind: Node<FilterKind>,
    /// `for SUBJECT`: the filter applies only to users for whom it holds.
    pub only_for: Option<Node<Subject>>,
    pub except: Option<Node<Subject>>,
}

/// The kinds of row filter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum FilterKind {
    Where(Node<Predicate>),
    Time {
        newer: bool,
        amount: u32,
        unit: Interval,
    },
    Sample {
        percent: String,
        column: Name,
    },
    LimitToPurpose(Node<String>),
    LimitToAnyPurpose,
    Never,
}

/// `expect user "NAME" on SOURCE { … }`: what one user sees of one
/// source, checked by `veil test` against the decisions `explain` makes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expectation {
    pub user: Node<String>,
    pub source: Node<Path>,
    pub lines: Vec<Node<Expect>>,
}

/// One statement of an expectation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Expect {
    /// `access granted` (true) / `access denied`.
    Access(bool),
    /// `column NAME clear|masked|conditional [using METHOD]`.
    Column {
        column: Name,
        state: ColumnState,
        method: Option<Node<Method>>,
    },
    /// `filter KIND applies` (true) / `filter KIND exempt`.
    Filter {
        kind: Node<FilterKind>,
        applies: bool,
    },
    /// `rows all|filtered|none`.
    Rows(Rows),
}

/// How a column reaches a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnState {
    Clear,
    Masked,
    /// Masked on the rows where a rule's `when` holds.
    Conditional,
}

impl ColumnState {
    pub fn word(self) -> &'static str {
        match self {
            ColumnState::Clear => "clear",
            ColumnState::Masked => "masked",
            ColumnState::Conditional => "conditional",
        }
    }
}

/// Which rows of a source a user sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Rows {
    /// No filter applies.
    All,
    /// At least one filter applies.
    Filtered,
    /// A filter that keeps no row applies.
    None,
}

impl Rows {
    pub fn word(self) -> &'static str {
        match self {
            Rows::All => "all",
            Rows::Filtered => "filtered",
            Rows::None => "none",
        }
    }
}

/// The unit of `newer than` / `older than`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Interval {
    Minutes,
    Hours,
    Days,
    Weeks,
    Months,
    Years,
}

impl Interval {
    pub const ALL: [Interval; 6] = [
        Interval::Minutes,
        Interval::Hours,
        Interval::Days,
        Interval::Weeks,
        Interval::Months,
        Interval::Years,
    ];

    pub fn keyword(self) -> &'static str {
        match self {
            Interval::Minutes => "minutes",
            Interval::Hours => "hours",
            Interval::Days => "days",
            Interval::Weeks => "weeks",
            Interval::Months => "months",
            Interval::Years => "years",
        }
    }
}

/// A condition on a row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Predicate {
    Or(Vec<Node<Predicate>>),
    And(Vec<Node<Predicate>>),
    Not(Box<Node<Predicate>>),
    Compare {
        left: Node<Operand>,
        op: CompareOp,
        right: Node<Operand>,
    },
    IsNull {
        operand: Node<Operand>,
        negated: bool,
    },
    InList {
        operand: Node<Operand>,
        negated: bool,
        values: Vec<Node<Literal>>,
    },
    InUserGroups {
        operand: Node<Operand>,
        negated: bool,
    },
    InUserAttribute {
        operand: Node<Operand>,
        negated: bool,
        key: Node<String>,
    },
    /// `[not] in lookup(SOURCE, KEY, VALUE)`
    InLookup {
        operand: Node<Operand>,
        negated: bool,
        source: Node<Path>,
        key: Node<String>,
        value: Node<String>,
    },
    /// An operand standing alone: a boolean column, `sql "…"`, a group.
    Operand(Node<Operand>),
}

impl Predicate {
    /// Calls `found` with the source, key and value of every `lookup(…)`.
    pub fn lookups(&self, found: &mut dyn FnMut(&str, &str, &str)) {
        match self {
            Predicate::Or(parts) | Predicate::And(parts) => {
                parts.iter().for_each(|p| p.node.lookups(found))
            }
            Predicate::Not(inner) => inner.node.lookups(found),
            Predicate::InLookup {
                source, key, value, ..
            } => found(&source.node.dotted(), &key.node, &value.node),
            Predicate::Operand(o) | Predicate::IsNull { operand: o, .. } => {
                if let Operand::Paren(inner) = &o.node {
                    inner.node.lookups(found)
                }
            }
            _ => {}
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CompareOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CompareOp::Eq => "=",
            CompareOp::Ne => "!=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
        }
    }
}

/// A value in a predicate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Operand {
    Literal(Literal),
    Column(String),
    UserName,
    ColumnTagged(Path),
    Sql(String),
    Paren(Box<Node<Predicate>>),
}

/// A literal value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum Literal {
    String(String),
    /// The number as written (an optional `-`, digits, an optional fraction).
    Number(String),
    Bool(bool),
    Null,
}
