"""Logs in with Python's imaplib over plain IMAP or implicit TLS (IMAP4_SSL, certificate not
verified: the test server's certificate is self-signed), selects INBOX and logs out.

usage: imap_login.py PORT USER PASSWORD plain|ssl
prints: source_port=N (the client's own port, as a proxy in front would see it), exists=N,
        imap_login OK
"""
import imaplib
import ssl
import sys

port, user, password, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
if mode == "ssl":
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    m = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=context)
    print("tls_version=" + m.sock.version())
else:
    m = imaplib.IMAP4("127.0.0.1", port)
print("source_port=%d" % m.sock.getsockname()[1])
assert "AUTH=PLAIN" in m.capabilities, m.capabilities
assert "LOGINDISABLED" not in m.capabilities, m.capabilities
typ, data = m.login(user, password)
assert typ == "OK", (typ, data)
typ, data = m.select("INBOX")
assert typ == "OK", (typ, data)
print("exists=%s" % data[0].decode())
m.logout()
print("imap_login OK")
