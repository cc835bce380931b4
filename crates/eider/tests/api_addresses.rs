//! Addresses, forwarded addresses, domain aliases, the address register, autoreplies and filters
//! over the real HTTP API, and where LMTP delivers for each kind of address (checked over IMAP).

mod common;

use common::{ApiReply, LineClient, Server, api_request, inbox_count};
use serde_json::{Value, json};

fn get(s: &Server, path: &str) -> ApiReply {
    api_request(s.api_port, "GET", path, None)
}

fn send(s: &Server, method: &str, path: &str, body: Value) -> ApiReply {
    api_request(s.api_port, method, path, Some(&body.to_string()))
}

fn delete(s: &Server, path: &str) -> ApiReply {
    api_request(s.api_port, "DELETE", path, None)
}

#[track_caller]
fn ok(reply: ApiReply) -> Value {
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["success"], true, "{}", reply.body);
    reply.body
}

#[track_caller]
fn error(reply: ApiReply, status: u16, code: &str, message: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.body["code"], code, "{}", reply.body);
    let text = reply.body["error"].as_str().unwrap_or_default();
    assert!(text.contains(message), "{text:?} lacks {message:?}");
}

fn create_user(s: &Server, username: &str, address: &str) -> String {
    let body = ok(send(
        s,
        "POST",
        "/users",
        json!({ "username": username, "password": "pw-secret", "address": address, "name": username }),
    ));
    body["id"].as_str().unwrap().to_string()
}

/// One LMTP transaction per recipient; returns the RCPT reply (and the DATA reply if accepted).
fn deliver(s: &Server, rcpt: &str, from: &str) -> String {
    let mut c = LineClient::connect(s.lmtp_port);
    c.line();
    c.send(b"LHLO test.example\r\n");
    c.until("250 ");
    c.send(b"MAIL FROM:<sender@remote.example>\r\n");
    assert_eq!(c.line(), "250 2.1.0 OK\r\n");
    c.send(format!("RCPT TO:<{rcpt}>\r\n").as_bytes());
    let reply = c.line();
    if !reply.starts_with("250") {
        return reply;
    }
    c.send(b"DATA\r\n");
    assert!(c.line().starts_with("354"));
    c.send(format!("From: {from}\r\nSubject: to {rcpt}\r\n\r\nhello\r\n.\r\n").as_bytes());
    let data = c.line();
    format!("{reply}{data}")
}

#[track_caller]
fn delivered(s: &Server, rcpt: &str) {
    let reply = deliver(s, rcpt, "Sender <sender@remote.example>");
    assert_eq!(
        reply,
        format!("250 2.1.5 <{rcpt}> OK\r\n250 2.0.0 <{rcpt}> delivered\r\n")
    );
}

