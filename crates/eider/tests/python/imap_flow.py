"""Drives Eider with Python's imaplib, an independent IMAP client, and checks every answer.

usage: imap_flow.py PORT USER PASSWORD
"""
import imaplib
import re
import sys

port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]


def ok(result):
    typ, data = result
    assert typ == "OK", (typ, data)
    return data


m = imaplib.IMAP4("127.0.0.1", port)
assert "IMAP4REV1" in m.capabilities and "STARTTLS" in m.capabilities, m.capabilities
ok(m.login(user, password))
caps = ok(m.capability())[0].split()
for cap in [b"IDLE", b"UIDPLUS", b"MOVE", b"UNSELECT", b"NAMESPACE", b"SPECIAL-USE", b"CHILDREN", b"ID", b"ENABLE", b"LITERAL+"]:
    assert cap in caps, caps

# Default mailboxes with special-use attributes.
listing = b"\n".join(ok(m.list()))
for line in [rb'(\HasNoChildren) "/" "INBOX"', rb'(\HasNoChildren \Drafts) "/" "Drafts"',
             rb'(\HasNoChildren \Sent) "/" "Sent Mail"', rb'(\HasNoChildren \Junk) "/" "Junk"',
             rb'(\HasNoChildren \Trash) "/" "Trash"']:
    assert line in listing, (line, listing)

# APPEND with flags and a date; bare LF becomes CRLF.
msg1 = b"From: Bob <bob@example.com>\nTo: alice@example.com\nSubject: first\nDate: Mon, 7 Feb 1994 21:52:25 -0800\n\nHello Alice\n"
msg2 = (b"From: Carol <carol@example.org>\r\nTo: alice@example.com\r\nSubject: =?utf-8?q?gr=C3=BC=C3=9Fe?=\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n"
        b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nK\xc3\xa4se und Brot\r\n"
        b"--b1\r\nContent-Type: application/pdf; name=x.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b1--\r\n")
data = ok(m.append("INBOX", r"(\Flagged $Important)", imaplib.Time2Internaldate(760690345), msg1))
assert re.match(rb"\[APPENDUID \d+ 1\]", data[0]), data
data = ok(m.append("INBOX", None, None, msg2))
assert re.match(rb"\[APPENDUID \d+ 2\]", data[0]), data

typ, data = m.select("INBOX")
assert typ == "OK" and data == [b"2"], (typ, data)
assert m.untagged_responses.pop("RECENT") == [b"2"]
assert ok(m.search(None, "RECENT")) == [b"1 2"] and ok(m.search(None, "OLD")) == [b""]

data = ok(m.fetch("1", "(FLAGS INTERNALDATE RFC822.SIZE)"))
expected = b'1 (FLAGS (\\Flagged \\Recent $Important) INTERNALDATE "08-Feb-1994 06:52:25 +0000" RFC822.SIZE %d)' % len(msg1.replace(b"\n", b"\r\n"))
assert data[0] == expected, (data, expected)

data = ok(m.fetch("1", "(BODY.PEEK[])"))
assert data[0][1] == msg1.replace(b"\n", b"\r\n"), data
data = ok(m.fetch("1", "(FLAGS)"))
assert b"\\Seen" not in data[0], "BODY.PEEK must not set \\Seen"

data = ok(m.fetch("2", "(BODY[1] BODY[2.MIME] BODY[HEADER.FIELDS (SUBJECT)])"))
values = [d[1] for d in data if isinstance(d, tuple)]
assert values[0] == "Käse und Brot".encode(), values
assert values[1] == b"Content-Type: application/pdf; name=x.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n", values
assert values[2] == b"Subject: =?utf-8?q?gr=C3=BC=C3=9Fe?=\r\n\r\n", values
data = ok(m.fetch("2", "(FLAGS)"))
assert b"\\Seen" in data[0], "BODY[] sets \\Seen"

data = ok(m.fetch("1:2", "(ENVELOPE)"))
assert data[0].startswith(b'1 (ENVELOPE ("Mon, 7 Feb 1994 21:52:25 -0800" "first" (("Bob" NIL "bob" "example.com"))'), data
data = ok(m.fetch("2", "(BODYSTRUCTURE)"))
assert b'("application" "pdf" ("name" "x.pdf") NIL NIL "base64" 12 NIL NIL NIL NIL) "mixed" ("boundary" "b1")' in data[0], data

