//! Framing helpers for the session's reader: literal announcements,
//! cheap peeking, and the continuation-driven inputs (AUTHENTICATE, IDLE).

use crate::error::ParseError;
use crate::parser::{is_atom_char, is_tag_char};

/// A literal announced at the end of a line: `{N}`, `{N+}`, `~{N}`, `~{N+}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiteralSpec {
    pub len: u64,
    /// `{N+}` (LITERAL+/LITERAL-): no continuation request is sent.
    pub non_sync: bool,
    /// `~{N}` (RFC 3516 literal8).
    pub binary: bool,
}

/// One piece of a command as read from the wire: a line without its CRLF,
/// or the raw bytes of a literal announced at the end of the previous line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fragment {
    Line(Vec<u8>),
    Literal(Vec<u8>),
}

/// If `line` (without CRLF) ends with a literal announcement, return it.
///
/// The scan is quote-aware, so `a LOGIN "x" "{5}"` announces nothing.
/// Lengths that overflow `u64` are an error. Anything else that merely
/// looks odd returns `Ok(None)`; the parser will reject it later.
pub fn literal_announcement(line: &[u8]) -> Result<Option<LiteralSpec>, ParseError> {
    if line.last() != Some(&b'}') {
        return Ok(None);
    }
    // Are we inside a quoted string at the end of the line?
    let mut in_quote = false;
    let mut escaped = false;
    for &b in line {
        if in_quote {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_quote = false;
            }
        } else if b == b'"' {
            in_quote = true;
        }
    }
    if in_quote {
        return Ok(None);
    }
    let Some(open) = line.iter().rposition(|&b| b == b'{') else {
        return Ok(None);
    };
    let mut inner = &line[open + 1..line.len() - 1];
    let non_sync = inner.last() == Some(&b'+');
    if non_sync {
        inner = &inner[..inner.len() - 1];
    }
    if inner.is_empty() || !inner.iter().all(u8::is_ascii_digit) {
        return Ok(None);
    }
    let mut len: u64 = 0;
    for &d in inner {
        len = len
            .checked_mul(10)
            .and_then(|l| l.checked_add(u64::from(d - b'0')))
            .ok_or_else(|| {
                let tag = peek_tag_and_name(line).map(|(t, _)| t);
                ParseError::new(tag, crate::ErrorKind::Syntax, "Literal length too large")
            })?;
    }
    let binary = open > 0 && line[open - 1] == b'~';
    Ok(Some(LiteralSpec {
        len,
        non_sync,
        binary,
    }))
}

/// Cheap peek at the tag and the uppercased command name of a command's
/// first line, without parsing arguments.
///
/// For `UID` commands the name includes the subcommand: `a1 UID FETCH ...`
/// gives `("a1", "UID FETCH")` (or `"UID"` alone if nothing follows).
/// Returns `None` when no valid tag and name can be read.
pub fn peek_tag_and_name(first_line: &[u8]) -> Option<(String, String)> {
    let tag_len = first_line.iter().take_while(|&&b| is_tag_char(b)).count();
    if tag_len == 0 || first_line.get(tag_len) != Some(&b' ') {
        return None;
    }
    let tag = String::from_utf8(first_line[..tag_len].to_vec()).ok()?;
    let rest = &first_line[tag_len + 1..];
    let word = |s: &[u8]| -> Option<String> {
        let n = s.iter().take_while(|&&b| is_atom_char(b)).count();
        if n == 0 || (n < s.len() && s[n] != b' ') {
            return None;
        }
        Some(String::from_utf8_lossy(&s[..n]).to_ascii_uppercase())
    };
    let mut name = word(rest)?;
    if name == "UID"
        && let Some(sub) = rest.get(4..).and_then(word)
    {
        name.push(' ');
        name.push_str(&sub);
    }
    Some((tag, name))
}

/// Result of a client line sent in answer to an AUTHENTICATE continuation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthResponse {
    /// Decoded base64 data (an empty line or `=` is empty data).
    Data(Vec<u8>),
    /// The client sent `*`: abort the exchange (answer `BAD`).
    Cancel,
}

