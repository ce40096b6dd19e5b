//! The ring queues of FUSE over io_uring (the kernel's Documentation/filesystems/
//! fuse-io-uring.rst; the sequence of libfuse's lib/fuse_uring.c): one queue per possible
//! CPU, each a thread pinned to its CPU with its own io_uring. The thread registers its
//! entries (a header buffer and a payload buffer each) with REGISTER commands on the
//! session's `/dev/fuse` descriptor; a completion means the kernel put a request in the
//! entry; the reply goes back in the same buffers with COMMIT_AND_FETCH, which also hands
//! the entry back for the next request. The kernel routes each request to the queue of the
//! CPU its caller runs on, and sends none over the rings until every queue has an entry.

use super::abi::{self, HEADER_LEN, OP_IN, Out};
use super::place::Place;
use super::serve::Core;
use super::stay::{Stay, Tids};
use io_uring::{IoUring, cqueue, opcode, squeue, types};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Entries per ring: one, so that the kernel never hands a request to a thread that is busy
/// with another while a sibling thread of the same queue is idle (it picks the entry made
/// available last). A queue's parallelism comes from its threads (`Shape::threads`).
const DEPTH: usize = 1;

/// How a queue is served: its threads (each with its own ring and entry) and how many of
/// them are pinned to the queue's CPU (`place`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    pub threads: usize,
    /// The first `pinned` threads of each queue (all of them by default).
    pub pinned: usize,
    /// Whether pinned threads answer under `SCHED_IDLE` while only their queue's threads
    /// run ([`Stay`]).
    pub stay: bool,
}

/// One ring entry: the buffers the kernel writes a request into and reads the reply from.
/// Boxed, so their addresses stay put while the kernel holds them.
struct Ent {
    header: Box<[u8; HEADER_LEN]>,
    payload: Box<[u8]>,
    iov: Box<[libc::iovec; 2]>,
    /// The request's `commit_id` (0 until one came).
    commit_id: u64,
}

impl Ent {
    fn new(payload_len: usize) -> Ent {
        let mut header = Box::new([0u8; HEADER_LEN]);
        let mut payload = vec![0u8; payload_len].into_boxed_slice();
        let iov = Box::new([
            libc::iovec {
                iov_base: header.as_mut_ptr().cast(),
                iov_len: HEADER_LEN,
            },
            libc::iovec {
                iov_base: payload.as_mut_ptr().cast(),
                iov_len: payload_len,
            },
        ]);
        Ent {
            header,
            payload,
            iov,
            commit_id: 0,
        }
    }
}

/// How many queues the kernel makes: one per possible CPU (`/sys/devices/system/cpu/
/// possible`, e.g. `0-3`), the highest index plus one.
pub(crate) fn possible_cpus() -> usize {
    let s = std::fs::read_to_string("/sys/devices/system/cpu/possible").unwrap_or_default();
    let max = s
        .trim()
        .split([',', '-'])
        .filter_map(|n| n.parse::<usize>().ok())
        .max();
    max.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |m| m + 1,
    )
}

/// The SQE of a ring command on `fd` for entry `i`: REGISTER carries the entry's iovecs.
fn command(fd: i32, qid: u16, i: usize, ent: &Ent, cmd: u32) -> squeue::Entry128 {
    let mut op = opcode::UringCmd80::new(types::Fd(fd), cmd).cmd(abi::cmd_req(qid, ent.commit_id));
    if cmd == abi::CMD_REGISTER {
        op = op.addr(Some(ent.iov.as_ptr() as u64));
    }
    let sqe = op.build().user_data(i as u64);
    if cmd != abi::CMD_REGISTER {
        return sqe;
    }
    // io-uring's UringCmd80 has no `len`; REGISTER needs len = 2 (the iovec count), at
    // offset 24 of `struct io_uring_sqe` (kernel ABI).
    const _: () = assert!(std::mem::size_of::<squeue::Entry128>() == 128);
    // SAFETY: Entry128 is a repr(C) 128-byte `io_uring_sqe` (asserted above); any byte
    // pattern is a valid value of it.
    let mut raw: [u8; 128] = unsafe { std::mem::transmute(sqe) };
    raw[24..28].copy_from_slice(&2u32.to_le_bytes());
    // SAFETY: as above.
    unsafe { std::mem::transmute::<[u8; 128], squeue::Entry128>(raw) }
}

