//! Stage 4, `IR → SQL`: each database object of an integration as SQL of
//! its dialect, in the order to run them. Logic (expressions, quoting) is in
//! Rust; layout is in the minijinja templates under `templates/` (`common/`,
//! overridden per dialect where it differs),
//! compiled into the binary. Templates may print only values the emitter
//! has quoted: printing any other string is an error.

mod driver;
mod expr;
pub mod profile;
pub mod quote;
pub mod reads;
pub mod script;

pub use driver::{Compiled, compile_each, compile_for_plan, compile_ir};

use crate::hash::FastMap;
use crate::ir::{self, Integration, Profile, View};
use crate::model::{Dialect, Grantee};
use crate::object::{Object, ObjectId, ObjectKind, QualifiedName};
use expr::{Expr, ME};
use minijinja::value::Value;
use minijinja::{Environment, UndefinedBehavior, context};
use quote::{ident, literal, qualified};
use std::sync::OnceLock;

/// A template failed: a bug in veil, never in the policies.
#[derive(Debug, thiserror::Error)]
#[error("internal error rendering {template}: {message}")]
pub struct EmitError {
    template: String,
    message: String,
}

pub use profile::SIDE_TABLES;

/// The UDFs every integration gets.
const FUNCTIONS: [(&str, &str); 5] = [
    ("hash", "f_veil_hash"),
    ("show_first", "f_veil_show_first"),
    ("show_last", "f_veil_show_last"),
    ("show", "f_veil_show"),
    ("sample", "f_veil_sample"),
];

/// Rows per `INSERT` statement, to stay far below statement size limits.
const ROWS_PER_INSERT: usize = 500;

/// Bytes after which a new `INSERT` statement begins: a profile row holds
/// at most a few hundred kilobytes, so statements stay far below Redshift's
/// 16 MB.
const BYTES_PER_INSERT: usize = 1 << 20;

/// The templates, by layer: `common/` is what both dialects write; a
/// dialect's own template of the same name overrides it (whole, or by
/// extending it and replacing a block).
const TEMPLATES: [(&str, &str, &str); 15] = [
    (
        "common",
        "valid_tables",
        include_str!("../../templates/common/valid_tables.sql"),
    ),
    (
        "common",
        "access_rules",
        include_str!("../../templates/common/access_rules.sql"),
    ),
    (
        "common",
        "schema",
        include_str!("../../templates/common/schema.sql"),
    ),
    (
        "common",
        "table",
        include_str!("../../templates/common/table.sql"),
    ),
    (
        "common",
        "user_profile",
        include_str!("../../templates/common/user_profile.sql"),
    ),
    (
        "common",
        "profile_rows",
        include_str!("../../templates/common/profile_rows.sql"),
    ),
    (
        "redshift",
        "table",
        include_str!("../../templates/redshift/table.sql"),
    ),
    (
        "redshift",
        "key_bootstrap",
        include_str!("../../templates/redshift/key_bootstrap.sql"),
    ),
    (
        "redshift",
        "functions",
        include_str!("../../templates/redshift/functions.sql"),
    ),
    (
        "redshift",
        "procedures",
        include_str!("../../templates/redshift/procedures.sql"),
    ),
    (
        "redshift",
        "view",
        include_str!("../../templates/redshift/view.sql"),
    ),
    (
        "postgres",
        "key_bootstrap",
        include_str!("../../templates/postgres/key_bootstrap.sql"),
    ),
    (
        "postgres",
        "functions",
        include_str!("../../templates/postgres/functions.sql"),
    ),
    (
        "postgres",
        "procedures",
        include_str!("../../templates/postgres/procedures.sql"),
    ),
    (
        "postgres",
        "view",
        include_str!("../../templates/postgres/view.sql"),
    ),
];

/// The template environment, built once: strict about undefined values, and
/// refusing to print any string the emitter has not marked as quoted SQL.
fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
        {
            env.set_syntax(syntax);
        }
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.set_formatter(|out, _state, value| {
            if value.is_safe() || value.is_number() {
                write!(out, "{value}").map_err(|_| {
                    minijinja::Error::new(minijinja::ErrorKind::WriteFailure, "write failed")
                })
            } else {
                Err(minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    format!("refusing to print unquoted value {value:?}"),
                ))
            }
        });
        for (dialect, name, source) in TEMPLATES {
            // The templates are part of the binary and tested; a broken one
            // surfaces as an EmitError when it is looked up.
            let _ = env.add_template_owned(format!("{dialect}/{name}"), source);
        }
        env
    })
}

