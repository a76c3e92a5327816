//! A plan made against the databases: each integration's state and
//! catalog read while the project is lowered and emitted, then the plan
//! of each with what only the database can tell.

use super::build::{Built, finish, lower_and_emit, selected, sensitive, unknown_integration};
use super::checks::online_checks;
use super::recover::plan_recovery;
use super::script::Prepared;
use super::sources::deployed_model;
use super::{IntegrationPlan, Plan};
use crate::db::{self, Db};
use crate::diagnostic::{Diagnostic, Files};
use crate::ir;
use crate::live;
use crate::model::Model;
use crate::project::{ProjectSource, load_checked};
use crate::state::State;

/// A plan made against the databases, with the connections kept open for
/// apply.
pub struct Online {
    pub built: Built,
    pub plan: Plan,
    /// Per planned integration: its connection and the serial planned against.
    pub targets: Vec<(Db, State)>,
}

impl Online {
    /// Each planned integration, prepared for apply.
    pub fn prepare_all(&self) -> Vec<Prepared> {
        self.plan
            .integrations
            .iter()
            .zip(&self.targets)
            .map(|(plan, (_, state))| {
                let index = self
                    .built
                    .compiled
                    .iter()
                    .position(|c| c.integration == plan.name)
                    .unwrap_or_default();
                self.built.prepare(index, plan, state)
            })
            .collect()
    }
}

/// What a plan does with each integration's connection before it reads the
/// state there: apply opens its transaction and takes its lock
/// (`apply::open`), so that it plans against a deployment no other apply
/// can move and reads the state once.
pub type Open<'a> =
    &'a (dyn Fn(&mut Db, &crate::model::Integration) -> Result<(), Diagnostic> + Sync);

/// Plans every (selected) integration against its database.
pub fn plan_online(
    source: ProjectSource<'_>,
    only: &[String],
    sensitive_tags: &[String],
    recover: bool,
    open: Option<Open<'_>>,
) -> Result<Online, (Files, Vec<Diagnostic>)> {
    db::prepare_tls();
    let (files, model, warnings) = load_checked(source)?;
    if let Err(unnamed) = crate::project::require_environment(&model) {
        return Err((files, vec![unnamed]));
    }
    if let Some(unknown) = unknown_integration(&model, only) {
        return Err((files, vec![unknown]));
    }
    let selected = selected(&model, only);
    let tags = sensitive(&model, sensitive_tags);
    // Reading the databases waits on them; lowering and emitting is work
    // for this machine: do both at once.
    let (reads, lowered) = crate::parallel::both(
        || {
            let project_files = file_checksums(&files);
            selected
                .iter()
                .map(|&i| read_live(&model, i, open, (&project_files, tags)))
                .collect::<Vec<_>>()
        },
        || lower_and_emit(&model),
    );
    let built = finish(files, model, warnings, lowered)?;
    let mut integrations = Vec::new();
    let mut targets = Vec::new();
    let mut errors = Vec::new();
    for (&i, read) in selected.iter().zip(reads) {
        match read {
            Ok(LiveRead {
                mut conn,
                mut state,
                checks: (live_errors, warnings),
                impact,
            }) => {
                if let Err(d) = read_what_changes(&built, i, &mut conn, &mut state) {
                    errors.push(d);
                    continue;
                }
                let mut plan = built.integration_plan(i, &state.deployed);
                plan.warnings = warnings;
                let database = Read {
                    state: &state,
                    conn: &conn,
                    live_errors,
                    impact,
                };
                errors.append(&mut against_database(
                    &built, i, database, recover, &mut plan,
                ));
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
            format_version: super::FORMAT_VERSION,
            offline: false,
            environment: built.model.environment.clone(),
            integrations,
        },
        built,
        targets,
    })
}

/// What a plan read of one database.
struct Read<'a> {
    state: &'a State,
    conn: &'a Db,
    /// The live checks' errors.
    live_errors: Vec<Diagnostic>,
    impact: EarlyImpact,
}

/// The access impact against the policies a database enforces, computed
/// on the thread that read its state as soon as it did, beside the
/// lowering and the live checks; `None` where the files deployed are the
/// project's (nobody's access changes).
type EarlyImpact = Option<Result<Vec<crate::impact::Impact>, String>>;

