//! The `sql "…"` escape hatch: one boolean SQL expression, parsed into a
//! tree so that veil re-emits it from the tree (quoting every name itself)
//! instead of pasting text. No `;`, comments, subqueries or unknown functions.

use crate::dialect::Dialect;
use serde::Serialize;

/// How deeply an escape-hatch expression may nest.
const MAX_DEPTH: usize = 64;

/// The functions an escape hatch may call: scalar, deterministic, present on
/// both dialects.
pub const FUNCTIONS: [&str; 12] = [
    "lower",
    "upper",
    "length",
    "coalesce",
    "abs",
    "trim",
    "left",
    "right",
    "round",
    "nullif",
    "date_trunc",
    "concat",
];

/// A parsed escape-hatch expression.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum SqlExpr {
    Column(String),
    Number(String),
    String(String),
    Bool(bool),
    Null,
    Not(Box<SqlExpr>),
    Negate(Box<SqlExpr>),
    Binary {
        op: &'static str,
        left: Box<SqlExpr>,
        right: Box<SqlExpr>,
    },
    IsNull {
        expr: Box<SqlExpr>,
        negated: bool,
    },
    InList {
        expr: Box<SqlExpr>,
        list: Vec<SqlExpr>,
        negated: bool,
    },
    Between {
        expr: Box<SqlExpr>,
        low: Box<SqlExpr>,
        high: Box<SqlExpr>,
        negated: bool,
    },
    Like {
        expr: Box<SqlExpr>,
        pattern: Box<SqlExpr>,
        negated: bool,
        ilike: bool,
    },
    Call {
        function: String,
        args: Vec<SqlExpr>,
    },
}

impl SqlExpr {
    /// The expression with every column name replaced by `rename`'s.
    pub fn rename_columns(self, rename: &dyn Fn(&str) -> String) -> SqlExpr {
        let r = |e: Box<SqlExpr>| Box::new(e.rename_columns(rename));
        match self {
            SqlExpr::Column(name) => SqlExpr::Column(rename(&name)),
            SqlExpr::Not(e) => SqlExpr::Not(r(e)),
            SqlExpr::Negate(e) => SqlExpr::Negate(r(e)),
            SqlExpr::Binary { op, left, right } => SqlExpr::Binary {
                op,
                left: r(left),
                right: r(right),
            },
            SqlExpr::IsNull { expr, negated } => SqlExpr::IsNull {
                expr: r(expr),
                negated,
            },
            SqlExpr::InList {
                expr,
                list,
                negated,
            } => SqlExpr::InList {
                expr: r(expr),
                list: list.into_iter().map(|e| e.rename_columns(rename)).collect(),
                negated,
            },
            SqlExpr::Between {
                expr,
                low,
                high,
                negated,
            } => SqlExpr::Between {
                expr: r(expr),
                low: r(low),
                high: r(high),
                negated,
            },
            SqlExpr::Like {
                expr,
                pattern,
                negated,
                ilike,
            } => SqlExpr::Like {
                expr: r(expr),
                pattern: r(pattern),
                negated,
                ilike,
            },
            SqlExpr::Call { function, args } => SqlExpr::Call {
                function,
                args: args.into_iter().map(|e| e.rename_columns(rename)).collect(),
            },
            other => other,
        }
    }

    /// Whether the expression yields a boolean without knowing column types;
    /// `None` for a bare column, whose type decides.
    pub fn is_boolean(&self) -> Option<bool> {
        match self {
            SqlExpr::Bool(_)
            | SqlExpr::Not(_)
            | SqlExpr::IsNull { .. }
            | SqlExpr::InList { .. }
            | SqlExpr::Between { .. }
            | SqlExpr::Like { .. } => Some(true),
            SqlExpr::Binary { op, .. } => Some(matches!(
                *op,
                "and" | "or" | "=" | "<>" | "<" | "<=" | ">" | ">="
            )),
            SqlExpr::Column(_) => None,
            _ => Some(false),
        }
    }

