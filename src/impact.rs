//! Access impact: who gains or loses what between two versions of the
//! policies, computed from the effective policies (explain's decisions), not
//! from SQL text. Only the sources whose policies changed, and the users
//! whose entries changed, are compared. A source's decisions read a user
//! only through the few conditions its rules test (an `allow` line, an
//! exemption, a filter's `except`), so the users are split by the answers
//! to those conditions and each part is decided once: the work follows the
//! rules and the changed users, not users × sources, even when no two
//! users are alike. Each change lists the users it affects.

use crate::ast::Subject;
use crate::eval::{self, holds};
use crate::explain::{self, Decisions, State};
use crate::model::{Model, Source, User};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};

/// One change in what some users see.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
pub struct Impact {
    pub source: String,
    /// `gains access`, `loses access`, `column clear`, `column masked`,
    /// `mask changed`, `filter added`, `filter removed`, `filter exempted`.
    pub change: String,
    pub column: Option<String>,
    /// The method now in force, the filter, or (`gains access`) the columns
    /// the users see clear.
    pub detail: Option<String>,
    /// A column concerned carries a sensitive tag (`pii` and below by
    /// default).
    pub sensitive: bool,
    /// The users affected, sorted.
    pub users: Vec<String>,
}

/// An impact before its users are known.
type Change = (String, String, Option<String>, Option<String>, bool);

/// A source's effective policy, without locations: two sources with the
/// same signature look the same to every user.
fn signature(model: &Model, covering: &[usize], s: usize) -> String {
    let source = &model.sources[s];
    let mut text = String::new();
    for &r in covering {
        let rule = &model.access[r];
        for (subject, _) in &rule.allow {
            text.push_str(&format!("allow {}\n", crate::fmt::subject(subject)));
        }
        for (subject, _) in &rule.require {
            text.push_str(&format!("require {}\n", crate::fmt::subject(subject)));
        }
        text.push_str("--\n");
    }
    for column in &source.columns {
        text.push_str(&format!("column {} {}\n", column.name, column.ty.sql));
        for m in &column.masks {
            let rule = &model.masks[m.rule];
            text.push_str(&format!(
                "  {} {:?} {:?} {}\n",
                crate::fmt::method(&m.method),
                rule.exemption,
                rule.when,
                rule.priority
            ));
        }
    }
    for f in model.filters.iter().filter(|f| f.sources.contains(&s)) {
        text.push_str(&format!(
            "filter {:?} {:?} {:?}\n",
            f.kind, f.only_for, f.except
        ));
    }
    text
}

/// Whether a column of `source` carries one of `tags` or a tag below one.
fn sensitive(source: &Source, column: &str, tags: &[String]) -> bool {
    let below = |tag: &str, t: &str| {
        t.strip_prefix(tag)
            .is_some_and(|rest| rest.starts_with('.'))
    };
    source
        .columns
        .iter()
        .find(|c| c.name == column)
        .is_some_and(|c| {
            c.tags
                .iter()
                .any(|t| tags.iter().any(|tag| t == tag || below(tag, t)))
        })
}

