#!/usr/bin/env python3
"""Shared helpers of the real-client tests (tests/imap_clients.rs): seed a mailbox, change it on the
server side, change a Maildir on the client side, and print both sides' state in one canonical JSON
form so the Rust test can compare them exactly.

usage:
  state.py seed PORT USER PASS MSG_DIR          APPEND every file of MSG_DIR to INBOX (sorted by
                                                name, some with flags); CREATE Archive
  state.py server PORT USER PASS                the server's state, over IMAP
  state.py messages CORPUS OUT_DIR COUNT [email-stable | fetchmail-stable | mutt-stable]
                                                COUNT corpus messages as files (corpus_mbox.py's
                                                selection, each with its own Message-ID);
                                                email-stable: only those Python's email package
                                                writes back byte for byte (see stable()),
                                                fetchmail-stable, mutt-stable: see those functions
  state.py server-by-mid PORT USER PASS MAILBOX...  the server's state keyed by Message-ID
  state.py mutt-copy ROOT                       the Maildirs mutt copied to, keyed by Message-ID
  state.py files DIR                            digests of the messages in DIR (one per file), sorted
  state.py server-change PORT USER PASS         changes made "elsewhere" on the server (see below)
  state.py maildir KIND ROOT                    a Maildir tree's state (KIND: mbsync | offlineimap)
  state.py maildir-change KIND ROOT             changes made in the client's Maildir (see below)

State: {"MAILBOX": {"UID": [[flags...], "sha256 of the message"]}}, mailboxes sorted, flags sorted,
\\Recent left out (it is per session). UIDs are the server's: a Maildir message is mapped to its
server UID through the client's own records (mbsync's .mbsyncstate, offlineimap's U= in the file
name). Messages are compared with CRLF turned into LF, since Maildir clients store LF line ends,
and without the X-TUID header mbsync adds to its copies (see digest()).

Change sets pick messages of INBOX by their position in UID order, so that the server side and the
client side never touch the same message (a conflict would make "identical" a matter of policy):
  server side: i % 10 == 1 gets \\Flagged, 2 loses or gains \\Seen, 3 moves to Archive,
               4 is expunged; and 3 new messages are appended
  client side: i % 10 == 5 gets \\Flagged, 6 gains or loses \\Seen (Maildir S), 7 moves to Archive,
               8 is deleted
"""
import hashlib
import imaplib
import json
import os
import re
import sys

MAILDIR_FLAGS = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen", "T": "\\Deleted"}
FLAG_LETTERS = {v: k for k, v in MAILDIR_FLAGS.items()}


def ok(result):
    typ, data = result
    assert typ == "OK", (typ, data)
    return data


def digest(data):
    data = data.replace(b"\r\n", b"\n")
    # mbsync writes an X-TUID header into the messages it propagates, to find them again (its
    # documented way of tracking copies); it is not part of the message.
    head, sep, body = data.partition(b"\n\n")
    head = re.sub(rb"(?m)^X-TUID: [^\n]*\n", b"", head + b"\n")[:-1]
    return hashlib.sha256(head + sep + body).hexdigest()


def connect(port, user, password):
    m = imaplib.IMAP4("127.0.0.1", int(port))
    ok(m.login(user, password))
    return m


def quote(name):
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def mailboxes(m):
    names = []
    for line in ok(m.list('""', "*")):
        match = re.match(rb'\(([^)]*)\) (?:"[^"]*"|NIL) (.*)$', line)
        assert match, line
        if b"\\Noselect" in match.group(1) or b"\\NonExistent" in match.group(1):
            continue
        name = match.group(2)
        if name.startswith(b'"'):
            name = name[1:-1].replace(b'\\"', b'"').replace(b"\\\\", b"\\")
        names.append(name.decode())
    return sorted(names)


def parse_fetch(data):
    """FETCH responses as {uid: {"flags": [...], "body": bytes}}; works whatever the item order."""
    out = {}
    parts = []
    for item in data:
        if isinstance(item, tuple):
            parts.append((item[0], item[1]))
        elif item not in (b")", None):
            parts.append((item, None))
    for head, literal in parts:
        uid = re.search(rb"UID (\d+)", head)
        if not uid:
            continue
        entry = out.setdefault(int(uid.group(1)), {})
        flags = re.search(rb"FLAGS \(([^)]*)\)", head)
        if flags:
            entry["flags"] = sorted(f for f in flags.group(1).decode().split() if f != "\\Recent")
        if literal is not None:
            entry["body"] = literal
    return out


