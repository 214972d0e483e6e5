//! [`StateSync`]: the download-run-upload lifecycle, and the `state_rw` probe.

use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::config::{Backend, ConcurrencyControl, OnDownloadFailure, OnUploadFailure, StateConfig};
use super::error::SyncError;
use super::file::{self, Scratch, stage_checked};
use super::keys::{self, Generation};
use super::policy::{BreakerState, LegFailure, Policy, TierError};
use super::report::{
    Direction, Leg, Outcome, SyncReport, Tier, Transfer, emit_leg, emit_suppressed, emit_transfer,
};
use super::s3::{PutCondition, S3Tier};
use super::valkey::{self, ValkeyTier};

/// What the local ledger is worth after [`StateSync::acquire`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authority {
    /// The `local` backend: the local file is the state.
    Local,
    /// Remote state was downloaded and installed.
    Restored,
    /// There was no remote state: the replicated tables start empty.
    FreshStart,
    /// The download failed: the run goes on with what the local file holds, and its end-of-run
    /// upload is suppressed, so it can never overwrite good remote state.
    Indeterminate,
}

/// What a conditional upload compares against: what this run downloaded.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Base {
    /// `concurrency_control = "off"`.
    Unconditional,
    /// S3 had no object (or one without a generation): the upload must create it.
    S3Absent,
    /// The S3 generation downloaded.
    S3(Generation),
    /// Valkey had no value.
    ValkeyAbsent,
    /// SHA-1 of the Valkey value downloaded.
    Valkey(String),
}

/// One run's claim on remote state, from [`StateSync::acquire`] to [`StateSync::finalize`].
#[derive(Debug)]
#[must_use = "a session is finished with StateSync::finalize"]
pub struct Session {
    ledger: PathBuf,
    name: String,
    authority: Authority,
    base: Base,
}

impl Session {
    /// The local ledger the run reads and writes.
    pub fn ledger(&self) -> &Path {
        &self.ledger
    }

    /// What the download left the local ledger as.
    pub fn authority(&self) -> Authority {
        self.authority
    }

    /// The remote name of the ledger: `state.redb` or `<namespace>.redb`.
    pub fn remote_name(&self) -> &str {
        &self.name
    }
}

enum Fetch {
    /// A checked ledger, staged beside the local one.
    Found(Scratch, Base),
    Absent(Base),
}

/// Remote state for one backend: downloads before a run, uploads after it, with the retry
/// budget and circuit breakers of every transfer it makes.
///
/// The clients are asynchronous (object_store, redis); `StateSync` drives them on its own
/// single-threaded tokio runtime, so callers stay synchronous like the rest of the writer.
pub struct StateSync {
    config: StateConfig,
    s3: Option<S3Tier>,
    valkey: Option<ValkeyTier>,
    policy: Policy,
    report: SyncReport,
    // Last: dropped after the clients that may hold tasks on it.
    runtime: tokio::runtime::Runtime,
}

