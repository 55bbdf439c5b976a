//! The daemon's layering, checked from its source: every `crate::…` path (in `use`
//! items and in code) of the library's non-test code names a top-level module of
//! `daemon/src`; each top-level module may depend only on the modules listed for it in
//! [`ALLOWED`], and the dependencies between top-level modules have no cycle.
//!
//! A failure names the offending file and path. To add a module, give it a row in
//! [`ALLOWED`] and draw it in `docs/ARCHITECTURE.md`; to add a dependency, make sure it
//! points down the layers (the rows are in layer order, lowest first).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// Each top-level module of the library and what it may import, lowest layer first
/// (`"*"`: anything).
const ALLOWED: &[(&str, &[&str])] = &[
    // Pure rules and plain data: nothing of the daemon outside itself.
    ("domain", &[]),
    ("clock", &[]),
    ("settings", &[]),
    ("metrics", &["domain"]),
    // The in-memory book of complaint / hard-bounce rates (list hygiene).
    ("hygiene_board", &["domain"]),
    // The in-memory table of customer rows (segments and lifetime value).
    ("segment_board", &["domain"]),
    // RocksDB: typed schemas over domain records.
    ("store", &["domain"]),
    (
        "scenario_control",
        &["domain", "clock", "store", "segment_board"],
    ),
    // Outbox, dispatcher and channels: no actors, no API (it gets a port at start-up).
    (
        "delivery",
        &[
            "domain",
            "store",
            "metrics",
            "hygiene_board",
            "segment_board",
            "scenario_control",
            "settings",
            "clock",
        ],
    ),
    (
        "actors",
        &[
            "domain",
            "store",
            "metrics",
            "hygiene_board",
            "segment_board",
            "scenario_control",
            "clock",
        ],
    ),
    (
        "fanout",
        &[
            "domain",
            "store",
            "metrics",
            "segment_board",
            "scenario_control",
            "clock",
            "actors",
        ],
    ),
    ("config", &["domain", "settings", "delivery"]),
    (
        "api",
        &[
            "domain",
            "store",
            "metrics",
            "hygiene_board",
            "segment_board",
            "scenario_control",
            "settings",
            "clock",
            "delivery",
            "actors",
            "fanout",
            "config",
        ],
    ),
    ("watchdog", &["clock", "store", "actors"]),
    // The composition root wires everything together.
    ("root", &["*"]),
];

/// A dependency from one top-level module to another, with where it was seen.
#[derive(Debug, Clone)]
struct Edge {
    from: String,
    to: String,
    file: PathBuf,
    path: String,
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Meta>()
                .is_ok_and(|m| m.path().is_ident("test"))
    })
}

fn path_attr(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().find_map(|a| match &a.meta {
        syn::Meta::NameValue(nv) if nv.path.is_ident("path") => match &nv.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => Some(s.value()),
            _ => None,
        },
        _ => None,
    })
}

/// One source file of the library and the module path it is at (`["api", "admin"]`).
struct SourceFile {
    file: PathBuf,
    module: Vec<String>,
}

/// Every non-test file of the library, found by following `mod` items from `lib.rs`.
fn library_files() -> Vec<SourceFile> {
    let mut out = Vec::new();
    let mut todo = vec![(src().join("lib.rs"), Vec::<String>::new(), src())];
    while let Some((file, module, dir)) = todo.pop() {
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        let parsed = syn::parse_file(&text)
            .unwrap_or_else(|e| panic!("cannot parse {}: {e}", file.display()));
        collect_mods(&parsed.items, &module, &dir, &file, &mut todo);
        out.push(SourceFile { file, module });
    }
    out
}

type Todo = Vec<(PathBuf, Vec<String>, PathBuf)>;

/// Queues the files of the out-of-line `mod` items in `items` (inline ones are walked
/// for their own out-of-line children).
fn collect_mods(items: &[syn::Item], module: &[String], dir: &Path, file: &Path, todo: &mut Todo) {
    for item in items {
        let syn::Item::Mod(m) = item else { continue };
        if is_cfg_test(&m.attrs) {
            continue;
        }
        let mut child = module.to_vec();
        child.push(m.ident.to_string());
        let child_dir = dir.join(m.ident.to_string());
        if let Some((_, inner)) = &m.content {
            collect_mods(inner, &child, &child_dir, file, todo);
            continue;
        }
        let path = match path_attr(&m.attrs) {
            Some(p) => dir.join(p),
            None => {
                let flat = dir.join(format!("{}.rs", m.ident));
                if flat.is_file() {
                    flat
                } else {
                    child_dir.join("mod.rs")
                }
            }
        };
        assert!(
            path.is_file(),
            "module file {} not found (from {})",
            path.display(),
            file.display()
        );
        todo.push((path, child, child_dir));
    }
}

/// Collects the absolute paths (`crate::…`, or `super::…` resolved) a file uses.
struct Paths {
    /// The module the visitor is in (inline modules push onto it).
    module: Vec<String>,
    found: Vec<Vec<String>>,
}

impl Paths {
    fn absolute(&self, segments: &[String]) -> Option<Vec<String>> {
        match segments.first().map(String::as_str) {
            Some("crate") => Some(segments[1..].to_vec()),
            Some("super") => {
                let ups = segments.iter().take_while(|s| *s == "super").count();
                let base = self.module.len().checked_sub(ups)?;
                let mut abs = self.module[..base].to_vec();
                abs.extend_from_slice(&segments[ups..]);
                Some(abs)
            }
            _ => None,
        }
    }

