//! The lexical pre-pass: finds comments (for `fmt`), and rejects the inputs
//! the grammar would handle badly — an unterminated block comment, nesting so
//! deep that a recursive parser would exhaust its stack.

use crate::span::Span;

/// How deeply `(`, `[` and `{` may nest. Real policies nest a handful of
/// levels; the limit keeps every recursive stage's stack bounded.
pub const MAX_NESTING: usize = 32;

/// A comment and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub span: Span,
    /// The comment's text, delimiters included, trailing spaces removed.
    pub text: String,
}

/// Something the pre-pass refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanError {
    UnterminatedComment(Span),
    TooDeep(Span),
}

/// What the pre-pass found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scanned {
    pub comments: Vec<Comment>,
    /// Offsets of lines outside any bracket that begin with a top-level
    /// keyword: where a large file may be cut to be parsed in parts.
    pub item_starts: Vec<usize>,
}

/// Scans `text` for comments, skipping strings and quoted identifiers.
pub fn scan(text: &str) -> Result<Vec<Comment>, ScanError> {
    scan_all(text).map(|s| s.comments)
}

/// Scans `text` for comments and for the places items start.
pub fn scan_all(text: &str) -> Result<Scanned, ScanError> {
    let mut comments = Vec::new();
    let mut item_starts = Vec::new();
    let mut depth = 0usize;
    let mut refused = None;
    let walked = walk(text, 0, text.len(), &mut |event| match event {
        Event::Comment(start, end) => comments.push(comment(text, start, end)),
        Event::Open(i) => {
            depth += 1;
            if depth > MAX_NESTING && refused.is_none() {
                refused = Some(ScanError::TooDeep(Span::new(i, i + 1)));
            }
        }
        Event::Close(_) => depth = depth.saturating_sub(1),
        Event::LineStart(i) => {
            if depth == 0 && super::starts_item(&text[i..]) {
                item_starts.push(i);
            }
        }
    });
    // Nesting too deep comes first, as it is found first.
    if let Some(error) = refused {
        return Err(error);
    }
    walked?;
    Ok(Scanned {
        comments,
        item_starts,
    })
}

/// The `{` between `from` and `to` that are still open at `to`, innermost
/// last: where a block that is never closed begins.
pub fn unclosed_braces(text: &str, from: usize, to: usize) -> Vec<usize> {
    let bytes = text.as_bytes();
    let mut open = Vec::new();
    let _ = walk(text, from, to, &mut |event| match event {
        Event::Open(i) if bytes[i] == b'{' => open.push(i),
        Event::Close(i) if bytes[i] == b'}' => {
            open.pop();
        }
        _ => {}
    });
    open
}

/// What the pre-pass sees, outside strings, quoted names and comments.
enum Event {
    Comment(usize, usize),
    /// `(`, `[` or `{` at this byte.
    Open(usize),
    /// `)`, `]` or `}` at this byte.
    Close(usize),
    /// A line begins at this byte.
    LineStart(usize),
}

/// Walks `text[from..to]`, skipping strings and quoted identifiers.
fn walk(text: &str, from: usize, to: usize, seen: &mut dyn FnMut(Event)) -> Result<(), ScanError> {
    let bytes = &text.as_bytes()[..to];
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => i = skip_string(bytes, i + 1),
            b'`' => i = skip_quoted_ident(bytes, i + 1),
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                let end = text[i..to].find('\n').map_or(to, |n| i + n);
                seen(Event::Comment(i, end));
                i = end;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let Some(close) = text[i + 2..to].find("*/") else {
                    return Err(ScanError::UnterminatedComment(Span::new(i, i + 2)));
                };
                let end = i + 2 + close + 2;
                seen(Event::Comment(i, end));
                i = end;
            }
            b'(' | b'[' | b'{' => {
                seen(Event::Open(i));
                i += 1;
            }
            b')' | b']' | b'}' => {
                seen(Event::Close(i));
                i += 1;
            }
            b'\n' => {
                i += 1;
                seen(Event::LineStart(i));
            }
            _ => i += 1,
        }
    }
    Ok(())
}

fn comment(text: &str, start: usize, end: usize) -> Comment {
    Comment {
        span: Span::new(start, end),
        text: text[start..end].trim_end().to_string(),
    }
}

/// The index just past a string that starts before `i`; strings end at an
/// unescaped quote or, unterminated, at the end of the line.
fn skip_string(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            b'\n' => return i,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// The index just past a backtick-quoted identifier; a doubled backtick is
/// part of the name.
fn skip_quoted_ident(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() {
        if bytes[i] == b'`' {
            if bytes.get(i + 1) == Some(&b'`') {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_comments_outside_strings() {
        let text = "a // one\n\"//not\" `/*x` /* two */";
        let found: Vec<_> = scan(text)
            .expect("scans")
            .into_iter()
            .map(|c| c.text)
            .collect();
        assert_eq!(found, ["// one", "/* two */"]);
    }

    #[test]
    fn rejects_unterminated_block_comment() {
        assert_eq!(
            scan("x /* open"),
            Err(ScanError::UnterminatedComment(Span::new(2, 4)))
        );
    }

    #[test]
    fn rejects_deep_nesting() {
        let text = "(".repeat(MAX_NESTING + 1);
        assert!(matches!(scan(&text), Err(ScanError::TooDeep(_))));
        assert!(scan(&"(".repeat(MAX_NESTING)).is_ok());
    }
}
