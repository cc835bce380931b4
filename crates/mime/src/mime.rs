//! The MIME tree: a single pass over the raw message that finds every part's header and body
//! ranges, following the way Dovecot's message parser splits multiparts and encapsulated messages.

use crate::header::{RawField, line_end, scan_header};
use crate::rfc822::{Tok, is_wsp};

/// Nesting level at which multipart/message parts stop being descended into (root = level 1).
pub const MAX_NESTING: usize = 100;
/// Once this many parts exist, boundaries are no longer recognized.
pub const MAX_PARTS: usize = 10_000;
/// Only this many leading bytes of a boundary are compared (longer ones are truncated, as
/// Dovecot does).
const MAX_BOUNDARY_LEN: usize = 80;

pub(crate) type Params = Vec<(Vec<u8>, Vec<u8>)>;

/// What a part's MIME header says (raw, undecoded values).
#[derive(Debug, Default, Clone)]
pub(crate) struct PartHeader {
    pub ctype: Option<(Vec<u8>, Vec<u8>)>,
    pub params: Params,
    pub id: Option<Vec<u8>>,
    pub description: Option<Vec<u8>>,
    pub encoding: Option<Vec<u8>>,
    pub md5: Option<Vec<u8>>,
    pub disposition: Option<(Vec<u8>, Params)>,
    pub language: Option<Vec<Vec<u8>>>,
    pub location: Option<Vec<u8>>,
    /// Content-Type was absent and defaulted to message/rfc822 (multipart/digest child).
    pub digest_default: bool,
    /// A Content-Type header was present but unparsable: reported as type "" subtype "".
    pub ctype_invalid: bool,
    /// Nesting limit hit: multipart/message is reported as application/octet-stream.
    pub opaque: bool,
}

impl PartHeader {
    pub fn type_is(&self, t: &str, st: Option<&str>) -> bool {
        match &self.ctype {
            Some((ty, sub)) => {
                ty.eq_ignore_ascii_case(t.as_bytes())
                    && st.is_none_or(|s| sub.eq_ignore_ascii_case(s.as_bytes()))
            }
            None => {
                !self.ctype_invalid
                    && self.digest_default
                    && t == "message"
                    && st.is_none_or(|s| s == "rfc822")
            }
        }
    }

    pub fn param(&self, name: &str) -> Option<&[u8]> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v.as_slice())
    }

    fn boundary(&self) -> Option<&[u8]> {
        if !self.is_multipart_type() {
            return None;
        }
        self.param("boundary")
            .filter(|b| !b.is_empty())
            .map(|b| &b[..b.len().min(MAX_BOUNDARY_LEN)])
    }

    /// multipart/* (with or without a usable boundary).
    pub fn is_multipart_type(&self) -> bool {
        !self.opaque && self.type_is("multipart", None)
    }

    pub fn is_message(&self) -> bool {
        !self.opaque && self.type_is("message", Some("rfc822"))
    }
}

#[derive(Debug)]
pub(crate) enum Kind<'a> {
    Leaf,
    Multi(Vec<Node<'a>>),
    /// Encapsulated message (message/rfc822 body).
    Message(Box<Node<'a>>),
}

#[derive(Debug)]
pub(crate) struct Node<'a> {
    pub header_start: usize,
    pub body_start: usize,
    pub body_end: usize,
    pub fields: Vec<RawField<'a>>,
    pub info: PartHeader,
    pub kind: Kind<'a>,
}

struct Hit {
    line_start: usize,
    idx: usize,
    close: bool,
    next: usize,
}

struct Parser<'a> {
    raw: &'a [u8],
    boundaries: Vec<Vec<u8>>,
    parts: usize,
}

fn trim_ws(mut v: &[u8]) -> &[u8] {
    while let Some((&f, rest)) = v.split_first() {
        if is_wsp(f) { v = rest } else { break }
    }
    while let Some((&l, rest)) = v.split_last() {
        if is_wsp(l) { v = rest } else { break }
    }
    v
}

