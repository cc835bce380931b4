//! The command parser (RFC 3501 §9 / RFC 9051 §9 grammar plus extensions).

use crate::command::{Command, CommandBody};
use crate::datetime::{MONTHS, days_from_civil, days_in_month};
use crate::error::{ErrorKind, ParseError};
use crate::framing::Fragment;
use crate::types::*;

mod ext;

/// Maximum nesting of SEARCH keys (parentheses, NOT, OR).
pub const MAX_SEARCH_DEPTH: usize = 64;
/// RFC 2971: at most 30 field/value pairs.
const MAX_ID_PAIRS: usize = 30;

mod wire;

type PResult<T> = Result<T, ParseError>;

/// RFC 3501 ATOM-CHAR.
pub(crate) fn is_atom_char(b: u8) -> bool {
    b > 0x20 && b < 0x7f && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
}

/// RFC 3501 ASTRING-CHAR.
pub(crate) fn is_astring_char(b: u8) -> bool {
    is_atom_char(b) || b == b']'
}

/// tag = 1*<any ASTRING-CHAR except "+">
pub(crate) fn is_tag_char(b: u8) -> bool {
    is_astring_char(b) && b != b'+'
}

fn is_list_char(b: u8) -> bool {
    is_atom_char(b) || matches!(b, b'%' | b'*' | b']')
}

struct Parser {
    frags: Vec<Fragment>,
    idx: usize,
    pos: usize,
    tag: Option<String>,
    /// The CHARSET of a SEARCH/SORT/THREAD whose strings are not UTF-8 (None: UTF-8).
    search_charset: Option<&'static encoding_rs::Encoding>,
}

/// Parse one complete command from its fragments (alternating lines and
/// literals, starting and normally ending with a line; every line but the
/// last must end with the announcement of the literal that follows it).
///
/// Literals are moved into the result, never copied.
pub fn parse_command(frags: Vec<Fragment>) -> Result<Command, ParseError> {
    let mut p = Parser::new(frags)?;
    let tag = p.read_tag()?;
    p.tag = Some(tag.clone());
    let body = p.command_body()?;
    p.end()?;
    Ok(Command { tag, body })
}

impl Parser {
    fn new(frags: Vec<Fragment>) -> PResult<Self> {
        let tag = match frags.first() {
            Some(Fragment::Line(l)) => crate::framing::peek_tag_and_name(l).map(|(t, _)| t),
            _ => None,
        };
        for (i, f) in frags.iter().enumerate() {
            let ok = matches!(
                (i % 2, f),
                (0, Fragment::Line(_)) | (1, Fragment::Literal(_))
            );
            if !ok {
                return Err(ParseError::new(
                    tag,
                    ErrorKind::Syntax,
                    "Malformed command framing",
                ));
            }
        }
        if frags.is_empty() {
            return Err(ParseError::untagged("Empty command"));
        }
        Ok(Parser {
            frags,
            idx: 0,
            pos: 0,
            tag: None,
            search_charset: None,
        })
    }

    // ---- low-level cursor ----

    fn err(&self, msg: impl Into<String>) -> ParseError {
        ParseError::new(self.tag.clone(), ErrorKind::Syntax, msg)
    }

    fn line(&self) -> &[u8] {
        match self.frags.get(self.idx) {
            Some(Fragment::Line(l)) => l,
            _ => &[],
        }
    }

    fn peek(&self) -> Option<u8> {
        self.line().get(self.pos).copied()
    }

