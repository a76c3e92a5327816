//! IR expressions as SQL of one dialect: conditions, row predicates, the
//! per-user decisions and the masks. The generic form is written once;
//! what the dialects write differently comes from `dialect::SqlDialect`.

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
    /// The zone time filters and `truncate` count in.
    pub time_zone: &'a str,
}

pub use crate::dialect::builtin;

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
        self.dialect.sql().long_text()
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
            Decision::Access(subject) | Decision::Subject(subject) => self.subject(subject),
        }
    }

    /// The querying user's name, comparable with the profile's columns.
    pub fn current_user(&self) -> &'static str {
        self.dialect.sql().current_user()
    }

    /// `(SELECT COUNT(*) FROM side x WHERE x.userid = current_user AND …) > 0`
    fn exists(&self, table: &str, matches: &[(&str, &str)]) -> String {
        let mut sql = format!(
            "(SELECT {}(*) FROM {} AS x WHERE x.\"userid\" = {}",
            builtin("count"),
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
            Subject::Approved(source) => self.exists("profile_approvals", &[("source", source)]),
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
            // The values of a lookup table on the user's rows; NULL is never
            // among them, so `not in` means what it says.
            RowPred::InLookup {
                operand,
                negated,
                lookup,
            } => format!(
                "({} {}IN (SELECT l.{v} FROM {} AS l WHERE l.{} = {} AND l.{v} IS NOT NULL))",
                self.operand(operand),
                not(*negated),
                if lookup.cross_database {
                    qualified(&[
                        &lookup.table.database,
                        &lookup.table.schema,
                        &lookup.table.table,
                    ])
                } else {
                    qualified(&[&lookup.table.schema, &lookup.table.table])
                },
                ident(&lookup.key),
                self.current_user(),
                v = ident(&lookup.value),
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
            RowPred::Sample {
                column,
                column_type,
                threshold,
            } => format!(
                "({}({}) < {threshold})",
                self.function("f_veil_sample"),
                self.canonical_text(&self.column(column), column_type)
            ),
        }
    }

    /// The integration's zone as a literal.
    fn zone(&self) -> String {
        self.lit(self.time_zone)
    }

    /// The wall-clock time now in the integration's zone, as a `timestamp`,
    /// whatever zone the session is set to.
    fn now_in_zone(&self) -> String {
        self.dialect.sql().now_in_zone(&self.zone())
    }

    /// The moment `amount` units before now, counted on the calendar of the
    /// integration's zone, in the column's own type family: a `timestamp`
    /// (for `timestamp` and `date` columns, read as wall-clock times of the
    /// zone) or a `timestamptz`.
    fn cutoff(&self, column_type: TypeKind, amount: u32, unit: Interval) -> String {
        let wall = format!(
            "({} - INTERVAL '{amount} {}')",
            self.now_in_zone(),
            unit.keyword()
        );
        match column_type {
            TypeKind::TimestampTz => format!("({wall} AT TIME ZONE {})", self.zone()),
            _ => wall,
        }
    }

    /// A value as text that no session setting changes: the bytes `hash`
    /// and `sample` read.
    pub fn canonical_text(&self, value: &str, ty: &SqlType) -> String {
        self.dialect.sql().canonical_text(value, ty)
    }

    /// A value shown as text, the same in every session; `None` when the
    /// type's plain cast is already stable.
    pub fn display_text(&self, value: &str, ty: &SqlType) -> Option<String> {
        self.dialect.sql().display_text(value, ty, &self.zone())
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
            // Function names come from a fixed list of plain words; the ones
            // that are SQL syntax rather than functions stay as written.
            SqlExpr::Call { function, args } => {
                let name = match function.as_str() {
                    "coalesce" | "nullif" | "trim" => function.to_ascii_uppercase(),
                    other => builtin(other),
                };
                format!(
                    "{name}({})",
                    args.iter()
                        .map(|a| self.sql(a))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        }
    }

    /// A mask applied to column `column`, before the cast to the column's
    /// output type `out_type`.
    pub fn mask(
        &self,
        mask: &Mask,
        column: &str,
        source_type: &SqlType,
        out_type: &SqlType,
    ) -> String {
        let value = self.column(column);
        match mask {
            Mask::Clear => value,
            Mask::Null => "NULL".into(),
            Mask::Constant(l) => self.literal_value(l),
            Mask::Hash { source } => format!(
                "{}({ME}.\"hash_key\", {}, {})",
                self.function("f_veil_hash"),
                self.lit(source),
                self.canonical_text(&value, source_type)
            ),
            // The checker keeps `\` and `$` out of replacements, so the
            // replacement is literal text on both dialects.
            Mask::Regex {
                pattern,
                replacement,
            } => self.dialect.sql().regex_replace(
                &builtin("regexp_replace"),
                &value,
                &self.lit(pattern),
                &self.lit(replacement),
            ),
            Mask::Round { multiple } => self.round(&value, multiple, source_type, out_type),
            Mask::Truncate(unit) => self.truncate(&value, *unit, source_type),
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
            Mask::Show { first, last, mask } => format!(
                "{}(CAST({value} AS {}), {first}, {last}, {})",
                self.function("f_veil_show"),
                self.text_type(),
                self.lit(&mask.to_string())
            ),
        }
    }
}

impl Expr<'_> {
    /// `round(n)`: the nearest multiple of `n`, halves away from zero,
    /// computed in `numeric`. A value whose rounding the output type cannot
    /// hold (a float beyond numeric's reach, NaN, an infinity, a number at
    /// the top of its type) is masked entirely: masks never raise errors.
    fn round(&self, value: &str, multiple: &str, source: &SqlType, out: &SqlType) -> String {
        let round = builtin("round");
        let abs = builtin("abs");
        let is_float = matches!(source.kind, TypeKind::Real | TypeKind::Double);
        let scale = multiple.split_once('.').map_or(0, |(_, f)| f.len());
        let source_scale = match source.kind {
            _ if is_float => None,
            TypeKind::Decimal(_, s) => Some(s as usize),
            _ => Some(0),
        };
        let numeric = self.dialect.sql().rounding_type(source_scale, scale);
        // A power of ten rounds without a division; on Redshift a division
        // of NUMERIC(38,s) leaves fewer integer digits than the column has
        // (`r_numeric_computations`), so other multiples divide only values
        // small enough, the rest masked entirely.
        let rounded = match power_of_ten(multiple) {
            Some(places) => format!("{round}(CAST({value} AS {numeric}), {places})"),
            None => format!("({round}(CAST({value} AS {numeric}) / {multiple}) * {multiple})"),
        };
        if self.dialect.sql().division_loses_digits()
            && !is_float
            && power_of_ten(multiple).is_none()
        {
            let digits = 28_usize.saturating_sub(scale + multiple_digits(multiple) as usize);
            return format!(
                "CASE WHEN {abs}({value}) < 1{} THEN {rounded} END",
                "0".repeat(digits)
            );
        }
        if is_float {
            // NaN and the infinities compare false; numeric(38) on Redshift
            // holds floats below 10^30.
            let limit = self.dialect.sql().float_rounding_limit();
            return format!("CASE WHEN {abs}({value}) < {limit} THEN {rounded} END");
        }
        // Rounding moves a value by at most half the multiple: an output
        // type with a digit more than both holds every result. Only a type
        // at the 38-digit cap needs the test.
        let needed = integer_digits(source.kind).max(multiple_digits(multiple)) + 1;
        if capacity(out.kind).is_some_and(|digits| digits >= needed) {
            return rounded;
        }
        // The test is on the value, before it is rounded: on Redshift the
        // rounding itself keeps the input's type and would overflow.
        match fits(value, out.kind, multiple_digits(multiple)) {
            Some(test) => format!("CASE WHEN {test} THEN {rounded} END"),
            None => rounded,
        }
    }

    /// `truncate(unit)`: dates stay dates, timestamps stay timestamps, and
    /// a `timestamptz` is truncated on the calendar of the integration's
    /// zone, never the session's. Values the conversions cannot carry (a
    /// date beyond the last timestamp, an instant at the edge of the range)
    /// are masked entirely.
    fn truncate(&self, value: &str, unit: crate::ast::TimeUnit, ty: &SqlType) -> String {
        self.dialect
            .sql()
            .truncate(value, unit.keyword(), ty.kind, &self.zone())
    }
}

