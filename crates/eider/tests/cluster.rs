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

/// Opens `GET /users/{user}/updates` (Server-Sent Events) on an instance's API port.
fn open_updates(server: &Server, user: &str) -> LineClient {
    let mut c = LineClient::connect(server.api_port);
    // Shorter than the stream's 30 s keep-alive, so a missing event fails instead of hanging.
    c.writer
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    c.send(
        format!(
            "GET /users/{user}/updates HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    assert_eq!(c.line(), "HTTP/1.1 200 OK\r\n");
    let mut head = String::new();
    while !head.ends_with("\r\n\r\n") {
        head.push_str(&c.line());
    }
    assert!(
        head.to_lowercase()
            .contains("content-type: text/event-stream"),
        "{head}"
    );
    c
}

/// Reads the next SSE event that has an id: (id, data as JSON). Chunk-size lines of the HTTP/1.1
/// chunked body and comment lines are skipped.
fn next_event(c: &mut LineClient) -> (i64, serde_json::Value) {
    let mut id = None;
    let mut data = String::new();
    loop {
        let line = c.line();
        assert!(!line.is_empty(), "stream closed");
        let line = line.trim_end_matches(['\r', '\n']);
        if let Some(v) = line.strip_prefix("id:") {
            id = Some(v.trim().parse().unwrap());
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push_str(v.trim_start());
        } else if let (true, Some(id), false) = (line.is_empty(), id, data.is_empty()) {
            return (id, serde_json::from_str(&data).unwrap());
        }
    }
}

/// The next SSE event, which must arrive within a second of `since` and directly follow `last_id`.
fn event_within_a_second(
    c: &mut LineClient,
    since: Instant,
    last_id: &mut i64,
) -> serde_json::Value {
    let (id, event) = next_event(c);
    assert!(
        since.elapsed() < Duration::from_secs(1),
        "{event} took {:?}",
        since.elapsed()
    );
    assert_eq!(
        id,
        *last_id + 1,
        "event ids must follow each other: {event}"
    );
    *last_id = id;
    event
}

#[test]
fn idle_on_a_hears_lmtp_on_b_and_flags_on_c_within_a_second() {
    use serde_json::json;
    let prefix = common::unique_redis_prefix();
    let Some(nodes) = common::pg_redis_cluster(3, &[("EIDER_REDIS_PREFIX", &prefix)]) else {
        return;
    };
    let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);
    let user = a.add_user("ida", "pw", "ida@example.com");
    let inbox = a.pg_query(&format!(
        "SELECT id FROM mailboxes WHERE user_id = '{user}' AND path = 'INBOX'"
    ));
    let mut idler = login(a, "ida", "pw");
    command(&mut idler, "s", "SELECT INBOX");
    idler.send(b"i IDLE\r\n");
    assert_eq!(idler.line(), "+ idling\r\n");
    // An SSE client on C, from the journal head on (ids are journal sequence numbers).
    let mut sse = open_updates(c, &user);
    let mut last_id: i64 = a
        .pg_query(&format!(
            "SELECT journal_seq FROM users WHERE id = '{user}'"
        ))
        .parse()
        .unwrap();

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
        let mut added = event_within_a_second(&mut sse, sent, &mut last_id);
        assert_eq!(added["message"].as_str().map(str::len), Some(24), "{added}");
        assert!(added["idate"].is_string(), "{added}");
        for key in ["message", "idate"] {
            added.as_object_mut().unwrap().remove(key);
        }
        assert_eq!(
            added,
            json!({"command": "EXISTS", "mailbox": inbox, "uid": n, "unseen": true})
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
        let mut flagged = event_within_a_second(&mut sse, sent, &mut last_id);
        assert_eq!(
            flagged["message"].as_str().map(str::len),
            Some(24),
            "{flagged}"
        );
        flagged.as_object_mut().unwrap().remove("message");
        assert_eq!(
            flagged,
            json!({"command": "FETCH", "mailbox": inbox, "uid": n, "flags": ["\\Flagged"]})
        );
    }
    let sent = Instant::now();
    command(&mut writer, "e", "UID STORE 2 +FLAGS.SILENT (\\Deleted)");
    assert_eq!(
        line_within_a_second(&mut idler, sent),
        "* 2 FETCH (UID 2 FLAGS (\\Flagged \\Deleted \\Recent))\r\n"
    );
    let mut deleted = event_within_a_second(&mut sse, sent, &mut last_id);
    deleted.as_object_mut().unwrap().remove("message");
    assert_eq!(
        deleted,
        json!({"command": "FETCH", "mailbox": inbox, "uid": 2, "flags": ["\\Flagged", "\\Deleted"]})
    );
    let sent = Instant::now();
    command(&mut writer, "x", "EXPUNGE");
    assert_eq!(line_within_a_second(&mut idler, sent), "* 2 EXPUNGE\r\n");
    assert_eq!(
        event_within_a_second(&mut sse, sent, &mut last_id),
        json!({"command": "EXPUNGE", "mailbox": inbox, "uid": 2})
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
    // A QRESYNC client on the victim that will lose its connection and resume elsewhere.
    let mut observer = login_port(victim_imap, "kim");
    assert_eq!(
        command(&mut observer, "e", "ENABLE QRESYNC"),
        "* ENABLED QRESYNC\r\ne OK ENABLE completed.\r\n"
    );
    let validity = number_after(
        &command(&mut observer, "s", "SELECT INBOX"),
        "[UIDVALIDITY ",
    );
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (acked, tried, known) = std::thread::scope(|s| {
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
        // Mid-stream, the observer learns what is there so far (UID, MODSEQ, subject)...
        std::thread::sleep(Duration::from_millis(750));
        let started = Instant::now();
        let known = loop {
            let fetched = command(
                &mut observer,
                "k",
                "UID FETCH 1:* (MODSEQ BODY.PEEK[HEADER.FIELDS (SUBJECT)])",
            );
            let known = parse_fetched(&fetched);
            if known.len() >= 2 {
                break known;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "{fetched}");
            std::thread::sleep(Duration::from_millis(100));
        };
        std::thread::sleep(Duration::from_millis(750));
        nodes[1].kill();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let (mut acked, mut tried) = appender.join().unwrap();
        let (acked2, tried2) = deliverer.join().unwrap();
        acked.extend(acked2);
        tried.extend(tried2);
        (acked, tried, known)
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

    // A message the observer knew is flagged through the survivor while it is away.
    let (&flagged_uid, _) = known.iter().next().unwrap();
    command(&mut c, "s", "SELECT INBOX");
    command(
        &mut c,
        "f",
        &format!("UID STORE {flagged_uid} +FLAGS.SILENT (\\Flagged)"),
    );

    let subjects = inbox_subjects(survivor, "kim");

    // The observer reconnects to the survivor and resynchronises from what it knew: same
    // UIDVALIDITY, nothing vanished, the flag change and every message it had not seen reported.
    let known_modseq = known.values().map(|(modseq, _)| *modseq).max().unwrap();
    let known_uids = known
        .keys()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let mut observer = login(survivor, "kim", "pw");
    command(&mut observer, "e", "ENABLE QRESYNC");
    let resync = command(
        &mut observer,
        "s",
        &format!("SELECT INBOX (QRESYNC ({validity} {known_modseq} {known_uids}))"),
    );
    assert!(
        resync.contains(&format!("* OK [UIDVALIDITY {validity}]")),
        "{resync}"
    );
    assert!(!resync.contains("VANISHED"), "{resync}");
    assert!(
        resync.contains(&format!("* {} EXISTS\r\n", subjects.len())),
        "{resync}"
    );
    let mut changed: Vec<u32> = resync
        .lines()
        .filter(|l| l.starts_with("* ") && l.contains(" FETCH (UID "))
        .map(|l| number_after(l, "FETCH (UID ") as u32)
        .collect();
    assert!(
        resync.contains(&format!(
            "FETCH (UID {flagged_uid} FLAGS (\\Flagged) MODSEQ ("
        )),
        "{resync}"
    );
    changed.retain(|uid| *uid != flagged_uid);
    assert!(
        changed.iter().all(|uid| !known.contains_key(uid)),
        "unchanged known messages reported: {changed:?} {resync}"
    );
    let mut view: std::collections::BTreeMap<u32, String> = known
        .iter()
        .map(|(uid, (_, subject))| (*uid, subject.clone()))
        .collect();
    if !changed.is_empty() {
        let list = changed
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let fetched = command(
            &mut observer,
            "n",
            &format!("UID FETCH {list} (MODSEQ BODY.PEEK[HEADER.FIELDS (SUBJECT)])"),
        );
        view.extend(
            parse_fetched(&fetched)
                .into_iter()
                .map(|(uid, (_, subject))| (uid, subject)),
        );
    }
    assert_eq!(
        view.into_values().collect::<Vec<_>>(),
        subjects,
        "the resynchronised view differs from the mailbox"
    );

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

/// The number right after `key` in `text`.
fn number_after(text: &str, key: &str) -> u64 {
    let start = text.find(key).unwrap_or_else(|| panic!("{key} in {text}")) + key.len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse()
        .unwrap()
}

/// UID → (MODSEQ, subject) from the answer to `FETCH (MODSEQ BODY.PEEK[HEADER.FIELDS (SUBJECT)])`.
fn parse_fetched(answer: &str) -> std::collections::BTreeMap<u32, (u64, String)> {
    let mut out = std::collections::BTreeMap::new();
    let mut current = None;
    for line in answer.lines() {
        if line.starts_with("* ") && line.contains(" FETCH (") {
            current = Some((
                number_after(line, "UID ") as u32,
                number_after(line, "MODSEQ ("),
            ));
        } else if let (Some(subject), Some((uid, modseq))) =
            (line.strip_prefix("Subject: "), current)
        {
            out.insert(uid, (modseq, subject.to_string()));
        }
    }
    out
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

/// A `redis-server` of the test's own on a free loopback port, with no persistence: killing it
/// loses everything it held, as a crashed Redis without AOF does.
struct PrivateRedis {
    port: u16,
    child: std::process::Child,
}

impl PrivateRedis {
    /// None (loudly) when redis-server is not installed.
    fn start(port: u16) -> Option<PrivateRedis> {
        let child = match std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(_) => {
                common::skipped("redis-server is not installed (apt-get install redis-server)");
                return None;
            }
        };
        let redis = PrivateRedis { port, child };
        let started = Instant::now();
        let pong = || {
            std::process::Command::new("redis-cli")
                .args(["-u", &redis.url(), "PING"])
                .output()
                .is_ok_and(|out| out.stdout == b"PONG\n")
        };
        while !pong() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(redis)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// SIGKILL.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits until `server`'s log contains `needle` at least `times` times.
fn wait_log_count(server: &Server, needle: &str, times: usize) {
    let started = Instant::now();
    while server.log().matches(needle).count() < times {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{needle:?} not {times} times in:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn redis_restarted_mid_test_delays_notifications_but_loses_none() {
    let Some(mut redis) = PrivateRedis::start(common::free_port()) else {
        return;
    };
    let url = redis.url();
    let env = [("EIDER_REDIS_URL", url.as_str())];
    let Some(a) = Server::start_with(common::Backend::Postgres, &env) else {
        return;
    };
    let b = a.instance_with(&env);
    let subscribed = "subscribed to cluster notifications";
    wait_log_count(&a, subscribed, 1);
    wait_log_count(&b, subscribed, 1);
    let user = a.add_user("rex", "pw", "rex@example.com");
    let mut idler = login(&a, "rex", "pw");
    command(&mut idler, "s", "SELECT INBOX");
    idler.send(b"i IDLE\r\n");
    assert_eq!(idler.line(), "+ idling\r\n");
    let mut sse = open_updates(&a, &user);
    let mut lmtp = lmtp_connect(&b);
    let exists = |c: &mut LineClient, uid: u32| {
        let (_, event) = next_event(c);
        assert_eq!(event["command"], "EXISTS", "{event}");
        assert_eq!(event["uid"], uid, "{event}");
    };

    let sent = Instant::now();
    assert!(lmtp_deliver(&mut lmtp, "rex@example.com", "before"));
    assert_eq!(line_within_a_second(&mut idler, sent), "* 1 EXISTS\r\n");
    assert_eq!(line_within_a_second(&mut idler, sent), "* 1 RECENT\r\n");
    exists(&mut sse, 1);

    // Redis dies, losing every subscription; a delivery while it is down is still accepted
    // (the store is the truth) but nobody can announce it to A.
    redis.kill();
    assert!(lmtp_deliver(&mut lmtp, "rex@example.com", "during"));
    std::thread::sleep(Duration::from_millis(500));
    let restarted = Instant::now();
    let redis = PrivateRedis::start(redis.port).expect("redis-server ran a moment ago");
    // Back up: A re-reads on resubscribing, B announces what it could not publish; either way A's
    // IDLE and SSE clients hear of the message delivered during the outage, long before their
    // 30 s safety poll.
    assert_eq!(idler.line(), "* 2 EXISTS\r\n");
    assert_eq!(idler.line(), "* 2 RECENT\r\n");
    exists(&mut sse, 2);
    assert!(
        restarted.elapsed() < Duration::from_secs(10),
        "{:?}",
        restarted.elapsed()
    );
    wait_log_count(&a, subscribed, 2);
    wait_log_count(&b, subscribed, 2);
    b.wait_log("Redis takes notifications again");

    // The live path works again.
    let sent = Instant::now();
    assert!(lmtp_deliver(&mut lmtp, "rex@example.com", "after"));
    assert_eq!(line_within_a_second(&mut idler, sent), "* 3 EXISTS\r\n");
    assert_eq!(line_within_a_second(&mut idler, sent), "* 3 RECENT\r\n");
    exists(&mut sse, 3);
    assert!(sent.elapsed() < Duration::from_secs(1));
    idler.send(b"DONE\r\n");
    assert_eq!(idler.line(), "i OK IDLE terminated.\r\n");
    drop(redis);
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

/// WildDuck's `receivedMax` counts deliveries on every instance together.
#[test]
fn received_max_counts_deliveries_on_all_instances() {
    let prefix = common::unique_redis_prefix();
    let env = [("EIDER_REDIS_PREFIX", prefix.as_str())];
    let Some(nodes) = common::pg_redis_cluster(2, &env) else {
        return;
    };
    let created = common::api_request(
        nodes[0].api_port,
        "POST",
        "/users",
        Some(
            r#"{"username":"ruth","password":"secret123","address":"ruth@example.com","receivedMax":3}"#,
        ),
    );
    assert_eq!(created.status, 200, "{:?}", created.body);
    let mut a = lmtp_connect(&nodes[0]);
    let mut b = lmtp_connect(&nodes[1]);
    assert!(lmtp_deliver(&mut a, "ruth@example.com", "a1"));
    assert!(lmtp_deliver(&mut b, "ruth@example.com", "b1"));
    assert!(lmtp_deliver(&mut a, "ruth@example.com", "a2"));
    // The fourth within the minute is refused, whichever instance takes it.
    assert!(!lmtp_deliver(&mut b, "ruth@example.com", "b2"));
    assert!(!lmtp_deliver(&mut a, "ruth@example.com", "a3"));
    assert_eq!(
        common::inbox_count(nodes[1].imap_port, "ruth", "secret123"),
        3
    );
}

/// WildDuck's imapMaxUpload counts APPENDs on every instance together.
#[test]
fn daily_upload_limit_counts_appends_on_all_instances() {
    let prefix = common::unique_redis_prefix();
    let env = [("EIDER_REDIS_PREFIX", prefix.as_str())];
    let Some(nodes) = common::pg_redis_cluster(2, &env) else {
        return;
    };
    let created = common::api_request(
        nodes[0].api_port,
        "POST",
        "/users",
        Some(
            r#"{"username":"una","password":"secret123","address":"una@example.com","imapMaxUpload":250}"#,
        ),
    );
    assert_eq!(created.status, 200, "{:?}", created.body);
    let message = format!("Subject: limit\r\n\r\n{}", "x".repeat(100 - 18));
    let mut a = login(&nodes[0], "una", "secret123");
    let mut b = login(&nodes[1], "una", "secret123");
    assert!(append(&mut a, "a1", &message) > 0);
    assert!(append(&mut b, "b1", &message) > 0);
    b.send(format!("b2 APPEND INBOX {{{}+}}\r\n{message}\r\n", message.len()).as_bytes());
    assert_eq!(
        b.until("b2 "),
        "b2 NO [LIMIT] Daily IMAP upload limit of 250 bytes reached.\r\n"
    );
}