both_stores!(user_addresses, |s: &Server| {
    let alice = create_user(s, "alice", "alice@example.com");
    let base = format!("/users/{alice}/addresses");
    let second = ok(send(
        s,
        "POST",
        &base,
        json!({ "address": "Alice.Smith@Example.COM", "name": "Alice S", "tags": ["Work", "b", "work"], "metaData": {"k": 1} }),
    ))["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(second.len(), 24);

    let list = ok(get(s, &base));
    let results = list["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{list}");
    assert_eq!(results[0]["address"], "alice@example.com");
    assert_eq!(results[0]["main"], true);
    assert_eq!(results[0]["name"], "alice");
    assert_eq!(results[1]["address"], "Alice.Smith@example.com");
    assert_eq!(results[1]["main"], false);
    assert_eq!(results[1]["name"], "Alice S");
    assert_eq!(results[1]["tags"], json!(["b", "Work"]));
    assert!(results[1].get("metaData").is_none(), "{list}");
    let with_meta = ok(get(s, &format!("{base}?metaData=true")));
    assert_eq!(with_meta["results"][1]["metaData"], json!({"k": 1}));

    let one = ok(get(s, &format!("{base}/{second}")));
    assert_eq!(one["id"], second.as_str());
    assert_eq!(one["metaData"], json!({"k": 1}));
    assert!(one["created"].as_str().unwrap().ends_with('Z'));

    // Validation and WildDuck's error codes.
    error(
        send(
            s,
            "POST",
            &base,
            json!({ "address": "alicesmith@example.com" }),
        ),
        400,
        "AddressExistsError",
        "already exists",
    );
    error(
        send(s, "POST", &base, json!({ "address": "a+b@example.com" })),
        400,
        "InputValidationError",
        "can not contain +",
    );
    error(
        send(s, "POST", &base, json!({ "address": "*@example.com" })),
        400,
        "InputValidationError",
        "can not contain *",
    );
    error(
        send(
            s,
            "POST",
            &base,
            json!({ "address": "a*b@example.com", "allowWildcard": true }),
        ),
        400,
        "InputValidationError",
        "Invalid wildcard",
    );
    error(
        send(
            s,
            "POST",
            &base,
            json!({ "address": "*@example.com", "allowWildcard": true, "main": true }),
        ),
        400,
        "InputValidationError",
        "Main address can not contain *",
    );
    error(
        send(s, "POST", &base, json!({ "name": "x" })),
        400,
        "InputValidationError",
        "\"address\" is required",
    );
    error(
        send(s, "POST", &base, json!({ "address": 5 })),
        400,
        "InputValidationError",
        "must be a string",
    );
    error(
        send(
            s,
            "POST",
            &base,
            json!({ "address": "x@example.com", "tags": "x" }),
        ),
        400,
        "InputValidationError",
        "must be an array",
    );
    error(
        send(
            s,
            "POST",
            &base,
            json!({ "address": format!("{}@example.com", "a".repeat(250)) }),
        ),
        400,
        "InputValidationError",
        "less than or equal to 255",
    );
    error(
        send(
            s,
            "POST",
            &base,
            json!({ "address": "x@example.com", "metaData": "[1]" }),
        ),
        400,
        "InputValidationError",
        "metaData",
    );
    error(
        api_request(s.api_port, "POST", &base, Some("{bad")),
        400,
        "InputValidationError",
        "Invalid JSON",
    );
    error(
        get(s, "/users/nothex/addresses"),
        400,
        "InputValidationError",
        "24 character",
    );
    error(
        get(s, "/users/0123456789abcdef01234567/addresses"),
        404,
        "UserNotFound",
        "does not exist",
    );
    error(
        get(s, &format!("{base}/0123456789abcdef01234567")),
        404,
        "AddressNotFound",
        "unknown",
    );
    error(
        get(s, &format!("{base}/xyz")),
        400,
        "InputValidationError",
        "24 character",
    );

    let wildcard = ok(send(
        s,
        "POST",
        &base,
        json!({ "address": "*@Wild.Example", "allowWildcard": true }),
    ))["id"]
        .as_str()
        .unwrap()
        .to_string();
    error(
        send(
            s,
            "PUT",
            &format!("{base}/{wildcard}"),
            json!({ "address": "x@example.com" }),
        ),
        400,
        "ChangeNotAllowed",
        "special address",
    );
    error(
        send(
            s,
            "PUT",
            &format!("{base}/{wildcard}"),
            json!({ "main": true }),
        ),
        400,
        "WildcardNotPermitted",
        "wildcard",
    );

    // Main address: switching moves it, unsetting is refused, the main one cannot be deleted.
    ok(send(
        s,
        "PUT",
        &format!("{base}/{second}"),
        json!({ "main": true, "name": "Renamed", "tags": ["z"] }),
    ));
    let user = ok(get(s, &format!("/users/{alice}")));
    assert_eq!(user["address"], "Alice.Smith@example.com");
    let one = ok(get(s, &format!("{base}/{second}")));
    assert_eq!(
        (one["name"].as_str(), one["main"].as_bool()),
        (Some("Renamed"), Some(true))
    );
    assert_eq!(one["tags"], json!(["z"]));
    error(
        send(
            s,
            "PUT",
            &format!("{base}/{second}"),
            json!({ "main": false }),
        ),
        400,
        "InputValidationError",
        "Cannot unset main",
    );
    error(
        delete(s, &format!("{base}/{second}")),
        400,
        "NotPermitted",
        "main address",
    );
    ok(send(
        s,
        "PUT",
        &format!("{base}/{second}"),
        json!({ "address": "alice.smith2@example.com" }),
    ));
    assert_eq!(
        ok(get(s, &format!("{base}/{second}")))["address"],
        "alice.smith2@example.com"
    );
    ok(delete(s, &format!("{base}/{wildcard}")));
    error(
        get(s, &format!("{base}/{wildcard}")),
        404,
        "AddressNotFound",
        "unknown",
    );

    // IDN: stored in Unicode, found in both forms; EAI local parts accepted.
    let idn = ok(send(
        s,
        "POST",
        &base,
        json!({ "address": "Anna@xn--bcher-kva.example" }),
    ))["id"]
        .clone();
    assert_eq!(
        ok(get(s, &format!("{base}/{}", idn.as_str().unwrap())))["address"],
        "Anna@bücher.example"
    );
    let resolved = ok(get(s, "/addresses/resolve/anna@B%C3%BCcher.example"));
    assert_eq!(resolved["id"], idn);
    assert_eq!(resolved["user"], alice.as_str());
    assert_eq!(
        ok(get(s, "/addresses/resolve/anna@xn--bcher-kva.example"))["id"],
        idn
    );
    ok(send(
        s,
        "POST",
        &base,
        json!({ "address": "jösé@example.com" }),
    ));
    error(
        get(s, "/addresses/resolve/nobody@example.com"),
        404,
        "AddressNotFound",
        "unknown",
    );
    error(
        get(s, "/addresses/resolve/not-an-id"),
        400,
        "InputValidationError",
        "24 character",
    );
    assert_eq!(
        ok(get(s, &format!("/addresses/resolve/{second}")))["address"],
        "alice.smith2@example.com"
    );
});

both_stores!(listing_forwarded_rename, |s: &Server| {
    let alice = create_user(s, "alice", "alice@example.com");
    let bob = create_user(s, "bob", "bob@old.example");
    for (i, tag) in ["red", "green", "blue"].iter().enumerate() {
        ok(send(
            s,
            "POST",
            &format!("/users/{alice}/addresses"),
            json!({ "address": format!("a{i}@example.com"), "tags": [tag, "all"] }),
        ));
    }
    // Query, tags and required tags.
    let all = ok(get(s, "/addresses"));
    assert_eq!(all["total"], 5);
    assert_eq!(all["page"], 1);
    assert_eq!(all["previousCursor"], false);
    assert_eq!(all["nextCursor"], false);
    assert_eq!(all["query"], "");
    let first = &all["results"][0];
    assert_eq!(first["address"], "a0@example.com");
    assert_eq!(first["user"], alice.as_str());
    assert_eq!(first["forwarded"], false);
    assert_eq!(first["forwardedDisabled"], false);
    assert_eq!(
        ok(get(s, "/addresses?query=OLD.example"))["results"][0]["user"],
        bob.as_str()
    );
    assert_eq!(ok(get(s, "/addresses?tags=RED,blue"))["total"], 2);
    assert_eq!(ok(get(s, "/addresses?requiredTags=red,all"))["total"], 1);
    error(
        get(s, "/addresses?limit=0"),
        400,
        "InputValidationError",
        "greater than or equal to 1",
    );
    error(
        get(s, "/addresses?limit=x"),
        400,
        "InputValidationError",
        "must be a number",
    );
    error(
        get(s, "/addresses?next=zz"),
        400,
        "InputValidationError",
        "cursor",
    );

    // Paging forwards and back.
    let p1 = ok(get(s, "/addresses?limit=2"));
    let names = |v: &Value| -> Vec<String> {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["address"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&p1), ["a0@example.com", "a1@example.com"]);
    let next = p1["nextCursor"].as_str().unwrap().to_string();
    let p2 = ok(get(s, &format!("/addresses?limit=2&next={next}")));
    assert_eq!(p2["page"], 2);
    assert_eq!(names(&p2), ["a2@example.com", "alice@example.com"]);
    let p3 = ok(get(
        s,
        &format!(
            "/addresses?limit=2&next={}",
            p2["nextCursor"].as_str().unwrap()
        ),
    ));
    assert_eq!(names(&p3), ["bob@old.example"]);
    assert_eq!(p3["nextCursor"], false);
    let back = ok(get(
        s,
        &format!(
            "/addresses?limit=2&previous={}",
            p3["previousCursor"].as_str().unwrap()
        ),
    ));
    assert_eq!(names(&back), names(&p2));
    let back = ok(get(
        s,
        &format!(
            "/addresses?limit=2&previous={}",
            back["previousCursor"].as_str().unwrap()
        ),
    ));
    assert_eq!(names(&back), names(&p1));
    assert_eq!(back["previousCursor"], false);

    // Forwarded addresses.
    let fwd = ok(send(s, "POST", "/addresses/forwarded", json!({
        "address": "Team@Example.com",
        "name": "The team",
        "targets": ["alice@example.com", "smtp://mx.remote.example:25", "https://hooks.example/in"],
        "forwards": 10,
        "tags": ["ops"],
        "autoreply": { "status": true, "subject": "Away", "text": "Back soon", "start": "2026-01-01T00:00:00Z", "end": false },
    })))["id"].as_str().unwrap().to_string();
    let got = ok(get(s, &format!("/addresses/forwarded/{fwd}")));
    assert_eq!(got["address"], "Team@example.com");
    assert_eq!(got["name"], "The team");
    assert_eq!(
        got["targets"],
        json!([
            "alice@example.com",
            "smtp://mx.remote.example:25",
            "https://hooks.example/in"
        ])
    );
    assert_eq!(
        got["limits"],
        json!({ "forwards": { "allowed": 10, "used": 0, "ttl": false } })
    );
    assert_eq!(
        got["autoreply"],
        json!({ "status": true, "subject": "Away", "text": "Back soon", "start": "2026-01-01T00:00:00.000Z", "end": false })
    );
    assert_eq!(got["tags"], json!(["ops"]));
    assert_eq!(got["forwardedDisabled"], false);
    let listed = ok(get(s, "/addresses?forward=hooks.example"));
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["results"][0]["forwarded"], true);
    assert!(listed["results"][0].get("user").is_none());
    error(
        send(
            s,
            "POST",
            "/addresses/forwarded",
            json!({ "address": "loop@example.com", "targets": ["l.oop@example.com"] }),
        ),
        400,
        "InputValidationError",
        "Can not forward to self",
    );
    error(
        send(
            s,
            "POST",
            "/addresses/forwarded",
            json!({ "address": "bad@example.com", "targets": ["nowhere"] }),
        ),
        400,
        "InputValidationError",
        "Unknown target type",
    );
    error(
        send(
            s,
            "POST",
            "/addresses/forwarded",
            json!({ "address": "n@example.com", "forwards": -1 }),
        ),
        400,
        "InputValidationError",
        "greater than or equal to 0",
    );
    error(
        send(
            s,
            "POST",
            "/addresses/forwarded",
            json!({ "address": "team@example.com" }),
        ),
        400,
        "AddressExistsError",
        "already exists",
    );
    error(
        send(
            s,
            "POST",
            "/addresses/forwarded",
            json!({ "address": "n@example.com", "autoreply": { "start": "never" } }),
        ),
        400,
        "InputValidationError",
        "valid date",
    );
    ok(send(
        s,
        "PUT",
        &format!("/addresses/forwarded/{fwd}"),
        json!({ "targets": ["alice@example.com"], "forwardedDisabled": true, "forwards": 3 }),
    ));
    let got = ok(get(s, &format!("/addresses/forwarded/{fwd}")));
    assert_eq!(got["targets"], json!(["alice@example.com"]));
    assert_eq!(got["forwardedDisabled"], true);
    assert_eq!(got["limits"]["forwards"]["allowed"], 3);
    let resolved = ok(get(s, "/addresses/resolve/team@example.com"));
    assert_eq!(resolved["targets"], json!(["alice@example.com"]));
    error(
        get(s, &format!("/addresses/forwarded/{alice}")),
        404,
        "AddressNotFound",
        "unknown",
    );
    ok(delete(s, &format!("/addresses/forwarded/{fwd}")));
    error(
        get(s, &format!("/addresses/forwarded/{fwd}")),
        404,
        "AddressNotFound",
        "unknown",
    );
    error(
        delete(s, &format!("/addresses/forwarded/{fwd}")),
        404,
        "AddressNotFound",
        "unknown",
    );

    // Wildcards resolve only when asked to.
    ok(send(
        s,
        "POST",
        &format!("/users/{bob}/addresses"),
        json!({ "address": "*@old.example", "allowWildcard": true }),
    ));
    error(
        get(s, "/addresses/resolve/anyone@old.example"),
        404,
        "AddressNotFound",
        "unknown",
    );
    assert_eq!(
        ok(get(
            s,
            "/addresses/resolve/anyone@old.example?allowWildcard=true"
        ))["address"],
        "*@old.example"
    );
    assert_eq!(
        ok(get(s, "/addresses/resolve/*@old.example"))["user"],
        bob.as_str()
    );

    // Renaming a domain moves addresses (the wildcard too), users' main addresses and aliases.
    ok(send(
        s,
        "POST",
        "/domainaliases",
        json!({ "alias": "alias.example", "domain": "old.example" }),
    ));
    let renamed = ok(send(
        s,
        "PUT",
        "/addresses/renameDomain",
        json!({ "oldDomain": "old.example", "newDomain": "New.Example" }),
    ));
    assert_eq!(renamed["modifiedAddresses"], 2);
    assert_eq!(renamed["modifiedUsers"], 1);
    assert_eq!(renamed["modifiedAliases"], 1);
    assert_eq!(renamed["modifiedDkim"], 0);
    assert_eq!(
        ok(get(s, &format!("/users/{bob}")))["address"],
        "bob@new.example"
    );
    assert_eq!(
        ok(get(s, "/domainaliases"))["results"][0]["domain"],
        "new.example"
    );
    error(
        send(
            s,
            "PUT",
            "/addresses/renameDomain",
            json!({ "oldDomain": "x.example" }),
        ),
        400,
        "InputValidationError",
        "\"newDomain\" is required",
    );
});

