//! `veil plan`: what apply would change, per integration.

use super::{Outcome, ProjectSource, load_checked, load_checked_from};
use crate::ast::{Method, Operand, Predicate};
use crate::catalog;
use crate::cli::OutputFormat;
use crate::db::{self, Db};
use crate::diagnostic::{Diagnostic, Files};
use crate::emit::{Compiled, compile_for_plan};
use crate::ir;
use crate::live;
use crate::model::Model;
use crate::plan::{self, Deployed, EscapeHatch, IntegrationPlan, Plan, render};
use crate::project;
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
                    success,
                    exit_code: (options.detailed_exitcode && changes).then_some(2),
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
        success: true,
        exit_code: (options.detailed_exitcode && changes).then_some(2),
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

/// The policies the database enforces, from the files recorded at the last
/// apply (an empty project before the first).
fn deployed_model(state: &db::State) -> Result<Model, String> {
    if !state.initialized {
        return Ok(empty_model());
    }
    let identities = state
        .policy_files
        .iter()
        .find(|(path, _)| path.ends_with(project::IDENTITIES))
        .map(|(_, text)| text.as_str());
    let policies: Vec<(String, String)> = state
        .policy_files
        .iter()
        .filter(|(path, _)| path.ends_with(".veil"))
        .cloned()
        .collect();
    let unavailable = "access impact unavailable: the policies recorded at the last apply do not load with this veil";
    let Some(identities) = identities else {
        return Err(unavailable.into());
    };
    let project =
        project::load_texts(&policies, identities).map_err(|_| unavailable.to_string())?;
    project.check().model.ok_or_else(|| unavailable.to_string())
}

