//! The access impact is exact: for random projects and random edits of
//! their policies and identities, it lists, user by user, exactly the
//! differences between what `explain` decides before and after.

use crate::common::Rng;
use std::collections::BTreeSet;
use veil::explain::{Decisions, State, decide};
use veil::model::Model;

const GROUPS: [&str; 3] = ["ga", "gb", "gc"];

/// A user: name, groups, the value of attribute `k`, approved sources.
type UserDef = (String, Vec<&'static str>, Option<&'static str>, Vec<usize>);

/// A random project, as its parts: access lines per source, mask rules,
/// filter rules, and users (name, groups, attribute value, approvals).
#[derive(Clone, Debug)]
struct Project {
    access: Vec<Vec<String>>,
    masks: Vec<String>,
    filters: Vec<String>,
    users: Vec<UserDef>,
}

const SOURCES: usize = 3;

fn subject(rng: &mut Rng) -> String {
    match rng.below(8) {
        0 => "everyone".into(),
        1 => format!("group \"{}\"", GROUPS[rng.below(3)]),
        2 => format!("not group \"{}\"", GROUPS[rng.below(3)]),
        3 => "attribute \"k\" = \"v1\"".into(),
        4 => "not attribute \"k\"".into(),
        5 => format!("user \"u{}\"", rng.below(5)),
        6 => format!(
            "group \"{}\" and not group \"{}\"",
            GROUPS[rng.below(3)],
            GROUPS[rng.below(3)]
        ),
        _ => format!("group \"{}\" or attribute \"k\"", GROUPS[rng.below(3)]),
    }
}

fn access_line(rng: &mut Rng) -> String {
    match rng.below(6) {
        0 => "allow approved".into(),
        1 => format!("require {}", subject(rng)),
        _ => format!("allow {}", subject(rng)),
    }
}

fn mask(rng: &mut Rng) -> String {
    let s = rng.below(SOURCES);
    let exemption = match rng.below(3) {
        0 => format!(" except {}", subject(rng)),
        1 => format!(" for {}", subject(rng)),
        _ => String::new(),
    };
    match rng.below(4) {
        0 => format!("mask tagged pii using hash{exemption}"),
        1 => format!("mask c1 on s.s{s} using null{exemption}"),
        2 => format!(
            "mask c2 on s.s{s} using constant \"x\"{exemption} priority {}",
            rng.below(3)
        ),
        _ => format!("mask c2 on s.s{s} using none{exemption} priority 5"),
    }
}

fn filter(rng: &mut Rng) -> String {
    let s = rng.below(SOURCES);
    let mut except = if rng.below(3) == 0 {
        format!(" for {}", subject(rng))
    } else {
        String::new()
    };
    if rng.below(2) == 0 {
        except.push_str(&format!(" except {}", subject(rng)));
    }
    match rng.below(3) {
        0 => format!("filter s.s{s} where c0 = \"a\"{except}"),
        1 => format!("filter s.s{s} never{except}"),
        _ => format!("filter s.s{s} where c1 is not null{except}"),
    }
}

fn user(rng: &mut Rng, n: usize) -> UserDef {
    let groups = GROUPS
        .iter()
        .copied()
        .filter(|_| rng.below(2) == 0)
        .collect();
    let value = match rng.below(3) {
        0 => Some("v1"),
        1 => Some("v2"),
        _ => None,
    };
    let approved = (0..SOURCES).filter(|_| rng.below(3) == 0).collect();
    (format!("u{n}"), groups, value, approved)
}

fn random_project(rng: &mut Rng) -> Project {
    Project {
        access: (0..SOURCES)
            .map(|_| (0..1 + rng.below(3)).map(|_| access_line(rng)).collect())
            .collect(),
        masks: (0..rng.below(4)).map(|_| mask(rng)).collect(),
        filters: (0..rng.below(3)).map(|_| filter(rng)).collect(),
        users: (0..1 + rng.below(5)).map(|n| user(rng, n)).collect(),
    }
}

