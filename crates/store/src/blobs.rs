//! Content-addressed blobs: attachment bodies (and other large leaf parts) stored once per distinct
//! content, keyed by their BLAKE3 hash, zstd-compressed when that helps.
//!
//! The `blobs` table holds size and reference count on both back ends. The bytes live in a folder under
//! `data_dir` on the embedded store and in the table's `data` column on PostgreSQL, so a cluster of
//! stateless instances needs no shared file system.
//!
//! Writing protocol: bytes are written first (file renamed into place, or row inserted with refcount 0),
//! and references are counted later inside the transaction that stores the message. A crash in between
//! leaves an unreferenced blob, never a reference to missing bytes.

use crate::{Result, Store, StoreError};
use sqlx::Row;
use std::path::PathBuf;

/// Where blob bytes live.
#[derive(Clone, Debug)]
pub enum BlobStore {
    Folder(PathBuf),
    Database,
}

const ZSTD_LEVEL: i32 = 3;
/// First byte of a stored blob: how the rest is encoded.
const RAW: u8 = 0;
const ZSTD: u8 = 1;

impl BlobStore {
    pub fn folder(path: PathBuf) -> BlobStore {
        BlobStore::Folder(path)
    }
    pub fn database() -> BlobStore {
        BlobStore::Database
    }

    fn file_path(root: &std::path::Path, hash: &str) -> PathBuf {
        root.join(&hash[..2]).join(&hash[2..4]).join(hash)
    }
}

/// Encodes bytes for storage: zstd when it saves at least 1/16, else raw. Returns the stored form.
pub(crate) fn encode(data: &[u8]) -> Vec<u8> {
    if data.len() >= 64
        && let Ok(compressed) = zstd::bulk::compress(data, ZSTD_LEVEL)
        && compressed.len() + data.len() / 16 < data.len()
    {
        let mut out = Vec::with_capacity(compressed.len() + 1);
        out.push(ZSTD);
        out.extend_from_slice(&compressed);
        return out;
    }
    let mut out = Vec::with_capacity(data.len() + 1);
    out.push(RAW);
    out.extend_from_slice(data);
    out
}

/// Encodes a message skeleton for storage straight from the full message: the bytes outside the
/// segments go through the zstd encoder piece by piece, so no cut-down copy of the message is made.
pub fn encode_skeleton(raw: &[u8], segments: &[crate::Segment]) -> Vec<u8> {
    use std::io::Write;
    let kept = raw.len() as u64 - segments.iter().map(|s| s.len).sum::<u64>();
    let pieces = || {
        let mut at = 0usize;
        let mut out = Vec::with_capacity(segments.len() + 1);
        for s in segments {
            out.push(&raw[at..s.offset as usize]);
            at = (s.offset + s.len) as usize;
        }
        out.push(&raw[at..]);
        out
    };
    if kept >= 64 {
        let mut encoder = zstd::stream::Encoder::new(vec![ZSTD], ZSTD_LEVEL).expect("zstd init");
        let written = pieces().into_iter().try_for_each(|p| encoder.write_all(p));
        if written.is_ok()
            && let Ok(out) = encoder.finish()
            && (out.len() as u64) < kept
        {
            return out;
        }
    }
    let mut out = Vec::with_capacity(kept as usize + 1);
    out.push(RAW);
    pieces().into_iter().for_each(|p| out.extend_from_slice(p));
    out
}

pub(crate) fn decode(stored: &[u8], expected_len: usize) -> Result<Vec<u8>> {
    match stored.split_first() {
        Some((&RAW, rest)) => Ok(rest.to_vec()),
        Some((&ZSTD, rest)) => {
            let mut out = Vec::with_capacity(expected_len);
            zstd::stream::copy_decode(rest, &mut out)
                .map_err(|e| StoreError::Corrupt(format!("zstd: {e}")))?;
            Ok(out)
        }
        _ => Err(StoreError::Corrupt("unknown blob encoding".into())),
    }
}

/// BLAKE3 hex digest used as the blob key.
pub fn content_hash(data: &[u8]) -> String {
    blake3::hash(data).to_hex().to_string()
}

