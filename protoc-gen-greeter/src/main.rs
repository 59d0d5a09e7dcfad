//! The protoc plugin: reads a `CodeGeneratorRequest` on stdin, writes a `CodeGeneratorResponse`
//! on stdout. Everything else lives in the library.

use std::io::Read;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::process::ExitCode;

fn main() -> ExitCode {
    if std::env::args()
        .skip(1)
        .any(|arg| arg == "--version" || arg == "-V")
    {
        println!("protoc-gen-greeter {}", protoc_gen_greeter::VERSION);
        return ExitCode::SUCCESS;
    }
    // A panic inside the generator is caught and answered as an error response; keep stderr
    // for protoc's own message rather than a backtrace.
    std::panic::set_hook(Box::new(|_| {}));
    let mut request = Vec::new();
    if let Err(error) = std::io::stdin().read_to_end(&mut request) {
        eprintln!("protoc-gen-greeter: cannot read the request from stdin: {error}");
        return ExitCode::FAILURE;
    }
    // Files go out as they are generated; the response is never held whole.
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    if let Err(error) = protoc_gen_greeter::execute_to(request, &mut stdout) {
        eprintln!("protoc-gen-greeter: cannot write the response to stdout: {error}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