both_stores!(lmtp_delivery, |s: &Server| {
    let alice = create_user(s, "alice", "alice@example.com");
    let bob = create_user(s, "bob", "bob@example.com");
    let carol = create_user(s, "carol", "carol@example.com");
    let dave = create_user(s, "dave", "dave@bücher.example");
    let add = |user: &str, address: &str| {
        ok(send(
            s,
            "POST",
            &format!("/users/{user}/addresses"),
            json!({ "address": address, "allowWildcard": true }),
        ));
    };
    add(&alice, "a.lias@example.com");
    add(&bob, "*@catchall.example");
    add(&bob, "*-sales@example.com");
    add(&carol, "*@example.com");
    add(&carol, "help@*");
    add(&dave, "jösé@example.com");
    ok(send(
        s,
        "POST",
        "/domainaliases",
        json!({ "alias": "Alias.Example", "domain": "example.com" }),
    ));
    ok(send(
        s,
        "POST",
        "/addresses/forwarded",
        json!({ "address": "team@example.com", "targets": ["alice@example.com", "B.O.B@example.com"] }),
    ));
    ok(send(
        s,
        "POST",
        "/addresses/forwarded",
        json!({ "address": "ext@example.com", "targets": ["alice@example.com", "someone@remote.example"] }),
    ));
    ok(send(
        s,
        "POST",
        "/addresses/forwarded",
        json!({ "address": "off@example.com", "targets": ["alice@example.com"], "forwardedDisabled": true }),
    ));

    delivered(s, "alias@example.com"); // alias, dots folded
    delivered(s, "A.Lias+tag@example.com"); // +label
    delivered(s, "anyone@catchall.example"); // *@domain
    delivered(s, "north-sales@example.com"); // *suffix beats *@domain
    delivered(s, "random@example.com"); // *@domain
    delivered(s, "carol@alias.example"); // domain alias
    delivered(s, "help@anything.example"); // user@*
    delivered(s, "team@example.com"); // forwarded to alice and bob
    delivered(s, "dave@xn--bcher-kva.example"); // IDN, ASCII form
    delivered(s, "Dave@Bücher.Example"); // IDN, Unicode form
    delivered(s, "jösé@example.com"); // EAI, exact beats *@example.com
    assert_eq!(
        deliver(s, "ext@example.com", "x@remote.example"),
        "550 5.7.1 <ext@example.com>: forwarding to external targets is not configured\r\n"
    );
    assert_eq!(
        deliver(s, "off@example.com", "x@remote.example"),
        "550 5.7.1 <off@example.com>: forwarding is disabled for this address\r\n"
    );
    assert_eq!(
        deliver(s, "someone@nowhere.example", "x@remote.example"),
        "550 5.1.1 <someone@nowhere.example>: user unknown\r\n"
    );

    let count = |login: &str| inbox_count(s.imap_port, login, "pw-secret");
    assert_eq!(count("alice"), 3); // alias, +label, team
    assert_eq!(count("bob"), 3); // catchall, -sales, team
    assert_eq!(count("carol"), 3); // *@example.com, domain alias, help@*
    assert_eq!(count("dave"), 3); // two IDN forms, EAI

    // The sender landed in the address register; a disabled entry is no longer listed.
    let reg = ok(get(s, &format!("/users/{alice}/addressregister?query=SEN")));
    assert_eq!(reg["results"].as_array().unwrap().len(), 1, "{reg}");
    assert_eq!(reg["results"][0]["address"], "sender@remote.example");
    assert_eq!(reg["results"][0]["name"], "Sender");
    let entry = reg["results"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        ok(get(
            s,
            &format!("/users/{alice}/addressregister?query=send")
        ))["results"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(
        ok(get(s, &format!("/users/{alice}/addressregister?query=zzz")))["results"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    error(
        get(s, &format!("/users/{alice}/addressregister")),
        400,
        "InputValidationError",
        "\"query\" is required",
    );
    error(
        send(
            s,
            "PUT",
            &format!("/users/{alice}/addressregister/{entry}"),
            json!({}),
        ),
        400,
        "InputValidationError",
        "\"disabled\" is required",
    );
    ok(send(
        s,
        "PUT",
        &format!("/users/{alice}/addressregister/{entry}"),
        json!({ "disabled": true, "name": "S" }),
    ));
    assert!(
        ok(get(s, &format!("/users/{alice}/addressregister?query=sen")))["results"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    error(
        send(
            s,
            "PUT",
            &format!("/users/{alice}/addressregister/{bob}"),
            json!({ "disabled": true }),
        ),
        404,
        "AddressNotFound",
        "unknown",
    );
});

both_stores!(domain_aliases_autoreply_filters, |s: &Server| {
    // Domain aliases.
    let id = ok(send(
        s,
        "POST",
        "/domainaliases",
        json!({ "alias": "xn--bcher-kva.example", "domain": "Example.com" }),
    ))["id"]
        .as_str()
        .unwrap()
        .to_string();
    let got = ok(get(s, &format!("/domainaliases/{id}")));
    assert_eq!(
        (got["alias"].as_str(), got["domain"].as_str()),
        (Some("bücher.example"), Some("example.com"))
    );
    assert!(got["created"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        ok(get(s, "/domainaliases/resolve/B%C3%BCcher.example"))["id"],
        id.as_str()
    );
    assert_eq!(
        ok(get(s, "/domainaliases/resolve/xn--bcher-kva.example"))["id"],
        id.as_str()
    );
    error(
        send(
            s,
            "POST",
            "/domainaliases",
            json!({ "alias": "bücher.example", "domain": "other.example" }),
        ),
        400,
        "AliasExists",
        "already exists",
    );
    error(
        send(s, "POST", "/domainaliases", json!({ "alias": "x.example" })),
        400,
        "InputValidationError",
        "\"domain\" is required",
    );
    error(
        send(
            s,
            "POST",
            "/domainaliases",
            json!({ "alias": "same.example", "domain": "same.example" }),
        ),
        400,
        "InputValidationError",
        "different",
    );
    error(
        get(s, "/domainaliases/resolve/unknown.example"),
        404,
        "AliasNotFound",
        "unknown alias",
    );
    error(
        get(s, "/domainaliases/0123456789abcdef01234567"),
        404,
        "AliasNotFound",
        "does not exist",
    );
    error(
        get(s, "/domainaliases/zz"),
        400,
        "InputValidationError",
        "24 character",
    );
    ok(send(
        s,
        "POST",
        "/domainaliases",
        json!({ "alias": "a.example", "domain": "example.com" }),
    ));
    let list = ok(get(s, "/domainaliases?limit=1"));
    assert_eq!(list["total"], 2);
    assert_eq!(
        list["results"],
        json!([{ "id": list["results"][0]["id"], "alias": "a.example", "domain": "example.com" }])
    );
    let page2 = ok(get(
        s,
        &format!(
            "/domainaliases?limit=1&next={}",
            list["nextCursor"].as_str().unwrap()
        ),
    ));
    assert_eq!(page2["results"][0]["alias"], "bücher.example");
    assert_eq!(ok(get(s, "/domainaliases?query=b%C3%BC"))["total"], 1);
    ok(delete(s, &format!("/domainaliases/{id}")));
    error(
        delete(s, &format!("/domainaliases/{id}")),
        404,
        "AliasNotFound",
        "does not exist",
    );

    // Autoreply.
    let user = create_user(s, "erin", "erin@example.com");
    let path = format!("/users/{user}/autoreply");
    let none = ok(get(s, &path));
    assert_eq!(
        none,
        json!({ "success": true, "status": false, "name": "", "subject": "", "text": "", "html": "", "start": false, "end": false })
    );
    let ar = ok(send(
        s,
        "PUT",
        &path,
        json!({ "status": true, "name": "Erin", "subject": "Away", "text": "Gone", "html": "<p>Gone</p>", "start": "2026-02-01T10:00:00Z", "end": "2026-02-10T10:00:00+02:00" }),
    ));
    let ar_id = ar["id"].as_str().unwrap().to_string();
    let got = ok(get(s, &path));
    assert_eq!(got["status"], true);
    assert_eq!(got["subject"], "Away");
    assert_eq!(got["html"], "<p>Gone</p>");
    assert_eq!(got["start"], "2026-02-01T10:00:00.000Z");
    assert_eq!(got["end"], "2026-02-10T08:00:00.000Z");
    // A partial update keeps the other fields and the id.
    assert_eq!(
        ok(send(
            s,
            "PUT",
            &path,
            json!({ "status": "no", "end": false })
        ))["id"],
        ar_id.as_str()
    );
    let got = ok(get(s, &path));
    assert_eq!(
        (
            got["status"].as_bool(),
            got["end"].as_bool(),
            got["subject"].as_str()
        ),
        (Some(false), Some(false), Some("Away"))
    );
    error(
        send(s, "PUT", &path, json!({ "status": "maybe" })),
        400,
        "InputValidationError",
        "must be a boolean",
    );
    error(
        send(s, "PUT", &path, json!({ "subject": "x".repeat(2049) })),
        400,
        "InputValidationError",
        "2048",
    );
    error(
        send(
            s,
            "PUT",
            &path,
            json!({ "start": "2026-03-01T00:00:00Z", "end": "2026-02-01T00:00:00Z" }),
        ),
        400,
        "InputValidationError",
        "later",
    );
    error(
        get(s, "/users/0123456789abcdef01234567/autoreply"),
        404,
        "UserNotFound",
        "",
    );
    ok(delete(s, &path));
    assert_eq!(ok(get(s, &path))["status"], false);

    // Filters.
    let base = format!("/users/{user}/filters");
    let f1 = ok(send(s, "POST", &base, json!({
        "name": "Boss",
        "query": { "from": "boss", "ha": true, "size": -1000 },
        "action": { "seen": true, "mailbox": "0123456789ABCDEF01234567", "targets": ["x@remote.example"] },
        "metaData": { "m": 1 },
    })))["id"].as_str().unwrap().to_string();
    let got = ok(get(s, &format!("{base}/{f1}")));
    assert_eq!(got["name"], "Boss");
    assert_eq!(
        got["query"],
        json!({ "from": "boss", "ha": true, "size": -1000 })
    );
    assert_eq!(
        got["action"],
        json!({ "seen": true, "mailbox": "0123456789abcdef01234567", "targets": ["x@remote.example"] })
    );
    assert_eq!(got["disabled"], false);
    assert_eq!(got["metaData"], json!({ "m": 1 }));
    let list = ok(get(s, &base));
    assert_eq!(list["limits"], json!({ "allowed": 400, "used": 1 }));
    assert_eq!(
        list["results"][0]["query"],
        json!([["from", "boss"], ["ha", "true"], ["size", -1000]])
    );
    assert_eq!(list["results"][0]["originalAction"]["seen"], true);
    ok(send(
        s,
        "PUT",
        &format!("{base}/{f1}"),
        json!({ "disabled": true, "query": { "subject": "hi" } }),
    ));
    let got = ok(get(s, &format!("{base}/{f1}")));
    assert_eq!(
        (got["disabled"].as_bool(), got["query"].clone()),
        (Some(true), json!({ "subject": "hi" }))
    );
    error(
        send(s, "POST", &base, json!({ "action": {} })),
        400,
        "InputValidationError",
        "\"query\" is required",
    );
    error(
        send(
            s,
            "POST",
            &base,
            json!({ "query": {}, "action": { "bogus": 1 } }),
        ),
        400,
        "InputValidationError",
        "\"action.bogus\" is not allowed",
    );
    error(
        send(
            s,
            "POST",
            &base,
            json!({ "query": { "ha": "perhaps" }, "action": {} }),
        ),
        400,
        "InputValidationError",
        "\"ha\" must be a boolean",
    );
    error(
        send(
            s,
            "POST",
            &base,
            json!({ "query": {}, "action": { "mailbox": "inbox" } }),
        ),
        400,
        "InputValidationError",
        "24 character",
    );
    error(
        send(
            s,
            "POST",
            &base,
            json!({ "query": {}, "action": { "targets": ["nowhere"] } }),
        ),
        400,
        "InputValidationError",
        "Unknown target type",
    );
    error(
        get(s, &format!("{base}/0123456789abcdef01234567")),
        404,
        "FilterNotFound",
        "",
    );
    error(
        get(s, "/users/0123456789abcdef01234567/filters"),
        404,
        "UserNotFound",
        "",
    );
    let other = create_user(s, "frank", "frank@example.com");
    ok(send(
        s,
        "POST",
        &format!("/users/{other}/filters"),
        json!({ "query": { "to": "list" }, "action": { "delete": true } }),
    ));
    error(
        get(s, &format!("/users/{other}/filters/{f1}")),
        404,
        "FilterNotFound",
        "",
    );
    let all = ok(get(s, "/filters?limit=1"));
    assert_eq!(all["total"], 2);
    assert_eq!(all["results"][0]["user"], user.as_str());
    assert_eq!(all["results"][0]["targets"], json!(["x@remote.example"]));
    let next = ok(get(
        s,
        &format!(
            "/filters?limit=1&next={}",
            all["nextCursor"].as_str().unwrap()
        ),
    ));
    assert_eq!(next["results"][0]["user"], other.as_str());
    assert_eq!(ok(get(s, "/filters?forward=remote.example"))["total"], 1);
    ok(delete(s, &format!("{base}/{f1}")));
    error(
        delete(s, &format!("{base}/{f1}")),
        404,
        "FilterNotFound",
        "",
    );
});

both_stores!(openapi_document, |s: &Server| {
    let doc = get(s, "/openapi.json");
    assert_eq!(doc.status, 200);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc.body["paths"].as_object().unwrap();
    for p in [
        "/addresses",
        "/addresses/forwarded/{address}",
        "/domainaliases/{alias}",
        "/users/{user}/filters/{filter}",
        "/users/{user}/autoreply",
        "/health",
        "/users/{user}",
    ] {
        assert!(paths.contains_key(p), "{p}");
    }
    // Every documented operation is served: probing it never gets the router's 404 or 405.
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let concrete = path
                .replace("{user}", "0123456789abcdef01234567")
                .replace("{address}", "0123456789abcdef01234567")
                .replace("{alias}", "0123456789abcdef01234567")
                .replace("{filter}", "0123456789abcdef01234567")
                .replace("{username}", "nobody");
            let reply = api_request(
                s.api_port,
                &method.to_uppercase(),
                &concrete,
                (method != "get" && method != "delete").then_some("{}"),
            );
            assert_ne!(reply.body["code"], "ResourceNotFound", "{method} {path}");
            assert_ne!(reply.status, 405, "{method} {path}");
        }
    }
});
