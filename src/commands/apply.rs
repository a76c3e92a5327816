//! `veil apply`: carries out a plan one integration after another, each in
//! one transaction: a saved plan exactly as it was reviewed, or a fresh plan
//! of a project directory.

use super::{Outcome, Status};
use crate::apply;
use crate::db;
use crate::diagnostic::{Code, Diagnostic, Files};
use crate::plan::online::plan_online;
use crate::plan::render;
use crate::plan::saved::{load, same_plan};
use crate::plan::script::Prepared;
use crate::project::ProjectSource;
use std::io::BufRead;
use std::path::Path;
use std::time::Duration;

/// Options of `veil apply`.
pub struct ApplyOptions<'a> {
    pub integrations: &'a [String],
    pub auto_approve: bool,
    /// Whether standard input is a terminal a person can answer on.
    pub interactive: bool,
    pub lock_timeout: Duration,
    pub color: bool,
    /// Where to write every statement sent.
    pub log_sql: Option<&'a Path>,
    /// Recover lost state (`plan::recover`).
    pub recover: bool,
    /// The environment of `veil.yaml` to apply; a plan file made for
    /// another is refused.
    pub environment: Option<&'a str>,
}

/// Parses `30s` or `2m`.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let value: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as `30s` or `2m`"))?;
    if value == 0 {
        return Err(
            "a timeout of 0 would wait forever on PostgreSQL: give one such as `30s` or `2m`"
                .into(),
        );
    }
    match unit {
        "s" => Ok(Duration::from_secs(value)),
        "m" => Ok(Duration::from_secs(value * 60)),
        _ => Err(format!("`{text}` is not a duration such as `30s` or `2m`")),
    }
}

/// Runs `veil apply`: a saved plan (derived again and compared) or a fresh
/// plan of a directory, approved, then applied one integration after
/// another.
pub fn apply(target: &Path, options: &ApplyOptions<'_>, progress: &mut dyn FnMut(&str)) -> Outcome {
    let mut outcome = Outcome::default();
    let planned = if target.is_file() {
        saved_plan(target, options)
    } else {
        fresh_plan(target, options, &mut outcome)
    };
    let (prepared, shown) = match planned {
        Ok(planned) => planned,
        Err(failed) => return failed,
    };
    // Each integration's connection holds its transaction open, with the
    // lock on veil's state the plan was made under; closing it ends the
    // transaction, changing nothing.
    let prepared: Vec<Planned> = prepared
        .into_iter()
        .filter(|p| {
            options.integrations.is_empty() || options.integrations.contains(&p.0.integration)
        })
        .collect();
    if !prepared.iter().any(|(work, _)| work.has_changes()) {
        outcome.output = shown;
        outcome.output.push_str("Nothing to apply.\n");
        outcome.status = Status::Succeeded;
        return outcome;
    }
    if !approved(options, shown, progress, &mut outcome) {
        return outcome;
    }
    run_all(prepared, options, progress, outcome)
}

/// An integration's prepared plan and the connection and state it was
/// planned on (`apply::open`).
type Planned = (Prepared, (db::Db, crate::state::State));

/// Plans online as apply does: each integration's transaction opened and
/// its lock taken before the state is read.
fn plan_to_apply(
    source: ProjectSource<'_>,
    only: &[String],
    sensitive_tags: &[String],
    options: &ApplyOptions<'_>,
    recover: bool,
) -> Result<crate::plan::online::Online, (Files, Vec<Diagnostic>)> {
    let timeout = options.lock_timeout;
    let open = move |conn: &mut db::Db, integration: &crate::model::Integration| {
        apply::open(
            conn,
            &db::Target::of(integration),
            &crate::ir::Schemas::of(integration),
            timeout,
        )
    };
    plan_online(source, only, sensitive_tags, recover, Some(&open))
}

