-- IMAP subscriptions are names, not mailbox attributes (RFC 3501 §6.3.6): a name may be
-- subscribed without a mailbox, and deleting a mailbox keeps its subscription.
-- mailboxes.subscribed is no longer read or written.
CREATE TABLE subscriptions (
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (user_id, name)
);
INSERT INTO subscriptions (user_id, name)
    SELECT user_id, path FROM mailboxes WHERE subscribed <> 0;
