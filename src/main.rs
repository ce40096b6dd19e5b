//! The `kmsfs` binary: see `kmsfs --help` and the README.

fn main() {
    std::process::exit(kmsfs::cli::main());
}
