//! AES-256-XTS (IEEE 1619-2007, NIST SP 800-38E) for volume file contents, batched: per
//! data unit the chain of tweak masks is computed first, so all full blocks of the unit go
//! through one AES call, which the `aes` crate pipelines with AES-NI/VAES. Byte-identical
//! to `xts_mode::Xts128::<Aes256>` with the 16-byte little-endian encoding of the `u128`
//! tweak (`get_tweak_default`); units not a multiple of 16 bytes use ciphertext stealing.
//!
//! Units of 1..15 bytes are outside XTS, which needs one full block. Such a unit (only ever
//! the last 1..15 bytes of a file) is XORed with a keystream instead,
//! `AES_K1(AES_K2(tweak) ⊕ D)[..len]` with D = 0x80 in byte 15 (the last byte). This is
//! weaker than XTS: it is deterministic per tweak, so two versions of such a tail under the
//! same tweak reveal the XOR of their plaintexts, and flipping a ciphertext bit flips the
//! same plaintext bit. Because of D, the keystream's AES input meets an XTS unit of the
//! same tweak (a file that grew past the tail) only if that unit's first 16 plaintext bytes
//! equal D (its other blocks: by a 2^-128 accident); even then its first ciphertext block
//! reveals only keystream ⊕ AES_K2(tweak), still masked by the secret tweak mask.

use super::SecretKey;
use aes::cipher::{BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use aes::{Aes256, Aes256Enc, Block};
use zeroize::Zeroize;

/// AES block size; also the shortest unit XTS accepts.
const BLOCK: usize = 16;
/// Blocks per AES call: a whole 4 KiB unit; longer units go in chunks of this many.
const BATCH: usize = 256;
/// Domain separation of the short-unit keystream: byte 15 of the tweak mask ⊕ 0x80.
const SHORT_DOMAIN: u128 = 0x80 << 120;

/// An expanded AES-256-XTS key: K1 for the data, K2 for the tweak. Units of 16 bytes and
/// more go through AWS-LC (`xts_lc.rs`, the same bytes, faster), with this module's own
/// code as the fallback; the short keystream is this module's. The key schedules are
/// zeroized on drop; `Debug` shows nothing.
pub struct XtsKey {
    data: Aes256,
    tweak: Aes256Enc,
    lc: super::xts_lc::LcXts,
}

impl std::fmt::Debug for XtsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("XtsKey(<redacted>)")
    }
}

#[derive(Clone, Copy)]
enum Dir {
    Encrypt,
    Decrypt,
}

/// Multiply by α in GF(2^128), IEEE 1619 byte order (the value is the little-endian
/// reading of the 16 mask bytes; reduction polynomial x^128 + x^7 + x^2 + x + 1).
#[inline(always)]
fn mul_alpha(t: u128) -> u128 {
    (t << 1) ^ (((t as i128) >> 127) as u128 & 0x87)
}

#[inline(always)]
fn xor(block: &mut Block, mask: u128) {
    block.0 = (u128::from_le_bytes(block.0) ^ mask).to_le_bytes();
}

impl XtsKey {
    /// The 512-bit XTS key as its two halves: `data_key` (K1) encrypts the blocks,
    /// `tweak_key` (K2) encrypts the tweaks.
    ///
    /// # Panics
    /// If the two halves are equal (forbidden by IEEE 1619-2018 and SP 800-38E).
    pub fn new(data_key: &SecretKey, tweak_key: &SecretKey) -> XtsKey {
        assert!(data_key != tweak_key, "XTS data and tweak keys must differ");
        XtsKey {
            data: Aes256::new(data_key.expose().into()),
            tweak: Aes256Enc::new(tweak_key.expose().into()),
            lc: super::xts_lc::LcXts::new(data_key.expose(), tweak_key.expose()),
        }
    }

    /// Encrypt one data unit in place: XTS from 16 bytes up, the short keystream for
    /// 1..15 bytes, nothing for 0.
    pub fn encrypt_unit(&self, buf: &mut [u8], tweak: u128) {
        match buf.len() {
            0 => {}
            1..BLOCK => self.encrypt_short(buf, tweak),
            _ => self.encrypt_sector(buf, tweak),
        }
    }

    /// Decrypt one data unit in place; the inverse of [`XtsKey::encrypt_unit`].
    pub fn decrypt_unit(&self, buf: &mut [u8], tweak: u128) {
        match buf.len() {
            0 => {}
            1..BLOCK => self.decrypt_short(buf, tweak),
            _ => self.decrypt_sector(buf, tweak),
        }
    }

