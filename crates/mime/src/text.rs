//! Decoded text for full-text SEARCH (BODY, TEXT): the content of every text part with its
//! transfer encoding and charset undone, so a search for "Käse" finds it in a quoted-printable
//! ISO-8859-1 body.

use mail_parser::{MessageParser, PartType};

/// The message as mail-parser should see it: leading lines of only spaces and tabs dropped.
/// mail-parser ends the header at such a line (so the whole message would read as body), while
/// Dovecot and this crate's own header scanner read on; this keeps the three in agreement.
fn without_leading_blank_lines(mut raw: &[u8]) -> &[u8] {
    while let Some(end) = raw.iter().position(|&b| b == b'\n') {
        let line = &raw[..end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() || !line.iter().all(|&b| b == b' ' || b == b'\t') {
            break;
        }
        raw = &raw[end + 1..];
    }
    raw
}

/// Decoded text of every text/* part (HTML as is), joined by newlines. Never panics: mail-parser
/// runs behind `catch_unwind`, and a message it cannot read yields an empty string.
pub fn body_text(raw: &[u8]) -> String {
    std::panic::catch_unwind(|| {
        let Some(message) = MessageParser::default().parse(without_leading_blank_lines(raw)) else {
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

/// Longest preview, in characters (RFC 8970 §3 allows at most 256).
pub const PREVIEW_CHARS: usize = 200;

/// RFC 8970 PREVIEW text: the first text body (HTML turned into text), runs of ASCII whitespace
/// folded to one space, at most [`PREVIEW_CHARS`] characters, no trailing space. Empty when the message has no text body.
/// mail-parser does the decoding and HTML-to-text; the folding is ours because its own
/// `body_preview` keeps line breaks and counts bytes rather than characters.
pub fn preview(raw: &[u8]) -> String {
    std::panic::catch_unwind(|| {
        let Some(message) = MessageParser::default().parse(without_leading_blank_lines(raw)) else {
            return String::new();
        };
        let Some(text) = message.body_text(0) else {
            return String::new();
        };
        let mut out = String::new();
        let mut count = 0;
        // ASCII whitespace only: a no-break space stays, as Dovecot keeps it.
        for word in text.split_ascii_whitespace() {
            if count > 0 {
                if count == PREVIEW_CHARS {
                    break;
                }
                out.push(' ');
                count += 1;
            }
            for ch in word.chars().filter(|c| !c.is_control()) {
                if count == PREVIEW_CHARS {
                    break;
                }
                out.push(ch);
                count += 1;
            }
        }
        // A cut right after a word leaves no trailing space.
        out.truncate(out.trim_end().len());
        out
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::{PREVIEW_CHARS, body_text, preview};

    #[test]
    fn preview_folds_whitespace_and_is_bounded() {
        let raw = b"Subject: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello\r\n\r\n  K\xc3\xa4se\tand   bread\r\n";
        assert_eq!(preview(raw), "Hello K\u{e4}se and bread");
        let raw = b"Content-Type: text/html\r\n\r\n<p>Hi <b>there</b></p>\r\n";
        assert_eq!(preview(raw), "Hi there");
        let long = format!("Subject: x\r\n\r\n{}\r\n", "\u{e4}bcde ".repeat(200));
        let p = preview(long.as_bytes());
        assert_eq!(p.chars().count(), PREVIEW_CHARS);
        // 50 words of 3 letters and their spaces fill 200 characters; the last space is dropped.
        let even = format!("Subject: x\r\n\r\n{}\r\n", "abc ".repeat(60));
        assert_eq!(preview(even.as_bytes()).chars().count(), PREVIEW_CHARS - 1);
        let nbsp = "Subject: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\na\u{a0} b\r\n";
        assert_eq!(preview(nbsp.as_bytes()), "a\u{a0} b");
        let indented = b"   \r\n\t\r\nSubject: x\r\n\r\nHello\r\n";
        assert_eq!(preview(indented), "Hello");
        assert_eq!(body_text(indented), "Hello\r\n\n");
        assert_eq!(preview(b"Content-Type: image/png\r\n\r\nAAAA\r\n"), "");
    }

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
