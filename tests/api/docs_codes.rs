//! The error codes docs/api.md lists are exactly the ones the code can
//! answer with: a new `ErrorCode` without a row, or a row for a code that
//! no longer exists, fails here.

use enlist::services::ErrorCode;
use std::collections::BTreeSet;

/// The first column of the "## Error codes" table.
fn documented_codes() -> Vec<String> {
    let api = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/api.md"))
        .expect("docs/api.md is readable");
    let section = api
        .split("\n## Error codes\n")
        .nth(1)
        .expect("docs/api.md has an \"## Error codes\" section");
    let section = section.split("\n## ").next().unwrap_or(section);
    section
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split('`').next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_docs_list_exactly_the_codes_errors_carry() {
    let documented = documented_codes();
    let listed: BTreeSet<&str> = documented.iter().map(String::as_str).collect();
    assert_eq!(listed.len(), documented.len(), "a code is listed twice");
    let code: BTreeSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(
        listed.difference(&code).collect::<Vec<_>>(),
        Vec::<&&str>::new(),
        "docs/api.md lists codes the code does not have"
    );
    assert_eq!(
        code.difference(&listed).collect::<Vec<_>>(),
        Vec::<&&str>::new(),
        "docs/api.md misses codes the code has"
    );
}

#[test]
fn codes_are_stable_snake_case_and_distinct() {
    let mut seen = BTreeSet::new();
    for code in ErrorCode::ALL {
        let name = code.as_str();
        assert!(
            name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "{name}"
        );
        assert!(seen.insert(name), "{name} twice");
    }
}
