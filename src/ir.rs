//! Stage 3, `Model → IR`: per integration, the database objects that enforce
//! the policies, dialect-neutral. Every column carries its final expression
//! (the mask branches in precedence order, each with the condition under
//! which it applies, and the type every user sees); every view its access
//! check and row filters; every user a profile row.

use crate::ast::{self, Literal, Method, TimeUnit};
use crate::eval;
use crate::model::{self, Dialect, Grantee, Model, SqlType, TableRef, TypeKind};
use crate::span::Loc;
use serde::Serialize;
use std::collections::BTreeMap;

/// The IR of a whole project.
#[derive(Debug, Clone, Serialize)]
pub struct Project {
    pub integrations: Vec<Integration>,
}

/// Everything veil creates in one database.
#[derive(Debug, Clone, Serialize)]
pub struct Integration {
    pub name: String,
    pub dialect: Dialect,
    pub database: String,
    pub schemas: Schemas,
    /// Who may select from the views; empty means `PUBLIC`.
    pub grant_to: Vec<Grantee>,
    pub expose_profile: bool,
    /// The zone time filters and `truncate` count in.
    pub time_zone: String,
    pub views: Vec<View>,
    /// One profile row per user of the project.
    pub profiles: Vec<Profile>,
    /// How the database derives each user's valid tables.
    pub valid_tables: ValidTables,
}

/// Each user's valid tables, as the database derives them: every source
/// some access rule covers, with its rule set (the sources covered by the
/// same rules share one), and each rule set's condition on the querying
/// user. Nothing here grows with the users.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ValidTables {
    /// The per-user conditions the rule sets read, computed once per query.
    pub decisions: Vec<Subject>,
    /// For each rule set, the decision that says whether the user may
    /// query a source of it when the user approved the source, and when
    /// not (the same decision unless a rule reads `approved`).
    pub sets: Vec<(usize, usize)>,
    /// Each source id with its rule set, in the project's order.
    pub sources: Vec<(String, usize)>,
}

#[cfg(test)]
impl Integration {
    /// An integration with no views and the given profiles, for tests of
    /// what is emitted or written around them.
    pub(crate) fn for_test(name: &str, dialect: Dialect, profiles: Vec<Profile>) -> Integration {
        Integration {
            name: name.into(),
            dialect,
            database: "d".into(),
            schemas: Schemas {
                system: "s".into(),
                functions: "f".into(),
                procedures: "p".into(),
                views: "v".into(),
            },
            grant_to: vec![],
            expose_profile: true,
            time_zone: "UTC".into(),
            views: vec![],
            profiles,
            valid_tables: ValidTables::default(),
        }
    }
}

/// The schemas of an integration.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Schemas {
    pub system: String,
    pub functions: String,
    pub procedures: String,
    pub views: String,
}

impl Schemas {
    /// veil's schemas, the view schema last.
    pub fn all(&self) -> Vec<String> {
        vec![
            self.system.clone(),
            self.functions.clone(),
            self.procedures.clone(),
            self.views.clone(),
        ]
    }

    /// The schemas an integration's objects live in.
    pub fn of(integration: &crate::model::Integration) -> Schemas {
        let prefix = &integration.system_prefix;
        Schemas {
            system: format!("{prefix}_system"),
            functions: format!("{prefix}_functions"),
            procedures: format!("{prefix}_procedures"),
            views: integration.view_schema.clone(),
        }
    }
}

/// One governed view.
#[derive(Debug, Clone, Serialize)]
pub struct View {
    pub source: String,
    pub name: String,
    pub table: TableRef,
    /// Cross-database views must be late-binding on Redshift.
    pub late_binding: bool,
    pub columns: Vec<ViewColumn>,
    /// The per-user conditions the view reads, computed once per query;
    /// conditions refer to them by index.
    pub decisions: Vec<Decision>,
    /// Whether a column is hashed, so the view reads the integration's key.
    pub needs_key: bool,
    pub filters: Vec<RowFilter>,
}

