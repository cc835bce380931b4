//! Storage: attachment deduplication, byte-exact reassembly, and UID allocation across processes.

mod common;

use common::{Backend, LineClient, Server};

/// Deterministic incompressible bytes (xorshift), base64-encoded in 76-column lines.
fn attachment_base64(len: usize) -> String {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let bytes: Vec<u8> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    const TABLE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    let mut line = 0;
    for chunk in bytes.chunks(3) {
        let n = (chunk[0] as u32) << 16
            | (*chunk.get(1).unwrap_or(&0) as u32) << 8
            | *chunk.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
        line += 4;
        if line == 76 {
            out.push_str("\r\n");
            line = 0;
        }
    }
    out.push_str("\r\n");
    out
}

fn command(c: &mut LineClient, tag: &str, cmd: &str) -> String {
    c.send(format!("{tag} {cmd}\r\n").as_bytes());
    c.until(&format!("{tag} "))
}

both_stores!(
    one_mib_attachment_to_100_users_is_stored_once,
    |server: &Server| {
        let users = 100;
        for i in 0..users {
            server.add_user(&format!("user{i}"), "pw", &format!("user{i}@example.com"));
        }
        let attachment = attachment_base64(1024 * 1024);
        let message = format!(
            "From: sender@example.org\r\nSubject: report\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"XYZ\"\r\n\r\n--XYZ\r\n\
         Content-Type: text/plain\r\n\r\nSee attached.\r\n--XYZ\r\n\
         Content-Type: application/octet-stream; name=\"report.bin\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{attachment}--XYZ--\r\n"
        );
        let mut lmtp = LineClient::connect(server.lmtp_port);
        lmtp.line();
        lmtp.send(b"LHLO test\r\n");
        lmtp.until("250 ");
        let mut envelope = String::from("MAIL FROM:<sender@example.org>\r\n");
        for i in 0..users {
            envelope.push_str(&format!("RCPT TO:<user{i}@example.com>\r\n"));
        }
        envelope.push_str("DATA\r\n");
        lmtp.send(envelope.as_bytes());
        for _ in 0..=users {
            assert!(lmtp.line().starts_with("250 "));
        }
        assert!(lmtp.line().starts_with("354 "));
        lmtp.send(message.as_bytes());
        lmtp.send(b".\r\n");
        for i in 0..users {
            let reply = lmtp.line();
            assert_eq!(
                reply,
                format!("250 2.0.0 <user{i}@example.com> delivered\r\n"),
                "recipient {i}"
            );
        }

        // Every user reads the attachment back byte for byte.
        for i in [0, 57, 99] {
            let mut c = LineClient::connect(server.imap_port);
            c.line();
            command(&mut c, "a", &format!("LOGIN user{i} pw"));
            command(&mut c, "b", "SELECT INBOX");
            // The CRLF before the closing boundary belongs to the boundary (RFC 2046 §5.1.1).
            let body = attachment.strip_suffix("\r\n").unwrap();
            c.send(b"c FETCH 1 (BODY.PEEK[2])\r\n");
            let head = c.line();
            assert_eq!(head, format!("* 1 FETCH (BODY[2] {{{}}}\r\n", body.len()));
            assert_eq!(c.read_exact(body.len()), body.as_bytes());
        }

        // One blob holds the attachment, referenced once per user.
        let stored = match server.backend {
            Backend::Sqlite => {
                let mut files = Vec::new();
                let mut stack = vec![server.data_dir().join("blobs")];
                while let Some(dir) = stack.pop() {
                    for entry in std::fs::read_dir(dir).unwrap().flatten() {
                        if entry.path().is_dir() {
                            stack.push(entry.path());
                        } else {
                            files.push(entry.metadata().unwrap().len());
                        }
                    }
                }
                assert_eq!(files.len(), 1, "blob files: {files:?}");
                files[0]
            }
            Backend::Postgres => {
                assert_eq!(
                    server.pg_query("SELECT COUNT(*), SUM(refcount) FROM blobs"),
                    format!("1|{users}")
                );
                server
                    .pg_query("SELECT stored_size FROM blobs")
                    .parse()
                    .unwrap()
            }
        };
        let raw_total = (message.len() * users) as u64;
        eprintln!("raw bytes delivered: {raw_total}, attachment blob stored: {stored} bytes");
        assert!(
            stored <= attachment.len() as u64 + 64,
            "blob is {stored} bytes"
        );
    }
);

#[test]
fn two_processes_on_one_postgres_never_share_a_uid() {
    let Some(a) = Server::start_postgres() else {
        return;
    };
    let b = a.second_instance();
    a.add_user("shared", "pw", "shared@example.com");
    let per_writer = 25;
    let writers: Vec<_> = [a.imap_port, a.imap_port, b.imap_port, b.imap_port]
        .into_iter()
        .enumerate()
        .map(|(w, port)| {
            std::thread::spawn(move || {
                let mut c = LineClient::connect(port);
                c.line();
                command(&mut c, "l", "LOGIN shared pw");
                let mut uids = Vec::new();
                for i in 0..per_writer {
                    let msg = format!("Subject: writer {w} message {i}\r\n\r\nbody\r\n");
                    c.send(format!("a{i} APPEND INBOX {{{}+}}\r\n{msg}\r\n", msg.len()).as_bytes());
                    let answer = c.until(&format!("a{i} "));
                    let uid: u32 = answer
                        .trim_end()
                        .split(' ')
                        .nth(4)
                        .and_then(|s| s.strip_suffix(']'))
                        .unwrap_or_else(|| panic!("{answer}"))
                        .parse()
                        .unwrap();
                    uids.push(uid);
                }
                uids
            })
        })
        .collect();
    let mut all: Vec<u32> = writers
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    all.sort_unstable();
    let expected: Vec<u32> = (1..=4 * per_writer).collect();
    assert_eq!(all, expected, "UIDs must be unique and gapless");
    let mut c = LineClient::connect(b.imap_port);
    c.line();
    command(&mut c, "l", "LOGIN shared pw");
    let status = command(&mut c, "s", "STATUS INBOX (MESSAGES UIDNEXT)");
    assert_eq!(
        status,
        format!(
            "* STATUS \"INBOX\" (MESSAGES {0} UIDNEXT {1})\r\ns OK Status completed.\r\n",
            4 * per_writer,
            4 * per_writer + 1
        )
    );
}
