//! Property-based testing of the API against its own `/openapi.json` with schemathesis (PyPI,
//! installed by `.ci/run`): no generated request may get a 5xx answer, an undocumented status or a
//! body that breaks the document. Bounded: a few examples per operation, a fixed seed.

mod common;

use common::{Backend, LineClient, Server, api_request, skipped};
use std::process::Command;

const ROOT_TOKEN: &str = "schemathesis-root-token";

#[test]
fn api_conforms_to_its_openapi_document() {
    let found = Command::new("schemathesis").arg("--version").output();
    if !found.is_ok_and(|o| o.status.success()) {
        skipped("schemathesis is not installed (pip install schemathesis; .ci/run does)");
        return;
    }
    // The API logic is the same on both stores; SQLite keeps this run short.
    let server = Server::start_with(Backend::Sqlite, &[("EIDER_API_ACCESS_TOKEN", ROOT_TOKEN)])
        .expect("server starts");
    // Something to find: a user with an address, so lookups exercise more than "not found".
    let user = server.add_user("fuzz", "pw-fuzz", "fuzz@example.com");
    let base = format!("http://127.0.0.1:{}", server.api_port);
    // Path ids that exist, so generated requests reach the handlers past "no such user/mailbox".
    let mailboxes = api_request(
        server.api_port,
        "GET",
        &format!("/users/{user}/mailboxes?accessToken={ROOT_TOKEN}"),
        None,
    );
    let inbox = mailboxes.body["results"][0]["id"]
        .as_str()
        .expect("INBOX id")
        .to_string();
    // A message with an attachment as UID 1, for the message routes.
    let mut lmtp = LineClient::connect(server.lmtp_port);
    lmtp.line();
    lmtp.send(b"LHLO x\r\n");
    lmtp.until("250 ");
    lmtp.send(b"MAIL FROM:<s@example.org>\r\nRCPT TO:<fuzz@example.com>\r\nDATA\r\n");
    lmtp.line();
    lmtp.line();
    lmtp.line();
    lmtp.send(
        b"Subject: fuzz\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Type: text/html\r\n\r\n<p>hi</p>\r\n--b\r\nContent-Type: application/pdf; name=a.pdf\r\n\
Content-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--b--\r\n.\r\n",
    );
    assert!(lmtp.line().starts_with("250 "));
    std::fs::write(
        server.dir.path().join("schemathesis.toml"),
        format!(
            "[parameters]\n\"path.user\" = \"{user}\"\n\"path.mailbox\" = \"{inbox}\"\n\
             \"path.message\" = 1\n\"path.attachment\" = \"ATT00001\"\n"
        ),
    )
    .unwrap();
    let out = Command::new("schemathesis")
        .args(["run", &format!("{base}/openapi.json"), "--url", &base])
        .args(["--header", &format!("X-Access-Token: {ROOT_TOKEN}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        ])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", "15", "--seed", "1", "--workers", "2"])
        // Deleting the one user would turn the rest of the run into 404s.
        .args(["--exclude-operation-id", "deleteUser"])
        // Fuzzing repeats until the time budget is spent: this bounds the whole run.
        .args(["--request-timeout", "10", "--max-time", "90"])
        .env("SCHEMATHESIS_HOOKS", "")
        .env("NO_COLOR", "1")
        .current_dir(server.dir.path())
        .output()
        .expect("run schemathesis");
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{report}\n--- server log ---\n{}",
        server.log()
    );
    assert!(report.contains("passed"), "{report}");
}
