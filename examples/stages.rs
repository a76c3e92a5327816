//! Times each stage of compiling a project, for finding where time goes.
//!
//! ```text
//! cargo run --release --example stages -- DIR
//! ```

use std::time::Instant;

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| ".".into());
    for entry in std::fs::read_dir(&dir).expect("dir").flatten() {
        let path = entry.path();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let t = Instant::now();
        if path.extension().is_some_and(|e| e == "veil") {
            let _ = veil::syntax::parse(veil::span::FileId(0), &text);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            let _ = veil::identities::load(veil::span::FileId(0), &text);
        } else {
            continue;
        }
        println!("{}: {:?}", path.display(), t.elapsed());
    }
    let t = Instant::now();
    let project = match veil::project::load(std::path::Path::new(&dir)) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{} diagnostics", e.diagnostics.len());
            std::process::exit(1);
        }
    };
    let load = t.elapsed();
    let t = Instant::now();
    let checked = project.check();
    let check = t.elapsed();
    let Some(model) = checked.model else {
        eprintln!("{} diagnostics", checked.diagnostics.len());
        std::process::exit(1);
    };
    let t = Instant::now();
    let ir = veil::ir::lower(&model);
    let lower = t.elapsed();
    let t = Instant::now();
    let compiled = veil::emit::compile_ir(&ir)
        .map_err(|d| d.len())
        .expect("compiles");
    let emit = t.elapsed();
    let bytes: usize = compiled
        .iter()
        .flat_map(|c| &c.objects)
        .map(|o| o.sql.len())
        .sum();
    println!(
        "load+parse {load:?}  check {check:?}  lower {lower:?}  emit {emit:?}  ({bytes} bytes of SQL)"
    );
}
