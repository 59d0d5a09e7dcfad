//! Wall time, CPU time and peak memory of one child process, taken from the kernel's own
//! accounting (`wait4`'s `rusage`) rather than sampled.
//!
//! Two uses: the benchmark spawns protoc, cargo or a `build-rs-child` with [`run`]; and protoc
//! spawns a plugin through a wrapper script that execs `greeter-bench measure-child`, which runs
//! the real plugin with protoc's pipes and writes its [`Usage`] to a file, so the plugin process is
//! measured apart from protoc.
//!
//! Linux counts a process's reaped descendants in the `rusage` its parent gets from `wait4`: CPU
//! times add up and `ru_maxrss` is the largest of them. So a plugin that runs rustfmt is charged
//! for it, and protoc's figures include its plugins'.

use std::fmt;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// What one finished process cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub wall: Duration,
    pub user: Duration,
    pub system: Duration,
    /// Peak resident set size in KiB (`ru_maxrss` on Linux).
    pub max_rss_kib: u64,
    /// The exit code, or `128 + signal` for a process killed by a signal.
    pub exit_code: i32,
}

impl Usage {
    pub fn cpu(&self) -> Duration {
        self.user + self.system
    }

    pub fn success(&self) -> bool {
        self.exit_code == 0
    }
}

/// One line of `key=value` pairs, the form `measure-child` writes.
impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "wall_ns={} user_us={} sys_us={} maxrss_kib={} exit={}",
            self.wall.as_nanos(),
            self.user.as_micros(),
            self.system.as_micros(),
            self.max_rss_kib,
            self.exit_code
        )
    }
}

impl std::str::FromStr for Usage {
    type Err = String;

    fn from_str(line: &str) -> Result<Self, String> {
        let mut fields = [None::<u64>; 4];
        let mut exit_code = None;
        for pair in line.split_whitespace() {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("`{pair}` is not key=value in usage record `{line}`"))?;
            let bad = || format!("bad value for `{key}` in usage record `{line}`");
            let slot = match key {
                "wall_ns" => 0,
                "user_us" => 1,
                "sys_us" => 2,
                "maxrss_kib" => 3,
                "exit" => {
                    exit_code = Some(value.parse::<i32>().map_err(|_| bad())?);
                    continue;
                }
                _ => return Err(format!("unknown key `{key}` in usage record `{line}`")),
            };
            fields[slot] = Some(value.parse::<u64>().map_err(|_| bad())?);
        }
        let [
            Some(wall_ns),
            Some(user_us),
            Some(sys_us),
            Some(max_rss_kib),
        ] = fields
        else {
            return Err(format!("incomplete usage record `{line}`"));
        };
        Ok(Usage {
            wall: Duration::from_nanos(wall_ns),
            user: Duration::from_micros(user_us),
            system: Duration::from_micros(sys_us),
            max_rss_kib,
            exit_code: exit_code.ok_or_else(|| format!("no exit code in usage record `{line}`"))?,
        })
    }
}

/// Runs `command` to completion and measures it. Standard streams are whatever `command` set up;
/// a caller that wants the output uses files, not pipes (nothing reads a pipe while we wait).
pub fn run(command: &mut Command) -> io::Result<Usage> {
    let start = Instant::now();
    let child = command.spawn().map_err(|error| {
        io::Error::new(
            error.kind(),
            format!("cannot run {:?}: {error}", command.get_program()),
        )
    })?;
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is plain data that the kernel fills in; all-zero is a valid value.
    let mut rusage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our own child, not yet reaped (std's `Child` never waited on it), and
        // both out-pointers point at live locals.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut rusage) };
        if reaped == pid {
            break;
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
    let wall = start.elapsed();
    let exit_code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    Ok(Usage {
        wall,
        user: timeval(rusage.ru_utime),
        system: timeval(rusage.ru_stime),
        max_rss_kib: u64::try_from(rusage.ru_maxrss).unwrap_or(0),
        exit_code,
    })
}

fn timeval(time: libc::timeval) -> Duration {
    Duration::from_secs(u64::try_from(time.tv_sec).unwrap_or(0))
        + Duration::from_micros(u64::try_from(time.tv_usec).unwrap_or(0))
}

/// Runs `command` with stdout and stderr sent to files in `log_dir`, and fails with the tail of
/// stderr when the process does not succeed.
pub fn run_logged(command: &mut Command, log_dir: &Path, name: &str) -> io::Result<Usage> {
    std::fs::create_dir_all(log_dir)?;
    let stderr_path = log_dir.join(format!("{name}.stderr"));
    command
        .stdin(Stdio::null())
        .stdout(File::create(log_dir.join(format!("{name}.stdout")))?)
        .stderr(File::create(&stderr_path)?);
    let usage = run(command)?;
    if !usage.success() {
        let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(io::Error::other(format!(
            "{name} failed (exit {}; full stderr in {}):\n{}",
            usage.exit_code,
            stderr_path.display(),
            tail.join("\n")
        )));
    }
    Ok(usage)
}

/// Reads the record a `measure-child` wrote.
pub fn read_record(path: &Path) -> io::Result<Usage> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        io::Error::new(
            error.kind(),
            format!("no usage record at {}: {error}", path.display()),
        )
    })?;
    text.trim().parse().map_err(io::Error::other)
}

