//! The benchmark suite: every figure of BENCHMARKS.md, measured the same way
//! each time. `benches/bench.rs` runs it at full size (`cargo bench`);
//! `tests/bench.rs` runs a small version so it keeps working. Nothing here
//! judges speed: it measures, checks that each step did what it should, and
//! prints.
//!
//! Every `veil` run is a separate process started with `--stats`, which
//! reports the process's own wall time, peak memory (the kernel's high-water
//! mark of resident memory) and SQL round trips.

#![allow(dead_code)]

pub mod query;
pub mod synth;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use synth::{Layout, Memberships, Spec};

/// How big each part of the suite is.
#[derive(Debug, Clone)]
pub struct Sizes {
    /// Compile: source counts, each twice the one before.
    pub compile: Vec<usize>,
    /// How many times each compile runs (the median is reported).
    pub compile_runs: usize,
    /// Plan and apply: the deployment's sources. The no-change plan is also
    /// measured on a deployment a quarter that size, to compare round trips.
    pub deploy: usize,
    /// One user's change: the users (all different) of a 100-source
    /// deployment.
    pub user_change: usize,
    /// Query cost: the table's rows, the profile's users, runs of each query.
    pub query_rows: usize,
    pub query_users: usize,
    pub query_runs: usize,
    /// Run only this part (`compile`, `deploy` or `query`); all when `None`.
    pub only: Option<String>,
}

impl Sizes {
    fn runs(&self, part: &str) -> bool {
        self.only.as_deref().is_none_or(|only| only == part)
    }

    /// The sizes the figures of BENCHMARKS.md are measured at.
    pub fn full() -> Sizes {
        Sizes {
            compile: vec![1_250, 2_500, 5_000, 10_000],
            compile_runs: 3,
            deploy: 5_000,
            user_change: 20_000,
            query_rows: 1_000_000,
            query_users: 20_000,
            query_runs: 5,
            only: None,
        }
    }

    /// A small run that exercises every step in seconds.
    pub fn small() -> Sizes {
        Sizes {
            compile: vec![25, 50],
            compile_runs: 1,
            deploy: 50,
            user_change: 200,
            query_rows: 10_000,
            query_users: 200,
            query_runs: 5,
            only: None,
        }
    }
}

/// What one `veil … --stats` run reported.
#[derive(Debug, Clone)]
pub struct Run {
    pub code: i32,
    pub wall: Duration,
    pub peak_mb: f64,
    pub round_trips: u64,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `veil ARGS --stats`, with extra environment variables.
pub fn veil(exe: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let started = Instant::now();
    let output = Command::new(exe)
        .args(args)
        .arg("--stats")
        .envs(env.iter().copied())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("runs veil");
    let outside = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let stat = |key: &str| -> Option<f64> {
        let line = stderr.lines().rev().find(|l| l.starts_with("stats: "))?;
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))?
            .parse()
            .ok()
    };
    Run {
        code: output.status.code().unwrap_or(-1),
        // The process's own clock, or the one outside when it died early.
        wall: stat("wall_seconds").map_or(outside, Duration::from_secs_f64),
        peak_mb: stat("peak_memory_mb").unwrap_or(f64::NAN),
        round_trips: stat("round_trips").unwrap_or(f64::NAN) as u64,
        stdout,
        stderr,
    }
}