/// The impact of moving from `before` to `after`, for the sources of the
/// integration named `integration`.
pub fn impact(
    old: &Model,
    new: &Model,
    integration: &str,
    sensitive_tags: &[String],
) -> Vec<Impact> {
    let old = Version::of(old, integration);
    let new = Version::of(new, integration);
    // Sources whose effective policy changed, appeared or went.
    let ids: BTreeSet<&str> = old.index.keys().chain(new.index.keys()).copied().collect();
    let changed: std::collections::HashSet<&str> = ids
        .iter()
        .copied()
        .filter(|id| match (old.index.get(id), new.index.get(id)) {
            (Some(&o), Some(&n)) => {
                signature(old.model, &old.rules[o], o) != signature(new.model, &new.rules[n], n)
            }
            _ => true,
        })
        .collect();
    // Every user of either version, and those whose entry changed (a user
    // who is in one version only has changed).
    let (old_users, new_users) = (users_of(old.model), users_of(new.model));
    let names: Vec<&str> = old_users
        .keys()
        .chain(new_users.keys())
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let people: Vec<Person<'_>> = names
        .iter()
        .map(|&name| Person {
            name,
            old: old_users.get(name).copied(),
            new: new_users.get(name).copied(),
        })
        .collect();
    let moved: Vec<usize> = (0..people.len())
        .filter(|&p| match (people[p].old, people[p].new) {
            (Some(a), Some(b)) => a != b,
            _ => true,
        })
        .collect();
    let everyone: Vec<usize> = (0..people.len()).collect();
    let ids: Vec<&str> = ids.into_iter().collect();
    // The sources are independent: half on each core, each half with its
    // own answers (0.87 s → about half at 5,000 sources and 20,000 users).
    let cores = crate::parallel::cores().clamp(1, 2);
    let size = ids.len().div_ceil(cores).max(1);
    let chunks: Vec<&[&str]> = ids.chunks(size).collect();
    let halves = crate::parallel::map(chunks.len(), |c| {
        let mut answers = Answers::new(&old, &new, people.len());
        let mut grouped: std::collections::BTreeMap<Change, Vec<usize>> = Default::default();
        for &id in chunks[c] {
            // A source whose policy changed may look different to anyone;
            // another only to the users whose entry changed.
            let who = if changed.contains(id) {
                &everyone
            } else {
                &moved
            };
            if who.is_empty() {
                continue;
            }
            let (o, n) = (old.index.get(id).copied(), new.index.get(id).copied());
            for part in answers.split(id, (o, n), who, &people) {
                let person = &people[part[0]];
                let decide = |v: &Version<'_>, s: Option<usize>, user: Option<&User>| {
                    Some((s?, explain::decide(v.model, &v.rules[s?], s?, user?)))
                };
                let before = decide(&old, o, person.old);
                let after = decide(&new, n, person.new);
                if let (Some((_, a)), Some((_, b))) = (&before, &after)
                    && a == b
                    && !changed.contains(id)
                {
                    continue;
                }
                let mut found = Vec::new();
                compare(
                    id,
                    (old.model, before.as_ref()),
                    (new.model, after.as_ref()),
                    sensitive_tags,
                    &mut found,
                );
                for change in found {
                    grouped.entry(change).or_default().extend(&part);
                }
            }
        }
        grouped
    });
    let mut grouped: std::collections::BTreeMap<Change, Vec<usize>> = Default::default();
    for half in halves {
        for (change, members) in half {
            grouped.entry(change).or_default().extend(members);
        }
    }
    grouped
        .into_iter()
        .map(|((source, change, column, detail, sensitive), members)| {
            let mut users: Vec<String> = members
                .iter()
                .map(|&p| people[p].name.to_string())
                .collect();
            users.sort();
            users.dedup();
            Impact {
                source,
                change,
                column,
                detail,
                sensitive,
                users,
            }
        })
        .collect()
}

/// A user as each version knows them (`None`: not in that version, so
/// without a profile row there, seeing nothing at all).
struct Person<'m> {
    name: &'m str,
    old: Option<&'m User>,
    new: Option<&'m User>,
}

/// One version of the policies, as the impact reads it.
struct Version<'m> {
    model: &'m Model,
    /// The integration's sources, by id.
    index: HashMap<&'m str, usize>,
    /// Each source's access rules.
    rules: Vec<Vec<usize>>,
    /// Every condition on the user a decision reads, each once.
    subjects: Vec<&'m Subject>,
    /// For each source, the conditions its decisions read, by index.
    reads: Vec<Vec<usize>>,
}

impl<'m> Version<'m> {
    fn of(model: &'m Model, integration: &str) -> Version<'m> {
        let rules = eval::access_rules_by_source(model);
        let mut filters = vec![Vec::new(); model.sources.len()];
        for f in &model.filters {
            for &s in &f.sources {
                filters[s].extend(f.only_for.iter().chain(&f.except));
            }
        }
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut subjects: Vec<&'m Subject> = Vec::new();
        let mut reads = Vec::with_capacity(model.sources.len());
        for (s, source) in model.sources.iter().enumerate() {
            let access = rules[s]
                .iter()
                .flat_map(|&r| model.access[r].allow.iter().chain(&model.access[r].require))
                .map(|(subject, _)| subject);
            let masks = source
                .columns
                .iter()
                .flat_map(|c| &c.masks)
                .filter_map(|m| {
                    model.masks[m.rule]
                        .exemption
                        .as_ref()
                        .map(|(_, subject)| subject)
                });
            let mut read: Vec<usize> = access
                .chain(masks)
                .chain(filters[s].iter().copied())
                .map(|subject| {
                    *index
                        .entry(crate::fmt::subject(subject))
                        .or_insert_with(|| {
                            subjects.push(subject);
                            subjects.len() - 1
                        })
                })
                .collect();
            read.sort_unstable();
            read.dedup();
            reads.push(read);
        }
        Version {
            model,
            index: sources_of(model, integration),
            rules,
            subjects,
            reads,
        }
    }
}

/// The answers of each user to each condition of both versions, computed
/// when first asked; and the users split by the answers a source reads.
struct Answers<'v, 'm> {
    old: &'v Version<'m>,
    new: &'v Version<'m>,
    /// Per person: the answers in the old version and in the new one.
    known: Vec<Option<(Vec<bool>, Vec<bool>)>>,
    /// Everyone split by the conditions read (old, new), for sources that
    /// read the same and no `approved`.
    parts: HashMap<(Vec<usize>, Vec<usize>), Parts>,
}

/// Users (by index) in parts that decide alike.
type Parts = Vec<Vec<usize>>;

impl<'v, 'm> Answers<'v, 'm> {
    fn new(old: &'v Version<'m>, new: &'v Version<'m>, people: usize) -> Answers<'v, 'm> {
        Answers {
            old,
            new,
            known: vec![None; people],
            parts: HashMap::new(),
        }
    }

