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

#[cfg(test)]
mod tests {
    use super::decode_transfer_encoding as d;

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
