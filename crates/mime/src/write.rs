//! Serializes ENVELOPE, BODY and BODYSTRUCTURE values from the MIME tree.

use crate::address::{EnvAddr, parse_list};
use crate::header::RawField;
use crate::imap::{nstring, nstring_nolf, string, string_for_humans};
use crate::mime::{Kind, Node, Params, PartHeader};

/// The last occurrence of a header field (Dovecot's ENVELOPE keeps the last one).
fn last<'a>(fields: &'a [RawField<'a>], name: &str) -> Option<&'a RawField<'a>> {
    fields
        .iter()
        .rev()
        .find(|f| f.has_colon && f.name.eq_ignore_ascii_case(name.as_bytes()))
}

fn write_addrs(out: &mut String, list: &[EnvAddr]) {
    if list.is_empty() {
        out.push_str("NIL");
        return;
    }
    out.push('(');
    for a in list {
        out.push('(');
        match &a.name {
            Some(n) => string_for_humans(out, n),
            None => out.push_str("NIL"),
        }
        out.push(' ');
        nstring(out, a.route.as_deref());
        out.push(' ');
        nstring(out, a.mailbox.as_deref());
        out.push(' ');
        nstring(out, a.domain.as_deref());
        out.push(')');
    }
    out.push(')');
}

/// ENVELOPE value for a header block.
pub(crate) fn envelope(out: &mut String, fields: &[RawField<'_>]) {
    out.push('(');
    nstring_nolf(out, last(fields, "date").map(|f| f.value));
    out.push(' ');
    match last(fields, "subject") {
        Some(f) => string_for_humans(out, f.value),
        None => out.push_str("NIL"),
    }
    // Dovecot concatenates repeated address headers.
    let addr = |name: &str| {
        let mut found = false;
        let mut list = Vec::new();
        for f in fields
            .iter()
            .filter(|f| f.has_colon && f.name.eq_ignore_ascii_case(name.as_bytes()))
        {
            found = true;
            list.extend(parse_list(f.value));
        }
        found.then_some(list)
    };
    let from = addr("from").unwrap_or_default();
    let sender = addr("sender")
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| from.clone());
    let reply_to = addr("reply-to")
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| from.clone());
    for list in [
        &from,
        &sender,
        &reply_to,
        &addr("to").unwrap_or_default(),
        &addr("cc").unwrap_or_default(),
        &addr("bcc").unwrap_or_default(),
    ] {
        out.push(' ');
        write_addrs(out, list);
    }
    out.push(' ');
    nstring_nolf(out, last(fields, "in-reply-to").map(|f| f.value));
    out.push(' ');
    nstring_nolf(out, last(fields, "message-id").map(|f| f.value));
    out.push(')');
}

fn write_params(out: &mut String, params: &Params) {
    if params.is_empty() {
        out.push_str("NIL");
        return;
    }
    out.push('(');
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        string(out, k);
        out.push(' ');
        string(out, v);
    }
    out.push(')');
}

fn write_ext_common(out: &mut String, h: &PartHeader) {
    out.push(' ');
    match &h.disposition {
        Some((d, p)) => {
            out.push('(');
            string(out, d);
            out.push(' ');
            write_params(out, p);
            out.push(')');
        }
        None => out.push_str("NIL"),
    }
    out.push(' ');
    match &h.language {
        Some(langs) => {
            out.push('(');
            for (i, l) in langs.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                string(out, l);
            }
            out.push(')');
        }
        None => out.push_str("NIL"),
    }
    out.push(' ');
    nstring_nolf(out, h.location.as_deref());
}

fn count_lines(raw: &[u8], node: &Node<'_>) -> usize {
    raw[node.body_start..node.body_end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

/// BODY (extended = false) or BODYSTRUCTURE (extended = true) of `node`.
pub(crate) fn body(out: &mut String, raw: &[u8], node: &Node<'_>, extended: bool) {
    let h = &node.info;
    if let Kind::Multi(children) = &node.kind {
        out.push('(');
        if children.is_empty() {
            out.push_str("(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0");
            if extended {
                out.push_str(" NIL NIL NIL NIL");
            }
            out.push(')');
        }
        for c in children {
            body(out, raw, c, extended);
        }
        out.push(' ');
        let sub = h
            .ctype
            .as_ref()
            .map(|(_, s)| s.as_slice())
            .unwrap_or(b"mixed");
        string(out, sub);
        if extended {
            out.push(' ');
            write_params(out, &h.params);
            write_ext_common(out, h);
        }
        out.push(')');
        return;
    }
    out.push('(');
    let (ty, sub): (&[u8], &[u8]) = if h.opaque {
        (b"application", b"octet-stream")
    } else if h.ctype_invalid {
        (b"", b"")
    } else if matches!(node.kind, Kind::Message(_)) {
        (b"message", b"rfc822")
    } else {
        match &h.ctype {
            Some((t, s)) => (t, s),
            None if h.digest_default => (b"message", b"rfc822"),
            None => (b"text", b"plain"),
        }
    };
    string(out, ty);
    out.push(' ');
    string(out, sub);
    out.push(' ');
    if h.ctype.is_none() && !h.digest_default && !h.ctype_invalid {
        out.push_str("(\"charset\" \"us-ascii\")");
    } else if !h.opaque
        && !h.ctype_invalid
        && ty.eq_ignore_ascii_case(b"text")
        && h.param("charset").is_none()
    {
        // Dovecot adds the RFC 2045 default charset to text parts that lack one
        let mut p = h.params.clone();
        p.push((b"charset".to_vec(), b"us-ascii".to_vec()));
        write_params(out, &p);
    } else {
        write_params(out, &h.params);
    }
    out.push(' ');
    nstring_nolf(out, h.id.as_deref());
    out.push(' ');
    nstring_nolf(out, h.description.as_deref());
    out.push(' ');
    match &h.encoding {
        Some(e) => string(out, e),
        None => out.push_str("\"7bit\""),
    }
    out.push(' ');
    out.push_str(&(node.body_end - node.body_start).to_string());
    if ty.eq_ignore_ascii_case(b"text") {
        out.push(' ');
        out.push_str(&count_lines(raw, node).to_string());
    } else if let Kind::Message(inner) = &node.kind {
        out.push(' ');
        envelope(out, &inner.fields);
        out.push(' ');
        body(out, raw, inner, extended);
        out.push(' ');
        out.push_str(&count_lines(raw, node).to_string());
    }
    if extended {
        out.push(' ');
        nstring_nolf(out, h.md5.as_deref());
        write_ext_common(out, h);
    }
    out.push(')');
}