/// The `i`th per-user decision as a column of the `me` subquery a view
/// selects once per query.
fn decision_column(exprs: &Expr<'_>, i: usize, decision: &ir::Decision) -> Value {
    context! {
        expr => sql(exprs.decision(decision)),
        name => sql(ident(&Expr::decision_name(i))),
    }
}

/// Who may read the profile views (`user_profile`, `valid_tables`):
/// everyone when the integration exposes the profile, else only veil.
fn profile_grants(integration: &ir::Integration) -> Vec<Value> {
    if integration.expose_profile {
        vec![sql("PUBLIC")]
    } else {
        vec![]
    }
}

/// Marks emitter output as SQL a template may print.
fn sql(text: impl Into<String>) -> Value {
    Value::from_safe_string(text.into())
}

/// Renders the dialect's template `template`, or the common one where the
/// dialect has none of its own.
fn render(dialect: Dialect, template: &str, ctx: Value) -> Result<String, EmitError> {
    let own = format!("{}/{template}", dialect.name());
    let name = if TEMPLATES
        .iter()
        .any(|(d, n, _)| *d == dialect.name() && *n == template)
    {
        own
    } else {
        format!("common/{template}")
    };
    let error = |e: minijinja::Error| EmitError {
        template: name.clone(),
        message: e.to_string(),
    };
    let template = environment().get_template(&name).map_err(error)?;
    template.render(ctx).map_err(error)
}

/// A grantee as the dialect writes it.
fn grantee(g: &Grantee, dialect: Dialect) -> String {
    dialect.sql().grantee(g.kind, &ident(&g.name))
}

/// Receives each object as soon as it is rendered, with its position in
/// the integration's order, on whichever thread rendered it, and gives back
/// what the caller keeps of it (`compile` keeps no text it has written).
pub type Each<'e> = &'e (dyn Fn(usize, Object) -> Object + Sync);

/// Whether the profile rows are rendered: a file of every row for
/// `compile`, nothing for a plan, which compares rows one by one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileRows {
    Render,
    Omit,
}

/// Renders every object of an integration, in the order to run them,
/// handing each to `each` as soon as it is ready: veil's schemas, tables,
/// key, profile view and routines, then the profile rows and the views side
/// by side.
pub fn render_integration(
    (integration, views): (&Integration, ir::Views<'_>),
    index: usize,
    rows: ProfileRows,
    each: Each<'_>,
) -> Result<Vec<Object>, EmitError> {
    let r = Renderer::of(integration);
    let mut fixed = Vec::new();
    r.schemas(&mut fixed)?;
    r.tables(&mut fixed)?;
    r.user_profile(&mut fixed)?;
    r.valid_tables(&mut fixed)?;
    r.routines(&mut fixed)?;
    let mut objects: Vec<Object> = fixed
        .into_iter()
        .enumerate()
        .map(|(position, object)| each(position, object))
        .collect();
    // The profile rows and the views are independent: build them side by
    // side.
    let profile_position = objects.len();
    let (profile, views) = crate::parallel::both(
        || match rows {
            ProfileRows::Omit => Ok(None),
            ProfileRows::Render => r.profile_rows().map(|o| Some(each(profile_position, o))),
        },
        || {
            let emit =
                |k: usize, view: &ir::View| Ok(each(profile_position + 1 + k, r.view(view)?));
            match views {
                ir::Views::Lowered => integration
                    .views
                    .iter()
                    .enumerate()
                    .map(|(k, view)| emit(k, view))
                    .collect::<Result<Vec<Object>, EmitError>>(),
                ir::Views::FromModel(model) => {
                    ir::lower_views(model, index, |k, view| emit(k, &view))
                        .into_iter()
                        .collect()
                }
            }
        },
    );
    objects.extend(profile?);
    objects.extend(views?);
    Ok(objects)
}

/// What every object of one integration is rendered with.
struct Renderer<'a> {
    integration: &'a Integration,
    dialect: Dialect,
    schemas: &'a ir::Schemas,
    exprs: Expr<'a>,
    /// Who may read the views.
    readers: Vec<Value>,
}

