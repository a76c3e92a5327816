//! Turns pest's parse tree into the AST: folds names, unescapes strings, and
//! reports the mistakes the grammar lets through on purpose (unknown escapes,
//! methods and units) with a precise span and a hint.

use super::errors::{pest_error, suggest};
use super::{Comment, Rule, SyntaxError, VeilParser};
use crate::ast::*;
use crate::diagnostic::{Code, Diagnostic};
use crate::span::{FileId, Node, Span};
use pest::Parser;
use pest::iterators::Pair;

/// Parses the items of `text` from `offset` to the end, and any
/// diagnostics the builder raised.
pub(super) fn parse_items(
    file: FileId,
    text: &str,
    comments: &[Comment],
    offset: usize,
) -> Result<(Vec<Node<Item>>, Vec<Diagnostic>), SyntaxError> {
    parse_range(file, text, comments, offset, text.len())
}

/// Parses the items of `text[offset..end]`, which starts at an item.
pub(super) fn parse_range(
    file: FileId,
    text: &str,
    comments: &[Comment],
    offset: usize,
    end: usize,
) -> Result<(Vec<Node<Item>>, Vec<Diagnostic>), SyntaxError> {
    let mut pairs = VeilParser::parse(Rule::file, &text[offset..end])
        .map_err(|error| pest_error(file, text, offset, error))?;
    let mut builder = Builder {
        file,
        text,
        comments,
        base: offset,
        diagnostics: Vec::new(),
    };
    // Builder errors (a bad escape, an unknown method) do not stop the
    // parse: the items are kept and the errors reported with the rest.
    let items = pairs
        .next()
        .map(|file| {
            file.into_inner()
                .filter(|p| p.as_rule() != Rule::EOI)
                .map(|p| builder.item(p))
                .collect()
        })
        .unwrap_or_default();
    Ok((items, builder.diagnostics))
}

/// How many `not`s may stand in a row.
const MAX_NOTS: usize = 8;

/// Builds AST nodes from pest pairs of one item.
struct Builder<'t> {
    file: FileId,
    text: &'t str,
    /// The file's comments, sorted, to trim them off the end of spans.
    comments: &'t [Comment],
    /// Offset of the parsed text in the file.
    base: usize,
    diagnostics: Vec<Diagnostic>,
}

