//! Writes a synthetic policy project of a given size (see
//! `benches/suite/synth.rs`).
//!
//! ```text
//! cargo run --release --example synth -- [--distinct] OUT_DIR [SOURCES] [COLUMNS] [RULES] [USERS]
//! ```
//! Defaults: 1,000 sources, 30 columns per source, SOURCES/10 rules,
//! 4 × SOURCES users. With `--distinct`, no two users have the same
//! memberships (five of 200 groups, two of ten regions, a department, a
//! project).
//! With `--postgres DATABASE URL_VAR`, every source is on one PostgreSQL
//! integration governing DATABASE (the benchmark's deployment), and
//! `OUT_DIR/tables.sql` creates its (empty) base tables.

// Only the writer is used here.
#[allow(dead_code)]
#[path = "../benches/suite/synth.rs"]
mod synth;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut layout = synth::Layout::Mixed;
    let distinct = args.iter().any(|a| a == "--distinct");
    args.retain(|a| a != "--distinct");
    if let Some(at) = args.iter().position(|a| a == "--postgres") {
        let (Some(database), Some(url_var)) = (args.get(at + 1), args.get(at + 2)) else {
            eprintln!("--postgres needs DATABASE and URL_VAR");
            std::process::exit(1);
        };
        layout = synth::Layout::Postgres {
            database: database.clone(),
            url_var: url_var.clone(),
        };
        args.drain(at..at + 3);
    }
    // An option (`--help`) is never taken for the directory to write.
    let Some(out) = args.first().filter(|a| !a.starts_with('-')) else {
        eprintln!(
            "usage: synth [--distinct] [--postgres DATABASE URL_VAR] OUT_DIR [SOURCES] [COLUMNS] [RULES] [USERS]"
        );
        std::process::exit(1);
    };
    let number = |i: usize| -> Option<usize> {
        let arg = args.get(i)?;
        match arg.parse() {
            Ok(n) => Some(n),
            Err(_) => {
                eprintln!("not a number: {arg}");
                std::process::exit(1);
            }
        }
    };
    let sources = number(1).unwrap_or(1000);
    let mut spec = if distinct {
        synth::Spec::distinct(sources, layout)
    } else {
        synth::Spec::standard(sources, layout)
    };
    spec.columns = number(2).unwrap_or(spec.columns).max(7);
    spec.rules = number(3).unwrap_or(spec.rules);
    spec.users = number(4).unwrap_or(spec.users);
    if let Err(e) = synth::write(std::path::Path::new(out), &spec) {
        eprintln!("cannot write {out}: {e}");
        std::process::exit(1);
    }
    if matches!(spec.layout, synth::Layout::Postgres { .. }) {
        let tables = std::path::Path::new(out).join("tables.sql");
        if let Err(e) = std::fs::write(&tables, synth::tables_sql(&spec)) {
            eprintln!("cannot write {}: {e}", tables.display());
            std::process::exit(1);
        }
    }
}
