//! The golden files, compiled: `tests/golden/` holds what the plugin writes for the Greeter and
//! stress protos (checked by the plugin's own tests). Including them here makes `cargo build`,
//! `cargo clippy -D warnings` and `cargo test --doc` judge the generated code itself, and the
//! integration tests in `tests/` run real calls through it.

/// The Greeter, as the plugin generates it.
pub mod greeter {
    include!("../golden/greeter/greeter.v1.rs");
}

/// The stress set: nested and multiple packages, cross-package imports, well-known types, a
/// service with no methods, every streaming kind, keyword and odd names, proto2 and proto3
/// `optional`.
pub mod stress_set {
    include!("../golden/stress/mod.rs");
}

/// The Greeter generated with `default_stubs`: every method has an UNIMPLEMENTED default.
pub mod greeter_stubs {
    include!(concat!(env!("OUT_DIR"), "/stubs/greeter.v1.rs"));
}
