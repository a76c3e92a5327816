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
    let comments = match scan::scan(text) {
        Ok(comments) => comments,
        Err(err) => return Err(vec![errors::scan_error(file, err)]),
    };
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

/// Whether `text` begins with a top-level keyword.
fn starts_item(text: &str) -> bool {
    let word: String = text
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect::<String>()
        .to_ascii_lowercase();
    matches!(
        word.as_str(),
        "integration" | "source" | "access" | "mask" | "filter"
    )
}
