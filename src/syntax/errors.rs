//! Syntax errors as diagnostics: pest's "expected …" turned into words a
//! policy author recognises, with a hint for the common mistakes.

use super::scan::{MAX_NESTING, ScanError};
use super::{Rule, SyntaxError};
use crate::diagnostic::{Code, Diagnostic};
use crate::span::{FileId, Loc, Span, floor_char_boundary};
use pest::error::{ErrorVariant, InputLocation};

pub(super) use crate::suggest::did_you_mean as suggest;

pub(super) fn scan_error(file: FileId, error: ScanError) -> Diagnostic {
    match error {
        ScanError::UnterminatedComment(span) => {
            Diagnostic::error(Code::SyntaxUnterminatedComment, "unterminated block comment")
                .at(file, span, "this comment is never closed")
                .help("close it with `*/`")
        }
        ScanError::TooDeep(span) => Diagnostic::error(Code::SyntaxTooDeep, "nesting is too deep")
            .at(file, span, "too deep")
            .help(format!(
                "brackets may nest at most {MAX_NESTING} levels; split the condition into simpler rules"
            )),
    }
}

/// Converts a pest error in the text that starts at `offset` of `text`.
///
/// Long, because it is one arm per grammar rule a parse can stop at, each with its own message and hint.
pub(super) fn pest_error(
    file: FileId,
    text: &str,
    offset: usize,
    error: pest::error::Error<Rule>,
) -> SyntaxError {
    let at = offset
        + match error.location {
            InputLocation::Pos(p) => p,
            InputLocation::Span((s, _)) => s,
        };
    let at = floor_char_boundary(text, at.min(text.len()));
    let found = token_at(text, at);
    let span = Span::new(
        at,
        at + found.len().max(if at < text.len() { 1 } else { 0 }),
    );
    let span = Span::new(
        span.start,
        floor_char_boundary(text, span.end.min(text.len())).max(span.start),
    );
    let (message, expected) = match &error.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            let expected = expected_words(positives);
            let what = if found.is_empty() {
                "end of file".to_string()
            } else {
                let shown: String = found
                    .chars()
                    .flat_map(|c| {
                        if c.is_control() {
                            c.escape_default().collect::<Vec<_>>()
                        } else {
                            vec![c]
                        }
                    })
                    .collect();
                format!("`{shown}`")
            };
            let message = if expected.is_empty() {
                format!("unexpected {what}")
            } else {
                format!("expected {}, found {what}", join_or(&expected))
            };
            (message, expected)
        }
        ErrorVariant::CustomError { message } => (message.clone(), Vec::new()),
    };
    // A block that is never closed: said at its `{`, not at whatever
    // follows it.
    let ends_block = found.is_empty() || super::starts_item(found);
    if ends_block && expected.iter().any(|w| w == "`}`") {
        let open = super::scan::unclosed_braces(text, offset, at);
        if let Some((&innermost, outer)) = open.split_last() {
            let next = if found.is_empty() {
                "the file ends here".to_string()
            } else {
                format!("`{found}` starts the next item here")
            };
            let mut diagnostic = Diagnostic::error(Code::SyntaxUnclosed, "a `{` is never closed")
                .at(
                    file,
                    Span::new(innermost, innermost + 1),
                    "this block is never closed",
                )
                .related(Loc { file, span }, next);
            for &o in outer.iter().rev() {
                diagnostic = diagnostic.related(
                    Loc {
                        file,
                        span: Span::new(o, o + 1),
                    },
                    "inside this block, also open",
                );
            }
            return SyntaxError {
                span,
                diagnostic: diagnostic
                    .help("close each block with `}` before the next item starts"),
            };
        }
    }
    let help = hint(found, &expected);
    let label = if found.is_empty() {
        "the file ends here".to_string()
    } else {
        "unexpected here".to_string()
    };
    SyntaxError {
        span,
        diagnostic: Diagnostic::error(Code::SyntaxUnexpected, message)
            .at(file, span, label)
            .help(help),
    }
}

