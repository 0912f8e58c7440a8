//! S2 compression of sealed blocks (`compression: s2`), laid out as
//! nats-server lays them: a header `c m p <algorithm:u8>
//! <original length:uvarint>` (algorithm 1 is S2), then the block's bytes
//! but its last 8 compressed as a Snappy/S2 frame stream, then those last 8
//! bytes (the last record's checksum) as they are. A block is compressed
//! when it is sealed (a new block takes over); the block being written
//! never is. With encryption, the compressed file is what is encrypted.
//!
//! The codec is the `minlz` crate's S2 stream format, the one nats-server
//! writes (klauspost/compress's `s2.NewWriter`): each server reads the
//! other's compressed blocks, and the sizes are the same. Its reader also
//! takes Snappy frame streams. What it writes is decompressed again and
//! compared before it is used ([`compress`] gives None otherwise), so an
//! encoder fault can cost compression, never data.

use std::io::{Read, Write};

const MAGIC: &[u8; 3] = b"cmp";
const S2: u8 = 1;
const CHECKSUM: usize = 8;
/// The most a block holds: the largest block and one largest record.
const MAX_PLAIN: u64 = super::DEFAULT_BLOCK_SIZE + super::block::MAX_RECORD as u64;

/// Whether `buf` starts with a compression header naming S2.
pub fn is_compressed(buf: &[u8]) -> bool {
    buf.len() > 4 && &buf[..3] == MAGIC && buf[3] == S2
}

/// `plain` compressed as a block file's content; None when the result does
/// not decompress back to `plain`.
pub fn compress(plain: &[u8]) -> Option<Vec<u8>> {
    let body_len = plain.len().saturating_sub(CHECKSUM);
    let mut out = Vec::with_capacity(plain.len() / 2 + 32);
    out.extend_from_slice(MAGIC);
    out.push(S2);
    let mut n = plain.len() as u64;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    let mut enc = minlz::Writer::new(out);
    // Writing to a Vec fails only if the codec does; then no compression.
    enc.write_all(&plain[..body_len]).ok()?;
    enc.flush().ok()?;
    let mut out = std::mem::take(enc.get_mut());
    out.extend_from_slice(&plain[body_len..]);
    (decompress(&out).ok()? == plain).then_some(out)
}

/// The plain content of a compressed block file's content `buf`.
pub fn decompress(buf: &[u8]) -> Result<Vec<u8>, String> {
    if !is_compressed(buf) {
        return Err("not a compressed block".into());
    }
    let mut at = 4;
    let mut size = 0u64;
    let mut shift = 0;
    loop {
        let b = *buf.get(at).ok_or("compression metadata incomplete")?;
        at += 1;
        if shift > 63 {
            return Err("compression metadata incomplete".into());
        }
        size |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let rest = &buf[at..];
    if rest.len() < CHECKSUM {
        return Err("compressed buffer is too short".into());
    }
    let (body, sum) = rest.split_at(rest.len() - CHECKSUM);
    // No block is larger than a full block plus its largest record: the
    // header's size, so checked, bounds what is read and allocated.
    if size > MAX_PLAIN {
        return Err(format!("compressed block claims {size} bytes"));
    }
    let mut out = Vec::with_capacity(size as usize);
    minlz::Reader::new(body)
        .take(size - (CHECKSUM as u64).min(size) + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("error reading compression reader: {e}"))?;
    out.extend_from_slice(sum);
    if out.len() as u64 != size {
        return Err(format!(
            "decompressed {} bytes, the header says {size}",
            out.len()
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_damage() {
        let plain: Vec<u8> = (0..10_000u32)
            .flat_map(|i| (i % 97).to_le_bytes())
            .collect();
        let c = compress(&plain).unwrap();
        assert!(is_compressed(&c));
        assert!(c.len() < plain.len() / 4, "{} vs {}", c.len(), plain.len());
        assert_eq!(&c[c.len() - 8..], &plain[plain.len() - 8..]);
        assert_eq!(decompress(&c).unwrap(), plain);
        for cut in [5, c.len() / 2, c.len() - 9] {
            assert!(decompress(&c[..cut]).is_err(), "cut at {cut}");
        }
        let mut bad = c.clone();
        bad[c.len() / 2] ^= 1;
        assert!(decompress(&bad).is_err());
        assert!(!is_compressed(&plain));
    }
}
