//! The protoc plugin: reads a `CodeGeneratorRequest` on stdin, writes a `CodeGeneratorResponse`
//! on stdout. Everything else lives in the library.

use std::io::Read;
use std::process::ExitCode;

/// Allocation was 30 % of the plugin's time on large inputs; mimalloc takes 13 % off the total
/// (BENCHMARKS.md). Only the binary: build.rs users keep their own allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Stdin is read in blocks of this size, then joined once.
const READ_BLOCK: u64 = 8 << 20;

fn main() -> ExitCode {
    if std::env::args()
        .skip(1)
        .any(|arg| arg == "--version" || arg == "-V")
    {
        println!("protoc-gen-greeter {}", protoc_gen_greeter::VERSION);
        return ExitCode::SUCCESS;
    }
    // `protoc-gen-greeter --options-proto > greeter/options.proto`: the file contracts import.
    if std::env::args().skip(1).any(|arg| arg == "--options-proto") {
        print!("{}", protoc_gen_greeter::OPTIONS_PROTO);
        return ExitCode::SUCCESS;
    }
    // A panic inside the generator is caught and answered as an error response; keep stderr
    // for protoc's own message rather than a backtrace.
    std::panic::set_hook(Box::new(|_| {}));
    let request = match read_request(std::io::stdin().lock()) {
        Ok(request) => request,
        Err(error) => {
            eprintln!("protoc-gen-greeter: cannot read the request from stdin: {error}");
            return ExitCode::FAILURE;
        }
    };
    // Files go out as they are generated; the response is never held whole.
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    if let Err(error) = protoc_gen_greeter::execute_to(request, &mut stdout) {
        eprintln!("protoc-gen-greeter: cannot write the response to stdout: {error}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Reads all of `input` into a buffer of exactly its size. The request's size is not known up
/// front (protoc writes it to a pipe), and `read_to_end`'s doubling would keep a 256 MB buffer
/// for googleapis' 154 MB request for the whole run: the proto files are slices of it.
fn read_request(mut input: impl Read) -> std::io::Result<Vec<u8>> {
    let mut blocks = Vec::new();
    loop {
        let mut block = Vec::with_capacity(READ_BLOCK as usize);
        let read = input.by_ref().take(READ_BLOCK).read_to_end(&mut block)?;
        if read == 0 {
            break;
        }
        blocks.push(block);
    }
    if blocks.len() == 1 {
        return Ok(blocks.pop().unwrap_or_default());
    }
    let mut request = Vec::with_capacity(blocks.iter().map(Vec::len).sum());
    for block in blocks {
        request.extend_from_slice(&block);
    }
    Ok(request)
}
