//! Table-driven tests of the Corefile grammar: each row is a Corefile and what it must parse to,
//! or the exact error it must give.

use std::path::Path;

use super::*;
use crate::test_util::ScratchDir;

const KNOWN: &[&str] = &["whoami", "log", "errors", "forward", "hosts", "cache", "health"];

fn env(name: &str) -> Option<String> {
    match name {
        "PORT" => Some("1053".into()),
        "ZONE" => Some("example.org".into()),
        "DIR" => Some("whoami".into()),
        "SELF" => Some("{$SELF}".into()),
        _ => None,
    }
}

fn parse_as(file: &str, input: &str) -> Result<Vec<ServerBlock>, String> {
    let opts = ParseOptions { is_directive: &|d| KNOWN.contains(&d), env: &env, warn: &|_| {} };
    parse(file, input, &opts).map_err(|e| e.to_string())
}

fn parse_ok(input: &str) -> Vec<ServerBlock> {
    parse_as("Testfile", input).unwrap_or_else(|e| panic!("{input:?} failed: {e}"))
}

/// A block pictured as its keys, then each directive with its token texts.
type Picture = Vec<(Vec<String>, Vec<(String, Vec<String>)>)>;

/// A compact picture of the blocks.
fn shape(blocks: &[ServerBlock]) -> Picture {
    blocks
        .iter()
        .map(|b| {
            (
                b.keys.iter().map(|k| k.text.clone()).collect(),
                b.directives
                    .iter()
                    .map(|(d, t)| (d.clone(), t.iter().map(|t| t.text.clone()).collect()))
                    .collect(),
            )
        })
        .collect()
}

