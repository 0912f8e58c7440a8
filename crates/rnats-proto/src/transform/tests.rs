//! Unit tests per function (expected values worked out from nats-server's
//! source; the differential test in `rnats-server/tests/mapping.rs` checks
//! them against a running nats-server) and property tests.

use proptest::prelude::*;

use super::*;

fn map(source: &str, destination: &str, subject: &str) -> String {
    let t = SubjectTransform::new(source, destination)
        .unwrap_or_else(|e| panic!("{source} -> {destination}: {e}"));
    String::from_utf8(t.apply(subject.as_bytes()).unwrap()).unwrap()
}

fn error(source: &str, destination: &str) -> String {
    SubjectTransform::new(source, destination)
        .err()
        .unwrap_or_else(|| panic!("{source} -> {destination} was accepted"))
        .to_string()
}

#[test]
fn wildcard_references_old_and_new_style() {
    assert_eq!(map("foo.*.*", "bar.$2.$1", "foo.a.b"), "bar.b.a");
    assert_eq!(
        map(
            "foo.*.*",
            "bar.{{wildcard(2)}}.{{ Wildcard( 1 ) }}",
            "foo.a.b"
        ),
        "bar.b.a"
    );
    assert_eq!(map("foo.*", "bar.$1.$1", "foo.x"), "bar.x.x");
    // Not every wildcard needs to be used outside imports.
    assert_eq!(map("foo.*.*", "bar.$2", "foo.a.b"), "bar.b");
    // `$` followed by something else is literal text.
    assert_eq!(map("foo.*", "$x.$1", "foo.a"), "$x.a");
    // Wildcard 0 (or less) is the subject's first token.
    assert_eq!(map("foo.*", "bar.$0", "foo.a"), "bar.foo");
    assert_eq!(map("foo.*", "bar.{{wildcard(-3)}}", "foo.a"), "bar.foo");
}

#[test]
fn full_wildcards_carry_the_tail() {
    assert_eq!(map("foo.>", "bar.>", "foo.a.b.c"), "bar.a.b.c");
    assert_eq!(map("foo.*.>", "bar.$1.>", "foo.a.b.c"), "bar.a.b.c");
    assert_eq!(map("foo.>", ">", "foo.a.b"), "a.b");
    assert_eq!(map(">", "x.>", "a.b"), "x.a.b");
    assert_eq!(map(">", ">", "a.b"), "a.b");
    assert_eq!(map("", "x.>", "a"), "x.a");
}

#[test]
fn literal_sources() {
    assert_eq!(map("foo", "bar", "foo"), "bar");
    // FNV-1a("foo") = 0xa9f37ed7 = 2851307223.
    assert_eq!(map("foo", "bar.{{partition(10)}}", "foo"), "bar.3");
    assert_eq!(
        error("foo", "bar.$1"),
        "invalid mapping destination: wildcard index out of range in $1"
    );
    assert_eq!(
        error("foo", "{{split(1,-)}}"),
        "invalid mapping destination: wildcard index out of range in {{split(1,-)}}"
    );
    // Partition's token numbers are ignored there: the whole subject is hashed.
    assert_eq!(map("foo", "bar.{{partition(10, 7)}}", "foo"), "bar.3");
    let random = map("foo", "r.{{random(3)}}", "foo");
    assert!(["r.0", "r.1", "r.2"].contains(&random.as_str()), "{random}");
}

