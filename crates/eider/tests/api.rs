//! The WildDuck-compatible HTTP API against the real binary, driven with curl.

mod common;

use common::{Backend, LineClient, Server};
use serde_json::{Value, json};
use std::io::Write;
use std::process::{Command, Stdio};

struct Reply {
    status: u16,
    body: Value,
}

/// One HTTP request with curl; `body` is sent as is (it need not be valid JSON).
fn http(port: u16, method: &str, path: &str, body: Option<&[u8]>, headers: &[&str]) -> Reply {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-S", "-g", "-X", method, "-w", "\n%{http_code}"])
        .arg(format!("http://127.0.0.1:{port}{path}"));
    for h in headers {
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
    if let Some(body) = body {
        child.stdin.take().unwrap().write_all(body).unwrap();
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, status) = text.rsplit_once('\n').expect("curl output");
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
    };
    Reply {
        status: status.trim().parse().unwrap(),
        body,
    }
}

fn get(server: &Server, path: &str) -> Reply {
    http(server.api_port, "GET", path, None, &[])
}

fn post(server: &Server, path: &str, body: &Value) -> Reply {
    http(
        server.api_port,
        "POST",
        path,
        Some(body.to_string().as_bytes()),
        &[],
    )
}

fn assert_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.body["code"], code, "{}", reply.body);
    assert!(reply.body["error"].is_string(), "{}", reply.body);
}

both_stores!(create_get_resolve, |server: &Server| {
    let created = post(
        server,
        "/users",
        &json!({
            "username": "alice",
            "password": "secret-pw",
            "address": "Alice@Example.COM",
            "name": "Alice Liddell",
            "quota": 1048576,
            "tags": ["team", "beta"],
            "spamLevel": 40,
            "metaData": "{\"plan\":\"gold\"}",
            "requirePasswordChange": true,
            "language": "et",
            "sess": "abc",
            "ip": "127.0.0.1",
        }),
    );
    assert_eq!(created.status, 200, "{}", created.body);
    assert_eq!(created.body["success"], true);
    let id = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 24);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));

    let user = get(server, &format!("/users/{id}"));
    assert_eq!(user.status, 200, "{}", user.body);
    let u = &user.body;
    assert_eq!(u["success"], true);
    assert_eq!(u["id"], id.as_str());
    assert_eq!(u["username"], "alice");
    assert_eq!(u["name"], "Alice Liddell");
    assert_eq!(u["address"], "Alice@example.com");
    assert_eq!(u["limits"]["quota"], json!({"allowed": 1048576, "used": 0}));
    assert_eq!(u["tags"], json!(["team", "beta"]));
    assert_eq!(u["spamLevel"].as_f64(), Some(40.0));
    assert_eq!(u["metaData"], json!({"plan": "gold"}));
    assert_eq!(u["requirePasswordChange"], true);
    assert_eq!(u["language"], "et");
    assert_eq!(u["disabled"], false);
    assert_eq!(u["suspended"], false);
    assert_eq!(u["activated"], true);
    assert_eq!(u["hasPasswordSet"], true);
    assert_eq!(u["encryptMessages"], false);
    assert_eq!(u["enabled2fa"], json!([]));
    assert_eq!(u["internalData"], json!({}));
    let created_at = u["created"].as_str().unwrap();
    assert!(
        created_at.len() == 24 && created_at.ends_with('Z') && created_at.as_bytes()[10] == b'T',
        "{created_at}"
    );
    // Upper-case ids are the same id.
    assert_eq!(
        get(server, &format!("/users/{}", id.to_uppercase())).body["id"],
        id.as_str()
    );

    for name in ["alice", "ALICE", "alice@example.com"] {
        let resolved = get(server, &format!("/users/resolve/{name}"));
        assert_eq!(resolved.status, 200, "{name}: {}", resolved.body);
        assert_eq!(resolved.body, json!({"success": true, "id": id}));
    }
    let missing = get(server, "/users/resolve/nobody");
    assert_error(&missing, 404, "UserNotFound");
    assert_eq!(missing.body["error"], "This user does not exist");

    // A user made through the API can log in and receive mail: LMTP finds it by address.
    let mut c = LineClient::connect(server.lmtp_port);
    c.line();
    c.send(b"LHLO x\r\n");
    c.until("250 ");
    c.send(b"MAIL FROM:<>\r\nRCPT TO:<alice+x@example.com>\r\nDATA\r\n");
    assert_eq!(c.line(), "250 2.1.0 OK\r\n");
    assert_eq!(c.line(), "250 2.1.5 <alice+x@example.com> OK\r\n");
    c.line();
    c.send(b"Subject: hi\r\n\r\nhello\r\n.\r\n");
    assert_eq!(c.line(), "250 2.0.0 <alice+x@example.com> delivered\r\n");
    // The stored message now counts against the quota.
    let used = get(server, &format!("/users/{id}")).body["limits"]["quota"]["used"]
        .as_i64()
        .unwrap();
    assert!(used > 0, "quota used after delivery: {used}");
});

