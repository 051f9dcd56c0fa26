//! The evaluator against what Go's text/template prints for the same template and data (the
//! expected texts were worked out from Go's documented rules; the cases after Go's own
//! exec_test.go table are marked so).

use std::sync::Arc;

use super::value::{Value, map};
use super::{Template, exec};

/// Data shaped like CoreDNS's for the query `a-1-2-3-4.example.` against
/// `^a-(?P<a>[0-9]+)-([0-9]+)-([0-9]+)-([0-9]+)[.]example[.]$`.
fn data() -> Value {
    let matches = ["a-1-2-3-4.example.", "1", "2", "3", "4"];
    let mut groups: Vec<(String, String)> =
        matches.iter().enumerate().map(|(i, m)| (i.to_string(), m.to_string())).collect();
    groups.push(("a".into(), "1".into()));
    let meta: super::value::Method = Arc::new(|args: &[Value]| match args {
        [Value::Str(name)] if name == "kubernetes/client-namespace" => Ok(Value::Str("ns1".into())),
        [Value::Str(_)] => Ok(Value::Str(String::new())),
        _ => Err("wrong number of args for Meta: want 1".into()),
    });
    Value::Struct(
        "*template.templateData",
        vec![
            ("Zone", Value::Str("example.".into())),
            ("Name", Value::Str("a-1-2-3-4.example.".into())),
            ("Regex", Value::Str("^a-...".into())),
            ("Match", Value::List(matches.iter().map(|m| Value::Str((*m).into())).collect())),
            ("Group", map(groups)),
            ("Class", Value::Str("IN".into())),
            ("Type", Value::Str("A".into())),
            ("Remote", Value::Str("10.0.0.9".into())),
            ("Meta", Value::Method(meta)),
        ],
    )
}

fn render(text: &str) -> Result<String, String> {
    let t = Template::parse("answer", text)?;
    let mut out = String::new();
    t.execute(&data(), &mut out)?;
    Ok(out)
}

