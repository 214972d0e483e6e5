//! Where Rocky keeps remote state: object keys, Valkey keys, the probe keys and the framed
//! tiered-cache entry (spec/remote-state.md sections 2 and 5).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::ledger::SCHEMA_VERSION;

/// Default S3 prefix (Rocky's `DEFAULT_S3_PREFIX`).
pub const DEFAULT_S3_PREFIX: &str = "rocky/state/";
/// Default Valkey key prefix (Rocky's `DEFAULT_VALKEY_PREFIX`).
pub const DEFAULT_VALKEY_PREFIX: &str = "rocky:state:";
/// The remote name of the global (not namespaced) ledger.
pub const STATE_FILE: &str = "state.redb";
/// The folder that holds namespaced ledgers, `<namespace>.redb`.
pub const NAMESPACE_DIR: &str = ".rocky-state";
/// Content of a `state_rw` probe object (Rocky's doctor probe).
pub const PROBE_CONTENT: &[u8] = b"rocky doctor probe";
/// Magic of a framed tiered-cache entry under `cas`.
pub const COHERENT_MAGIC: &[u8; 8] = b"RKYSGEN1";

/// The schema segment of every state key: `v22`. A schema change moves every key, so two engine
/// versions with different layouts never read each other's state.
pub fn schema_segment() -> String {
    format!("v{SCHEMA_VERSION}")
}

/// The remote name of a local ledger: `<namespace>.redb` when it lives in a `.rocky-state`
/// folder (one state per namespace, e.g. per environment), else `state.redb`. The test is the
/// parent folder's name, as in Rocky, so `.rocky-state.redb` itself maps to `state.redb`.
pub fn remote_name(local: &Path) -> String {
    let namespaced = local
        .parent()
        .and_then(Path::file_name)
        .and_then(|n| n.to_str())
        == Some(NAMESPACE_DIR);
    match local.file_name().and_then(|n| n.to_str()) {
        Some(name) if namespaced => name.to_owned(),
        _ => STATE_FILE.to_owned(),
    }
}

/// The object-store root: the prefix without surrounding `/`.
pub fn s3_root(prefix: &str) -> String {
    prefix.trim_matches('/').to_owned()
}

/// The object key of the state: `<prefix>/v22/<name>` (`rocky/state/v22/state.redb`).
pub fn s3_state_key(prefix: &str, name: &str) -> String {
    join_s3(prefix, &format!("{}/{name}", schema_segment()))
}

/// The Valkey key of the state: `<prefix>v22:<name>` (`rocky:state:v22:state.redb`).
pub fn valkey_state_key(prefix: &str, name: &str) -> String {
    format!("{prefix}{}:{name}", schema_segment())
}

/// The Valkey key of the framed cache entry that tiered `cas` keeps: `<prefix>cas:v22:<name>`.
/// Disjoint from [`valkey_state_key`], because a version segment is never the literal `cas`.
pub fn valkey_coherent_key(prefix: &str, name: &str) -> String {
    format!("{prefix}cas:{}:{name}", schema_segment())
}

/// A unique probe object name, `doctor-probe-<pid>-<nanos>-<seq>.marker`.
pub fn probe_name() -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    format!("doctor-probe-{}-{nanos}-{seq}.marker", std::process::id())
}

/// The probe's object key: directly under the prefix, not under `v22/`.
pub fn s3_probe_key(prefix: &str, probe: &str) -> String {
    join_s3(prefix, probe)
}

/// The probe's Valkey key: `<prefix><probe>`.
pub fn valkey_probe_key(prefix: &str, probe: &str) -> String {
    format!("{prefix}{probe}")
}

fn join_s3(prefix: &str, rest: &str) -> String {
    let root = s3_root(prefix);
    if root.is_empty() {
        rest.to_owned()
    } else {
        format!("{root}/{rest}")
    }
}

/// A durable object's version identity, as Rocky frames it: `{"e_tag":…,"version":…}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Generation {
    /// The S3 entity tag, quotes included as the server sent it.
    pub e_tag: Option<String>,
    /// An object version id, when the store has one.
    pub version: Option<String>,
}

