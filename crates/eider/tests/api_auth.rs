//! Accounts and authentication over the WildDuck-compatible API, against the real binary with a
//! root access token configured: users (list/update/delete/quota/logout), access tokens and their
//! limits, application-specific passwords, TOTP, IMAP logins under those rules, and the auth log.

mod common;

use common::{Backend, LineClient, Server};
use serde_json::{Value, json};
use std::io::Write;
use std::process::{Command, Stdio};

const ROOT: &str = "root-secret-token";
const ENV: &[(&str, &str)] = &[("EIDER_API_ACCESS_TOKEN", ROOT)];

/// Runs a body on SQLite and on PostgreSQL, each server with the root token above.
macro_rules! with_root_token {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[test]
            fn sqlite() {
                let server = Server::start_with(Backend::Sqlite, ENV).unwrap();
                ($body)(&server);
            }
            #[test]
            fn postgres() {
                let Some(server) = Server::start_with(Backend::Postgres, ENV) else {
                    return;
                };
                ($body)(&server);
            }
        }
    };
}

#[derive(Debug)]
struct Reply {
    status: u16,
    body: Value,
}

/// One HTTP request with curl. `auth` is a full header line (or none).
fn http(port: u16, method: &str, path: &str, body: Option<&Value>, auth: Option<&str>) -> Reply {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-S", "-g", "-X", method, "-w", "\n%{http_code}"])
        .arg(format!("http://127.0.0.1:{port}{path}"));
    if let Some(h) = auth {
        cmd.args(["-H", h]);
    }
    if body.is_some() {
        cmd.args([
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            "@-",
        ]);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("curl must be installed");
    let mut stdin = child.stdin.take().unwrap();
    if let Some(body) = body {
        stdin.write_all(body.to_string().as_bytes()).unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, status) = text.rsplit_once('\n').expect("curl output");
    Reply {
        status: status.trim().parse().unwrap(),
        body: serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}")),
    }
}

fn root_header() -> String {
    format!("X-Access-Token: {ROOT}")
}

/// A request as root.
fn root(server: &Server, method: &str, path: &str, body: Option<Value>) -> Reply {
    http(
        server.api_port,
        method,
        path,
        body.as_ref(),
        Some(&root_header()),
    )
}

/// A request with a user token in X-Access-Token.
fn as_user(server: &Server, token: &str, method: &str, path: &str, body: Option<Value>) -> Reply {
    http(
        server.api_port,
        method,
        path,
        body.as_ref(),
        Some(&format!("X-Access-Token: {token}")),
    )
}

fn ok(reply: Reply) -> Value {
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["success"], true, "{}", reply.body);
    reply.body
}

fn assert_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.body["code"], code, "{}", reply.body);
    assert!(reply.body["error"].is_string(), "{}", reply.body);
}

fn create_user(server: &Server, body: Value) -> String {
    let created = ok(root(server, "POST", "/users", Some(body)));
    created["id"].as_str().unwrap().to_string()
}

fn authenticate(server: &Server, body: Value) -> Reply {
    root(server, "POST", "/authenticate", Some(body))
}

fn token_for(server: &Server, username: &str, password: &str) -> String {
    let done = ok(authenticate(
        server,
        json!({ "username": username, "password": password, "token": true }),
    ));
    done["token"].as_str().unwrap().to_string()
}

fn totp_code(seed: &str, steps: i64) -> String {
    common::python(
        "auth_tools.py",
        &["totp".into(), seed.into(), steps.to_string()],
    )
    .trim()
    .to_string()
}

/// IMAP LOGIN on a fresh connection; returns the tagged answer line.
fn imap_login(server: &Server, user: &str, password: &str) -> String {
    let mut c = LineClient::connect(server.imap_port);
    assert!(c.line().starts_with("* OK"));
    c.send(format!("a LOGIN {user} \"{password}\"\r\n").as_bytes());
    c.until("a ").lines().last().unwrap().to_string()
}

fn assert_hex_id(value: &Value) {
    let s = value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"));
    assert_eq!(s.len(), 24, "{s}");
    assert!(s.bytes().all(|b| b.is_ascii_hexdigit()), "{s}");
}

