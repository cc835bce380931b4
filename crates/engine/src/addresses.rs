//! Address records and how a recipient finds its mailbox.
//!
//! A recipient is resolved most-specific first: the exact address (dots and `+label` folded, see
//! [`crate::address`]), then the same local part on the domain its domain aliases to, then wildcard
//! addresses on those domains (`*suffix@domain` with the longest matching suffix before `*@domain`),
//! then `user@*`. A forwarded address names no user: its targets do. Local targets are resolved the
//! same way; targets Eider cannot deliver itself (remote addresses, relay or HTTP URLs) make the
//! recipient refused, because Eider has no outbound SMTP yet and must not drop mail silently.

use crate::address::{self, normalize_domain, normalize_local};
use crate::{Engine, Error, ErrorKind, Result};
use eider_store::{AddressEntry, AddressFilter, AddressPage, DomainAliasRow, UserRow};
use unicode_normalization::UnicodeNormalization;

/// Longest static suffix of a `*suffix@domain` wildcard.
pub const MAX_WILDCARD_SUFFIX: usize = 32;
/// How deep forwarded addresses may point at other forwarded addresses.
const MAX_FORWARD_DEPTH: usize = 4;
/// Most targets one forwarded address may have.
pub const MAX_TARGETS: usize = 100;

/// Where a recipient's mail goes.
#[derive(Debug, Clone)]
pub enum Resolution {
    /// Deliver one copy to each of these users (one for a user address; the local targets of a
    /// forwarded address).
    Deliver(Vec<UserRow>),
    /// No such address.
    Unknown,
    /// The address exists but mail to it cannot be accepted; the reason is for the reply.
    Refused(String),
}

/// The fields of a new user or forwarded address as the API gives them (already type-checked).
#[derive(Debug, Clone, Default)]
pub struct AddressInput {
    pub address: String,
    pub name: Option<String>,
    pub main: bool,
    pub allow_wildcard: bool,
    pub tags: Option<Vec<String>>,
    /// JSON object text.
    pub meta_data: Option<String>,
    pub internal_data: Option<String>,
    /// Forwarded addresses only.
    pub targets: Option<Vec<String>>,
    pub forwards: Option<i64>,
    /// JSON object text (forwarded addresses only).
    pub autoreply: Option<String>,
    pub forwarded_disabled: Option<bool>,
}

/// Result of renaming a domain.
#[derive(Debug, Clone, Copy, Default)]
pub struct DomainRename {
    pub addresses: u64,
    pub users: u64,
    pub aliases: u64,
}

/// A stored address string checked and split into (display form, lookup key).
pub fn parse_address(raw: &str, allow_wildcard: bool) -> Result<(String, String)> {
    let invalid = |m: &str| Error::new(ErrorKind::Invalid, m);
    let raw = raw.trim();
    if raw.contains('+') {
        return Err(invalid("Address can not contain +"));
    }
    if !raw.contains('*') {
        address::split(raw)?;
        return Ok((address::display_form(raw)?, address::normalize(raw)?));
    }
    if !allow_wildcard {
        return Err(invalid("Address can not contain *"));
    }
    let bad = || invalid("Invalid wildcard address, use \"*@domain\" or \"user@*\"");
    let (local, domain) = raw.rsplit_once('@').ok_or_else(bad)?;
    if raw.matches('*').count() != 1 || local.is_empty() || domain.is_empty() {
        return Err(bad());
    }
    if domain == "*" {
        // user@*: the local part of any domain.
        address::split(&format!("{local}@example.com")).map_err(|_| bad())?;
        let display = local.nfc().collect::<String>();
        return Ok((
            format!("{display}@*"),
            format!("{}@*", normalize_local(local)),
        ));
    }
    let suffix = local.strip_prefix('*').ok_or_else(bad)?;
    if suffix.chars().count() > MAX_WILDCARD_SUFFIX {
        return Err(bad());
    }
    let probe = format!("{}@{domain}", if suffix.is_empty() { "x" } else { suffix });
    address::split(&probe).map_err(|_| bad())?;
    let ascii = normalize_domain(domain).map_err(|_| bad())?;
    let (unicode, _) = idna::domain_to_unicode(&ascii);
    let suffix_key = suffix
        .nfc()
        .collect::<String>()
        .to_lowercase()
        .replace('.', "");
    Ok((
        format!("*{}@{unicode}", suffix.nfc().collect::<String>()),
        format!("*{suffix_key}@{ascii}"),
    ))
}