/// A saved plan's scripts, once its recorded policy files plan to exactly
/// what it says; and the plan as shown.
fn saved_plan(
    target: &Path,
    options: &ApplyOptions<'_>,
) -> Result<(Vec<Planned>, String), Outcome> {
    let saved = load(target).map_err(|d| Outcome::failed(Files::default(), vec![d]))?;
    if saved.offline {
        let offline = Diagnostic::error(
            Code::ApplyOfflinePlan,
            "an offline plan cannot be applied",
        )
        .help(
            "it was made without looking at the databases; run `veil plan --out FILE` against them",
        );
        return Err(Outcome::failed(Files::default(), vec![offline]));
    }
    // Nothing in the file is trusted that can be derived again: its
    // recorded policy files are compiled and planned against the
    // databases now, and the file must say exactly that.
    let files = saved
        .prepared
        .first()
        .map(|p| p.policy_files.clone())
        .unwrap_or_default();
    let only: Vec<String> = saved
        .prepared
        .iter()
        .map(|p| p.integration.clone())
        .collect();
    let recover = saved.prepared.iter().any(|p| p.recover);
    let made_for = saved.plan.environment.as_deref();
    if let Some(wanted) = options.environment
        && made_for != Some(wanted)
    {
        let other = Diagnostic::error(
            Code::ProjectEnvironment,
            format!(
                "`{}` was made for {}, not for environment `{wanted}`",
                target.display(),
                made_for.map_or("no environment".to_string(), |e| format!("environment `{e}`"))
            ),
        )
        .help(format!(
            "plan for `{wanted}` with `veil plan --environment {wanted} --out FILE`; nothing was changed"
        ));
        return Err(Outcome::failed(Files::default(), vec![other]));
    }
    let mut online = match plan_to_apply(
        ProjectSource::Files(&files),
        &only,
        &saved.sensitive_tags,
        options,
        recover,
    ) {
        Ok(online) => online,
        Err((files, mut diagnostics)) => {
            diagnostics.insert(
                0,
                Diagnostic::error(
                    Code::ApplyPlanMismatch,
                    format!(
                        "`{}` does not match a plan of its recorded policy files: they do not plan",
                        target.display()
                    ),
                )
                .help("plan again and review the new plan; nothing was changed"),
            );
            return Err(Outcome::failed(files, diagnostics));
        }
    };
    let derived = online.prepare_all();
    if let Err(d) = same_plan(target, &saved, &derived, &online.plan) {
        return Err(Outcome::failed(Files::default(), vec![d]));
    }
    let targets = std::mem::take(&mut online.targets);
    crate::project::drop_aside(online);
    // The plan as it was reviewed, which is the plan derived now.
    Ok((
        derived.into_iter().zip(targets).collect(),
        render::text(&saved.plan, options.color),
    ))
}

/// A plan of the project directory `target`, its warnings kept in `outcome`.
fn fresh_plan(
    target: &Path,
    options: &ApplyOptions<'_>,
    outcome: &mut Outcome,
) -> Result<(Vec<Planned>, String), Outcome> {
    match plan_to_apply(
        ProjectSource::Dir(target, options.environment),
        options.integrations,
        &[],
        options,
        options.recover,
    ) {
        Ok(mut online) => {
            let shown = render::text(&online.plan, options.color);
            let prepared = online.prepare_all();
            outcome.files = std::mem::take(&mut online.built.files);
            outcome.diagnostics = std::mem::take(&mut online.built.warnings);
            let targets = std::mem::take(&mut online.targets);
            // The model and the compiled SQL are freed meanwhile.
            crate::project::drop_aside(online);
            Ok((prepared.into_iter().zip(targets).collect(), shown))
        }
        Err((files, diagnostics)) => Err(Outcome::failed(files, diagnostics)),
    }
}

/// Whether the plan is approved: by `--auto-approve`, or by `yes` on the
/// terminal. `outcome` says why not.
fn approved(
    options: &ApplyOptions<'_>,
    shown: String,
    progress: &mut dyn FnMut(&str),
    outcome: &mut Outcome,
) -> bool {
    if !options.auto_approve {
        if !options.interactive {
            outcome.output = shown;
            outcome.diagnostics.push(
                Diagnostic::error(
                    Code::ApplyNoApproval,
                    "apply needs approval and there is no terminal to ask on",
                )
                .help("review the plan, then run `veil apply --auto-approve` (as CI does)"),
            );
            return false;
        }
        progress(&format!(
            "{shown}\nApply these changes? Only `yes` is accepted: "
        ));
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if answer.trim() != "yes" {
            outcome.diagnostics.push(
                Diagnostic::error(
                    Code::ApplyDeclined,
                    "apply was not approved; nothing was changed",
                )
                .help("answer `yes` to apply"),
            );
            return false;
        }
    } else {
        outcome.output = shown;
    }
    true
}

