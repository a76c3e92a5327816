//! Hashing: the SHA-256 veil fingerprints texts with ([`checksum`]), a
//! fast hash for the compiler's own tables (names, tags, source ids), and
//! PostgreSQL's own text hash ([`postgres_text_hash`]), which the side-table
//! digests use there.
//! Those keys come from the project being compiled, not from an adversary,
//! so the standard library's DoS-resistant SipHash buys nothing there and
//! costs a third of the checker's time on large projects.

use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` with [`FxHasher`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;
/// A `HashSet` with [`FxHasher`].
pub type FastSet<T> = HashSet<T, BuildHasherDefault<FxHasher>>;

/// The multiply-rotate hash of the Firefox and Rust compilers: eight bytes
/// a step.
#[derive(Debug, Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

/// The hex SHA-256 of a text.
pub fn checksum(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_find_what_they_hold() {
        let mut map: FastMap<String, usize> = FastMap::default();
        let keys: Vec<String> = (0..10_000)
            .map(|i| format!("dom_{}.table_{i}", i % 7))
            .collect();
        for (i, k) in keys.iter().enumerate() {
            map.insert(k.clone(), i);
        }
        assert_eq!(map.len(), keys.len());
        assert!(keys.iter().enumerate().all(|(i, k)| map.get(k) == Some(&i)));
        // Keys that differ only past eight bytes, or in length, differ.
        let set: FastSet<&str> = ["abcdefgh1", "abcdefgh2", "abcdefgh", "abcdefgh\0"]
            .into_iter()
            .collect();
        assert_eq!(set.len(), 4);
    }
}

/// How a side-table digest hashes each row, as the dialect's digest query
/// does (`emit::reads::side_totals`) and `catalog::RowDigest` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowHash {
    /// The two 48-bit slices of the row's SHA-256 (Redshift).
    Sha256,
    /// PostgreSQL's `hashtextextended` of the row's text as `encode(…,
    /// 'escape')` writes its UTF-8 bytes, under seeds 0 and 1. Far cheaper
    /// for the server than SHA-256, which sets up a context for every
    /// call (about 2 µs): 180,000 rows in 0.11 s against 0.47–0.64 s.
    PostgresText,
}

/// PostgreSQL's `hashtextextended(text, seed)` of text whose bytes are
/// `bytes` (`hash_bytes_extended` in its `src/common/hashfn.c`: Bob
/// Jenkins' lookup3, as little-endian servers compute it). It is a fast
/// hash, not a cryptographic one: the side-table digests use it to notice
/// hand edits, which only the deploying account can make.
pub fn postgres_text_hash(bytes: &[u8], seed: u64) -> i64 {
    fn mix(a: &mut u32, b: &mut u32, c: &mut u32) {
        *a = a.wrapping_sub(*c) ^ c.rotate_left(4);
        *c = c.wrapping_add(*b);
        *b = b.wrapping_sub(*a) ^ a.rotate_left(6);
        *a = a.wrapping_add(*c);
        *c = c.wrapping_sub(*b) ^ b.rotate_left(8);
        *b = b.wrapping_add(*a);
        *a = a.wrapping_sub(*c) ^ c.rotate_left(16);
        *c = c.wrapping_add(*b);
        *b = b.wrapping_sub(*a) ^ a.rotate_left(19);
        *a = a.wrapping_add(*c);
        *c = c.wrapping_sub(*b) ^ b.rotate_left(4);
        *b = b.wrapping_add(*a);
    }
    fn last(a: &mut u32, b: &mut u32, c: &mut u32) {
        *c = (*c ^ *b).wrapping_sub(b.rotate_left(14));
        *a = (*a ^ *c).wrapping_sub(c.rotate_left(11));
        *b = (*b ^ *a).wrapping_sub(a.rotate_left(25));
        *c = (*c ^ *b).wrapping_sub(b.rotate_left(16));
        *a = (*a ^ *c).wrapping_sub(c.rotate_left(4));
        *b = (*b ^ *a).wrapping_sub(a.rotate_left(14));
        *c = (*c ^ *b).wrapping_sub(b.rotate_left(24));
    }
    // The length is taken as PostgreSQL's 32-bit `int` (a text is at most 1 GB).
    let start = 0x9e37_79b9_u32
        .wrapping_add(bytes.len() as u32)
        .wrapping_add(3_923_095);
    let (mut a, mut b, mut c) = (start, start, start);
    if seed != 0 {
        a = a.wrapping_add((seed >> 32) as u32);
        b = b.wrapping_add(seed as u32);
        mix(&mut a, &mut b, &mut c);
    }
    let mut blocks = bytes.chunks_exact(12);
    let word = |w: &[u8]| {
        w.iter()
            .rev()
            .fold(0u32, |acc, &x| (acc << 8) | u32::from(x))
    };
    for block in &mut blocks {
        a = a.wrapping_add(word(&block[0..4]));
        b = b.wrapping_add(word(&block[4..8]));
        c = c.wrapping_add(word(&block[8..12]));
        mix(&mut a, &mut b, &mut c);
    }
    // The last 11 bytes or fewer; the lowest byte of `c` is left to the
    // length, so its bytes go in one byte up.
    let tail = blocks.remainder();
    for (i, &x) in tail.iter().enumerate() {
        let x = u32::from(x);
        match i {
            0..=3 => a = a.wrapping_add(x << (8 * i)),
            4..=7 => b = b.wrapping_add(x << (8 * (i - 4))),
            _ => c = c.wrapping_add(x << (8 * (i - 7))),
        }
    }
    last(&mut a, &mut b, &mut c);
    ((u64::from(b) << 32) | u64::from(c)) as i64
}

