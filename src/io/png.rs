//! A small PNG encoder (8-bit grey or RGB, one zlib stream): the plots and TensorBoard's images
//! need nothing more, and `flate2` is already a dependency, so neither needs the `image` crate.

use std::io::Write;

/// An 8-bit PNG of `pixels` (`width x height`, `channels` 1 for grey or 3 for RGB, interleaved): signature, IHDR, one IDAT of zlib
/// scanlines (filter 0), IEND, each chunk with its CRC-32.
pub(crate) fn encode_png(pixels: &[u8], width: usize, height: usize, channels: usize) -> Vec<u8> {
    debug_assert!(channels == 1 || channels == 3);
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&crc.sum().to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&(width as u32).to_be_bytes());
    ihdr.extend_from_slice(&(height as u32).to_be_bytes());
    // 8 bits, grey (0) or RGB (2), deflate, no filter choice, no interlace
    let colour = if channels == 1 { 0 } else { 2 };
    ihdr.extend_from_slice(&[8, colour, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    let mut raw = Vec::with_capacity(height * (width * channels + 1));
    for row in pixels.chunks_exact(width * channels).take(height) {
        raw.push(0);
        raw.extend_from_slice(row);
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&raw).expect("writing to a Vec cannot fail");
    chunk(
        &mut out,
        b"IDAT",
        &z.finish().expect("writing to a Vec cannot fail"),
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_round_trips_through_its_own_structure() {
        let rgb: Vec<u8> = (0..4 * 3 * 3).map(|i| i as u8).collect();
        let png = encode_png(&rgb, 4, 3, 3);
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 4);
        assert_eq!(u32::from_be_bytes(png[20..24].try_into().unwrap()), 3);
        // the IHDR CRC as zlib's crc32 computes it
        let mut crc = flate2::Crc::new();
        crc.update(&png[12..29]);
        assert_eq!(png[29..33], crc.sum().to_be_bytes());
        // the IDAT inflates to the filtered scanlines
        let len = u32::from_be_bytes(png[33..37].try_into().unwrap()) as usize;
        assert_eq!(&png[37..41], b"IDAT");
        let mut raw = vec![];
        use std::io::Read;
        flate2::read::ZlibDecoder::new(&png[41..41 + len])
            .read_to_end(&mut raw)
            .unwrap();
        assert_eq!(raw.len(), 3 * 13);
        assert_eq!(&raw[1..13], &rgb[..12]);
        assert!(png.ends_with(b"IEND\xae\x42\x60\x82"));
    }

    #[test]
    fn grey_images_say_so_in_their_header() {
        let png = encode_png(&[0, 128, 255, 7], 2, 2, 1);
        assert_eq!(png[25], 0);
        let len = u32::from_be_bytes(png[33..37].try_into().unwrap()) as usize;
        let mut raw = vec![];
        use std::io::Read;
        flate2::read::ZlibDecoder::new(&png[41..41 + len])
            .read_to_end(&mut raw)
            .unwrap();
        assert_eq!(raw, [0, 0, 128, 0, 255, 7]);
    }
}