/// One column of a view and how its value is computed.
#[derive(Debug, Clone, Serialize)]
pub struct ViewColumn {
    pub name: String,
    /// The declared type of the table's column.
    pub source_type: SqlType,
    /// The type every user sees: the widest of the branches.
    pub output_type: SqlType,
    /// Mask branches, first in precedence first; the first that applies wins.
    pub branches: Vec<Branch>,
}

/// A mask that applies under a condition.
#[derive(Debug, Clone, Serialize)]
pub struct Branch {
    pub rule: Loc,
    pub applies: Cond,
    pub mask: Mask,
    /// The type the mask yields before the cast to the column's output type.
    pub mask_type: SqlType,
}

/// A masking function applied to the column's raw value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Mask {
    /// Keyed SHA-256 of the value, salted with the source id.
    Hash {
        source: String,
    },
    Null,
    Constant(Literal),
    Regex {
        pattern: String,
        replacement: String,
    },
    /// Nearest multiple of `multiple`, computed in `numeric`.
    Round {
        multiple: String,
    },
    Truncate(TimeUnit),
    ShowFirst(u32),
    ShowLast(u32),
    /// The first and the last characters shown, every other one `*`.
    Show {
        first: u32,
        last: u32,
        mask: char,
    },
    /// The value in clear, by a deliberate `using none`.
    Clear,
}

/// A per-user condition, computed once per query.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Decision {
    /// The user may query this source: every `require` line of the rules
    /// covering it holds and an `allow` line does.
    Access(Subject),
    Subject(Subject),
}

/// A condition on the querying user, as the views test it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Subject {
    Everyone,
    User(String),
    Group(String),
    Attribute(String),
    AttributeValue(String, String),
    Purpose(String),
    AnyPurpose,
    /// The user's identity entry approves this source (`allow approved`).
    Approved(String),
    Not(Box<Subject>),
    And(Vec<Subject>),
    Or(Vec<Subject>),
}

/// A condition in a view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Cond {
    True,
    False,
    /// The view's decision with this index.
    Decision(usize),
    Not(Box<Cond>),
    And(Vec<Cond>),
    Or(Vec<Cond>),
    /// A row predicate, NULL counting as true (a `when` that cannot be
    /// decided applies the mask).
    RowOrTrue(RowPred),
    /// A row predicate, NULL counting as false (a filter keeps only rows
    /// whose predicate is TRUE).
    RowOrFalse(RowPred),
}

/// A row filter of a view.
#[derive(Debug, Clone, Serialize)]
pub struct RowFilter {
    pub rule: Loc,
    /// Rows are kept where this is true.
    pub keep: Cond,
}

/// A condition on a row, columns by their catalog names.
pub type RowPred = model::Predicate<String>;

/// A value in a row predicate.
pub type Operand = model::Operand<String>;

/// One user's profile row in one integration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Profile {
    pub user: String,
    pub groups: Vec<String>,
    pub attributes: BTreeMap<String, Vec<String>>,
    pub projects: Vec<String>,
    pub current_project: Option<String>,
    pub purposes: Vec<String>,
    /// The sources of this integration the user's entry approves
    /// (`approved`), sorted.
    pub approved: Vec<String>,
}

/// Lowers a checked model. Integrations are independent and lowered on
/// separate threads.
pub fn lower(model: &Model) -> Project {
    let mut project = lower_but_views(model);
    for (i, integration) in project.integrations.iter_mut().enumerate() {
        integration.views = lower_views(model, i, |_, view| view);
    }
    project
}

/// Lowers a checked model but for its views: an emitter that lowers each
/// view as it emits it (`Views::FromModel`) never holds them all, a third
/// of a large project's IR.
pub fn lower_but_views(model: &Model) -> Project {
    let integrations =
        crate::parallel::map(model.integrations.len(), |i| lower_integration(model, i));
    Project { integrations }
}

/// Where an emitter takes each integration's views from.
#[derive(Debug, Clone, Copy)]
pub enum Views<'a> {
    /// `Integration::views`, lowered by [`lower`].
    Lowered,
    /// The model, one view at a time ([`lower_views`]), the IR made by
    /// [`lower_but_views`].
    FromModel(&'a Model),
}

