-- API mail settings (WildDuck's mailbox `hidden`/`retention` and message `expires`).
-- hidden: 1 = not listed unless asked for. retention: milliseconds, 0 = keep forever.
-- expires: Unix seconds after which the message may be removed, 0 = never.
ALTER TABLE mailboxes ADD COLUMN hidden BIGINT NOT NULL DEFAULT 0;
ALTER TABLE mailboxes ADD COLUMN retention BIGINT NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN expires BIGINT NOT NULL DEFAULT 0;
