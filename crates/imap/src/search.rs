//! SEARCH and UID SEARCH (RFC 3501 §6.4.4), with ESEARCH result options.
//!
//! Criteria are evaluated over the selected mailbox in chunks. Flag, size, date and MODSEQ keys
//! need only message rows; address and subject keys use the metadata parsed at delivery; BODY,
//! TEXT and HEADER read the message bytes, and only when the query asks for them.

use crate::reply::{Reply, from_engine};
use crate::selected::uid_ranges;
use crate::session::Session;
use eider_engine::{MessageInfo, MessageRow, flags};
use eider_imap_proto::{Date, SearchKey, SearchReturnOpt, compress_uids};

/// Messages per store round trip when metadata or bytes are needed (bounds memory).
const CHUNK: usize = 1000;
/// Messages per round trip when the criteria need only row data (flags, sizes, dates).
const ROW_CHUNK: usize = 20_000;
const DAY: i64 = 86_400;

struct Ctx<'a> {
    seq: u32,
    row: &'a MessageRow,
    info: Option<&'a MessageInfo>,
    bytes: Option<&'a [u8]>,
    max_seq: u32,
    max_uid: u32,
    saved: &'a [u32],
    now: i64,
    recent: bool,
    /// Decoded text parts, computed on first use.
    decoded: std::cell::OnceCell<String>,
}

impl Ctx<'_> {
    fn decoded(&self) -> &str {
        self.decoded
            .get_or_init(|| eider_mime::body_text(self.bytes.unwrap_or_default()))
    }
}

fn walk(key: &SearchKey, f: &mut dyn FnMut(&SearchKey)) {
    f(key);
    match key {
        SearchKey::Not(k) => walk(k, f),
        SearchKey::Or(a, b) => {
            walk(a, f);
            walk(b, f);
        }
        SearchKey::And(list) => list.iter().for_each(|k| walk(k, f)),
        _ => {}
    }
}

fn contains_ci(haystack: &str, needle: &str) -> bool {
    needle.is_empty() || haystack.to_lowercase().contains(&needle.to_lowercase())
}

/// ASCII-case-insensitive byte search (non-ASCII bytes compare exactly).
fn bytes_contain_ci(haystack: &[u8], needle: &str) -> bool {
    let needle: Vec<u8> = needle.bytes().map(|b| b.to_ascii_lowercase()).collect();
    if needle.is_empty() {
        return true;
    }
    haystack.windows(needle.len()).any(|w| {
        w.iter()
            .zip(&needle)
            .all(|(a, b)| a.to_ascii_lowercase() == *b)
    })
}

/// Values of a header field in a raw header block, unfolded.
fn header_values(header: &[u8], name: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(header);
    let mut out: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    for line in text.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(v) = current.as_mut() {
                v.push_str(line);
            }
            continue;
        }
        if let Some(v) = current.take() {
            out.push(v);
        }
        if let Some((field, value)) = line.split_once(':')
            && field.trim().eq_ignore_ascii_case(name)
        {
            current = Some(value.trim().to_string());
        }
    }
    out.extend(current);
    out
}

fn day_of(unix: i64) -> i64 {
    unix.div_euclid(DAY)
}

/// The day a message was saved into its mailbox (RFC 8514), by the server's clock (UTC).
fn saved_day(row: &MessageRow) -> i64 {
    day_of(crate::ext::save_date(row).unwrap_or(row.internal_date))
}

fn date_day(d: &Date) -> i64 {
    d.days_since_epoch()
}

