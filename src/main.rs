fn main() -> std::process::ExitCode {
    veil::cli::run()
}
