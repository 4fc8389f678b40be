use super::*;

fn files(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(p, t)| (p.to_string(), t.to_string())).collect()
}

fn path(s: &str) -> ModPath {
    if s.is_empty() { Vec::new() } else { s.split("::").map(str::to_string).collect() }
}

fn refers(g: &Graph, module: &str) -> Vec<String> {
    g.refers[&path(module)].iter().map(|p| p.join("::")).collect()
}

#[test]
fn files_map_to_modules() {
    for (file, module) in [
        ("lib.rs", Some("")),
        ("main.rs", Some("")),
        ("a.rs", Some("a")),
        ("a/mod.rs", Some("a")),
        ("a/b.rs", Some("a::b")),
        ("a/b/c.rs", Some("a::b::c")),
        ("bin/crdgen.rs", None),
        ("README.md", None),
    ] {
        assert_eq!(module_of(file), module.map(path), "{file}");
    }
}

#[test]
fn references_are_read_from_every_kind_of_path() {
    let g = graph(&files(&[
        ("lib.rs", "mod a; mod b; mod c; mod d; mod e;"),
        ("a.rs", "use crate::b::{Thing, other::{X, Y}};"),
        ("b.rs", "fn f() { super::c::run(); }"),
        ("c.rs", "mod child; pub use child::Z; fn g() -> self::child::Z { todo!() }"),
        ("c/child.rs", "pub struct Z;"),
        ("d.rs", "use crate::{a, e::*};"),
        ("e.rs", "fn h() { let _ = crate::Root; }"),
    ]));
    assert_eq!(refers(&g, "a"), ["b"]);
    assert_eq!(refers(&g, "b"), ["c"]);
    assert_eq!(refers(&g, "c"), ["c::child"]);
    assert_eq!(refers(&g, "c::child"), Vec::<String>::new());
    assert_eq!(refers(&g, "d"), ["a", "e"]);
    assert_eq!(refers(&g, "e"), [""]);
    assert!(g.circles().is_empty());
}

#[test]
fn comments_strings_and_test_code_do_not_count() {
    let g = graph(&files(&[
        ("lib.rs", "mod a; mod b;"),
        (
            "a.rs",
            r####"
            //! See crate::b::X.
            /* crate::b::Y /* nested */ crate::b::Z */
            const S: &str = "crate::b::W";
            const R: &str = r#"crate::b::"V""#;
            const Q: char = '"'; const E: char = '\''; fn l<'x>(s: &'x str) -> &'x str { s }
            #[cfg(test)]
            use crate::b::T;
            #[cfg(test)]
            #[allow(unused)]
            fn only_in_tests() { crate::b::f(); }
            #[cfg(test)]
            mod tests;
            #[cfg(test)]
            mod inline { use crate::b::U; }
            "####,
        ),
        ("a/tests.rs", "use crate::b::Everything;"),
        ("b.rs", "use crate::a::A;"),
    ]));
    assert_eq!(refers(&g, "a"), Vec::<String>::new());
    assert!(!g.modules.contains(&path("a::tests")), "test modules are left out");
    assert!(g.circles().is_empty());
}

#[test]
fn circles_are_found_with_every_module_in_them() {
    let g = graph(&files(&[
        ("lib.rs", "mod a; mod b; mod c; mod d;"),
        ("a.rs", "use crate::b::B;"),
        ("b.rs", "use crate::c::C;"),
        ("c.rs", "use crate::a::A;"),
        ("d.rs", "use crate::a::A;"),
    ]));
    assert_eq!(g.circles(), vec![vec![path("a"), path("b"), path("c")]]);
}

#[test]
fn a_child_naming_its_parent_closes_a_circle_with_a_parent_using_it() {
    let g = graph(&files(&[
        ("lib.rs", "mod cli; mod cmd;"),
        ("cli.rs", "use crate::cmd; pub struct Cli; enum C { Completion(cmd::completion::Options) }"),
        ("cmd.rs", "pub mod completion;"),
        ("cmd/completion.rs", "pub struct Options; fn run() { crate::cli::Cli; }"),
    ]));
    assert_eq!(g.circles(), vec![vec![path("cli"), path("cmd::completion")]]);
    assert_eq!(display(&path("cmd::completion")), "crate::cmd::completion");
    assert_eq!(display(&path("")), "crate");
}
