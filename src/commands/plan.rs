//! `veil plan`: what apply would change, per integration.

use super::OutputFormat;
use super::{Outcome, ProjectSource, Status, load_checked, load_checked_from};
use crate::db::{self, Db};
use crate::diagnostic::{Diagnostic, Files};
use crate::emit::{Compiled, compile_for_plan};
use crate::ir;
use crate::live;
use crate::model::Model;
use crate::plan::checks::online_checks;
use crate::plan::recover::plan_recovery;
use crate::plan::sources::{deployed_model, empty_model, escape_hatches};
use crate::plan::{self, Deployed, IntegrationPlan, Plan, render};
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
    pub sensitive_tag: &'a str,
    /// The wait for the lock a `--format sql` script sets.
    pub lock_timeout: std::time::Duration,
    /// Plan the recovery of lost state (`plan::recover`).
    pub recover: bool,
}

/// A checked, compiled project.
pub struct Built {
    pub files: Files,
    pub model: Model,
    pub ir: ir::Project,
    pub compiled: Vec<Compiled>,
    pub warnings: Vec<Diagnostic>,
}

fn build(dir: &Path) -> Result<Built, (Files, Vec<Diagnostic>)> {
    let (files, model, warnings) = load_checked(dir)?;
    let lowered = lower_and_emit(&model);
    finish(files, model, warnings, lowered)
}

/// The model lowered and emitted, or the emitter's errors.
fn lower_and_emit(model: &Model) -> Result<(ir::Project, Vec<Compiled>), Vec<Diagnostic>> {
    let ir = ir::lower(model);
    compile_for_plan(&ir).map(|compiled| (ir, compiled))
}

fn finish(
    files: Files,
    model: Model,
    mut warnings: Vec<Diagnostic>,
    lowered: Result<(ir::Project, Vec<Compiled>), Vec<Diagnostic>>,
) -> Result<Built, (Files, Vec<Diagnostic>)> {
    match lowered {
        Ok((ir, compiled)) => Ok(Built {
            files,
            model,
            ir,
            compiled,
            warnings,
        }),
        Err(mut found) => {
            warnings.append(&mut found);
            Err((files, warnings))
        }
    }
}

