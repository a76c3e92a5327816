//! Access, mask and filter rules: selectors, subject conditions, row
//! predicates, method/type fit, and the per-column precedence of masks.

use super::{Checker, loc};
use crate::ast::{
    self, AccessKind, FilterKind, Literal, MaskTarget, Method, Operand, Predicate, Selector,
    Subject,
};
use crate::diagnostic::{Code, Diagnostic};
use crate::model::{AccessRule, ColumnMask, FilterRule, MaskRule, MaskScope, Source, TypeKind};
use crate::span::{Loc, Node};
use crate::sql_expr;
use std::collections::HashMap;

/// What a predicate operand yields, for type checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Number,
    Boolean,
    Temporal,
    Null,
    /// A type veil does not compare (`super`, `uuid`, …).
    Other,
}

impl Kind {
    fn of(ty: TypeKind) -> Kind {
        if ty.is_numeric() {
            Kind::Number
        } else if ty.is_text() {
            Kind::Text
        } else if ty.is_temporal() || matches!(ty, TypeKind::Time | TypeKind::TimeTz) {
            Kind::Temporal
        } else if ty == TypeKind::Boolean {
            Kind::Boolean
        } else {
            Kind::Other
        }
    }

    fn word(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Number => "a number",
            Kind::Boolean => "a boolean",
            Kind::Temporal => "a date or time",
            Kind::Null => "null",
            Kind::Other => "a value veil cannot compare",
        }
    }

    /// Whether values of the two kinds may be compared. A string literal
    /// may be compared with a date or time (`created_at >= "2026-01-01"`).
    fn comparable(self, other: Kind) -> bool {
        self == other
            || matches!(
                (self, other),
                (Kind::Temporal, Kind::Text) | (Kind::Text, Kind::Temporal)
            )
    }
}

/// Where a subject condition appears: `approved` only makes sense in access.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SubjectPlace {
    Access,
    Rule,
}

