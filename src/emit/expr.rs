//! IR expressions as SQL of one dialect: conditions, row predicates, the
//! per-user decisions and the masks. The generic form is written once;
//! dialect differences are the few `match dialect` arms.

use super::quote::{ident, literal, qualified};
use crate::ast::{CompareOp, Interval, Literal};
use crate::ir::{Cond, Decision, Mask, Operand, RowPred, Schemas, Subject};
use crate::model::{Dialect, SqlType, TypeKind};
use crate::sql_expr::SqlExpr;

/// The alias of the base table in a view.
pub const TABLE: &str = "t";
/// The alias of the per-user decisions in a view.
pub const ME: &str = "me";

/// Renders expressions for one integration.
pub struct Expr<'a> {
    pub dialect: Dialect,
    pub schemas: &'a Schemas,
}

impl Expr<'_> {
    fn system(&self, table: &str) -> String {
        qualified(&[&self.schemas.system, table])
    }

    fn function(&self, name: &str) -> String {
        qualified(&[&self.schemas.functions, name])
    }

    fn lit(&self, value: &str) -> String {
        literal(value, self.dialect)
    }

    /// The type text columns are cast to before a string function.
    fn text_type(&self) -> &'static str {
        match self.dialect {
            Dialect::Redshift => "VARCHAR(65535)",
            Dialect::Postgres => "text",
        }
    }

    pub fn column(&self, name: &str) -> String {
        format!("{TABLE}.{}", ident(name))
    }

    /// The name of decision `i` in the view's `me` row.
    pub fn decision_name(i: usize) -> String {
        format!("d{i}")
    }

    /// A per-user decision: an uncorrelated test of the current user's
    /// profile, computed once per query.
    pub fn decision(&self, decision: &Decision) -> String {
        match decision {
            Decision::Access(source) => self.exists("profile_tables", &[("source", source)]),
            Decision::Subject(subject) => self.subject(subject),
        }
    }

    /// The querying user's name. On PostgreSQL `current_user` is of type
    /// `name`: cast to `text` it compares with the profile's text columns by
    /// their index.
    pub fn current_user(&self) -> &'static str {
        match self.dialect {
            Dialect::Redshift => "current_user",
            Dialect::Postgres => "CAST(current_user AS text)",
        }
    }

    /// `(SELECT COUNT(*) FROM side x WHERE x.userid = current_user AND …) > 0`
    fn exists(&self, table: &str, matches: &[(&str, &str)]) -> String {
        let mut sql = format!(
            "(SELECT COUNT(*) FROM {} AS x WHERE x.\"userid\" = {}",
            self.system(table),
            self.current_user()
        );
        for (column, value) in matches {
            sql.push_str(&format!(" AND x.{} = {}", ident(column), self.lit(value)));
        }
        sql.push_str(") > 0");
        sql
    }

    fn subject(&self, subject: &Subject) -> String {
        match subject {
            Subject::Everyone => "TRUE".into(),
            Subject::User(name) => format!("({} = {})", self.current_user(), self.lit(name)),
            Subject::Group(g) => self.exists("profile_groups", &[("name", g)]),
            Subject::Attribute(k) => self.exists("profile_attributes", &[("key", k)]),
            Subject::AttributeValue(k, v) => {
                self.exists("profile_attributes", &[("key", k), ("value", v)])
            }
            Subject::Purpose(p) => self.exists("profile_purposes", &[("name", p)]),
            Subject::AnyPurpose => self.exists("profile_purposes", &[]),
            Subject::Not(inner) => format!("(NOT {})", self.subject(inner)),
            Subject::And(parts) => self.join(parts.iter().map(|p| self.subject(p)), "AND"),
            Subject::Or(parts) => self.join(parts.iter().map(|p| self.subject(p)), "OR"),
        }
    }

    fn join(&self, parts: impl Iterator<Item = String>, op: &str) -> String {
        format!("({})", parts.collect::<Vec<_>>().join(&format!(" {op} ")))
    }

    /// A condition of the view: decisions by name, row predicates inline.
    pub fn cond(&self, cond: &Cond) -> String {
        match cond {
            Cond::True => "TRUE".into(),
            Cond::False => "FALSE".into(),
            Cond::Decision(i) => format!("{ME}.{}", ident(&Self::decision_name(*i))),
            Cond::Not(inner) => format!("(NOT {})", self.cond(inner)),
            Cond::And(parts) => self.join(parts.iter().map(|c| self.cond(c)), "AND"),
            Cond::Or(parts) => self.join(parts.iter().map(|c| self.cond(c)), "OR"),
            Cond::RowOrTrue(p) => format!("COALESCE({}, TRUE)", self.row(p)),
            Cond::RowOrFalse(p) => format!("COALESCE({}, FALSE)", self.row(p)),
        }
    }

    fn row(&self, p: &RowPred) -> String {
        let not = |negated: bool| if negated { "NOT " } else { "" };
        match p {
            RowPred::Or(parts) => self.join(parts.iter().map(|p| self.row(p)), "OR"),
            RowPred::And(parts) => self.join(parts.iter().map(|p| self.row(p)), "AND"),
            RowPred::Not(inner) => format!("(NOT {})", self.row(inner)),
            RowPred::Compare { left, op, right } => format!(
                "({} {} {})",
                self.operand(left),
                compare(*op),
                self.operand(right)
            ),
            RowPred::IsNull { operand, negated } => {
                format!("({} IS {}NULL)", self.operand(operand), not(*negated))
            }
            RowPred::InList {
                operand,
                negated,
                values,
            } => format!(
                "({} {}IN ({}))",
                self.operand(operand),
                not(*negated),
                values
                    .iter()
                    .map(|v| self.literal_value(v))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            RowPred::InUserGroups { operand, negated } => format!(
                "({} {}IN (SELECT x.\"name\" FROM {} AS x WHERE x.\"userid\" = {}))",
                self.operand(operand),
                not(*negated),
                self.system("profile_groups"),
                self.current_user()
            ),
            RowPred::InUserAttribute {
                operand,
                negated,
                key,
            } => format!(
                "({} {}IN (SELECT x.\"value\" FROM {} AS x WHERE x.\"userid\" = {} AND x.\"key\" = {}))",
                self.operand(operand),
                not(*negated),
                self.system("profile_attributes"),
                self.current_user(),
                self.lit(key)
            ),
            RowPred::Operand(o) => self.operand(o),
            RowPred::Age {
                column,
                column_type,
                newer,
                amount,
                unit,
            } => format!(
                "({} {} {})",
                self.column(column),
                if *newer { ">=" } else { "<" },
                self.cutoff(*column_type, *amount, *unit)
            ),
            RowPred::Sample { column, threshold } => format!(
                "({}(CAST({} AS {})) < {threshold})",
                self.function("f_veil_sample"),
                self.column(column),
                self.text_type()
            ),
        }
    }

    /// The moment `amount` units before now, by the database's clock.
    fn cutoff(&self, column_type: TypeKind, amount: u32, unit: Interval) -> String {
        match self.dialect {
            Dialect::Redshift => {
                let part = match unit {
                    Interval::Minutes => "minute",
                    Interval::Hours => "hour",
                    Interval::Days => "day",
                    Interval::Weeks => "week",
                    Interval::Months => "month",
                    Interval::Years => "year",
                };
                format!("DATEADD({part}, -{amount}, GETDATE())")
            }
            Dialect::Postgres => {
                let now = match column_type {
                    TypeKind::TimestampTz => "CURRENT_TIMESTAMP",
                    _ => "LOCALTIMESTAMP",
                };
                format!("({now} - INTERVAL '{amount} {}')", unit.keyword())
            }
        }
    }

    fn operand(&self, o: &Operand) -> String {
        match o {
            Operand::Column(c) => self.column(c),
            Operand::Literal(l) => self.literal_value(l),
            Operand::UserName => self.current_user().into(),
            Operand::Sql(expr) => self.sql(expr),
            Operand::Paren(inner) => self.row(inner),
        }
    }

    pub fn literal_value(&self, l: &Literal) -> String {
        match l {
            Literal::String(s) => self.lit(s),
            // Checked by the grammar: an optional sign, digits, a fraction.
            Literal::Number(n) => n.clone(),
            Literal::Bool(true) => "TRUE".into(),
            Literal::Bool(false) => "FALSE".into(),
            Literal::Null => "NULL".into(),
        }
    }

    /// An escape hatch, re-emitted from its parse tree.
    fn sql(&self, e: &SqlExpr) -> String {
        let not = |negated: bool| if negated { "NOT " } else { "" };
        match e {
            SqlExpr::Column(c) => self.column(c),
            SqlExpr::Number(n) => n.clone(),
            SqlExpr::String(s) => self.lit(s),
            SqlExpr::Bool(true) => "TRUE".into(),
            SqlExpr::Bool(false) => "FALSE".into(),
            SqlExpr::Null => "NULL".into(),
            SqlExpr::Not(inner) => format!("(NOT {})", self.sql(inner)),
            SqlExpr::Negate(inner) => format!("(- {})", self.sql(inner)),
            SqlExpr::Binary { op, left, right } => {
                let op = match *op {
                    "and" => "AND",
                    "or" => "OR",
                    other => other,
                };
                format!("({} {op} {})", self.sql(left), self.sql(right))
            }
            SqlExpr::IsNull { expr, negated } => {
                format!("({} IS {}NULL)", self.sql(expr), not(*negated))
            }
            SqlExpr::InList {
                expr,
                list,
                negated,
            } => format!(
                "({} {}IN ({}))",
                self.sql(expr),
                not(*negated),
                list.iter()
                    .map(|e| self.sql(e))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            SqlExpr::Between {
                expr,
                low,
                high,
                negated,
            } => format!(
                "({} {}BETWEEN {} AND {})",
                self.sql(expr),
                not(*negated),
                self.sql(low),
                self.sql(high)
            ),
            SqlExpr::Like {
                expr,
                pattern,
                negated,
                ilike,
            } => format!(
                "({} {}{} {})",
                self.sql(expr),
                not(*negated),
                if *ilike { "ILIKE" } else { "LIKE" },
                self.sql(pattern)
            ),
            // Function names come from a fixed list of plain words.
            SqlExpr::Call { function, args } => format!(
                "{}({})",
                function.to_ascii_uppercase(),
                args.iter()
                    .map(|a| self.sql(a))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// A mask applied to column `column`, before the cast to the output type.
    pub fn mask(&self, mask: &Mask, column: &str, source_type: &SqlType) -> String {
        let value = self.column(column);
        match mask {
            Mask::Clear => value,
            Mask::Null => "NULL".into(),
            Mask::Constant(l) => self.literal_value(l),
            Mask::Hash { source } => format!(
                "{}({ME}.\"hash_key\", {}, CAST({value} AS {}))",
                self.function("f_veil_hash"),
                self.lit(source),
                self.text_type()
            ),
            Mask::Regex {
                pattern,
                replacement,
            } => match self.dialect {
                // The checker keeps `\` and `$` out of replacements, so the
                // replacement is literal text on both dialects.
                Dialect::Redshift => format!(
                    "REGEXP_REPLACE({value}, {}, {})",
                    self.lit(pattern),
                    self.lit(replacement)
                ),
                Dialect::Postgres => format!(
                    "REGEXP_REPLACE({value}, {}, {}, 'g')",
                    self.lit(pattern),
                    self.lit(replacement)
                ),
            },
            Mask::Round { multiple } => {
                let scale = multiple.split_once('.').map_or(0, |(_, f)| f.len());
                match (self.dialect, source_type.kind) {
                    (Dialect::Postgres, _) => {
                        format!("(ROUND(CAST({value} AS numeric) / {multiple}) * {multiple})")
                    }
                    // A float too large for numeric(38) cannot be rounded
                    // there; it is masked entirely rather than raise an error.
                    (Dialect::Redshift, TypeKind::Real | TypeKind::Double) => format!(
                        "CASE WHEN ABS({value}) < 1e30 THEN ROUND(CAST({value} AS NUMERIC(38,{s})) / {multiple}) * {multiple} END",
                        s = scale.max(6)
                    ),
                    (Dialect::Redshift, kind) => {
                        let s = match kind {
                            TypeKind::Decimal(_, s) => (s as usize).max(scale),
                            _ => scale,
                        };
                        format!(
                            "(ROUND(CAST({value} AS NUMERIC(38,{s})) / {multiple}) * {multiple})"
                        )
                    }
                }
            }
            Mask::Truncate(unit) => format!("DATE_TRUNC('{}', {value})", unit.keyword()),
            Mask::ShowFirst(n) => format!(
                "{}(CAST({value} AS {}), {n})",
                self.function("f_veil_show_first"),
                self.text_type()
            ),
            Mask::ShowLast(n) => format!(
                "{}(CAST({value} AS {}), {n})",
                self.function("f_veil_show_last"),
                self.text_type()
            ),
        }
    }
}

fn compare(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Eq => "=",
        CompareOp::Ne => "<>",
        CompareOp::Lt => "<",
        CompareOp::Le => "<=",
        CompareOp::Gt => ">",
        CompareOp::Ge => ">=",
    }
}
