//! Synthetic policy projects of any size, deterministically: sources with
//! tagged columns, rules of every kind, users with groups, attributes,
//! projects and purposes. The same size always gives the same files.

use std::fmt::Write as _;
use std::path::Path;

/// Where the sources live.
#[derive(Debug, Clone)]
pub enum Layout {
    /// Four in five sources on a Redshift integration (one in seven of those
    /// in another database of the cluster), the rest on a PostgreSQL one.
    Mixed,
    /// Every source on one PostgreSQL integration governing `database`,
    /// reached through the URL in environment variable `url_var`.
    Postgres { database: String, url_var: String },
}

/// How the users' memberships are spread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Memberships {
    /// Two of 50 groups and one of 4 regions each, a project for one in
    /// ten: a few hundred kinds of user.
    Alike,
    /// Five of 200 groups, two of 10 regions, one of 20 departments and
    /// one of 20 projects each: no two users alike (up to 64,000 users).
    Distinct,
}

impl Memberships {
    fn groups(self) -> usize {
        match self {
            Memberships::Alike => 50,
            Memberships::Distinct => 200,
        }
    }

    fn regions(self) -> &'static [&'static str] {
        match self {
            Memberships::Alike => &REGIONS[..4],
            Memberships::Distinct => &REGIONS,
        }
    }
}

/// The size and shape of a project.
#[derive(Debug, Clone)]
pub struct Spec {
    pub sources: usize,
    pub columns: usize,
    pub rules: usize,
    pub users: usize,
    pub layout: Layout,
    pub memberships: Memberships,
}

const REGIONS: [&str; 10] = [
    "eu", "us", "apac", "latam", "mea", "anz", "nordics", "dach", "benelux", "iberia",
];
const DEPARTMENTS: usize = 20;
const PROJECTS: usize = 20;
/// The types of the columns after the six every source has.
const TYPES: [&str; 5] = [
    "varchar(100)",
    "integer",
    "numeric(10,2)",
    "date",
    "boolean",
];

impl Spec {
    /// The benchmark's standard shape: 30 columns per source, sources/10
    /// rules, 4 × sources users.
    pub fn standard(sources: usize, layout: Layout) -> Spec {
        Spec {
            sources,
            columns: 30,
            rules: (sources / 10).max(1),
            users: sources * 4,
            layout,
            memberships: Memberships::Alike,
        }
    }

    /// The standard shape with users whose memberships all differ.
    pub fn distinct(sources: usize, layout: Layout) -> Spec {
        Spec {
            memberships: Memberships::Distinct,
            ..Spec::standard(sources, layout)
        }
    }

    fn integration_of(&self, source: usize) -> &'static str {
        match self.layout {
            Layout::Postgres { .. } => "app",
            Layout::Mixed if source.is_multiple_of(5) => "app",
            Layout::Mixed => "warehouse",
        }
    }
}

/// The first mask rule, as `write` prints it, and the same rule with a
/// different exemption: a one-rule change that touches one view.
pub fn first_mask_change(spec: &Spec) -> (String, String) {
    let rule = mask_rule(spec, 0);
    let changed = rule.replace("except group \"group_0\"", "except group \"group_9\"");
    (rule, changed)
}

fn mask_rule(spec: &Spec, r: usize) -> String {
    let s = (r * 7919) % spec.sources;
    format!(
        "mask col_{} on dom_{}.table_{s} using hash except group \"group_{}\" priority {r}",
        6 + r % (spec.columns - 6),
        s % 20,
        r % spec.memberships.groups()
    )
}

/// Writes `policy.veil` and `identities.yaml` into `dir`.
pub fn write(dir: &Path, spec: &Spec) -> std::io::Result<()> {
    assert!(spec.columns >= 7 && spec.sources > 0, "too small a project");
    std::fs::create_dir_all(dir)?;
    let groups = spec.memberships.groups();
    let group = |g: usize| format!("group_{}", g % groups);

    let mut policy = String::new();
    match &spec.layout {
        Layout::Mixed => {
            policy.push_str("integration warehouse {\n  dialect = redshift\n  host = \"wh.example.com\"\n  database = \"analytics\"\n  view_schema = \"governed\"\n  node_type = \"ra3.xlplus\"\n}\n\n");
            policy.push_str("integration app {\n  dialect = postgres\n  database = \"app\"\n  view_schema = \"governed\"\n}\n\n");
        }
        Layout::Postgres { database, url_var } => {
            let _ = write!(
                policy,
                "integration app {{\n  dialect = postgres\n  database = \"{database}\"\n  view_schema = \"governed\"\n  connection = env(\"{url_var}\")\n}}\n\n"
            );
        }
    }
    for s in 0..spec.sources {
        let integration = spec.integration_of(s);
        let database = if integration == "warehouse" && s % 7 == 0 {
            "raw."
        } else {
            ""
        };
        let _ = writeln!(policy, "source dom_{}.table_{s} {{", s % 20);
        let _ = writeln!(policy, "  integration = {integration}");
        let _ = writeln!(policy, "  table = {database}schema_{}.table_{s}", s % 20);
        let _ = writeln!(policy, "  tags = [domain_{}, tier_{}]", s % 20, s % 3);
        let _ = writeln!(policy, "  event_time = created_at");
        policy.push_str("  columns {\n    id bigint\n    email varchar(256) tags(pii.email)\n    phone varchar(32) tags(pii.phone)\n    amount numeric(12,2) tags(finance.amount)\n    region varchar(16) tags(region)\n    created_at timestamp\n");
        for c in 6..spec.columns {
            let tag = if c % 4 == 0 {
                format!(" tags(attr.c{})", c % 8)
            } else {
                String::new()
            };
            let _ = writeln!(policy, "    col_{c} {}{tag}", TYPES[c % 5]);
        }
        policy.push_str("  }\n}\n\n");
    }
    for r in 0..spec.rules.div_ceil(3) {
        let s = (r * 7919) % spec.sources;
        let _ = writeln!(
            policy,
            "access dom_{}.table_{s} {{\n  allow group \"{}\"\n  require not group \"{}\"\n}}",
            s % 20,
            group(r),
            group(r + 1)
        );
        let _ = writeln!(policy, "{}", mask_rule(spec, r));
        let _ = writeln!(
            policy,
            "filter dom_{}.table_{s} where region in user.attribute(\"region\") except group \"{}\"",
            s % 20,
            group(r)
        );
    }
    policy.push_str("access tagged tier_0 { allow group \"group_0\" }\n");
    policy.push_str("mask tagged pii using hash except group \"group_1\"\n");
    policy
        .push_str("mask tagged pii.email using regex \"^[^@]+\" \"****\" for group \"group_2\"\n");
    policy.push_str("mask tagged finance.amount using round(100)\n");
    policy.push_str("mask columns matching \"^col_1[0-9]$\" using null priority 1\n");
    policy.push_str("filter tagged tier_1 newer than 90 days except group \"group_3\"\n");
    std::fs::write(dir.join("policy.veil"), policy)?;

    std::fs::write(dir.join("identities.yaml"), identities(spec))
}