def mailbox_state(m, name):
    ok(m.select(quote(name), readonly=True))
    typ, data = m.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")
    assert typ == "OK", data
    if data == [None]:
        return {}
    fetched = parse_fetch(data)
    return {str(uid): [e["flags"], digest(e["body"])] for uid, e in sorted(fetched.items())}


def server_state(port, user, password):
    m = connect(port, user, password)
    state = {name: mailbox_state(m, name) for name in mailboxes(m)}
    m.logout()
    return state


def stable(data):
    """offlineimap3 parses every message with Python's email package and writes it back out with
    this policy (offlineimap/folder/Base.py), locally and again when it uploads; that re-spaces some
    header fields and adds blank lines to some multipart epilogues. Its test uses only messages
    that come back unchanged, so that the bytes on both sides can be compared exactly."""
    from email import policy
    from email.parser import BytesParser

    p = policy.default.clone(cte_type="8bit", utf8=True, refold_source="none")
    lf = data.replace(b"\r\n", b"\n")
    try:
        return BytesParser(policy=p).parsebytes(lf).as_bytes(policy=p) == lf
    except Exception:
        return False


def fetchmail_stable(data):
    """fetchmail drops mbox "From " lines among the header fields and ends a message that lacks
    one with a newline before handing it to its MDA; its test uses only messages it passes on
    unchanged."""
    lf = data.replace(b"\r\n", b"\n")
    return lf.endswith(b"\n") and not re.search(rb"(?m)^From ", lf.partition(b"\n\n")[0])


def mutt_stable(data):
    """mutt takes Status/X-Status/X-Keywords/X-Label header fields for flags, drops mbox "From "
    lines and rewrites Content-Length and Lines when it copies a message; its test uses only
    messages without those fields, and leaves out the Content-Length and Lines fields mutt adds
    (mutt_copy())."""
    head = data.replace(b"\r\n", b"\n").partition(b"\n\n")[0]
    return not re.search(rb"(?mi)^(From |Content-Length:|Lines:|Status:|X-Status:|X-Keywords:|X-Label:)", head)


def strip_mutt_fields(data):
    head, sep, body = data.partition(b"\n\n")
    head = re.sub(rb"(?mi)^(Content-Length|Lines): [^\n]*\n", b"", head + b"\n")[:-1]
    return head + sep + body


def message_id(data):
    match = re.search(rb"(?mi)^Message-ID: (<[^>]*>)", data)
    assert match, data[:200]
    return match.group(1).decode()


def server_by_message_id(port, user, password, *names):
    """Like server_state, for the named mailboxes, keyed by Message-ID instead of UID."""
    m = connect(port, user, password)
    out = {}
    for name in names:
        ok(m.select(quote(name), readonly=True))
        typ, data = m.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")
        fetched = parse_fetch(data) if data != [None] else {}
        out[name] = {message_id(e["body"]): [e["flags"], digest(e["body"])] for e in fetched.values()}
    m.logout()
    return out


def mutt_copy_state(root):
    """The Maildirs mutt copied messages to, keyed by Message-ID (mutt's copies carry no UID)."""
    state = {}
    for name, folder in sorted(maildir_folders(root).items()):
        box = {}
        for _, fname, path in maildir_files(folder):
            with open(path, "rb") as f:
                data = strip_mutt_fields(f.read())
            assert message_id(data) not in box, path
            box[message_id(data)] = [file_flags(fname), digest(data)]
        state[name] = box
    return state