fn matches(key: &SearchKey, c: &Ctx) -> bool {
    use SearchKey as K;
    let f = c.row.flags;
    let field = |get: fn(&MessageInfo) -> Option<&String>, needle: &str| {
        c.info.and_then(get).is_some_and(|v| contains_ci(v, needle))
    };
    let sent_day = || {
        day_of(
            c.info
                .and_then(|i| i.fields.date_local.or(i.fields.date))
                .unwrap_or(c.row.internal_date),
        )
    };
    let header = || {
        let bytes = c.bytes.unwrap_or_default();
        let end = c
            .info
            .map(|i| i.header_end as usize)
            .unwrap_or(bytes.len())
            .min(bytes.len());
        &bytes[..end]
    };
    match key {
        K::All => true,
        K::Answered => f & flags::ANSWERED != 0,
        K::Unanswered => f & flags::ANSWERED == 0,
        K::Deleted => f & flags::DELETED != 0,
        K::Undeleted => f & flags::DELETED == 0,
        K::Draft => f & flags::DRAFT != 0,
        K::Undraft => f & flags::DRAFT == 0,
        K::Flagged => f & flags::FLAGGED != 0,
        K::Unflagged => f & flags::FLAGGED == 0,
        K::Seen => f & flags::SEEN != 0,
        K::Unseen => f & flags::SEEN == 0,
        K::Recent => c.recent,
        K::New => c.recent && f & flags::SEEN == 0,
        K::Old => !c.recent,
        K::Keyword(k) => c
            .row
            .keywords
            .split_whitespace()
            .any(|x| x.eq_ignore_ascii_case(k)),
        K::Unkeyword(k) => !c
            .row
            .keywords
            .split_whitespace()
            .any(|x| x.eq_ignore_ascii_case(k)),
        K::Larger(n) => c.row.size > *n,
        K::Smaller(n) => c.row.size < *n,
        K::Before(d) => day_of(c.row.internal_date) < date_day(d),
        K::On(d) => day_of(c.row.internal_date) == date_day(d),
        K::Since(d) => day_of(c.row.internal_date) >= date_day(d),
        K::SentBefore(d) => sent_day() < date_day(d),
        K::SentOn(d) => sent_day() == date_day(d),
        K::SentSince(d) => sent_day() >= date_day(d),
        K::From(s) => field(|i| i.fields.from.as_ref(), s),
        K::To(s) => field(|i| i.fields.to.as_ref(), s),
        K::Cc(s) => field(|i| i.fields.cc.as_ref(), s),
        K::Bcc(s) => field(|i| i.fields.bcc.as_ref(), s),
        K::Subject(s) => field(|i| i.fields.subject.as_ref(), s),
        K::Header(name, value) => header_values(header(), name)
            .iter()
            .any(|v| contains_ci(v, value)),
        // Raw bytes first (cheap, finds 7-bit text), then the decoded text parts.
        K::Body(s) => {
            let bytes = c.bytes.unwrap_or_default();
            let start = c
                .info
                .map(|i| i.header_end as usize)
                .unwrap_or(0)
                .min(bytes.len());
            bytes_contain_ci(&bytes[start..], s) || contains_ci(c.decoded(), s)
        }
        K::Text(s) => {
            bytes_contain_ci(c.bytes.unwrap_or_default(), s)
                || contains_ci(c.decoded(), s)
                || c.info.is_some_and(|i| {
                    [
                        &i.fields.subject,
                        &i.fields.from,
                        &i.fields.to,
                        &i.fields.cc,
                    ]
                    .iter()
                    .any(|f| f.as_deref().is_some_and(|v| contains_ci(v, s)))
                })
        }
        K::Uid(set) if set.is_saved() => c.saved.contains(&c.row.uid),
        K::Uid(set) => set.contains(c.row.uid, c.max_uid),
        K::SequenceSet(set) if set.is_saved() => c.saved.contains(&c.row.uid),
        K::SequenceSet(set) => set.contains(c.seq, c.max_seq),
        K::ModSeq(n) => c.row.modseq >= *n,
        K::Older(secs) => c.row.internal_date <= c.now - *secs as i64,
        K::Younger(secs) => c.row.internal_date >= c.now - *secs as i64,
        K::SavedBefore(d) => saved_day(c.row) < date_day(d),
        K::SavedOn(d) => saved_day(c.row) == date_day(d),
        K::SavedSince(d) => saved_day(c.row) >= date_day(d),
        K::SaveDateSupported => true,
        K::EmailId(id) => crate::ext::email_id(c.row) == *id,
        // No thread ids are kept (THREADID is NIL), so none matches.
        K::ThreadId(_) => false,
        K::Not(k) => !matches(k, c),
        K::Or(a, b) => matches(a, c) || matches(b, c),
        K::And(list) => list.iter().all(|k| matches(k, c)),
    }
}

