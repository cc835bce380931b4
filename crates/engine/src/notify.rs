//! Change notifications: "user X's mailbox Y changed up to MODSEQ N".
//!
//! A notification is only a doorbell: the journal in the store is the truth, so a lost or late
//! notification delays an update but never loses it. This in-process notifier serves the embedded
//! single-node default; a Redis-backed one fans out across instances.

use tokio::sync::broadcast;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub user_id: String,
    pub mailbox_id: String,
    pub modseq: u64,
}

#[derive(Clone)]
pub struct Notifier {
    sender: broadcast::Sender<Notification>,
}

impl Notifier {
    /// An in-process notifier.
    pub fn local() -> Notifier {
        let (sender, _) = broadcast::channel(4096);
        Notifier { sender }
    }

    pub fn publish(&self, n: Notification) {
        // No receivers is fine: nobody is listening.
        let _ = self.sender.send(n);
    }

    /// A receiver of every notification from now on. A receiver that lags gets `Lagged` and must
    /// re-read the journal, which it does anyway.
    pub fn subscribe(&self) -> broadcast::Receiver<Notification> {
        self.sender.subscribe()
    }
}
