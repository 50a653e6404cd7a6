//! The `layers` step: the modules of `db/src` depend on each other one
//! way (issue #24). It reads every `crate::` path in the crate's code
//! (comments and `#[cfg(test)] mod tests` left out) and fails on:
//!
//! - a cycle between top-level modules (`read` → `compaction` → `read`);
//! - a cycle between sibling files of one folder (`version/current.rs` →
//!   `version/set.rs` → `version/current.rs`); a parent and its children
//!   refer to each other by nature (`mod`, `pub use`, `super::`) and are
//!   not counted;
//! - a module using what its rules forbid ([`FORBIDDEN`]): `table/` is a
//!   format and uses nothing of the crate; `read/` uses neither
//!   compaction nor the journals.
//!
//! It is text, not a compiler: a `crate::` path is attributed to the
//! longest module prefix that exists as a file.

use anyhow::{bail, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// (module, what it may not use): `None` for nothing of the crate.
const FORBIDDEN: &[(&str, Option<&[&str]>)] = &[
    ("table", None),
    ("read", Some(&["compaction", "wal", "backend", "db"])),
    (
        "version",
        Some(&["compaction", "read", "wal", "backend", "db", "recovery"]),
    ),
    (
        "files",
        Some(&["version", "read", "compaction", "wal", "backend", "db"]),
    ),
];

/// A module path: `["version", "set"]` for `db/src/version/set.rs`.
type Module = Vec<String>;

/// Checks the crate whose `src` is `src`; returns a summary line.
pub fn check(src: &Path) -> Result<String> {
    let mut files = BTreeMap::new();
    collect(src, src, &mut files)?;
    let modules: BTreeSet<Module> = files.keys().cloned().collect();
    let mut edges: BTreeSet<(Module, Module)> = BTreeSet::new();
    for (module, text) in &files {
        for path in crate_paths(text) {
            if let Some(target) = resolve(&modules, &path) {
                if &target != module {
                    edges.insert((module.clone(), target));
                }
            }
        }
    }
    let problems = problems(&edges);
    if !problems.is_empty() {
        bail!("db/src layering:\n  {}", problems.join("\n  "));
    }
    Ok(format!(
        "({} modules, {} edges, no cycle)",
        modules.len(),
        edges.len()
    ))
}

/// What is wrong with the dependency `edges`: cycles and forbidden uses.
fn problems(edges: &BTreeSet<(Module, Module)>) -> Vec<String> {
    let mut out = Vec::new();
    // Top-level modules.
    let top: BTreeSet<(String, String)> = edges
        .iter()
        .filter(|(a, b)| a[0] != b[0])
        .map(|(a, b)| (a[0].clone(), b[0].clone()))
        .collect();
    for cycle in cycles(&top) {
        out.push(format!("cycle between modules: {}", cycle.join(" -> ")));
    }
    // Siblings inside each folder: files with the same parent, by the
    // child of that parent each side lies in.
    let mut siblings: BTreeSet<(String, String)> = BTreeSet::new();
    for (a, b) in edges {
        let common = a.iter().zip(b).take_while(|(x, y)| x == y).count();
        if common < a.len() && common < b.len() {
            let parent = a[..common].join("::");
            let from = format!("{parent}::{}", a[common]);
            let to = format!("{parent}::{}", b[common]);
            if common > 0 {
                siblings.insert((from, to));
            }
        }
    }
    for cycle in cycles(&siblings) {
        out.push(format!("cycle between files: {}", cycle.join(" -> ")));
    }
    for (module, banned) in FORBIDDEN {
        for (a, b) in edges {
            if a[0] != *module || b[0] == *module {
                continue;
            }
            let bad = match banned {
                None => true,
                Some(list) => list.contains(&b[0].as_str()),
            };
            if bad {
                out.push(format!(
                    "{} uses {}, which its layer may not",
                    a.join("::"),
                    b.join("::")
                ));
            }
        }
    }
    out
}

/// Each cycle of the directed graph `edges`, once, as a path that returns
/// to its start (Tarjan's strongly connected components of two or more).
fn cycles(edges: &BTreeSet<(String, String)>) -> Vec<Vec<String>> {
    let mut graph: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, b) in edges {
        graph.entry(a).or_default().push(b);
        graph.entry(b).or_default();
    }
    let mut found = Vec::new();
    let mut state = Tarjan::default();
    let nodes: Vec<&str> = graph.keys().copied().collect();
    for node in nodes {
        if !state.index.contains_key(node) {
            state.visit(node, &graph, &mut found);
        }
    }
    found
}

