//! A plan for people (text, with colour on a terminal), for pull requests
//! (markdown, under GitHub's comment limit) and for programs (JSON).

use super::{Action, Change, IntegrationPlan, Plan, ProfileAction};
use crate::span::visible;
use std::fmt::Write as _;

/// The longest markdown a plan renders to: a pull request comment holds
/// 65,536 characters.
pub const MARKDOWN_LIMIT: usize = 65_000;

/// ANSI colours, or none.
struct Paint(bool);

impl Paint {
    fn color(&self, code: &str, text: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn action(&self, action: Action) -> String {
        match action {
            Action::Create => self.color("32", "+ create"),
            Action::Replace => self.color("33", "~ replace"),
            Action::Recreate => self.color("31", "-/+ recreate"),
            Action::Drop => self.color("31", "- drop"),
        }
    }

    fn diff(&self, diff: &str) -> String {
        diff.lines()
            .map(|line| {
                let line = &*visible(line);
                let colored = match line.chars().next() {
                    Some('+') if !line.starts_with("+++") => self.color("32", line),
                    Some('-') if !line.starts_with("---") => self.color("31", line),
                    Some('@') => self.color("36", line),
                    _ => line.to_string(),
                };
                format!("      {colored}\n")
            })
            .collect()
    }
}

/// Counts of one integration's changes.
fn counts(i: &IntegrationPlan) -> (usize, usize, usize, usize) {
    let count = |a: Action| i.changes.iter().filter(|c| c.action == a).count();
    (
        count(Action::Create),
        count(Action::Replace),
        count(Action::Recreate),
        count(Action::Drop),
    )
}

fn profile_counts(i: &IntegrationPlan) -> (usize, usize, usize) {
    let count = |a: ProfileAction| i.profile.iter().filter(|c| c.action == a).count();
    (
        count(ProfileAction::Add),
        count(ProfileAction::Change),
        count(ProfileAction::Remove),
    )
}

/// Text for a terminal: object changes with SQL diffs for replaced and
/// recreated objects, profile rows by user and field, escape hatches.
pub fn text(plan: &Plan, color: bool) -> String {
    let paint = Paint(color);
    let mut out = String::new();
    if plan.offline {
        out.push_str("offline plan: compared with the project's files, not with a database; it cannot be applied\n");
    }
    if let Some(environment) = &plan.environment {
        let _ = writeln!(out, "environment: {}", visible(environment));
    }
    let mut totals = [0usize; 7];
    for i in &plan.integrations {
        integration_text(&mut out, i, &paint);
        let (c, r, rc, d) = counts(i);
        let (pa, pc, pr) = profile_counts(i);
        for (t, n) in totals.iter_mut().zip([c, r, rc, d, pa, pc, pr]) {
            *t += n;
        }
    }
    let [c, r, rc, d, pa, pc, pr] = totals;
    let _ = writeln!(
        out,
        "\nPlan: {c} to create, {r} to replace, {rc} to recreate, {d} to drop; profile rows: {pa} to add, {pc} to change, {pr} to remove."
    );
    if !plan.has_changes() {
        out.push_str("No changes: the deployment matches the policies.\n");
    }
    out
}

/// One integration's part of the text plan: its changes with their diffs,
/// drift, profile rows, access impact, escape hatches and warnings.
fn integration_text(out: &mut String, i: &IntegrationPlan, paint: &Paint) {
    let _ = writeln!(
        out,
        "\nintegration {} ({})",
        visible(&i.name),
        i.dialect.name()
    );
    for change in &i.changes {
        let _ = writeln!(
            out,
            "  {} {} {}{}",
            paint.action(change.action),
            change.id.kind,
            visible(&change.id.name.to_string()),
            change
                .reason
                .as_ref()
                .map_or(String::new(), |r| format!(" ({})", visible(r)))
        );
        if matches!(change.action, Action::Replace | Action::Recreate) {
            out.push_str(&paint.diff(&change.diff));
        }
    }
    for d in &i.drift {
        let _ = writeln!(
            out,
            "  {} {} {}: {}",
            paint.color("35", "! drift"),
            d.kind,
            visible(&d.object),
            visible(&d.detail)
        );
    }
    if !i.profile.is_empty() {
        out.push_str("  profile rows:\n");
        for p in &i.profile {
            let (mark, word) = match p.action {
                ProfileAction::Add => (paint.color("32", "+"), "add"),
                ProfileAction::Change => (paint.color("33", "~"), "change"),
                ProfileAction::Remove => (paint.color("31", "-"), "remove"),
            };
            if p.action == ProfileAction::Change {
                let fields: Vec<String> = p
                    .fields
                    .iter()
                    .map(|f| format!("{} {}", f.field, visible(&field_words(f))))
                    .collect();
                let _ = writeln!(
                    out,
                    "    {mark} {word} {}: {}",
                    visible(&p.user),
                    fields.join("; ")
                );
            } else {
                let _ = writeln!(out, "    {mark} {word} {}", visible(&p.user));
            }
        }
    }
    if !i.access_impact_known {
        out.push_str("  access impact: not computed (see the warning below)\n");
    } else if i.access_impact.is_empty() {
        out.push_str("  access impact: none\n");
    }
    if !i.access_impact.is_empty() {
        out.push_str("  access impact:\n");
        for (n, impact) in i.access_impact.iter().enumerate() {
            if n == TEXT_IMPACT_LINES {
                let _ = writeln!(
                    out,
                    "    … and {} more (all of them with --format json)",
                    i.access_impact.len() - n
                );
                break;
            }
            let _ = writeln!(out, "    {}", visible(&impact_line(impact)));
        }
    }
    if !i.escape_hatches.is_empty() {
        out.push_str("  escape hatches in force:\n");
        for e in &i.escape_hatches {
            let _ = writeln!(out, "    {}  ({})", visible(&hatch(e)), visible(&e.rule));
        }
    }
    for w in &i.warnings {
        let _ = writeln!(out, "  {} {}", paint.color("33", "warning:"), visible(w));
    }
}

/// How many access impact lines the text output shows.
const TEXT_IMPACT_LINES: usize = 50;

/// One impact in words.
fn impact_line(i: &crate::impact::Impact) -> String {
    const NAMED: usize = 5;
    let mut line = format!("{}: {}", i.change, i.source);
    if let Some(column) = &i.column {
        let _ = write!(line, ".{column}");
    }
    if let Some(detail) = &i.detail {
        let _ = write!(line, " ({detail})");
    }
    if i.sensitive {
        line.push_str(" [sensitive]");
    }
    let named: Vec<&str> = i.users.iter().take(NAMED).map(String::as_str).collect();
    let _ = write!(line, " — {}", named.join(", "));
    if i.users.len() > NAMED {
        let _ = write!(line, " and {} more", i.users.len() - NAMED);
    }
    line
}

/// One impact for markdown: every name in a code span.
fn impact_markdown(i: &crate::impact::Impact) -> String {
    const NAMED: usize = 5;
    let target = match &i.column {
        Some(column) => format!("{}.{column}", i.source),
        None => i.source.clone(),
    };
    let mut line = format!("{} {}", i.change, code(&target));
    if let Some(detail) = &i.detail {
        let _ = write!(line, " ({})", code(detail));
    }
    if i.sensitive {
        line.push_str(" **sensitive**");
    }
    let named: Vec<String> = i.users.iter().take(NAMED).map(|u| code(u)).collect();
    let _ = write!(line, " — {}", named.join(", "));
    if i.users.len() > NAMED {
        let _ = write!(line, " and {} more", i.users.len() - NAMED);
    }
    line
}

/// How a field of a profile row changes, in words: what a list gains and
/// loses, or the value before and after.
fn field_words(f: &super::FieldChange) -> String {
    use serde_json::Value;
    const SHOWN: usize = 5;
    let items = |v: &Value| -> Vec<String> {
        match v {
            Value::Array(a) => a
                .iter()
                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                .collect(),
            Value::Object(o) => o
                .iter()
                .flat_map(|(k, vs)| {
                    let vs = match vs {
                        Value::Array(a) => a.clone(),
                        other => vec![other.clone()],
                    };
                    vs.into_iter()
                        .map(move |v| format!("{k}={}", v.as_str().unwrap_or_default()))
                })
                .collect(),
            _ => Vec::new(),
        }
    };
    match (&f.before, &f.after) {
        (Value::Array(_) | Value::Object(_), Value::Array(_) | Value::Object(_))
        | (Value::Null, Value::Array(_) | Value::Object(_))
        | (Value::Array(_) | Value::Object(_), Value::Null) => {
            let (before, after) = (items(&f.before), items(&f.after));
            let list = |sign: &str, values: Vec<&String>| -> Option<String> {
                if values.is_empty() {
                    return None;
                }
                let mut words: Vec<String> = values
                    .iter()
                    .take(SHOWN)
                    .map(|v| format!("{sign} {v}"))
                    .collect();
                if values.len() > SHOWN {
                    words.push(format!("and {} more", values.len() - SHOWN));
                }
                Some(words.join(", "))
            };
            let added: Vec<&String> = after.iter().filter(|v| !before.contains(v)).collect();
            let removed: Vec<&String> = before.iter().filter(|v| !after.contains(v)).collect();
            [list("+", added), list("-", removed)]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", ")
        }
        (before, after) => {
            let show = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
            format!("{} → {}", show(before), show(after))
        }
    }
}