/// The project's files against those recorded at the last apply.
#[derive(Debug, Clone, Copy)]
struct FilesCompared {
    /// The files deployed are the files planned: nobody's access changes,
    /// and there is nothing to load twice.
    same: bool,
    /// The deployment's policies are the project's, and only the users
    /// changed: every recorded file but `identities.yaml` is the project's.
    only_identities: bool,
}

/// Each project file's path and part checksums, sorted by path.
fn file_checksums(files: &Files) -> Vec<(String, Vec<String>)> {
    let mut sums: Vec<(String, Vec<String>)> = files
        .iter()
        .map(|(_, f)| (f.path.clone(), crate::emit::script::part_checksums(&f.text)))
        .collect();
    sums.sort_unstable();
    sums
}

/// The project's files (`file_checksums`) against the recorded ones.
fn compare_files(project: &[(String, Vec<String>)], state: &State) -> FilesCompared {
    let mut recorded: Vec<(&str, &[String])> = state
        .policy_files
        .iter()
        .map(|f| (f.path.as_str(), f.parts.as_slice()))
        .collect();
    recorded.sort_unstable();
    let current: Vec<(&str, &[String])> = project
        .iter()
        .map(|(p, sums)| (p.as_str(), sums.as_slice()))
        .collect();
    fn others<'f>(files: &[(&'f str, &'f [String])]) -> Vec<(&'f str, &'f [String])> {
        files
            .iter()
            .filter(|(path, _)| !path.ends_with(crate::project::IDENTITIES))
            .copied()
            .collect()
    }
    let recorded_identities = recorded
        .iter()
        .any(|(p, _)| p.ends_with(crate::project::IDENTITIES));
    FilesCompared {
        same: state.initialized && recorded == current,
        only_identities: state.initialized
            && recorded_identities
            && others(&recorded) == others(&current),
    }
}

/// What a plan reads only where an object changed: the recorded SQL of
/// the objects it changes or drops, for their diff.
fn read_what_changes(
    built: &Built,
    i: usize,
    conn: &mut Db,
    state: &mut State,
) -> Result<(), Diagnostic> {
    let wanted = super::texts_needed(&built.compiled[i], &built.checksums[i], &state.deployed);
    let integration = &built.model.integrations[i];
    let schemas = ir::Schemas::of(integration);
    conn.read_texts(&schemas, integration.dialect, state, &wanted)
}

/// The access impact of the project against what integration `i`'s
/// database enforces (`state`): against the deployed users when only they
/// changed, else against the policies recorded at the last apply, whose
/// texts are read for it.
fn early_impact(
    model: &Model,
    i: usize,
    (conn, state): (&mut Db, &mut State),
    files: FilesCompared,
    sensitive_tags: &[String],
) -> Result<EarlyImpact, Diagnostic> {
    if files.same {
        return Ok(None);
    }
    let before = if files.only_identities {
        Ok(with_deployed_users(model, &state.deployed.profiles))
    } else {
        if state.initialized {
            let schemas = ir::Schemas::of(&model.integrations[i]);
            conn.read_policy_texts(&schemas, state)?;
        }
        deployed_model(state)
    };
    let name = &model.integrations[i].name;
    Ok(Some(before.map(|before| {
        crate::impact::impact(&before, model, name, sensitive_tags)
    })))
}

/// What the database adds to integration `i`'s plan: a recovery when
/// asked for (`recover`), the access impact against the policies deployed
/// there, and the errors of the checks only the database can answer.
fn against_database(
    built: &Built,
    i: usize,
    read: Read<'_>,
    recover: bool,
    plan: &mut IntegrationPlan,
) -> Vec<Diagnostic> {
    let (compiled, lowered) = (&built.compiled[i], &built.ir.integrations[i]);
    let Read {
        state,
        conn,
        mut live_errors,
        impact,
    } = read;
    let mut errors: Vec<Diagnostic> = other_environment(built, i, state).into_iter().collect();
    if recover && let Err(d) = plan_recovery(compiled, lowered, state, &conn.current_user, plan) {
        errors.push(d);
    }
    if plan.recovery && !state.initialized {
        plan.access_impact_known = false;
        plan.warnings.push("access impact not computed: veil's record of the last apply is lost; after the recovery the policies are enforced as planned".into());
    } else if let Some(impact) = impact {
        match impact {
            Ok(impact) => plan.access_impact = impact,
            Err(why) => {
                plan.access_impact_known = false;
                plan.warnings.push(why);
            }
        }
    }
    errors.append(&mut live_errors);
    if let Err(mut found) =
        online_checks(compiled, &lowered.schemas, state, &conn.current_user, plan)
    {
        errors.append(&mut found);
    }
    errors
}

