//! IMAP string output rules (quoted vs. literal), modelled on what Dovecot puts on the wire.

use std::borrow::Cow;
use std::fmt::Write;

/// Appends `bytes` as an IMAP string: quoted when every byte may appear in a quoted string without
/// escaping, otherwise as a literal `{n}\r\n...`. Bytes that are not valid UTF-8 are replaced by
/// U+FFFD (the value is stored as a Rust `String`); the literal length counts the replaced text.
pub(crate) fn string(out: &mut String, bytes: &[u8]) {
    let s: Cow<'_, str> = String::from_utf8_lossy(bytes);
    let needs_literal = s
        .bytes()
        .any(|b| matches!(b, b'\r' | b'\n' | b'"' | b'\\' | 0) || b >= 0x80);
    if needs_literal {
        let _ = write!(out, "{{{}}}\r\n", s.len());
        out.push_str(&s);
    } else {
        out.push('"');
        out.push_str(&s);
        out.push('"');
    }
}

pub(crate) fn nstring(out: &mut String, bytes: Option<&[u8]>) {
    match bytes {
        Some(b) => string(out, b),
        None => out.push_str("NIL"),
    }
}

/// As [`nstring`], with CR and LF removed first (header values are unfolded this way).
pub(crate) fn nstring_nolf(out: &mut String, bytes: Option<&[u8]>) {
    match bytes {
        Some(b) => {
            if b.iter().any(|&c| c == b'\r' || c == b'\n') {
                string(out, &crate::header::unfold(b))
            } else {
                string(out, b)
            }
        }
        None => out.push_str("NIL"),
    }
}

/// Human-readable text (subjects, display names): runs of whitespace (SP, TAB, CR, LF) collapse
/// into one space and leading/trailing whitespace is removed; if anything had to change, the
/// result is sent as a literal, as Dovecot does.
pub(crate) fn string_for_humans(out: &mut String, src: &[u8]) {
    let is_ws = |b: u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let mut modify = false;
    let mut last_ws = true;
    let mut all_ws = true;
    for &b in src {
        match b {
            0 => {
                modify = true;
                last_ws = false;
                all_ws = false;
            }
            b'\t' | b'\r' | b'\n' | b' ' => {
                if b != b' ' || last_ws {
                    modify = true;
                }
                last_ws = true;
            }
            _ => {
                last_ws = false;
                all_ws = false;
            }
        }
    }
    if last_ws && !src.is_empty() {
        modify = true;
    }
    if !modify {
        string(out, src);
        return;
    }
    if all_ws {
        out.push_str("\"\"");
        return;
    }
    let mut buf = Vec::with_capacity(src.len());
    let mut pending_space = false;
    for &b in src {
        if is_ws(b) {
            if !buf.is_empty() {
                pending_space = true;
            }
            continue;
        }
        if pending_space {
            buf.push(b' ');
            pending_space = false;
        }
        buf.push(if b == 0 { 0x80 } else { b });
    }
    let s = String::from_utf8_lossy(&buf);
    let _ = write!(out, "{{{}}}\r\n", s.len());
    out.push_str(&s);
}