fn object(kind: ObjectKind, name: QualifiedName, sql: String) -> Object {
    Object {
        id: ObjectId::new(kind, name),
        sql,
        columns: None,
    }
}

impl<'a> Renderer<'a> {
    fn of(integration: &'a Integration) -> Renderer<'a> {
        let dialect = integration.dialect;
        let readers = if integration.grant_to.is_empty() {
            vec![sql("PUBLIC")]
        } else {
            integration
                .grant_to
                .iter()
                .map(|g| sql(grantee(g, dialect)))
                .collect()
        };
        Renderer {
            integration,
            dialect,
            schemas: &integration.schemas,
            exprs: Expr {
                dialect,
                schemas: &integration.schemas,
                time_zone: &integration.time_zone,
            },
            readers,
        }
    }

    /// A table of veil's system schema, quoted.
    fn system(&self, table: &str) -> String {
        qualified(&[&self.schemas.system, table])
    }

    /// Schemas: veil's own give nobody else any right but what is granted.
    fn schemas(&self, out: &mut Vec<Object>) -> Result<(), EmitError> {
        let (integration, dialect, schemas) = (self.integration, self.dialect, self.schemas);
        let readers = &self.readers;
        let mut push = |kind, name, sql| out.push(object(kind, name, sql));
        let schema_usage = [
            (
                &schemas.system,
                if integration.expose_profile {
                    vec![sql("PUBLIC")]
                } else {
                    vec![]
                },
            ),
            (&schemas.functions, vec![sql("PUBLIC")]),
            (&schemas.procedures, vec![]),
            (&schemas.views, readers.clone()),
        ];
        for (schema, usage) in schema_usage {
            let text = render(
                dialect,
                "schema",
                context! { schema => sql(ident(schema)), usage => usage },
            )?;
            push(ObjectKind::Schema, QualifiedName::schema(schema), text);
        }

        Ok(())
    }

    /// Tables: the profile, its side tables, the key, veil's state.
    ///
    fn tables(&self, out: &mut Vec<Object>) -> Result<(), EmitError> {
        let (dialect, schemas) = (self.dialect, self.schemas);
        let system = |table: &str| self.system(table);
        let mut push = |kind, name, sql| out.push(object(kind, name, sql));
        for table in tables(dialect) {
            let name = system(table.name);
            let columns: Vec<Value> = table
                .columns
                .iter()
                .map(|(column, ty, not_null)| {
                    context! { name => sql(ident(column)), type => sql(*ty), not_null => *not_null }
                })
                .collect();
            let key: Vec<String> = table.key.iter().map(|k| ident(k)).collect();
            let text = render(
                dialect,
                "table",
                context! {
                    table => sql(name.clone()),
                    columns => columns,
                    primary_key => sql(key.join(", ")),
                    sort_key => sql(ident(table.key[0])),
                },
            )?;
            push(
                ObjectKind::Table,
                QualifiedName::new(&schemas.system, table.name),
                text,
            );
        }
        let text = render(
            dialect,
            "key_bootstrap",
            context! { key_table => sql(system("hash_key")) },
        )?;
        push(
            ObjectKind::Key,
            QualifiedName::new(&schemas.system, "hash_key"),
            text,
        );

        Ok(())
    }

    /// The user's own profile row.
    fn user_profile(&self, out: &mut Vec<Object>) -> Result<(), EmitError> {
        let (integration, dialect, schemas) = (self.integration, self.dialect, self.schemas);
        let system = |table: &str| self.system(table);
        let mut push = |kind, name, sql| out.push(object(kind, name, sql));
        let profile_columns: Vec<Value> = profile::columns().map(|c| sql(ident(c))).collect();
        let text = render(
            dialect,
            "user_profile",
            context! {
                view => sql(system("user_profile")),
                profile => sql(system("profile")),
                columns => profile_columns,
                grants => profile_grants(integration),
                options => sql(dialect.sql().view_options()),
                current_user => sql(dialect.sql().current_user()),
            },
        )?;
        push(
            ObjectKind::View,
            QualifiedName::new(&schemas.system, "user_profile"),
            text,
        );

        Ok(())
    }

    /// The rule set of every source (rows of `access_rules`) and the view
    /// that derives each user's valid tables from them.
    fn valid_tables(&self, out: &mut Vec<Object>) -> Result<(), EmitError> {
        let (integration, dialect, schemas) = (self.integration, self.dialect, self.schemas);
        let valid = &integration.valid_tables;
        let rules = self.system(profile::RULES);
        let mut text = render(
            dialect,
            "access_rules",
            context! { rules => sql(rules.clone()) },
        )?;
        if !text.ends_with('\n') {
            text.push('\n');
        }
        let mut rows = Inserts::new(&mut text, &rules, "\"source\", \"rule_set\"");
        for (source, set) in &valid.sources {
            rows.row(&[&literal(source, dialect), &set.to_string()]);
        }
        drop(rows);
        out.push(object(
            ObjectKind::Rules,
            QualifiedName::new(&schemas.system, profile::RULES),
            text,
        ));

        let mut decisions: Vec<Value> = valid
            .decisions
            .iter()
            .enumerate()
            .map(|(i, d)| decision_column(&self.exprs, i, &ir::Decision::Subject(d.clone())))
            .collect();
        if decisions.is_empty() {
            // No rule covers any source: still one column to select.
            decisions.push(context! { expr => sql("TRUE"), name => sql(ident("nobody")) });
        }
        let decision = |d: usize| format!("{ME}.{}", ident(&Expr::decision_name(d)));
        let arms: Vec<String> = valid
            .sets
            .iter()
            .enumerate()
            .map(|(set, &(yes, no))| {
                let holds = if yes == no {
                    decision(yes)
                } else {
                    format!(
                        "(CASE WHEN a.\"source\" IS NULL THEN {} ELSE {} END)",
                        decision(no),
                        decision(yes)
                    )
                };
                format!("    WHEN {set} THEN {holds}")
            })
            .collect();
        let condition = if arms.is_empty() {
            "FALSE".to_string()
        } else {
            format!(
                "CASE r.\"rule_set\"\n{}\n    ELSE FALSE\n  END",
                arms.join("\n")
            )
        };
        let text = render(
            dialect,
            "valid_tables",
            context! {
                view => sql(self.system(profile::VALID_TABLES)),
                options => sql(dialect.sql().view_options()),
                rules => sql(rules),
                decisions => decisions,
                user_profile => sql(self.system("user_profile")),
                approvals => sql(self.system("profile_approvals")),
                current_user => sql(dialect.sql().current_user()),
                where => sql(condition),
                grants => profile_grants(integration),
            },
        )?;
        out.push(object(
            ObjectKind::View,
            QualifiedName::new(&schemas.system, profile::VALID_TABLES),
            text,
        ));
        Ok(())
    }

    /// The UDFs and the profile procedures.
    fn routines(&self, out: &mut Vec<Object>) -> Result<(), EmitError> {
        let (dialect, schemas) = (self.dialect, self.schemas);
        let system = |table: &str| self.system(table);
        let mut push = |kind, name, sql| out.push(object(kind, name, sql));
        for (function, name) in FUNCTIONS {
            let qualified_name = qualified(&[&schemas.functions, name]);
            let text = render(
                dialect,
                "functions",
                context! { function => function, name => sql(qualified_name) },
            )?;
            push(
                ObjectKind::Function,
                QualifiedName::new(&schemas.functions, name),
                text,
            );
        }

        let side: Vec<Value> = SIDE_TABLES.iter().map(|t| sql(system(t))).collect();
        let delete = qualified(&[&schemas.procedures, "delete_profile"]);
        for (procedure, name) in [("delete", "delete_profile"), ("upsert", "upsert_profile")] {
            let text = render(
                dialect,
                "procedures",
                context! {
                    procedure => procedure,
                    name => sql(qualified(&[&schemas.procedures, name])),
                    delete => sql(delete.clone()),
                    profile => sql(system("profile")),
                    side_tables => side.clone(),
                    groups => sql(system("profile_groups")),
                    attributes => sql(system("profile_attributes")),
                    purposes => sql(system("profile_purposes")),
                    approvals => sql(system("profile_approvals")),
                },
            )?;
            push(
                ObjectKind::Procedure,
                QualifiedName::new(&schemas.procedures, name),
                text,
            );
        }

        Ok(())
    }

    /// Every user's profile row, from the identities.
    fn profile_rows(&self) -> Result<Object, EmitError> {
        let integration = self.integration;
        let side: Vec<Value> = SIDE_TABLES.iter().map(|t| sql(self.system(t))).collect();
        let mut text = render(
            self.dialect,
            "profile_rows",
            context! { side_tables => side, profile => sql(self.system("profile")) },
        )?;
        if !text.ends_with('\n') {
            text.push('\n');
        }
        let profiles: Vec<&Profile> = integration.profiles.iter().collect();
        text.reserve(profile_bytes(&profiles));
        write_profile_inserts(&mut text, integration, &profiles);
        Ok(object(
            ObjectKind::Profile,
            QualifiedName::new(&self.schemas.system, "profile"),
            text,
        ))
    }

    /// A governed view, with its columns and their types.
    fn view(&self, view: &View) -> Result<Object, EmitError> {
        Ok(Object {
            columns: Some(
                view.columns
                    .iter()
                    .map(|c| (c.name.clone(), c.output_type.sql.clone()))
                    .collect(),
            ),
            ..object(
                ObjectKind::View,
                QualifiedName::new(&self.schemas.views, &view.name),
                render_view(view, self.integration, &self.exprs, &self.readers)?,
            )
        })
    }
}

/// A table veil creates in its system schema.
struct Table {
    name: &'static str,
    columns: Vec<(&'static str, &'static str, bool)>,
    key: Vec<&'static str>,
}

/// Long, because it is data: every table of veil's system schema, column by column.
fn tables(dialect: Dialect) -> Vec<Table> {
    let sql = dialect.sql();
    let (name, list, text, now) = (
        sql.short_text(),
        sql.long_text(),
        sql.long_text(),
        sql.written_at(),
    );
    let user = sql.user_name();
    let sides = profile::SIDES.iter().map(|side| Table {
        name: side.table,
        columns: std::iter::once((profile::SIDE_USER, user, true))
            .chain(side.columns.iter().map(|c| (*c, name, true)))
            .collect(),
        key: std::iter::once(profile::SIDE_USER)
            .chain(side.columns.iter().copied())
            .collect(),
    });
    let mut tables = vec![Table {
        name: profile::TABLE,
        columns: std::iter::once((profile::USER, user, true))
            .chain(profile::FIELDS.iter().map(|f| {
                // Every user has lists (empty ones too), not always a
                // current project.
                let (ty, not_null) = match *f {
                    "current_project" => (name, false),
                    _ => (list, true),
                };
                (*f, ty, not_null)
            }))
            .chain(std::iter::once((profile::WRITTEN, now, true)))
            .collect(),
        key: vec![profile::USER],
    }];
    tables.extend(sides);
    tables.push(Table {
        name: profile::RULES,
        columns: vec![("source", name, true), ("rule_set", "INTEGER", true)],
        key: vec!["source"],
    });
    tables.extend([
        Table {
            name: "hash_key",
            columns: vec![("k", "CHAR(64)", true)],
            key: vec!["k"],
        },
        Table {
            name: "state",
            columns: vec![
                ("object_kind", "VARCHAR(32)", true),
                ("object_name", name, true),
                ("position", "INTEGER", true),
                ("checksum", "CHAR(64)", true),
                ("sql_text", text, true),
                ("columns_json", text, false),
                ("catalog_checksum", "CHAR(64)", false),
                ("catalog_json", text, false),
                ("veil_version", "VARCHAR(32)", true),
                ("applied_at", now, true),
            ],
            key: vec!["object_kind", "object_name"],
        },
        Table {
            // The texts of the objects in `state`, in parts a Redshift
            // VARCHAR holds: a wide view's SQL runs past 64 kB.
            name: "state_text",
            columns: vec![
                ("object_kind", "VARCHAR(32)", true),
                ("object_name", name, true),
                ("field", "VARCHAR(16)", true),
                ("part", "INTEGER", true),
                ("text", text, true),
            ],
            key: vec!["object_kind", "object_name", "field", "part"],
        },
        Table {
            // The policy files of the last apply, so that a plan can tell
            // who gains or loses what against the deployed policies.
            name: "policy_files",
            columns: vec![
                ("path", name, true),
                ("part", "INTEGER", true),
                ("text", text, true),
            ],
            key: vec!["path", "part"],
        },
        Table {
            name: "deployments",
            columns: vec![
                ("serial", "BIGINT", true),
                ("veil_version", "VARCHAR(32)", true),
                ("applied_at", now, true),
            ],
            key: vec!["serial"],
        },
    ]);
    tables
}

/// Writes `INSERT … VALUES` statements of one table straight into the
/// output, a new statement every `ROWS_PER_INSERT` rows or
/// `BYTES_PER_INSERT` bytes.
struct Inserts<'o> {
    out: &'o mut String,
    head: String,
    rows: usize,
    started: usize,
}

