//! Compares our ENVELOPE / BODY / BODYSTRUCTURE with Dovecot 2.3.19's answers for the shared edge
//! corpus (`../shared/corpus/edge`, beside the checkout). Skips loudly when the corpus is absent.

use std::io::Write;

use std::collections::HashMap;
use std::path::Path;

use eider_mime::{analyze, normalize_crlf};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus/edge");

/// Floors: exact-match counts must not fall below these (set just under what we achieve).
const MIN_ENVELOPE: usize = 476;
const MIN_BODY: usize = 478;
const MIN_BODYSTRUCTURE: usize = 478;

/// Reads one IMAP value (atom, number, quoted string, literal or parenthesized list) starting at
/// `pos`; returns its end.
fn value_end(s: &[u8], mut pos: usize) -> usize {
    let mut depth = 0usize;
    loop {
        if pos >= s.len() {
            return pos;
        }
        match s[pos] {
            b'(' => {
                depth += 1;
                pos += 1;
            }
            b')' => {
                depth = depth.saturating_sub(1);
                pos += 1;
            }
            b'"' => {
                pos += 1;
                while pos < s.len() && s[pos] != b'"' {
                    if s[pos] == b'\\' {
                        pos += 1;
                    }
                    pos += 1;
                }
                pos += 1;
            }
            b'{' => {
                let close = s[pos..]
                    .iter()
                    .position(|&b| b == b'}')
                    .map(|i| pos + i)
                    .unwrap_or(s.len());
                let n: usize = std::str::from_utf8(&s[pos + 1..close])
                    .unwrap()
                    .parse()
                    .unwrap();
                pos = close + 3 + n; // "}\r\n" + n bytes
            }
            b' ' if depth == 0 => return pos,
            _ => {
                pos += 1;
                if depth == 0 && (pos >= s.len() || matches!(s[pos], b' ' | b')')) {
                    return pos;
                }
            }
        }
        if depth == 0 && pos > 0 && matches!(s[pos - 1], b')' | b'"') {
            return pos;
        }
        if depth == 0 && pos >= 3 && s[pos - 1] != b'(' && s[..pos].ends_with(b"\r\n") {
            // never reached for well-formed input; keeps the loop total
        }
    }
}

/// Splits `* N FETCH (K V K V ...)` into a map of item name -> raw value bytes.
fn fetch_items(resp: &[u8]) -> HashMap<String, Vec<u8>> {
    let start = resp
        .windows(7)
        .position(|w| w == b"FETCH (")
        .expect("FETCH")
        + 7;
    let mut pos = start;
    let mut items = HashMap::new();
    while pos < resp.len() && resp[pos] != b')' {
        let kend = resp[pos..]
            .iter()
            .position(|&b| b == b' ')
            .map(|i| pos + i)
            .unwrap();
        let key = String::from_utf8_lossy(&resp[pos..kend]).into_owned();
        let vstart = kend + 1;
        let vend = value_end(resp, vstart);
        items.insert(key, resp[vstart..vend].to_vec());
        pos = vend;
        if pos < resp.len() && resp[pos] == b' ' {
            pos += 1;
        }
    }
    items
}

/// Re-encodes literals whose content is not UTF-8 the way our `String` values do (U+FFFD).
fn lossy_literals(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < v.len() {
        match v[pos] {
            b'"' => {
                let s = pos;
                pos += 1;
                while pos < v.len() && v[pos] != b'"' {
                    if v[pos] == b'\\' {
                        pos += 1;
                    }
                    pos += 1;
                }
                pos = (pos + 1).min(v.len());
                out.extend_from_slice(&v[s..pos]);
            }
            b'{' => {
                let close = v[pos..]
                    .iter()
                    .position(|&b| b == b'}')
                    .map(|i| pos + i)
                    .unwrap();
                let n: usize = std::str::from_utf8(&v[pos + 1..close])
                    .unwrap()
                    .parse()
                    .unwrap();
                let body = &v[close + 3..(close + 3 + n).min(v.len())];
                let s = String::from_utf8_lossy(body);
                out.extend_from_slice(format!("{{{}}}\r\n", s.len()).as_bytes());
                out.extend_from_slice(s.as_bytes());
                pos = close + 3 + n;
            }
            b => {
                out.push(b);
                pos += 1;
            }
        }
    }
    out
}

