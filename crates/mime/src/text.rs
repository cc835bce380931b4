//! Decoded text for full-text SEARCH (BODY, TEXT): the content of every text part with its
//! transfer encoding and charset undone, so a search for "Käse" finds it in a quoted-printable
//! ISO-8859-1 body.

use mail_parser::{MessageParser, PartType};

/// Decoded text of every text/* part (HTML as is), joined by newlines. Never panics: mail-parser
/// runs behind `catch_unwind`, and a message it cannot read yields an empty string.
pub fn body_text(raw: &[u8]) -> String {
    std::panic::catch_unwind(|| {
        let Some(message) = MessageParser::default().parse(raw) else {
            return String::new();
        };
        let mut out = String::new();
        for part in &message.parts {
            match &part.body {
                PartType::Text(text) | PartType::Html(text) => {
                    out.push_str(text);
                    out.push('\n');
                }
                _ => {}
            }
        }
        out
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::body_text;

    #[test]
    fn decodes_transfer_encoding_and_charset() {
        let raw = b"Subject: x\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\
            Content-Transfer-Encoding: quoted-printable\r\n\r\nK=E4se und Brot\r\n";
        assert!(body_text(raw).contains("Käse und Brot"));
        let raw = b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nS8Okc2U=\r\n";
        assert!(body_text(raw).contains("Käse"));
    }

    #[test]
    fn garbage_is_empty_not_a_panic() {
        let _ = body_text(b"\xff\xfe\x00--\r\n\r\n=?=");
        let _ = body_text(b"");
    }
}
