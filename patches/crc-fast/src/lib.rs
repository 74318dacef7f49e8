//! A stand-in for `crc-fast` 1.10 with only what the AWS SDK uses of it: the
//! CRC32, CRC32C and CRC64/NVME checksums of `aws-smithy-checksums`
//! (`Digest::new`, `update`, `finalize`, and `checksum`).
//!
//! Why it exists: crc-fast's software fallback picks one of its 50 lookup
//! tables with a `match` on the algorithm at run time, so the linker keeps all
//! of them: 664 KB of the function's binary and 588 KB of its 3.1 MB
//! `bootstrap.zip` (tables are noise to deflate), for a fallback that no
//! Lambda CPU takes. The upstream request to link only the tables used is
//! awesomized/crc-fast-rust#61; remove this patch (the `[patch]` section of
//! the project's Cargo.toml and this folder) once a release offers that.
//!
//! How it computes: CRC32 is crc32fast's (SIMD, already in the tree; the SDK
//! sends it with each write). CRC32C and CRC64/NVME are reflected CRCs
//! computed eight bytes at a time with tables built at compile time (16 KiB
//! each): 1.7 GB/s at the release profile's opt-level "z" (crc32fast's CRC32:
//! 16.6 GB/s). The SDK checks them on whole objects S3 returns with one (a
//! lock file read, say); this project's large transfers, layerctl's parts,
//! carry SHA-256.

/// The checksums this stand-in computes: the ones `aws-smithy-checksums`
/// names. Any other use of crc-fast in the tree fails to compile here
/// rather than computing something else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrcAlgorithm {
    /// CRC-32/ISO-HDLC: S3's `CRC32`.
    Crc32IsoHdlc,
    /// CRC-32/ISCSI (Castagnoli): S3's `CRC32C`.
    Crc32Iscsi,
    /// CRC-64/NVME: S3's `CRC64NVME`.
    Crc64Nvme,
}

/// A running checksum: feed it with `update`, read it with `finalize`
/// (which leaves it usable, as crc-fast's does).
#[derive(Debug, Clone)]
pub struct Digest {
    state: State,
}

#[derive(Debug, Clone)]
enum State {
    Crc32(crc32fast::Hasher),
    Reflected { crc: u64, table: &'static SliceBy8 },
}

impl Digest {
    pub fn new(algorithm: CrcAlgorithm) -> Self {
        let state = match algorithm {
            CrcAlgorithm::Crc32IsoHdlc => State::Crc32(crc32fast::Hasher::new()),
            CrcAlgorithm::Crc32Iscsi => State::Reflected {
                crc: CRC32C.init,
                table: &CRC32C,
            },
            CrcAlgorithm::Crc64Nvme => State::Reflected {
                crc: CRC64_NVME.init,
                table: &CRC64_NVME,
            },
        };
        Self { state }
    }

    pub fn update(&mut self, data: &[u8]) {
        match &mut self.state {
            State::Crc32(hasher) => hasher.update(data),
            State::Reflected { crc, table } => *crc = table.update(*crc, data),
        }
    }

    pub fn finalize(&self) -> u64 {
        match &self.state {
            State::Crc32(hasher) => u64::from(hasher.clone().finalize()),
            State::Reflected { crc, table } => crc ^ table.xorout,
        }
    }
}

/// The checksum of `data` in one call.
pub fn checksum(algorithm: CrcAlgorithm, data: &[u8]) -> u64 {
    let mut digest = Digest::new(algorithm);
    digest.update(data);
    digest.finalize()
}

/// A reflected CRC of up to 64 bits (its register in the low bits of a u64),
/// with the eight tables of the slice-by-8 method: `tables[k][b]` is the
/// register's change for byte `b` followed by `k` zero bytes.
struct SliceBy8 {
    init: u64,
    xorout: u64,
    tables: [[u64; 256]; 8],
}

impl std::fmt::Debug for SliceBy8 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SliceBy8").finish_non_exhaustive()
    }
}

/// CRC-32/ISCSI: reflected polynomial 0x82F63B78.
static CRC32C: SliceBy8 = SliceBy8::new(0x82F6_3B78, 0xFFFF_FFFF);
/// CRC-64/NVME: reflected polynomial 0x9A6C9329AC4BC9B5.
static CRC64_NVME: SliceBy8 = SliceBy8::new(0x9A6C_9329_AC4B_C9B5, u64::MAX);