/// Parses `; name=value` parameters, merging RFC 2231 continuations.
fn parse_params(t: &mut Tok<'_>) -> Params {
    let mut raw: Params = Vec::new();
    loop {
        t.skip_cfws();
        match t.peek() {
            Some(b';') => t.pos += 1,
            _ => break,
        }
        t.skip_cfws();
        let Some(key) = t.mime_token() else {
            // tolerate empty parameters (";;")
            if t.peek() == Some(b';') {
                continue;
            }
            break;
        };
        t.skip_cfws();
        if t.peek() != Some(b'=') {
            break;
        }
        t.pos += 1;
        t.skip_cfws();
        let value = if t.data[t.pos..].starts_with(b"=?") {
            // unquoted encoded-word (`name==?utf-8?B?...?=`), as broken mailers send it
            let s = t.pos;
            while t.peek().is_some_and(|b| b != b';' && !is_wsp(b)) {
                t.pos += 1;
            }
            t.data[s..t.pos].to_vec()
        } else if t.peek() == Some(b'"') {
            match t.quoted_strict() {
                Some(v) => v,
                None => break,
            }
        } else {
            match t.mime_token() {
                Some(v) => v.to_vec(),
                None => break,
            }
        };
        raw.push((key.to_vec(), value));
    }
    merge_rfc2231(raw)
}

/// One RFC 2231 continuation piece: (index, extended, value).
type Piece = (u32, bool, Vec<u8>);

/// RFC 2231: parameters without `*` come first, in order; then `name*` / `name*N[*]` ones. A
/// continuation sequence 0..n is joined into `name` (or `name*` when piece 0 is extended; the
/// pieces are concatenated as they are). A sequence with a gap is output piece by piece, sorted.
fn merge_rfc2231(raw: Params) -> Params {
    if !raw.iter().any(|(k, _)| k.contains(&b'*')) {
        return raw;
    }
    let mut plain: Params = Vec::new();
    let mut starred: Params = Vec::new();
    // name -> pieces (index, extended, value)
    let mut conts: Vec<(Vec<u8>, Vec<Piece>)> = Vec::new();
    for (k, v) in raw {
        let Some(star) = k.iter().position(|&b| b == b'*') else {
            plain.push((k, v));
            continue;
        };
        let name = &k[..star];
        let rest = &k[star + 1..];
        let (num, ext) = match rest.strip_suffix(b"*") {
            Some(n) => (n, true),
            None => (rest, false),
        };
        if num.is_empty() || !num.iter().all(u8::is_ascii_digit) || num.len() > 5 {
            starred.push((k, v));
            continue;
        }
        let idx: u32 = std::str::from_utf8(num)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(u32::MAX);
        match conts.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            Some((_, list)) => list.push((idx, ext, v)),
            None => conts.push((name.to_vec(), vec![(idx, ext, v)])),
        }
    }
    plain.extend(starred);
    for (name, mut list) in conts {
        list.sort_by_key(|(i, _, _)| *i);
        let contiguous = list
            .iter()
            .enumerate()
            .all(|(n, (i, _, _))| *i as usize == n);
        if contiguous {
            let first_ext = list.first().is_some_and(|(_, e, _)| *e);
            let mut key = name;
            if first_ext {
                key.push(b'*');
            }
            plain.push((key, list.into_iter().flat_map(|(_, _, v)| v).collect()));
        } else {
            for (i, ext, v) in list {
                let mut key = name.clone();
                key.extend_from_slice(format!("*{i}").as_bytes());
                if ext {
                    key.push(b'*');
                }
                plain.push((key, v));
            }
        }
    }
    plain
}

fn parse_content_type(value: &[u8], h: &mut PartHeader) {
    let mut t = Tok::new(value);
    let parsed = (|| {
        t.skip_cfws();
        let ty = t.mime_token()?;
        t.skip_cfws();
        if t.at_end() {
            // a bare type ("text") is accepted with an empty subtype, as Dovecot does
            return Some((ty.to_vec(), Vec::new()));
        }
        if t.peek() != Some(b'/') {
            return None;
        }
        t.pos += 1;
        t.skip_cfws();
        // an empty subtype ("text/") is accepted
        let sub = t.mime_token().unwrap_or_default();
        t.skip_cfws();
        if !t.at_end() && t.peek() != Some(b';') {
            return None;
        }
        Some((ty.to_vec(), sub.to_vec()))
    })();
    match parsed {
        Some(ct) => {
            h.ctype = Some(ct);
            h.ctype_invalid = false;
            h.params = parse_params(&mut t);
        }
        None => {
            h.ctype = None;
            h.ctype_invalid = true;
            h.params = Vec::new();
        }
    }
}

fn parse_disposition(value: &[u8]) -> Option<(Vec<u8>, Params)> {
    let mut t = Tok::new(value);
    t.skip_cfws();
    let d = t.mime_token().unwrap_or_default().to_vec();
    let params = parse_params(&mut t);
    Some((d, params))
}

