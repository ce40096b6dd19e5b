//! Deterministic test data: counting bytes, seeded pseudo-random bytes, and a long
//! pseudo-random stream generated as it is read.

use std::io::{Read, Write};

/// `len` bytes counting up modulo 251 (byte `i` is `i % 251`). The golden vectors hold this
/// plaintext, so it must not change.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// `len` pseudo-random bytes from `seed` (xorshift64, one byte per step). Other seeds give
/// unrelated bytes, and no run repeats (nothing for chunk deduplication to find).
pub fn pattern_seeded(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x = xorshift(x);
            x as u8
        })
        .collect()
}

/// The next state of a xorshift64 generator (13, 7, 17) after `x` (not 0).
pub fn xorshift(mut x: u64) -> u64 {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}

/// A pseudo-random stream of a given length (xorshift64, 8 bytes per step), generated cheaply
/// as it is read: for objects and messages too large to hold. The bytes do not depend on how
/// the stream is cut into calls.
pub struct Stream {
    state: u64,
    word: [u8; 8],
    used: usize,
    left: u64,
}

impl Stream {
    pub fn new(len: u64) -> Stream {
        Stream {
            state: 0x9E37_79B9_7F4A_7C15,
            word: [0; 8],
            used: 8,
            left: len,
        }
    }

    /// Fill the start of `buf` with the next bytes: how many (0 at the end).
    pub fn fill(&mut self, buf: &mut [u8]) -> usize {
        let n = (buf.len() as u64).min(self.left) as usize;
        for b in &mut buf[..n] {
            if self.used == 8 {
                self.state = xorshift(self.state);
                self.word = self.state.to_le_bytes();
                self.used = 0;
            }
            *b = self.word[self.used];
            self.used += 1;
        }
        self.left -= n as u64;
        n
    }
}

/// Write the stream of `len` bytes to `w`, 1 MiB at a time.
pub fn write_stream(mut w: impl Write, len: u64) {
    let mut s = Stream::new(len);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = s.fill(&mut buf);
        if n == 0 {
            break;
        }
        w.write_all(&buf[..n]).unwrap();
    }
}

/// Read `r` to its end, comparing it with the stream of `len` bytes as it arrives; a byte
/// that differs or comes after the `len`th fails. How many bytes were read.
pub fn check_stream(mut r: impl Read, len: u64) -> u64 {
    let mut s = Stream::new(len);
    let (mut got, mut want) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    let mut total = 0u64;
    loop {
        let n = r.read(&mut got).unwrap();
        if n == 0 {
            return total;
        }
        let mut done = 0;
        while done < n {
            let m = s.fill(&mut want[..n - done]);
            assert!(m > 0, "more than {len} bytes");
            assert!(
                want[..m] == got[done..done + m],
                "differs at byte {}",
                total + done as u64
            );
            done += m;
        }
        total += n as u64;
    }
}
