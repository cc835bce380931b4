//! The link to Redis that lets many instances act as one: a connection for commands (counters,
//! slots, PUBLISH) and a pub/sub subscription for change notifications.
//!
//! Redis is never the truth, only a fast path: when it is away, other instances hear of changes
//! when it is back (each subscriber re-reads on resubscribing, each publisher that dropped
//! something announces a full re-read) or at their sessions' journal poll, whichever is first;
//! counters fall back to this process. Both links reconnect forever with backoff.

use crate::notify::{Notification, Notifier};
use futures::StreamExt;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// How to reach Redis and how to name things there.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// `redis://[user:pass@]host:port[/db]`.
    pub url: String,
    /// Prepended to every key and channel, so several clusters (or tests) can share one Redis.
    pub prefix: String,
    /// How long a connection slot of a vanished instance keeps counting.
    pub slot_ttl: Duration,
}

/// A command connection that appears once Redis is first reached; `None` until then.
#[derive(Clone)]
pub(crate) struct RedisLink {
    pub prefix: String,
    pub instance: String,
    pub slot_ttl: Duration,
    manager: watch::Receiver<Option<ConnectionManager>>,
}

/// Longest wait for one Redis command before falling back.
pub(crate) const COMMAND_TIMEOUT: Duration = Duration::from_secs(1);
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// A silent subscription is pinged this often, so a dead link is noticed.
const PING_EVERY: Duration = Duration::from_secs(5);

#[derive(Serialize, Deserialize)]
struct Wire {
    /// Publishing instance; an instance ignores its own messages (it delivered them already).
    i: String,
    u: String,
    m: String,
    s: u64,
}

impl RedisLink {
    /// A connection for commands, if Redis has been reached (it then reconnects by itself).
    pub fn connection(&self) -> Option<ConnectionManager> {
        self.manager.borrow().clone()
    }

    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }
}

/// Starts the Redis tasks: the command connection, the publisher and the subscriber. Fails only on
/// a malformed URL; an unreachable Redis is retried in the background.
pub(crate) fn start(opts: &RedisOptions) -> crate::Result<(RedisLink, Notifier)> {
    let client = redis::Client::open(opts.url.as_str()).map_err(|e| {
        crate::Error::new(
            crate::ErrorKind::Invalid,
            format!("bad redis.url: {}", e.category()),
        )
    })?;
    let instance = hex::encode(rand::random::<[u8; 8]>());
    let (manager_tx, manager_rx) = watch::channel(None);
    tokio::spawn(connect_commands(client.clone(), manager_tx));
    let link = RedisLink {
        prefix: opts.prefix.clone(),
        instance,
        slot_ttl: opts.slot_ttl,
        manager: manager_rx,
    };
    let (outbound, queue) = mpsc::channel(4096);
    let notifier = Notifier::forwarding(outbound);
    let channel = link.key("notify");
    tokio::spawn(publish_loop(link.clone(), channel.clone(), queue));
    tokio::spawn(subscribe_loop(
        client,
        channel,
        link.instance.clone(),
        notifier.clone(),
    ));
    Ok((link, notifier))
}