impl<'o> Inserts<'o> {
    fn new(out: &'o mut String, table: &str, columns: &str) -> Inserts<'o> {
        Inserts {
            out,
            head: format!("INSERT INTO {table} ({columns}) VALUES\n"),
            rows: 0,
            started: 0,
        }
    }

    /// Adds one row, given as its values in SQL.
    fn row(&mut self, values: &[&str]) {
        if self.rows == ROWS_PER_INSERT || self.out.len() - self.started >= BYTES_PER_INSERT {
            self.finish_statement();
        }
        if self.rows == 0 {
            self.started = self.out.len();
            self.out.push_str(&self.head);
        } else {
            self.out.push_str(",\n");
        }
        self.out.push_str("  (");
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.out.push_str(", ");
            }
            self.out.push_str(v);
        }
        self.out.push(')');
        self.rows += 1;
    }

    fn finish_statement(&mut self) {
        if self.rows > 0 {
            self.out.push_str(";\n");
            self.rows = 0;
        }
    }
}

impl Drop for Inserts<'_> {
    fn drop(&mut self) {
        self.finish_statement();
    }
}

/// About how many bytes the profile rows of `profiles` take as SQL: each
/// value twice (in the profile row's lists and in its side-table row), and
/// the user's name on every row. Reserved up front, so the text of tens of
/// thousands of users is not copied as it grows.
fn profile_bytes(profiles: &[&Profile]) -> usize {
    profiles
        .iter()
        .map(|p| {
            let lists = [&p.groups, &p.projects, &p.purposes, &p.approved];
            let values: usize = lists.iter().map(|l| l.len()).sum::<usize>()
                + p.attributes.values().map(Vec::len).sum::<usize>();
            let bytes: usize = lists
                .iter()
                .flat_map(|l| l.iter())
                .chain(
                    p.attributes
                        .iter()
                        .flat_map(|(k, vs)| vs.iter().chain(std::iter::once(k))),
                )
                .map(String::len)
                .sum();
            (p.user.len() + 12) * (values + 2) + 2 * bytes + 16 * values + 64
        })
        .sum()
}