    /// Encrypt consecutive units of `unit_size` bytes (the last may be shorter, even
    /// shorter than 16 bytes) with [`XtsKey::encrypt_unit`]; unit `i` of `buf` gets the
    /// tweak `tweak_of(i)`.
    ///
    /// # Panics
    /// If `unit_size` < 16.
    pub fn encrypt_units(
        &self,
        buf: &mut [u8],
        unit_size: usize,
        tweak_of: impl FnMut(usize) -> u128,
    ) {
        self.units(buf, unit_size, tweak_of, Dir::Encrypt);
    }

    /// Decrypt what [`XtsKey::encrypt_units`] encrypted.
    ///
    /// # Panics
    /// If `unit_size` < 16.
    pub fn decrypt_units(
        &self,
        buf: &mut [u8],
        unit_size: usize,
        tweak_of: impl FnMut(usize) -> u128,
    ) {
        self.units(buf, unit_size, tweak_of, Dir::Decrypt);
    }

    /// [`XtsKey::encrypt_units`] or [`XtsKey::decrypt_units`].
    fn units(
        &self,
        buf: &mut [u8],
        unit_size: usize,
        mut tweak_of: impl FnMut(usize) -> u128,
        dir: Dir,
    ) {
        assert!(unit_size >= BLOCK, "XTS data units are at least 16 bytes");
        for (i, unit) in buf.chunks_mut(unit_size).enumerate() {
            let tweak = tweak_of(i);
            match dir {
                Dir::Encrypt => self.encrypt_unit(unit, tweak),
                Dir::Decrypt => self.decrypt_unit(unit, tweak),
            }
        }
    }

    /// XTS-encrypt one data unit of at least 16 bytes in place.
    ///
    /// # Panics
    /// If `buf` is shorter than 16 bytes.
    pub fn encrypt_sector(&self, buf: &mut [u8], tweak: u128) {
        self.xts(buf, tweak, Dir::Encrypt);
    }

    /// XTS-decrypt one data unit of at least 16 bytes in place.
    ///
    /// # Panics
    /// If `buf` is shorter than 16 bytes.
    pub fn decrypt_sector(&self, buf: &mut [u8], tweak: u128) {
        self.xts(buf, tweak, Dir::Decrypt);
    }

    /// Encrypt a unit of 1..15 bytes with the short keystream (see the module docs).
    ///
    /// # Panics
    /// If `buf` is 16 bytes or longer: such units must use XTS.
    pub fn encrypt_short(&self, buf: &mut [u8], tweak: u128) {
        self.short(buf, tweak);
    }

    /// Decrypt a unit of 1..15 bytes (the same XOR as [`XtsKey::encrypt_short`]).
    ///
    /// # Panics
    /// If `buf` is 16 bytes or longer.
    pub fn decrypt_short(&self, buf: &mut [u8], tweak: u128) {
        self.short(buf, tweak);
    }

    fn short(&self, buf: &mut [u8], tweak: u128) {
        assert!(buf.len() < BLOCK, "units of 16 bytes or more use XTS");
        let mut ks = Block::from((self.mask(tweak) ^ SHORT_DOMAIN).to_le_bytes());
        self.data.encrypt_block(&mut ks);
        for (b, k) in buf.iter_mut().zip(ks.iter()) {
            *b ^= k;
        }
        ks.0.zeroize();
    }

    /// The first tweak mask of a unit: AES_K2 of the tweak's little-endian bytes.
    fn mask(&self, tweak: u128) -> u128 {
        let mut t = Block::from(tweak.to_le_bytes());
        self.tweak.encrypt_block(&mut t);
        u128::from_le_bytes(t.0)
    }

    fn xts(&self, buf: &mut [u8], tweak: u128, dir: Dir) {
        assert!(
            buf.len() >= BLOCK,
            "XTS needs at least 16 bytes per data unit"
        );
        if !self.lc.crypt(buf, tweak, matches!(dir, Dir::Encrypt)) {
            self.own_xts(buf, tweak, dir);
        }
    }

    /// [`XtsKey::xts`] by this module's batched code (where AWS-LC cannot).
    fn own_xts(&self, buf: &mut [u8], tweak: u128, dir: Dir) {
        let mut t = self.mask(tweak);
        let (blocks, tail) = Block::slice_as_chunks_mut(buf);
        let r = tail.len();
        if r == 0 {
            self.xex_blocks(blocks, &mut t, dir);
            return;
        }
        // Ciphertext stealing, IEEE 1619-2007 5.3.2 / 5.4.2, in place: m full blocks, then
        // r bytes. Swapping the first r bytes of the last full block with the tail turns
        // P_m ‖ CC[r..] into CC ‖ C_m and back.
        match dir {
            Dir::Encrypt => {
                self.xex_blocks(blocks, &mut t, dir); // t is now T_m
                let last = blocks.last_mut().expect("at least one full block");
                last[..r].swap_with_slice(tail);
                self.xex_one(last, t, dir);
            }
            Dir::Decrypt => {
                let m = blocks.len();
                let (head, last) = blocks.split_at_mut(m - 1);
                self.xex_blocks(head, &mut t, dir); // t is now T_(m-1)
                let last = &mut last[0];
                self.xex_one(last, mul_alpha(t), dir);
                last[..r].swap_with_slice(tail);
                self.xex_one(last, t, dir);
            }
        }
    }

