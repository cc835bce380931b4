//! Cluster end to end: several `eider serve` processes on one PostgreSQL database and one Redis,
//! talking to clients over real sockets. Each test uses its own database and Redis key prefix.

mod common;

use common::{LineClient, Server};
use std::collections::HashMap;
use std::time::{Duration, Instant};

fn login(server: &Server, user: &str, password: &str) -> LineClient {
    let mut c = LineClient::connect(server.imap_port);
    let greeting = c.line();
    assert!(greeting.starts_with("* OK "), "{greeting}");
    c.send(format!("L LOGIN {user} {password}\r\n").as_bytes());
    let answer = c.until("L ");
    assert!(answer.starts_with("L OK "), "{answer}");
    c
}

/// The tagged answer to a LOGIN (after the greeting), for limit checks.
fn try_login(server: &Server, user: &str, password: &str) -> String {
    let mut c = LineClient::connect(server.imap_port);
    c.line();
    c.send(format!("L LOGIN {user} {password}\r\n").as_bytes());
    c.until("L ")
}

fn command(c: &mut LineClient, tag: &str, cmd: &str) -> String {
    c.send(format!("{tag} {cmd}\r\n").as_bytes());
    c.until(&format!("{tag} "))
}

/// APPENDs one message; returns the assigned UID.
fn append(c: &mut LineClient, tag: &str, message: &str) -> u32 {
    c.send(format!("{tag} APPEND INBOX {{{}+}}\r\n{message}\r\n", message.len()).as_bytes());
    let answer = c.until(&format!("{tag} "));
    let start = answer
        .find("[APPENDUID ")
        .unwrap_or_else(|| panic!("{answer}"));
    let uid = answer[start + 11..].split([' ', ']']).nth(1).unwrap();
    uid.parse().unwrap()
}

/// One LMTP transaction on an open connection; true when the message was accepted.
fn lmtp_deliver(c: &mut LineClient, to: &str, subject: &str) -> bool {
    c.send(
        format!(
            "MAIL FROM:<s@remote.example>\r\nRCPT TO:<{to}>\r\nDATA\r\n\
             Subject: {subject}\r\n\r\nbody\r\n.\r\n"
        )
        .as_bytes(),
    );
    let replies: Vec<String> = (0..4).map(|_| c.line()).collect();
    replies[3].starts_with("250 ")
}

fn lmtp_connect(server: &Server) -> LineClient {
    let mut c = LineClient::connect(server.lmtp_port);
    c.line();
    c.send(b"LHLO test\r\n");
    c.until("250 ");
    c
}

/// Reads one line and checks it arrived within a second of `since`.
fn line_within_a_second(c: &mut LineClient, since: Instant) -> String {
    let line = c.line();
    assert!(
        since.elapsed() < Duration::from_secs(1),
        "{line:?} took {:?}",
        since.elapsed()
    );
    line
}

#[test]
fn idle_on_a_hears_lmtp_on_b_and_flags_on_c_within_a_second() {
    let prefix = common::unique_redis_prefix();
    let Some(nodes) = common::pg_redis_cluster(3, &[("EIDER_REDIS_PREFIX", &prefix)]) else {
        return;
    };
    let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);
    a.add_user("ida", "pw", "ida@example.com");
    let mut idler = login(a, "ida", "pw");
    command(&mut idler, "s", "SELECT INBOX");
    idler.send(b"i IDLE\r\n");
    assert_eq!(idler.line(), "+ idling\r\n");

    let mut lmtp = lmtp_connect(b);
    let mut writer = login(c, "ida", "pw");
    command(&mut writer, "s", "SELECT INBOX");
    for n in 1..=3u32 {
        let sent = Instant::now();
        assert!(lmtp_deliver(&mut lmtp, "ida@example.com", &format!("m{n}")));
        assert_eq!(
            line_within_a_second(&mut idler, sent),
            format!("* {n} EXISTS\r\n")
        );
        assert_eq!(
            line_within_a_second(&mut idler, sent),
            format!("* {n} RECENT\r\n")
        );
        // C learns of the new message first (a session acts only on UIDs it has reported).
        assert!(command(&mut writer, "n", "NOOP").contains(&format!("* {n} EXISTS\r\n")));
        let sent = Instant::now();
        command(
            &mut writer,
            "f",
            &format!("UID STORE {n} +FLAGS.SILENT (\\Flagged)"),
        );
        assert_eq!(
            line_within_a_second(&mut idler, sent),
            format!("* {n} FETCH (UID {n} FLAGS (\\Flagged \\Recent))\r\n")
        );
    }
    let sent = Instant::now();
    command(&mut writer, "e", "UID STORE 2 +FLAGS.SILENT (\\Deleted)");
    command(&mut writer, "x", "EXPUNGE");
    let got = [
        line_within_a_second(&mut idler, sent),
        line_within_a_second(&mut idler, sent),
    ];
    // The flag change and the expunge may be reported together or one by one, but in order.
    assert_eq!(
        got,
        [
            "* 2 FETCH (UID 2 FLAGS (\\Flagged \\Deleted \\Recent))\r\n".to_string(),
            "* 2 EXPUNGE\r\n".to_string()
        ]
    );
    idler.send(b"DONE\r\n");
    assert_eq!(idler.line(), "i OK IDLE terminated.\r\n");
}

