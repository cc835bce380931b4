//! THREAD and UID THREAD (RFC 5256): ORDEREDSUBJECT and REFERENCES over the sort records. The
//! REFERENCES algorithm follows the RFC's steps (link, root set, prune, sort, merge by subject,
//! sort); written here because no maintained crate implements IMAP threading.

use crate::reply::Reply;
use crate::session::Session;
use crate::sort::SortRecord;
use eider_imap_proto::{SearchKey, ThreadAlgorithm};
use std::collections::HashMap;

/// A thread tree node: a message (index into the records) or a dummy standing for a missing one.
struct Node {
    msg: Option<usize>,
    parent: Option<usize>,
    children: Vec<usize>,
}

struct Forest<'a> {
    records: &'a [SortRecord],
    nodes: Vec<Node>,
}

impl<'a> Forest<'a> {
    fn add(&mut self, msg: Option<usize>) -> usize {
        self.nodes.push(Node {
            msg,
            parent: None,
            children: Vec::new(),
        });
        self.nodes.len() - 1
    }

    /// Is `a` equal to `b` or one of its descendants?
    fn is_under(&self, mut a: usize, b: usize) -> bool {
        loop {
            if a == b {
                return true;
            }
            match self.nodes[a].parent {
                Some(p) => a = p,
                None => return false,
            }
        }
    }

    fn unlink(&mut self, child: usize) {
        if let Some(p) = self.nodes[child].parent.take() {
            self.nodes[p].children.retain(|&c| c != child);
        }
    }

    fn link(&mut self, parent: usize, child: usize) {
        self.nodes[child].parent = Some(parent);
        self.nodes[parent].children.push(child);
    }

    /// The message that stands for a node: itself, or a dummy's first child.
    fn representative(&self, n: usize) -> Option<&'a SortRecord> {
        let records = self.records;
        match self.nodes[n].msg {
            Some(m) => Some(&records[m]),
            None => self.nodes[n]
                .children
                .first()
                .and_then(|&c| self.representative(c)),
        }
    }

    fn sort_key(&self, n: usize) -> (i64, u32) {
        self.representative(n)
            .map(|r| (r.date, r.seq))
            .unwrap_or((i64::MAX, u32::MAX))
    }

    /// Sorts every set of siblings by sent date, children before parents (RFC 5256 step 7).
    fn sort_siblings(&mut self, list: &mut [usize]) {
        for &n in list.iter() {
            let mut children = std::mem::take(&mut self.nodes[n].children);
            self.sort_siblings(&mut children);
            self.nodes[n].children = children;
        }
        list.sort_by_key(|&n| self.sort_key(n));
    }

    /// Drops childless dummies and promotes a dummy's children, except for a root-level dummy
    /// with several children (RFC 5256 step 4).
    fn prune(&mut self, list: Vec<usize>, at_root: bool) -> Vec<usize> {
        let mut out = Vec::new();
        for n in list {
            let children = std::mem::take(&mut self.nodes[n].children);
            let children = self.prune(children, false);
            if self.nodes[n].msg.is_some() || (at_root && children.len() > 1) {
                for &c in &children {
                    self.nodes[c].parent = Some(n);
                }
                self.nodes[n].children = children;
                out.push(n);
            } else {
                let parent = self.nodes[n].parent;
                for &c in &children {
                    self.nodes[c].parent = parent;
                }
                out.extend(children);
            }
        }
        out
    }

    fn render(&self, n: usize, by_uid: bool, out: &mut String) {
        let node = &self.nodes[n];
        if let Some(m) = node.msg {
            let r = &self.records[m];
            out.push_str(&(if by_uid { r.uid } else { r.seq }).to_string());
            match node.children.as_slice() {
                [] => {}
                [only] => {
                    out.push(' ');
                    self.render(*only, by_uid, out);
                }
                many => {
                    out.push(' ');
                    for &c in many {
                        out.push('(');
                        self.render(c, by_uid, out);
                        out.push(')');
                    }
                }
            }
        } else {
            for &c in &node.children {
                out.push('(');
                self.render(c, by_uid, out);
                out.push(')');
            }
        }
    }
}