impl Store {
    /// Makes sure the blob with these bytes exists (refcount untouched). Returns its hash.
    /// Skips the write when the blob is already present: the dedup fast path.
    pub async fn put_blob(&self, data: &[u8]) -> Result<String> {
        let hash = content_hash(data);
        let exists: Option<i64> = sqlx::query_scalar("SELECT size FROM blobs WHERE hash = $1")
            .bind(&hash)
            .fetch_optional(&self.pool)
            .await?;
        if exists.is_some() {
            return Ok(hash);
        }
        let stored = encode(data);
        match &self.blobs {
            BlobStore::Folder(root) => {
                let path = BlobStore::file_path(root, &hash);
                let dir = path.parent().expect("blob path has a parent").to_path_buf();
                let tmp = dir.join(format!(".{}.{}", hash, crate::new_id()));
                let stored_len = stored.len();
                tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                    std::fs::create_dir_all(&dir)?;
                    std::fs::write(&tmp, &stored)?;
                    std::fs::File::open(&tmp)?.sync_all()?;
                    std::fs::rename(&tmp, &path)
                })
                .await
                .map_err(|e| StoreError::Corrupt(format!("blob writer panicked: {e}")))??;
                // Every SQLite write goes through the in-process writer lock; a second writer
                // would otherwise sit in SQLite's sleeping busy handler.
                let _w = self.writer().await;
                sqlx::query(
                    "INSERT INTO blobs (hash, size, stored_size, refcount) VALUES ($1, $2, $3, 0) \
                     ON CONFLICT (hash) DO NOTHING",
                )
                .bind(&hash)
                .bind(data.len() as i64)
                .bind(stored_len as i64)
                .execute(&self.pool)
                .await?;
            }
            BlobStore::Database => {
                sqlx::query(
                    "INSERT INTO blobs (hash, size, stored_size, refcount, data) VALUES ($1, $2, $3, 0, $4) \
                     ON CONFLICT (hash) DO NOTHING",
                )
                .bind(&hash)
                .bind(data.len() as i64)
                .bind(stored.len() as i64)
                .bind(stored)
                .execute(&self.pool)
                .await?;
            }
        }
        Ok(hash)
    }

    /// Reads a blob's original bytes.
    pub async fn get_blob(&self, hash: &str) -> Result<Vec<u8>> {
        if hash.len() < 8 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::NotFound);
        }
        match &self.blobs {
            BlobStore::Folder(root) => {
                let size: Option<i64> =
                    sqlx::query_scalar("SELECT size FROM blobs WHERE hash = $1")
                        .bind(hash)
                        .fetch_optional(&self.pool)
                        .await?;
                let size = size.ok_or(StoreError::NotFound)?;
                let stored = tokio::fs::read(BlobStore::file_path(root, hash)).await?;
                decode(&stored, size as usize)
            }
            BlobStore::Database => {
                let row = sqlx::query("SELECT size, data FROM blobs WHERE hash = $1")
                    .bind(hash)
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                let size: i64 = row.try_get(0)?;
                let data: Vec<u8> = row.try_get(1)?;
                decode(&data, size as usize)
            }
        }
    }

    /// Blob statistics: (distinct blobs, total referenced original bytes, total stored bytes).
    pub async fn blob_stats(&self) -> Result<(i64, i64, i64)> {
        let row = sqlx::query(
            "SELECT COUNT(*), CAST(COALESCE(SUM(size), 0) AS BIGINT), CAST(COALESCE(SUM(stored_size), 0) AS BIGINT) FROM blobs",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?))
    }

    /// Reference count of a blob (for tests and admin tools).
    pub async fn blob_refcount(&self, hash: &str) -> Result<Option<i64>> {
        Ok(
            sqlx::query_scalar("SELECT refcount FROM blobs WHERE hash = $1")
                .bind(hash)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Number of blob files on disk (embedded store) — lets tests prove a blob is stored once.
    pub fn blob_file_count(&self) -> usize {
        fn walk(dir: &std::path::Path) -> usize {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return 0;
            };
            entries
                .flatten()
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() { walk(&p) } else { 1 }
                })
                .sum()
        }
        match &self.blobs {
            BlobStore::Folder(root) => walk(root),
            BlobStore::Database => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_round_trips_raw_and_compressed() {
        for data in [
            b"short".to_vec(),
            vec![b'a'; 10_000],
            (0..=255u8).collect::<Vec<_>>(),
        ] {
            let stored = encode(&data);
            assert_eq!(decode(&stored, data.len()).unwrap(), data);
        }
        assert_eq!(encode(&vec![b'a'; 10_000])[0], ZSTD);
        assert_eq!(encode(b"short")[0], RAW);
    }

    #[test]
    fn skeleton_skips_segments_and_round_trips() {
        let raw = b"Header: value\r\n\r\nBODY-TO-CUT-OUT tail text that repeats tail text that repeats tail text".to_vec();
        let segments = [crate::Segment {
            offset: 17,
            len: 15,
            hash: String::new(),
        }];
        let stored = encode_skeleton(&raw, &segments);
        let mut expected = raw[..17].to_vec();
        expected.extend_from_slice(&raw[32..]);
        assert_eq!(decode(&stored, expected.len()).unwrap(), expected);
        assert_eq!(decode(&encode_skeleton(b"tiny", &[]), 4).unwrap(), b"tiny");
    }

    #[test]
    fn decode_rejects_garbage() {
        assert!(decode(&[], 0).is_err());
        assert!(decode(&[9, 1, 2], 2).is_err());
        assert!(decode(&[ZSTD, 1, 2, 3], 10).is_err());
    }
}