/// Tags trimmed, de-duplicated case-insensitively and sorted; and their lowercase `,a,b,` view.
fn tags_columns(tags: &[String]) -> (String, String) {
    let mut seen = std::collections::HashSet::new();
    let mut list: Vec<String> = tags
        .iter()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty() && seen.insert(t.to_lowercase()))
        .collect();
    list.sort_by_key(|t| t.to_lowercase());
    let view = format!(
        ",{},",
        list.iter()
            .map(|t| t.to_lowercase())
            .collect::<Vec<_>>()
            .join(",")
    );
    (
        serde_json::to_string(&list).unwrap_or_else(|_| "[]".into()),
        view,
    )
}

/// Checks forwarding targets: e-mail addresses, `smtp(s)://` relays or `http(s)://` URLs.
fn check_targets(targets: &[String], own_key: &str) -> Result<String> {
    if targets.len() > MAX_TARGETS {
        return Err(Error::new(
            ErrorKind::Invalid,
            format!("\"targets\" must contain less than or equal to {MAX_TARGETS} items"),
        ));
    }
    let mut out = Vec::new();
    for target in targets {
        let t = target.trim();
        let lower = t.to_ascii_lowercase();
        let relay_or_url = ["smtp:", "smtps:", "http:", "https:"]
            .iter()
            .any(|scheme| lower.starts_with(scheme));
        if relay_or_url {
            out.push(t.to_string());
        } else if t.contains('@') {
            let key = address::normalize(t).map_err(|_| {
                Error::new(ErrorKind::Invalid, format!("Unknown target type \"{t}\""))
            })?;
            if key == own_key {
                return Err(Error::new(
                    ErrorKind::Invalid,
                    format!("Can not forward to self \"{t}\""),
                ));
            }
            out.push(t.to_string());
        } else {
            return Err(Error::new(
                ErrorKind::Invalid,
                format!("Unknown target type \"{t}\""),
            ));
        }
    }
    Ok(serde_json::to_string(&out).unwrap_or_else(|_| "[]".into()))
}

fn exists(e: eider_store::StoreError) -> Error {
    match e {
        eider_store::StoreError::AlreadyExists => Error::with_reason(
            ErrorKind::AlreadyExists,
            "AddressExistsError",
            "This email address already exists",
        ),
        other => other.into(),
    }
}

fn not_found(message: &str) -> Error {
    Error::with_reason(ErrorKind::NotFound, "AddressNotFound", message)
}

impl Engine {
    // ---- recipient resolution

    /// Where mail for `rcpt` goes (LMTP RCPT).
    pub async fn resolve_delivery(&self, rcpt: &str) -> Result<Resolution> {
        self.resolve_depth(rcpt, 0).await
    }

