//! SORT, UID SORT and ESORT (RFC 5256, 5957, 5267). Sort keys come from the message rows (arrival,
//! size) and the header fields parsed at delivery (addresses, subject, date, message ids); no
//! message body is read.

use crate::reply::Reply;
use crate::selected::uid_ranges;
use crate::session::Session;
use crate::subject::{base_subject, casemap};
use eider_imap_proto::{SearchKey, SearchReturnOpt, SortCriterion, SortKey};
use std::cmp::Ordering;

/// Messages per store round trip while collecting sort keys (bounds memory per step).
const CHUNK: usize = 1000;

/// What SORT and THREAD need of one message.
pub(crate) struct SortRecord {
    pub seq: u32,
    pub uid: u32,
    pub arrival: i64,
    pub size: u64,
    /// Date header in Unix seconds, or the arrival time when it is missing (RFC 5256 §2.2).
    pub date: i64,
    pub subject: String,
    pub subject_is_reply: bool,
    pub from: String,
    pub to: String,
    pub cc: String,
    pub display_from: String,
    pub display_to: String,
    pub message_id: Option<String>,
    /// References, or failing that the first In-Reply-To id (RFC 5256 REFERENCES step 1).
    pub references: Vec<String>,
}

/// `addr-mailbox` of the first address of a display list (`Name <a@b>, c@d`). A list that starts
/// with a group (`team: a@b, c@d;`) starts, in ENVELOPE form, with the group's start marker, whose
/// mailbox is the group name: that is the key, as in Dovecot (imaptest's sort-addresses).
fn first_mailbox(list: &str) -> String {
    if let Some(group) = group_name(list) {
        return casemap(group);
    }
    let first = first_address(list);
    casemap(first.split('@').next().unwrap_or_default())
}

/// The name of the group a display list starts with, if it does: a ':' before any '<', '@' or '"'.
fn group_name(list: &str) -> Option<&str> {
    let colon = list.find(':')?;
    let before = &list[..colon];
    (!before.contains(['<', '@', '"', ','])).then(|| before.trim())
}

/// The first address of a display list, without its name.
fn first_address(list: &str) -> &str {
    match (list.find('<'), list.find('@')) {
        (Some(lt), Some(at)) if lt < at => {
            let rest = &list[lt + 1..];
            &rest[..rest.find('>').unwrap_or(rest.len())]
        }
        _ => list.split(", ").next().unwrap_or_default().trim(),
    }
}

/// RFC 5957: the display name of the first address if present, else its addr-spec.
fn first_display(list: &str) -> String {
    if let (Some(lt), Some(at)) = (list.find('<'), list.find('@'))
        && lt < at
    {
        let name = list[..lt].trim().trim_matches('"').trim();
        if !name.is_empty() {
            return casemap(name);
        }
    }
    casemap(first_address(list))
}

fn message_ids(list: &str) -> Vec<String> {
    list.split_whitespace()
        .map(|id| id.trim_start_matches('<').trim_end_matches('>').to_string())
        .filter(|id| !id.is_empty())
        .collect()
}

fn compare(a: &SortRecord, b: &SortRecord, keys: &[SortKey]) -> Ordering {
    for key in keys {
        use SortCriterion as S;
        let order = match key.criterion {
            S::Arrival => a.arrival.cmp(&b.arrival),
            S::Cc => a.cc.cmp(&b.cc),
            S::Date => a.date.cmp(&b.date),
            S::From => a.from.cmp(&b.from),
            S::Size => a.size.cmp(&b.size),
            S::Subject => a.subject.cmp(&b.subject),
            S::To => a.to.cmp(&b.to),
            S::DisplayFrom => a.display_from.cmp(&b.display_from),
            S::DisplayTo => a.display_to.cmp(&b.display_to),
        };
        let order = if key.reverse { order.reverse() } else { order };
        if order != Ordering::Equal {
            return order;
        }
    }
    // Exact ties keep mailbox order (RFC 5256 §3), whatever REVERSE says.
    a.seq.cmp(&b.seq)
}

