//! Every entry point that sees client bytes, on arbitrary input: none may panic, and errors must
//! be one printable line (they are echoed to the client).
#![no_main]

use eider_imap_proto::{
    Fragment, base64, literal_announcement, parse_authenticate_response, parse_command,
    peek_tag_and_name, utf7,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = literal_announcement(data);
    let _ = peek_tag_and_name(data);
    let _ = parse_authenticate_response(data);
    let _ = base64::decode(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = utf7::decode(text);
        let encoded = utf7::encode(text);
        assert_eq!(utf7::decode(&encoded).ok().as_deref(), Some(text));
    }
    // The input as a command: lines and literals alternate at each 0xFF byte, the way the session
    // assembles fragments (a line, a literal, the rest of the line, ...).
    let mut fragments = Vec::new();
    for (i, piece) in data.split(|&b| b == 0xff).enumerate() {
        fragments.push(if i % 2 == 0 {
            Fragment::Line(piece.to_vec())
        } else {
            Fragment::Literal(piece.to_vec())
        });
    }
    if fragments.len() % 2 == 0 {
        fragments.push(Fragment::Line(Vec::new()));
    }
    if let Err(e) = parse_command(fragments) {
        let response = e.to_response();
        assert!(response.ends_with("\r\n"));
        let body = &response[..response.len() - 2];
        assert!(!body.contains('\r') && !body.contains('\n'), "{response:?}");
    }
});