fn ok(text: &str) -> String {
    render(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn coredns_readme_templates_render() {
    let cases = [
        ("{{ .Name }} 60 IN A 127.0.0.1", "a-1-2-3-4.example. 60 IN A 127.0.0.1"),
        (
            "{{ .Name }} 60 IN A {{ index .Match 1 }}.{{ index .Match 2 }}.{{ index .Match 3 }}.{{ index .Match 4 }}",
            "a-1-2-3-4.example. 60 IN A 1.2.3.4",
        ),
        (
            "{{ .Name }} 60 IN A {{ .Group.a }}.{{ index .Group \"2\" }}",
            "a-1-2-3-4.example. 60 IN A 1.2",
        ),
        (
            "{{ .Zone }} 60 {{ .Class }} SOA ns.{{ .Zone }} hostmaster.{{ .Zone }} (1 60 60 60 60)",
            "example. 60 IN SOA ns.example. hostmaster.example. (1 60 60 60 60)",
        ),
        ("{{ .Name }} 60 IN TXT \"{{ .Remote }}\"", "a-1-2-3-4.example. 60 IN TXT \"10.0.0.9\""),
        ("{{ .Meta \"kubernetes/client-namespace\" }}", "ns1"),
        ("{{ .Meta \"other\" }}x", "x"),
        ("{{ parseInt (index .Match 1) 10 8 }}", "1"),
        ("{{ parseInt \"ff\" 16 64 }}", "255"),
        ("{{ parseInt \"0x1F\" 0 64 }}", "31"),
    ];
    for (text, want) in cases {
        assert_eq!(ok(text), want, "{text}");
    }
}

#[test]
fn control_structures() {
    let cases = [
        ("{{ if eq .Type \"A\" }}a{{ else }}other{{ end }}", "a"),
        ("{{ if eq .Type \"AAAA\" }}a{{ else if eq .Class \"IN\" }}in{{ else }}x{{ end }}", "in"),
        ("{{ if ne .Type \"A\" }}y{{ end }}", ""),
        ("{{ with .Group.a }}<{{ . }}>{{ end }}", "<1>"),
        ("{{ with .Group.zzz }}<{{ . }}>{{ else }}none{{ end }}", "none"),
        ("{{ range .Match }}[{{ . }}]{{ end }}", "[a-1-2-3-4.example.][1][2][3][4]"),
        (
            "{{ range $i, $m := .Match }}{{ $i }}={{ $m }};{{ end }}",
            "0=a-1-2-3-4.example.;1=1;2=2;3=3;4=4;",
        ),
        (
            "{{ range $i, $m := .Match }}{{ if eq $i 2 }}{{ break }}{{ end }}{{ $m }} {{ end }}",
            "a-1-2-3-4.example. 1 ",
        ),
        (
            "{{ range $i, $m := .Match }}{{ if eq $i 0 }}{{ continue }}{{ end }}{{ $m }}{{ end }}",
            "1234",
        ),
        ("{{ range $k, $v := .Group }}{{ $k }}{{ end }}", "01234a"),
        ("{{ range .Group.nothing }}x{{ else }}empty{{ end }}", "empty"),
        ("{{ $z := .Zone }}{{ $z }}{{ $z = \"other\" }}{{ $z }}", "example.other"),
        ("{{ range .Match }}{{ $.Zone }}{{ break }}{{ end }}", "example."),
        ("{{ .Name | printf \"%s.\" }}", "a-1-2-3-4.example.."),
        ("{{ index .Match 1 | parseInt | printf \"%d\" }}", ""),
    ];
    for (text, want) in &cases[..cases.len() - 1] {
        assert_eq!(ok(text), *want, "{text}");
    }
    // A piped value is the last argument: parseInt then has one argument, not three.
    let err = render(cases[cases.len() - 1].0).unwrap_err();
    assert!(err.contains("wrong number of args for parseInt: want 3 got 1"), "{err}");
}

#[test]
fn trim_markers_and_comments() {
    assert_eq!(ok("a  {{- .Class -}}  b"), "aINb");
    assert_eq!(ok("a {{- /* gone */ -}} b"), "ab");
    assert_eq!(ok("a{{/* gone */}}b"), "ab");
    assert_eq!(ok("{{ \"}}\" }}"), "}}");
    assert_eq!(ok("{{ `raw\\n` }}"), "raw\\n");
    assert_eq!(ok("{{ \"tab\\tx\\u00e9\" }}"), "tab\tx\u{e9}");
    // A dash without a space is a number's sign, not a trim marker (Go's rule).
    assert_eq!(ok("{{-3}}"), "-3");
}

#[test]
fn functions_after_go() {
    // After Go's exec_test.go: comparisons across integer kinds, and/or returning the deciding
    // argument, not, len, print spacing.
    let cases = [
        ("{{ eq 1 1 }} {{ eq 1 2 3 1 }} {{ ne \"a\" \"b\" }}", "true true true"),
        ("{{ lt 1 2 }} {{ le 2 2 }} {{ gt \"b\" \"a\" }} {{ ge 1.5 2.5 }}", "true true true false"),
        ("{{ eq (parseInt \"7\" 10 64) 7 }}", "true"),
        ("{{ and 1 0 2 }} {{ and 1 2 }} {{ or 0 \"\" 3 }} {{ or 0 \"\" }}", "0 2 3 "),
        ("{{ not 0 }} {{ not .Name }}", "true false"),
        ("{{ len .Match }} {{ len .Name }} {{ len .Group }}", "5 18 6"),
        ("{{ print 1 2 \"a\" \"b\" 3 }}", "1 2ab3"),
        ("{{ println 1 \"a\" }}", "1 a\n"),
        ("{{ index .Name 0 }}", "97"),
        ("{{ index .Group \"missing\" }}|{{ .Group.missing }}", "|<no value>"),
        (
            "{{ 0x10 }} {{ 1_000 }} {{ 0o17 }} {{ 017 }} {{ 1.5 }} {{ 'a' }} {{ true }}",
            "16 1000 15 15 1.5 97 true",
        ),
        ("{{ (index .Match 1) }}{{ (.Group).a }}", "11"),
    ];
    for (text, want) in cases {
        assert_eq!(ok(text), want, "{text}");
    }
    // `and` stops at the first false argument: the failing index is never evaluated.
    assert_eq!(ok("{{ and false (index .Match 99) }}"), "false");
    assert_eq!(ok("{{ or true (index .Match 99) }}"), "true");
}

#[test]
fn printf_verbs_after_go_fmt() {
    let cases = [
        ("{{ printf \"%s|%5s|%-5s|%.2s\" \"abc\" \"abc\" \"abc\" \"abc\" }}", "abc|  abc|abc  |ab"),
        ("{{ printf \"%d|%5d|%-5d|%05d|%+d\" 42 42 42 -42 42 }}", "42|   42|42   |-0042|+42"),
        ("{{ printf \"%x|%X|%#x|%o|%b|%c\" 255 255 255 8 5 65 }}", "ff|FF|0xff|10|101|A"),
        (
            "{{ printf \"%q|%v|%t\" \"a\\\"b\" .Match true }}",
            "\"a\\\"b\"|[a-1-2-3-4.example. 1 2 3 4]|true",
        ),
        ("{{ printf \"%.2f|%e|%g\" 3.14159 1000.0 0.5 }}", "3.14|1.000000e+03|0.5"),
        ("{{ printf \"%x\" \"AB\" }}", "4142"),
        ("{{ printf \"%d\" \"str\" }}", "%!d(string=str)"),
        ("{{ printf \"%s %s\" \"one\" }}", "one %!s(MISSING)"),
        ("{{ printf \"%s\" \"one\" 2 }}", "one%!(EXTRA int=2)"),
        ("{{ printf \"100%%\" }}", "100%"),
    ];
    for (text, want) in cases {
        assert_eq!(ok(text), want, "{text}");
    }
}

#[test]
fn parse_errors_are_refused_at_start_up() {
    let cases = [
        ("{{ .Name", "unclosed action"),
        ("{{ foo }}", "function \"foo\" not defined"),
        ("{{ html .Name }}", "function \"html\" is not supported"),
        ("{{ template \"x\" }}", "{{template}} is not supported"),
        ("{{ define \"x\" }}{{ end }}", "{{define}} is not supported"),
        ("{{ if .Name }}x", "unexpected EOF in if"),
        ("{{ end }}", "unexpected {{end}}"),
        ("{{ else }}", "unexpected {{else}}"),
        ("{{ $x }}", "undefined variable \"$x\""),
        ("{{ $x = 1 }}", "undefined variable \"$x\""),
        ("{{ break }}", "{{break}} outside {{range}}"),
        ("{{ nil }}", "nil is not a command"),
        ("{{ if }}{{ end }}", "missing value for if"),
        ("{{ ( .Name }}", "unclosed left paren"),
        ("{{ .Name ) }}", "unexpected right paren"),
        ("{{ \"abc }}", "unterminated quoted string"),
        ("{{ 1x }}", "bad number syntax"),
        ("{{/* open }}", "unclosed comment"),
        ("{{ | .Name }}", "missing value for command"),
        ("{{ .Name | 1 }}", "non executable command in pipeline stage 2"),
        ("{{ if .A }}{{ else }}{{ else }}{{ end }}", "expected end; found {{else}}"),
    ];
    for (text, want) in cases {
        let err = Template::parse("answer", text).expect_err(text);
        assert!(err.starts_with("template: answer: "), "{text}: {err}");
        assert!(err.contains(want), "{text}: {err} (wanted {want})");
    }
    let deep = format!("{{{{ {}1{} }}}}", "(".repeat(100), ")".repeat(100));
    assert!(Template::parse("answer", &deep).is_ok(), "100 deep is accepted");
    let too_deep = format!("{{{{ {}1{} }}}}", "(".repeat(200), ")".repeat(200));
    let err = Template::parse("answer", &too_deep).unwrap_err();
    assert!(err.contains("nested more than 100 deep"), "{err}");
}

#[test]
fn execution_errors_are_errors_not_panics() {
    let cases = [
        ("{{ .Nope }}", "can't evaluate field Nope in type *template.templateData"),
        ("{{ index .Match 9 }}", "index out of range: 9"),
        ("{{ index .Match -1 }}", "index out of range: -1"),
        ("{{ index .Match \"x\" }}", "cannot index slice/array with type string"),
        ("{{ .Name.Foo }}", "can't evaluate field Foo in type string"),
        ("{{ .Group.zzz.y }}", "nil pointer evaluating .y"),
        (
            "{{ parseInt .Name 10 64 }}",
            "strconv.ParseUint: parsing \"a-1-2-3-4.example.\": invalid syntax",
        ),
        ("{{ parseInt \"300\" 10 8 }}", "strconv.ParseUint: parsing \"300\": value out of range"),
        ("{{ parseInt \"1\" 1 8 }}", "invalid base 1"),
        ("{{ lt .Match 1 }}", "invalid type for comparison"),
        ("{{ eq .Name 1 }}", "incompatible types for comparison"),
        ("{{ eq .Match .Match }}", "non-comparable type"),
        ("{{ range .Name }}{{ end }}", "range can't iterate over a-1-2-3-4.example."),
        ("{{ .Zone 1 }}", ".Zone is not a method but has arguments"),
        ("{{ 1 2 }}", "can't give argument to non-function 1"),
        ("{{ .Meta }}", "wrong number of args for Meta"),
        ("{{ len 3 }}", "len of type int"),
        ("{{ not 1 2 }}", "wrong number of args for not: want 1 got 2"),
    ];
    for (text, want) in cases {
        let err = render(text).expect_err(text);
        assert!(err.contains(want), "{text}: {err} (wanted {want})");
    }
}

#[test]
fn output_is_capped() {
    // Each pass doubles nothing by itself, but nested ranges over the data multiply; the cap
    // stops any template before it writes more than MAX_OUTPUT.
    let nested = format!(
        "{}{}{}",
        "{{ range $.Match }}".repeat(8),
        "{{ printf \"%1000s\" \"x\" }}",
        "{{ end }}".repeat(8)
    );
    let err = render(&nested).unwrap_err();
    assert!(err.contains(&format!("output longer than {} bytes", exec::MAX_OUTPUT)), "{err}");
    let wide = render("{{ printf \"%99999999d\" 1 }}").unwrap();
    assert!(wide.starts_with("%!(BADWIDTH)"), "{wide}");
}

#[test]
fn source_prints_as_go_tree_string() {
    // What CoreDNS puts in the `template` label of its failure metrics.
    let cases = [
        ("{{ .Name }} 60 IN A {{ index .Match 1 }}", "{{.Name}} 60 IN A {{index .Match 1}}"),
        (
            "{{- if eq .Type \"A\" -}} x {{- else -}} y {{- end }}",
            "{{if eq .Type \"A\"}}x{{else}}y{{end}}",
        ),
        ("{{ $x := .Zone }}{{ $x }}", "{{$x := .Zone}}{{$x}}"),
        (
            "{{ range $i, $e := .Match }}{{ break }}{{ end }}",
            "{{range $i, $e := .Match}}{{break}}{{end}}",
        ),
        (
            "{{ .Name | printf \"%s\" }}{{ (index .Match 1) }}",
            "{{.Name | printf \"%s\"}}{{(index .Match 1)}}",
        ),
        ("{{ if .A }}a{{ else if .B }}b{{ end }}", "{{if .A}}a{{else}}{{if .B}}b{{end}}{{end}}"),
    ];
    for (text, want) in cases {
        assert_eq!(Template::parse("answer", text).unwrap().source(), want, "{text}");
    }
}

#[test]
fn no_input_panics() {
    // Every prefix of every template above, and some junk: parse and run, never panic.
    let samples = [
        "{{ range $i, $m := .Match }}{{ if eq $i 2 }}{{ break }}{{ end }}{{ $m }} {{ end }}",
        "{{- if eq .Type \"A\" -}} x {{- else if .B -}} y {{- end }}",
        "{{ printf \"%-+#0 12.5x|%v\" 255 (index .Group \"a\") }}{{/* c */}}",
        "{{ \"\\x4 \\u12 \\9 `\" }}{{ 'ab' }}{{ '\\'' }}{{ $ }}{{ $.Zone }}{{ .Meta 1 2 }}",
        "{{{{}}}}}}{{(((}}{{)}}{{ :=}}{{$x,$y:=1}}{{ 0x }}{{ 1e }}{{ -}}{{- }}{{ .. }}",
    ];
    for sample in samples {
        for end in 0..=sample.len() {
            if sample.is_char_boundary(end) {
                let _ = render(&sample[..end]);
            }
        }
    }
}
