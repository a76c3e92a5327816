//! Writes a synthetic policy project of a given size, deterministically:
//! sources with tagged columns, rules of every kind, users with groups,
//! attributes, projects and purposes.
//!
//! ```text
//! cargo run --release --example synth -- OUT_DIR SOURCES [COLUMNS] [RULES] [USERS]
//! ```
//! Defaults: 30 columns per source, SOURCES/10 rules (a third each access,
//! mask and filter rules, plus a few tag and pattern rules), 4 × SOURCES users.

use std::fmt::Write as _;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(out) = args.first() else {
        eprintln!("usage: synth OUT_DIR SOURCES [COLUMNS] [RULES] [USERS]");
        std::process::exit(1);
    };
    let number = |i: usize, default: usize| {
        args.get(i)
            .map(|a| {
                a.parse::<usize>()
                    .unwrap_or_else(|_| panic!("not a number: {a}"))
            })
            .unwrap_or(default)
    };
    let sources = number(1, 1000);
    let columns = number(2, 30).max(6);
    let rules = number(3, (sources / 10).max(1));
    let users = number(4, sources * 4);
    let dir = std::path::Path::new(out);
    std::fs::create_dir_all(dir).expect("creates the output directory");

    let groups: Vec<String> = (0..50).map(|g| format!("group_{g}")).collect();
    let regions = ["eu", "us", "apac", "latam"];

    let mut policy = String::new();
    policy.push_str("integration warehouse {\n  dialect = redshift\n  host = \"wh.example.com\"\n  database = \"analytics\"\n  view_schema = \"governed\"\n  node_type = \"ra3.xlplus\"\n}\n\n");
    policy.push_str("integration app {\n  dialect = postgres\n  database = \"app\"\n  view_schema = \"governed\"\n}\n\n");
    for s in 0..sources {
        let integration = if s % 5 == 0 { "app" } else { "warehouse" };
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
        for c in 6..columns {
            let ty = [
                "varchar(100)",
                "integer",
                "numeric(10,2)",
                "date",
                "boolean",
            ][c % 5];
            let tag = if c % 4 == 0 {
                format!(" tags(attr.c{})", c % 8)
            } else {
                String::new()
            };
            let _ = writeln!(policy, "    col_{c} {ty}{tag}");
        }
        policy.push_str("  }\n}\n\n");
    }
    for r in 0..rules.div_ceil(3) {
        let s = (r * 7919) % sources;
        let g = &groups[r % groups.len()];
        let _ = writeln!(
            policy,
            "access dom_{}.table_{s} {{\n  allow group \"{g}\"\n  require not group \"{}\"\n}}",
            s % 20,
            groups[(r + 1) % groups.len()]
        );
        let _ = writeln!(
            policy,
            "mask col_{} on dom_{}.table_{s} using hash except group \"{g}\" priority {r}",
            6 + r % (columns - 6),
            s % 20
        );
        let _ = writeln!(
            policy,
            "filter dom_{}.table_{s} where region in user.attribute(\"region\") except group \"{g}\"",
            s % 20
        );
    }
    policy.push_str("access tagged tier_0 { allow group \"group_0\" }\n");
    policy.push_str("mask tagged pii using hash except group \"group_1\"\n");
    policy
        .push_str("mask tagged pii.email using regex \"^[^@]+\" \"****\" for group \"group_2\"\n");
    policy.push_str("mask tagged finance.amount using round(100)\n");
    policy.push_str("mask columns matching \"^col_1[0-9]$\" using null priority 1\n");
    policy.push_str("filter tagged tier_1 newer than 90 days except group \"group_3\"\n");
    std::fs::write(dir.join("policy.veil"), policy).expect("writes policy.veil");

    let mut yaml = String::from("groups: [");
    yaml.push_str(&groups.join(", "));
    yaml.push_str("]\nattributes:\n  region: [");
    yaml.push_str(&regions.join(", "));
    yaml.push_str("]\npurposes:\n  research: \"Research\"\nprojects:\n  study: { purposes: [research] }\nusers:\n");
    for u in 0..users {
        let _ = writeln!(
            yaml,
            "  user_{u}:\n    groups: [{}, {}]\n    attributes: {{ region: [{}] }}",
            groups[u % groups.len()],
            groups[(u * 7 + 3) % groups.len()],
            regions[u % regions.len()]
        );
        if u % 10 == 0 {
            yaml.push_str(
                "    projects: [study]\n    current_project: study\n    acknowledged: [research]\n",
            );
        }
    }
    std::fs::write(dir.join("identities.yaml"), yaml).expect("writes identities.yaml");
}
