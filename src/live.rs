//! The live checks of an online plan, SPEC §3: each source's declared
//! columns and types against the catalog (an error: the view would break),
//! and grants on base tables to anyone but their owner (a warning: a way
//! around every policy). Two queries per integration, whatever its size.
//!
//! The queries differ per dialect (`emit::reads`, from each dialect's
//! `SqlDialect`); what the rows mean does not. Reading the rows is pure, so
//! a test can run the Redshift queries against a recorded catalog.

use crate::diagnostic::{Code, Diagnostic};
use crate::model::Dialect;
use std::collections::{BTreeMap, BTreeSet};

/// A source's table as the catalog should show it.
#[derive(Debug, Clone)]
pub struct DeclaredTable {
    pub source: String,
    /// Catalog spellings (Redshift folds ASCII letters to lower case).
    pub database: String,
    pub schema: String,
    pub table: String,
    /// Column name and declared type.
    pub columns: Vec<(String, String)>,
    /// Where the source and each column are declared.
    pub loc: Option<crate::span::Loc>,
    pub column_locs: Vec<crate::span::Loc>,
}

impl DeclaredTable {
    /// How the column query names the table (`SqlDialect::table_key`).
    fn key(&self, dialect: Dialect) -> String {
        dialect
            .sql()
            .table_key(&self.database, &self.schema, &self.table)
    }
}

/// The schema names of a search path as the server prints it:
/// `"$user", public, "My Schema"`.
pub fn path_schemas(path: &str) -> Vec<String> {
    let mut schemas = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                current.push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => schemas.push(std::mem::take(&mut current)),
            c if c.is_whitespace() && !quoted => {}
            c => current.push(c),
        }
    }
    schemas.push(current);
    schemas.retain(|s| !s.is_empty());
    schemas
}

/// One row of the exposure query.
#[derive(Debug, Clone)]
pub struct Exposure {
    pub what: String,
    pub name: String,
    pub detail: String,
}

/// One row of the columns query.
#[derive(Debug, Clone)]
pub struct CatalogColumn {
    pub database: String,
    pub schema: String,
    pub table: String,
    pub column: String,
    pub data_type: String,
    pub char_length: Option<i32>,
    pub precision: Option<i32>,
    pub scale: Option<i32>,
}

/// One row of the grants query.
#[derive(Debug, Clone)]
pub struct CatalogGrant {
    pub schema: String,
    pub table: String,
    pub grantee_kind: String,
    pub grantee: String,
    pub privilege: String,
    pub owner: Option<String>,
    /// The column of a column grant; `None` for a grant on the table.
    pub column: Option<String>,
}

/// A type's canonical base name and its arguments, if any: `varchar(256)`,
/// `character varying(256)` and `VARCHAR (256)` all read as
/// (`character varying`, `256`).
pub fn canonical_type(text: &str) -> (String, Option<String>) {
    let text = text.trim().to_ascii_lowercase();
    let (base, args) = match text.split_once('(') {
        Some((base, rest)) => {
            let args: String = rest
                .trim_end()
                .trim_end_matches(')')
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            (base.trim().to_string(), Some(args))
        }
        None => (text, None),
    };
    let base = match base.as_str() {
        "varchar" | "nvarchar" | "character varying" => "character varying",
        "char" | "nchar" | "bpchar" | "character" => "character",
        "int" | "int4" | "integer" => "integer",
        "int8" | "bigint" => "bigint",
        "int2" | "smallint" => "smallint",
        "float" | "float8" | "double precision" => "double precision",
        "float4" | "real" => "real",
        "bool" | "boolean" => "boolean",
        "decimal" | "numeric" => "numeric",
        "timestamp" | "timestamp without time zone" => "timestamp without time zone",
        "timestamptz" | "timestamp with time zone" => "timestamp with time zone",
        "time" | "time without time zone" => "time without time zone",
        "timetz" | "time with time zone" => "time with time zone",
        other => other,
    }
    .to_string();
    (base, args)
}

impl CatalogColumn {
    /// The column's type, with the arguments the catalog gives, if any.
    pub fn canonical(&self) -> (String, Option<String>) {
        let (base, args) = canonical_type(&self.data_type);
        if args.is_some() {
            return (base, args);
        }
        let args = match base.as_str() {
            "character varying" | "character" => self.char_length.map(|n| n.to_string()),
            "numeric" => self
                .precision
                .map(|p| format!("{p},{}", self.scale.unwrap_or(0))),
            _ => None,
        };
        (base, args)
    }
}

