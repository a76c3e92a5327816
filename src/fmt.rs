//! `veil fmt`: the canonical layout of a policy file, `AST + comments →
//! text`. Comments are kept: each stays before, or at the end of the line of,
//! the declaration it stood by. Up to one blank line between declarations is
//! kept. Formatting is idempotent: `format(format(x)) == format(x)`.

use crate::ast::*;
use crate::span::{Node, Span};
use crate::syntax::{Comment, Parsed};

const INDENT: &str = "  ";

/// Formats a parsed file; `text` is the text it was parsed from.
pub fn format(parsed: &Parsed, text: &str) -> String {
    let mut printer = Printer {
        text,
        comments: &parsed.comments,
        next: 0,
        out: String::new(),
        last_end: 0,
        fresh: true,
    };
    for item in &parsed.file.items {
        printer.item(item);
    }
    printer.leading(usize::MAX, "");
    let mut out = printer.out;
    while out.ends_with("\n\n") {
        out.pop();
    }
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

struct Printer<'a> {
    text: &'a str,
    comments: &'a [Comment],
    /// The first comment not yet printed.
    next: usize,
    out: String,
    /// Where in the source the last printed thing ended.
    last_end: usize,
    /// Nothing printed yet in the current block: no blank line is due.
    fresh: bool,
}

