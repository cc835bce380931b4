//! A small RFC 822/2045 tokenizer over raw header values (folds included), used for
//! Content-* headers and address lists.

pub(crate) struct Tok<'a> {
    pub data: &'a [u8],
    pub pos: usize,
    /// Content of the last comment skipped (used as an address display name).
    pub last_comment: Option<Vec<u8>>,
}

pub(crate) fn is_wsp(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// RFC 2045 token characters: anything printable but tspecials and space.
pub(crate) fn is_mime_token_char(b: u8) -> bool {
    b > b' '
        && b != 0x7f
        && !matches!(
            b,
            b'(' | b')'
                | b'<'
                | b'>'
                | b'@'
                | b','
                | b';'
                | b':'
                | b'\\'
                | b'"'
                | b'/'
                | b'['
                | b']'
                | b'?'
                | b'='
        )
}

/// RFC 5322 atext (8-bit bytes accepted, as RFC 6532 allows).
pub(crate) fn is_atext(b: u8) -> bool {
    b >= 0x80
        || b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'/'
                | b'='
                | b'?'
                | b'^'
                | b'_'
                | b'`'
                | b'{'
                | b'|'
                | b'}'
                | b'~'
        )
}

impl<'a> Tok<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Tok {
            data,
            pos: 0,
            last_comment: None,
        }
    }

    pub fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// Skips whitespace and comments. Returns false if a comment was unterminated (input consumed).
    pub fn skip_cfws(&mut self) -> bool {
        loop {
            while self.pos < self.data.len() && is_wsp(self.data[self.pos]) {
                self.pos += 1;
            }
            if self.peek() != Some(b'(') {
                return true;
            }
            if !self.skip_comment() {
                return false;
            }
        }
    }

    fn skip_comment(&mut self) -> bool {
        // at '('
        self.pos += 1;
        let mut depth = 1usize;
        let mut text = Vec::new();
        while self.pos < self.data.len() {
            let b = self.data[self.pos];
            self.pos += 1;
            match b {
                b'(' => {
                    depth += 1;
                    text.push(b);
                }
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        self.last_comment = Some(text);
                        return true;
                    }
                    text.push(b);
                }
                b'\\' => {
                    if let Some(&n) = self.data.get(self.pos) {
                        self.pos += 1;
                        text.push(n);
                    }
                }
                b'\r' | b'\n' => {}
                _ => text.push(b),
            }
        }
        self.last_comment = Some(text);
        false
    }

    pub fn mime_token(&mut self) -> Option<&'a [u8]> {
        let s = self.pos;
        while self.pos < self.data.len() && is_mime_token_char(self.data[self.pos]) {
            self.pos += 1;
        }
        if self.pos > s {
            Some(&self.data[s..self.pos])
        } else {
            None
        }
    }

    pub fn atom(&mut self) -> Option<&'a [u8]> {
        let s = self.pos;
        while self.pos < self.data.len() && is_atext(self.data[self.pos]) {
            self.pos += 1;
        }
        if self.pos > s {
            Some(&self.data[s..self.pos])
        } else {
            None
        }
    }

    /// Like [`Tok::quoted`] but None when the string is unterminated (input is then consumed).
    pub fn quoted_strict(&mut self) -> Option<Vec<u8>> {
        let (v, terminated) = self.quoted_impl()?;
        if terminated { Some(v) } else { None }
    }

    pub fn quoted(&mut self) -> Option<Vec<u8>> {
        self.quoted_impl().map(|(v, _)| v)
    }

    /// Parses a quoted string at '"', returning its unescaped content (CR/LF dropped).
    /// Returns None if not at a quote. Unterminated strings end at the end of input.
    fn quoted_impl(&mut self) -> Option<(Vec<u8>, bool)> {
        if self.peek() != Some(b'"') {
            return None;
        }
        self.pos += 1;
        let mut out = Vec::new();
        while self.pos < self.data.len() {
            let b = self.data[self.pos];
            self.pos += 1;
            match b {
                b'"' => return Some((out, true)),
                b'\\' => {
                    if let Some(&n) = self.data.get(self.pos) {
                        self.pos += 1;
                        if n != b'\r' && n != b'\n' {
                            out.push(n);
                        }
                    }
                }
                b'\r' | b'\n' => {}
                _ => out.push(b),
            }
        }
        Some((out, false))
    }
}