both_stores!(validation_and_errors, |server: &Server| {
    let ok = post(
        server,
        "/users",
        &json!({"username": "bob", "password": "pw", "address": "bob@example.com"}),
    );
    assert_eq!(ok.status, 200, "{}", ok.body);

    for (body, why) in [
        (json!({"password": "pw"}), "missing username"),
        (json!({"username": "carol"}), "missing password"),
        (
            json!({"username": "carol", "password": ""}),
            "empty password",
        ),
        (
            json!({"username": "carol", "password": false}),
            "password false",
        ),
        (
            json!({"username": "carol", "password": 5}),
            "password not a string",
        ),
        (
            json!({"username": 7, "password": "pw"}),
            "username not a string",
        ),
        (
            json!({"username": "car ol", "password": "pw"}),
            "space in username",
        ),
        (
            json!({"username": "carol", "password": "pw", "address": "not-an-address"}),
            "bad address",
        ),
        (
            json!({"username": "carol", "password": "pw", "quota": -1}),
            "negative quota",
        ),
        (
            json!({"username": "carol", "password": "pw", "quota": "lots"}),
            "quota not a number",
        ),
        (
            json!({"username": "carol", "password": "pw", "spamLevel": 101}),
            "spamLevel > 100",
        ),
        (
            json!({"username": "carol", "password": "pw", "tags": "a,b"}),
            "tags not an array",
        ),
        (
            json!({"username": "carol", "password": "pw", "metaData": "[1]"}),
            "metaData array",
        ),
        (
            json!({"username": "carol", "password": "pw", "hashedPassword": true}),
            "hashed passwords",
        ),
    ] {
        let reply = post(server, "/users", &body);
        assert_eq!(reply.status, 400, "{why}: {}", reply.body);
        assert_eq!(
            reply.body["code"], "InputValidationError",
            "{why}: {}",
            reply.body
        );
    }
    // Malformed or non-object JSON is a 400 too, never a 500.
    for raw in [&b"{\"username\": "[..], b"[1,2]", b"\xff\xfe", b"null"] {
        let reply = http(server.api_port, "POST", "/users", Some(raw), &[]);
        assert_error(&reply, 400, "InputValidationError");
    }
    // Duplicates: same username (in another case), or another user's address.
    let dup = post(
        server,
        "/users",
        &json!({"username": "BOB", "password": "pw"}),
    );
    assert_error(&dup, 400, "UserExistsError");
    let dup = post(
        server,
        "/users",
        &json!({"username": "bobby", "password": "pw", "address": "B.O.B+x@Example.com"}),
    );
    assert_error(&dup, 400, "UserExistsError");

    let missing = get(server, "/users/0123456789abcdef01234567");
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.body,
        json!({"error": "This user does not exist", "code": "UserNotFound"})
    );
    for bad in ["xyz", "0123456789abcdef0123456", "0123456789abcdef0123456g"] {
        assert_error(
            &get(server, &format!("/users/{bad}")),
            400,
            "InputValidationError",
        );
    }
    assert_error(&get(server, "/no/such/route"), 404, "ResourceNotFound");
    let health = get(server, "/health");
    assert_eq!(health.status, 200);
    assert_eq!(health.body["success"], true);
    assert!(health.body["version"].is_string());
});