    fn push(&mut self, segments: Vec<String>) {
        if let Some(abs) = self.absolute(&segments) {
            if !abs.is_empty() {
                self.found.push(abs);
            }
        }
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let mut full = prefix.clone();
                if n.ident != "self" {
                    full.push(n.ident.to_string());
                }
                self.push(full);
            }
            syn::UseTree::Rename(r) => {
                let mut full = prefix.clone();
                full.push(r.ident.to_string());
                self.push(full);
            }
            syn::UseTree::Glob(_) => self.push(prefix.clone()),
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for Paths {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs = match item {
            syn::Item::Mod(m) => &m.attrs,
            syn::Item::Fn(f) => &f.attrs,
            syn::Item::Impl(i) => &i.attrs,
            syn::Item::Use(u) => &u.attrs,
            syn::Item::Struct(s) => &s.attrs,
            syn::Item::Enum(e) => &e.attrs,
            syn::Item::Const(c) => &c.attrs,
            syn::Item::Static(s) => &s.attrs,
            syn::Item::Trait(t) => &t.attrs,
            syn::Item::Type(t) => &t.attrs,
            _ => return syn::visit::visit_item(self, item),
        };
        if is_cfg_test(attrs) {
            return;
        }
        if let syn::Item::Mod(m) = item {
            // Inside an inline module `super` means the module around it.
            self.module.push(m.ident.to_string());
            syn::visit::visit_item(self, item);
            self.module.pop();
            return;
        }
        syn::visit::visit_item(self, item);
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &u.tree);
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        let segments: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        self.push(segments);
        syn::visit::visit_path(self, p);
    }
}

/// Dependencies between top-level modules of the library's non-test code.
fn edges() -> Vec<Edge> {
    let mut out = Vec::new();
    for f in library_files() {
        let Some(from) = f.module.first().cloned() else {
            continue; // lib.rs only declares the modules
        };
        let text = std::fs::read_to_string(&f.file).unwrap_or_default();
        let parsed = syn::parse_file(&text)
            .unwrap_or_else(|e| panic!("cannot parse {}: {e}", f.file.display()));
        let mut paths = Paths {
            module: f.module.clone(),
            found: Vec::new(),
        };
        paths.visit_file(&parsed);
        for abs in paths.found {
            if abs[0] != from {
                out.push(Edge {
                    from: from.clone(),
                    to: abs[0].clone(),
                    file: f.file.strip_prefix(src()).unwrap_or(&f.file).to_path_buf(),
                    path: abs.join("::"),
                });
            }
        }
    }
    out
}

fn allowed() -> BTreeMap<&'static str, BTreeSet<&'static str>> {
    ALLOWED
        .iter()
        .map(|(m, deps)| (*m, deps.iter().copied().collect()))
        .collect()
}

/// The modules on a cycle of `graph`, if any (depth-first search).
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[i..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(c) = visit(node, graph, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

#[test]
fn every_top_level_module_has_a_row() {
    let rows = allowed();
    let modules: BTreeSet<String> = library_files()
        .into_iter()
        .filter_map(|f| f.module.first().cloned())
        .collect();
    let missing: Vec<&String> = modules
        .iter()
        .filter(|m| !rows.contains_key(m.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "top-level modules without a row in ALLOWED (tests/architecture.rs): {missing:?}"
    );
}

#[test]
fn imports_follow_the_layers() {
    let rows = allowed();
    let forbidden: Vec<String> = edges()
        .into_iter()
        .filter(|e| {
            rows.get(e.from.as_str())
                .is_some_and(|ok| !ok.contains("*") && !ok.contains(e.to.as_str()))
        })
        .map(|e| {
            format!(
                "{} -> {}: {} uses crate::{}",
                e.from,
                e.to,
                e.file.display(),
                e.path
            )
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(
        forbidden.is_empty(),
        "forbidden imports between top-level modules of daemon/src:\n  {}",
        forbidden.join("\n  ")
    );
}

#[test]
fn no_cycle_between_top_level_modules() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for e in edges() {
        graph.entry(e.from).or_default().insert(e.to);
    }
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "import cycle between top-level modules: {}",
            cycle.join(" -> ")
        );
    }
}

#[test]
fn the_rows_form_no_cycle_and_the_checker_finds_one() {
    // "*" reaches every module but itself.
    let modules: Vec<String> = ALLOWED.iter().map(|(m, _)| m.to_string()).collect();
    let rows: BTreeMap<String, BTreeSet<String>> = ALLOWED
        .iter()
        .map(|(m, deps)| {
            let deps = if deps.contains(&"*") {
                modules.iter().filter(|d| *d != m).cloned().collect()
            } else {
                deps.iter().map(|d| d.to_string()).collect()
            };
            (m.to_string(), deps)
        })
        .collect();
    assert_eq!(find_cycle(&rows), None);
    let mut looped = rows.clone();
    looped
        .entry("store".into())
        .or_default()
        .insert("actors".into());
    let cycle = find_cycle(&looped).expect("store -> actors -> store is a cycle");
    assert!(cycle.contains(&"store".to_owned()) && cycle.contains(&"actors".to_owned()));
}