#[test]
fn three_writers_on_three_instances_get_unique_increasing_uids() {
    let prefix = common::unique_redis_prefix();
    let Some(nodes) = common::pg_redis_cluster(3, &[("EIDER_REDIS_PREFIX", &prefix)]) else {
        return;
    };
    nodes[0].add_user("wanda", "pw", "wanda@example.com");
    const EACH: usize = 25;
    let uids: Vec<Vec<u32>> = std::thread::scope(|s| {
        let writers: Vec<_> = nodes
            .iter()
            .enumerate()
            .map(|(w, node)| {
                s.spawn(move || {
                    let mut c = login(node, "wanda", "pw");
                    (0..EACH)
                        .map(|i| {
                            let msg = format!("Subject: w{w}-{i}\r\n\r\nfrom writer {w}\r\n");
                            append(&mut c, &format!("a{i}"), &msg)
                        })
                        .collect()
                })
            })
            .collect();
        writers.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (w, list) in uids.iter().enumerate() {
        assert!(
            list.windows(2).all(|p| p[0] < p[1]),
            "writer {w} UIDs not increasing: {list:?}"
        );
    }
    let mut all: Vec<u32> = uids.concat();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 3 * EACH, "duplicate UIDs: {uids:?}");
    let mut reader = login(&nodes[1], "wanda", "pw");
    let select = command(&mut reader, "s", "SELECT INBOX");
    assert!(
        select.contains(&format!("* {} EXISTS\r\n", 3 * EACH)),
        "{select}"
    );
    let search = command(&mut reader, "u", "UID SEARCH ALL");
    let listed: Vec<u32> = search
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("* SEARCH")
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(listed, all);
}

/// Subjects of every message in INBOX, in UID order, read through `server`.
fn inbox_subjects(server: &Server, user: &str) -> Vec<String> {
    let mut c = login(server, user, "pw");
    command(&mut c, "s", "SELECT INBOX");
    let fetched = command(
        &mut c,
        "f",
        "FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])",
    );
    fetched
        .lines()
        .filter_map(|l| l.strip_prefix("Subject: "))
        .map(str::to_string)
        .collect()
}

#[test]
fn sigkill_mid_stream_loses_no_acknowledged_message_and_duplicates_none() {
    let prefix = common::unique_redis_prefix();
    let Some(mut nodes) = common::pg_redis_cluster(2, &[("EIDER_REDIS_PREFIX", &prefix)]) else {
        return;
    };
    nodes[0].add_user("kim", "pw", "kim@example.com");
    let (victim_imap, victim_lmtp) = (nodes[1].imap_port, nodes[1].lmtp_port);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (acked, tried) = std::thread::scope(|s| {
        let stop = &stop;
        // Each writer works against the victim until it dies, then reconnects to the survivor and
        // writes a few more (a client resuming elsewhere).
        let appender = s.spawn(move || {
            let mut acked = vec![];
            let mut tried = vec![];
            let mut c = login_port(victim_imap, "kim");
            for i in 0.. {
                let subject = format!("append-{i}");
                tried.push(subject.clone());
                let msg = format!("Subject: {subject}\r\n\r\nbody {i}\r\n");
                let tag = format!("a{i}");
                let sent = c.writer.write_all_ok(
                    format!("{tag} APPEND INBOX {{{}+}}\r\n{msg}\r\n", msg.len()).as_bytes(),
                );
                match sent.then(|| read_tagged(&mut c, &tag)).flatten() {
                    Some(answer) if answer.contains("OK [APPENDUID") => acked.push(subject),
                    Some(answer) => panic!("APPEND refused: {answer}"),
                    None => break,
                }
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
            }
            (acked, tried)
        });
        let deliverer = s.spawn(move || {
            let mut acked = vec![];
            let mut tried = vec![];
            let mut c = LineClient::connect(victim_lmtp);
            c.line();
            c.send(b"LHLO test\r\n");
            c.until("250 ");
            for i in 0.. {
                let subject = format!("lmtp-{i}");
                tried.push(subject.clone());
                let ok = c.writer.write_all_ok(
                    format!(
                        "MAIL FROM:<s@remote.example>\r\nRCPT TO:<kim@example.com>\r\nDATA\r\n\
                         Subject: {subject}\r\n\r\nbody\r\n.\r\n"
                    )
                    .as_bytes(),
                );
                let replies: Option<Vec<String>> = ok
                    .then(|| (0..4).map(|_| read_line(&mut c)).collect())
                    .flatten();
                match replies {
                    Some(r) if r[3].starts_with("250 ") => acked.push(subject),
                    Some(r) => panic!("delivery refused: {r:?}"),
                    None => break,
                }
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
            }
            (acked, tried)
        });
        std::thread::sleep(Duration::from_millis(1500));
        nodes[1].kill();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let (mut acked, mut tried) = appender.join().unwrap();
        let (acked2, tried2) = deliverer.join().unwrap();
        acked.extend(acked2);
        tried.extend(tried2);
        (acked, tried)
    });
    assert!(
        acked.len() >= 4,
        "too little was written before the kill: {acked:?}"
    );
    // The clients resume on the survivor.
    let survivor = &nodes[0];
    let mut c = login(survivor, "kim", "pw");
    let after = "Subject: after-kill\r\n\r\nresumed\r\n";
    append(&mut c, "r", after);
    let mut lmtp = lmtp_connect(survivor);
    assert!(lmtp_deliver(
        &mut lmtp,
        "kim@example.com",
        "after-kill-lmtp"
    ));

    let subjects = inbox_subjects(survivor, "kim");
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for s in &subjects {
        *seen.entry(s.as_str()).or_default() += 1;
    }
    for s in &acked {
        assert_eq!(
            seen.get(s.as_str()),
            Some(&1),
            "acknowledged {s} not there exactly once"
        );
    }
    for (s, n) in &seen {
        assert_eq!(*n, 1, "{s} stored {n} times");
        assert!(
            tried.iter().any(|t| t == s) || s.starts_with("after-kill"),
            "unexpected {s}"
        );
    }
    // At most the one in flight per writer may be stored without an acknowledgement.
    assert!(
        subjects.len() <= acked.len() + 2 + 2,
        "{subjects:?} vs {acked:?}"
    );

    // Counters agree with rows: nothing half written.
    let user_id = survivor.pg_query("SELECT id FROM users WHERE username = 'kim'");
    let q = |sql: &str| survivor.pg_query(&sql.replace("$U", &user_id));
    let rows: usize = q(
        "SELECT count(*) FROM messages WHERE user_id = '$U' AND mailbox_id = \
                       (SELECT id FROM mailboxes WHERE user_id = '$U' AND path = 'INBOX')",
    )
    .parse()
    .unwrap();
    assert_eq!(rows, subjects.len());
    assert_eq!(
        q("SELECT count(*) FROM journal WHERE user_id = '$U' AND kind = 'add'"),
        rows.to_string(),
        "journal add entries vs message rows"
    );
    assert_eq!(
        q(
            "SELECT journal_seq = (SELECT max(seq) FROM journal WHERE user_id = '$U') FROM users WHERE id = '$U'"
        ),
        "t"
    );
    assert_eq!(
        q(
            "SELECT count(*) FROM mailboxes m WHERE user_id = '$U' AND (uid_next <= \
           (SELECT coalesce(max(uid), 0) FROM messages WHERE mailbox_id = m.id) OR highest_modseq < \
           (SELECT coalesce(max(modseq), 0) FROM messages WHERE mailbox_id = m.id))"
        ),
        "0",
        "a mailbox's UIDNEXT/HIGHESTMODSEQ behind its messages"
    );
    assert_eq!(
        q(
            "SELECT count(*) FROM contents c WHERE user_id = '$U' AND refcount <> \
           (SELECT count(*) FROM messages m WHERE m.user_id = c.user_id AND m.content_id = c.id)"
        ),
        "0",
        "content refcounts vs message rows"
    );
    assert_eq!(
        q(
            "SELECT storage_used = (SELECT coalesce(sum(size), 0) FROM messages WHERE user_id = '$U') \
           FROM users WHERE id = '$U'"
        ),
        "t",
        "storage_used vs message sizes"
    );
}

fn login_port(port: u16, user: &str) -> LineClient {
    let mut c = LineClient::connect(port);
    c.line();
    c.send(format!("L LOGIN {user} pw\r\n").as_bytes());
    assert!(c.until("L ").starts_with("L OK"));
    c
}

/// A line, or None when the connection died (the instance was killed).
fn read_line(c: &mut LineClient) -> Option<String> {
    use std::io::BufRead;
    let mut line = Vec::new();
    match c.reader.read_until(b'\n', &mut line) {
        Ok(n) if n > 0 && line.ends_with(b"\n") => Some(String::from_utf8_lossy(&line).into()),
        _ => None,
    }
}

fn read_tagged(c: &mut LineClient, tag: &str) -> Option<String> {
    loop {
        let line = read_line(c)?;
        if line.starts_with(&format!("{tag} ")) {
            return Some(line);
        }
    }
}

trait WriteOk {
    fn write_all_ok(&mut self, data: &[u8]) -> bool;
}

impl WriteOk for std::net::TcpStream {
    fn write_all_ok(&mut self, data: &[u8]) -> bool {
        std::io::Write::write_all(self, data).is_ok()
    }
}

/// Runs `redis-cli` against the test Redis with `args`; returns stdout.
fn redis_cli(url: &str, args: &[&str]) -> String {
    let out = std::process::Command::new("redis-cli")
        .arg("-u")
        .arg(url)
        .args(args)
        .output()
        .expect("redis-cli must be installed for cluster tests");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn killed_pubsub_connections_delay_notifications_but_lose_none() {
    let Some(redis) = common::redis_url() else {
        return;
    };
    // Our instances log in to Redis as their own ACL user, so only their subscriptions are killed
    // and parallel tests (or anything else on this Redis) keep theirs.
    let acl_user = format!("eidertest{}", std::process::id());
    redis_cli(
        &redis,
        &[
            "ACL", "SETUSER", &acl_user, "on", "nopass", "~*", "&*", "+@all",
        ],
    );
    let node_url = redis.replacen("redis://", &format!("redis://{acl_user}:x@"), 1);
    let prefix = common::unique_redis_prefix();
    let env = [
        ("EIDER_REDIS_PREFIX", prefix.as_str()),
        ("EIDER_REDIS_URL", &node_url),
    ];
    let Some(nodes) = common::pg_redis_cluster(2, &env) else {
        redis_cli(&redis, &["ACL", "DELUSER", &acl_user]);
        return;
    };
    let (a, b) = (&nodes[0], &nodes[1]);
    a.add_user("pia", "pw", "pia@example.com");
    let mut idler = login(a, "pia", "pw");
    command(&mut idler, "s", "SELECT INBOX");
    idler.send(b"i IDLE\r\n");
    assert_eq!(idler.line(), "+ idling\r\n");
    let mut lmtp = lmtp_connect(b);
    assert!(lmtp_deliver(&mut lmtp, "pia@example.com", "before"));
    let sent = Instant::now();
    assert_eq!(line_within_a_second(&mut idler, sent), "* 1 EXISTS\r\n");
    assert_eq!(line_within_a_second(&mut idler, sent), "* 1 RECENT\r\n");

    let killed = redis_cli(
        &redis,
        &["CLIENT", "KILL", "USER", &acl_user, "TYPE", "pubsub"],
    );
    assert_eq!(killed.trim(), "2", "one subscription per instance");
    // Delivered while A's subscription is down: nobody announces it to A's listeners...
    assert!(lmtp_deliver(&mut lmtp, "pia@example.com", "during"));
    // ...but A re-reads on resubscribing, well before the 30 s safety poll.
    let sent = Instant::now();
    assert_eq!(idler.line(), "* 2 EXISTS\r\n");
    assert_eq!(idler.line(), "* 2 RECENT\r\n");
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "{:?}",
        sent.elapsed()
    );
    // And the live path works again.
    std::thread::sleep(Duration::from_millis(300));
    let sent = Instant::now();
    assert!(lmtp_deliver(&mut lmtp, "pia@example.com", "after"));
    assert_eq!(line_within_a_second(&mut idler, sent), "* 3 EXISTS\r\n");
    assert_eq!(line_within_a_second(&mut idler, sent), "* 3 RECENT\r\n");
    assert!(a.log().contains("subscribed to cluster notifications"));
    drop(nodes);
    redis_cli(&redis, &["ACL", "DELUSER", &acl_user]);
}

#[test]
fn auth_failure_limits_hold_across_instances() {
    let prefix = common::unique_redis_prefix();
    let env = [
        ("EIDER_REDIS_PREFIX", prefix.as_str()),
        ("EIDER_LIMITS_AUTH_FAILURES_PER_USER", "3"),
        ("EIDER_LIMITS_AUTH_FAILURES_PER_IP", "6"),
    ];
    let Some(nodes) = common::pg_redis_cluster(3, &env) else {
        return;
    };
    nodes[0].add_user("rita", "pw", "rita@example.com");
    nodes[0].add_user("sam", "pw", "sam@example.com");
    for node in &nodes {
        assert_eq!(
            try_login(node, "rita", "wrong"),
            "L NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"
        );
    }
    // Three failures on three instances: even the right password is refused now, everywhere.
    for node in &nodes {
        assert_eq!(
            try_login(node, "RITA", "pw"),
            "L NO [UNAVAILABLE] Too many failed login attempts; try again later.\r\n"
        );
    }
    assert!(try_login(&nodes[0], "sam", "pw").starts_with("L OK "));
    // Three more failures from this address (for other names) exhaust the per-address budget.
    for (node, name) in nodes.iter().zip(["x1", "x2", "x3"]) {
        assert!(try_login(node, name, "wrong").starts_with("L NO [AUTHENTICATIONFAILED]"));
    }
    assert_eq!(
        try_login(&nodes[2], "sam", "pw"),
        "L NO [UNAVAILABLE] Too many failed login attempts; try again later.\r\n"
    );
}

#[test]
fn connections_per_user_count_across_instances_and_expire_with_a_killed_instance() {
    let prefix = common::unique_redis_prefix();
    let env = [
        ("EIDER_REDIS_PREFIX", prefix.as_str()),
        ("EIDER_IMAP_MAX_CONNECTIONS_PER_USER", "2"),
        ("EIDER_REDIS_SLOT_TTL", "2"),
    ];
    let Some(mut nodes) = common::pg_redis_cluster(3, &env) else {
        return;
    };
    nodes[0].add_user("carl", "pw", "carl@example.com");
    let on_a = login(&nodes[0], "carl", "pw");
    let mut on_b = login(&nodes[1], "carl", "pw");
    let refused = "L NO [LIMIT] Too many connections for this user.\r\n";
    assert_eq!(try_login(&nodes[2], "carl", "pw"), refused);
    // A logout frees its slot at once.
    assert!(command(&mut on_b, "o", "LOGOUT").contains("o OK"));
    std::thread::sleep(Duration::from_millis(200));
    let _on_c = login(&nodes[2], "carl", "pw");
    assert_eq!(try_login(&nodes[1], "carl", "pw"), refused);
    // A killed instance releases nothing, but its slots stop being refreshed and expire.
    nodes[0].kill();
    drop(on_a);
    let killed = Instant::now();
    loop {
        let answer = try_login(&nodes[1], "carl", "pw");
        if answer.starts_with("L OK ") {
            break;
        }
        assert_eq!(answer, refused);
        assert!(
            killed.elapsed() < Duration::from_secs(6),
            "slot never expired"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    // Heartbeats keep live slots: well past the TTL, the two live logins still count.
    std::thread::sleep(Duration::from_secs(3));
    let _keep = login(&nodes[1], "carl", "pw");
    assert_eq!(try_login(&nodes[2], "carl", "pw"), refused);
}

/// Without Redis the same limit holds inside one instance (both stores).
fn single_instance_auth_limit(backend: common::Backend) {
    let env = [
        ("EIDER_LIMITS_AUTH_FAILURES_PER_USER", "2"),
        ("EIDER_LIMITS_AUTH_FAILURES_PER_IP", "0"),
    ];
    let Some(server) = Server::start_with(backend, &env) else {
        return;
    };
    server.add_user("tess", "pw", "tess@example.com");
    server.add_user("ugo", "pw", "ugo@example.com");
    for _ in 0..2 {
        assert!(try_login(&server, "tess", "bad").starts_with("L NO [AUTHENTICATIONFAILED]"));
    }
    assert_eq!(
        try_login(&server, "tess", "pw"),
        "L NO [UNAVAILABLE] Too many failed login attempts; try again later.\r\n"
    );
    assert!(try_login(&server, "ugo", "pw").starts_with("L OK "));
    assert!(!server.log().contains("cluster mode"));
}

#[test]
fn single_instance_auth_limit_sqlite() {
    single_instance_auth_limit(common::Backend::Sqlite);
}

#[test]
fn single_instance_auth_limit_postgres() {
    single_instance_auth_limit(common::Backend::Postgres);
}