/// The views of integration `i`, in the project's order, each lowered
/// and handed to `each(k, view)` at once; what `each` gives back.
pub fn lower_views<T>(model: &Model, i: usize, mut each: impl FnMut(usize, View) -> T) -> Vec<T> {
    let dialect = model.integrations[i].dialect;
    let rules = eval::access_rules_by_source(model);
    sources_of(model, i)
        .into_iter()
        .enumerate()
        .map(|(k, s)| each(k, lower_view(model, s, &rules[s], dialect)))
        .collect()
}

/// The sources of integration `i`, in the project's order.
fn sources_of(model: &Model, i: usize) -> Vec<usize> {
    (0..model.sources.len())
        .filter(|&s| model.sources[s].integration == i)
        .collect()
}

fn lower_integration(model: &Model, i: usize) -> Integration {
    let integration = &model.integrations[i];
    let sources = sources_of(model, i);
    let rules = eval::access_rules_by_source(model);
    let ours: std::collections::HashSet<&str> = sources
        .iter()
        .map(|&s| model.sources[s].id.as_str())
        .collect();
    let profiles = model
        .directory
        .users
        .iter()
        .map(|user| {
            let mut approved: Vec<String> = user
                .approved
                .iter()
                .filter(|a| ours.contains(a.as_str()))
                .cloned()
                .collect();
            approved.sort();
            approved.dedup();
            Profile {
                user: user.name.clone(),
                groups: user.groups.clone(),
                attributes: user.attributes.clone(),
                projects: user.projects.clone(),
                current_project: user.current_project.clone(),
                purposes: user.purposes.clone(),
                approved,
            }
        })
        .collect();
    Integration {
        name: integration.name.clone(),
        dialect: integration.dialect,
        database: integration.database.clone(),
        schemas: Schemas::of(integration),
        grant_to: integration.grant_to.clone(),
        expose_profile: integration.expose_profile,
        time_zone: integration.time_zone.clone(),
        views: Vec::new(),
        profiles,
        valid_tables: lower_valid_tables(model, &sources, &rules),
    }
}

/// The condition under which a user may query a source covered by `rules`
/// (by index): every `require` line holds and an `allow` line does; nobody
/// when no rule covers it. `approved` stands for the approval of the
/// source the condition is for.
fn access_subject(model: &Model, rules: &[usize], approved: &Subject) -> Subject {
    let lines = |pick: fn(&model::AccessRule) -> &Vec<(ast::Subject, Loc)>| -> Vec<Subject> {
        rules
            .iter()
            .flat_map(|&r| pick(&model.access[r]))
            .map(|(subject, _)| lower_subject(subject, approved))
            .collect()
    };
    let mut all = lines(|r| &r.require);
    all.push(subject_or(lines(|r| &r.allow)));
    subject_and(all)
}

/// The valid tables of every user, as the database derives them: one rule
/// set per distinct set of covering rules, decided once per query.
fn lower_valid_tables(model: &Model, sources: &[usize], rules: &[Vec<usize>]) -> ValidTables {
    let mut out = ValidTables::default();
    let mut sets: BTreeMap<&[usize], usize> = BTreeMap::new();
    let decide = |subject: Subject, decisions: &mut Vec<Subject>| match decisions
        .iter()
        .position(|d| *d == subject)
    {
        Some(d) => d,
        None => {
            decisions.push(subject);
            decisions.len() - 1
        }
    };
    for &s in sources {
        let covering = rules[s].as_slice();
        if covering.is_empty() {
            // Visible to nobody: not a valid table of anyone's.
            continue;
        }
        let set = match sets.get(covering) {
            Some(&set) => set,
            None => {
                let yes = access_subject(model, covering, &Subject::Everyone);
                let no = access_subject(model, covering, &Subject::nobody());
                let pair = (
                    decide(yes, &mut out.decisions),
                    decide(no, &mut out.decisions),
                );
                out.sets.push(pair);
                sets.insert(covering, out.sets.len() - 1);
                out.sets.len() - 1
            }
        };
        out.sources.push((model.sources[s].id.clone(), set));
    }
    out
}