/// Runs `veil plan`. Returns the outcome and whether there are changes.
pub fn plan(dir: &Path, options: &PlanOptions<'_>) -> Outcome {
    if dir.is_file() {
        return saved_script(dir, options);
    }
    if !options.offline {
        return match plan_online(
            ProjectSource::Dir(dir),
            options.integrations,
            options.sensitive_tag,
            options.recover,
        ) {
            Ok(online) => {
                let output = if options.format == OutputFormat::Sql {
                    scripts(&super::apply::prepare_all(&online), options)
                } else {
                    render_plan(&online.plan, options)
                };
                let changes = online.plan.has_changes();
                let mut diagnostics = online.built.warnings.clone();
                let mut success = true;
                if let Some(out) = options.out {
                    let saved = super::apply::SavedPlan {
                        format_version: plan::FORMAT_VERSION,
                        veil_version: env!("CARGO_PKG_VERSION").to_string(),
                        offline: false,
                        prepared: super::apply::prepare_all(&online),
                    };
                    if let Err(d) = super::apply::save(out, &saved) {
                        diagnostics.push(d);
                        success = false;
                    }
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
        };
    }
    let planned = match build(dir) {
        Ok(built) => built,
        Err((files, diagnostics)) => return Outcome::failed(files, diagnostics),
    };
    let base = match options.against {
        Some(other) => match build(other) {
            Ok(built) => Some(built),
            Err((files, mut diagnostics)) => {
                diagnostics.insert(
                    0,
                    Diagnostic::error(
                        "plan::against",
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
    let mut integrations = Vec::new();
    let mut prepared = Vec::new();
    for (index, (compiled, lowered)) in planned
        .compiled
        .iter()
        .zip(&planned.ir.integrations)
        .enumerate()
    {
        if !options.integrations.is_empty() && !options.integrations.contains(&compiled.integration)
        {
            continue;
        }
        let deployed = base
            .as_ref()
            .and_then(|b| {
                b.compiled
                    .iter()
                    .zip(&b.ir.integrations)
                    .find(|(c, _)| c.integration == compiled.integration)
            })
            .map(|(c, i)| plan::deployed_from(c, &i.profiles));
        // What the deployment is taken to be: nothing, or the other
        // checkout as its last apply left it.
        let state = db::State {
            initialized: deployed.is_some(),
            records_catalog: deployed.is_some(),
            deployed: deployed.clone().unwrap_or_default(),
            policy_files: base
                .as_ref()
                .filter(|_| deployed.is_some())
                .map(|b| {
                    b.files
                        .iter()
                        .map(|(_, f)| (f.path.clone(), f.text.clone()))
                        .collect()
                })
                .unwrap_or_default(),
            ..db::State::default()
        };
        let deployed = deployed.unwrap_or_default();
        let mut plan = integration_plan(&planned, compiled, lowered, &deployed);
        if options.format == OutputFormat::Sql {
            prepared.push(crate::apply::prepare(
                lowered,
                db::Target::of(&planned.model.integrations[index]),
                &compiled.objects,
                &plan,
                &state,
                planned
                    .files
                    .iter()
                    .map(|(_, f)| (f.path.clone(), f.text.clone()))
                    .collect(),
            ));
        }
        let empty = empty_model();
        let before = base.as_ref().map_or(&empty, |b| &b.model);
        plan.access_impact = crate::impact::impact(
            before,
            &planned.model,
            &compiled.integration,
            options.sensitive_tag,
        );
        integrations.push(plan);
    }
    let plan = Plan {
        format_version: plan::FORMAT_VERSION,
        offline: true,
        integrations,
    };
    let output = if options.format == OutputFormat::Sql {
        scripts(&prepared, options)
    } else {
        render_plan(&plan, options)
    };
    let changes = plan.has_changes();
    let mut diagnostics = planned.warnings;
    if let Some(out) = options.out
        && let Err(d) = super::apply::save(out, &super::apply::offline_saved())
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

/// An error for the first `--integration` the project does not have.
fn unknown_integration(model: &Model, only: &[String]) -> Option<Diagnostic> {
    let known: Vec<&str> = model.integrations.iter().map(|i| i.name.as_str()).collect();
    let unknown = only.iter().find(|n| !known.contains(&n.as_str()))?;
    let help = crate::suggest::did_you_mean(unknown, known.iter().copied())
        .unwrap_or_else(|| format!("the integrations are {}", known.join(", ")));
    Some(
        Diagnostic::error(
            "plan::unknown_integration",
            format!("unknown integration `{unknown}`"),
        )
        .help(help),
    )
}

fn render_plan(plan: &Plan, options: &PlanOptions<'_>) -> String {
    match options.format {
        OutputFormat::Text | OutputFormat::Sql => render::text(plan, options.color),
        OutputFormat::Json => render::json(plan),
        OutputFormat::Markdown => render::markdown(plan),
    }
}

/// The apply script of each integration, one after the other.
fn scripts(prepared: &[crate::apply::Prepared], options: &PlanOptions<'_>) -> String {
    prepared
        .iter()
        .map(|p| crate::apply::render_script(p, options.lock_timeout))
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
                    "plan::saved_format",
                    format!("`{}` is a file: only its apply script can be shown", path.display()),
                )
                .help("pass `--format sql` to print a saved plan's script, or pass the project's directory to plan"),
            ],
        );
    }
    match super::apply::load(path) {
        Ok(saved) => Outcome {
            output: scripts(&saved.prepared, options),
            status: Status::Succeeded,
            ..Outcome::default()
        },
        Err(d) => Outcome::failed(Files::default(), vec![d]),
    }
}

/// A plan made against the databases, with the connections kept open for
/// apply.
pub struct Online {
    pub built: Built,
    pub plan: Plan,
    /// Per planned integration: its connection and the serial planned against.
    pub targets: Vec<(Db, db::State)>,
}

/// Plans every (selected) integration against its database.
pub fn plan_online(
    source: ProjectSource<'_>,
    only: &[String],
    sensitive_tag: &str,
    recover: bool,
) -> Result<Online, (Files, Vec<Diagnostic>)> {
    let (files, model, warnings) = load_checked_from(source)?;
    if let Some(unknown) = unknown_integration(&model, only) {
        return Err((files, vec![unknown]));
    }
    let selected: Vec<usize> = (0..model.integrations.len())
        .filter(|&i| only.is_empty() || only.contains(&model.integrations[i].name))
        .collect();
    // Reading the databases waits on them; lowering and emitting is work
    // for this machine: do both at once.
    let (lowered, reads) = std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            selected
                .iter()
                .map(|&i| read_live(&model, i))
                .collect::<Vec<_>>()
        });
        let lowered = lower_and_emit(&model);
        let reads = reader
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (lowered, reads)
    });
    let built = finish(files, model, warnings, lowered)?;
    let mut integrations = Vec::new();
    let mut targets = Vec::new();
    let mut errors = Vec::new();
    for (&i, read) in selected.iter().zip(reads) {
        let (compiled, lowered) = (&built.compiled[i], &built.ir.integrations[i]);
        match read {
            Ok((conn, state, (mut check_errors, warnings))) => {
                let mut plan = integration_plan(&built, compiled, lowered, &state.deployed);
                plan.warnings = warnings;
                if recover
                    && let Err(d) =
                        plan_recovery(compiled, lowered, &state, &conn.current_user, &mut plan)
                {
                    errors.push(d);
                }
                // The files deployed are the files planned: nobody's
                // access changes, and there is nothing to load twice.
                let mut recorded: Vec<(&str, &str)> = state
                    .policy_files
                    .iter()
                    .map(|(p, t)| (p.as_str(), t.as_str()))
                    .collect();
                let mut current: Vec<(&str, &str)> = built
                    .files
                    .iter()
                    .map(|(_, f)| (f.path.as_str(), f.text.as_str()))
                    .collect();
                recorded.sort_unstable();
                current.sort_unstable();
                let unchanged = state.initialized && recorded == current;
                if plan.recovery && !state.initialized {
                    plan.access_impact_known = false;
                    plan.warnings.push("access impact not computed: veil's record of the last apply is lost; after the recovery the policies are enforced as planned".into());
                } else if !unchanged {
                    match deployed_model(&state) {
                        Ok(before) => {
                            plan.access_impact = crate::impact::impact(
                                &before,
                                &built.model,
                                &compiled.integration,
                                sensitive_tag,
                            )
                        }
                        Err(why) => {
                            plan.access_impact_known = false;
                            plan.warnings.push(why);
                        }
                    }
                }
                errors.append(&mut check_errors);
                if let Err(mut found) = online_checks(
                    compiled,
                    &lowered.schemas,
                    &state,
                    &conn.current_user,
                    &mut plan,
                ) {
                    errors.append(&mut found);
                }
                integrations.push(plan);
                targets.push((conn, state));
            }
            Err(d) => errors.push(d),
        }
    }
    if !errors.is_empty() {
        return Err((built.files, errors));
    }
    Ok(Online {
        plan: Plan {
            format_version: plan::FORMAT_VERSION,
            offline: false,
            integrations,
        },
        built,
        targets,
    })
}

