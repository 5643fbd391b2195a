//! The manual against the code, so neither can change without the other:
//!
//! - `docs/settings.md` has one table row per entry of
//!   [`push_engine::config::SETTINGS`] — its name, its default (`(empty)`
//!   for an empty one) and a description that starts with the code's — and
//!   no row for a setting the code lacks;
//! - `docs/operations.md` lists every `push_stats()` key (the fields of
//!   [`EngineStats`], and the keys the PHP glue adds for the process) and
//!   every Prometheus metric `GET /metrics` writes, with its type, and
//!   nothing else.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use push_engine::config::SETTINGS;
use push_engine::metrics::prometheus;
use push_engine::{Config, EngineStats, Hub};

/// The keys `push_stats()` adds to the engine's figures, about the calling
/// process (`src/functions/server.rs` of the extension).
const PROCESS_KEYS: &[&str] = &["role", "pid", "listen", "memory_rss", "threads"];

fn doc(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The cells of a Markdown table row (`\|` is a `|` inside a cell).
fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    let mut out = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                out.last_mut().unwrap().push(chars.next().unwrap())
            }
            '|' => out.push(String::new()),
            c => out.last_mut().unwrap().push(c),
        }
    }
    out.into_iter().map(|c| c.trim().to_owned()).collect()
}

/// The rows (line number, cells) of every table in `text` whose header's
/// first cell is `first`.
fn tables(text: &str, first: &str) -> Vec<(usize, Vec<String>)> {
    let mut rows = Vec::new();
    let mut inside = false;
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if !line.trim_start().starts_with('|') {
            inside = false;
            continue;
        }
        let row = cells(line);
        if !inside {
            // A header: the next line is the delimiter row.
            let next = lines.get(i + 1).map(|l| l.trim()).unwrap_or("");
            if row[0] == first && (next.starts_with("|-") || next.starts_with("|:")) {
                inside = true;
            }
            continue;
        }
        if row
            .iter()
            .all(|c| c.chars().all(|ch| matches!(ch, '-' | ':')))
        {
            continue;
        }
        rows.push((i + 1, row));
    }
    rows
}

/// The names in backticks in a cell (`` `a`, `b` `` → a, b).
fn quoted(cell: &str) -> Vec<String> {
    cell.split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s.to_owned())
        .collect()
}

#[test]
fn every_setting_is_in_the_settings_page_and_no_other() {
    let text = doc("settings.md");
    let rows = tables(&text, "setting");
    assert!(
        !rows.is_empty(),
        "docs/settings.md: no table headed | setting |"
    );
    let mut problems = Vec::new();
    for s in SETTINGS {
        let name = format!("`push.{}`", s.name);
        let Some((line, row)) = rows.iter().find(|(_, r)| r[0] == name) else {
            problems.push(format!("push.{} is not in docs/settings.md", s.name));
            continue;
        };
        let default = if s.default.is_empty() {
            "(empty)".to_owned()
        } else {
            format!("`{}`", s.default)
        };
        if row.get(1) != Some(&default) {
            problems.push(format!(
                "docs/settings.md:{line}: push.{}'s default is {default} in code, {:?} in the docs",
                s.name,
                row.get(1)
            ));
        }
        if !row.get(2).is_some_and(|d| d.starts_with(s.doc)) {
            problems.push(format!(
                "docs/settings.md:{line}: push.{}'s description must start with the code's: {:?}",
                s.name, s.doc
            ));
        }
    }
    for (line, row) in &rows {
        let known = SETTINGS
            .iter()
            .any(|s| row[0] == format!("`push.{}`", s.name));
        if !known {
            problems.push(format!(
                "docs/settings.md:{line}: {} is not a setting of push_engine::config::SETTINGS",
                row[0]
            ));
        }
    }
    let names: Vec<&String> = rows.iter().map(|(_, r)| &r[0]).collect();
    let unique: BTreeSet<&String> = names.iter().copied().collect();
    if unique.len() != names.len() {
        problems.push("docs/settings.md lists a setting twice".into());
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn every_push_stats_key_is_in_the_operations_page_and_no_other() {
    let json = serde_json::to_value(EngineStats::default()).unwrap();
    let mut code: BTreeSet<String> = json.as_object().unwrap().keys().cloned().collect();
    code.extend(PROCESS_KEYS.iter().map(|k| k.to_string()));
    let text = doc("operations.md");
    let rows = tables(&text, "key");
    assert!(
        !rows.is_empty(),
        "docs/operations.md: no table headed | key |"
    );
    let docs: BTreeSet<String> = rows.iter().flat_map(|(_, r)| quoted(&r[0])).collect();
    let missing: Vec<&String> = code.difference(&docs).collect();
    let extra: Vec<&String> = docs.difference(&code).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "docs/operations.md's push_stats() table: missing {missing:?}, not in code {extra:?}"
    );
}

#[test]
fn every_metric_is_in_the_operations_page_with_its_type_and_no_other() {
    let hub = Hub::new(Arc::new(Config::default()));
    let text = prometheus::render(&hub.engine_stats(), hub.metrics());
    let code: BTreeSet<(String, String)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| {
            let (name, kind) = l.split_once(' ').unwrap();
            (name.to_owned(), kind.to_owned())
        })
        .collect();
    assert!(code.len() > 10, "{text}");
    let page = doc("operations.md");
    let rows = tables(&page, "metric");
    assert!(
        !rows.is_empty(),
        "docs/operations.md: no table headed | metric |"
    );
    let docs: BTreeSet<(String, String)> = rows
        .iter()
        .flat_map(|(_, r)| {
            let kind = r.get(1).cloned().unwrap_or_default();
            quoted(&r[0]).into_iter().map(move |n| (n, kind.clone()))
        })
        .collect();
    let missing: Vec<_> = code.difference(&docs).collect();
    let extra: Vec<_> = docs.difference(&code).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "docs/operations.md's metrics table: missing (name, type) {missing:?}, not in code {extra:?}"
    );
}

#[test]
fn the_table_reader_reads_tables() {
    let text = "x\n| setting | default |\n|---|---|\n| `push.a` | `1` |\n| `push.b` | a \\| b |\n\n| other |\n|---|\n| `push.c` |\n";
    let rows = tables(text, "setting");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0], (4, vec!["`push.a`".to_owned(), "`1`".to_owned()]));
    assert_eq!(rows[1].1[1], "a | b");
    assert_eq!(quoted("`a`, `b` and c"), vec!["a", "b"]);
}
