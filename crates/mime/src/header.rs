//! Raw header-block tokenizing: splits a header block into fields without decoding anything.

/// One header field as it appears in the raw message.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawField<'a> {
    /// Field name with trailing whitespace removed (as before the colon).
    pub name: &'a [u8],
    /// Raw value: starts after the colon and the whitespace following it on the first line, runs to
    /// the end of the last continuation line, excluding that line's terminator. Folds (CRLF + WSP)
    /// are still inside.
    pub value: &'a [u8],
    /// Whether the line had a colon at all.
    pub has_colon: bool,
}

/// Returns the end of the line that starts at `pos` (index just past its LF, or `end`).
pub(crate) fn line_end(raw: &[u8], pos: usize, end: usize) -> usize {
    match raw[pos..end].iter().position(|&b| b == b'\n') {
        Some(i) => pos + i + 1,
        None => end,
    }
}

/// Length of the content of a line without its terminator (CRLF or LF).
pub(crate) fn trim_eol(line: &[u8]) -> &[u8] {
    let mut l = line;
    if let Some(rest) = l.strip_suffix(b"\n") {
        l = rest;
        if let Some(rest) = l.strip_suffix(b"\r") {
            l = rest;
        }
    }
    l
}

fn is_blank_line(line: &[u8]) -> bool {
    line == b"\r\n" || line == b"\n"
}

/// Scans a header block starting at `start`. Stops at the blank line (returned body start is just
/// after it), at `end`, or — when `stop` says so — before a line that `stop` recognizes (e.g. a
/// MIME boundary). Returns (fields, body_start, stopped_by_predicate).
pub(crate) fn scan_header<'a>(
    raw: &'a [u8],
    start: usize,
    end: usize,
    mut stop: impl FnMut(usize) -> bool,
) -> (Vec<RawField<'a>>, usize, bool) {
    let mut fields: Vec<RawField<'a>> = Vec::new();
    let mut pos = start;
    // (name, value_start, has_colon) of the field being accumulated, and its current value end
    let mut cur: Option<(&'a [u8], usize, bool)> = None;
    let mut cur_end = start;
    let flush = |fields: &mut Vec<RawField<'a>>,
                 cur: &mut Option<(&'a [u8], usize, bool)>,
                 cur_end: usize| {
        if let Some((name, vs, has_colon)) = cur.take() {
            let vs = vs.min(cur_end);
            fields.push(RawField {
                name,
                value: &raw[vs..cur_end],
                has_colon,
            });
        }
    };
    while pos < end {
        let le = line_end(raw, pos, end);
        let line = &raw[pos..le];
        if is_blank_line(line) {
            flush(&mut fields, &mut cur, cur_end);
            return (fields, le, false);
        }
        if stop(pos) {
            flush(&mut fields, &mut cur, cur_end);
            return (fields, pos, true);
        }
        let content = trim_eol(line);
        if (line[0] == b' ' || line[0] == b'\t') && cur.is_some() {
            cur_end = pos + content.len();
        } else {
            flush(&mut fields, &mut cur, cur_end);
            match content.iter().position(|&b| b == b':') {
                Some(c) => {
                    let mut name = &content[..c];
                    while let Some((&last, rest)) = name.split_last() {
                        if last == b' ' || last == b'\t' {
                            name = rest;
                        } else {
                            break;
                        }
                    }
                    let mut vs = pos + c + 1;
                    let ce = pos + content.len();
                    while vs < ce && (raw[vs] == b' ' || raw[vs] == b'\t') {
                        vs += 1;
                    }
                    cur = Some((name, vs, true));
                    cur_end = ce;
                }
                None => {
                    cur = Some((content, pos + content.len(), false));
                    cur_end = pos + content.len();
                }
            }
        }
        pos = le;
    }
    flush(&mut fields, &mut cur, cur_end);
    (fields, end, false)
}

/// Removes CR and LF bytes (unfolds, keeping the folding whitespace).
pub(crate) fn unfold(value: &[u8]) -> Vec<u8> {
    value
        .iter()
        .copied()
        .filter(|&b| b != b'\r' && b != b'\n')
        .collect()
}