    fn resolve_depth<'a>(
        &'a self,
        rcpt: &'a str,
        depth: usize,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Resolution>> + Send + 'a>> {
        Box::pin(async move {
            let Some(entry) = self.match_address(rcpt, true).await? else {
                return Ok(Resolution::Unknown);
            };
            if !entry.forwarded {
                return Ok(match self.store.get_user(&entry.user_id).await {
                    Ok(user) => Resolution::Deliver(vec![user]),
                    Err(eider_store::StoreError::NotFound) => Resolution::Unknown,
                    Err(e) => return Err(e.into()),
                });
            }
            if entry.forwarded_disabled {
                return Ok(Resolution::Refused(
                    "forwarding is disabled for this address".into(),
                ));
            }
            let targets: Vec<String> = serde_json::from_str(&entry.targets).unwrap_or_default();
            let mut users: Vec<UserRow> = Vec::new();
            for target in &targets {
                let local = if target.contains("://") || depth >= MAX_FORWARD_DEPTH {
                    None
                } else {
                    match self.resolve_depth(target, depth + 1).await? {
                        Resolution::Deliver(found) => Some(found),
                        Resolution::Refused(why) => return Ok(Resolution::Refused(why)),
                        Resolution::Unknown => None,
                    }
                };
                let Some(found) = local else {
                    return Ok(Resolution::Refused(
                        "forwarding to external targets is not configured".into(),
                    ));
                };
                for user in found {
                    if !users.iter().any(|u| u.id == user.id) {
                        users.push(user);
                    }
                }
            }
            if users.is_empty() {
                return Ok(Resolution::Refused(
                    "forwarded address has no targets".into(),
                ));
            }
            Ok(Resolution::Deliver(users))
        })
    }

    /// The most specific address record for `rcpt`: exact, via a domain alias, then wildcards
    /// (only when `wildcards`).
    pub async fn match_address(&self, rcpt: &str, wildcards: bool) -> Result<Option<AddressEntry>> {
        let (local, domain) = address::split(rcpt)?;
        if local.contains('*') {
            return Ok(None);
        }
        let local_key = normalize_local(local);
        let mut domains = vec![normalize_domain(domain)?];
        if let Some(alias) = self.store.find_domain_alias(&domains[0]).await? {
            domains.push(alias.domain_key);
        }
        let mut keys: Vec<String> = domains.iter().map(|d| format!("{local_key}@{d}")).collect();
        if wildcards {
            let chars: Vec<char> = local_key.chars().collect();
            let first = chars.len().saturating_sub(MAX_WILDCARD_SUFFIX);
            for d in &domains {
                for start in first..=chars.len() {
                    let suffix: String = chars[start..].iter().collect();
                    keys.push(format!("*{suffix}@{d}"));
                }
            }
            keys.push(format!("{local_key}@*"));
        }
        let found = self.store.find_address_entries(&keys).await?;
        // `keys` is in priority order already: the first key that has a record wins.
        Ok(keys
            .iter()
            .find_map(|k| found.iter().find(|e| &e.normalized == k))
            .cloned())
    }

    /// Resolves a recipient address to its user (the first user when it forwards to several).
    pub async fn resolve_recipient(&self, rcpt: &str) -> Result<Option<UserRow>> {
        Ok(match self.resolve_delivery(rcpt).await? {
            Resolution::Deliver(users) => users.into_iter().next(),
            _ => None,
        })
    }

    // ---- user addresses

    pub async fn add_user_address(&self, user_id: &str, input: &AddressInput) -> Result<String> {
        let user = self.store.get_user(user_id).await?;
        let (display, key) = parse_address(&input.address, input.allow_wildcard)?;
        if input.main && key.contains('*') {
            return Err(Error::new(
                ErrorKind::Invalid,
                "Main address can not contain *",
            ));
        }
        let (tags, tags_view) = tags_columns(input.tags.as_deref().unwrap_or_default());
        let has_main = self
            .store
            .user_address_entries(&user.id)
            .await?
            .iter()
            .any(|a| a.main);
        let entry = AddressEntry {
            user_id: user.id,
            address: display,
            normalized: key.clone(),
            main: input.main || (!has_main && !key.contains('*')),
            name: input.name.clone().unwrap_or_default(),
            tags,
            tags_view,
            meta_data: input.meta_data.clone().unwrap_or_else(|| "{}".into()),
            internal_data: input.internal_data.clone().unwrap_or_else(|| "{}".into()),
            targets: "[]".into(),
            autoreply: "{\"status\":false}".into(),
            ..Default::default()
        };
        self.store.insert_address(&entry).await.map_err(exists)
    }

    /// A user's addresses, the main one first.
    pub async fn user_address_entries(&self, user_id: &str) -> Result<Vec<AddressEntry>> {
        self.store.get_user(user_id).await?;
        Ok(self.store.user_address_entries(user_id).await?)
    }

    /// One address of a user; NotFound if it is not theirs.
    pub async fn user_address(&self, user_id: &str, id: &str) -> Result<AddressEntry> {
        self.store.get_user(user_id).await?;
        match self.store.get_address(id).await {
            Ok(a) if a.user_id == user_id && !a.forwarded => Ok(a),
            Ok(_) | Err(eider_store::StoreError::NotFound) => {
                Err(not_found("Invalid or unknown email address identifier"))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn update_user_address(
        &self,
        user_id: &str,
        id: &str,
        input: &AddressInput,
        change: &AddressChange,
    ) -> Result<()> {
        let mut entry = self.user_address(user_id, id).await?;
        if change.main == Some(false) && entry.main {
            return Err(Error::new(ErrorKind::Invalid, "Cannot unset main status"));
        }
        let wildcard = entry.normalized.contains('*');
        if change.address && wildcard {
            return Err(Error::with_reason(
                ErrorKind::Invalid,
                "ChangeNotAllowed",
                "Can not change special address",
            ));
        }
        if change.main == Some(true) && wildcard {
            return Err(Error::with_reason(
                ErrorKind::Invalid,
                "WildcardNotPermitted",
                "Can not set wildcard address as default",
            ));
        }
        if change.address {
            let (display, key) = parse_address(&input.address, false)?;
            entry.address = display;
            entry.normalized = key;
        }
        self.apply_common(&mut entry, input, change);
        self.store.save_address(&entry).await.map_err(exists)?;
        if change.main == Some(true) && !entry.main {
            self.store.set_main_address(user_id, id).await?;
        }
        Ok(())
    }

    fn apply_common(&self, entry: &mut AddressEntry, input: &AddressInput, change: &AddressChange) {
        if change.name {
            entry.name = input.name.clone().unwrap_or_default();
        }
        if change.tags {
            let (tags, view) = tags_columns(input.tags.as_deref().unwrap_or_default());
            entry.tags = tags;
            entry.tags_view = view;
        }
        if let Some(m) = &input.meta_data {
            entry.meta_data = m.clone();
        }
        if let Some(m) = &input.internal_data {
            entry.internal_data = m.clone();
        }
    }

    pub async fn delete_user_address(&self, user_id: &str, id: &str) -> Result<()> {
        let entry = self.user_address(user_id, id).await?;
        if entry.main {
            return Err(Error::with_reason(
                ErrorKind::Invalid,
                "NotPermitted",
                "Can not delete main address",
            ));
        }
        Ok(self.store.delete_address(id).await?)
    }

    // ---- forwarded addresses

    pub async fn add_forwarded_address(&self, input: &AddressInput) -> Result<String> {
        let (display, key) = parse_address(&input.address, input.allow_wildcard)?;
        let targets = check_targets(input.targets.as_deref().unwrap_or_default(), &key)?;
        let (tags, tags_view) = tags_columns(input.tags.as_deref().unwrap_or_default());
        let entry = AddressEntry {
            address: display,
            normalized: key,
            name: input.name.clone().unwrap_or_default(),
            tags,
            tags_view,
            meta_data: input.meta_data.clone().unwrap_or_else(|| "{}".into()),
            internal_data: input.internal_data.clone().unwrap_or_else(|| "{}".into()),
            forwarded: true,
            targets,
            forwards: input.forwards.unwrap_or(0),
            forwarded_disabled: input.forwarded_disabled.unwrap_or(false),
            autoreply: input
                .autoreply
                .clone()
                .unwrap_or_else(|| "{\"status\":false}".into()),
            ..Default::default()
        };
        self.store.insert_address(&entry).await.map_err(exists)
    }

    pub async fn forwarded_address(&self, id: &str) -> Result<AddressEntry> {
        match self.store.get_address(id).await {
            Ok(a) if a.forwarded => Ok(a),
            Ok(_) | Err(eider_store::StoreError::NotFound) => {
                Err(not_found("Invalid or unknown address"))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn update_forwarded_address(
        &self,
        id: &str,
        input: &AddressInput,
        change: &AddressChange,
    ) -> Result<()> {
        let mut entry = self.forwarded_address(id).await?;
        if change.address {
            if entry.normalized.contains('*') {
                return Err(Error::with_reason(
                    ErrorKind::Invalid,
                    "ChangeNotAllowed",
                    "Can not change special address",
                ));
            }
            let (display, key) = parse_address(&input.address, false)?;
            entry.address = display;
            entry.normalized = key;
        }
        if let Some(targets) = &input.targets {
            entry.targets = check_targets(targets, &entry.normalized)?;
        }
        if let Some(f) = input.forwards {
            entry.forwards = f;
        }
        if let Some(d) = input.forwarded_disabled {
            entry.forwarded_disabled = d;
        }
        if let Some(a) = &input.autoreply {
            entry.autoreply = a.clone();
        }
        self.apply_common(&mut entry, input, change);
        self.store.save_address(&entry).await.map_err(exists)
    }

    pub async fn delete_forwarded_address(&self, id: &str) -> Result<()> {
        self.forwarded_address(id).await?;
        Ok(self.store.delete_address(id).await?)
    }

    // ---- listing, resolving, renaming

    pub async fn list_addresses(
        &self,
        filter: &AddressFilter,
        after: Option<&str>,
        before: Option<&str>,
        limit: i64,
    ) -> Result<AddressPage> {
        Ok(self
            .store
            .list_addresses(filter, after, before, limit)
            .await?)
    }

    /// An address record by id, or by address (exact; with `allow_wildcard` also the wildcard
    /// or domain-alias match that mail to it would reach).
    pub async fn resolve_address(
        &self,
        id_or_address: &str,
        allow_wildcard: bool,
    ) -> Result<AddressEntry> {
        let unknown = || not_found("Invalid or unknown address");
        if !id_or_address.contains('@') {
            return match self.store.get_address(id_or_address).await {
                Ok(a) => Ok(a),
                Err(eider_store::StoreError::NotFound) => Err(unknown()),
                Err(e) => Err(e.into()),
            };
        }
        if id_or_address.contains('*') {
            let (_, key) = parse_address(id_or_address, true).map_err(|_| unknown())?;
            let found = self.store.find_address_entries(&[key]).await?;
            return found.into_iter().next().ok_or_else(unknown);
        }
        let key = address::normalize(id_or_address).map_err(|_| unknown())?;
        if let Some(entry) = self
            .store
            .find_address_entries(&[key])
            .await?
            .into_iter()
            .next()
        {
            return Ok(entry);
        }
        if allow_wildcard && let Some(entry) = self.match_address(id_or_address, true).await? {
            return Ok(entry);
        }
        Err(unknown())
    }

    /// Moves every address (and domain alias target) from one domain to another.
    pub async fn rename_domain(&self, old: &str, new: &str) -> Result<DomainRename> {
        let old_key = normalize_domain(old.trim())?;
        let new_key = normalize_domain(new.trim())?;
        let (new_display, _) = idna::domain_to_unicode(&new_key);
        let entries = self.store.addresses_in_domain(&old_key).await?;
        let mut renames = Vec::new();
        let mut users = std::collections::HashSet::new();
        for e in entries {
            let (Some((local_key, _)), Some((local_display, _))) =
                (e.normalized.rsplit_once('@'), e.address.rsplit_once('@'))
            else {
                continue;
            };
            if !e.normalized.ends_with(&format!("@{old_key}")) {
                continue;
            }
            if e.main {
                users.insert(e.user_id.clone());
            }
            renames.push((
                e.id.clone(),
                format!("{local_display}@{new_display}"),
                format!("{local_key}@{new_key}"),
            ));
        }
        let aliases = self
            .store
            .rename_domain(&renames, &old_key, &new_display, &new_key)
            .await
            .map_err(exists)?;
        Ok(DomainRename {
            addresses: renames.len() as u64,
            users: users.len() as u64,
            aliases,
        })
    }

    // ---- domain aliases

    pub async fn add_domain_alias(&self, alias: &str, domain: &str) -> Result<String> {
        let alias_key = normalize_domain(alias.trim())?;
        let domain_key = normalize_domain(domain.trim())?;
        if !alias_key.contains('.') || !domain_key.contains('.') || alias_key == domain_key {
            return Err(Error::new(
                ErrorKind::Invalid,
                "\"alias\" and \"domain\" must be different domain names",
            ));
        }
        let (alias_display, _) = idna::domain_to_unicode(&alias_key);
        let (domain_display, _) = idna::domain_to_unicode(&domain_key);
        self.store
            .insert_domain_alias(&alias_display, &alias_key, &domain_display, &domain_key)
            .await
            .map_err(|e| match e {
                eider_store::StoreError::AlreadyExists => {
                    Error::new(ErrorKind::AlreadyExists, "This domain alias already exists")
                }
                other => other.into(),
            })
    }

    pub async fn domain_alias(&self, id: &str) -> Result<DomainAliasRow> {
        self.store.get_domain_alias(id).await.map_err(|e| match e {
            eider_store::StoreError::NotFound => {
                Error::new(ErrorKind::NotFound, "This alias does not exist")
            }
            other => other.into(),
        })
    }

    /// A domain alias by its name, in Unicode or ASCII form.
    pub async fn find_domain_alias(&self, alias: &str) -> Result<DomainAliasRow> {
        let key = normalize_domain(alias.trim())
            .map_err(|_| Error::new(ErrorKind::NotFound, "Invalid or unknown alias"))?;
        self.store
            .find_domain_alias(&key)
            .await?
            .ok_or_else(|| Error::new(ErrorKind::NotFound, "Invalid or unknown alias"))
    }

    pub async fn delete_domain_alias(&self, id: &str) -> Result<()> {
        self.domain_alias(id).await?;
        Ok(self.store.delete_domain_alias(id).await?)
    }

    pub async fn list_domain_aliases(
        &self,
        query: &str,
        after: Option<&str>,
        before: Option<&str>,
        limit: i64,
    ) -> Result<(Vec<DomainAliasRow>, i64)> {
        Ok(self
            .store
            .list_domain_aliases(&query.to_lowercase(), after, before, limit)
            .await?)
    }

    // ---- address register

    pub async fn search_address_register(
        &self,
        user_id: &str,
        query: &str,
        limit: i64,
    ) -> Result<Vec<eider_store::RegisterRow>> {
        self.store.get_user(user_id).await?;
        Ok(self
            .store
            .search_register(user_id, &query.to_lowercase(), limit)
            .await?)
    }

    pub async fn update_address_register(
        &self,
        user_id: &str,
        id: &str,
        disabled: bool,
        name: Option<&str>,
    ) -> Result<()> {
        self.store.get_user(user_id).await?;
        self.store
            .update_register(user_id, id, disabled, name)
            .await
            .map_err(|e| match e {
                eider_store::StoreError::NotFound => not_found("Invalid or unknown address"),
                other => other.into(),
            })
    }

    /// Notes the sender of a delivered message in the user's address register.
    pub(crate) async fn register_sender(&self, user_id: &str, from: &str, name: &str) {
        let Ok(key) = address::normalize(from) else {
            return;
        };
        let display = address::display_form(from).unwrap_or_else(|_| from.to_string());
        if let Err(e) = self
            .store
            .register_address(user_id, &display, &key, name)
            .await
        {
            tracing::warn!(error = %e, "could not update the address register");
        }
    }
}

/// Which fields an update names (a field sent as `null` or left out is not changed).
#[derive(Debug, Clone, Default)]
pub struct AddressChange {
    pub address: bool,
    pub name: bool,
    pub tags: bool,
    pub main: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_parse() {
        assert_eq!(
            parse_address("*@Example.COM", true).unwrap(),
            ("*@example.com".into(), "*@example.com".into())
        );
        assert_eq!(
            parse_address("*.Sales@bücher.example", true).unwrap().1,
            "*sales@xn--bcher-kva.example"
        );
        assert_eq!(parse_address("John.Doe@*", true).unwrap().1, "johndoe@*");
        assert!(parse_address("*@example.com", false).is_err());
        for bad in [
            "a*b@example.com",
            "**@example.com",
            "*@*",
            "*a@ex*",
            "x+y@example.com",
        ] {
            assert!(parse_address(bad, true).is_err(), "{bad}");
        }
        let long = format!("*{}@example.com", "a".repeat(33));
        assert!(parse_address(&long, true).is_err());
    }

    #[test]
    fn tags_are_deduplicated_and_sorted() {
        let (tags, view) = tags_columns(&[" b".into(), "A".into(), "a".into(), "".into()]);
        assert_eq!(tags, "[\"A\",\"b\"]");
        assert_eq!(view, ",a,b,");
    }

    #[test]
    fn targets_are_typed() {
        assert!(
            check_targets(
                &[
                    "smtp://mx.example:25".into(),
                    "https://h.example/x".into(),
                    "u@example.com".into()
                ],
                "me@example.com"
            )
            .is_ok()
        );
        assert!(check_targets(&["me@example.com".into()], "me@example.com").is_err());
        assert!(check_targets(&["nothing".into()], "me@example.com").is_err());
    }
}
