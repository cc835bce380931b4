//! LMTP command lines (RFC 2033, RFC 5321 §4.1): parsing only, no state and no replies.

/// `BODY=` values of MAIL FROM (RFC 6152). BINARYMIME is not offered, so it is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    SevenBit,
    EightBitMime,
}

/// ESMTP parameters of MAIL FROM that Eider understands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailParams {
    pub size: Option<u64>,
    pub body: Option<Body>,
    pub smtputf8: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Lhlo(String),
    /// HELO or EHLO: this is LMTP, the client must say LHLO.
    Helo,
    Mail {
        /// The reverse path without brackets; empty for the null path `<>`.
        from: String,
        params: MailParams,
    },
    Rcpt {
        to: String,
    },
    Data,
    Rset,
    Noop,
    Quit,
    Vrfy,
    Unknown,
}

/// Why a line could not be parsed; each maps to one reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// 501 5.5.4: arguments malformed.
    Syntax(&'static str),
    /// 501 5.1.7: the reverse path of MAIL is malformed.
    BadSender(&'static str),
    /// 501 5.1.3: the forward path of RCPT is malformed.
    BadRecipient(&'static str),
    /// 555 5.5.4: a MAIL/RCPT parameter Eider does not implement (RFC 5321 §4.1.1.11).
    UnknownParam(String),
}

/// Parses one command line (without its CRLF).
pub fn parse(line: &str) -> Result<Command, ParseError> {
    let line = line.trim_end_matches([' ', '\t']);
    let (verb, rest) = match line.find(' ') {
        Some(i) => (&line[..i], line[i + 1..].trim_start()),
        None => (line, ""),
    };
    let verb = verb.to_ascii_uppercase();
    match verb.as_str() {
        "LHLO" => {
            if rest.is_empty() {
                return Err(ParseError::Syntax("LHLO requires a domain name"));
            }
            Ok(Command::Lhlo(rest.to_string()))
        }
        "HELO" | "EHLO" => Ok(Command::Helo),
        "MAIL" => {
            let rest = strip_keyword(rest, "FROM:")
                .ok_or(ParseError::Syntax("expected MAIL FROM:<address>"))?;
            let (from, params) = split_path(rest, true)?;
            Ok(Command::Mail {
                from,
                params: parse_mail_params(params)?,
            })
        }
        "RCPT" => {
            let rest = strip_keyword(rest, "TO:")
                .ok_or(ParseError::Syntax("expected RCPT TO:<address>"))?;
            let (to, params) = split_path(rest, false)?;
            if let Some(param) = params.split_whitespace().next() {
                return Err(ParseError::UnknownParam(param.to_string()));
            }
            Ok(Command::Rcpt { to })
        }
        "DATA" | "RSET" | "QUIT" if !rest.is_empty() => {
            Err(ParseError::Syntax("no arguments allowed"))
        }
        "DATA" => Ok(Command::Data),
        "RSET" => Ok(Command::Rset),
        "QUIT" => Ok(Command::Quit),
        // NOOP may carry a string, which is ignored (RFC 5321 §4.1.1.9).
        "NOOP" => Ok(Command::Noop),
        "VRFY" => {
            if rest.is_empty() {
                return Err(ParseError::Syntax("VRFY requires an argument"));
            }
            Ok(Command::Vrfy)
        }
        _ => Ok(Command::Unknown),
    }
}

/// Strips a case-insensitive keyword such as `FROM:` and the optional spaces after it (lenient, as
/// many clients send `MAIL FROM: <a@b>`).
fn strip_keyword<'a>(rest: &'a str, keyword: &str) -> Option<&'a str> {
    let head = rest.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    Some(rest[keyword.len()..].trim_start())
}

/// Splits `<path> params` into the bare address and the parameter text. A source route
/// (`<@a,@b:user@c>`) is accepted and dropped (RFC 5321 §4.1.2).
fn split_path(text: &str, null_allowed: bool) -> Result<(String, &str), ParseError> {
    let bad = if null_allowed {
        ParseError::BadSender
    } else {
        ParseError::BadRecipient
    };
    let inner = text
        .strip_prefix('<')
        .ok_or(ParseError::Syntax("the address must be enclosed in <>"))?;
    // Find the closing '>' outside a quoted local part.
    let mut quoted = false;
    let mut escaped = false;
    let mut end = None;
    for (i, c) in inner.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '>' if !quoted => {
                end = Some(i);
                break;
            }
            _ => {}
        }
    }
    let end = end.ok_or(ParseError::Syntax("missing closing >"))?;
    let mut address = &inner[..end];
    let params = &inner[end + 1..];
    if !params.is_empty() && !params.starts_with(' ') {
        return Err(ParseError::Syntax("expected a space after the address"));
    }
    if address.starts_with('@') {
        match address.find(':') {
            Some(colon) => address = &address[colon + 1..],
            None => return Err(bad("malformed source route")),
        }
    }
    if address.is_empty() {
        if null_allowed {
            return Ok((String::new(), params.trim()));
        }
        return Err(bad("empty recipient address"));
    }
    if address.chars().any(|c| c.is_control()) {
        return Err(bad("control character in address"));
    }
    Ok((address.to_string(), params.trim()))
}