/// How many integer digits a value of the type may have.
fn integer_digits(kind: TypeKind) -> u32 {
    match kind {
        TypeKind::SmallInt => 5,
        TypeKind::Integer => 10,
        TypeKind::BigInt => 19,
        TypeKind::Decimal(p, s) => p - s,
        _ => 38,
    }
}

/// The decimal places `round(number, places)` takes for a multiple that is
/// a power of ten (`100` → -2, `0.01` → 2), if it is one.
fn power_of_ten(multiple: &str) -> Option<i32> {
    let (int, frac) = multiple.split_once('.').unwrap_or((multiple, ""));
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    match (int, frac) {
        ("", f)
            if !f.is_empty() && f.ends_with('1') && f[..f.len() - 1].chars().all(|c| c == '0') =>
        {
            Some(f.len() as i32)
        }
        (i, "") if i.starts_with('1') && i[1..].chars().all(|c| c == '0') => {
            Some(-((i.len() - 1) as i32))
        }
        _ => None,
    }
}

/// The integer digits of a number literal.
fn multiple_digits(multiple: &str) -> u32 {
    let int = multiple
        .trim_start_matches('-')
        .split('.')
        .next()
        .unwrap_or("");
    int.trim_start_matches('0').len().max(1) as u32
}

/// How many integer digits every value of that many digits a type holds.
fn capacity(kind: TypeKind) -> Option<u32> {
    match kind {
        TypeKind::SmallInt => Some(4),
        TypeKind::Integer => Some(9),
        TypeKind::BigInt => Some(18),
        TypeKind::Decimal(p, s) => Some(p - s),
        // Text and floats hold any rounded number.
        TypeKind::Real | TypeKind::Double | TypeKind::Varchar(_) | TypeKind::Char(_) => None,
        _ => None,
    }
}

