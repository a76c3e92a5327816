//! The command line: parses arguments, calls the library, prints, and maps
//! the outcome to an exit code (0 success, 1 any error or refusal).

use crate::commands::{self, Outcome, OutputFormat};
use crate::diagnostic::ErrorFormat;
use clap::{CommandFactory, Parser, Subcommand};
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

    /// When to colour output: `auto` colours a terminal, unless `NO_COLOR`
    /// is set (`CLICOLOR_FORCE` colours even a pipe).
    #[arg(long, global = true, value_enum, default_value = "auto")]
    pub color: ColorChoice,

    /// Print only errors and the command's output: no warnings, no progress.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Also print the figures `--stats` prints.
    #[arg(short, long, global = true)]
    pub verbose: bool,

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
        /// The environment of veil.yaml to compile for (its hosts, databases
        /// and connection variables).
        #[arg(long, short = 'e')]
        environment: Option<String>,
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
        /// access impact; repeatable. Without it, the project's
        /// `sensitive_tags` (veil.yaml), else `pii`.
        #[arg(long = "sensitive-tag")]
        sensitive_tags: Vec<String>,
        /// The wait for another apply that `--format sql` writes into the
        /// script, such as `30s` or `2m`.
        #[arg(long, default_value = "30s", value_parser = commands::parse_timeout)]
        lock_timeout: std::time::Duration,
        /// Plan taking back veil's objects after its record of them was
        /// lost: made again from the policies, the hashing key kept.
        #[arg(long, conflicts_with = "offline")]
        recover: bool,
        /// The environment of veil.yaml to plan for (its hosts, databases
        /// and connection variables).
        #[arg(long, short = 'e')]
        environment: Option<String>,
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
        /// The environment of veil.yaml to apply (a plan file made for another is refused) (its hosts, databases
        /// and connection variables).
        #[arg(long, short = 'e')]
        environment: Option<String>,
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
    /// Check every expectation (`expect user "NAME" on SOURCE { … }`)
    /// against the policies, offline: exit 0 when all hold, 1 otherwise.
    Test {
        /// The project directory.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Also ask each reachable PostgreSQL integration, acting as each
        /// expectation's user (SET ROLE), what its views return.
        #[arg(long)]
        live: bool,
        /// The environment of veil.yaml to ask with `--live` (its hosts, databases
        /// and connection variables).
        #[arg(long, short = 'e')]
        environment: Option<String>,
    },
    /// Write a `source` block for every table of an integration's database
    /// that the project does not declare yet, into new files.
    Import {
        /// The project directory.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// The integration whose database is read.
        #[arg(long)]
        integration: String,
        /// Only tables of this schema; repeatable.
        #[arg(long = "schema")]
        schemas: Vec<String>,
        /// Only tables whose name (or `schema.table`) matches, `*` any
        /// characters; repeatable.
        #[arg(long = "table")]
        tables: Vec<String>,
        /// Views too, not only tables.
        #[arg(long)]
        views: bool,
        /// Write every source into this new file instead of one file per
        /// schema.
        #[arg(long, conflicts_with = "check")]
        out: Option<PathBuf>,
        /// Write nothing; report declared sources whose tables, columns or
        /// types differ from the catalog (exit 1 when one does).
        #[arg(long)]
        check: bool,
        /// The environment of veil.yaml to read the database of (its hosts, databases
        /// and connection variables).
        #[arg(long, short = 'e')]
        environment: Option<String>,
    },
    /// Print the completion script of a shell (`source <(veil completions
    /// bash)`).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print veil's manual page (roff: `veil man | man -l -`).
    Man,
    /// Rewrite policy files in the canonical layout (`-` formats standard
    /// input to standard output).
    Fmt {
        /// List the files that would change and exit 1, writing nothing.
        #[arg(long, conflicts_with = "diff")]
        check: bool,
        /// Print how each file would change and exit 1 if one would,
        /// writing nothing.
        #[arg(long)]
        diff: bool,
        /// The project directory, or policy files, or `-`.
        #[arg(default_value = ".")]
        paths: Vec<PathBuf>,
    },
}

/// When output is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether to colour a stream that is (or is not) a terminal.
    pub fn colors(self, terminal: bool) -> bool {
        let set = |var: &str| std::env::var_os(var).is_some_and(|v| !v.is_empty() && v != "0");
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) => {
                false
            }
            ColorChoice::Auto => terminal || set("CLICOLOR_FORCE"),
        }
    }
}

