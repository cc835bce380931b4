//! Address normalization: how a recipient or login name finds its account.
//!
//! The lookup key of `John.Doe+news@Bücher.Example` is `johndoe@xn--bcher-kva.example`: the local part
//! is NFC-normalized and lowercased, dots are dropped (they are informational) and a `+label` suffix is
//! removed; the domain is lowercased and converted to its ASCII (IDNA) form.

use crate::{Error, ErrorKind, Result};
use unicode_normalization::UnicodeNormalization;

/// Longest address accepted (RFC 5321 path limit).
pub const MAX_ADDRESS_LEN: usize = 256;

/// Splits and checks an address; returns (local part, domain) as given.
pub fn split(address: &str) -> Result<(&str, &str)> {
    let invalid = |why: &str| Error::new(ErrorKind::Invalid, format!("invalid address: {why}"));
    if address.len() > MAX_ADDRESS_LEN {
        return Err(invalid("too long"));
    }
    let (local, domain) = address
        .rsplit_once('@')
        .ok_or_else(|| invalid("missing @"))?;
    if local.is_empty() || domain.is_empty() {
        return Err(invalid("empty local part or domain"));
    }
    if address
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '<' || c == '>')
    {
        return Err(invalid("forbidden character"));
    }
    Ok((local, domain))
}

/// Domain in its lowercase ASCII (punycode) form.
pub fn normalize_domain(domain: &str) -> Result<String> {
    let domain = domain.trim_end_matches('.');
    idna::domain_to_ascii(domain)
        .map_err(|_| Error::new(ErrorKind::Invalid, format!("invalid domain {domain:?}")))
}

/// Lookup key of a local part: NFC, lowercase, no dots, no `+label`.
pub fn normalize_local(local: &str) -> String {
    let base = local.split('+').next().unwrap_or(local);
    let base = if base.is_empty() { local } else { base };
    base.nfc()
        .collect::<String>()
        .to_lowercase()
        .replace('.', "")
}

/// The lookup key of an address.
pub fn normalize(address: &str) -> Result<String> {
    let (local, domain) = split(address)?;
    Ok(format!(
        "{}@{}",
        normalize_local(local),
        normalize_domain(domain)?
    ))
}

/// The form an address is shown in: local part as given (NFC), domain lowercased (Unicode kept).
pub fn display_form(address: &str) -> Result<String> {
    let (local, domain) = split(address)?;
    let ascii = normalize_domain(domain)?;
    let (unicode, _) = idna::domain_to_unicode(&ascii);
    Ok(format!("{}@{}", local.nfc().collect::<String>(), unicode))
}

/// Usernames are case-insensitive: the stored key is NFC lowercase.
pub fn normalize_username(username: &str) -> Result<String> {
    let name = username.trim();
    if name.is_empty()
        || name.len() > 128
        || name.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(Error::new(
            ErrorKind::Invalid,
            "username must be 1-128 characters without spaces or control characters",
        ));
    }
    Ok(name.nfc().collect::<String>().to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dots_labels_case_and_idn_fold_to_one_key() {
        let key = normalize("johndoe@example.com").unwrap();
        for variant in [
            "John.Doe+news@Example.com",
            "j.o.h.n.d.o.e@EXAMPLE.COM",
            "JohnDoe+a+b@example.com.",
        ] {
            assert_eq!(normalize(variant).unwrap(), key, "{variant}");
        }
        assert_eq!(
            normalize("Anna@Bücher.Example").unwrap(),
            "anna@xn--bcher-kva.example"
        );
        assert_eq!(
            normalize("anna@xn--bcher-kva.example").unwrap(),
            "anna@xn--bcher-kva.example"
        );
        assert_eq!(
            normalize("Ünïcödé@example.com").unwrap(),
            "ünïcödé@example.com"
        );
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "no-at",
            "@example.com",
            "user@",
            "a b@example.com",
            "a@b\r\nc",
        ] {
            assert!(normalize(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn display_keeps_local_part_and_unicode_domain() {
        assert_eq!(
            display_form("John.Doe@XN--BCHER-KVA.example").unwrap(),
            "John.Doe@bücher.example"
        );
    }
}