#[test]
fn partition_is_fnv1a_32_modulo_n() {
    let mut h = Fnv1a::new();
    h.write(b"");
    assert_eq!(h.finish(), 0x811c_9dc5);
    h.write(b"a");
    assert_eq!(h.finish(), 0xe40c_292c);
    // Tokens 1 and 2 concatenated without a separator: "ab".
    let mut ab = Fnv1a::new();
    ab.write(b"ab");
    let expected = ab.finish() % 7;
    assert_eq!(
        map("p.*.*", "{{partition(7,1,2)}}", "p.a.b"),
        expected.to_string()
    );
    assert_eq!(map("p.*.*", "{{partition(7,1,2)}}", "p.ab.x"), {
        let mut h = Fnv1a::new();
        h.write(b"abx");
        (h.finish() % 7).to_string()
    });
    // partition(n): the whole subject, separators included.
    let mut whole = Fnv1a::new();
    whole.write(b"p.a.b");
    assert_eq!(
        map("p.*.*", "x.{{partition(5)}}", "p.a.b"),
        format!("x.{}", whole.finish() % 5)
    );
    assert_eq!(map("p.*", "{{partition(0,1)}}", "p.a"), "0");
    // A negative count is its 32 bits unsigned.
    let mut a = Fnv1a::new();
    a.write(b"a");
    assert_eq!(
        map("p.*", "{{partition(-1,1)}}", "p.a"),
        (a.finish() % u32::MAX).to_string()
    );
    assert_eq!(
        error("p.*", "{{partition(2147483648,1)}}"),
        "invalid mapping destination: function argument is invalid or in the wrong format in {{partition(2147483648,1)}}"
    );
    assert_eq!(
        error("p.*", "{{partition(3,2)}}"),
        "invalid mapping destination: wildcard index out of range in {{partition(3,2)}}: [2]"
    );
    assert_eq!(
        error("p.*", "{{partition()}}"),
        "invalid mapping destination: function argument is invalid or in the wrong format in {{partition()}}"
    );
}

#[test]
fn split_from_left_and_right() {
    assert_eq!(map("*", "{{splitFromLeft(1,2)}}", "abcdef"), "ab.cdef");
    assert_eq!(map("*", "{{SplitFromRight(1,2)}}", "abcdef"), "abcd.ef");
    // Out of range positions leave the token whole.
    assert_eq!(map("*", "{{splitFromLeft(1,6)}}", "abcdef"), "abcdef");
    assert_eq!(map("*", "{{splitFromLeft(1,0)}}", "abcdef"), "abcdef");
    assert_eq!(map("*", "{{splitFromRight(1,-1)}}", "abcdef"), "abcdef");
    assert_eq!(
        error("*", "{{splitFromLeft(1)}}"),
        "invalid mapping destination: not enough arguments passed to the function in {{splitFromLeft(1)}}"
    );
    assert_eq!(
        error("*", "{{splitFromLeft(1,2,3)}}"),
        "invalid mapping destination: too many arguments passed to the function in {{splitFromLeft(1,2,3)}}"
    );
    assert_eq!(
        error("*", "{{splitFromLeft(1,x)}}"),
        "invalid mapping destination: function argument is invalid or in the wrong format in {{splitFromLeft(1,x)}}"
    );
    assert_eq!(
        error("*", "{{splitFromLeft(1,2147483648)}}"),
        "invalid mapping destination: function argument is invalid or in the wrong format in {{splitFromLeft(1,2147483648)}}"
    );
}

#[test]
fn slice_from_left_and_right() {
    assert_eq!(map("*", "{{sliceFromLeft(1,2)}}", "abcde"), "ab.cd.e");
    assert_eq!(map("*", "{{sliceFromLeft(1,2)}}", "abcdef"), "ab.cd.ef");
    assert_eq!(map("*", "{{sliceFromRight(1,2)}}", "abcde"), "a.bc.de");
    assert_eq!(map("*", "{{sliceFromRight(1,2)}}", "abcdef"), "ab.cd.ef");
    assert_eq!(map("*", "{{sliceFromLeft(1,3)}}", "ab"), "ab");
    assert_eq!(map("*", "{{sliceFromRight(1,0)}}", "ab"), "ab");
}

