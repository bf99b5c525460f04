//! The `authconform` binary; see `authconform --help` and README.md.

fn main() -> std::process::ExitCode {
    authconform::cli::main()
}