impl Command {
    /// The name the command line gives the command.
    fn name(&self) -> &'static str {
        match self {
            Command::Init { .. } => "init",
            Command::Validate { .. } => "validate",
            Command::Compile { .. } => "compile",
            Command::Plan { .. } => "plan",
            Command::Apply { .. } => "apply",
            Command::Show { .. } => "show",
            Command::Explain { .. } => "explain",
            Command::Test { .. } => "test",
            Command::Fmt { .. } => "fmt",
            Command::Completions { .. } => "completions",
            Command::Import { .. } => "import",
            Command::Man => "man",
        }
    }

    /// The `--format`s the command prints.
    fn formats(&self) -> &'static [OutputFormat] {
        use OutputFormat::*;
        match self {
            Command::Init { .. } | Command::Compile { .. } | Command::Fmt { .. } => &[Text],
            Command::Completions { .. } | Command::Man | Command::Import { .. } => &[Text],
            Command::Apply { .. } => &[Text],
            Command::Validate { .. } | Command::Explain { .. } | Command::Test { .. } => {
                &[Text, Json]
            }
            Command::Plan { .. } | Command::Show { .. } => &[Text, Json, Markdown, Sql],
        }
    }
}

/// A command's output that succeeded.
fn printed(output: String) -> Outcome {
    Outcome {
        output,
        status: commands::Status::Succeeded,
        ..Outcome::default()
    }
}

/// A usage error: the message clap would print, exit 1.
fn usage(message: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "error: {message}");
    ExitCode::from(1)
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
    if !cli.command.formats().contains(&cli.format) {
        let name = cli.command.name();
        let format = clap::ValueEnum::to_possible_value(&cli.format)
            .map(|v| v.get_name().to_string())
            .unwrap_or_default();
        return usage(&format!(
            "`veil {name}` does not print `--format {format}`; it prints {}",
            cli.command
                .formats()
                .iter()
                .filter_map(clap::ValueEnum::to_possible_value)
                .map(|v| format!("`{}`", v.get_name()))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let color = cli.color.colors(std::io::stdout().is_terminal());
    let quiet = cli.quiet;
    let mut progress = |line: &str| {
        if !quiet {
            eprintln!("{line}");
        }
    };
    let outcome = match &cli.command {
        Command::Init { dir } => commands::init(dir),
        Command::Import {
            dir,
            integration,
            schemas,
            tables,
            views,
            out,
            check,
            environment,
        } => commands::import(
            dir,
            &commands::ImportOptions {
                integration,
                schemas,
                tables,
                views: *views,
                out: out.as_deref(),
                check: *check,
                environment: environment.as_deref(),
            },
        ),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "veil", &mut script);
            printed(String::from_utf8_lossy(&script).into_owned())
        }
        Command::Man => {
            let mut page = Vec::new();
            match clap_mangen::Man::new(Cli::command()).render(&mut page) {
                Ok(()) => printed(String::from_utf8_lossy(&page).into_owned()),
                Err(e) => return usage(&format!("cannot render the manual page: {e}")),
            }
        }
        Command::Validate { dir } => commands::validate(dir, cli.format),
        Command::Fmt { check, diff, paths } => {
            let mode = match (check, diff) {
                (true, _) => commands::FmtMode::Check,
                (_, true) => commands::FmtMode::Diff,
                _ => commands::FmtMode::Write,
            };
            if paths.iter().any(|p| p.as_os_str() == "-") {
                if paths.len() > 1 {
                    return usage("`veil fmt -` formats standard input alone");
                }
                let mut text = String::new();
                if let Err(e) = std::io::Read::read_to_string(&mut std::io::stdin(), &mut text) {
                    return usage(&format!("cannot read standard input as UTF-8: {e}"));
                }
                commands::fmt_text(text, mode)
            } else {
                commands::fmt(paths, mode)
            }
        }
        Command::Compile {
            dir,
            out,
            emit,
            environment,
        } => commands::compile(dir, out.as_deref(), *emit, environment.as_deref()),
        Command::Test {
            dir,
            live,
            environment,
        } => commands::test(dir, cli.format, *live, environment.as_deref()),
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
            environment,
        } => commands::apply(
            dir,
            &commands::ApplyOptions {
                integrations,
                auto_approve: *auto_approve,
                interactive: std::io::stdin().is_terminal(),
                lock_timeout: *lock_timeout,
                color,
                log_sql: log_sql.as_deref(),
                recover: *recover,
                environment: environment.as_deref(),
            },
            &mut progress,
        ),
        Command::Show { plan, lock_timeout } => {
            commands::show(plan, cli.format, color, *lock_timeout)
        }
        Command::Plan {
            dir,
            offline,
            against,
            integrations,
            detailed_exitcode,
            out,
            sensitive_tags,
            lock_timeout,
            recover,
            environment,
        } => commands::plan(
            dir,
            &commands::PlanOptions {
                offline: *offline,
                against: against.as_deref(),
                integrations,
                format: cli.format,
                color,
                detailed_exitcode: *detailed_exitcode,
                out: out.as_deref(),
                sensitive_tags,
                lock_timeout: *lock_timeout,
                recover: *recover,
                environment: environment.as_deref(),
            },
        ),
    };
    let code = report(&cli, outcome);
    if cli.stats || cli.verbose {
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
fn report(cli: &Cli, mut outcome: Outcome) -> ExitCode {
    let color = cli.color.colors(std::io::stderr().is_terminal());
    if cli.quiet {
        outcome.diagnostics.retain(|d| d.is_error());
    }
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