/// REFERENCES threading; returns the forest and its sorted root set.
fn references(records: &[SortRecord]) -> (Forest<'_>, Vec<usize>) {
    let mut f = Forest {
        records,
        nodes: Vec::new(),
    };
    let mut by_id: HashMap<&str, usize> = HashMap::new();
    // Step 1: link messages by their references.
    for (i, r) in records.iter().enumerate() {
        let own = match r.message_id.as_deref() {
            Some(id) => match by_id.get(id) {
                Some(&n) if f.nodes[n].msg.is_none() => {
                    f.nodes[n].msg = Some(i);
                    n
                }
                // A duplicate id: only the first message keeps it.
                Some(_) => f.add(Some(i)),
                None => {
                    let n = f.add(Some(i));
                    by_id.insert(id, n);
                    n
                }
            },
            None => f.add(Some(i)),
        };
        let mut refs = Vec::with_capacity(r.references.len());
        for id in &r.references {
            let n = match by_id.get(id.as_str()) {
                Some(&n) => n,
                None => {
                    let n = f.add(None);
                    by_id.insert(id, n);
                    n
                }
            };
            refs.push(n);
        }
        for pair in refs.windows(2) {
            let (parent, child) = (pair[0], pair[1]);
            if f.nodes[child].parent.is_none() && !f.is_under(parent, child) {
                f.link(parent, child);
            }
        }
        f.unlink(own);
        if let Some(&last) = refs.last()
            && !f.is_under(last, own)
        {
            f.link(last, own);
        }
    }
    // Steps 2-4: the root set, pruned.
    let roots: Vec<usize> = (0..f.nodes.len())
        .filter(|&n| f.nodes[n].parent.is_none())
        .collect();
    let mut roots = f.prune(roots, true);
    // Step 5: sort (a dummy sorts by its first child).
    f.sort_siblings(&mut roots);
    // Step 6: gather root-level threads with the same base subject.
    let subject_of = |f: &Forest, n: usize| {
        f.representative(n)
            .map(|r| (r.subject.clone(), r.subject_is_reply))
            .unwrap_or_default()
    };
    let mut table: HashMap<String, usize> = HashMap::new();
    for &n in &roots {
        let (subject, reply) = subject_of(&f, n);
        if subject.is_empty() {
            continue;
        }
        match table.get(&subject) {
            None => {
                table.insert(subject, n);
            }
            Some(&old) => {
                let old_dummy = f.nodes[old].msg.is_none();
                let new_dummy = f.nodes[n].msg.is_none();
                let old_reply = subject_of(&f, old).1;
                if !old_dummy && (new_dummy || (old_reply && !reply)) {
                    table.insert(subject, n);
                }
            }
        }
    }
    let mut removed = vec![false; f.nodes.len()];
    let mut replaced: HashMap<usize, usize> = HashMap::new();
    for &n in &roots.clone() {
        let (subject, reply) = subject_of(&f, n);
        if subject.is_empty() || removed[n] {
            continue;
        }
        let Some(&t) = table.get(&subject) else {
            continue;
        };
        if t == n {
            continue;
        }
        let (t_dummy, n_dummy) = (f.nodes[t].msg.is_none(), f.nodes[n].msg.is_none());
        let t_reply = subject_of(&f, t).1;
        if t_dummy && n_dummy {
            for c in std::mem::take(&mut f.nodes[n].children) {
                f.nodes[c].parent = None;
                f.link(t, c);
            }
            removed[n] = true;
        } else if t_dummy {
            f.link(t, n);
            removed[n] = true;
        } else if n_dummy {
            f.link(n, t);
            removed[t] = true;
            table.insert(subject, n);
        } else if !t_reply && reply {
            f.link(t, n);
            removed[n] = true;
        } else if t_reply && !reply {
            f.link(n, t);
            removed[t] = true;
            table.insert(subject, n);
        } else {
            let d = f.add(None);
            removed.push(false);
            f.link(d, t);
            f.link(d, n);
            removed[n] = true;
            replaced.insert(t, d);
            table.insert(subject, d);
        }
    }
    let mut roots: Vec<usize> = roots
        .into_iter()
        .filter_map(|n| {
            let mut n = n;
            while let Some(&d) = replaced.get(&n) {
                n = d;
            }
            (!removed[n]).then_some(n)
        })
        .collect();
    roots.dedup();
    // Step 7: sort all siblings.
    f.sort_siblings(&mut roots);
    (f, roots)
}

