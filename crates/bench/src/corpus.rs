//! A seeded generator of realistic messages: plain text mail of a few KiB, and a share of
//! multipart/mixed messages carrying base64 attachments (some of them reused across messages, as
//! logos and forwarded documents are), so blob splitting and dedup are exercised the way real
//! delivery exercises them. Deterministic for a given seed; no files needed.

const WORDS: &[&str] = &[
    "the", "meeting", "report", "budget", "quarter", "please", "review", "attached", "draft",
    "schedule", "project", "update", "thanks", "regards", "customer", "invoice", "deadline",
    "team", "proposal", "contract", "minutes", "agenda", "follow", "up", "next", "week", "call",
    "numbers", "final", "version", "comments", "approve", "release", "server", "mail", "and",
    "for", "with", "this", "that", "we", "you", "our", "will", "have", "from", "about", "into",
];
const NAMES: &[&str] = &[
    "Alice Martin",
    "Bob Chen",
    "Carol Diaz",
    "Dave Okafor",
    "Erin Novak",
    "Frank Weber",
    "Grace Kim",
    "Heidi Larsen",
    "Ivan Petrov",
    "Judy Rossi",
];
const ATTACHMENT_TYPES: &[(&str, &str)] = &[
    ("application/pdf", "pdf"),
    ("image/jpeg", "jpg"),
    ("image/png", "png"),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "docx",
    ),
];

/// xorshift64*: small, fast and good enough for synthetic mail.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    pub fn pick<'a, T>(&mut self, list: &'a [T]) -> &'a T {
        &list[self.range(0, list.len() - 1)]
    }
}

/// Shape of the generated mail.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Total message size range, bytes (attachments included).
    pub min_size: usize,
    pub max_size: usize,
    /// Share of messages with one or two attachments.
    pub attachment_rate: f64,
    /// Share of attachments taken from a small pool of popular ones (dedup).
    pub reuse_rate: f64,
}

impl Profile {
    /// 5–50 KiB, a third with attachments: the LMTP delivery mix.
    pub fn delivery() -> Profile {
        Profile {
            min_size: 5 * 1024,
            max_size: 50 * 1024,
            attachment_rate: 0.33,
            reuse_rate: 0.3,
        }
    }
    /// 2–12 KiB, a tenth with attachments: keeps a 100k mailbox at about 0.7 GB.
    pub fn mailbox() -> Profile {
        Profile {
            min_size: 2 * 1024,
            max_size: 12 * 1024,
            attachment_rate: 0.1,
            reuse_rate: 0.3,
        }
    }
}

pub struct Generator {
    rng: Rng,
    profile: Profile,
    /// Popular attachments: (content type, extension, base64 body).
    pool: Vec<(usize, String)>,
    serial: u64,
}

impl Generator {
    pub fn new(seed: u64, profile: Profile) -> Generator {
        let mut rng = Rng::new(seed);
        let pool = (0..12)
            .map(|_| {
                let len = rng.range(3 * 1024, 20 * 1024);
                let kind = rng.range(0, ATTACHMENT_TYPES.len() - 1);
                (kind, base64_lines(&random_bytes(&mut rng, len)))
            })
            .collect();
        Generator {
            rng,
            profile,
            pool,
            serial: 0,
        }
    }