/// The word, string start or single character at `at`.
fn token_at(text: &str, at: usize) -> &str {
    let rest = &text[at..];
    let Some(first) = rest.chars().next() else {
        return "";
    };
    if first.is_ascii_alphanumeric() || first == '_' {
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        return &rest[..end.min(64)];
    }
    &rest[..first.len_utf8()]
}

/// The readable words for the rules pest expected, without duplicates.
fn expected_words(rules: &[Rule]) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for rule in rules {
        let word = describe(*rule);
        if !words.iter().any(|w| w == word) {
            words.push(word.to_string());
        }
    }
    words
}

fn join_or(words: &[String]) -> String {
    match words {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// What a rule is called in messages.
fn describe(rule: Rule) -> &'static str {
    use Rule::*;
    match rule {
        EOI => "end of file",
        item | file => "`integration`, `source`, `access`, `mask`, `filter` or `expect`",
        expect | expect_word => "`expect`",
        expect_line | expect_access | expect_column | expect_filter | expect_rows | rows_word => {
            "a statement (`access …`, `column …`, `filter …` or `rows …`)"
        }
        integration | k_integration => "`integration`",
        source | k_source => "`source`",
        access | k_access => "`access`",
        mask | k_mask => "`mask`",
        filter | k_filter => "`filter`",
        bare_ident | quoted_ident | path | word | column_def | type_name => "a name",
        string | string_body => "a string in double quotes",
        number | type_arg => "a number",
        literal => "a literal (a string, a number, `true`, `false` or `null`)",
        property => "a property (`key = value`)",
        value => "a value",
        env_call => "`env(\"VAR\")`",
        list | list_item => "a list",
        grantee | grantee_kind => "`group \"…\"`, `user \"…\"` or `role \"…\"`",
        columns | k_columns => "`columns`",
        open_brace => "`{`",
        close_brace => "`}`",
        column_type => "a column type",
        type_args => "`(…)`",
        time_zone | tz_with => "`with time zone`",
        column_tags => "`tags(…)`",
        selectors | selector => "a source id or `tagged TAG`",
        subject | subject_and | subject_not | subject_atom => {
            "a condition on the user (`group \"…\"`, `user \"…\"`, `attribute \"…\"`, `purpose \"…\"`, `everyone` …)"
        }
        access_line | k_allow | k_require => "`allow` or `require`",
        mask_target | target_columns | target_tagged | target_matching => {
            "a mask target (`COLUMN on SOURCE`, `tagged TAG` or `columns matching \"re\"`)"
        }
        method | method_word | method_args => "a mask method",
        exemption | k_except | k_for | except_clause => "`except` or `for`",
        when_clause | k_when => "`when`",
        priority | k_priority => "`priority`",
        filter_kind | filter_where | filter_time | filter_sample | filter_limit | filter_never => {
            "a filter (`where …`, `newer than …`, `older than …`, `sample …`, `limit to …` or `never`)"
        }
        predicate | pred_and | pred_not | pred_test | operand | group => "a row condition",
        compare | compare_op => "a comparison (`=`, `!=`, `<`, `<=`, `>`, `>=`)",
        is_null | k_is => "`is null`",
        in_test | k_in => "`in`",
        in_list => "`(…)`",
        user_groups => "`user.groups`",
        user_attribute => "`user.attribute(\"…\")`",
        user_name => "`user.name`",
        column_tagged | k_column => "`column tagged …`",
        sql_text | k_sql => "`sql \"…\"`",
        k_using => "`using`",
        k_on => "`on`",
        k_tagged => "`tagged`",
        k_matching => "`matching`",
        k_than => "`than`",
        k_percent => "`percent`",
        k_by => "`by`",
        k_to => "`to`",
        k_purpose => "`purpose`",
        k_and => "`and`",
        k_or => "`or`",
        k_not => "`not`",
        _ => "a keyword",
    }
}

/// A hint for the mistakes authors make most.
fn hint(found: &str, expected: &[String]) -> String {
    let lower = found.to_ascii_lowercase();
    if matches!(lower.as_str(), "except" | "for" | "when" | "priority")
        && expected
            .iter()
            .any(|w| w.starts_with("`integration`") || w == "end of file")
    {
        return "a mask rule's clauses come in this order: `except`/`for`, `when`, `priority`; a filter takes only `except`".into();
    }
    if matches!(
        lower.as_str(),
        "integration" | "source" | "access" | "mask" | "filter"
    ) && !expected.iter().any(|w| w.starts_with("`integration`"))
    {
        return format!("`{lower}` starts a new item: the item before it is incomplete");
    }
    let wants_name = expected.iter().any(|w| {
        w == "a name"
            || w.starts_with("a mask target")
            || w.starts_with("a row condition")
            || w.starts_with("a source id")
    });
    if is_reserved(found) && wants_name {
        return format!("`{found}` is a reserved word; write `` `{found}` `` to use it as a name");
    }
    if found == "'" {
        return "strings are written in double quotes: \"…\"".into();
    }
    if found.is_empty() {
        return "the file ends before this item is complete: is a `}`, `)` or `\"` missing?".into();
    }
    if expected == ["`{`"] {
        return "a block opens with `{` after its name, and closes with `}`".into();
    }
    if expected.iter().any(|w| w.starts_with("`integration`")) {
        return "every item starts with `integration`, `source`, `access`, `mask` or `filter`"
            .into();
    }
    if found == "\"" && expected.iter().any(|w| w == "a name") {
        return "names are written bare or in backticks (`name`); double quotes make a string"
            .into();
    }
    "see docs/language.md for the syntax of this item".into()
}

/// The language's reserved words: the grammar's `keyword` rule, checked
/// against it by a test.
const RESERVED: [&str; 43] = [
    "integration",
    "everyone",
    "approved",
    "priority",
    "matching",
    "attribute",
    "require",
    "columns",
    "percent",
    "purpose",
    "source",
    "access",
    "except",
    "tagged",
    "column",
    "filter",
    "sample",
    "allow",
    "using",
    "where",
    "group",
    "newer",
    "older",
    "never",
    "limit",
    "false",
    "mask",
    "when",
    "user",
    "than",
    "null",
    "true",
    "for",
    "not",
    "and",
    "any",
    "sql",
    "or",
    "on",
    "in",
    "is",
    "by",
    "to",
];

/// Whether `word` is one of the language's reserved words.
pub fn is_reserved(word: &str) -> bool {
    let lower = word.to_ascii_lowercase();
    RESERVED.contains(&lower.as_str())
}

#[cfg(test)]
mod tests {
    use super::is_reserved;
    use std::collections::BTreeSet;

    /// The words of a pest rule's `^"…"` literals.
    fn words(rule: &str) -> BTreeSet<String> {
        rule.split("^\"")
            .skip(1)
            .filter_map(|w| w.split('"').next())
            .map(str::to_string)
            .collect()
    }

    /// The one list of reserved words is the grammar's: its `keyword` rule
    /// and its `k_…` rules name exactly these words.
    #[test]
    fn the_reserved_words_are_the_grammars() {
        let grammar = include_str!("../../grammar/veil.pest");
        let keyword = grammar
            .split("keyword = @{")
            .nth(1)
            .and_then(|rest| rest.split("\n}").next())
            .expect("the grammar has a keyword rule");
        let keyword = words(keyword);
        let k_rules: BTreeSet<String> = grammar
            .lines()
            .filter(|l| l.starts_with("k_"))
            .flat_map(words)
            .collect();
        assert_eq!(keyword, k_rules, "the keyword rule and the k_ rules differ");
        for word in &keyword {
            assert!(
                is_reserved(word),
                "`{word}` is reserved in the grammar only"
            );
            assert!(is_reserved(&word.to_ascii_uppercase()), "`{word}` folds");
        }
        assert_eq!(
            super::RESERVED.len(),
            keyword.len(),
            "a word reserved here only"
        );
    }
}