#[test]
fn split_on_a_separator() {
    assert_eq!(map("*", "{{split(1,-)}}", "a-b-c"), "a.b.c");
    // Empty pieces are dropped, with their separators.
    assert_eq!(map("*", "{{split(1,-)}}", "-a--b-"), "a.b");
    assert_eq!(map("*", "{{split(1,-)}}", "abc"), "abc");
    assert_eq!(map("*", "{{split(1,--)}}", "a--b"), "a.b");
    assert_eq!(map("*.*", "$1.{{split(2,-)}}.z", "x.a-b"), "x.a.b.z");
    // An empty separator splits into characters.
    assert_eq!(map("*", "{{split(1,)}}", "abé"), "a.b.é");
    assert_eq!(
        error("*", "{{split(1)}}"),
        "invalid mapping destination: not enough arguments passed to the function in {{split(1)}}"
    );
    assert_eq!(
        error("*", "{{split(1, x y)}}"),
        "invalid mapping destination: function argument is invalid or in the wrong format in {{split(1, x y)}}"
    );
}

#[test]
fn left_and_right() {
    assert_eq!(map("*", "{{left(1,2)}}", "abcd"), "ab");
    assert_eq!(map("*", "{{right(1,2)}}", "abcd"), "cd");
    assert_eq!(map("*", "{{left(1,9)}}", "abcd"), "abcd");
    assert_eq!(map("*", "{{right(1,0)}}", "abcd"), "abcd");
}

#[test]
fn random_stays_below_its_ceiling() {
    let t = SubjectTransform::new("*", "{{random(3)}}").unwrap();
    let mut seen = [false; 3];
    for _ in 0..300 {
        let out = t.apply(b"x").unwrap();
        let n: usize = std::str::from_utf8(&out).unwrap().parse().unwrap();
        seen[n] = true;
    }
    assert_eq!(seen, [true; 3]);
    assert_eq!(map("*", "{{random(0)}}", "x"), "0");
    assert_eq!(
        error("*", "{{random()}}"),
        "invalid mapping destination: function argument is invalid or in the wrong format in {{random()}}"
    );
    assert_eq!(
        error("*", "{{random(1,2)}}"),
        "invalid mapping destination: not enough arguments passed to the function in {{random(1,2)}}"
    );
}

#[test]
fn function_names_as_nats_server_finds_them() {
    assert_eq!(map("*", "{{ SplitFromLeft (1, 2) }}", "abcd"), "ab.cd");
    assert_eq!(
        error("*", "{{SPLIT(1,-)}}"),
        "invalid mapping destination: unknown function in {{SPLIT(1,-)}}"
    );
    assert_eq!(
        error("*", "{{foo(1)}}"),
        "invalid mapping destination: unknown function in {{foo(1)}}"
    );
    // Not a `{{…}}` token: literal text.
    assert_eq!(map("*", "x{{wildcard(1)}}", "a"), "x{{wildcard(1)}}");
    assert_eq!(map("*", "{{}}", "a"), "{{}}");
    // A function anywhere inside a `{{…}}` token is found.
    assert_eq!(map("*", "{{x}}{{wildcard(1)}}", "a"), "a");
    assert_eq!(
        error("*", "{{wildcard()}}"),
        "invalid mapping destination: not enough arguments passed to the function in {{wildcard()}}"
    );
    assert_eq!(
        error("*", "{{wildcard(1,2)}}"),
        "invalid mapping destination: too many arguments passed to the function in {{wildcard(1,2)}}"
    );
    assert_eq!(
        error("*", "{{wildcard(a)}}"),
        "invalid mapping destination: function argument is invalid or in the wrong format in {{wildcard(a)}}"
    );
}

#[test]
fn invalid_subjects() {
    for (source, destination) in [
        ("foo.*", "bar.*"),
        ("foo.>", "bar"),
        ("foo", "bar.>"),
        ("foo..x", "bar"),
        ("foo", ""),
        ("foo.>.x", "bar.>"),
    ] {
        assert_eq!(
            error(source, destination),
            "invalid subject",
            "{source} -> {destination}"
        );
    }
    assert_eq!(
        error("foo.*.*", "bar.$3"),
        "invalid mapping destination: wildcard index out of range in $3: [3]"
    );
}