def messages(corpus, out_dir, count, only=None):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
    import corpus_mbox

    chosen = corpus_mbox.selection(corpus)
    if only == "email-stable":
        chosen = [m for m in chosen if stable(m)]
    elif only == "fetchmail-stable":
        chosen = [m for m in chosen if fetchmail_stable(m)]
    elif only == "mutt-stable":
        chosen = [m for m in chosen if mutt_stable(m)]
    os.makedirs(out_dir, exist_ok=True)
    for i in range(int(count)):
        data = chosen[i % len(chosen)]
        # A fresh Message-ID in front; the original one is renamed so the header stays single.
        data = re.sub(rb"(?im)^message-id:", b"X-Original-Message-ID:", data, count=1)
        data = b"Message-ID: <corpus-%d@clients.eider.test>\n" % i + data
        with open(os.path.join(out_dir, "%04d.eml" % i), "wb") as f:
            f.write(data.replace(b"\n", b"\r\n"))
    print(len(chosen))


def seed(port, user, password, msg_dir):
    """APPENDs over a plain socket, each command and its LITERAL+ literal in one write: imaplib
    sends a literal and its closing CRLF in two writes, which Nagle's algorithm and the peer's
    delayed ACK turn into a 40 ms wait per message."""
    import socket

    sock = socket.create_connection(("127.0.0.1", int(port)))
    reader = sock.makefile("rb")

    def command(tag, payload):
        sock.sendall(payload)
        while True:
            line = reader.readline()
            assert line, "connection closed"
            if line.startswith(tag.encode() + b" "):
                assert line.startswith(tag.encode() + b" OK"), line
                return

    assert reader.readline().startswith(b"* OK")
    command("l", b"l LOGIN %s %s\r\n" % (quote(user).encode(), quote(password).encode()))
    command("c", b"c CREATE Archive\r\n")
    files = sorted(os.listdir(msg_dir))
    for i, name in enumerate(files):
        with open(os.path.join(msg_dir, name), "rb") as f:
            data = f.read()
        flags = b"(\\Seen) " if i % 3 == 0 else b"(\\Answered \\Seen) " if i % 7 == 0 else b""
        command("a%d" % i, b"a%d APPEND INBOX %s{%d+}\r\n%s\r\n" % (i, flags, len(data), data))
    command("z", b"z LOGOUT\r\n")
    print(len(files))


def inbox_uids(m):
    ok(m.select("INBOX"))
    typ, data = m.uid("SEARCH", None, "ALL")
    assert typ == "OK", data
    return [int(u) for u in data[0].split()]


def server_change(port, user, password):
    m = connect(port, user, password)
    uids = inbox_uids(m)
    typ, data = m.uid("FETCH", "1:*", "(UID FLAGS)")
    flags = {uid: e["flags"] for uid, e in parse_fetch(data).items()}
    pick = lambda r: [u for i, u in enumerate(uids) if i % 10 == r]
    join = lambda us: ",".join(map(str, us))
    ok(m.uid("STORE", join(pick(1)), "+FLAGS.SILENT", "(\\Flagged)"))
    seen = [u for u in pick(2) if "\\Seen" in flags[u]]
    unseen = [u for u in pick(2) if "\\Seen" not in flags[u]]
    if seen:
        ok(m.uid("STORE", join(seen), "-FLAGS.SILENT", "(\\Seen)"))
    if unseen:
        ok(m.uid("STORE", join(unseen), "+FLAGS.SILENT", "(\\Seen)"))
    ok(m.uid("MOVE", join(pick(3)), "Archive"))
    ok(m.uid("STORE", join(pick(4)), "+FLAGS.SILENT", "(\\Deleted)"))
    ok(m.uid("EXPUNGE", join(pick(4))))
    for n in range(3):
        msg = (b"From: Server Side <server@example.org>\r\nTo: alice@example.com\r\n"
               b"Subject: arrived during the test %d\r\nMessage-ID: <late-%d@clients.eider.test>\r\n\r\n"
               b"Delivered while the client was away.\r\n" % (n, n))
        ok(m.append("INBOX", None, None, msg))
    m.logout()
    print(json.dumps({"flagged": len(pick(1)), "seen_toggled": len(pick(2)), "moved": len(pick(3)),
                      "expunged": len(pick(4)), "appended": 3}))


# --- Maildir side -------------------------------------------------------------------------------


def maildir_folders(root):
    """{mailbox name: folder path} for every Maildir (a folder with cur/ and new/) under root."""
    found = {}
    for dirpath, dirnames, _ in os.walk(root):
        if "cur" in dirnames and "new" in dirnames:
            rel = os.path.relpath(dirpath, root)
            found["INBOX" if rel in (".", "INBOX") else rel] = dirpath
    return found