/// An escape hatch as written in the policy.
fn hatch(e: &super::EscapeHatch) -> String {
    match e.kind.as_str() {
        "sql" => format!("sql {}", crate::fmt::string(&e.text)),
        "lookup" => e.text.clone(),
        _ => "using none".to_string(),
    }
}

/// The plan as JSON with a `format_version`.
pub fn json(plan: &Plan) -> String {
    serde_json::to_string_pretty(plan).unwrap_or_default() + "\n"
}

/// A name, or any text that holds names, as a markdown code span: shown as
/// it is, never read as emphasis, a link, a mention, a heading or HTML.
/// Control and invisible characters are shown as escapes.
fn code(text: &str) -> String {
    let text = visible(text);
    if text.is_empty() {
        return "(empty)".into();
    }
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    // A span that begins or ends with a backtick, or with spaces at both
    // ends, is padded by a space each side, which the renderer removes.
    let pad = text.starts_with('`')
        || text.ends_with('`')
        || (text.starts_with(' ') && text.ends_with(' ') && !text.trim().is_empty());
    if pad {
        format!("{fence} {text} {fence}")
    } else {
        format!("{fence}{text}{fence}")
    }
}

/// [`code`] for a table cell, where `|` would end the cell even inside a
/// code span.
fn cell(text: &str) -> String {
    code(text).replace('|', "\\|")
}

