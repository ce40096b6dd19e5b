//! Key material kept out of swap and core dumps: [`Locked<T>`] holds one value in an
//! anonymous mapping of its own, `mlock`ed (best effort: RLIMIT_MEMLOCK may refuse, which
//! [`Locked::is_mlocked`] reports) and marked `MADV_DONTDUMP` and `MADV_DONTFORK`; dropping it
//! drops the value, then overwrites the whole mapping with zeros before unmapping it.

use std::ptr::NonNull;
use zeroize::Zeroize;

/// A value in its own locked, undumpable pages, zeroized when dropped.
pub struct Locked<T> {
    ptr: NonNull<T>,
    len: usize,
    mlocked: bool,
}

// SAFETY: `Locked<T>` owns its `T` exclusively, as a `Box<T>` does.
unsafe impl<T: Send> Send for Locked<T> {}
// SAFETY: shared access only hands out `&T`.
unsafe impl<T: Sync> Sync for Locked<T> {}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as usize } else { 4096 }
}

impl<T> Locked<T> {
    /// Move `value` into fresh locked pages.
    pub fn new(value: T) -> Locked<T> {
        let page = page_size();
        assert!(std::mem::align_of::<T>() <= page, "alignment above a page");
        let len = std::mem::size_of::<T>().max(1).div_ceil(page) * page;
        // SAFETY: a fresh private anonymous mapping; no existing memory is touched.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            let layout = std::alloc::Layout::from_size_align(len, page).expect("page layout");
            std::alloc::handle_alloc_error(layout);
        }
        // SAFETY: `p..p+len` is the mapping just made; advice and locking only change how
        // the kernel treats it. Failures leave it usable (just swappable or dumpable).
        let mlocked = unsafe {
            libc::madvise(p, len, libc::MADV_DONTDUMP);
            libc::madvise(p, len, libc::MADV_DONTFORK);
            libc::mlock(p, len) == 0
        };
        let ptr = NonNull::new(p as *mut T).expect("mmap returned a non-null mapping");
        // SAFETY: the mapping is writable, page-aligned (>= align_of::<T>) and len >= size.
        unsafe { ptr.as_ptr().write(value) };
        Locked { ptr, len, mlocked }
    }

    /// Whether the pages are locked in memory (false when RLIMIT_MEMLOCK refused).
    pub fn is_mlocked(&self) -> bool {
        self.mlocked
    }
}

impl<T> std::ops::Deref for Locked<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: `ptr` holds an initialized `T` until drop.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T> std::ops::DerefMut for Locked<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` is exclusive.
        unsafe { self.ptr.as_mut() }
    }
}

impl<T> Drop for Locked<T> {
    fn drop(&mut self) {
        let p = self.ptr.as_ptr();
        // SAFETY: the value is initialized and dropped exactly once, here; afterwards the
        // mapping is plain bytes that we own, zeroed, unlocked and unmapped.
        unsafe {
            std::ptr::drop_in_place(p);
            std::slice::from_raw_parts_mut(p as *mut u8, self.len).zeroize();
            if self.mlocked {
                libc::munlock(p as *const libc::c_void, self.len);
            }
            libc::munmap(p as *mut libc::c_void, self.len);
        }
    }
}

impl<T> std::fmt::Debug for Locked<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Locked(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mapping of `addr` in /proc/self/smaps: its flags line ("VmFlags: rd wr ... dd").
    fn vm_flags(addr: usize) -> String {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut inside = false;
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ')
                && let Some((a, b)) = range.split_once('-')
                && let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
            {
                inside = a <= addr && addr < b;
            } else if inside && line.starts_with("VmFlags:") {
                return line.to_string();
            }
        }
        panic!("no mapping holds {addr:#x}");
    }

    #[test]
    fn value_lives_in_undumpable_pages_and_drops() {
        let mut k = Locked::new([7u8; 32]);
        k[0] = 9;
        assert_eq!(k[..2], [9, 7]);
        let flags = vm_flags(k.as_ptr() as usize);
        // dd: MADV_DONTDUMP; lo: mlocked (when the limit allowed it).
        assert!(flags.split_whitespace().any(|f| f == "dd"), "{flags}");
        if k.is_mlocked() {
            assert!(flags.split_whitespace().any(|f| f == "lo"), "{flags}");
        }
        let big = Locked::new(vec![1u8; 10]);
        assert_eq!(big.len(), 10);
        drop((k, big));
    }
}
