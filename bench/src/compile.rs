//! The `compile` benchmark (being written).

/// Flags of `greeter-bench compile`.
#[derive(clap::Args)]
pub struct Args {
    /// A run of seconds that checks the harness works; times nothing worth reporting.
    #[arg(long)]
    pub quick: bool,
}

pub fn run(_args: Args) -> Result<(), Box<dyn std::error::Error>> {
    Err("not written yet".into())
}
