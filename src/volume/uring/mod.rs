//! FUSE over io_uring: a second transport for volume mounts beside fuser's `/dev/fuse`
//! loop. The INIT handshake, FORGET and INTERRUPT stay on `/dev/fuse` (fuser serves them,
//! with the same [`VolumeFs`]); once INIT has agreed on `FUSE_OVER_IO_URING`, every other
//! request comes over per-CPU rings (`ring`), decoded by `abi` and served by `serve` onto
//! the same core calls as fuse.rs. Which transport a mount uses: [`Transport`].

pub(crate) mod abi;
mod place;
mod ring;
mod serve;
mod stay;

use crate::volume::fs::VolumeFs;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Condvar, Mutex};

/// The kernel's switch for FUSE over io_uring (off by default).
const ENABLE_URING: &str = "/sys/module/fuse/parameters/enable_uring";
/// Names the transport when `--fuse-transport` is not given.
pub const TRANSPORT_VAR: &str = "KMSFS_FUSE_TRANSPORT";

/// How a volume mount talks to the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    /// io_uring when the kernel offers it (turning the kernel's switch on when root),
    /// `/dev/fuse` otherwise. The default: on this project's 2-core machine of 2026-12-02,
    /// with the queue threads pinned (`place`), io_uring answered a round trip in 7 µs
    /// against 28-36 and made the untar of the Linux tree 1.7 times as fast and the metadata
    /// job 2.2 times; cold sequential reads were 0.85x (docs/BENCHMARKS.md), where `Dev` is
    /// the choice.
    #[default]
    Auto,
    /// io_uring or no mount.
    Uring,
    /// `/dev/fuse` only.
    Dev,
}

impl std::str::FromStr for Transport {
    type Err = String;
    fn from_str(s: &str) -> Result<Transport, String> {
        match s {
            "auto" => Ok(Transport::Auto),
            "uring" => Ok(Transport::Uring),
            "dev" => Ok(Transport::Dev),
            _ => Err(format!(
                "{s:?} is not a FUSE transport (auto, uring or dev)"
            )),
        }
    }
}

impl Transport {
    /// The transport `flag` names, else the one [`TRANSPORT_VAR`] names, else `auto`.
    pub fn chosen(flag: Option<Transport>) -> Result<Transport, String> {
        match (flag, std::env::var(TRANSPORT_VAR)) {
            (Some(t), _) => Ok(t),
            (None, Ok(v)) if !v.is_empty() => {
                v.parse().map_err(|e| format!("{TRANSPORT_VAR}: {e}"))
            }
            _ => Ok(Transport::default()),
        }
    }
}

/// Whether the mount's INIT agreed on FUSE over io_uring: decided once, in fuser's `init`,
/// waited for by the ring threads (which may not register before the INIT reply).
#[derive(Default)]
pub(crate) struct Offer {
    agreed: Mutex<Option<bool>>,
    cv: Condvar,
    /// `--fuse-transport uring`: INIT fails without it.
    required: bool,
}

impl Offer {
    /// In `init`: record whether the kernel offered it (and so whether it was asked for);
    /// an error when it was required and not offered.
    pub(crate) fn decide(&self, agreed: bool) -> std::io::Result<()> {
        *self.agreed.lock().unwrap_or_else(|p| p.into_inner()) = Some(agreed);
        self.cv.notify_all();
        if self.required && !agreed {
            return Err(std::io::Error::other(
                "the kernel did not offer FUSE over io_uring",
            ));
        }
        Ok(())
    }

    fn wait(&self) -> bool {
        let g = self.agreed.lock().unwrap_or_else(|p| p.into_inner());
        let g = self
            .cv
            .wait_while(g, |a| a.is_none())
            .unwrap_or_else(|p| p.into_inner());
        g.unwrap_or(false)
    }
}

/// Before mounting with `t`: an [`Offer`] to fill in `init` when io_uring is to be asked
/// for, `None` for `/dev/fuse` only. `uring` fails here (why) when the kernel cannot give it.
pub(crate) fn prepare(t: Transport) -> Result<Option<Arc<Offer>>, String> {
    if t == Transport::Dev {
        return Ok(None);
    }
    match usable() {
        Ok(()) => Ok(Some(Arc::new(Offer {
            required: t == Transport::Uring,
            ..Offer::default()
        }))),
        Err(why) if t == Transport::Uring => {
            Err(format!("FUSE over io_uring is not available: {why}"))
        }
        Err(_) => Ok(None),
    }
}