# SEARCH, every kind of key the clients use.
assert ok(m.search(None, "ALL")) == [b"1 2"]
assert ok(m.search(None, "FLAGGED")) == [b"1"]
assert ok(m.search(None, "UNSEEN")) == [b"1"]
assert ok(m.search(None, "KEYWORD", "$Important")) == [b"1"]
assert ok(m.search(None, "FROM", "carol")) == [b"2"]
assert ok(m.search(None, "SUBJECT", "first")) == [b"1"]
assert ok(m.search(None, "BODY", "alice")) == [b"1"]
assert ok(m.search(None, "HEADER", "Content-Type", "multipart")) == [b"2"]
assert ok(m.search(None, "LARGER", "200")) == [b"2"]
assert ok(m.search(None, "SENTBEFORE", "1-Jan-2000")) == [b"1"]
assert ok(m.search(None, "OR", "FLAGGED", "SEEN")) == [b"1 2"]
assert ok(m.search(None, "NOT", "FLAGGED")) == [b"2"]
assert ok(m.uid("SEARCH", None, "UID", "2:*")) == [b"2"]
m.literal = "Käse".encode()
assert ok(m.search("UTF-8", "BODY")) == [b"2"]

# STORE forms.
data = ok(m.store("1", "+FLAGS", r"(\Seen)"))
assert data == [b"1 (FLAGS (\\Flagged \\Seen \\Recent $Important))"], data
data = ok(m.store("1", "-FLAGS.SILENT", r"($Important)"))
assert data == [None], data
data = ok(m.uid("STORE", "2", "FLAGS", r"(\Answered)"))
assert data == [b"2 (UID 2 FLAGS (\\Answered \\Recent))"], data

# COPY / MOVE with UIDPLUS answers.
typ, data = m.copy("1:2", "Trash")
assert typ == "OK" and re.match(rb"\[COPYUID \d+ 1:2 1:2\]", data[0]), data
typ, data = m.copy("1", "Nowhere")
assert typ == "NO" and data[0].startswith(b"[TRYCREATE]"), data
typ, data = m.uid("MOVE", "2", "Junk")
assert typ == "OK", (typ, data)
assert m.untagged_responses.pop("EXPUNGE") == [b"2"]
assert re.match(rb"\[COPYUID \d+ 2 1\]", m.untagged_responses.pop("OK")[-1])
assert ok(m.search(None, "ALL")) == [b"1"]

# EXPUNGE.
ok(m.store("1", "+FLAGS.SILENT", r"(\Deleted)"))
typ, data = m.expunge()
assert typ == "OK" and data == [b"1"], data
assert ok(m.search(None, "ALL")) == [b""], "empty SEARCH"

# Mailbox management, hierarchy, non-ASCII names (modified UTF-7 on the wire).
ok(m.create("Projects/2026"))
ok(m.create("&AMQ-rger"))
listing = b"\n".join(ok(m.list('""', "*")))
assert rb'(\HasChildren) "/" "Projects"' in listing, listing
assert rb'(\HasNoChildren) "/" "Projects/2026"' in listing, listing
assert rb'"&AMQ-rger"' in listing, listing
ok(m.rename("Projects", "Archive"))
listing = b"\n".join(ok(m.list('""', "Archive/*")))
assert listing == rb'(\HasNoChildren) "/" "Archive/2026"', listing
typ, data = m.delete("Archive")
assert typ == "NO", (typ, data)
ok(m.delete("Archive/2026"))
ok(m.delete("Archive"))
typ, data = m.create("INBOX")
assert typ == "NO" and b"ALREADYEXISTS" in data[0], data
typ, data = m.delete("INBOX")
assert typ == "NO", data

st = ok(m.status("Trash", "(MESSAGES UNSEEN UIDNEXT)"))
assert st == [b'"Trash" (MESSAGES 2 UNSEEN 1 UIDNEXT 3)'], st

# Subscriptions.
ok(m.unsubscribe("Junk"))
lsub = b"\n".join(ok(m.lsub()))
assert b'"Junk"' not in lsub and b'"INBOX"' in lsub, lsub

# Rename INBOX moves its messages and leaves INBOX empty.
ok(m.append("INBOX", None, None, b"Subject: x\r\n\r\nbody\r\n"))
ok(m.rename("INBOX", '"Old Inbox"'))
assert ok(m.status("INBOX", "(MESSAGES)")) == [b'"INBOX" (MESSAGES 0)']
assert ok(m.status('"Old Inbox"', "(MESSAGES)")) == [b'"Old Inbox" (MESSAGES 1)']

# Found through quoted-printable ISO-8859-1 too, and in a decoded subject with TEXT.
ok(m.append("Drafts", None, None, b"Subject: =?iso-8859-1?q?gr=FC=DFe?=\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\nK=E4sekuchen\r\n"))
ok(m.select("Drafts"))
m.literal = "käsekuchen".encode()
found = ok(m.search("UTF-8", "BODY"))
assert found == [b"1"], found
m.literal = "GRÜSSE".lower().replace("ss", "ß").encode()
assert ok(m.search("UTF-8", "TEXT")) == [b"1"]
ok(m.noop())
typ, data = m.logout()
assert typ == "BYE", (typ, data)
print("imap_flow OK")