def maildir_files(folder):
    for sub in ("cur", "new"):
        for name in os.listdir(os.path.join(folder, sub)):
            yield sub, name, os.path.join(folder, sub, name)


def file_flags(name):
    info = name.rsplit(":2,", 1)
    letters = info[1] if len(info) == 2 else ""
    return sorted(MAILDIR_FLAGS[c] for c in letters if c in MAILDIR_FLAGS)


def mbsync_map(folder):
    """mbsync's .mbsyncstate: {near (Maildir) UID: far (server) UID}."""
    path = os.path.join(folder, ".mbsyncstate")
    pairs = {}
    with open(path) as f:
        header = True
        for line in f:
            line = line.rstrip("\n")
            if header:
                if line == "":
                    header = False
                continue
            far, near, *_ = line.split(" ")
            if int(far) > 0 and int(near) > 0:
                pairs[int(near)] = int(far)
    return pairs


def maildir_state(kind, root):
    state = {}
    for name, folder in sorted(maildir_folders(root).items()):
        near_to_far = mbsync_map(folder) if kind == "mbsync" else None
        box = {}
        for _, fname, path in maildir_files(folder):
            uid = re.search(r",U=(\d+)", fname)
            assert uid, f"{path}: no UID in the file name, the client did not sync it"
            uid = int(uid.group(1))
            if near_to_far is not None:
                assert uid in near_to_far, f"{path}: near UID {uid} not in .mbsyncstate"
                uid = near_to_far[uid]
            with open(path, "rb") as f:
                data = f.read()
            assert str(uid) not in box, f"{path}: server UID {uid} twice"
            box[str(uid)] = [file_flags(fname), digest(data)]
        state[name] = dict(sorted(box.items(), key=lambda kv: int(kv[0])))
    return state


def maildir_change(kind, root):
    folders = maildir_folders(root)
    inbox, archive = folders["INBOX"], folders["Archive"]
    near_to_far = mbsync_map(inbox) if kind == "mbsync" else None
    entries = []
    for sub, fname, path in maildir_files(inbox):
        uid = int(re.search(r",U=(\d+)", fname).group(1))
        entries.append(((near_to_far or {}).get(uid, uid), sub, fname, path))
    entries.sort()
    counts = {"flagged": 0, "seen_toggled": 0, "moved": 0, "deleted": 0}
    for i, (_, sub, fname, path) in enumerate(entries):
        base, _, letters = fname.partition(":2,")
        if i % 10 == 5:
            letters = "".join(sorted(set(letters) | {"F"}))
            os.rename(path, os.path.join(inbox, "cur", base + ":2," + letters))
            counts["flagged"] += 1
        elif i % 10 == 6:
            letters = "".join(sorted(set(letters) ^ {"S"}))
            os.rename(path, os.path.join(inbox, "cur", base + ":2," + letters))
            counts["seen_toggled"] += 1
        elif i % 10 == 7:
            # A new file name without the UID, as a mail reader writes when it moves a message.
            new_base = re.sub(r",U=\d+|,FMD5=[0-9a-f]+", "", base) + ".moved"
            os.rename(path, os.path.join(archive, "cur", new_base + ":2," + letters))
            counts["moved"] += 1
        elif i % 10 == 8:
            os.unlink(path)
            counts["deleted"] += 1
    print(json.dumps(counts))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "seed":
        seed(*args)
    elif cmd == "server":
        print(json.dumps(server_state(*args), sort_keys=True))
    elif cmd == "server-by-mid":
        print(json.dumps(server_by_message_id(*args), sort_keys=True))
    elif cmd == "mutt-copy":
        print(json.dumps(mutt_copy_state(*args), sort_keys=True))
    elif cmd == "files":
        print(json.dumps(sorted(digest(open(os.path.join(args[0], n), "rb").read())
                                for n in os.listdir(args[0]))))
    elif cmd == "messages":
        messages(*args)
    elif cmd == "server-change":
        server_change(*args)
    elif cmd == "maildir":
        print(json.dumps(maildir_state(*args), sort_keys=True))
    elif cmd == "maildir-change":
        maildir_change(*args)
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
