//! The command line: parses arguments, calls the library, prints, and maps
//! the outcome to an exit code (0 success, 1 any error or refusal).

use crate::commands::{self, Outcome, OutputFormat};
use crate::diagnostic::ErrorFormat;
use clap::{Parser, Subcommand};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// veil compiles data-access policies into secure views for Redshift and
/// PostgreSQL.
#[derive(Debug, Parser)]
#[command(name = "veil", version, about, propagate_version = true)]
pub struct Cli {
    /// How diagnostics are printed (to standard error).
    #[arg(long, global = true, value_enum, default_value = "human")]
    pub error_format: ErrorFormat,

    /// How command output is printed (to standard output).
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub format: OutputFormat,

    /// After the command, print its wall time, peak memory and database
    /// round trips to standard error.
    #[arg(long, global = true)]
    pub stats: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a small working example project.
    Init {
        /// Where to write it; must be empty or absent.
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Parse and check a project; report every problem.
    Validate {
        /// The project directory.
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Write the SQL of every integration, one file per object.
    Compile {
        /// The project directory.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// An empty or absent directory to write into.
        #[arg(long)]
        out: Option<PathBuf>,
        /// What to produce: SQL files, or the intermediate representation.
        #[arg(long, value_enum, default_value = "sql")]
        emit: commands::Emit,
    },
    /// Compare the compiled project with what is deployed, and show the changes.
    Plan {
        /// The project directory (or, with `--format sql`, a plan saved
        /// with `--out`).
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Compare without a database: with an empty deployment, or with
        /// `--against`.
        #[arg(long)]
        offline: bool,
        /// Another checkout of the project to compare with (offline only).
        #[arg(long, requires = "offline")]
        against: Option<PathBuf>,
        /// Limit the plan to these integrations.
        #[arg(long = "integration")]
        integrations: Vec<String>,
        /// Exit 2 when there are changes, 0 when there are none.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Save the plan for `veil apply PLAN_FILE`.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Columns with this tag (or one below it) count as sensitive in the
        /// access impact.
        #[arg(long, default_value = "pii")]
        sensitive_tag: String,
        /// The wait for another apply that `--format sql` writes into the
        /// script, such as `30s` or `2m`.
        #[arg(long, default_value = "30s", value_parser = commands::parse_timeout)]
        lock_timeout: std::time::Duration,
        /// Plan taking back veil's objects after its record of them was
        /// lost: made again from the policies, the hashing key kept.
        #[arg(long, conflicts_with = "offline")]
        recover: bool,
    },
    /// Plan against the databases and carry the plan out.
    Apply {
        /// The project directory, or a plan saved with `veil plan --out`.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Apply without asking (required without a terminal).
        #[arg(long)]
        auto_approve: bool,
        /// Limit the apply to these integrations.
        #[arg(long = "integration")]
        integrations: Vec<String>,
        /// How long to wait for another apply, such as `30s` or `2m`.
        #[arg(long, default_value = "30s", value_parser = commands::parse_timeout)]
        lock_timeout: std::time::Duration,
        /// Write every statement sent to this file, as sent (the key as its
        /// placeholder): what `veil plan --format sql` printed.
        #[arg(long)]
        log_sql: Option<PathBuf>,
        /// Take back veil's objects after its record of them was lost
        /// (see `veil plan --recover`).
        #[arg(long)]
        recover: bool,
    },
    /// Print a plan saved with `veil plan --out`, as the plan printed it
    /// (`--format text|json|markdown`, or `sql` for its apply scripts).
    Show {
        /// The saved plan.
        plan: PathBuf,
        /// The wait for another apply that `--format sql` writes into the
        /// scripts, such as `30s` or `2m`.
        #[arg(long, default_value = "30s", value_parser = commands::parse_timeout)]
        lock_timeout: std::time::Duration,
    },
    /// What a user sees of each source and which rule decides each column
    /// and row filter; with `--source` alone, every user against that source.
    Explain {
        /// The project directory.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// The user to explain.
        #[arg(long)]
        user: Option<String>,
        /// Only this source.
        #[arg(long)]
        source: Option<String>,
    },
    /// Rewrite policy files in the canonical layout.
    Fmt {
        /// List the files that would change and exit 1, writing nothing.
        #[arg(long)]
        check: bool,
        /// The project directory, or policy files.
        #[arg(default_value = ".")]
        paths: Vec<PathBuf>,
    },
}

/// Runs the command line and returns the process exit code.
pub fn run() -> ExitCode {
    let started = std::time::Instant::now();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return match error.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(1),
            };
        }
    };
    let outcome = match &cli.command {
        Command::Init { dir } => commands::init(dir),
        Command::Validate { dir } => commands::validate(dir, cli.format),
        Command::Fmt { check, paths } => commands::fmt(paths, *check),
        Command::Compile { dir, out, emit } => commands::compile(dir, out.as_deref(), *emit),
        Command::Explain { dir, user, source } => {
            commands::explain(dir, user.as_deref(), source.as_deref(), cli.format)
        }
        Command::Apply {
            dir,
            auto_approve,
            integrations,
            lock_timeout,
            log_sql,
            recover,
        } => commands::apply(
            dir,
            &commands::ApplyOptions {
                integrations,
                auto_approve: *auto_approve,
                interactive: std::io::stdin().is_terminal(),
                lock_timeout: *lock_timeout,
                color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
                log_sql: log_sql.as_deref(),
                recover: *recover,
            },
            &mut |line| eprintln!("{line}"),
        ),
        Command::Show { plan, lock_timeout } => commands::show(
            plan,
            cli.format,
            std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            *lock_timeout,
        ),
        Command::Plan {
            dir,
            offline,
            against,
            integrations,
            detailed_exitcode,
            out,
            sensitive_tag,
            lock_timeout,
            recover,
        } => commands::plan(
            dir,
            &commands::PlanOptions {
                offline: *offline,
                against: against.as_deref(),
                integrations,
                format: cli.format,
                color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
                detailed_exitcode: *detailed_exitcode,
                out: out.as_deref(),
                sensitive_tag,
                lock_timeout: *lock_timeout,
                recover: *recover,
            },
        ),
    };
    let code = report(&cli, outcome);
    if cli.stats {
        eprintln!("{}", stats(started.elapsed()));
    }
    code
}

/// One line of figures about this run, `key=value` separated by spaces.
fn stats(wall: std::time::Duration) -> String {
    // The kernel's high-water mark of the process's resident memory.
    let peak = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(format!("{:.1}", kb / 1024.0))
        })
        .unwrap_or_else(|| "unknown".into());
    format!(
        "stats: wall_seconds={:.3} peak_memory_mb={peak} round_trips={}",
        wall.as_secs_f64(),
        crate::db::round_trips()
    )
}

/// Prints an outcome: diagnostics to standard error, output to standard out.
fn report(cli: &Cli, outcome: Outcome) -> ExitCode {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let rendered = crate::diagnostic::render_all(
        &outcome.files,
        &outcome.diagnostics,
        cli.error_format,
        color,
    );
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(rendered.as_bytes());
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(outcome.output.as_bytes());
    ExitCode::from(outcome.status.code())
}
