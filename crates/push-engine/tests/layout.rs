//! The engine's top-level modules form a graph with no cycle: leaves
//! (`error`, `message`, `config`) at the bottom, `engine` on top, each
//! module using only modules below it (docs/layout.md draws it). This test
//! reads `src/` and fails on a cycle, naming it, so a new `use crate::…`
//! that ties two modules together is caught where it is written.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level module name → the top-level modules its code names.
type Graph = BTreeMap<String, BTreeSet<String>>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a readable src/ tree") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The modules named by `crate::NAME` and `crate::{NAME, …}` in code
/// (comments, where doc links name modules freely, are skipped).
fn named_modules(source: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in source.lines() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                for item in group[..end].split(',') {
                    names.insert(ident(item.trim()));
                }
            } else {
                names.insert(ident(rest));
            }
        }
    }
    names.retain(|n| n.chars().next().is_some_and(|c| c.is_ascii_lowercase()));
    names
}

fn ident(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

fn graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph = Graph::new();
    for entry in std::fs::read_dir(&src).expect("src/") {
        let path = entry.expect("a directory entry").path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if name == "lib" {
            continue;
        }
        let mut files = Vec::new();
        if path.is_dir() {
            rust_files(&path, &mut files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path.clone());
        } else {
            continue;
        }
        let mut uses = BTreeSet::new();
        for file in files {
            let text = std::fs::read_to_string(&file).expect("a readable source file");
            uses.extend(named_modules(&text));
        }
        uses.remove(&name);
        graph.entry(name).or_default().extend(uses);
    }
    // Only edges between top-level modules (not `crate::Hub`-style
    // re-exports, which name no module).
    let modules: BTreeSet<String> = graph.keys().cloned().collect();
    for uses in graph.values_mut() {
        uses.retain(|u| modules.contains(u));
    }
    graph
}

/// A cycle in `graph`, if there is one, as the path that closes it.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        node: &str,
        graph: &Graph,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let from = path.iter().position(|n| n == node).unwrap();
                let mut cycle = path[from..].to_vec();
                cycle.push(node.to_owned());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node.to_owned(), Mark::Open);
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, marks, path) {
                return Some(cycle);
            }
        }
        path.pop();
        marks.insert(node.to_owned(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, graph, &mut marks, &mut Vec::new()) {
            return Some(cycle);
        }
    }
    None
}

#[test]
fn the_top_level_modules_form_no_cycle() {
    let graph = graph();
    for (module, uses) in &graph {
        eprintln!("{module} -> {uses:?}");
    }
    assert!(
        graph.len() >= 10,
        "src/ was read: {:?}",
        graph.keys().collect::<Vec<_>>()
    );
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "the top-level modules form a cycle: {} (a module uses only modules below it: see docs/layout.md)",
            cycle.join(" -> ")
        );
    }
}

#[test]
fn the_leaves_use_no_other_module() {
    let graph = graph();
    for leaf in ["error", "process"] {
        assert_eq!(graph[leaf], BTreeSet::new(), "{leaf} is a leaf");
    }
    assert!(
        graph["message"].iter().all(|m| m == "error"),
        "message uses only error: {:?}",
        graph["message"]
    );
    assert!(
        graph["config"]
            .iter()
            .all(|m| m == "error" || m == "message"),
        "config uses only error and message: {:?}",
        graph["config"]
    );
    assert!(
        graph["metrics"].is_empty(),
        "metrics is a recorder that reads nobody"
    );
    assert!(
        !graph["hub"].contains("broker"),
        "the hub knows the broker only through its own trait"
    );
}

/// The check itself finds what it is for.
#[test]
fn a_cycle_is_found_and_named() {
    let mut graph = Graph::new();
    graph.insert("a".into(), ["b".to_string()].into());
    graph.insert("b".into(), ["c".to_string()].into());
    graph.insert("c".into(), ["a".to_string()].into());
    assert_eq!(
        find_cycle(&graph),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    graph.get_mut("c").unwrap().clear();
    assert_eq!(find_cycle(&graph), None);
    assert_eq!(
        named_modules(
            "use crate::{hub::Hub, edge};\n// crate::engine\nlet x = crate::wait::WAIT_SLICE;"
        ),
        ["edge", "hub", "wait"].map(String::from).into()
    );
}

/// `lib.rs`'s `# Layout` lists every top-level module bottom-up: each uses
/// only modules listed before it, so the list reads as the graph does.
#[test]
fn the_layout_in_lib_rs_lists_every_module_bottom_up() {
    let graph = graph();
    let lib = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs"))
        .expect("src/lib.rs");
    let order: Vec<String> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("//! - [`"))
        .map(ident)
        .collect();
    let listed: BTreeSet<String> = order.iter().cloned().collect();
    let modules: BTreeSet<String> = graph.keys().cloned().collect();
    assert_eq!(listed, modules, "# Layout lists every module once");
    for (i, module) in order.iter().enumerate() {
        for used in &graph[module] {
            assert!(
                order[..i].contains(used),
                "{module} uses {used}, which # Layout in lib.rs lists after it"
            );
        }
    }
}

/// The first string literal after each `eprintln!(` in `source` (the
/// line's rest, or the next line's), with the file's line number.
fn printed(source: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = source.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        let Some(at) = line.find("eprintln!(") else {
            continue;
        };
        let rest = &line[at + "eprintln!(".len()..];
        let text = if rest.trim().is_empty() {
            lines.get(i + 1).copied().unwrap_or("")
        } else {
            rest
        };
        let literal = text
            .trim_start()
            .strip_prefix('"')
            .map(|t| t.split('"').next().unwrap_or("").to_owned())
            .unwrap_or_default();
        out.push((i + 1, literal));
    }
    out
}

/// What the engine prints to the server's error log says it is push's
/// (`push: …`), so an operator can grep for it; a debugging print left
/// behind has no such prefix and is caught here. Tests are not searched.
#[test]
fn the_engine_prints_only_its_own_messages() {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut found = 0;
    let mut stray = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("a readable source file");
        // A file's own unit tests follow its code.
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for (line, literal) in printed(code) {
            found += 1;
            if !literal.starts_with("push: ") {
                stray.push(format!("{}:{line}: {literal:?}", file.display()));
            }
        }
    }
    assert!(found >= 5, "the engine's messages were found ({found})");
    assert!(
        stray.is_empty(),
        "messages without the \"push: \" prefix (a debugging print left behind?):\n{}",
        stray.join("\n")
    );
    // The check sees a stray print, and a message split over two lines.
    assert_eq!(
        printed(
            "x();\n    eprintln!(\"SIZE {}\", n);\n    eprintln!(\n        \"push: a\",\n    );"
        ),
        vec![(2, "SIZE {}".to_owned()), (3, "push: a".to_owned())]
    );
}