/// A diff in a collapsed block, fenced so no line of it can close the fence.
fn md_diff(diff: &str) -> String {
    let longest = diff
        .lines()
        .map(|l| l.chars().take_while(|c| *c == '`').count())
        .max()
        .unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    // Indented as the list item's continuation, and ended by a blank line:
    // an HTML block runs on until one, and would swallow the next item.
    let body: String = diff.lines().map(|l| format!("  {l}\n")).collect();
    format!(
        "\n  <details><summary>SQL diff</summary>\n\n  {fence}diff\n{body}  {fence}\n\n  </details>\n\n"
    )
}

/// Markdown for a pull request comment: destructive changes first, then the
/// rest, within [`MARKDOWN_LIMIT`]. Diffs are dropped (largest plans) before
/// anything else is; the JSON plan always has everything.
pub fn markdown(plan: &Plan) -> String {
    for with_diffs in [true, false] {
        let text = markdown_with(plan, with_diffs, usize::MAX);
        if text.len() <= MARKDOWN_LIMIT {
            return text;
        }
    }
    // Still too long: list fewer lines per section.
    let mut per_section = 200;
    loop {
        let text = markdown_with(plan, false, per_section);
        if text.len() <= MARKDOWN_LIMIT || per_section <= 5 {
            return text;
        }
        per_section /= 2;
    }
}

fn markdown_with(plan: &Plan, diffs: bool, per_section: usize) -> String {
    let mut out = String::from("## veil plan\n\n");
    if plan.offline {
        out.push_str("_Offline plan: compared with the project's files, not with a database._\n\n");
    }
    if let Some(environment) = &plan.environment {
        let _ = writeln!(out, "Environment: {}\n", code(environment));
    }
    if !plan.has_changes() {
        out.push_str("No changes.\n");
    }
    for i in &plan.integrations {
        integration_markdown(&mut out, i, diffs, per_section);
    }
    out
}

