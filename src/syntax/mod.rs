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
    let mut offset = skip_trivia(text, 0);
    // One item at a time: a broken item is reported and parsing resumes at
    // the next line that starts an item, so one run reports every broken item.
    while offset < text.len() {
        match build::parse_item(file, text, &comments, offset) {
            Ok((item, end, mut found)) => {
                items.push(item);
                diagnostics.append(&mut found);
                offset = skip_trivia(text, end);
            }
            Err(error) => {
                let error_at = error.span.start;
                diagnostics.push(error.diagnostic);
                match next_item_start(text, error_at.max(offset)) {
                    Some(next) => offset = next,
                    None => break,
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

/// The first offset at or after `from` that is not white space or comment.
fn skip_trivia(text: &str, mut from: usize) -> usize {
    let bytes = text.as_bytes();
    loop {
        while from < bytes.len() && matches!(bytes[from], b' ' | b'\t' | b'\r' | b'\n') {
            from += 1;
        }
        if text[from..].starts_with('\u{FEFF}') {
            from += '\u{FEFF}'.len_utf8();
        } else if text[from..].starts_with("//") {
            from = text[from..].find('\n').map_or(text.len(), |n| from + n);
        } else if text[from..].starts_with("/*") {
            // The pre-pass has already rejected an unterminated comment.
            from = text[from + 2..].find("*/").map_or(text.len(), |n| from + 2 + n + 2);
        } else {
            return from;
        }
    }
}

/// A syntax error of one parse attempt, with the byte where it was found.
pub(crate) struct SyntaxError {
    pub span: Span,
    pub diagnostic: Diagnostic,
}

/// The start of the first line at or after `from` that begins (after
/// indentation) with a top-level keyword.
fn next_item_start(text: &str, from: usize) -> Option<usize> {
    let mut line_start = match text.get(from..)?.find('\n') {
        Some(n) => from + n + 1,
        None => return None,
    };
    while line_start < text.len() {
        let line = &text[line_start..];
        let trimmed = line.trim_start_matches([' ', '\t']);
        let word: String = trimmed
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect::<String>()
            .to_ascii_lowercase();
        if matches!(
            word.as_str(),
            "integration" | "source" | "access" | "mask" | "filter"
        ) {
            return Some(line_start + (line.len() - trimmed.len()));
        }
        line_start = match line.find('\n') {
            Some(n) => line_start + n + 1,
            None => return None,
        };
    }
    None
}
