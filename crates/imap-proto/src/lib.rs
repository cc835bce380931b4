//! # eider-imap-proto
//!
//! IMAP **syntax only**: parsing of client commands (RFC 3501 / RFC 9051
//! plus IDLE, UIDPLUS, MOVE, CONDSTORE, ESEARCH, SEARCHRES, LIST-EXTENDED,
//! SPECIAL-USE, MULTIAPPEND, BINARY, ID, ENABLE, WITHIN, UNSELECT, SASL-IR,
//! LITERAL+, OBJECTID, SAVEDATE, PREVIEW) and small response-encoding helpers (strings, flags, UID
//! sets, INTERNALDATE, modified UTF-7, base64).
//!
//! This crate does no I/O and knows nothing about sessions, mailboxes or
//! storage. It must never import tokio (or any async runtime), the store,
//! the engine, the MIME crate, or any network/TLS crate; its only
//! dependency is `thiserror`. The session reads fragments from the wire
//! (see [`literal_announcement`] and [`Fragment`]), enforces its own
//! literal limits, and hands complete commands to [`parse_command`].
//!
//! ```
//! use eider_imap_proto::*;
//!
//! // The session read "A1 APPEND INBOX (\Seen) {5}", saw the announcement,
//! // sent "+ go ahead", read 5 bytes, then read the (empty) rest of the line.
//! let first = b"A1 APPEND INBOX (\\Seen) {5}".to_vec();
//! let spec = literal_announcement(&first).unwrap().unwrap();
//! assert_eq!((spec.len, spec.non_sync, spec.binary), (5, false, false));
//! assert_eq!(peek_tag_and_name(&first).unwrap().1, "APPEND");
//! let cmd = parse_command(vec![
//!     Fragment::Line(first),
//!     Fragment::Literal(b"Hi!\r\n".to_vec()),
//!     Fragment::Line(Vec::new()),
//! ])
//! .unwrap();
//! let CommandBody::Append { mailbox, messages } = cmd.body else { unreachable!() };
//! assert_eq!(mailbox, "INBOX");
//! assert_eq!(messages[0].flags, vec![Flag::Seen]);
//! assert_eq!(messages[0].message, b"Hi!\r\n");
//!
//! let err = parse_command(vec![Fragment::Line(b"a2 FETCH 0 FLAGS".to_vec())]).unwrap_err();
//! assert_eq!(err.to_response(), "a2 BAD Invalid sequence set\r\n");
//! ```
//!
//! Design decisions worth knowing:
//! - Mailbox names are returned as sent (modified UTF-7 unless the client
//!   enabled UTF8=ACCEPT), with `INBOX` case-normalized; decode with
//!   [`utf7::decode`] in the session.
//! - `UID` commands are not separate variants: `Fetch`, `Search`, `Store`,
//!   `Copy`, `Move` carry `uid: bool`; `UID EXPUNGE` is `UidExpunge`.
//! - APPEND always carries `messages: Vec<AppendMessage>` (MULTIAPPEND).
//! - LIST carries `patterns: Vec<String>` (LIST-EXTENDED multiple
//!   patterns), typed selection and return options.
//! - FETCH header field names are stored and echoed uppercased.
//! - `\*` and unknown `\Foo` flags are rejected in STORE/APPEND.
//! - Non-binary literals containing NUL are rejected (RFC 3501 `CHAR8`).
//!
//! The parser never panics on any input (there is a property test for
//! that) and reports errors as [`ParseError`] with the tag when it could be
//! read.

pub mod base64;
mod command;
mod datetime;
mod encode;
mod error;
mod ext_types;
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
pub use ext_types::{QresyncParams, SortCriterion, SortKey, ThreadAlgorithm};
pub use framing::{
    AuthResponse, Fragment, LiteralSpec, is_idle_done, literal_announcement,
    parse_authenticate_response, peek_tag_and_name,
};
pub use parser::{MAX_SEARCH_DEPTH, parse_command};
pub use types::*;

#[cfg(test)]
mod tests;
