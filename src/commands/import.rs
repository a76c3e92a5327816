//! `veil import`: a `source` block for every table (and, asked for, view)
//! of an integration's database that the project does not declare yet,
//! every column with its type as the catalog says, written into new files
//! formatted as `veil fmt` writes them. It never rewrites a declaration or
//! a file, decides nothing silently (a column whose name looks personal
//! gets a suggested tag as a comment, never a tag), and writes nothing
//! unless the project with the new files validates.

use super::{Outcome, Status};
use crate::db::{self, ImportedColumn};
use crate::diagnostic::{Code, Diagnostic, Files};
use crate::fmt::name_text;
use crate::model::{Dialect, Model};
use crate::project::{ProjectSource, load_checked};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Options of `veil import`.
pub struct ImportOptions<'a> {
    pub integration: &'a str,
    /// Only these schemas (all when empty).
    pub schemas: &'a [String],
    /// Only tables whose name (or `schema.table`) matches one of these
    /// patterns (`*` any run of characters); all when empty.
    pub tables: &'a [String],
    /// Views too, not only tables.
    pub views: bool,
    /// One file for every source instead of one per schema.
    pub out: Option<&'a Path>,
    /// Write nothing: report the declared sources whose tables, columns or
    /// types differ from the catalog.
    pub check: bool,
    /// The environment of `veil.yaml` whose database is read.
    pub environment: Option<&'a str>,
}

/// Words in a column's name that suggest personal data.
const PERSONAL: [&str; 16] = [
    "email",
    "mail",
    "phone",
    "mobile",
    "ssn",
    "social_security",
    "name",
    "address",
    "street",
    "birth",
    "dob",
    "passport",
    "iban",
    "card",
    "postcode",
    "zip",
];

/// One relation to declare: its catalog names and columns in order.
struct Relation<'c> {
    database: &'c str,
    schema: &'c str,
    table: &'c str,
    columns: Vec<&'c ImportedColumn>,
}

pub fn import(dir: &Path, options: &ImportOptions<'_>) -> Outcome {
    let (files, model, _) = match load_checked(ProjectSource::Dir(dir, options.environment)) {
        Ok(checked) => checked,
        Err((files, diagnostics)) => return Outcome::failed(files, diagnostics),
    };
    if let Err(unnamed) = crate::project::require_environment(&model) {
        return Outcome::failed(files, vec![unnamed]);
    }
    let Some(index) = model
        .integrations
        .iter()
        .position(|i| i.name == options.integration)
    else {
        let only = [options.integration.to_string()];
        let unknown = crate::plan::build::unknown_integration(&model, &only);
        return Outcome::failed(files, unknown.into_iter().collect());
    };
    let integration = &model.integrations[index];
    let dialect = integration.dialect;
    if options.check {
        return check(files, &model, index);
    }
    let read = db::connect(&db::Target::of(integration))
        .and_then(|mut conn| conn.relations(dialect, &crate::ir::Schemas::of(integration).all()));
    let rows = match read {
        Ok(rows) => rows,
        Err(d) => return Outcome::failed(files, vec![d]),
    };
    let (relations, skipped) = undeclared(&model, index, &rows, options);
    let texts = match render_files(dir, &model, index, &relations, options.out) {
        Ok(texts) => texts
            .into_iter()
            .map(|(p, t)| (p, formatted(t)))
            .collect::<Vec<_>>(),
        Err(d) => return Outcome::failed(files, vec![d]),
    };
    if let Err((files, diagnostics)) = validates(&files, &texts) {
        return Outcome::failed(files, diagnostics);
    }
    let mut output: String = skipped
        .iter()
        .map(|name| {
            format!("skipped {name}: its name holds a control character, which no name may\n")
        })
        .collect();
    for (path, text) in &texts {
        if let Err(e) = std::fs::write(path, text) {
            let d = Diagnostic::error(
                Code::ImportWrite,
                format!("cannot write `{}`: {e}", path.display()),
            )
            .help("check the directory's permissions");
            return Outcome::failed(files, vec![d]);
        }
        output.push_str(&format!("wrote {}\n", path.display()));
    }
    output.push_str(&format!(
        "imported {} sources of integration `{}`\n",
        relations.len(),
        integration.name
    ));
    Outcome {
        output,
        status: Status::Succeeded,
        ..Outcome::default()
    }
}

