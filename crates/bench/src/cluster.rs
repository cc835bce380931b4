//! Cluster throughput: N `eider serve` instances on one PostgreSQL database and one Redis, with the
//! client connections spread round robin over the instances (connection `c` goes to instance
//! `c % N`), as a TCP load balancer would spread them.
//!
//! For each instance count it measures, on a fresh database:
//! * LMTP delivery, one recipient per message, recipients rotating over the users;
//! * IMAP APPEND, each connection logged in as its own user (different mailboxes);
//! * IMAP APPEND, every connection logged in as the same user (one INBOX: every append on every
//!   instance competes for the same mailbox row to allocate its UID and MODSEQ).
//!
//! Besides msgs/s and latency it reports the CPU time the eider processes used during each phase,
//! and that of the PostgreSQL backends serving the bench database (the database's share of the
//! cores; its background writers are not counted).

use crate::corpus::{Generator, Profile};
use crate::imap_client::ImapClient;
use crate::lmtp::{deliver, dot_stuff, user_address};
use crate::report::{Table, percentile};
use crate::server::{Backend, Environment, Server, process_cpu_time, psql};
use crate::{ClusterArgs, Common};
use anyhow::{Context, bail};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const PASSWORD: &str = "bench-password";

/// One measured phase.
struct Phase {
    name: &'static str,
    messages: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    eider_cpu: Duration,
    postgres_cpu: Duration,
}