    /// One block: mask, AES_K1, mask.
    fn xex_one(&self, block: &mut Block, mask: u128, dir: Dir) {
        xor(block, mask);
        match dir {
            Dir::Encrypt => self.data.encrypt_block(block),
            Dir::Decrypt => self.data.decrypt_block(block),
        }
        xor(block, mask);
    }

    /// Full blocks with consecutive masks from `*t`, one AES call per (up to) `BATCH`
    /// blocks; leaves `*t` at the mask of the block after the last.
    fn xex_blocks(&self, blocks: &mut [Block], t: &mut u128, dir: Dir) {
        let mut masks = [0u128; BATCH];
        for chunk in blocks.chunks_mut(BATCH) {
            for (block, m) in chunk.iter_mut().zip(masks.iter_mut()) {
                *m = *t;
                xor(block, *t);
                *t = mul_alpha(*t);
            }
            match dir {
                Dir::Encrypt => self.data.encrypt_blocks(chunk),
                Dir::Decrypt => self.data.decrypt_blocks(chunk),
            }
            for (block, m) in chunk.iter_mut().zip(masks.iter()) {
                xor(block, *m);
            }
        }
        masks[..blocks.len().min(BATCH)].zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{sha256, unhex};
    use xts_mode::{Xts128, get_tweak_default};

    /// SplitMix64: reproducible "random" keys, tweaks and data.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        fn fill(&mut self, buf: &mut [u8]) {
            for chunk in buf.chunks_mut(8) {
                let v = self.next().to_le_bytes();
                chunk.copy_from_slice(&v[..chunk.len()]);
            }
        }

        fn bytes(&mut self, n: usize) -> Vec<u8> {
            let mut v = vec![0; n];
            self.fill(&mut v);
            v
        }

        fn u128(&mut self) -> u128 {
            ((self.next() as u128) << 64) | self.next() as u128
        }