impl std::fmt::Debug for StateSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateSync")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl StateSync {
    /// Builds the clients for `config.backend`. Nothing is contacted yet.
    ///
    /// # Errors
    ///
    /// [`SyncError::Config`] for an unusable bucket or URL; [`SyncError::Runtime`].
    pub fn new(config: StateConfig) -> Result<StateSync, SyncError> {
        // rustls without a bundled provider: ring's, once per process (a second install is a
        // harmless no-op error).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(SyncError::Runtime)?;
        let (s3, valkey) = {
            let _ctx = runtime.enter();
            let timeout = config.transfer_timeout;
            match &config.backend {
                Backend::Local => (None, None),
                Backend::S3(s) => (Some(S3Tier::new(s, timeout)?), None),
                Backend::Valkey(v) => (None, Some(ValkeyTier::new(v, timeout)?)),
                Backend::Tiered { s3, valkey } => (
                    Some(S3Tier::new(s3, timeout)?),
                    Some(ValkeyTier::new(valkey, timeout)?),
                ),
            }
        };
        Ok(StateSync {
            policy: Policy::new(config.retry.clone(), config.transfer_timeout),
            config,
            s3,
            valkey,
            report: SyncReport::default(),
            runtime,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &StateConfig {
        &self.config
    }

    /// What the current run's transfers ended in so far.
    pub fn report(&self) -> &SyncReport {
        &self.report
    }

    /// The state of `tier`'s circuit breaker.
    pub fn breaker_state(&self, tier: Tier) -> BreakerState {
        self.policy.breaker(tier).state()
    }

    /// Closes every circuit breaker (the manual reset Rocky needs when no recovery time is set).
    pub fn reset_breakers(&mut self) {
        self.policy.reset_breakers();
    }

    fn cas(&self) -> bool {
        self.config.concurrency_control == ConcurrencyControl::Cas
    }

    /// Before a run: downloads remote state into `ledger` (which no writer may hold open).
    ///
    /// Starts a new run: the report is cleared and the per-run retry budget refilled. On
    /// success the local file holds the remote replicated tables and its own local-only tables
    /// ([`Authority::Restored`]), or only its local-only tables when there is no remote state
    /// ([`Authority::FreshStart`]). A failed download leaves the local file untouched: with
    /// `on_download_failure = StartFresh` the session is [`Authority::Indeterminate`] (outcome
    /// `error_then_fresh`) and its upload will be suppressed.
    ///
    /// # Errors
    ///
    /// With `on_download_failure = Fail`, the download's error: [`SyncError::Timeout`],
    /// [`SyncError::TransientExhausted`], [`SyncError::RetryBudgetExhausted`],
    /// [`SyncError::CircuitOpen`], [`SyncError::Backend`], [`SyncError::InvalidRemoteState`],
    /// [`SyncError::Local`], [`SyncError::Ledger`], [`SyncError::Locked`].
    pub fn acquire(&mut self, ledger: impl AsRef<Path>) -> Result<Session, SyncError> {
        let ledger = ledger.as_ref().to_owned();
        self.policy.begin_run();
        self.report = SyncReport::default();
        let name = keys::remote_name(&ledger);
        if self.config.backend == Backend::Local {
            return Ok(Session {
                ledger,
                name,
                authority: Authority::Local,
                base: Base::Unconditional,
            });
        }
        let scratch_dir = file::ledger_dir(&ledger);
        let mut legs = Vec::new();
        let cas = self.cas();
        // A fresh runner may not have the ledger's folder yet; staging files go there.
        let made = std::fs::create_dir_all(&scratch_dir).map_err(|source| LegFailure {
            outcome: Outcome::Error,
            error: SyncError::Local {
                path: scratch_dir.clone(),
                source,
            },
        });
        let fetched = made.and_then(|()| {
            let StateSync {
                runtime,
                s3,
                valkey,
                policy,
                ..
            } = self;
            runtime.block_on(download(
                policy,
                s3.as_ref(),
                valkey.as_ref(),
                cas,
                &name,
                &scratch_dir,
                &mut legs,
            ))
        });
        let installed = fetched.and_then(|fetch| {
            let (staged, base, authority, outcome) = match fetch {
                Fetch::Found(staged, base) => {
                    (Some(staged), base, Authority::Restored, Outcome::Ok)
                }
                Fetch::Absent(base) => (None, base, Authority::FreshStart, Outcome::Absent),
            };
            match file::install(&ledger, staged) {
                Ok(()) => Ok((base, authority, outcome)),
                Err(error) => Err(LegFailure {
                    outcome: Outcome::Error,
                    error,
                }),
            }
        });
        match installed {
            Ok((base, authority, outcome)) => {
                self.finish_transfer(Direction::Download, outcome, None, legs);
                Ok(Session {
                    ledger,
                    name,
                    authority,
                    base,
                })
            }
            Err(failure) => match self.config.on_download_failure {
                OnDownloadFailure::StartFresh => {
                    tracing::warn!(
                        error = %failure.error,
                        "state download failed; continuing with the local ledger, and this run \
                         will not upload"
                    );
                    self.finish_transfer(
                        Direction::Download,
                        Outcome::ErrorThenFresh,
                        Some(failure.outcome),
                        legs,
                    );
                    Ok(Session {
                        ledger,
                        name,
                        authority: Authority::Indeterminate,
                        base: Base::Unconditional,
                    })
                }
                OnDownloadFailure::Fail => {
                    self.finish_transfer(Direction::Download, failure.outcome, None, legs);
                    Err(failure.error)
                }
            },
        }
    }

    /// After a run: uploads the ledger (without its local-only tables) and returns the run's
    /// report. The ledger must not be held open by a writer.
    ///
    /// Nothing is uploaded for the `local` backend, for a session whose download failed
    /// ([`SyncReport::upload_suppressed`] says so), or when there is no local ledger.
    ///
    /// # Errors
    ///
    /// [`SyncError::CasConflict`] whenever a conditional upload loses, whatever
    /// `on_upload_failure` says. With `on_upload_failure = Fail`, the upload's error:
    /// [`SyncError::RetryBudgetExhausted`], [`SyncError::CircuitOpen`], [`SyncError::Timeout`],
    /// [`SyncError::TransientExhausted`], [`SyncError::Backend`], [`SyncError::Ledger`],
    /// [`SyncError::Local`], [`SyncError::Locked`]. With `Skip` those become the outcome
    /// `skipped_after_failure` and `Ok`.
    pub fn finalize(&mut self, session: Session) -> Result<SyncReport, SyncError> {
        let suppressed = match session.authority {
            Authority::Local => return Ok(self.report.clone()),
            Authority::Indeterminate => Some("download failed"),
            _ if !session.ledger.exists() => Some("no local ledger"),
            _ => None,
        };
        if let Some(reason) = suppressed {
            emit_suppressed(reason);
            self.report.upload_suppressed = Some(reason);
            return Ok(self.report.clone());
        }
        let mut legs = Vec::new();
        let result = match file::stripped_copy(&session.ledger) {
            Err(error) => Err(LegFailure {
                outcome: Outcome::Error,
                error,
            }),
            Ok(bytes) => {
                let StateSync {
                    runtime,
                    s3,
                    valkey,
                    policy,
                    ..
                } = self;
                runtime.block_on(upload(
                    policy,
                    s3.as_ref(),
                    valkey.as_ref(),
                    &session,
                    Bytes::from(bytes),
                    &mut legs,
                ))
            }
        };
        match result {
            Ok(()) => {
                self.finish_transfer(Direction::Upload, Outcome::Ok, None, legs);
                Ok(self.report.clone())
            }
            Err(failure) if failure.outcome == Outcome::Conflict => {
                self.finish_transfer(Direction::Upload, Outcome::Conflict, None, legs);
                Err(failure.error)
            }
            Err(failure) => match self.config.on_upload_failure {
                OnUploadFailure::Skip => {
                    tracing::warn!(
                        error = %failure.error,
                        "state upload failed; the run succeeds and remote state stays as it was"
                    );
                    self.finish_transfer(
                        Direction::Upload,
                        Outcome::SkippedAfterFailure,
                        Some(failure.outcome),
                        legs,
                    );
                    Ok(self.report.clone())
                }
                OnUploadFailure::Fail => {
                    self.finish_transfer(Direction::Upload, failure.outcome, None, legs);
                    Err(failure.error)
                }
            },
        }
    }

    fn finish_transfer(
        &mut self,
        direction: Direction,
        outcome: Outcome,
        cause: Option<Outcome>,
        legs: Vec<Leg>,
    ) {
        let transfer = Transfer {
            direction,
            outcome,
            cause,
            legs,
        };
        emit_transfer(&transfer);
        match direction {
            Direction::Download => self.report.download = Some(transfer),
            Direction::Upload => self.report.upload = Some(transfer),
        }
    }

    /// The `state_rw` check: writes, reads back, compares and deletes a probe object at the
    /// configured location on every tier (Valkey first, then S3), once each, within the
    /// transfer budget. A failed delete only warns. Circuit breakers are neither consulted nor
    /// changed. `local` passes without I/O.
    ///
    /// # Errors
    ///
    /// [`SyncError::ProbeFailed`] naming the tier and step.
    pub fn probe(&mut self) -> Result<(), SyncError> {
        let timeout = self.config.transfer_timeout;
        let StateSync {
            runtime,
            s3,
            valkey,
            ..
        } = self;
        runtime.block_on(async {
            if let Some(v) = valkey.as_ref() {
                let key = keys::valkey_probe_key(&v.prefix, &keys::probe_name());
                probe_tier(Tier::Valkey, timeout, &key, ProbeOps::Valkey(v)).await?;
            }
            if let Some(s) = s3.as_ref() {
                let key = keys::s3_probe_key(&s.prefix, &keys::probe_name());
                probe_tier(Tier::S3, timeout, &key, ProbeOps::S3(s)).await?;
            }
            Ok(())
        })
    }
}

enum ProbeOps<'a> {
    S3(&'a S3Tier),
    Valkey(&'a ValkeyTier),
}

async fn probe_tier(
    tier: Tier,
    timeout: std::time::Duration,
    key: &str,
    ops: ProbeOps<'_>,
) -> Result<(), SyncError> {
    let content = Bytes::from_static(keys::PROBE_CONTENT);
    let read = match &ops {
        ProbeOps::S3(s) => {
            let put = s.put(key, content.clone(), &PutCondition::Unconditional);
            bounded(tier, "put", timeout, put).await?;
            bounded(tier, "get", timeout, s.get(key))
                .await?
                .map(|f| f.bytes.to_vec())
        }
        ProbeOps::Valkey(v) => {
            bounded(tier, "put", timeout, v.set(key, &content)).await?;
            bounded(tier, "get", timeout, v.get(key)).await?
        }
    };
    let deleted = match &ops {
        ProbeOps::S3(s) => tokio::time::timeout(timeout, s.delete(key)).await,
        ProbeOps::Valkey(v) => tokio::time::timeout(timeout, v.del(key)).await,
    };
    if !matches!(deleted, Ok(Ok(()))) {
        tracing::warn!(
            tier = tier.as_str(),
            key,
            outcome = "probe_cleanup_failed",
            "state_rw probe object was not deleted"
        );
    }
    if read.as_deref() != Some(keys::PROBE_CONTENT) {
        return Err(SyncError::ProbeFailed {
            tier,
            step: "compare",
            reason: "the probe read back differs from what was written".into(),
        });
    }
    tracing::info!(
        tier = tier.as_str(),
        key,
        outcome = "ok",
        "state_rw probe passed"
    );
    Ok(())
}

/// One probe step, bounded by the transfer budget.
async fn bounded<T>(
    tier: Tier,
    step: &'static str,
    timeout: std::time::Duration,
    call: impl std::future::Future<Output = Result<T, TierError>>,
) -> Result<T, SyncError> {
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(SyncError::ProbeFailed {
            tier,
            step,
            reason: e.message,
        }),
        Err(_) => Err(SyncError::ProbeFailed {
            tier,
            step,
            reason: format!("no answer within {timeout:?}"),
        }),
    }
}

/// Records a leg and emits its event.
fn push_leg(legs: &mut Vec<Leg>, leg: Leg) {
    emit_leg(Direction::Download, &leg);
    legs.push(leg);
}

fn push_upload_leg(legs: &mut Vec<Leg>, leg: Leg) {
    emit_leg(Direction::Upload, &leg);
    legs.push(leg);
}

/// One S3 GET leg, with the downloaded ledger checked and staged in `scratch`.
async fn s3_get(
    policy: &mut Policy,
    s3: &S3Tier,
    key: &str,
    scratch: &Path,
    legs: &mut Vec<Leg>,
) -> Result<Option<(Scratch, Option<Generation>)>, LegFailure> {
    let (mut leg, result) = policy
        .run_leg(
            Tier::S3,
            Direction::Download,
            key,
            true,
            move || async move {
                let fetched = s3.get(key).await?;
                let n = fetched.as_ref().map_or(0, |f| f.bytes.len() as u64);
                Ok((fetched.map(|f| (f.bytes, f.generation)), n))
            },
        )
        .await;
    let result = match result {
        Ok(None) => {
            leg.outcome = Outcome::Absent;
            Ok(None)
        }
        Ok(Some((bytes, generation))) => match stage_checked(&bytes, scratch) {
            Ok(staged) => Ok(Some((staged, generation))),
            Err(reason) => invalid(&mut leg, Tier::S3, key, reason),
        },
        Err(f) => Err(f),
    };
    push_leg(legs, leg);
    result
}

/// One Valkey GET leg; `post` turns the value into what the caller needs (a refusal marks the
/// leg `error`).
async fn valkey_get<T>(
    policy: &mut Policy,
    valkey: &ValkeyTier,
    key: &str,
    retry: bool,
    post: impl FnOnce(Bytes) -> Result<T, String>,
    legs: &mut Vec<Leg>,
) -> Result<Option<T>, LegFailure> {
    let (mut leg, result) = policy
        .run_leg(
            Tier::Valkey,
            Direction::Download,
            key,
            retry,
            move || async move {
                let value = valkey.get(key).await?;
                let n = value.as_ref().map_or(0, |v| v.len() as u64);
                Ok((value, n))
            },
        )
        .await;
    let result = match result {
        Ok(None) => {
            leg.outcome = Outcome::Absent;
            Ok(None)
        }
        Ok(Some(value)) => match post(Bytes::from(value)) {
            Ok(v) => Ok(Some(v)),
            Err(reason) => invalid(&mut leg, Tier::Valkey, key, reason),
        },
        Err(f) => Err(f),
    };
    push_leg(legs, leg);
    result
}

fn invalid<T>(leg: &mut Leg, tier: Tier, key: &str, reason: String) -> Result<T, LegFailure> {
    leg.outcome = Outcome::Error;
    leg.error = Some(reason.clone());
    Err(LegFailure {
        outcome: Outcome::Error,
        error: SyncError::InvalidRemoteState {
            tier,
            key: key.to_owned(),
            reason,
        },
    })
}

async fn download(
    policy: &mut Policy,
    s3: Option<&S3Tier>,
    valkey: Option<&ValkeyTier>,
    cas: bool,
    name: &str,
    scratch: &Path,
    legs: &mut Vec<Leg>,
) -> Result<Fetch, LegFailure> {
    let s3_base = |g: Option<Generation>| match (cas, g) {
        (false, _) => Base::Unconditional,
        (true, Some(g)) => Base::S3(g),
        (true, None) => Base::S3Absent,
    };
    match (s3, valkey) {
        (Some(s3), None) => {
            let key = keys::s3_state_key(&s3.prefix, name);
            Ok(match s3_get(policy, s3, &key, scratch, legs).await? {
                Some((staged, generation)) => Fetch::Found(staged, s3_base(generation)),
                None => Fetch::Absent(s3_base(None)),
            })
        }
        (None, Some(v)) => {
            let key = keys::valkey_state_key(&v.prefix, name);
            let post = |bytes: Bytes| {
                let digest = cas.then(|| valkey::digest(&bytes));
                stage_checked(&bytes, scratch).map(|staged| (staged, digest))
            };
            Ok(match valkey_get(policy, v, &key, true, post, legs).await? {
                Some((staged, digest)) => {
                    Fetch::Found(staged, digest.map_or(Base::Unconditional, Base::Valkey))
                }
                None => Fetch::Absent(if cas {
                    Base::ValkeyAbsent
                } else {
                    Base::Unconditional
                }),
            })
        }
        (Some(s3), Some(v)) if !cas => {
            // Valkey first; a miss, an error or an unusable value falls through to S3.
            let key = keys::valkey_state_key(&v.prefix, name);
            let post = |bytes: Bytes| stage_checked(&bytes, scratch);
            if let Ok(Some(staged)) = valkey_get(policy, v, &key, true, post, legs).await {
                return Ok(Fetch::Found(staged, Base::Unconditional));
            }
            let key = keys::s3_state_key(&s3.prefix, name);
            Ok(match s3_get(policy, s3, &key, scratch, legs).await? {
                Some((staged, _)) => Fetch::Found(staged, Base::Unconditional),
                None => Fetch::Absent(Base::Unconditional),
            })
        }
        (Some(s3), Some(v)) => {
            // Coherent tiered read: the cached copy counts only if it carries the durable
            // object's current generation.
            let key = keys::s3_state_key(&s3.prefix, name);
            let (leg, head) = policy
                .run_leg(Tier::S3, Direction::Download, &key, true, || async {
                    Ok((s3.head(&key).await?, 0))
                })
                .await;
            push_leg(legs, leg);
            match head {
                Ok(None) => {
                    if let Some(l) = legs.last_mut() {
                        l.outcome = Outcome::Absent;
                    }
                    return Ok(Fetch::Absent(Base::S3Absent));
                }
                Ok(Some(Some(current))) => {
                    let ckey = keys::valkey_coherent_key(&v.prefix, name);
                    // A frame that does not parse or carries another generation is a miss; one
                    // whose ledger is unusable is refused like any other download.
                    let post = |value: Bytes| {
                        Ok(match keys::parse_coherent(&value) {
                            Some((g, blob)) if g == current => Some(stage_checked(blob, scratch)?),
                            _ => None,
                        })
                    };
                    if let Ok(Some(hit)) = valkey_get(policy, v, &ckey, false, post, legs).await {
                        match hit {
                            Some(staged) => {
                                return Ok(Fetch::Found(staged, Base::S3(current)));
                            }
                            None => {
                                // Stale or foreign: drop it (hygiene only; a stale entry can
                                // never validate against a newer generation anyway).
                                let _ = policy
                                    .run_leg(
                                        Tier::Valkey,
                                        Direction::Download,
                                        &ckey,
                                        false,
                                        || async { Ok((v.del(&ckey).await?, 0)) },
                                    )
                                    .await;
                            }
                        }
                    }
                }
                Ok(Some(None)) | Err(_) => {}
            }
            Ok(match s3_get(policy, s3, &key, scratch, legs).await? {
                Some((staged, generation)) => Fetch::Found(staged, s3_base(generation)),
                None => Fetch::Absent(Base::S3Absent),
            })
        }
        (None, None) => Ok(Fetch::Absent(Base::Unconditional)),
    }
}

async fn upload(
    policy: &mut Policy,
    s3: Option<&S3Tier>,
    valkey: Option<&ValkeyTier>,
    session: &Session,
    data: Bytes,
    legs: &mut Vec<Leg>,
) -> Result<(), LegFailure> {
    let name = session.name.as_str();
    let n = data.len() as u64;
    match (s3, valkey) {
        (Some(s3), None) => {
            let condition = put_condition(&session.base);
            put_s3(policy, s3, name, data, condition, legs)
                .await
                .map(|_| ())
        }
        (None, Some(v)) => {
            let key = keys::valkey_state_key(&v.prefix, name);
            let expected = match &session.base {
                Base::Valkey(d) => Some(Some(d.clone())),
                Base::ValkeyAbsent => Some(None),
                _ => None,
            };
            let retry = expected.is_none();
            let (leg, result) = policy
                .run_leg(Tier::Valkey, Direction::Upload, &key, retry, || async {
                    match &expected {
                        None => v.set(&key, &data).await?,
                        Some(e) => v.compare_and_set(&key, &data, e.as_deref()).await?,
                    }
                    Ok(((), n))
                })
                .await;
            push_upload_leg(legs, leg);
            result
        }
        (Some(s3), Some(v)) if session.base == Base::Unconditional => {
            // Valkey best-effort first; S3, the durable tier, decides.
            let key = keys::valkey_state_key(&v.prefix, name);
            let (leg, _) = policy
                .run_leg(Tier::Valkey, Direction::Upload, &key, true, || async {
                    v.set(&key, &data).await?;
                    Ok(((), n))
                })
                .await;
            push_upload_leg(legs, leg);
            put_s3(policy, s3, name, data, PutCondition::Unconditional, legs)
                .await
                .map(|_| ())
        }
        (Some(s3), Some(v)) => {
            // Coherent tiered write: commit to S3, then cache exactly those bytes with the
            // generation the commit returned; on anything else, drop the cache entry.
            let condition = put_condition(&session.base);
            let result = put_s3(policy, s3, name, data.clone(), condition, legs).await;
            let ckey = keys::valkey_coherent_key(&v.prefix, name);
            let (leg, _) = match &result {
                Ok(Some(generation)) => {
                    let framed = keys::frame_coherent(generation, &data);
                    policy
                        .run_leg(Tier::Valkey, Direction::Upload, &ckey, false, || async {
                            v.set(&ckey, &framed).await?;
                            Ok(((), framed.len() as u64))
                        })
                        .await
                }
                _ => {
                    policy
                        .run_leg(Tier::Valkey, Direction::Upload, &ckey, false, || async {
                            Ok((v.del(&ckey).await?, 0))
                        })
                        .await
                }
            };
            push_upload_leg(legs, leg);
            result.map(|_| ())
        }
        (None, None) => Ok(()),
    }
}

fn put_condition(base: &Base) -> PutCondition {
    match base {
        Base::S3(g) => PutCondition::Update(g.clone()),
        Base::S3Absent => PutCondition::Create,
        _ => PutCondition::Unconditional,
    }
}

/// One S3 PUT leg; conditional puts are not retried (a lost answer to a committed put would
/// make the retry conflict with itself).
async fn put_s3(
    policy: &mut Policy,
    s3: &S3Tier,
    name: &str,
    data: Bytes,
    condition: PutCondition,
    legs: &mut Vec<Leg>,
) -> Result<Option<Generation>, LegFailure> {
    let key = keys::s3_state_key(&s3.prefix, name);
    let retry = matches!(condition, PutCondition::Unconditional);
    let n = data.len() as u64;
    let (leg, result) = policy
        .run_leg(Tier::S3, Direction::Upload, &key, retry, || async {
            Ok((s3.put(&key, data.clone(), &condition).await?, n))
        })
        .await;
    push_upload_leg(legs, leg);
    result
}