impl Subject {
    /// The condition that holds for nobody.
    pub fn nobody() -> Subject {
        Subject::Not(Box::new(Subject::Everyone))
    }

    fn is_nobody(&self) -> bool {
        matches!(self, Subject::Not(inner) if **inner == Subject::Everyone)
    }
}

/// `parts` all hold, constants folded.
fn subject_and(mut parts: Vec<Subject>) -> Subject {
    parts.retain(|p| *p != Subject::Everyone);
    if parts.iter().any(Subject::is_nobody) {
        return Subject::nobody();
    }
    match parts.len() {
        0 => Subject::Everyone,
        1 => parts.remove(0),
        _ => Subject::And(parts),
    }
}

/// One of `parts` holds, constants folded; nobody when there are none.
fn subject_or(mut parts: Vec<Subject>) -> Subject {
    parts.retain(|p| !p.is_nobody());
    if parts.contains(&Subject::Everyone) {
        return Subject::Everyone;
    }
    match parts.len() {
        0 => Subject::nobody(),
        1 => parts.remove(0),
        _ => Subject::Or(parts),
    }
}

fn subject_not(inner: Subject) -> Subject {
    match inner {
        Subject::Everyone => Subject::nobody(),
        Subject::Not(inner) => *inner,
        other => Subject::Not(Box::new(other)),
    }
}

/// Collects the decisions of one view, each once.
struct Decisions(Vec<Decision>);

impl Decisions {
    fn index(&mut self, decision: Decision) -> usize {
        match self.0.iter().position(|d| *d == decision) {
            Some(i) => i,
            None => {
                self.0.push(decision);
                self.0.len() - 1
            }
        }
    }

    fn subject(&mut self, subject: &ast::Subject) -> Cond {
        match lower_subject(subject, &Subject::nobody()) {
            Subject::Everyone => Cond::True,
            nobody if nobody.is_nobody() => Cond::False,
            other => Cond::Decision(self.index(Decision::Subject(other))),
        }
    }
}

/// A subject as the views test it; `approved` is what `approved` stands
/// for (only access rules hold it: the checker rejects it elsewhere).
fn lower_subject(subject: &ast::Subject, approved: &Subject) -> Subject {
    let lower = |s: &ast::Subject| lower_subject(s, approved);
    match subject {
        ast::Subject::Everyone => Subject::Everyone,
        ast::Subject::Approved => approved.clone(),
        ast::Subject::User(u) => Subject::User(u.clone()),
        ast::Subject::Group(g) => Subject::Group(g.clone()),
        ast::Subject::Attribute(k, None) => Subject::Attribute(k.clone()),
        ast::Subject::Attribute(k, Some(v)) => Subject::AttributeValue(k.clone(), v.clone()),
        ast::Subject::Purpose(p) => Subject::Purpose(p.clone()),
        ast::Subject::AnyPurpose => Subject::AnyPurpose,
        ast::Subject::Not(inner) => subject_not(lower(inner)),
        ast::Subject::And(parts) => subject_and(parts.iter().map(|p| lower(p)).collect()),
        ast::Subject::Or(parts) => subject_or(parts.iter().map(|p| lower(p)).collect()),
        ast::Subject::Paren(inner) => lower(inner),
    }
}

