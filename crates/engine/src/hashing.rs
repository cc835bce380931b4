//! A fixed pool of threads for argon2, one per core, each verifying into one reused memory block.
//!
//! Why not `spawn_blocking`: every argon2 run needs ~19 MiB. On tokio's blocking pool each run lands
//! on whichever of up to 512 threads is free and allocates afresh, and glibc keeps those freed
//! blocks in per-thread arenas, so a login burst left the server hundreds of MiB larger (measured:
//! 32 concurrent logins, +590 MiB, never returned). Here memory is bounded by cores × 19 MiB.

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::oneshot;

/// Largest argon2 memory cost accepted from a stored hash (1 GiB), so a corrupt row cannot make a
/// worker allocate without bound.
const MAX_BLOCKS: usize = 1 << 20;

enum Job {
    Verify {
        password: String,
        phc: String,
        reply: oneshot::Sender<bool>,
    },
    Hash {
        password: String,
        reply: oneshot::Sender<Option<String>>,
    },
}

fn pool() -> &'static Mutex<Sender<Job>> {
    static POOL: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();
    POOL.get_or_init(|| {
        let (sender, receiver) = channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        for i in 0..workers {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("eider-argon2-{i}"))
                .spawn(move || worker(&receiver))
                .expect("spawn password hashing thread");
        }
        Mutex::new(sender)
    })
}

fn worker(jobs: &Mutex<Receiver<Job>>) {
    let mut blocks: Vec<Block> = Vec::new();
    loop {
        let job = match jobs.lock().unwrap_or_else(|p| p.into_inner()).recv() {
            Ok(job) => job,
            Err(_) => return,
        };
        match job {
            Job::Verify {
                password,
                phc,
                reply,
            } => {
                let _ = reply.send(verify_with(&mut blocks, &password, &phc));
            }
            Job::Hash { password, reply } => {
                let salt = SaltString::generate(&mut rand::rngs::OsRng);
                let hashed = Argon2::default()
                    .hash_password(password.as_bytes(), &salt)
                    .map(|h| h.to_string())
                    .ok();
                let _ = reply.send(hashed);
            }
        }
    }
}

fn verify_with(blocks: &mut Vec<Block>, password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Ok(params), Ok(algorithm)) = (
        Params::try_from(&parsed),
        Algorithm::try_from(parsed.algorithm),
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::V0x13,
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let count = params.block_count();
    if count > MAX_BLOCKS {
        return false;
    }
    if blocks.len() < count {
        blocks.resize(count, Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    let context = Argon2::new(algorithm, version, params);
    if context
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut blocks[..count])
        .is_err()
    {
        return false;
    }
    // Constant time: look at every byte whatever the first difference.
    out.iter()
        .zip(expected.as_bytes())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

fn submit(job: Job) {
    let _ = pool().lock().unwrap_or_else(|p| p.into_inner()).send(job);
}

/// Checks a password against a stored PHC hash on the hashing pool.
pub async fn verify(password: &str, phc: &str) -> bool {
    let (reply, answer) = oneshot::channel();
    submit(Job::Verify {
        password: password.to_string(),
        phc: phc.to_string(),
        reply,
    });
    answer.await.unwrap_or(false)
}

/// Hashes a new password (argon2id, random salt) on the hashing pool.
pub async fn hash(password: &str) -> Option<String> {
    let (reply, answer) = oneshot::channel();
    submit(Job::Hash {
        password: password.to_string(),
        reply,
    });
    answer.await.ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_wrong_passwords_fail() {
        let phc = hash("correct horse").await.unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify("correct horse", &phc).await);
        assert!(!verify("correct horsf", &phc).await);
        assert!(!verify("correct horse", "not a hash").await);
        // A hash made by the argon2 crate's own API verifies too.
        let other = Argon2::default()
            .hash_password(b"pw", &SaltString::generate(&mut rand::rngs::OsRng))
            .unwrap()
            .to_string();
        assert!(verify("pw", &other).await);
    }
}
