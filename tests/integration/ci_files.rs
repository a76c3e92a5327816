//! The CI setup shipped with veil (`ci/veil.yml`, `action.yml`,
//! `.pre-commit-hooks.yaml`): each file parses, and has what docs/ci.md
//! promises. The plan and drift steps' scripts are run with a stand-in
//! `veil` that exits with each code a real one can, so their exit-code
//! handling is tested, not read.

use crate::common::Scratch;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{path} does not parse: {e}"))
}

fn workflow() -> Value {
    yaml("ci/veil.yml")
}

/// The `run` script of the step of `job` named `name`.
fn script(workflow: &Value, job: &str, name: &str) -> String {
    workflow["jobs"][job]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["name"] == name)
        .and_then(|s| s["run"].as_str())
        .unwrap_or_else(|| panic!("{job} has no step `{name}`"))
        .to_string()
}

/// Runs a step's script as the runner does (`bash -e -o pipefail`) in a
/// scratch directory, with a stand-in `veil` that records its arguments
/// and exits with `code`. Returns the exit status and the arguments.
fn run_step(script: &str, code: i32, base_policies: bool) -> (i32, String, String) {
    let dir = Scratch::new("ci-step");
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let fake = bin.join("veil");
    std::fs::write(
        &fake,
        format!("#!/bin/sh\necho \"$@\" >> \"$VEIL_ARGS\"\necho '## veil plan'\nexit {code}\n"),
    )
    .expect("writes the stand-in");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    if base_policies {
        std::fs::create_dir_all(dir.path().join("base/policies")).expect("base");
    }
    let summary = dir.path().join("summary.md");
    let output = dir.path().join("output.txt");
    let args = dir.path().join("args.txt");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let status = Command::new("bash")
        .args([
            "--noprofile",
            "--norc",
            "-e",
            "-o",
            "pipefail",
            "-c",
            script,
        ])
        .current_dir(dir.path())
        .env("PATH", path)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("GITHUB_OUTPUT", &output)
        .env("VEIL_ARGS", &args)
        .status()
        .expect("runs bash");
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    (status.code().unwrap_or(-1), read(&args), read(&summary))
}

#[test]
fn the_pull_request_job_can_read_the_repository_and_comment() {
    let workflow = workflow();
    let plan = &workflow["jobs"]["plan"];
    // `permissions` replaces the defaults: without `contents: read` the
    // checkout of a private repository fails.
    assert_eq!(plan["permissions"]["contents"], "read");
    assert_eq!(plan["permissions"]["pull-requests"], "write");
    let group = plan["concurrency"]["group"].as_str().expect("a group");
    assert!(
        group.contains("github.event.pull_request.number"),
        "{group}"
    );
    assert_eq!(plan["concurrency"]["cancel-in-progress"], true);
    let steps: Vec<&Value> = plan["steps"].as_array().expect("steps").iter().collect();
    let runs: Vec<&str> = steps.iter().filter_map(|s| s["run"].as_str()).collect();
    assert!(runs.iter().any(|r| r.contains("veil fmt --check policies")));
    assert!(
        runs.iter()
            .any(|r| r.contains("veil validate policies --error-format github"))
    );
    assert!(
        runs.iter()
            .any(|r| r.contains("veil test policies --error-format github"))
    );
    let comment = steps
        .iter()
        .find(|s| s["name"] == "Comment the plan")
        .expect("a comment step");
    // One comment, updated by every run, also when the plan failed.
    assert!(comment["with"]["header"].is_string());
    assert!(
        comment["if"]
            .as_str()
            .is_some_and(|c| c.contains("always()")),
        "{comment}"
    );
}

#[test]
fn the_plan_step_fails_on_every_error_and_only_then() {
    let script = script(&workflow(), "plan", "Plan against the base branch");
    for (code, succeeds) in [(0, true), (2, true), (1, false), (101, false), (137, false)] {
        let (status, args, summary) = run_step(&script, code, true);
        assert_eq!(
            status == 0,
            succeeds,
            "veil exiting {code}: step exit {status}"
        );
        assert!(args.contains("--against base/policies"), "{args}");
        assert!(args.contains("--detailed-exitcode"), "{args}");
        assert!(summary.contains("veil plan"), "the job summary: {summary}");
        if !succeeds {
            assert!(summary.contains("failed"), "{summary}");
        }
    }
    // The first pull request: no policies on the base branch.
    let (status, args, _) = run_step(&script, 2, false);
    assert_eq!(status, 0);
    assert!(!args.contains("--against"), "{args}");
}

#[test]
fn merges_apply_the_plan_reviewed_in_the_same_run() {
    let workflow = workflow();
    let jobs = &workflow["jobs"];
    let apply = &jobs["apply"];
    assert_eq!(apply["needs"], "plan-for-apply");
    assert!(apply["environment"].is_string(), "behind an environment");
    for job in ["plan-for-apply", "apply"] {
        assert_eq!(jobs[job]["concurrency"]["group"], "veil-apply");
        assert_eq!(jobs[job]["concurrency"]["cancel-in-progress"], false);
    }
    let planned = script(&workflow, "plan-for-apply", "Plan against the databases");
    assert!(
        planned.contains("veil plan policies --out plan.json"),
        "{planned}"
    );
    let applied = script(&workflow, "apply", "Apply the reviewed plan");
    assert_eq!(applied.trim(), "veil apply plan.json --auto-approve");
}

#[test]
fn the_nightly_drift_check_fails_when_anything_differs() {
    let workflow = workflow();
    assert!(workflow["on"]["schedule"][0]["cron"].is_string());
    let script = script(&workflow, "drift", "Plan against the databases");
    for (code, succeeds) in [(0, true), (2, false), (1, false), (101, false)] {
        let (status, _, _) = run_step(&script, code, false);
        assert_eq!(
            status == 0,
            succeeds,
            "veil exiting {code}: step exit {status}"
        );
    }
}

#[test]
fn the_action_installs_a_pinned_veil_and_the_hooks_run_fmt_and_validate() {
    let action = yaml("action.yml");
    assert_eq!(action["runs"]["using"], "composite");
    assert_eq!(action["inputs"]["version"]["required"], true);
    let steps = action["runs"]["steps"].as_array().expect("steps");
    let install = steps
        .iter()
        .filter_map(|s| s["run"].as_str())
        .find(|r| r.contains("cargo install"))
        .expect("an install step");
    assert!(
        install.contains("--locked") && install.contains("--tag \"v$VERSION\""),
        "{install}"
    );
    // The package by its own name: `veil` on crates.io is another crate.
    let manifest = std::fs::read_to_string("Cargo.toml").expect("reads the manifest");
    assert!(
        manifest.contains("name = \"veil-policy\""),
        "the package's name"
    );
    assert!(install.contains(" veil-policy --bin veil"), "{install}");
    assert!(
        steps
            .iter()
            .filter_map(|s| s["run"].as_str())
            .any(|r| r.contains("veil --version"))
    );
    let hooks = yaml(".pre-commit-hooks.yaml");
    let hooks = hooks.as_array().expect("a list of hooks");
    let entry = |id: &str| {
        hooks
            .iter()
            .find(|h| h["id"] == id)
            .and_then(|h| h["entry"].as_str())
            .unwrap_or_else(|| panic!("no hook {id}"))
            .to_string()
    };
    assert_eq!(entry("veil-fmt"), "veil fmt");
    assert_eq!(entry("veil-validate"), "veil validate");
    assert_eq!(entry("veil-test"), "veil test");
}
