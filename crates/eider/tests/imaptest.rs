//! Dovecot's imaptest against Eider: its scripted compliance tests and a short stress run with
//! state checks. imaptest is not packaged by Debian and is not built by CI; this test runs only where
//! an `imaptest` binary is on PATH or named by `$IMAPTEST` (its scripted tests are read from
//! `$IMAPTEST_TESTS`, default `<binary dir>/tests`), and is SKIPPED loudly otherwise.
//! docs/COMPLIANCE.md says which imaptest was used and what the results were. The ignored test at
//! the end runs imaptest's default command mix against Eider and Dovecot (docs/BENCHMARKS.md).

mod common;
mod dovecot;

use common::Server;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Scripted test groups that fail on purpose, with the reason (also in docs/COMPLIANCE.md).
const DOCUMENTED_FAILURES: &[(&str, &str)] = &[];

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

/// The operations a stress run counted, from the line under imaptest's `Totals:` header.
fn total_operations(out: &str) -> u64 {
    let lines: Vec<&str> = out.lines().collect();
    let at = lines
        .iter()
        .rposition(|l| l.starts_with("Totals:"))
        .unwrap_or_else(|| panic!("no Totals in:\n{out}"));
    // Header, percentages (one or two lines), then the counts: the first all-numeric line.
    lines[at + 1..]
        .iter()
        .find(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            !words.is_empty() && words.iter().all(|w| w.parse::<u64>().is_ok())
        })
        .unwrap_or_else(|| panic!("no counts under Totals in:\n{out}"))
        .split_whitespace()
        .map(|w| w.parse::<u64>().unwrap())
        .sum()
}

fn env_or(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// imaptest's default command mix (its stress mode with checks on, no scripted tests) against
/// Eider on SQLite, Eider on PostgreSQL and Dovecot, one after the other on this machine: total
/// operations per second and Eider/Dovecot ratios, for docs/BENCHMARKS.md. A measurement, not a
/// check, so it is ignored by default; run it on a release build:
/// `cargo test --release -p eider --test imaptest -- --ignored --nocapture`
/// (IMAPTEST_BENCH_SECS, default 60; IMAPTEST_BENCH_CLIENTS, default 10 as in imaptest;
/// IMAPTEST_BENCH_USERS, default 100).
#[test]
#[ignore]
fn imaptest_default_mix_eider_vs_dovecot() {
    let Some(binary) = imaptest_binary() else {
        common::skipped("imaptest not found on PATH nor at $IMAPTEST (see docs/COMPLIANCE.md)");
        return;
    };
    let Some(corpus) = common::corpus_dir() else {
        return;
    };
    let secs = env_or("IMAPTEST_BENCH_SECS", 60);
    let clients = env_or("IMAPTEST_BENCH_CLIENTS", 10);
    let users = env_or("IMAPTEST_BENCH_USERS", 100);
    let work = tempfile::tempdir().unwrap();
    let mbox = work.path().join("bench.mbox");
    common::python(
        "corpus_mbox.py",
        &[
            corpus.display().to_string(),
            "mbox".into(),
            mbox.display().to_string(),
        ],
    );
    let args = |port: u16| -> Vec<String> {
        vec![
            "host=127.0.0.1".into(),
            format!("port={port}"),
            "user=bench%d".into(),
            "pass=pass".into(),
            format!("users={users}"),
            format!("clients={clients}"),
            format!("secs={secs}"),
            format!("mbox={}", mbox.display()),
        ]
    };
    let measure = |name: &str, port: u16| -> f64 {
        let out = Command::new(&binary)
            .args(args(port))
            .output()
            .expect("run imaptest");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let errors = text.lines().filter(|l| l.contains("Error")).count();
        let ops = total_operations(&text);
        let rate = ops as f64 / f64::from(secs);
        let tail: Vec<&str> = text.lines().rev().take(8).collect();
        eprintln!(
            "{name}: {ops} operations in {secs} s = {rate:.0} ops/s, {errors} error lines\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
        rate
    };
    let names: Vec<String> = (1..=users).map(|i| format!("bench{i}")).collect();
    // Every server is up before the first run; the runs then alternate between them, so that
    // a change in the machine's load (it is shared) hits all of them alike.
    let mut servers: Vec<(String, u16)> = vec![];
    let mut eiders = vec![];
    for backend in [common::Backend::Sqlite, common::Backend::Postgres] {
        let Some(server) = Server::start_with(backend, &[]) else {
            continue;
        };
        for name in &names {
            server.add_user(name, "pass", &format!("{name}@example.com"));
        }
        servers.push((format!("Eider ({backend:?})"), server.imap_port));
        eiders.push(server);
    }
    // imaptest's mix logs in all the time, so the password hash matters: Dovecot checks Eider's
    // own argon2id hashes (same parameters, through libsodium), read from the PostgreSQL store.
    let hashes: Vec<(String, String)> = match eiders
        .iter()
        .find(|s| s.backend == common::Backend::Postgres)
    {
        Some(pg) => names
            .iter()
            .map(|n| {
                let hash = pg.pg_query(&format!(
                    "SELECT password_hash FROM users WHERE username = '{n}'"
                ));
                assert!(hash.starts_with("$argon2id$"), "{hash}");
                (n.clone(), format!("{{ARGON2ID}}{hash}"))
            })
            .collect(),
        None => {
            common::skipped("without PostgreSQL, Dovecot checks plain passwords (no hashing)");
            names.iter().map(|n| (n.clone(), "pass".into())).collect()
        }
    };
    let pairs: Vec<(&str, &str)> = hashes
        .iter()
        .map(|(n, h)| (n.as_str(), h.as_str()))
        .collect();
    let Some(dove) = dovecot::Dovecot::start_users(&pairs) else {
        return;
    };
    servers.push(("Dovecot".into(), dove.imap_port));
    let rounds = env_or("IMAPTEST_BENCH_ROUNDS", 2);
    let mut rates: Vec<Vec<f64>> = vec![vec![]; servers.len()];
    for round in 1..=rounds {
        for (i, (name, port)) in servers.iter().enumerate() {
            rates[i].push(measure(&format!("{name}, round {round}"), *port));
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let dovecot_rate = mean(rates.last().unwrap());
    eprintln!(
        "\nimaptest default mix, users={users} clients={clients} secs={secs}, {rounds} rounds\n\
         | server | ops/s per round | mean ops/s | vs Dovecot |\n| --- | --- | --- | --- |"
    );
    for ((name, _), r) in servers.iter().zip(&rates) {
        let each: Vec<String> = r.iter().map(|x| format!("{x:.0}")).collect();
        eprintln!(
            "| {name} | {} | {:.0} | {:.2} |",
            each.join(", "),
            mean(r),
            mean(r) / dovecot_rate
        );
    }
}