impl SliceBy8 {
    /// The tables of the reflected CRC with polynomial `poly` (bit-reversed)
    /// whose register starts at, and is finally XORed with, `all_ones`.
    const fn new(poly: u64, all_ones: u64) -> Self {
        let mut tables = [[0u64; 256]; 8];
        let mut byte = 0;
        while byte < 256 {
            let mut crc = byte as u64;
            let mut bit = 0;
            while bit < 8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ poly
                } else {
                    crc >> 1
                };
                bit += 1;
            }
            tables[0][byte] = crc;
            byte += 1;
        }
        let mut k = 1;
        while k < 8 {
            let mut byte = 0;
            while byte < 256 {
                let previous = tables[k - 1][byte];
                tables[k][byte] = (previous >> 8) ^ tables[0][(previous & 0xFF) as usize];
                byte += 1;
            }
            k += 1;
        }
        Self {
            init: all_ones,
            xorout: all_ones,
            tables,
        }
    }

    fn update(&self, mut crc: u64, data: &[u8]) -> u64 {
        let t = &self.tables;
        let mut words = data.chunks_exact(8);
        for word in &mut words {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(word);
            // The register (at most 8 bytes, low bits first) meets the next
            // eight bytes; each byte then travels through the rest.
            let x = crc ^ u64::from_le_bytes(bytes);
            crc = t[7][(x & 0xFF) as usize]
                ^ t[6][((x >> 8) & 0xFF) as usize]
                ^ t[5][((x >> 16) & 0xFF) as usize]
                ^ t[4][((x >> 24) & 0xFF) as usize]
                ^ t[3][((x >> 32) & 0xFF) as usize]
                ^ t[2][((x >> 40) & 0xFF) as usize]
                ^ t[1][((x >> 48) & 0xFF) as usize]
                ^ t[0][(x >> 56) as usize];
        }
        for &byte in words.remainder() {
            crc = (crc >> 8) ^ t[0][((crc ^ u64::from(byte)) & 0xFF) as usize];
        }
        crc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CRC catalogue's check values: the checksum of "123456789".
    #[test]
    fn each_checksum_gives_its_catalogue_check_value() {
        assert_eq!(
            checksum(CrcAlgorithm::Crc32IsoHdlc, b"123456789"),
            0xCBF4_3926
        );
        assert_eq!(
            checksum(CrcAlgorithm::Crc32Iscsi, b"123456789"),
            0xE306_9283
        );
        assert_eq!(
            checksum(CrcAlgorithm::Crc64Nvme, b"123456789"),
            0xAE8B_1486_0A79_9888
        );
    }

    /// The bit-at-a-time definition, against which the tables are checked.
    fn bitwise(poly: u64, all_ones: u64, data: &[u8]) -> u64 {
        let mut crc = all_ones;
        for &byte in data {
            crc ^= u64::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ poly
                } else {
                    crc >> 1
                };
            }
        }
        crc ^ all_ones
    }

    /// Bytes from a fixed xorshift, so that a failure repeats.
    fn noise(len: usize, mut seed: u64) -> Vec<u8> {
        (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect()
    }

    #[test]
    fn eight_bytes_at_a_time_agrees_with_the_definition_at_every_length() {
        for len in 0..80 {
            let data = noise(len, 0x9E37_79B9_7F4A_7C15 ^ len as u64);
            assert_eq!(
                checksum(CrcAlgorithm::Crc32Iscsi, &data),
                bitwise(0x82F6_3B78, 0xFFFF_FFFF, &data),
                "CRC32C of {len} bytes"
            );
            assert_eq!(
                checksum(CrcAlgorithm::Crc64Nvme, &data),
                bitwise(0x9A6C_9329_AC4B_C9B5, u64::MAX, &data),
                "CRC64/NVME of {len} bytes"
            );
        }
    }

    #[test]
    fn a_checksum_fed_in_pieces_equals_the_checksum_of_the_whole() {
        let data = noise(1000, 7);
        for algorithm in [
            CrcAlgorithm::Crc32IsoHdlc,
            CrcAlgorithm::Crc32Iscsi,
            CrcAlgorithm::Crc64Nvme,
        ] {
            let mut digest = Digest::new(algorithm);
            for piece in data.chunks(13) {
                digest.update(piece);
            }
            assert_eq!(
                digest.finalize(),
                checksum(algorithm, &data),
                "{algorithm:?}"
            );
            // finalize leaves the digest usable, as crc-fast's does.
            digest.update(b"more");
            assert_ne!(
                digest.finalize(),
                checksum(algorithm, &data),
                "{algorithm:?}"
            );
        }
    }
}