impl Printer<'_> {
    /// Whether the source has a blank line between `from` and `to`.
    fn blank_between(&self, from: usize, to: usize) -> bool {
        let to = to.min(self.text.len());
        if from >= to {
            return false;
        }
        let between = &self.text[from..to];
        let mut lines = between.split('\n');
        lines.next();
        let mut rest: Vec<&str> = lines.collect();
        rest.pop();
        rest.iter().any(|l| l.trim().is_empty())
    }

    /// A blank line before something at `start`, if the source had one.
    fn gap(&mut self, start: usize) {
        if !self.fresh && self.blank_between(self.last_end, start) {
            self.out.push('\n');
        }
    }

    /// Prints every comment that starts before `pos`, each on its own line.
    fn leading(&mut self, pos: usize, indent: &str) {
        while let Some(comment) = self.comments.get(self.next) {
            if comment.span.start >= pos {
                break;
            }
            self.gap(comment.span.start);
            self.out.push_str(indent);
            self.out.push_str(&comment.text);
            self.out.push('\n');
            self.last_end = comment.span.end;
            self.fresh = false;
            self.next += 1;
        }
    }

    /// Appends the comment that follows `pos` on the same source line, if it
    /// starts before `limit`, then ends the output line.
    fn trailing(&mut self, pos: usize, limit: usize) {
        if let Some(comment) = self.comments.get(self.next) {
            let start = comment.span.start;
            if start >= pos && start < limit && !self.text[pos.min(start)..start].contains('\n') {
                self.out.push_str("  ");
                self.out.push_str(&comment.text);
                self.last_end = comment.span.end;
                self.next += 1;
            }
        }
        self.out.push('\n');
    }

    /// One line-sized node: blank line, comments before and inside it, the
    /// line itself, and a comment at its end.
    fn line(&mut self, span: Span, indent: &str, limit: usize, body: &str) {
        self.leading(span.start, indent);
        self.gap(span.start);
        // Comments inside the line move above it, after any blank line.
        self.last_end = span.start;
        self.fresh = true;
        self.leading(span.end, indent);
        self.out.push_str(indent);
        self.out.push_str(body);
        self.last_end = span.end;
        self.fresh = false;
        self.trailing(span.end, limit);
    }

    /// Opens a block: comments before it, the header line and a comment on
    /// the header's line (one that comes before the first entry).
    fn open(&mut self, span: Span, indent: &str, header: &str, first_child: usize) {
        self.leading(span.start, indent);
        self.gap(span.start);
        self.out.push_str(indent);
        self.out.push_str(header);
        self.out.push_str(" {");
        self.last_end = span.start;
        self.trailing(span.start, first_child);
        self.fresh = true;
    }

    /// Closes a block: comments left inside it, then `}`.
    fn close(&mut self, span: Span, indent: &str, inner: &str, limit: usize) {
        self.leading(span.end.saturating_sub(1), inner);
        self.out.push_str(indent);
        self.out.push('}');
        self.last_end = span.end;
        self.fresh = false;
        self.trailing(span.end, limit);
    }

    fn item(&mut self, item: &Node<Item>) {
        let limit = usize::MAX;
        match &item.node {
            Item::Integration(it) => {
                let first = it
                    .properties
                    .first()
                    .map_or(item.span.end, |p| p.span.start);
                self.open(
                    item.span,
                    "",
                    &format!("integration {}", name(&it.name)),
                    first,
                );
                self.properties(
                    it.properties.iter().map(|p| (p.span, &p.node)).collect(),
                    INDENT,
                );
                self.close(item.span, "", INDENT, limit);
            }
            Item::Source(source) => {
                let first = source
                    .entries
                    .first()
                    .map_or(item.span.end, |e| e.span.start);
                self.open(
                    item.span,
                    "",
                    &format!("source {}", path(&source.id)),
                    first,
                );
                // Properties in runs, each run aligned; the columns block
                // where it stands.
                let mut run: Vec<(Span, &Property)> = Vec::new();
                for entry in &source.entries {
                    match &entry.node {
                        SourceEntry::Property(p) => run.push((entry.span, p)),
                        SourceEntry::Columns(columns) => {
                            self.properties(std::mem::take(&mut run), INDENT);
                            self.columns(entry.span, columns);
                        }
                    }
                }
                self.properties(run, INDENT);
                self.close(item.span, "", INDENT, limit);
            }
            Item::Access(access) => {
                let first = access.lines.first().map_or(item.span.end, |l| l.span.start);
                self.open(
                    item.span,
                    "",
                    &format!("access {}", selectors(&access.sources)),
                    first,
                );
                for line in &access.lines {
                    let word = match line.kind {
                        AccessKind::Allow => "allow",
                        AccessKind::Require => "require",
                    };
                    self.line(
                        line.span,
                        INDENT,
                        limit,
                        &format!("{word} {}", subject(&line.subject)),
                    );
                }
                self.close(item.span, "", INDENT, limit);
            }
            Item::Mask(mask) => self.line(item.span, "", limit, &mask_text(mask)),
            Item::Filter(filter) => self.line(item.span, "", limit, &filter_text(filter)),
            Item::Expectation(e) => {
                let first = e.lines.first().map_or(item.span.end, |l| l.span.start);
                self.open(
                    item.span,
                    "",
                    &format!(
                        "expect user {} on {}",
                        string(&e.user.node),
                        path(&e.source)
                    ),
                    first,
                );
                for line in &e.lines {
                    self.line(line.span, INDENT, limit, &expect_text(&line.node));
                }
                self.close(item.span, "", INDENT, limit);
            }
        }
    }

    fn properties(&mut self, props: Vec<(Span, &Property)>, indent: &str) {
        let width = props
            .iter()
            .map(|(_, p)| p.key.node.len())
            .max()
            .unwrap_or(0);
        for (span, prop) in props {
            let body = format!(
                "{:width$} = {}",
                prop.key.node,
                value(&prop.value),
                width = width
            );
            self.line(span, indent, usize::MAX, &body);
        }
    }

    fn columns(&mut self, span: Span, columns: &[Node<Column>]) {
        let first = columns.first().map_or(span.end, |c| c.span.start);
        self.open(span, INDENT, "columns", first);
        let rows: Vec<(String, String, String)> = columns
            .iter()
            .map(|c| {
                let tags = if c.tags.is_empty() {
                    String::new()
                } else {
                    let list: Vec<String> = c.tags.iter().map(|t| path(t)).collect();
                    format!("tags({})", list.join(", "))
                };
                (name(&c.name), type_text(&c.ty), tags)
            })
            .collect();
        let name_width = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
        let type_width = rows
            .iter()
            .filter(|r| !r.2.is_empty())
            .map(|r| r.1.chars().count())
            .max()
            .unwrap_or(0);
        let inner = format!("{INDENT}{INDENT}");
        for (column, (n, t, tags)) in columns.iter().zip(rows) {
            let mut body = format!("{n}{} {t}", " ".repeat(name_width - n.chars().count()));
            if !tags.is_empty() {
                body.push_str(&" ".repeat(type_width.saturating_sub(t.chars().count())));
                body.push(' ');
                body.push_str(&tags);
            }
            self.line(column.span, &inner, usize::MAX, &body);
        }
        self.close(span, INDENT, &inner, usize::MAX);
    }
}

/// Words that must be written in backticks to be names.
fn needs_backticks(s: &str) -> bool {
    let mut chars = s.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    !first_ok
        || !s
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        || crate::syntax::is_reserved(s)
}

/// A name, in backticks when it must be.
pub fn name_text(s: &str) -> String {
    if needs_backticks(s) {
        format!("`{}`", s.replace('`', "``"))
    } else {
        s.to_string()
    }
}