with_root_token!(users_list_update_delete, |server: &Server| {
    let ann = create_user(
        server,
        json!({"username": "ann", "password": "pw-ann", "address": "ann@example.com",
               "tags": ["red", "blue"], "metaData": {"team": 1}, "internalData": {"x": 2}}),
    );
    let bob = create_user(
        server,
        json!({"username": "bob", "password": "pw-bob", "tags": ["red"],
               "targets": ["Copies@Forward.example", "https://hooks.example/in"]}),
    );
    let cid = create_user(server, json!({"username": "cid", "password": "pw-cid"}));

    // Paging: two, then one, then back.
    let first = ok(root(server, "GET", "/users?limit=2", None));
    assert_eq!(first["total"], 3);
    assert_eq!(first["page"], 1);
    assert_eq!(first["query"], "");
    assert_eq!(first["previousCursor"], false);
    let names: Vec<&str> = first["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ann", "bob"]);
    assert_eq!(first["results"][0]["id"], ann.as_str());
    assert_eq!(first["results"][0]["address"], "ann@example.com");
    assert_eq!(first["results"][0]["tags"], json!(["red", "blue"]));
    assert_eq!(
        first["results"][0]["quota"],
        json!({"allowed": 0, "used": 0})
    );
    assert!(first["results"][0].get("metaData").is_none());
    let next = first["nextCursor"].as_str().unwrap().to_string();
    let second = ok(root(
        server,
        "GET",
        &format!("/users?limit=2&next={next}&page=2"),
        None,
    ));
    assert_eq!(second["page"], 2);
    assert_eq!(second["results"].as_array().unwrap().len(), 1);
    assert_eq!(second["results"][0]["id"], cid.as_str());
    assert_eq!(second["nextCursor"], false);
    let previous = second["previousCursor"].as_str().unwrap().to_string();
    let back = ok(root(
        server,
        "GET",
        &format!("/users?limit=2&previous={previous}"),
        None,
    ));
    assert_eq!(back["results"], first["results"]);
    assert_eq!(back["previousCursor"], false);

    // Filters.
    let by_query = ok(root(server, "GET", "/users?query=ANN%40EXAMPLE", None));
    assert_eq!(by_query["total"], 1);
    assert_eq!(by_query["results"][0]["id"], ann.as_str());
    let red = ok(root(server, "GET", "/users?tags=red,green", None));
    assert_eq!(red["total"], 2);
    let both = ok(root(
        server,
        "GET",
        "/users?requiredTags=red,blue&metaData=true&internalData=true",
        None,
    ));
    assert_eq!(both["total"], 1);
    assert_eq!(both["results"][0]["metaData"], json!({"team": 1}));
    assert_eq!(both["results"][0]["internalData"], json!({"x": 2}));
    let forwarded = ok(root(server, "GET", "/users?forward=copies%40forward", None));
    assert_eq!(forwarded["total"], 1);
    assert_eq!(forwarded["results"][0]["id"], bob.as_str());
    let hooked = ok(root(
        server,
        "GET",
        "/users?forward=hooks.example&tags=red",
        None,
    ));
    assert_eq!(hooked["total"], 1);
    let none = ok(root(server, "GET", "/users?forward=elsewhere", None));
    assert_eq!(none["total"], 0);
    assert_eq!(none["results"], json!([]));

    // Update, then read back.
    ok(root(
        server,
        "PUT",
        &format!("/users/{bob}"),
        Some(
            json!({"name": "Bob B", "quota": 1_000_000, "tags": ["green"],
                    "language": "et", "spamLevel": 20}),
        ),
    ));
    let got = ok(root(server, "GET", &format!("/users/{bob}"), None));
    assert_eq!(got["name"], "Bob B");
    assert_eq!(
        got["limits"]["quota"],
        json!({"allowed": 1_000_000, "used": 0})
    );
    assert_eq!(got["tags"], json!(["green"]));
    assert_eq!(got["language"], "et");
    assert_eq!(got["spamLevel"], 20.0);
    assert_eq!(got["enabled2fa"], json!([]));

    // Password change checks existingPassword.
    let wrong = root(
        server,
        "PUT",
        &format!("/users/{bob}"),
        Some(json!({"password": "new-pw", "existingPassword": "nope"})),
    );
    assert_error(&wrong, 403, "AuthFailed");
    ok(root(
        server,
        "PUT",
        &format!("/users/{bob}"),
        Some(json!({"password": "new-pw", "existingPassword": "pw-bob"})),
    ));
    assert_error(
        &authenticate(server, json!({"username": "bob", "password": "pw-bob"})),
        403,
        "AuthFailed",
    );
    ok(authenticate(
        server,
        json!({"username": "bob", "password": "new-pw"}),
    ));

    // Disabled users cannot log in.
    ok(root(
        server,
        "PUT",
        &format!("/users/{bob}"),
        Some(json!({"disabled": true})),
    ));
    assert_eq!(
        ok(root(server, "GET", &format!("/users/{bob}"), None))["disabled"],
        true
    );
    assert_error(
        &authenticate(server, json!({"username": "bob", "password": "new-pw"})),
        403,
        "AuthFailed",
    );
    assert!(imap_login(server, "bob", "new-pw").starts_with("a NO [AUTHENTICATIONFAILED]"));

    // Live quota usage, and the recount.
    let mut c = LineClient::connect(server.imap_port);
    c.line();
    c.send(b"a LOGIN ann pw-ann\r\n");
    assert!(c.until("a ").starts_with("a OK"));
    let message = "Subject: q\r\n\r\nquota test\r\n";
    c.send(format!("b APPEND INBOX {{{}}}\r\n", message.len()).as_bytes());
    c.line();
    c.send(format!("{message}\r\n").as_bytes());
    assert!(c.until("b ").starts_with("b OK"));
    let got = ok(root(server, "GET", &format!("/users/{ann}"), None));
    assert_eq!(got["limits"]["quota"]["used"], message.len());
    if server.backend == Backend::Postgres {
        server.pg_query(&format!(
            "UPDATE users SET storage_used = 5 WHERE id = '{ann}'"
        ));
    }
    let recount = ok(root(
        server,
        "POST",
        &format!("/users/{ann}/quota/reset"),
        Some(json!({})),
    ));
    assert_eq!(recount["storageUsed"], message.len());
    let before = if server.backend == Backend::Postgres {
        5
    } else {
        message.len()
    };
    assert_eq!(recount["previousStorageUsed"], before);
    let all = ok(root(server, "POST", "/quota/reset", Some(json!({}))));
    assert_hex_id(&all["task"]);

    // Validation: WildDuck's statuses and codes.
    assert_error(
        &root(server, "GET", "/users/not-an-id", None),
        400,
        "InputValidationError",
    );
    assert_error(
        &root(server, "GET", "/users/0123456789abcdef01234567", None),
        404,
        "UserNotFound",
    );
    assert_error(
        &root(
            server,
            "PUT",
            &format!("/users/{ann}"),
            Some(json!({"name": "x".repeat(257)})),
        ),
        400,
        "InputValidationError",
    );
    assert_error(
        &root(
            server,
            "PUT",
            &format!("/users/{ann}"),
            Some(json!({"quota": "lots"})),
        ),
        400,
        "InputValidationError",
    );
    assert_error(
        &root(
            server,
            "PUT",
            &format!("/users/{ann}"),
            Some(json!({"disabled": "maybe"})),
        ),
        400,
        "InputValidationError",
    );
    assert_error(
        &root(server, "GET", "/users?limit=0", None),
        400,
        "InputValidationError",
    );
    assert_error(
        &root(server, "GET", "/users?next=%%%", None),
        400,
        "InputValidationError",
    );

    // Delete removes the user, their address and their mail.
    let deleted = ok(root(server, "DELETE", &format!("/users/{ann}"), None));
    assert_eq!(deleted["user"], ann.as_str());
    assert_eq!(deleted["addresses"]["deleted"], 1);
    assert_error(
        &root(server, "GET", &format!("/users/{ann}"), None),
        404,
        "UserNotFound",
    );
    assert_error(
        &root(server, "GET", "/users/resolve/ann@example.com", None),
        404,
        "UserNotFound",
    );
    assert_eq!(ok(root(server, "GET", "/users", None))["total"], 2);
    if server.backend == Backend::Postgres {
        assert_eq!(
            server.pg_query(&format!(
                "SELECT COUNT(*) FROM messages WHERE user_id = '{ann}'"
            )),
            "0"
        );
    }
});

