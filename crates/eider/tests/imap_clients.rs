//! Real IMAP clients against the running server: mbsync (isync), offlineimap, Python's imaplib,
//! imapflow (npm), fetchmail and mutt. Each test fills INBOX with corpus messages, lets the client
//! download them, changes flags, moves and deletes on both sides, syncs again and then compares
//! the client's copy with the server's state fetched over IMAP: mailboxes, server UIDs, flags and a
//! digest of every message's bytes, exactly (tests/clients/state.py prints both sides in one JSON
//! form). The same change sets run everywhere, so the final numbers are known in advance:
//!
//! - server side (another IMAP session, `state.py server-change`), by position i in INBOX's UID
//!   order: i % 10 == 1 gets \Flagged, 2 has \Seen toggled, 3 moves to Archive, 4 is expunged, and 3
//!   new messages arrive;
//! - client side, by position in the client's own copy: 5 gets \Flagged, 6 has \Seen toggled, 7
//!   moves to Archive, 8 is deleted.
//!
//! A client missing on this machine makes its test print SKIPPED; CI (.ci/run) installs them all.

mod common;

use common::Server;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const USER: &str = "alice";
const PASS: &str = "client pass";

/// imapflow's version, pinned (.ci/run installs the same one).
const IMAPFLOW_VERSION: &str = "2.10.2";

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

fn tool(name: &str) -> Option<PathBuf> {
    let out = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .ok()?;
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !path.is_empty()).then(|| PathBuf::from(path))
}

/// Runs a command, panics with its output unless it succeeds; returns stdout.
fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn state_py(args: &[&str]) -> String {
    run(
        Command::new("python3")
            .arg(clients_dir().join("state.py"))
            .args(args),
        &format!("state.py {args:?}"),
    )
}

/// Creates the user, writes `count` corpus messages and APPENDs them to INBOX (creating Archive).
/// None (SKIPPED) without the corpus.
fn seed(server: &Server, count: usize, only: Option<&str>) -> Option<()> {
    let corpus = common::corpus_dir()?;
    server.add_user(USER, PASS, "alice@example.com");
    let dir = server.dir.path().join("messages");
    let mut args = vec![
        "messages".to_string(),
        corpus.display().to_string(),
        dir.display().to_string(),
        count.to_string(),
    ];
    args.extend(only.map(str::to_string));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    state_py(&args);
    let port = server.imap_port.to_string();
    let seeded = state_py(&["seed", &port, USER, PASS, &dir.display().to_string()]);
    assert_eq!(seeded.trim(), count.to_string());
    Some(())
}

fn server_state(server: &Server) -> Value {
    let port = server.imap_port.to_string();
    serde_json::from_str(&state_py(&["server", &port, USER, PASS])).unwrap()
}

fn server_change(server: &Server) {
    let port = server.imap_port.to_string();
    state_py(&["server-change", &port, USER, PASS]);
}

/// Asserts two states are equal; on a mismatch names the first differences instead of printing
/// two megabytes of JSON.
fn assert_same_state(client: &Value, server: &Value, what: &str) {
    if client == server {
        return;
    }
    let mut report = vec![];
    let empty = serde_json::Map::new();
    let boxes = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    let mut names = boxes(client);
    names.extend(boxes(server));
    names.sort();
    names.dedup();
    for name in names {
        let c = client
            .get(&name)
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let s = server
            .get(&name)
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let mut uids: Vec<&String> = c.keys().chain(s.keys()).collect();
        uids.sort_by_key(|u| u.parse::<u64>().unwrap_or(0));
        uids.dedup();
        let diffs: Vec<String> = uids
            .into_iter()
            .filter(|u| c.get(*u) != s.get(*u))
            .take(5)
            .map(|u| format!("  UID {u}: client {:?}, server {:?}", c.get(u), s.get(u)))
            .collect();
        if !diffs.is_empty() || client.get(&name).is_none() || server.get(&name).is_none() {
            report.push(format!(
                "{name}: client has {}, server {}\n{}",
                c.len(),
                s.len(),
                diffs.join("\n")
            ));
        }
    }
    panic!("{what}: client and server differ:\n{}", report.join("\n"));
}

