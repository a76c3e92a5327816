//! A policy project on disk: every `*.veil` file below a directory, and
//! `identities.yaml` at its root. Loading runs the first stages (parse and
//! load) and collects their diagnostics.

use crate::check::{self, Checked};
use crate::diagnostic::{Code, Diagnostic, Files};
use crate::identities::{self, Identities};
use crate::settings::{self, Settings};
use crate::span::FileId;
use crate::syntax::{self, Parsed};
use std::path::{Path, PathBuf};

/// The name of the identities file at a project's root.
pub const IDENTITIES: &str = "identities.yaml";

/// A loaded project: its files, the parsed policies and the identities.
#[derive(Debug)]
pub struct Project {
    pub root: PathBuf,
    pub files: Files,
    /// Each policy file with its path on disk and its parse.
    pub policies: Vec<(FileId, PathBuf, Parsed)>,
    pub identities: (FileId, Identities),
    /// `veil.yaml`, or the defaults without one.
    pub settings: Settings,
}

/// Loading failed: the files read so far, to show the diagnostics against.
#[derive(Debug)]
pub struct LoadError {
    pub files: Files,
    pub diagnostics: Vec<Diagnostic>,
}

/// The `*.veil` files below `root`, sorted, skipping hidden directories.
pub fn policy_files(root: &Path) -> Result<Vec<PathBuf>, Diagnostic> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| {
            Diagnostic::error(
                Code::ProjectRead,
                format!("cannot read directory `{}`: {e}", dir.display()),
            )
            .help("pass the directory of a policy project (it holds `*.veil` files and identities.yaml)")
        })?;
        for entry in entries.flatten() {
            let path = entry.path();
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() && !hidden && entry.file_name() != "target" {
                stack.push(path);
            } else if kind.is_file() && path.extension().is_some_and(|e| e == "veil") {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Reads a file as UTF-8 text.
pub fn read(path: &Path) -> Result<String, Diagnostic> {
    let bytes = std::fs::read(path).map_err(|e| {
        Diagnostic::error(
            Code::ProjectRead,
            format!("cannot read `{}`: {e}", path.display()),
        )
        .help("check that the file exists and is readable")
    })?;
    String::from_utf8(bytes).map_err(|e| {
        Diagnostic::error(
            Code::ProjectEncoding,
            format!(
                "`{}` is not UTF-8 (invalid byte at offset {})",
                path.display(),
                e.utf8_error().valid_up_to()
            ),
        )
        .help("save the file as UTF-8")
    })
}

/// Loads and parses the project at `root`; every syntax and YAML error of
/// every file is reported.
pub fn load(root: &Path) -> Result<Project, LoadError> {
    let mut files = Files::default();
    let mut diagnostics = Vec::new();
    let paths = match policy_files(root) {
        Ok(paths) => paths,
        Err(d) => {
            return Err(LoadError {
                files,
                diagnostics: vec![d],
            });
        }
    };
    if paths.is_empty() {
        diagnostics.push(
            Diagnostic::error(
                Code::ProjectEmpty,
                format!("no `*.veil` files in `{}`", root.display()),
            )
            .help("run `veil init` to create an example project, or pass the project's directory"),
        );
    }
    // Read everything first, then parse the policies and the identities
    // side by side.
    let mut texts = Vec::new();
    for path in paths {
        match read(&path) {
            Ok(text) => texts.push((files.add(path.display().to_string(), text), path)),
            Err(d) => diagnostics.push(d),
        }
    }
    let identities_path = root.join(IDENTITIES);
    let identities_file = match read(&identities_path) {
        Ok(text) => Some(files.add(identities_path.display().to_string(), text)),
        Err(_) if !identities_path.exists() => {
            diagnostics.push(
                Diagnostic::error(
                    Code::ProjectNoIdentities,
                    format!("`{}` is missing", identities_path.display()),
                )
                .help("create identities.yaml at the project's root (it may be empty): it is the source of truth for every user's profile"),
            );
            None
        }
        Err(d) => {
            diagnostics.push(d);
            None
        }
    };
    let settings_path = root.join(settings::FILE);
    let settings_file = if settings_path.exists() {
        match read(&settings_path) {
            Ok(text) => Some(files.add(settings_path.display().to_string(), text)),
            Err(d) => {
                diagnostics.push(d);
                None
            }
        }
    } else {
        None
    };
    let texts: Vec<(FileId, PathBuf)> = texts;
    parse_all(
        root,
        files,
        texts,
        (identities_file, settings_file),
        diagnostics,
    )
}

/// Loads a project from texts instead of a directory: the policy files
/// (path, text) and identities.yaml. This is how a plan reads the policies
/// veil recorded at the last apply.
pub fn load_texts(policies: &[(String, String)], identities: &str) -> Result<Project, LoadError> {
    load_texts_at(policies, (IDENTITIES, identities), None)
}

/// [`load_texts`], with `identities.yaml` recorded under its path, and the
/// settings file (path, text) when there was one.
pub fn load_texts_at(
    policies: &[(String, String)],
    (identities_path, identities): (&str, &str),
    settings: Option<(&str, &str)>,
) -> Result<Project, LoadError> {
    let mut files = Files::default();
    let texts = policies
        .iter()
        .map(|(path, text)| (files.add(path.clone(), text.clone()), PathBuf::from(path)))
        .collect();
    let identities_file = Some(files.add(identities_path, identities.to_string()));
    let settings_file = settings.map(|(path, text)| files.add(path, text.to_string()));
    parse_all(
        Path::new(""),
        files,
        texts,
        (identities_file, settings_file),
        Vec::new(),
    )
}

/// Parses the policies and the identities side by side.
fn parse_all(
    root: &Path,
    files: Files,
    texts: Vec<(FileId, PathBuf)>,
    (identities_file, settings_file): (Option<FileId>, Option<FileId>),
    mut diagnostics: Vec<Diagnostic>,
) -> Result<Project, LoadError> {
    let settings = match settings_file.map(|id| settings::load(id, &files.get(id).text)) {
        Some(Ok(settings)) => settings,
        Some(Err(d)) => {
            diagnostics.push(d);
            Settings::default()
        }
        None => Settings::default(),
    };
    let files_ref = &files;
    let (identities, parsed) = crate::parallel::both(
        || identities_file.map(|id| (id, identities::load(id, &files_ref.get(id).text))),
        || {
            texts
                .into_iter()
                .map(|(id, path)| (id, path, syntax::parse(id, &files_ref.get(id).text)))
                .collect::<Vec<_>>()
        },
    );
    let mut policies = Vec::new();
    for (id, path, result) in parsed {
        match result {
            Ok(parsed) => policies.push((id, path, parsed)),
            Err(mut found) => diagnostics.append(&mut found),
        }
    }
    let identities = match identities {
        Some((id, Ok(ids))) => Some((id, ids)),
        Some((_, Err(d))) => {
            diagnostics.push(d);
            None
        }
        None => None,
    };
    match identities {
        Some(identities) if diagnostics.is_empty() => Ok(Project {
            root: root.to_path_buf(),
            files,
            policies,
            identities,
            settings,
        }),
        _ => Err(LoadError { files, diagnostics }),
    }
}

impl Project {
    /// Runs the checker over the loaded project.
    pub fn check(&self) -> Checked {
        let asts: Vec<(FileId, &crate::ast::File)> = self
            .policies
            .iter()
            .map(|(id, _, parsed)| (*id, &parsed.file))
            .collect();
        let mut checked = check::check(&self.files, &asts, (self.identities.0, &self.identities.1));
        if let Some(model) = &mut checked.model {
            model.settings = self.settings.clone();
            let unknown = environment_errors(model);
            if !unknown.is_empty() {
                checked.diagnostics.extend(unknown);
                checked.model = None;
            }
        }
        checked
    }
}

/// An environment that names an integration the project does not have.
fn environment_errors(model: &crate::model::Model) -> Vec<Diagnostic> {
    let known: Vec<&str> = model.integrations.iter().map(|i| i.name.as_str()).collect();
    let mut out = Vec::new();
    for (environment, integrations) in &model.settings.environments {
        for name in integrations.keys().filter(|n| !known.contains(&n.as_str())) {
            let help = crate::suggest::did_you_mean(name, known.iter().copied())
                .unwrap_or_else(|| format!("the integrations are {}", known.join(", ")));
            out.push(
                Diagnostic::error(
                    Code::ProjectEnvironment,
                    format!("environment `{environment}` in veil.yaml names integration `{name}`, which the project does not have"),
                )
                .help(help),
            );
        }
    }
    out
}

/// A loaded and checked project: its files, model and warnings.
pub type CheckedProject = (Files, crate::model::Model, Vec<Diagnostic>);

/// Where a project comes from.
#[derive(Debug, Clone, Copy)]
pub enum ProjectSource<'a> {
    /// A project directory, deployed as one of its environments (`None`:
    /// its integrations as declared).
    Dir(&'a Path, Option<&'a str>),
    /// The files (path, text) a saved plan recorded, `identities.yaml`
    /// among them.
    Files(&'a [(String, String)]),
}

/// Loads and checks a project from a directory or recorded files; on
/// errors, the files and every diagnostic.
pub fn load_checked(source: ProjectSource<'_>) -> Result<CheckedProject, (Files, Vec<Diagnostic>)> {
    let environment = match source {
        ProjectSource::Dir(_, environment) => environment.map(str::to_string),
        ProjectSource::Files(files) => files
            .iter()
            .find(|(path, _)| path == ENVIRONMENT)
            .map(|(_, name)| name.clone()),
    };
    let loaded = match source {
        ProjectSource::Dir(dir, _) => load(dir),
        ProjectSource::Files(files) => {
            let (identities_path, identities) = files
                .iter()
                .find(|(path, _)| path.ends_with(IDENTITIES))
                .map_or((IDENTITIES, ""), |(path, text)| {
                    (path.as_str(), text.as_str())
                });
            let policies: Vec<(String, String)> = files
                .iter()
                .filter(|(path, _)| path.ends_with(".veil"))
                .cloned()
                .collect();
            let settings = files
                .iter()
                .find(|(path, _)| {
                    Path::new(path)
                        .file_name()
                        .is_some_and(|n| n == settings::FILE)
                })
                .map(|(path, text)| (path.as_str(), text.as_str()));
            load_texts_at(&policies, (identities_path, identities), settings)
        }
    };
    let project = loaded.map_err(|e| (e.files, e.diagnostics))?;
    let checked = project.check();
    let Project {
        mut files,
        policies,
        identities,
        ..
    } = project;
    // The syntax trees are done with once checked.
    drop_aside((policies, identities));
    let Some(mut model) = checked.model else {
        return Err((files, checked.diagnostics));
    };
    if let Some(name) = environment {
        if let Err(unknown) = choose_environment(&mut model, &name) {
            return Err((files, vec![unknown]));
        }
        // Recorded with the files: a saved plan and a deployment name it.
        files.add(ENVIRONMENT, name);
    }
    Ok((files, model, checked.diagnostics))
}

/// The pseudo-file, among the files a saved plan or a deployment records,
/// that names the environment (its text); no policy file has this path.
pub const ENVIRONMENT: &str = "(environment)";

/// Deploys the model as environment `name` of `veil.yaml`: each
/// integration's host, port, database and connection variable as the
/// environment sets them.
fn choose_environment(model: &mut crate::model::Model, name: &str) -> Result<(), Diagnostic> {
    let Some(overrides) = model.settings.environments.get(name).cloned() else {
        let known = environment_names(model);
        let help = crate::suggest::did_you_mean(name, known.iter().copied()).unwrap_or_else(|| {
            if known.is_empty() {
                "the project declares no environments: declare them under `environments:` in veil.yaml".to_string()
            } else {
                format!("the project's environments are {}", known.join(", "))
            }
        });
        return Err(Diagnostic::error(
            Code::ProjectEnvironment,
            format!("unknown environment `{name}`"),
        )
        .help(help));
    };
    for (i, integration) in model.integrations.iter_mut().enumerate() {
        let Some(o) = overrides.get(&integration.name) else {
            continue;
        };
        if let Some(host) = &o.host {
            integration.host = Some(host.clone());
        }
        if let Some(port) = o.port {
            integration.port = Some(port);
        }
        if let Some(var) = &o.connection {
            integration.connection_env = var.clone();
        }
        if let Some(database) = &o.database {
            // The sources of the integration's own database move with it.
            for source in model.sources.iter_mut().filter(|s| s.integration == i) {
                if !source.cross_database {
                    source.table.database = database.clone();
                }
            }
            integration.database = database.clone();
        }
    }
    model.environment = Some(name.to_string());
    Ok(())
}

/// The environments `veil.yaml` declares, sorted.
fn environment_names(model: &crate::model::Model) -> Vec<&str> {
    model
        .settings
        .environments
        .keys()
        .map(String::as_str)
        .collect()
}

/// Commands that reach a database refuse a project that declares
/// environments unless one is chosen: a deployment is always named.
pub fn require_environment(model: &crate::model::Model) -> Result<(), Diagnostic> {
    if model.settings.environments.is_empty() || model.environment.is_some() {
        return Ok(());
    }
    let names = environment_names(model);
    Err(Diagnostic::error(
        Code::ProjectEnvironment,
        format!(
            "the project declares environments ({}): choose the one to deploy",
            names.join(", ")
        ),
    )
    .help(format!("pass `--environment {}` (or another)", names[0])))
}

/// Drops `value` on a thread of its own, for large values a command no
/// longer needs: the command goes on (or the process exits) meanwhile.
pub fn drop_aside<T: Send + 'static>(value: T) {
    // If no thread can be started, the value is dropped here.
    let _ = std::thread::Builder::new().spawn(move || drop(value));
}
