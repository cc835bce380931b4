//! Dovecot's imaptest against Eider: its scripted compliance tests and a short stress run with
//! state checks. imaptest is not packaged by Debian and is not built by CI; this test runs only where
//! an `imaptest` binary is on PATH or named by `$IMAPTEST` (its scripted tests are read from
//! `$IMAPTEST_TESTS`, default `<binary dir>/tests`), and is SKIPPED loudly otherwise.
//! docs/COMPLIANCE.md says how to build imaptest and what the results were.

mod common;

use common::Server;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Scripted test groups that fail on purpose, with the reason (also in docs/COMPLIANCE.md).
const DOCUMENTED_FAILURES: &[(&str, &str)] = &[
    (
        "subscribe",
        "CREATE subscribes the new mailbox (the store default, as WildDuck does); the script expects it unsubscribed",
    ),
    (
        "listext",
        "subscriptions are a mailbox attribute: CREATE subscribes, and a deleted mailbox's subscription goes with it (no \\NonExistent subscribed entries)",
    ),
    (
        "append-binary",
        "every stored message has bare LF turned into CRLF, also a literal8 APPEND's binary body part",
    ),
];

fn imaptest_binary() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("IMAPTEST")
        && !path.is_empty()
    {
        return Some(PathBuf::from(path));
    }
    let out = Command::new("sh")
        .args(["-c", "command -v imaptest"])
        .output()
        .ok()?;
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !path.is_empty()).then(|| PathBuf::from(path))
}

fn scripted_tests_dir(binary: &Path) -> Option<PathBuf> {
    let dir = match std::env::var("IMAPTEST_TESTS") {
        Ok(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => binary.parent()?.join("tests"),
    };
    dir.is_dir().then_some(dir)
}

fn run_imaptest(binary: &Path, server: &Server, args: &[String]) -> String {
    let out = Command::new(binary)
        .arg("host=127.0.0.1")
        .arg(format!("port={}", server.imap_port))
        .args(args)
        .output()
        .expect("run imaptest");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("imaptest {args:?}:\n{text}");
    text
}

both_stores!(imaptest_scripted_and_stress, |server: &Server| {
    let Some(binary) = imaptest_binary() else {
        common::skipped("imaptest not found on PATH nor at $IMAPTEST (see docs/COMPLIANCE.md)");
        return;
    };
    let Some(tests) = scripted_tests_dir(&binary) else {
        common::skipped(
            "imaptest's scripted tests not found: set IMAPTEST_TESTS to its src/tests folder",
        );
        return;
    };
    server.add_user("testuser", "pass", "testuser@example.com");
    server.add_user("testuser2", "pass", "testuser2@example.com");

    // Scripted tests: imaptest skips the groups whose capabilities Eider does not advertise.
    let out = run_imaptest(
        &binary,
        server,
        &[
            "user=testuser".into(),
            "user2=testuser2".into(),
            "pass=pass".into(),
            format!("test={}", tests.display()),
        ],
    );
    let summary = out
        .lines()
        .find(|l| l.contains(" test groups: "))
        .unwrap_or_else(|| panic!("no imaptest summary in:\n{out}"));
    let mut failed_groups: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("*** Test "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    failed_groups.dedup();
    let documented: Vec<&str> = DOCUMENTED_FAILURES.iter().map(|(g, _)| *g).collect();
    let unexpected: Vec<&&str> = failed_groups
        .iter()
        .filter(|g| !documented.contains(g))
        .collect();
    assert!(
        unexpected.is_empty(),
        "scripted groups failed: {unexpected:?}\n{out}"
    );
    assert_eq!(
        summary,
        format!(
            "{} test groups: {} failed, 0 skipped due to missing capabilities",
            summary.split_whitespace().next().unwrap(),
            failed_groups.len()
        )
    );
    let errors: Vec<&str> = out.lines().filter(|l| l.contains("Error:")).collect();
    assert!(errors.is_empty(), "imaptest errors: {errors:#?}");

    // A short stress run with its state checks on (the default): no errors, no mismatches.
    let Some(corpus) = common::corpus_dir() else {
        return;
    };
    let mbox = server.dir.path().join("stress.mbox");
    let written = common::python(
        "corpus_mbox.py",
        &[
            corpus.display().to_string(),
            "mbox".into(),
            mbox.display().to_string(),
        ],
    );
    assert!(written.trim().parse::<u32>().unwrap() > 100, "{written}");
    for i in 1..=10 {
        server.add_user(
            &format!("stress{i}"),
            "pass",
            &format!("stress{i}@example.com"),
        );
    }
    let out = run_imaptest(
        &binary,
        server,
        &[
            "user=stress%d".into(),
            "pass=pass".into(),
            "users=10".into(),
            "clients=10".into(),
            "secs=10".into(),
            format!("mbox={}", mbox.display()),
        ],
    );
    assert!(out.contains("Totals:"), "stress run did not finish:\n{out}");
    let problems: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("Error") || l.contains("Panic") || l.contains("Fatal"))
        .collect();
    assert!(problems.is_empty(), "stress run problems: {problems:#?}");
});