/// One random edit of a policy or of an identity.
fn edit(rng: &mut Rng, p: &Project) -> Project {
    let mut p = p.clone();
    match rng.below(8) {
        0 => {
            let s = rng.below(SOURCES);
            let line = access_line(rng);
            p.access[s].push(line);
        }
        1 => {
            let s = rng.below(SOURCES);
            if p.access[s].len() > 1 {
                let i = rng.below(p.access[s].len());
                p.access[s].remove(i);
            }
        }
        2 => p.masks.push(mask(rng)),
        3 if !p.masks.is_empty() => {
            let i = rng.below(p.masks.len());
            p.masks.remove(i);
        }
        4 => p.filters.push(filter(rng)),
        5 => {
            // A user added, with a name not taken.
            let n = (0..9)
                .find(|n| !p.users.iter().any(|u| u.0 == format!("u{n}")))
                .unwrap_or(9);
            p.users.push(user(rng, n));
        }
        6 if p.users.len() > 1 => {
            let i = rng.below(p.users.len());
            p.users.remove(i);
        }
        _ if !p.users.is_empty() => {
            let i = rng.below(p.users.len());
            let n: usize = p.users[i].0[1..].parse().unwrap_or(0);
            p.users[i] = user(rng, n);
        }
        _ => p.masks.push(mask(rng)),
    }
    p
}

fn texts(p: &Project) -> (String, String) {
    let mut policy = String::from(
        "integration w {\n  dialect = postgres\n  database = \"d\"\n  view_schema = \"v\"\n}\n",
    );
    for s in 0..SOURCES {
        policy.push_str(&format!(
            "source s.s{s} {{\n  table = public.t{s}\n  columns {{\n    c0 text tags(pii)\n    c1 text\n    c2 text\n  }}\n}}\naccess s.s{s} {{\n"
        ));
        for line in &p.access[s] {
            policy.push_str(&format!("  {line}\n"));
        }
        policy.push_str("}\n");
    }
    for line in p.masks.iter().chain(&p.filters) {
        policy.push_str(line);
        policy.push('\n');
    }
    let mut yaml = String::from("groups: [ga, gb, gc]\nattributes:\n  k: [v1, v2]\nusers:\n");
    for (name, groups, value, approved) in &p.users {
        yaml.push_str(&format!("  {name}:\n    groups: [{}]\n", groups.join(", ")));
        if let Some(v) = value {
            yaml.push_str(&format!("    attributes: {{ k: {v} }}\n"));
        }
        let approved: Vec<String> = approved.iter().map(|s| format!("s.s{s}")).collect();
        yaml.push_str(&format!("    approved: [{}]\n", approved.join(", ")));
    }
    (policy, yaml)
}

/// The checked model of a project, or `None` when it does not check (a
/// tie between two rules, say): such projects are skipped.
fn model(p: &Project) -> Option<Model> {
    let (policy, yaml) = texts(p);
    let project = veil::project::load_texts(&[("p.veil".into(), policy)], &yaml).ok()?;
    project.check().model
}

/// One difference for one user: (source, change, column, user).
type Entry = (String, String, Option<String>, String);

