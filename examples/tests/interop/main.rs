//! gRPC interop: `interop-client` and `interop-server` against each other, plaintext and over
//! TLS, and against grpcio's (Python, the C-core stack) interop peers in
//! `tests/python/interop/`, every case of `--test_case=all` in each pairing.
//!
//! Also: a client that trusts another CA fails clearly and in time; the flags refuse TLS
//! without certificates; reflection (v1 and v1alpha) describes the service; and the client's
//! checks are real: against a server that gets every case slightly wrong, each case fails with
//! what differed.
//!
//! Servers listen on port 0 (the startup line names the port), children are killed on drop,
//! and every wait is bounded. The Python peers run in the venv of `tests/python/venv.sh`, made
//! once under the cargo target dir; `python3` with `venv` and `pip` is required.
//!
//! The plumbing: [`process`] (temporary directories, children killed on drop, bounded runs, a
//! server's startup port), [`python`] (the venv), [`pki`] (certificates made with rcgen) and
//! [`peers`] (which implementation serves or calls, with which flags). The tests: [`pairings`]
//! (every pairing passes every case), [`failures`] (a wrong CA, a missing name, refused flags),
//! [`reflection`] and [`liar`] (a server that gets every case wrong).

mod failures;
mod liar;
mod pairings;
mod peers;
mod pki;
mod process;
mod python;
mod reflection;
