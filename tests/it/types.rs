//! The TypeScript declaration of the protocol (`clients/arena.d.ts`): it type-checks
//! against the stock socket.io-client with `tsc --noEmit`, and names exactly the events
//! of README.md's protocol table.

use std::collections::BTreeSet;
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn the_typescript_types_check_against_the_stock_client() {
    let tsc = format!("{ROOT}/tests/ui/node_modules/.bin/tsc");
    assert!(
        std::path::Path::new(&tsc).exists(),
        "typescript is missing: run `npm ci --prefix tests/ui` (scripts/deps.sh test does)"
    );
    let out = Command::new(&tsc)
        .args(["-p", "tsconfig.json"])
        .current_dir(format!("{ROOT}/tests/ui"))
        .output()
        .expect("node is required for the type check");
    assert!(
        out.status.success(),
        "tsc --noEmit failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Event names declared in one interface of the .d.ts (`name: (` lines).
fn declared(dts: &str, interface: &str) -> BTreeSet<String> {
    let start = dts
        .find(&format!("export interface {interface} {{"))
        .unwrap_or_else(|| panic!("{interface} missing"));
    let body = &dts[start..];
    let body = &body[..body.find("\n}").unwrap()];
    // Members sit at two spaces; deeper lines are parameters of a member.
    body.lines()
        .filter_map(|l| l.strip_prefix("  "))
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| l.split_once(": ("))
        .map(|(name, _)| name.to_string())
        .collect()
}

#[test]
fn the_types_and_the_readme_name_the_same_events() {
    let dts = std::fs::read_to_string(format!("{ROOT}/clients/arena.d.ts")).unwrap();
    let readme = std::fs::read_to_string(format!("{ROOT}/README.md")).unwrap();
    let mut s2c = BTreeSet::new();
    let mut c2s = BTreeSet::new();
    for line in readme.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 4 {
            continue;
        }
        let set = match cells[1] {
            "s → c" => &mut s2c,
            "c → s" => &mut c2s,
            _ => continue,
        };
        for name in cells[2].split('/') {
            set.insert(name.trim().trim_matches('`').to_string());
        }
    }
    assert_eq!(declared(&dts, "ServerToClientEvents"), s2c);
    assert_eq!(declared(&dts, "ClientToServerEvents"), c2s);
}