fn parse_mail_params(text: &str) -> Result<MailParams, ParseError> {
    let mut params = MailParams::default();
    for param in text.split_whitespace() {
        let (key, value) = match param.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (param, None),
        };
        match (key.to_ascii_uppercase().as_str(), value) {
            ("SIZE", Some(v)) => {
                if v.is_empty() || v.len() > 20 || !v.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(ParseError::Syntax("SIZE must be a number"));
                }
                // Saturate absurd values: they are over any limit anyway.
                params.size = Some(v.parse().unwrap_or(u64::MAX));
            }
            ("BODY", Some(v)) if v.eq_ignore_ascii_case("7BIT") => {
                params.body = Some(Body::SevenBit)
            }
            ("BODY", Some(v)) if v.eq_ignore_ascii_case("8BITMIME") => {
                params.body = Some(Body::EightBitMime)
            }
            ("SMTPUTF8", None) => params.smtputf8 = true,
            _ => return Err(ParseError::UnknownParam(param.to_string())),
        }
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_are_case_insensitive() {
        assert_eq!(
            parse("lhlo mx.example"),
            Ok(Command::Lhlo("mx.example".into()))
        );
        assert_eq!(parse("NoOp whatever"), Ok(Command::Noop));
        assert_eq!(parse("ehlo x"), Ok(Command::Helo));
        assert_eq!(parse("data"), Ok(Command::Data));
        assert_eq!(parse("BDAT 10 LAST"), Ok(Command::Unknown));
        assert!(matches!(parse("DATA now"), Err(ParseError::Syntax(_))));
        assert!(matches!(parse("LHLO"), Err(ParseError::Syntax(_))));
    }

    #[test]
    fn mail_from_paths_and_params() {
        assert_eq!(
            parse("MAIL FROM:<a@b.example>"),
            Ok(Command::Mail {
                from: "a@b.example".into(),
                params: MailParams::default()
            })
        );
        assert_eq!(
            parse("mail from: <> SIZE=1000 BODY=8bitmime SMTPUTF8"),
            Ok(Command::Mail {
                from: String::new(),
                params: MailParams {
                    size: Some(1000),
                    body: Some(Body::EightBitMime),
                    smtputf8: true
                }
            })
        );
        assert_eq!(
            parse("MAIL FROM:<@relay.example,@r2.example:a@b.example>"),
            Ok(Command::Mail {
                from: "a@b.example".into(),
                params: MailParams::default()
            })
        );
        assert_eq!(
            parse("MAIL FROM:<\"odd > name\"@b.example>"),
            Ok(Command::Mail {
                from: "\"odd > name\"@b.example".into(),
                params: MailParams::default()
            })
        );
        assert!(matches!(
            parse("MAIL FROM:<a@b> BODY=BINARYMIME"),
            Err(ParseError::UnknownParam(_))
        ));
        assert!(matches!(
            parse("MAIL FROM:<a@b> SIZE=x"),
            Err(ParseError::Syntax(_))
        ));
        assert!(matches!(parse("MAIL FROM:a@b"), Err(ParseError::Syntax(_))));
        assert!(matches!(parse("MAIL TO:<a@b>"), Err(ParseError::Syntax(_))));
        assert!(matches!(
            parse("MAIL FROM:<a@b"),
            Err(ParseError::Syntax(_))
        ));
    }

    #[test]
    fn rcpt_to() {
        assert_eq!(
            parse("RCPT TO:<Ünïcödé@bücher.example>"),
            Ok(Command::Rcpt {
                to: "Ünïcödé@bücher.example".into()
            })
        );
        assert!(matches!(
            parse("RCPT TO:<>"),
            Err(ParseError::BadRecipient(_))
        ));
        assert!(matches!(
            parse("RCPT TO:<a@b> NOTIFY=NEVER"),
            Err(ParseError::UnknownParam(_))
        ));
        assert!(matches!(parse("RCPT <a@b>"), Err(ParseError::Syntax(_))));
    }
}
