//! Integrations and sources: their properties, columns and names.

use super::{Checker, loc, types};
use crate::ast::{self, ListItem, SourceEntry, Value};
use crate::diagnostic::{Code, Diagnostic};
use crate::hash::FastMap;
use crate::model::{Column, Dialect, Grantee, Integration, Source, TableRef, TypeKind};
use crate::span::{FileId, Loc, Node, Span};
use crate::suggest::did_you_mean;
use std::collections::HashMap;

const INTEGRATION_KEYS: [&str; 11] = [
    "dialect",
    "host",
    "port",
    "database",
    "view_schema",
    "node_type",
    "connection",
    "grant_to",
    "expose_profile",
    "system_prefix",
    "time_zone",
];

const SOURCE_KEYS: [&str; 6] = ["integration", "table", "view", "host", "tags", "event_time"];

/// Schemas a view schema may never be.
const RESERVED_SCHEMAS: [&str; 4] = ["public", "information_schema", "pg_catalog", "pg_internal"];

/// Whether a time zone is `UTC` or an IANA name (`Area/Location`): the
/// forms both databases read the same way whatever a session's
/// abbreviation settings.
fn is_zone_name(zone: &str) -> bool {
    if zone == "UTC" {
        return true;
    }
    let mut parts = zone.split('/');
    let area = parts.next().unwrap_or("");
    let rest: Vec<&str> = parts.collect();
    let word = |w: &str| {
        !w.is_empty()
            && w.len() <= 40
            && w.starts_with(|c: char| c.is_ascii_alphabetic())
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+'))
    };
    word(area) && !rest.is_empty() && rest.iter().all(|w| word(w))
}

/// Properties by key, each key once; a repeated or unknown key is reported.
/// The properties of a declaration, by key.
type Props<'p> = HashMap<&'p str, &'p Node<ast::Property>>;

/// Where a declaration is: its file, its id and the id's location.
struct Place<'a> {
    file: FileId,
    id: &'a str,
    id_loc: Loc,
}

fn properties<'p>(
    checker: &mut Checker<'_>,
    file: FileId,
    props: impl Iterator<Item = &'p Node<ast::Property>>,
    known: &[&str],
    owner: &str,
) -> HashMap<&'p str, &'p Node<ast::Property>> {
    let mut map: HashMap<&str, &Node<ast::Property>> = HashMap::new();
    for prop in props {
        let key = prop.key.node.as_str();
        if !known.contains(&key) {
            let help = did_you_mean(key, known.iter().copied())
                .unwrap_or_else(|| format!("the keys of {owner} are {}", known.join(", ")));
            checker.error(
                Code::CheckUnknownProperty,
                format!("unknown property `{key}` in {owner}"),
                loc(file, prop.key.span),
                "unknown property",
                help,
            );
            continue;
        }
        if let Some(first) = map.get(key) {
            let first = loc(file, first.key.span);
            checker.push(
                Diagnostic::error(
                    Code::CheckDuplicateProperty,
                    format!("`{key}` is set twice"),
                )
                .at_loc(loc(file, prop.key.span), "set again here")
                .related(first, "first set here")
                .help("keep one of the two"),
            );
            continue;
        }
        map.insert(key, prop);
    }
    map
}