fn lower_view(model: &Model, s: usize, rules: &[usize], dialect: Dialect) -> View {
    let source = &model.sources[s];
    let mut decisions = Decisions(Vec::new());
    let approved = Subject::Approved(source.id.clone());
    decisions.index(Decision::Access(access_subject(model, rules, &approved)));
    let mut needs_key = false;
    let columns = source
        .columns
        .iter()
        .map(|column| {
            let mut output_type = column.ty.clone();
            let mut branches = Vec::with_capacity(column.masks.len());
            for applied in &column.masks {
                let rule = &model.masks[applied.rule];
                let mut conditions = Vec::new();
                match &rule.exemption {
                    Some((ast::ExemptionKind::Except, subject)) => {
                        conditions.push(not(decisions.subject(subject)))
                    }
                    Some((ast::ExemptionKind::For, subject)) => {
                        conditions.push(decisions.subject(subject))
                    }
                    None => {}
                }
                if let Some(when) = &applied.when {
                    conditions.push(Cond::RowOrTrue(lower_predicate(when, source)));
                }
                let mask = lower_mask(&applied.method, &source.id);
                needs_key |= matches!(mask, Mask::Hash { .. });
                let mask_type = mask_type(&mask, &column.ty, dialect);
                output_type = widest(&output_type, &mask_type, dialect);
                let applies = and(conditions);
                let always = applies == Cond::True;
                branches.push(Branch {
                    rule: rule.loc,
                    applies,
                    mask,
                    mask_type,
                });
                // Nothing after a branch that always applies is reached.
                if always {
                    break;
                }
            }
            ViewColumn {
                name: dialect.catalog_name(&column.name),
                source_type: column.ty.clone(),
                output_type,
                branches,
            }
        })
        .collect();
    let filters = model
        .filters
        .iter()
        .filter_map(|f| {
            let at = f.sources.iter().position(|&t| t == s)?;
            Some(RowFilter {
                rule: f.loc,
                keep: lower_filter(f, &f.keeps[at], source, &mut decisions),
            })
        })
        .collect();
    View {
        source: source.id.clone(),
        name: dialect.catalog_name(&source.view),
        table: TableRef {
            database: dialect.catalog_name(&source.table.database),
            schema: dialect.catalog_name(&source.table.schema),
            table: dialect.catalog_name(&source.table.table),
        },
        late_binding: source.cross_database,
        columns,
        decisions: decisions.0,
        needs_key,
        filters,
    }
}

fn not(cond: Cond) -> Cond {
    match cond {
        Cond::True => Cond::False,
        Cond::False => Cond::True,
        Cond::Not(inner) => *inner,
        other => Cond::Not(Box::new(other)),
    }
}

fn and(mut conds: Vec<Cond>) -> Cond {
    conds.retain(|c| *c != Cond::True);
    if conds.contains(&Cond::False) {
        return Cond::False;
    }
    match conds.len() {
        0 => Cond::True,
        1 => conds.remove(0),
        _ => Cond::And(conds),
    }
}

fn or(a: Cond, b: Cond) -> Cond {
    match (a, b) {
        (Cond::True, _) | (_, Cond::True) => Cond::True,
        (Cond::False, other) | (other, Cond::False) => other,
        (a, b) => Cond::Or(vec![a, b]),
    }
}

fn lower_filter(
    filter: &model::FilterRule,
    keep: &model::Filter,
    source: &model::Source,
    decisions: &mut Decisions,
) -> Cond {
    let keep = match keep {
        model::Filter::Rows(predicate) => Cond::RowOrFalse(lower_predicate(predicate, source)),
        model::Filter::LimitToPurpose(purpose) => {
            decisions.subject(&ast::Subject::Purpose(purpose.clone()))
        }
        model::Filter::LimitToAnyPurpose => decisions.subject(&ast::Subject::AnyPurpose),
        model::Filter::Never => Cond::False,
    };
    // A row is kept when the filter does not apply to the user (a `for`
    // that does not hold, an `except` that does) or its rows pass.
    let mut passes = vec![keep];
    if let Some(only_for) = &filter.only_for {
        passes.push(not(decisions.subject(only_for)));
    }
    if let Some(except) = &filter.except {
        passes.push(decisions.subject(except));
    }
    passes.into_iter().rev().reduce(or).unwrap_or(Cond::False)
}

/// A resolved condition with its columns named as the catalog stores them.
fn lower_predicate(p: &model::Predicate<usize>, source: &model::Source) -> RowPred {
    let catalog = |name: &str| source.dialect.catalog_name(name);
    p.rename(&model::Rename {
        column: &|c: &usize| catalog(&source.columns[*c].name),
        sql: &catalog,
    })
}

