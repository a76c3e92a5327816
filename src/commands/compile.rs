//! `veil compile`: the SQL of every integration, one file per object, in a
//! fresh directory, byte for byte the same on every run.

use super::Outcome;
use crate::diagnostic::Diagnostic;
use crate::emit::{self, SqlObject};
use crate::ir;
use crate::model::Dialect;
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// What `compile` writes or prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Emit {
    /// SQL files and a manifest per integration, under `--out`.
    Sql,
    /// The intermediate representation, as JSON on standard output.
    Ir,
}

/// The compiled SQL of one integration.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub integration: String,
    pub dialect: Dialect,
    pub objects: Vec<SqlObject>,
}

/// Compiles a checked project's IR to SQL objects, per integration.
pub fn compile_ir(project: &ir::Project) -> Result<Vec<Compiled>, Vec<Diagnostic>> {
    let mut diagnostics = limits(project);
    let mut out = Vec::new();
    let rendered = ir::parallel_map(project.integrations.len(), |i| {
        emit::render_integration(&project.integrations[i])
    });
    for (integration, rendered) in project.integrations.iter().zip(rendered) {
        match rendered {
            Ok(objects) => out.push(Compiled {
                integration: integration.name.clone(),
                dialect: integration.dialect,
                objects,
            }),
            Err(error) => diagnostics.push(
                Diagnostic::error("compile::internal", error.to_string()).help(
                    "this is a bug in veil; please report it with the policy that triggers it",
                ),
            ),
        }
    }
    if diagnostics.is_empty() {
        Ok(out)
    } else {
        Err(diagnostics)
    }
}

/// Sizes the database would refuse: Redshift profile columns hold at most
/// 65,535 bytes, and a name in a profile side table at most 1,024.
fn limits(project: &ir::Project) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    for integration in &project.integrations {
        if integration.dialect != Dialect::Redshift {
            continue;
        }
        // Users alike share one list of valid tables: measured once.
        let mut shared: HashMap<*const [String], usize> = HashMap::new();
        for p in &integration.profiles {
            let lists: [(&str, &[String]); 4] = [
                ("groups", &p.groups),
                ("projects", &p.projects),
                ("purposes", &p.purposes),
                ("valid_tables", &p.valid_tables),
            ];
            for (field, values) in lists {
                let json_len =
                    |values: &[String]| serde_json::to_string(values).map_or(0, |s| s.len());
                let bytes = if field == "valid_tables" {
                    *shared
                        .entry(Arc::as_ptr(&p.valid_tables))
                        .or_insert_with(|| json_len(values))
                } else {
                    json_len(values)
                };
                if bytes > 65535 {
                    diagnostics.push(too_large(&p.user, field, bytes, 65535, &integration.name));
                }
                if let Some(long) = values.iter().find(|v| v.len() > 1024) {
                    diagnostics.push(too_large(
                        &p.user,
                        field,
                        long.len(),
                        1024,
                        &integration.name,
                    ));
                }
            }
            let pairs: Vec<(&String, &String)> = p
                .attributes
                .iter()
                .flat_map(|(k, vs)| vs.iter().map(move |v| (k, v)))
                .collect();
            let bytes = serde_json::to_string(&pairs).map_or(0, |s| s.len());
            if bytes > 65535 {
                diagnostics.push(too_large(
                    &p.user,
                    "attributes",
                    bytes,
                    65535,
                    &integration.name,
                ));
            }
            if let Some((k, v)) = pairs.iter().find(|(k, v)| k.len() > 1024 || v.len() > 1024) {
                diagnostics.push(too_large(
                    &p.user,
                    "attributes",
                    k.len().max(v.len()),
                    1024,
                    &integration.name,
                ));
            }
        }
    }
    diagnostics
}

fn too_large(user: &str, field: &str, bytes: usize, limit: usize, integration: &str) -> Diagnostic {
    Diagnostic::error(
        "compile::profile_too_large",
        format!("the `{field}` of user `{user}` needs {bytes} bytes in integration `{integration}`, more than {limit}"),
    )
    .help("a profile value that does not fit is refused rather than cut; shorten the names or split the lists")
}

