//! Stage 1, `text → AST`: the pest grammar in `grammar/veil.pest`, the
//! lexical pre-pass that keeps comments, and the builder that turns pest's
//! parse tree into [`ast::File`].

mod build;
mod errors;
pub mod scan;

use crate::ast;
use crate::diagnostic::Diagnostic;
use crate::span::{FileId, Span};
pub use errors::is_reserved;
pub use scan::Comment;

/// The generated parser of `grammar/veil.pest`.
#[derive(pest_derive::Parser)]
#[grammar = "grammar/veil.pest"]
pub struct VeilParser;

/// A parsed file and its comments.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub file: ast::File,
    pub comments: Vec<Comment>,
}

/// Parses one policy file. All syntax errors found are returned; the parser
/// stops at the first error of a top-level item and resumes at the next one.
pub fn parse(file: FileId, text: &str) -> Result<Parsed, Vec<Diagnostic>> {
    let scanned = match scan::scan_all(text) {
        Ok(scanned) => scanned,
        Err(err) => return Err(vec![errors::scan_error(file, err)]),
    };
    let comments = scanned.comments;
    if let Some(parsed) = parse_in_parts(file, text, &comments, &scanned.item_starts) {
        return Ok(Parsed {
            file: ast::File { items: parsed },
            comments,
        });
    }
    let mut diagnostics = Vec::new();
    let mut items = Vec::new();
    let mut offset = 0;
    // The whole file at once, so pest reports the furthest point it reached;
    // after an error, parsing resumes at the next line that starts an item,
    // so one run reports every broken item.
    loop {
        match build::parse_items(file, text, &comments, offset) {
            Ok((mut parsed, mut found)) => {
                items.append(&mut parsed);
                diagnostics.append(&mut found);
                break;
            }
            Err(error) => {
                let error_at = error.span.start;
                diagnostics.push(error.diagnostic);
                let mut next = next_item_start(text, error_at.max(offset));
                if next == Some(offset) {
                    // The item at `offset` itself is broken: skip its line.
                    next = next_item_start(text, offset + 1);
                }
                match next {
                    Some(next) if next > offset => offset = next,
                    _ => break,
                }
            }
        }
    }
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(diagnostics);
    }
    Ok(Parsed {
        file: ast::File { items },
        comments,
    })
}

/// Large files are cut at item starts into parts that threads take in
/// turn: small parts keep pest's token queue small (a queue for megabytes
/// of text costs more in fresh memory than in parsing). Any problem (a
/// syntax error, a builder diagnostic) makes this return `None`, and the
/// file is parsed whole, so errors are reported exactly as a single pass
/// reports them.
fn parse_in_parts(
    file: FileId,
    text: &str,
    comments: &[Comment],
    item_starts: &[usize],
) -> Option<Vec<crate::span::Node<ast::Item>>> {
    const PART: usize = 32 * 1024;
    let threads = crate::parallel::cores().min(8);
    if threads < 2 || text.len() < 4 * PART {
        return None;
    }
    let mut cuts = vec![0];
    for &start in item_starts {
        if start - cuts.last().copied().unwrap_or(0) >= PART {
            cuts.push(start);
        }
    }
    cuts.push(text.len());
    let parts: Vec<(usize, usize)> = cuts.windows(2).map(|w| (w[0], w[1])).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(&(start, end)) = parts.get(i) else {
                return done;
            };
            done.push((i, build::parse_range(file, text, comments, start, end)));
        }
    };
    let mut results: Vec<_> = crate::parallel::workers(threads, work)
        .into_iter()
        .flatten()
        .collect();
    if results.len() != parts.len() {
        return None;
    }
    results.sort_unstable_by_key(|(i, _)| *i);
    let mut items = Vec::new();
    for (_, result) in results {
        match result {
            Ok((mut parsed, found)) if found.is_empty() => items.append(&mut parsed),
            _ => return None,
        }
    }
    Some(items)
}

/// A syntax error of one parse attempt, with the byte where it was found.
pub(crate) struct SyntaxError {
    pub span: Span,
    pub diagnostic: Diagnostic,
}

