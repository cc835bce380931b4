//! Shared counters and connection slots: per process, or across the cluster through Redis.
//!
//! Two primitives cover the limits Eider enforces across instances:
//! - a windowed counter (`hit` / `count`): starts at the first hit and vanishes `window` later
//!   (auth-failure rate limits);
//! - slots (`claim_slot`): at most N holders of a key at once (IMAP connections per user). With
//!   Redis a slot carries an expiry that its instance keeps pushing forward, so the slots of a
//!   killed instance free themselves after `redis.slot_ttl`.
//!
//! When Redis cannot be reached, each operation falls back to this process's own counters: limits
//! then hold per instance instead of per cluster, which is weaker but never locks users out.

use crate::shared_redis::{COMMAND_TIMEOUT, RedisLink};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone)]
pub struct Counters {
    local: Arc<LocalCounters>,
    redis: Option<Arc<RedisCounters>>,
}

#[derive(Default)]
struct LocalCounters {
    windows: Mutex<HashMap<String, (u64, Instant)>>,
    slots: Mutex<HashMap<String, usize>>,
}

struct RedisCounters {
    link: RedisLink,
    /// Slots held by this instance (member → key), refreshed by the heartbeat task.
    held: Mutex<HashMap<String, String>>,
    next_slot: std::sync::atomic::AtomicU64,
}

/// A held slot; released when dropped.
pub struct Slot {
    counters: Counters,
    key: String,
    /// Set for a slot held in Redis; None for a local one.
    redis_member: Option<String>,
}

/// Windowed counters beyond this many keys get their expired entries swept, bounding memory.
const LOCAL_SWEEP_AT: usize = 10_000;

/// INCRBY, and give a new key its lifetime; one atomic step.
const HIT_SCRIPT: &str = r"
local n = redis.call('INCRBY', KEYS[1], ARGV[2])
if n == tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n";

/// Slots are a sorted set of holder → expiry (Redis server clock, ms). Expired holders are dropped
/// first; then a slot is taken only below the limit.
const CLAIM_SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1";

/// Pushes the expiry of live holders forward: KEYS[i] holds member ARGV[i + 1]; ARGV[1] is the TTL.
const REFRESH_SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + tonumber(ARGV[1]), ARGV[i + 1])
  redis.call('PEXPIRE', key, ARGV[1])
end
return #KEYS";

impl Counters {
    /// Counters of this process only (the single-node default).
    pub fn local() -> Counters {
        Counters {
            local: Arc::default(),
            redis: None,
        }
    }

    pub(crate) fn with_redis(link: RedisLink) -> Counters {
        let redis = Arc::new(RedisCounters {
            link,
            held: Mutex::default(),
            next_slot: Default::default(),
        });
        tokio::spawn(heartbeat(Arc::downgrade(&redis)));
        Counters {
            local: Arc::default(),
            redis: Some(redis),
        }
    }

    /// Adds one to the windowed counter `key` (created with lifetime `window`); returns the count.
    pub async fn hit(&self, key: &str, window: Duration) -> u64 {
        self.add(key, 1, window).await
    }

    /// Adds `amount` (at least 1) to the windowed counter `key`, created with lifetime `window`
    /// by the first addition; returns the new total.
    pub async fn add(&self, key: &str, amount: u64, window: Duration) -> u64 {
        let amount = amount.max(1);
        if let Some(redis) = &self.redis {
            let ms = window.as_millis().max(1) as u64;
            let script = redis::Script::new(HIT_SCRIPT);
            let mut invocation = script.key(redis.link.key(key));
            invocation.arg(ms).arg(amount);
            if let Some(n) = redis.run(invocation).await {
                return n;
            }
        }
        self.local.add(key, amount, window)
    }

    /// The current value of the windowed counter `key` (0 when absent or expired).
    pub async fn count(&self, key: &str) -> u64 {
        if let Some(redis) = &self.redis
            && let Some(mut conn) = redis.link.connection()
        {
            let mut cmd = redis::cmd("GET");
            cmd.arg(redis.link.key(key));
            let get = cmd.query_async::<Option<u64>>(&mut conn);
            match tokio::time::timeout(COMMAND_TIMEOUT, get).await {
                Ok(Ok(n)) => return n.unwrap_or(0),
                Ok(Err(e)) => tracing::warn!(error = %e, "Redis GET failed; counting locally"),
                Err(_) => tracing::warn!("Redis GET timed out; counting locally"),
            }
        }
        self.local.count(key)
    }

