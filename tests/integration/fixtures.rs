//! Fixture tests: every `tests/fixtures/ok/*` project checks clean and
//! round-trips through `fmt`; every `tests/fixtures/err/err_*.veil` fails
//! with the diagnostics in its snapshot.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use veil::diagnostic::{Code, ErrorFormat, Files, render_all};
use veil::{check, fmt, identities, project, syntax};

fn sorted_entries(dir: &str) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("fixture directory exists")
        .map(|e| e.expect("readable entry").path())
        .collect();
    entries.sort();
    entries
}

fn snapshot_settings(description: &str) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../fixtures/snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_description(description);
    settings.set_omit_expression(true);
    settings
}

#[test]
fn ok_fixtures_check_without_diagnostics() {
    for dir in sorted_entries("tests/fixtures/ok") {
        let project = project::load(&dir).unwrap_or_else(|e| {
            panic!(
                "{} does not load:\n{}",
                dir.display(),
                render_all(&e.files, &e.diagnostics, ErrorFormat::Human, false)
            )
        });
        let checked = project.check();
        assert!(
            checked.diagnostics.is_empty(),
            "{} has diagnostics:\n{}",
            dir.display(),
            render_all(
                &project.files,
                &checked.diagnostics,
                ErrorFormat::Human,
                false
            )
        );
        assert!(checked.model.is_some());
    }
}

/// `fmt` keeps the tree, keeps every comment in order, and is idempotent.
fn assert_round_trip(name: &str, text: &str) -> String {
    let mut files = Files::default();
    let id = files.add(name, text);
    let first = syntax::parse(id, text).unwrap_or_else(|d| {
        panic!(
            "{name} does not parse:\n{}",
            render_all(&files, &d, ErrorFormat::Human, false)
        )
    });
    let formatted = fmt::format(&first, text);
    let second = syntax::parse(id, &formatted)
        .unwrap_or_else(|_| panic!("{name}: formatted text does not parse:\n{formatted}"));
    assert_eq!(first.file, second.file, "{name}: fmt changed the tree");
    let comments = |p: &syntax::Parsed| {
        p.comments
            .iter()
            .map(|c| c.text.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        comments(&first),
        comments(&second),
        "{name}: fmt lost or moved comments"
    );
    assert_eq!(
        fmt::format(&second, &formatted),
        formatted,
        "{name}: fmt is not idempotent"
    );
    formatted
}

#[test]
fn ok_fixtures_round_trip_through_fmt() {
    for dir in sorted_entries("tests/fixtures/ok") {
        for file in project::policy_files(&dir).expect("lists files") {
            let text = std::fs::read_to_string(&file).expect("reads fixture");
            let name = file
                .strip_prefix("tests/fixtures/ok")
                .expect("under ok")
                .display()
                .to_string();
            let formatted = assert_round_trip(&name, &text);
            snapshot_settings(&text).bind(|| {
                insta::assert_snapshot!(format!("fmt@{}", name.replace('/', "__")), formatted);
            });
        }
    }
}

/// Runs one error fixture: its policy, and its own identities or the shared ones.
fn run_err_fixture(path: &Path) -> (String, Vec<Code>, bool) {
    let name = path
        .file_name()
        .expect("file name")
        .to_string_lossy()
        .to_string();
    let text = std::fs::read_to_string(path).expect("reads fixture");
    let own_yaml = path.with_extension("yaml");
    let (yaml_name, yaml_path) = if own_yaml.exists() {
        (
            own_yaml
                .file_name()
                .expect("name")
                .to_string_lossy()
                .to_string(),
            own_yaml,
        )
    } else {
        (
            "identities.yaml".to_string(),
            PathBuf::from("tests/fixtures/err/identities.yaml"),
        )
    };
    let yaml = std::fs::read_to_string(&yaml_path).expect("reads identities");
    let mut files = Files::default();
    let id = files.add(name.clone(), text.clone());
    let yaml_id = files.add(yaml_name, yaml);
    let mut diagnostics = Vec::new();
    let parsed = syntax::parse(id, &files.get(id).text);
    let ids = identities::load(yaml_id, &files.get(yaml_id).text);
    match (&parsed, &ids) {
        (Ok(parsed), Ok(ids)) => {
            diagnostics = check::check(&files, &[(id, &parsed.file)], (yaml_id, ids)).diagnostics;
        }
        _ => {
            if let Err(d) = &parsed {
                diagnostics.extend(d.iter().cloned());
            }
            if let Err(d) = &ids {
                diagnostics.push(d.clone());
            }
        }
    }
    let has_error = diagnostics.iter().any(|d| d.is_error());
    let codes = diagnostics.iter().map(|d| d.code).collect();
    (
        render_all(&files, &diagnostics, ErrorFormat::Human, false),
        codes,
        has_error,
    )
}

fn err_fixtures() -> Vec<PathBuf> {
    sorted_entries("tests/fixtures/err")
        .into_iter()
        .filter(|p| {
            p.extension().is_some_and(|e| e == "veil")
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("err_"))
        })
        .collect()
}

#[test]
fn err_fixtures_fail_with_their_diagnostics() {
    for path in err_fixtures() {
        let (rendered, _, has_error) = run_err_fixture(&path);
        let name = path
            .file_stem()
            .expect("stem")
            .to_string_lossy()
            .to_string();
        let input = std::fs::read_to_string(&path).expect("reads fixture");
        let expect_warning_only = name.starts_with("err_warn_");
        assert!(
            has_error != expect_warning_only,
            "{name}: expected {}, got:\n{rendered}",
            if expect_warning_only {
                "warnings only"
            } else {
                "an error"
            }
        );
        snapshot_settings(&input).bind(|| {
            insta::assert_snapshot!(name, rendered);
        });
    }
}

/// Every diagnostic code the parser, the identities loader and the checker
/// can raise (`diagnostic::Code`, the one list of codes) appears in at least
/// one error fixture.
#[test]
fn every_diagnostic_code_has_a_fixture() {
    let mut covered = BTreeSet::new();
    for path in err_fixtures() {
        covered.extend(run_err_fixture(&path).1);
    }
    let missing: Vec<&str> = Code::ALL
        .iter()
        .filter(|c| matches!(c.stage(), "syntax" | "check" | "identities"))
        .filter(|c| !covered.contains(*c))
        .map(|c| c.as_str())
        .collect();
    assert!(
        missing.is_empty(),
        "codes without an err_ fixture: {missing:?}"
    );
}

/// Every code has its entry in docs/diagnostics.md, where the JSON form's
/// `docs` link points.
#[test]
fn every_diagnostic_code_is_documented() {
    let docs = std::fs::read_to_string("docs/diagnostics.md").expect("reads the docs");
    let missing: Vec<&str> = Code::ALL
        .iter()
        .filter(|c| {
            let anchor = c.docs();
            let id = anchor.split('#').nth(1).unwrap_or_default();
            !docs.contains(&format!("<a id=\"{id}\"></a>`{}`", c.as_str()))
        })
        .map(|c| c.as_str())
        .collect();
    assert!(
        missing.is_empty(),
        "codes not in docs/diagnostics.md: {missing:?}"
    );
}