/// The messages a SEARCH-style query matched, ascending.
pub(crate) struct Hits {
    /// (sequence number, UID) pairs.
    pub hits: Vec<(u32, u32)>,
    /// The MODSEQ of each hit, in the same order.
    pub modseqs: Vec<u64>,
    pub highest_modseq: u64,
    /// The query used MODSEQ (CONDSTORE answers then carry the highest MODSEQ).
    pub uses_modseq: bool,
}

impl Session {
    /// Evaluates search criteria over the selected mailbox (SEARCH, SORT and THREAD share it).
    pub(crate) async fn matching(&mut self, criteria: &SearchKey) -> Result<Hits, Reply> {
        let user = self.user_id();
        let (uids, mailbox_id) = {
            let sel = self
                .selected
                .as_ref()
                .ok_or_else(|| Reply::bad("No mailbox selected."))?;
            (sel.uids.clone(), sel.id.clone())
        };
        let (mut needs_info, mut needs_bytes, mut uses_modseq) = (false, false, false);
        walk(criteria, &mut |k| match k {
            SearchKey::From(_)
            | SearchKey::To(_)
            | SearchKey::Cc(_)
            | SearchKey::Bcc(_)
            | SearchKey::Subject(_)
            | SearchKey::SentBefore(_)
            | SearchKey::SentOn(_)
            | SearchKey::SentSince(_) => needs_info = true,
            SearchKey::Header(..) | SearchKey::Body(_) | SearchKey::Text(_) => {
                needs_info = true;
                needs_bytes = true;
            }
            SearchKey::ModSeq(_) => uses_modseq = true,
            _ => {}
        });
        if uses_modseq {
            self.enable_condstore_by_command();
        }
        let max_seq = uids.len() as u32;
        let max_uid = uids.last().copied().unwrap_or(0);
        let now = eider_store_now();
        let mut hits: Vec<(u32, u32)> = Vec::new();
        let mut modseqs: Vec<u64> = Vec::new();
        let mut highest_modseq = 0u64;
        let chunk_size = if needs_info || needs_bytes {
            CHUNK
        } else {
            ROW_CHUNK
        };
        for (chunk_index, chunk) in uids.chunks(chunk_size).enumerate() {
            let rows = self
                .engine
                .messages_in(&user, &mailbox_id, &uid_ranges(chunk.iter().copied()))
                .await
                .map_err(from_engine)?;
            let infos = self.infos_for(&user, rows.iter(), needs_info).await?;
            for row in &rows {
                let Ok(pos) = chunk.binary_search(&row.uid) else {
                    continue;
                };
                let seq = (chunk_index * chunk_size + pos) as u32 + 1;
                let bytes = self.bytes_for(&user, row, needs_bytes).await?;
                let ctx = Ctx {
                    seq,
                    row,
                    info: infos.get(&row.content_id),
                    bytes: bytes.as_deref(),
                    max_seq,
                    max_uid,
                    saved: &self.saved_search,
                    now,
                    recent: self.selected.as_ref().is_some_and(|s| s.is_recent(row.uid)),
                    decoded: std::cell::OnceCell::new(),
                };
                if matches(criteria, &ctx) {
                    hits.push((seq, row.uid));
                    modseqs.push(row.modseq);
                    highest_modseq = highest_modseq.max(row.modseq);
                }
            }
        }
        Ok(Hits {
            hits,
            modseqs,
            highest_modseq,
            uses_modseq,
        })
    }