/// ORDEREDSUBJECT: threads of equal base subject, each a first message with the rest as its
/// children, ordered by sent date.
fn ordered_subject(records: &[SortRecord]) -> (Forest<'_>, Vec<usize>) {
    let mut order: Vec<usize> = (0..records.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&records[a], &records[b]);
        (&a.subject, a.date, a.seq).cmp(&(&b.subject, b.date, b.seq))
    });
    let mut f = Forest {
        records,
        nodes: Vec::new(),
    };
    let mut roots = Vec::new();
    let mut current: Option<(usize, &str)> = None;
    for i in order {
        let n = f.add(Some(i));
        match current {
            Some((root, subject)) if subject == records[i].subject => f.link(root, n),
            _ => {
                roots.push(n);
                current = Some((n, &records[i].subject));
            }
        }
    }
    roots.sort_by_key(|&n| f.sort_key(n));
    (f, roots)
}

/// The `* THREAD` line for `records` (in mailbox order).
pub(crate) fn thread_line(
    algorithm: ThreadAlgorithm,
    records: &[SortRecord],
    by_uid: bool,
) -> String {
    let (forest, roots) = match algorithm {
        ThreadAlgorithm::References => references(records),
        ThreadAlgorithm::OrderedSubject => ordered_subject(records),
    };
    let mut line = String::from("* THREAD ");
    for n in roots {
        line.push('(');
        forest.render(n, by_uid, &mut line);
        line.push(')');
    }
    if line.ends_with(' ') {
        line.pop();
    }
    line.push_str("\r\n");
    line
}

impl Session {
    pub(crate) async fn thread(
        &mut self,
        algorithm: ThreadAlgorithm,
        criteria: SearchKey,
        by_uid: bool,
    ) -> Result<Reply, Reply> {
        let records = self.sort_records(&criteria).await?;
        let line = thread_line(algorithm, &records, by_uid);
        self.conn.write_str(&line);
        Ok(Reply::ok("Thread completed."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(seq: u32, date: i64, subject: &str, id: &str, refs: &[&str]) -> SortRecord {
        let (subject, subject_is_reply) = crate::subject::base_subject(subject);
        SortRecord {
            seq,
            uid: seq + 100,
            arrival: date,
            size: 0,
            date,
            subject,
            subject_is_reply,
            from: String::new(),
            to: String::new(),
            cc: String::new(),
            display_from: String::new(),
            display_to: String::new(),
            message_id: (!id.is_empty()).then(|| id.to_string()),
            references: refs.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn references_threads() {
        // 1 root; 2 replies to 1; 3 replies to 2; 4 replies to 1; 5 unrelated;
        // 6 replies to a missing message 99 (a dummy that is pruned away);
        // 7 has the same subject as 5 but no references (merged under 5 as a reply).
        let records = vec![
            rec(1, 10, "hello", "a", &[]),
            rec(2, 20, "Re: hello", "b", &["a"]),
            rec(3, 30, "Re: hello", "c", &["a", "b"]),
            rec(4, 25, "Re: hello", "d", &["a"]),
            rec(5, 5, "other", "e", &[]),
            rec(6, 40, "lost", "f", &["zz"]),
            rec(7, 50, "Re: other", "g", &[]),
        ];
        assert_eq!(
            thread_line(ThreadAlgorithm::References, &records, false),
            "* THREAD (5 7)(1 (2 3)(4))(6)\r\n"
        );
        assert_eq!(
            thread_line(ThreadAlgorithm::References, &records, true),
            "* THREAD (105 107)(101 (102 103)(104))(106)\r\n"
        );
    }

    #[test]
    fn references_siblings_under_a_missing_parent() {
        // Two replies to the same missing message: a root dummy with two children.
        let records = vec![rec(1, 10, "x", "a", &["m"]), rec(2, 5, "y", "b", &["m"])];
        assert_eq!(
            thread_line(ThreadAlgorithm::References, &records, false),
            "* THREAD ((2)(1))\r\n"
        );
    }

    #[test]
    fn ordered_subject_threads() {
        let records = vec![
            rec(1, 30, "b", "", &[]),
            rec(2, 10, "a", "", &[]),
            rec(3, 20, "Re: a", "", &[]),
            rec(4, 15, "Fwd: a", "", &[]),
            rec(5, 40, "Re: b", "", &[]),
            rec(6, 5, "c", "", &[]),
        ];
        assert_eq!(
            thread_line(ThreadAlgorithm::OrderedSubject, &records, false),
            "* THREAD (6)(2 (4)(3))(1 5)\r\n"
        );
        assert_eq!(
            thread_line(ThreadAlgorithm::OrderedSubject, &[], false),
            "* THREAD\r\n"
        );
    }
}
