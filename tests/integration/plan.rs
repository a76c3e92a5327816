//! Offline plans: against an empty deployment and against another checkout.

use crate::common::{Run, Scratch};
use std::path::Path;

fn veil(args: &[&str]) -> Run {
    crate::common::veil_with(args, &[])
}

/// Copies the example project to `dir`, applying text replacements to files.
fn variant(dir: &Path, edits: &[(&str, &str, &str)]) {
    std::fs::create_dir_all(dir).expect("creates dir");
    for entry in std::fs::read_dir("policies").expect("example").flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let mut text = std::fs::read_to_string(entry.path()).expect("reads");
        for (file, from, to) in edits {
            if *file == name {
                assert!(text.contains(from), "{from} not in {name}");
                text = text.replace(from, to);
            }
        }
        std::fs::write(dir.join(&name), text).expect("writes");
    }
}

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", run.stdout, run.stderr))
}

/// The JSON offline plan of `project` against `against`, which must succeed.
fn plan_json(project: &str, against: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "plan",
        "--offline",
        project,
        "--against",
        against,
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let run = veil(&args);
    assert_eq!(run.status, 0, "{}", run.stderr);
    json(&run)
}

fn actions(plan: &serde_json::Value, integration: &str) -> Vec<(String, String)> {
    plan["integrations"]
        .as_array()
        .expect("integrations")
        .iter()
        .find(|i| i["name"] == integration)
        .expect("integration in plan")["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            (
                c["action"].as_str().unwrap_or("").to_string(),
                c["object"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn offline_plan_against_nothing_creates_everything() {
    let run = veil(&["plan", "--offline", "policies", "--format", "json"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let plan = json(&run);
    assert_eq!(plan["format_version"], 2);
    assert_eq!(plan["offline"], true);
    let app = actions(&plan, "app");
    assert!(app.iter().all(|(a, _)| a == "create"), "{app:?}");
    assert!(app.contains(&("create".into(), "governed.accounts".into())));
    let profile = &plan["integrations"][0]["profile"];
    assert_eq!(
        profile.as_array().map(Vec::len),
        Some(9),
        "one row per user"
    );
    let hatches = plan["integrations"][0]["escape_hatches"]
        .as_array()
        .expect("list")
        .clone();
    assert!(hatches.iter().any(|h| h["kind"] == "sql"), "{hatches:?}");
    assert!(hatches.iter().any(|h| h["kind"] == "none"), "{hatches:?}");

    let run = veil(&["plan", "--offline", "policies", "--detailed-exitcode"]);
    assert_eq!(run.status, 2, "changes give 2\n{}", run.stderr);
    assert!(
        run.stdout.contains("+ create view governed.orders"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_plan_against_itself_has_no_changes() {
    let run = veil(&[
        "plan",
        "--offline",
        "policies",
        "--against",
        "policies",
        "--detailed-exitcode",
    ]);
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("No changes"), "{}", run.stdout);
}

#[test]
fn changes_are_classified() {
    let scratch = Scratch::new("plan");
    let base = scratch.path().join("base");
    // The base branch: a different rounding, a hashed timestamp (another
    // column type), an extra source, and priya without the analysts group.
    variant(
        &base,
        &[
            ("product.veil", "using round(1000)", "using round(100)"),
            (
                "product.veil",
                "mask created_at on product.accounts using truncate(month)",
                "mask created_at on product.accounts using hash",
            ),
            (
                "product.veil",
                "access tagged product {",
                "source product.old {\n  integration = app\n  table = public.old\n  columns { id bigint }\n}\n\naccess product.old {\n  allow everyone\n}\n\naccess tagged product {",
            ),
            (
                "identities.yaml",
                "    groups: [product, analysts]",
                "    groups: [product]",
            ),
        ],
    );
    let base = base.to_str().expect("utf-8");
    let plan = plan_json("policies", base, &["--integration", "app"]);
    assert_eq!(
        plan["integrations"].as_array().map(Vec::len),
        Some(1),
        "--integration limits the plan"
    );
    let app = actions(&plan, "app");
    assert_eq!(
        app,
        [
            ("drop".to_string(), "governed.old".to_string()),
            // The dropped source leaves the access rules, and its rule set
            // the valid tables view.
            (
                "replace".to_string(),
                "immuta_system.access_rules".to_string()
            ),
            (
                "replace".to_string(),
                "immuta_system.valid_tables".to_string()
            ),
            ("replace".to_string(), "governed.events".to_string()),
            ("recreate".to_string(), "governed.accounts".to_string()),
        ]
    );
    // priya lost a group, and nobody else's profile row changed: the valid
    // tables are derived in the database, so a dropped source is no
    // profile change.
    let profile = plan["integrations"][0]["profile"]
        .as_array()
        .expect("profile")
        .clone();
    for change in &profile {
        assert_eq!(change["action"], "change");
        let fields: Vec<&str> = change["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .map(|f| f["field"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(change["user"], "priya", "{change}");
        assert_eq!(fields, ["groups"], "{change}");
    }
    assert_eq!(profile.len(), 1, "only priya's row changes");

    let run = veil(&[
        "plan",
        "--offline",
        "policies",
        "--against",
        base,
        "--format",
        "markdown",
    ]);
    let markdown = run.stdout;
    let destructive = markdown
        .find("Destructive changes")
        .expect("destructive section");
    let changes = markdown.find("#### Changes").expect("changes section");
    assert!(destructive < changes, "destructive changes come first");
    assert!(markdown.contains("```diff"), "{markdown}");
}

#[test]
fn a_huge_plan_fits_a_pull_request_comment() {
    let scratch = Scratch::new("huge");
    let dir = scratch.path();
    let mut policy = String::from(
        "integration db {\n  dialect = postgres\n  database = \"app\"\n  view_schema = \"governed\"\n}\n",
    );
    for s in 0..3000 {
        policy.push_str(&format!(
            "source s.a_rather_long_source_name_number_{s} {{\n  table = public.a_rather_long_table_name_number_{s}\n  columns {{ id bigint }}\n}}\naccess s.a_rather_long_source_name_number_{s} {{\n  allow everyone\n}}\n"
        ));
    }
    std::fs::write(dir.join("p.veil"), policy).expect("writes");
    std::fs::write(dir.join("identities.yaml"), "users:\n  ann: {}\n").expect("writes");
    let run = veil(&[
        "plan",
        "--offline",
        dir.to_str().expect("utf-8"),
        "--format",
        "markdown",
    ]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(
        run.stdout.len() <= 65_000,
        "{} characters",
        run.stdout.len()
    );
    assert!(run.stdout.contains("more"), "long lists are summarised");
}

#[test]
fn plan_errors_name_what_to_do() {
    let run = veil(&["plan", "policies"]);
    assert_eq!(run.status, 1);
    assert!(run.stderr.contains("--offline"), "{}", run.stderr);
    let run = veil(&["plan", "policies", "--against", "policies"]);
    assert_eq!(run.status, 1, "--against needs --offline");
    for online in [false, true] {
        // An online plan says so before it connects to anything.
        let mut args = vec!["plan", "policies", "--integration", "ap"];
        if !online {
            args.push("--offline");
        }
        let run = veil(&args);
        assert_eq!(run.status, 1);
        assert!(run.stderr.contains("did you mean `app`?"), "{}", run.stderr);
    }
}

/// The impacts of one user, as `change source[.column]` lines.
fn impacts(plan: &serde_json::Value, user: &str) -> Vec<String> {
    let mut lines: Vec<String> = plan["integrations"]
        .as_array()
        .expect("integrations")
        .iter()
        .flat_map(|i| i["access_impact"].as_array().cloned().unwrap_or_default())
        .filter(|x| {
            x["users"]
                .as_array()
                .is_some_and(|users| users.iter().any(|u| u == user))
        })
        .map(|x| {
            let mut line = format!(
                "{} {}",
                x["change"].as_str().unwrap_or(""),
                x["source"].as_str().unwrap_or("")
            );
            if let Some(c) = x["column"].as_str() {
                line.push('.');
                line.push_str(c);
            }
            if let Some(d) = x["detail"].as_str() {
                line.push_str(&format!(" ({d})"));
            }
            line
        })
        .collect();
    lines.sort();
    lines
}

#[test]
fn access_impact_reports_exactly_who_is_affected() {
    let scratch = Scratch::new("impact");
    let base = scratch.path().join("base");
    // The base had: priya without analysts; support exempt from the vip
    // mask; refunds granted to carol instead of grace.
    variant(
        &base,
        &[
            (
                "identities.yaml",
                "    groups: [product, analysts]",
                "    groups: [product]",
            ),
            (
                "sales.veil",
                "using constant false except group \"finance\"",
                "using constant false except group \"finance\" or group \"support\"",
            ),
            ("sales.veil", "allow user \"grace\"", "allow user \"carol\""),
        ],
    );
    let plan = plan_json("policies", base.to_str().expect("utf-8"), &[]);
    let users: std::collections::BTreeSet<String> = plan["integrations"]
        .as_array()
        .expect("integrations")
        .iter()
        .flat_map(|i| i["access_impact"].as_array().cloned().unwrap_or_default())
        .flat_map(|x| x["users"].as_array().cloned().unwrap_or_default())
        .map(|u| u.as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        users.into_iter().collect::<Vec<_>>(),
        ["carol", "grace", "priya"]
    );
    assert_eq!(
        impacts(&plan, "carol"),
        [
            "column masked sales.customers.vip (constant false)",
            "loses access sales.refunds"
        ]
    );
    assert_eq!(
        impacts(&plan, "grace"),
        [
            "filter added sales.refunds (newer than 90 days)",
            "gains access sales.refunds (clear: refund_id, order_id, reason, refunded_at)",
        ]
    );
    let priya = impacts(&plan, "priya");
    assert!(
        priya
            .iter()
            .any(|l| l.starts_with("gains access sales.orders ")),
        "{priya:?}"
    );
    assert!(
        priya
            .iter()
            .any(|l| l.starts_with("gains access sales.customers ")),
        "{priya:?}"
    );
    assert!(
        !priya.iter().any(|l| l.contains("email")),
        "emails stay hashed for priya: {priya:?}"
    );
    // New access that shows sensitive columns clear heads the pull request
    // comment, whether it comes from a new grant or a lifted mask.
    let run = veil(&[
        "plan",
        "--offline",
        "policies",
        "--against",
        base.to_str().expect("utf-8"),
        "--format",
        "markdown",
        "--sensitive-tag",
        "region",
    ]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let section = run
        .stdout
        .split("New access to sensitive columns")
        .nth(1)
        .and_then(|rest| rest.split("####").next())
        .unwrap_or_else(|| panic!("no sensitive section:\n{}", run.stdout));
    assert!(
        section.contains("gains access `sales.orders`") && section.contains("`priya`"),
        "{section}"
    );
}

#[test]
fn users_alike_but_named_by_a_rule_are_told_apart() {
    // gus has grace's entries; only grace is named by `allow user`, so only
    // grace gains access, whoever of the two is looked at first.
    let scratch = Scratch::new("impact-named");
    let twin = (
        "identities.yaml",
        "  grace:\n    groups: [staff]\n    approved: [sales.orders]\n",
        "  grace:\n    groups: [staff]\n    approved: [sales.orders]\n  gus:\n    groups: [staff]\n    approved: [sales.orders]\n",
    );
    let (current, base) = (scratch.path().join("current"), scratch.path().join("base"));
    variant(&current, &[twin]);
    variant(
        &base,
        &[
            twin,
            ("sales.veil", "allow user \"grace\"", "allow user \"carol\""),
        ],
    );
    for (from, to, gains, loses) in [
        (&current, &base, "grace", "carol"),
        (&base, &current, "carol", "grace"),
    ] {
        let plan = plan_json(
            from.to_str().expect("utf-8"),
            to.to_str().expect("utf-8"),
            &[],
        );
        assert!(
            impacts(&plan, gains)
                .iter()
                .any(|l| l.starts_with("gains access sales.refunds")),
            "{:?}",
            impacts(&plan, gains)
        );
        assert!(
            impacts(&plan, loses)
                .iter()
                .any(|l| l.starts_with("loses access sales.refunds")),
            "{:?}",
            impacts(&plan, loses)
        );
        assert_eq!(impacts(&plan, "gus"), Vec::<String>::new());
    }
}

/// The text outside every code span of a markdown document.
fn outside_code_spans(markdown: &str) -> String {
    let mut out = String::new();
    let mut rest = markdown;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let fence_len = rest[start..].chars().take_while(|c| *c == '`').count();
        let fence = "`".repeat(fence_len);
        let after = &rest[start + fence_len..];
        match after.find(&fence) {
            Some(end) => rest = &after[end + fence_len..],
            None => {
                rest = after;
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn names_in_a_markdown_plan_never_become_markup() {
    let dir = Scratch::new("markdown_names");
    let hostile = [
        "**x** [link](http://evil.example)",
        "@org/team",
        "# heading",
        "a|b",
        "<img src=x>",
        "back`tick",
    ];
    let mut users = String::from("users:\n");
    for (i, name) in hostile.iter().enumerate() {
        users.push_str(&format!(
            "  {}:\n    groups: [analysts]\n    attributes: {{ region: [eu] }}\n    # {i}\n",
            serde_json::to_string(name).expect("json")
        ));
    }
    variant(
        &dir.path().join("head"),
        &[
            ("identities.yaml", "users:\n", &users),
            (
                "product.veil",
                "allow group \"product\"",
                "allow group \"analysts\"\n  allow group \"product\"",
            ),
        ],
    );
    let run = veil(&[
        "plan",
        "--offline",
        dir.path().join("head").to_str().expect("utf-8"),
        "--format",
        "markdown",
    ]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let outside = outside_code_spans(&run.stdout);
    for name in hostile {
        assert!(
            run.stdout.contains(&name.replace('|', "\\|")) || run.stdout.contains(name),
            "`{name}` is not in the plan:\n{}",
            run.stdout
        );
    }
    for markup in ["**x**", "[link]", "@org", "# heading", "<img", "a|b"] {
        assert!(
            !outside.contains(markup),
            "`{markup}` is outside a code span:\n{}",
            run.stdout
        );
    }
}

#[test]
fn names_with_invisible_characters_are_warned_of() {
    let dir = Scratch::new("invisible_names");
    variant(
        dir.path(),
        &[(
            "identities.yaml",
            "users:\n",
            "users:\n  \"ana\\u200b\":\n    groups: [analysts]\n  \"ana \":\n    groups: [analysts]\n",
        )],
    );
    let run = veil(&["validate", dir.path().to_str().expect("utf-8")]);
    assert_eq!(run.status, 0, "warnings only: {}", run.stderr);
    assert!(
        run.stderr.contains("holds an invisible character")
            && run.stderr.contains("begins or ends with whitespace"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_markdown_plan_renders_as_meant() {
    // A plan with a drop, a replace and a recreate (each with a diff in a
    // collapsed block), profile changes and access impact.
    let scratch = Scratch::new("markdown_render");
    let base = scratch.path().join("base");
    variant(
        &base,
        &[
            ("product.veil", "using round(1000)", "using round(100)"),
            (
                "product.veil",
                "mask created_at on product.accounts using truncate(month)",
                "mask created_at on product.accounts using hash",
            ),
            (
                "product.veil",
                "access tagged product {",
                "source product.old {\n  integration = app\n  table = public.old\n  columns { id bigint }\n}\n\naccess product.old {\n  allow everyone\n}\n\naccess tagged product {",
            ),
            (
                "identities.yaml",
                "    groups: [product, analysts]",
                "    groups: [product]",
            ),
            (
                "sales.veil",
                "mask tagged finance.amount using round(100)",
                "mask tagged finance.amount using round(10)",
            ),
        ],
    );
    let run = veil(&[
        "plan",
        "--offline",
        "policies",
        "--against",
        base.to_str().expect("utf-8"),
        "--format",
        "markdown",
    ]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
    let mut items = Vec::new();
    let mut in_item = 0;
    let mut item_text = String::new();
    let (mut opened, mut closed) = (0, 0);
    let mut table_rows = 0;
    let mut in_table_head = false;
    for event in Parser::new_ext(&run.stdout, Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::Item) => {
                in_item += 1;
                item_text.clear();
            }
            Event::End(TagEnd::Item) => {
                in_item -= 1;
                items.push(item_text.clone());
            }
            Event::Start(Tag::TableHead) => in_table_head = true,
            Event::End(TagEnd::TableHead) => in_table_head = false,
            Event::Start(Tag::TableRow) if !in_table_head => table_rows += 1,
            Event::Html(html) | Event::InlineHtml(html) => {
                assert!(
                    !html.contains("\n- ") && !html.contains("\n| "),
                    "markdown swallowed into an HTML block:\n{html}"
                );
                opened += html.matches("<details>").count();
                closed += html.matches("</details>").count();
            }
            Event::Text(t) | Event::Code(t) if in_item > 0 => item_text.push_str(&t),
            _ => {}
        }
    }
    assert_eq!(opened, closed, "every <details> is closed");
    assert!(opened >= 2, "the diffs are in collapsed blocks: {opened}");
    // Two replaced views in one section, each with its diff.
    for (action, object) in [
        ("drop", "governed.old"),
        ("replace", "governed.events"),
        ("recreate", "governed.accounts"),
        ("replace", "governed.orders"),
        ("replace", "governed.refunds"),
    ] {
        let found = items
            .iter()
            .filter(|i| i.contains(action) && i.contains(object))
            .count();
        assert_eq!(found, 1, "one list item for {action} {object}: {items:?}");
    }
    let plan = plan_json("policies", base.to_str().expect("utf-8"), &[]);
    let profiles: usize = plan["integrations"]
        .as_array()
        .expect("integrations")
        .iter()
        .map(|i| i["profile"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(
        table_rows, profiles,
        "one table row per changed profile:\n{}",
        run.stdout
    );
}