/// The meaningful children of a pair: keyword tokens are left out.
fn kids(pair: Pair<'_, Rule>) -> impl Iterator<Item = Pair<'_, Rule>> {
    pair.into_inner().filter(|p| !is_keyword(p.as_rule()))
}

fn is_keyword(rule: Rule) -> bool {
    use Rule::*;
    matches!(
        rule,
        open_brace
            | close_brace
            | k_integration
            | k_source
            | k_columns
            | k_access
            | k_allow
            | k_require
            | k_mask
            | k_filter
            | k_using
            | k_except
            | k_for
            | k_when
            | k_where
            | k_priority
            | k_tagged
            | k_matching
            | k_on
            | k_everyone
            | k_approved
            | k_user
            | k_group
            | k_attribute
            | k_purpose
            | k_any
            | k_not
            | k_and
            | k_or
            | k_in
            | k_is
            | k_null
            | k_true
            | k_false
            | k_newer
            | k_older
            | k_than
            | k_sample
            | k_percent
            | k_by
            | k_limit
            | k_to
            | k_never
            | k_sql
            | k_column
    )
}

impl Builder<'_> {
    /// The span of a pair, without the white space and comments pest
    /// consumes after a rule's last optional part.
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let s = pair.as_span();
        let start = self.base + s.start();
        let mut end = self.base + s.end();
        loop {
            while end > start && self.text.as_bytes()[end - 1].is_ascii_whitespace() {
                end -= 1;
            }
            let i = self.comments.partition_point(|c| c.span.end < end);
            match self.comments.get(i) {
                Some(c) if c.span.start < end && c.span.start >= start => end = c.span.start,
                _ => return Span::new(start, end),
            }
        }
    }

    fn error(&mut self, span: Span, code: Code, message: String, label: &str, help: String) {
        self.diagnostics.push(
            Diagnostic::error(code, message)
                .at(self.file, span, label)
                .help(help),
        );
    }

    /// Checks a run of `not`s: more than a few is a mistake, and an unbounded
    /// run would make every later stage recurse without limit.
    fn nots(&mut self, nots: &[usize]) {
        if nots.len() > MAX_NOTS {
            let start = nots[MAX_NOTS];
            self.error(
                Span::new(start, start + 3),
                Code::SyntaxTooDeep,
                format!("more than {MAX_NOTS} `not` in a row"),
                "too many",
                "two `not`s cancel out: remove them in pairs".into(),
            );
        }
    }

    fn item(&mut self, pair: Pair<'_, Rule>) -> Node<Item> {
        let span = self.span(&pair);
        let item = match pair.as_rule() {
            Rule::integration => Item::Integration(self.integration(pair)),
            Rule::source => Item::Source(self.source(pair)),
            Rule::access => Item::Access(self.access(pair)),
            Rule::mask => Item::Mask(self.mask(pair)),
            Rule::expect => Item::Expectation(self.expectation(pair)),
            _ => Item::Filter(self.filter(pair)),
        };
        Node::new(item, span)
    }

    // -- names and literals ------------------------------------------------

    /// A `bare_ident` (folded to lower case) or `quoted_ident` (exact).
    fn name(&mut self, pair: Pair<'_, Rule>) -> Name {
        let span = self.span(&pair);
        let text = pair.as_str();
        let name = match pair.as_rule() {
            Rule::quoted_ident => {
                let inner = &text[1..text.len() - 1];
                let name = inner.replace("``", "`");
                if let Some(i) = name.find('\0') {
                    self.nul(Span::new(span.start + 1 + i, span.start + 2 + i));
                }
                if name.is_empty() {
                    self.error(
                        span,
                        Code::SyntaxEmptyName,
                        "a quoted name may not be empty".into(),
                        "empty name",
                        "write at least one character between the backticks".into(),
                    );
                }
                name
            }
            _ => text.to_ascii_lowercase(),
        };
        Node::new(name, span)
    }

    fn path(&mut self, pair: Pair<'_, Rule>) -> Node<Path> {
        let span = self.span(&pair);
        let parts = pair.into_inner().map(|p| self.name(p).node).collect();
        Node::new(Path { parts }, span)
    }

    /// A `string` pair, unescaped.
    fn string(&mut self, pair: Pair<'_, Rule>) -> Node<String> {
        let span = self.span(&pair);
        let body = pair.into_inner().next();
        let (raw, body_start) = match &body {
            Some(b) => (b.as_str(), self.span(b).start),
            None => ("", span.start + 1),
        };
        Node::new(self.unescape(raw, body_start), span)
    }

    fn unescape(&mut self, raw: &str, start: usize) -> String {
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c == '\0' {
                self.nul(Span::new(start + i, start + i + 1));
                continue;
            }
            if c != '\\' {
                out.push(c);
                continue;
            }
            let Some((_, e)) = chars.next() else { break };
            match e {
                '"' => out.push('"'),
                '\\' => out.push('\\'),
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'u' => {
                    let rest = &raw[i + 2..];
                    let parsed = rest
                        .strip_prefix('{')
                        .and_then(|r| r.find('}').map(|end| &r[..end]))
                        .filter(|hex| (1..=6).contains(&hex.len()))
                        .and_then(|hex| u32::from_str_radix(hex, 16).ok().map(|v| (hex.len(), v)));
                    match parsed.map(|(len, v)| (len, char::from_u32(v))) {
                        Some((len, Some(ch))) if ch != '\0' => {
                            out.push(ch);
                            // Skip `{`, the digits and `}`.
                            for _ in 0..len + 2 {
                                chars.next();
                            }
                        }
                        _ => self.error(
                            Span::new(start + i, start + i + 2),
                            Code::SyntaxBadEscape,
                            "invalid unicode escape".into(),
                            "here",
                            "write `\\u{…}` with 1 to 6 hex digits naming a character other than U+0000".into(),
                        ),
                    }
                }
                other => self.error(
                    Span::new(start + i, start + i + 1 + other.len_utf8()),
                    Code::SyntaxBadEscape,
                    format!("unknown escape `\\{other}`"),
                    "unknown escape",
                    "the escapes are `\\\"`, `\\\\`, `\\n`, `\\t` and `\\u{…}`; write `\\\\` for a backslash".into(),
                ),
            }
        }
        out
    }

    fn nul(&mut self, span: Span) {
        self.error(
            span,
            Code::SyntaxNul,
            "the character U+0000 is not allowed".into(),
            "NUL character",
            "remove it: databases cannot store U+0000 in names or text".into(),
        );
    }

    fn number(&self, pair: &Pair<'_, Rule>) -> String {
        pair.as_str().to_string()
    }

    /// A number that must be a whole number in `range`.
    fn whole(
        &mut self,
        pair: &Pair<'_, Rule>,
        what: &str,
        range: std::ops::RangeInclusive<i64>,
    ) -> i64 {
        let span = self.span(pair);
        match pair.as_str().parse::<i64>() {
            Ok(v) if range.contains(&v) => v,
            _ => {
                self.error(
                    span,
                    Code::SyntaxBadNumber,
                    format!(
                        "{what} must be a whole number from {} to {}",
                        range.start(),
                        range.end()
                    ),
                    "out of range",
                    format!(
                        "write {what} as a whole number between {} and {}",
                        range.start(),
                        range.end()
                    ),
                );
                *range.start()
            }
        }
    }

    fn literal(&mut self, pair: Pair<'_, Rule>) -> Node<Literal> {
        let span = self.span(&pair);
        let Some(inner) = pair.into_inner().next() else {
            return Node::new(Literal::Null, span);
        };
        let literal = match inner.as_rule() {
            Rule::string => Literal::String(self.string(inner).node),
            Rule::number => Literal::Number(self.number(&inner)),
            Rule::k_true => Literal::Bool(true),
            Rule::k_false => Literal::Bool(false),
            _ => Literal::Null,
        };
        Node::new(literal, span)
    }

    // -- integrations and sources -----------------------------------------

    fn integration(&mut self, pair: Pair<'_, Rule>) -> Integration {
        let mut it = kids(pair);
        let name = self.next_name(&mut it);
        let properties = it.map(|p| self.property(p)).collect();
        Integration { name, properties }
    }

    fn next_name<'a>(&mut self, it: &mut impl Iterator<Item = Pair<'a, Rule>>) -> Name {
        match it.next() {
            Some(p) => self.name(p),
            None => Node::new(String::new(), Span::default()),
        }
    }

    fn next_path<'a>(&mut self, it: &mut impl Iterator<Item = Pair<'a, Rule>>) -> Node<Path> {
        match it.next() {
            Some(p) => self.path(p),
            None => Node::new(Path { parts: Vec::new() }, Span::default()),
        }
    }

    fn property(&mut self, pair: Pair<'_, Rule>) -> Node<Property> {
        let span = self.span(&pair);
        let mut it = pair.into_inner();
        let key = it
            .next()
            .map(|k| Node::new(k.as_str().to_ascii_lowercase(), self.span(&k)))
            .unwrap_or_else(|| Node::new(String::new(), span));
        let value = match it.next() {
            Some(v) => self.value(v),
            None => Node::new(Value::Bool(false), span),
        };
        Node::new(Property { key, value }, span)
    }

    fn value(&mut self, pair: Pair<'_, Rule>) -> Node<Value> {
        let span = self.span(&pair);
        let Some(inner) = pair.into_inner().next() else {
            return Node::new(Value::Bool(false), span);
        };
        let value = match inner.as_rule() {
            Rule::string => Value::String(self.string(inner).node),
            Rule::number => Value::Number(self.number(&inner)),
            Rule::k_true => Value::Bool(true),
            Rule::k_false => Value::Bool(false),
            Rule::env_call => {
                let s = inner.into_inner().next();
                Value::Env(s.map(|s| self.string(s).node).unwrap_or_default())
            }
            Rule::list => Value::List(inner.into_inner().map(|i| self.list_item(i)).collect()),
            _ => Value::Path(self.path(inner).node),
        };
        Node::new(value, span)
    }

    fn list_item(&mut self, pair: Pair<'_, Rule>) -> Node<ListItem> {
        let span = self.span(&pair);
        let Some(inner) = pair.into_inner().next() else {
            return Node::new(ListItem::String(String::new()), span);
        };
        let item = match inner.as_rule() {
            Rule::grantee => {
                let mut g = inner.into_inner();
                let kind = match g.next().map(|k| k.as_str().to_ascii_lowercase()) {
                    Some(k) if k == "user" => GranteeKind::User,
                    Some(k) if k == "role" => GranteeKind::Role,
                    _ => GranteeKind::Group,
                };
                let name = g.next().map(|s| self.string(s).node).unwrap_or_default();
                ListItem::Grantee(kind, name)
            }
            Rule::string => ListItem::String(self.string(inner).node),
            _ => ListItem::Path(self.path(inner).node),
        };
        Node::new(item, span)
    }

    fn source(&mut self, pair: Pair<'_, Rule>) -> Source {
        let mut it = kids(pair);
        let id = self.next_path(&mut it);
        let entries = it
            .map(|p| {
                let span = self.span(&p);
                let entry = match p.as_rule() {
                    Rule::columns => {
                        SourceEntry::Columns(kids(p).map(|c| self.column(c)).collect())
                    }
                    _ => SourceEntry::Property(self.property(p).node),
                };
                Node::new(entry, span)
            })
            .collect();
        Source { id, entries }
    }

    fn column(&mut self, pair: Pair<'_, Rule>) -> Node<Column> {
        let span = self.span(&pair);
        let mut it = pair.into_inner();
        let name = self.next_name(&mut it);
        let mut ty = Node::new(
            TypeExpr {
                name: String::new(),
                args: Vec::new(),
                time_zone: None,
            },
            span,
        );
        let mut tags = Vec::new();
        for p in it {
            match p.as_rule() {
                Rule::column_type => ty = self.column_type(p),
                _ => tags = p.into_inner().map(|t| self.path(t)).collect(),
            }
        }
        Node::new(Column { name, ty, tags }, span)
    }

    fn column_type(&mut self, pair: Pair<'_, Rule>) -> Node<TypeExpr> {
        let span = self.span(&pair);
        let mut ty = TypeExpr {
            name: String::new(),
            args: Vec::new(),
            time_zone: None,
        };
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::type_name => {
                    let text = p.as_str();
                    // `double   precision` is written with one space.
                    ty.name = if text.contains(char::is_whitespace) {
                        text.split_whitespace().collect::<Vec<_>>().join(" ")
                    } else {
                        text.to_string()
                    };
                    ty.name.make_ascii_lowercase();
                }
                Rule::type_args => {
                    ty.args = p
                        .into_inner()
                        .map(|a| a.as_str().to_ascii_lowercase())
                        .collect()
                }
                _ => {
                    let with = p
                        .into_inner()
                        .next()
                        .is_some_and(|w| w.as_str().eq_ignore_ascii_case("with"));
                    ty.time_zone = Some(with);
                }
            }
        }
        Node::new(ty, span)
    }

    // -- selectors and subjects ---------------------------------------------

    fn selectors(&mut self, pair: Pair<'_, Rule>) -> Vec<Node<Selector>> {
        pair.into_inner()
            .map(|sel| {
                let span = self.span(&sel);
                let mut inner = sel.into_inner();
                let selector = match inner.next() {
                    Some(k) if k.as_rule() == Rule::k_tagged => {
                        Selector::Tagged(self.next_path(&mut inner).node)
                    }
                    Some(p) => Selector::Source(self.path(p).node),
                    None => Selector::Source(Path { parts: Vec::new() }),
                };
                Node::new(selector, span)
            })
            .collect()
    }

    fn subject(&mut self, pair: Pair<'_, Rule>) -> Node<Subject> {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::subject | Rule::subject_and => {
                let is_or = pair.as_rule() == Rule::subject;
                let mut parts: Vec<_> = kids(pair).map(|p| self.subject(p)).collect();
                if parts.len() == 1 {
                    return parts.remove(0);
                }
                Node::new(
                    if is_or {
                        Subject::Or(parts)
                    } else {
                        Subject::And(parts)
                    },
                    span,
                )
            }
            Rule::subject_not => {
                let mut nots = Vec::new();
                let mut atom = None;
                for p in pair.into_inner() {
                    if p.as_rule() == Rule::k_not {
                        nots.push(self.span(&p).start);
                    } else {
                        atom = Some(self.subject(p));
                    }
                }
                self.nots(&nots);
                nots.truncate(MAX_NOTS);
                let mut node = atom.unwrap_or_else(|| Node::new(Subject::Everyone, span));
                for start in nots.into_iter().rev() {
                    let s = Span::new(start, node.span.end);
                    node = Node::new(Subject::Not(Box::new(node)), s);
                }
                node
            }
            _ => self.subject_atom(pair),
        }
    }

    fn subject_atom(&mut self, pair: Pair<'_, Rule>) -> Node<Subject> {
        let span = self.span(&pair);
        let mut it = pair.into_inner();
        let Some(first) = it.next() else {
            return Node::new(Subject::Everyone, span);
        };
        let next_string = |b: &mut Builder<'_>, it: &mut pest::iterators::Pairs<'_, Rule>| {
            it.next().map(|s| b.string(s).node).unwrap_or_default()
        };
        let subject = match first.as_rule() {
            Rule::k_everyone => Subject::Everyone,
            Rule::k_approved => Subject::Approved,
            Rule::k_user => Subject::User(next_string(self, &mut it)),
            Rule::k_group => Subject::Group(next_string(self, &mut it)),
            Rule::k_attribute => {
                let key = next_string(self, &mut it);
                let value = it.next().map(|s| self.string(s).node);
                Subject::Attribute(key, value)
            }
            Rule::k_purpose => Subject::Purpose(next_string(self, &mut it)),
            Rule::k_any => Subject::AnyPurpose,
            _ => Subject::Paren(Box::new(self.subject(first))),
        };
        Node::new(subject, span)
    }

    // -- access -------------------------------------------------------------

    fn access(&mut self, pair: Pair<'_, Rule>) -> Access {
        let mut sources = Vec::new();
        let mut lines = Vec::new();
        for p in kids(pair) {
            match p.as_rule() {
                Rule::selectors => sources = self.selectors(p),
                _ => {
                    let span = self.span(&p);
                    let mut inner = p.into_inner();
                    let kind = match inner.next().map(|k| k.as_rule()) {
                        Some(Rule::k_require) => AccessKind::Require,
                        _ => AccessKind::Allow,
                    };
                    let subject = match inner.next() {
                        Some(s) => self.subject(s),
                        None => Node::new(Subject::Everyone, span),
                    };
                    lines.push(Node::new(AccessLine { kind, subject }, span));
                }
            }
        }
        Access { sources, lines }
    }

    // -- masks --------------------------------------------------------------

    fn mask(&mut self, pair: Pair<'_, Rule>) -> Mask {
        let span = self.span(&pair);
        let mut mask = Mask {
            target: Node::new(
                MaskTarget::Columns {
                    columns: Vec::new(),
                    sources: Vec::new(),
                },
                span,
            ),
            method: Node::new(Method::Null, span),
            exemption: None,
            when: None,
            priority: None,
        };
        for p in kids(pair) {
            match p.as_rule() {
                Rule::mask_target => mask.target = self.mask_target(p),
                Rule::method => mask.method = self.method(p),
                Rule::exemption => {
                    let span = self.span(&p);
                    let mut inner = p.into_inner();
                    let kind = match inner.next().map(|k| k.as_rule()) {
                        Some(Rule::k_for) => ExemptionKind::For,
                        _ => ExemptionKind::Except,
                    };
                    let subject = match inner.next() {
                        Some(s) => self.subject(s),
                        None => Node::new(Subject::Everyone, span),
                    };
                    mask.exemption = Some(Node::new(Exemption { kind, subject }, span));
                }
                Rule::when_clause => {
                    mask.when = kids(p).next().map(|pred| self.predicate(pred));
                }
                _ => {
                    if let Some(n) = kids(p).next() {
                        let value = self.whole(&n, "a priority", -1_000_000..=1_000_000);
                        mask.priority = Some(Node::new(value, self.span(&n)));
                    }
                }
            }
        }
        mask
    }

    fn mask_target(&mut self, pair: Pair<'_, Rule>) -> Node<MaskTarget> {
        let span = self.span(&pair);
        let Some(inner) = pair.into_inner().next() else {
            return Node::new(
                MaskTarget::Columns {
                    columns: Vec::new(),
                    sources: Vec::new(),
                },
                span,
            );
        };
        let rule = inner.as_rule();
        let mut names = Vec::new();
        let mut tag = None;
        let mut pattern = None;
        let mut sources = Vec::new();
        for p in kids(inner) {
            match p.as_rule() {
                Rule::selectors => sources = self.selectors(p),
                Rule::path => tag = Some(self.path(p)),
                Rule::string => pattern = Some(self.string(p)),
                _ => names.push(self.name(p)),
            }
        }
        let target = match rule {
            Rule::target_matching => MaskTarget::Matching {
                pattern: pattern.unwrap_or_else(|| Node::new(String::new(), span)),
                sources,
            },
            Rule::target_tagged => MaskTarget::Tagged {
                tag: tag.unwrap_or_else(|| Node::new(Path { parts: Vec::new() }, span)),
                sources,
            },
            _ => MaskTarget::Columns {
                columns: names,
                sources,
            },
        };
        Node::new(target, span)
    }

    /// Long, because it is one arm per masking method, each reading that method's arguments.
    /// `show(first N, last M, mask "c")`, each part optional but one, in
    /// that order: one end alone with `*` is `show_first` or `show_last`.
    fn show_method(&mut self, pair: Pair<'_, Rule>) -> Method {
        let span = self.span(&pair);
        let (mut first, mut last, mut mask) = (None, None, None);
        let usage = "write `show(first <n>, last <m>)`, either part alone, and `mask \"c\"` after them for another character than `*`: each once, in that order";
        for part in pair.into_inner() {
            let span = self.span(&part);
            let mut inner = part.into_inner();
            let (Some(word), Some(arg)) = (inner.next(), inner.next()) else {
                continue;
            };
            let end = word.as_str().to_ascii_lowercase();
            let place = match (end.as_str(), arg.as_rule()) {
                ("first", Rule::number) if first.is_none() && last.is_none() && mask.is_none() => 0,
                ("last", Rule::number) if last.is_none() && mask.is_none() => 1,
                ("mask", Rule::string) if mask.is_none() => 2,
                _ => {
                    self.error(
                        span,
                        Code::SyntaxMethodArguments,
                        format!(
                            "`{} {}` cannot stand here in `show(…)`",
                            word.as_str(),
                            arg.as_str()
                        ),
                        "here",
                        usage.into(),
                    );
                    continue;
                }
            };
            if place == 2 {
                let text = self.string(arg.clone());
                let mut chars = text.node.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) if c.is_ascii_graphic() => mask = Some(c),
                    _ => self.error(
                        text.span,
                        Code::SyntaxMethodArguments,
                        "a mask character is one printable ASCII character".into(),
                        "not one character",
                        "write one character such as `mask \"#\"` (every database counts it as one byte)".into(),
                    ),
                }
                continue;
            }
            let n = self.whole(&arg, "the number of characters shown", 0..=65535) as u32;
            if place == 0 {
                first = Some(n);
            } else {
                last = Some(n);
            }
        }
        match (first, last, mask) {
            (None, None, _) => {
                self.error(
                    span,
                    Code::SyntaxMethodArguments,
                    "`show(…)` keeps nothing: give `first <n>`, `last <m>` or both".into(),
                    "here",
                    usage.into(),
                );
                Method::Null
            }
            (Some(first), None, None | Some('*')) => Method::ShowFirst(first),
            (None, Some(last), None | Some('*')) => Method::ShowLast(last),
            (first, last, mask) => Method::Show {
                first: first.unwrap_or(0),
                last: last.unwrap_or(0),
                mask: mask.unwrap_or('*'),
            },
        }
    }

    fn method(&mut self, pair: Pair<'_, Rule>) -> Node<Method> {
        const METHODS: [&str; 10] = [
            "hash",
            "null",
            "constant",
            "regex",
            "round",
            "truncate",
            "show_first",
            "show_last",
            "show",
            "none",
        ];
        let span = self.span(&pair);
        let mut it = pair.into_inner();
        let (word, word_span) = match it.next() {
            Some(w) => (w.as_str().to_ascii_lowercase(), self.span(&w)),
            None => (String::new(), span),
        };
        // The argument pairs: a literal, two strings, or one parenthesised value.
        let args: Vec<Pair<'_, Rule>> = it
            .next()
            .map(|a| a.into_inner().collect())
            .unwrap_or_default();
        let takes = |n: usize| args.len() == n;
        let method = match word.as_str() {
            "hash" if takes(0) => Method::Hash,
            "null" if takes(0) => Method::Null,
            "none" if takes(0) => Method::None,
            "constant" if takes(1) && args[0].as_rule() == Rule::literal => {
                Method::Constant(self.literal(args[0].clone()).node)
            }
            "regex" if takes(2) => Method::Regex {
                pattern: self.string(args[0].clone()),
                replacement: self.string(args[1].clone()).node,
            },
            "round" if takes(1) && args[0].as_rule() == Rule::number => {
                let n = self.number(&args[0]);
                if n.starts_with('-') || n.trim_start_matches(['0', '.']).is_empty() {
                    self.error(
                        self.span(&args[0]),
                        Code::SyntaxBadNumber,
                        "`round` needs a positive number".into(),
                        "not positive",
                        "write the multiple to round to, such as `round(100)` or `round(0.5)`"
                            .into(),
                    );
                }
                Method::Round(n)
            }
            "truncate" if takes(1) && args[0].as_rule() != Rule::number => {
                let unit = args[0].as_str().to_ascii_lowercase();
                match TimeUnit::ALL.iter().find(|u| u.keyword() == unit) {
                    Some(u) => Method::Truncate(*u),
                    None => {
                        let words: Vec<_> = TimeUnit::ALL.iter().map(|u| u.keyword()).collect();
                        self.error(
                            self.span(&args[0]),
                            Code::SyntaxUnknownUnit,
                            format!("unknown truncation unit `{unit}`"),
                            "unknown unit",
                            suggest(&unit, words.iter().copied())
                                .unwrap_or_else(|| format!("the units are {}", words.join(", "))),
                        );
                        Method::Truncate(TimeUnit::Day)
                    }
                }
            }
            "show" if takes(1) && args[0].as_rule() == Rule::show_args => {
                self.show_method(args[0].clone())
            }
            "show_first" | "show_last" if takes(1) && args[0].as_rule() == Rule::number => {
                let n = self.whole(&args[0], "the number of characters shown", 0..=65535) as u32;
                if word == "show_first" {
                    Method::ShowFirst(n)
                } else {
                    Method::ShowLast(n)
                }
            }
            known if METHODS.contains(&known) => {
                let usage = match known {
                    "constant" => {
                        "`constant <literal>`, such as `constant \"n/a\"` or `constant 0`"
                    }
                    "regex" => "`regex \"<pattern>\" \"<replacement>\"`",
                    "round" => "`round(<n>)`, such as `round(100)`",
                    "truncate" => "`truncate(<unit>)`, such as `truncate(month)`",
                    "show_first" => "`show_first(<n>)`, such as `show_first(2)`",
                    "show_last" => "`show_last(<n>)`, such as `show_last(4)`",
                    "show" => {
                        "`show(first <n>, last <m>)` (either part alone too, and `mask \"c\"` after them), such as `show(first 6, last 4)`"
                    }
                    _ => "the method name alone, without arguments",
                };
                self.error(
                    span,
                    Code::SyntaxMethodArguments,
                    format!("wrong arguments for mask method `{known}`"),
                    "here",
                    format!("write {usage}"),
                );
                Method::Null
            }
            unknown => {
                self.error(
                    word_span,
                    Code::SyntaxUnknownMethod,
                    format!("unknown mask method `{unknown}`"),
                    "unknown method",
                    suggest(unknown, METHODS.iter().copied())
                        .unwrap_or_else(|| format!("the methods are {}", METHODS.join(", "))),
                );
                Method::Null
            }
        };
        Node::new(method, span)
    }

    // -- filters ------------------------------------------------------------

    fn filter(&mut self, pair: Pair<'_, Rule>) -> Filter {
        let span = self.span(&pair);
        let mut filter = Filter {
            sources: Vec::new(),
            kind: Node::new(FilterKind::Never, span),
            only_for: None,
            except: None,
        };
        for p in kids(pair) {
            match p.as_rule() {
                Rule::selectors => filter.sources = self.selectors(p),
                Rule::filter_kind => filter.kind = self.filter_kind(p),
                Rule::for_clause => filter.only_for = kids(p).next().map(|s| self.subject(s)),
                _ => filter.except = kids(p).next().map(|s| self.subject(s)),
            }
        }
        filter
    }

    // -- expectations -------------------------------------------------------

    fn expectation(&mut self, pair: Pair<'_, Rule>) -> Expectation {
        let span = self.span(&pair);
        let mut expectation = Expectation {
            user: Node::new(String::new(), span),
            source: Node::new(Path { parts: Vec::new() }, span),
            lines: Vec::new(),
        };
        for p in kids(pair) {
            match p.as_rule() {
                Rule::string => expectation.user = self.string(p),
                Rule::path => expectation.source = self.path(p),
                Rule::expect_line => {
                    if let Some(line) = p.into_inner().next().and_then(|l| self.expect_line(l)) {
                        expectation.lines.push(line);
                    }
                }
                _ => {}
            }
        }
        expectation
    }

    /// One statement of an expectation; `None` after an error.
    fn expect_line(&mut self, pair: Pair<'_, Rule>) -> Option<Node<Expect>> {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let mut parts = kids(pair).filter(|p| p.as_rule() != Rule::rows_word);
        let line = match rule {
            Rule::expect_access => {
                let word = parts.next()?;
                Expect::Access(self.choice(
                    &word,
                    "access",
                    &[("granted", true), ("denied", false), ("allowed", true)],
                )?)
            }
            Rule::expect_column => {
                let column = self.name(parts.next()?);
                let word = parts.next()?;
                let state = self.choice(
                    &word,
                    "column",
                    &[
                        ("clear", ColumnState::Clear),
                        ("masked", ColumnState::Masked),
                        ("conditional", ColumnState::Conditional),
                    ],
                )?;
                let method = parts.next().map(|m| self.method(m));
                if let (ColumnState::Clear, Some(m)) = (state, &method) {
                    self.error(
                        m.span,
                        Code::SyntaxExpectation,
                        "a clear column has no method".into(),
                        "not with `clear`",
                        "write `using METHOD` after `masked` or `conditional` only".into(),
                    );
                    return None;
                }
                Expect::Column {
                    column,
                    state,
                    method,
                }
            }
            Rule::expect_filter => {
                let kind = self.filter_kind(parts.next()?);
                let word = parts.next()?;
                let applies =
                    self.choice(&word, "filter", &[("applies", true), ("exempt", false)])?;
                Expect::Filter { kind, applies }
            }
            _ => {
                let word = parts.next()?;
                Expect::Rows(self.choice(
                    &word,
                    "rows",
                    &[
                        ("all", Rows::All),
                        ("filtered", Rows::Filtered),
                        ("none", Rows::None),
                    ],
                )?)
            }
        };
        Some(Node::new(line, span))
    }

    /// The word of a statement that takes one of a few; an error otherwise.
    fn choice<T: Copy>(
        &mut self,
        word: &Pair<'_, Rule>,
        statement: &str,
        options: &[(&str, T)],
    ) -> Option<T> {
        let text = word.as_str().to_ascii_lowercase();
        if let Some((_, value)) = options.iter().find(|(w, _)| *w == text) {
            return Some(*value);
        }
        let mut words: Vec<String> = options.iter().map(|(w, _)| format!("`{w}`")).collect();
        let last = words.pop().unwrap_or_default();
        let help = match crate::suggest::did_you_mean(&text, options.iter().map(|(w, _)| *w)) {
            Some(hint) => hint,
            None if words.is_empty() => format!("`{statement}` takes {last}"),
            None => format!("`{statement}` takes {} or {last}", words.join(", ")),
        };
        self.error(
            self.span(word),
            Code::SyntaxExpectation,
            format!(
                "`{}` cannot follow `{statement}` in an expectation",
                word.as_str()
            ),
            "not one of the words here",
            help,
        );
        None
    }

    fn filter_kind(&mut self, pair: Pair<'_, Rule>) -> Node<FilterKind> {
        let span = self.span(&pair);
        let Some(inner) = pair.into_inner().next() else {
            return Node::new(FilterKind::Never, span);
        };
        let kind = match inner.as_rule() {
            Rule::filter_where => match kids(inner).next() {
                Some(p) => FilterKind::Where(self.predicate(p)),
                None => FilterKind::Never,
            },
            Rule::filter_time => {
                let mut newer = true;
                let mut amount = 0;
                let mut unit = Interval::Days;
                for p in inner.into_inner() {
                    match p.as_rule() {
                        Rule::k_older => newer = false,
                        Rule::number => {
                            amount = self.whole(&p, "the amount of time", 1..=1_000_000) as u32
                        }
                        Rule::word => unit = self.interval(&p),
                        _ => {}
                    }
                }
                FilterKind::Time {
                    newer,
                    amount,
                    unit,
                }
            }
            Rule::filter_sample => {
                let mut it = kids(inner);
                let percent = it.next().map(|n| self.number(&n)).unwrap_or_default();
                let column = self.next_name(&mut it);
                FilterKind::Sample { percent, column }
            }
            Rule::filter_limit => {
                let mut it = kids(inner);
                match it.next() {
                    Some(s) => FilterKind::LimitToPurpose(self.string(s)),
                    None => FilterKind::LimitToAnyPurpose,
                }
            }
            _ => FilterKind::Never,
        };
        Node::new(kind, span)
    }

    fn interval(&mut self, pair: &Pair<'_, Rule>) -> Interval {
        let word = pair.as_str().to_ascii_lowercase();
        let singular = word.trim_end_matches('s');
        if let Some(unit) = Interval::ALL
            .iter()
            .find(|u| u.keyword() == word || u.keyword().trim_end_matches('s') == singular)
        {
            return *unit;
        }
        let words: Vec<_> = Interval::ALL.iter().map(|u| u.keyword()).collect();
        self.error(
            self.span(pair),
            Code::SyntaxUnknownUnit,
            format!("unknown time unit `{word}`"),
            "unknown unit",
            suggest(&word, words.iter().copied())
                .unwrap_or_else(|| format!("the units are {}", words.join(", "))),
        );
        Interval::Days
    }

    // -- predicates ---------------------------------------------------------

    fn predicate(&mut self, pair: Pair<'_, Rule>) -> Node<Predicate> {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::predicate | Rule::pred_and => {
                let is_or = pair.as_rule() == Rule::predicate;
                let mut parts: Vec<_> = kids(pair).map(|p| self.predicate(p)).collect();
                if parts.len() == 1 {
                    return parts.remove(0);
                }
                Node::new(
                    if is_or {
                        Predicate::Or(parts)
                    } else {
                        Predicate::And(parts)
                    },
                    span,
                )
            }
            Rule::pred_not => {
                let mut nots = Vec::new();
                let mut test = None;
                for p in pair.into_inner() {
                    if p.as_rule() == Rule::k_not {
                        nots.push(self.span(&p).start);
                    } else {
                        test = Some(self.pred_test(p));
                    }
                }
                self.nots(&nots);
                nots.truncate(MAX_NOTS);
                let mut node = test.unwrap_or_else(|| {
                    Node::new(
                        Predicate::Operand(Node::new(Operand::Literal(Literal::Bool(false)), span)),
                        span,
                    )
                });
                for start in nots.into_iter().rev() {
                    let s = Span::new(start, node.span.end);
                    node = Node::new(Predicate::Not(Box::new(node)), s);
                }
                node
            }
            _ => self.pred_test(pair),
        }
    }

    fn pred_test(&mut self, pair: Pair<'_, Rule>) -> Node<Predicate> {
        let span = self.span(&pair);
        let mut it = pair.into_inner();
        let operand = match it.next() {
            Some(o) => self.operand(o),
            None => Node::new(Operand::Literal(Literal::Bool(false)), span),
        };
        let Some(tail) = it.next() else {
            return Node::new(Predicate::Operand(operand), span);
        };
        let predicate = match tail.as_rule() {
            Rule::compare => {
                let mut t = tail.into_inner();
                let op = match t.next().map(|o| o.as_str()) {
                    Some("=") => CompareOp::Eq,
                    Some("!=") => CompareOp::Ne,
                    Some("<") => CompareOp::Lt,
                    Some("<=") => CompareOp::Le,
                    Some(">") => CompareOp::Gt,
                    _ => CompareOp::Ge,
                };
                let right = match t.next() {
                    Some(r) => self.operand(r),
                    None => Node::new(Operand::Literal(Literal::Null), span),
                };
                Predicate::Compare {
                    left: operand,
                    op,
                    right,
                }
            }
            Rule::is_null => Predicate::IsNull {
                operand,
                negated: tail.into_inner().any(|p| p.as_rule() == Rule::k_not),
            },
            _ => {
                let mut negated = false;
                let mut predicate = None;
                for p in tail.into_inner() {
                    match p.as_rule() {
                        Rule::k_not => negated = true,
                        Rule::k_in => {}
                        Rule::in_list => {
                            predicate = Some(Predicate::InList {
                                operand: operand.clone(),
                                negated,
                                values: p.into_inner().map(|l| self.literal(l)).collect(),
                            })
                        }
                        Rule::user_groups => {
                            predicate = Some(Predicate::InUserGroups {
                                operand: operand.clone(),
                                negated,
                            })
                        }
                        Rule::lookup_call => {
                            let mut parts = p.into_inner();
                            let source = self.next_path(&mut parts);
                            let mut column =
                                |parts: &mut pest::iterators::Pairs<'_, Rule>| match parts.next() {
                                    Some(n) => self.name(n),
                                    None => Node::new(String::new(), span),
                                };
                            let key = column(&mut parts);
                            let value = column(&mut parts);
                            predicate = Some(Predicate::InLookup {
                                operand: operand.clone(),
                                negated,
                                source,
                                key,
                                value,
                            })
                        }
                        _ => {
                            let key = match p.into_inner().next() {
                                Some(s) => self.string(s),
                                None => Node::new(String::new(), span),
                            };
                            predicate = Some(Predicate::InUserAttribute {
                                operand: operand.clone(),
                                negated,
                                key,
                            })
                        }
                    }
                }
                predicate.unwrap_or(Predicate::Operand(operand))
            }
        };
        Node::new(predicate, span)
    }

    fn operand(&mut self, pair: Pair<'_, Rule>) -> Node<Operand> {
        let span = self.span(&pair);
        let Some(inner) = pair.into_inner().next() else {
            return Node::new(Operand::Literal(Literal::Null), span);
        };
        let operand = match inner.as_rule() {
            Rule::literal => Operand::Literal(self.literal(inner).node),
            Rule::user_name => Operand::UserName,
            Rule::column_tagged => {
                let mut it = kids(inner);
                Operand::ColumnTagged(self.next_path(&mut it).node)
            }
            Rule::sql_text => {
                let mut it = kids(inner);
                Operand::Sql(it.next().map(|s| self.string(s).node).unwrap_or_default())
            }
            Rule::group => match kids(inner).next() {
                Some(p) => Operand::Paren(Box::new(self.predicate(p))),
                None => Operand::Literal(Literal::Null),
            },
            _ => Operand::Column(self.name(inner).node),
        };
        Node::new(operand, span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keyword tokens left out of the tree are the grammar's `k_…`
    /// rules and the braces, no more and no fewer.
    #[test]
    fn keyword_tokens_are_the_grammars_k_rules() {
        for &rule in Rule::all_rules() {
            let name = format!("{rule:?}");
            let keyword = name.starts_with("k_") || name.ends_with("_brace");
            assert_eq!(is_keyword(rule), keyword, "{name}");
        }
    }
}