/// The differences `explain` shows, user by user, source by source: the
/// definition the impact must meet.
fn expected(old: &Model, new: &Model) -> BTreeSet<Entry> {
    let old_rules = veil::eval::access_rules_by_source(old);
    let new_rules = veil::eval::access_rules_by_source(new);
    let users: BTreeSet<&str> = old
        .directory
        .users
        .iter()
        .chain(&new.directory.users)
        .map(|u| u.name.as_str())
        .collect();
    let sources: BTreeSet<&str> = old
        .sources
        .iter()
        .chain(&new.sources)
        .map(|s| s.id.as_str())
        .collect();
    let decisions =
        |m: &Model, rules: &[Vec<usize>], user: &str, source: &str| -> Option<(usize, Decisions)> {
            let u = m.directory.users.iter().find(|u| u.name == user)?;
            let s = m.sources.iter().position(|s| s.id == source)?;
            Some((s, decide(m, &rules[s], s, u)))
        };
    let mut out = BTreeSet::new();
    for user in &users {
        for source in &sources {
            let before = decisions(old, &old_rules, user, source);
            let after = decisions(new, &new_rules, user, source);
            let b = before.as_ref().is_some_and(|(_, d)| d.granted);
            let a = after.as_ref().is_some_and(|(_, d)| d.granted);
            let mut push = |change: &str, column: Option<&str>| {
                out.insert((
                    source.to_string(),
                    change.to_string(),
                    column.map(str::to_string),
                    user.to_string(),
                ));
            };
            match (b, a) {
                (false, false) => continue,
                (true, false) => {
                    push("loses access", None);
                    continue;
                }
                (false, true) => push("gains access", None),
                (true, true) => {}
            }
            let (s, after) = after.expect("granted after");
            let method = |m: &Model, s: usize, c: usize, i: Option<usize>| {
                i.map(|i| veil::fmt::method(&m.sources[s].columns[c].masks[i].method))
            };
            if b {
                let (os, before) = before.as_ref().expect("granted before");
                for (c, column) in new.sources[s].columns.iter().enumerate() {
                    let (state, deciding) = after.columns[c];
                    let oc = old.sources[*os]
                        .columns
                        .iter()
                        .position(|x| x.name == column.name);
                    match oc {
                        Some(oc) => {
                            let (old_state, old_deciding) = before.columns[oc];
                            let (was, is) = (old_state == State::Clear, state == State::Clear);
                            if !was && is {
                                push("column clear", Some(&column.name));
                            } else if was && !is {
                                push("column masked", Some(&column.name));
                            } else if !was
                                && !is
                                && method(old, *os, oc, old_deciding) != method(new, s, c, deciding)
                            {
                                push("mask changed", Some(&column.name));
                            }
                        }
                        None if state == State::Clear => push("column clear", Some(&column.name)),
                        None => {}
                    }
                }
            }
            let kinds = |m: &Model, s: usize, applies: &[bool]| -> Vec<(String, bool)> {
                m.filters
                    .iter()
                    .filter(|f| f.sources.contains(&s))
                    .zip(applies)
                    .map(|(f, a)| (veil::fmt::filter_kind(&f.kind), *a))
                    .collect()
            };
            let now = kinds(new, s, &after.filters);
            let was = match (&before, b) {
                (Some((os, od)), true) => kinds(old, *os, &od.filters),
                _ => Vec::new(),
            };
            for (kind, applies) in &now {
                if *applies && !was.iter().any(|(k, x)| k == kind && *x) {
                    push("filter added", None);
                }
            }
            for (kind, applied) in &was {
                if *applied && !now.iter().any(|(k, x)| k == kind && *x) {
                    let change = if now.iter().any(|(k, _)| k == kind) {
                        "filter exempted"
                    } else {
                        "filter removed"
                    };
                    push(change, None);
                }
            }
        }
    }
    out
}

#[test]
fn the_impact_is_the_difference_of_explain_user_by_user() {
    let mut rng = Rng(0x1a2b_3c4d);
    let mut compared = 0;
    for round in 0..1500 {
        let before = random_project(&mut rng);
        let after = edit(&mut rng, &before);
        let (Some(old), Some(new)) = (model(&before), model(&after)) else {
            continue;
        };
        let got: BTreeSet<Entry> = veil::impact::impact(&old, &new, "w", &["pii".to_string()])
            .into_iter()
            .flat_map(|i| {
                i.users
                    .iter()
                    .map(|u| {
                        (
                            i.source.clone(),
                            i.change.clone(),
                            i.column.clone(),
                            u.clone(),
                        )
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        let want = expected(&old, &new);
        if got != want {
            let (p1, y1) = texts(&before);
            let (p2, y2) = texts(&after);
            panic!(
                "round {round}: the impact is wrong\nmissing: {:?}\nextra: {:?}\n--- before\n{p1}{y1}\n--- after\n{p2}{y2}",
                want.difference(&got).collect::<Vec<_>>(),
                got.difference(&want).collect::<Vec<_>>()
            );
        }
        compared += 1;
    }
    assert!(compared > 800, "only {compared} projects checked");
}
