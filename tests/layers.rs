//! The library's structure, checked: every `use` and every `crate::` / `super::` path in
//! `src/` is an arrow from one module (file) to another, and
//! - arrows only point down the layers: base <- redis <- services <- modes <- judge <- edge <- tools;
//! - the arrows have no cycle: no two modules reach each other, directly or round about.
//!
//! Run it alone with `cargo test --test layers`. It reads the source as text (no
//! compiler involved): comments, strings and `#[cfg(test)] mod tests` blocks are left
//! out, and a path is attributed to the longest module it names (`super::store::start`
//! -> the sibling `store`). A folder's `mod.rs` is a module like any file, so a child
//! that imports from its parent's `mod.rs` while the parent imports from it is a cycle:
//! keep items in named files and let `mod.rs` hold the module list and re-exports.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, bottom first; the first path segment names the layer.
const LAYERS: [&str; 7] = [
    "base", "redis", "services", "modes", "judge", "edge", "tools",
];

#[derive(Debug)]
struct Module {
    file: PathBuf,
    /// Source with comments, strings and the test module blanked out.
    code: String,
}

/// Module path (`modes::hunt::claim`) -> its file. The crate root is "".
fn modules(src: &Path) -> BTreeMap<String, Module> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let rel = path.strip_prefix(src).expect("under src");
            let mut segs: Vec<String> = rel
                .iter()
                .map(|s| s.to_string_lossy().trim_end_matches(".rs").to_string())
                .collect();
            match segs.last().map(String::as_str) {
                Some("main") if segs.len() == 1 => continue, // the binary, not the library
                Some("lib") if segs.len() == 1 => segs.clear(),
                Some("mod") => {
                    segs.pop();
                }
                _ => {}
            }
            let text = std::fs::read_to_string(&path).expect("read source");
            out.insert(
                segs.join("::"),
                Module {
                    file: rel.to_path_buf(),
                    code: strip(&text),
                },
            );
        }
    }
    out
}

/// Blank out comments, string and char literals, and everything from a
/// `#[cfg(test)] mod` on (test modules sit at the end of a file and are not structure).
fn strip(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod ") {
        Some(i) => &text[..i],
        None => text,
    };
    let b = text.as_bytes();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == b'/' && next == Some(b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && next == Some(b'*') {
            i += 2;
            while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                i += 1;
            }
            i += 2;
        } else if c == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == b'\'' && next == Some(b'\\') {
            // an escaped char literal such as '\n' or '\''
            i += 2;
            while i < b.len() && b[i] != b'\'' {
                i += 1;
            }
            i += 1;
        } else if c == b'\'' && b.get(i + 2) == Some(&b'\'') {
            // a char literal such as '"' or '{'
            i += 3;
        } else {
            out.push(c as char);
            i += 1;
        }
    }
    out
}

/// Every `use` tree in `code`, expanded into paths (`a::{b, c::d}` -> `a::b`, `a::c::d`).
fn use_paths(code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(i) = find_word(rest, "use") {
        let after = &rest[i + 3..];
        let Some(end) = after.find(';') else { break };
        expand("", after[..end].trim(), &mut paths);
        rest = &after[end..];
    }
    paths
}

fn find_word(s: &str, word: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(j) = s[from..].find(word) {
        let i = from + j;
        let before = s[..i].chars().last();
        let after = s[i + word.len()..].chars().next();
        let ident = |c: char| c.is_alphanumeric() || c == '_';
        if !before.is_some_and(ident) && after.is_some_and(char::is_whitespace) {
            return Some(i);
        }
        from = i + word.len();
    }
    None
}

fn expand(prefix: &str, tree: &str, out: &mut Vec<String>) {
    let tree = tree.trim();
    match tree.find('{') {
        Some(open) => {
            let head = tree[..open].trim().trim_end_matches("::");
            let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
            let prefix = join(prefix, head);
            let mut depth = 0;
            let mut start = 0;
            for (k, ch) in inner.char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        expand(&prefix, &inner[start..k], out);
                        start = k + 1;
                    }
                    _ => {}
                }
            }
            expand(&prefix, &inner[start..], out);
        }
        None if !tree.is_empty() => {
            let path = tree.split(" as ").next().unwrap_or(tree).trim();
            out.push(join(prefix, path));
        }
        None => {}
    }
}

fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => format!("{a}::{b}"),
    }
}

/// `crate::`, `super::` and `self::` paths written inline in code.
fn inline_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    for start in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(j) = code[from..].find(start) {
            let i = from + j;
            from = i + start.len();
            let before = code[..i].chars().last();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let len = code[i..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(code.len() - i);
            let path = code[i..i + len].trim_end_matches(':');
            // `use super::{a, b}` leaves a bare `super`: the use tree has those arrows.
            if path.contains("::") {
                out.push(path.to_string());
            }
        }
    }
    out
}

/// The module a path from module `at` names: its longest prefix that is a module.
fn resolve(at: &str, path: &str, mods: &BTreeMap<String, Module>) -> Option<String> {
    let mut segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    let mut base: Vec<&str> = if at.is_empty() {
        vec![]
    } else {
        at.split("::").collect()
    };
    match segs.first().copied() {
        Some("crate") => {
            base.clear();
            segs.remove(0);
        }
        Some("super") | Some("self") => {
            while let Some(&s) = segs.first() {
                match s {
                    "super" => {
                        base.pop();
                    }
                    "self" => {}
                    _ => break,
                }
                segs.remove(0);
            }
        }
        // A path from a child module by its bare name (`claim::TILE_TAKEN` in `hunt`).
        Some(first) if mods.contains_key(&join(at, first)) => {}
        _ => return None,
    }
    base.extend(segs);
    (0..=base.len())
        .rev()
        .map(|n| base[..n].join("::"))
        .find(|m| mods.contains_key(m))
}