    /// Claims one of at most `max` slots under `key`; None when all are taken.
    pub async fn claim_slot(&self, key: &str, max: usize) -> Option<Slot> {
        if let Some(redis) = &self.redis {
            let n = redis
                .next_slot
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let member = format!("{}:{n}", redis.link.instance);
            let script = redis::Script::new(CLAIM_SCRIPT);
            let mut invocation = script.key(redis.link.key(key));
            invocation
                .arg(max)
                .arg(redis.link.slot_ttl.as_millis() as u64)
                .arg(&member);
            match redis.run::<u64>(invocation).await {
                Some(0) => return None,
                Some(_) => {
                    redis
                        .held
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(member.clone(), key.to_string());
                    return Some(Slot {
                        counters: self.clone(),
                        key: key.to_string(),
                        redis_member: Some(member),
                    });
                }
                None => {}
            }
        }
        self.local.claim(key, max).then(|| Slot {
            counters: self.clone(),
            key: key.to_string(),
            redis_member: None,
        })
    }
}

impl LocalCounters {
    fn add(&self, key: &str, amount: u64, window: Duration) -> u64 {
        let now = Instant::now();
        let mut map = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= LOCAL_SWEEP_AT {
            map.retain(|_, (_, until)| *until > now);
        }
        let entry = map.entry(key.to_string()).or_insert((0, now + window));
        if entry.1 <= now {
            *entry = (0, now + window);
        }
        entry.0 += amount;
        entry.0
    }

    fn count(&self, key: &str) -> u64 {
        let map = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(key) {
            Some((n, until)) if *until > Instant::now() => *n,
            _ => 0,
        }
    }

    fn claim(&self, key: &str, max: usize) -> bool {
        let mut map = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let count = map.entry(key.to_string()).or_default();
        if *count >= max {
            return false;
        }
        *count += 1;
        true
    }

    fn release(&self, key: &str) {
        let mut map = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = map.get_mut(key) {
            *count -= 1;
            if *count == 0 {
                map.remove(key);
            }
        }
    }
}

impl RedisCounters {
    /// Runs a script; None (after logging) when Redis is away or slow, so the caller falls back.
    async fn run<T: redis::FromRedisValue>(
        &self,
        invocation: redis::ScriptInvocation<'_>,
    ) -> Option<T> {
        let mut conn = self.link.connection()?;
        match tokio::time::timeout(COMMAND_TIMEOUT, invocation.invoke_async(&mut conn)).await {
            Ok(Ok(v)) => Some(v),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "Redis counter failed; using this instance's");
                None
            }
            Err(_) => {
                tracing::warn!("Redis counter timed out; using this instance's");
                None
            }
        }
    }
}

/// Keeps this instance's slots alive in Redis until the counters are dropped.
async fn heartbeat(redis: std::sync::Weak<RedisCounters>) {
    let every = match redis.upgrade() {
        Some(r) => (r.link.slot_ttl / 3).max(Duration::from_millis(200)),
        None => return,
    };
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let Some(redis) = redis.upgrade() else { return };
        let held: Vec<(String, String)> = redis
            .held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(m, k)| (m.clone(), k.clone()))
            .collect();
        let script = redis::Script::new(REFRESH_SCRIPT);
        for chunk in held.chunks(500) {
            let mut invocation = script.prepare_invoke();
            invocation.arg(redis.link.slot_ttl.as_millis() as u64);
            for (member, key) in chunk {
                invocation.key(redis.link.key(key)).arg(member);
            }
            let _: Option<u64> = redis.run(invocation).await;
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Some(member) = self.redis_member.take() else {
            self.counters.local.release(&self.key);
            return;
        };
        let Some(redis) = self.counters.redis.clone() else {
            return;
        };
        redis
            .held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&member);
        let key = redis.link.key(&self.key);
        // Dropping happens in sync code; the release is a fire-and-forget command. If it is lost,
        // the slot expires after slot_ttl since nobody refreshes it any more.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let Some(mut conn) = redis.link.connection() else {
                    return;
                };
                let mut cmd = redis::cmd("ZREM");
                cmd.arg(key).arg(member);
                let zrem = cmd.query_async::<()>(&mut conn);
                let _ = tokio::time::timeout(COMMAND_TIMEOUT, zrem).await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_window_counts_then_expires() {
        let c = Counters::local();
        let w = Duration::from_millis(100);
        assert_eq!(c.hit("k", w).await, 1);
        assert_eq!(c.hit("k", w).await, 2);
        assert_eq!(c.count("k").await, 2);
        assert_eq!(c.count("other").await, 0);
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(c.count("k").await, 0);
        assert_eq!(c.hit("k", w).await, 1);
    }

    #[tokio::test]
    async fn local_slots_are_limited_and_released_on_drop() {
        let c = Counters::local();
        let a = c.claim_slot("u", 2).await.expect("first");
        let _b = c.claim_slot("u", 2).await.expect("second");
        assert!(c.claim_slot("u", 2).await.is_none());
        drop(a);
        assert!(c.claim_slot("u", 2).await.is_some());
    }
}