/// Applies each integration that has changes, one after the other.
fn run_all(
    prepared: Vec<Planned>,
    options: &ApplyOptions<'_>,
    progress: &mut dyn FnMut(&str),
    mut outcome: Outcome,
) -> Outcome {
    let mut applied = Vec::new();
    // An integration with nothing to change lets go of its lock now.
    let prepared: Vec<Planned> = prepared
        .into_iter()
        .filter(|(work, _)| work.has_changes())
        .collect();
    for (work, (mut conn, planned)) in prepared {
        let work = &work;
        progress(&format!("applying integration {}", work.integration));
        let mut sent = Vec::new();
        let log = options.log_sql.is_some().then_some(&mut sent);
        let result = apply::apply(
            &mut conn,
            work,
            &planned,
            options.lock_timeout,
            progress,
            log,
        );
        if let Some(path) = options.log_sql
            && let Err(d) = append_log(path, &sent)
        {
            outcome.diagnostics.push(d);
            return outcome;
        }
        match result {
            Ok(done) => {
                progress(&format!(
                    "integration {}: applied ({} statements, deployment {})",
                    work.integration, done.statements, done.serial
                ));
                applied.push(work.integration.clone());
            }
            Err(d) if d.code == Code::ApplyUnknownOutcome => {
                // Reconnect and read the serial: it tells which it was.
                match committed(work) {
                    Some(true) => {
                        progress(&format!(
                            "integration {}: the connection was lost while committing, but deployment {} is there: applied",
                            work.integration,
                            work.serial + 1
                        ));
                        applied.push(work.integration.clone());
                        continue;
                    }
                    Some(false) => {
                        outcome.diagnostics.push(
                            Diagnostic::error(
                                Code::ApplyFailed,
                                format!(
                                    "integration `{}`: the connection was lost while committing, and deployment {} is not there: the transaction was rolled back",
                                    work.integration,
                                    work.serial + 1
                                ),
                            )
                            .help("this integration is exactly as it was before; apply again"),
                        );
                        return outcome;
                    }
                    None => {
                        outcome.diagnostics.push(d);
                        return outcome;
                    }
                }
            }
            Err(d) => {
                let note = if applied.is_empty() {
                    "no integration was changed".to_string()
                } else {
                    format!("already applied: {}", applied.join(", "))
                };
                let help = format!("{}; {note}", d.help.clone().unwrap_or_default());
                outcome.diagnostics.push(d.help(help));
                return outcome;
            }
        }
    }
    outcome
        .output
        .push_str(&format!("Applied: {}.\n", applied.join(", ")));
    outcome.status = Status::Succeeded;
    outcome
}

/// Whether a deployment whose commit got no answer went through: the
/// serial it would have written is there. `None` when veil cannot tell.
fn committed(work: &Prepared) -> Option<bool> {
    let mut conn = db::connect(&work.target).ok()?;
    let sql = crate::emit::script::deployment_serial(&work.schemas);
    db::count_round_trip();
    match conn.client.query_one(&sql, &[]) {
        Ok(row) => Some(row.get::<_, i64>(0) > work.serial),
        // A first deployment rolled back leaves no state table.
        Err(e) if e.code() == Some(&postgres::error::SqlState::UNDEFINED_TABLE) => Some(false),
        Err(_) => None,
    }
}

/// Appends the statements sent to the log file.
fn append_log(path: &Path, sent: &[String]) -> Result<(), Diagnostic> {
    use std::io::Write;
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut file| file.write_all(sent.concat().as_bytes()));
    written.map_err(|e| {
        Diagnostic::error(
            Code::ApplyLog,
            format!("cannot write the SQL log `{}`: {e}", path.display()),
        )
        .help("check the path and its permissions")
    })
}
