//! Resident memory per idle IMAP connection: open many connections (half logged in with a small
//! INBOX selected, half only greeted), and read the server's VmRSS before, between and after.

use crate::corpus::{Generator, Profile};
use crate::imap_client::ImapClient;
use crate::report::{Table, fmt_bytes};
use crate::server::{Environment, Server, ServerSettings};
use crate::{Common, IdleArgs};
use anyhow::Context;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

pub async fn run(common: &Common, args: &IdleArgs) -> anyhow::Result<Vec<(String, Table)>> {
    raise_nofile_limit(args.connections as u64 * 2 + 256);
    let mut out = Vec::new();
    for backend in common.backends() {
        let env = Environment::create(&backend, "idle", common.keep)?;
        let settings = ServerSettings {
            max_imap_connections: args.connections + 100,
            max_connections_per_user: args.connections + args.login_burst,
            ..common.settings()
        };
        let mut server = Server::configure(&common.eider, &env, &settings)?;
        let users = args.users.max(1);
        eprintln!("[idle/{}] creating {users} users", backend.name());
        for i in 0..users {
            server.add_user(
                &format!("idle{i}"),
                "bench-password",
                &format!("idle{i}@bench.test"),
            )?;
        }
        server.start()?;
        fill_inboxes(&server.lmtp_addr, users, args.mailbox_size, common.seed).await?;
        // Warm up: one full login + select cycle, so lazily built state (the store pool's
        // connections, TLS config, allocator arenas) is not charged to the connections.
        for i in 0..users.min(4) {
            let mut c = ImapClient::connect(&server.imap_addr).await?;
            c.login(&format!("idle{i}"), "bench-password").await?;
            c.ok("SELECT INBOX", false).await?;
            c.logout().await;
        }
        settle().await;
        let (base, _) = server.memory_kib()?;
        let threads = server.threads();

        let half = args.connections / 2;
        let mut plain = Vec::with_capacity(half);
        for _ in 0..half {
            plain.push(ImapClient::connect(&server.imap_addr).await?);
        }
        settle().await;
        let (after_plain, _) = server.memory_kib()?;

        let mut selected = Vec::with_capacity(args.connections - half);
        let logged_in = args.connections - half;
        // Logins are argon2-bound; run a few at a time.
        let mut pending = tokio::task::JoinSet::new();
        let chunk = args.login_concurrency.max(1);
        for start in (0..logged_in).step_by(chunk) {
            for i in start..(start + chunk).min(logged_in) {
                let addr = server.imap_addr.clone();
                let user = format!("idle{}", i % users);
                pending.spawn(async move {
                    let mut c = ImapClient::connect(&addr).await?;
                    c.login(&user, "bench-password").await?;
                    c.ok("SELECT INBOX", false).await?;
                    Ok::<_, anyhow::Error>(c)
                });
            }
            while let Some(done) = pending.join_next().await {
                selected.push(done?.context("opening a logged-in connection")?);
            }
        }
        settle().await;
        let (after_all, hwm) = server.memory_kib()?;
        let threads_after = server.threads();

        drop(plain);
        for c in selected {
            c.logout().await;
        }
        settle().await;
        let (after_close, _) = server.memory_kib()?;

        // A login storm (clients reconnecting after a restart): many argon2 verifications at once.
        let mut burst = tokio::task::JoinSet::new();
        for i in 0..args.login_burst {
            let addr = server.imap_addr.clone();
            let user = format!("idle{}", i % users);
            burst.spawn(async move {
                let mut c = ImapClient::connect(&addr).await?;
                c.login(&user, "bench-password").await?;
                c.logout().await;
                Ok::<_, anyhow::Error>(())
            });
        }
        while let Some(done) = burst.join_next().await {
            done??;
        }
        settle().await;
        let (after_burst, burst_hwm) = server.memory_kib()?;
        let threads_burst = server.threads();
        server.stop()?;

        let per = |delta: u64, n: usize| delta as f64 / n.max(1) as f64;
        let mut table = Table::new(&["stage", "connections", "VmRSS", "delta", "KiB / conn"]);
        table.row(vec![
            "baseline (after warm-up)".into(),
            "0".into(),
            fmt_bytes(base * 1024),
            String::new(),
            String::new(),
        ]);
        table.row(vec![
            "+ greeted only".into(),
            half.to_string(),
            fmt_bytes(after_plain * 1024),
            fmt_bytes(after_plain.saturating_sub(base) * 1024),
            format!("{:.1}", per(after_plain.saturating_sub(base), half)),
        ]);
        table.row(vec![
            "+ logged in, INBOX selected".into(),
            logged_in.to_string(),
            fmt_bytes(after_all * 1024),
            fmt_bytes(after_all.saturating_sub(after_plain) * 1024),
            format!(
                "{:.1}",
                per(after_all.saturating_sub(after_plain), logged_in)
            ),
        ]);
        table.row(vec![
            "all open (mixed)".into(),
            args.connections.to_string(),
            fmt_bytes(after_all * 1024),
            fmt_bytes(after_all.saturating_sub(base) * 1024),
            format!(
                "{:.1}",
                per(after_all.saturating_sub(base), args.connections)
            ),
        ]);
        table.row(vec![
            "after all closed".into(),
            "0".into(),
            fmt_bytes(after_close * 1024),
            String::new(),
            String::new(),
        ]);
        if args.login_burst > 0 {
            table.row(vec![
                format!("after {} concurrent logins (closed)", args.login_burst),
                "0".into(),
                fmt_bytes(after_burst * 1024),
                fmt_bytes(after_burst.saturating_sub(after_close) * 1024),
                format!(
                    "{:.1} / login",
                    per(after_burst.saturating_sub(after_close), args.login_burst)
                ),
            ]);
        }
        let mixed = per(after_all.saturating_sub(base), args.connections);
        table.note(format!(
            "target < 64 KiB per connection: {} ({mixed:.1} KiB mixed); {users} users with {} messages each; \
             logins {} at a time; server threads {threads} → {threads_after} (→ {threads_burst} after the burst); \
             peak RSS {} (→ {} after the burst)",
            if mixed < 64.0 { "met" } else { "MISSED" },
            args.mailbox_size,
            args.login_concurrency.max(1),
            fmt_bytes(hwm * 1024),
            fmt_bytes(burst_hwm * 1024),
        ));
        out.push((format!("Idle IMAP connections ({})", backend.name()), table));
    }
    Ok(out)
}

