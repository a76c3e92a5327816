//! `veil test`: expectations checked against the policies. The example
//! project pins every rule it has: deleting any one makes a statement fail.

use crate::common::{Scratch, Veil};
use std::path::Path;
use veil::ast::Item;
use veil::commands::{OutputFormat, test};
use veil::diagnostic::Code;
use veil::span::{FileId, Span};

/// A copy of `policies/` with `cut` (a span of `file`) removed.
fn without(file: &str, cut: Span) -> Scratch {
    let dir = Scratch::new("expect-walk");
    for entry in std::fs::read_dir("policies").expect("reads policies") {
        let path = entry.expect("an entry").path();
        let mut text = std::fs::read_to_string(&path).expect("reads a file");
        if path.file_name().is_some_and(|n| n == file) {
            text.replace_range(cut.start..cut.end, "");
        }
        let name = path.file_name().expect("a name");
        std::fs::write(dir.path().join(name), text).expect("writes a file");
    }
    dir
}

#[test]
fn the_example_project_s_expectations_hold() {
    let run = Veil::new().args(["test", "policies"]).succeeds();
    assert!(
        run.stdout.contains("statements: all hold"),
        "{}",
        run.stdout
    );
}

/// Every access, mask and filter rule of `policies/`, and every `allow` and
/// `require` line of its access rules, is pinned by an expectation.
#[test]
fn deleting_any_rule_of_the_example_project_fails_a_located_expectation() {
    let mut cuts = Vec::new();
    for entry in std::fs::read_dir("policies").expect("reads policies") {
        let path = entry.expect("an entry").path();
        if path.extension().is_none_or(|e| e != "veil") {
            continue;
        }
        let name = path
            .file_name()
            .expect("a name")
            .to_string_lossy()
            .to_string();
        let text = std::fs::read_to_string(&path).expect("reads a file");
        let parsed = veil::syntax::parse(FileId(0), &text).expect("parses");
        for item in &parsed.file.items {
            match &item.node {
                Item::Access(access) => {
                    cuts.push((name.clone(), item.span));
                    if access.lines.len() > 1 {
                        cuts.extend(access.lines.iter().map(|l| (name.clone(), l.span)));
                    }
                }
                Item::Mask(_) | Item::Filter(_) => cuts.push((name.clone(), item.span)),
                _ => {}
            }
        }
    }
    assert!(cuts.len() > 30, "the example project has its rules");
    let mut unpinned = Vec::new();
    for (file, span) in cuts {
        let dir = without(&file, span);
        let outcome = test(dir.path(), OutputFormat::Text, false, None);
        let located = outcome
            .diagnostics
            .iter()
            .any(|d| d.code == Code::TestFailed && d.loc.is_some());
        if outcome.status.code() != 1 || !located {
            let text = std::fs::read_to_string(Path::new("policies").join(&file)).expect("reads");
            unpinned.push(format!("{file}: {}", &text[span.start..span.end]));
        }
    }
    assert!(
        unpinned.is_empty(),
        "deleting these leaves every expectation holding:\n{}",
        unpinned.join("\n")
    );
}

const LIVE: &str = r##"integration ex {
  dialect     = postgres
  database    = "@DB@"
  view_schema = "governed"
  connection  = env("VEIL_EX_URL")
}

source crm.people {
  table = public.people
  columns {
    id     integer
    email  text
    region text
  }
}

access crm.people { allow group "analysts" }
mask email on crm.people using hash except group "cleared"
filter crm.people where region = "eu" except group "cleared"

expect user "@ANALYST@" on crm.people {
  access granted
  column id clear
  column email masked using hash
  rows filtered
}

expect user "@CLEARED@" on crm.people {
  access granted
  column email clear
  rows all
}

expect user "@OTHER@" on crm.people {
  access denied
}
"##;

/// `veil test --live` asks the database, as each user, what the views
/// return, and fails when the database does not do what the policies say
/// (here a view rewritten by hand).
#[test]
fn live_expectations_ask_the_database_as_each_user() {
    let db = crate::common::Database::create("expect_live");
    let role = |name: &str| db.role(&format!("{name}_{}", db.name));
    let (analyst, cleared, other) = (role("analyst"), role("cleared"), role("other"));
    db.psql(
        "CREATE TABLE public.people (id integer, email text, region text);
         INSERT INTO public.people VALUES (1, 'a@x.io', 'eu'), (2, 'b@x.io', 'us'), (3, NULL, 'eu'), (4, 'd@x.io', 'eu');",
    )
    .expect("creates the table");
    let dir = Scratch::new("expect-live");
    let policy = LIVE
        .replace("@DB@", &db.name)
        .replace("@ANALYST@", &analyst)
        .replace("@CLEARED@", &cleared)
        .replace("@OTHER@", &other);
    std::fs::write(dir.path().join("p.veil"), policy).expect("writes");
    std::fs::write(
        dir.path().join("identities.yaml"),
        format!(
            "groups: [analysts, cleared]\nusers:\n  {analyst}: {{ groups: [analysts] }}\n  {cleared}: {{ groups: [analysts, cleared] }}\n  {other}: {{}}\n"
        ),
    )
    .expect("writes");
    let path = dir.path().to_str().expect("utf-8");
    let url = db.url();
    Veil::new()
        .args(["apply", path, "--auto-approve"])
        .env("VEIL_EX_URL", &url)
        .succeeds();
    let run = Veil::new()
        .args(["test", path, "--live", "--format", "json"])
        .env("VEIL_EX_URL", &url)
        .succeeds();
    let report: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    let live: Vec<&serde_json::Value> = report["results"]
        .as_array()
        .expect("results")
        .iter()
        .flat_map(|e| e["statements"].as_array().expect("statements"))
        .filter(|s| {
            s["statement"]
                .as_str()
                .is_some_and(|t| t.starts_with("live: "))
        })
        .collect();
    // access ×3, id clear, email masked, email clear, rows all.
    assert_eq!(live.len(), 7, "{}", run.stdout);
    assert!(live.iter().all(|s| s["holds"] == true), "{}", run.stdout);
    // Without a database the same expectations are checked offline, each
    // noted as such.
    let offline = Veil::new()
        .args(["test", path, "--live"])
        .env_remove("VEIL_EX_URL")
        .succeeds();
    assert!(
        offline.stderr.contains("test::skipped"),
        "{}",
        offline.stderr
    );
    // A view that shows every row and the email in clear, by hand.
    db.psql(
        "CREATE OR REPLACE VIEW governed.people AS SELECT id, email, region FROM public.people;",
    )
    .expect("rewrites the view");
    let run = Veil::new()
        .args(["test", path, "--live"])
        .env("VEIL_EX_URL", &url)
        .fails();
    for statement in [
        "live: column email masked using hash",
        "live: access denied",
    ] {
        assert!(run.stdout.contains(statement), "{}", run.stdout);
    }
    assert!(run.stderr.contains("test::failed"), "{}", run.stderr);
}