with_root_token!(tokens_and_access_control, |server: &Server| {
    let alice = create_user(
        server,
        json!({"username": "alice", "password": "pw-alice", "address": "alice@example.com",
               "internalData": {"secret": 1}}),
    );
    let bob = create_user(server, json!({"username": "bob", "password": "pw-bob"}));

    // No or wrong token.
    assert_error(
        &http(server.api_port, "GET", "/users", None, None),
        403,
        "InvalidToken",
    );
    assert_error(
        &as_user(server, "0000", "GET", "/users", None),
        403,
        "InvalidToken",
    );

    // Authenticate with a token.
    let done = ok(authenticate(
        server,
        json!({"username": "alice@example.com", "password": "pw-alice", "token": true,
               "protocol": "webmail", "sess": "s-1", "ip": "192.0.2.7"}),
    ));
    assert_eq!(done["id"], alice.as_str());
    assert_eq!(done["username"], "alice");
    assert_eq!(done["address"], "alice@example.com");
    assert_eq!(done["scope"], "master");
    assert_eq!(done["require2fa"], false);
    assert_eq!(done["require2faEnabled"], false);
    assert_eq!(done["requirePasswordChange"], false);
    let token = done["token"].as_str().unwrap().to_string();
    assert_eq!(token.len(), 40);

    // The token reaches alice's own data, in all three places WildDuck reads it from.
    let me = ok(as_user(
        server,
        &token,
        "GET",
        &format!("/users/{alice}"),
        None,
    ));
    assert_eq!(me["username"], "alice");
    assert!(me.get("internalData").is_none(), "{me}");
    assert_eq!(
        ok(as_user(server, &token, "GET", "/users/me", None))["id"],
        alice.as_str()
    );
    let bearer = http(
        server.api_port,
        "GET",
        "/users/me/asps",
        None,
        Some(&format!("Authorization: Bearer {token}")),
    );
    assert_eq!(ok(bearer)["results"], json!([]));
    let in_query = http(
        server.api_port,
        "GET",
        &format!("/users/me?accessToken={token}"),
        None,
        None,
    );
    assert_eq!(ok(in_query)["id"], alice.as_str());
    let authed = ok(as_user(server, &token, "GET", "/authenticated", None));
    assert_eq!(authed["id"], alice.as_str());

    // ...but nothing else.
    for (method, path) in [
        ("GET", format!("/users/{bob}")),
        ("GET", format!("/users/{bob}/authlog")),
        ("GET", "/users".to_string()),
        ("DELETE", format!("/users/{alice}")),
        ("POST", "/quota/reset".to_string()),
        ("GET", "/users/resolve/bob".to_string()),
    ] {
        let reply = as_user(server, &token, method, &path, Some(json!({})));
        assert_error(&reply, 403, "MissingPrivileges");
    }
    // A user changes their password only with the current one.
    assert_error(
        &as_user(
            server,
            &token,
            "PUT",
            "/users/me",
            Some(json!({"password": "pw2"})),
        ),
        400,
        "InputValidationError",
    );
    assert_error(
        &as_user(
            server,
            &token,
            "PUT",
            "/users/me",
            Some(json!({"internalData": {"a": 1}})),
        ),
        403,
        "MissingPrivileges",
    );
    ok(as_user(
        server,
        &token,
        "PUT",
        "/users/me",
        Some(json!({"name": "Alice A"})),
    ));

    // Only a hash of the token is stored.
    if server.backend == Backend::Postgres {
        assert_eq!(
            server.pg_query(&format!(
                "SELECT COUNT(*) FROM access_tokens WHERE hash = '{token}' OR data = '{token}'"
            )),
            "0"
        );
        assert_eq!(
            server.pg_query(&format!(
                "SELECT COUNT(*) FROM access_tokens WHERE user_id = '{alice}'"
            )),
            "1"
        );
    }

    // The token works on a second instance sharing the store (PostgreSQL: a cluster).
    if server.backend == Backend::Postgres {
        let other = server.second_instance();
        let reply = http(
            other.api_port,
            "GET",
            "/users/me",
            None,
            Some(&format!("X-Access-Token: {token}")),
        );
        assert_eq!(ok(reply)["id"], alice.as_str());
    }

    // Revocation: DELETE /authenticate ends this token only.
    let second = token_for(server, "alice", "pw-alice");
    ok(as_user(server, &token, "DELETE", "/authenticate", None));
    assert_error(
        &as_user(server, &token, "GET", "/users/me", None),
        403,
        "InvalidToken",
    );
    ok(as_user(server, &second, "GET", "/users/me", None));
    assert_error(
        &root(server, "DELETE", "/authenticate", None),
        403,
        "InvalidToken",
    );
    // Logout ends all of the user's tokens.
    ok(root(
        server,
        "PUT",
        &format!("/users/{alice}/logout"),
        Some(json!({"reason": "bye"})),
    ));
    assert_error(
        &as_user(server, &second, "GET", "/users/me", None),
        403,
        "InvalidToken",
    );

    // Failures and validation.
    assert_error(
        &authenticate(server, json!({"username": "alice", "password": "wrong"})),
        403,
        "AuthFailed",
    );
    assert_error(
        &authenticate(server, json!({"username": "nobody", "password": "x"})),
        403,
        "AuthFailed",
    );
    assert_error(
        &authenticate(
            server,
            json!({"username": "alice", "password": "pw-alice", "scope": "imap", "token": true}),
        ),
        400,
        "InputValidationError",
    );
    assert_error(
        &authenticate(
            server,
            json!({"username": "alice", "password": "pw-alice", "scope": "web"}),
        ),
        400,
        "InputValidationError",
    );
    assert_error(
        &authenticate(server, json!({"username": "alice", "password": 5})),
        400,
        "InputValidationError",
    );
    assert_error(
        &authenticate(
            server,
            json!({"username": "alice", "password": "x", "ip": "nope"}),
        ),
        400,
        "InputValidationError",
    );

    // Preauth.
    let pre = ok(root(
        server,
        "POST",
        "/preauth",
        Some(json!({"username": "alice", "scope": "imap"})),
    ));
    assert_eq!(pre["id"], alice.as_str());
    assert_eq!(pre["scope"], "imap");
    assert_eq!(pre["require2fa"], false);
    assert_error(
        &root(
            server,
            "POST",
            "/preauth",
            Some(json!({"username": "nobody"})),
        ),
        403,
        "AuthFailed",
    );

    // The first login is in alice's log with the fields the client gave.
    let log = ok(root(
        server,
        "GET",
        &format!("/users/{alice}/authlog?filterip=192.0.2.7"),
        None,
    ));
    assert_eq!(log["total"], 1);
    let entry = &log["results"][0];
    assert_eq!(entry["protocol"], "webmail");
    assert_eq!(entry["sess"], "s-1");
    assert_eq!(entry["result"], "success");
    assert_eq!(entry["requiredScope"], "master");
});

