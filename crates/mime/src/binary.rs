//! Content-Transfer-Encoding decoding for IMAP BINARY (RFC 3516).

/// Decodes a part body for its Content-Transfer-Encoding (`encoding` lower-cased, as in
/// [`crate::PartInfo::encoding`]). `None` means the encoding is unknown, which IMAP answers with
/// `[UNKNOWN-CTE]`. Uses mail-parser's decoders; invalid base64 characters are skipped as
/// RFC 2045 §6.8 asks.
pub fn decode_transfer_encoding(encoding: &str, body: &[u8]) -> Option<Vec<u8>> {
    use mail_parser::decoders::{base64::base64_decode, quoted_printable::quoted_printable_decode};
    match encoding {
        "7bit" | "8bit" | "binary" | "" => Some(body.to_vec()),
        "base64" => {
            let clean: Vec<u8> = body
                .iter()
                .copied()
                .filter(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
                .collect();
            if clean.is_empty() {
                return Some(Vec::new());
            }
            base64_decode(&clean)
        }
        "quoted-printable" => {
            if body.is_empty() {
                return Some(Vec::new());
            }
            quoted_printable_decode(body)
        }
        _ => None,
    }
}

/// A message sent with a BINARY APPEND (RFC 3516 literal8) may carry parts with
/// `Content-Transfer-Encoding: binary`: raw bytes, bare LFs and NULs included. Storing them as sent
/// would either be corrupted by line-ending normalisation or give FETCH BODY[n] raw binary that
/// IMAP4rev1 clients cannot take. So, as Dovecot does, each such leaf body is re-encoded as base64
/// (and its header says so) before the message is stored: BINARY[n] decodes it back to exactly the
/// bytes appended, and BODY[n] is 7-bit. Returns None when the message has no binary part.
pub fn encode_binary_parts(raw: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let info = crate::analyze(raw);
    let mut parts: Vec<(usize, usize, usize)> = info
        .parts
        .iter()
        .filter(|p| p.kind == crate::PartKind::Leaf && p.encoding == "binary")
        .map(|p| {
            (
                p.header_start as usize,
                p.body_start as usize,
                p.body_end as usize,
            )
        })
        .filter(|&(h, b, e)| h <= b && b <= e && e <= raw.len())
        .collect();
    parts.sort_unstable();
    parts.dedup_by_key(|p| p.1);
    if parts.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(raw.len() * 4 / 3 + 64);
    let mut at = 0;
    for (header_start, body_start, body_end) in parts {
        if header_start < at {
            continue; // nested in a part already rewritten
        }
        out.extend_from_slice(&raw[at..header_start]);
        out.extend_from_slice(&rewrite_cte(&raw[header_start..body_start]));
        let encoded = base64::engine::general_purpose::STANDARD.encode(&raw[body_start..body_end]);
        for line in encoded.as_bytes().chunks(76) {
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
        }
        at = body_end;
        // The line break that ended the binary body belongs to the boundary after it, if any;
        // the base64 lines already end with one.
        if raw[at..].starts_with(b"\r\n") {
            at += 2;
        } else if raw[at..].starts_with(b"\n") {
            at += 1;
        }
    }
    out.extend_from_slice(&raw[at..]);
    Some(out)
}

/// The header block with its Content-Transfer-Encoding field's value replaced by `base64`.
fn rewrite_cte(header: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(header.len() + 8);
    let mut rest = header;
    let mut in_cte = false;
    while !rest.is_empty() {
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        let line = &rest[..end];
        rest = &rest[end..];
        let folded = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        if folded && in_cte {
            continue; // a folded continuation of the old value
        }
        in_cte = line.len() > 26 && line[..26].eq_ignore_ascii_case(b"content-transfer-encoding:");
        if in_cte {
            out.extend_from_slice(b"Content-Transfer-Encoding: base64\r\n");
        } else {
            out.extend_from_slice(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::decode_transfer_encoding as d;

    #[test]
    fn binary_parts_become_base64_that_decodes_to_the_same_bytes() {
        let body = b"\0-\xe4\n\r\n\n";
        let mut raw = b"From: a@example.org\r\nContent-Type: application/octet-stream\r\n\
            Content-Transfer-Encoding: binary\r\n\r\n"
            .to_vec();
        raw.extend_from_slice(body);
        let out = super::encode_binary_parts(&raw).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(
            text.contains("Content-Transfer-Encoding: base64\r\n\r\nAC3kCg0KCg==\r\n"),
            "{text}"
        );
        let info = crate::analyze(&out);
        let part = info.parts.iter().find(|p| p.encoding == "base64").unwrap();
        let encoded = &out[part.body_start as usize..part.body_end as usize];
        assert_eq!(d("base64", encoded).unwrap(), body);
        assert!(super::encode_binary_parts(b"Subject: x\r\n\r\nplain\r\n").is_none());
    }

    #[test]
    fn decodes_known_encodings() {
        assert_eq!(d("base64", b"AAEC/w==\r\n").unwrap(), vec![0, 1, 2, 255]);
        assert_eq!(
            d("quoted-printable", b"caf=C3=A9=\r\n!").unwrap(),
            "café!".as_bytes()
        );
        assert_eq!(d("7bit", b"x\0y").unwrap(), b"x\0y");
        assert_eq!(d("x-uuencode", b"abc"), None);
    }
}
