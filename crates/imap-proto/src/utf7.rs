//! Modified UTF-7 for mailbox names (RFC 3501 §5.1.3).
//!
//! Printable US-ASCII except `&` stands for itself, `&` is `&-`, and every
//! other character is UTF-16BE encoded in modified base64 (`,` instead of
//! `/`, no padding) between `&` and `-`.
//!
//! [`decode`] is strict: it only accepts the canonical form that [`encode`]
//! produces, so `decode(s).map(|d| encode(&d)) == Ok(s)` for every accepted
//! `s`.

use crate::base64;

/// Invalid modified UTF-7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid modified UTF-7 mailbox name: {0}")]
pub struct Utf7Error(pub &'static str);

fn b64_char(v: u32) -> char {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
    char::from(A[(v & 63) as usize])
}

fn b64_value(c: u8) -> Option<u8> {
    match c {
        b',' => Some(63),
        b'/' => None,
        _ => base64::value(c),
    }
}

fn is_direct(c: u32) -> bool {
    (0x20..=0x7e).contains(&c)
}

fn flush(out: &mut String, units: &mut Vec<u16>) {
    if units.is_empty() {
        return;
    }
    out.push('&');
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for u in units.drain(..) {
        for byte in u.to_be_bytes() {
            acc = (acc << 8) | u32::from(byte);
            bits += 8;
            while bits >= 6 {
                bits -= 6;
                out.push(b64_char(acc >> bits));
            }
            acc &= (1 << bits) - 1;
        }
    }
    if bits > 0 {
        out.push(b64_char(acc << (6 - bits)));
    }
    out.push('-');
}

/// Encode a (UTF-8) mailbox name into modified UTF-7.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut units = Vec::new();
    for ch in s.chars() {
        if is_direct(ch as u32) {
            flush(&mut out, &mut units);
            if ch == '&' {
                out.push_str("&-");
            } else {
                out.push(ch);
            }
        } else {
            let mut buf = [0u16; 2];
            units.extend_from_slice(ch.encode_utf16(&mut buf));
        }
    }
    flush(&mut out, &mut units);
    out
}

/// Decode a modified UTF-7 mailbox name, rejecting anything non-canonical.
pub fn decode(s: &str) -> Result<String, Utf7Error> {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let mut after_shift = false;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'&' {
            i += 1;
            if bytes.get(i) == Some(&b'-') {
                out.push('&');
                i += 1;
                after_shift = false;
                continue;
            }
            if after_shift {
                return Err(Utf7Error("adjacent encoded sequences"));
            }
            let start = i;
            while i < bytes.len() && b64_value(bytes[i]).is_some() {
                i += 1;
            }
            if i == start {
                return Err(Utf7Error("'&' not followed by '-' or base64"));
            }
            if bytes.get(i) != Some(&b'-') {
                return Err(Utf7Error("unterminated encoded sequence"));
            }
            decode_segment(&bytes[start..i], &mut out)?;
            i += 1;
            after_shift = true;
        } else if is_direct(u32::from(b)) {
            out.push(char::from(b));
            i += 1;
            after_shift = false;
        } else {
            return Err(Utf7Error("character must be encoded"));
        }
    }
    Ok(out)
}

fn decode_segment(seg: &[u8], out: &mut String) -> Result<(), Utf7Error> {
    if seg.len() % 4 == 1 {
        return Err(Utf7Error("truncated base64"));
    }
    let mut raw = Vec::with_capacity(seg.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for &c in seg {
        let v = b64_value(c).ok_or(Utf7Error("invalid base64"))?;
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            raw.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if acc != 0 {
        return Err(Utf7Error("non-zero padding bits"));
    }
    if !raw.len().is_multiple_of(2) {
        return Err(Utf7Error("odd number of UTF-16 bytes"));
    }
    let units = raw
        .chunks_exact(2)
        .map(|p| u16::from_be_bytes([p[0], p[1]]));
    for r in char::decode_utf16(units) {
        let ch = r.map_err(|_| Utf7Error("unpaired surrogate"))?;
        if is_direct(ch as u32) {
            return Err(Utf7Error("printable ASCII must not be encoded"));
        }
        out.push(ch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc_examples() {
        let cases = [
            ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
            ("INBOX", "INBOX"),
            ("a&b", "a&-b"),
            ("&", "&-"),
            ("Entwürfe", "Entw&APw-rfe"),
            ("😀", "&2D3eAA-"),
            ("a\u{7f}", "a&AH8-"),
            ("", ""),
        ];
        for (plain, enc) in cases {
            assert_eq!(encode(plain), enc);
            assert_eq!(decode(enc).unwrap(), plain);
        }
    }

    #[test]
    fn rejects() {
        for bad in [
            "&",
            "&U,BTFw",
            "&U,BTF-",    // odd byte count
            "&AGE-",      // 'a' encoded
            "&2D0-",      // unpaired high surrogate
            "&3gA-",      // unpaired low surrogate
            "&APw-&APw-", // adjacent, should be merged
            "&APx-",      // non-zero padding bits
            "&A-",        // truncated
            "&U/BTFw-",   // '/' not allowed
            "a\u{7f}",    // raw DEL
            "ü",          // raw 8-bit
            "a\tb",
            "&=-",
        ] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn roundtrip(s in any::<String>()) {
            let e = encode(&s);
            prop_assert_eq!(decode(&e).unwrap(), s);
        }

        #[test]
        fn decode_arbitrary_is_canonical(s in "[&A-Za-z0-9+,/=\\- a\u{e9}\u{7f}]{0,24}") {
            if let Ok(d) = decode(&s) {
                prop_assert_eq!(encode(&d), s);
            }
        }

        #[test]
        fn decode_any_string_no_panic(s in any::<String>()) {
            if let Ok(d) = decode(&s) {
                prop_assert_eq!(encode(&d), s);
            }
        }
    }
}
