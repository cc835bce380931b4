//! Command data types.

use std::fmt;

pub use crate::datetime::{Date, DateTime};

/// A message flag as used in STORE, APPEND and FETCH FLAGS.
///
/// System flags are matched case-insensitively and displayed canonically
/// (`\Seen`). Keywords keep the spelling the client used. `\*` is not a
/// flag (it only appears in PERMANENTFLAGS, which the session writes itself)
/// and unknown `\Foo` flags are rejected by the parser. `\Recent` is
/// accepted syntactically (it is in the RFC 3501 `flag` grammar) but the
/// session must ignore it in STORE/APPEND since clients cannot set it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Flag {
    Seen,
    Answered,
    Flagged,
    Deleted,
    Draft,
    Recent,
    Keyword(String),
}

impl Flag {
    /// Parse a flag from its textual form (`\seen`, `$Label`). Returns
    /// `None` for `\*`, unknown system flags and strings that are not atoms.
    pub fn parse(s: &str) -> Option<Flag> {
        if let Some(rest) = s.strip_prefix('\\') {
            return Self::system(rest);
        }
        if !s.is_empty() && s.bytes().all(crate::parser::is_atom_char) {
            Some(Flag::Keyword(s.to_string()))
        } else {
            None
        }
    }

    pub(crate) fn system(name: &str) -> Option<Flag> {
        Some(match name.to_ascii_uppercase().as_str() {
            "SEEN" => Flag::Seen,
            "ANSWERED" => Flag::Answered,
            "FLAGGED" => Flag::Flagged,
            "DELETED" => Flag::Deleted,
            "DRAFT" => Flag::Draft,
            "RECENT" => Flag::Recent,
            _ => return None,
        })
    }

    /// Canonical wire form.
    pub fn as_str(&self) -> &str {
        match self {
            Flag::Seen => "\\Seen",
            Flag::Answered => "\\Answered",
            Flag::Flagged => "\\Flagged",
            Flag::Deleted => "\\Deleted",
            Flag::Draft => "\\Draft",
            Flag::Recent => "\\Recent",
            Flag::Keyword(k) => k,
        }
    }
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One end of a sequence range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeqNum {
    /// 1..=u32::MAX
    Value(u32),
    /// `*`: the largest number in use.
    Star,
}

impl SeqNum {
    /// Resolve `*` against the largest number in use.
    pub fn resolve(self, star: u32) -> u32 {
        match self {
            SeqNum::Value(v) => v,
            SeqNum::Star => star,
        }
    }
}

impl fmt::Display for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeqNum::Value(v) => write!(f, "{v}"),
            SeqNum::Star => f.write_str("*"),
        }
    }
}

/// `a` or `a:b` (order as sent; `5:2` means `2:5`). A single number has
/// `start == end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SeqRange {
    pub start: SeqNum,
    pub end: SeqNum,
}

impl SeqRange {
    /// Inclusive `(low, high)` after resolving `*`.
    pub fn resolve(&self, star: u32) -> (u32, u32) {
        let a = self.start.resolve(star);
        let b = self.end.resolve(star);
        (a.min(b), a.max(b))
    }
}

impl fmt::Display for SeqRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}:{}", self.start, self.end)
        }
    }
}

/// A sequence set (message sequence numbers or UIDs, depending on the
/// command).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SequenceSet {
    /// Non-empty list of ranges, as sent.
    Ranges(Vec<SeqRange>),
    /// `$` (RFC 5182 SEARCHRES): the result saved by the last
    /// `SEARCH RETURN (SAVE)`. The session must substitute it; the
    /// range methods treat it as empty.
    Saved,
}

impl SequenceSet {
    /// Build from explicit ranges.
    pub fn from_ranges(ranges: Vec<SeqRange>) -> Self {
        SequenceSet::Ranges(ranges)
    }

    /// A set containing a single number.
    pub fn single(n: u32) -> Self {
        SequenceSet::Ranges(vec![SeqRange {
            start: SeqNum::Value(n),
            end: SeqNum::Value(n),
        }])
    }

    fn raw(&self) -> &[SeqRange] {
        match self {
            SequenceSet::Ranges(r) => r,
            SequenceSet::Saved => &[],
        }
    }

    /// Does the set contain `n`, with `*` meaning `star`? O(ranges).
    pub fn contains(&self, n: u32, star: u32) -> bool {
        self.raw().iter().any(|r| {
            let (lo, hi) = r.resolve(star);
            lo <= n && n <= hi
        })
    }