    /// Every column the expression reads.
    pub fn columns(&self, out: &mut Vec<String>) {
        match self {
            SqlExpr::Column(c) => out.push(c.clone()),
            SqlExpr::Not(e) | SqlExpr::Negate(e) | SqlExpr::IsNull { expr: e, .. } => {
                e.columns(out)
            }
            SqlExpr::Binary { left, right, .. } => {
                left.columns(out);
                right.columns(out);
            }
            SqlExpr::InList { expr, list, .. } => {
                expr.columns(out);
                list.iter().for_each(|e| e.columns(out));
            }
            SqlExpr::Between {
                expr, low, high, ..
            } => {
                expr.columns(out);
                low.columns(out);
                high.columns(out);
            }
            SqlExpr::Like { expr, pattern, .. } => {
                expr.columns(out);
                pattern.columns(out);
            }
            SqlExpr::Call { args, .. } => args.iter().for_each(|e| e.columns(out)),
            SqlExpr::Number(_) | SqlExpr::String(_) | SqlExpr::Bool(_) | SqlExpr::Null => {}
        }
    }
}

/// Why an escape hatch was refused, with the byte offset in its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlError {
    pub at: usize,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Number(String),
    String(String),
    Op(&'static str),
    End,
}

/// Parses one boolean-or-value expression; the caller checks its type.
pub fn parse(text: &str) -> Result<SqlExpr, SqlError> {
    parse_with(text, None)
}

/// [`parse`], also checking that every function call takes as many
/// arguments as the dialect's function does.
pub fn parse_for(text: &str, dialect: Dialect) -> Result<SqlExpr, SqlError> {
    parse_with(text, Some(dialect))
}

/// Where the word `select` stands in `text` outside string literals, if
/// anywhere.
fn select_word(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut in_string = false;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\'' {
            in_string = !in_string;
            continue;
        }
        let starts = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if !in_string
            && starts
            && text.is_char_boundary(i)
            && text.len() >= i + 6
            && text.is_char_boundary(i + 6)
            && text[i..i + 6].eq_ignore_ascii_case("select")
            && bytes
                .get(i + 6)
                .is_none_or(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
        {
            return Some(i);
        }
    }
    None
}

/// How many arguments a function the escape hatch may call takes on a
/// dialect, at least and at most. Redshift's `CONCAT` takes exactly two
/// (`r_CONCAT`) and its `COALESCE` (`NVL`) at least two (`r_NVL_function`).
pub fn arity(function: &str, dialect: Dialect) -> (usize, usize) {
    match (function, dialect) {
        ("concat", Dialect::Redshift) => (2, 2),
        ("concat", Dialect::Postgres) => (1, usize::MAX),
        ("coalesce", Dialect::Redshift) => (2, usize::MAX),
        ("coalesce", Dialect::Postgres) => (1, usize::MAX),
        ("left" | "right" | "nullif" | "date_trunc", _) => (2, 2),
        ("round", _) => (1, 2),
        _ => (1, 1),
    }
}

fn parse_with(text: &str, dialect: Option<Dialect>) -> Result<SqlExpr, SqlError> {
    // A subquery is said to be one, whatever in it the lexer stops at
    // first (a qualified name, say).
    let tokens = tokenize(text).map_err(|error| match select_word(text) {
        Some(at) if at <= error.at => SqlError {
            at,
            message: "subqueries are not allowed in the escape hatch: to keep the rows a table lists for the user, use a lookup filter, `COLUMN in lookup(SOURCE, KEY, VALUE)`".into(),
        },
        _ => error,
    })?;
    let mut parser = SqlParser {
        tokens,
        pos: 0,
        depth: 0,
        dialect,
    };
    let expr = parser.or()?;
    match parser.peek() {
        Token::End => Ok(expr),
        _ => Err(parser.error("unexpected text after the expression")),
    }
}

