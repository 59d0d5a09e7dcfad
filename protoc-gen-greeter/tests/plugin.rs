//! The plugin binary driven end to end: through a real (vendored) protoc, and with hand-made
//! requests on stdin for what protoc would never send.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use prost::Message;
use prost_types::compiler::{CodeGeneratorRequest, CodeGeneratorResponse};
use prost_types::{FileDescriptorProto, compiler::code_generator_response::Feature};

const PLUGIN: &str = env!("CARGO_BIN_EXE_protoc-gen-greeter");

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn protoc() -> PathBuf {
    protoc_bin_vendored::protoc_bin_path().expect("vendored protoc")
}

/// Runs protoc with the plugin into a fresh directory; returns protoc's output and the directory.
fn run_protoc(parameter: &str, includes: &[PathBuf], files: &[&str]) -> (Output, tempdir::Dir) {
    let out = tempdir::Dir::new();
    let mut command = Command::new(protoc());
    command
        .arg(format!("--plugin=protoc-gen-greeter={PLUGIN}"))
        .arg(format!("--greeter_out={}", out.path().display()))
        .arg(format!("--greeter_opt={parameter}"));
    for include in includes {
        command.arg("-I").arg(include);
    }
    command.args(files);
    (command.output().expect("run protoc"), out)
}

fn greeter_includes() -> Vec<PathBuf> {
    vec![workspace().join("proto")]
}

fn stress_includes() -> Vec<PathBuf> {
    vec![
        workspace().join("tests/proto"),
        // greeter/options.proto
        workspace().join("proto"),
        protoc_bin_vendored::include_path().expect("vendored protoc includes"),
    ]
}

const STRESS_FILES: &[&str] = &[
    "stress/common/v1/common.proto",
    "stress/api/v1/api.proto",
    "stress/type/type.proto",
    "stress/api/api.proto",
];

/// Compares every file in `generated` with `tests/golden/<name>`; `UPDATE_GOLDEN=1` rewrites the
/// golden files instead (and removes stale ones).
fn assert_golden(generated: &Path, name: &str) {
    let golden = workspace().join("tests/golden").join(name);
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let produced = list(generated);
    if update {
        let _ = std::fs::remove_dir_all(&golden);
        std::fs::create_dir_all(&golden).unwrap();
        for file in &produced {
            std::fs::copy(generated.join(file), golden.join(file)).unwrap();
        }
        return;
    }
    assert_eq!(
        produced,
        list(&golden),
        "generated file set differs from tests/golden/{name} (UPDATE_GOLDEN=1 to accept)"
    );
    for file in &produced {
        let want = std::fs::read_to_string(golden.join(file)).unwrap();
        let got = std::fs::read_to_string(generated.join(file)).unwrap();
        assert!(
            want == got,
            "tests/golden/{name}/{file} differs from the plugin output (UPDATE_GOLDEN=1 to accept)"
        );
    }
}

fn list(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "protoc failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn greeter_through_protoc_matches_golden() {
    let (output, out) = run_protoc("", &greeter_includes(), &["greeter/v1/greeter.proto"]);
    assert_success(&output);
    assert_eq!(list(out.path()), ["greeter.v1.rs"]);
    assert_golden(out.path(), "greeter");
}

#[test]
fn stress_set_through_protoc_matches_golden() {
    let (output, out) = run_protoc("include_file=mod.rs", &stress_includes(), STRESS_FILES);
    assert_success(&output);
    assert_eq!(
        list(out.path()),
        [
            "mod.rs",
            "stress.api.rs",
            "stress.api.v1.rs",
            "stress.common.v1.rs",
            "stress.r#type.rs"
        ]
    );
    assert_golden(out.path(), "stress");
}

#[test]
fn two_runs_are_byte_identical() {
    let (first, a) = run_protoc("include_file=mod.rs", &stress_includes(), STRESS_FILES);
    let (second, b) = run_protoc("include_file=mod.rs", &stress_includes(), STRESS_FILES);
    assert_success(&first);
    assert_success(&second);
    for file in list(a.path()) {
        assert_eq!(
            std::fs::read(a.path().join(&file)).unwrap(),
            std::fs::read(b.path().join(&file)).unwrap(),
            "{file}"
        );
    }
}