    /// The ranges with `*` resolved, normalized (low ≤ high), sorted and
    /// merged. Allocation is bounded by the number of ranges sent, never by
    /// their size.
    pub fn resolved(&self, star: u32) -> Vec<(u32, u32)> {
        let mut v: Vec<(u32, u32)> = self.raw().iter().map(|r| r.resolve(star)).collect();
        v.sort_unstable();
        let mut out: Vec<(u32, u32)> = Vec::with_capacity(v.len());
        for (lo, hi) in v {
            match out.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => out.push((lo, hi)),
            }
        }
        out
    }

    /// Resolved ranges clipped to `1..=max` (e.g. `max` = number of
    /// messages, or highest UID). Sorted, merged, non-empty ranges only.
    pub fn clamped(&self, max: u32) -> Vec<(u32, u32)> {
        self.resolved(max)
            .into_iter()
            .filter_map(|(lo, hi)| {
                let lo = lo.max(1);
                let hi = hi.min(max);
                (lo <= hi).then_some((lo, hi))
            })
            .collect()
    }

    /// Iterate, in ascending order without duplicates, over the members
    /// of the set within `1..=max` (`*` = `max`). Lazy: `1:4294967295`
    /// yields at most `max` items and allocates nothing per item.
    pub fn iter(&self, max: u32) -> impl Iterator<Item = u32> + use<> {
        self.clamped(max).into_iter().flat_map(|(lo, hi)| lo..=hi)
    }

    /// Largest explicit (non-`*`) number, for checking message sequence
    /// numbers against EXISTS.
    pub fn max_explicit(&self) -> Option<u32> {
        self.raw()
            .iter()
            .flat_map(|r| [r.start, r.end])
            .filter_map(|n| match n {
                SeqNum::Value(v) => Some(v),
                SeqNum::Star => None,
            })
            .max()
    }

    /// Whether the set is `$`.
    pub fn is_saved(&self) -> bool {
        matches!(self, SequenceSet::Saved)
    }
}

impl fmt::Display for SequenceSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SequenceSet::Saved => f.write_str("$"),
            SequenceSet::Ranges(r) => {
                for (i, range) in r.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{range}")?;
                }
                Ok(())
            }
        }
    }
}

/// STATUS data items (RFC 3501, 7162 HIGHESTMODSEQ, 8438 SIZE, 9051 DELETED).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusItem {
    Messages,
    Recent,
    UidNext,
    UidValidity,
    Unseen,
    Deleted,
    HighestModSeq,
    Size,
    /// RFC 7889.
    AppendLimit,
    /// RFC 8474.
    MailboxId,
}

impl StatusItem {
    pub fn as_str(&self) -> &'static str {
        match self {
            StatusItem::Messages => "MESSAGES",
            StatusItem::Recent => "RECENT",
            StatusItem::UidNext => "UIDNEXT",
            StatusItem::UidValidity => "UIDVALIDITY",
            StatusItem::Unseen => "UNSEEN",
            StatusItem::Deleted => "DELETED",
            StatusItem::HighestModSeq => "HIGHESTMODSEQ",
            StatusItem::Size => "SIZE",
            StatusItem::AppendLimit => "APPENDLIMIT",
            StatusItem::MailboxId => "MAILBOXID",
        }
    }

    pub(crate) fn from_upper(s: &str) -> Option<Self> {
        Some(match s {
            "MESSAGES" => StatusItem::Messages,
            "RECENT" => StatusItem::Recent,
            "UIDNEXT" => StatusItem::UidNext,
            "UIDVALIDITY" => StatusItem::UidValidity,
            "UNSEEN" => StatusItem::Unseen,
            "DELETED" => StatusItem::Deleted,
            "HIGHESTMODSEQ" => StatusItem::HighestModSeq,
            "SIZE" => StatusItem::Size,
            "APPENDLIMIT" => StatusItem::AppendLimit,
            "MAILBOXID" => StatusItem::MailboxId,
            _ => return None,
        })
    }
}

/// Text part of a BODY[] section.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SectionText {
    Header,
    /// Field names, uppercased (they are case-insensitive ASCII).
    HeaderFields(Vec<String>),
    HeaderFieldsNot(Vec<String>),
    Text,
    /// Only valid after a part number.
    Mime,
}

/// A body section: `1.2.HEADER` → `part = [1, 2], text = Some(Header)`;
/// `BODY[]` → both empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Section {
    pub part: Vec<u32>,
    pub text: Option<SectionText>,
}