fn parse_language(value: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut t = Tok::new(value);
    let mut out = Vec::new();
    loop {
        t.skip_cfws();
        match t.peek() {
            None => break,
            Some(b',') => t.pos += 1,
            Some(_) => match t.mime_token() {
                Some(tok) => out.push(tok.to_vec()),
                None => break,
            },
        }
    }
    if out.is_empty() { None } else { Some(out) }
}

pub(crate) fn part_header(fields: &[RawField<'_>], digest_child: bool) -> PartHeader {
    let mut h = PartHeader::default();
    let mut seen_ct = false;
    let mut seen_cte = false;
    for f in fields {
        if !f.has_colon || f.name.len() < 8 || !f.name[..8].eq_ignore_ascii_case(b"content-") {
            continue;
        }
        let n = &f.name[8..];
        if n.eq_ignore_ascii_case(b"type") {
            if !seen_ct {
                seen_ct = true;
                parse_content_type(f.value, &mut h);
            }
        } else if n.eq_ignore_ascii_case(b"transfer-encoding") {
            if !seen_cte {
                seen_cte = true;
                let mut t = Tok::new(f.value);
                t.skip_cfws();
                let tok = t.mime_token();
                t.skip_cfws();
                h.encoding = if t.at_end() {
                    tok.map(<[u8]>::to_vec)
                } else {
                    None
                };
            }
        } else if n.eq_ignore_ascii_case(b"id") {
            h.id.get_or_insert_with(|| f.value.to_vec());
        } else if n.eq_ignore_ascii_case(b"description") {
            h.description.get_or_insert_with(|| f.value.to_vec());
        } else if n.eq_ignore_ascii_case(b"md5") {
            h.md5.get_or_insert_with(|| f.value.to_vec());
        } else if n.eq_ignore_ascii_case(b"disposition") {
            h.disposition = parse_disposition(f.value);
        } else if n.eq_ignore_ascii_case(b"language") {
            if h.language.is_none() {
                h.language = parse_language(f.value);
            }
        } else if n.eq_ignore_ascii_case(b"location") {
            h.location.get_or_insert_with(|| trim_ws(f.value).to_vec());
        }
    }
    if !seen_ct && digest_child {
        h.digest_default = true;
    }
    h
}

impl<'a> Parser<'a> {
    /// Is the line at `pos` a boundary line of any active multipart? Innermost boundary first.
    fn boundary_at(&self, pos: usize, end: usize) -> Option<Hit> {
        let raw = self.raw;
        if self.parts >= MAX_PARTS || self.boundaries.is_empty() {
            return None;
        }
        if end - pos < 2 || raw[pos] != b'-' || raw[pos + 1] != b'-' {
            return None;
        }
        let rest = &raw[pos + 2..end];
        // the longest matching boundary wins ("--ab" belongs to "ab", not to an inner "a");
        // among equal ones the innermost
        let mut best: Option<(usize, usize)> = None;
        for (idx, b) in self.boundaries.iter().enumerate() {
            if rest.starts_with(b) && best.is_none_or(|(_, len)| b.len() >= len) {
                best = Some((idx, b.len()));
            }
        }
        let (idx, len) = best?;
        let close = rest[len..].starts_with(b"--");
        Some(Hit {
            line_start: pos,
            idx,
            close,
            next: line_end(raw, pos, end),
        })
    }

    fn find_boundary(&self, mut pos: usize, end: usize) -> Option<Hit> {
        if self.parts >= MAX_PARTS || self.boundaries.is_empty() {
            return None;
        }
        while pos < end {
            if let Some(h) = self.boundary_at(pos, end) {
                return Some(h);
            }
            pos = line_end(self.raw, pos, end);
        }
        None
    }

    /// Where a part body ends when the next boundary line starts at `line_start`:
    /// the line break before the boundary belongs to the boundary.
    fn end_before(&self, line_start: usize, body_start: usize) -> usize {
        let raw = self.raw;
        let mut e = line_start;
        if e > body_start && raw[e - 1] == b'\n' {
            e -= 1;
            if e > body_start && raw[e - 1] == b'\r' {
                e -= 1;
            }
        }
        e
    }

    fn parse_part(
        &mut self,
        start: usize,
        end: usize,
        depth: usize,
        digest_child: bool,
    ) -> (Node<'a>, Option<Hit>) {
        let (mut node, hit) = self.parse_part_inner(start, end, depth, digest_child);
        self.trim_header_before_boundary(&mut node, hit.as_ref());
        (node, hit)
    }

    /// A part whose body is empty because a boundary line follows its header at once: the line
    /// break before the boundary belongs to the boundary even when it ends the header (the blank
    /// line, or the last field when a boundary cuts the header short), as in Dovecot. So
    /// `--b CRLF CRLF --b` has an empty MIME header, not CRLF.
    fn trim_header_before_boundary(&self, node: &mut Node<'a>, hit: Option<&Hit>) {
        if let Some(h) = hit
            && node.body_end == node.body_start
            && h.line_start == node.body_start
        {
            let e = self.end_before(h.line_start, node.header_start);
            node.body_start = e;
            node.body_end = e;
        }
    }

    fn parse_part_inner(
        &mut self,
        start: usize,
        end: usize,
        depth: usize,
        digest_child: bool,
    ) -> (Node<'a>, Option<Hit>) {
        self.parts += 1;
        let raw = self.raw;
        let (fields, body_start, stopped) = {
            let this = &*self;
            scan_header(raw, start, end, |pos| this.boundary_at(pos, end).is_some())
        };
        let mut info = part_header(&fields, digest_child);
        if depth >= MAX_NESTING && (info.is_multipart_type() || info.is_message()) {
            info.opaque = true;
        }
        let mut node = Node {
            header_start: start,
            body_start,
            body_end: end,
            fields,
            info,
            kind: Kind::Leaf,
        };
        if node.info.is_multipart_type() {
            node.kind = Kind::Multi(Vec::new());
        }
        // A boundary line inside the header ends the part right there.
        if stopped && let Some(h) = self.boundary_at(body_start, end) {
            node.body_end = body_start;
            return (node, Some(h));
        }
        let boundary = node.info.boundary().map(<[u8]>::to_vec);
        if let Some(boundary) = boundary {
            let my_idx = self.boundaries.len();
            self.boundaries.push(boundary);
            let digest = node.info.type_is("multipart", Some("digest"));
            let mut children: Vec<Node<'a>> = Vec::new();
            let mut hit = self.find_boundary(body_start, end);
            let mut last_end = body_start;
            let result = loop {
                match hit {
                    None => {
                        node.body_end = end;
                        break None;
                    }
                    Some(h) if h.idx == my_idx && !h.close => {
                        // the multipart's own end keeps the child's untrimmed end (Dovecot's
                        // sizes); only the child's header loses the line break
                        let (mut child, chit) =
                            self.parse_part_inner(h.next, end, depth + 1, digest);
                        last_end = child.body_end;
                        self.trim_header_before_boundary(&mut child, chit.as_ref());
                        children.push(child);
                        hit = chit;
                    }
                    Some(h) if h.idx == my_idx => {
                        self.boundaries.truncate(my_idx);
                        let next = self.find_boundary(h.next, end);
                        node.body_end = match &next {
                            Some(n) => self.end_before(n.line_start, body_start).max(h.next),
                            None => end,
                        };
                        break next;
                    }
                    Some(h) => {
                        node.body_end = self.end_before(h.line_start, body_start).max(last_end);
                        break Some(h);
                    }
                }
            };
            self.boundaries.truncate(my_idx);
            node.kind = Kind::Multi(children);
            (node, result)
        } else if node.info.is_message() {
            // The encapsulated message's header may lose the line break before a boundary, but
            // the message/rfc822 body keeps it (Dovecot's sizes).
            let (mut child, hit) = self.parse_part_inner(body_start, end, depth + 1, false);
            node.body_end = match &hit {
                Some(h) => self
                    .end_before(h.line_start, body_start)
                    .max(child.body_end),
                None => end,
            };
            self.trim_header_before_boundary(&mut child, hit.as_ref());
            node.kind = Kind::Message(Box::new(child));
            (node, hit)
        } else {
            self.leaf(node, end)
        }
    }

    fn leaf(&mut self, mut node: Node<'a>, end: usize) -> (Node<'a>, Option<Hit>) {
        let hit = self.find_boundary(node.body_start, end);
        node.body_end = match &hit {
            Some(h) => self.end_before(h.line_start, node.body_start),
            None => end,
        };
        (node, hit)
    }
}

/// Parses the whole message into a MIME tree.
pub(crate) fn parse(raw: &[u8]) -> Node<'_> {
    let mut p = Parser {
        raw,
        boundaries: Vec::new(),
        parts: 0,
    };
    p.parse_part(0, raw.len(), 1, false).0
}