    /// The next message, CRLF line endings, addressed to `to`.
    pub fn message(&mut self, to: &str) -> Vec<u8> {
        self.serial += 1;
        let rng = &mut self.rng;
        let target = rng.range(self.profile.min_size, self.profile.max_size);
        let from = rng.pick(NAMES).to_string();
        let from_addr = format!("{}@example.org", from.to_lowercase().replace(' ', "."));
        let subject: Vec<&str> = (0..rng.range(3, 8)).map(|_| *rng.pick(WORDS)).collect();
        let day = rng.range(1, 28);
        let hour = rng.range(0, 23);
        let minute = rng.range(0, 59);
        let mut head = format!(
            "Received: from mx.example.org (mx.example.org [192.0.2.{}])\r\n\tby mail.bench.test with ESMTPS id {:x}; Tue, {day} Jun 2025 {hour:02}:{minute:02}:00 +0000\r\n\
             From: {from} <{from_addr}>\r\nTo: <{to}>\r\nSubject: {}\r\n\
             Date: Tue, {day} Jun 2025 {hour:02}:{minute:02}:00 +0000\r\n\
             Message-ID: <bench.{}.{:x}@example.org>\r\nMIME-Version: 1.0\r\n",
            rng.range(1, 254),
            rng.next(),
            subject.join(" "),
            self.serial,
            rng.next(),
        );
        let with_attachments = rng.chance(self.profile.attachment_rate);
        if !with_attachments {
            head.push_str("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n");
            let mut msg = head.into_bytes();
            let body_len = target.saturating_sub(msg.len()).max(200);
            msg.extend_from_slice(&text_body(rng, body_len));
            return msg;
        }
        let boundary = format!("=_bench_{:016x}", rng.next());
        head.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\nThis is a multi-part message in MIME format.\r\n"
        ));
        let mut msg = head.into_bytes();
        let text_len = rng.range(600, 4000).min(target / 2);
        msg.extend_from_slice(
            format!("--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n").as_bytes(),
        );
        msg.extend_from_slice(&text_body(rng, text_len));
        let count = if rng.chance(0.3) { 2 } else { 1 };
        for n in 0..count {
            let room = target.saturating_sub(msg.len() + 300) / (count - n);
            let (kind, body) = if rng.chance(self.profile.reuse_rate) {
                let (kind, body) = &self.pool[rng.range(0, self.pool.len() - 1)];
                (*kind, body.clone())
            } else {
                // base64 grows 4/3 plus CRLF every 76 characters.
                let raw_len = (room.max(1500) * 57) / 78;
                (
                    rng.range(0, ATTACHMENT_TYPES.len() - 1),
                    base64_lines(&random_bytes(rng, raw_len)),
                )
            };
            let (mime, ext) = ATTACHMENT_TYPES[kind];
            let name = format!("{}-{}.{ext}", rng.pick(WORDS), rng.range(1, 999));
            msg.extend_from_slice(
                format!(
                    "\r\n--{boundary}\r\nContent-Type: {mime}; name=\"{name}\"\r\n\
                     Content-Disposition: attachment; filename=\"{name}\"\r\n\
                     Content-Transfer-Encoding: base64\r\n\r\n"
                )
                .as_bytes(),
            );
            msg.extend_from_slice(body.as_bytes());
        }
        msg.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        msg
    }
}

fn text_body(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 80);
    let mut line = 0usize;
    while out.len() < len {
        let word = rng.pick(WORDS);
        if line + word.len() + 1 > 72 {
            out.extend_from_slice(b"\r\n");
            line = 0;
            if rng.chance(0.08) {
                out.extend_from_slice(b"\r\n");
            }
        } else if line > 0 {
            out.push(b' ');
            line += 1;
        }
        out.extend_from_slice(word.as_bytes());
        line += word.len();
    }
    out.extend_from_slice(b"\r\n");
    out
}

fn random_bytes(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&rng.next().to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Standard base64 in 76-character CRLF lines, as mail clients write it.
fn base64_lines(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut encoded = Vec::with_capacity(data.len() * 4 / 3 + 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        encoded.push(ALPHABET[(n >> 18) as usize & 63]);
        encoded.push(ALPHABET[(n >> 12) as usize & 63]);
        encoded.push(if chunk.len() > 1 {
            ALPHABET[(n >> 6) as usize & 63]
        } else {
            b'='
        });
        encoded.push(if chunk.len() > 2 {
            ALPHABET[n as usize & 63]
        } else {
            b'='
        });
    }
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 76 * 2 + 2);
    for line in encoded.chunks(76) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_stay_in_range_and_output_is_deterministic() {
        let mut a = Generator::new(7, Profile::delivery());
        let mut b = Generator::new(7, Profile::delivery());
        for _ in 0..200 {
            let m = a.message("u@bench.test");
            assert_eq!(m, b.message("u@bench.test"));
            assert!(m.len() >= 4 * 1024 && m.len() <= 80 * 1024, "{}", m.len());
            assert!(!m.windows(3).any(|w| w == b"\n.\r" || w == b"\n.."));
            let info = eider_mime::analyze(&m);
            assert_eq!(info.size, m.len() as u64);
        }
    }

    #[test]
    fn base64_matches_known_values() {
        assert_eq!(base64_lines(b"Man"), "TWFu\r\n");
        assert_eq!(base64_lines(b"Ma"), "TWE=\r\n");
        assert_eq!(base64_lines(b"M"), "TQ==\r\n");
    }
}