pub fn compile(dir: &Path, out: Option<&Path>, emit: Emit) -> Outcome {
    let (files, model, warnings) = match super::load_checked(dir) {
        Ok(checked) => checked,
        Err((files, diagnostics)) => return Outcome::failed(files, diagnostics),
    };
    let ir = ir::lower(&model);
    let mut outcome = Outcome {
        files,
        diagnostics: warnings,
        output: String::new(),
        success: false,
        exit_code: None,
    };
    if emit == Emit::Ir {
        outcome.output = serde_json::to_string_pretty(&ir).unwrap_or_default() + "\n";
        outcome.success = true;
        return outcome;
    }
    let Some(out) = out else {
        outcome.diagnostics.push(
            Diagnostic::error("compile::no_out", "`compile` needs `--out DIR`").help(
                "name an empty or absent directory to write the SQL into, or use `--emit ir`",
            ),
        );
        return outcome;
    };
    let compiled = match compile_ir(&ir) {
        Ok(compiled) => compiled,
        Err(mut found) => {
            outcome.diagnostics.append(&mut found);
            return outcome;
        }
    };
    // Freeing hundreds of thousands of small allocations takes a tenth of a
    // second at 5,000 sources: done beside the writing, and not waited for.
    super::drop_aside((model, ir));
    let w = write(out, &compiled);
    let integrations = compiled.len();
    super::drop_aside(compiled);
    match w {
        Ok(count) => {
            outcome.output = format!(
                "wrote {count} files for {} integrations to {}\n",
                integrations,
                out.display()
            );
            outcome.success = true;
        }
        Err(d) => outcome.diagnostics.push(d),
    }
    outcome
}

#[derive(Serialize)]
struct Manifest<'a> {
    format_version: u32,
    integration: &'a str,
    dialect: Dialect,
    files: Vec<ManifestFile<'a>>,
}

#[derive(Serialize)]
struct ManifestFile<'a> {
    file: String,
    kind: &'a str,
    object: &'a str,
}

/// A name made safe for a file name: letters, digits, `.`, `_` and `-`.
pub fn file_safe(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    safe.trim_start_matches('.').to_string()
}

/// Writes every integration's files into `out`, which must be empty or
/// absent. On failure nothing is left behind.
fn write(out: &Path, compiled: &[Compiled]) -> Result<usize, Diagnostic> {
    let io = |e: std::io::Error, what: &Path| {
        Diagnostic::error(
            "compile::write",
            format!("cannot write `{}`: {e}", what.display()),
        )
        .help("check the output directory's path and permissions")
    };
    let existed = out.exists();
    if existed {
        let empty = std::fs::read_dir(out)
            .map_err(|e| io(e, out))?
            .next()
            .is_none();
        if !empty {
            return Err(Diagnostic::error(
                "compile::out_not_empty",
                format!("`{}` is not empty", out.display()),
            )
            .help("compile writes into an empty or absent directory, so no stale file is ever run; remove it or choose another"));
        }
    }
    let result = (|| {
        let mut count = 0;
        let mut seen_dirs = std::collections::HashSet::new();
        for c in compiled {
            let mut dir_name = file_safe(&c.integration);
            // Two integration names may map to one file name.
            while !seen_dirs.insert(dir_name.clone()) {
                dir_name.push('_');
            }
            let dir = out.join(&dir_name);
            std::fs::create_dir_all(&dir).map_err(|e| io(e, &dir))?;
            let mut files = Vec::new();
            for (i, object) in c.objects.iter().enumerate() {
                let file = format!(
                    "{:04}-{}-{}.sql",
                    i + 1,
                    object.kind,
                    file_safe(&object.name)
                );
                let path = dir.join(&file);
                std::fs::write(&path, &object.sql).map_err(|e| io(e, &path))?;
                files.push(ManifestFile {
                    file,
                    kind: object.kind,
                    object: &object.name,
                });
                count += 1;
            }
            let manifest = Manifest {
                format_version: 1,
                integration: &c.integration,
                dialect: c.dialect,
                files,
            };
            let path = dir.join("manifest.json");
            let text = serde_json::to_string_pretty(&manifest).unwrap_or_default() + "\n";
            std::fs::write(&path, text).map_err(|e| io(e, &path))?;
            count += 1;
        }
        Ok(count)
    })();
    if result.is_err() {
        if existed {
            if let Ok(entries) = std::fs::read_dir(out) {
                for entry in entries.flatten() {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        } else {
            let _ = std::fs::remove_dir_all(out);
        }
    }
    result
}
