//! The workspace's crates have no import circle, and the check would see one.

use std::path::{Path, PathBuf};

use fed_archcheck::size::{MAX_FILE_LINES, MAX_FN_LINES, measure};
use fed_archcheck::{Graph, display, graph};

/// The crates whose module structure is checked.
const CRATES: [&str; 3] = ["core", "webhook", "kubectl-fed"];
/// The crates whose sizes are checked: those, and the programs behind the tests and benchmarks.
const SIZED: [&str; 6] = ["core", "webhook", "kubectl-fed", "bench", "tests", "testbed-images"];

fn sources(crate_dir: &str) -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(crate_dir).join("src");
    let mut files = Vec::new();
    walk(&src, &src, &mut files);
    files.sort();
    files
}

fn walk(root: &Path, dir: &Path, files: &mut Vec<(String, String)>) {
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(dir).expect("source directory").map(|e| e.expect("entry").path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(root, &path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path.strip_prefix(root).expect("under src").to_string_lossy().replace('\\', "/");
            files.push((relative, std::fs::read_to_string(&path).expect("readable source")));
        }
    }
}

fn report(crate_dir: &str, g: &Graph) -> String {
    g.circles()
        .iter()
        .map(|c| format!("{crate_dir}: {}", c.iter().map(display).collect::<Vec<_>>().join(" <-> ")))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn no_crate_has_an_import_circle() {
    let mut found = Vec::new();
    for crate_dir in CRATES {
        let g = graph(&sources(crate_dir));
        assert!(g.modules.len() > 5, "{crate_dir}: only {} modules read", g.modules.len());
        let circles = report(crate_dir, &g);
        if !circles.is_empty() {
            found.push(circles);
        }
    }
    assert!(found.is_empty(), "import circles (a module reaching back to one that uses it):\n{}", found.join("\n"));
}

/// One `use` added to the real sources, reaching back along a reference that exists, is
/// reported as a circle: the check reads these crates, not only the toy ones of the unit tests.
#[test]
fn a_use_reaching_back_is_reported() {
    for crate_dir in CRATES {
        let mut files = sources(crate_dir);
        let g = graph(&files);
        let (from, to) = g
            .refers
            .iter()
            .find_map(|(from, targets)| targets.iter().find(|t| !t.is_empty()).map(|t| (from.clone(), t.clone())))
            .expect("some module refers to another");
        let file = files
            .iter_mut()
            .find(|(path, _)| fed_archcheck::module_of(path).as_ref() == Some(&to))
            .expect("the target's file");
        file.1.push_str(&format!("\nuse {}::*;\n", display(&from)));
        let circles = graph(&files).circles();
        assert!(circles.iter().any(|c| c.contains(&from) && c.contains(&to)), "{crate_dir}: {circles:?}");
    }
}

#[test]
fn no_file_or_function_is_over_the_limits() {
    let mut over = Vec::new();
    for crate_dir in SIZED {
        for (path, text) in sources(crate_dir) {
            if path.ends_with("tests.rs") {
                continue;
            }
            let size = measure(&text);
            if size.code_lines > MAX_FILE_LINES {
                over.push(format!(
                    "{crate_dir}/src/{path}: {} lines of code (limit {MAX_FILE_LINES})",
                    size.code_lines
                ));
            }
            for (name, lines) in size.functions.iter().filter(|(_, lines)| *lines > MAX_FN_LINES) {
                over.push(format!("{crate_dir}/src/{path}: fn {name} is {lines} lines (limit {MAX_FN_LINES})"));
            }
        }
    }
    assert!(over.is_empty(), "over the limits:\n{}", over.join("\n"));
}
