//! The `kaspire` binary: all behaviour lives in the library; see [`kaspire::cli`].

fn main() -> std::process::ExitCode {
    kaspire::cli::main()
}
