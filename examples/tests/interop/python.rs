//! The Python peers' interpreter: the venv of `tests/python/venv.sh`, made once per test
//! process.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use crate::process::{TempDir, run};

const VENV_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/python/venv.sh");

/// How long making the venv may take (a first run installs grpcio).
const VENV_SETUP: Duration = Duration::from_secs(900);

/// The venv's Python, made once per test process (the script locks against other processes).
pub fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let dir = TempDir::new();
        let finished = run(Command::new(VENV_SCRIPT), &dir, VENV_SETUP);
        assert!(
            finished.status.success(),
            "{VENV_SCRIPT} failed; these tests need python3 with venv and pip: {}",
            finished.report()
        );
        PathBuf::from(finished.stdout.trim_end())
    })
}
