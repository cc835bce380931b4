//! Directory look-ups the front ends need beyond ingest and mailboxes: a user's main address and a
//! store health check.

use crate::{Engine, Result};

impl Engine {
    /// The user's main address in its display form, if the user has one.
    pub async fn main_address(&self, user_id: &str) -> Result<Option<String>> {
        let addresses = self.store.user_addresses(user_id).await?;
        // The store lists the main address first.
        Ok(addresses
            .iter()
            .find(|a| a.main)
            .or(addresses.first())
            .map(|a| a.address.clone()))
    }

    /// Checks that the store answers (health endpoints).
    pub async fn ping(&self) -> Result<()> {
        Ok(self.store.ping().await?)
    }
}
