// veil allocates many small strings and frees them from several threads
// (names, rows, SQL text): mimalloc makes a compile or a plan of a large
// estate 15-25 % faster than the system allocator, in the same memory
// (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    veil::cli::run()
}
