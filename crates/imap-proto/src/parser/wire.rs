//! Commands and APPEND forms added for the "wire" extensions: UNAUTHENTICATE (RFC 8437),
//! COMPRESS (RFC 4978), QUOTA (RFC 9208), XLIST, and the APPEND data forms of BINARY (RFC 3516),
//! UTF8=ACCEPT (RFC 6855) and CATENATE (RFC 4469).
//!
//! A child module of the parser so it can use the cursor helpers without widening their
//! visibility.

use super::{PResult, Parser, truncate};
use crate::command::CommandBody;
use crate::types::{AppendMessage, CatenatePart, DateTime, Flag};

/// At most this many CATENATE parts per message (bounds work for one command).
const MAX_CATENATE_PARTS: usize = 256;

impl Parser {
    /// Commands of this module; `None` when `name` is not one of them.
    pub(super) fn ext_command(&mut self, name: &str) -> PResult<Option<CommandBody>> {
        use CommandBody as C;
        Ok(Some(match name {
            "UNAUTHENTICATE" => C::Unauthenticate,
            "COMPRESS" => {
                self.sp("compression mechanism")?;
                C::Compress(self.atom_upper("compression mechanism")?)
            }
            "GETQUOTA" => {
                self.sp("quota root")?;
                C::GetQuota(self.astring("quota root")?)
            }
            "GETQUOTAROOT" => C::GetQuotaRoot(self.mailbox_arg()?),
            "SETQUOTA" => {
                self.sp("quota root")?;
                let root = self.astring("quota root")?;
                self.sp("quota limits")?;
                self.expect(b'(', "'(' before quota limits")?;
                // The limits are not used (quotas are set through the API); skip them safely.
                while !self.eat(b')') {
                    if self.line_done() {
                        return Err(self.err("Expected ')' after quota limits"));
                    }
                    self.pos += 1;
                }
                C::SetQuota(root)
            }
            "XLIST" => {
                self.sp("reference name")?;
                let reference = self.astring("reference name")?;
                self.sp("mailbox pattern")?;
                let pattern = self.list_mailbox()?;
                C::Xlist { reference, pattern }
            }
            _ => return Ok(None),
        }))
    }

    /// The message data of one APPEND: a literal (`{n}` or literal8 `~{n}`), `UTF8 (~{n})`
    /// (RFC 6855) or `CATENATE (...)` (RFC 4469).
    pub(super) fn append_data(
        &mut self,
        flags: Vec<Flag>,
        date: Option<DateTime>,
    ) -> PResult<AppendMessage> {
        let mut msg = AppendMessage {
            flags,
            date,
            message: Vec::new(),
            binary: false,
            catenate: Vec::new(),
            utf8: false,
        };
        match self.peek() {
            Some(b'{' | b'~') => {
                let (message, binary) = self.literal(true)?;
                msg.message = message;
                msg.binary = binary;
                return Ok(msg);
            }
            None => return Err(self.err("Expected message literal")),
            _ => {}
        }
        let word = self.atom_upper("message literal")?;
        if word != "UTF8" && word != "CATENATE" {
            return Err(self.err("Expected message literal"));
        }
        self.sp("'('")?;
        self.expect(b'(', "'('")?;
        match word.as_str() {
            "UTF8" => {
                if self.peek() != Some(b'~') {
                    return Err(self.err("UTF8 data must be a literal8"));
                }
                let (message, _) = self.literal(true)?;
                msg.message = message;
                msg.binary = true;
                msg.utf8 = true;
            }
            "CATENATE" => loop {
                if msg.catenate.len() >= MAX_CATENATE_PARTS {
                    return Err(self.err("Too many CATENATE parts"));
                }
                let kind = self.atom_upper("CATENATE part")?;
                self.sp("CATENATE part")?;
                match kind.as_str() {
                    "URL" => msg.catenate.push(CatenatePart::Url(self.astring("URL")?)),
                    "TEXT" => {
                        if !matches!(self.peek(), Some(b'{' | b'~')) {
                            return Err(self.err("CATENATE TEXT must be a literal"));
                        }
                        let (data, binary) = self.literal(true)?;
                        msg.binary |= binary;
                        msg.catenate.push(CatenatePart::Text(data));
                    }
                    _ => {
                        return Err(self.err(format!("Unknown CATENATE part {}", truncate(&kind))));
                    }
                }
                if self.peek() == Some(b')') {
                    break;
                }
                self.sp("CATENATE part")?;
            },
            _ => return Err(self.err("Expected message literal")),
        }
        self.expect(b')', "')'")?;
        Ok(msg)
    }
}