/// Parse a line (without CRLF) sent during AUTHENTICATE.
pub fn parse_authenticate_response(line: &[u8]) -> Result<AuthResponse, ParseError> {
    match line {
        b"*" => Ok(AuthResponse::Cancel),
        b"" | b"=" => Ok(AuthResponse::Data(Vec::new())),
        _ => crate::base64::decode(line)
            .map(AuthResponse::Data)
            .map_err(|_| ParseError::untagged("Invalid base64 in AUTHENTICATE response")),
    }
}

/// Is this line (without CRLF) the `DONE` that ends IDLE? Case-insensitive,
/// nothing else on the line.
pub fn is_idle_done(line: &[u8]) -> bool {
    line.eq_ignore_ascii_case(b"DONE")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(s: &[u8]) -> Option<LiteralSpec> {
        literal_announcement(s).unwrap()
    }

    #[test]
    fn announcements() {
        assert_eq!(
            ann(b"a APPEND INBOX {12}"),
            Some(LiteralSpec {
                len: 12,
                non_sync: false,
                binary: false
            })
        );
        assert_eq!(
            ann(b"a APPEND INBOX {12+}"),
            Some(LiteralSpec {
                len: 12,
                non_sync: true,
                binary: false
            })
        );
        assert_eq!(
            ann(b"a APPEND INBOX ~{7}"),
            Some(LiteralSpec {
                len: 7,
                non_sync: false,
                binary: true
            })
        );
        assert_eq!(
            ann(b"a APPEND INBOX ~{0+}"),
            Some(LiteralSpec {
                len: 0,
                non_sync: true,
                binary: true
            })
        );
        assert_eq!(
            ann(b"{18446744073709551615}").map(|s| s.len),
            Some(u64::MAX)
        );
        assert!(literal_announcement(b"a LOGIN {18446744073709551616}").is_err());
        assert!(literal_announcement(b"a LOGIN {99999999999999999999999999}").is_err());
        assert_eq!(
            literal_announcement(b"a LOGIN {99999999999999999999999999}")
                .unwrap_err()
                .tag
                .as_deref(),
            Some("a")
        );
        for none in [
            &b""[..],
            b"a NOOP",
            b"a LOGIN \"x\" \"{5}",
            b"a LOGIN \"x\\\" {5}",
            b"a LOGIN {}",
            b"a LOGIN {+}",
            b"a LOGIN {5a}",
            b"a LOGIN foo}",
            b"}",
            b"{-1}",
        ] {
            assert_eq!(ann(none), None, "{:?}", String::from_utf8_lossy(none));
        }
        assert!(ann(b"a LOGIN \"x\\\\\" {5}").is_some());
    }

    #[test]
    fn peek() {
        let p = |s: &[u8]| peek_tag_and_name(s);
        assert_eq!(
            p(b"a1 uid fetch 1:* FLAGS"),
            Some(("a1".into(), "UID FETCH".into()))
        );
        assert_eq!(
            p(b"a1 append INBOX {3}"),
            Some(("a1".into(), "APPEND".into()))
        );
        assert_eq!(p(b"a1 NOOP"), Some(("a1".into(), "NOOP".into())));
        assert_eq!(p(b"a1 UID"), Some(("a1".into(), "UID".into())));
        assert_eq!(p(b"a1"), None);
        assert_eq!(p(b"+ NOOP"), None);
        assert_eq!(p(b" NOOP"), None);
        assert_eq!(p(b"a1 NO(OP"), None);
        assert_eq!(p(b"\xff\xfe NOOP"), None);
    }

    #[test]
    fn auth_and_idle() {
        assert_eq!(parse_authenticate_response(b"*"), Ok(AuthResponse::Cancel));
        assert_eq!(
            parse_authenticate_response(b""),
            Ok(AuthResponse::Data(vec![]))
        );
        assert_eq!(
            parse_authenticate_response(b"AHVzZXIAcGFzcw=="),
            Ok(AuthResponse::Data(b"\0user\0pass".to_vec()))
        );
        let e = parse_authenticate_response(b"not base64!").unwrap_err();
        assert_eq!(e.tag, None);
        assert!(is_idle_done(b"DONE"));
        assert!(is_idle_done(b"done"));
        assert!(!is_idle_done(b"DONE "));
        assert!(!is_idle_done(b"a DONE"));
    }
}