fn raw_lone_cr(raw: &[u8]) -> usize {
    raw.iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\r' && raw.get(i + 1) != Some(&b'\n'))
        .count()
}

fn show_diff(file: &str, item: &str, ours: &[u8], theirs: &[u8]) {
    let i = ours
        .iter()
        .zip(theirs)
        .position(|(a, b)| a != b)
        .unwrap_or(ours.len().min(theirs.len()));
    let from = i.saturating_sub(60);
    let cut = |s: &[u8]| {
        String::from_utf8_lossy(&s[from.min(s.len())..(i + 80).min(s.len())]).into_owned()
    };
    eprintln!(
        "  {file} {item} @{i}\n    ours:    {:?}\n    dovecot: {:?}",
        cut(ours),
        cut(theirs)
    );
}

#[test]
fn matches_dovecot_on_edge_corpus() {
    let dir = Path::new(CORPUS);
    let jsonl = dir.join("dovecot-fetch.jsonl");
    if !jsonl.exists() {
        // Straight to stderr so the harness does not capture it.
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED: Dovecot comparison: corpus not found at {} ***",
            dir.display()
        );
        return;
    }
    let text = std::fs::read_to_string(&jsonl).unwrap();
    let (mut total, mut size_bad) = (0usize, 0usize);
    let mut exact = [0usize; 3];
    let mut lossy = [0usize; 3];
    let names = ["ENVELOPE", "BODY", "BODYSTRUCTURE"];
    let verbose = std::env::var("MIME_DIFF").is_ok();
    for line in text.lines() {
        let entry: serde_json::Value = serde_json::from_str(line).unwrap();
        let file = entry["file"].as_str().unwrap();
        // The jsonl stores the wire bytes as Latin-1 code points.
        let resp: Vec<u8> = entry["response"]
            .as_str()
            .unwrap()
            .chars()
            .map(|c| c as u32 as u8)
            .collect();
        let items = fetch_items(&resp);
        let raw = normalize_crlf(std::fs::read(dir.join(file)).unwrap());
        let info = analyze(&raw);
        total += 1;
        let size: u64 = String::from_utf8_lossy(&items["RFC822.SIZE"])
            .parse()
            .unwrap();
        // normalize_crlf turns lone CRs into CRLF; Dovecot keeps them (DIFFERENCES.md).
        let lone_cr = raw_lone_cr(&std::fs::read(dir.join(file)).unwrap()) as u64;
        if size + lone_cr != info.size {
            size_bad += 1;
            eprintln!("  {file} SIZE ours {} dovecot {size}", info.size);
        }
        let ours = [&info.envelope, &info.body, &info.bodystructure];
        for k in 0..3 {
            let theirs = &items[names[k]];
            if ours[k].as_bytes() == theirs.as_slice() {
                exact[k] += 1;
                lossy[k] += 1;
            } else if ours[k].as_bytes() == lossy_literals(theirs).as_slice() {
                lossy[k] += 1;
            } else if verbose
                || k == 0
                || !(k == 2 && ours[1].as_bytes() != items["BODY"].as_slice())
            {
                show_diff(file, names[k], ours[k].as_bytes(), theirs);
            }
        }
    }
    eprintln!(
        "Dovecot corpus: {total} messages; size mismatches {size_bad}; exact ENVELOPE {}/{total}, BODY {}/{total}, BODYSTRUCTURE {}/{total}; modulo U+FFFD for non-UTF-8 literals: {}/{}/{}",
        exact[0], exact[1], exact[2], lossy[0], lossy[1], lossy[2]
    );
    assert_eq!(size_bad, 0, "RFC822.SIZE must always match");
    assert!(exact[0] >= MIN_ENVELOPE, "ENVELOPE exact matches regressed");
    assert!(exact[1] >= MIN_BODY, "BODY exact matches regressed");
    assert!(
        exact[2] >= MIN_BODYSTRUCTURE,
        "BODYSTRUCTURE exact matches regressed"
    );
}