/// The column's type as a policy declares it (`varchar(256)`,
/// `numeric(12,2)`, `timestamptz` …), or `None` for a type veil does not
/// govern (arrays, enums, types of the database's own extensions).
pub fn declared_type(column: &CatalogColumn, dialect: Dialect) -> Option<String> {
    let (base, args) = column.canonical();
    let (name, takes_args) = match base.as_str() {
        "character varying" => ("varchar", true),
        "character" => ("char", true),
        "numeric" => ("numeric", true),
        "timestamp without time zone" => ("timestamp", false),
        "timestamp with time zone" => ("timestamptz", false),
        "time without time zone" => ("time", false),
        "time with time zone" => ("timetz", false),
        "smallint" | "integer" | "bigint" | "real" | "double precision" | "boolean" | "date"
        | "text" => (base.as_str(), false),
        other if dialect.sql().own_types().contains(&other) => (other, false),
        _ => return None,
    };
    let args: Vec<String> = match (&args, takes_args) {
        (Some(args), true) => args.split(',').map(str::to_string).collect(),
        _ => Vec::new(),
    };
    // Only what the checker takes as this dialect's type.
    let ty = crate::ast::TypeExpr {
        name: name.to_string(),
        args: args.clone(),
        time_zone: None,
    };
    crate::check::types::classify(&ty, dialect).ok()?;
    Some(match args.is_empty() {
        true => name.to_string(),
        false => format!("{name}({})", args.join(",")),
    })
}

/// Whether a declared type matches the catalog's. Arguments are compared
/// when the catalog gives them.
fn type_matches(declared: &str, actual: &CatalogColumn) -> bool {
    let (declared_base, declared_args) = canonical_type(declared);
    let (base, args) = actual.canonical();
    declared_base == base && (args.is_none() || declared_args == args)
}