fn lower_mask(method: &Method, source: &str) -> Mask {
    match method {
        Method::Hash => Mask::Hash {
            source: source.to_string(),
        },
        Method::Null => Mask::Null,
        Method::None => Mask::Clear,
        Method::Constant(l) => Mask::Constant(l.clone()),
        Method::Regex {
            pattern,
            replacement,
        } => Mask::Regex {
            pattern: pattern.node.clone(),
            replacement: replacement.clone(),
        },
        Method::Round(n) => Mask::Round {
            multiple: n.clone(),
        },
        Method::Truncate(unit) => Mask::Truncate(*unit),
        Method::ShowFirst(n) => Mask::ShowFirst(*n),
        Method::ShowLast(n) => Mask::ShowLast(*n),
        Method::Show { first, last, mask } => Mask::Show {
            first: *first,
            last: *last,
            mask: *mask,
        },
    }
}

// -- types ----------------------------------------------------------------------

/// The largest `varchar` of a dialect; `None` means unbounded (`text`).
fn max_text(dialect: Dialect) -> Option<u32> {
    dialect.sql().widest_varchar()
}

/// A type of the given kind, spelled for the dialect.
pub fn sql_type(kind: TypeKind, dialect: Dialect) -> SqlType {
    let sql = match kind {
        TypeKind::SmallInt => "smallint".to_string(),
        TypeKind::Integer => "integer".to_string(),
        TypeKind::BigInt => "bigint".to_string(),
        TypeKind::Decimal(p, s) => format!("numeric({p},{s})"),
        TypeKind::Real => "real".to_string(),
        TypeKind::Double => "double precision".to_string(),
        TypeKind::Boolean => "boolean".to_string(),
        TypeKind::Char(n) => format!("char({n})"),
        TypeKind::Varchar(Some(n)) => format!("varchar({n})"),
        TypeKind::Varchar(None) => match max_text(dialect) {
            Some(n) => format!("varchar({n})"),
            None => "text".to_string(),
        },
        TypeKind::Date => "date".to_string(),
        TypeKind::Timestamp => "timestamp".to_string(),
        TypeKind::TimestampTz => "timestamptz".to_string(),
        TypeKind::Time => "time".to_string(),
        TypeKind::TimeTz => "timetz".to_string(),
        TypeKind::Other => "varchar".to_string(),
    };
    let kind = match kind {
        TypeKind::Varchar(None) => TypeKind::Varchar(max_text(dialect)),
        other => other,
    };
    SqlType { kind, sql }
}

/// The type a mask yields on a column of type `ty`.
fn mask_type(mask: &Mask, ty: &SqlType, dialect: Dialect) -> SqlType {
    let text = |n: Option<u32>| sql_type(TypeKind::Varchar(n), dialect);
    match mask {
        Mask::Hash { .. } => text(Some(64)),
        Mask::Null | Mask::Clear | Mask::Truncate(_) => ty.clone(),
        Mask::Constant(Literal::Null) => ty.clone(),
        Mask::Constant(Literal::String(s)) => {
            let len = s.chars().count().max(1) as u32;
            widest(ty, &text(Some(len)), dialect)
        }
        Mask::Constant(Literal::Number(n)) => widest(ty, &number_type(n, dialect), dialect),
        Mask::Constant(Literal::Bool(_)) => sql_type(TypeKind::Boolean, dialect),
        Mask::Regex { replacement, .. } => {
            // Every match may become the replacement: at most one match per
            // character and one of the empty string, each its literal text,
            // and each group reference at most the matched text, which
            // adds up to the value's length.
            let (literal, references) = replacement_parts(replacement);
            let r = literal.max(1);
            match (text_length(ty.kind), max_text(dialect)) {
                (Some(n), Some(max)) => {
                    let n = u64::from(n);
                    text(Some((n * r + r + references * n).min(u64::from(max)) as u32))
                }
                (_, max) => text(max),
            }
        }
        Mask::Round { multiple } => round_type(ty, multiple, dialect),
        Mask::ShowFirst(_) | Mask::ShowLast(_) | Mask::Show { .. } => match ty.kind {
            TypeKind::Char(n) => text(Some(n)),
            _ => ty.clone(),
        },
    }
}