/// The text PostgreSQL's `encode(bytes, 'escape')` makes of some bytes:
/// a backslash doubled, a zero byte or one with the high bit set as a
/// backslash and three octal digits, every other byte as it is. Its result is ASCII,
/// the same bytes in every server encoding.
pub fn postgres_escape(bytes: &[u8], out: &mut Vec<u8>) {
    for &b in bytes {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            0 | 0x80.. => out.extend_from_slice(format!("\\{b:03o}").as_bytes()),
            _ => out.push(b),
        }
    }
}

#[cfg(test)]
mod postgres_tests {
    use super::{postgres_escape, postgres_text_hash};

    /// `hashtextextended` of every prefix of an alphabet (every length of
    /// the last block), under seeds 0 and 1, as PostgreSQL 15 computed them.
    #[test]
    fn the_text_hash_is_postgresql_s() {
        let alphabet = b"abcdefghijklmnopqrstuvwxyz";
        let known: [(i64, i64); 27] = [
            (-6939563903564495251, -150071773020461347),
            (3591986179850072241, 3325245193489759299),
            (2833316173711343549, 6831083245906393158),
            (-6747756470228489321, 2125675926272891485),
            (-1038429303365892052, -9042268383291675265),
            (3076356108696143428, 3336351395796527909),
            (290958262752763840, -7708154518206703230),
            (-6158032784613548338, 8893296306369806751),
            (-8882191227074733005, -996835456672934620),
            (-3278210106038014113, 5773402991589158274),
            (-3183301415634409076, 3861069368272743232),
            (3112909444737856467, 8196382510784792041),
            (-7556637188122330412, -6429754808531195817),
            (8871624171452417744, 3808842878744369845),
            (4973135103275945525, -5803621093042304102),
            (9043359162837317271, 8832998013640486416),
            (878954068520307163, 703898403846518408),
            (981995727863167554, 5745342997094660364),
            (484589330715449564, -8483450521730918564),
            (-232611774418841497, -5352055475504206210),
            (772495730612720881, 7175789958500889000),
            (7996419909667933074, 7909351786236951067),
            (5065299895581918398, -2120185363977180431),
            (-1198571854151947912, 5175166317898960337),
            (-1933194731779935345, -731882798451170301),
            (5649064133428767341, 5694819572527276190),
            (-6612928417832572997, 1507071677509843718),
        ];
        for (n, (zero, one)) in known.into_iter().enumerate() {
            let text = &alphabet[..n];
            assert_eq!(postgres_text_hash(text, 0), zero, "seed 0, length {n}");
            assert_eq!(postgres_text_hash(text, 1), one, "seed 1, length {n}");
        }
    }

    /// `hashtextextended(encode(convert_to('5:alicé\\x', 'UTF8'), 'escape'), 0)`.
    #[test]
    fn escaped_text_hashes_as_postgresql_s() {
        let mut escaped = Vec::new();
        postgres_escape("5:alicé\\x".as_bytes(), &mut escaped);
        assert_eq!(escaped, b"5:alic\\303\\251\\\\x");
        assert_eq!(postgres_text_hash(&escaped, 0), 3992046724092373706);
    }
}