#[test]
fn options_select_what_is_generated() {
    let (output, out) = run_protoc(
        "messages=false,client=false",
        &greeter_includes(),
        &["greeter/v1/greeter.proto"],
    );
    assert_success(&output);
    let code = std::fs::read_to_string(out.path().join("greeter.v1.rs")).unwrap();
    assert!(code.contains("pub mod greeter_server"));
    assert!(code.contains("pub mod greeter_methods"));
    assert!(!code.contains("pub mod greeter_client"));
    assert!(!code.contains("pub struct HelloRequest"));

    let (output, out) = run_protoc(
        "server=false,default_stubs=true,runtime_crate=crate::rt,extern_path=.stress.type=::other::ty",
        &stress_includes(),
        &["stress/api/v1/api.proto"],
    );
    assert_success(&output);
    let code = std::fs::read_to_string(out.path().join("stress.api.v1.rs")).unwrap();
    assert!(code.contains("pub mod everything_client"));
    assert!(!code.contains("pub mod everything_server"));
    assert!(code.contains("use crate::rt::__codegen as rt;"));
    assert!(
        code.contains("::other::ty::Kind"),
        "extern_path applies to messages and services"
    );
    assert!(!code.contains("super::super::r#type::Kind"));
}

#[test]
fn bad_options_are_errors_naming_the_option() {
    let cases = [
        (
            "colour=red",
            "--greeter_out: unknown option `colour` (known options: messages, server, client, default_stubs, include_file, extern_path, runtime_crate, rustfmt)",
        ),
        (
            "server=maybe",
            "--greeter_out: invalid value `maybe` for option `server`: expected `true` or `false`",
        ),
        (
            "extern_path=nodot",
            "--greeter_out: invalid value `nodot` for option `extern_path`: expected `.proto.path=::rust::path`",
        ),
    ];
    for (parameter, message) in cases {
        let (output, _out) = run_protoc(
            parameter,
            &greeter_includes(),
            &["greeter/v1/greeter.proto"],
        );
        assert!(!output.status.success(), "{parameter}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.trim(), message, "{parameter}");
    }
}

#[test]
fn version_flag_prints_the_version() {
    let output = Command::new(PLUGIN).arg("--version").output().unwrap();
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        format!("protoc-gen-greeter {}\n", env!("CARGO_PKG_VERSION"))
    );
}

/// Pipes raw bytes to the plugin and decodes its response.
fn run_plugin(stdin: &[u8]) -> CodeGeneratorResponse {
    use std::io::Write;
    let mut child = Command::new(PLUGIN)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the plugin exits 0 and reports errors in the response"
    );
    assert!(
        !String::from_utf8_lossy(&output.stderr).contains("panicked"),
        "the plugin must not panic: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    CodeGeneratorResponse::decode(output.stdout.as_slice()).expect("a CodeGeneratorResponse")
}

#[test]
fn malformed_request_bytes_are_an_error_response() {
    let response = run_plugin(&[0x0a, 0xff, 0xff, 0xff]);
    assert_eq!(
        response.error.as_deref(),
        Some(
            "cannot decode the CodeGeneratorRequest: failed to decode Protobuf message: \
             CodeGeneratorRequest.file_to_generate: invalid varint"
        )
    );
    assert!(response.file.is_empty());
}

fn request(files: Vec<FileDescriptorProto>, generate: &[&str], parameter: &str) -> Vec<u8> {
    CodeGeneratorRequest {
        file_to_generate: generate.iter().map(|s| s.to_string()).collect(),
        parameter: Some(parameter.to_owned()),
        proto_file: files,
        ..Default::default()
    }
    .encode_to_vec()
}

fn file(name: &str, syntax: &str) -> FileDescriptorProto {
    FileDescriptorProto {
        name: Some(name.to_owned()),
        package: Some("edge.v1".to_owned()),
        syntax: Some(syntax.to_owned()),
        ..Default::default()
    }
}