/// `veil import --check`: the live checks' findings on the declared
/// tables, columns and types of integration `index`, each at its line.
fn check(files: Files, model: &Model, index: usize) -> Outcome {
    let integration = &model.integrations[index];
    let dialect = integration.dialect;
    let tables = crate::plan::online::declared_tables(model, index);
    let database = dialect.catalog_name(&integration.database);
    let found = db::connect(&db::Target::of(integration))
        .and_then(|mut conn| conn.live_checks(dialect, &database, &tables));
    match found {
        Err(d) => Outcome::failed(files, vec![d]),
        Ok((errors, _)) if !errors.is_empty() => Outcome::failed(files, errors),
        Ok(_) => Outcome {
            files,
            output: format!(
                "the {} sources of integration `{}` match the catalog\n",
                tables.len(),
                integration.name
            ),
            status: Status::Succeeded,
            ..Outcome::default()
        },
    }
}

/// The relations of the catalog rows the options select that no source of
/// integration `index` declares yet.
fn undeclared<'c>(
    model: &Model,
    index: usize,
    rows: &'c [ImportedColumn],
    options: &ImportOptions<'_>,
) -> (Vec<Relation<'c>>, Vec<String>) {
    let integration = &model.integrations[index];
    let dialect = integration.dialect;
    let declared: Vec<(String, String, String)> = model
        .sources
        .iter()
        .filter(|s| s.integration == index)
        .map(|s| {
            (
                dialect.catalog_name(&s.table.database),
                dialect.catalog_name(&s.table.schema),
                dialect.catalog_name(&s.table.table),
            )
        })
        .collect();
    let mut relations: Vec<Relation<'c>> = Vec::new();
    let mut skipped: Vec<String> = Vec::new();
    for row in rows {
        let c = &row.column;
        if [&c.database, &c.schema, &c.table]
            .iter()
            .any(|n| n.chars().any(char::is_control))
        {
            let name = format!("{}.{}", c.schema, c.table)
                .escape_debug()
                .to_string();
            if !skipped.contains(&name) {
                skipped.push(name);
            }
            continue;
        }
        let wanted = (options.views || row.kind == "table")
            && (options.schemas.is_empty()
                || options
                    .schemas
                    .iter()
                    .any(|s| dialect.sql().same_name(s, &c.schema)))
            && (options.tables.is_empty()
                || options.tables.iter().any(|p| {
                    matches(p, &c.table) || matches(p, &format!("{}.{}", c.schema, c.table))
                }))
            && !declared.contains(&(c.database.clone(), c.schema.clone(), c.table.clone()));
        if !wanted {
            continue;
        }
        match relations.last_mut() {
            Some(r) if (r.database, r.schema, r.table) == (&c.database, &c.schema, &c.table) => {
                r.columns.push(row)
            }
            _ => relations.push(Relation {
                database: &c.database,
                schema: &c.schema,
                table: &c.table,
                columns: vec![row],
            }),
        }
    }
    (relations, skipped)
}