    fn answers(&mut self, p: usize, person: &Person<'_>) -> &(Vec<bool>, Vec<bool>) {
        let (old, new) = (self.old, self.new);
        self.known[p].get_or_insert_with(|| {
            let answer = |v: &Version<'_>, user: Option<&User>| -> Vec<bool> {
                match user {
                    Some(user) => v.subjects.iter().map(|s| holds(s, user, None)).collect(),
                    None => Vec::new(),
                }
            };
            (answer(old, person.old), answer(new, person.new))
        })
    }

    /// The users of `who` split into parts that every decision on source
    /// `id` treats alike (at `o` in the old version, `n` in the new).
    fn split(
        &mut self,
        id: &str,
        (o, n): (Option<usize>, Option<usize>),
        who: &[usize],
        people: &[Person<'_>],
    ) -> Vec<Vec<usize>> {
        let empty = Vec::new();
        let old_reads = o.map_or(&empty, |s| &self.old.reads[s]).clone();
        let new_reads = n.map_or(&empty, |s| &self.new.reads[s]).clone();
        let approved = |v: &Version<'_>, reads: &[usize]| {
            reads
                .iter()
                .any(|&i| eval::mentions_approved(v.subjects[i]))
        };
        // `approved` reads the source itself: such a split is its own.
        let per_source = approved(self.old, &old_reads) || approved(self.new, &new_reads);
        let everyone = who.len() == people.len();
        let cache_key = (old_reads, new_reads);
        if everyone
            && !per_source
            && let Some(parts) = self.parts.get(&cache_key)
        {
            return parts.clone();
        }
        // One key buffer for every user, copied only for a new part; the
        // keys are the users' own answers, so a fast hash is enough.
        let mut by_key: crate::hash::FastMap<Vec<u8>, usize> = Default::default();
        let mut parts: Vec<Vec<usize>> = Vec::new();
        let (old, new) = (self.old, self.new);
        let mut key = Vec::with_capacity(cache_key.0.len() + cache_key.1.len() + 2);
        for &p in who {
            let person = &people[p];
            let (old_answers, new_answers) = self.answers(p, person);
            key.clear();
            for (user, answers, reads, version) in [
                (person.old, old_answers, &cache_key.0, old),
                (person.new, new_answers, &cache_key.1, new),
            ] {
                let Some(user) = user else {
                    key.push(2);
                    continue;
                };
                for &i in reads {
                    let subject = version.subjects[i];
                    let yes = if per_source && eval::mentions_approved(subject) {
                        holds(subject, user, Some(id))
                    } else {
                        answers[i]
                    };
                    key.push(u8::from(yes));
                }
                key.push(3);
            }
            match by_key.get(key.as_slice()) {
                Some(&part) => parts[part].push(p),
                None => {
                    by_key.insert(key.clone(), parts.len());
                    parts.push(vec![p]);
                }
            }
        }
        if everyone && !per_source {
            self.parts.insert(cache_key, parts.clone());
        }
        parts
    }
}

/// The sources of one integration, by id.
fn sources_of<'m>(m: &'m Model, integration: &str) -> HashMap<&'m str, usize> {
    m.sources
        .iter()
        .enumerate()
        .filter(|(_, s)| m.integrations[s.integration].name == integration)
        .map(|(i, s)| (s.id.as_str(), i))
        .collect()
}

/// The users of a model, by name.
fn users_of(m: &Model) -> HashMap<&str, &User> {
    m.directory
        .users
        .iter()
        .map(|u| (u.name.as_str(), u))
        .collect()
}

