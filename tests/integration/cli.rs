//! The command line as a user runs it: exit codes, output, diagnostics.

use crate::common::Veil;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "veil-cli-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creates scratch dir");
        Scratch(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("writes file");
        path
    }

    fn arg(&self) -> &str {
        self.0.to_str().expect("utf-8 temp path")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const POLICY: &str = "integration db {\n  dialect     = postgres\n  database    = \"app\"\n  view_schema = \"governed\"\n}\n\nsource s.t {\n  table = public.t\n  columns {\n    id    bigint\n    email text tags(pii)\n  }\n}\n\naccess s.t {\n  allow group \"analysts\"\n}\n\nmask tagged pii using hash\n";
const IDENTITIES: &str = "groups: [analysts]\nusers:\n  ann:\n    groups: [analysts]\n";

#[test]
fn the_example_project_is_valid_and_formatted() {
    let run = Veil::new().args(["validate", "policies"]).status(0);
    assert!(run.stdout.contains("policies: valid"), "{}", run.stdout);
    assert!(
        run.stderr.is_empty(),
        "no warnings expected:\n{}",
        run.stderr
    );
    Veil::new().args(["fmt", "--check", "policies"]).status(0);
}

#[test]
fn validate_reports_errors_with_exit_1() {
    let dir = Scratch::new();
    dir.write("p.veil", &POLICY.replace("analysts", "analyst"));
    dir.write("identities.yaml", IDENTITIES);
    let run = Veil::new().args(["validate", dir.arg()]).status(1);
    assert!(
        run.stderr.contains("unknown group `analyst`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("did you mean `analysts`?"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
}

#[test]
fn warnings_alone_exit_0() {
    let dir = Scratch::new();
    dir.write(
        "p.veil",
        &format!("{POLICY}mask columns matching \"phone\" using null\n"),
    );
    dir.write("identities.yaml", IDENTITIES);
    let run = Veil::new().args(["validate", dir.arg()]).status(0);
    assert!(
        run.stderr.contains("this pattern matches no column"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("1 warning"), "{}", run.stdout);
}

#[test]
fn json_diagnostics_carry_file_line_column_and_help() {
    let dir = Scratch::new();
    let file = dir.write("p.veil", &POLICY.replace("using hash", "using hsah"));
    dir.write("identities.yaml", IDENTITIES);
    let run = Veil::new()
        .args(["validate", "--error-format", "json", dir.arg()])
        .status(1);
    let line = run.stderr.lines().next().expect("one diagnostic");
    let json: serde_json::Value = serde_json::from_str(line).expect("valid JSON");
    assert_eq!(json["severity"], "error");
    assert_eq!(json["code"], "syntax::unknown_method");
    assert_eq!(json["file"], file.display().to_string());
    assert_eq!(json["line"], 19);
    assert_eq!(json["column"], 23);
    assert_eq!(json["help"], "did you mean `hash`?");
}

#[test]
fn github_annotations_name_the_file_line_and_column() {
    let dir = Scratch::new();
    // A file name and a message holding what workflow commands escape.
    let file = dir.write(
        "a,b:c%.veil",
        &POLICY
            .replace("using hash", "using hsah")
            .replace("analysts", "ana,lysts"),
    );
    dir.write("identities.yaml", IDENTITIES);
    let run = Veil::new()
        .args(["validate", "--error-format", "github", dir.arg()])
        .status(1);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "one annotation a diagnostic: {}",
        run.stderr
    );
    let path = file
        .display()
        .to_string()
        .replace('%', "%25")
        .replace(':', "%3A")
        .replace(',', "%2C");
    assert_eq!(
        lines[0],
        format!(
            "::error file={path},line=19,col=23,endLine=19,endColumn=27,title=syntax%3A%3Aunknown_method::unknown mask method `hsah`%0Ahelp: did you mean `hash`?"
        )
    );
    // A checker error and a warning, each on its own line.
    dir.write(
        "a,b:c%.veil",
        &format!(
            "{}mask columns matching \"phone\" using null\n",
            POLICY.replace("analysts", "ana,lysts")
        ),
    );
    let run = Veil::new()
        .args(["validate", "--error-format", "github", dir.arg()])
        .status(1);
    assert!(
        run.stderr.lines().any(|l| l.starts_with("::error file=")
            && l.contains("title=check%3A%3Aunknown_name::unknown group `ana,lysts`")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.lines().any(
            |l| l.starts_with("::warning file=") && l.contains("title=check%3A%3Amask_never::")
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn a_saved_offline_plan_is_shown_as_the_plan_printed_it() {
    let dir = Scratch::new();
    let file = dir.0.join("plan.json");
    let file = file.to_str().expect("utf-8");
    for format in ["text", "json", "markdown"] {
        let planned = Veil::new()
            .args([
                "plan",
                "--offline",
                "policies",
                "--format",
                format,
                "--out",
                file,
            ])
            .status(0);
        let shown = Veil::new()
            .args(["show", file, "--format", format])
            .status(0);
        assert_eq!(shown.stdout, planned.stdout, "--format {format}");
    }
    let broken = dir.write("broken.json", "{\"format_version\": 2}");
    let run = Veil::new()
        .args(["show", broken.to_str().expect("utf-8")])
        .status(1);
    assert!(run.stderr.contains("is not a veil plan"), "{}", run.stderr);
}

#[test]
fn json_and_sarif_diagnostics_carry_codes_docs_and_related_places() {
    let dir = Scratch::new();
    // Two rules that tie for a column: the second points at the first.
    let file = dir.write(
        "p.veil",
        &format!("{POLICY}mask email on s.t using null\nmask email on s.t using hash\n"),
    );
    dir.write("identities.yaml", IDENTITIES);
    let run = Veil::new()
        .args(["validate", "--error-format", "json", dir.arg()])
        .status(1);
    let tie: serde_json::Value = run
        .stderr
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON lines"))
        .find(|d| d["code"] == "check::mask_tie")
        .unwrap_or_else(|| panic!("a tie: {}", run.stderr));
    assert_eq!(tie["format_version"], 2);
    assert_eq!(tie["docs"], "docs/diagnostics.md#check-mask_tie");
    assert_eq!(tie["line"], 21);
    assert_eq!(tie["related"][0]["file"], file.display().to_string());
    assert_eq!(tie["related"][0]["line"], 20);
    assert_eq!(tie["related"][0]["label"], "ties with this rule");
    let run = Veil::new()
        .args(["validate", "--error-format", "sarif", dir.arg()])
        .status(1);
    let log: serde_json::Value = serde_json::from_str(run.stderr.trim()).expect("one SARIF log");
    assert_eq!(log["version"], "2.1.0");
    let results = log["runs"][0]["results"].as_array().expect("results");
    let tie = results
        .iter()
        .find(|r| r["ruleId"] == "check::mask_tie")
        .expect("the tie is a result");
    assert_eq!(tie["level"], "error");
    let region = &tie["locations"][0]["physicalLocation"]["region"];
    assert_eq!(region["startLine"], 21);
    assert_eq!(
        tie["relatedLocations"][0]["physicalLocation"]["region"]["startLine"],
        20
    );
    let rules = log["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules");
    let index = tie["ruleIndex"].as_u64().expect("an index") as usize;
    assert_eq!(rules[index]["id"], "check::mask_tie");
    // No diagnostics: a log with no results.
    let run = Veil::new()
        .args(["validate", "--error-format", "sarif", "policies"])
        .status(0);
    let log: serde_json::Value = serde_json::from_str(run.stderr.trim()).expect("SARIF");
    assert_eq!(log["runs"][0]["results"], serde_json::json!([]));
}

#[test]
fn a_format_a_command_does_not_print_is_refused() {
    for args in [
        ["init", "--format", "json", "/nonexistent-veil-dir"],
        ["fmt", "--format", "json", "policies"],
        ["compile", "--format", "json", "policies"],
        ["validate", "--format", "markdown", "policies"],
    ] {
        let run = Veil::new().args(args).status(1);
        assert!(
            run.stderr.contains("does not print `--format"),
            "{args:?}: {}",
            run.stderr
        );
    }
    Veil::new()
        .args(["validate", "--format", "json", "policies"])
        .status(0);
}

#[test]
fn colour_follows_the_flag_no_color_and_clicolor_force() {
    let plan = ["plan", "--offline", "policies"];
    let colored = |run: &crate::common::Run| run.stdout.contains('\u{1b}');
    // The builder sets NO_COLOR: `auto` is plain, `always` is coloured.
    assert!(!colored(&Veil::new().args(plan).status(0)));
    assert!(colored(
        &Veil::new().args(plan).args(["--color", "always"]).status(0)
    ));
    let forced = Veil::new()
        .args(plan)
        .env_remove("NO_COLOR")
        .env("CLICOLOR_FORCE", "1")
        .status(0);
    assert!(colored(&forced), "CLICOLOR_FORCE colours a pipe");
    let never = Veil::new()
        .args(plan)
        .args(["--color", "never"])
        .env_remove("NO_COLOR")
        .env("CLICOLOR_FORCE", "1")
        .status(0);
    assert!(!colored(&never));
}

#[test]
fn quiet_hides_warnings_and_verbose_prints_figures() {
    let dir = Scratch::new();
    dir.write(
        "p.veil",
        &format!("{POLICY}mask columns matching \"phone\" using null\n"),
    );
    dir.write("identities.yaml", IDENTITIES);
    let loud = Veil::new().args(["validate", dir.arg()]).status(0);
    assert!(loud.stderr.contains("matches no column"), "{}", loud.stderr);
    let quiet = Veil::new().args(["validate", "-q", dir.arg()]).status(0);
    assert!(quiet.stderr.is_empty(), "{}", quiet.stderr);
    let verbose = Veil::new().args(["validate", "-v", "policies"]).status(0);
    assert!(
        verbose.stderr.contains("stats: wall_seconds="),
        "{}",
        verbose.stderr
    );
    Veil::new()
        .args(["validate", "-q", "-v", "policies"])
        .status(1);
}

#[test]
fn fmt_reads_standard_input_and_shows_diffs() {
    let messy = "mask   tagged pii using hash\n";
    let run = Veil::new().args(["fmt", "-"]).stdin(messy).status(0);
    assert_eq!(run.stdout, "mask tagged pii using hash\n");
    let run = Veil::new()
        .args(["fmt", "--check", "-"])
        .stdin(messy)
        .status(1);
    assert_eq!(run.stdout, "would reformat <stdin>\n");
    Veil::new()
        .args(["fmt", "--check", "-"])
        .stdin("mask tagged pii using hash\n")
        .status(0);
    let run = Veil::new()
        .args(["fmt", "-"])
        .stdin("mask tagged")
        .status(1);
    assert!(run.stderr.contains("<stdin>"), "{}", run.stderr);
    // `--diff` prints a unified diff of each file that would change and
    // writes nothing.
    let dir = Scratch::new();
    let file = dir.write("p.veil", messy);
    let run = Veil::new().args(["fmt", "--diff", dir.arg()]).status(1);
    let name = file.display().to_string();
    assert!(
        run.stdout.starts_with(&format!("--- {name}\n+++ {name}\n")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("-mask   tagged pii using hash\n+mask tagged pii using hash\n")
    );
    assert_eq!(std::fs::read_to_string(&file).expect("reads"), messy);
    Veil::new().args(["fmt", dir.arg()]).status(0);
    let run = Veil::new().args(["fmt", "--diff", dir.arg()]).status(0);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
}

#[test]
fn completions_and_the_manual_page_know_every_command() {
    for shell in ["bash", "zsh", "fish"] {
        let run = Veil::new().args(["completions", shell]).status(0);
        for command in ["validate", "plan", "apply", "show", "explain", "fmt"] {
            assert!(run.stdout.contains(command), "{shell}: {command}");
        }
    }
    Veil::new().args(["completions", "tcsh"]).status(1);
    let man = Veil::new().args(["man"]).status(0);
    assert!(man.stdout.contains(".TH veil 1"), "{}", man.stdout);
    assert!(man.stdout.contains("plan"), "{}", man.stdout);
}

#[test]
fn the_projects_sensitive_tags_decide_what_the_markdown_plan_lists_first() {
    let dir = Scratch::new();
    let policy = POLICY.replace(
        "    email text tags(pii)\n",
        "    email text tags(pii)\n    amount numeric(12,2) tags(finance.amount)\n",
    );
    dir.write("p.veil", &policy);
    dir.write("identities.yaml", IDENTITIES);
    let heading = "New access to sensitive columns";
    let markdown = |extra: &[&str]| {
        Veil::new()
            .args(["plan", "--offline", dir.arg(), "--format", "markdown"])
            .args(extra)
            .status(0)
            .stdout
    };
    // By default `pii`: the email is hashed, nothing sensitive is clear.
    assert!(!markdown(&[]).contains(heading));
    dir.write(
        "veil.yaml",
        "# the team's settings\nsensitive_tags: [finance]\n",
    );
    let with_settings = markdown(&[]);
    assert!(with_settings.contains(heading), "{with_settings}");
    // The flag overrides the project's settings.
    assert!(!markdown(&["--sensitive-tag", "pii"]).contains(heading));
    assert!(markdown(&["--sensitive-tag", "pii", "--sensitive-tag", "finance"]).contains(heading));
    // A setting veil does not know, or a tag that is not one, is refused
    // with where and why.
    dir.write("veil.yaml", "sensitve_tags: [finance]\n");
    let run = Veil::new().args(["validate", dir.arg()]).status(1);
    assert!(run.stderr.contains("project::settings"), "{}", run.stderr);
    assert!(run.stderr.contains("sensitive_tags"), "{}", run.stderr);
    dir.write("veil.yaml", "sensitive_tags: [\"Not A Tag\"]\n");
    let run = Veil::new().args(["validate", dir.arg()]).status(1);
    assert!(run.stderr.contains("not a tag"), "{}", run.stderr);
}

#[test]
fn validate_json_output_summarises() {
    let run = Veil::new()
        .args(["validate", "--format", "json", "policies"])
        .status(0);
    let json: serde_json::Value = serde_json::from_str(run.stdout.trim()).expect("valid JSON");
    assert_eq!(json["format_version"], 1);
    assert_eq!(json["valid"], true);
    assert_eq!(json["integrations"], 2);
}

#[test]
fn every_file_reports_its_errors() {
    let dir = Scratch::new();
    dir.write("a.veil", &POLICY.replace("using hash", "using"));
    dir.write("b.veil", "filter s.t where email = 'x'\n");
    dir.write(
        "identities.yaml",
        "groups: [analysts]\nusers:\n  ann:\n    grups: []\n",
    );
    let run = Veil::new()
        .args(["validate", "--error-format", "json", dir.arg()])
        .status(1);
    let files: Vec<String> = run
        .stderr
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("JSON line");
            v["file"]
                .as_str()
                .unwrap_or("")
                .rsplit('/')
                .next()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(
        files,
        ["a.veil", "b.veil", "identities.yaml"],
        "{}",
        run.stderr
    );
}

#[test]
fn project_problems_are_errors() {
    let empty = Scratch::new();
    let run = Veil::new().args(["validate", empty.arg()]).status(1);
    assert!(run.stderr.contains("no `*.veil` files"), "{}", run.stderr);
    assert!(run.stderr.contains("identities.yaml"), "{}", run.stderr);

    let run = Veil::new()
        .args(["validate", "/nonexistent/veil/project"])
        .status(1);
    assert!(
        run.stderr.contains("cannot read directory"),
        "{}",
        run.stderr
    );

    let binary = Scratch::new();
    std::fs::write(binary.path().join("p.veil"), b"mask \xff\xfe").expect("writes");
    binary.write("identities.yaml", IDENTITIES);
    let run = Veil::new().args(["validate", binary.arg()]).status(1);
    assert!(run.stderr.contains("is not UTF-8"), "{}", run.stderr);
}

#[test]
fn usage_errors_exit_1() {
    Veil::new().args(["validate", "--no-such-flag"]).status(1);
    Veil::new().args(["frobnicate"]).status(1);
    Veil::new().args(["--help"]).status(0);
}

#[test]
fn fmt_check_lists_then_fmt_rewrites() {
    let dir = Scratch::new();
    let messy = POLICY
        .replace("  dialect     = postgres", "dialect=postgres")
        .replace("\n\n", "\n\n\n\n");
    let file = dir.write("p.veil", &messy);
    let run = Veil::new().args(["fmt", "--check", dir.arg()]).status(1);
    assert!(run.stdout.contains("would reformat"), "{}", run.stdout);
    assert_eq!(
        std::fs::read_to_string(&file).expect("reads"),
        messy,
        "--check wrote"
    );
    Veil::new().args(["fmt", dir.arg()]).status(0);
    assert_eq!(std::fs::read_to_string(&file).expect("reads"), POLICY);
    Veil::new().args(["fmt", "--check", dir.arg()]).status(0);
}

#[test]
fn fmt_leaves_broken_files_alone() {
    let dir = Scratch::new();
    let broken = "mask x on s.t using\n";
    let file = dir.write("p.veil", broken);
    let run = Veil::new()
        .args(["fmt", file.to_str().expect("utf-8")])
        .status(1);
    assert!(
        run.stderr.contains("expected a mask method"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read_to_string(&file).expect("reads"), broken);
}

#[test]
fn init_writes_a_project_that_validates() {
    let dir = Scratch::new();
    let target = dir.path().join("new");
    let target = target.to_str().expect("utf-8");
    Veil::new().args(["init", target]).status(0);
    let run = Veil::new().args(["validate", target]).status(0);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    Veil::new().args(["fmt", "--check", target]).status(0);
    // With expectations that hold.
    let run = Veil::new().args(["test", target]).status(0);
    assert!(run.stdout.contains("3 expectations"), "{}", run.stdout);
    // Never over an existing project.
    let run = Veil::new().args(["init", target]).status(1);
    assert!(run.stderr.contains("is not empty"), "{}", run.stderr);
}

#[test]
fn commands_default_to_the_current_directory() {
    let dir = Scratch::new();
    dir.write("p.veil", POLICY);
    dir.write("identities.yaml", IDENTITIES);
    Veil::new()
        .args(["validate"])
        .current_dir(dir.path())
        .status(0);
    Veil::new()
        .args(["fmt", "--check"])
        .current_dir(dir.path())
        .status(0);
}

/// Names from a policy file reach the terminal as text, never as control
/// sequences: a raw escape or carriage return in a string (and a `\u{1b}`
/// escape) is shown escaped in messages and as `?` in the snippet, in
/// every human and GitHub rendering.
#[test]
fn control_characters_in_policies_never_reach_the_terminal() {
    let dir = Scratch::new();
    dir.write("p.veil", POLICY);
    dir.write("identities.yaml", IDENTITIES);
    dir.write(
        "t.veil",
        "expect user \"bad\u{1b}[31mred\rann\" on s.t { access granted }\nexpect user \"x\\u{1b}[2J\" on s.t { access granted }\n",
    );
    let path = dir.path().to_str().expect("utf-8");
    for args in [
        vec!["validate", path],
        vec!["test", path],
        vec!["test", path, "--error-format", "github"],
    ] {
        let run = Veil::new().args(&args).run();
        for (stream, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
            let lone_cr = text.replace("\r\n", "").contains('\r');
            assert!(
                !text.contains('\u{1b}') && !lone_cr,
                "{args:?} {stream}: {text:?}"
            );
        }
        assert!(
            run.stderr.contains("bad\\u{1b}[31mred"),
            "{args:?}: {}",
            run.stderr
        );
    }
}