/// Whether this kernel serves FUSE over io_uring to us: its switch on (turned on here when
/// we may: root), and io_uring allowed (`kernel.io_uring_disabled`, seccomp).
fn usable() -> Result<(), String> {
    let on = std::fs::read_to_string(ENABLE_URING)
        .map_err(|e| format!("{ENABLE_URING}: {e} (a kernel without CONFIG_FUSE_IO_URING)"))?;
    if on.trim() != "Y" {
        std::fs::write(ENABLE_URING, "Y").map_err(|e| {
            format!("{ENABLE_URING} is N and could not be set ({e}; root may set it to Y)")
        })?;
        eprintln!("kmsfs: turned FUSE over io_uring on ({ENABLE_URING} = Y)");
    }
    io_uring::IoUring::<io_uring::squeue::Entry128>::builder()
        .build(1)
        .map(drop)
        .map_err(|e| format!("io_uring_setup: {e}"))
}

/// The running ring queues of a mount.
pub(crate) struct Rings {
    core: Arc<serve::Core>,
    offer: Arc<Offer>,
}

/// Start a queue thread per possible CPU on the session's `/dev/fuse` descriptor `dev`;
/// they wait for `offer` and serve `fs` once INIT agreed. `owner`: without `allow_other`,
/// the only user fuser lets in.
pub(crate) fn start(
    dev: std::os::fd::OwnedFd,
    fs: Arc<VolumeFs>,
    owner: Option<u32>,
    notifier: fuser::Notifier,
    offer: Arc<Offer>,
    max_request: usize,
) -> std::io::Result<Rings> {
    let core = Arc::new(serve::Core {
        fs,
        owner,
        notifier: Some(notifier),
        served: Default::default(),
        stayed: Default::default(),
    });
    // The kernel's payload size: max(max_write, max_pages pages, 8 KiB); a page more.
    let payload = max_request.max(8192) + 4096;
    let dev = Arc::new(dev);
    let queues = ring::possible_cpus();
    let shape = shape();
    for qid in 0..queues {
        let tids: stay::Tids = Arc::new((0..shape.threads).map(|_| AtomicI32::new(0)).collect());
        for k in 0..shape.threads {
            let (dev, core, offer) = (dev.clone(), core.clone(), offer.clone());
            let stay = shape.stay.then(|| (tids.clone(), k));
            let pin = k < shape.pinned;
            std::thread::Builder::new()
                .name(format!("kmsfs-ring-{qid}.{k}"))
                .spawn(move || {
                    if !offer.wait() {
                        return;
                    }
                    if qid == 0 && k == 0 {
                        eprintln!(
                            "kmsfs: serving over FUSE io_uring ({queues} queues, {} threads each)",
                            shape.threads
                        );
                    }
                    ring::run_queue(dev, qid as u16, pin, stay, payload, core);
                })?;
        }
    }
    Ok(Rings { core, offer })
}

/// Threads per queue and pinning: `KMSFS_URING_THREADS` (default 2) and `KMSFS_URING_PIN`
/// (how many of a queue's threads are pinned to its CPU; default all), for measurements.
fn shape() -> ring::Shape {
    let var = |n: &str| std::env::var(n).ok().and_then(|v| v.parse::<usize>().ok());
    let threads = var("KMSFS_URING_THREADS").unwrap_or(2).clamp(1, 16);
    ring::Shape {
        threads,
        pinned: var("KMSFS_URING_PIN").unwrap_or(threads).min(threads),
        stay: var("KMSFS_URING_STAY").unwrap_or(1) != 0,
    }
}

impl Rings {
    /// After the session ended: say how many requests the rings served.
    pub(crate) fn finish(self) {
        // Threads still waiting (no INIT came) stop.
        let agreed = *self.offer.agreed.lock().unwrap_or_else(|p| p.into_inner());
        let _ = self.offer.decide(agreed.unwrap_or(false));
        let n = self.core.served.load(Ordering::Relaxed);
        if n > 0 {
            let idle = self.core.stayed.load(Ordering::Relaxed);
            eprintln!("kmsfs: FUSE io_uring served {n} requests ({idle} answers under SCHED_IDLE)");
        }
    }
}