    pub(crate) async fn search(
        &mut self,
        criteria: SearchKey,
        by_uid: bool,
        return_opts: Option<Vec<SearchReturnOpt>>,
    ) -> Result<Reply, Reply> {
        let Hits {
            hits,
            modseqs,
            highest_modseq,
            uses_modseq,
        } = self.matching(&criteria).await?;
        let numbers: Vec<u32> = hits
            .iter()
            .map(|(seq, uid)| if by_uid { *uid } else { *seq })
            .collect();
        // RFC 9051 §6.4.4: an IMAP4rev2 session gets ESEARCH, as if RETURN () had been sent.
        let return_opts = return_opts.or_else(|| self.rev2.then(Vec::new));
        match return_opts {
            None => {
                let mut line = String::from("* SEARCH");
                for n in &numbers {
                    line.push(' ');
                    line.push_str(&n.to_string());
                }
                if uses_modseq && !numbers.is_empty() {
                    line.push_str(&format!(" (MODSEQ {highest_modseq})"));
                }
                line.push_str("\r\n");
                self.conn.write_str(&line);
            }
            Some(opts) => {
                let uids: Vec<u32> = hits.iter().map(|(_, uid)| *uid).collect();
                // RFC 7162 §3.1.5: with only MIN and/or MAX asked for, MODSEQ is the highest of
                // the messages returned, not of every match.
                use SearchReturnOpt as O;
                let min_max_only =
                    !opts.is_empty() && opts.iter().all(|o| matches!(o, O::Min | O::Max | O::Save));
                let shown = if min_max_only {
                    let mut m = 0;
                    if opts.contains(&O::Min) {
                        m = m.max(modseqs.first().copied().unwrap_or(0));
                    }
                    if opts.contains(&O::Max) {
                        m = m.max(modseqs.last().copied().unwrap_or(0));
                    }
                    m
                } else {
                    highest_modseq
                };
                let modseq = (uses_modseq && !numbers.is_empty()).then_some(shown);
                self.write_esearch(by_uid, &numbers, &uids, opts, modseq);
            }
        }
        Ok(Reply::ok("Search completed."))
    }
}

impl Session {
    /// The ESEARCH answer (RFC 4731) to SEARCH or SORT `RETURN (opts)`; `numbers` are in result
    /// order (ascending for SEARCH, sort order for SORT) and `uids` the same messages' UIDs.
    /// Handles SAVE (RFC 5182): with only MIN and/or MAX beside it, only those are saved; with SAVE
    /// alone, no ESEARCH response is sent.
    pub(crate) fn write_esearch(
        &mut self,
        by_uid: bool,
        numbers: &[u32],
        uids: &[u32],
        opts: Vec<SearchReturnOpt>,
        modseq: Option<u64>,
    ) {
        use SearchReturnOpt as O;
        let opts = if opts.is_empty() { vec![O::All] } else { opts };
        if opts.contains(&O::Save) {
            let min_max_only = !opts.contains(&O::All)
                && !opts.contains(&O::Count)
                && (opts.contains(&O::Min) || opts.contains(&O::Max));
            self.saved_search = if min_max_only {
                let mut saved = Vec::new();
                if opts.contains(&O::Min) {
                    saved.extend(uids.first());
                }
                if opts.contains(&O::Max) {
                    saved.extend(uids.last());
                }
                saved.sort_unstable();
                saved.dedup();
                saved
            } else {
                let mut all = uids.to_vec();
                all.sort_unstable();
                all
            };
            if opts.iter().all(|o| *o == O::Save) {
                return;
            }
        }
        let mut line = format!("* ESEARCH (TAG \"{}\")", self.current_tag);
        if by_uid {
            line.push_str(" UID");
        }
        // A fixed order (as Dovecot answers), whatever order the client asked in.
        let order = [O::Min, O::Max, O::All, O::Count];
        for opt in order.iter().filter(|o| opts.contains(o)) {
            match opt {
                O::Min => {
                    if let Some(n) = numbers.first() {
                        line.push_str(&format!(" MIN {n}"));
                    }
                }
                O::Max => {
                    if let Some(n) = numbers.last() {
                        line.push_str(&format!(" MAX {n}"));
                    }
                }
                O::Count => line.push_str(&format!(" COUNT {}", numbers.len())),
                O::All => {
                    if !numbers.is_empty() {
                        line.push_str(&format!(" ALL {}", compress_uids(numbers)));
                    }
                }
                O::Save => {}
            }
        }
        if let Some(m) = modseq {
            line.push_str(&format!(" MODSEQ {m}"));
        }
        line.push_str("\r\n");
        self.conn.write_str(&line);
    }
}

fn eider_store_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_unfold() {
        let h = b"Subject: hello\r\n world\r\nX-A: 1\r\nx-a: 2\r\n\r\n";
        assert_eq!(header_values(h, "subject"), vec!["hello world"]);
        assert_eq!(header_values(h, "X-A"), vec!["1", "2"]);
    }

    #[test]
    fn byte_search_is_ascii_case_insensitive() {
        assert!(bytes_contain_ci(b"Hello World", "world"));
        assert!(!bytes_contain_ci(b"Hello", "xyz"));
        assert!(bytes_contain_ci(b"", ""));
    }
}