/// `INSERT` statements for the profile rows (and side-table rows) of the
/// given users, as SQL text.
pub fn profile_insert_sql(integration: &Integration, profiles: &[&Profile]) -> String {
    let mut out = String::new();
    write_profile_inserts(&mut out, integration, profiles);
    out
}

/// Appends the profile rows and side-table rows of `profiles` to `out` as
/// `INSERT` statements, one table after the other.
fn write_profile_inserts(out: &mut String, integration: &Integration, profiles: &[&Profile]) {
    let dialect = integration.dialect;
    let lit = |s: &str| literal(s, dialect);
    let json = |values: &[String]| lit(&serde_json::to_string(values).unwrap_or_default());
    let now = dialect.clock();
    let table = |name: &str| qualified(&[&integration.schemas.system, name]);
    let users: Vec<String> = profiles.iter().map(|p| lit(&p.user)).collect();

    let profile_columns: Vec<String> = profile::columns().map(ident).collect();
    let mut rows = Inserts::new(out, &table("profile"), &profile_columns.join(", "));
    for (p, user) in profiles.iter().zip(&users) {
        let pairs: Vec<[&String; 2]> = p
            .attributes
            .iter()
            .flat_map(|(k, vs)| vs.iter().map(move |v| [k, v]))
            .collect();
        let current = p.current_project.as_deref().map_or("NULL".to_string(), lit);
        rows.row(&[
            user,
            &json(&p.groups),
            &lit(&serde_json::to_string(&pairs).unwrap_or_default()),
            &json(&p.projects),
            &current,
            &json(&p.purposes),
            &json(&p.approved),
            now,
        ]);
    }
    drop(rows);

    // Names repeat across users (every user's groups, sources): each is
    // quoted once.
    let mut quoted: FastMap<&str, String> = FastMap::default();
    let mut list_rows =
        |out: &mut String, name: &str, column: &str, list: fn(&Profile) -> &[String]| {
            let mut rows =
                Inserts::new(out, &table(name), &format!("\"userid\", {}", ident(column)));
            for (p, user) in profiles.iter().zip(&users) {
                for value in list(p) {
                    rows.row(&[user, quote_once(&mut quoted, value, dialect)]);
                }
            }
        };
    list_rows(out, "profile_groups", "name", |p| &p.groups);
    let mut rows = Inserts::new(
        out,
        &table("profile_attributes"),
        "\"userid\", \"key\", \"value\"",
    );
    for (p, user) in profiles.iter().zip(&users) {
        for (k, vs) in &p.attributes {
            for v in vs {
                rows.row(&[user, &lit(k), &lit(v)]);
            }
        }
    }
    drop(rows);
    list_rows(out, "profile_purposes", "name", |p| &p.purposes);
    list_rows(out, "profile_approvals", "source", |p| &p.approved);
}

