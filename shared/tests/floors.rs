//! The shared crate's floor plan: every top-level module of `src/` sits on one floor, and
//! imports only from its own floor or the floors below. No module imports in a circle.
//! A new module must be given a floor here; `lib.rs` only declares and re-exports.
//!
//! Read from the source text: every `crate::…` path outside comments and `#[cfg(test)]` modules names
//! the module it leads to (a folder is one module; the crate root's re-exports are mapped
//! to the module they come from).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Bottom first.
const FLOORS: &[(&str, &[&str])] = &[
    (
        "leaves: ids, secrets, the tests' reach-in points",
        &[
            "ids",
            "crypto",
            "client_info",
            "telemetry",
            "sqs_batch",
            "test_hooks",
            "test_points",
        ],
    ),
    ("domain values", &["domain"]),
    ("AWS clients", &["aws"]),
    ("storage: the DynamoDB table, nothing above it", &["store"]),
    ("the error and the configuration", &["error", "config"]),
    (
        "records, events and rules over the store",
        &[
            "audit",
            "audit_log",
            "events",
            "event_data",
            "exports",
            "mail",
            "mcps",
            "api_keys",
            "usage",
            "org_deletion",
            "platform_hostname",
            "domain_release",
            "email_verification",
            "attempts",
            "founding",
        ],
    ),
    ("the outbox", &["outbox"]),
    ("what a function builds at start", &["state"]),
    (
        "the unit of work and the HTTP plumbing",
        &["mutation", "http"],
    ),
    (
        "features",
        &[
            "auth",
            "access",
            "account",
            "second_factor",
            "pin_gate",
            "custom_domain",
            "webhooks",
            "platform_zone",
        ],
    ),
];

/// Names the crate root re-exports, by the module that defines them.
const REEXPORTS: &[(&str, &str)] = &[
    ("AppState", "state"),
    ("Error", "error"),
    ("FieldError", "error"),
    ("test_pause", "test_points"),
    ("test_switch", "test_points"),
    ("test_fault_once", "test_points"),
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without its unit tests and comments (a doc link is no import).
fn code_of(text: &str) -> String {
    let code = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    };
    code.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn identifier(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// The first segment of every `crate::` path (`crate::{a, b::c}` names `a` and `b`).
fn crate_paths(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        // `$crate::` in a macro names what the macro's caller reaches, not an import.
        if code[..at].ends_with('$') {
            continue;
        }
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let (mut depth, mut start) = (0, 0);
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        found.push(identifier(group[start..i].trim()).to_owned());
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.push(identifier(group[start..i].trim()).to_owned());
                        start = i + 1;
                    }
                    _ => {}
                }
            }
        } else {
            found.push(identifier(rest).to_owned());
        }
    }
    found.retain(|name| !name.is_empty() && !name.starts_with("__"));
    found
}

/// module → the modules it imports.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap();
        let first = relative.components().next().unwrap().as_os_str();
        let module = Path::new(first).with_extension("");
        let module = module.to_str().unwrap().to_owned();
        if module == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let uses = graph.entry(module.clone()).or_default();
        for name in crate_paths(&code_of(&text)) {
            let target = REEXPORTS
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(name.as_str(), |(_, m)| m)
                .to_owned();
            if target != module {
                uses.insert(target);
            }
        }
    }
    graph
}

fn floor_of(module: &str) -> Option<usize> {
    FLOORS.iter().position(|(_, ms)| ms.contains(&module))
}

#[test]
fn every_module_has_a_floor_and_imports_only_its_own_or_lower_floors() {
    let graph = imports();
    let mut wrong = Vec::new();
    for (module, uses) in &graph {
        let Some(floor) = floor_of(module) else {
            wrong.push(format!("{module} is on no floor: add it to FLOORS"));
            continue;
        };
        for target in uses {
            match floor_of(target) {
                None => wrong.push(format!("{module} imports {target}, which is on no floor")),
                Some(f) if f > floor => wrong.push(format!(
                    "{module} ({}) imports {target} ({}), a floor above",
                    FLOORS[floor].0, FLOORS[f].0
                )),
                Some(_) => {}
            }
        }
    }
    for (_, modules) in FLOORS {
        for module in *modules {
            if !graph.contains_key(*module) {
                wrong.push(format!("FLOORS names {module}, which src/ does not have"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn no_module_imports_in_a_circle() {
    let graph = imports();
    // Depth-first from each module: a module met again on the current path is a circle.
    fn visit<'a>(
        module: &'a str,
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|m| *m == module) {
            let mut circle: Vec<String> = path[at..].iter().map(|m| m.to_string()).collect();
            circle.push(module.to_owned());
            return Some(circle);
        }
        if !done.insert(module) {
            return None;
        }
        path.push(module);
        for next in graph.get(module).into_iter().flatten() {
            if let Some(circle) = visit(next, graph, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for module in graph.keys() {
        if let Some(circle) = visit(module, &graph, &mut Vec::new(), &mut done) {
            panic!("import circle: {}", circle.join(" → "));
        }
    }
}

#[test]
fn the_reader_finds_grouped_and_nested_paths() {
    let code =
        "use crate::{a, b::{c, d}, e::F};\nlet x = crate::g::h();\nuse crate::__axum; $crate::m!()";
    assert_eq!(crate_paths(code), ["a", "b", "e", "g"]);
}
