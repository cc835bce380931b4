//! Parsed commands.

use crate::ext_types::*;
use crate::types::*;

/// A complete tagged client command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub tag: String,
    pub body: CommandBody,
}

/// All commands we understand.
///
/// Mailbox names are kept exactly as sent (modified UTF-7, or UTF-8 when the
/// client enabled UTF8=ACCEPT; see [`crate::utf7`]), except that any
/// case-variant of `INBOX` is normalized to `INBOX` (RFC 3501 §5.1). LIST
/// references and patterns are never normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandBody {
    Capability,
    Noop,
    Logout,
    StartTls,
    /// `mechanism` is uppercased. `initial` is the decoded SASL-IR
    /// (RFC 4959); `=` decodes to `Some(vec![])`.
    Authenticate {
        mechanism: String,
        initial: Option<Vec<u8>>,
    },
    Login {
        username: String,
        password: String,
    },
    /// `condstore` is set by the `(CONDSTORE)` select parameter, `qresync` by
    /// `(QRESYNC (...))` (RFC 7162).
    Select {
        mailbox: String,
        condstore: bool,
        qresync: Option<QresyncParams>,
    },
    Examine {
        mailbox: String,
        condstore: bool,
        qresync: Option<QresyncParams>,
    },
    /// `special_use` from `CREATE name (USE (\Drafts))` (RFC 6154); known
    /// attributes are canonicalized (`\Drafts`), unknown ones kept as sent
    /// (the session answers `NO [USEATTR]`).
    Create {
        mailbox: String,
        special_use: Vec<String>,
    },
    Delete {
        mailbox: String,
    },
    Rename {
        from: String,
        to: String,
    },
    Subscribe {
        mailbox: String,
    },
    Unsubscribe {
        mailbox: String,
    },
    /// Basic and LIST-EXTENDED (RFC 5258) LIST. `patterns` has at least one
    /// element (several only with the extended `("a" "b")` form).
    List {
        reference: String,
        patterns: Vec<String>,
        select_opts: Vec<ListSelectOpt>,
        /// Empty unless `RETURN (...)` was given.
        return_opts: Vec<ListReturnOpt>,
    },
    Lsub {
        reference: String,
        pattern: String,
    },
    Status {
        mailbox: String,
        items: Vec<StatusItem>,
    },
    /// One or more messages (MULTIAPPEND, RFC 3502).
    Append {
        mailbox: String,
        messages: Vec<AppendMessage>,
    },
    Check,
    Close,
    Unselect,
    Expunge,
    /// `UID EXPUNGE set` (RFC 4315).
    UidExpunge(SequenceSet),
    /// `charset` is `None` when absent, else the uppercased `US-ASCII` or
    /// `UTF-8` (others are a [`crate::ErrorKind::BadCharset`] error).
    /// `return_opts` is `None` for a classic SEARCH, `Some(opts)` for
    /// `SEARCH RETURN (...)` (ESEARCH; an empty list means `ALL`).
    Search {
        charset: Option<String>,
        criteria: SearchKey,
        uid: bool,
        return_opts: Option<Vec<SearchReturnOpt>>,
    },
    Fetch {
        set: SequenceSet,
        items: Vec<FetchAttr>,
        uid: bool,
        changed_since: Option<u64>,
        /// `VANISHED` modifier (RFC 7162 §3.2.6; UID FETCH with CHANGEDSINCE only).
        vanished: bool,
    },
    Store {
        set: SequenceSet,
        kind: StoreKind,
        silent: bool,
        flags: Vec<Flag>,
        uid: bool,
        unchanged_since: Option<u64>,
    },
    Copy {
        set: SequenceSet,
        mailbox: String,
        uid: bool,
    },
    Move {
        set: SequenceSet,
        mailbox: String,
        uid: bool,
    },
    /// SORT / UID SORT (RFC 5256); `return_opts` as for SEARCH (ESORT, RFC 5267).
    Sort {
        keys: Vec<SortKey>,
        charset: String,
        criteria: SearchKey,
        uid: bool,
        return_opts: Option<Vec<SearchReturnOpt>>,
    },
    /// THREAD / UID THREAD (RFC 5256).
    Thread {
        algorithm: ThreadAlgorithm,
        charset: String,
        criteria: SearchKey,
        uid: bool,
    },
    Idle,
    Namespace,
    /// RFC 2971: `None` for `ID NIL`.
    Id(Option<Vec<(String, Option<String>)>>),
    /// Capability names, uppercased.
    Enable(Vec<String>),
    /// RFC 8437.
    Unauthenticate,
    /// RFC 4978 `COMPRESS mechanism` (uppercased).
    Compress(String),
    /// RFC 9208 `GETQUOTA root`.
    GetQuota(String),
    /// RFC 9208 `GETQUOTAROOT mailbox`.
    GetQuotaRoot(String),
    /// RFC 9208 `SETQUOTA root (...)`; the limits are not kept (quotas are set by admins).
    SetQuota(String),
    /// Old Gmail `XLIST reference pattern`.
    Xlist {
        reference: String,
        pattern: String,
    },
}

impl CommandBody {
    /// The command name as used in completion responses (`UID FETCH`,
    /// `SELECT`, ...).
    pub fn name(&self) -> &'static str {
        use CommandBody as C;
        match self {
            C::Capability => "CAPABILITY",
            C::Noop => "NOOP",
            C::Logout => "LOGOUT",
            C::StartTls => "STARTTLS",
            C::Authenticate { .. } => "AUTHENTICATE",
            C::Login { .. } => "LOGIN",
            C::Select { .. } => "SELECT",
            C::Examine { .. } => "EXAMINE",
            C::Create { .. } => "CREATE",
            C::Delete { .. } => "DELETE",
            C::Rename { .. } => "RENAME",
            C::Subscribe { .. } => "SUBSCRIBE",
            C::Unsubscribe { .. } => "UNSUBSCRIBE",
            C::List { .. } => "LIST",
            C::Lsub { .. } => "LSUB",
            C::Status { .. } => "STATUS",
            C::Append { .. } => "APPEND",
            C::Check => "CHECK",
            C::Close => "CLOSE",
            C::Unselect => "UNSELECT",
            C::Expunge => "EXPUNGE",
            C::UidExpunge(_) => "UID EXPUNGE",
            C::Search { uid: false, .. } => "SEARCH",
            C::Search { uid: true, .. } => "UID SEARCH",
            C::Fetch { uid: false, .. } => "FETCH",
            C::Fetch { uid: true, .. } => "UID FETCH",
            C::Store { uid: false, .. } => "STORE",
            C::Store { uid: true, .. } => "UID STORE",
            C::Copy { uid: false, .. } => "COPY",
            C::Copy { uid: true, .. } => "UID COPY",
            C::Move { uid: false, .. } => "MOVE",
            C::Move { uid: true, .. } => "UID MOVE",
            C::Sort { uid: false, .. } => "SORT",
            C::Sort { uid: true, .. } => "UID SORT",
            C::Thread { uid: false, .. } => "THREAD",
            C::Thread { uid: true, .. } => "UID THREAD",
            C::Idle => "IDLE",
            C::Namespace => "NAMESPACE",
            C::Id(_) => "ID",
            C::Enable(_) => "ENABLE",
            C::Unauthenticate => "UNAUTHENTICATE",
            C::Compress(_) => "COMPRESS",
            C::GetQuota(_) => "GETQUOTA",
            C::GetQuotaRoot(_) => "GETQUOTAROOT",
            C::SetQuota(_) => "SETQUOTA",
            C::Xlist { .. } => "XLIST",
        }
    }
}
