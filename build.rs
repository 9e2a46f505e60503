//! Embeds the problem bank: writes `$OUT_DIR/problems.rs` with one `include_str!` per
//! `problems/*.toml`, sorted by name, so a deployed binary needs no files
//! (`src/services/problems/embedded.rs` includes it).
//!
//! Hand-written rather than a crate such as `include_dir`: it is twenty lines, and it
//! keeps the files as plain `&str` pairs the loader takes as they are.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let dir = manifest.join("problems");
    // A directory here makes cargo rerun this script when any file under it changes.
    println!("cargo:rerun-if-changed=problems");
    println!("cargo:rerun-if-changed=build.rs");

    let mut names: Vec<String> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".toml"))
            .collect(),
        // No directory: an empty bank, which the loader refuses with its own message.
        Err(_) => Vec::new(),
    };
    names.sort();

    let mut out = String::from(
        "/// Every `problems/*.toml` as (file name, contents), sorted by name.\n\
         pub static FILES: &[(&str, &str)] = &[\n",
    );
    for name in &names {
        let path = dir.join(name);
        let _ = writeln!(
            out,
            "    ({name:?}, include_str!({:?})),",
            path.display().to_string()
        );
    }
    out.push_str("];\n");

    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    if let Err(e) = std::fs::write(out_dir.join("problems.rs"), out) {
        panic!("cannot write the embedded problem table: {e}");
    }
}
