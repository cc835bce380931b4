//! Address-list parsing for ENVELOPE, from the raw (undecoded) header value.

use crate::rfc822::{Tok, is_atext};

/// One ENVELOPE address entry; group start is (NIL NIL name NIL), group end is all NIL.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct EnvAddr {
    pub name: Option<Vec<u8>>,
    pub route: Option<Vec<u8>>,
    pub mailbox: Option<Vec<u8>>,
    pub domain: Option<Vec<u8>>,
}

const MISSING_MAILBOX: &[u8] = b"MISSING_MAILBOX";
const MISSING_DOMAIN: &[u8] = b"MISSING_DOMAIN";

/// Upper bound on parsed addresses per header, to bound work on hostile input.
const MAX_ADDRESSES: usize = 100_000;

/// Parses words (atoms, dots, quoted strings) joined by single spaces. Returns None if no word.
fn phrase(t: &mut Tok<'_>) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::new();
    let mut any = false;
    loop {
        if !t.skip_cfws() {
            break;
        }
        match t.peek() {
            Some(b'"') => {
                let q = t.quoted().unwrap_or_default();
                if any {
                    out.push(b' ');
                }
                out.extend_from_slice(&q);
                any = true;
            }
            Some(b) if is_atext(b) || b == b'.' => {
                let s = t.pos;
                while let Some(c) = t.peek() {
                    if is_atext(c) || c == b'.' {
                        t.pos += 1;
                    } else {
                        break;
                    }
                }
                if any {
                    out.push(b' ');
                }
                out.extend_from_slice(&t.data[s..t.pos]);
                any = true;
            }
            _ => break,
        }
    }
    if any { Some(out) } else { None }
}

/// dot-atom / obs-local-part: words separated by dots, CFWS allowed around them.
fn dot_words(t: &mut Tok<'_>, out: &mut Vec<u8>) -> bool {
    let mut any = false;
    loop {
        t.skip_cfws();
        match t.peek() {
            Some(b'"') => {
                let q = t.quoted().unwrap_or_default();
                out.extend_from_slice(&q);
                any = true;
            }
            Some(b) if is_atext(b) => {
                let a = t.atom().unwrap_or_default();
                out.extend_from_slice(a);
                any = true;
            }
            _ => {}
        }
        t.skip_cfws();
        if t.peek() == Some(b'.') {
            t.pos += 1;
            out.push(b'.');
            continue;
        }
        return any;
    }
}

fn domain(t: &mut Tok<'_>) -> Option<Vec<u8>> {
    t.skip_cfws();
    if t.peek() == Some(b'[') {
        let s = t.pos;
        while let Some(c) = t.peek() {
            t.pos += 1;
            if c == b']' {
                break;
            }
            if c == b'\\' {
                t.pos += 1;
            }
        }
        let end = t.pos.min(t.data.len());
        let lit: Vec<u8> = t.data[s..end]
            .iter()
            .copied()
            .filter(|&b| b != b'\r' && b != b'\n')
            .collect();
        return Some(lit);
    }
    let mut out = Vec::new();
    if dot_words(t, &mut out) {
        Some(out)
    } else {
        None
    }
}

/// addr-spec: local-part ["@" domain]. Returns (mailbox, domain).
fn addr_spec(t: &mut Tok<'_>) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let mut local = Vec::new();
    let has_local = dot_words(t, &mut local);
    t.skip_cfws();
    let dom = if t.peek() == Some(b'@') {
        t.pos += 1;
        domain(t)
    } else {
        None
    };
    (if has_local { Some(local) } else { None }, dom)
}

fn fill(mut a: EnvAddr) -> EnvAddr {
    if a.mailbox.as_ref().is_none_or(|m| m.is_empty()) {
        a.mailbox = Some(MISSING_MAILBOX.to_vec());
    }
    if a.domain.as_ref().is_none_or(|d| d.is_empty()) {
        a.domain = Some(MISSING_DOMAIN.to_vec());
    }
    a
}

fn mailbox(t: &mut Tok<'_>, out: &mut Vec<EnvAddr>) {
    let start = t.pos;
    t.last_comment = None;
    let name = phrase(t);
    t.skip_cfws();
    if t.peek() == Some(b'<') {
        t.pos += 1;
        t.skip_cfws();
        let mut route = None;
        if t.peek() == Some(b'@') {
            // obs-route: 1#("@" domain) ":"
            let mut r = Vec::new();
            loop {
                t.skip_cfws();
                match t.peek() {
                    Some(b'@') => {
                        t.pos += 1;
                        r.push(b'@');
                        if let Some(d) = domain(t) {
                            r.extend_from_slice(&d);
                        }
                    }
                    Some(b',') => {
                        t.pos += 1;
                        r.push(b',');
                    }
                    _ => break,
                }
            }
            if t.peek() == Some(b':') {
                t.pos += 1;
            }
            route = Some(r);
        }
        let (mb, dom) = addr_spec(t);
        t.skip_cfws();
        if t.peek() == Some(b'>') {
            t.pos += 1;
        }
        out.push(fill(EnvAddr {
            name,
            route,
            mailbox: mb,
            domain: dom,
        }));
    } else {
        t.pos = start;
        t.last_comment = None;
        let (mb, dom) = addr_spec(t);
        t.skip_cfws();
        if dom.is_some() || t.at_end() || t.peek() == Some(b',') || t.peek() == Some(b';') {
            let name = t.last_comment.take();
            out.push(fill(EnvAddr {
                name,
                route: None,
                mailbox: mb,
                domain: dom,
            }));
        } else {
            // not an addr-spec either: keep the phrase as a display name, address missing
            out.push(fill(EnvAddr {
                name,
                route: None,
                mailbox: None,
                domain: None,
            }));
        }
    }
}

/// Parses an address-list header value into ENVELOPE entries.
pub(crate) fn parse_list(value: &[u8]) -> Vec<EnvAddr> {
    let mut t = Tok::new(value);
    let mut out = Vec::new();
    t.skip_cfws();
    let first_pos = t.pos;
    while out.len() < MAX_ADDRESSES {
        t.skip_cfws();
        let Some(c) = t.peek() else { break };
        if c == b',' {
            if out.is_empty() && t.pos == first_pos {
                // an empty element before the first comma
                out.push(fill(EnvAddr::default()));
            }
            t.pos += 1;
            t.skip_cfws();
            if t.peek() == Some(b',') {
                // an empty element between two commas
                out.push(fill(EnvAddr::default()));
            }
            continue;
        }
        let start = t.pos;
        let p = phrase(&mut t);
        t.skip_cfws();
        if p.is_some() && t.peek() == Some(b':') {
            t.pos += 1;
            out.push(EnvAddr {
                mailbox: p,
                ..Default::default()
            });
            loop {
                t.skip_cfws();
                match t.peek() {
                    None => break,
                    Some(b';') => {
                        t.pos += 1;
                        break;
                    }
                    Some(b',') => t.pos += 1,
                    Some(_) => {
                        let before = t.pos;
                        mailbox(&mut t, &mut out);
                        t.skip_cfws();
                        if t.pos == before {
                            t.pos += 1;
                        }
                    }
                }
            }
            out.push(EnvAddr::default());
        } else {
            t.pos = start;
            mailbox(&mut t, &mut out);
        }
        t.skip_cfws();
        if t.pos == start {
            t.pos += 1;
        }
        if !t.at_end() && t.peek() != Some(b',') {
            // garbage after an address: Dovecot gives up on the rest of the list
            break;
        }
    }
    out
}