/// A literal, quoted once per distinct value.
fn quote_once<'c, 'a>(
    cache: &'c mut FastMap<&'a str, String>,
    value: &'a str,
    dialect: Dialect,
) -> &'c str {
    cache
        .entry(value)
        .or_insert_with(|| literal(value, dialect))
}

fn render_view(
    view: &View,
    integration: &Integration,
    exprs: &Expr<'_>,
    readers: &[Value],
) -> Result<String, EmitError> {
    let dialect = integration.dialect;
    let schemas = &integration.schemas;
    let columns: Vec<Value> = view
        .columns
        .iter()
        .map(|c| context! { expr => sql(column_expr(c, exprs)), name => sql(ident(&c.name)) })
        .collect();
    let mut decisions: Vec<Value> = view
        .decisions
        .iter()
        .enumerate()
        .map(|(i, d)| decision_column(exprs, i, d))
        .collect();
    if view.needs_key {
        decisions.push(context! {
            // Exactly one key, or none at all: a key added by hand is never
            // the one that hashes.
            expr => sql(format!(
                "(SELECT CASE WHEN {}(*) = 1 THEN {}(k.\"k\") END FROM {} AS k)",
                expr::builtin("count"),
                expr::builtin("min"),
                qualified(&[&schemas.system, "hash_key"])
            )),
            name => sql(ident("hash_key")),
        });
    }
    // Access first, then every filter: a row is kept only when all hold.
    let mut conditions = vec![format!("{ME}.{}", ident(&Expr::decision_name(0)))];
    conditions.extend(view.filters.iter().map(|f| exprs.cond(&f.keep)));
    let table = if view.late_binding {
        qualified(&[&view.table.database, &view.table.schema, &view.table.table])
    } else {
        qualified(&[&view.table.schema, &view.table.table])
    };
    render(
        dialect,
        "view",
        context! {
            view => sql(qualified(&[&schemas.views, &view.name])),
            table => sql(table),
            columns => columns,
            decisions => decisions,
            user_profile => sql(qualified(&[&schemas.system, "user_profile"])),
            profile => sql(qualified(&[&schemas.system, "profile"])),
            where => sql(conditions.join("\n  AND ")),
            late_binding => view.late_binding,
            grants => readers.to_vec(),
        },
    )
}

