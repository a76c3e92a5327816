//! `veil plan`: what apply would change, per integration.

use super::OutputFormat;
use super::{Outcome, Status};
use crate::diagnostic::{Code, Diagnostic, Files};
use crate::plan::build::{build, offline, unknown_integration};
use crate::plan::online::plan_online;
use crate::plan::saved::{SavedPlan, load, save};
use crate::plan::script::{Prepared, render_script};
use crate::plan::{Plan, render};
use crate::project::ProjectSource;
use std::path::Path;

/// Options of `veil plan`.
pub struct PlanOptions<'a> {
    pub offline: bool,
    pub against: Option<&'a Path>,
    pub integrations: &'a [String],
    pub format: OutputFormat,
    pub color: bool,
    pub detailed_exitcode: bool,
    /// Where to save the plan for `veil apply PLAN_FILE`.
    pub out: Option<&'a Path>,
    /// Columns tagged with this tag, or a tag below it, are sensitive.
    pub sensitive_tags: &'a [String],
    /// The wait for the lock a `--format sql` script sets.
    pub lock_timeout: std::time::Duration,
    /// Plan the recovery of lost state (`plan::recover`).
    pub recover: bool,
    /// The environment of `veil.yaml` to plan for.
    pub environment: Option<&'a str>,
}

/// Runs `veil plan`. Returns the outcome and whether there are changes.
pub fn plan(dir: &Path, options: &PlanOptions<'_>) -> Outcome {
    if dir.is_file() {
        return saved_script(dir, options);
    }
    if !options.offline {
        return online(dir, options);
    }
    offline_plan(dir, options)
}

/// `veil plan --offline`: against nothing, or against another checkout.
fn offline_plan(dir: &Path, options: &PlanOptions<'_>) -> Outcome {
    let planned = match build(dir, options.environment) {
        Ok(built) => built,
        Err((files, diagnostics)) => return Outcome::failed(files, diagnostics),
    };
    let base = match options.against {
        // The other checkout as its integrations declare them: the
        // environment may be new in this one.
        Some(other) => match build(other, None) {
            Ok(built) => Some(built),
            Err((files, mut diagnostics)) => {
                diagnostics.insert(
                    0,
                    Diagnostic::error(
                        Code::PlanAgainst,
                        format!("the project to compare with, `{}`, does not compile", other.display()),
                    )
                    .help("`--against` takes another checkout of the project, such as the pull request's base branch"),
                );
                return Outcome::failed(files, diagnostics);
            }
        },
        None => None,
    };
    if let Some(unknown) = unknown_integration(&planned.model, options.integrations) {
        return Outcome::failed(planned.files, vec![unknown]);
    }
    let (plan, prepared) = offline(
        &planned,
        base.as_ref(),
        options.integrations,
        options.sensitive_tags,
        options.format == OutputFormat::Sql,
    );
    let output = if options.format == OutputFormat::Sql {
        scripts(&prepared, options)
    } else {
        render_plan(&plan, options)
    };
    let changes = plan.has_changes();
    let mut diagnostics = planned.warnings;
    if let Some(out) = options.out
        && let Err(d) = save(out, &SavedPlan::offline(&plan, options.sensitive_tags))
    {
        diagnostics.push(d);
    }
    Outcome {
        files: planned.files,
        diagnostics,
        output,
        status: match options.detailed_exitcode && changes {
            true => Status::Changes,
            false => Status::Succeeded,
        },
    }
}

/// `veil plan` against the databases, saved with `--out`.
fn online(dir: &Path, options: &PlanOptions<'_>) -> Outcome {
    match plan_online(
        ProjectSource::Dir(dir, options.environment),
        options.integrations,
        options.sensitive_tags,
        options.recover,
        None,
    ) {
        Ok(online) => {
            let output = if options.format == OutputFormat::Sql {
                scripts(&online.prepare_all(), options)
            } else {
                render_plan(&online.plan, options)
            };
            let changes = online.plan.has_changes();
            let mut diagnostics = online.built.warnings.clone();
            let mut success = true;
            if let Some(out) = options.out
                && let Err(d) = save(out, &SavedPlan::of(&online, options.sensitive_tags))
            {
                diagnostics.push(d);
                success = false;
            }
            Outcome {
                files: online.built.files,
                diagnostics,
                output,
                status: match (success, options.detailed_exitcode && changes) {
                    (false, _) => Status::Failed,
                    (true, true) => Status::Changes,
                    (true, false) => Status::Succeeded,
                },
            }
        }
        Err((files, diagnostics)) => Outcome::failed(files, diagnostics),
    }
}

fn render_plan(plan: &Plan, options: &PlanOptions<'_>) -> String {
    match options.format {
        OutputFormat::Text | OutputFormat::Sql => render::text(plan, options.color),
        OutputFormat::Json => render::json(plan),
        OutputFormat::Markdown => render::markdown(plan),
    }
}

/// The apply script of each integration, one after the other.
fn scripts(prepared: &[Prepared], options: &PlanOptions<'_>) -> String {
    prepared
        .iter()
        .map(|p| render_script(p, options.lock_timeout))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `veil plan PLAN_FILE --format sql`: the scripts of a saved plan.
fn saved_script(path: &Path, options: &PlanOptions<'_>) -> Outcome {
    if options.format != OutputFormat::Sql {
        return Outcome::failed(
            Files::default(),
            vec![
                Diagnostic::error(
                    Code::PlanSavedFormat,
                    format!("`{}` is a file: only its apply script can be shown", path.display()),
                )
                .help("pass `--format sql` to print a saved plan's script, or pass the project's directory to plan"),
            ],
        );
    }
    match load(path) {
        Ok(saved) => Outcome {
            output: scripts(&saved.prepared, options),
            status: Status::Succeeded,
            ..Outcome::default()
        },
        Err(d) => Outcome::failed(Files::default(), vec![d]),
    }
}