/// A checked regex replacement's literal characters and group references.
fn replacement_parts(replacement: &str) -> (u64, u64) {
    let (mut literal, mut references) = (0, 0);
    let mut chars = replacement.chars();
    while let Some(c) = chars.next() {
        match (c, c == '\\') {
            (_, true) => match chars.next() {
                Some('1'..='9') => references += 1,
                _ => literal += 1,
            },
            _ => literal += 1,
        }
    }
    (literal, references)
}

/// Digits before and after the point of a number literal.
fn digits(n: &str) -> (u32, u32) {
    let n = n.trim_start_matches('-');
    let (int, frac) = n.split_once('.').unwrap_or((n, ""));
    let int = int.trim_start_matches('0').len().max(1) as u32;
    (int, frac.len() as u32)
}

fn number_type(n: &str, dialect: Dialect) -> SqlType {
    let (int, scale) = digits(n);
    sql_type(
        TypeKind::Decimal((int + scale).clamp(1, 38), scale.min(37)),
        dialect,
    )
}

/// Integer digits and scale of a numeric type.
fn numeric_shape(kind: TypeKind) -> Option<(u32, u32)> {
    match kind {
        TypeKind::SmallInt => Some((5, 0)),
        TypeKind::Integer => Some((10, 0)),
        TypeKind::BigInt => Some((19, 0)),
        TypeKind::Decimal(p, s) => Some((p - s, s)),
        _ => None,
    }
}

/// `round(n)` of a value: one more integer digit than the larger of the
/// column and `n`, and `n`'s scale, so rounding up never overflows.
fn round_type(ty: &SqlType, multiple: &str, dialect: Dialect) -> SqlType {
    if matches!(ty.kind, TypeKind::Real | TypeKind::Double) {
        return sql_type(TypeKind::Double, dialect);
    }
    let (n_int, n_scale) = digits(multiple);
    let (int, scale) = numeric_shape(ty.kind).unwrap_or((19, 0));
    let scale = scale.max(n_scale);
    let int = int.max(n_int) + 1;
    if scale == 0 {
        match int {
            0..=4 => return sql_type(TypeKind::SmallInt, dialect),
            5..=9 => return sql_type(TypeKind::Integer, dialect),
            10..=18 => return sql_type(TypeKind::BigInt, dialect),
            _ => {}
        }
    }
    let precision = (int + scale).min(38);
    sql_type(
        TypeKind::Decimal(precision, scale.min(precision.saturating_sub(1))),
        dialect,
    )
}

/// The longest text form of a value of the type, in characters.
fn text_length(kind: TypeKind) -> Option<u32> {
    match kind {
        TypeKind::SmallInt => Some(6),
        TypeKind::Integer => Some(11),
        TypeKind::BigInt => Some(20),
        TypeKind::Decimal(p, _) => Some(p + 2),
        // Redshift shows a float as text with up to 18 decimals (`emit`,
        // display_text).
        TypeKind::Real | TypeKind::Double => Some(40),
        TypeKind::Boolean => Some(5),
        TypeKind::Char(n) => Some(n),
        TypeKind::Varchar(n) => n,
        TypeKind::Date => Some(13),
        TypeKind::Timestamp => Some(32),
        TypeKind::TimestampTz => Some(40),
        TypeKind::Time => Some(18),
        TypeKind::TimeTz => Some(24),
        TypeKind::Other => None,
    }
}

