//! analyze() must be total: no panic on any corpus file, on every prefix of a few messages, on
//! flipped bytes, or on pathological nesting.

use std::io::Write;

use std::path::{Path, PathBuf};

use eider_mime::{SectionText, analyze, filter_header_fields, normalize_crlf};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus/edge");

fn corpus_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::from(CORPUS)];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "eml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Exercises every accessor so their invariants are checked too.
fn check(raw: &[u8]) {
    let info = analyze(raw);
    assert_eq!(info.size as usize, raw.len());
    assert!(info.header_end as usize <= raw.len());
    for p in &info.parts {
        assert!(
            p.header_start <= p.body_start
                && p.body_start <= p.body_end
                && p.body_end as usize <= raw.len()
        );
        for t in [
            None,
            Some(SectionText::Header),
            Some(SectionText::Text),
            Some(SectionText::Mime),
        ] {
            if let Some((s, e)) = info.section_range(&p.number, t.as_ref()) {
                assert!(s <= e && e as usize <= raw.len(), "{:?} {:?}", p.number, t);
            }
        }
    }
    let leaves = info.leaf_bodies();
    assert!(leaves.windows(2).all(|w| w[0].1 <= w[1].0));
    let (s, e) = info.section_range(&[], Some(&SectionText::Header)).unwrap();
    let _ = filter_header_fields(&raw[s as usize..e as usize], &["subject".into()], true);
}

#[test]
fn never_panics_on_corpus() {
    let files = corpus_files();
    if files.is_empty() {
        // Straight to stderr so the harness does not capture it.
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED: corpus robustness test: no corpus at {CORPUS} ***"
        );
        return;
    }
    for f in &files {
        let raw = normalize_crlf(std::fs::read(f).unwrap());
        check(&raw);
    }
}

#[test]
fn never_panics_on_prefixes_and_flips() {
    let picks = [
        "cpython/msg_02.txt.eml",
        "dovecot-malformed/007.eml",
        "generated/rfc2231-params.eml",
        "mikel-mail/example11.eml",
        "enmime/missing-closing-param-quote.eml",
    ];
    let mut samples: Vec<Vec<u8>> = picks
        .iter()
        .filter_map(|p| std::fs::read(Path::new(CORPUS).join(p)).ok())
        .map(normalize_crlf)
        .filter(|r| r.len() <= 4000)
        .collect();
    samples.push(
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: message/rfc822\r\n\r\nContent-Type: multipart/digest; boundary=\"y\"\r\n\r\n--y\r\n\r\nSubject: s\r\n\r\n--y--\r\n--x--\r\n"
            .to_vec(),
    );
    for raw in &samples {
        for n in 0..=raw.len() {
            check(&raw[..n]);
        }
        let mut seed: u32 = 0x2545_f491;
        for i in 0..raw.len() {
            let mut m = raw.clone();
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            m[i] = match seed % 6 {
                0 => b'"',
                1 => b'\\',
                2 => b'(',
                3 => b'-',
                4 => b'\n',
                _ => (seed >> 8) as u8,
            };
            check(&m);
        }
    }
}

#[test]
fn deep_nesting_is_capped() {
    let mut raw = Vec::new();
    for i in 0..5000 {
        raw.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n")
                .as_bytes(),
        );
    }
    raw.extend_from_slice(b"\r\nleaf\r\n");
    check(&raw);
    let mut raw = Vec::new();
    for _ in 0..5000 {
        raw.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\n");
    }
    raw.extend_from_slice(b"Subject: bottom\r\n\r\nbody\r\n");
    let info = analyze(&raw);
    assert!(info.parts.iter().map(|p| p.number.len()).max().unwrap() <= eider_mime::MAX_NESTING);
    check(&raw);
}

#[test]
fn normalize_crlf_cases() {
    let clean = b"a\r\nb\r\n".to_vec();
    let ptr = clean.as_ptr();
    let out = normalize_crlf(clean);
    assert_eq!(out.as_ptr(), ptr, "already-clean input must not be copied");
    assert_eq!(
        normalize_crlf(b"a\nb\r\nc\rd\n\r".to_vec()),
        b"a\r\nb\r\nc\r\nd\r\n\r\n".to_vec()
    );
    assert_eq!(normalize_crlf(Vec::new()), Vec::<u8>::new());
}