/// Writes an executable `/bin/sh` script at `path` that execs `greeter-bench measure-child`
/// around `program`, for protoc's `--plugin=protoc-gen-NAME=path`.
pub fn write_wrapper(path: &Path, record: &Path, program: &Path) -> io::Result<()> {
    let (record, program) = (record.display(), program.display());
    write_bench_script(
        path,
        &format!("measure-child --out '{record}' -- '{program}'"),
    )
}

/// Writes an executable `/bin/sh` script at `path` that execs this `greeter-bench` with
/// `arguments` (quoted as the shell reads them).
pub fn write_bench_script(path: &Path, arguments: &str) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let bench = std::env::current_exe()?;
    let script = format!("#!/bin/sh\nexec '{}' {arguments}\n", bench.display());
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, script)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
}

/// Flags of the hidden `greeter-bench measure-child` subcommand.
#[derive(clap::Args)]
pub struct ChildArgs {
    /// Where to write the usage record.
    #[arg(long)]
    out: PathBuf,
    /// The program to run (stdin, stdout and stderr are passed through), then its arguments.
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

/// `measure-child`: run the command with our standard streams, record its usage, exit as it did.
pub fn child(args: ChildArgs) -> ExitCode {
    let (program, rest) = args.command.split_first().expect("clap requires one");
    match run(Command::new(program).args(rest)) {
        Ok(usage) => {
            if let Err(error) = std::fs::write(&args.out, format!("{usage}\n")) {
                eprintln!(
                    "measure-child: cannot write {}: {error}",
                    args.out.display()
                );
                return ExitCode::FAILURE;
            }
            ExitCode::from(u8::try_from(usage.exit_code).unwrap_or(1))
        }
        Err(error) => {
            eprintln!("measure-child: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_bad_ones_are_refused() {
        let usage = Usage {
            wall: Duration::from_nanos(1_234_567_891),
            user: Duration::from_micros(900_001),
            system: Duration::from_micros(12),
            max_rss_kib: 40_960,
            exit_code: 3,
        };
        assert_eq!(usage.to_string().parse::<Usage>(), Ok(usage));
        assert_eq!(usage.cpu(), Duration::from_micros(900_013));
        let line = usage.to_string();
        assert!(line.replace("maxrss_kib", "rss").parse::<Usage>().is_err());
        assert!(line.replace(" exit=3", "").parse::<Usage>().is_err());
        assert!(
            line.replace("user_us=900001", "user_us=x")
                .parse::<Usage>()
                .is_err()
        );
        assert!("wall_ns".parse::<Usage>().is_err());
    }

    #[test]
    fn measures_a_real_child() {
        // A child that burns CPU and touches 64 MiB: its own figures, not ours, come back.
        let usage = run(Command::new("sh").args([
            "-c",
            "head -c 67108864 /dev/zero | tail -c 67108864 >/dev/null; exit 7",
        ]))
        .unwrap();
        assert_eq!(usage.exit_code, 7);
        assert!(usage.max_rss_kib >= 60 * 1024, "{usage}");
        assert!(usage.wall >= usage.cpu() / 4, "{usage}");
    }
}
