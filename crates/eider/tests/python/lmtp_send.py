#!/usr/bin/env python3
"""Delivers one message over LMTP with Python's smtplib and prints the outcome as JSON.

usage: lmtp_send.py PORT MESSAGE_FILE FROM RCPT...

smtplib.LMTP.sendmail() reads only one reply after DATA, so this drives the steps itself and reads
the one reply per accepted recipient that RFC 2033 section 4.2 requires. Output:
{"lhlo": [extension names], "size": n, "mail": [code, text], "rcpt": {rcpt: [code, text]},
 "data": {rcpt: [code, text]}}
"""

import json
import smtplib
import sys


def main():
    port = int(sys.argv[1])
    with open(sys.argv[2], "rb") as f:
        message = f.read()
    sender = sys.argv[3]
    rcpts = sys.argv[4:]
    out = {"rcpt": {}, "data": {}}
    lmtp = smtplib.LMTP("127.0.0.1", port, timeout=30)
    code, _ = lmtp.ehlo()  # LMTP sends LHLO here
    assert code == 250, code
    out["lhlo"] = sorted(lmtp.esmtp_features.keys())
    out["size"] = int(lmtp.esmtp_features.get("size", "0"))
    options = ["SMTPUTF8"] if any(ord(c) > 127 for c in sender + "".join(rcpts)) else []
    code, text = lmtp.mail(sender, options)
    out["mail"] = [code, text.decode()]
    accepted = []
    for rcpt in rcpts:
        code, text = lmtp.rcpt(rcpt)
        out["rcpt"][rcpt] = [code, text.decode("utf-8")]
        if code == 250:
            accepted.append(rcpt)
    if accepted:
        # data() dot-stuffs and sends the final dot; it returns the first recipient's reply.
        code, text = lmtp.data(message)
        out["data"][accepted[0]] = [code, text.decode("utf-8")]
        for rcpt in accepted[1:]:
            code, text = lmtp.getreply()
            out["data"][rcpt] = [code, text.decode("utf-8")]
    lmtp.quit()
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
