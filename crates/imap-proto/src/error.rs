//! Parse errors.

/// What kind of failure a [`ParseError`] is, so the session can pick the
/// right response condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Generic syntax error: answer `BAD`.
    Syntax,
    /// The command name is not known: answer `BAD` (message is
    /// `Unknown command NAME`).
    UnknownCommand,
    /// SEARCH with a charset other than US-ASCII / UTF-8: answer
    /// `NO [BADCHARSET (UTF-8 US-ASCII)]` (RFC 3501 §6.4.4).
    BadCharset,
}

/// A command (or continuation line) that could not be parsed.
///
/// `tag` is set when the tag could be read, so the session can answer
/// `tag BAD message`; otherwise it should answer `* BAD message`.
/// `message` never contains CR, LF or non-ASCII bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    pub tag: Option<String>,
    pub message: String,
    pub kind: ErrorKind,
}

impl ParseError {
    pub(crate) fn new(tag: Option<String>, kind: ErrorKind, message: impl Into<String>) -> Self {
        ParseError {
            tag,
            message: message.into(),
            kind,
        }
    }

    /// A syntax error without a tag.
    pub(crate) fn untagged(message: impl Into<String>) -> Self {
        Self::new(None, ErrorKind::Syntax, message)
    }

    /// The full response line (with CRLF) a server would normally send:
    /// `tag BAD msg`, `* BAD msg`, or `tag NO [BADCHARSET (UTF-8 US-ASCII)] msg`.
    pub fn to_response(&self) -> String {
        let tag = self.tag.as_deref().unwrap_or("*");
        match self.kind {
            ErrorKind::BadCharset => {
                format!(
                    "{tag} NO [BADCHARSET (UTF-8 US-ASCII)] {}\r\n",
                    self.message
                )
            }
            ErrorKind::Syntax | ErrorKind::UnknownCommand => {
                format!("{tag} BAD {}\r\n", self.message)
            }
        }
    }
}