/// How many messages each mailbox holds, and how many of INBOX's carry each flag.
fn summary(state: &Value) -> (BTreeMap<String, usize>, BTreeMap<String, usize>) {
    let mut sizes = BTreeMap::new();
    let mut flags = BTreeMap::new();
    for (name, messages) in state.as_object().unwrap() {
        let messages = messages.as_object().unwrap();
        sizes.insert(name.clone(), messages.len());
        if name == "INBOX" {
            for entry in messages.values() {
                for flag in entry[0].as_array().unwrap() {
                    *flags.entry(flag.as_str().unwrap().to_string()).or_insert(0) += 1;
                }
            }
        }
    }
    (sizes, flags)
}

/// The mailbox sizes and INBOX flag counts both change sets lead to, from `count` messages seeded
/// by state.py (i % 3 == 0 \Seen, else i % 7 == 0 \Answered \Seen).
fn expected_summary(count: usize) -> (BTreeMap<String, usize>, BTreeMap<String, usize>) {
    let mut inbox = 3; // the server side's new messages, unflagged
    let mut archive = 0;
    let mut flags: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..count {
        let mut seen = i % 3 == 0 || i % 7 == 0;
        let answered = i % 3 != 0 && i % 7 == 0;
        match i % 10 {
            3 | 7 => {
                archive += 1;
                continue;
            }
            4 | 8 => continue,
            2 | 6 => seen = !seen,
            _ => {}
        }
        inbox += 1;
        let mut add = |f: &str| *flags.entry(f.to_string()).or_insert(0) += 1;
        if i % 10 == 1 || i % 10 == 5 {
            add("\\Flagged");
        }
        if seen {
            add("\\Seen");
        }
        if answered {
            add("\\Answered");
        }
    }
    let sizes = ["Archive", "Drafts", "INBOX", "Junk", "Sent Mail", "Trash"]
        .into_iter()
        .map(|n| {
            let size = match n {
                "INBOX" => inbox,
                "Archive" => archive,
                _ => 0,
            };
            (n.to_string(), size)
        })
        .collect();
    (sizes, flags)
}

/// The whole two-sided scenario for a client that keeps a Maildir (`kind`: mbsync | offlineimap):
/// `sync` runs the client once.
fn maildir_scenario(server: &Server, count: usize, kind: &str, maildir: &Path, sync: &dyn Fn()) {
    sync();
    let local = || -> Value {
        serde_json::from_str(&state_py(&[
            "maildir",
            kind,
            &maildir.display().to_string(),
        ]))
        .unwrap()
    };
    let first = server_state(server);
    assert_eq!(
        first["INBOX"].as_object().unwrap().len(),
        count,
        "seeded INBOX"
    );
    assert_same_state(&local(), &first, &format!("{kind} first sync"));

    server_change(server);
    state_py(&["maildir-change", kind, &maildir.display().to_string()]);
    sync();
    let after = server_state(server);
    assert_same_state(&local(), &after, &format!("{kind} second sync"));
    assert_eq!(summary(&after), expected_summary(count), "{kind}");

    // A third run finds nothing to do and changes nothing.
    sync();
    assert_eq!(
        server_state(server),
        after,
        "{kind}: a no-op sync changed the server"
    );
    assert_same_state(&local(), &after, &format!("{kind} third sync"));
}

// --- mbsync --------------------------------------------------------------------------------------

// 1,000 messages: mbsync is fast (a few seconds for the whole scenario).
both_stores!(mbsync_two_way_sync, |server: &Server| {
    let Some(mbsync) = tool("mbsync") else {
        common::skipped("mbsync not installed (Debian package isync)");
        return;
    };
    let count = 1000;
    if seed(server, count, None).is_none() {
        return;
    }
    let home = server.dir.path().join("mbsync");
    let maildir = home.join("mail");
    std::fs::create_dir_all(&maildir).unwrap();
    let rc = home.join("mbsyncrc");
    std::fs::write(
        &rc,
        format!(
            "IMAPAccount eider\nHost 127.0.0.1\nPort {port}\nUser {USER}\nPass \"{PASS}\"\n\
             SSLType None\nAuthMechs LOGIN\n\n\
             IMAPStore remote\nAccount eider\n\n\
             MaildirStore local\nPath {dir}/\nInbox {dir}/INBOX\nSubFolders Verbatim\n\n\
             Channel all\nFar :remote:\nNear :local:\nPatterns *\nCreate Both\nExpunge Both\n\
             Remove None\nSyncState *\nSync All\n",
            port = server.imap_port,
            dir = maildir.display(),
        ),
    )
    .unwrap();
    maildir_scenario(server, count, "mbsync", &maildir, &|| {
        run(
            Command::new(&mbsync)
                .arg("-c")
                .arg(&rc)
                .arg("-a")
                .env("HOME", &home),
            "mbsync",
        );
    });
});