/// The identities of a project: its groups, attributes, projects and users.
fn identities(spec: &Spec) -> String {
    let groups = spec.memberships.groups();
    let group = |g: usize| format!("group_{}", g % groups);
    let regions = spec.memberships.regions();
    let mut yaml = String::from("groups: [");
    yaml.push_str(&(0..groups).map(group).collect::<Vec<_>>().join(", "));
    yaml.push_str("]\nattributes:\n  region: [");
    yaml.push_str(&regions.join(", "));
    yaml.push_str("]\n");
    if spec.memberships == Memberships::Distinct {
        let departments: Vec<String> = (0..DEPARTMENTS).map(|d| format!("dept_{d}")).collect();
        let _ = writeln!(yaml, "  department: [{}]", departments.join(", "));
    }
    yaml.push_str(
        "purposes:\n  research: \"Research\"\nprojects:\n  study: { purposes: [research] }\n",
    );
    if spec.memberships == Memberships::Distinct {
        for p in 0..PROJECTS {
            let _ = writeln!(yaml, "  project_{p}: {{ purposes: [research] }}");
        }
    }
    yaml.push_str("users:\n");
    if spec.memberships == Memberships::Distinct {
        for u in 0..spec.users {
            distinct_user(&mut yaml, u);
        }
        return yaml;
    }
    for u in 0..spec.users {
        let _ = writeln!(
            yaml,
            "  user_{u}:\n    groups: [{}, {}]\n    attributes: {{ region: [{}] }}",
            group(u),
            group(u * 7 + 3),
            regions[u % regions.len()]
        );
        if u % 10 == 0 {
            yaml.push_str(
                "    projects: [study]\n    current_project: study\n    acknowledged: [research]\n",
            );
        }
    }
    yaml
}

/// A user unlike any other: the first three of its five groups spell its
/// number in base 40 (one from each forty), the other two and its regions,
/// department and project are spread by a hash of it.
fn distinct_user(yaml: &mut String, u: usize) {
    let mix = |salt: usize| (u.wrapping_mul(2_654_435_761).wrapping_add(salt * 40_503)) >> 7;
    let groups = [
        u % 40,
        40 + (u / 40) % 40,
        80 + (u / 1_600) % 40,
        120 + mix(1) % 40,
        160 + mix(2) % 40,
    ];
    let first = mix(3) % REGIONS.len();
    let second = (first + 1 + mix(4) % (REGIONS.len() - 1)) % REGIONS.len();
    let groups: Vec<String> = groups.iter().map(|g| format!("group_{g}")).collect();
    let project = mix(5) % PROJECTS;
    let _ = writeln!(
        yaml,
        "  user_{u}:\n    groups: [{}]\n    attributes: {{ region: [{}, {}], department: [dept_{}] }}\n    projects: [project_{project}]\n    current_project: project_{project}\n    acknowledged: [research]",
        groups.join(", "),
        REGIONS[first],
        REGIONS[second],
        mix(6) % DEPARTMENTS
    );
}

/// The PostgreSQL statements that create every source's base table (empty).
pub fn tables_sql(spec: &Spec) -> String {
    let mut sql = String::new();
    for schema in 0..20.min(spec.sources) {
        let _ = writeln!(sql, "CREATE SCHEMA schema_{schema};");
    }
    for s in 0..spec.sources {
        let _ = write!(
            sql,
            "CREATE TABLE schema_{}.table_{s} (id bigint, email varchar(256), phone varchar(32), amount numeric(12,2), region varchar(16), created_at timestamp",
            s % 20
        );
        for c in 6..spec.columns {
            let _ = write!(sql, ", col_{c} {}", TYPES[c % 5]);
        }
        sql.push_str(");\n");
    }
    sql
}