/// Whether `text` matches `pattern`, where `*` stands for any run of
/// characters.
fn matches(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return pattern == text;
    };
    if parts.len() == 1 {
        return pattern == text;
    }
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// The new files: (path, formatted text), one per schema or all in `out`.
/// A file that exists is never written over.
fn render_files(
    dir: &Path,
    model: &Model,
    index: usize,
    relations: &[Relation<'_>],
    out: Option<&Path>,
) -> Result<Vec<(PathBuf, String)>, Diagnostic> {
    let mut by_file: BTreeMap<PathBuf, String> = BTreeMap::new();
    for relation in relations {
        let path = match out {
            Some(out) => out.to_path_buf(),
            None => dir.join(format!(
                "imported_{}.veil",
                super::file_safe(relation.schema)
            )),
        };
        let text = by_file.entry(path).or_insert_with(|| {
            format!(
                "// Imported from the catalog of integration `{}` by veil import: check each\n// column, and tag what is sensitive.\n\n",
                model.integrations[index].name.replace('\n', " ")
            )
        });
        text.push_str(&source_block(model, index, relation));
    }
    let mut files = Vec::new();
    for (path, text) in by_file {
        if path.exists() {
            return Err(Diagnostic::error(
                Code::ImportWrite,
                format!(
                    "`{}` exists: veil import never writes over a file",
                    path.display()
                ),
            )
            .help("move the file away, or import into another with `--out FILE`"));
        }
        files.push((path, text));
    }
    Ok(files)
}

/// One `source` block: every column with its type, a suggested tag as a
/// comment where the name looks personal, and a comment for each column
/// whose type veil does not govern (left out of the view).
fn source_block(model: &Model, index: usize, relation: &Relation<'_>) -> String {
    let integration = &model.integrations[index];
    let dialect: Dialect = integration.dialect;
    let id = format!(
        "{}.{}",
        name_text(relation.schema),
        name_text(relation.table)
    );
    let table = if dialect.catalog_name(&integration.database) == relation.database {
        id.clone()
    } else {
        format!("{}.{id}", name_text(relation.database))
    };
    let mut text = format!(
        "source {id} {{\n  integration = {}\n  table = {table}\n  columns {{\n",
        name_text(&integration.name)
    );
    for column in &relation.columns {
        let c = &column.column;
        if c.column.chars().any(char::is_control) {
            text.push_str(&format!(
                "    // a column named \"{}\" holds a control character, which no name may; the view leaves it out\n",
                c.column.escape_debug()
            ));
            continue;
        }
        match crate::live::declared_type(c, dialect) {
            Some(ty) => {
                let lower = c.column.to_ascii_lowercase();
                let personal = PERSONAL.iter().any(|w| lower.contains(w));
                let hint = if personal {
                    "  // suggested: tags(pii)"
                } else {
                    ""
                };
                text.push_str(&format!("    {} {ty}{hint}\n", name_text(&c.column)));
            }
            None => text.push_str(&format!(
                "    // {}: the type `{}` is not one veil governs; the view leaves the column out\n",
                name_text(&c.column).replace('\n', " "),
                c.data_type.replace('\n', " ")
            )),
        }
    }
    text.push_str("  }\n}\n\n");
    text
}

/// `text` as `veil fmt` writes it (as it is, should it not parse: the
/// validation then says why).
fn formatted(text: String) -> String {
    match crate::syntax::parse(crate::span::FileId(0), &text) {
        Ok(parsed) => crate::fmt::format(&parsed, &text),
        Err(_) => text,
    }
}

/// The project with the new files loads and checks without errors.
fn validates(files: &Files, texts: &[(PathBuf, String)]) -> Result<(), (Files, Vec<Diagnostic>)> {
    let mut policies: Vec<(String, String)> = files
        .iter()
        .filter(|(_, f)| f.path.ends_with(".veil"))
        .map(|(_, f)| (f.path.clone(), f.text.clone()))
        .collect();
    policies.extend(
        texts
            .iter()
            .map(|(p, t)| (p.display().to_string(), t.clone())),
    );
    let identities = files
        .iter()
        .find(|(_, f)| {
            Path::new(&f.path)
                .file_name()
                .is_some_and(|n| n == crate::project::IDENTITIES)
        })
        .map(|(_, f)| f.text.clone())
        .unwrap_or_default();
    let project =
        crate::project::load_texts(&policies, &identities).map_err(|e| (e.files, e.diagnostics))?;
    let checked = project.check();
    if checked.diagnostics.iter().any(Diagnostic::is_error) {
        let mut diagnostics = checked.diagnostics;
        diagnostics.insert(
            0,
            Diagnostic::error(
                Code::ImportInvalid,
                "the imported sources do not validate; nothing was written",
            )
            .help("this is a bug in veil import unless the project had errors already"),
        );
        return Err((project.files, diagnostics));
    }
    Ok(())
}