#[test]
fn apply_refuses_what_does_not_match() {
    let t = SubjectTransform::new("foo.*", "bar.$1").unwrap();
    assert_eq!(t.apply(b"baz.a"), Err(TransformError::NoMatch));
    assert_eq!(t.apply(b"foo.a.b"), Err(TransformError::NoMatch));
    assert_eq!(t.apply(b"foo.*"), Err(TransformError::BadSubject));
    assert_eq!(t.apply(b"foo..a"), Err(TransformError::BadSubject));
    assert_eq!(
        TransformError::NoMatch.to_string(),
        "no matching transforms available"
    );
}

#[test]
fn strict_transforms_for_imports() {
    assert!(SubjectTransform::new_strict("foo.*.*", "bar.$2.$1").is_ok());
    assert_eq!(
        SubjectTransform::new_strict("foo.*.*", "bar.$2")
            .unwrap_err()
            .to_string(),
        "invalid mapping destination: not using all of the token wildcard(s) in bar.$2"
    );
    assert_eq!(
        SubjectTransform::new_strict("foo.*", "bar.{{partition(2,1)}}")
            .unwrap_err()
            .to_string(),
        "invalid mapping destination: the only mapping function allowed for import transforms is {{Wildcard()}} in {{partition(2,1)}}"
    );
}

#[test]
fn service_import_transforms() {
    let t = import_transform("local.>", "svc.>").unwrap();
    assert_eq!(t.apply(b"local.admin.x").unwrap(), b"svc.admin.x");
    let t = import_transform("a.*.b.*", "x.*.*").unwrap();
    assert_eq!(t.apply(b"a.1.b.2").unwrap(), b"x.1.2");
    let t = import_transform("a.$2.$1", "x.*.*").unwrap();
    assert_eq!(t.apply(b"a.1.2").unwrap(), b"x.2.1");
    assert_eq!(
        import_transform("a.*.*", "x.*").unwrap_err().to_string(),
        "invalid mapping destination: wildcard index out of range in $2: [2]"
    );
    assert_eq!(
        import_transform("a.*", "x.*.*").unwrap_err().to_string(),
        "invalid mapping destination: not using all of the token wildcard(s) in a.$1"
    );
    assert_eq!(
        import_transform("a.>", "x.*").unwrap_err(),
        TransformError::BadSubject
    );
}

#[test]
fn validate_mapping_checks_tokens_first() {
    assert_eq!(
        validate_mapping("a", "x y").unwrap_err().to_string(),
        "invalid mapping destination: invalid transform"
    );
    assert_eq!(
        validate_mapping("a.>", "x.>.y").unwrap_err().to_string(),
        "invalid mapping destination: invalid transform in y"
    );
    assert_eq!(
        validate_mapping("a.*", "{{nope(1)}}.{{wildcard(2)}}")
            .unwrap_err()
            .to_string(),
        "invalid mapping destination: unknown function in {{nope(1)}}"
    );
    assert!(validate_mapping("a.*", "{{ wildcard(1) }}").is_ok());
    assert!(validate_mapping("a", "").is_ok());
}

#[test]
fn subset_match_as_nats_server() {
    assert!(subset_match(b"foo.bar", b"foo.*"));
    assert!(subset_match(b"foo.bar.baz", b"foo.>"));
    assert!(!subset_match(b"foo", b"foo.>"));
    assert!(subset_match(b"foo.*", b"foo.*"));
    assert!(!subset_match(b"foo.*", b"foo.bar"));
    assert!(!subset_match(b"foo.>", b"foo.*"));
    assert!(!subset_match(b"foo..bar", b"foo.*.bar"));
}

#[test]
fn tokenize_and_untokenize() {
    assert_eq!(tokenize_wildcards("foo.*.*.>"), "foo.$1.$2.>");
    assert_eq!(
        untokenize_wildcards("foo.$2.{{wildcard(1)}}.$x"),
        (
            "foo.*.*.$x".to_owned(),
            vec!["$2".to_owned(), "{{wildcard(1)}}".to_owned()]
        )
    );
}