with_root_token!(asp_totp_imap_and_authlog, |server: &Server| {
    let carol = create_user(
        server,
        json!({"username": "carol", "password": "pw-carol", "address": "carol@example.com",
               "name": "Carol"}),
    );

    // An IMAP-only ASP with a mobileconfig profile.
    let created = ok(root(
        server,
        "POST",
        &format!("/users/{carol}/asps"),
        Some(json!({"description": "Phone", "scopes": ["imap"], "generateMobileconfig": true})),
    ));
    assert_hex_id(&created["id"]);
    let asp_id = created["id"].as_str().unwrap().to_string();
    let asp = created["password"].as_str().unwrap().to_string();
    assert_eq!(asp.len(), 16);
    assert!(asp.bytes().all(|b| b.is_ascii_lowercase()), "{asp}");
    assert_eq!(created["name"], "Carol");
    assert_eq!(created["address"], "carol@example.com");
    let profile = common::python(
        "auth_tools.py",
        &[
            "b64decode".into(),
            created["mobileconfig"].as_str().unwrap().into(),
        ],
    );
    assert!(profile.starts_with("<?xml"), "{profile}");
    assert!(profile.contains("<string>com.apple.mail.managed</string>"));
    assert!(profile.contains(&format!(
        "<key>IncomingPassword</key><string>{asp}</string>"
    )));
    assert!(profile.contains("<key>IncomingMailServerUsername</key><string>carol</string>"));
    assert!(profile.contains(&format!(
        "<key>IncomingMailServerPortNumber</key><integer>{}</integer>",
        server.imap_port
    )));
    let smtp_only = ok(root(
        server,
        "POST",
        &format!("/users/{carol}/asps"),
        Some(json!({"description": "Relay", "scopes": ["smtp"], "password": "ABCDEFGHIJKLMNOP"})),
    ));
    assert_eq!(smtp_only["password"], "abcdefghijklmnop");
    assert!(smtp_only.get("mobileconfig").is_none());

    let list = ok(root(server, "GET", &format!("/users/{carol}/asps"), None));
    assert_eq!(list["results"].as_array().unwrap().len(), 2);
    assert_eq!(list["results"][0]["id"], asp_id.as_str());
    assert_eq!(list["results"][0]["description"], "Phone");
    assert_eq!(list["results"][0]["scopes"], json!(["imap"]));
    assert_eq!(
        list["results"][0]["lastUse"],
        json!({"time": false, "event": false})
    );
    assert!(list["results"][0].get("password").is_none());
    let one = ok(root(
        server,
        "GET",
        &format!("/users/{carol}/asps/{asp_id}"),
        None,
    ));
    assert_eq!(one["description"], "Phone");
    assert!(one["created"].as_str().unwrap().ends_with('Z'));
    assert_error(
        &root(
            server,
            "GET",
            &format!("/users/{carol}/asps/0123456789abcdef01234567"),
            None,
        ),
        404,
        "AspNotFound",
    );
    assert_error(
        &root(server, "GET", &format!("/users/{carol}/asps/xyz"), None),
        400,
        "InputValidationError",
    );
    for bad in [
        json!({"scopes": ["imap"]}),
        json!({"description": "x", "scopes": ["master"]}),
        json!({"description": "x", "password": "short"}),
        json!({"description": "x".repeat(300)}),
    ] {
        assert_error(
            &root(server, "POST", &format!("/users/{carol}/asps"), Some(bad)),
            400,
            "InputValidationError",
        );
    }

    // Without 2FA both passwords work over IMAP; the ASP only for its scope.
    assert!(imap_login(server, "carol", "pw-carol").starts_with("a OK"));
    assert!(imap_login(server, "carol", &asp).starts_with("a OK"));
    assert!(
        imap_login(server, "carol", "abcdefghijklmnop").starts_with("a NO [AUTHENTICATIONFAILED]")
    );

    // TOTP: setup, a wrong code, the right code.
    let setup = ok(root(
        server,
        "POST",
        &format!("/users/{carol}/2fa/totp/setup"),
        Some(json!({"issuer": "Example Mail"})),
    ));
    let seed = setup["seed"].as_str().unwrap().to_string();
    let url = setup["otpauthUrl"].as_str().unwrap();
    assert!(url.starts_with("otpauth://totp/"), "{url}");
    assert!(url.contains(&format!("secret={seed}")), "{url}");
    assert!(url.contains("carol"), "{url}");
    let wrong = (totp_code(&seed, 0).parse::<u32>().unwrap() + 500_000) % 1_000_000;
    assert_error(
        &root(
            server,
            "POST",
            &format!("/users/{carol}/2fa/totp/enable"),
            Some(json!({"token": format!("{wrong:06}")})),
        ),
        403,
        "InvalidToken",
    );
    ok(root(
        server,
        "POST",
        &format!("/users/{carol}/2fa/totp/enable"),
        Some(json!({"token": totp_code(&seed, 0)})),
    ));
    let user = ok(root(server, "GET", &format!("/users/{carol}"), None));
    assert_eq!(user["enabled2fa"], json!(["totp"]));
    assert_error(
        &root(
            server,
            "POST",
            &format!("/users/{carol}/2fa/totp/setup"),
            Some(json!({"issuer": "x"})),
        ),
        400,
        "TotpEnabled",
    );

    // With 2FA on, IMAP needs the ASP: the master password fails, the ASP works (LOGIN and
    // AUTHENTICATE PLAIN).
    assert!(imap_login(server, "carol", "pw-carol").starts_with("a NO [AUTHENTICATIONFAILED]"));
    assert!(imap_login(server, "carol", &asp).starts_with("a OK"));
    let mut c = LineClient::connect(server.imap_port);
    c.line();
    let sasl = base64_encode(format!("\0carol\0{asp}").as_bytes());
    c.send(format!("p AUTHENTICATE PLAIN {sasl}\r\n").as_bytes());
    assert!(c.until("p ").starts_with("p OK"));

    // The API login now asks for the code, and the check with the nonce issues the token.
    let pending = ok(authenticate(
        server,
        json!({"username": "carol", "password": "pw-carol", "token": true}),
    ));
    assert_eq!(pending["require2fa"], json!(["totp"]));
    assert!(pending.get("token").is_none(), "{pending}");
    let nonce = pending["totpNonce"].as_str().unwrap().to_string();
    assert_error(
        &root(
            server,
            "POST",
            &format!("/users/{carol}/2fa/totp/check"),
            Some(json!({"token": format!("{wrong:06}"), "totpNonce": nonce})),
        ),
        403,
        "InvalidToken",
    );
    let checked = ok(root(
        server,
        "POST",
        &format!("/users/{carol}/2fa/totp/check"),
        Some(json!({"token": totp_code(&seed, 0), "totpNonce": nonce})),
    ));
    let token = checked["token"].as_str().unwrap().to_string();
    assert_eq!(
        ok(as_user(server, &token, "GET", "/users/me", None))["id"],
        carol.as_str()
    );
    // A nonce works once.
    assert_error(
        &root(
            server,
            "POST",
            &format!("/users/{carol}/2fa/totp/check"),
            Some(json!({"token": totp_code(&seed, 0), "totpNonce": nonce})),
        ),
        403,
        "InvalidToken",
    );

    // The auth log has the IMAP attempts with the client address and the outcome.
    let log = ok(root(
        server,
        "GET",
        &format!("/users/{carol}/authlog?limit=100"),
        None,
    ));
    let entries = log["results"].as_array().unwrap();
    let imap: Vec<&Value> = entries.iter().filter(|e| e["protocol"] == "imap").collect();
    assert_eq!(imap.len(), 6, "{log}");
    for e in &imap {
        assert_eq!(e["ip"], "127.0.0.1");
        assert_eq!(e["requiredScope"], "imap");
        assert_eq!(e["action"], "authentication");
    }
    // Newest first: the AUTHENTICATE PLAIN with the ASP, then the LOGIN with it, then the
    // master password refused because 2FA is on.
    assert_eq!(imap[0]["result"], "success");
    assert_eq!(imap[0]["source"], "asp");
    assert_eq!(imap[0]["asp"], asp_id.as_str());
    assert_eq!(imap[0]["aname"], "Phone");
    assert_eq!(imap[2]["result"], "fail");
    assert_eq!(imap[2]["source"], "master");
    assert_eq!(imap[2]["require2fa"], "totp");
    // The smtp-only ASP tried on IMAP.
    assert_eq!(imap[3]["result"], "fail");
    assert_eq!(imap[3]["source"], "asp-scope");
    let event_id = imap[2]["id"].as_str().unwrap();
    let event = ok(root(
        server,
        "GET",
        &format!("/users/{carol}/authlog/{event_id}"),
        None,
    ));
    assert_eq!(event["id"], event_id);
    assert_eq!(event["result"], "fail");
    assert_eq!(event["ip"], "127.0.0.1");
    assert_eq!(event["events"], 1);
    assert!(event["expires"].as_str().unwrap() > event["created"].as_str().unwrap());
    assert_error(
        &root(
            server,
            "GET",
            &format!("/users/{carol}/authlog/0123456789abcdef01234567"),
            None,
        ),
        404,
        "EventNotFound",
    );
    // Paging through the log one entry at a time visits every entry once.
    let total = log["total"].as_u64().unwrap() as usize;
    assert_eq!(total, entries.len());
    let mut seen = Vec::new();
    let mut path = format!("/users/{carol}/authlog?limit=1");
    loop {
        let page = ok(root(server, "GET", &path, None));
        seen.push(page["results"][0]["id"].as_str().unwrap().to_string());
        match page["nextCursor"].as_str() {
            Some(next) => path = format!("/users/{carol}/authlog?limit=1&next={next}"),
            None => break,
        }
    }
    let all: Vec<String> = entries
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(seen, all);
    let failures = ok(root(
        server,
        "GET",
        &format!("/users/{carol}/authlog?action=check-2fa"),
        None,
    ));
    assert_eq!(failures["action"], "check-2fa");
    assert_eq!(failures["total"], 3);

    // The ASP was used; deleting it ends it.
    let one = ok(root(
        server,
        "GET",
        &format!("/users/{carol}/asps/{asp_id}"),
        None,
    ));
    assert_eq!(one["lastUse"]["event"], imap[0]["id"]);
    assert!(one["lastUse"]["time"].is_string());
    ok(root(
        server,
        "DELETE",
        &format!("/users/{carol}/asps/{asp_id}"),
        None,
    ));
    assert!(imap_login(server, "carol", &asp).starts_with("a NO [AUTHENTICATIONFAILED]"));
    assert_error(
        &root(
            server,
            "DELETE",
            &format!("/users/{carol}/asps/{asp_id}"),
            None,
        ),
        404,
        "AspNotFound",
    );

    // Turning 2FA off lets the master password back into IMAP.
    ok(root(server, "DELETE", &format!("/users/{carol}/2fa"), None));
    assert_eq!(
        ok(root(server, "GET", &format!("/users/{carol}"), None))["enabled2fa"],
        json!([])
    );
    assert!(imap_login(server, "carol", "pw-carol").starts_with("a OK"));
    ok(root(
        server,
        "DELETE",
        &format!("/users/{carol}/2fa/totp"),
        None,
    ));
    assert_error(
        &root(
            server,
            "POST",
            &format!("/users/{carol}/2fa/totp/check"),
            Some(json!({"token": "123456"})),
        ),
        400,
        "TotpDisabled",
    );
});

