//! Starts Debian's Dovecot (`dovecot-imapd`) as a reference IMAP server: a throwaway config in a
//! temp dir, plain auth for one passwd-file user, maildir storage in the temp dir, IMAP on a free
//! loopback port. Returns None, with a loud SKIPPED line, when Dovecot is not installed or does not
//! start. The process is stopped on drop.
#![allow(dead_code)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Dovecot {
    pub dir: tempfile::TempDir,
    pub imap_port: u16,
    child: Child,
}

/// Where the `dovecot` master binary is, if installed.
fn binary() -> Option<PathBuf> {
    ["/usr/sbin/dovecot", "/usr/local/sbin/dovecot"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

fn skipped(why: &str) {
    crate::common::skipped(&format!(
        "Dovecot comparison ({why}); install Debian's `dovecot-imapd` to run it"
    ));
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn current_user() -> String {
    Command::new("id")
        .arg("-un")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

impl Dovecot {
    /// Starts Dovecot with one user `user`/`password`.
    pub fn start(user: &str, password: &str) -> Option<Dovecot> {
        Dovecot::start_users(&[(user, password)])
    }

    /// Starts Dovecot with these users (name, password). A password that starts with `{` is
    /// taken as already in Dovecot's `{SCHEME}hash` form (e.g. `{ARGON2ID}$argon2id$...`).
    pub fn start_users(users: &[(&str, &str)]) -> Option<Dovecot> {
        Dovecot::start_users_with_config(users, "")
    }

    /// Like [`Dovecot::start`], with `extra_config` appended to the generated configuration.
    pub fn start_with_config(user: &str, password: &str, extra_config: &str) -> Option<Dovecot> {
        Dovecot::start_users_with_config(&[(user, password)], extra_config)
    }

    /// Like [`Dovecot::start_users`], with `extra_config` appended to the configuration.
    pub fn start_users_with_config(users: &[(&str, &str)], extra_config: &str) -> Option<Dovecot> {
        let Some(bin) = binary() else {
            skipped("/usr/sbin/dovecot not found");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let mail = root.join("mail");
        for d in ["run", "state", "mail"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        let passwd: String = users
            .iter()
            .map(|(user, password)| match password.starts_with('{') {
                true => format!("{user}:{password}\n"),
                false => format!("{user}:{{PLAIN}}{password}\n"),
            })
            .collect();
        std::fs::write(root.join("passwd"), passwd).unwrap();
        // Dovecot refuses to access mail as root: as root, mail belongs to `nobody`, which must be
        // able to reach the temp dir. Otherwise everything runs as the current user.
        let root_run = is_root();
        let (uid, gid, extra) = if root_run {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
            std::os::unix::fs::chown(&mail, Some(65534), Some(65534)).unwrap();
            ("65534".to_string(), "65534".to_string(), String::new())
        } else {
            let me = current_user();
            let id = |flag: &str| {
                Command::new("id")
                    .arg(flag)
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                    .unwrap_or_default()
            };
            (
                id("-u"),
                id("-g"),
                format!("default_login_user = {me}\ndefault_internal_user = {me}\n"),
            )
        };
        let imap_port = crate::common::free_port();
        let config = format!(
            "protocols = imap\n\
             listen = 127.0.0.1\n\
             base_dir = {run}\n\
             state_dir = {state}\n\
             log_path = {log}\n\
             ssl = no\n\
             disable_plaintext_auth = no\n\
             auth_mechanisms = plain login\n\
             first_valid_uid = 1\n\
             mail_fsync = never\n\
             mail_location = maildir:{mail}/%u\n\
             {extra}\
             passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {passwd}\n}}\n\
             userdb {{\n  driver = static\n  args = uid={uid} gid={gid} home={mail}/%u\n}}\n\
             service imap-login {{\n  chroot =\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {imap_port}\n  }}\n  \
             inet_listener imaps {{\n    port = 0\n  }}\n}}\n\
             service anvil {{\n  chroot =\n}}\n\
             {extra_config}",
            run = root.join("run").display(),
            state = root.join("state").display(),
            log = root.join("dovecot.log").display(),
            mail = mail.display(),
            passwd = root.join("passwd").display(),
        );
        let config_path = root.join("dovecot.conf");
        std::fs::write(&config_path, config).unwrap();
        let child = match Command::new(&bin)
            .arg("-F")
            .arg("-c")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(root.join("stderr.log")).unwrap(),
            ))
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                skipped(&format!("cannot run {}: {e}", bin.display()));
                return None;
            }
        };
        let mut server = Dovecot {
            dir,
            imap_port,
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if TcpStream::connect(("127.0.0.1", imap_port)).is_ok() {
                return Some(server);
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                skipped(&format!("dovecot exited with {status}: {}", server.log()));
                return None;
            }
            if Instant::now() > deadline {
                skipped(&format!("dovecot did not listen: {}", server.log()));
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!(
            "{}{}",
            read(&self.dir.path().join("stderr.log")),
            read(&self.dir.path().join("dovecot.log"))
        )
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        // SIGTERM lets the master stop its children; kill() would leave them running.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