fn token_strategy() -> impl Strategy<Value = String> {
    "[a-z0-9-]{1,6}"
}

proptest! {
    /// A pattern mapped to its own `$n` references maps every subject it
    /// matches to itself.
    #[test]
    fn a_pattern_maps_to_itself(tokens in proptest::collection::vec(token_strategy(), 1..6), stars in any::<u8>(), full in any::<bool>()) {
        let pattern_tokens: Vec<String> = tokens.iter().enumerate()
            .map(|(i, t)| if stars & (1 << i) != 0 { "*".to_owned() } else { t.clone() }).collect();
        let mut pattern = pattern_tokens.join(".");
        let mut subject = tokens.join(".");
        if full {
            pattern.push_str(".>");
            subject.push_str(".tail.more");
        }
        let t = SubjectTransform::new(&pattern, &tokenize_wildcards(&pattern)).unwrap();
        prop_assert_eq!(t.apply(subject.as_bytes()).unwrap(), subject.as_bytes());
    }

    /// Slicing and splitting only insert separators.
    #[test]
    fn slices_keep_the_token(token in "[a-z]{1,20}", n in -2i32..25) {
        for f in ["sliceFromLeft", "sliceFromRight", "splitFromLeft", "splitFromRight"] {
            let t = SubjectTransform::new("x.*", &format!("{{{{{f}(1,{n})}}}}")).unwrap();
            let out = t.apply(format!("x.{token}").as_bytes()).unwrap();
            let joined: Vec<u8> = out.iter().copied().filter(|&b| b != b'.').collect();
            prop_assert_eq!(joined, token.as_bytes());
            prop_assert!(out.split(|&b| b == b'.').all(|t| !t.is_empty()));
        }
    }

    /// A partition is below its count and the same every time.
    #[test]
    fn partitions_are_stable(subject in proptest::collection::vec(token_strategy(), 2..5), n in 1i32..100) {
        let subject = subject.join(".");
        let source = vec!["*"; subject.split('.').count()].join(".");
        let t = SubjectTransform::new(&source, &format!("{{{{partition({n},1,2)}}}}")).unwrap();
        let first = t.apply(subject.as_bytes()).unwrap();
        let p: i32 = std::str::from_utf8(&first).unwrap().parse().unwrap();
        prop_assert!((0..n).contains(&p));
        prop_assert_eq!(t.apply(subject.as_bytes()).unwrap(), first);
    }

    /// Nothing panics, whatever the source, destination and subject.
    #[test]
    fn never_panics(source in "[a-z*>.${}()0-9, ]{0,20}", destination in "[a-zA-Z*>.${}()0-9, -]{0,30}", subject in "[a-z*>.]{0,12}") {
        let _ = validate_mapping(&source, &destination);
        if let Ok(t) = SubjectTransform::new(&source, &destination) {
            let _ = t.apply(subject.as_bytes());
            let mut out = Vec::new();
            t.transform_into(subject.as_bytes(), &mut out);
        }
        let _ = import_transform(&source, &destination);
    }

    /// Function-shaped destinations parse without panicking, and whatever
    /// they accept maps any matching subject.
    #[test]
    fn functions_never_panic(name in "(wildcard|partition|split|splitFromLeft|splitFromRight|sliceFromLeft|sliceFromRight|left|right|random|Split)",
                             args in "[0-9, x-]{0,8}", subject in proptest::collection::vec(token_strategy(), 2..4)) {
        let source = vec!["*"; subject.len()].join(".");
        if let Ok(t) = SubjectTransform::new(&source, &format!("a.{{{{{name}({args})}}}}.b")) {
            let out = t.apply(subject.join(".").as_bytes()).unwrap();
            prop_assert!(out.starts_with(b"a.") && out.ends_with(b".b"));
        }
    }
}