        fn key(&mut self) -> [u8; 32] {
            let mut k = [0; 32];
            self.fill(&mut k);
            k
        }
    }

    /// Ours and xts-mode's, under the same key.
    fn pair(k1: [u8; 32], k2: [u8; 32]) -> (XtsKey, Xts128<Aes256>) {
        let ours = XtsKey::new(&SecretKey::from_bytes(k1), &SecretKey::from_bytes(k2));
        let theirs = Xts128::new(Aes256::new(&k1.into()), Aes256::new(&k2.into()));
        (ours, theirs)
    }

    fn random_pair(rng: &mut Rng) -> (XtsKey, Xts128<Aes256>) {
        pair(rng.key(), rng.key())
    }

    /// Encrypt and decrypt `data` with both, compare byte for byte, check the round trip.
    fn check_against_xts_mode(ours: &XtsKey, theirs: &Xts128<Aes256>, data: &[u8], tweak: u128) {
        let len = data.len();
        let mut a = data.to_vec();
        let mut b = data.to_vec();
        ours.encrypt_sector(&mut a, tweak);
        theirs.encrypt_sector(&mut b, get_tweak_default(tweak));
        assert_eq!(a, b, "encrypt, len {len}");
        assert_ne!(a, data, "encrypt changed nothing, len {len}");
        let mut c = a.clone();
        ours.decrypt_sector(&mut a, tweak);
        theirs.decrypt_sector(&mut b, get_tweak_default(tweak));
        assert_eq!(a, b, "decrypt, len {len}");
        assert_eq!(a, data, "round trip, len {len}");
        ours.decrypt_unit(&mut c, tweak);
        assert_eq!(c, data, "decrypt_unit, len {len}");
    }

    fn ieee_key() -> (XtsKey, Xts128<Aes256>) {
        let k1 = unhex("2718281828459045235360287471352662497757247093699959574966967627").unwrap();
        let k2 = unhex("3141592653589793238462643383279502884197169399375105820974944592").unwrap();
        pair(k1.try_into().unwrap(), k2.try_into().unwrap())
    }

    /// 00 01 02 .. ff 00 01 ..
    fn counting(n: usize) -> Vec<u8> {
        (0..n).map(|i| i as u8).collect()
    }

    /// IEEE P1619/D16 Annex B (= IEEE 1619-2007), XTS-AES-256 vectors 10-14: 512-byte
    /// units, key1 = 27182818.., key2 = 31415926.., plaintext 00 01 .. ff 00 01 .. ff.
    /// Ciphertexts as published; confirmed locally against OpenSSL 3.0's AES-256-XTS.
    const IEEE_1619_AES256: [(u128, &str); 5] = [
        (
            0xff,
            "1c3b3a102f770386e4836c99e370cf9bea00803f5e482357a4ae12d414a3e63b\
             5d31e276f8fe4a8d66b317f9ac683f44680a86ac35adfc3345befecb4bb188fd\
             5776926c49a3095eb108fd1098baec70aaa66999a72a82f27d848b21d4a741b0\
             c5cd4d5fff9dac89aeba122961d03a757123e9870f8acf1000020887891429ca\
             2a3e7a7d7df7b10355165c8b9a6d0a7de8b062c4500dc4cd120c0f7418dae3d0\
             b5781c34803fa75421c790dfe1de1834f280d7667b327f6c8cd7557e12ac3a0f\
             93ec05c52e0493ef31a12d3d9260f79a289d6a379bc70c50841473d1a8cc81ec\
             583e9645e07b8d9670655ba5bbcfecc6dc3966380ad8fecb17b6ba02469a020a\
             84e18e8f84252070c13e9f1f289be54fbc481457778f616015e1327a02b140f1\
             505eb309326d68378f8374595c849d84f4c333ec4423885143cb47bd71c5edae\
             9be69a2ffeceb1bec9de244fbe15992b11b77c040f12bd8f6a975a44a0f90c29\
             a9abc3d4d893927284c58754cce294529f8614dcd2aba991925fedc4ae74ffac\
             6e333b93eb4aff0479da9a410e4450e0dd7ae4c6e2910900575da401fc07059f\
             645e8b7e9bfdef33943054ff84011493c27b3429eaedb4ed5376441a77ed4385\
             1ad77f16f541dfd269d50d6a5f14fb0aab1cbb4c1550be97f7ab4066193c4caa\
             773dad38014bd2092fa755c824bb5e54c4f36ffda9fcea70b9c6e693e148c151",
        ),
        (
            0xffff,
            "77a31251618a15e6b92d1d66dffe7b50b50bad552305ba0217a610688eff7e11\
             e1d0225438e093242d6db274fde801d4cae06f2092c728b2478559df58e837c2\
             469ee4a4fa794e4bbc7f39bc026e3cb72c33b0888f25b4acf56a2a9804f1ce6d\
             3d6e1dc6ca181d4b546179d55544aa7760c40d06741539c7e3cd9d2f6650b201\
             3fd0eeb8c2b8e3d8d240ccae2d4c98320a7442e1c8d75a42d6e6cfa4c2eca179\
             8d158c7aecdf82490f24bb9b38e108bcda12c3faf9a21141c3613b58367f922a\
             aa26cd22f23d708dae699ad7cb40a8ad0b6e2784973dcb605684c08b8d6998c6\
             9aac049921871ebb65301a4619ca80ecb485a31d744223ce8ddc2394828d6a80\
             470c092f5ba413c3378fa6054255c6f9df4495862bbb3287681f931b687c888a\
             bf844dfc8fc28331e579928cd12bd2390ae123cf03818d14dedde5c0c24c8ab0\
             18bfca75ca096f2d531f3d1619e785f1ada437cab92e980558b3dce1474afb75\
             bfedbf8ff54cb2618e0244c9ac0d3c66fb51598cd2db11f9be39791abe447c63\
             094f7c453b7ff87cb5bb36b7c79efb0872d17058b83b15ab0866ad8a58656c5a\
             7e20dbdf308b2461d97c0ec0024a2715055249cf3b478ddd4740de654f75ca68\
             6e0d7345c69ed50cdc2a8b332b1f8824108ac937eb050585608ee734097fc090\
             54fbff89eeaeea791f4a7ab1f9868294a4f9e27b42af8100cb9d59cef9645803",
        ),
        (
            0xff_ffff,
            "e387aaa58ba483afa7e8eb469778317ecf4cf573aa9d4eac23f2cdf914e4e200\
             a8b490e42ee646802dc6ee2b471b278195d60918ececb44bf79966f83faba049\
             9298ebc699c0c8634715a320bb4f075d622e74c8c932004f25b41e361025b5a8\
             7815391f6108fc4afa6a05d9303c6ba68a128a55705d415985832fdeaae6c8e1\
             9110e84d1b1f199a2692119edc96132658f09da7c623efcec712537a3d94c0bf\
             5d7e352ec94ae5797fdb377dc1551150721adf15bd26a8efc2fcaad56881fa9e\
             62462c28f30ae1ceaca93c345cf243b73f542e2074a705bd2643bb9f7cc79bb6\
             e7091ea6e232df0f9ad0d6cf502327876d82207abf2115cdacf6d5a48f6c1879\
             a65b115f0f8b3cb3c59d15dd8c769bc014795a1837f3901b5845eb491adfefe0\
             97b1fa30a12fc1f65ba22905031539971a10f2f36c321bb51331cdefb39e3964\
             c7ef079994f5b69b2edd83a71ef549971ee93f44eac3938fcdd61d01fa71799d\
             a3a8091c4c48aa9ed263ff0749df95d44fef6a0bb578ec69456aa5408ae32c7a\
             f08ad7ba8921287e3bbee31b767be06a0e705c864a769137df28292283ea81a2\
             480241b44d9921cdbec1bc28dc1fda114bd8e5217ac9d8ebafa720e9da4f9ace\
             231cc949e5b96fe76ffc21063fddc83a6b8679c00d35e09576a875305bed5f36\
             ed242c8900dd1fa965bc950dfce09b132263a1eef52dd6888c309f5a7d712826",
        ),
        (
            0xffff_ffff,
            "bf53d2dade78e822a4d949a9bc6766b01b06a8ef70d26748c6a7fc36d80ae4c5\
             520f7c4ab0ac8544424fa405162fef5a6b7f229498063618d39f0003cb5fb8d1\
             c86b643497da1ff945c8d3bedeca4f479702a7a735f043ddb1d6aaade3c4a0ac\
             7ca7f3fa5279bef56f82cd7a2f38672e824814e10700300a055e1630b8f1cb0e\
             919f5e942010a416e2bf48cb46993d3cb6a51c19bacf864785a00bc2ecff15d3\
             50875b246ed53e68be6f55bd7e05cfc2b2ed6432198a6444b6d8c247fab941f5\
             69768b5c429366f1d3f00f0345b96123d56204c01c63b22ce78baf116e525ed9\
             0fdea39fa469494d3866c31e05f295ff21fea8d4e6e13d67e47ce722e9698a1c\
             1048d68ebcde76b86fcf976eab8aa9790268b7068e017a8b9b749409514f1053\
             027fd16c3786ea1bac5f15cb79711ee2abe82f5cf8b13ae73030ef5b9e4457e7\
             5d1304f988d62dd6fc4b94ed38ba831da4b7634971b6cd8ec325d9c61c00f1df\
             73627ed3745a5e8489f3a95c69639c32cd6e1d537a85f75cc844726e8a72fc00\
             77ad22000f1d5078f6b866318c668f1ad03d5a5fced5219f2eabbd0aa5c0f460\
             d183f04404a0d6f469558e81fab24a167905ab4c7878502ad3e38fdbe62a4155\
             6cec37325759533ce8f25f367c87bb5578d667ae93f9e2fd99bcbc5f2fbba88c\
             f6516139420fcff3b7361d86322c4bd84c82f335abb152c4a93411373aaa8220",
        ),
        (
            0xff_ffff_ffff,
            "64497e5a831e4a932c09be3e5393376daa599548b816031d224bbf50a818ed23\
             50eae7e96087c8a0db51ad290bd00c1ac1620857635bf246c176ab463be30b80\
             8da548081ac847b158e1264be25bb0910bbc92647108089415d45fab1b3d2604\
             e8a8eff1ae4020cfa39936b66827b23f371b92200be90251e6d73c5f86de5fd4\
             a950781933d79a28272b782a2ec313efdfcc0628f43d744c2dc2ff3dcb66999b\
             50c7ca895b0c64791eeaa5f29499fb1c026f84ce5b5c72ba1083cddb5ce45434\
             631665c333b60b11593fb253c5179a2c8db813782a004856a1653011e93fb6d8\
             76c18366dd8683f53412c0c180f9c848592d593f8609ca736317d356e13e2bff\
             3a9f59cd9aeb19cd482593d8c46128bb32423b37a9adfb482b99453fbe25a41b\
             f6feb4aa0bef5ed24bf73c762978025482c13115e4015aac992e5613a3b5c2f6\
             85b84795cb6e9b2656d8c88157e52c42f978d8634c43d06fea928f2822e465aa\
             6576e9bf419384506cc3ce3c54ac1a6f67dc66f3b30191e698380bc999b05abc\
             e19dc0c6dcc2dd001ec535ba18deb2df1a101023108318c75dc98611a09dc48a\
             0acdec676fabdf222f07e026f059b672b56e5cbc8e1d21bbd867dd9272120546\
             81d70ea737134cdfce93b6f82ae22423274e58a0821cc5502e2d0ab4585e94de\
             6975be5e0b4efce51cd3e70c25a1fbbbd609d273ad5b0d59631c531f6a0a57b9",
        ),
    ];

    #[test]
    fn ieee_1619_vectors_10_to_14() {
        let (ours, theirs) = ieee_key();
        let plain = counting(512);
        for (tweak, ct) in IEEE_1619_AES256 {
            let ct = unhex(ct).unwrap();
            assert_eq!(ct.len(), 512);
            let mut buf = plain.clone();
            ours.encrypt_sector(&mut buf, tweak);
            assert_eq!(buf, ct, "encrypt, tweak {tweak:#x}");
            ours.decrypt_sector(&mut buf, tweak);
            assert_eq!(buf, plain, "decrypt, tweak {tweak:#x}");
            ours.encrypt_unit(&mut buf, tweak);
            assert_eq!(buf, ct, "encrypt_unit, tweak {tweak:#x}");
            let mut reference = plain.clone();
            theirs.encrypt_sector(&mut reference, get_tweak_default(tweak));
            assert_eq!(reference, ct, "xts-mode, tweak {tweak:#x}");
        }
    }

    /// Ciphertext stealing under the IEEE key, tweak ff ff ff ff ff, plaintext 00 01 02 ..:
    /// ciphertexts (or their SHA-256) computed with OpenSSL 3.0's AES-256-XTS. The 33-byte
    /// one also appears in third-party XTS test suites.
    #[test]
    fn ciphertext_stealing_known_answers() {
        let (ours, _) = ieee_key();
        let tweak = 0xff_ffff_ffff;
        // The ciphertext in hex, or for the long ones the hex of its SHA-256.
        let answers: [(usize, &str); 5] = [
            (17, "e084fe17a0f4d617b2f3865c2cd78d4464"),
            (
                31,
                "69075f95e2bba648cb685e2f6a41a7c564497e5a831e4a932c09be3e539337",
            ),
            (
                33,
                "64497e5a831e4a932c09be3e5393376def5e83dd76a0ea36c1b26e4b8dc944f2aa",
            ),
            (
                527,
                "8f10f00a33404ce4547f0688f51d93978a21c0827bf2a445cc202aa6157e46b7",
            ),
            (
                4127,
                "af7b63f881c49ea1ffb32e3b22fc4c07b18fb4542dff3bdc5cb62e867a2f6b33",
            ),
        ];
        for (len, answer) in answers {
            let ct = stealing_round_trip(&ours, len, tweak);
            let shown = if len > 64 { sha256(&ct).to_vec() } else { ct };
            assert_eq!(shown, unhex(answer).unwrap(), "len {len}");
        }
    }

    /// The ciphertext of `counting(len)` as one sector under `tweak`, after checking that it
    /// decrypts back.
    fn stealing_round_trip(key: &XtsKey, len: usize, tweak: u128) -> Vec<u8> {
        let mut buf = counting(len);
        key.encrypt_sector(&mut buf, tweak);
        let ct = buf.clone();
        key.decrypt_sector(&mut buf, tweak);
        assert_eq!(buf, counting(len), "len {len}");
        ct
    }

    /// Every length 16..=600, one and several 4 KiB chunks (with and without stealing
    /// across the 256-block batch boundary): fresh key, tweak and data each time.
    #[test]
    fn matches_xts_mode_random_keys_and_lengths() {
        let mut rng = Rng(0x6b6d_7366_7874_7331);
        let lengths = (16..=600).chain([4095, 4096, 4097, 4111, 4112, 8192, 8193, 4096 * 3 + 100]);
        for len in lengths {
            let (ours, theirs) = random_pair(&mut rng);
            let data = rng.bytes(len);
            check_against_xts_mode(&ours, &theirs, &data, rng.u128());
        }
    }

    /// The fallback (this module's batched code, used where AWS-LC cannot) gives AWS-LC's
    /// bytes, both ways, at every length 16..=600 and around the 4 KiB units.
    #[test]
    fn own_code_matches_aws_lc() {
        let mut rng = Rng(0x6f77_6e21);
        let lengths = (16..=600).chain([4095, 4096, 4097, 4111, 8192, 8193, 4096 * 3 + 100]);
        for len in lengths {
            let (ours, _) = random_pair(&mut rng);
            let data = rng.bytes(len);
            let tweak = rng.u128();
            for dir in [Dir::Encrypt, Dir::Decrypt] {
                let (mut a, mut b) = (data.clone(), data.clone());
                ours.own_xts(&mut a, tweak, dir);
                assert!(ours.lc.crypt(&mut b, tweak, matches!(dir, Dir::Encrypt)));
                assert_eq!(a, b, "len {len}");
            }
        }
        // Out of AWS-LC's range: refused with the buffer untouched.
        let (ours, _) = random_pair(&mut rng);
        let mut short = [7u8; 15];
        assert!(!ours.lc.crypt(&mut short, 1, true));
        assert_eq!(short, [7u8; 15]);
    }

    /// Ciphertext stealing at every length 17..=4096+31 under one random key and tweaks
    /// with the carry bits set and clear.
    #[test]
    fn ciphertext_stealing_matches_xts_mode() {
        let mut rng = Rng(0x4354_5321);
        let (ours, theirs) = random_pair(&mut rng);
        for len in 17..=4096 + 31 {
            let data = rng.bytes(len);
            let tweak = match len % 3 {
                0 => rng.u128(),
                1 => u128::MAX,
                _ => len as u128,
            };
            check_against_xts_mode(&ours, &theirs, &data, tweak);
        }
    }

    /// Several 4 KiB units, the last of any length, against xts-mode's `encrypt_area`
    /// (whose final short unit must still be >= 16 bytes).
    #[test]
    fn units_match_xts_mode_area() {
        let mut rng = Rng(0x756e_6974);
        let (ours, theirs) = random_pair(&mut rng);
        let base = rng.u128() >> 1;
        for len in [
            16,
            4096,
            4096 + 16,
            4096 + 17,
            3 * 4096,
            3 * 4096 + 100,
            5 * 4096 - 1,
        ] {
            let data = rng.bytes(len);
            let mut a = data.clone();
            let mut b = data.clone();
            ours.encrypt_units(&mut a, 4096, |i| base + i as u128);
            theirs.encrypt_area(&mut b, 4096, base, get_tweak_default);
            assert_eq!(a, b, "encrypt, len {len}");
            ours.decrypt_units(&mut a, 4096, |i| base + i as u128);
            theirs.decrypt_area(&mut b, 4096, base, get_tweak_default);
            assert_eq!(a, data, "round trip, len {len}");
            assert_eq!(b, data, "xts-mode round trip, len {len}");
        }
        // A final unit of 1..15 bytes: XTS for the full units, the keystream for the tail.
        for tail in 1..BLOCK {
            let data = rng.bytes(2 * 4096 + tail);
            let mut a = data.clone();
            ours.encrypt_units(&mut a, 4096, |i| base + i as u128);
            let mut b = data.clone();
            theirs.encrypt_area(&mut b[..2 * 4096], 4096, base, get_tweak_default);
            ours.encrypt_short(&mut b[2 * 4096..], base + 2);
            assert_eq!(a, b, "tail {tail}");
            ours.decrypt_units(&mut a, 4096, |i| base + i as u128);
            assert_eq!(a, data, "round trip, tail {tail}");
        }
    }

    #[test]
    fn short_units_round_trip_and_keystream() {
        let mut rng = Rng(0x0073_686f_7274);
        let (k1, k2) = (rng.key(), rng.key());
        let (ours, _) = pair(k1, k2);
        let (aes1, aes2) = (Aes256::new(&k1.into()), Aes256::new(&k2.into()));
        for len in 1..BLOCK {
            let tweak = rng.u128();
            let data = rng.bytes(len);
            let mut buf = data.clone();
            ours.encrypt_unit(&mut buf, tweak);
            // Independent recomputation of AES_K1(AES_K2(tweak) ^ 0x80 in byte 15).
            let mut ks = Block::from(tweak.to_le_bytes());
            aes2.encrypt_block(&mut ks);
            ks[15] ^= 0x80;
            aes1.encrypt_block(&mut ks);
            let expect: Vec<u8> = data.iter().zip(ks.iter()).map(|(d, k)| d ^ k).collect();
            assert_eq!(buf, expect, "len {len}");
            ours.decrypt_unit(&mut buf, tweak);
            assert_eq!(buf, data, "round trip, len {len}");
            ours.encrypt_short(&mut buf, tweak);
            ours.decrypt_short(&mut buf, tweak);
            assert_eq!(buf, data, "short round trip, len {len}");
        }
        // Different tweaks (also ones differing in a single bit) give different keystreams.
        let keystream = |tweak: u128| {
            let mut z = [0u8; 15];
            ours.encrypt_short(&mut z, tweak);
            z
        };
        let tweaks: std::collections::BTreeSet<u128> = (0..64)
            .chain((0..128).map(|b| 1u128 << b))
            .chain([u128::MAX])
            .collect();
        let mut seen = std::collections::HashSet::new();
        for tweak in tweaks {
            assert!(
                seen.insert(keystream(tweak)),
                "tweak {tweak:#x} repeats a keystream"
            );
        }
        assert_eq!(keystream(42), keystream(42));
    }

    #[test]
    fn unit_dispatch() {
        let mut rng = Rng(0x6469_7370);
        let (ours, _) = random_pair(&mut rng);
        let mut empty: [u8; 0] = [];
        ours.encrypt_unit(&mut empty, 1);
        ours.decrypt_unit(&mut empty, 1);
        for len in [1, 15, 16, 17, 4096] {
            let data = rng.bytes(len);
            let (mut a, mut b) = (data.clone(), data.clone());
            ours.encrypt_unit(&mut a, 9);
            if len < BLOCK {
                ours.encrypt_short(&mut b, 9);
            } else {
                ours.encrypt_sector(&mut b, 9);
            }
            assert_eq!(a, b, "len {len}");
            assert_ne!(a, data, "len {len}");
        }
    }

    #[test]
    #[should_panic(expected = "at least 16 bytes")]
    fn sector_rejects_short_units() {
        let (ours, _) = random_pair(&mut Rng(1));
        ours.encrypt_sector(&mut [0u8; 15], 0);
    }

    #[test]
    #[should_panic(expected = "use XTS")]
    fn short_rejects_full_blocks() {
        let (ours, _) = random_pair(&mut Rng(2));
        ours.encrypt_short(&mut [0u8; 16], 0);
    }

    #[test]
    #[should_panic(expected = "must differ")]
    fn equal_halves_rejected() {
        let k = SecretKey::from_bytes([7; 32]);
        let _ = XtsKey::new(&k, &k);
    }

    #[test]
    fn debug_is_redacted() {
        let (ours, _) = pair([0xAB; 32], [0xCD; 32]);
        assert_eq!(format!("{ours:?}"), "XtsKey(<redacted>)");
    }

    /// `cargo test --release --lib xts_speed -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn xts_speed() {
        use std::time::Instant;
        const UNIT: usize = 4096;
        const BUF: usize = 4 << 20;
        const TOTAL: usize = 256 << 20;
        let mut rng = Rng(0x0073_7065_6564);
        let (ours, theirs) = random_pair(&mut rng);
        let mut buf = rng.bytes(BUF);
        let mbps = |secs: f64| TOTAL as f64 / secs / 1e6;
        let mut run = |name: &str, f: &mut dyn FnMut(&mut [u8], u128)| {
            f(&mut buf, 0); // warm up
            let start = Instant::now();
            for pass in 0..TOTAL / BUF {
                f(&mut buf, (pass * (BUF / UNIT)) as u128);
            }
            let secs = start.elapsed().as_secs_f64();
            println!("{name:32} {:8.0} MB/s", mbps(secs));
        };
        println!(
            "AES-256-XTS, {} MiB in {UNIT}-byte units (aes hardware acceleration: {})",
            TOTAL >> 20,
            aes::hardware_accelerated()
        );
        run("raw AES-256 blocks (ceiling)", &mut |b, _| {
            for unit in b.chunks_mut(UNIT) {
                ours.data.encrypt_blocks(Block::slice_as_chunks_mut(unit).0);
            }
        });
        run("encrypt_units (AWS-LC)", &mut |b, first| {
            ours.encrypt_units(b, UNIT, |i| first + i as u128)
        });
        run("own batched encrypt", &mut |b, first| {
            for (i, unit) in b.chunks_mut(UNIT).enumerate() {
                ours.own_xts(unit, first + i as u128, Dir::Encrypt);
            }
        });
        run("decrypt_units (AWS-LC)", &mut |b, first| {
            ours.decrypt_units(b, UNIT, |i| first + i as u128)
        });
        run("xts-mode encrypt_area", &mut |b, first| {
            theirs.encrypt_area(b, UNIT, first, get_tweak_default)
        });
        run("xts-mode decrypt_area", &mut |b, first| {
            theirs.decrypt_area(b, UNIT, first, get_tweak_default)
        });
        run("encrypt (4096+15 units, AWS-LC)", &mut |b, first| {
            ours.encrypt_units(b, UNIT + 15, |i| first + i as u128)
        });
        run("xts-mode encrypt (4096+15 units)", &mut |b, first| {
            theirs.encrypt_area(b, UNIT + 15, first, get_tweak_default)
        });
    }
}
