//! Application-specific passwords: random 16-letter passwords for mail clients, each limited to
//! some scopes. They are high-entropy (26^16 ≈ 2^75), so a salted BLAKE3 hash lets a login find the
//! matching ASP with one indexed look-up instead of an argon2 run per stored password.

use crate::{Engine, Error, ErrorKind, Result};
use eider_store::{AspRow, NewAsp};
use rand::Rng;

pub const ASP_SCOPES: &[&str] = &["imap", "pop3", "smtp", "*"];
const ASP_LEN: usize = 16;

/// A new ASP request.
#[derive(Debug, Clone, Default)]
pub struct CreateAsp {
    pub description: String,
    pub scopes: Vec<String>,
    /// A pregenerated password (16 latin letters), or None to generate one.
    pub password: Option<String>,
    /// Seconds; 0 = no expiry.
    pub ttl: i64,
}

/// Spaces are ignored and case does not matter, so "abcd efgh ijkl mnop" works as typed.
fn normalize(password: &str) -> Option<String> {
    let p: String = password
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    (p.len() == ASP_LEN && p.bytes().all(|b| b.is_ascii_lowercase())).then_some(p)
}

fn asp_hash(user_id: &str, normalized: &str) -> String {
    blake3::hash(format!("eider-asp\0{user_id}\0{normalized}").as_bytes())
        .to_hex()
        .to_string()
}

fn generate() -> String {
    let mut rng = rand::thread_rng();
    (0..ASP_LEN)
        .map(|_| rng.gen_range(b'a'..=b'z') as char)
        .collect()
}

impl Engine {
    /// Creates an ASP; returns it and the password (shown once, never stored).
    pub async fn create_asp(&self, user_id: &str, req: &CreateAsp) -> Result<(AspRow, String)> {
        self.store.get_user(user_id).await?;
        let mut scopes = req.scopes.clone();
        if scopes.is_empty() || scopes.iter().any(|s| s == "*") {
            scopes = vec!["*".into()];
        }
        scopes.dedup();
        if let Some(bad) = scopes.iter().find(|s| !ASP_SCOPES.contains(&s.as_str())) {
            return Err(Error::new(
                ErrorKind::Invalid,
                format!("Unknown scope {bad}"),
            ));
        }
        let password = match &req.password {
            Some(p) => normalize(p).ok_or_else(|| {
                Error::new(
                    ErrorKind::Invalid,
                    "\"password\" must be 16 characters, latin letters only",
                )
            })?,
            None => generate(),
        };
        let row = self
            .store
            .insert_asp(&NewAsp {
                user_id: user_id.into(),
                description: req.description.clone(),
                scopes: serde_json::to_string(&scopes).unwrap_or_else(|_| "[\"*\"]".into()),
                password_hash: asp_hash(user_id, &password),
                ttl: req.ttl.max(0),
            })
            .await?;
        Ok((row, password))
    }

    pub async fn list_asps(&self, user_id: &str, show_all: bool) -> Result<Vec<AspRow>> {
        self.store.get_user(user_id).await?;
        Ok(self.store.list_asps(user_id, show_all).await?)
    }

    pub async fn get_asp(&self, user_id: &str, id: &str) -> Result<AspRow> {
        Ok(self.store.get_asp(user_id, id).await?)
    }

    pub async fn delete_asp(&self, user_id: &str, id: &str) -> Result<()> {
        Ok(self.store.delete_asp(user_id, id).await?)
    }

    /// The user's live ASP this password is, if any.
    pub(crate) async fn match_asp(&self, user_id: &str, password: &str) -> Result<Option<AspRow>> {
        let Some(normalized) = normalize(password) else {
            return Ok(None);
        };
        Ok(self
            .store
            .find_asp(user_id, &asp_hash(user_id, &normalized))
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asp_passwords() {
        assert_eq!(
            normalize("Abcd efgh ijkl mnop").as_deref(),
            Some("abcdefghijklmnop")
        );
        assert_eq!(normalize("abcdefghijklmno"), None);
        assert_eq!(normalize("abcdefghijklmno1"), None);
        let p = generate();
        assert_eq!(normalize(&p), Some(p.clone()));
    }
}
