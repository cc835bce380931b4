//! Base subject extraction (RFC 5256 §2.1) and the `i18n;ascii-casemap` collation (RFC 4790)
//! that SORT and THREAD compare with. Written here because no maintained crate implements it.

/// The base subject, ASCII-uppercased for comparison, and whether the subject marked a reply or
/// forward (a removed `Re:`/`Fwd:` leader, `(fwd)` trailer or `[fwd: ...]` wrapper).
pub fn base_subject(subject: &str) -> (String, bool) {
    // (1) Whitespace runs (tabs, unfolded continuations) become one space.
    let mut s = String::with_capacity(subject.len());
    for c in subject.chars() {
        let c = if c == '\t' || c == '\r' || c == '\n' {
            ' '
        } else {
            c
        };
        if c == ' ' && s.ends_with(' ') {
            continue;
        }
        s.push(c);
    }
    let mut reply = false;
    loop {
        // (2) Trailing "(fwd)" and whitespace.
        loop {
            let lower = s.to_ascii_lowercase();
            if lower.ends_with("(fwd)") {
                s.truncate(s.len() - 5);
                reply = true;
            } else if s.ends_with(' ') {
                s.pop();
            } else {
                break;
            }
        }
        // (3)-(5) Leaders and blobs.
        loop {
            if let Some(rest) = strip_leader(&s) {
                // A removed Re:/Fwd: (not just a space) marks a reply or forward.
                reply |= !s.starts_with(' ');
                s = rest.to_string();
                continue;
            }
            if let Some(rest) = strip_blob(&s)
                && !rest.is_empty()
            {
                s = rest.to_string();
                continue;
            }
            break;
        }
        // (6) "[fwd: ...]".
        // `get`, not slicing: byte 5 may fall inside a non-ASCII character.
        if s.len() >= 6
            && s.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("[fwd:"))
            && s.ends_with(']')
        {
            s = s[5..s.len() - 1].to_string();
            reply = true;
            continue;
        }
        break;
    }
    (casemap(&s), reply)
}

/// `subj-blob = "[" *BLOBCHAR "]" *WSP`: the rest after one blob.
fn strip_blob(s: &str) -> Option<&str> {
    let rest = s.strip_prefix('[')?;
    let end = rest.find([']', '['])?;
    if rest.as_bytes()[end] != b']' {
        return None;
    }
    Some(rest[end + 1..].trim_start_matches(' '))
}

/// `subj-leader = (*subj-blob subj-refwd) / WSP`: the rest after one leader.
fn strip_leader(s: &str) -> Option<&str> {
    if let Some(rest) = s.strip_prefix(' ') {
        return Some(rest);
    }
    let mut rest = s;
    loop {
        if let Some(after) = strip_refwd(rest) {
            return Some(after);
        }
        rest = strip_blob(rest)?;
    }
}

/// `subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"`.
fn strip_refwd(s: &str) -> Option<&str> {
    let lower = s.get(..3).unwrap_or(s).to_ascii_lowercase();
    let mut rest = if lower.starts_with("re") {
        &s[2..]
    } else if lower.starts_with("fwd") {
        &s[3..]
    } else if lower.starts_with("fw") {
        &s[2..]
    } else {
        return None;
    };
    rest = rest.trim_start_matches(' ');
    if let Some(after) = strip_blob(rest) {
        rest = after;
    }
    rest.strip_prefix(':')
}

/// `i18n;ascii-casemap`: ASCII letters uppercased, everything else compared as octets.
pub fn casemap(s: &str) -> String {
    s.to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::base_subject;

    fn base(s: &str) -> String {
        base_subject(s).0
    }

    #[test]
    fn non_ascii_subjects_never_split_a_character() {
        assert_eq!(base_subject("Grüße"), ("GRüßE".into(), false));
        assert_eq!(base_subject("Re: Grüße (fwd)"), ("GRüßE".into(), true));
        assert_eq!(base_subject("ßßß"), ("ßßß".into(), false));
        assert_eq!(base_subject("[fwd: é]"), ("é".into(), true));
    }

    #[test]
    fn leaders_trailers_and_blobs() {
        assert_eq!(base_subject("Hello"), ("HELLO".into(), false));
        assert_eq!(base_subject("Re: hello"), ("HELLO".into(), true));
        assert_eq!(base_subject("RE:  Re: re:hello"), ("HELLO".into(), true));
        assert_eq!(base_subject("Fwd: hello (fwd)"), ("HELLO".into(), true));
        assert_eq!(base_subject("FW: hello"), ("HELLO".into(), true));
        assert_eq!(base("[list] Re: hello"), "HELLO");
        assert_eq!(base("Re [list]: hello"), "HELLO");
        assert_eq!(base("[PATCH] fix"), "FIX");
        assert_eq!(base("[only a blob]"), "[ONLY A BLOB]");
        assert_eq!(base_subject("[Fwd: Re: hello]"), ("HELLO".into(), true));
        assert_eq!(base("  spaced\t\tout  "), "SPACED OUT");
        assert_eq!(base("Réponse"), "RéPONSE");
        assert_eq!(base("Research"), "RESEARCH");
        assert_eq!(base("Re:"), "");
        assert_eq!(base(""), "");
    }
}
