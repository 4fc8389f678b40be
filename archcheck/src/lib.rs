//! The module structure of a crate, read from its sources: which module refers to which, and
//! the import circles among them.
//!
//! A module refers to another when its code names a path into it: `use crate::a::B`,
//! `super::x::f()`, `child::T` for a module declared below it. Comments, strings and test code
//! (`#[cfg(test)]` items and the modules declared under them) do not count. A circle is a set of
//! two or more modules each reachable from the others (a strongly connected component).
//!
//! `tests/workspace.rs` runs this over `core/`, `webhook/` and `kubectl-fed/`, so `make test`
//! (and CI) fails on a circle, and on a file or function over the limits of [`size`].

mod lex;
mod paths;
pub mod size;

use std::collections::{BTreeMap, BTreeSet};

pub use lex::strip;

/// A module path inside one crate, e.g. `["controllers", "sync"]`; empty for the crate root.
pub type ModPath = Vec<String>;

/// The modules of one crate and the references between them.
#[derive(Debug, Default)]
pub struct Graph {
    /// Every non-test module, by path.
    pub modules: BTreeSet<ModPath>,
    /// For each module, the other modules its code refers to.
    pub refers: BTreeMap<ModPath, BTreeSet<ModPath>>,
}

/// The module a source file under `src/` holds: `lib.rs` and `main.rs` the root, `a/mod.rs`
/// and `a.rs` module `a`, `a/b.rs` module `a::b`. `None` for binaries under `bin/` (crates of
/// their own) and for anything not ending in `.rs`.
pub fn module_of(relative: &str) -> Option<ModPath> {
    let stem = relative.strip_suffix(".rs")?;
    let mut parts: Vec<String> = stem.split('/').map(str::to_string).collect();
    if parts.first().is_some_and(|p| p == "bin") {
        return None;
    }
    if parts.len() == 1 && (parts[0] == "lib" || parts[0] == "main") {
        return Some(Vec::new());
    }
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    Some(parts)
}

/// Builds the graph of one crate from its files: `(path under src/, text)`.
pub fn graph(files: &[(String, String)]) -> Graph {
    let stripped: Vec<(ModPath, lex::Code)> =
        files.iter().filter_map(|(path, text)| Some((module_of(path)?, lex::strip(text)))).collect();
    let test_modules: BTreeSet<ModPath> =
        stripped.iter().flat_map(|(module, code)| code.test_children.iter().map(move |c| child(module, c))).collect();
    let under_test = |m: &ModPath| (1..=m.len()).any(|n| test_modules.contains(&m[..n]));
    let kept: Vec<&(ModPath, lex::Code)> = stripped.iter().filter(|(m, _)| !under_test(m)).collect();
    let modules: BTreeSet<ModPath> = kept.iter().map(|(m, _)| m.clone()).collect();
    let mut refers = BTreeMap::new();
    for (module, code) in kept {
        let children: BTreeSet<&str> = modules
            .iter()
            .filter(|m| m.len() == module.len() + 1 && m.starts_with(module))
            .map(|m| m[module.len()].as_str())
            .collect();
        let is_module = |path: &[String]| modules.contains(path);
        let targets: BTreeSet<ModPath> = paths::referenced(&code.tokens, module, &children, is_module)
            .into_iter()
            .filter_map(|path| longest_module(&modules, &path))
            .filter(|target| target != module)
            .collect();
        refers.insert(module.clone(), targets);
    }
    Graph { modules, refers }
}

/// The longest prefix of `path` that is a module.
fn longest_module(modules: &BTreeSet<ModPath>, path: &[String]) -> Option<ModPath> {
    (0..=path.len()).rev().map(|n| path[..n].to_vec()).find(|prefix| modules.contains(prefix))
}

fn child(parent: &ModPath, name: &str) -> ModPath {
    let mut path = parent.clone();
    path.push(name.to_string());
    path
}

impl Graph {
    /// The import circles: sets of two or more modules that all reach each other, each sorted,
    /// in a stable order (Tarjan's strongly connected components).
    pub fn circles(&self) -> Vec<Vec<ModPath>> {
        let mut tarjan = Tarjan {
            graph: self,
            index: BTreeMap::new(),
            low: BTreeMap::new(),
            stack: Vec::new(),
            on_stack: BTreeSet::new(),
            next: 0,
            found: Vec::new(),
        };
        for module in &self.modules {
            if !tarjan.index.contains_key(module) {
                tarjan.visit(module);
            }
        }
        let mut circles: Vec<Vec<ModPath>> = tarjan.found.into_iter().filter(|c| c.len() > 1).collect();
        for c in &mut circles {
            c.sort();
        }
        circles.sort();
        circles
    }
}

/// `crate::a::b`, or `crate` for the root.
pub fn display(path: &ModPath) -> String {
    std::iter::once("crate").chain(path.iter().map(String::as_str)).collect::<Vec<_>>().join("::")
}

struct Tarjan<'g> {
    graph: &'g Graph,
    index: BTreeMap<&'g ModPath, usize>,
    low: BTreeMap<&'g ModPath, usize>,
    stack: Vec<&'g ModPath>,
    on_stack: BTreeSet<&'g ModPath>,
    next: usize,
    found: Vec<Vec<ModPath>>,
}

impl<'g> Tarjan<'g> {
    fn visit(&mut self, v: &'g ModPath) {
        self.index.insert(v, self.next);
        self.low.insert(v, self.next);
        self.next += 1;
        self.stack.push(v);
        self.on_stack.insert(v);
        for w in self.graph.refers.get(v).into_iter().flatten() {
            if !self.index.contains_key(w) {
                self.visit(w);
                let low = self.low[v].min(self.low[w]);
                self.low.insert(v, low);
            } else if self.on_stack.contains(w) {
                let low = self.low[v].min(self.index[w]);
                self.low.insert(v, low);
            }
        }
        if self.low[v] == self.index[v] {
            let mut component = Vec::new();
            while let Some(w) = self.stack.pop() {
                self.on_stack.remove(w);
                component.push(w.clone());
                if w == v {
                    break;
                }
            }
            self.found.push(component);
        }
    }
}

#[cfg(test)]
mod tests;
