//! Strict standard base64 (RFC 4648 §4, with padding), as used by SASL
//! exchanges in AUTHENTICATE (RFC 3501 §6.2.2, RFC 4959).

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Invalid base64 input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid base64")]
pub struct Base64Error;

/// Encode bytes as padded standard base64.
pub fn encode(input: &[u8]) -> String {
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(char::from(ALPHABET[(n >> 18) as usize & 63]));
        out.push(char::from(ALPHABET[(n >> 12) as usize & 63]));
        if chunk.len() > 1 {
            out.push(char::from(ALPHABET[(n >> 6) as usize & 63]));
        } else {
            out.push('=');
        }
        if chunk.len() > 2 {
            out.push(char::from(ALPHABET[n as usize & 63]));
        } else {
            out.push('=');
        }
    }
    out
}

pub(crate) fn value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Strictly decode padded standard base64: the length must be a multiple
/// of 4, `=` may only appear as final padding, no whitespace, and the unused
/// bits of the last group must be zero (so every input has one encoding).
pub fn decode(input: &[u8]) -> Result<Vec<u8>, Base64Error> {
    if !input.len().is_multiple_of(4) {
        return Err(Base64Error);
    }
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    let groups = input.len() / 4;
    for (gi, quad) in input.chunks_exact(4).enumerate() {
        let last = gi + 1 == groups;
        let pad = if last {
            match (quad[2], quad[3]) {
                (b'=', b'=') => 2,
                (_, b'=') => 1,
                _ => 0,
            }
        } else {
            0
        };
        let mut n: u32 = 0;
        for &c in &quad[..4 - pad] {
            n = (n << 6) | u32::from(value(c).ok_or(Base64Error)?);
        }
        n <<= 6 * pad as u32;
        out.push((n >> 16) as u8);
        match pad {
            0 => {
                out.push((n >> 8) as u8);
                out.push(n as u8);
            }
            1 => {
                if n & 0xff != 0 {
                    return Err(Base64Error);
                }
                out.push((n >> 8) as u8);
            }
            _ => {
                if n & 0xffff != 0 {
                    return Err(Base64Error);
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_vectors() {
        let v: &[(&str, &str)] = &[
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, enc) in v {
            assert_eq!(encode(plain.as_bytes()), *enc);
            assert_eq!(decode(enc.as_bytes()).unwrap(), plain.as_bytes());
        }
        assert_eq!(
            decode(b"AHVzZXIAcGFzcw==").unwrap(),
            b"\0user\0pass".to_vec()
        );
    }

    #[test]
    fn strictness() {
        for bad in [
            "Zg", "Zg=", "Zh==", "Zm9=", "Z===", "====", "Zg==Zg==", "Zm 9v", "Zm9v\r\n", "Zm-v",
            "Zm_v", "=Zm9",
        ] {
            assert!(decode(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn roundtrip(data: Vec<u8>) {
            let e = encode(&data);
            proptest::prop_assert_eq!(decode(e.as_bytes()).unwrap(), data);
        }

        #[test]
        fn no_panic(data: Vec<u8>) {
            if let Ok(d) = decode(&data) {
                let e = encode(&d);
                proptest::prop_assert_eq!(e.as_bytes(), &data[..]);
            }
        }
    }
}
