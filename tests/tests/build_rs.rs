//! build.rs output equals plugin output for the same input, with either compiler: the build
//! script (`tests/build.rs`) generated the Greeter and stress sets with protox and with protoc;
//! the golden files are what the plugin wrote through protoc.

use std::path::Path;

fn assert_same_files(generated: &Path, golden: &Path) {
    let list = |dir: &Path| {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let names = list(generated);
    assert_eq!(names, list(golden), "{}", generated.display());
    for name in names {
        let want = std::fs::read_to_string(golden.join(&name)).unwrap();
        let got = std::fs::read_to_string(generated.join(&name)).unwrap();
        assert!(
            want == got,
            "{} differs from the plugin's {}",
            generated.join(&name).display(),
            golden.join(&name).display()
        );
    }
}

#[test]
fn build_rs_output_equals_plugin_output() {
    let out = Path::new(env!("OUT_DIR"));
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("golden");
    for compiler in ["protox", "protoc"] {
        for set in ["greeter", "stress"] {
            assert_same_files(&out.join(compiler).join(set), &golden.join(set));
        }
    }
}