/// Long, because it is the whole lexer: one arm per kind of token, each a few lines.
fn tokenize(text: &str) -> Result<Vec<(usize, Token)>, SqlError> {
    let err = |at: usize, message: &str| SqlError {
        at,
        message: message.to_string(),
    };
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b';' => {
                return Err(err(
                    i,
                    "`;` is not allowed: the escape hatch is one expression",
                ));
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                return Err(err(i, "comments are not allowed in the escape hatch"));
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                return Err(err(i, "comments are not allowed in the escape hatch"));
            }
            b'\'' => {
                let mut value = String::new();
                i += 1;
                loop {
                    let Some(rest) = text.get(i..) else {
                        return Err(err(start, "unterminated string literal"));
                    };
                    let Some(ch) = rest.chars().next() else {
                        return Err(err(start, "unterminated string literal"));
                    };
                    if ch == '\'' {
                        if bytes.get(i + 1) == Some(&b'\'') {
                            value.push('\'');
                            i += 2;
                            continue;
                        }
                        i += 1;
                        break;
                    }
                    if ch == '\\' {
                        // Backslashes mean different things on the two
                        // dialects; refuse rather than guess.
                        return Err(err(
                            i,
                            "backslashes are not allowed in escape-hatch strings",
                        ));
                    }
                    value.push(ch);
                    i += ch.len_utf8();
                }
                tokens.push((start, Token::String(value)));
            }
            b'"' => {
                let mut value = String::new();
                i += 1;
                loop {
                    let Some(ch) = text.get(i..).and_then(|r| r.chars().next()) else {
                        return Err(err(start, "unterminated quoted name"));
                    };
                    if ch == '"' {
                        if bytes.get(i + 1) == Some(&b'"') {
                            value.push('"');
                            i += 2;
                            continue;
                        }
                        i += 1;
                        break;
                    }
                    value.push(ch);
                    i += ch.len_utf8();
                }
                tokens.push((start, Token::Quoted(value)));
            }
            b'0'..=b'9' | b'.' if c != b'.' || bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                // Digits, a fraction, an exponent: `12`, `1.5`, `.5`, `2e-3`.
                let digits = |i: &mut usize| {
                    while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
                        *i += 1;
                    }
                };
                digits(&mut i);
                if bytes.get(i) == Some(&b'.') {
                    i += 1;
                    digits(&mut i);
                }
                if matches!(bytes.get(i), Some(b'e' | b'E')) {
                    let mut j = i + 1;
                    if matches!(bytes.get(j), Some(b'+' | b'-')) {
                        j += 1;
                    }
                    if bytes.get(j).is_some_and(u8::is_ascii_digit) {
                        i = j;
                        digits(&mut i);
                    }
                }
                if bytes
                    .get(i)
                    .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.')
                {
                    return Err(err(
                        i,
                        "a malformed number: a number is digits, an optional fraction and an optional exponent (`12`, `1.5`, `2e-3`)",
                    ));
                }
                tokens.push((start, Token::Number(text[start..i].to_string())));
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                tokens.push((start, Token::Word(text[start..i].to_ascii_lowercase())));
            }
            _ => {
                let two = text.get(i..i + 2).unwrap_or("");
                let op = match two {
                    "<=" => Some("<="),
                    ">=" => Some(">="),
                    "<>" | "!=" => Some("<>"),
                    "||" => Some("||"),
                    _ => None,
                };
                if let Some(op) = op {
                    tokens.push((start, Token::Op(op)));
                    i += 2;
                    continue;
                }
                let op = match c {
                    b'=' => "=",
                    b'<' => "<",
                    b'>' => ">",
                    b'+' => "+",
                    b'-' => "-",
                    b'*' => "*",
                    b'/' => "/",
                    b'%' => "%",
                    b'(' => "(",
                    b')' => ")",
                    b',' => ",",
                    b'.' => {
                        return Err(SqlError {
                            at: i,
                            message: "qualified names such as `t.x` are not allowed: the escape hatch reads the source's own columns, by name".into(),
                        });
                    }
                    _ => {
                        let ch = text[i..].chars().next().unwrap_or('?');
                        return Err(SqlError {
                            at: i,
                            message: format!("unexpected character `{}`", ch.escape_debug()),
                        });
                    }
                };
                tokens.push((start, Token::Op(op)));
                i += 1;
            }
        }
    }
    tokens.push((text.len(), Token::End));
    Ok(tokens)
}

struct SqlParser {
    /// Where set, calls are checked against this dialect's functions.
    dialect: Option<Dialect>,
    tokens: Vec<(usize, Token)>,
    pos: usize,
    depth: usize,
}

impl SqlParser {
    fn peek(&self) -> &Token {
        self.tokens.get(self.pos).map_or(&Token::End, |t| &t.1)
    }

    fn at(&self) -> usize {
        self.tokens.get(self.pos).map_or(0, |t| t.0)
    }

    fn error(&self, message: &str) -> SqlError {
        SqlError {
            at: self.at(),
            message: message.to_string(),
        }
    }

    fn bump(&mut self) -> Token {
        let token = self.peek().clone();
        self.pos += 1;
        token
    }