/// What a plan reads from one integration's database.
type LiveRead = (Db, db::State, (Vec<Diagnostic>, Vec<String>));

/// Connects to integration `i`'s database, reads veil's state there and runs
/// the live checks.
fn read_live(model: &Model, i: usize) -> Result<LiveRead, Diagnostic> {
    let integration = &model.integrations[i];
    let dialect = integration.dialect;
    let tables: Vec<live::DeclaredTable> = model
        .sources
        .iter()
        .filter(|s| s.integration == i)
        .map(|s| live::DeclaredTable {
            source: s.id.clone(),
            database: s.dialect.catalog_name(&s.table.database),
            schema: s.dialect.catalog_name(&s.table.schema),
            table: s.dialect.catalog_name(&s.table.table),
            columns: s
                .columns
                .iter()
                .map(|c| (s.dialect.catalog_name(&c.name), c.ty.sql.clone()))
                .collect(),
            loc: Some(s.loc),
            column_locs: s.columns.iter().map(|c| c.loc).collect(),
        })
        .collect();
    let mut conn = db::connect(&db::Target::of(integration))?;
    let state = conn.read_state(&ir::Schemas::of(integration), dialect)?;
    let database = dialect.catalog_name(&integration.database);
    let checks = conn.live_checks(dialect, &database, &tables)?;
    Ok((conn, state, checks))
}

fn integration_plan(
    built: &Built,
    compiled: &Compiled,
    lowered: &ir::Integration,
    deployed: &Deployed,
) -> IntegrationPlan {
    IntegrationPlan {
        name: compiled.integration.clone(),
        dialect: compiled.dialect,
        changes: plan::diff_objects(compiled, deployed),
        profile: plan::diff_profiles(&lowered.profiles, &deployed.profiles),
        drift: Vec::new(),
        access_impact: Vec::new(),
        access_impact_known: true,
        warnings: Vec::new(),
        escape_hatches: escape_hatches(&built.model, &built.files, &compiled.integration),
        recovery: false,
    }
}