// --- offlineimap ---------------------------------------------------------------------------------

// 1,000 messages. offlineimap3 rewrites every message through Python's email package (see
// state.py stable()), so its mailbox is filled with the corpus messages that survive that
// unchanged; the comparison stays byte-exact.
both_stores!(offlineimap_two_way_sync, |server: &Server| {
    let Some(offlineimap) = tool("offlineimap") else {
        common::skipped("offlineimap not installed (Debian package offlineimap3)");
        return;
    };
    let count = 1000;
    if seed(server, count, Some("email-stable")).is_none() {
        return;
    }
    let home = server.dir.path().join("offlineimap");
    let maildir = home.join("mail");
    std::fs::create_dir_all(home.join("meta")).unwrap();
    std::fs::create_dir_all(&maildir).unwrap();
    let rc = home.join("offlineimaprc");
    std::fs::write(
        &rc,
        format!(
            "[general]\naccounts = eider\nmetadata = {meta}\nui = quiet\n\n\
             [Account eider]\nlocalrepository = local\nremoterepository = remote\n\n\
             [Repository local]\ntype = Maildir\nlocalfolders = {dir}\nsep = /\n\n\
             [Repository remote]\ntype = IMAP\nremotehost = 127.0.0.1\nremoteport = {port}\n\
             remoteuser = {USER}\nremotepass = {PASS}\nssl = no\nstarttls = no\n",
            meta = home.join("meta").display(),
            dir = maildir.display(),
            port = server.imap_port,
        ),
    )
    .unwrap();
    maildir_scenario(server, count, "offlineimap", &maildir, &|| {
        run(
            Command::new(&offlineimap)
                .arg("-c")
                .arg(&rc)
                .arg("-o")
                .env("HOME", &home),
            "offlineimap",
        );
    });
});

// --- clients that keep their own cache: imaplib (QRESYNC) and imapflow (CONDSTORE) -----------------

/// The two-sided scenario for a client script that prints its cache as a state: `client(phase)`
/// runs it with `initial`, `change` (the client-side change set, then a resync) or `resync`.
fn cache_scenario(server: &Server, count: usize, what: &str, client: &dyn Fn(&str) -> String) {
    let parse = |s: String| -> Value { serde_json::from_str(&s).unwrap() };
    let first = server_state(server);
    assert_eq!(first["INBOX"].as_object().unwrap().len(), count);
    assert_same_state(
        &parse(client("initial")),
        &first,
        &format!("{what} download"),
    );

    server_change(server);
    let local = parse(client("change"));
    let after = server_state(server);
    assert_same_state(&local, &after, &format!("{what} resync"));
    assert_eq!(summary(&after), expected_summary(count), "{what}");

    let again = parse(client("resync"));
    assert_eq!(
        server_state(server),
        after,
        "{what}: a no-op resync changed the server"
    );
    assert_same_state(&again, &after, &format!("{what} second resync"));
}

// 1,000 messages; imaplib_sync.py resyncs with ENABLE QRESYNC + SELECT (QRESYNC ...).
both_stores!(imaplib_qresync_sync, |server: &Server| {
    let count = 1000;
    if seed(server, count, None).is_none() {
        return;
    }
    let cache = server.dir.path().join("imaplib-cache");
    let port = server.imap_port.to_string();
    cache_scenario(server, count, "imaplib", &|phase| {
        run(
            Command::new("python3")
                .arg(clients_dir().join("imaplib_sync.py"))
                .args([port.as_str(), USER, PASS])
                .arg(&cache)
                .arg(phase),
            &format!("imaplib_sync.py {phase}"),
        )
    });
});

