//! Times the access impact between two checkouts of a project.
//!
//! ```text
//! cargo run --release --example impact_bench -- BASE_DIR NEW_DIR INTEGRATION
//! ```

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base, new, integration] = args.as_slice() else {
        eprintln!("usage: impact_bench BASE_DIR NEW_DIR INTEGRATION");
        std::process::exit(1);
    };
    let load = |dir: &str| {
        let project = veil::project::load(std::path::Path::new(dir))
            .unwrap_or_else(|_| panic!("{dir} loads"));
        project
            .check()
            .model
            .unwrap_or_else(|| panic!("{dir} checks"))
    };
    let base_model = load(base);
    let new_model = load(new);
    let t = std::time::Instant::now();
    let impact = veil::impact::impact(&base_model, &new_model, integration, &["pii".to_string()]);
    println!(
        "{} users, {} sources: access impact of {} entries in {:?}",
        new_model.directory.users.len(),
        new_model.sources.len(),
        impact.len(),
        t.elapsed()
    );
}