#[test]
fn unsupported_and_inconsistent_input_are_error_responses() {
    let response = run_plugin(&request(
        vec![file("edge.proto", "editions")],
        &["edge.proto"],
        "",
    ));
    assert_eq!(
        response.error.as_deref(),
        Some("edge.proto: syntax `editions` is not supported; use proto2 or proto3")
    );

    let response = run_plugin(&request(
        vec![file("edge.proto", "proto3")],
        &["missing.proto"],
        "",
    ));
    assert_eq!(
        response.error.as_deref(),
        Some(
            "file `missing.proto` is listed to generate but its descriptor is missing from the request"
        )
    );

    let mut broken = file("broken.proto", "proto3");
    broken.dependency.push("nowhere.proto".to_owned());
    let response = run_plugin(&request(vec![broken], &["broken.proto"], ""));
    assert_eq!(
        response.error.as_deref(),
        Some(
            "invalid descriptors: `broken.proto` imports `nowhere.proto`, which is not before it in the request"
        )
    );

    let mut duplicate = file("dup.proto", "proto3");
    duplicate.message_type.push(prost_types::DescriptorProto {
        name: Some("Twice".to_owned()),
        ..Default::default()
    });
    duplicate
        .message_type
        .push(duplicate.message_type[0].clone());
    let response = run_plugin(&request(vec![duplicate], &["dup.proto"], ""));
    let error = response.error.expect("an error");
    assert!(error.starts_with("invalid descriptors: "), "{error}");
    assert!(error.contains("Twice"), "{error}");

    // A field naming a type the request does not hold (protoc never sends one), in a nested
    // message: refused, naming the file and the field.
    let mut dangling = file("dangling.proto", "proto3");
    dangling.message_type.push(prost_types::DescriptorProto {
        name: Some("Outer".to_owned()),
        nested_type: vec![prost_types::DescriptorProto {
            name: Some("Inner".to_owned()),
            field: vec![prost_types::FieldDescriptorProto {
                name: Some("gone".to_owned()),
                number: Some(1),
                label: Some(prost_types::field_descriptor_proto::Label::Optional as i32),
                r#type: Some(prost_types::field_descriptor_proto::Type::Message as i32),
                type_name: Some(".edge.v1.Nowhere".to_owned()),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    });
    let response = run_plugin(&request(vec![dangling], &["dangling.proto"], ""));
    assert_eq!(
        response.error.as_deref(),
        Some(
            "invalid descriptors: `dangling.proto`: field `edge.v1.Outer.Inner.gone` has type `.edge.v1.Nowhere`, which is not in the request"
        )
    );
}

/// protoc accepts names of underscores alone, which prost-build turns into empty Rust names
/// (`pub struct  {`): an error response naming the file, never a file that does not compile.
#[test]
fn names_prost_build_cannot_spell_are_an_error_not_broken_code() {
    let mut underscores = file("under.proto", "proto3");
    underscores.message_type.push(prost_types::DescriptorProto {
        name: Some("_".to_owned()),
        field: vec![prost_types::FieldDescriptorProto {
            name: Some("_".to_owned()),
            number: Some(1),
            label: Some(prost_types::field_descriptor_proto::Label::Optional as i32),
            r#type: Some(prost_types::field_descriptor_proto::Type::Int32 as i32),
            ..Default::default()
        }],
        ..Default::default()
    });
    let response = run_plugin(&request(vec![underscores], &["under.proto"], ""));
    assert!(response.file.is_empty());
    let error = response.error.expect("an error");
    assert!(
        error.starts_with("internal error: generated code for `edge.v1.rs` does not parse"),
        "{error}"
    );
}

#[test]
fn declares_proto3_optional_support() {
    let response = run_plugin(&request(
        vec![file("edge.proto", "proto3")],
        &["edge.proto"],
        "",
    ));
    assert_eq!(response.error, None);
    assert_eq!(
        response.supported_features,
        Some(Feature::Proto3Optional as u64)
    );
    assert!(response.file.is_empty(), "an empty package writes no file");
}

/// A scratch directory removed on drop (std only, to keep dev-dependencies small).
mod tempdir {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicU32, Ordering};

    pub struct Dir(PathBuf);

    impl Dir {
        pub fn new() -> Self {
            static NEXT: AtomicU32 = AtomicU32::new(0);
            let path = std::env::temp_dir().join(format!(
                "protoc-gen-greeter-test-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).unwrap();
            Self(path)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[test]
fn deprecated_and_documented_items_carry_their_attributes() {
    let (output, out) = run_protoc("", &stress_includes(), &["stress/api/v1/api.proto"]);
    assert_success(&output);
    let code = std::fs::read_to_string(out.path().join("stress.api.v1.rs")).unwrap();
    assert!(
        code.contains("    #[deprecated]\n    pub trait Legacy"),
        "deprecated service"
    );
    assert!(
        code.contains("/// A deprecated method.\n        #[deprecated]\n        fn old_ping("),
        "deprecated method in the trait"
    );
    assert!(
        code.contains("#[deprecated]\n        pub async fn old_ping("),
        "deprecated method in the client"
    );
    // The indented block of the service comment is fenced as text, so it is no doctest.
    assert!(code.contains(
        "    /// ```text\n    ///     fn this_would_be_a_doctest() { panic!() }\n    /// ```"
    ));
    assert!(code.contains("// @generated by protoc-gen-greeter"));
    assert!(code.contains("from stress/api/v1/api.proto. Do not edit."));
}

/// Runs `rustfmt --check` over `file`; true when rustfmt would change nothing.
fn rustfmt_clean(file: &Path) -> bool {
    let rustfmt = std::env::var_os("RUSTFMT").unwrap_or_else(|| "rustfmt".into());
    let status = Command::new(rustfmt)
        .args(["--edition", "2021", "--check"])
        .arg(file)
        .stdout(Stdio::null())
        .status()
        .expect("rustfmt runs (it comes with the toolchain)");
    status.success()
}

#[test]
fn rustfmt_option_gives_what_rustfmt_makes_of_the_default_output() {
    let files = &["greeter/v1/greeter.proto"];
    let (output, plain) = run_protoc("", &greeter_includes(), files);
    assert_success(&output);
    let (output, formatted) = run_protoc("rustfmt", &greeter_includes(), files);
    assert_success(&output);
    let plain_file = plain.path().join("greeter.v1.rs");
    let formatted_file = formatted.path().join("greeter.v1.rs");
    // The default (prettyplease) layout is not rustfmt's; the option's is.
    assert!(!rustfmt_clean(&plain_file));
    assert!(rustfmt_clean(&formatted_file));
    let rustfmt = std::env::var_os("RUSTFMT").unwrap_or_else(|| "rustfmt".into());
    let reformatted = Command::new(rustfmt)
        .args(["--edition", "2021", "--emit", "stdout", "--quiet"])
        .arg(&plain_file)
        .output()
        .unwrap();
    assert!(reformatted.status.success());
    assert!(
        reformatted.stdout == std::fs::read(&formatted_file).unwrap(),
        "the `rustfmt` option's output is not rustfmt applied to the default output"
    );
}

#[test]
fn rustfmt_option_without_a_rustfmt_is_an_error_naming_the_option() {
    let out = tempdir::Dir::new();
    let output = Command::new(protoc())
        .env("RUSTFMT", "/nonexistent/rustfmt")
        .arg(format!("--plugin=protoc-gen-greeter={PLUGIN}"))
        .arg(format!("--greeter_out={}", out.path().display()))
        .arg("--greeter_opt=rustfmt")
        .arg("-I")
        .arg(workspace().join("proto"))
        .arg("greeter/v1/greeter.proto")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with(
            "--greeter_out: option `rustfmt`: cannot format `greeter.v1.rs`: cannot run `/nonexistent/rustfmt`:"
        ),
        "{stderr}"
    );
    assert_eq!(list(out.path()), Vec::<String>::new());
}

/// A proto whose one method `bad.v1.Svc.Get` declares `contract`, in a fresh directory. A
/// contract starting with `defaults:` is the service's `(greeter.defaults)` instead.
fn contract_proto(contract: &str) -> tempdir::Dir {
    let dir = tempdir::Dir::new();
    let (service_option, method_option) = match contract.strip_prefix("defaults:") {
        Some(defaults) => (
            format!("option (greeter.defaults) = {{ {defaults} }};"),
            String::new(),
        ),
        None => (
            String::new(),
            format!("option (greeter.contract) = {{ {contract} }};"),
        ),
    };
    let proto = format!(
        "syntax = \"proto3\";\npackage bad.v1;\nimport \"greeter/options.proto\";\n\
         message Help {{ string text = 1; }}\n\
         service Svc {{\n  {service_option}\n  rpc Get(Help) returns (Help) {{\n    \
         {method_option}\n  }}\n}}\n"
    );
    std::fs::write(dir.path().join("bad.proto"), proto).unwrap();
    dir
}

/// Every contract a generator must refuse, with the exact error both paths give.
const BAD_CONTRACTS: &[(&str, &str)] = &[
    (
        r#"error: { code: NOT_FOUND detail: "acme.Missing" }"#,
        "bad.proto: method `bad.v1.Svc.Get`: error NOT_FOUND with detail `acme.Missing`: no such message in this compilation (is its file imported?)",
    ),
    (
        "error: { code: OK }",
        "bad.proto: method `bad.v1.Svc.Get`: error code OK is not an error",
    ),
    (
        "error: { detail: \"google.rpc.Help\" }",
        "bad.proto: method `bad.v1.Svc.Get`: error code OK is not an error",
    ),
    (
        "error: { code: NOT_FOUND } error: { code: NOT_FOUND }",
        "bad.proto: method `bad.v1.Svc.Get`: error NOT_FOUND is declared twice",
    ),
    (
        r#"error: { code: ABORTED detail: "bad.v1.Help" } error: { code: ABORTED detail: ".bad.v1.Help" }"#,
        "bad.proto: method `bad.v1.Svc.Get`: error ABORTED with detail `bad.v1.Help` is declared twice",
    ),
    (
        r#"error: { code: ABORTED detail: "google.rpc.Help" } error: { code: ABORTED detail: "bad.v1.Help" }"#,
        "bad.proto: method `bad.v1.Svc.Get`: errors ABORTED with `google.rpc.Help` and ABORTED with `bad.v1.Help` would both be the variant `AbortedHelp`",
    ),
    (
        "error: { code: 42 }",
        "bad.proto: method `bad.v1.Svc.Get`: error code 42 is not a gRPC status code",
    ),
    (
        r#"request: { key: "Request-Id" type: INT64 }"#,
        "bad.proto: method `bad.v1.Svc.Get`: request key `Request-Id`: metadata keys are lower case",
    ),
    (
        r#"header: { key: "request id" type: STRING }"#,
        "bad.proto: method `bad.v1.Svc.Get`: header key `request id`: ' ' is not allowed (keys hold only a-z, 0-9, `-`, `_` and `.`)",
    ),
    (
        r#"trailer: { key: "grpc-thing" type: STRING }"#,
        "bad.proto: method `bad.v1.Svc.Get`: trailer key `grpc-thing`: keys starting with `grpc-` are reserved for gRPC",
    ),
    (
        r#"request: { key: "te" type: STRING }"#,
        "bad.proto: method `bad.v1.Svc.Get`: request key `te`: HTTP/2 or gRPC reserves this key",
    ),
    (
        r#"request: { key: "trace" type: BYTES }"#,
        "bad.proto: method `bad.v1.Svc.Get`: request key `trace`: a BYTES value needs a key ending in `-bin`",
    ),
    (
        r#"header: { key: "help" type: MESSAGE type_name: "bad.v1.Help" }"#,
        "bad.proto: method `bad.v1.Svc.Get`: header key `help`: a MESSAGE value needs a key ending in `-bin`",
    ),
    (
        r#"request: { key: "trace-bin" type: STRING }"#,
        "bad.proto: method `bad.v1.Svc.Get`: request key `trace-bin`: a key ending in `-bin` holds BYTES or MESSAGE values, not STRING",
    ),
    (
        r#"request: { key: "a" type: INT64 } request: { key: "a" type: STRING }"#,
        "bad.proto: method `bad.v1.Svc.Get`: request key `a` is declared twice",
    ),
    (
        r#"request: { key: "a" }"#,
        "bad.proto: method `bad.v1.Svc.Get`: request key `a`: no type",
    ),
    (
        r#"request: { key: "a" type: 99 }"#,
        "bad.proto: method `bad.v1.Svc.Get`: request key `a`: type 99 is not a metadata type",
    ),
    (
        r#"request: { key: "a" type: ENUM }"#,
        "bad.proto: method `bad.v1.Svc.Get`: request key `a`: type ENUM needs a `type_name`",
    ),
    (
        r#"request: { key: "a" type: ENUM type_name: "bad.v1.Help" }"#,
        "bad.proto: method `bad.v1.Svc.Get`: request key `a`: no enum `bad.v1.Help` in this compilation (is its file imported?)",
    ),
    (
        r#"request: { key: "a-bin" type: MESSAGE type_name: "acme.Missing" }"#,
        "bad.proto: method `bad.v1.Svc.Get`: request key `a-bin`: no message `acme.Missing` in this compilation (is its file imported?)",
    ),
    (
        r#"request: { key: "a" type: STRING type_name: "bad.v1.Help" }"#,
        "bad.proto: method `bad.v1.Svc.Get`: request key `a`: `type_name` is only for ENUM and MESSAGE, not STRING",
    ),
    (
        r#"request: { key: "a-b" type: STRING } request: { key: "a.b" type: INT64 }"#,
        "bad.proto: method `bad.v1.Svc.Get`: request keys `a-b` and `a.b` would both be the field `a_b`",
    ),
    (
        "request: { type: STRING }",
        "bad.proto: method `bad.v1.Svc.Get`: request metadata has no key",
    ),
    (
        r#"defaults: header: { key: "Bad" type: STRING }"#,
        "bad.proto: service `bad.v1.Svc` (greeter.defaults): header key `Bad`: metadata keys are lower case",
    ),
    (
        r#"defaults: trailer: { key: "x" type: STRING } trailer: { key: "x" type: STRING }"#,
        "bad.proto: service `bad.v1.Svc` (greeter.defaults): trailer key `x` is declared twice",
    ),
    (
        r#"defaults: header: { key: "a-b" type: STRING } header: { key: "a.b" type: STRING }"#,
        "bad.proto: service `bad.v1.Svc` (greeter.defaults): header keys `a-b` and `a.b` would both be the field `a_b`",
    ),
];

#[test]
fn bad_contracts_are_errors_naming_the_method_through_protoc() {
    for (contract, message) in BAD_CONTRACTS {
        let dir = contract_proto(contract);
        let (output, _out) = run_protoc(
            "",
            &[dir.path().to_path_buf(), workspace().join("proto")],
            &["bad.proto"],
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{contract}");
        assert_eq!(
            stderr.trim(),
            format!("--greeter_out: {message}"),
            "{contract}"
        );
    }
}

#[test]
fn bad_contracts_are_errors_naming_the_method_through_build_rs() {
    for (contract, message) in BAD_CONTRACTS {
        let dir = contract_proto(contract);
        let out = tempdir::Dir::new();
        // No include for greeter/options.proto: the builder provides it.
        let error = protoc_gen_greeter::configure()
            .out_dir(out.path())
            .skip_rerun_if_changed()
            .compile_protos(&[dir.path().join("bad.proto")], &[dir.path()])
            .unwrap_err();
        assert_eq!(error.to_string(), *message, "{contract}");
    }
}

#[test]
fn the_options_proto_comes_from_the_plugin() {
    let output = Command::new(PLUGIN)
        .arg("--options-proto")
        .output()
        .unwrap();
    assert!(output.status.success());
    let shipped = std::fs::read_to_string(workspace().join("proto/greeter/options.proto")).unwrap();
    assert_eq!(String::from_utf8(output.stdout).unwrap(), shipped);
}

#[test]
fn a_runtime_crate_that_is_not_a_module_path_is_refused_by_the_builder() {
    for path in ["rt::Foo<u8>", "1abc"] {
        let error = protoc_gen_greeter::configure()
            .runtime_crate(path)
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("runtime_crate: `{path}` is not a Rust module path")
        );
    }
    assert!(
        protoc_gen_greeter::configure()
            .runtime_crate("crate::rt")
            .is_ok()
    );
}