/// A column's value: the first mask branch that applies, else the value,
/// every branch cast to the one output type.
fn column_expr(column: &ir::ViewColumn, exprs: &Expr<'_>) -> String {
    let out = &column.output_type;
    // Every value is cast to the output type: the column has one, declared
    // type for every user, whatever the functions return. A date, time or
    // float shown as text is shown in a form no session setting changes.
    let convert = |expr: String, ty: &crate::model::SqlType| {
        let expr = match out.kind.is_text() {
            true => exprs.display_text(&expr, ty).unwrap_or(expr),
            false => expr,
        };
        format!("CAST({expr} AS {})", out.sql)
    };
    let cast = |expr: String, ty: &crate::model::SqlType| match ty == out {
        true => expr,
        false => convert(expr, ty),
    };
    // A clear or truncated value has the column's own type; any other
    // mask's is the function's, so it is always cast.
    let value = |b: &ir::Branch| {
        let expr = exprs.mask(&b.mask, &column.name, &column.source_type, out);
        match b.mask {
            ir::Mask::Clear | ir::Mask::Truncate(_) => cast(expr, &b.mask_type),
            // NULL has no text form to compute (and no type to compute it
            // from): it is NULL of the output type.
            ir::Mask::Null => format!("CAST(NULL AS {})", out.sql),
            _ => convert(expr, &b.mask_type),
        }
    };
    match column.branches.as_slice() {
        [] => exprs.column(&column.name),
        [first, ..] if first.applies == ir::Cond::True => value(first),
        branches => {
            // One arm a line: a change of one rule is a change of one line
            // in the plan's diff.
            let mut text = String::from("CASE");
            let mut ends_always = false;
            let mut seen: Vec<&ir::Cond> = Vec::new();
            for b in branches {
                if b.applies == ir::Cond::True {
                    text.push_str(&format!("\n    ELSE {}", value(b)));
                    ends_always = true;
                    break;
                }
                // A branch under the same condition as an earlier one is
                // never reached.
                if seen.contains(&&b.applies) {
                    continue;
                }
                seen.push(&b.applies);
                text.push_str(&format!(
                    "\n    WHEN {} THEN {}",
                    exprs.cond(&b.applies),
                    value(b)
                ));
            }
            if !ends_always {
                text.push_str(&format!(
                    "\n    ELSE {}",
                    cast(exprs.column(&column.name), &column.source_type)
                ));
            }
            text.push_str("\n  END");
            text
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn integration(profiles: Vec<Profile>) -> Integration {
        Integration::for_test("w", Dialect::Redshift, profiles)
    }

    fn profile(user: &str, tables: usize, name_len: usize) -> Profile {
        Profile {
            user: user.into(),
            groups: vec!["g".into()],
            attributes: Default::default(),
            projects: vec![],
            current_project: None,
            purposes: vec![],
            approved: (0..tables).map(|i| format!("{i:0>name_len$}")).collect(),
        }
    }

    /// Statements of one table, as (table, rows, bytes).
    fn statements(sql: &str) -> Vec<(&str, usize, usize)> {
        sql.split_inclusive(";\n")
            .map(|s| {
                let table = s["INSERT INTO ".len()..].split(' ').next().unwrap_or("");
                (table, s.matches("\n  (").count(), s.len())
            })
            .collect()
    }

    #[test]
    fn inserts_split_by_rows() {
        let profiles: Vec<Profile> = (0..1001).map(|i| profile(&format!("u{i}"), 1, 4)).collect();
        let integration = integration(profiles);
        let refs: Vec<&Profile> = integration.profiles.iter().collect();
        let sql = profile_insert_sql(&integration, &refs);
        let profile_rows: Vec<usize> = statements(&sql)
            .into_iter()
            .filter(|(t, _, _)| *t == "\"s\".\"profile\"")
            .map(|(_, rows, _)| rows)
            .collect();
        assert_eq!(profile_rows, [500, 500, 1]);
        assert_eq!(
            sql.matches("INSERT INTO \"s\".\"profile_groups\"").count(),
            3
        );
        assert!(sql.ends_with(");\n"));
    }

    #[test]
    fn inserts_split_by_bytes() {
        // 40 users with 60 kB of approvals each: 2.4 MB of profile rows
        // must not go out as one statement.
        let profiles: Vec<Profile> = (0..40)
            .map(|i| profile(&format!("u{i}"), 2000, 28))
            .collect();
        let integration = integration(profiles);
        let refs: Vec<&Profile> = integration.profiles.iter().collect();
        let sql = profile_insert_sql(&integration, &refs);
        let all = statements(&sql);
        assert!(
            all.iter()
                .all(|(_, _, bytes)| *bytes < 2 * BYTES_PER_INSERT)
        );
        let profile_statements = all
            .iter()
            .filter(|(t, _, _)| *t == "\"s\".\"profile\"")
            .count();
        assert!(profile_statements >= 3, "{profile_statements} statements");
        assert_eq!(sql.matches("\n  ('u0', ").count(), 2002);
    }
}
