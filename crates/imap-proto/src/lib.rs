//! # eider-imap-proto
//!
//! IMAP **syntax only**: parsing of client commands (RFC 3501 / RFC 9051
//! plus IDLE, UIDPLUS, MOVE, CONDSTORE, ESEARCH, SEARCHRES, LIST-EXTENDED,
//! SPECIAL-USE, MULTIAPPEND, BINARY, ID, ENABLE, WITHIN, UNSELECT, SASL-IR,
//! LITERAL+) and small response-encoding helpers (strings, flags, UID
//! sets, INTERNALDATE, modified UTF-7, base64).
//!
//! This crate does no I/O and knows nothing about sessions, mailboxes or
//! storage. It must never import tokio (or any async runtime), the store,
//! the engine, the MIME crate, or any network/TLS crate; its only
//! dependency is `thiserror`. The session reads fragments from the wire
//! (see [`literal_announcement`] and [`Fragment`]), enforces its own
//! literal limits, and hands complete commands to [`parse_command`].
//!
//! The parser never panics on any input (there is a property test for
//! that) and reports errors as [`ParseError`] with the tag when it could be
//! read.

pub mod base64;
mod command;
mod datetime;
mod encode;
mod error;
mod framing;
mod parser;
mod types;
pub mod utf7;

pub use command::{Command, CommandBody};
pub use datetime::format_internal_date;
pub use encode::{
    MAX_QUOTED_LEN, astring, compress_uids, quoted_or_literal, section_to_string, write_astring,
    write_flags, write_nstring,
};
pub use error::{ErrorKind, ParseError};
pub use framing::{
    AuthResponse, Fragment, LiteralSpec, is_idle_done, literal_announcement,
    parse_authenticate_response, peek_tag_and_name,
};
pub use parser::{MAX_SEARCH_DEPTH, parse_command};
pub use types::*;

#[cfg(test)]
mod tests;