async fn connect_commands(
    client: redis::Client,
    manager: watch::Sender<Option<ConnectionManager>>,
) {
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(COMMAND_TIMEOUT))
        .set_response_timeout(Some(COMMAND_TIMEOUT))
        .set_number_of_retries(2)
        .set_max_delay(MAX_BACKOFF);
    let mut backoff = MIN_BACKOFF;
    loop {
        match client
            .get_connection_manager_with_config(config.clone())
            .await
        {
            Ok(m) => {
                tracing::info!("connected to Redis");
                let _ = manager.send(Some(m));
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot reach Redis; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Sends queued notifications to the channel, batching whatever has piled up into one pipeline.
///
/// A batch that cannot be published (Redis away, or the command connection not yet re-established
/// after a Redis restart) is not kept: instead the publisher owes the cluster an "everything may
/// have changed" message (empty user), which it retries with backoff until Redis takes it. So a
/// change made while Redis was away reaches the other instances as soon as Redis is back, not only
/// at their safety poll, and the queue never grows while Redis is down.
async fn publish_loop(link: RedisLink, channel: String, mut queue: mpsc::Receiver<Notification>) {
    let mut batch = Vec::new();
    let mut owed = false;
    let mut backoff = MIN_BACKOFF;
    loop {
        if owed {
            tokio::select! {
                n = queue.recv_many(&mut batch, 256) => if n == 0 { return },
                _ = tokio::time::sleep(backoff) => {}
            }
        } else if queue.recv_many(&mut batch, 256).await == 0 {
            return;
        }
        let Some(mut conn) = link.connection() else {
            batch.clear();
            owed = true;
            backoff = (backoff * 2).min(MAX_BACKOFF);
            continue;
        };
        let mut pipe = redis::pipe();
        let wire = |n: Notification| Wire {
            i: link.instance.clone(),
            u: n.user_id,
            m: n.mailbox_id,
            s: n.modseq,
        };
        let announce = if owed {
            // Everything else in this batch is implied by it.
            batch.clear();
            vec![wire(Notification::everything())]
        } else {
            batch.drain(..).map(wire).collect()
        };
        for w in announce {
            let payload = serde_json::to_string(&w).expect("plain struct serializes");
            pipe.cmd("PUBLISH").arg(&channel).arg(payload).ignore();
        }
        let failed =
            match tokio::time::timeout(COMMAND_TIMEOUT, pipe.query_async::<()>(&mut conn)).await {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(_) => Some("timed out".to_string()),
            };
        match failed {
            None => {
                if owed {
                    tracing::info!("Redis takes notifications again; told the cluster to re-read");
                }
                owed = false;
                backoff = MIN_BACKOFF;
            }
            Some(e) => {
                if !owed {
                    tracing::warn!(error = %e, "publishing notifications to Redis failed; will announce a full re-read when it is back");
                }
                owed = true;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Subscribes to the channel and re-broadcasts other instances' notifications here; forever.
async fn subscribe_loop(client: redis::Client, channel: String, me: String, notifier: Notifier) {
    let mut backoff = MIN_BACKOFF;
    loop {
        match subscribe_once(&client, &channel, &me, &notifier, &mut backoff).await {
            Ok(()) => tracing::warn!("Redis notification subscription ended; reconnecting"),
            Err(e) => {
                tracing::warn!(error = %e, "Redis notification subscription failed; retrying")
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn subscribe_once(
    client: &redis::Client,
    channel: &str,
    me: &str,
    notifier: &Notifier,
    backoff: &mut Duration,
) -> redis::RedisResult<()> {
    let timed_out = || redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut));
    let mut pubsub = tokio::time::timeout(COMMAND_TIMEOUT, client.get_async_pubsub())
        .await
        .map_err(|_| timed_out())??;
    tokio::time::timeout(COMMAND_TIMEOUT, pubsub.subscribe(channel))
        .await
        .map_err(|_| timed_out())??;
    tracing::info!(%channel, "subscribed to cluster notifications");
    *backoff = MIN_BACKOFF;
    // Changes made elsewhere while we were not listening went unannounced: everyone re-reads.
    notifier.deliver_locally(Notification::everything());
    let (mut sink, mut stream) = pubsub.split();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    loop {
        tokio::select! {
            msg = stream.next() => {
                let Some(msg) = msg else { return Ok(()) };
                match serde_json::from_slice::<Wire>(msg.get_payload_bytes()) {
                    Ok(w) if w.i != me => notifier.deliver_locally(Notification {
                        user_id: w.u,
                        mailbox_id: w.m,
                        modseq: w.s,
                    }),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "malformed cluster notification ignored"),
                }
            }
            _ = ping.tick() => {
                tokio::time::timeout(COMMAND_TIMEOUT, sink.ping::<redis::Value>())
                    .await
                    .map_err(|_| timed_out())??;
            }
        }
    }
}
