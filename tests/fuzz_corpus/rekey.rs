//! Seeds for the `volume_rekey` fuzz target.

use kmsfs::crypto::SecretKey;
use kmsfs::fuzzing;

/// Stored volume items under `FUZZ_KEY`, tagged as `fuzzing::volume_rekey` reads them: a
/// file's stored bytes (header and three units, the last short), a symlink target, an
/// xattr, a name; and damaged ones.
pub(crate) fn seeds() -> Vec<Vec<u8>> {
    use kmsfs::volume::content::Content;
    use kmsfs::volume::keys::VolumeKeys;
    let k = VolumeKeys::derive(&SecretKey::from_bytes(fuzzing::FUZZ_KEY));
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f");
    let f = std::fs::File::options()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&p)
        .unwrap();
    let c = Content { keys: Some(&k) };
    let id = [0x33; 16];
    let mut stored = [kmsfs::volume::content::MAGIC.as_slice(), &id].concat();
    std::fs::write(&p, &stored).unwrap();
    c.write(&f, Some(&id), 0, &[5u8; 2 * 4096 + 9]).unwrap();
    stored = std::fs::read(&p).unwrap();
    let mut out = vec![[vec![0u8, 100], stored.clone()].concat()];
    out.push([vec![0u8, 0], stored[..20].to_vec()].concat());
    let name = kmsfs::volume::names::encrypt(&k.names, &[9; 16], std::ffi::OsStr::new("n.txt"));
    let kmsfs::volume::names::Stored::Direct(name) = name else {
        panic!("a short name")
    };
    let name = name.into_encoded_bytes();
    out.push([[3u8].as_slice(), &[9; 16], &name].concat());
    out.push([[1u8].as_slice(), b"bm90IGEgdGFyZ2V0"].concat());
    out.push([[2u8].as_slice(), b"user.x\0value"].concat());
    let mut all = Vec::new();
    for s in out {
        all.extend(super::damaged(&s));
        all.push(s);
    }
    all
}
