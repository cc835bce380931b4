//! Types of the synchronisation and ordering extensions: QRESYNC select parameters (RFC 7162),
//! SORT / ESORT keys (RFC 5256, 5957, 5267) and THREAD algorithms (RFC 5256).

use crate::types::SequenceSet;

/// `SELECT mailbox (QRESYNC (uidvalidity modseq [known-uids [(seqs uids)]]))`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QresyncParams {
    pub uid_validity: u32,
    pub modseq: u64,
    pub known_uids: Option<SequenceSet>,
    /// Known sequence numbers and the UIDs they map to.
    pub seq_match: Option<(SequenceSet, SequenceSet)>,
}

/// One SORT criterion (RFC 5256 §3, RFC 5957).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortCriterion {
    Arrival,
    Cc,
    Date,
    From,
    Size,
    Subject,
    To,
    DisplayFrom,
    DisplayTo,
}

/// A criterion with its `REVERSE` prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortKey {
    pub reverse: bool,
    pub criterion: SortCriterion,
}

/// THREAD algorithms (RFC 5256 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadAlgorithm {
    OrderedSubject,
    References,
}