fn name(n: &Name) -> String {
    name_text(&n.node)
}

fn path(p: &Path) -> String {
    p.parts
        .iter()
        .map(|part| name_text(part))
        .collect::<Vec<_>>()
        .join(".")
}

/// A string literal with the language's escapes.
pub fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn value(v: &Value) -> String {
    match v {
        Value::String(s) => string(s),
        Value::Number(n) => n.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Env(var) => format!("env({})", string(var)),
        Value::Path(p) => path(p),
        Value::List(items) => {
            let items: Vec<String> = items
                .iter()
                .map(|i| match &i.node {
                    ListItem::Grantee(kind, who) => format!("{} {}", kind.keyword(), string(who)),
                    ListItem::String(s) => string(s),
                    ListItem::Path(p) => path(p),
                })
                .collect();
            format!("[{}]", items.join(", "))
        }
    }
}

fn type_text(t: &TypeExpr) -> String {
    let mut out = t.name.clone();
    if !t.args.is_empty() {
        out.push('(');
        out.push_str(&t.args.join(","));
        out.push(')');
    }
    match t.time_zone {
        Some(true) => out.push_str(" with time zone"),
        Some(false) => out.push_str(" without time zone"),
        None => {}
    }
    out
}

fn selectors(list: &[Node<Selector>]) -> String {
    list.iter()
        .map(|s| match &s.node {
            Selector::Source(p) => path(p),
            Selector::Tagged(p) => format!("tagged {}", path(p)),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A subject condition as written in canonical form.
pub fn subject(s: &Subject) -> String {
    match s {
        Subject::Everyone => "everyone".into(),
        Subject::Approved => "approved".into(),
        Subject::User(u) => format!("user {}", string(u)),
        Subject::Group(g) => format!("group {}", string(g)),
        Subject::Attribute(k, None) => format!("attribute {}", string(k)),
        Subject::Attribute(k, Some(v)) => format!("attribute {} = {}", string(k), string(v)),
        Subject::Purpose(p) => format!("purpose {}", string(p)),
        Subject::AnyPurpose => "any purpose".into(),
        Subject::Not(inner) => format!("not {}", subject(inner)),
        Subject::And(parts) => join(parts.iter().map(|p| subject(p)), " and "),
        Subject::Or(parts) => join(parts.iter().map(|p| subject(p)), " or "),
        Subject::Paren(inner) => format!("({})", subject(inner)),
    }
}

fn join(parts: impl Iterator<Item = String>, sep: &str) -> String {
    parts.collect::<Vec<_>>().join(sep)
}

/// A row predicate in canonical form.
pub fn predicate(p: &Predicate) -> String {
    let not = |negated: bool| if negated { "not " } else { "" };
    match p {
        Predicate::Or(parts) => join(parts.iter().map(|p| predicate(p)), " or "),
        Predicate::And(parts) => join(parts.iter().map(|p| predicate(p)), " and "),
        Predicate::Not(inner) => format!("not {}", predicate(inner)),
        Predicate::Compare { left, op, right } => {
            format!("{} {} {}", operand(left), op.symbol(), operand(right))
        }
        Predicate::IsNull {
            operand: o,
            negated,
        } => {
            format!("{} is {}null", operand(o), not(*negated))
        }
        Predicate::InList {
            operand: o,
            negated,
            values,
        } => format!(
            "{} {}in ({})",
            operand(o),
            not(*negated),
            join(values.iter().map(|v| literal(v)), ", ")
        ),
        Predicate::InUserGroups {
            operand: o,
            negated,
        } => {
            format!("{} {}in user.groups", operand(o), not(*negated))
        }
        Predicate::InUserAttribute {
            operand: o,
            negated,
            key,
        } => format!(
            "{} {}in user.attribute({})",
            operand(o),
            not(*negated),
            string(key)
        ),
        Predicate::InLookup {
            operand: o,
            negated,
            source,
            key,
            value,
        } => format!(
            "{} {}in lookup({}, {}, {})",
            operand(o),
            not(*negated),
            path(&source.node),
            name(key),
            name(value)
        ),
        Predicate::Operand(o) => operand(o),
    }
}

fn operand(o: &Operand) -> String {
    match o {
        Operand::Literal(l) => literal(l),
        Operand::Column(c) => name_text(c),
        Operand::UserName => "user.name".into(),
        Operand::ColumnTagged(t) => format!("column tagged {}", path(t)),
        Operand::Sql(s) => format!("sql {}", string(s)),
        Operand::Paren(inner) => format!("({})", predicate(inner)),
    }
}

pub fn literal(l: &Literal) -> String {
    match l {
        Literal::String(s) => string(s),
        Literal::Number(n) => n.clone(),
        Literal::Bool(b) => b.to_string(),
        Literal::Null => "null".into(),
    }
}

/// A mask method in canonical form.
pub fn method(m: &Method) -> String {
    match m {
        Method::Hash => "hash".into(),
        Method::Null => "null".into(),
        Method::None => "none".into(),
        Method::Constant(l) => format!("constant {}", literal(l)),
        Method::Regex {
            pattern,
            replacement,
        } => format!("regex {} {}", string(pattern), string(replacement)),
        Method::Round(n) => format!("round({n})"),
        Method::Truncate(unit) => format!("truncate({})", unit.keyword()),
        Method::ShowFirst(n) => format!("show_first({n})"),
        Method::ShowLast(n) => format!("show_last({n})"),
        Method::Show { first, last, mask } => {
            let mut parts = Vec::new();
            if *first > 0 || *last == 0 {
                parts.push(format!("first {first}"));
            }
            if *last > 0 {
                parts.push(format!("last {last}"));
            }
            if *mask != '*' {
                parts.push(format!("mask {}", string(&mask.to_string())));
            }
            format!("show({})", parts.join(", "))
        }
    }
}

fn mask_text(mask: &Mask) -> String {
    let target = match &mask.target.node {
        MaskTarget::Columns { columns, sources } => format!(
            "{} on {}",
            join(columns.iter().map(name), ", "),
            selectors(sources)
        ),
        MaskTarget::Tagged { tag, sources } if sources.is_empty() => {
            format!("tagged {}", path(tag))
        }
        MaskTarget::Tagged { tag, sources } => {
            format!("tagged {} on {}", path(tag), selectors(sources))
        }
        MaskTarget::Matching { pattern, sources } if sources.is_empty() => {
            format!("columns matching {}", string(pattern))
        }
        MaskTarget::Matching { pattern, sources } => format!(
            "columns matching {} on {}",
            string(pattern),
            selectors(sources)
        ),
    };
    let mut out = format!("mask {target} using {}", method(&mask.method));
    if let Some(e) = &mask.exemption {
        let word = match e.kind {
            ExemptionKind::Except => "except",
            ExemptionKind::For => "for",
        };
        out.push_str(&format!(" {word} {}", subject(&e.subject)));
    }
    if let Some(when) = &mask.when {
        out.push_str(&format!(" when {}", predicate(when)));
    }
    if let Some(p) = &mask.priority {
        out.push_str(&format!(" priority {}", p.node));
    }
    out
}

/// A filter's kind in canonical form (`where …`, `newer than 90 days` …).
pub fn filter_kind(kind: &FilterKind) -> String {
    match kind {
        FilterKind::Where(p) => format!("where {}", predicate(p)),
        FilterKind::Time {
            newer,
            amount,
            unit,
        } => format!(
            "{} than {amount} {}",
            if *newer { "newer" } else { "older" },
            unit.keyword()
        ),
        FilterKind::Sample { percent, column } => {
            format!("sample {percent} percent by {}", name(column))
        }
        FilterKind::LimitToPurpose(p) => format!("limit to purpose {}", string(p)),
        FilterKind::LimitToAnyPurpose => "limit to any purpose".into(),
        FilterKind::Never => "never".into(),
    }
}

fn filter_text(filter: &Filter) -> String {
    let kind = filter_kind(&filter.kind);
    let mut out = format!("filter {} {kind}", selectors(&filter.sources));
    if let Some(only_for) = &filter.only_for {
        out.push_str(&format!(" for {}", subject(only_for)));
    }
    if let Some(except) = &filter.except {
        out.push_str(&format!(" except {}", subject(except)));
    }
    out
}

/// One statement of an expectation, in canonical form.
pub fn expect_text(line: &Expect) -> String {
    match line {
        Expect::Access(granted) => {
            format!("access {}", if *granted { "granted" } else { "denied" })
        }
        Expect::Column {
            column,
            state,
            method: m,
        } => {
            let using = m
                .as_ref()
                .map_or(String::new(), |m| format!(" using {}", method(&m.node)));
            format!("column {} {}{using}", name(column), state.word())
        }
        Expect::Filter { kind, applies } => format!(
            "filter {} {}",
            filter_kind(&kind.node),
            if *applies { "applies" } else { "exempt" }
        ),
        Expect::Rows(rows) => format!("rows {}", rows.word()),
    }
}
