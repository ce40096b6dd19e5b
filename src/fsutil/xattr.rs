//! Extended attributes of a path, as safe functions over C strings: with `follow` false
//! never following a final symlink (the `l*xattr` calls); with it true following it (the
//! plain calls: for `/proc/self/fd/N` paths, which lead to the entry a descriptor holds).
//! Callers decide what the names and values mean.

use std::ffi::CStr;
use std::io;

/// The value of attribute `name` of `path`.
pub fn get(path: &CStr, name: &CStr, follow: bool) -> io::Result<Vec<u8>> {
    let call = if follow {
        libc::getxattr
    } else {
        libc::lgetxattr
    };
    // SAFETY: valid C strings; `sized` passes a buffer of `len` bytes (or null and 0).
    sized(|buf, len| unsafe { call(path.as_ptr(), name.as_ptr(), buf, len) })
}

/// Set attribute `name` of `path` to `value` (`flags`: 0, `XATTR_CREATE` or `XATTR_REPLACE`).
pub fn set(path: &CStr, name: &CStr, value: &[u8], flags: i32, follow: bool) -> io::Result<()> {
    let call = if follow {
        libc::setxattr
    } else {
        libc::lsetxattr
    };
    // SAFETY: valid C strings and a live buffer of value.len() bytes.
    let r = unsafe {
        call(
            path.as_ptr(),
            name.as_ptr(),
            value.as_ptr() as *const libc::c_void,
            value.len(),
            flags,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The attribute names of `path`, as the kernel lists them (each followed by a NUL byte).
pub fn list(path: &CStr, follow: bool) -> io::Result<Vec<u8>> {
    let call = if follow {
        libc::listxattr
    } else {
        libc::llistxattr
    };
    // SAFETY: valid C string; `sized` passes a buffer of `len` bytes (or null and 0).
    sized(|buf, len| unsafe { call(path.as_ptr(), buf as *mut libc::c_char, len) })
}

/// Ask `call` for the size (null buffer), then for the bytes into a buffer of that size.
fn sized(call: impl Fn(*mut libc::c_void, usize) -> isize) -> io::Result<Vec<u8>> {
    let len = call(std::ptr::null_mut(), 0);
    if len < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut buf = vec![0u8; len as usize];
    let len = call(buf.as_mut_ptr() as *mut libc::c_void, buf.len());
    if len < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(len as usize);
    Ok(buf)
}

/// Remove attribute `name` of `path`.
pub fn remove(path: &CStr, name: &CStr, follow: bool) -> io::Result<()> {
    let call = if follow {
        libc::removexattr
    } else {
        libc::lremovexattr
    };
    // SAFETY: valid C strings.
    if unsafe { call(path.as_ptr(), name.as_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn set_get_list_remove() {
        let f = tempfile::NamedTempFile::new().unwrap();
        let p = CString::new(f.path().as_os_str().as_bytes()).unwrap();
        let n = CString::new("user.kmsfs-test").unwrap();
        if let Err(e) = set(&p, &n, b"v1", 0, false) {
            // tmpfs without user xattrs: nothing else to check here.
            assert_eq!(e.raw_os_error(), Some(libc::ENOTSUP), "{e}");
            return;
        }
        assert_eq!(get(&p, &n, false).unwrap(), b"v1");
        assert!(
            list(&p, false)
                .unwrap()
                .split(|&b| b == 0)
                .any(|x| x == b"user.kmsfs-test")
        );
        remove(&p, &n, false).unwrap();
        assert_eq!(
            get(&p, &n, false).unwrap_err().raw_os_error(),
            Some(libc::ENODATA)
        );
    }
}