/// Frames `blob` with the generation it was committed at:
/// `RKYSGEN1 || u32-le header length || header JSON || blob`.
pub fn frame_coherent(generation: &Generation, blob: &[u8]) -> Vec<u8> {
    // Two optional strings always serialise.
    let header = serde_json::to_vec(generation).expect("generation serialises");
    let len = u32::try_from(header.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(12 + header.len() + blob.len());
    out.extend_from_slice(COHERENT_MAGIC);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(blob);
    out
}

/// Parses a framed entry; any malformed value is `None` (a cache miss), never a panic.
pub fn parse_coherent(value: &[u8]) -> Option<(Generation, &[u8])> {
    let rest = value.strip_prefix(COHERENT_MAGIC.as_slice())?;
    let (len, rest) = rest.split_at_checked(4)?;
    let len = u32::from_le_bytes(len.try_into().ok()?) as usize;
    let (header, blob) = rest.split_at_checked(len)?;
    let generation = serde_json::from_slice(header).ok()?;
    Some((generation, blob))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn keys_are_rockys_defaults() {
        assert_eq!(
            s3_state_key(DEFAULT_S3_PREFIX, STATE_FILE),
            "rocky/state/v22/state.redb"
        );
        assert_eq!(
            valkey_state_key(DEFAULT_VALKEY_PREFIX, STATE_FILE),
            "rocky:state:v22:state.redb"
        );
        assert_eq!(
            valkey_coherent_key(DEFAULT_VALKEY_PREFIX, STATE_FILE),
            "rocky:state:cas:v22:state.redb"
        );
        assert_eq!(s3_state_key("", "prod.redb"), "v22/prod.redb");
        assert_eq!(s3_state_key("/a/b/", "x.redb"), "a/b/v22/x.redb");
    }

    #[test]
    fn namespaced_ledgers_map_to_their_own_key() {
        assert_eq!(
            remote_name(&PathBuf::from("p/.rocky-state.redb")),
            "state.redb"
        );
        assert_eq!(
            remote_name(&PathBuf::from(".rocky-state.redb")),
            "state.redb"
        );
        assert_eq!(
            remote_name(&PathBuf::from("p/.rocky-state/staging.redb")),
            "staging.redb"
        );
        assert_eq!(
            remote_name(&PathBuf::from("p/other/staging.redb")),
            "state.redb"
        );
    }

    #[test]
    fn probe_keys_sit_beside_the_schema_folder() {
        let p = probe_name();
        assert!(p.starts_with("doctor-probe-") && p.ends_with(".marker"));
        assert_ne!(p, probe_name());
        assert_eq!(s3_probe_key("rocky/state/", &p), format!("rocky/state/{p}"));
        assert_eq!(
            valkey_probe_key("rocky:state:", &p),
            format!("rocky:state:{p}")
        );
    }

    #[test]
    fn coherent_frame_matches_the_spec_example() {
        // spec/remote-state.md section 5.
        let generation = Generation {
            e_tag: Some("\"f97c5d29941bfb1b2fdab0874906ab82\"".into()),
            version: None,
        };
        let framed = frame_coherent(&generation, b"BLOB");
        let header = br#"{"e_tag":"\"f97c5d29941bfb1b2fdab0874906ab82\"","version":null}"#;
        assert_eq!(header.len(), 63);
        let mut expected = b"RKYSGEN1\x3f\x00\x00\x00".to_vec();
        expected.extend_from_slice(header);
        expected.extend_from_slice(b"BLOB");
        assert_eq!(framed, expected);
    }

    #[test]
    fn coherent_frame_round_trips_and_rejects_garbage() {
        let generation = Generation {
            e_tag: Some("\"abc\"".into()),
            version: None,
        };
        let framed = frame_coherent(&generation, b"redb");
        assert_eq!(&framed[..8], b"RKYSGEN1");
        let header = br#"{"e_tag":"\"abc\"","version":null}"#;
        assert_eq!(&framed[8..12], &(header.len() as u32).to_le_bytes());
        assert_eq!(&framed[12..12 + header.len()], header);
        let (g, blob) = parse_coherent(&framed).unwrap();
        assert_eq!((g, blob), (generation, &b"redb"[..]));
        for bad in [
            &b""[..],
            b"RKYSGEN1",
            b"RKYSGEN2\x00\x00\x00\x00",
            &framed[..14],
        ] {
            assert!(parse_coherent(bad).is_none());
        }
        let mut huge = framed.clone();
        huge[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse_coherent(&huge).is_none());
    }
}