impl Checker<'_> {
    // -- selectors ------------------------------------------------------------

    /// The sources a selector list covers, each once, in declaration order.
    fn select(&mut self, file: crate::span::FileId, selectors: &[Node<Selector>]) -> Vec<usize> {
        let mut out = Vec::new();
        for sel in selectors {
            let at = loc(file, sel.span);
            match &sel.node {
                Selector::Source(path) => {
                    let id = path.dotted();
                    match self.source_index.get(&id) {
                        Some(&s) => out.push(s),
                        None => {
                            let ids: Vec<String> = self.source_index.keys().cloned().collect();
                            self.unknown(
                                "source",
                                &id,
                                at,
                                ids.iter().map(String::as_str),
                                "declare it with `source ID { … }`",
                            );
                        }
                    }
                }
                Selector::Tagged(tag) => {
                    let tag = tag.dotted();
                    match self.source_tags.get(&tag) {
                        Some(sources) => out.extend(sources.iter().copied()),
                        None => {
                            let tags: Vec<String> = self.source_tags.keys().cloned().collect();
                            let help = crate::suggest::did_you_mean(&tag, tags.iter().map(String::as_str))
                                .unwrap_or_else(|| "add the tag to a source with `tags = [...]`, or select sources by id".into());
                            self.error(
                                Code::CheckUnknownTag,
                                format!("no source is tagged `{tag}`"),
                                at,
                                "no source carries this tag",
                                help,
                            );
                        }
                    }
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    // -- subjects -------------------------------------------------------------

    fn subject(&mut self, file: crate::span::FileId, subject: &Node<Subject>, place: SubjectPlace) {
        let at = loc(file, subject.span);
        match &subject.node {
            Subject::Everyone | Subject::AnyPurpose => {}
            Subject::Approved => {
                if place != SubjectPlace::Access {
                    self.error(
                        Code::CheckApprovedOutsideAccess,
                        "`approved` only applies in access rules",
                        at,
                        "not in an access rule",
                        "a user's approvals are per source; use `approved` in `access SOURCE { allow approved }`",
                    );
                }
            }
            Subject::User(name) => {
                if !self.user_names.contains(name) {
                    let users: Vec<String> = self
                        .model
                        .directory
                        .users
                        .iter()
                        .map(|u| u.name.clone())
                        .collect();
                    self.unknown(
                        "user",
                        name,
                        at,
                        users.iter().map(String::as_str),
                        "add the user under `users` in identities.yaml",
                    );
                }
            }
            Subject::Group(name) => self.known_group(name, at),
            Subject::Attribute(key, value) => self.known_attribute(key, value.as_deref(), at),
            Subject::Purpose(name) => self.known_purpose(name, at),
            Subject::Not(inner) | Subject::Paren(inner) => self.subject(file, inner, place),
            Subject::And(parts) | Subject::Or(parts) => {
                for p in parts {
                    self.subject(file, p, place);
                }
            }
        }
    }

    fn known_group(&mut self, name: &str, at: Loc) {
        if !self.group_names.contains(name) {
            let groups = self.model.directory.groups.clone();
            self.unknown(
                "group",
                name,
                at,
                groups.iter().map(String::as_str),
                "declare it under `groups` in identities.yaml",
            );
        }
    }

    fn known_purpose(&mut self, name: &str, at: Loc) {
        if !self.model.directory.purposes.contains_key(name) {
            let purposes: Vec<String> = self.model.directory.purposes.keys().cloned().collect();
            self.unknown(
                "purpose",
                name,
                at,
                purposes.iter().map(String::as_str),
                "declare it under `purposes` in identities.yaml",
            );
        }
    }

    fn known_attribute(&mut self, key: &str, value: Option<&str>, at: Loc) {
        match self.model.directory.attributes.get(key) {
            None => {
                let keys: Vec<String> = self.model.directory.attributes.keys().cloned().collect();
                self.unknown(
                    "attribute",
                    key,
                    at,
                    keys.iter().map(String::as_str),
                    "declare it under `attributes` in identities.yaml",
                );
            }
            Some(allowed) => {
                if let Some(value) = value
                    && !allowed.is_empty()
                    && !allowed.iter().any(|v| v == value)
                {
                    let allowed = allowed.clone();
                    self.unknown_in(
                        "value",
                        value,
                        &format!("of attribute `{key}`"),
                        at,
                        allowed.iter().map(String::as_str),
                        &format!("the allowed values are {}", allowed.join(", ")),
                    );
                }
            }
        }
    }

    // -- access -----------------------------------------------------------------

    pub(super) fn access(&mut self, at: Loc, access: &ast::Access) {
        let sources = self.select(at.file, &access.sources);
        let mut rule = AccessRule {
            sources,
            allow: Vec::new(),
            require: Vec::new(),
            loc: at,
        };
        for line in &access.lines {
            self.subject(at.file, &line.subject, SubjectPlace::Access);
            let entry = (line.subject.node.clone(), loc(at.file, line.span));
            match line.kind {
                AccessKind::Allow => rule.allow.push(entry),
                AccessKind::Require => rule.require.push(entry),
            }
        }
        if rule.allow.is_empty() {
            self.push(
                Diagnostic::warning(Code::CheckAccessNever, "this access rule allows nobody")
                    .at_loc(at, "no `allow` line")
                    .help("a user needs at least one `allow` line to hold; add one, or remove the rule"),
            );
        }
        self.model.access.push(rule);
    }

    // -- masks ------------------------------------------------------------------

    pub(super) fn mask(&mut self, at: Loc, mask: &ast::Mask) {
        let file = at.file;
        let rule_index = self.model.masks.len();
        if let Some(exemption) = &mask.exemption {
            self.subject(file, &exemption.subject, SubjectPlace::Rule);
        }
        // The (source, column) pairs the rule targets.
        let mut targets: Vec<(usize, usize)> = Vec::new();
        let scope = match &mask.target.node {
            MaskTarget::Columns { columns, sources } => {
                self.named_targets(file, columns, sources, &mut targets)
            }
            MaskTarget::Tagged { tag, sources } => {
                self.tagged_targets(file, mask, tag, sources, &mut targets)
            }
            MaskTarget::Matching { pattern, sources } => {
                self.matching_targets(file, pattern, sources, &mut targets)
            }
        };
        self.regex_method(file, mask);
        if let Some(when) = &mask.when {
            let mut found = false;
            when.node.lookups(&mut |_, _, _| found = true);
            if found {
                self.error(
                    Code::CheckLookup,
                    "a lookup stands in row filters only, not in a mask's `when`",
                    loc(file, when.span),
                    "here",
                    "filter the rows with `filter SOURCES where COLUMN in lookup(SOURCE, KEY, VALUE)`; a mask's condition is the row's own columns",
                );
            }
        }
        let named = scope == MaskScope::Named;
        self.attach_mask(file, mask, rule_index, named, &targets);
        self.model.masks.push(MaskRule {
            scope,
            method: mask.method.node.clone(),
            exemption: mask
                .exemption
                .as_ref()
                .map(|e| (e.kind, e.subject.node.clone())),
            when: mask.when.as_ref().map(|w| w.node.clone()),
            priority: mask.priority.as_ref().map_or(0, |p| p.node),
            loc: at,
        });
    }

    /// The columns a rule names, in the sources it selects.
    fn named_targets(
        &mut self,
        file: crate::span::FileId,
        columns: &[Node<String>],
        sources: &[Node<Selector>],
        targets: &mut Vec<(usize, usize)>,
    ) -> MaskScope {
        let selected = self.select(file, sources);
        for column in columns {
            let mut found = false;
            for &s in &selected {
                if let Some(c) = find_column(&self.model.sources[s], &column.node) {
                    targets.push((s, c));
                    found = true;
                } else if sources.iter().any(|sel| matches!(&sel.node, Selector::Source(p) if p.dotted() == self.model.sources[s].id)) {
                    self.unknown_column(s, &column.node, loc(file, column.span), "name a column declared in the source's `columns` block");
                    found = true;
                }
            }
            if !found && !selected.is_empty() {
                self.error(
                    Code::CheckUnknownName,
                    format!("no selected source has a column `{}`", column.node),
                    loc(file, column.span),
                    "no such column",
                    "name a column declared in one of the selected sources",
                );
            }
        }
        MaskScope::Named
    }

    /// The columns carrying a tag (or one below it), in the sources a rule
    /// selects (all when it selects none).
    fn tagged_targets(
        &mut self,
        file: crate::span::FileId,
        mask: &ast::Mask,
        tag: &Node<ast::Path>,
        sources: &[Node<Selector>],
        targets: &mut Vec<(usize, usize)>,
    ) -> MaskScope {
        let name = tag.dotted();
        let selected = if sources.is_empty() {
            None
        } else {
            Some(self.select(file, sources))
        };
        match self.column_tags.get(&name) {
            Some(pairs) => targets.extend(
                pairs
                    .iter()
                    .filter(|(s, _)| selected.as_ref().is_none_or(|sel| sel.contains(s)))
                    .copied(),
            ),
            None => {
                let tags: Vec<String> = self.column_tags.keys().cloned().collect();
                let help = crate::suggest::did_you_mean(&name, tags.iter().map(String::as_str))
                    .unwrap_or_else(|| {
                        "tag a column with `tags(…)` in its source's `columns` block".into()
                    });
                self.error(
                    Code::CheckUnknownTag,
                    format!("no column is tagged `{name}`"),
                    loc(file, tag.span),
                    "no column carries this tag",
                    help,
                );
            }
        }
        if targets.is_empty() && self.column_tags.contains_key(&name) {
            self.push(
                Diagnostic::warning(
                    Code::CheckMaskNever,
                    format!("no column of the selected sources is tagged `{name}`"),
                )
                .at_loc(loc(file, mask.target.span), "covers no column")
                .help("this rule can never apply; select other sources or remove it"),
            );
        }
        MaskScope::Tagged {
            depth: tag.parts.len(),
            tag: name,
        }
    }

    /// The columns whose names match a pattern, in the sources a rule
    /// selects (all when it selects none).
    fn matching_targets(
        &mut self,
        file: crate::span::FileId,
        pattern: &Node<String>,
        sources: &[Node<Selector>],
        targets: &mut Vec<(usize, usize)>,
    ) -> MaskScope {
        let selected: Vec<usize> = if sources.is_empty() {
            (0..self.model.sources.len()).collect()
        } else {
            self.select(file, sources)
        };
        match regex::RegexBuilder::new(&pattern.node).size_limit(1 << 20).build() {
            Ok(re) => {
                // Column names repeat across sources: test each once.
                let mut seen: HashMap<&str, bool> = HashMap::new();
                for s in selected {
                    for (c, column) in self.model.sources[s].columns.iter().enumerate() {
                        let hit = *seen
                            .entry(column.name.as_str())
                            .or_insert_with(|| re.is_match(&column.name));
                        if hit {
                            targets.push((s, c));
                        }
                    }
                }
                if targets.is_empty() {
                    self.push(
                        Diagnostic::warning(Code::CheckMaskNever, "this pattern matches no column")
                            .at_loc(loc(file, pattern.span), "matches nothing")
                            .help("the pattern is matched against declared column names, unanchored; this rule can never apply"),
                    );
                }
            }
            Err(error) => self.error(
                Code::CheckBadPattern,
                "invalid regular expression",
                loc(file, pattern.span),
                "does not compile",
                format!(
                    "fix the regular expression ({}); column patterns use Rust's regex syntax, unanchored",
                    error.to_string().lines().last().unwrap_or("").trim().trim_start_matches("error: ")
                ),
            ),
        }
        MaskScope::Matching {
            pattern: pattern.node.clone(),
        }
    }

    /// A regex mask: a literal replacement, a pattern both databases read
    /// alike.
    fn regex_method(&mut self, file: crate::span::FileId, mask: &ast::Mask) {
        let Method::Regex {
            pattern,
            replacement,
        } = &mask.method.node
        else {
            return;
        };
        if let Err(problem) = check_posix_pattern(&pattern.node) {
            self.error(Code::CheckBadPattern, format!("pattern not portable: {problem}"), loc(file, pattern.span), "here", "regex masks use POSIX extended expressions both databases agree on: literals, `.`, `[…]`, `^`, `$`, `|`, `(…)`, `*`, `+`, `?`, `{n,m}`");
            return;
        }
        let groups = regex::Regex::new(&pattern.node).map_or(0, |r| r.captures_len() - 1);
        if let Err(problem) = check_replacement(replacement, groups) {
            self.error(
                Code::CheckRegexReplacement,
                problem,
                loc(file, mask.method.span),
                "here",
                "in a replacement `\\1` … `\\9` stand for the pattern's groups and `\\\\` for a backslash; everything else, `$` and `&` included, is literal text (in a .veil string a backslash is written `\\\\`: `\"\\\\1\"` is `\\1`)",
            );
        }
    }

    /// Checks the rule's `when` against every targeted source and the
    /// method against every targeted column's type, and attaches the rule
    /// to each column it fits (`null` where a tag or pattern rule's method
    /// does not).
    fn attach_mask(
        &mut self,
        file: crate::span::FileId,
        mask: &ast::Mask,
        rule_index: usize,
        named: bool,
        targets: &[(usize, usize)],
    ) {
        // The `when` condition, against every targeted source.
        let mut when_sources: Vec<usize> = targets.iter().map(|(s, _)| *s).collect();
        when_sources.dedup();
        let mut whens = std::collections::HashMap::new();
        if let Some(when) = &mask.when {
            for &s in &when_sources {
                self.predicate_top(file, when, s);
                let sources = super::resolve::Sources {
                    all: &self.model.sources,
                    index: &self.source_index,
                };
                let resolved = super::resolve::predicate(&when.node, &sources.all[s], sources);
                whens.insert(s, resolved.map(std::sync::Arc::new));
            }
        }

        let mut fallback_warned = false;
        for &(s, c) in targets {
            let column = &self.model.sources[s].columns[c];
            let mut method = mask.method.node.clone();
            let mut fallback = false;
            if let Err(why) = fits(&method, column.ty.kind) {
                if named {
                    let id = self.model.sources[s].id.clone();
                    let name = column.name.clone();
                    let sql = column.ty.sql.clone();
                    self.error(
                        Code::CheckMethodType,
                        format!(
                            "`{}` cannot mask column `{name}` of `{id}`: {why}",
                            method_name(&method)
                        ),
                        loc(file, mask.method.span),
                        &format!("column is `{sql}`"),
                        "choose a method for this type, such as `hash`, `null` or `constant …`",
                    );
                    continue;
                }
                if !fallback_warned {
                    fallback_warned = true;
                    let id = self.model.sources[s].id.clone();
                    let name = column.name.clone();
                    self.push(
                        Diagnostic::warning(
                            Code::CheckMethodFallback,
                            format!("`{}` does not fit column `{name}` of `{id}` ({why}); it is masked with `null` instead", method_name(&method)),
                        )
                        .at_loc(loc(file, mask.method.span), "does not fit every column")
                        .help("add a rule naming that column to choose its mask, or narrow this rule's target"),
                    );
                }
                method = Method::Null;
                fallback = true;
            }
            self.model.sources[s].columns[c].masks.push(ColumnMask {
                rule: rule_index,
                method,
                fallback_to_null: fallback,
                when: whens.get(&s).cloned().flatten(),
            });
        }
    }

    /// Sorts each column's masks into precedence order, reports ties, rules
    /// that can never apply, and `when` conditions that read masked columns.
    pub(super) fn order_masks(&mut self) {
        let masks = &self.model.masks;
        let key = |m: &ColumnMask| {
            let rule = &masks[m.rule];
            let (rank, depth) = match &rule.scope {
                MaskScope::Named => (0, 0),
                MaskScope::Tagged { depth, .. } => (1, *depth),
                MaskScope::Matching { .. } => (2, 0),
            };
            (
                rank,
                std::cmp::Reverse(depth),
                std::cmp::Reverse(rule.priority),
            )
        };
        let mut ties = Vec::new();
        let mut reachable = vec![false; masks.len()];
        let mut targeted = vec![false; masks.len()];
        for source in &mut self.model.sources {
            // The model is kept to the end: no room to spare per column
            // (a pushed vector holds four at least).
            source.columns.shrink_to_fit();
            for column in &mut source.columns {
                column.masks.shrink_to_fit();
                column.masks.sort_by_key(|m| (key(m), m.rule));
                for pair in column.masks.windows(2) {
                    if key(&pair[0]) == key(&pair[1]) && pair[0].rule != pair[1].rule {
                        ties.push((
                            pair[0].rule,
                            pair[1].rule,
                            source.id.clone(),
                            column.name.clone(),
                        ));
                    }
                }
                for m in &column.masks {
                    targeted[m.rule] = true;
                }
                for m in &column.masks {
                    reachable[m.rule] = true;
                    let rule = &masks[m.rule];
                    if rule.exemption.is_none() && rule.when.is_none() {
                        // Always applies: nothing after it is ever reached.
                        break;
                    }
                }
            }
        }
        let mut reported = std::collections::HashSet::new();
        for (a, b, source, column) in ties {
            if !reported.insert((a, b)) {
                continue;
            }
            let (first, second) = (self.model.masks[a].loc, self.model.masks[b].loc);
            let cite = self.cite(first);
            self.push(
                Diagnostic::error(
                    Code::CheckMaskTie,
                    format!("two mask rules tie for column `{column}` of `{source}`"),
                )
                .at_loc(second, "this rule")
                .related(first, "ties with this rule")
                .help(format!(
                    "give one of them a higher `priority` (the other is at {cite})"
                )),
            );
        }
        for (i, rule) in self.model.masks.iter().enumerate() {
            if targeted[i] && !reachable[i] {
                self.diagnostics.push(
                    Diagnostic::warning(Code::CheckMaskNever, "this mask rule can never apply")
                        .at_loc(rule.loc, "shadowed")
                        .help("on every column it targets, a rule that comes first in precedence always applies; give it a higher `priority` or remove it"),
                );
            }
        }
        self.when_reads_masked();
    }

    /// Warns of each `when` that reads a column some users see masked: the
    /// condition reveals it.
    fn when_reads_masked(&mut self) {
        let mut warnings = Vec::new();
        for source in &self.model.sources {
            for column in &source.columns {
                for m in &column.masks {
                    let Some(when) = &m.when else {
                        continue;
                    };
                    let mut read = Vec::new();
                    columns_read(when, source, &mut read);
                    for c in read {
                        if !source.columns[c].masks.is_empty() {
                            warnings.push((
                                m.rule,
                                source.columns[c].name.clone(),
                                source.id.clone(),
                            ));
                        }
                    }
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        for (rule, column, source) in warnings {
            if seen.insert((rule, column.clone())) {
                let at = self.model.masks[rule].loc;
                self.diagnostics.push(
                    Diagnostic::warning(
                        Code::CheckWhenReadsMasked,
                        format!("the `when` condition reads column `{column}` of `{source}`, which some users see masked"),
                    )
                    .at_loc(at, "condition reveals a masked column")
                    .help("whether the mask applies tells a user something about that column's value; condition on another column if that matters"),
                );
            }
        }
    }

    // -- filters ----------------------------------------------------------------

    pub(super) fn filter(&mut self, at: Loc, filter: &ast::Filter) {
        let file = at.file;
        let sources = self.select(file, &filter.sources);
        for subject in filter.only_for.iter().chain(&filter.except) {
            self.subject(file, subject, SubjectPlace::Rule);
        }
        let kind_at = loc(file, filter.kind.span);
        match &filter.kind.node {
            FilterKind::Where(predicate) => {
                for &s in &sources {
                    self.predicate_top(file, predicate, s);
                }
            }
            FilterKind::Time { .. } => {
                for &s in &sources {
                    if self.model.sources[s].event_time.is_none() {
                        let id = self.model.sources[s].id.clone();
                        self.error(
                            Code::CheckNoEventTime,
                            format!("source `{id}` has no `event_time` for a time filter"),
                            kind_at,
                            "needs an event time",
                            format!("add `event_time = COLUMN` to source `{id}`, naming its date or timestamp column"),
                        );
                    }
                }
            }
            FilterKind::Sample { percent, column } => {
                let ok = percent.parse::<f64>().is_ok_and(|p| p > 0.0 && p <= 100.0);
                if !ok {
                    self.error(
                        Code::CheckSamplePercent,
                        format!("cannot sample {percent} percent"),
                        kind_at,
                        "out of range",
                        "write a percentage above 0 and at most 100",
                    );
                }
                for &s in &sources {
                    if find_column(&self.model.sources[s], &column.node).is_none() {
                        self.unknown_column(
                            s,
                            &column.node,
                            loc(file, column.span),
                            "sample by a declared column, usually the primary key",
                        );
                    }
                }
            }
            FilterKind::LimitToPurpose(purpose) => {
                self.known_purpose(&purpose.node, loc(file, purpose.span))
            }
            FilterKind::LimitToAnyPurpose | FilterKind::Never => {}
        }
        let keeps = sources
            .iter()
            .map(|&s| {
                let sources = super::resolve::Sources {
                    all: &self.model.sources,
                    index: &self.source_index,
                };
                super::resolve::filter(&filter.kind.node, &sources.all[s], sources)
            })
            .collect();
        self.model.filters.push(FilterRule {
            sources,
            kind: filter.kind.node.clone(),
            keeps,
            only_for: filter.only_for.as_ref().map(|e| e.node.clone()),
            except: filter.except.as_ref().map(|e| e.node.clone()),
            loc: at,
        });
    }

    // -- predicates -------------------------------------------------------------

    /// `operand in lookup(SOURCE, KEY, VALUE)` on source `s`: a declared
    /// source of the same integration and database, a text key (it is
    /// compared with the user's name), a value the operand compares with.
    fn lookup(
        &mut self,
        file: crate::span::FileId,
        at: Loc,
        (operand, lookup, key, value): (
            &Node<ast::Operand>,
            &ast::Path,
            &Node<String>,
            &Node<String>,
        ),
        s: usize,
    ) {
        let operand_kind = self.operand(file, operand, s);
        let id = lookup.dotted();
        let Some(&l) = self.source_index.get(&id) else {
            let ids: Vec<String> = self.source_index.keys().cloned().collect();
            self.unknown(
                "source",
                &id,
                at,
                ids.iter().map(String::as_str),
                "a lookup reads a declared source: declare it with `source ID { … }`",
            );
            return;
        };
        let (source, table) = (&self.model.sources[s], &self.model.sources[l]);
        if table.integration != source.integration
            || table.cross_database != source.cross_database
            || table.table.database != source.table.database
        {
            let (sid, lid) = (source.id.clone(), table.id.clone());
            self.error(
                Code::CheckLookup,
                format!("the lookup source `{lid}` is not in the database of `{sid}`"),
                at,
                "another database",
                "a lookup filter reads its table in the query of the view: declare the lookup source on the same integration and database",
            );
            return;
        }
        let mut column = |name: &Node<String>, what: &str| -> Option<Kind> {
            match find_column(&self.model.sources[l], &name.node) {
                Some(c) => Some(Kind::of(self.model.sources[l].columns[c].ty.kind)),
                None => {
                    self.unknown_column(l, &name.node, loc(file, name.span), what);
                    None
                }
            }
        };
        let key_kind = column(
            key,
            "the lookup's key is a declared column of the lookup source",
        );
        let value_kind = column(
            value,
            "the lookup's value is a declared column of the lookup source",
        );
        if let Some(k) = key_kind
            && k != Kind::Text
        {
            self.error(
                Code::CheckCompareTypes,
                format!("the lookup key `{}` is {}, not text", key.node, k.word()),
                loc(file, key.span),
                "not text",
                "the key is compared with the querying user's name: name a text column",
            );
        }
        if let (Some(o), Some(v)) = (operand_kind, value_kind)
            && !o.comparable(v)
        {
            self.error(
                Code::CheckCompareTypes,
                format!("cannot compare {} with the lookup's {}", o.word(), v.word()),
                loc(file, value.span),
                "mismatched type",
                "name a value column of the operand's type",
            );
        }
    }

    /// A row predicate as a whole: it must be a boolean condition.
    fn predicate_top(&mut self, file: crate::span::FileId, p: &Node<Predicate>, source: usize) {
        self.predicate(file, p, source);
    }

    /// Long, because it is one arm per kind of condition, each with the checks of that kind.
    fn predicate(&mut self, file: crate::span::FileId, p: &Node<Predicate>, s: usize) {
        let at = loc(file, p.span);
        match &p.node {
            Predicate::Or(parts) | Predicate::And(parts) => {
                for part in parts {
                    self.predicate(file, part, s);
                }
            }
            Predicate::Not(inner) => self.predicate(file, inner, s),
            Predicate::Compare { left, op, right } => {
                let l = self.operand(file, left, s);
                let r = self.operand(file, right, s);
                if l == Some(Kind::Null) || r == Some(Kind::Null) {
                    self.error(
                        Code::CheckCompareNull,
                        format!("`{} null` is never true", op.symbol()),
                        at,
                        "compares with null",
                        "write `is null` or `is not null`",
                    );
                } else if let (Some(l), Some(r)) = (l, r)
                    && (!l.comparable(r) || l == Kind::Other)
                {
                    self.error(
                        Code::CheckCompareTypes,
                        format!("cannot compare {} with {}", l.word(), r.word()),
                        at,
                        "mismatched types",
                        "compare values of the same kind; quote strings, leave numbers bare",
                    );
                }
            }
            Predicate::IsNull { operand, .. } => {
                self.operand(file, operand, s);
            }
            Predicate::InList {
                operand, values, ..
            } => {
                let kind = self.operand(file, operand, s);
                for value in values {
                    let v = literal_kind(&value.node);
                    if v == Kind::Null {
                        self.error(
                            Code::CheckNullInList,
                            "`null` in a list never matches",
                            loc(file, value.span),
                            "null",
                            "remove it, and add `or COLUMN is null` if null rows should match",
                        );
                    } else if let Some(k) = kind
                        && !k.comparable(v)
                    {
                        self.error(
                            Code::CheckCompareTypes,
                            format!("cannot compare {} with {}", k.word(), v.word()),
                            loc(file, value.span),
                            "mismatched type",
                            "list values of the operand's type",
                        );
                    }
                }
            }
            Predicate::InUserGroups { operand, .. } => {
                if let Some(k) = self.operand(file, operand, s)
                    && k != Kind::Text
                {
                    self.error(
                        Code::CheckCompareTypes,
                        format!("`in user.groups` needs text, not {}", k.word()),
                        at,
                        "not text",
                        "group names are text: test a text column",
                    );
                }
            }
            Predicate::InLookup {
                operand,
                source: lookup,
                key,
                value,
                ..
            } => self.lookup(file, at, (operand, &lookup.node, key, value), s),
            Predicate::InUserAttribute { operand, key, .. } => {
                self.known_attribute(&key.node, None, loc(file, key.span));
                if let Some(k) = self.operand(file, operand, s)
                    && k != Kind::Text
                {
                    self.error(
                        Code::CheckCompareTypes,
                        format!("`in user.attribute(…)` needs text, not {}", k.word()),
                        at,
                        "not text",
                        "attribute values are text: test a text column",
                    );
                }
            }
            Predicate::Operand(operand) => {
                if let Some(k) = self.operand(file, operand, s)
                    && k != Kind::Boolean
                {
                    self.error(
                        Code::CheckNotBoolean,
                        format!(
                            "a condition must be true or false, but this is {}",
                            k.word()
                        ),
                        at,
                        "not a condition",
                        "compare it with something, such as `= \"EU\"` or `is not null`",
                    );
                }
            }
        }
    }

    /// Checks an operand; its kind when known.
    ///
    /// Long, because it is one arm per kind of operand, each resolving and checking that kind.
    fn operand(
        &mut self,
        file: crate::span::FileId,
        operand: &Node<Operand>,
        s: usize,
    ) -> Option<Kind> {
        let at = loc(file, operand.span);
        match &operand.node {
            Operand::Literal(l) => Some(literal_kind(l)),
            Operand::UserName => Some(Kind::Text),
            Operand::Column(name) => match find_column(&self.model.sources[s], name) {
                Some(c) => Some(Kind::of(self.model.sources[s].columns[c].ty.kind)),
                None => {
                    self.unknown_column(
                        s,
                        name,
                        at,
                        "name a declared column; quote strings with double quotes",
                    );
                    None
                }
            },
            Operand::ColumnTagged(tag) => {
                let tag = tag.dotted();
                match resolve_tagged(&self.model.sources[s], &tag) {
                    Ok(c) => Some(Kind::of(self.model.sources[s].columns[c].ty.kind)),
                    Err(found) => {
                        let id = self.model.sources[s].id.clone();
                        self.error(
                            Code::CheckColumnTagged,
                            format!("`column tagged {tag}` matches {found} columns of `{id}`"),
                            at,
                            "needs exactly one column",
                            format!("tag exactly one column of `{id}` with `{tag}`"),
                        );
                        None
                    }
                }
            }
            Operand::Sql(text) => {
                match sql_expr::parse_for(text, self.model.sources[s].dialect) {
                    Ok(expr) => {
                        let mut columns = Vec::new();
                        expr.columns(&mut columns);
                        for c in &columns {
                            if find_column(&self.model.sources[s], c).is_none() {
                                self.unknown_column(
                                    s,
                                    c,
                                    at,
                                    "the escape hatch may read only the source's declared columns",
                                );
                            }
                        }
                        let boolean = match expr.is_boolean() {
                            Some(b) => b,
                            None => columns
                                .first()
                                .and_then(|c| find_column(&self.model.sources[s], c))
                                .is_some_and(|c| {
                                    self.model.sources[s].columns[c].ty.kind == TypeKind::Boolean
                                }),
                        };
                        if !boolean {
                            self.error(
                                Code::CheckNotBoolean,
                                "the escape hatch must be a boolean condition",
                                at,
                                "not a condition",
                                "write one condition, such as `sql \"amount < 10000\"`",
                            );
                        }
                    }
                    Err(error) => {
                        // The character itself, in the string as written.
                        let written = &self.files.get(at.file).text[at.span.start..at.span.end];
                        let inner =
                            crate::syntax::string_value_span(written, error.at.min(text.len()));
                        let here = Loc {
                            file: at.file,
                            span: crate::span::Span::new(
                                at.span.start + inner.start,
                                at.span.start + inner.end,
                            ),
                        };
                        self.error(
                            Code::CheckSqlEscape,
                            format!("invalid escape-hatch SQL: {}", error.message),
                            here,
                            "here",
                            "the escape hatch is one boolean expression over the source's columns, calling the allowed functions with the arguments the integration's dialect takes: no `;`, comments or subqueries",
                        )
                    }
                }
                Some(Kind::Boolean)
            }
            Operand::Paren(inner) => {
                self.predicate(file, inner, s);
                Some(Kind::Boolean)
            }
        }
    }
}

fn literal_kind(l: &Literal) -> Kind {
    match l {
        Literal::String(_) => Kind::Text,
        Literal::Number(_) => Kind::Number,
        Literal::Bool(_) => Kind::Boolean,
        Literal::Null => Kind::Null,
    }
}

/// The index of the column called `name`, as the source's dialect compares.
pub fn find_column(source: &Source, name: &str) -> Option<usize> {
    let sql = source.dialect.sql();
    source
        .columns
        .iter()
        .position(|c| sql.same_name(&c.name, name))
}

/// The one column of `source` carrying `tag` (or a tag below it); otherwise
/// how many do.
pub fn resolve_tagged(source: &Source, tag: &str) -> Result<usize, usize> {
    let below = format!("{tag}.");
    let matching: Vec<usize> = source
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.tags.iter().any(|t| t == tag || t.starts_with(&below)))
        .map(|(i, _)| i)
        .collect();
    match matching.as_slice() {
        [one] => Ok(*one),
        other => Err(other.len()),
    }
}

/// The columns of its source a resolved condition reads.
fn columns_read(p: &crate::model::Predicate<usize>, source: &Source, out: &mut Vec<usize>) {
    p.columns(&mut |c| match c {
        crate::model::ColumnRef::Column(c) => out.push(*c),
        crate::model::ColumnRef::Named(name) => out.extend(find_column(source, &name)),
    });
}

/// Whether a method fits a column type; why not otherwise.
pub fn fits(method: &Method, ty: TypeKind) -> Result<(), String> {
    let need = |ok: bool, what: &str| {
        if ok {
            Ok(())
        } else {
            Err(format!("it needs {what}, the column is {}", ty.family()))
        }
    };
    match method {
        Method::Hash | Method::Null | Method::None => Ok(()),
        Method::Constant(Literal::Null) => Ok(()),
        Method::Constant(Literal::String(_)) => need(ty.is_text(), "a text column"),
        Method::Constant(Literal::Number(_)) => need(ty.is_numeric(), "a numeric column"),
        Method::Constant(Literal::Bool(_)) => need(ty == TypeKind::Boolean, "a boolean column"),
        Method::Regex { .. } | Method::ShowFirst(_) | Method::ShowLast(_) | Method::Show { .. } => {
            need(ty.is_text(), "a text column")
        }
        Method::Round(_) => need(ty.is_numeric(), "a numeric column"),
        Method::Truncate(unit) => {
            if ty == TypeKind::Date && *unit == ast::TimeUnit::Hour {
                return Err("a date has no hours".into());
            }
            need(ty.is_temporal(), "a date or timestamp column")
        }
    }
}

/// The method's name as written.
pub fn method_name(method: &Method) -> &'static str {
    match method {
        Method::Hash => "hash",
        Method::Null => "null",
        Method::Constant(_) => "constant",
        Method::Regex { .. } => "regex",
        Method::Round(_) => "round",
        Method::Truncate(_) => "truncate",
        Method::ShowFirst(_) => "show_first",
        Method::ShowLast(_) => "show_last",
        Method::Show { .. } => "show",
        Method::None => "none",
    }
}

/// The largest repetition count both databases take (`RE_DUP_MAX`).
const MAX_REPEAT: u32 = 255;

/// Reads a repetition bound after its `{`: `n}`, `n,}` or `n,m}`, each
/// count at most [`MAX_REPEAT`]. Returns the index of the closing `}`.
fn bound(rest: &[char]) -> Result<usize, String> {
    let close = rest.iter().position(|&c| c == '}');
    let inner: String = close.map_or_else(String::new, |end| rest[..end].iter().collect());
    let (low, high) = match inner.split_once(',') {
        Some((low, high)) => (low, Some(high)),
        None => (inner.as_str(), None),
    };
    let count = |text: &str| -> Option<u32> {
        (!text.is_empty() && text.chars().all(|c| c.is_ascii_digit()))
            .then(|| text.parse().unwrap_or(u32::MAX))
    };
    let (Some(end), Some(low)) = (close, count(low)) else {
        return Err(
            "`{` that does not start a repetition `{n}`, `{n,}` or `{n,m}`; write `[{]` for a brace"
                .into(),
        );
    };
    let high = match high {
        None => low,
        Some("") => low,
        Some(text) => count(text).ok_or_else(|| {
            format!("`{{{inner}}}` is not a repetition `{{n}}`, `{{n,}}` or `{{n,m}}`")
        })?,
    };
    if low > MAX_REPEAT || high > MAX_REPEAT {
        return Err(format!(
            "`{{{inner}}}` repeats more than {MAX_REPEAT} times, which the databases refuse"
        ));
    }
    if low > high {
        return Err(format!("`{{{inner}}}` has its larger count first"));
    }
    Ok(end)
}

/// Checks that a regex mask pattern uses only what POSIX EREs on Redshift
/// and PostgreSQL agree on: no backslash classes, no lookaround, no lazy or
/// possessive quantifiers, no inline flags.
///
/// Long, because it is one scanner over the pattern: one arm per construct POSIX and both databases agree on.
/// A regex replacement as veil reads it: `\1` … `\9` refer to the
/// pattern's groups (of which it has `groups`), `\\` is a backslash, and
/// everything else is literal. Both databases read that text alike.
pub fn check_replacement(replacement: &str, groups: usize) -> Result<(), String> {
    let mut chars = replacement.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            continue;
        }
        match chars.next() {
            Some('\\') => {}
            Some(d @ '1'..='9') => {
                let n = d as usize - '0' as usize;
                if n > groups {
                    let has = match groups {
                        0 => "no group".to_string(),
                        1 => "one group".to_string(),
                        g => format!("{g} groups"),
                    };
                    return Err(format!(
                        "the replacement refers to group {n}, but the pattern has {has}"
                    ));
                }
            }
            Some(other) => {
                return Err(format!(
                    "`\\{other}` in a regex replacement is neither a group reference (`\\1` … `\\9`) nor a backslash (`\\\\`)"
                ));
            }
            None => return Err("a regex replacement ends in a lone backslash".into()),
        }
    }
    Ok(())
}

pub fn check_posix_pattern(pattern: &str) -> Result<(), String> {
    if pattern.is_empty() {
        return Err("the pattern is empty".into());
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    let mut in_class = false;
    // Whether the last thing read can take a quantifier: PostgreSQL
    // refuses `a**`, `(*a)` and `^*`.
    let mut quantifiable = false;
    let lazy = |next: Option<&char>| -> Result<(), String> {
        match next {
            Some('?') | Some('+') => Err("lazy and possessive quantifiers are not portable".into()),
            Some('*') | Some('{') => Err("a quantifier cannot follow a quantifier".into()),
            _ => Ok(()),
        }
    };
    while i < chars.len() {
        let c = chars[i];
        if in_class {
            match c {
                '[' if chars.get(i + 1) == Some(&':') => {
                    let rest: String = chars[i..].iter().collect();
                    match rest.find(":]") {
                        Some(end) => {
                            i += rest[..end + 2].chars().count();
                            continue;
                        }
                        None => return Err("an unterminated character class".into()),
                    }
                }
                '\\' if chars.get(i + 1).is_some_and(|n| n.is_ascii_alphanumeric()) => {
                    return Err("a backslash class inside `[…]` is not portable".into());
                }
                ']' => {
                    in_class = false;
                    quantifiable = true;
                }
                _ => {}
            }
            i += 1;
            continue;
        }
        match c {
            '\\' => {
                let next = chars.get(i + 1).copied().unwrap_or(' ');
                if next.is_ascii_alphanumeric() {
                    return Err(format!(
                        "`\\{next}` is not portable; write a bracket expression such as `[0-9]`"
                    ));
                }
                quantifiable = true;
                i += 2;
                continue;
            }
            '[' => {
                in_class = true;
                // `[]…]` and `[^]…]` take a literal `]` first.
                if chars.get(i + 1) == Some(&'^') {
                    i += 1;
                }
                if chars.get(i + 1) == Some(&']') {
                    i += 1;
                }
            }
            '(' if chars.get(i + 1) == Some(&'?') => {
                return Err("`(?…)` groups and inline flags are not portable".into());
            }
            '(' | '|' | '^' | '$' => quantifiable = false,
            ')' => quantifiable = true,
            '{' => {
                if !quantifiable {
                    return Err("a repetition `{…}` with nothing before it to repeat".into());
                }
                let end = bound(&chars[i + 1..])?;
                i += end + 2;
                lazy(chars.get(i))?;
                quantifiable = false;
                continue;
            }
            '*' | '+' | '?' => {
                if !quantifiable {
                    return Err(format!("`{c}` with nothing before it to repeat"));
                }
                lazy(chars.get(i + 1))?;
                quantifiable = false;
            }
            _ => quantifiable = true,
        }
        i += 1;
    }
    if in_class {
        return Err("an unterminated bracket expression".into());
    }
    regex::Regex::new(pattern).map(|_| ()).map_err(|e| {
        e.to_string()
            .lines()
            .last()
            .unwrap_or("invalid pattern")
            .trim()
            .to_string()
    })
}
