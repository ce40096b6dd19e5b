//! Seeds of the `uring_request` target: FUSE-over-io_uring ring entries as the kernel
//! writes them (docs/FORMAT.md "FUSE over io_uring"), one per opcode kmsfs serves, and
//! damaged copies.

/// A ring entry: the 288-byte header (`fuse_in_header`, `op_in`, `fuse_uring_ent_in_out`)
/// and the payload.
fn entry(opcode: u32, op_in: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0u8; 288];
    h[0..4].copy_from_slice(&(40 + op_in.len() as u32 + payload.len() as u32).to_le_bytes());
    h[4..8].copy_from_slice(&opcode.to_le_bytes());
    h[8..16].copy_from_slice(&2u64.to_le_bytes()); // unique
    h[16..24].copy_from_slice(&1u64.to_le_bytes()); // nodeid
    h[24..36].copy_from_slice(&[0xe8, 3, 0, 0, 0xe8, 3, 0, 0, 42, 0, 0, 0]); // uid gid pid
    h[128..128 + op_in.len()].copy_from_slice(op_in);
    h[264..272].copy_from_slice(&2u64.to_le_bytes()); // commit_id
    h[272..276].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    h.extend_from_slice(payload);
    h
}

fn le(fields: &[u64], widths: &[usize]) -> Vec<u8> {
    let mut v = Vec::new();
    for (f, w) in fields.iter().zip(widths) {
        v.extend_from_slice(&f.to_le_bytes()[..*w]);
    }
    v
}

pub(crate) fn seeds() -> Vec<Vec<u8>> {
    let rw = le(&[3, 4096, 5, 0, 0, 0, 0], &[8, 8, 4, 4, 8, 4, 4]);
    let mut setattr = le(&[0x1ff, 0, 3, 10], &[4, 4, 8, 8]);
    setattr.resize(88, 0);
    let v = vec![
        entry(1, &[], b"name\0"),
        entry(3, &le(&[1, 0, 3], &[4, 4, 8]), &[]),
        entry(4, &setattr, &[]),
        entry(5, &[], &[]),
        entry(6, &[], b"link\0target\0"),
        entry(8, &le(&[0o10644, 0, 0o22, 0], &[4; 4]), b"node\0"),
        entry(9, &le(&[0o755, 0o22], &[4, 4]), b"dir\0"),
        entry(10, &[], b"gone\0"),
        entry(12, &le(&[1], &[8]), b"a\0b\0"),
        entry(45, &le(&[1, 1, 0], &[8, 4, 4]), b"a\0b\0"),
        entry(13, &le(&[5], &[8]), b"hard\0"),
        entry(14, &le(&[2, 0], &[4, 4]), &[]),
        entry(15, &rw, &[]),
        entry(16, &rw, b"hello"),
        entry(18, &le(&[3, 0, 0, 0], &[8, 4, 4, 8]), &[]),
        entry(20, &le(&[3, 1, 0], &[8, 4, 4]), &[]),
        entry(21, &le(&[3, 0], &[4, 4]), b"user.a\0abc"),
        entry(22, &le(&[64, 0], &[4, 4]), b"user.a\0"),
        entry(23, &le(&[0, 0], &[4, 4]), &[]),
        entry(24, &[], b"user.a\0"),
        entry(28, &rw, &[]),
        entry(44, &rw, &[]),
        entry(35, &le(&[0o2, 0o100644, 0o22, 0], &[4; 4]), b"new\0"),
        entry(38, &[], &[]),
        entry(4096, &[], &[]),
    ];
    let mut out = Vec::new();
    for e in &v {
        out.push(e[..e.len() - 1].to_vec()); // the payload's last byte cut
        out.push(e[..200].to_vec()); // cut inside the header
    }
    out.extend(v);
    out
}