/// The start of the first line at or after `from` that begins (after
/// indentation) with a top-level keyword.
fn next_item_start(text: &str, from: usize) -> Option<usize> {
    // An error right at an item keyword that starts a line (the item before
    // it was cut short) resumes there.
    let line_begin = text.get(..from)?.rfind('\n').map_or(0, |n| n + 1);
    if text[line_begin..from].trim().is_empty() && starts_item(&text[from..]) && from > 0 {
        return Some(from);
    }
    let mut line_start = match text.get(from..)?.find('\n') {
        Some(n) => from + n + 1,
        None => return None,
    };
    while line_start < text.len() {
        let line = &text[line_start..];
        let trimmed = line.trim_start_matches([' ', '\t']);
        if starts_item(trimmed) {
            return Some(line_start + (line.len() - trimmed.len()));
        }
        line_start = match line.find('\n') {
            Some(n) => line_start + n + 1,
            None => return None,
        };
    }
    None
}

/// Where byte `value_at` of a string literal's value stands in the
/// literal's source text `literal` (which starts at its opening quote): the
/// span of the written character, escapes counted as written (`\"`,
/// `\u{e9}`). At the value's end, the closing quote.
pub fn string_value_span(literal: &str, value_at: usize) -> Span {
    let body = literal.find('"').map_or(0, |q| q + 1);
    let mut raw = body;
    let mut value = 0;
    while raw < literal.len() {
        let rest = &literal[raw..];
        let Some(c) = rest.chars().next() else { break };
        let (written, decoded) = match c {
            '"' => break,
            '\\' => match rest[1..].chars().next() {
                Some('u') => {
                    let hex = rest[2..]
                        .strip_prefix('{')
                        .and_then(|r| r.find('}').map(|end| &r[..end]))
                        .unwrap_or("");
                    let ch = u32::from_str_radix(hex, 16)
                        .ok()
                        .and_then(char::from_u32)
                        .unwrap_or('?');
                    (hex.len() + 4, ch.len_utf8())
                }
                Some(e) => (1 + e.len_utf8(), 1),
                None => (1, 0),
            },
            c => (c.len_utf8(), c.len_utf8()),
        };
        if value + decoded > value_at {
            return Span::new(raw, raw + written);
        }
        value += decoded;
        raw += written;
    }
    let end = raw.min(literal.len());
    Span::new(end, (end + 1).min(literal.len()).max(end))
}

/// Whether `text` begins with a top-level keyword.
pub(crate) fn starts_item(text: &str) -> bool {
    let bytes = text.as_bytes();
    let end = bytes
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
        .unwrap_or(bytes.len());
    let word = &bytes[..end];
    ["integration", "source", "access", "mask", "filter"]
        .iter()
        .any(|k| word.eq_ignore_ascii_case(k.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_offsets_count_escapes_as_written() {
        let literal = r#"sql "a \"b\" \u{e9}x""#;
        let at = |value_at| {
            let span = string_value_span(literal, value_at);
            &literal[span.start..span.end]
        };
        assert_eq!(at(0), "a");
        assert_eq!(at(2), "\\\"");
        assert_eq!(at(3), "b");
        assert_eq!(at(6), "\\u{e9}");
        assert_eq!(at(8), "x");
        assert_eq!(at(9), "\"");
    }

    /// A large file parsed in parts gives the tree a single pass gives.
    #[test]
    fn parts_parse_like_the_whole() {
        let one = "source s.t{n} {\n  table = a.t{n}\n  columns {\n    id bigint\n    email text tags(pii) // c\n  }\n}\n/* between */\nmask tagged pii on s.t{n} using hash except group \"g\"\n";
        let text: String = (0..7_500)
            .map(|n| one.replace("{n}", &n.to_string()))
            .collect();
        assert!(text.len() > 1024 * 1024, "large enough to be cut");
        let parsed = parse(FileId(0), &text).expect("parses");
        let scanned = scan::scan_all(&text).expect("scans");
        let (whole, found) = build::parse_items(FileId(0), &text, &scanned.comments, 0)
            .map_err(|e| e.diagnostic)
            .expect("parses whole");
        assert!(found.is_empty());
        assert_eq!(parsed.file.items.len(), whole.len());
        assert_eq!(parsed.file.items, whole);
        let spans: Vec<_> = parsed.file.items.iter().map(|i| i.span).collect();
        let whole_spans: Vec<_> = whole.iter().map(|i| i.span).collect();
        assert_eq!(spans, whole_spans, "spans are file offsets in both");
    }
}
