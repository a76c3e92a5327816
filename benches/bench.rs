//! Every figure of BENCHMARKS.md in one run: `cargo bench`. Needs the
//! PostgreSQL server on 127.0.0.1:5432 (user `postgres`, trust
//! authentication); it makes and drops its own databases and role.
//!
//! `cargo bench --bench bench -- --small` runs the small version CI runs
//! as a test; `-- compile`, `-- deploy` or `-- query` runs one part.

mod suite;

fn main() {
    let small = std::env::args().any(|a| a == "--small");
    let mut sizes = if small {
        suite::Sizes::small()
    } else {
        suite::Sizes::full()
    };
    sizes.only = std::env::args()
        .skip(1)
        .find(|a| ["compile", "deploy", "query"].contains(&a.as_str()));
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_veil"));
    println!(
        "veil {} benchmarks ({}), {} CPUs",
        env!("CARGO_PKG_VERSION"),
        if small { "small" } else { "full size" },
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    suite::run(exe, &sizes, &mut std::io::stdout());
}