type Shape = Vec<(Vec<&'static str>, Vec<(&'static str, Vec<&'static str>)>)>;

fn owned(s: Shape) -> Picture {
    s.into_iter()
        .map(|(k, d)| {
            (
                k.into_iter().map(String::from).collect(),
                d.into_iter()
                    .map(|(n, t)| (n.to_string(), t.into_iter().map(String::from).collect()))
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn grammar_table() {
    let rows: Vec<(&str, Shape)> = vec![
        (".:53 {\n whoami\n}", vec![(vec![".:53"], vec![("whoami", vec!["whoami"])])]),
        // No braces for a single block.
        (
            "example.org\nwhoami\nlog",
            vec![(vec!["example.org"], vec![("whoami", vec!["whoami"]), ("log", vec!["log"])])],
        ),
        // Several keys: spaces, and a trailing comma that continues on the next line.
        (
            "a.org b.org {\n whoami\n}",
            vec![(vec!["a.org", "b.org"], vec![("whoami", vec!["whoami"])])],
        ),
        (
            "a.org,\n b.org {\n whoami\n}",
            vec![(vec!["a.org", "b.org"], vec![("whoami", vec!["whoami"])])],
        ),
        // The brace may open on the next line.
        ("a.org\n{\n whoami\n}", vec![(vec!["a.org"], vec![("whoami", vec!["whoami"])])]),
        // A line of keys and nothing else is a block without directives.
        ("example.org", vec![(vec!["example.org"], vec![])]),
        ("a.org {\n}", vec![(vec!["a.org"], vec![])]),
        // Directive blocks nest; all occurrences of a directive are kept in order.
        (
            ". {\n forward . 1.1.1.1 {\n  except a.org\n }\n forward b.org 2.2.2.2\n}",
            vec![(
                vec!["."],
                vec![(
                    "forward",
                    vec![
                        "forward", ".", "1.1.1.1", "{", "except", "a.org", "}", "forward", "b.org",
                        "2.2.2.2",
                    ],
                )],
            )],
        ),
        // Comments anywhere, quoted arguments.
        (
            "# header\n. { # open\n log \"a b\" # trailing\n}",
            vec![(vec!["."], vec![("log", vec!["log", "a b"])])],
        ),
        // Environment variables in keys, directive names and arguments.
        (
            "{$ZONE}:{$PORT} {\n {$DIR}\n log {%ZONE%} {$UNSET}x\n}",
            vec![(
                vec!["example.org:1053"],
                vec![("whoami", vec!["whoami"]), ("log", vec!["log", "example.org", "x"])],
            )],
        ),
        // A value that itself looks like a reference is not expanded again.
        (". {\n log {$SELF}\n}", vec![(vec!["."], vec![("log", vec!["log", "{$SELF}"])])]),
        // Snippets, imported at the top level, in a block and inside a directive's block.
        (
            "(common) {\n errors\n log\n}\n. {\n import common\n whoami\n}",
            vec![(
                vec!["."],
                vec![("errors", vec!["errors"]), ("log", vec!["log"]), ("whoami", vec!["whoami"])],
            )],
        ),
        (
            "(opts) {\n except a.org\n}\n. {\n forward . 1.1.1.1 {\n  import opts\n }\n}",
            vec![(
                vec!["."],
                vec![("forward", vec!["forward", ".", "1.1.1.1", "{", "except", "a.org", "}"])],
            )],
        ),
        (
            "(blk) {\n b.org {\n  whoami\n }\n}\nimport blk\na.org {\n log\n}",
            vec![
                (vec!["b.org"], vec![("whoami", vec!["whoami"])]),
                (vec!["a.org"], vec![("log", vec!["log"])]),
            ],
        ),
        // Two server blocks.
        (
            "a.org {\n whoami\n}\nb.org:1053 {\n log\n}",
            vec![
                (vec!["a.org"], vec![("whoami", vec!["whoami"])]),
                (vec!["b.org:1053"], vec![("log", vec!["log"])]),
            ],
        ),
        // An empty quoted key is skipped.
        ("\"\" a.org {\n whoami\n}", vec![(vec!["a.org"], vec![("whoami", vec!["whoami"])])]),
    ];
    for (input, want) in rows {
        assert_eq!(shape(&parse_ok(input)), owned(want), "input: {input:?}");
    }
}

#[test]
fn error_table() {
    let rows: &[(&str, &str)] = &[
        (". {\n foo\n}", "Testfile:2 - Error during parsing: Unknown directive 'foo'"),
        (". {\n {$NOPE}x\n}", "Testfile:2 - Error during parsing: Unknown directive 'x'"),
        (
            ". {\n whoami }\n}",
            "Testfile:2 - Error during parsing: Unexpected '}' because no matching opening brace",
        ),
        (
            ". {\n forward . 1.1.1.1 {\n except a",
            "Testfile:3 - Error during parsing: Unexpected EOF",
        ),
        ("a.org,", "Testfile:1 - Error during parsing: Unexpected EOF"),
        (
            "a.org, {\n}",
            "Testfile:1 - Error during parsing: Expected another address but had '{' - check for extra comma",
        ),
        (
            "(s) {\n whoami\n}\n(s) {\n log\n}",
            "Testfile:4 - Error during parsing: redeclaration of previously declared snippet s",
        ),
        ("(s)\nwhoami", "Testfile:2 - Syntax error: Unexpected token 'whoami', expecting '{'"),
        ("(s) {\n whoami\n", "Testfile:2 - Syntax error: Unexpected token 'whoami', expecting '}'"),
        (
            "(s) {\n import s\n}",
            "Testfile:3 - Error during parsing: maximum snippet import depth (10000) exceeded",
        ),
        (
            ". {\n import\n}",
            "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after 'import'",
        ),
        (
            ". {\n import a b\n}",
            "Testfile:2 - Error during parsing: Import takes only one argument (glob pattern or file)",
        ),
        (
            ". {\n import \"\"\n}",
            "Testfile:2 - Error during parsing: Import requires a non-empty filepath",
        ),
        (
            ". {\n import /nonexistent/file\n}",
            "Testfile:2 - Error during parsing: File to import not found: /nonexistent/file",
        ),
        (
            ". {\n import /a/*/*.conf\n}",
            "Testfile:2 - Error during parsing: Glob pattern may only contain one wildcard (*), but has others: /a/*/*.conf",
        ),
        (
            ". {\n import /a/[ab].conf\n}",
            "Testfile:2 - Error during parsing: Glob pattern may only contain one wildcard (*), but has others: /a/[ab].conf",
        ),
        (
            "a.org {\n whoami\n}\nb.org {\n whoami\n",
            "Testfile:5 - Syntax error: Unexpected token 'whoami', expecting '}'",
        ),
    ];
    for (input, want) in rows {
        assert_eq!(parse_as("Testfile", input).unwrap_err(), *want, "input: {input:?}");
    }
}

#[test]
fn lines_survive_quotes_and_imports() {
    let blocks = parse_ok(". {\n log \"a\nb\"\n whoami\n}");
    let whoami = blocks[0].tokens("whoami").unwrap();
    assert_eq!(whoami[0].line, 4);
}

fn parse_file(path: &Path) -> Result<Vec<ServerBlock>, String> {
    parse_as(&path.to_string_lossy(), &std::fs::read_to_string(path).unwrap())
}

#[test]
fn imports_are_relative_to_the_importing_file() {
    let dir = ScratchDir::new("parser-rel");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    dir.write("sub/extra.conf", "log\nerrors");
    dir.write("sub/more.conf", "import extra2.conf");
    dir.write("sub/extra2.conf", "cache 30");
    let main =
        dir.write("Corefile", ". {\n whoami\n import sub/extra.conf\n import sub/more.conf\n}");
    let blocks = parse_file(&main).unwrap();
    let names: Vec<&str> = blocks[0].directives.iter().map(|(d, _)| d.as_str()).collect();
    assert_eq!(names, ["whoami", "log", "errors", "cache"]);
    // Tokens from an imported file carry that file's absolute path and their own lines.
    let errors = blocks[0].tokens("errors").unwrap();
    assert!(errors[0].file.ends_with("sub/extra.conf"), "{}", errors[0].file);
    assert_eq!(errors[0].line, 2);
}

#[test]
fn import_globs_and_errors_name_the_imported_file() {
    let dir = ScratchDir::new("parser-glob");
    dir.write("a.override", "log");
    dir.write("b.override", "errors");
    dir.write("bad.block", "nonsense");
    let main = dir.write("Corefile", ". {\n import *.override\n import nomatch*.x\n}");
    let blocks = parse_file(&main).unwrap();
    let names: Vec<&str> = blocks[0].directives.iter().map(|(d, _)| d.as_str()).collect();
    assert_eq!(names, ["log", "errors"], "glob matches in sorted order; an empty glob only warns");

    let main = dir.write("Corefile2", ". {\n import bad.block\n}");
    let err = parse_file(&main).unwrap_err();
    assert!(
        err.ends_with("bad.block:1 - Error during parsing: Unknown directive 'nonsense'"),
        "{err}"
    );

    std::fs::create_dir_all(dir.join("adir")).unwrap();
    let main = dir.write("Corefile3", ". {\n import adir\n}");
    let err = parse_file(&main).unwrap_err();
    assert!(err.contains("Could not import") && err.ends_with("adir: is a directory"), "{err}");
}

#[test]
fn devices_are_not_imported() {
    let err = parse_as("Testfile", ". {\n import /dev/zero\n}").unwrap_err();
    assert_eq!(
        err,
        "Testfile:2 - Error during parsing: Could not import /dev/zero: not a regular file"
    );
}

#[test]
fn self_importing_file_is_stopped() {
    let dir = ScratchDir::new("parser-loop");
    dir.write("loop.conf", "import loop.conf\nlog");
    let main = dir.write("Corefile", ". {\n import loop.conf\n}");
    let err = parse_file(&main).unwrap_err();
    assert!(err.ends_with("maximum file import depth (10000) exceeded"), "{err}");
}

#[test]
fn top_level_import_of_server_blocks() {
    let dir = ScratchDir::new("parser-top");
    dir.write("zones.conf", "a.org {\n whoami\n}\nb.org {\n log\n}");
    let main = dir.write("Corefile", "import zones.conf\n. {\n errors\n}");
    let blocks = parse_file(&main).unwrap();
    let keys: Vec<&str> = blocks.iter().map(|b| b.keys[0].text.as_str()).collect();
    assert_eq!(keys, ["a.org", "b.org", "."]);
}

#[test]
fn env_replacement_edges() {
    let e = |s: &str| replace_env_vars(s, &env);
    assert_eq!(e("{$PORT}"), "1053");
    assert_eq!(e("a{$PORT}b{$PORT}"), "a1053b1053");
    assert_eq!(e("{%PORT%}"), "1053");
    assert_eq!(e("{$}"), "{$}");
    assert_eq!(e("{$PORT"), "{$PORT");
    assert_eq!(e("{$UNSET}"), "");
    assert_eq!(e("{{ $x }}"), "{{ $x }}");
}