/// The test that `value`, rounded to a multiple of at most `digits`
/// integer digits, fits the output type, if the type is a number of bounded
/// size: the value stays that far below the type's largest.
fn fits(value: &str, out: TypeKind, digits: u32) -> Option<String> {
    let (low, high) = match out {
        TypeKind::SmallInt => (-32768i128, 32767i128),
        TypeKind::Integer => (-2147483648, 2147483647),
        TypeKind::BigInt => (i128::from(i64::MIN), i128::from(i64::MAX)),
        TypeKind::Decimal(p, s) => {
            // 10^(p-s) - 10^digits, written out: nines then zeros.
            let int = (p - s) as usize;
            let zeros = (digits as usize).min(int);
            let bound = format!("{}{}", "9".repeat(int - zeros), "0".repeat(zeros));
            let bound = bound.trim_start_matches('0');
            let bound = if bound.is_empty() { "0" } else { bound };
            return Some(format!("{}({value}) <= {bound}", builtin("abs")));
        }
        _ => return None,
    };
    let margin = 10i128.pow(digits.min(30));
    Some(format!(
        "{value} BETWEEN {} AND {}",
        low + margin,
        high - margin
    ))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::sql_type;

    fn exprs(dialect: Dialect, schemas: &Schemas) -> Expr<'_> {
        Expr {
            dialect,
            schemas,
            time_zone: "UTC",
        }
    }

    #[test]
    fn rounding_a_38_digit_number_never_divides_it_on_redshift() {
        let schemas = Schemas {
            system: "s".into(),
            functions: "f".into(),
            procedures: "p".into(),
            views: "v".into(),
        };
        let e = exprs(Dialect::Redshift, &schemas);
        let big = sql_type(TypeKind::Decimal(38, 0), Dialect::Redshift);
        // A power of ten: ROUND(x, -3), no division (`r_numeric_computations`
        // leaves a NUMERIC(38,0) quotient too few integer digits).
        let sql = e.round("t.\"n\"", "1000", &big, &big);
        assert!(
            sql.contains("pg_catalog.round(CAST(t.\"n\" AS NUMERIC(38,0)), -3)"),
            "{sql}"
        );
        assert!(!sql.contains(" / "), "{sql}");
        // At the 38-digit cap the result is tested against the type.
        assert!(sql.starts_with("CASE WHEN pg_catalog.abs("), "{sql}");
        // Another multiple divides only values small enough.
        let sql = e.round("t.\"n\"", "7", &big, &big);
        assert!(
            sql.starts_with("CASE WHEN pg_catalog.abs(t.\"n\") < 1"),
            "{sql}"
        );
        // Decimal places: 0.01 rounds to two.
        let money = sql_type(TypeKind::Decimal(12, 2), Dialect::Redshift);
        let sql = e.round("t.\"m\"", "0.01", &money, &money);
        assert!(sql.contains(", 2)"), "{sql}");
        assert_eq!(power_of_ten("100"), Some(-2));
        assert_eq!(power_of_ten("0.001"), Some(3));
        assert_eq!(power_of_ten("1"), Some(0));
        assert_eq!(power_of_ten("25"), None);
        assert_eq!(power_of_ten("0.5"), None);
    }
}
