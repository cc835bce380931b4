//! Parsing of QRESYNC select parameters, SORT (with ESORT return options) and THREAD.

use super::{PResult, Parser, truncate};
use crate::command::CommandBody;
use crate::ext_types::*;
use crate::types::{SearchKey, SearchReturnOpt};

impl Parser {
    /// `QRESYNC (uidvalidity modseq [SP known-uids] [SP seq-match-data])` after the `QRESYNC`
    /// atom has been read.
    pub(super) fn qresync_params(&mut self) -> PResult<QresyncParams> {
        self.sp("QRESYNC parameters")?;
        self.expect(b'(', "'(' before QRESYNC parameters")?;
        let uid_validity = self.nz_number("UIDVALIDITY")?;
        self.sp("mod-sequence")?;
        let modseq = self.modseq("mod-sequence")?;
        let mut known_uids = None;
        let mut seq_match = None;
        if self.eat(b' ') {
            if self.peek() != Some(b'(') {
                known_uids = Some(self.sequence_set()?);
                if self.eat(b' ') {
                    seq_match = Some(self.seq_match()?);
                }
            } else {
                seq_match = Some(self.seq_match()?);
            }
        }
        self.expect(b')', "')' after QRESYNC parameters")?;
        Ok(QresyncParams {
            uid_validity,
            modseq,
            known_uids,
            seq_match,
        })
    }

    fn seq_match(&mut self) -> PResult<(crate::SequenceSet, crate::SequenceSet)> {
        self.expect(b'(', "'(' before sequence match data")?;
        let seqs = self.sequence_set()?;
        self.sp("known UIDs")?;
        let uids = self.sequence_set()?;
        self.expect(b')', "')' after sequence match data")?;
        Ok((seqs, uids))
    }

    /// `SORT [RETURN (opts)] (keys) charset search-key...`.
    pub(super) fn sort(&mut self, uid: bool) -> PResult<CommandBody> {
        self.sp("sort criteria")?;
        let mut return_opts = None;
        if self.keyword_is("RETURN") {
            self.pos += 6;
            self.sp("sort return options")?;
            return_opts = Some(self.search_return_opts()?);
            self.sp("sort criteria")?;
        }
        self.expect(b'(', "'(' before sort criteria")?;
        let mut keys = Vec::new();
        loop {
            let mut word = self.atom_upper("sort criterion")?;
            let reverse = word == "REVERSE";
            if reverse {
                self.sp("sort criterion")?;
                word = self.atom_upper("sort criterion")?;
            }
            use SortCriterion as S;
            let criterion = match word.as_str() {
                "ARRIVAL" => S::Arrival,
                "CC" => S::Cc,
                "DATE" => S::Date,
                "FROM" => S::From,
                "SIZE" => S::Size,
                "SUBJECT" => S::Subject,
                "TO" => S::To,
                "DISPLAYFROM" => S::DisplayFrom,
                "DISPLAYTO" => S::DisplayTo,
                _ => return Err(self.err(format!("Unknown sort criterion {}", truncate(&word)))),
            };
            keys.push(SortKey { reverse, criterion });
            if self.eat(b')') {
                break;
            }
            self.sp("sort criterion")?;
        }
        self.sp("charset")?;
        let charset = self.sort_charset()?;
        let criteria = self.search_keys()?;
        Ok(CommandBody::Sort {
            keys,
            charset,
            criteria,
            uid,
            return_opts,
        })
    }

    /// `THREAD algorithm charset search-key...`.
    pub(super) fn thread(&mut self, uid: bool) -> PResult<CommandBody> {
        self.sp("threading algorithm")?;
        let name = self.atom_upper("threading algorithm")?;
        let algorithm = match name.as_str() {
            "ORDEREDSUBJECT" => ThreadAlgorithm::OrderedSubject,
            "REFERENCES" => ThreadAlgorithm::References,
            _ => {
                return Err(self.err(format!("Unknown threading algorithm {}", truncate(&name))));
            }
        };
        self.sp("charset")?;
        let charset = self.sort_charset()?;
        let criteria = self.search_keys()?;
        Ok(CommandBody::Thread {
            algorithm,
            charset,
            criteria,
            uid,
        })
    }

    fn sort_charset(&mut self) -> PResult<String> {
        self.search_charset_name()
    }

    /// `SP search-key *(SP search-key)`, as one key.
    fn search_keys(&mut self) -> PResult<SearchKey> {
        self.sp("search criteria")?;
        let mut keys = vec![self.search_key(0)?];
        while !self.at_end() {
            self.sp("search key")?;
            keys.push(self.search_key(0)?);
        }
        Ok(if keys.len() == 1 {
            keys.pop().unwrap_or(SearchKey::All)
        } else {
            SearchKey::And(keys)
        })
    }

    /// `(opt *(SP opt))` of SEARCH/SORT RETURN; `()` is an empty list.
    pub(super) fn search_return_opts(&mut self) -> PResult<Vec<SearchReturnOpt>> {
        self.expect(b'(', "'(' before return options")?;
        let mut opts = Vec::new();
        if self.eat(b')') {
            return Ok(opts);
        }
        loop {
            let o = self.atom_upper("return option")?;
            opts.push(match o.as_str() {
                "MIN" => SearchReturnOpt::Min,
                "MAX" => SearchReturnOpt::Max,
                "ALL" => SearchReturnOpt::All,
                "COUNT" => SearchReturnOpt::Count,
                "SAVE" => SearchReturnOpt::Save,
                _ => return Err(self.err(format!("Unknown return option {}", truncate(&o)))),
            });
            if self.eat(b')') {
                return Ok(opts);
            }
            self.sp("return option")?;
        }
    }
}