/// The node_modules folder holding imapflow IMAPFLOW_VERSION: `$EIDER_TEST_NODE_MODULES`, else
/// `node-clients/node_modules` in the cargo target folder, installed there with npm when missing
/// (.ci/run installs it beforehand). None (SKIPPED) without node/npm or when npm fails.
fn imapflow_modules() -> Option<PathBuf> {
    if tool("node").is_none() {
        common::skipped("imapflow test needs node (Debian package nodejs)");
        return None;
    }
    // imapflow 2 declares node >= 20 (Debian 12's own nodejs is 18).
    let version = Command::new("node").arg("--version").output().ok()?;
    let version = String::from_utf8_lossy(&version.stdout);
    let major: u32 = version
        .trim()
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major < 20 {
        common::skipped(&format!(
            "imapflow {IMAPFLOW_VERSION} needs node >= 20, found {}",
            version.trim()
        ));
        return None;
    }
    if let Ok(dir) = std::env::var("EIDER_TEST_NODE_MODULES")
        && !dir.is_empty()
    {
        return Some(PathBuf::from(dir));
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let prefix = target.join("node-clients");
    let installed = prefix.join("node_modules/imapflow/package.json");
    let version_ok = std::fs::read_to_string(&installed)
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .is_some_and(|v| v["version"] == IMAPFLOW_VERSION);
    if !version_ok {
        std::fs::create_dir_all(&prefix).unwrap();
        let out = Command::new("npm")
            .args([
                "install",
                "--no-save",
                "--no-audit",
                "--no-fund",
                "--prefix",
            ])
            .arg(&prefix)
            .arg(format!("imapflow@{IMAPFLOW_VERSION}"))
            .output();
        match out {
            Ok(out) if out.status.success() => {}
            Ok(out) => {
                common::skipped(&format!(
                    "npm could not install imapflow@{IMAPFLOW_VERSION}: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
                return None;
            }
            Err(e) => {
                common::skipped(&format!("imapflow test needs npm: {e}"));
                return None;
            }
        }
    }
    Some(prefix.join("node_modules"))
}

// 1,000 messages; imapflow_sync.mjs resyncs with CONDSTORE (CHANGEDSINCE) and UID SEARCH.
both_stores!(imapflow_condstore_sync, |server: &Server| {
    let Some(modules) = imapflow_modules() else {
        return;
    };
    let count = 1000;
    if seed(server, count, None).is_none() {
        return;
    }
    let cache = server.dir.path().join("imapflow-cache");
    let port = server.imap_port.to_string();
    cache_scenario(server, count, "imapflow", &|phase| {
        run(
            Command::new("node")
                .arg(clients_dir().join("imapflow_sync.mjs"))
                .args([port.as_str(), USER, PASS])
                .arg(&cache)
                .arg(phase)
                .env("NODE_PATH", &modules),
            &format!("imapflow_sync.mjs {phase}"),
        )
    });
});

// --- fetchmail -----------------------------------------------------------------------------------

/// Digests of a mailbox's messages on the server, sorted, and how many carry \Seen.
fn server_digests(state: &Value, mailbox: &str) -> (Vec<String>, usize) {
    let messages = state[mailbox].as_object().unwrap();
    let mut digests: Vec<String> = messages
        .values()
        .map(|e| e[1].as_str().unwrap().to_string())
        .collect();
    digests.sort();
    let seen = messages
        .values()
        .filter(|e| e[0].as_array().unwrap().iter().any(|f| f == "\\Seen"))
        .count();
    (digests, seen)
}

// fetchmail only downloads: it cannot change flags, move or delete on its own, so its side of the
// scenario is what it does: fetch everything keeping it on the server (which marks it \Seen),
// fetch only what is new or unseen after the server side changed, then fetch everything and
// delete it from the server (its default, "flush"). 300 messages that fetchmail passes on unchanged
// (state.py fetchmail_stable()), not 1,000: fetchmail spends several round trips and one MDA
// process per message, three runs take about 45 s per store with 1,000 on two busy cores, and
// 300 exercise the same paths.
both_stores!(fetchmail_download_keep_and_flush, |server: &Server| {
    let Some(fetchmail) = tool("fetchmail") else {
        common::skipped("fetchmail not installed (Debian package fetchmail)");
        return;
    };
    let count = 300;
    if seed(server, count, Some("fetchmail-stable")).is_none() {
        return;
    }
    let home = server.dir.path().join("fetchmail");
    std::fs::create_dir_all(&home).unwrap();
    let rc = home.join("fetchmailrc");
    // fetchmail upgrades with STARTTLS (sslproto tls1.2+ insists on it); the test server's
    // certificate is self-signed, hence no sslcertck.
    std::fs::write(
        &rc,
        format!(
            "set no syslog\npoll 127.0.0.1 service {port} protocol IMAP auth password\n  \
             user \"{USER}\" there with password \"{PASS}\" is \"{USER}\" here\n  folder INBOX\n  \
             sslproto tls1.2+ no sslcertck\n",
            port = server.imap_port
        ),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    // One fetchmail run delivering into a fresh folder; returns that folder's message digests.
    let fetch = |name: &str, extra: &[&str]| -> Vec<String> {
        let out = home.join(name);
        std::fs::create_dir_all(&out).unwrap();
        let mda = format!("cat > $(mktemp {}/m.XXXXXXXX)", out.display());
        let mut cmd = Command::new(&fetchmail);
        cmd.arg("-f")
            .arg(&rc)
            .args([
                "--nodetach",
                "--invisible",
                "--norewrite",
                "--bad-header",
                "accept",
            ])
            .args(extra)
            .args(["--mda", &mda])
            // Its lock file goes here, not to /var/run (as root) or $HOME: two tests run at once.
            .arg("--pidfile")
            .arg(home.join("fetchmail.pid"))
            .env("HOME", &home);
        // fetchmail exits 1 when there was no mail; every run here has some.
        run(&mut cmd, &format!("fetchmail {extra:?}"));
        serde_json::from_str(&state_py(&["files", &out.display().to_string()])).unwrap()
    };

    let before = server_state(server);
    let got = fetch("all-kept", &["--keep", "--all"]);
    let after = server_state(server);
    let (digests, seen) = server_digests(&after, "INBOX");
    assert_eq!(got.len(), count);
    assert_eq!(got, digests, "fetchmail --keep --all: the messages differ");
    assert_eq!(seen, count, "fetched messages are \\Seen on the server");
    assert_eq!(
        server_digests(&before, "INBOX").0,
        digests,
        "fetching changed the messages"
    );

    // The server side changes: 100 messages lose \Seen (all were seen), 3 arrive.
    server_change(server);
    let changed = server_state(server);
    let unseen: Vec<String> = {
        let mut v: Vec<String> = changed["INBOX"]
            .as_object()
            .unwrap()
            .values()
            .filter(|e| !e[0].as_array().unwrap().iter().any(|f| f == "\\Seen"))
            .map(|e| e[1].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(unseen.len(), count / 10 + 3);
    let got = fetch("new-kept", &["--keep"]);
    assert_eq!(
        got, unseen,
        "fetchmail --keep fetches exactly the unseen messages"
    );

    let left = server_digests(&server_state(server), "INBOX").0;
    assert_eq!(left.len(), count - count / 5 + 3);
    let got = fetch("all-flushed", &["--all"]);
    assert_eq!(got, left, "fetchmail --all (flush) fetches every message");
    let end = server_state(server);
    assert_eq!(
        end["INBOX"],
        serde_json::json!({}),
        "flushed INBOX is empty"
    );
    assert_eq!(
        end["Archive"], changed["Archive"],
        "fetchmail polls INBOX only"
    );
});

// --- mutt ----------------------------------------------------------------------------------------

/// Runs mutt on `mailbox` with keystrokes pushed at start-up (`push`), under `script` for the
/// terminal mutt insists on, and waits for it to quit.
fn mutt(script: &Path, home: &Path, rc: &Path, url: &str, keys: &str) {
    let cmd_file = home.join("mutt.sh");
    std::fs::write(
        &cmd_file,
        format!(
            "exec mutt -n -F '{}' -f '{url}' -e 'push \"{keys}\"'\n",
            rc.display()
        ),
    )
    .unwrap();
    let out = run(
        Command::new("timeout")
            .arg("300")
            .arg(script)
            .arg("-qec")
            .arg(format!("sh '{}'", cmd_file.display()))
            .arg("/dev/null")
            .env("TERM", "vt100")
            .env("HOME", home),
        "mutt",
    );
    // The screen mutt drew, without escape sequences, for the error messages it shows there.
    let screen: String = {
        let mut text = String::new();
        let mut chars = out.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                for n in chars.by_ref() {
                    if n.is_ascii_alphabetic() && n != '[' {
                        break;
                    }
                }
                text.push(' ');
            } else {
                text.push(c);
            }
        }
        text
    };
    for bad in ["Error", "rror copying", "Could not", "failed", "No such"] {
        assert!(!screen.contains(bad), "mutt reported a problem:\n{screen}");
    }
}

// mutt is a mail reader, not a sync tool, and its batch mode only sends mail; it is driven here by
// keystrokes pushed at start-up. What it can do is what a user does: read INBOX over IMAP, copy
// every message to a local Maildir (its "side", with flags in the file names), then flag, toggle
// \Seen, save to another folder (a move: copy, then delete and expunge) and delete by pattern.
// Messages are matched by Message-ID (corpus-N is the N-th seeded message), so mutt's changes
// are the same change set as the other clients'. 1,000 messages that mutt copies without
// rewriting more than the Content-Length and Lines fields (state.py mutt_stable()); the copies are
// compared by Message-ID, since mutt's Maildir copies carry no UID.
both_stores!(mutt_read_change_and_copy, |server: &Server| {
    let (Some(_), Some(script)) = (tool("mutt"), tool("script")) else {
        common::skipped("mutt test needs mutt and script (Debian packages mutt, bsdutils)");
        return;
    };
    let count = 1000;
    if seed(server, count, Some("mutt-stable")).is_none() {
        return;
    }
    let home = server.dir.path().join("mutt");
    std::fs::create_dir_all(&home).unwrap();
    let rc = home.join("muttrc");
    let base = format!("imap://127.0.0.1:{}/", server.imap_port);
    std::fs::write(
        &rc,
        format!(
            "set imap_user=\"{USER}\"\nset imap_pass=\"{PASS}\"\nset folder=\"{base}\"\n\
             set spoolfile=\"+INBOX\"\nset ssl_starttls=no\nset ssl_force_tls=no\n\
             set mbox_type=Maildir\nset confirmappend=no\nset confirmcreate=no\nset delete=yes\n\
             set move=no\nset mark_old=no\nset header_cache=\"\"\nset quit=yes\n\
             set sort=mailbox-order\nset wait_key=no\nset beep=no\n"
        ),
    )
    .unwrap();
    let port = server.imap_port.to_string();
    let server_view = |boxes: &[&str]| -> Value {
        let mut args = vec!["server-by-mid", &port, USER, PASS];
        args.extend(boxes);
        serde_json::from_str(&state_py(&args)).unwrap()
    };
    // Copies every message of the named mailboxes into a fresh folder of Maildirs.
    let copy_all = |name: &str, boxes: &[&str]| -> Value {
        let root = home.join(name);
        std::fs::create_dir_all(&root).unwrap();
        let mut keys = String::new();
        for (i, b) in boxes.iter().enumerate() {
            if i > 0 {
                keys.push_str(&format!("<change-folder>={b}<enter>"));
            }
            keys.push_str(&format!(
                "<tag-pattern>~A<enter><tag-prefix><copy-message>{}/{b}<enter>",
                root.display()
            ));
        }
        keys.push_str("<quit>");
        mutt(&script, &home, &rc, &format!("{base}INBOX"), &keys);
        serde_json::from_str(&state_py(&["mutt-copy", &root.display().to_string()])).unwrap()
    };

    let first = copy_all("copy1", &["INBOX"]);
    let server1 = server_view(&["INBOX"]);
    assert_eq!(server1["INBOX"].as_object().unwrap().len(), count);
    assert_same_state(&first, &server1, "mutt first copy");

    server_change(server);
    let by_id = |digit: u32| format!("~i corpus-[0-9]*{digit}@");
    let keys = format!(
        "<tag-pattern>{f}<enter><tag-prefix><set-flag>!<untag-pattern>~A<enter>\
         <tag-pattern>{s}<enter><tag-prefix><toggle-new><untag-pattern>~A<enter>\
         <tag-pattern>{m}<enter><tag-prefix><save-message>=Archive<enter><untag-pattern>~A<enter>\
         <delete-pattern>{d}<enter><sync-mailbox><quit>",
        f = by_id(5),
        s = by_id(6),
        m = by_id(7),
        d = by_id(8),
    );
    mutt(&script, &home, &rc, &format!("{base}INBOX"), &keys);
    let after = server_state(server);
    assert_eq!(summary(&after), expected_summary(count), "mutt");

    let second = copy_all("copy2", &["INBOX", "Archive"]);
    let server2 = server_view(&["INBOX", "Archive"]);
    assert_same_state(&second, &server2, "mutt copy after the changes");
});