/// A project with nothing in it: what an empty deployment enforces.
fn empty_model() -> Model {
    Model {
        integrations: Vec::new(),
        sources: Vec::new(),
        access: Vec::new(),
        masks: Vec::new(),
        filters: Vec::new(),
        directory: Default::default(),
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
            success: true,
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
                    && let Err(d) = plan_recovery(compiled, lowered, &state, &conn, &mut plan)
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

/// Turns `plan` into a recovery of lost state (`plan::recover`), or says
/// there is nothing to recover.
fn plan_recovery(
    compiled: &Compiled,
    lowered: &ir::Integration,
    state: &db::State,
    conn: &Db,
    plan: &mut IntegrationPlan,
) -> Result<(), Diagnostic> {
    let recorded: Vec<(String, String)> = state
        .deployed
        .objects
        .iter()
        .map(|o| (o.kind.clone(), o.name.clone()))
        .collect();
    let found = plan::recover::Found {
        existing: &state.existing,
        catalog: &state.catalog,
        recorded: &recorded,
    };
    if plan::recover::unrecorded(compiled, &lowered.schemas, &found).is_empty() {
        return Err(Diagnostic::error(
            "plan::nothing_to_recover",
            format!(
                "integration `{}` has nothing to recover: every object of veil's there is in its record, or veil's own tables are not there",
                plan.name
            ),
        )
        .help("plan without `--recover`"));
    }
    let recovery = plan::recover::recovery(
        compiled,
        &lowered.schemas,
        &lowered.profiles,
        &found,
        &conn.current_user,
    );
    plan.changes = recovery.changes;
    plan.profile = recovery.profile;
    plan.warnings.extend(recovery.warnings);
    plan.recovery = true;
    Ok(())
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

/// What only a database can tell: objects veil would create that exist
/// already (veil never adopts them), and views changed or dropped by hand
/// (drift, which apply repairs).
fn online_checks(
    compiled: &Compiled,
    schemas: &ir::Schemas,
    state: &db::State,
    connected_as: &str,
    plan: &mut IntegrationPlan,
) -> Result<(), Vec<Diagnostic>> {
    let mut errors = Vec::new();
    if let Some(occupied) = occupied(compiled, state, &plan.name) {
        return Err(occupied);
    }
    if (!state.initialized || state.deployed.objects.is_empty())
        && !plan.recovery
        && let Some(lost) = lost_state(compiled, schemas, state, &plan.name)
    {
        return Err(vec![lost]);
    }
    for change in plan
        .changes
        .iter()
        .filter(|c| c.action == plan::Action::Create && !plan.recovery)
    {
        // (`key` is the bootstrap INSERT, not a catalog object.)
        if state
            .existing
            .iter()
            .any(|(k, n)| *k == change.kind && *n == change.object)
        {
            errors.push(
                Diagnostic::error(
                    "plan::not_ours",
                    format!(
                        "{} `{}` exists in integration `{}` but veil did not create it",
                        change.kind, change.object, plan.name
                    ),
                )
                .help(if state.initialized {
                    "veil never adopts or overwrites what it did not create: drop or rename it, or choose other names for veil's schemas. If veil made it and its record of it was lost, `veil plan --recover` shows how veil would take it back"
                } else {
                    "veil never adopts or overwrites what it did not create: drop or rename it, or choose other names for veil's schemas"
                }),
            );
        }
    }
    drift(compiled, state, connected_as, plan);
    // A view veil drops (or drops to create again) that other views read:
    // the drop would fail in the middle of the apply. Said now instead.
    let managed: std::collections::HashSet<&str> = compiled
        .objects
        .iter()
        .map(|o| o.name.as_str())
        .chain(state.deployed.objects.iter().map(|o| o.name.as_str()))
        .collect();
    for change in plan
        .changes
        .iter()
        .filter(|c| matches!(c.action, plan::Action::Drop | plan::Action::Recreate))
    {
        let readers: Vec<&str> = state
            .dependents
            .get(&change.object)
            .into_iter()
            .flatten()
            .map(String::as_str)
            .filter(|d| !managed.contains(d))
            .collect();
        if !readers.is_empty() {
            errors.push(
                Diagnostic::error(
                    "plan::dependent_views",
                    format!(
                        "{} {} `{}` of integration `{}` is read by {}, which veil did not create: dropping it would fail",
                        change.action.word(),
                        change.kind,
                        change.object,
                        plan.name,
                        readers.iter().map(|r| format!("`{r}`")).collect::<Vec<_>>().join(", ")
                    ),
                )
                .help("drop those views first (and create them again after the apply), or have them read the table another way; nothing was changed"),
            );
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Relations of another kind where veil keeps a view or a table (a table
/// made in a view's place): refused with the statements that clear the
/// way, since veil never drops what it did not create.
fn occupied(compiled: &Compiled, state: &db::State, integration: &str) -> Option<Vec<Diagnostic>> {
    let existing: std::collections::HashSet<(&str, &str)> = state
        .existing
        .iter()
        .map(|(k, n)| (k.as_str(), n.as_str()))
        .collect();
    let found: Vec<Diagnostic> = compiled
        .objects
        .iter()
        .filter_map(|o| {
            let other = match o.kind {
                "view" => "table",
                "table" => "view",
                _ => return None,
            };
            if !existing.contains(&(other, o.name.as_str())) {
                return None;
            }
            let name = crate::emit::quote::qualified_name(&o.name);
            let statement = other.to_ascii_uppercase();
            Some(
                Diagnostic::error(
                    "plan::occupied",
                    format!(
                        "`{}` in integration `{integration}` is a {other}, where veil keeps a {}: nothing can be applied while it is there",
                        o.name, o.kind
                    ),
                )
                .help(format!(
                    "veil never drops what it did not create. Keep it elsewhere (`ALTER {statement} {name} RENAME TO …` or `ALTER {statement} {name} SET SCHEMA …`) or drop it (`DROP {statement} {name};`), then plan again"
                )),
            )
        })
        .collect();
    (!found.is_empty()).then_some(found)
}

/// veil's tables are there but its state table is not: the record of what
/// veil applied is lost. Said once, with the way back, instead of an error
/// for every object veil would create.
fn lost_state(
    compiled: &Compiled,
    schemas: &ir::Schemas,
    state: &db::State,
    integration: &str,
) -> Option<Diagnostic> {
    let recorded: Vec<(String, String)> = state
        .deployed
        .objects
        .iter()
        .map(|o| (o.kind.clone(), o.name.clone()))
        .collect();
    let found = plan::recover::Found {
        existing: &state.existing,
        catalog: &state.catalog,
        recorded: &recorded,
    };
    let found = plan::recover::unrecorded(compiled, schemas, &found);
    if found.is_empty() {
        return None;
    }
    let system = &schemas.system;
    Some(
        Diagnostic::error(
            "plan::lost_state",
            format!(
                "integration `{integration}`: veil's record of what it applied (`{system}.state`) is {}, while {} of the objects it applies are there ({}{})",
                if state.initialized { "empty" } else { "missing" },
                found.len(),
                found.iter().take(3).map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "),
                if found.len() > 3 { ", …" } else { "" }
            ),
        )
        .help(format!(
            "`veil plan --recover` shows a recovery and `veil apply --recover` carries it out: veil's views, tables and routines are made again from the policies, every grant on what it keeps is reset, and the hashing key is kept, so hashed values do not change. Do not drop `{system}`: it holds the hashing key, and a new key changes every hashed value"
        )),
    )
}

/// Drift: what changed by hand in what decides who sees what. Every object
/// veil applied against what the catalog said of it right after the apply
/// (dropped, redefined, options, owner, grants, routines added beside it),
/// the hashing key, and every user's side-table rows against their profile
/// row. Each is repaired by the plan (an object veil did not create is only
/// reported: veil never drops what it did not make).
fn drift(compiled: &Compiled, state: &db::State, connected_as: &str, plan: &mut IntegrationPlan) {
    let dialect = compiled.dialect;
    let planned: std::collections::HashMap<(&str, &str), &crate::emit::SqlObject> = compiled
        .objects
        .iter()
        .map(|o| ((o.kind, o.name.as_str()), o))
        .collect();
    let has_change = |plan: &IntegrationPlan, kind: &str, name: &str| {
        plan.changes
            .iter()
            .any(|c| c.kind == kind && c.object == name)
    };
    for ((kind, name), recorded) in &state.recorded_catalog {
        let now = state.catalog.get(&(kind.clone(), name.clone()));
        let detail = match now {
            None if kind == "key" => vec!["the hash key's table is gone".to_string()],
            None => vec!["dropped by hand".to_string()],
            Some(now) if kind == "key" => catalog::key_differences(recorded, now),
            Some(now) => catalog::differences(recorded, now),
        };
        if detail.is_empty() {
            continue;
        }
        plan.drift.push(plan::Drift {
            kind: kind.clone(),
            object: name.clone(),
            detail: detail.join("; "),
        });
        let Some(object) = planned.get(&(kind.as_str(), name.as_str())) else {
            continue;
        };
        if has_change(plan, kind, name) {
            continue;
        }
        let (action, sql) = match (kind.as_str(), now) {
            ("view", None) => (plan::Action::Create, object.sql.clone()),
            ("view", Some(_)) => (plan::Action::Recreate, object.sql.clone()),
            ("key", _) => (plan::Action::Replace, object.sql.clone()),
            (_, None) => (plan::Action::Create, object.sql.clone()),
            (_, Some(now)) => (
                plan::Action::Replace,
                catalog::repair_sql(
                    kind,
                    name,
                    recorded,
                    now,
                    &object.sql,
                    connected_as,
                    dialect,
                ),
            ),
        };
        plan.changes.push(plan::Change {
            action,
            kind: kind.clone(),
            object: name.clone(),
            reason: Some(format!("repairs drift: {}", detail.join("; "))),
            diff: plan::unified("", &sql),
            sql,
        });
    }
    // Objects in veil's schemas that veil did not create: reported, never
    // touched (one veil is about to create is an error already).
    let applied: std::collections::HashSet<(&str, &str)> = state
        .deployed
        .objects
        .iter()
        .map(|o| (o.kind.as_str(), o.name.as_str()))
        .collect();
    for (kind, name) in state.catalog.keys() {
        if kind == "key" || applied.contains(&(kind.as_str(), name.as_str())) {
            continue;
        }
        if has_change(plan, kind, name) {
            continue;
        }
        plan.drift.push(plan::Drift {
            kind: kind.clone(),
            object: name.clone(),
            detail: "not created by veil, in one of its schemas: veil leaves it alone; drop it or move it elsewhere".into(),
        });
    }
    // Side-table rows against the deployed profile rows.
    let expected = catalog::expected_digests(&state.deployed.profiles);
    let deployed: std::collections::HashMap<&str, &ir::Profile> = state
        .deployed
        .profiles
        .iter()
        .map(|p| (p.user.as_str(), p))
        .collect();
    for (user, tables) in catalog::side_drift(&expected, &state.side_digests) {
        let mut fields = Vec::new();
        for table in &tables {
            let found = state
                .side_rows
                .get(&(table.clone(), user.clone()))
                .cloned()
                .unwrap_or_default();
            let wanted = deployed
                .get(user.as_str())
                .map(|p| catalog::side_rows_shown(p, table))
                .unwrap_or_default();
            let added: Vec<&str> = found
                .iter()
                .filter(|r| !wanted.contains(r))
                .map(String::as_str)
                .collect();
            let removed: Vec<&str> = wanted
                .iter()
                .filter(|r| !found.contains(r))
                .map(String::as_str)
                .collect();
            let words = catalog::added_removed(&added, &removed).unwrap_or_default();
            plan.drift.push(plan::Drift {
                kind: table.clone(),
                object: user.clone(),
                detail: format!("rows differ from the user's profile row: {words}"),
            });
            fields.push(plan::FieldChange {
                field: table.clone(),
                before: serde_json::json!(found),
                after: serde_json::json!(wanted),
            });
        }
        if plan.profile.iter().any(|p| p.user == user) {
            continue;
        }
        let action = if deployed.contains_key(user.as_str()) {
            plan::ProfileAction::Change
        } else {
            plan::ProfileAction::Remove
        };
        plan.profile.push(plan::ProfileChange {
            user,
            action,
            fields,
        });
    }
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
        escape_hatches: escape_hatches(built, &compiled.integration),
        recovery: false,
    }
}

/// Every `sql "…"` and `using none` that reaches a source of the integration.
fn escape_hatches(built: &Built, integration: &str) -> Vec<EscapeHatch> {
    let model = &built.model;
    let Some(index) = model
        .integrations
        .iter()
        .position(|i| i.name == integration)
    else {
        return Vec::new();
    };
    // The mask rules that reach a column of this integration.
    let mut mask_here = vec![false; model.masks.len()];
    for source in model.sources.iter().filter(|s| s.integration == index) {
        for column in &source.columns {
            for m in &column.masks {
                mask_here[m.rule] = true;
            }
        }
    }
    let mut hatches = Vec::new();
    for (r, rule) in model.masks.iter().enumerate() {
        if !mask_here[r] {
            continue;
        }
        let rule_at = built.files.cite(rule.loc);
        if rule.method == Method::None {
            hatches.push(EscapeHatch {
                kind: "none".into(),
                rule: rule_at.clone(),
                text: "using none".into(),
            });
        }
        if let Some(when) = &rule.when {
            sql_texts(when, &mut |text| {
                hatches.push(EscapeHatch {
                    kind: "sql".into(),
                    rule: rule_at.clone(),
                    text: text.to_string(),
                })
            });
        }
    }
    for filter in &model.filters {
        if !filter
            .sources
            .iter()
            .any(|&s| model.sources[s].integration == index)
        {
            continue;
        }
        if let crate::ast::FilterKind::Where(p) = &filter.kind {
            let rule_at = built.files.cite(filter.loc);
            sql_texts(p, &mut |text| {
                hatches.push(EscapeHatch {
                    kind: "sql".into(),
                    rule: rule_at.clone(),
                    text: text.to_string(),
                })
            });
        }
    }
    hatches
}

/// Calls `found` with the text of every `sql "…"` in a predicate.
fn sql_texts(p: &Predicate, found: &mut dyn FnMut(&str)) {
    let operand = |o: &Operand, found: &mut dyn FnMut(&str)| match o {
        Operand::Sql(text) => found(text),
        Operand::Paren(inner) => sql_texts(inner, found),
        _ => {}
    };
    match p {
        Predicate::Or(parts) | Predicate::And(parts) => {
            parts.iter().for_each(|p| sql_texts(p, found))
        }
        Predicate::Not(inner) => sql_texts(inner, found),
        Predicate::Compare { left, right, .. } => {
            operand(left, found);
            operand(right, found);
        }
        Predicate::IsNull { operand: o, .. }
        | Predicate::InList { operand: o, .. }
        | Predicate::InUserGroups { operand: o, .. }
        | Predicate::InUserAttribute { operand: o, .. }
        | Predicate::Operand(o) => operand(o, found),
    }
}
