//! Change notifications: "user X's mailbox Y changed up to MODSEQ N".
//!
//! A notification is only a doorbell: the journal in the store is the truth, so a lost or late
//! notification delays an update but never loses it. Every notifier delivers to listeners in this
//! process at once; with Redis it also publishes to a channel that every instance subscribes to and
//! re-broadcasts locally (see `shared_redis`).

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// Empty in [`Notification::everything`].
    pub user_id: String,
    pub mailbox_id: String,
    pub modseq: u64,
}

impl Notification {
    /// "Anything may have changed": sent after the link to other instances was down, when changes
    /// made elsewhere may have gone unannounced. Every listener re-reads the journal.
    pub fn everything() -> Notification {
        Notification {
            user_id: String::new(),
            mailbox_id: String::new(),
            modseq: 0,
        }
    }

    /// Whether a listener for this user's mailbox must look at the journal.
    pub fn concerns(&self, user_id: &str, mailbox_id: &str) -> bool {
        self.user_id.is_empty() || (self.user_id == user_id && self.mailbox_id == mailbox_id)
    }

    /// Whether a listener for any of this user's mailboxes must look at the journal.
    pub fn concerns_user(&self, user_id: &str) -> bool {
        self.user_id.is_empty() || self.user_id == user_id
    }
}

#[derive(Clone)]
pub struct Notifier {
    sender: broadcast::Sender<Notification>,
    /// To the Redis publisher task, when clustered.
    outbound: Option<mpsc::Sender<Notification>>,
}

impl Notifier {
    /// An in-process notifier (the single-node default).
    pub fn local() -> Notifier {
        let (sender, _) = broadcast::channel(4096);
        Notifier {
            sender,
            outbound: None,
        }
    }

    /// A notifier that also forwards every publication to `outbound` (the cluster publisher).
    pub(crate) fn forwarding(outbound: mpsc::Sender<Notification>) -> Notifier {
        Notifier {
            outbound: Some(outbound),
            ..Notifier::local()
        }
    }

    pub fn publish(&self, n: Notification) {
        if let Some(outbound) = &self.outbound {
            // A full queue means Redis is slow or away: dropping only delays other instances,
            // which re-read the journal on their safety poll and after reconnecting.
            if outbound.try_send(n.clone()).is_err() {
                tracing::debug!("cluster notification queue full; dropped one");
            }
        }
        self.deliver_locally(n);
    }

    /// Hands a notification to this process's listeners only.
    pub(crate) fn deliver_locally(&self, n: Notification) {
        // No receivers is fine: nobody is listening.
        let _ = self.sender.send(n);
    }

    /// A receiver of every notification from now on. A receiver that lags gets `Lagged` and must
    /// re-read the journal, which it does anyway.
    pub fn subscribe(&self) -> broadcast::Receiver<Notification> {
        self.sender.subscribe()
    }
}