/// One queue: its thread's whole life. Returns when the connection goes (ENOTCONN: the
/// file system was unmounted) or a command fails (said on stderr: a failed REGISTER turns
/// the ring off, and the kernel goes on over /dev/fuse).
pub(crate) fn run_queue(
    dev: Arc<OwnedFd>,
    qid: u16,
    pin_it: bool,
    stay: Option<(Tids, usize)>,
    payload_len: usize,
    core: Arc<Core>,
) {
    let fail = |what: &str, e: std::io::Error| {
        if e.raw_os_error() != Some(libc::ENOTCONN) {
            eprintln!("kmsfs: io_uring queue {qid}: {what}: {e}");
        }
    };
    let mut place = if pin_it {
        Place::pin(qid as usize)
    } else {
        None
    };
    let mut stay = stay
        .filter(|_| place.is_some())
        .and_then(|(queue, k)| Stay::new(queue, k));
    let fd = dev.as_raw_fd();
    let mut ring: IoUring<squeue::Entry128, cqueue::Entry> = match IoUring::builder()
        .setup_cqsize(2 * DEPTH as u32)
        .build(DEPTH as u32)
    {
        Ok(r) => r,
        Err(e) => return fail("io_uring_setup", e),
    };
    let mut ents: Vec<Ent> = (0..DEPTH).map(|_| Ent::new(payload_len)).collect();
    for (i, ent) in ents.iter().enumerate() {
        push(&mut ring, command(fd, qid, i, ent, abi::CMD_REGISTER));
    }
    let mut last_cmd = [abi::CMD_REGISTER; DEPTH];
    let mut out = Out::default();
    loop {
        if let Some(s) = stay.as_mut().filter(|_| !ring.submission().is_empty()) {
            // The answer on its own, then the wait; a failed submission fails again there.
            if s.answer(|| ring.submit()).1 {
                core.stayed.fetch_add(1, Ordering::Relaxed);
            }
        }
        if let Err(e) = ring.submit_and_wait(1) {
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return fail("io_uring_enter", e);
        }
        let done: Vec<(usize, i32)> = ring
            .completion()
            .map(|c| (c.user_data() as usize, c.result()))
            .collect();
        for (i, res) in done {
            let Some(ent) = ents.get_mut(i) else { continue };
            if res == -libc::EAGAIN || res == -libc::EINTR {
                // The connection is not initialized yet (REGISTER before the INIT reply).
                std::thread::sleep(std::time::Duration::from_millis(1));
                push(&mut ring, command(fd, qid, i, ent, last_cmd[i]));
                continue;
            }
            if res < 0 {
                let what = match last_cmd[i] {
                    abi::CMD_REGISTER => "FUSE_IO_URING_CMD_REGISTER",
                    _ => "FUSE_IO_URING_CMD_COMMIT_AND_FETCH",
                };
                return fail(what, std::io::Error::from_raw_os_error(-res));
            }
            if let Some(p) = place.as_mut() {
                p.before(abi::data_len(&ent.header[..]));
            }
            answer(ent, &core, &mut out);
            last_cmd[i] = abi::CMD_COMMIT_AND_FETCH;
            push(
                &mut ring,
                command(fd, qid, i, ent, abi::CMD_COMMIT_AND_FETCH),
            );
        }
    }
}

fn push(ring: &mut IoUring<squeue::Entry128, cqueue::Entry>, sqe: squeue::Entry128) {
    // SAFETY: the buffers `sqe` points to (an entry's iovecs, header and payload) live in
    // `ents` for as long as the ring does; the queue has room for all DEPTH entries.
    let pushed = unsafe { ring.submission().push(&sqe) };
    if pushed.is_err() {
        let _ = ring.submit();
        // SAFETY: as above.
        let _ = unsafe { ring.submission().push(&sqe) };
    }
}

/// Serve the request in `ent` and put the reply (out header, body, its size) in its place.
fn answer(ent: &mut Ent, core: &Core, out: &mut Out) {
    let (commit_id, size) = abi::ent_in_out(&ent.header[abi::ENT_IN_OUT..]).unwrap_or((0, 0));
    ent.commit_id = commit_id;
    let size = (size as usize).min(ent.payload.len());
    out.0.clear();
    let r = match abi::decode(
        &ent.header[..OP_IN],
        &ent.header[OP_IN..abi::ENT_IN_OUT],
        &ent.payload[..size],
    ) {
        Ok((h, op)) => core.serve(&h, op, out),
        Err(abi::Garbled) => Err(libc::EIO),
    };
    let (error, body) = match r {
        Ok(()) if out.0.len() <= ent.payload.len() => (0, out.0.as_slice()),
        Ok(()) => (-libc::EIO, &[][..]),
        Err(e) => (-e, &[][..]),
    };
    ent.payload[..body.len()].copy_from_slice(body);
    let len = (16 + body.len()) as u32;
    ent.header[..16].copy_from_slice(&abi::out_header(len, error, commit_id));
    let at = abi::ENT_IN_OUT + 16;
    ent.header[at..at + 4].copy_from_slice(&(body.len() as u32).to_le_bytes());
}
