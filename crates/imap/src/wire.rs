//! UNAUTHENTICATE (RFC 8437), COMPRESS=DEFLATE (RFC 4978), QUOTA (RFC 9208) and XLIST.

use crate::mailboxes::pattern_matches;
use crate::reply::{Reply, from_engine};
use crate::session::{Flow, Session};
use eider_engine::INBOX;
use eider_imap_proto::{CommandBody, quoted_or_literal};
use std::io;

/// The one quota root: all of a user's mailboxes share the account quota.
const QUOTA_ROOT: &str = "";

impl Session {
    /// Capabilities of this module's extensions, advertised after login.
    pub(crate) fn wire_capabilities(&self) -> String {
        format!(
            "BINARY MULTIAPPEND CATENATE UNAUTHENTICATE QUOTA QUOTA=RES-STORAGE UTF8=ACCEPT \
             COMPRESS=DEFLATE CREATE-SPECIAL-USE XLIST APPENDLIMIT={}",
            self.config.max_message_size
        )
    }

    pub(crate) async fn handle_wire(&mut self, body: CommandBody) -> Result<Reply, Reply> {
        match body {
            CommandBody::Unauthenticate => {
                // RFC 8437: back to the not-authenticated state; TLS and COMPRESS stay.
                self.selected = None;
                self.user = None;
                self.user_slot = None;
                self.utf8 = false;
                self.condstore = false;
                self.rev2 = false;
                self.saved_search.clear();
                Ok(Reply::ok("UNAUTHENTICATE completed."))
            }
            CommandBody::GetQuotaRoot(mailbox) => {
                let user = self.user_id();
                let name = self.decode_name(&mailbox)?;
                let row = self
                    .engine
                    .find_mailbox(&user, &name)
                    .await
                    .map_err(from_engine)?;
                let mut line = b"* QUOTAROOT ".to_vec();
                quoted_or_literal(&mut line, self.encode_name(&row.path).as_bytes());
                line.extend_from_slice(b" \"\"\r\n");
                self.conn.write(&line);
                self.write_quota().await?;
                Ok(Reply::ok("Getquotaroot completed."))
            }
            CommandBody::GetQuota(root) => {
                if root != QUOTA_ROOT {
                    return Err(Reply::no("No such quota root.").code("NONEXISTENT"));
                }
                self.write_quota().await?;
                Ok(Reply::ok("Getquota completed."))
            }
            CommandBody::SetQuota(_) => {
                Err(Reply::no("Quotas are set by the administrator.").code("NOPERM"))
            }
            CommandBody::Xlist { reference, pattern } => self.xlist(&reference, &pattern).await,
            _ => Err(Reply::bad("Unexpected command.")),
        }
    }

    /// `* QUOTA "" (STORAGE used limit)` in KiB (RFC 9208 §5.1); `()` when unlimited.
    async fn write_quota(&mut self) -> Result<(), Reply> {
        let user = self
            .engine
            .get_user(&self.user_id())
            .await
            .map_err(from_engine)?;
        let resources = if user.quota > 0 {
            let used = (user.storage_used.max(0) as u64).div_ceil(1024);
            let limit = user.quota as u64 / 1024;
            format!("STORAGE {used} {limit}")
        } else {
            String::new()
        };
        self.conn
            .write_str(&format!("* QUOTA \"{QUOTA_ROOT}\" ({resources})\r\n"));
        Ok(())
    }

    /// COMPRESS DEFLATE: answer OK uncompressed, then compress both directions.
    pub(crate) async fn compress(&mut self, tag: &str, mechanism: &str) -> io::Result<Flow> {
        if self.conn.compressed {
            self.conn.write_str(&format!(
                "{tag} NO [COMPRESSIONACTIVE] Compression is already active.\r\n"
            ));
        } else if mechanism != "DEFLATE" {
            self.conn
                .write_str(&format!("{tag} BAD Unsupported compression mechanism.\r\n"));
        } else {
            self.conn
                .write_str(&format!("{tag} OK DEFLATE active.\r\n"));
            self.conn.flush().await?;
            self.conn.start_deflate();
        }
        Ok(Flow::Continue)
    }

    /// XLIST (old Gmail clients): LIST with special-use attributes, plus `\Inbox` on INBOX.
    async fn xlist(&mut self, reference: &str, pattern: &str) -> Result<Reply, Reply> {
        let user = self.user_id();
        if pattern.is_empty() {
            self.conn.write_str("* XLIST (\\Noselect) \"/\" \"\"\r\n");
            return Ok(Reply::ok("XLIST completed."));
        }
        let reference = self
            .decode_name(reference)
            .unwrap_or_else(|_| reference.to_string());
        let pattern = self
            .decode_name(pattern)
            .unwrap_or_else(|_| pattern.to_string());
        let matcher = format!("{reference}{pattern}");
        let mailboxes = self
            .engine
            .list_mailboxes(&user)
            .await
            .map_err(from_engine)?;
        for mailbox in &mailboxes {
            if !pattern_matches(&matcher, &mailbox.path) {
                continue;
            }
            let prefix = format!("{}/", mailbox.path);
            let mut attrs = vec![if mailboxes.iter().any(|m| m.path.starts_with(&prefix)) {
                "\\HasChildren"
            } else {
                "\\HasNoChildren"
            }];
            if mailbox.path == INBOX {
                attrs.push("\\Inbox");
            }
            if let Some(s) = &mailbox.special_use {
                attrs.push(s);
            }
            let mut line = format!("* XLIST ({}) \"/\" ", attrs.join(" ")).into_bytes();
            quoted_or_literal(&mut line, self.encode_name(&mailbox.path).as_bytes());
            line.extend_from_slice(b"\r\n");
            self.conn.write(&line);
        }
        Ok(Reply::ok("XLIST completed."))
    }
}