#[derive(Default)]
struct Tarjan<'a> {
    next: usize,
    index: BTreeMap<&'a str, usize>,
    low: BTreeMap<&'a str, usize>,
    stack: Vec<&'a str>,
    on_stack: BTreeSet<&'a str>,
}

impl<'a> Tarjan<'a> {
    fn visit(
        &mut self,
        node: &'a str,
        graph: &BTreeMap<&'a str, Vec<&'a str>>,
        found: &mut Vec<Vec<String>>,
    ) {
        self.index.insert(node, self.next);
        self.low.insert(node, self.next);
        self.next += 1;
        self.stack.push(node);
        self.on_stack.insert(node);
        for &next in &graph[node] {
            if !self.index.contains_key(next) {
                self.visit(next, graph, found);
                let low = self.low[node].min(self.low[next]);
                self.low.insert(node, low);
            } else if self.on_stack.contains(next) {
                let low = self.low[node].min(self.index[next]);
                self.low.insert(node, low);
            }
        }
        if self.low[node] == self.index[node] {
            let mut component = Vec::new();
            while let Some(top) = self.stack.pop() {
                self.on_stack.remove(top);
                component.push(top.to_owned());
                if top == node {
                    break;
                }
            }
            if component.len() > 1 {
                component.reverse();
                component.push(component[0].clone());
                found.push(component);
            }
        }
    }
}

/// Reads every `.rs` file under `dir` into `files`, keyed by its module.
fn collect(root: &Path, dir: &Path, files: &mut BTreeMap<Module, String>) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(root, &path, files)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path.strip_prefix(root)?.with_extension("");
            let mut module: Module = relative
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            if module.last().is_some_and(|m| m == "mod" || m == "lib") {
                module.pop();
            }
            if module.is_empty() {
                continue; // lib.rs: the root declares every module
            }
            files.insert(module, std::fs::read_to_string(&path)?);
        }
    }
    Ok(())
}

/// The `crate::a::b` paths of `text`'s code, as segments, with comments
/// and the unit tests left out. A `use crate::{a, b::c}` group yields each
/// of its members.
fn crate_paths(text: &str) -> Vec<Vec<String>> {
    let code = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    };
    let mut paths = Vec::new();
    for line in code.lines() {
        let line = match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        };
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            if let Some(group) = after.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                for member in group[..end].split(',') {
                    let segments = segments(member.trim());
                    if !segments.is_empty() {
                        paths.push(segments);
                    }
                }
            } else {
                paths.push(segments(after));
            }
            rest = after;
        }
    }
    paths
}

/// The leading `a::b::c` of `text`, as segments.
fn segments(text: &str) -> Vec<String> {
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(text.len());
    text[..end]
        .split("::")
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The longest module that `path` names a prefix of.
fn resolve(modules: &BTreeSet<Module>, path: &[String]) -> Option<Module> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|prefix| modules.contains(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edges(list: &[(&str, &str)]) -> BTreeSet<(Module, Module)> {
        let module = |s: &str| s.split("::").map(str::to_owned).collect::<Module>();
        list.iter().map(|(a, b)| (module(a), module(b))).collect()
    }

    #[test]
    fn paths_are_read_from_code_not_comments_or_tests() {
        let text = "use crate::files::{self, Files};\n\
                    use crate::{error::Error, fs};\n\
                    /// see [`x`](crate::read::View)\n\
                    let p = crate::wal::create(fs); // crate::db\n\
                    #[cfg(test)]\nmod tests { use crate::compaction; }\n";
        let got: Vec<String> = crate_paths(text).iter().map(|p| p.join("::")).collect();
        assert_eq!(got, ["files", "error::Error", "fs", "wal::create"]);
    }

    #[test]
    fn cycles_between_modules_and_files_are_found_not_parent_and_child() {
        let ok = edges(&[
            ("compaction::flush", "read"),
            ("compaction", "compaction::flush"),
            ("compaction::flush", "compaction"),
            ("version::set", "version::current"),
        ]);
        assert!(problems(&ok).is_empty(), "{:?}", problems(&ok));
        let bad = edges(&[
            ("compaction::flush", "read"),
            ("read::state", "compaction::stall"),
            ("version::set", "version::current"),
            ("version::current", "version::set"),
        ]);
        let found = problems(&bad);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(
            found[0].contains("compaction -> read -> compaction"),
            "{found:?}"
        );
        assert!(
            found[1].contains("version::current -> version::set"),
            "{found:?}"
        );
        assert!(
            found[2].contains("read::state uses compaction::stall"),
            "{found:?}"
        );
    }

    #[test]
    fn a_format_module_may_use_nothing_of_the_crate() {
        let found = problems(&edges(&[("table::reader", "error")]));
        assert_eq!(found, ["table::reader uses error, which its layer may not"]);
    }
}
