//! IMAP on a very large mailbox: populate one INBOX in-process (engine or store, concurrently),
//! then start `eider serve` on the same store and time whole-mailbox commands over a socket.

use crate::corpus::{Generator, Profile, Rng};
use crate::imap_client::{ImapClient, Response};
use crate::report::{Table, fmt_bytes, ms};
use crate::server::{Environment, Server};
use crate::{Common, ImapLargeArgs, Populate};
use anyhow::Context;
use eider_engine::{CreateUser, Engine, EngineConfig, Flags, StoreOptions, flags};
use eider_store::{NewContent, Segment};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Share of the mailbox marked `\Seen` (the rest is what `UID SEARCH UNSEEN` finds).
const SEEN_SHARE: f64 = 0.9;

pub struct Population {
    pub messages: usize,
    pub via: &'static str,
    pub elapsed: Duration,
    pub raw_bytes: u64,
    pub storage_bytes: u64,
}

pub async fn run(common: &Common, args: &ImapLargeArgs) -> anyhow::Result<Vec<(String, Table)>> {
    let mut out = Vec::new();
    for backend in common.backends() {
        let env = Environment::create(&backend, "imap-large", common.keep)?;
        let opts = StoreOptions {
            url: env.store_url.clone(),
            data_dir: env.data_dir().to_path_buf(),
            max_connections: 16,
        };
        let population = populate(&opts, args, common.seed, backend.name()).await?;
        let storage_bytes = env.storage_bytes()?;
        let population = Population {
            storage_bytes,
            ..population
        };
        let mut server = Server::configure(&common.eider, &env, &common.settings())?;
        server.start()?;
        let (rss_idle, _) = server.memory_kib()?;
        let measured = measure(&server.imap_addr, args.repeat).await;
        let (rss_after, hwm) = server.memory_kib()?;
        server.stop()?;
        let measured = measured?;

        let mut table = Table::new(&[
            "command",
            "first ms",
            "median ms",
            "min ms",
            "responses",
            "bytes",
            "target",
            "result",
        ]);
        for m in &measured {
            let median = median(&m.runs);
            let (target, verdict) = match m.target {
                Some(t) => (
                    format!("< {} ms", t.as_millis()),
                    if median < t { "met" } else { "MISSED" }.to_string(),
                ),
                None => (String::new(), String::new()),
            };
            let last = m.last.as_ref();
            table.row(vec![
                m.command.clone(),
                ms(m.runs[0]),
                ms(median),
                ms(*m.runs.iter().min().expect("at least one run")),
                last.map(|r| r.untagged.to_string()).unwrap_or_default(),
                last.map(|r| fmt_bytes(r.bytes as u64)).unwrap_or_default(),
                target,
                verdict,
            ]);
        }
        table.note(format!(
            "populated {} messages ({} raw) via {} in {:.1} s = {:.0} msgs/s; store size {}",
            population.messages,
            fmt_bytes(population.raw_bytes),
            population.via,
            population.elapsed.as_secs_f64(),
            population.messages as f64 / population.elapsed.as_secs_f64(),
            fmt_bytes(population.storage_bytes),
        ));
        if let Some(hits) = measured
            .iter()
            .find(|m| m.command.contains("SEARCH"))
            .and_then(|m| m.last.as_ref())
        {
            let found: usize = hits
                .kept
                .iter()
                .map(|l| l.split_whitespace().skip(2).count())
                .sum();
            table.note(format!("UID SEARCH UNSEEN found {found} messages"));
        }
        table.note(format!(
            "server RSS {} after start, {} after the commands (peak {}); {} runs per command, first run right after start",
            fmt_bytes(rss_idle * 1024),
            fmt_bytes(rss_after * 1024),
            fmt_bytes(hwm * 1024),
            args.repeat,
        ));
        out.push((
            format!(
                "IMAP on a {}-message INBOX ({})",
                args.messages,
                backend.name()
            ),
            table,
        ));
    }
    Ok(out)
}

struct Measured {
    command: String,
    target: Option<Duration>,
    runs: Vec<Duration>,
    last: Option<Response>,
}

fn median(runs: &[Duration]) -> Duration {
    let mut sorted = runs.to_vec();
    sorted.sort_unstable();
    sorted[sorted.len() / 2]
}