/// What the columns query says of the declared tables, taken in as its
/// rows arrive: whether the catalog has each declared table and column,
/// and the catalog's column where its type is not the declared one. (The
/// rows of 5,000 tables of 30 columns held whole took 48 MB.)
pub struct ColumnsFound<'t> {
    dialect: Dialect,
    /// The indices of the declared tables of each catalog name (the
    /// database only where the dialect's column view spans databases):
    /// two sources may read one table.
    index: std::collections::HashMap<(&'t str, &'t str, &'t str), Vec<usize>>,
    /// Per declared table, its declared columns' names, sorted, with their
    /// index.
    names: Vec<Vec<(&'t str, usize)>>,
    /// Per declared table, once the catalog shows it, what it has of each
    /// declared column.
    found: Vec<Option<Vec<Seen>>>,
    tables: &'t [DeclaredTable],
}

/// What the catalog has of one declared column.
#[derive(Clone)]
enum Seen {
    Missing,
    Matches,
    Other(CatalogColumn),
}

impl<'t> ColumnsFound<'t> {
    pub fn new(dialect: Dialect, tables: &'t [DeclaredTable]) -> ColumnsFound<'t> {
        let mut index: std::collections::HashMap<_, Vec<usize>> =
            std::collections::HashMap::with_capacity(tables.len());
        for (i, t) in tables.iter().enumerate() {
            let database = database_of(dialect, &t.database);
            index
                .entry((database, t.schema.as_str(), t.table.as_str()))
                .or_default()
                .push(i);
        }
        let names = tables
            .iter()
            .map(|t| {
                let mut names: Vec<(&str, usize)> = t
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(i, (name, _))| (name.as_str(), i))
                    .collect();
                names.sort_unstable();
                names
            })
            .collect();
        ColumnsFound {
            dialect,
            index,
            names,
            found: vec![None; tables.len()],
            tables,
        }
    }

    /// One row of the columns query.
    pub fn add(&mut self, column: CatalogColumn) {
        let key = (
            database_of(self.dialect, &column.database),
            column.schema.as_str(),
            column.table.as_str(),
        );
        let Some(indices) = self.index.get(&key) else {
            return;
        };
        for &t in indices {
            let table = &self.tables[t];
            let found =
                self.found[t].get_or_insert_with(|| vec![Seen::Missing; table.columns.len()]);
            let names = &self.names[t];
            // A name declared twice is checked at each place.
            let first = names.partition_point(|(name, _)| *name < column.column.as_str());
            for &(_, i) in names[first..]
                .iter()
                .take_while(|(name, _)| *name == column.column)
            {
                found[i] = if type_matches(&table.columns[i].1, &column) {
                    Seen::Matches
                } else {
                    Seen::Other(column.clone())
                };
            }
        }
    }
}

/// A table's database as the catalog key has it: PostgreSQL has one
/// database per connection; Redshift's column view spans the cluster's.
fn database_of(dialect: Dialect, name: &str) -> &str {
    if dialect.sql().names_database() {
        name
    } else {
        ""
    }
}

/// What the rows say: errors for missing tables, missing columns and
/// mismatched types; warnings for grants on base tables.
pub fn findings(
    integration: &str,
    dialect: Dialect,
    database: &str,
    columns: &ColumnsFound<'_>,
    grants: &[CatalogGrant],
    exposure: &[Exposure],
) -> (Vec<Diagnostic>, Vec<String>) {
    let tables = columns.tables;
    let errors = column_errors(integration, dialect, columns, exposure);
    let mut warnings = grant_warnings(dialect, database, tables, grants);
    warnings.extend(exposure_warnings(exposure));
    let elsewhere: Vec<String> = tables
        .iter()
        .filter(|t| dialect.sql().names_database() && t.database != database)
        .map(|t| t.key(dialect))
        .collect();
    if !elsewhere.is_empty() {
        warnings.push(format!(
            "grants on tables of other databases are not checked from `{database}` ({}): check them on their own database",
            elsewhere.join(", ")
        ));
    }
    (errors, warnings)
}

/// Declared tables and columns the catalog does not have, or has with
/// another type.
fn column_errors(
    integration: &str,
    dialect: Dialect,
    columns: &ColumnsFound<'_>,
    exposure: &[Exposure],
) -> Vec<Diagnostic> {
    // A Redshift user who is not a superuser sees in svv_all_columns only
    // the tables it may access (`r_SVV_ALL_COLUMNS`): what is missing may
    // only be hidden from it.
    let limited = exposure
        .iter()
        .find(|e| e.what == "sees_grants" && e.detail != "all")
        .map(|e| e.name.clone());
    let unseen = |help: &str| match &limited {
        Some(user) => format!(
            "{help}; `{user}` is not a superuser, and Redshift shows it only the tables it may access: grant it access to the table, or plan as a superuser"
        ),
        None => help.to_string(),
    };
    let mut errors = Vec::new();
    for (table, found) in columns.tables.iter().zip(&columns.found) {
        let key = table.key(dialect);
        let at = |d: Diagnostic, loc: Option<crate::span::Loc>, label: &str| match loc {
            Some(loc) => d.at_loc(loc, label),
            None => d,
        };
        let Some(found) = found else {
            errors.push(at(
                Diagnostic::error(
                    Code::PlanTableMissing,
                    format!(
                        "integration `{integration}`: table `{key}` of source `{}` does not exist",
                        table.source
                    ),
                )
                .help(unseen("create the table, or correct the source's `table`; a view over a missing table cannot be created")),
                table.loc,
                "the source reading it",
            ));
            continue;
        };
        errors.extend(column_findings(integration, &key, table, found, &unseen));
    }

    errors
}

/// The declared columns of one table against what the catalog has of each
/// (`found`): missing ones, and ones of another type.
fn column_findings(
    integration: &str,
    key: &str,
    table: &DeclaredTable,
    found: &[Seen],
    unseen: &dyn Fn(&str) -> String,
) -> Vec<Diagnostic> {
    let at = |d: Diagnostic, loc: Option<crate::span::Loc>, label: &str| match loc {
        Some(loc) => d.at_loc(loc, label),
        None => d,
    };
    let mut errors = Vec::new();
    for (i, ((column, declared), seen)) in table.columns.iter().zip(found).enumerate() {
        let column_loc = table.column_locs.get(i).copied().or(table.loc);
        match seen {
            Seen::Missing => errors.push(at(
                Diagnostic::error(
                    Code::PlanColumnMissing,
                    format!(
                        "integration `{integration}`: table `{key}` has no column `{column}` declared by source `{}`",
                        table.source
                    ),
                )
                .help(unseen("correct the source's `columns` block to match the table")),
                column_loc,
                "declared here",
            )),
            Seen::Other(actual) => {
                let (base, args) = actual.canonical();
                let shown = match args {
                    Some(args) => format!("{base}({args})"),
                    None => base,
                };
                errors.push(at(
                    Diagnostic::error(
                        Code::PlanColumnType,
                        format!(
                            "integration `{integration}`: column `{column}` of `{key}` is `{shown}`, but source `{}` declares `{declared}`",
                            table.source
                        ),
                    )
                    .help(format!("declare the column as `{shown}`, the table's type")),
                    column_loc,
                    "declared here",
                ))
            }
            Seen::Matches => {}
        }
    }
    errors
}

/// Grants on the declared tables to anyone but their owner, by table and
/// grantee (tables of the connected database only).
fn grant_warnings(
    dialect: Dialect,
    database: &str,
    tables: &[DeclaredTable],
    grants: &[CatalogGrant],
) -> Vec<String> {
    let declared: BTreeSet<(&str, &str)> = tables
        .iter()
        .filter(|t| !dialect.sql().names_database() || t.database == database)
        .map(|t| (t.schema.as_str(), t.table.as_str()))
        .collect();
    let mut granted: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for g in grants {
        if !declared.contains(&(g.schema.as_str(), g.table.as_str())) {
            continue;
        }
        // The owner's own privileges go with owning the table.
        let owner_kind = dialect.sql().owner_kind();
        if g.grantee_kind == owner_kind && g.owner.as_deref() == Some(g.grantee.as_str()) {
            continue;
        }
        let grantee = match g.grantee_kind.as_str() {
            "public" => "PUBLIC".to_string(),
            // Where every grantee is a role, its kind goes unsaid.
            "role" if owner_kind == "role" => g.grantee.clone(),
            kind => format!("{kind} {}", g.grantee),
        };
        let privilege = match &g.column {
            Some(column) => format!("{} ({column})", g.privilege.to_ascii_uppercase()),
            None => g.privilege.to_ascii_uppercase(),
        };
        granted
            .entry((format!("{}.{}", g.schema, g.table), grantee))
            .or_default()
            .insert(privilege);
    }
    granted
        .into_iter()
        .map(|((table, grantee), privileges)| {
            let privileges: Vec<String> = privileges.into_iter().collect();
            format!(
                "table {table} grants {} to {grantee} directly: a way around every policy; revoke it",
                privileges.join(", ")
            )
        })
        .collect()
}

/// Who reads around the views, and what is writable on the search path.
fn exposure_warnings(exposure: &[Exposure]) -> Vec<String> {
    let mut warnings = Vec::new();
    for e in exposure {
        match e.what.as_str() {
            "reads_all" => warnings.push(format!(
                "role {} is a member of {}: it reads every base table directly, around every policy",
                e.name, e.detail
            )),
            "superuser" => warnings.push(format!(
                "role {} is a superuser: it reads every base table directly, around every policy",
                e.name
            )),
            "writable" => warnings.push(format!(
                "schema `{}` on the search path of the account veil connects as is writable by {}: a function or operator created there could run as that account in any tool that does not pin its search path (veil does); revoke CREATE or take it off the path",
                e.name, e.detail
            )),
            "sees_grants" if e.detail != "all" => warnings.push(format!(
                "{} is not a superuser: Redshift shows it only the grants it may see, so grants on base tables may be missing above; run the plan as a superuser to see them all",
                e.name
            )),
            _ => {}
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `findings` of the columns query's rows `columns`.
    fn rows_findings(
        integration: &str,
        dialect: Dialect,
        database: &str,
        tables: &[DeclaredTable],
        columns: &[CatalogColumn],
        grants: &[CatalogGrant],
        exposure: &[Exposure],
    ) -> (Vec<Diagnostic>, Vec<String>) {
        let mut found = ColumnsFound::new(dialect, tables);
        for column in columns {
            found.add(column.clone());
        }
        findings(integration, dialect, database, &found, grants, exposure)
    }

    fn column(data_type: &str, len: Option<i32>, p: Option<i32>, s: Option<i32>) -> CatalogColumn {
        CatalogColumn {
            database: "d".into(),
            schema: "s".into(),
            table: "t".into(),
            column: "c".into(),
            data_type: data_type.into(),
            char_length: len,
            precision: p,
            scale: s,
        }
    }

    #[test]
    fn types_compare_by_canonical_name_and_known_arguments() {
        // PostgreSQL's format_type spellings.
        assert!(type_matches(
            "varchar(256)",
            &column("character varying(256)", None, None, None)
        ));
        assert!(!type_matches(
            "varchar(64)",
            &column("character varying(256)", None, None, None)
        ));
        assert!(!type_matches(
            "varchar",
            &column("character varying(256)", None, None, None)
        ));
        assert!(type_matches(
            "timestamp",
            &column("timestamp without time zone", None, None, None)
        ));
        assert!(type_matches(
            "numeric(12,2)",
            &column("numeric(12,2)", None, None, None)
        ));
        assert!(!type_matches(
            "integer",
            &column("bigint", None, None, None)
        ));
        // Redshift's svv_all_columns: a bare name, lengths and precision apart.
        assert!(type_matches(
            "varchar(256)",
            &column("character varying", Some(256), None, None)
        ));
        assert!(!type_matches(
            "varchar(32)",
            &column("character varying", Some(256), None, None)
        ));
        assert!(type_matches(
            "numeric(12, 2)",
            &column("numeric", None, Some(12), Some(2))
        ));
        assert!(!type_matches(
            "numeric(10,2)",
            &column("numeric", None, Some(12), Some(2))
        ));
        assert!(type_matches(
            "int4",
            &column("integer", None, Some(32), Some(0))
        ));
        assert!(type_matches("bool", &column("boolean", None, None, None)));
    }

    #[test]
    fn tables_match_by_their_parts_not_their_dotted_names() {
        let declared = [DeclaredTable {
            source: "x.y".into(),
            database: "db".into(),
            schema: "a.b".into(),
            table: "c".into(),
            columns: vec![("id".into(), "bigint".into())],
            loc: None,
            column_locs: vec![],
        }];
        // `a`.`b.c` spells `a.b.c` as well, but is another table.
        let other = CatalogColumn {
            database: "db".into(),
            schema: "a".into(),
            table: "b.c".into(),
            column: "id".into(),
            data_type: "bigint".into(),
            char_length: None,
            precision: None,
            scale: None,
        };
        let grant = CatalogGrant {
            schema: "a".into(),
            table: "b.c".into(),
            grantee_kind: "public".into(),
            grantee: String::new(),
            privilege: "SELECT".into(),
            owner: None,
            column: None,
        };
        for dialect in [Dialect::Postgres, Dialect::Redshift] {
            let (errors, warnings) = rows_findings(
                "i",
                dialect,
                "db",
                &declared,
                std::slice::from_ref(&other),
                std::slice::from_ref(&grant),
                &[],
            );
            assert_eq!(errors.len(), 1, "{dialect:?}");
            assert_eq!(errors[0].code, Code::PlanTableMissing);
            assert!(warnings.is_empty(), "{warnings:?}");
            let same = CatalogColumn {
                schema: "a.b".into(),
                table: "c".into(),
                ..other.clone()
            };
            let (errors, _) = rows_findings("i", dialect, "db", &declared, &[same], &[], &[]);
            assert!(errors.is_empty(), "{dialect:?}");
        }
    }

    /// Two sources may read one table: the catalog's columns are each's.
    #[test]
    fn two_sources_of_one_table_are_both_found() {
        let source = |name: &str, ty: &str| DeclaredTable {
            source: name.into(),
            database: "db".into(),
            schema: "public".into(),
            table: "cards".into(),
            columns: vec![("pan".into(), ty.into())],
            loc: None,
            column_locs: vec![],
        };
        let declared = [
            source("pay.cards", "text"),
            source("pay.cards_aws", "bigint"),
        ];
        let pan = CatalogColumn {
            database: "db".into(),
            schema: "public".into(),
            table: "cards".into(),
            column: "pan".into(),
            data_type: "text".into(),
            char_length: None,
            precision: None,
            scale: None,
        };
        for dialect in [Dialect::Postgres, Dialect::Redshift] {
            let (errors, _) = rows_findings(
                "i",
                dialect,
                "db",
                &declared,
                std::slice::from_ref(&pan),
                &[],
                &[],
            );
            let codes: Vec<Code> = errors.iter().map(|e| e.code).collect();
            assert_eq!(codes, [Code::PlanColumnType], "{dialect:?}: {errors:?}");
            assert!(errors[0].message.contains("pay.cards_aws"), "{errors:?}");
        }
    }

    #[test]
    fn exposure_rows_become_warnings() {
        let row = |what: &str, name: &str, detail: &str| Exposure {
            what: what.into(),
            name: name.into(),
            detail: detail.into(),
        };
        let (_, warnings) = rows_findings(
            "i",
            Dialect::Redshift,
            "db",
            &[],
            &[],
            &[],
            &[
                row("sees_grants", "deployer", "some"),
                row("writable", "public", "public"),
                row("superuser", "admin", ""),
            ],
        );
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(warnings[0].contains("deployer is not a superuser"));
        assert!(
            warnings[1].contains("schema `public`") && warnings[1].contains("writable by public")
        );
        assert!(warnings[2].contains("admin is a superuser"));
        let (_, warnings) = rows_findings(
            "i",
            Dialect::Redshift,
            "db",
            &[],
            &[],
            &[],
            &[row("sees_grants", "deployer", "all")],
        );
        assert!(
            warnings.is_empty(),
            "a superuser sees every grant: {warnings:?}"
        );
    }

    #[test]
    fn search_paths_split_like_the_server_prints_them() {
        assert_eq!(
            path_schemas("\"$user\", public, \"My \"\"Schema\"\"\", x"),
            ["$user", "public", "My \"Schema\"", "x"]
        );
        assert!(path_schemas("").is_empty());
    }
}
