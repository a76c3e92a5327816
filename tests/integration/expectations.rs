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
        let outcome = test(dir.path(), OutputFormat::Text);
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