    fn peek_at(&self, off: usize) -> Option<u8> {
        self.line().get(self.pos + off).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, b: u8, what: &str) -> PResult<()> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(self.err(format!("Expected {what}")))
        }
    }

    fn line_done(&self) -> bool {
        self.pos >= self.line().len()
    }

    fn at_end(&self) -> bool {
        self.line_done() && self.idx + 1 >= self.frags.len()
    }

    /// Require a single SP before an argument described by `what`.
    fn sp(&mut self, what: &str) -> PResult<()> {
        if self.eat(b' ') {
            if self.peek() == Some(b' ') {
                return Err(self.err(format!("Extra space before {what}")));
            }
            if self.line_done() {
                return Err(self.err(format!("Missing {what}")));
            }
            Ok(())
        } else if self.line_done() {
            Err(self.err(format!("Missing {what}")))
        } else {
            Err(self.err(format!("Expected space before {what}")))
        }
    }

    fn end(&self) -> PResult<()> {
        if self.at_end() {
            Ok(())
        } else {
            Err(self.err("Unexpected extra arguments"))
        }
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &[u8] {
        let start = self.pos;
        let line_len = self.line().len();
        let mut end = start;
        while end < line_len && f(self.line()[end]) {
            end += 1;
        }
        self.pos = end;
        match self.frags.get(self.idx) {
            Some(Fragment::Line(l)) => &l[start..end],
            _ => &[],
        }
    }

    fn ascii(bytes: &[u8]) -> String {
        // Callers only pass bytes from ASCII-only character classes.
        bytes.iter().map(|&b| char::from(b)).collect()
    }

    /// An atom, uppercased.
    fn atom_upper(&mut self, what: &str) -> PResult<String> {
        let a = self.take_while(is_atom_char);
        if a.is_empty() {
            return Err(self.err(format!("Missing {what}")));
        }
        Ok(Self::ascii(a).to_ascii_uppercase())
    }

    fn atom(&mut self, what: &str) -> PResult<String> {
        let a = self.take_while(is_atom_char);
        if a.is_empty() {
            return Err(self.err(format!("Invalid {what}")));
        }
        Ok(Self::ascii(a))
    }

    // ---- numbers ----

    fn number_u64(&mut self, what: &str) -> PResult<u64> {
        let d = self.take_while(|b| b.is_ascii_digit());
        if d.is_empty() {
            return Err(self.err(format!("Invalid {what}")));
        }
        let mut n: u64 = 0;
        for &c in d {
            n = match n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(c - b'0')))
            {
                Some(n) => n,
                None => return Err(self.err(format!("Invalid {what}: number too large"))),
            };
        }
        Ok(n)
    }

    fn number(&mut self, what: &str) -> PResult<u32> {
        let n = self.number_u64(what)?;
        u32::try_from(n).map_err(|_| self.err(format!("Invalid {what}: number too large")))
    }

    fn nz_number(&mut self, what: &str) -> PResult<u32> {
        if self.peek() == Some(b'0') {
            return Err(self.err(format!("Invalid {what}: must be non-zero")));
        }
        self.number(what)
    }

    /// mod-sequence-value (RFC 7162): at most 2^63-1.
    fn modseq(&mut self, what: &str) -> PResult<u64> {
        let n = self.number_u64(what)?;
        if n > i64::MAX as u64 {
            return Err(self.err(format!("Invalid {what}: number too large")));
        }
        Ok(n)
    }

    // ---- strings ----

    fn quoted(&mut self) -> PResult<Vec<u8>> {
        // caller saw the opening quote
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err(self.err("Unterminated quoted string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => match self.peek_at(1) {
                    Some(c @ (b'"' | b'\\')) => {
                        out.push(c);
                        self.pos += 2;
                    }
                    _ => return Err(self.err("Invalid escape in quoted string")),
                },
                Some(0 | b'\r' | b'\n') => {
                    return Err(self.err("Invalid character in quoted string"));
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// `{N}` / `{N+}` (and `~{N}` when `binary_ok`), followed by the next
    /// literal fragment, which is moved out. Returns (data, is_literal8).
    fn literal(&mut self, binary_ok: bool) -> PResult<(Vec<u8>, bool)> {
        let binary = self.eat(b'~');
        if binary && !binary_ok {
            return Err(self.err("literal8 not allowed here"));
        }
        self.expect(b'{', "literal")?;
        let len = self.number_u64("literal length")?;
        self.eat(b'+');
        self.expect(b'}', "'}' in literal")?;
        if !self.line_done() {
            return Err(self.err("Literal announcement must end the line"));
        }
        let data = match self.frags.get_mut(self.idx + 1) {
            Some(Fragment::Literal(v)) => {
                if v.len() as u64 != len {
                    return Err(self.err("Literal length mismatch"));
                }
                std::mem::take(v)
            }
            _ => return Err(self.err("Missing literal data")),
        };
        self.idx += 2;
        self.pos = 0;
        if !binary && memchr0(&data) {
            return Err(self.err("NUL in literal (use literal8)"));
        }
        Ok((data, binary))
    }

    fn string_bytes(&mut self, what: &str) -> PResult<Vec<u8>> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            Some(b'{') => Ok(self.literal(false)?.0),
            None => Err(self.err(format!("Missing {what}"))),
            _ => Err(self.err(format!("Invalid {what}: expected string"))),
        }
    }

    fn astring_bytes(&mut self, what: &str) -> PResult<Vec<u8>> {
        match self.peek() {
            Some(b'"' | b'{') => self.string_bytes(what),
            _ => {
                let a = self.take_while(is_astring_char);
                if a.is_empty() {
                    if self.line_done() {
                        Err(self.err(format!("Missing {what}")))
                    } else {
                        Err(self.err(format!("Invalid {what}")))
                    }
                } else {
                    Ok(a.to_vec())
                }
            }
        }
    }

    fn utf8(&self, b: Vec<u8>, what: &str) -> PResult<String> {
        String::from_utf8(b).map_err(|_| self.err(format!("Invalid UTF-8 in {what}")))
    }

    fn astring(&mut self, what: &str) -> PResult<String> {
        let b = self.astring_bytes(what)?;
        self.utf8(b, what)
    }

    fn string(&mut self, what: &str) -> PResult<String> {
        let b = self.string_bytes(what)?;
        self.utf8(b, what)
    }

    fn is_nil(&self) -> bool {
        let l = self.line();
        l.len() >= self.pos + 3
            && l[self.pos..self.pos + 3].eq_ignore_ascii_case(b"NIL")
            && !l.get(self.pos + 3).is_some_and(|&b| is_atom_char(b))
    }

    fn nstring(&mut self, what: &str) -> PResult<Option<String>> {
        if self.is_nil() {
            self.pos += 3;
            Ok(None)
        } else {
            self.string(what).map(Some)
        }
    }

    fn mailbox(&mut self) -> PResult<String> {
        let m = self.astring("mailbox name")?;
        if m.eq_ignore_ascii_case("INBOX") {
            Ok("INBOX".to_string())
        } else {
            Ok(m)
        }
    }

    /// list-mailbox = 1*list-char / string
    fn list_mailbox(&mut self) -> PResult<String> {
        match self.peek() {
            Some(b'"' | b'{') => self.string("mailbox pattern"),
            _ => {
                let a = self.take_while(is_list_char);
                if a.is_empty() {
                    return Err(self.err(if self.line_done() {
                        "Missing mailbox pattern"
                    } else {
                        "Invalid mailbox pattern"
                    }));
                }
                Ok(Self::ascii(a))
            }
        }
    }

    // ---- command dispatch ----

    fn read_tag(&mut self) -> PResult<String> {
        if self.line().is_empty() {
            return Err(ParseError::untagged("Empty command line"));
        }
        let t = self.take_while(is_tag_char);
        if t.is_empty() {
            return Err(ParseError::untagged("Invalid tag"));
        }
        let t = Self::ascii(t);
        match self.peek() {
            Some(b' ') => Ok(t),
            None => Err(ParseError::new(
                Some(t),
                ErrorKind::Syntax,
                "Missing command name",
            )),
            Some(_) => Err(ParseError::untagged("Invalid tag")),
        }
    }

    fn command_body(&mut self) -> PResult<CommandBody> {
        self.sp("command name")?;
        let name = self.atom_upper("command name")?;
        if !self.line_done() && self.peek() != Some(b' ') {
            return Err(self.err("Invalid command name"));
        }
        use CommandBody as C;
        Ok(match name.as_str() {
            "CAPABILITY" => C::Capability,
            "NOOP" => C::Noop,
            "LOGOUT" => C::Logout,
            "STARTTLS" => C::StartTls,
            "CHECK" => C::Check,
            "CLOSE" => C::Close,
            "UNSELECT" => C::Unselect,
            "EXPUNGE" => C::Expunge,
            "IDLE" => C::Idle,
            "NAMESPACE" => C::Namespace,
            "AUTHENTICATE" => self.authenticate()?,
            "LOGIN" => {
                self.sp("user name")?;
                let username = self.astring("user name")?;
                self.sp("password")?;
                let password = self.astring("password")?;
                C::Login { username, password }
            }
            "SELECT" | "EXAMINE" => {
                self.sp("mailbox name")?;
                let mailbox = self.mailbox()?;
                let (condstore, qresync) = self.select_params()?;
                if name == "SELECT" {
                    C::Select {
                        mailbox,
                        condstore,
                        qresync,
                    }
                } else {
                    C::Examine {
                        mailbox,
                        condstore,
                        qresync,
                    }
                }
            }
            "CREATE" => self.create()?,
            "DELETE" => C::Delete {
                mailbox: self.mailbox_arg()?,
            },
            "SUBSCRIBE" => C::Subscribe {
                mailbox: self.mailbox_arg()?,
            },
            "UNSUBSCRIBE" => C::Unsubscribe {
                mailbox: self.mailbox_arg()?,
            },
            "RENAME" => {
                let from = self.mailbox_arg()?;
                let to = self.mailbox_arg()?;
                C::Rename { from, to }
            }
            "LIST" => self.list()?,
            "LSUB" => {
                self.sp("reference name")?;
                let reference = self.astring("reference name")?;
                self.sp("mailbox pattern")?;
                let pattern = self.list_mailbox()?;
                C::Lsub { reference, pattern }
            }
            "STATUS" => {
                let mailbox = self.mailbox_arg()?;
                self.sp("status items")?;
                let items = self.status_items()?;
                C::Status { mailbox, items }
            }
            "APPEND" => self.append()?,
            "SEARCH" => self.search(false)?,
            "FETCH" => self.fetch(false)?,
            "STORE" => self.store(false)?,
            "COPY" => self.copy_move(false, false)?,
            "MOVE" => self.copy_move(true, false)?,
            "ID" => self.id()?,
            "SORT" => self.sort(false)?,
            "THREAD" => self.thread(false)?,
            "ENABLE" => {
                let mut caps = Vec::new();
                while self.peek() == Some(b' ') || caps.is_empty() {
                    self.sp("capability")?;
                    caps.push(self.atom_upper("capability")?);
                }
                C::Enable(caps)
            }
            "UID" => {
                self.sp("UID command")?;
                let sub = self.atom_upper("UID command")?;
                match sub.as_str() {
                    "SEARCH" => self.search(true)?,
                    "FETCH" => self.fetch(true)?,
                    "STORE" => self.store(true)?,
                    "COPY" => self.copy_move(false, true)?,
                    "MOVE" => self.copy_move(true, true)?,
                    "SORT" => self.sort(true)?,
                    "THREAD" => self.thread(true)?,
                    "EXPUNGE" => {
                        self.sp("sequence set")?;
                        C::UidExpunge(self.sequence_set()?)
                    }
                    _ => {
                        return Err(ParseError::new(
                            self.tag.clone(),
                            ErrorKind::UnknownCommand,
                            format!("Unknown command UID {}", truncate(&sub)),
                        ));
                    }
                }
            }
            other => match self.ext_command(other)? {
                Some(body) => body,
                None => {
                    return Err(ParseError::new(
                        self.tag.clone(),
                        ErrorKind::UnknownCommand,
                        format!("Unknown command {}", truncate(&name)),
                    ));
                }
            },
        })
    }

    fn mailbox_arg(&mut self) -> PResult<String> {
        self.sp("mailbox name")?;
        self.mailbox()
    }

    fn authenticate(&mut self) -> PResult<CommandBody> {
        self.sp("authentication mechanism")?;
        let mechanism = self.atom_upper("authentication mechanism")?;
        let initial = if self.eat(b' ') {
            let data =
                self.take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
            if data == b"=" {
                Some(Vec::new())
            } else if data.is_empty() {
                return Err(self.err("Missing initial response"));
            } else {
                match crate::base64::decode(data) {
                    Ok(d) => Some(d),
                    Err(_) => return Err(self.err("Invalid base64 in initial response")),
                }
            }
        } else {
            None
        };
        Ok(CommandBody::Authenticate { mechanism, initial })
    }

    /// `[SP "(" [select-param *(SP select-param)] ")"]`; returns CONDSTORE and the QRESYNC
    /// parameters.
    fn select_params(&mut self) -> PResult<(bool, Option<crate::QresyncParams>)> {
        let (mut condstore, mut qresync) = (false, None);
        if self.at_end() {
            return Ok((condstore, qresync));
        }
        self.sp("select parameters")?;
        self.expect(b'(', "'(' before select parameters")?;
        if self.eat(b')') {
            return Ok((condstore, qresync));
        }
        loop {
            let p = self.atom_upper("select parameter")?;
            match p.as_str() {
                "CONDSTORE" => condstore = true,
                "QRESYNC" if qresync.is_none() => qresync = Some(self.qresync_params()?),
                _ => return Err(self.err(format!("Unknown select parameter {}", truncate(&p)))),
            }
            if self.eat(b')') {
                return Ok((condstore, qresync));
            }
            self.sp("select parameter")?;
        }
    }

    fn create(&mut self) -> PResult<CommandBody> {
        let mailbox = self.mailbox_arg()?;
        let mut special_use = Vec::new();
        if !self.at_end() {
            self.sp("create parameters")?;
            self.expect(b'(', "'(' before create parameters")?;
            let p = self.atom_upper("create parameter")?;
            if p != "USE" {
                return Err(self.err(format!("Unknown create parameter {}", truncate(&p))));
            }
            self.sp("special-use attributes")?;
            self.expect(b'(', "'(' before special-use attributes")?;
            if !self.eat(b')') {
                loop {
                    self.expect(b'\\', "special-use attribute")?;
                    let a = self.atom("special-use attribute")?;
                    special_use.push(canonical_use(&a));
                    if self.eat(b')') {
                        break;
                    }
                    self.sp("special-use attribute")?;
                }
            }
            self.expect(b')', "')' after create parameters")?;
        }
        Ok(CommandBody::Create {
            mailbox,
            special_use,
        })
    }

    fn list(&mut self) -> PResult<CommandBody> {
        self.sp("reference name")?;
        let mut select_opts = Vec::new();
        if self.eat(b'(') {
            if !self.eat(b')') {
                loop {
                    let o = self.atom_upper("LIST selection option")?;
                    select_opts.push(match o.as_str() {
                        "SUBSCRIBED" => ListSelectOpt::Subscribed,
                        "REMOTE" => ListSelectOpt::Remote,
                        "RECURSIVEMATCH" => ListSelectOpt::RecursiveMatch,
                        "SPECIAL-USE" => ListSelectOpt::SpecialUse,
                        _ => {
                            return Err(
                                self.err(format!("Unknown LIST selection option {}", truncate(&o)))
                            );
                        }
                    });
                    if self.eat(b')') {
                        break;
                    }
                    self.sp("LIST selection option")?;
                }
            }
            // RFC 5258 §3: RECURSIVEMATCH must not be the only option, nor only with REMOTE.
            if select_opts.contains(&ListSelectOpt::RecursiveMatch)
                && select_opts
                    .iter()
                    .all(|o| matches!(o, ListSelectOpt::RecursiveMatch | ListSelectOpt::Remote))
            {
                return Err(self.err("RECURSIVEMATCH requires another selection option"));
            }
            self.sp("reference name")?;
        }
        let reference = self.astring("reference name")?;
        self.sp("mailbox pattern")?;
        let mut patterns = Vec::new();
        if self.eat(b'(') {
            loop {
                patterns.push(self.list_mailbox()?);
                if self.eat(b')') {
                    break;
                }
                self.sp("mailbox pattern")?;
            }
        } else {
            patterns.push(self.list_mailbox()?);
        }
        let mut return_opts = Vec::new();
        if !self.at_end() {
            self.sp("RETURN")?;
            let kw = self.atom_upper("RETURN")?;
            if kw != "RETURN" {
                return Err(self.err("Expected RETURN"));
            }
            self.sp("LIST return options")?;
            self.expect(b'(', "'(' before LIST return options")?;
            if !self.eat(b')') {
                loop {
                    let o = self.atom_upper("LIST return option")?;
                    return_opts.push(match o.as_str() {
                        "SUBSCRIBED" => ListReturnOpt::Subscribed,
                        "CHILDREN" => ListReturnOpt::Children,
                        "SPECIAL-USE" => ListReturnOpt::SpecialUse,
                        "STATUS" => {
                            self.sp("status items")?;
                            ListReturnOpt::Status(self.status_items()?)
                        }
                        _ => {
                            return Err(
                                self.err(format!("Unknown LIST return option {}", truncate(&o)))
                            );
                        }
                    });
                    if self.eat(b')') {
                        break;
                    }
                    self.sp("LIST return option")?;
                }
            }
        }
        Ok(CommandBody::List {
            reference,
            patterns,
            select_opts,
            return_opts,
        })
    }

    fn status_items(&mut self) -> PResult<Vec<StatusItem>> {
        self.expect(b'(', "'(' before status items")?;
        let mut items = Vec::new();
        loop {
            let a = self.atom_upper("status item")?;
            match StatusItem::from_upper(&a) {
                Some(i) => items.push(i),
                None => return Err(self.err(format!("Unknown status item {}", truncate(&a)))),
            }
            if self.eat(b')') {
                return Ok(items);
            }
            self.sp("status item")?;
        }
    }

    fn flag(&mut self) -> PResult<Flag> {
        if self.eat(b'\\') {
            if self.peek() == Some(b'*') {
                return Err(self.err("\\* is not a valid flag here"));
            }
            let a = self.atom("flag")?;
            Flag::system(&a)
                .ok_or_else(|| self.err(format!("Unknown system flag \\{}", truncate(&a))))
        } else {
            Ok(Flag::Keyword(self.atom("flag")?))
        }
    }

    /// "(" [flag *(SP flag)] ")"
    fn flag_list(&mut self) -> PResult<Vec<Flag>> {
        self.expect(b'(', "'(' before flag list")?;
        let mut flags = Vec::new();
        if self.eat(b')') {
            return Ok(flags);
        }
        loop {
            flags.push(self.flag()?);
            if self.eat(b')') {
                return Ok(flags);
            }
            self.sp("flag")?;
        }
    }

    fn append(&mut self) -> PResult<CommandBody> {
        let mailbox = self.mailbox_arg()?;
        let mut messages = Vec::new();
        loop {
            self.sp("message literal")?;
            let mut flags = Vec::new();
            if self.peek() == Some(b'(') {
                flags = self.flag_list()?;
                self.sp("message literal")?;
            }
            let mut date = None;
            if self.peek() == Some(b'"') {
                date = Some(self.date_time()?);
                self.sp("message literal")?;
            }
            messages.push(self.append_data(flags, date)?);
            if self.at_end() {
                break;
            }
        }
        Ok(CommandBody::Append { mailbox, messages })
    }

    fn two_digits(&mut self, what: &str) -> PResult<u32> {
        match (self.peek(), self.peek_at(1)) {
            (Some(a), Some(b)) if a.is_ascii_digit() && b.is_ascii_digit() => {
                self.pos += 2;
                Ok(u32::from(a - b'0') * 10 + u32::from(b - b'0'))
            }
            _ => Err(self.err(format!("Invalid {what} in date-time"))),
        }
    }

    /// date-month "-" date-year, after the day and its "-"; validates day.
    fn month_year(&mut self, day: u32) -> PResult<(u32, i64)> {
        let l = self.line();
        let m = l.get(self.pos..self.pos + 3).and_then(|m| {
            MONTHS
                .iter()
                .position(|name| name.as_bytes().eq_ignore_ascii_case(m))
        });
        let Some(m) = m else {
            return Err(self.err("Invalid month in date"));
        };
        self.pos += 3;
        self.expect(b'-', "'-' in date")?;
        let y = self.take_while(|b| b.is_ascii_digit());
        if y.len() != 4 {
            return Err(self.err("Invalid year in date"));
        }
        let year = y.iter().fold(0i64, |a, &d| a * 10 + i64::from(d - b'0'));
        let month = m as u32 + 1;
        if day == 0 || day > days_in_month(year, month) {
            return Err(self.err("Invalid day in date"));
        }
        Ok((month, year))
    }

    /// date = date-text / DQUOTE date-text DQUOTE
    fn date(&mut self) -> PResult<Date> {
        let quoted = self.eat(b'"');
        let d = self.take_while(|b| b.is_ascii_digit());
        if d.is_empty() || d.len() > 2 {
            return Err(self.err("Invalid date"));
        }
        let day = d.iter().fold(0u32, |a, &c| a * 10 + u32::from(c - b'0'));
        self.expect(b'-', "'-' in date")?;
        let (month, year) = self.month_year(day)?;
        if quoted {
            self.expect(b'"', "closing quote after date")?;
        }
        Ok(Date {
            year: year as u16,
            month: month as u8,
            day: day as u8,
        })
    }

    /// DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE
    fn date_time(&mut self) -> PResult<DateTime> {
        self.expect(b'"', "date-time")?;
        self.eat(b' ');
        let d = self.take_while(|b| b.is_ascii_digit());
        if d.is_empty() || d.len() > 2 {
            return Err(self.err("Invalid day in date-time"));
        }
        let day = d.iter().fold(0u32, |a, &c| a * 10 + u32::from(c - b'0'));
        self.expect(b'-', "'-' in date-time")?;
        let (month, year) = self.month_year(day)?;
        self.expect(b' ', "space in date-time")?;
        let h = self.two_digits("hour")?;
        self.expect(b':', "':' in date-time")?;
        let mi = self.two_digits("minute")?;
        self.expect(b':', "':' in date-time")?;
        let s = self.two_digits("second")?;
        if h > 23 || mi > 59 || s > 60 {
            return Err(self.err("Invalid time in date-time"));
        }
        self.expect(b' ', "space in date-time")?;
        let sign: i32 = if self.eat(b'+') {
            1
        } else if self.eat(b'-') {
            -1
        } else {
            return Err(self.err("Invalid zone in date-time"));
        };
        let zh = self.two_digits("zone")?;
        let zm = self.two_digits("zone")?;
        if zm > 59 {
            return Err(self.err("Invalid zone in date-time"));
        }
        self.expect(b'"', "closing quote after date-time")?;
        let offset_minutes = sign * (zh * 60 + zm) as i32;
        let unix = days_from_civil(year, month, day) * 86_400 + i64::from(h * 3600 + mi * 60 + s)
            - i64::from(offset_minutes) * 60;
        Ok(DateTime {
            unix,
            offset_minutes,
        })
    }

    // ---- sequence sets ----

    fn seq_number(&mut self) -> PResult<SeqNum> {
        if self.eat(b'*') {
            return Ok(SeqNum::Star);
        }
        match self.peek() {
            Some(b'1'..=b'9') => {}
            _ => return Err(self.err("Invalid sequence set")),
        }
        let n = self
            .number("sequence set")
            .map_err(|_| self.err("Invalid sequence set"))?;
        Ok(SeqNum::Value(n))
    }

    fn sequence_set(&mut self) -> PResult<SequenceSet> {
        let set = if self.eat(b'$') {
            SequenceSet::Saved
        } else {
            let mut ranges = Vec::new();
            loop {
                let start = self.seq_number()?;
                let end = if self.eat(b':') {
                    self.seq_number()?
                } else {
                    start
                };
                ranges.push(SeqRange { start, end });
                if !self.eat(b',') {
                    break;
                }
            }
            SequenceSet::Ranges(ranges)
        };
        match self.peek() {
            None | Some(b' ' | b')') => Ok(set),
            Some(_) => Err(self.err("Invalid sequence set")),
        }
    }

    // ---- SEARCH ----

    fn search(&mut self, uid: bool) -> PResult<CommandBody> {
        self.sp("search criteria")?;
        let mut return_opts = None;
        if self.keyword_is("RETURN") {
            self.pos += 6;
            self.sp("search return options")?;
            let opts = self.search_return_opts()?;
            return_opts = Some(opts);
            self.sp("search criteria")?;
        }
        let mut charset = None;
        if self.keyword_is("CHARSET") {
            self.pos += 7;
            self.sp("charset")?;
            charset = Some(self.search_charset_name()?);
            self.sp("search criteria")?;
        }
        let mut keys = vec![self.search_key(0)?];
        while !self.at_end() {
            self.sp("search key")?;
            keys.push(self.search_key(0)?);
        }
        let criteria = if keys.len() == 1 {
            keys.pop().unwrap_or(SearchKey::All)
        } else {
            SearchKey::And(keys)
        };
        Ok(CommandBody::Search {
            charset,
            criteria,
            uid,
            return_opts,
        })
    }

    /// Is the next token the (case-insensitive) keyword `kw`, followed by SP?
    fn keyword_is(&self, kw: &str) -> bool {
        let l = self.line();
        let end = self.pos + kw.len();
        l.len() > end && l[self.pos..end].eq_ignore_ascii_case(kw.as_bytes()) && l[end] == b' '
    }

    fn search_key(&mut self, depth: usize) -> PResult<SearchKey> {
        if depth >= MAX_SEARCH_DEPTH {
            return Err(self.err("Search criteria nested too deeply"));
        }
        match self.peek() {
            Some(b'(') => {
                self.pos += 1;
                let mut keys = vec![self.search_key(depth + 1)?];
                while !self.eat(b')') {
                    if self.line_done() {
                        return Err(self.err("Missing ')' in search criteria"));
                    }
                    self.sp("search key")?;
                    keys.push(self.search_key(depth + 1)?);
                }
                return Ok(SearchKey::And(keys));
            }
            Some(b'0'..=b'9' | b'*' | b'$') => {
                return Ok(SearchKey::SequenceSet(self.sequence_set()?));
            }
            None => return Err(self.err("Missing search key")),
            _ => {}
        }
        let kw = self.atom_upper("search key")?;
        use SearchKey as K;
        Ok(match kw.as_str() {
            "ALL" => K::All,
            "ANSWERED" => K::Answered,
            "DELETED" => K::Deleted,
            "DRAFT" => K::Draft,
            "FLAGGED" => K::Flagged,
            "NEW" => K::New,
            "OLD" => K::Old,
            "RECENT" => K::Recent,
            "SEEN" => K::Seen,
            "UNANSWERED" => K::Unanswered,
            "UNDELETED" => K::Undeleted,
            "UNDRAFT" => K::Undraft,
            "UNFLAGGED" => K::Unflagged,
            "UNSEEN" => K::Unseen,
            "BCC" => K::Bcc(self.search_string()?),
            "BODY" => K::Body(self.search_string()?),
            "CC" => K::Cc(self.search_string()?),
            "FROM" => K::From(self.search_string()?),
            "SUBJECT" => K::Subject(self.search_string()?),
            "TEXT" => K::Text(self.search_string()?),
            "TO" => K::To(self.search_string()?),
            "HEADER" => {
                self.sp("header field name")?;
                let f = self.astring("header field name")?;
                K::Header(f, self.search_string()?)
            }
            "KEYWORD" | "UNKEYWORD" => {
                self.sp("keyword")?;
                let k = self.atom("keyword")?;
                if kw == "KEYWORD" {
                    K::Keyword(k)
                } else {
                    K::Unkeyword(k)
                }
            }
            "BEFORE" => K::Before(self.search_date()?),
            "ON" => K::On(self.search_date()?),
            "SINCE" => K::Since(self.search_date()?),
            "SENTBEFORE" => K::SentBefore(self.search_date()?),
            "SENTON" => K::SentOn(self.search_date()?),
            "SENTSINCE" => K::SentSince(self.search_date()?),
            "SAVEDBEFORE" => K::SavedBefore(self.search_date()?),
            "SAVEDON" => K::SavedOn(self.search_date()?),
            "SAVEDSINCE" => K::SavedSince(self.search_date()?),
            "SAVEDATESUPPORTED" => K::SaveDateSupported,
            "EMAILID" | "THREADID" => {
                self.sp("object id")?;
                let id = self.atom("object id")?;
                if id.len() > 255
                    || !id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                {
                    return Err(self.err("Invalid object id"));
                }
                if kw == "EMAILID" {
                    K::EmailId(id)
                } else {
                    K::ThreadId(id)
                }
            }
            "LARGER" | "SMALLER" => {
                self.sp("size")?;
                let n = self.number_u64("size")?;
                if kw == "LARGER" {
                    K::Larger(n)
                } else {
                    K::Smaller(n)
                }
            }
            "OLDER" | "YOUNGER" => {
                self.sp("interval")?;
                let n = self.nz_number("interval")?;
                if kw == "OLDER" {
                    K::Older(n)
                } else {
                    K::Younger(n)
                }
            }
            "UID" => {
                self.sp("UID set")?;
                K::Uid(self.sequence_set()?)
            }
            "NOT" => {
                self.sp("search key")?;
                K::Not(Box::new(self.search_key(depth + 1)?))
            }
            "OR" => {
                self.sp("search key")?;
                let a = self.search_key(depth + 1)?;
                self.sp("search key")?;
                let b = self.search_key(depth + 1)?;
                K::Or(Box::new(a), Box::new(b))
            }
            "MODSEQ" => {
                self.sp("mod-sequence")?;
                if self.peek() == Some(b'"') {
                    // entry-name entry-type-req: parsed and ignored
                    let _entry = self.quoted()?;
                    self.sp("entry type")?;
                    let t = self.atom_upper("entry type")?;
                    if !matches!(t.as_str(), "PRIV" | "SHARED" | "ALL") {
                        return Err(self.err("Invalid MODSEQ entry type"));
                    }
                    self.sp("mod-sequence")?;
                }
                K::ModSeq(self.modseq("mod-sequence")?)
            }
            _ => return Err(self.err(format!("Unknown search key {}", truncate(&kw)))),
        })
    }

    fn search_string(&mut self) -> PResult<String> {
        self.sp("search string")?;
        let bytes = self.astring_bytes("search string")?;
        match self.search_charset {
            None => self.utf8(bytes, "search string"),
            Some(charset) => charset
                .decode_without_bom_handling_and_without_replacement(&bytes)
                .map(|s| s.into_owned())
                .ok_or_else(|| self.err(format!("Invalid {} in search string", charset.name()))),
        }
    }

    /// The charset of SEARCH, SORT or THREAD, upper-cased. UTF-8 and US-ASCII strings are taken
    /// as they are; any other charset encoding_rs knows by that label is converted to UTF-8 by
    /// [`Parser::search_string`]; an unknown one is `BADCHARSET` (RFC 3501 6.4.4).
    pub(super) fn search_charset_name(&mut self) -> PResult<String> {
        let name = self.astring("charset")?.to_ascii_uppercase();
        if name == "UTF-8" || name == "US-ASCII" {
            return Ok(name);
        }
        match encoding_rs::Encoding::for_label(name.as_bytes()) {
            Some(charset) if charset != encoding_rs::UTF_8 => {
                self.search_charset = Some(charset);
                Ok(name)
            }
            Some(_) => Ok(name),
            None => Err(ParseError::new(
                self.tag.clone(),
                ErrorKind::BadCharset,
                "Unsupported charset",
            )),
        }
    }

    fn search_date(&mut self) -> PResult<Date> {
        self.sp("date")?;
        self.date()
    }

    // ---- FETCH ----

    fn fetch(&mut self, uid: bool) -> PResult<CommandBody> {
        self.sp("sequence set")?;
        let set = self.sequence_set()?;
        self.sp("fetch items")?;
        let items = if self.eat(b'(') {
            let mut items = Vec::new();
            loop {
                items.push(self.fetch_att()?);
                if self.eat(b')') {
                    break;
                }
                self.sp("fetch item")?;
            }
            items
        } else {
            let l = self.line();
            let a = l[self.pos..]
                .iter()
                .take_while(|b| b.is_ascii_alphabetic())
                .count();
            let word = Self::ascii(&l[self.pos..self.pos + a]).to_ascii_uppercase();
            let after = l.get(self.pos + a).copied();
            let is_macro = matches!(after, None | Some(b' '));
            use FetchAttr as F;
            match word.as_str() {
                "ALL" if is_macro => {
                    self.pos += a;
                    vec![F::Flags, F::InternalDate, F::Rfc822Size, F::Envelope]
                }
                "FAST" if is_macro => {
                    self.pos += a;
                    vec![F::Flags, F::InternalDate, F::Rfc822Size]
                }
                "FULL" if is_macro => {
                    self.pos += a;
                    vec![
                        F::Flags,
                        F::InternalDate,
                        F::Rfc822Size,
                        F::Envelope,
                        F::Body,
                    ]
                }
                _ => vec![self.fetch_att()?],
            }
        };
        let mut changed_since = None;
        let mut vanished = false;
        if !self.at_end() {
            self.sp("fetch modifiers")?;
            self.expect(b'(', "'(' before fetch modifiers")?;
            loop {
                let m = self.atom_upper("fetch modifier")?;
                match m.as_str() {
                    "CHANGEDSINCE" => {
                        self.sp("mod-sequence")?;
                        changed_since = Some(self.modseq("mod-sequence")?);
                    }
                    "VANISHED" if uid => vanished = true,
                    _ => return Err(self.err(format!("Unknown fetch modifier {}", truncate(&m)))),
                }
                if self.eat(b')') {
                    break;
                }
                self.sp("fetch modifier")?;
            }
        }
        if vanished && changed_since.is_none() {
            return Err(self.err("VANISHED requires CHANGEDSINCE"));
        }
        Ok(CommandBody::Fetch {
            set,
            items,
            uid,
            changed_since,
            vanished,
        })
    }

    fn fetch_att(&mut self) -> PResult<FetchAttr> {
        let name = self.take_while(|b| b.is_ascii_alphanumeric() || b == b'.');
        if name.is_empty() {
            return Err(self.err("Missing fetch item"));
        }
        let name = Self::ascii(name).to_ascii_uppercase();
        use FetchAttr as F;
        Ok(match name.as_str() {
            "FLAGS" => F::Flags,
            "INTERNALDATE" => F::InternalDate,
            "RFC822" => F::Rfc822,
            "RFC822.HEADER" => F::Rfc822Header,
            "RFC822.SIZE" => F::Rfc822Size,
            "RFC822.TEXT" => F::Rfc822Text,
            "ENVELOPE" => F::Envelope,
            "BODYSTRUCTURE" => F::BodyStructure,
            "UID" => F::Uid,
            "MODSEQ" => F::ModSeq,
            "EMAILID" => F::EmailId,
            "THREADID" => F::ThreadId,
            "SAVEDATE" => F::SaveDate,
            "PREVIEW" => {
                // RFC 8970: `PREVIEW (LAZY)`; the modifier list may be empty of known ones.
                let mut lazy = false;
                if self.peek() == Some(b' ') && self.peek_at(1) == Some(b'(') {
                    self.pos += 2;
                    loop {
                        let m = self.atom_upper("preview modifier")?;
                        if m != "LAZY" {
                            return Err(
                                self.err(format!("Unknown preview modifier {}", truncate(&m)))
                            );
                        }
                        lazy = true;
                        if self.eat(b')') {
                            break;
                        }
                        self.sp("preview modifier")?;
                    }
                }
                F::Preview { lazy }
            }
            "BODY" if self.peek() != Some(b'[') => F::Body,
            "BODY" | "BODY.PEEK" => {
                self.expect(b'[', "'[' after BODY.PEEK")?;
                let section = self.section()?;
                let partial = self.partial()?;
                F::BodySection {
                    peek: name == "BODY.PEEK",
                    section,
                    partial,
                }
            }
            "BINARY" | "BINARY.PEEK" => {
                let part = self.binary_section()?;
                let partial = self.partial()?;
                F::Binary {
                    peek: name == "BINARY.PEEK",
                    part,
                    partial,
                }
            }
            "BINARY.SIZE" => F::BinarySize(self.binary_section()?),
            _ => return Err(self.err(format!("Unknown fetch item {}", truncate(&name)))),
        })
    }

    fn section_part(&mut self) -> PResult<Vec<u32>> {
        let mut part = vec![self.nz_number("section part")?];
        while self.peek() == Some(b'.') && self.peek_at(1).is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
            part.push(self.nz_number("section part")?);
        }
        Ok(part)
    }

    /// After '[': section-spec "]"
    fn section(&mut self) -> PResult<Section> {
        let mut section = Section::default();
        if self.peek().is_some_and(|b| b.is_ascii_digit()) {
            section.part = self.section_part()?;
            if self.eat(b'.') {
                section.text = Some(self.section_text(true)?);
            }
        } else if self.peek() != Some(b']') {
            section.text = Some(self.section_text(false)?);
        }
        self.expect(b']', "']' after section")?;
        Ok(section)
    }

    fn section_text(&mut self, after_part: bool) -> PResult<SectionText> {
        let kw = self.take_while(|b| b.is_ascii_alphabetic() || b == b'.');
        let kw = Self::ascii(kw).to_ascii_uppercase();
        Ok(match kw.as_str() {
            "HEADER" => SectionText::Header,
            "TEXT" => SectionText::Text,
            "MIME" if after_part => SectionText::Mime,
            "HEADER.FIELDS" => SectionText::HeaderFields(self.header_list()?),
            "HEADER.FIELDS.NOT" => SectionText::HeaderFieldsNot(self.header_list()?),
            _ => return Err(self.err("Invalid section")),
        })
    }

    fn header_list(&mut self) -> PResult<Vec<String>> {
        self.sp("header list")?;
        self.expect(b'(', "'(' before header list")?;
        let mut fields = Vec::new();
        loop {
            let f = self.astring_bytes("header field name")?;
            if f.is_empty() || !f.iter().all(|&b| (33..=126).contains(&b) && b != b':') {
                return Err(self.err("Invalid header field name"));
            }
            fields.push(Self::ascii(&f).to_ascii_uppercase());
            if self.eat(b')') {
                return Ok(fields);
            }
            self.sp("header field name")?;
        }
    }

    /// "[" [section-part] "]"
    fn binary_section(&mut self) -> PResult<Vec<u32>> {
        self.expect(b'[', "'[' after BINARY")?;
        let part = if self.peek() == Some(b']') {
            Vec::new()
        } else {
            self.section_part()?
        };
        self.expect(b']', "']' after binary section")?;
        Ok(part)
    }

    /// ["<" number "." nz-number ">"]
    fn partial(&mut self) -> PResult<Option<(u32, u32)>> {
        if !self.eat(b'<') {
            return Ok(None);
        }
        let off = self.number("partial offset")?;
        self.expect(b'.', "'.' in partial")?;
        let len = self.nz_number("partial length")?;
        self.expect(b'>', "'>' after partial")?;
        Ok(Some((off, len)))
    }

    // ---- STORE / COPY / MOVE / ID ----

    fn store(&mut self, uid: bool) -> PResult<CommandBody> {
        self.sp("sequence set")?;
        let set = self.sequence_set()?;
        self.sp("store item")?;
        let mut unchanged_since = None;
        if self.eat(b'(') {
            loop {
                let m = self.atom_upper("store modifier")?;
                if m != "UNCHANGEDSINCE" {
                    return Err(self.err(format!("Unknown store modifier {}", truncate(&m))));
                }
                self.sp("mod-sequence")?;
                unchanged_since = Some(self.modseq("mod-sequence")?);
                if self.eat(b')') {
                    break;
                }
                self.sp("store modifier")?;
            }
            self.sp("store item")?;
        }
        let kind = if self.eat(b'+') {
            StoreKind::Add
        } else if self.eat(b'-') {
            StoreKind::Remove
        } else {
            StoreKind::Replace
        };
        let item = self.atom_upper("store item")?;
        let silent = match item.as_str() {
            "FLAGS" => false,
            "FLAGS.SILENT" => true,
            _ => return Err(self.err(format!("Invalid store item {}", truncate(&item)))),
        };
        self.sp("flags")?;
        let flags = if self.peek() == Some(b'(') {
            self.flag_list()?
        } else {
            let mut flags = vec![self.flag()?];
            while !self.at_end() {
                self.sp("flag")?;
                flags.push(self.flag()?);
            }
            flags
        };
        Ok(CommandBody::Store {
            set,
            kind,
            silent,
            flags,
            uid,
            unchanged_since,
        })
    }

    fn copy_move(&mut self, is_move: bool, uid: bool) -> PResult<CommandBody> {
        self.sp("sequence set")?;
        let set = self.sequence_set()?;
        let mailbox = self.mailbox_arg()?;
        Ok(if is_move {
            CommandBody::Move { set, mailbox, uid }
        } else {
            CommandBody::Copy { set, mailbox, uid }
        })
    }

    fn id(&mut self) -> PResult<CommandBody> {
        self.sp("ID parameters")?;
        if self.is_nil() {
            self.pos += 3;
            return Ok(CommandBody::Id(None));
        }
        self.expect(b'(', "'(' or NIL")?;
        let mut pairs = Vec::new();
        if self.eat(b')') {
            return Ok(CommandBody::Id(Some(pairs)));
        }
        loop {
            let k = self.string("ID field")?;
            self.sp("ID value")?;
            let v = self.nstring("ID value")?;
            if k.len() > 30 || v.as_ref().is_some_and(|v| v.len() > 1024) {
                return Err(self.err("ID field or value too long"));
            }
            pairs.push((k, v));
            if pairs.len() > MAX_ID_PAIRS {
                return Err(self.err("Too many ID fields"));
            }
            if self.eat(b')') {
                return Ok(CommandBody::Id(Some(pairs)));
            }
            self.sp("ID field")?;
        }
    }
}

fn memchr0(data: &[u8]) -> bool {
    data.contains(&0)
}

/// Keep user-supplied words in error messages short.
fn truncate(s: &str) -> &str {
    match s.char_indices().nth(40) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn canonical_use(a: &str) -> String {
    const KNOWN: [&str; 8] = [
        "All",
        "Archive",
        "Drafts",
        "Flagged",
        "Junk",
        "Sent",
        "Trash",
        "Important",
    ];
    match KNOWN.iter().find(|k| k.eq_ignore_ascii_case(a)) {
        Some(k) => format!("\\{k}"),
        None => format!("\\{a}"),
    }
}