impl Run {
    /// Panics with the run's output unless it exited with `code`.
    pub fn expect_code(self, code: i32, what: &str) -> Run {
        assert_eq!(
            self.code, code,
            "{what}: exit {}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }
}

/// The median of some durations.
pub fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

/// A scratch directory under the system's temporary directory, removed when
/// dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("veil-bench-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creates a scratch directory");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The PostgreSQL server the suite uses (trust authentication).
pub const SERVER: &str = "host=127.0.0.1 port=5432 user=postgres";

/// A database of its own, dropped with everything in it when dropped.
pub struct Database {
    pub name: String,
}

impl Database {
    pub fn create(tag: &str) -> Database {
        let name = format!("veil_bench_{tag}_{}", std::process::id());
        admin(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        admin(&format!("CREATE DATABASE {name}"));
        Database { name }
    }

    /// A copy of `template`, which must have no open connection.
    pub fn copy_of(template: &Database, tag: &str) -> Database {
        let name = format!("veil_bench_{tag}_{}", std::process::id());
        admin(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        admin(&format!(
            "CREATE DATABASE {name} TEMPLATE {}",
            template.name
        ));
        Database { name }
    }

    /// A libpq key=value connection string.
    pub fn conninfo(&self) -> String {
        format!("{SERVER} dbname={}", self.name)
    }

    /// A URL for veil.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{}", self.name)
    }

    pub fn execute(&self, sql: &str) {
        let mut client =
            postgres::Client::connect(&self.conninfo(), postgres::NoTls).expect("connects");
        client.batch_execute(sql).expect("runs the statements");
    }

    /// Runs a file with `psql -1 -f` and returns the time it took.
    pub fn psql_file(&self, file: &Path) -> Duration {
        let started = Instant::now();
        let output = Command::new("psql")
            .args(["-h", "127.0.0.1", "-p", "5432", "-U", "postgres"])
            .args(["-d", &self.name, "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1"])
            .arg("-f")
            .arg(file)
            .stdout(Stdio::null())
            .output()
            .expect("runs psql");
        let took = started.elapsed();
        assert!(
            output.status.success(),
            "psql -1 -f failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        took
    }
}

/// Whether the suite keeps its databases (and the roles that own objects
/// in them): `VEIL_BENCH_KEEP`.
pub fn keep() -> bool {
    std::env::var_os("VEIL_BENCH_KEEP").is_some()
}

impl Drop for Database {
    fn drop(&mut self) {
        if !keep() {
            admin(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

fn admin(sql: &str) {
    let mut client =
        postgres::Client::connect(&format!("{SERVER} dbname=postgres"), postgres::NoTls)
            .expect("connects to the PostgreSQL server on 127.0.0.1:5432");
    client.batch_execute(sql).expect("runs an admin statement");
}

/// Compile at one size.
#[derive(Debug, Clone)]
pub struct CompileFigure {
    pub memberships: Memberships,
    pub sources: usize,
    pub rules: usize,
    pub users: usize,
    pub wall: Duration,
    pub peak_mb: f64,
    pub sql_mb: f64,
}

/// The no-change plan at one deployment size.
#[derive(Debug, Clone)]
pub struct PlanFigure {
    pub sources: usize,
    pub wall: Duration,
    pub round_trips: u64,
}

/// Everything the suite measured.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    /// Users alike (a few hundred kinds), then users all different.
    pub compile: Vec<CompileFigure>,
    pub compile_distinct: Vec<CompileFigure>,
    pub plans: Vec<PlanFigure>,
    pub apply: Option<Duration>,
    pub psql: Option<Duration>,
    pub one_rule_objects: Vec<String>,
    pub one_rule_statements: usize,
    /// One user's group change: apply's wall time and statements.
    pub user_change: Option<(Duration, usize)>,
    pub query: Vec<query::QueryFigure>,
}

/// Runs every part of the suite, printing as it goes.
pub fn run(exe: &Path, sizes: &Sizes, out: &mut dyn std::io::Write) -> Figures {
    let mut figures = Figures::default();
    if sizes.runs("compile") {
        compile_all(exe, sizes, &mut figures, out);
    }
    if sizes.runs("deploy") {
        let _ = writeln!(out, "\n# plan and apply on PostgreSQL");
        deploy(exe, sizes.deploy / 4, false, &mut figures, out);
        deploy(exe, sizes.deploy, true, &mut figures, out);
        user_change(exe, sizes.user_change, &mut figures, out);
    }
    if sizes.runs("query") {
        let _ = writeln!(
            out,
            "\n# query cost: {} rows, {} users",
            sizes.query_rows, sizes.query_users
        );
        figures.query = query::run(sizes.query_rows, sizes.query_users, sizes.query_runs, out);
    }
    figures
}

/// Compiles at every size, users alike and then users all different,
/// printing the growth per doubling.
fn compile_all(exe: &Path, sizes: &Sizes, figures: &mut Figures, out: &mut dyn std::io::Write) {
    // Every run writes a directory of its own, all removed at the end: a
    // file system slows down creating files right after deleting many
    // (ext4 without a journal skips recently freed inodes one by one).
    let mut outputs = Vec::new();
    for (memberships, title) in [
        (Memberships::Alike, "users alike (a few hundred kinds)"),
        (Memberships::Distinct, "users all different"),
    ] {
        let _ = writeln!(
            out,
            "# compile, {title} ({} run(s) each, median)",
            sizes.compile_runs
        );
        let mut done: Vec<CompileFigure> = Vec::new();
        for &sources in &sizes.compile {
            let spec = match memberships {
                Memberships::Alike => Spec::standard(sources, Layout::Mixed),
                Memberships::Distinct => Spec::distinct(sources, Layout::Mixed),
            };
            let (figure, scratch) = compile(exe, &spec, sizes.compile_runs);
            outputs.push(scratch);
            let growth = done
                .last()
                .map(|before| {
                    format!(
                        "  ×{:.2} time, ×{:.2} memory per doubling",
                        figure.wall.as_secs_f64() / before.wall.as_secs_f64(),
                        figure.peak_mb / before.peak_mb
                    )
                })
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "compile {:>6} sources, {:>5} rules, {:>6} users: {:>7.3} s, peak {:>7.1} MB, {:>6.1} MB of SQL{growth}",
                figure.sources,
                figure.rules,
                figure.users,
                figure.wall.as_secs_f64(),
                figure.peak_mb,
                figure.sql_mb
            );
            done.push(figure);
        }
        match memberships {
            Memberships::Alike => figures.compile = done,
            Memberships::Distinct => figures.compile_distinct = done,
        }
    }
}

/// Compiles the project `spec` describes `runs` times; the outputs stay in
/// the returned scratch directory.
fn compile(exe: &Path, spec: &Spec, runs: usize) -> (CompileFigure, Scratch) {
    let sources = spec.sources;
    let tag = match spec.memberships {
        Memberships::Alike => "alike",
        Memberships::Distinct => "distinct",
    };
    let scratch = Scratch::new(&format!("compile-{tag}-{sources}"));
    let project = scratch.0.join("project");
    synth::write(&project, spec).expect("writes the project");
    let mut walls = Vec::new();
    let mut peaks = Vec::new();
    let mut sql_mb = 0.0;
    for i in 0..runs.max(1) {
        let out = scratch.0.join(format!("out-{i}"));
        let run = veil(exe, &["compile", path(&project), "--out", path(&out)], &[])
            .expect_code(0, "veil compile");
        walls.push(run.wall);
        peaks.push(run.peak_mb);
        sql_mb = directory_bytes(&out) as f64 / 1e6;
    }
    peaks.sort_by(f64::total_cmp);
    let figure = CompileFigure {
        memberships: spec.memberships,
        sources,
        rules: spec.rules,
        users: spec.users,
        wall: median(walls),
        peak_mb: peaks[peaks.len() / 2],
        sql_mb,
    };
    (figure, scratch)
}

/// Deploys a synthetic PostgreSQL project of `sources` sources and measures
/// the no-change plan; with `full`, also the full apply against `psql -1 -f`
/// and a one-rule change.
fn deploy(
    exe: &Path,
    sources: usize,
    full: bool,
    figures: &mut Figures,
    out: &mut dyn std::io::Write,
) {
    let sources = sources.max(1);
    check_lock_capacity(sources);
    let scratch = Scratch::new(&format!("deploy-{sources}"));
    let target = Database::create(&format!("deploy_{sources}"));
    let url_var = "VEIL_BENCH_URL";
    // Users whose memberships all differ: the workload the figures are for.
    let spec = Spec::distinct(
        sources,
        Layout::Postgres {
            database: target.name.clone(),
            url_var: url_var.into(),
        },
    );
    let project = scratch.0.join("project");
    synth::write(&project, &spec).expect("writes the project");
    let started = Instant::now();
    // In batches: one transaction per table would be slow, one for all
    // would need a lock per table.
    let statements: Vec<String> = synth::tables_sql(&spec)
        .lines()
        .map(str::to_string)
        .collect();
    for batch in statements.chunks(500) {
        target.execute(&batch.join("\n"));
    }
    let _ = writeln!(
        out,
        "deployment of {sources} sources, {} rules, {} users: base tables created in {:.1} s",
        spec.rules,
        spec.users,
        started.elapsed().as_secs_f64()
    );
    let url = target.url();
    let env = [(url_var, url.as_str())];

    if full {
        // The same SQL, run by psql in one transaction, in a copy.
        let copy = Database::copy_of(&target, &format!("psql_{sources}"));
        let compiled = scratch.0.join("compiled");
        veil(
            exe,
            &["compile", path(&project), "--out", path(&compiled)],
            &[],
        )
        .expect_code(0, "veil compile");
        let all = scratch.0.join("all.sql");
        concatenate(&compiled.join("app"), &all);
        let psql = copy.psql_file(&all);
        figures.psql = Some(psql);
        let _ = writeln!(
            out,
            "psql -1 -f of the compiled SQL ({:.1} MB): {:.3} s",
            std::fs::metadata(&all).map_or(0, |m| m.len()) as f64 / 1e6,
            psql.as_secs_f64()
        );
    }
    let apply =
        veil(exe, &["apply", path(&project), "--auto-approve"], &env).expect_code(0, "veil apply");
    let _ = writeln!(
        out,
        "veil apply from empty: {:.3} s, peak {:.1} MB, {} round trips",
        apply.wall.as_secs_f64(),
        apply.peak_mb,
        apply.round_trips
    );
    if full {
        figures.apply = Some(apply.wall);
        if let Some(psql) = figures.psql {
            let _ = writeln!(
                out,
                "full apply / psql -1 -f: {:.2}",
                apply.wall.as_secs_f64() / psql.as_secs_f64()
            );
        }
    }

    let plans: Vec<Run> = (0..3)
        .map(|_| {
            veil(exe, &["plan", path(&project), "--detailed-exitcode"], &env)
                .expect_code(0, "veil plan right after apply")
        })
        .collect();
    let round_trips = plans[0].round_trips;
    assert!(
        plans.iter().all(|p| p.round_trips == round_trips),
        "the no-change plan's round trips vary between runs"
    );
    let wall = median(plans.iter().map(|p| p.wall).collect());
    let _ = writeln!(
        out,
        "no-change plan: {:.3} s (median of 3), peak {:.1} MB, {round_trips} round trips",
        wall.as_secs_f64(),
        plans[0].peak_mb
    );
    figures.plans.push(PlanFigure {
        sources,
        wall,
        round_trips,
    });

    if full {
        let policy = project.join("policy.veil");
        let text = std::fs::read_to_string(&policy).expect("reads the policy");
        let (rule, changed) = synth::first_mask_change(&spec);
        assert!(text.contains(&rule), "the generated policy has `{rule}`");
        std::fs::write(&policy, text.replacen(&rule, &changed, 1)).expect("changes one rule");
        let planned = veil(
            exe,
            &[
                "plan",
                path(&project),
                "--format",
                "json",
                "--detailed-exitcode",
            ],
            &env,
        )
        .expect_code(2, "veil plan after a one-rule change");
        figures.one_rule_objects = changed_objects(&planned.stdout);
        let applied = veil(exe, &["apply", path(&project), "--auto-approve"], &env)
            .expect_code(0, "veil apply of a one-rule change");
        figures.one_rule_statements = applied_statements(&applied.stderr);
        let _ = writeln!(
            out,
            "one-rule change: objects changed {:?}; apply {:.3} s, {} statements in its transaction, {} round trips in all",
            figures.one_rule_objects,
            applied.wall.as_secs_f64(),
            figures.one_rule_statements,
            applied.round_trips
        );
        veil(exe, &["plan", path(&project), "--detailed-exitcode"], &env)
            .expect_code(0, "veil plan after applying the change");
    }
}

/// One user's group change on a deployment of 100 sources and `users`
/// users whose memberships all differ: what apply takes and sends.
fn user_change(exe: &Path, users: usize, figures: &mut Figures, out: &mut dyn std::io::Write) {
    let scratch = Scratch::new("user-change");
    let target = Database::create("user_change");
    let url_var = "VEIL_BENCH_URL";
    let spec = Spec {
        users,
        ..Spec::distinct(
            100,
            Layout::Postgres {
                database: target.name.clone(),
                url_var: url_var.into(),
            },
        )
    };
    let project = scratch.0.join("project");
    synth::write(&project, &spec).expect("writes the project");
    target.execute(&synth::tables_sql(&spec));
    let url = target.url();
    let env = [(url_var, url.as_str())];
    veil(exe, &["apply", path(&project), "--auto-approve"], &env).expect_code(0, "veil apply");
    let identities = project.join("identities.yaml");
    let text = std::fs::read_to_string(&identities).expect("reads the identities");
    let at = text.find("\n  user_0:\n").expect("user_0 is there") + "\n  user_0:\n".len();
    let end = at + text[at..].find('\n').expect("a line");
    assert!(
        text[at..end].trim_start().starts_with("groups:"),
        "{}",
        &text[at..end]
    );
    let changed = format!("{}    groups: []{}", &text[..at], &text[end..]);
    std::fs::write(&identities, changed).expect("changes one user's groups");
    let applied = veil(exe, &["apply", path(&project), "--auto-approve"], &env)
        .expect_code(0, "veil apply of one user's change");
    let statements = applied_statements(&applied.stderr);
    figures.user_change = Some((applied.wall, statements));
    let _ = writeln!(
        out,
        "one user's group change at {users} users (100 sources): apply {:.3} s, peak {:.1} MB, {statements} statements in its transaction, {} round trips in all",
        applied.wall.as_secs_f64(),
        applied.peak_mb,
        applied.round_trips
    );
    veil(exe, &["plan", path(&project), "--detailed-exitcode"], &env)
        .expect_code(0, "veil plan after applying the change");
}

/// Apply creates every view in one transaction, and PostgreSQL holds a lock
/// on each view and each table it reads until the end: the server's lock
/// table (`max_locks_per_transaction` × connections) must hold them.
fn check_lock_capacity(sources: usize) {
    let mut client =
        postgres::Client::connect(&format!("{SERVER} dbname=postgres"), postgres::NoTls)
            .expect("connects to the PostgreSQL server on 127.0.0.1:5432");
    let mut setting = |name: &str| -> usize {
        client
            .query_one(&format!("SHOW {name}"), &[])
            .ok()
            .and_then(|row| row.get::<_, String>(0).parse().ok())
            .unwrap_or(0)
    };
    let slots = setting("max_locks_per_transaction")
        * (setting("max_connections") + setting("max_prepared_transactions"));
    let needed = 3 * sources + 100;
    assert!(
        slots >= needed,
        "a {sources}-source apply holds about {needed} locks in one transaction, but this server's lock table has {slots} slots: \
         raise max_locks_per_transaction (ALTER SYSTEM SET max_locks_per_transaction = 512, then restart the server)"
    );
}

fn path(p: &Path) -> &str {
    p.to_str().expect("scratch paths are UTF-8")
}

/// Total size of the files in a directory tree.
fn directory_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => directory_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Writes an integration's compiled files, in the manifest's order, into one
/// file.
fn concatenate(integration_dir: &Path, into: &Path) {
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(integration_dir.join("manifest.json")).expect("reads manifest"),
    )
    .expect("parses manifest");
    let mut all = std::fs::File::create(into).expect("creates the SQL file");
    for file in manifest["files"].as_array().expect("a file list") {
        let name = file["file"].as_str().expect("a file name");
        let sql = std::fs::read(integration_dir.join(name)).expect("reads a compiled file");
        all.write_all(&sql).expect("writes");
        all.write_all(b"\n").expect("writes");
    }
}

/// The objects a JSON plan changes, as `action kind name`.
fn changed_objects(json: &str) -> Vec<String> {
    let plan: serde_json::Value = serde_json::from_str(json).expect("a JSON plan");
    let mut objects = Vec::new();
    for integration in plan["integrations"].as_array().into_iter().flatten() {
        for change in integration["changes"].as_array().into_iter().flatten() {
            objects.push(format!(
                "{} {} {}",
                change["action"].as_str().unwrap_or("?"),
                change["kind"].as_str().unwrap_or("?"),
                change["object"].as_str().unwrap_or("?")
            ));
        }
        let profile = integration["profile"].as_array().map_or(0, Vec::len);
        if profile > 0 {
            objects.push(format!("{profile} profile rows"));
        }
    }
    objects
}

/// The statement count apply reports: `applied (N statements, …)`.
fn applied_statements(stderr: &str) -> usize {
    stderr
        .lines()
        .find_map(|l| {
            let rest = l.split_once("applied (")?.1;
            rest.split_whitespace().next()?.parse().ok()
        })
        .unwrap_or(0)
}