/// FETCH data items. Macros (ALL, FAST, FULL) are expanded by the parser.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FetchAttr {
    Flags,
    InternalDate,
    Rfc822,
    Rfc822Header,
    Rfc822Size,
    Rfc822Text,
    Envelope,
    /// `BODY` without a section: non-extensible BODYSTRUCTURE.
    Body,
    BodyStructure,
    Uid,
    /// RFC 7162.
    ModSeq,
    /// `BODY[section]<partial>` / `BODY.PEEK[...]`; partial is
    /// `(offset, length)` with length ≥ 1.
    BodySection {
        peek: bool,
        section: Section,
        partial: Option<(u32, u32)>,
    },
    /// RFC 3516 `BINARY[part]<partial>` / `BINARY.PEEK[...]`.
    Binary {
        peek: bool,
        part: Vec<u32>,
        partial: Option<(u32, u32)>,
    },
    /// RFC 3516 `BINARY.SIZE[part]`.
    BinarySize(Vec<u32>),
    /// RFC 8474 `EMAILID`.
    EmailId,
    /// RFC 8474 `THREADID`.
    ThreadId,
    /// RFC 8514 `SAVEDATE`.
    SaveDate,
    /// RFC 8970 `PREVIEW`, `PREVIEW (LAZY)`.
    Preview {
        lazy: bool,
    },
}

/// STORE operation: `+FLAGS`, `-FLAGS`, `FLAGS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreKind {
    Add,
    Remove,
    Replace,
}

/// ESEARCH (RFC 4731) / SEARCHRES (RFC 5182) return options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SearchReturnOpt {
    Min,
    Max,
    All,
    Count,
    Save,
}

/// SEARCH criteria. Top-level and parenthesized lists become `And`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SearchKey {
    All,
    Answered,
    Bcc(String),
    Before(Date),
    Body(String),
    Cc(String),
    Deleted,
    Draft,
    Flagged,
    From(String),
    /// `HEADER field-name string`
    Header(String, String),
    Keyword(String),
    Larger(u64),
    New,
    Not(Box<SearchKey>),
    Old,
    On(Date),
    Or(Box<SearchKey>, Box<SearchKey>),
    Recent,
    Seen,
    SentBefore(Date),
    SentOn(Date),
    SentSince(Date),
    Since(Date),
    Smaller(u64),
    Subject(String),
    Text(String),
    To(String),
    Uid(SequenceSet),
    Unanswered,
    Undeleted,
    Undraft,
    Unflagged,
    Unkeyword(String),
    Unseen,
    /// Message sequence numbers.
    SequenceSet(SequenceSet),
    And(Vec<SearchKey>),
    /// RFC 7162 `MODSEQ [entry-name entry-type] n`; the optional
    /// per-flag entry is parsed and ignored (we keep no per-flag modseqs).
    ModSeq(u64),
    /// RFC 5032 WITHIN: `OLDER n` (seconds).
    Older(u32),
    /// RFC 5032 WITHIN: `YOUNGER n` (seconds).
    Younger(u32),
    /// RFC 8514 `SAVEDBEFORE date`.
    SavedBefore(Date),
    /// RFC 8514 `SAVEDON date`.
    SavedOn(Date),
    /// RFC 8514 `SAVEDSINCE date`.
    SavedSince(Date),
    /// RFC 8514 `SAVEDATESUPPORTED`.
    SaveDateSupported,
    /// RFC 8474 `EMAILID objectid`.
    EmailId(String),
    /// RFC 8474 `THREADID objectid`.
    ThreadId(String),
}

/// LIST-EXTENDED selection options (RFC 5258, 6154).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListSelectOpt {
    Subscribed,
    Remote,
    RecursiveMatch,
    SpecialUse,
}

/// LIST-EXTENDED return options (RFC 5258, 5819, 6154).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ListReturnOpt {
    Subscribed,
    Children,
    SpecialUse,
    Status(Vec<StatusItem>),
}

/// One message of an APPEND (several with MULTIAPPEND, RFC 3502).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendMessage {
    pub flags: Vec<Flag>,
    pub date: Option<DateTime>,
    /// The literal, moved out of the fragments.
    pub message: Vec<u8>,
    /// Sent as `~{n}` (RFC 3516 literal8): may contain NUL / binary data.
    pub binary: bool,
    /// RFC 4469 CATENATE parts; when non-empty, `message` is empty and the session builds the
    /// message from these.
    pub catenate: Vec<CatenatePart>,
    /// Sent as `UTF8 (~{n})` (RFC 6855).
    pub utf8: bool,
}

/// One part of an RFC 4469 CATENATE list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatenatePart {
    /// `URL "/mailbox;UIDVALIDITY=n/;UID=n/;SECTION=x"` (RFC 5092 relative IMAP URL).
    Url(String),
    /// `TEXT {n}`: literal bytes.
    Text(Vec<u8>),
}