/// The narrowest type that holds every value of both: the type of a masked
/// column, the same for every user.
pub fn widest(a: &SqlType, b: &SqlType, dialect: Dialect) -> SqlType {
    if a == b {
        return a.clone();
    }
    let (ka, kb) = (a.kind, b.kind);
    if ka.is_numeric() && kb.is_numeric() {
        if matches!(ka, TypeKind::Real | TypeKind::Double)
            || matches!(kb, TypeKind::Real | TypeKind::Double)
        {
            return sql_type(TypeKind::Double, dialect);
        }
        let (ia, sa) = numeric_shape(ka).unwrap_or((19, 0));
        let (ib, sb) = numeric_shape(kb).unwrap_or((19, 0));
        let rank = |k: TypeKind| match k {
            TypeKind::SmallInt => 1,
            TypeKind::Integer => 2,
            TypeKind::BigInt => 3,
            _ => 0,
        };
        if rank(ka) > 0 && rank(kb) > 0 {
            return if rank(ka) >= rank(kb) {
                a.clone()
            } else {
                b.clone()
            };
        }
        let scale = sa.max(sb);
        let precision = (ia.max(ib) + scale).min(38);
        return sql_type(
            TypeKind::Decimal(precision, scale.min(precision.saturating_sub(1))),
            dialect,
        );
    }
    if ka == kb {
        return a.clone();
    }
    // Different families, or two texts: text long enough for both.
    let length = match (text_length(ka), text_length(kb)) {
        (Some(x), Some(y)) => Some(x.max(y)),
        _ => max_text(dialect),
    };
    let length = match (length, max_text(dialect)) {
        (Some(n), Some(max)) => Some(n.min(max)),
        (n, None) if ka.is_text() && kb.is_text() => n,
        // PostgreSQL: mixed families become text.
        (_, None) => None,
        (None, max) => max,
    };
    sql_type(TypeKind::Varchar(length), dialect)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(kind: TypeKind) -> SqlType {
        sql_type(kind, Dialect::Redshift)
    }

    #[test]
    fn hashed_numbers_become_text_for_everyone() {
        let out = widest(
            &ty(TypeKind::BigInt),
            &ty(TypeKind::Varchar(Some(64))),
            Dialect::Redshift,
        );
        assert_eq!(out.sql, "varchar(64)");
        let out = widest(
            &ty(TypeKind::Varchar(Some(256))),
            &ty(TypeKind::Varchar(Some(64))),
            Dialect::Redshift,
        );
        assert_eq!(
            out.sql, "varchar(256)",
            "an exempt user's value is never cut"
        );
        let out = widest(
            &ty(TypeKind::Integer),
            &ty(TypeKind::Varchar(Some(64))),
            Dialect::Postgres,
        );
        assert_eq!(out.sql, "text");
    }

    #[test]
    fn rounding_widens() {
        assert_eq!(
            round_type(&ty(TypeKind::SmallInt), "100", Dialect::Redshift).sql,
            "integer"
        );
        assert_eq!(
            round_type(&ty(TypeKind::BigInt), "10", Dialect::Redshift).sql,
            "numeric(20,0)"
        );
        assert_eq!(
            round_type(&ty(TypeKind::Decimal(12, 2)), "100", Dialect::Redshift).sql,
            "numeric(13,2)"
        );
        assert_eq!(
            round_type(&ty(TypeKind::Integer), "0.5", Dialect::Redshift).sql,
            "numeric(12,1)"
        );
        assert_eq!(
            round_type(&ty(TypeKind::Real), "10", Dialect::Redshift).sql,
            "double precision"
        );
    }

    #[test]
    fn regex_results_fit_every_replacement() {
        let m = Mask::Regex {
            pattern: "[0-9]".into(),
            replacement: "##".into(),
        };
        assert_eq!(
            mask_type(&m, &ty(TypeKind::Varchar(Some(10))), Dialect::Redshift).sql,
            "varchar(22)"
        );
        assert_eq!(
            mask_type(&m, &ty(TypeKind::Varchar(Some(60000))), Dialect::Redshift).sql,
            "varchar(65535)"
        );
        assert_eq!(
            mask_type(
                &m,
                &sql_type(TypeKind::Varchar(Some(10)), Dialect::Postgres),
                Dialect::Postgres
            )
            .sql,
            "text"
        );
    }
}