impl Checker<'_> {
    fn expect_string(&mut self, file: FileId, prop: &Node<ast::Property>) -> Option<String> {
        match &prop.value.node {
            Value::String(s) => Some(s.clone()),
            _ => {
                self.wrong_value(file, prop, "a string in double quotes");
                None
            }
        }
    }

    fn expect_name(&mut self, file: FileId, prop: &Node<ast::Property>) -> Option<String> {
        match &prop.value.node {
            Value::Path(p) if p.parts.len() == 1 => Some(p.parts[0].clone()),
            // A string is accepted where a single name is expected: schema
            // names are often written quoted.
            Value::String(s) => Some(s.clone()),
            _ => {
                self.wrong_value(file, prop, "a name");
                None
            }
        }
    }

    fn wrong_value(&mut self, file: FileId, prop: &Node<ast::Property>, expected: &str) {
        let key = &prop.key.node;
        self.error(
            Code::CheckPropertyValue,
            format!("`{key}` expects {expected}"),
            loc(file, prop.value.span),
            "wrong kind of value",
            format!("write `{key} = …` with {expected}"),
        );
    }

    /// An integration declaration, checked property by property (the
    /// methods below), then entered in the model.
    pub(super) fn integration(&mut self, file: FileId, it: &ast::Integration) {
        let name = it.name.node.clone();
        let name_loc = loc(file, it.name.span);
        let props = properties(
            self,
            file,
            it.properties.iter(),
            &INTEGRATION_KEYS,
            "an integration",
        );
        let dialect = self.integration_dialect(file, &props);
        let string =
            |c: &mut Self, key: &str| props.get(key).and_then(|p| c.expect_string(file, p));
        let host = string(self, "host");
        let node_type = string(self, "node_type");
        let port = self.port(file, &props);
        let connection_env = self.connection_env(file, &props, &name);
        let expose_profile = self.expose_profile(file, &props);
        let system_prefix = self.system_prefix(file, &props);
        let time_zone = self.time_zone(file, &props);
        let grant_to = self.grant_to(file, &props, dialect);
        let at = Place {
            file,
            id: &name,
            id_loc: name_loc,
        };
        let (database, view_schema) = self.integration_places(&at, &props, dialect, &system_prefix);
        if !dialect.sql().has_node_types()
            && node_type.is_some()
            && let Some(p) = props.get("node_type")
        {
            self.error(
                Code::CheckPropertyValue,
                "`node_type` is a Redshift setting",
                loc(file, p.key.span),
                "not for postgres",
                "remove `node_type` from a postgres integration",
            );
        }
        let integration = Integration {
            name: name.clone(),
            dialect,
            host,
            port,
            database,
            view_schema,
            node_type,
            connection_env,
            grant_to,
            expose_profile,
            system_prefix,
            time_zone,
            loc: Loc {
                file,
                span: it.name.span,
            },
        };
        if let Some(&first) = self.integration_index.get(&name) {
            let first = self.model.integrations[first].loc;
            self.push(
                Diagnostic::error(
                    Code::CheckDuplicate,
                    format!("integration `{name}` is declared twice"),
                )
                .at_loc(name_loc, "declared again here")
                .related(first, "first declared here")
                .help(format!(
                    "rename one of them; the first is at {}",
                    self.cite(first)
                )),
            );
            return;
        }
        self.integration_index
            .insert(name.clone(), self.model.integrations.len());
        self.model.integrations.push(integration);
    }

    fn integration_dialect(&mut self, file: FileId, props: &Props<'_>) -> Dialect {
        match props.get("dialect") {
            Some(p) => match &p.value.node {
                Value::Path(path) if let Some(d) = Dialect::named(&path.dotted()) => d,
                _ => {
                    self.error(
                        Code::CheckPropertyValue,
                        "unknown dialect",
                        loc(file, p.value.span),
                        "not a dialect",
                        "the dialects are `redshift` and `postgres`",
                    );
                    Dialect::Redshift
                }
            },
            None => Dialect::Redshift,
        }
    }

    fn port(&mut self, file: FileId, props: &Props<'_>) -> Option<u16> {
        props.get("port").and_then(|p| match &p.value.node {
            Value::Number(n) => match n.parse::<u16>() {
                Ok(port) if port > 0 => Some(port),
                _ => {
                    self.wrong_value(file, p, "a port number from 1 to 65535");
                    None
                }
            },
            _ => {
                self.wrong_value(file, p, "a port number from 1 to 65535");
                None
            }
        })
    }

    /// The environment variable of the connection URL: named, or
    /// `VEIL_<NAME>_URL`.
    fn connection_env(&mut self, file: FileId, props: &Props<'_>, name: &str) -> String {
        match props.get("connection") {
            Some(p) => match &p.value.node {
                Value::Env(var) if is_env_name(var) => var.clone(),
                Value::Env(_) => {
                    self.wrong_value(file, p, "`env(\"VAR\")` naming an environment variable");
                    String::new()
                }
                _ => {
                    self.error(
                        Code::CheckPropertyValue,
                        "`connection` must name an environment variable",
                        loc(file, p.value.span),
                        "not `env(\"…\")`",
                        "write `connection = env(\"VAR\")`: a URL in a policy file would put credentials in git",
                    );
                    String::new()
                }
            },
            None => format!("VEIL_{}_URL", env_part(name)),
        }
    }

    fn expose_profile(&mut self, file: FileId, props: &Props<'_>) -> bool {
        match props.get("expose_profile") {
            Some(p) => match p.value.node {
                Value::Bool(b) => b,
                _ => {
                    self.wrong_value(file, p, "`true` or `false`");
                    true
                }
            },
            None => true,
        }
    }

    /// The prefix of veil's schemas: a plain lower-case word.
    fn system_prefix(&mut self, file: FileId, props: &Props<'_>) -> String {
        let system_prefix = match props.get("system_prefix") {
            Some(p) => self.expect_name(file, p).unwrap_or_default(),
            None => "immuta".to_string(),
        };
        if let Some(p) = props.get("system_prefix") {
            // The prefix names schemas inside procedure bodies: a plain
            // lower-case word keeps it out of any quoting question.
            let plain = system_prefix.len() <= 40
                && system_prefix.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
                && system_prefix
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !plain {
                self.error(
                    Code::CheckPropertyValue,
                    format!("`system_prefix` `{}` is not a plain name", system_prefix.escape_debug()),
                    loc(file, p.value.span),
                    "not a plain name",
                    "use lower-case letters, digits and `_`, at most 40 characters, such as `immuta` or `veil`",
                );
            }
        }
        system_prefix
    }

    /// The zone time filters count in: `UTC` or an IANA name.
    fn time_zone(&mut self, file: FileId, props: &Props<'_>) -> String {
        match props.get("time_zone") {
            Some(p) => {
                let zone = self.expect_string(file, p).unwrap_or_default();
                if !is_zone_name(&zone) {
                    self.error(
                        Code::CheckPropertyValue,
                        format!("`time_zone` `{}` is not a time zone name", zone.escape_debug()),
                        loc(file, p.value.span),
                        "not a zone name",
                        "write `UTC` or an IANA zone name such as `Europe/Berlin`; abbreviations such as `EST` mean different zones on different servers",
                    );
                }
                zone
            }
            None => "UTC".to_string(),
        }
    }

    /// Who may select from the views.
    fn grant_to(&mut self, file: FileId, props: &Props<'_>, dialect: Dialect) -> Vec<Grantee> {
        let mut grant_to = Vec::new();
        if let Some(p) = props.get("grant_to") {
            match &p.value.node {
                Value::List(items) => {
                    for item in items {
                        match &item.node {
                            ListItem::Grantee(kind, who) => {
                                self.sql_name("grantee", who, dialect, loc(file, item.span));
                                grant_to.push(Grantee {
                                    kind: *kind,
                                    name: who.clone(),
                                });
                            }
                            _ => self.error(
                                Code::CheckPropertyValue,
                                "`grant_to` lists grantees",
                                loc(file, item.span),
                                "not a grantee",
                                "write `group \"name\"`, `user \"name\"` or `role \"name\"`",
                            ),
                        }
                    }
                }
                _ => self.wrong_value(file, p, "a list such as `[group \"analysts\"]`"),
            }
        }
        grant_to
    }

    /// The database and the view schema: both required, the schema one of
    /// its own.
    fn integration_places(
        &mut self,
        at: &Place<'_>,
        props: &Props<'_>,
        dialect: Dialect,
        system_prefix: &str,
    ) -> (String, String) {
        let (file, name, name_loc) = (at.file, at.id, at.id_loc);
        let database = props
            .get("database")
            .and_then(|p| self.expect_name(file, p));
        let view_schema = props
            .get("view_schema")
            .and_then(|p| self.expect_name(file, p));
        if database.is_none() && !props.contains_key("database") {
            self.error(
                Code::CheckMissingProperty,
                format!("integration `{name}` has no `database`"),
                name_loc,
                "declared here",
                "add `database = \"…\"`: the database the views and system schemas live in",
            );
        }
        if view_schema.is_none() && !props.contains_key("view_schema") {
            self.error(
                Code::CheckMissingProperty,
                format!("integration `{name}` has no `view_schema`"),
                name_loc,
                "declared here",
                "add `view_schema = \"…\"`: the schema the governed views are created in",
            );
        }
        let database = database.unwrap_or_default();
        let view_schema = view_schema.unwrap_or_default();
        if let Some(p) = props.get("database") {
            self.sql_name("database name", &database, dialect, loc(file, p.value.span));
        }
        if let Some(p) = props.get("view_schema") {
            let at = loc(file, p.value.span);
            self.sql_name("schema name", &view_schema, dialect, at);
            let folded = view_schema.to_ascii_lowercase();
            let system = ["system", "functions", "procedures"]
                .iter()
                .any(|s| folded == format!("{}_{s}", system_prefix.to_ascii_lowercase()));
            if RESERVED_SCHEMAS.contains(&folded.as_str()) || folded.starts_with("pg_") || system {
                self.error(
                    Code::CheckViewSchema,
                    format!("`{view_schema}` cannot hold the governed views"),
                    at,
                    "reserved schema",
                    "choose a schema of its own, such as `governed`: veil controls who may create objects in it",
                );
            }
        }
        (database, view_schema)
    }

    /// A source declaration, checked property by property (each a method
    /// below), then entered in the model.
    pub(super) fn source(&mut self, file: FileId, src: &ast::Source) {
        let id = src.id.dotted();
        let id_loc = loc(file, src.id.span);
        // Properties are kept as nodes of their own inside the entry list.
        let owned: Vec<Node<ast::Property>> = src
            .entries
            .iter()
            .filter_map(|e| match &e.node {
                SourceEntry::Property(p) => Some(Node::new(p.clone(), e.span)),
                SourceEntry::Columns(_) => None,
            })
            .collect();
        let props = properties(self, file, owned.iter(), &SOURCE_KEYS, "a source");
        let column_blocks: Vec<(&Vec<Node<ast::Column>>, Span)> = src
            .entries
            .iter()
            .filter_map(|e| match &e.node {
                SourceEntry::Columns(c) => Some((c, e.span)),
                SourceEntry::Property(_) => None,
            })
            .collect();
        let at = Place {
            file,
            id: &id,
            id_loc,
        };
        let Some(integration) = self.source_integration(&at, &props) else {
            return;
        };
        let dialect = self.model.integrations[integration].dialect;
        let int_database = self.model.integrations[integration].database.clone();
        let table = self.source_table(&at, &props, dialect, &int_database);
        let view = match props.get("view") {
            Some(p) => self.expect_name(file, p),
            None => table.as_ref().map(|t| t.table.clone()),
        };
        if let (Some(view), Some(p)) = (&view, props.get("view")) {
            self.sql_name("view name", view, dialect, loc(file, p.value.span));
        }
        self.source_host(&at, &props, integration);
        let tags = self.source_tags(file, &props);
        let (columns, mistyped) = self.source_columns(&at, &column_blocks, dialect);
        let event_time = self.source_event_time(file, &props, &columns, &mistyped, dialect);
        let Some(table) = table else { return };
        let Some(view) = view else { return };
        let cross_database =
            dialect.catalog_name(&table.database) != dialect.catalog_name(&int_database);
        if cross_database {
            self.cross_database(&at, &props, integration, &table);
        }
        let source = Source {
            id: id.clone(),
            integration,
            dialect,
            table,
            view,
            tags,
            event_time,
            columns,
            cross_database,
            loc: id_loc,
        };
        self.enter_source(&at, &props, source, mistyped);
    }

    /// The integration of a source: named, or the only one there is.
    fn source_integration(&mut self, at: &Place<'_>, props: &Props<'_>) -> Option<usize> {
        let (file, id, id_loc) = (at.file, at.id, at.id_loc);
        match props.get("integration") {
            Some(p) => match &p.value.node {
                Value::Path(path) if path.parts.len() == 1 => {
                    let name = &path.parts[0];
                    match self.integration_index.get(name) {
                        Some(&i) => Some(i),
                        None => {
                            let names: Vec<String> =
                                self.integration_index.keys().cloned().collect();
                            self.unknown(
                                "integration",
                                name,
                                loc(file, p.value.span),
                                names.iter().map(String::as_str),
                                "declare it with `integration NAME { … }`",
                            );
                            None
                        }
                    }
                }
                _ => {
                    self.wrong_value(file, p, "the name of an integration");
                    None
                }
            },
            None if self.model.integrations.len() == 1 => Some(0),
            None => {
                self.error(
                    Code::CheckMissingProperty,
                    format!("source `{id}` names no integration"),
                    id_loc,
                    "declared here",
                    "add `integration = NAME`; with several integrations veil cannot choose",
                );
                None
            }
        }
    }

    /// The table of a source: `schema.table` or `database.schema.table`.
    fn source_table(
        &mut self,
        at: &Place<'_>,
        props: &Props<'_>,
        dialect: Dialect,
        int_database: &str,
    ) -> Option<TableRef> {
        let (file, id, id_loc) = (at.file, at.id, at.id_loc);
        match props.get("table") {
            Some(p) => match &p.value.node {
                Value::Path(path) if (2..=3).contains(&path.parts.len()) => {
                    let at = loc(file, p.value.span);
                    for part in &path.parts {
                        self.sql_name("table name", part, dialect, at);
                    }
                    let mut parts = path.parts.iter().rev().cloned();
                    let table = parts.next().unwrap_or_default();
                    let schema = parts.next().unwrap_or_default();
                    let database = parts.next().unwrap_or_else(|| int_database.to_string());
                    Some(TableRef {
                        database,
                        schema,
                        table,
                    })
                }
                _ => {
                    self.wrong_value(file, p, "`schema.table` or `database.schema.table`");
                    None
                }
            },
            None => {
                self.error(
                    Code::CheckMissingProperty,
                    format!("source `{id}` has no `table`"),
                    id_loc,
                    "declared here",
                    "add `table = schema.table` (or `database.schema.table`)",
                );
                None
            }
        }
    }

    /// A source's `host` must be its integration's.
    fn source_host(&mut self, at: &Place<'_>, props: &Props<'_>, integration: usize) {
        let (file, id) = (at.file, at.id);
        if let Some(p) = props.get("host")
            && let Some(host) = self.expect_string(file, p)
        {
            let integration_host = self.model.integrations[integration].host.clone();
            let same = integration_host
                .as_deref()
                .is_some_and(|h| h.eq_ignore_ascii_case(&host));
            if !same {
                let int_name = self.model.integrations[integration].name.clone();
                let help = match integration_host {
                    Some(h) => format!(
                        "a view can only read tables on its own host: integration `{int_name}` is on `{h}`; move the source to an integration on `{host}`"
                    ),
                    None => format!(
                        "integration `{int_name}` declares no host; set its `host` or remove this one"
                    ),
                };
                self.error(
                    Code::CheckHostMismatch,
                    format!("source `{id}` is on another host than its integration"),
                    loc(file, p.value.span),
                    "this host",
                    help,
                );
            }
        }
    }

    fn source_tags(&mut self, file: FileId, props: &Props<'_>) -> Vec<String> {
        let mut tags = Vec::new();
        if let Some(p) = props.get("tags") {
            match &p.value.node {
                Value::List(items) => {
                    for item in items {
                        match &item.node {
                            ListItem::Path(path) => tags.push(path.dotted()),
                            _ => {
                                self.wrong_value(file, p, "a list of tags such as `[finance, pii]`")
                            }
                        }
                    }
                }
                _ => self.wrong_value(file, p, "a list of tags such as `[finance, pii]`"),
            }
        }
        tags
    }

    /// The columns of a source: exactly one block, names unique in the
    /// catalog's folding; and the names of those whose declared type is an
    /// error already.
    fn source_columns(
        &mut self,
        at: &Place<'_>,
        column_blocks: &[(&Vec<Node<ast::Column>>, Span)],
        dialect: Dialect,
    ) -> (Vec<Column>, Vec<String>) {
        let (file, id, id_loc) = (at.file, at.id, at.id_loc);
        let mut columns = Vec::new();
        // Columns declared with a type that is an error already.
        let mut mistyped: Vec<String> = Vec::new();
        match column_blocks {
            [] => self.error(
                Code::CheckMissingColumns,
                format!("source `{id}` declares no columns"),
                id_loc,
                "declared here",
                "add a `columns { name type … }` block: veil never guesses a table's columns",
            ),
            [(block, block_span), rest @ ..] => {
                for (_, extra) in rest {
                    self.push(
                        Diagnostic::error(Code::CheckDuplicate, "a source has one `columns` block")
                            .at(file, *extra, "second block")
                            .related(loc(file, *block_span), "first block")
                            .help("merge the two blocks"),
                    );
                }
                if block.is_empty() {
                    self.error(
                        Code::CheckMissingColumns,
                        format!("source `{id}` declares no columns"),
                        loc(file, *block_span),
                        "empty",
                        "list the table's columns with their types",
                    );
                }
                let mut seen: FastMap<String, Span> =
                    FastMap::with_capacity_and_hasher(block.len(), Default::default());
                for column in block.iter() {
                    let name = column.name.node.clone();
                    let at = loc(file, column.name.span);
                    self.sql_name("column name", &name, dialect, at);
                    let folded = dialect.catalog_name(&name);
                    if let Some(first) = seen.get(&folded) {
                        self.push(
                            Diagnostic::error(
                                Code::CheckDuplicate,
                                format!("column `{name}` is declared twice in `{id}`"),
                            )
                            .at_loc(at, "declared again here")
                            .related(loc(file, *first), "first declared here")
                            .help(if dialect.sql().folds_case() {
                                "Redshift folds column names to lower case: the two names are one column"
                            } else {
                                "remove one of the two"
                            }),
                        );
                        continue;
                    }
                    seen.insert(folded, column.name.span);
                    let Some(ty) = self.column_type(file, column, dialect) else {
                        mistyped.push(dialect.catalog_name(&name));
                        continue;
                    };
                    columns.push(Column {
                        name,
                        ty,
                        tags: column.tags.iter().map(|t| t.dotted()).collect(),
                        masks: Vec::new(),
                        loc: Loc {
                            file,
                            span: column.span,
                        },
                    });
                }
            }
        }
        (columns, mistyped)
    }

    /// A declared column's type, or `None` (reported) when it is not one
    /// the dialect has.
    fn column_type(
        &mut self,
        file: FileId,
        column: &Node<ast::Column>,
        dialect: Dialect,
    ) -> Option<crate::model::SqlType> {
        match types::classify(&column.ty.node, dialect) {
            Ok(ty) => Some(ty),
            Err(problem) => {
                let help = did_you_mean(&column.ty.name, types::KNOWN.iter().copied())
                    .unwrap_or_else(|| {
                        "declare the column's type as the database knows it, such as `varchar(256)`, `bigint`, `numeric(12,2)` or `timestamp`".into()
                    });
                self.error(
                    Code::CheckColumnType,
                    problem,
                    loc(file, column.ty.span),
                    "this type",
                    help,
                );
                None
            }
        }
    }

    /// The column time filters read: a declared date or timestamp.
    fn source_event_time(
        &mut self,
        file: FileId,
        props: &Props<'_>,
        columns: &[Column],
        mistyped: &[String],
        dialect: Dialect,
    ) -> Option<usize> {
        match props.get("event_time") {
            Some(p) => match self.expect_name(file, p) {
                Some(name) => {
                    let found = columns
                        .iter()
                        .position(|c| dialect.catalog_name(&c.name) == dialect.catalog_name(&name));
                    match found {
                        Some(i) if columns[i].ty.kind.is_temporal() => Some(i),
                        Some(i) => {
                            self.error(
                                Code::CheckEventTime,
                                format!("`event_time` column `{name}` is not a date or timestamp"),
                                loc(file, p.value.span),
                                format!("`{}`", columns[i].ty.sql).as_str(),
                                "time filters compare the event time with the clock: name a `date` or `timestamp` column",
                            );
                            None
                        }
                        // Declared, with a type that is an error already.
                        None if mistyped.contains(&dialect.catalog_name(&name)) => None,
                        None => {
                            self.unknown(
                                "column",
                                &name,
                                loc(file, p.value.span),
                                columns.iter().map(|c| c.name.as_str()),
                                "name one of the source's declared columns",
                            );
                            None
                        }
                    }
                }
                None => None,
            },
            None => None,
        }
    }

    /// A source reading another database than its integration's: only
    /// Redshift's RA3 nodes and Serverless can.
    fn cross_database(
        &mut self,
        at: &Place<'_>,
        props: &Props<'_>,
        integration: usize,
        table: &TableRef,
    ) {
        let (file, id, id_loc) = (at.file, at.id, at.id_loc);
        let dialect = self.model.integrations[integration].dialect;
        let at = props
            .get("table")
            .map_or(id_loc, |p| loc(file, p.value.span));
        let integration = &self.model.integrations[integration];
        match dialect.sql().names_database() {
                false => self.error(
                    Code::CheckCrossDatabase,
                    format!("source `{id}` reads database `{}`, not `{}`", table.database, integration.database),
                    at,
                    "another database",
                    "PostgreSQL views cannot read other databases: put the source in an integration for its own database",
                ),
                true => {
                    let capable = integration
                        .node_type
                        .as_deref()
                        .is_some_and(|n| n.to_ascii_lowercase().starts_with("ra3.") || n.eq_ignore_ascii_case("serverless"));
                    if !capable {
                        let int_name = integration.name.clone();
                        self.error(
                            Code::CheckCrossDatabase,
                            format!("source `{id}` reads another database, which needs RA3 nodes or Serverless"),
                            at,
                            "cross-database reference",
                            format!("set `node_type` of integration `{int_name}` to its `ra3.*` node type or `serverless`, or read a table of database `{}`", integration.database),
                        );
                    }
                }
            }
    }

    /// Enters a checked source in the model: one view name per integration
    /// (compared as the catalog stores it), one declaration per id.
    fn enter_source(
        &mut self,
        at: &Place<'_>,
        props: &Props<'_>,
        source: Source,
        mistyped: Vec<String>,
    ) {
        let (file, id, id_loc) = (at.file, at.id, at.id_loc);
        let (integration, dialect) = (source.integration, source.dialect);
        let view = source.view.clone();
        let view_key = (integration, dialect.catalog_name(&view));
        if let Some(other) = self
            .view_index
            .get(&view_key)
            .map(|&i| &self.model.sources[i])
        {
            let other_loc = other.loc;
            let other_id = other.id.clone();
            self.push(
                Diagnostic::error(
                    Code::CheckDuplicateView,
                    format!("sources `{other_id}` and `{id}` would both create view `{view}`"),
                )
                .at_loc(
                    props
                        .get("view")
                        .map_or(id_loc, |p| loc(file, p.value.span)),
                    "same view name",
                )
                .related(other_loc, "the other source")
                .help("give one of them another name with `view = …`"),
            );
        }
        if let Some(&first) = self.source_index.get(id) {
            let first = self.model.sources[first].loc;
            self.push(
                Diagnostic::error(
                    Code::CheckDuplicate,
                    format!("source `{id}` is declared twice"),
                )
                .at_loc(id_loc, "declared again here")
                .related(first, "first declared here")
                .help(format!(
                    "give one of them another id; the first is at {}",
                    self.cite(first)
                )),
            );
            return;
        }
        self.source_index
            .insert(id.to_string(), self.model.sources.len());
        self.view_index.insert(view_key, self.model.sources.len());
        for name in mistyped {
            self.mistyped.insert((self.model.sources.len(), name));
        }
        self.model.sources.push(source);
    }

    /// Builds the tag indexes: each tag is entered under itself and every
    /// prefix, so `tagged pii` finds `pii.email` in one lookup.
    pub(super) fn index_tags(&mut self) {
        for (s, source) in self.model.sources.iter().enumerate() {
            for tag in &source.tags {
                for prefix in prefixes(tag) {
                    index_tag(&mut self.source_tags, prefix, s);
                }
            }
            for (c, column) in source.columns.iter().enumerate() {
                for tag in &column.tags {
                    for prefix in prefixes(tag) {
                        index_tag(&mut self.column_tags, prefix, (s, c));
                    }
                }
            }
        }
    }
}

/// Adds `at` to the places carrying `tag`, once.
fn index_tag<T: PartialEq>(index: &mut FastMap<String, Vec<T>>, tag: &str, at: T) {
    let entry = match index.get_mut(tag) {
        Some(entry) => entry,
        None => index.entry(tag.to_string()).or_default(),
    };
    if entry.last() != Some(&at) {
        entry.push(at);
    }
}

/// `a.b.c` → `a`, `a.b`, `a.b.c`.
pub(super) fn prefixes(tag: &str) -> impl Iterator<Item = &str> {
    tag.match_indices('.')
        .map(move |(i, _)| &tag[..i])
        .chain(std::iter::once(tag))
}

/// Whether `var` is a usable environment variable name.
fn is_env_name(var: &str) -> bool {
    !var.is_empty()
        && !var.starts_with(|c: char| c.is_ascii_digit())
        && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// An integration name as part of an environment variable name.
fn env_part(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

impl TypeKind {
    /// A short description for messages.
    pub fn family(self) -> &'static str {
        if self.is_numeric() {
            "numeric"
        } else if self.is_text() {
            "text"
        } else if self.is_temporal() {
            "date/time"
        } else if self == TypeKind::Boolean {
            "boolean"
        } else {
            "other"
        }
    }
}