async fn settle() {
    tokio::time::sleep(Duration::from_millis(1500)).await;
}

/// Delivers `per_user` small messages to each user over LMTP.
async fn fill_inboxes(addr: &str, users: usize, per_user: usize, seed: u64) -> anyhow::Result<()> {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    let mut line = String::new();
    let mut expect = async |r: &mut BufReader<_>, class: char| -> anyhow::Result<()> {
        loop {
            line.clear();
            r.read_line(&mut line).await?;
            if line.as_bytes().get(3) == Some(&b'-') {
                continue;
            }
            anyhow::ensure!(line.starts_with(class), "LMTP: {}", line.trim_end());
            return Ok(());
        }
    };
    expect(&mut r, '2').await?;
    w.write_all(b"LHLO bench\r\n").await?;
    expect(&mut r, '2').await?;
    let mut generator = Generator::new(seed, Profile::mailbox());
    for _ in 0..per_user {
        w.write_all(b"MAIL FROM:<s@example.org>\r\n").await?;
        expect(&mut r, '2').await?;
        for u in 0..users {
            w.write_all(format!("RCPT TO:<idle{u}@bench.test>\r\n").as_bytes())
                .await?;
            expect(&mut r, '2').await?;
        }
        w.write_all(b"DATA\r\n").await?;
        expect(&mut r, '3').await?;
        // Generated messages have no line starting with a dot.
        w.write_all(&generator.message("all@bench.test")).await?;
        w.write_all(b".\r\n").await?;
        for _ in 0..users {
            expect(&mut r, '2').await?;
        }
    }
    w.write_all(b"QUIT\r\n").await?;
    Ok(())
}

/// Raises this process's soft RLIMIT_NOFILE towards `want` (within the hard limit), using
/// `prlimit` from util-linux so no libc binding is needed.
fn raise_nofile_limit(want: u64) {
    let pid = std::process::id().to_string();
    let _ = std::process::Command::new("prlimit")
        .args(["--pid", &pid, &format!("--nofile={want}:")])
        .status();
}