#[test]
fn access_token_and_body_limit() {
    let server = Server::start_with(
        Backend::Sqlite,
        &[
            ("EIDER_API_ACCESS_TOKEN", "secret"),
            ("EIDER_API_MAX_BODY_SIZE", "1024"),
        ],
    )
    .unwrap();
    let port = server.api_port;
    for headers in [
        &[][..],
        &["X-Access-Token: wrong"][..],
        &["Authorization: Bearer nope"][..],
    ] {
        let reply = http(port, "GET", "/health", None, headers);
        assert_eq!(reply.status, 403, "{headers:?}");
        assert_eq!(
            reply.body,
            json!({"error": "Invalid accessToken value", "code": "InvalidToken"})
        );
    }
    assert_error(
        &http(port, "GET", "/health?accessToken=wrong", None, &[]),
        403,
        "InvalidToken",
    );
    for (path, headers) in [
        ("/health", &["X-Access-Token: secret"][..]),
        ("/health?accessToken=secret", &[][..]),
        ("/health", &["Authorization: Bearer secret"][..]),
    ] {
        let reply = http(port, "GET", path, None, headers);
        assert_eq!(reply.status, 200, "{path} {headers:?}: {}", reply.body);
        assert_eq!(reply.body["success"], true);
    }
    // Protected routes too, and the token does not leak into validation.
    let body = json!({"username": "dora", "password": "pw"}).to_string();
    let denied = http(port, "POST", "/users", Some(body.as_bytes()), &[]);
    assert_error(&denied, 403, "InvalidToken");
    let created = http(
        port,
        "POST",
        "/users?accessToken=secret",
        Some(body.as_bytes()),
        &[],
    );
    assert_eq!(created.status, 200, "{}", created.body);
    // Bodies over api.max_body_size are refused with a JSON error.
    let big = json!({"username": "erin", "password": "pw", "name": "x".repeat(2000)}).to_string();
    let reply = http(
        port,
        "POST",
        "/users",
        Some(big.as_bytes()),
        &["X-Access-Token: secret"],
    );
    assert_error(&reply, 413, "PayloadTooLarge");
}

/// The API on a non-loopback address without `api.access_token` would be open to anyone who can
/// reach it: the server refuses to start. With a token it starts.
#[test]
fn refuses_open_api_on_a_public_address() {
    let dir = tempfile::tempdir().unwrap();
    let start = |token: &str, api_port: u16| {
        std::process::Command::new(env!("CARGO_BIN_EXE_eider"))
            .arg("serve")
            .env("EIDER_DATA_DIR", dir.path())
            .env("EIDER_API_LISTEN", format!("0.0.0.0:{api_port}"))
            .env("EIDER_API_ACCESS_TOKEN", token)
            .env(
                "EIDER_IMAP_LISTEN",
                format!("127.0.0.1:{}", common::free_port()),
            )
            .env(
                "EIDER_LMTP_LISTEN",
                format!("127.0.0.1:{}", common::free_port()),
            )
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let refused = start("", common::free_port()).wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{err}");
    assert!(
        err.contains("refusing to start") && err.contains("api.access_token is empty"),
        "{err}"
    );
    // With a token it serves.
    let port = common::free_port();
    let mut child = start("a-root-token", port);
    let mut live = None;
    for _ in 0..600 {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("exited: {status:?}");
        }
        let reply = http(port, "GET", "/health/live", None, &[]);
        if reply.status == 200 {
            live = Some(reply);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(live.is_some(), "the API never answered");
}