    fn word(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Token::Word(w) if w == word) {
            self.pos += 1;
            return true;
        }
        false
    }

    fn op(&mut self, op: &str) -> bool {
        if matches!(self.peek(), Token::Op(o) if *o == op) {
            self.pos += 1;
            return true;
        }
        false
    }

    fn expect_op(&mut self, op: &str) -> Result<(), SqlError> {
        if self.op(op) {
            Ok(())
        } else {
            Err(self.error(&format!("expected `{op}`")))
        }
    }

    fn enter(&mut self) -> Result<(), SqlError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error("the expression nests too deeply"));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<SqlExpr, SqlError> {
        self.enter()?;
        let mut left = self.and()?;
        while self.word("or") {
            let right = self.and()?;
            left = binary("or", left, right);
        }
        self.depth -= 1;
        Ok(left)
    }

    fn and(&mut self) -> Result<SqlExpr, SqlError> {
        let mut left = self.not()?;
        while self.word("and") {
            let right = self.not()?;
            left = binary("and", left, right);
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<SqlExpr, SqlError> {
        let mut count = 0;
        while self.word("not") {
            count += 1;
            if count > 8 {
                return Err(self.error("more than 8 `not` in a row"));
            }
        }
        let mut expr = self.predicate()?;
        for _ in 0..count {
            expr = SqlExpr::Not(Box::new(expr));
        }
        Ok(expr)
    }

    fn predicate(&mut self) -> Result<SqlExpr, SqlError> {
        let left = self.additive()?;
        if self.word("is") {
            let negated = self.word("not");
            if !self.word("null") {
                return Err(self.error("expected `null` after `is`"));
            }
            return Ok(SqlExpr::IsNull {
                expr: Box::new(left),
                negated,
            });
        }
        let negated = self.word("not");
        if self.word("in") {
            self.expect_op("(")?;
            let mut list = vec![self.additive()?];
            while self.op(",") {
                list.push(self.additive()?);
            }
            self.expect_op(")")?;
            return Ok(SqlExpr::InList {
                expr: Box::new(left),
                list,
                negated,
            });
        }
        if self.word("between") {
            let low = self.additive()?;
            if !self.word("and") {
                return Err(self.error("expected `and` in `between`"));
            }
            let high = self.additive()?;
            return Ok(SqlExpr::Between {
                expr: Box::new(left),
                low: Box::new(low),
                high: Box::new(high),
                negated,
            });
        }
        let ilike = matches!(self.peek(), Token::Word(w) if w == "ilike");
        if self.word("like") || self.word("ilike") {
            let pattern = self.additive()?;
            return Ok(SqlExpr::Like {
                expr: Box::new(left),
                pattern: Box::new(pattern),
                negated,
                ilike,
            });
        }
        if negated {
            return Err(self.error("expected `in`, `between` or `like` after `not`"));
        }
        for op in ["=", "<>", "<=", ">=", "<", ">"] {
            if self.op(op) {
                let right = self.additive()?;
                return Ok(binary(op, left, right));
            }
        }
        Ok(left)
    }

    fn additive(&mut self) -> Result<SqlExpr, SqlError> {
        let mut left = self.multiplicative()?;
        loop {
            let op = match self.peek() {
                Token::Op(o @ ("+" | "-" | "||")) => *o,
                _ => return Ok(left),
            };
            self.pos += 1;
            let right = self.multiplicative()?;
            left = binary(op, left, right);
        }
    }

    fn multiplicative(&mut self) -> Result<SqlExpr, SqlError> {
        let mut left = self.unary()?;
        loop {
            let op = match self.peek() {
                Token::Op(o @ ("*" | "/" | "%")) => *o,
                _ => return Ok(left),
            };
            self.pos += 1;
            let right = self.unary()?;
            left = binary(op, left, right);
        }
    }

    fn unary(&mut self) -> Result<SqlExpr, SqlError> {
        if self.op("-") {
            self.enter()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(SqlExpr::Negate(Box::new(inner)));
        }
        self.primary()
    }

    /// Long, because it is one arm per kind of primary expression the escape hatch allows.
    fn primary(&mut self) -> Result<SqlExpr, SqlError> {
        let at = self.at();
        match self.bump() {
            Token::Number(n) => Ok(SqlExpr::Number(n)),
            Token::String(s) => Ok(SqlExpr::String(s)),
            Token::Quoted(q) => Ok(SqlExpr::Column(q)),
            Token::Op("(") => {
                if matches!(self.peek(), Token::Word(w) if w == "select") {
                    return Err(self.error("subqueries are not allowed in the escape hatch"));
                }
                let inner = self.or()?;
                self.expect_op(")")?;
                Ok(inner)
            }
            Token::Word(w) => match w.as_str() {
                "true" => Ok(SqlExpr::Bool(true)),
                "false" => Ok(SqlExpr::Bool(false)),
                "null" => Ok(SqlExpr::Null),
                "select" | "with" | "exists" => Err(SqlError {
                    at,
                    message: "subqueries are not allowed in the escape hatch".into(),
                }),
                _ if self.op("(") => {
                    if !FUNCTIONS.contains(&w.as_str()) {
                        return Err(SqlError {
                            at,
                            message: format!(
                                "function `{w}` is not allowed; the escape hatch may call {}",
                                FUNCTIONS.join(", ")
                            ),
                        });
                    }
                    self.enter()?;
                    let mut args = Vec::new();
                    if !self.op(")") {
                        args.push(self.or()?);
                        while self.op(",") {
                            args.push(self.or()?);
                        }
                        self.expect_op(")")?;
                    }
                    self.depth -= 1;
                    if let Some(dialect) = self.dialect {
                        let (least, most) = arity(&w, dialect);
                        if args.len() < least || args.len() > most {
                            let wanted = match (least, most) {
                                (l, m) if l == m => format!("exactly {l}"),
                                (l, usize::MAX) => format!("at least {l}"),
                                (l, m) => format!("{l} to {m}"),
                            };
                            let hint = if w == "concat" {
                                "; nest calls (`concat(a, concat(b, c))`) or use `||`"
                            } else {
                                ""
                            };
                            return Err(SqlError {
                                at,
                                message: format!(
                                    "`{w}` takes {wanted} arguments on {}, not {}{hint}",
                                    dialect.name(),
                                    args.len()
                                ),
                            });
                        }
                    }
                    Ok(SqlExpr::Call { function: w, args })
                }
                _ if RESERVED.contains(&w.as_str()) => Err(SqlError {
                    at,
                    message: format!("unexpected keyword `{w}`"),
                }),
                _ => Ok(SqlExpr::Column(w)),
            },
            Token::End => Err(SqlError {
                at,
                message: "the expression ends early".into(),
            }),
            Token::Op(o) => Err(SqlError {
                at,
                message: format!("unexpected `{o}`"),
            }),
        }
    }
}

/// SQL words that are never column names in an escape hatch.
const RESERVED: [&str; 16] = [
    "and", "or", "not", "is", "in", "between", "like", "ilike", "case", "when", "then", "else",
    "end", "from", "where", "union",
];

fn binary(op: &'static str, left: SqlExpr, right: SqlExpr) -> SqlExpr {
    SqlExpr::Binary {
        op,
        left: Box::new(left),
        right: Box::new(right),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the mutation fuzzer: a non-ASCII letter before where
    /// `select` would end.
    #[test]
    fn text_beyond_ascii_is_refused_without_a_panic() {
        for text in [
            "loweér(region) like 'e%'",
            "é",
            "aé select",
            "ésélect 1",
            "sélect",
        ] {
            let _ = parse(text);
            let _ = select_word(text);
        }
        assert_eq!(select_word("é select 1"), Some(3));
    }

    #[test]
    fn refusals_say_what_is_refused() {
        for (text, says, at) in [
            ("id in (select t.x from t)", "subqueries are not allowed", 7),
            ("exists (SELECT 1)", "subqueries are not allowed", 0),
            (
                "other.id = 1",
                "qualified names such as `t.x` are not allowed",
                5,
            ),
            // `select` in a string is text, not a subquery.
            ("note = 'select' and t.x = 1", "qualified names", 21),
        ] {
            let error = parse(text).expect_err(text);
            assert!(error.message.contains(says), "{text}: {}", error.message);
            if at != usize::MAX {
                assert_eq!(error.at, at, "{text}");
            }
        }
    }

    #[test]
    fn parses_a_boolean_expression() {
        let expr = parse("amount < 10000 and lower(\"Region\") in ('eu', 'us')").expect("parses");
        assert_eq!(expr.is_boolean(), Some(true));
        let mut columns = Vec::new();
        expr.columns(&mut columns);
        assert_eq!(columns, ["amount", "Region"]);
    }

    #[test]
    fn refuses_statements_comments_and_subqueries() {
        for bad in [
            "a = 1; drop table t",
            "a = 1 -- x",
            "a = 1 /* x */",
            "a in (select 1)",
            "pg_sleep(10) is null",
            "a = 'x\\'",
            "a = 'open",
        ] {
            assert!(parse(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn bounds_nesting() {
        let deep = format!("{}a{}", "(".repeat(100), ")".repeat(100));
        assert!(parse(&deep).is_err());
        let deep = format!("{}1", "-".repeat(100));
        assert!(parse(&deep).is_err());
    }
}
