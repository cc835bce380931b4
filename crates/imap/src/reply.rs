//! Tagged answers, and the one place engine errors become IMAP response codes (RFC 5530).

use eider_engine::{Error, ErrorKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    No,
    Bad,
}

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: Status,
    pub code: Option<String>,
    pub text: String,
}

impl Reply {
    pub fn ok(text: &str) -> Reply {
        Reply {
            status: Status::Ok,
            code: None,
            text: text.into(),
        }
    }
    pub fn no(text: &str) -> Reply {
        Reply {
            status: Status::No,
            code: None,
            text: text.into(),
        }
    }
    pub fn bad(text: &str) -> Reply {
        Reply {
            status: Status::Bad,
            code: None,
            text: text.into(),
        }
    }
    pub fn code(mut self, code: &str) -> Reply {
        self.code = Some(code.into());
        self
    }

    /// `tag OK [CODE] text` with CRLF. A bare "completed" text names the command, as Dovecot does.
    pub fn render(&self, tag: &str, _command: &str) -> String {
        let status = match self.status {
            Status::Ok => "OK",
            Status::No => "NO",
            Status::Bad => "BAD",
        };
        match &self.code {
            Some(code) => format!("{tag} {status} [{code}] {}\r\n", self.text),
            None => format!("{tag} {status} {}\r\n", self.text),
        }
    }
}

/// Maps an engine error to a tagged NO with an RFC 5530 response code. Internal details stay in
/// the log; the client gets a fixed text.
pub fn from_engine(e: Error) -> Reply {
    let (code, text) = match e.kind {
        ErrorKind::NotFound => ("NONEXISTENT", e.message.as_str()),
        ErrorKind::AlreadyExists => ("ALREADYEXISTS", e.message.as_str()),
        ErrorKind::NoPermission => ("NOPERM", e.message.as_str()),
        ErrorKind::OverQuota => ("OVERQUOTA", "Quota exceeded (mailbox for user is full)"),
        ErrorKind::TooBig => ("TOOBIG", e.message.as_str()),
        ErrorKind::Invalid => ("CANNOT", e.message.as_str()),
        ErrorKind::AuthFailed => ("AUTHENTICATIONFAILED", "Authentication failed."),
        ErrorKind::InUse => ("CANNOT", e.message.as_str()),
        ErrorKind::RateLimited => ("UNAVAILABLE", e.message.as_str()),
        ErrorKind::Internal => (
            "SERVERBUG",
            "Internal error occurred. Refer to server log for more information.",
        ),
    };
    Reply::no(&sanitize(text)).code(code)
}

/// Response text must be one line of printable ASCII.
fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}
