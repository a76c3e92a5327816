//! The one place where names and values become SQL text. Every identifier
//! veil emits goes through [`ident`], every string literal through
//! [`literal`]; templates reach them only as filters.

use crate::model::Dialect;
use crate::object::QualifiedName;

/// A double-quoted identifier, inner quotes doubled.
pub fn ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// A dotted name of identifiers: `"schema"."table"`.
pub fn qualified(parts: &[&str]) -> String {
    parts.iter().map(|p| ident(p)).collect::<Vec<_>>().join(".")
}

/// An object's name as SQL: `"schema"."object"`, or a schema alone.
pub fn qualified_name(name: &QualifiedName) -> String {
    match &name.object {
        Some(object) => qualified(&[&name.schema, object]),
        None => ident(&name.schema),
    }
}

/// A string literal. On Redshift a backslash escapes inside literals, so it
/// is doubled along with quotes (as `QUOTE_LITERAL` does). On PostgreSQL a
/// literal holding a backslash is written as an escape string (`E'…'`), which
/// reads the same whatever `standard_conforming_strings` is set to.
pub fn literal(value: &str, dialect: Dialect) -> String {
    if !value.contains(['\'', '\\']) {
        let mut out = String::with_capacity(value.len() + 2);
        out.push('\'');
        out.push_str(value);
        out.push('\'');
        return out;
    }
    let backslash = value.contains('\\');
    let mut out = String::with_capacity(value.len() + 3);
    if backslash {
        out.push_str(dialect.sql().backslash_prefix());
    }
    out.push('\'');
    for c in value.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Text safe inside a `--` comment: control characters (a newline would end
/// the comment) are replaced.
pub fn comment(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_double_their_quotes() {
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(qualified(&["s", "t x"]), "\"s\".\"t x\"");
    }

    #[test]
    fn literals_escape_per_dialect() {
        assert_eq!(literal("it's", Dialect::Redshift), "'it''s'");
        assert_eq!(literal("ends\\", Dialect::Redshift), "'ends\\\\'");
        assert_eq!(literal("ends\\", Dialect::Postgres), "E'ends\\\\'");
        assert_eq!(literal("plain", Dialect::Postgres), "'plain'");
    }

    #[test]
    fn comments_stay_on_one_line() {
        assert_eq!(comment("a\nDROP"), "a?DROP");
    }
}