async fn measure(addr: &str, repeat: usize) -> anyhow::Result<Vec<Measured>> {
    let second = Some(Duration::from_secs(1));
    let mut list: Vec<Measured> = [
        ("SELECT INBOX", second),
        ("UID FETCH 1:* (FLAGS)", second),
        ("FETCH 1:* (UID FLAGS)", None),
        ("UID SEARCH UNSEEN", None),
        ("FETCH 1:100 (ENVELOPE)", None),
        ("FETCH 1:100 (BODY.PEEK[])", None),
        ("NOOP", None),
    ]
    .into_iter()
    .map(|(c, t)| Measured {
        command: c.to_string(),
        target: t,
        runs: Vec::new(),
        last: None,
    })
    .collect();
    let mut logins = Vec::new();
    for round in 0..repeat.max(1) {
        let mut client = ImapClient::connect(addr).await?;
        let login = client.login("big", "bench-password").await?;
        logins.push(login.elapsed);
        for m in &mut list {
            let keep = m.command.contains("SEARCH");
            let r = client
                .ok(&m.command, keep)
                .await
                .with_context(|| format!("round {round}"))?;
            m.runs.push(r.elapsed);
            m.last = Some(r);
        }
        client.logout().await;
    }
    list.insert(
        0,
        Measured {
            command: "LOGIN (argon2 verify)".into(),
            target: None,
            runs: logins,
            last: None,
        },
    );
    Ok(list)
}

/// Fills one user's INBOX with `args.messages` generated messages.
async fn populate(
    opts: &StoreOptions,
    args: &ImapLargeArgs,
    seed: u64,
    label: &str,
) -> anyhow::Result<Population> {
    let engine = Engine::open(opts, EngineConfig::default()).await?;
    let user = engine
        .create_user(&CreateUser {
            username: "big".into(),
            password: "bench-password".into(),
            address: Some("big@bench.test".into()),
            ..Default::default()
        })
        .await?;
    let inbox = engine.find_mailbox(&user, "INBOX").await?.id;
    let total = args.messages;
    let next = Arc::new(AtomicUsize::new(0));
    let raw_bytes = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let now = eider_store::unix_now();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..args.concurrency.max(1) {
        let engine = engine.clone();
        let (user, inbox) = (user.clone(), inbox.clone());
        let (next, raw_bytes) = (next.clone(), raw_bytes.clone());
        let populate = args.populate;
        let label = label.to_string();
        tasks.spawn(async move {
            let mut generator = Generator::new(seed ^ (worker as u64 + 1) << 32, Profile::mailbox());
            let mut flag_rng = Rng::new(seed + worker as u64);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let raw = generator.message("big@bench.test");
                raw_bytes.fetch_add(raw.len(), Ordering::Relaxed);
                let seen = flag_rng.chance(SEEN_SHARE);
                let system = if seen { flags::SEEN } else { 0 };
                // One message every ten minutes, ending now.
                let date = now - (total - i) as i64 * 600;
                match populate {
                    Populate::Engine => {
                        let f = Flags {
                            system,
                            keywords: Vec::new(),
                        };
                        engine.append(&user, &inbox, raw, &f, Some(date)).await?;
                    }
                    Populate::Store => {
                        let content = prepare_content(&engine, raw).await?;
                        engine
                            .store()
                            .append_message(&user, &inbox, &content, system, "", date)
                            .await?;
                    }
                }
                if i > 0 && i % 10_000 == 0 {
                    let secs = started.elapsed().as_secs_f64();
                    eprintln!(
                        "[imap-large/{label}] {i} messages in {secs:.1} s ({:.0}/s, ~{:.0} s to go)",
                        i as f64 / secs,
                        (total - i) as f64 * secs / i as f64
                    );
                }
            }
            Ok::<_, anyhow::Error>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    let elapsed = started.elapsed();
    engine.store().close().await;
    Ok(Population {
        messages: total,
        via: match args.populate {
            Populate::Engine => "Engine::append",
            Populate::Store => "Store::append_message",
        },
        elapsed,
        raw_bytes: raw_bytes.load(Ordering::Relaxed) as u64,
        storage_bytes: 0,
    })
}

/// What `Engine::append` does before it reaches the store, minus the per-message
/// `spawn_blocking` hop: parse once (inline), cut large leaf bodies into blobs.
async fn prepare_content(engine: &Engine, raw: Vec<u8>) -> anyhow::Result<NewContent> {
    let info = eider_mime::analyze(&raw);
    let threshold = engine.config().blob_threshold as usize;
    let mut segments = Vec::new();
    let mut at = 0usize;
    for (start, end) in info.leaf_bodies() {
        let (start, end) = (start as usize, end as usize);
        if end <= start || start < at || end > raw.len() || end - start < threshold {
            continue;
        }
        let hash = engine.store().put_blob(&raw[start..end]).await?;
        segments.push(Segment {
            offset: start as u64,
            len: (end - start) as u64,
            hash,
        });
        at = end;
    }
    Ok(NewContent {
        id: blake3::hash(&raw).to_hex().to_string(),
        size: raw.len() as u64,
        skeleton_stored: eider_store::encode_skeleton(&raw, &segments),
        segments,
        info_json: serde_json::to_string(&info)?,
    })
}