fn layer(module: &str) -> Option<usize> {
    let first = module.split("::").next()?;
    LAYERS.iter().position(|l| *l == first)
}

/// Arrows: module -> (target module -> a path that makes it).
fn arrows(mods: &BTreeMap<String, Module>) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut graph = BTreeMap::new();
    for (name, m) in mods {
        let mut paths = use_paths(&m.code);
        paths.extend(inline_paths(&m.code));
        // Bare paths into a child module (`events::claim`) need no `use`.
        let prefix = if name.is_empty() {
            String::new()
        } else {
            format!("{name}::")
        };
        for child in mods.keys() {
            if let Some(last) = child.strip_prefix(&prefix)
                && !last.contains("::")
                && !last.is_empty()
                && m.code.contains(&format!("{last}::"))
            {
                paths.push(last.to_string());
            }
        }
        let out: &mut BTreeMap<String, String> = graph.entry(name.clone()).or_default();
        for p in paths {
            if let Some(target) = resolve(name, &p, mods)
                && target != *name
                && !target.is_empty()
            {
                out.entry(target).or_insert(p);
            }
        }
    }
    graph
}

fn src_modules() -> BTreeMap<String, Module> {
    modules(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
}

#[test]
fn arrows_only_point_down_the_layers() {
    let mods = src_modules();
    let mut wrong = Vec::new();
    for (from, targets) in arrows(&mods) {
        let Some(lf) = layer(&from) else { continue };
        for (to, path) in targets {
            if let Some(lt) = layer(&to)
                && lt > lf
            {
                wrong.push(format!(
                    "{} ({}) -> {} ({}) via `{path}`",
                    mods[&from].file.display(),
                    LAYERS[lf],
                    mods[&to].file.display(),
                    LAYERS[lt]
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "arrows pointing up:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_module_graph_has_no_cycle() {
    let mods = src_modules();
    let graph = arrows(&mods);
    let cycles = strongly_connected(&graph);
    let mut report = Vec::new();
    for scc in cycles.iter().filter(|c| c.len() > 1) {
        report.push(format!("cycle of {} modules:", scc.len()));
        for from in scc {
            for (to, path) in &graph[from] {
                if scc.contains(to) {
                    report.push(format!(
                        "  {} -> {} via `{path}`",
                        mods[from].file.display(),
                        mods[to].file.display()
                    ));
                }
            }
        }
    }
    assert!(report.is_empty(), "{}", report.join("\n"));
}

#[test]
fn the_checker_sees_arrows() {
    // Guards the checker itself: known arrows must be found, or the two tests above
    // would pass on an empty graph.
    let mods = src_modules();
    assert!(mods.len() > 40, "only {} modules found", mods.len());
    let graph = arrows(&mods);
    let has = |from: &str, to: &str| graph.get(from).is_some_and(|t| t.contains_key(to));
    assert!(has("modes::hunt::scripts", "services::limiter"));
    assert!(has("modes::hunt::claim", "modes::hunt::scripts"));
    assert!(has("edge::app", "services::realtime"));
    assert!(has("services::lock::redlock", "redis"));
}

/// Tarjan's strongly connected components.
fn strongly_connected(graph: &BTreeMap<String, BTreeMap<String, String>>) -> Vec<BTreeSet<String>> {
    struct State<'a> {
        graph: &'a BTreeMap<String, BTreeMap<String, String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        out: Vec<BTreeSet<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        if let Some(targets) = s.graph.get(v) {
            for w in targets.keys() {
                let w = w.as_str();
                if !s.index.contains_key(w) {
                    visit(s, w);
                    let lw = s.low[w];
                    let lv = s.low[v];
                    s.low.insert(v, lv.min(lw));
                } else if s.on_stack.contains(w) {
                    let iw = s.index[w];
                    let lv = s.low[v];
                    s.low.insert(v, lv.min(iw));
                }
            }
        }
        if s.low[v] == s.index[v] {
            let mut scc = BTreeSet::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                scc.insert(w.to_string());
                if w == v {
                    break;
                }
            }
            s.out.push(scc);
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out
}

#[test]
fn every_redis_client_is_made_in_redis_connect() {
    // TLS files and ACL credentials reach a connection only through
    // `redis::connect::Endpoint::client`; a client made anywhere else would bypass them.
    let mods = src_modules();
    let mut wrong = Vec::new();
    for (name, m) in &mods {
        if name == "redis::connect" {
            continue;
        }
        for needle in [
            "Client::open",
            "build_with_tls",
            "Client::build",
            "ClusterClient",
        ] {
            if m.code.contains(needle) {
                wrong.push(format!(
                    "{} makes a redis client ({needle})",
                    m.file.display()
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "make clients with crate::redis::Endpoint::client:\n{}",
        wrong.join("\n")
    );
    assert!(
        mods["redis::connect"].code.contains("Client::open"),
        "the checker must see the one place that makes clients"
    );
}