/// Standard base64 (for SASL PLAIN); written here so the test does not share the server's code.
fn base64_encode(data: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Delivers one message over LMTP.
fn deliver(server: &Server, rcpt: &str) {
    let mut c = LineClient::connect(server.lmtp_port);
    c.line();
    c.send(b"LHLO x\r\n");
    c.until("250 ");
    c.send(format!("MAIL FROM:<s@example.org>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n").as_bytes());
    c.line();
    c.line();
    c.line();
    c.send(b"Subject: private\r\n\r\nfor bob only\r\n.\r\n");
    assert!(c.line().starts_with("250 "), "not delivered");
}

with_root_token!(user_token_reaches_no_other_users_data, |server: &Server| {
    let alice = create_user(
        server,
        json!({"username": "alice", "password": "pw-alice", "address": "alice@example.com"}),
    );
    let bob = create_user(
        server,
        json!({"username": "bob", "password": "pw-bob", "address": "bob@example.com"}),
    );
    // Bob owns one of everything.
    deliver(server, "bob@example.com");
    let boxes = ok(root(
        server,
        "GET",
        &format!("/users/{bob}/mailboxes"),
        None,
    ));
    let inbox = boxes["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["path"] == "INBOX")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let addresses = ok(root(
        server,
        "GET",
        &format!("/users/{bob}/addresses"),
        None,
    ));
    let address = addresses["results"][0]["id"].as_str().unwrap().to_string();
    let filter = ok(root(
        server,
        "POST",
        &format!("/users/{bob}/filters"),
        Some(json!({"query": {"from": "boss"}, "action": {"seen": true}})),
    ))["id"]
        .as_str()
        .unwrap()
        .to_string();
    ok(root(
        server,
        "PUT",
        &format!("/users/{bob}/autoreply"),
        Some(json!({"status": true, "subject": "away", "text": "back soon"})),
    ));
    let asp = ok(root(
        server,
        "POST",
        &format!("/users/{bob}/asps"),
        Some(json!({"description": "Phone", "scopes": ["imap"]})),
    ))["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        authenticate(server, json!({"username": "bob", "password": "nope"})).status,
        403
    );
    let log = ok(root(server, "GET", &format!("/users/{bob}/authlog"), None));
    let event = log["results"][0]["id"].as_str().unwrap().to_string();

    let token = token_for(server, "alice", "pw-alice");

    // Every route under Bob's id is closed to Alice's token, whatever the method.
    let mut bobs = vec![
        ("GET", format!("/users/{bob}")),
        ("PUT", format!("/users/{bob}")),
        ("PUT", format!("/users/{bob}/logout")),
        ("GET", format!("/users/{bob}/mailboxes")),
        ("POST", format!("/users/{bob}/mailboxes")),
        ("GET", format!("/users/{bob}/mailboxes/{inbox}")),
        ("PUT", format!("/users/{bob}/mailboxes/{inbox}")),
        ("DELETE", format!("/users/{bob}/mailboxes/{inbox}")),
        ("GET", format!("/users/{bob}/mailboxes/{inbox}/messages")),
        ("POST", format!("/users/{bob}/mailboxes/{inbox}/messages")),
        ("PUT", format!("/users/{bob}/mailboxes/{inbox}/messages")),
        ("DELETE", format!("/users/{bob}/mailboxes/{inbox}/messages")),
        ("GET", format!("/users/{bob}/mailboxes/{inbox}/messages/1")),
        ("PUT", format!("/users/{bob}/mailboxes/{inbox}/messages/1")),
        (
            "DELETE",
            format!("/users/{bob}/mailboxes/{inbox}/messages/1"),
        ),
        (
            "GET",
            format!("/users/{bob}/mailboxes/{inbox}/messages/1/message.eml"),
        ),
        (
            "GET",
            format!("/users/{bob}/mailboxes/{inbox}/messages/1/attachments/ATT00001"),
        ),
        ("GET", format!("/users/{bob}/search?query=private")),
        ("POST", format!("/users/{bob}/search")),
        ("GET", format!("/users/{bob}/addresses")),
        ("POST", format!("/users/{bob}/addresses")),
        ("GET", format!("/users/{bob}/addresses/{address}")),
        ("PUT", format!("/users/{bob}/addresses/{address}")),
        ("DELETE", format!("/users/{bob}/addresses/{address}")),
        ("GET", format!("/users/{bob}/addressregister")),
        ("GET", format!("/users/{bob}/filters")),
        ("POST", format!("/users/{bob}/filters")),
        ("GET", format!("/users/{bob}/filters/{filter}")),
        ("PUT", format!("/users/{bob}/filters/{filter}")),
        ("DELETE", format!("/users/{bob}/filters/{filter}")),
        ("GET", format!("/users/{bob}/autoreply")),
        ("PUT", format!("/users/{bob}/autoreply")),
        ("DELETE", format!("/users/{bob}/autoreply")),
        ("GET", format!("/users/{bob}/asps")),
        ("POST", format!("/users/{bob}/asps")),
        ("GET", format!("/users/{bob}/asps/{asp}")),
        ("DELETE", format!("/users/{bob}/asps/{asp}")),
        ("GET", format!("/users/{bob}/authlog")),
        ("GET", format!("/users/{bob}/authlog/{event}")),
        ("POST", format!("/users/{bob}/2fa/totp/setup")),
        ("DELETE", format!("/users/{bob}/2fa")),
        ("GET", format!("/users/{bob}/updates")),
        // ...and the routes that span users.
        ("GET", "/addresses".to_string()),
        ("GET", "/addresses/resolve/bob@example.com".to_string()),
        ("POST", "/addresses/forwarded".to_string()),
        ("PUT", "/addresses/renameDomain".to_string()),
        ("GET", "/domainaliases".to_string()),
        ("POST", "/domainaliases".to_string()),
        ("GET", "/filters".to_string()),
        ("POST", "/users".to_string()),
    ];
    // Bob's id in upper case is still Bob.
    bobs.push(("GET", format!("/users/{}", bob.to_uppercase())));
    for (method, path) in &bobs {
        let reply = as_user(server, &token, method, path, Some(json!({})));
        assert_eq!(reply.status, 403, "{method} {path}: {}", reply.body);
        assert_eq!(reply.body["code"], "MissingPrivileges", "{method} {path}");
    }

    // Under her own id, Bob's resource ids find nothing and change nothing.
    for (method, path, body) in [
        ("GET", format!("/users/{alice}/mailboxes/{inbox}"), None),
        (
            "PUT",
            format!("/users/{alice}/mailboxes/{inbox}"),
            Some(json!({"path": "Stolen"})),
        ),
        ("DELETE", format!("/users/{alice}/mailboxes/{inbox}"), None),
        (
            "GET",
            format!("/users/{alice}/mailboxes/{inbox}/messages"),
            None,
        ),
        (
            "GET",
            format!("/users/{alice}/mailboxes/{inbox}/messages/1"),
            None,
        ),
        (
            "GET",
            format!("/users/{alice}/mailboxes/{inbox}/messages/1/message.eml"),
            None,
        ),
        (
            "PUT",
            format!("/users/{alice}/mailboxes/{inbox}/messages/1"),
            Some(json!({"seen": true})),
        ),
        (
            "PUT",
            format!("/users/{alice}/mailboxes/{inbox}/messages"),
            Some(json!({"message": "1:*", "seen": true})),
        ),
        (
            "DELETE",
            format!("/users/{alice}/mailboxes/{inbox}/messages/1"),
            None,
        ),
        (
            "DELETE",
            format!("/users/{alice}/mailboxes/{inbox}/messages"),
            None,
        ),
        (
            "POST",
            format!("/users/{alice}/mailboxes/{inbox}/messages"),
            Some(json!({"raw": "Subject: x\r\n\r\nx"})),
        ),
        ("GET", format!("/users/{alice}/addresses/{address}"), None),
        (
            "PUT",
            format!("/users/{alice}/addresses/{address}"),
            Some(json!({"name": "Stolen"})),
        ),
        (
            "DELETE",
            format!("/users/{alice}/addresses/{address}"),
            None,
        ),
        ("GET", format!("/users/{alice}/filters/{filter}"), None),
        (
            "PUT",
            format!("/users/{alice}/filters/{filter}"),
            Some(json!({"name": "Stolen"})),
        ),
        ("DELETE", format!("/users/{alice}/filters/{filter}"), None),
        ("GET", format!("/users/{alice}/asps/{asp}"), None),
        ("DELETE", format!("/users/{alice}/asps/{asp}"), None),
        ("GET", format!("/users/{alice}/authlog/{event}"), None),
    ] {
        let reply = as_user(server, &token, method, &path, body);
        assert!(
            reply.status == 404 || reply.status == 400,
            "{method} {path}: {} {}",
            reply.status,
            reply.body
        );
        assert!(
            reply.body["code"].is_string(),
            "{method} {path}: {}",
            reply.body
        );
    }
    // Alice's own search does not find Bob's mail.
    let found = ok(as_user(
        server,
        &token,
        "GET",
        &format!("/users/{alice}/search?query=private"),
        None,
    ));
    assert_eq!(found["total"], 0, "{found}");

    // Bob's data is untouched.
    let mine = ok(root(
        server,
        "GET",
        &format!("/users/{bob}/mailboxes/{inbox}/messages/1"),
        None,
    ));
    assert_eq!(mine["subject"], "private");
    assert_eq!(mine["seen"], false, "{mine}");
    assert_eq!(
        ok(root(
            server,
            "GET",
            &format!("/users/{bob}/mailboxes/{inbox}"),
            None
        ))["path"],
        "INBOX"
    );
    assert_eq!(
        ok(root(
            server,
            "GET",
            &format!("/users/{bob}/addresses/{address}"),
            None
        ))["address"],
        "bob@example.com"
    );
    assert!(
        ok(root(
            server,
            "GET",
            &format!("/users/{bob}/filters/{filter}"),
            None
        ))["name"]
            .is_string()
    );
    ok(root(
        server,
        "GET",
        &format!("/users/{bob}/asps/{asp}"),
        None,
    ));
    assert_eq!(
        ok(root(
            server,
            "GET",
            &format!("/users/{bob}/autoreply"),
            None
        ))["status"],
        true
    );

    // The same token does reach Alice's own data.
    let own = ok(as_user(
        server,
        &token,
        "GET",
        &format!("/users/{alice}/mailboxes"),
        None,
    ));
    assert_eq!(own["results"].as_array().unwrap().len(), 5);
    ok(as_user(
        server,
        &token,
        "GET",
        &format!("/users/{alice}/filters"),
        None,
    ));
    ok(as_user(
        server,
        &token,
        "GET",
        &format!("/users/{alice}/autoreply"),
        None,
    ));
    ok(as_user(
        server,
        &token,
        "GET",
        &format!("/users/{alice}/addresses"),
        None,
    ));
});