/// The differences between two sets of decisions for one class of users
/// and one source.
///
/// Long, because it walks access and then each column of one source in
/// one pass, each step a few lines (the filters are `filter_changes`).
fn compare(
    source_id: &str,
    before: (&Model, Option<&(usize, Decisions)>),
    after: (&Model, Option<&(usize, Decisions)>),
    sensitive_tags: &[String],
    out: &mut Vec<Change>,
) {
    let (old, before) = before;
    let (new, after) = after;
    let granted = |d: Option<&(usize, Decisions)>| d.is_some_and(|(_, d)| d.granted);
    let source = after
        .map(|(s, _)| &new.sources[*s])
        .or_else(|| before.map(|(s, _)| &old.sources[*s]));
    let push =
        |out: &mut Vec<Change>, change: &str, column: Option<&str>, detail: Option<String>| {
            out.push((
                source_id.to_string(),
                change.to_string(),
                column.map(str::to_string),
                detail,
                column.is_some_and(|c| source.is_some_and(|s| sensitive(s, c, sensitive_tags))),
            ));
        };
    let gained = match (granted(before), granted(after)) {
        (false, false) => return,
        (true, false) => {
            push(out, "loses access", None, None);
            return;
        }
        (false, true) => {
            // One entry names the columns the users now see clear.
            if let Some((s, decisions)) = after {
                let source = &new.sources[*s];
                let clear: Vec<&str> = source
                    .columns
                    .iter()
                    .zip(&decisions.columns)
                    .filter(|(_, (state, _))| *state == State::Clear)
                    .map(|(c, _)| c.name.as_str())
                    .collect();
                out.push((
                    source_id.to_string(),
                    "gains access".to_string(),
                    None,
                    (!clear.is_empty()).then(|| format!("clear: {}", clear.join(", "))),
                    clear.iter().any(|c| sensitive(source, c, sensitive_tags)),
                ));
            }
            true
        }
        (true, true) => false,
    };
    let Some((s, decisions)) = after else { return };
    let source = &new.sources[*s];
    let method_of = |model: &Model, s: usize, column: usize, deciding: Option<usize>| {
        deciding.map(|i| crate::fmt::method(&model.sources[s].columns[column].masks[i].method))
    };
    for (c, column) in source.columns.iter().enumerate() {
        let (state, deciding) = decisions.columns[c];
        let now_clear = state == State::Clear;
        let old_column = before.and_then(|(os, od)| {
            old.sources[*os]
                .columns
                .iter()
                .position(|oc| oc.name == column.name)
                .map(|oc| (*os, oc, od.columns[oc]))
        });
        match old_column {
            // A source newly queryable: its clear columns are listed above.
            _ if gained => {}
            Some((_, _, (old_state, _))) if old_state != State::Clear && now_clear => {
                push(out, "column clear", Some(&column.name), None)
            }
            Some((_, _, (old_state, _))) if old_state == State::Clear && !now_clear => push(
                out,
                "column masked",
                Some(&column.name),
                method_of(new, *s, c, deciding),
            ),
            Some((os, oc, (_, old_deciding))) if !now_clear => {
                let (was, is) = (
                    method_of(old, os, oc, old_deciding),
                    method_of(new, *s, c, deciding),
                );
                if was != is {
                    push(out, "mask changed", Some(&column.name), is);
                }
            }
            None if now_clear => push(out, "column clear", Some(&column.name), None),
            _ => {}
        }
    }
    let was = before.filter(|_| !gained);
    for (change, kind) in filter_changes((old, was), (new, (*s, decisions))) {
        push(out, change, None, Some(kind));
    }
}

/// A filter as written; a lookup filter says that its rows follow the
/// lookup's data, which changes without a plan.
fn filter_text(kind: &crate::ast::FilterKind) -> String {
    let mut text = crate::fmt::filter_kind(kind);
    if let crate::ast::FilterKind::Where(p) = kind {
        let mut sources = Vec::new();
        p.lookups(&mut |source, _, _| sources.push(format!("`{source}`")));
        if !sources.is_empty() {
            text.push_str(&format!(
                "; the rows follow the data in {}: a change there changes them without a plan",
                sources.join(", ")
            ));
        }
    }
    text
}

/// How the filters in force on a source change for a class of users: each
/// filter added, exempted or removed, with its text. (A source newly
/// queryable, `before` none, had none in force.)
fn filter_changes(
    (old, before): (&Model, Option<&(usize, Decisions)>),
    (new, (s, decisions)): (&Model, (usize, &Decisions)),
) -> Vec<(&'static str, String)> {
    let kinds = |model: &Model, s: usize, applies: &[bool]| -> Vec<(String, bool)> {
        model
            .filters
            .iter()
            .filter(|f| f.sources.contains(&s))
            .zip(applies)
            .map(|(f, a)| (filter_text(&f.kind), *a))
            .collect()
    };
    let now = kinds(new, s, &decisions.filters);
    let was = match before {
        Some((os, od)) => kinds(old, *os, &od.filters),
        None => Vec::new(),
    };
    let mut out = Vec::new();
    for (kind, applies) in &now {
        if *applies && !was.iter().any(|(k, a)| k == kind && *a) {
            out.push(("filter added", kind.clone()));
        }
    }
    for (kind, applied) in &was {
        if *applied && !now.iter().any(|(k, a)| k == kind && *a) {
            let change = if now.iter().any(|(k, _)| k == kind) {
                "filter exempted"
            } else {
                "filter removed"
            };
            out.push((change, kind.clone()));
        }
    }
    out
}