impl Session {
    /// The sort records of the messages matching `criteria`, in mailbox order.
    pub(crate) async fn sort_records(
        &mut self,
        criteria: &SearchKey,
    ) -> Result<Vec<SortRecord>, Reply> {
        let hits = self.matching(criteria).await?.hits;
        let user = self.user_id();
        let mailbox_id = self
            .selected
            .as_ref()
            .map(|s| s.id.clone())
            .ok_or_else(|| Reply::bad("No mailbox selected."))?;
        let mut out = Vec::with_capacity(hits.len());
        for chunk in hits.chunks(CHUNK) {
            let rows = self
                .engine
                .messages_in(
                    &user,
                    &mailbox_id,
                    &uid_ranges(chunk.iter().map(|(_, u)| *u)),
                )
                .await
                .map_err(crate::reply::from_engine)?;
            let infos = self.infos_for(&user, rows.iter(), true).await?;
            let rows: std::collections::HashMap<u32, _> =
                rows.into_iter().map(|r| (r.uid, r)).collect();
            for (seq, uid) in chunk {
                let Some(row) = rows.get(uid) else { continue };
                let fields = infos.get(&row.content_id).map(|i| &i.fields);
                let text = |f: fn(&eider_mime::HeaderFields) -> &Option<String>| {
                    fields.and_then(|x| f(x).clone()).unwrap_or_default()
                };
                let (subject, subject_is_reply) = base_subject(&text(|f| &f.subject));
                let (from, to, cc) = (text(|f| &f.from), text(|f| &f.to), text(|f| &f.cc));
                let mut references = message_ids(&text(|f| &f.references));
                if references.is_empty() {
                    references = message_ids(&text(|f| &f.in_reply_to));
                    references.truncate(1);
                }
                out.push(SortRecord {
                    seq: *seq,
                    uid: *uid,
                    arrival: row.internal_date,
                    size: row.size,
                    date: fields.and_then(|f| f.date).unwrap_or(row.internal_date),
                    subject,
                    subject_is_reply,
                    from: first_mailbox(&from),
                    to: first_mailbox(&to),
                    cc: first_mailbox(&cc),
                    display_from: first_display(&from),
                    display_to: first_display(&to),
                    message_id: fields
                        .and_then(|f| f.message_id.clone())
                        .filter(|id| !id.is_empty()),
                    references,
                });
            }
        }
        Ok(out)
    }

    pub(crate) async fn sort(
        &mut self,
        keys: Vec<SortKey>,
        criteria: SearchKey,
        by_uid: bool,
        return_opts: Option<Vec<SearchReturnOpt>>,
    ) -> Result<Reply, Reply> {
        let mut records = self.sort_records(&criteria).await?;
        records.sort_by(|a, b| compare(a, b, &keys));
        let numbers: Vec<u32> = records
            .iter()
            .map(|r| if by_uid { r.uid } else { r.seq })
            .collect();
        match return_opts {
            None => {
                let mut line = String::from("* SORT");
                for n in &numbers {
                    line.push_str(&format!(" {n}"));
                }
                line.push_str("\r\n");
                self.conn.write_str(&line);
            }
            Some(opts) => {
                let uids: Vec<u32> = records.iter().map(|r| r.uid).collect();
                self.write_esearch(by_uid, &numbers, &uids, opts, None);
            }
        }
        Ok(Reply::ok("Sort completed."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_keys() {
        assert_eq!(first_mailbox("Bob Smith <bob@x.org>, c@d"), "BOB");
        assert_eq!(first_mailbox("alice@x.org, Bob <bob@x.org>"), "ALICE");
        assert_eq!(first_mailbox(""), "");
        assert_eq!(first_mailbox("user2: blah@domain1.org;"), "USER2");
        assert_eq!(first_mailbox("Team: ;, carol@x.org"), "TEAM");
        assert_eq!(first_mailbox("\"a:b\" <ab@x.org>"), "AB");
        assert_eq!(first_display("Bob Smith <bob@x.org>, c@d"), "BOB SMITH");
        assert_eq!(first_display("alice@x.org, Bob <bob@x.org>"), "ALICE@X.ORG");
        assert_eq!(message_ids("<a@b> <c@d>"), vec!["a@b", "c@d"]);
    }
}
