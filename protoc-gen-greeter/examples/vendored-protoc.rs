//! Prints the path of the protoc that `protoc-bin-vendored` ships, for scripts that need one:
//! `PROTOC="$(cargo run -q -p protoc-gen-greeter --example vendored-protoc)" cargo …`.

fn main() -> std::process::ExitCode {
    match protoc_bin_vendored::protoc_bin_path() {
        Ok(path) => {
            println!("{}", path.display());
            std::process::ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("vendored-protoc: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
