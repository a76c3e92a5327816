//! The benchmark suite at a small size, so it keeps working. It checks what
//! each step did, never how fast.

#[path = "../../benches/suite/mod.rs"]
mod suite;

#[test]
fn small_benchmark_runs_and_each_step_does_what_it_should() {
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_veil"));
    let sizes = suite::Sizes::small();
    let mut printed = Vec::new();
    let figures = suite::run(exe, &sizes, &mut printed);
    let printed = String::from_utf8_lossy(&printed);
    println!("{printed}");

    assert_eq!(figures.compile.len(), sizes.compile.len());
    assert!(
        figures
            .compile
            .iter()
            .all(|c| c.sql_mb > 0.0 && c.peak_mb > 0.0)
    );
    // The no-change plan reads the deployment in the same number of round
    // trips at both sizes.
    assert_eq!(figures.plans.len(), 2);
    assert_eq!(figures.plans[0].round_trips, figures.plans[1].round_trips);
    assert!(figures.plans[0].round_trips > 0);
    // A one-rule change replaces one view and nothing else.
    assert_eq!(
        figures.one_rule_objects.len(),
        1,
        "{:?}",
        figures.one_rule_objects
    );
    assert!(figures.one_rule_objects[0].starts_with("replace view "));
    // …in a handful of statements, not one per object of the deployment.
    assert!(
        (1..10).contains(&figures.one_rule_statements),
        "{}",
        figures.one_rule_statements
    );
    assert!(figures.apply.is_some() && figures.psql.is_some());
    assert_eq!(figures.query.len(), 2);
    assert!(figures.query.iter().all(|q| q.median_ratio > 0.0));
}