/// One integration's section of the markdown plan: what is destroyed and
/// who newly sees sensitive columns first, then every other change, drift,
/// profile rows, the access impact and the escape hatches; at most
/// `per_section` entries a section.
fn integration_markdown(out: &mut String, i: &IntegrationPlan, diffs: bool, per_section: usize) {
    let (c, r, rc, d) = counts(i);
    let (pa, pc, pr) = profile_counts(i);
    let _ = writeln!(
        out,
        "### Integration {} ({})\n\n{c} to create, {r} to replace, {rc} to recreate, {d} to drop; profile rows: {pa} to add, {pc} to change, {pr} to remove.\n",
        code(&i.name),
        i.dialect.name()
    );
    let (destructive, rest): (Vec<&Change>, Vec<&Change>) =
        i.changes.iter().partition(|c| c.action.is_destructive());
    let shown = |diff_of: Action| move |c: &Change| diffs && c.action == diff_of;
    change_list(
        out,
        "#### ⚠️ Destructive changes",
        &destructive,
        per_section,
        true,
        shown(Action::Recreate),
    );
    let sensitive: Vec<_> = i
        .access_impact
        .iter()
        .filter(|x| x.sensitive && matches!(x.change.as_str(), "column clear" | "gains access"))
        .collect();
    if !sensitive.is_empty() {
        out.push_str("#### 🔓 New access to sensitive columns\n\n");
        for (n, x) in sensitive.iter().enumerate() {
            if n == per_section {
                let _ = writeln!(out, "- … and {} more\n", sensitive.len() - n);
                break;
            }
            let _ = writeln!(out, "- {}", impact_markdown(x));
        }
        out.push('\n');
    }
    change_list(
        out,
        "#### Changes",
        &rest,
        per_section,
        false,
        shown(Action::Replace),
    );
    if !i.drift.is_empty() {
        out.push_str("#### Drift\n\n");
        for d in i.drift.iter().take(per_section) {
            let _ = writeln!(out, "- {} {}: {}", d.kind, code(&d.object), code(&d.detail));
        }
        out.push('\n');
    }
    profile_table(out, i, per_section);
    impact_section(out, i, per_section);
    if !i.escape_hatches.is_empty() {
        out.push_str("#### Escape hatches in force\n\n");
        for e in i.escape_hatches.iter().take(per_section) {
            let _ = writeln!(out, "- {} ({})", code(&hatch(e)), code(&e.rule));
        }
        out.push('\n');
    }
}

/// The profile rows that change, as a table.
fn profile_table(out: &mut String, i: &IntegrationPlan, per_section: usize) {
    if !i.profile.is_empty() {
        out.push_str("#### Profile rows\n\n| user | change | fields |\n| --- | --- | --- |\n");
        for (n, p) in i.profile.iter().enumerate() {
            if n == per_section {
                let _ = writeln!(out, "| … | {} more | |", i.profile.len() - n);
                break;
            }
            let word = match p.action {
                ProfileAction::Add => "add",
                ProfileAction::Change => "change",
                ProfileAction::Remove => "remove",
            };
            let fields: Vec<String> = p
                .fields
                .iter()
                .map(|f| {
                    if p.action == ProfileAction::Change {
                        format!("{} {}", f.field, cell(&field_words(f)))
                    } else {
                        f.field.clone()
                    }
                })
                .collect();
            let _ = writeln!(
                out,
                "| {} | {word} | {} |",
                cell(&p.user),
                fields.join("; ")
            );
        }
        out.push('\n');
    }
}

/// Who gains or loses what, counted and listed.
fn impact_section(out: &mut String, i: &IntegrationPlan, per_section: usize) {
    if !i.access_impact_known {
        out.push_str("#### Access impact\n\nNot computed: see the warnings.\n\n");
    } else if i.access_impact.is_empty() {
        out.push_str("#### Access impact\n\nNone: nobody gains or loses access, a clear column or a row filter.\n\n");
    }
    if !i.access_impact.is_empty() {
        out.push_str("#### Access impact\n\n");
        let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
        for x in &i.access_impact {
            *counts.entry(x.change.as_str()).or_default() += x.users.len();
        }
        let summary: Vec<String> = counts.iter().map(|(c, n)| format!("{n} {c}")).collect();
        let _ = writeln!(out, "{}\n", summary.join(", "));
        for (n, x) in i.access_impact.iter().enumerate() {
            if n == per_section.min(50) {
                let _ = writeln!(
                    out,
                    "- … and {} more (the JSON plan lists all)\n",
                    i.access_impact.len() - n
                );
                break;
            }
            let _ = writeln!(out, "- {}", impact_markdown(x));
        }
        out.push('\n');
    }
}

/// A list of object changes under `title`, each with its diff where
/// `with_diff` says, the action in bold when `bold`.
fn change_list(
    out: &mut String,
    title: &str,
    changes: &[&Change],
    per_section: usize,
    bold: bool,
    with_diff: impl Fn(&Change) -> bool,
) {
    if changes.is_empty() {
        return;
    }
    let _ = writeln!(out, "{title}\n");
    for (n, change) in changes.iter().enumerate() {
        if n == per_section {
            let _ = writeln!(out, "- … and {} more\n", changes.len() - n);
            break;
        }
        let word = change.action.word();
        let _ = writeln!(
            out,
            "- {} {} {}{}",
            if bold {
                format!("**{word}**")
            } else {
                word.to_string()
            },
            change.id.kind,
            code(&change.id.name.to_string()),
            change
                .reason
                .as_ref()
                .map_or(String::new(), |r| format!(": {}", code(r)))
        );
        if with_diff(change) {
            out.push_str(&md_diff(&change.diff));
        }
    }
    out.push('\n');
}