/// A database last applied as another environment than the one planned
/// (a deployment without one may take one on): the URL points at the
/// wrong database.
fn other_environment(built: &Built, i: usize, state: &State) -> Option<Diagnostic> {
    let deployed = state
        .policy_files
        .iter()
        .find(|f| f.path == crate::project::ENVIRONMENT)
        .and_then(|f| f.text.as_deref())?;
    let planned = built.model.environment.as_deref();
    if !state.initialized || planned == Some(deployed) {
        return None;
    }
    let integration = &built.model.integrations[i];
    Some(
        Diagnostic::error(
            crate::diagnostic::Code::ProjectEnvironment,
            format!(
                "integration `{}`: the database `{}` was last applied as environment `{deployed}`, and this plan is for {}",
                integration.name,
                integration.database,
                planned.map_or("no environment".to_string(), |e| format!("`{e}`"))
            ),
        )
        .help(format!(
            "check `{}`, or plan with `--environment {deployed}`; nothing was changed",
            integration.connection_env
        )),
    )
}

/// The policies the deployment enforces when only the users changed: the
/// project's rules, and the users as the deployment's profile rows hold
/// them (what the database enforces now; the recorded identities need not
/// be read and checked again).
fn with_deployed_users(model: &Model, profiles: &[ir::Profile]) -> Model {
    let mut before = model.clone();
    before.directory.users = profiles
        .iter()
        .map(|p| crate::model::User {
            name: p.user.clone(),
            groups: p.groups.clone(),
            attributes: p.attributes.clone(),
            projects: p.projects.clone(),
            current_project: p.current_project.clone(),
            acknowledged: Vec::new(),
            purposes: p.purposes.clone(),
            approved: p.approved.clone(),
        })
        .collect();
    before
}

/// What a plan reads from one integration's database.
/// What a plan read of one database before the project was lowered.
struct LiveRead {
    conn: Db,
    state: State,
    /// The live checks' errors and warnings.
    checks: (Vec<Diagnostic>, Vec<String>),
    impact: EarlyImpact,
}

/// Connects to integration `i`'s database, reads veil's state there and runs
/// the live checks.
fn read_live(
    model: &Model,
    i: usize,
    open: Option<Open<'_>>,
    (project_files, sensitive_tags): (&[(String, Vec<String>)], &[String]),
) -> Result<LiveRead, Diagnostic> {
    let integration = &model.integrations[i];
    let dialect = integration.dialect;
    let tables = declared_tables(model, i);
    let target = db::Target::of(integration);
    let database = dialect.catalog_name(&integration.database);
    // veil's state and the declared tables' catalog are independent reads:
    // side by side, on two connections; the access impact as soon as the
    // state is read, while the live checks still run.
    let (state, checks) = crate::parallel::both(
        || {
            let mut conn = db::connect(&target)?;
            if let Some(open) = open {
                open(&mut conn, integration)?;
            }
            let mut state = conn.read_state(&ir::Schemas::of(integration), dialect)?;
            let files = compare_files(project_files, &state);
            let impact = early_impact(model, i, (&mut conn, &mut state), files, sensitive_tags)?;
            Ok::<_, Diagnostic>((conn, state, impact))
        },
        || db::connect(&target)?.live_checks(dialect, &database, &tables),
    );
    let (conn, state, impact) = state?;
    Ok(LiveRead {
        conn,
        state,
        checks: checks?,
        impact,
    })
}

/// The tables integration `i`'s sources declare, as the live checks
/// compare them with the catalog.
pub fn declared_tables(model: &Model, i: usize) -> Vec<live::DeclaredTable> {
    model
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
        .collect()
}