pub async fn run(common: &Common, args: &ClusterArgs) -> anyhow::Result<Vec<(String, Table)>> {
    if args.instances.contains(&0) {
        bail!("--instances must be at least 1");
    }
    let backend = Backend::Postgres {
        admin_url: common.pg_url.clone(),
    };
    let mut table = Table::new(&[
        "instances",
        "phase",
        "conns",
        "messages",
        "seconds",
        "msgs/s",
        "p50 ms",
        "p99 ms",
        "eider CPU s",
        "postgres CPU s",
    ]);
    let mut seed = common.seed;
    for &n in &args.instances {
        let env = Environment::create(&backend, &format!("cluster{n}"), common.keep)?;
        let mut settings = common.settings();
        let prefix = format!("eiderbench:{}:{n}:", std::process::id());
        settings
            .env
            .push(("EIDER_REDIS_URL".into(), args.redis_url.clone()));
        settings.env.push(("EIDER_REDIS_PREFIX".into(), prefix));
        let mut servers = (0..n)
            .map(|i| Server::configure_instance(&common.eider, &env, &settings, &format!("-{i}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let users = args.users.max(1);
        eprintln!("[cluster/{n}] creating {users} users");
        for i in 0..users {
            servers[0].add_user(&format!("user{i}"), PASSWORD, &user_address(i))?;
        }
        for s in &mut servers {
            s.start()?;
        }
        // Eider starts without Redis and keeps retrying: make sure this is really a cluster.
        tokio::time::sleep(Duration::from_millis(500)).await;
        if let Some(s) = servers
            .iter()
            .find(|s| s.log().contains("cannot reach Redis"))
        {
            bail!(
                "an instance cannot reach Redis at {}:\n{}",
                args.redis_url,
                s.log()
            );
        }
        let lmtp_addrs: Vec<String> = servers.iter().map(|s| s.lmtp_addr.clone()).collect();
        let imap_addrs: Vec<String> = servers.iter().map(|s| s.imap_addr.clone()).collect();

        let corpus = |seed: &mut u64| {
            let mut generator = Generator::new(*seed, Profile::delivery());
            *seed += 1;
            (0..args.messages)
                .map(|_| generator.message("team@bench.test"))
                .collect::<Vec<_>>()
        };

        let lmtp_corpus = Arc::new(corpus(&mut seed).iter().map(|m| dot_stuff(m)).collect());
        let phase = measure(&env, &servers, "LMTP deliver", args.messages, async {
            let run = deliver(&lmtp_addrs, lmtp_corpus, args.connections, 1, users).await?;
            Ok(run.latencies)
        })
        .await
        .context("LMTP phase")?;
        report(&mut table, n, args.connections, &phase);

        // Logins (argon2) happen before the clock starts.
        let append_corpus = Arc::new(corpus(&mut seed));
        let clients = login_all(&imap_addrs, args.connections, users).await?;
        let phase = measure(
            &env,
            &servers,
            "APPEND, own mailboxes",
            args.messages,
            async { append(clients, append_corpus).await },
        )
        .await
        .context("APPEND phase")?;
        report(&mut table, n, args.connections, &phase);

        let shared_corpus = Arc::new(corpus(&mut seed));
        let clients = login_all(&imap_addrs, args.connections, 1).await?;
        let phase = measure(
            &env,
            &servers,
            "APPEND, one mailbox",
            args.messages,
            async { append(clients, shared_corpus).await },
        )
        .await
        .context("APPEND to one mailbox phase")?;
        report(&mut table, n, args.connections, &phase);

        for s in &mut servers {
            s.stop()?;
        }
    }
    table.note(format!(
        "{} messages of 5-50 KiB (a third with base64 attachments) per row, {} client connections \
         spread round robin over the instances; one PostgreSQL database and one Redis shared by \
         all instances; a fresh database per instance count. eider CPU: user+system time of the \
         eider processes during the phase; postgres CPU: of the PostgreSQL backends serving the \
         bench database (not its background writers).",
        args.messages, args.connections
    ));
    Ok(vec![(
        "Cluster throughput (PostgreSQL + Redis)".into(),
        table,
    )])
}

/// PostgreSQL backend processes serving the bench database, with their CPU time so far.
fn database_backends(env: &Environment) -> anyhow::Result<HashMap<u32, Duration>> {
    let (Backend::Postgres { admin_url }, Some(db)) = (&env.backend, &env.pg_database) else {
        return Ok(HashMap::new());
    };
    let pids = psql(
        admin_url,
        &format!("SELECT pid FROM pg_stat_activity WHERE datname = '{db}'"),
    )?;
    Ok(pids
        .lines()
        .filter_map(|l| l.trim().parse::<u32>().ok())
        .map(|pid| (pid, process_cpu_time(pid)))
        .collect())
}

/// Runs `work` and takes the CPU time of the instances and of the database backends serving
/// them around it.
async fn measure(
    env: &Environment,
    servers: &[Server],
    name: &'static str,
    messages: usize,
    work: impl std::future::Future<Output = anyhow::Result<Vec<Duration>>>,
) -> anyhow::Result<Phase> {
    let eider_cpu = || servers.iter().map(Server::cpu_time).sum::<Duration>();
    let (eider_before, pg_before) = (eider_cpu(), database_backends(env)?);
    let started = Instant::now();
    let latencies = work.await?;
    let elapsed = started.elapsed();
    let eider_used = eider_cpu().saturating_sub(eider_before);
    // Backends opened during the phase count in full; ones that exited during it are lost
    // (the pools keep their connections, so there are none in practice).
    let postgres_cpu = database_backends(env)?
        .into_iter()
        .map(|(pid, now)| now.saturating_sub(pg_before.get(&pid).copied().unwrap_or_default()))
        .sum();
    let phase = Phase {
        name,
        messages,
        elapsed,
        latencies,
        eider_cpu: eider_used,
        postgres_cpu,
    };
    eprintln!(
        "[cluster/{}] {name}: {:.1} msgs/s",
        servers.len(),
        messages as f64 / elapsed.as_secs_f64()
    );
    Ok(phase)
}

fn report(table: &mut Table, instances: usize, connections: usize, phase: &Phase) {
    let mut lat = phase.latencies.clone();
    table.row(vec![
        instances.to_string(),
        phase.name.to_string(),
        connections.to_string(),
        phase.messages.to_string(),
        format!("{:.2}", phase.elapsed.as_secs_f64()),
        format!("{:.1}", phase.messages as f64 / phase.elapsed.as_secs_f64()),
        format!("{:.1}", percentile(&mut lat, 0.50).as_secs_f64() * 1e3),
        format!("{:.1}", percentile(&mut lat, 0.99).as_secs_f64() * 1e3),
        format!("{:.1}", phase.eider_cpu.as_secs_f64()),
        format!("{:.1}", phase.postgres_cpu.as_secs_f64()),
    ]);
}

/// Opens `connections` IMAP sessions, session `c` on `addrs[c % addrs.len()]` logged in as user
/// `c % users`.
async fn login_all(
    addrs: &[String],
    connections: usize,
    users: usize,
) -> anyhow::Result<Vec<ImapClient>> {
    let mut clients = Vec::with_capacity(connections);
    for c in 0..connections {
        let mut client = ImapClient::connect(&addrs[c % addrs.len()]).await?;
        client
            .login(&format!("user{}", c % users), PASSWORD)
            .await?;
        clients.push(client);
    }
    Ok(clients)
}

/// APPENDs every message in `corpus` to INBOX once, over all `clients` in parallel; returns the
/// per-APPEND latencies.
async fn append(
    clients: Vec<ImapClient>,
    corpus: Arc<Vec<Vec<u8>>>,
) -> anyhow::Result<Vec<Duration>> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for mut client in clients {
        let corpus = corpus.clone();
        let next = next.clone();
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= corpus.len() {
                    break;
                }
                latencies.push(client.append("INBOX", &corpus[i]).await?.elapsed);
            }
            client.logout().await;
            Ok::<_, anyhow::Error>(latencies)
        });
    }
    let mut latencies = Vec::new();
    while let Some(done) = tasks.join_next().await {
        latencies.extend(done??);
    }
    Ok(latencies)
}
