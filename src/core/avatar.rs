//! Group avatars: the picture a client shows for the group contact
//! (vCard-based avatars, XEP-0153). A group shows the image named in its
//! config, or one drawn here from its title: the title's initials in white
//! on a colour derived from the title (the hue as XEP-0392 derives it), or
//! a symmetric pattern when the title starts with no Latin letter or
//! digit. Pure: the same title always gives the same bytes, so the hash in
//! presence stays stable across restarts and clients keep their cache.

use sha1::{Digest, Sha1};

/// Side of a drawn avatar, in pixels (XEP-0153 suggests 32–96).
const SIDE: usize = 96;

/// Configured images larger than this are refused: the vCard travels in
/// one IQ, and servers cap stanza sizes (Prosody's default for c2s is
/// 256 KiB; base64 adds a third).
pub const MAX_IMAGE_BYTES: usize = 96 * 1024;

/// An image and what presence advertises of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Avatar {
    /// MIME type for the vCard's `TYPE`.
    pub mime: &'static str,
    pub data: Vec<u8>,
    /// Lowercase hex SHA-1 of `data` (XEP-0153 `<photo/>`).
    pub hash: String,
}

impl Avatar {
    /// An image given as bytes (from `[[group]] avatar`), if it is a PNG,
    /// JPEG, GIF or WebP of at most [`MAX_IMAGE_BYTES`].
    pub fn from_image(data: Vec<u8>) -> Result<Avatar, String> {
        if data.len() > MAX_IMAGE_BYTES {
            return Err(format!(
                "the image has {} bytes; at most {} fit in a vCard",
                data.len(),
                MAX_IMAGE_BYTES
            ));
        }
        let mime = image_type(&data).ok_or("not a PNG, JPEG, GIF or WebP image")?;
        Ok(Avatar::new(mime, data))
    }

    /// The avatar drawn from a group's title.
    pub fn drawn(title: &str) -> Avatar {
        Avatar::new("image/png", draw(title))
    }

    fn new(mime: &'static str, data: Vec<u8>) -> Avatar {
        let hash = hex::encode(Sha1::digest(&data));
        Avatar { mime, data, hash }
    }
}

/// The image type from its first bytes.
fn image_type(data: &[u8]) -> Option<&'static str> {
    if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if data.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if data.len() >= 12 && &data[..4] == b"RIFF" && &data[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// Up to two initials: the first Latin letter or digit of the first two
/// words, uppercased. Empty when the title starts with anything else.
fn initials(title: &str) -> Vec<char> {
    let mut words = title.split(|c: char| c.is_whitespace() || c == '-' || c == '_');
    let mut out = Vec::new();
    for w in words.by_ref().filter(|w| !w.is_empty()).take(2) {
        match w.chars().next() {
            Some(c) if c.is_ascii_alphanumeric() => out.push(c.to_ascii_uppercase()),
            _ if out.is_empty() => return Vec::new(),
            _ => break,
        }
    }
    out
}

/// 5×7 glyphs, one row per byte, the low five bits left to right.
fn glyph(c: char) -> Option<[u8; 7]> {
    const ROWS: [[u8; 7]; 36] = [
        [14, 17, 17, 31, 17, 17, 17], // A
        [30, 17, 17, 30, 17, 17, 30], // B
        [14, 17, 16, 16, 16, 17, 14], // C
        [28, 18, 17, 17, 17, 18, 28], // D
        [31, 16, 16, 30, 16, 16, 31], // E
        [31, 16, 16, 30, 16, 16, 16], // F
        [14, 17, 16, 23, 17, 17, 15], // G
        [17, 17, 17, 31, 17, 17, 17], // H
        [14, 4, 4, 4, 4, 4, 14],      // I
        [7, 2, 2, 2, 2, 18, 12],      // J
        [17, 18, 20, 24, 20, 18, 17], // K
        [16, 16, 16, 16, 16, 16, 31], // L
        [17, 27, 21, 21, 17, 17, 17], // M
        [17, 17, 25, 21, 19, 17, 17], // N
        [14, 17, 17, 17, 17, 17, 14], // O
        [30, 17, 17, 30, 16, 16, 16], // P
        [14, 17, 17, 17, 21, 18, 13], // Q
        [30, 17, 17, 30, 20, 18, 17], // R
        [15, 16, 16, 14, 1, 1, 30],   // S
        [31, 4, 4, 4, 4, 4, 4],       // T
        [17, 17, 17, 17, 17, 17, 14], // U
        [17, 17, 17, 17, 17, 10, 4],  // V
        [17, 17, 17, 21, 21, 21, 10], // W
        [17, 17, 10, 4, 10, 17, 17],  // X
        [17, 17, 17, 10, 4, 4, 4],    // Y
        [31, 1, 2, 4, 8, 16, 31],     // Z
        [14, 17, 19, 21, 25, 17, 14], // 0
        [4, 12, 4, 4, 4, 4, 14],      // 1
        [14, 17, 1, 2, 4, 8, 31],     // 2
        [31, 2, 4, 2, 1, 17, 14],     // 3
        [2, 6, 10, 18, 31, 2, 2],     // 4
        [31, 16, 30, 1, 1, 17, 14],   // 5
        [6, 8, 16, 30, 17, 17, 14],   // 6
        [31, 1, 2, 4, 8, 8, 8],       // 7
        [14, 17, 17, 14, 17, 17, 14], // 8
        [14, 17, 17, 15, 1, 2, 12],   // 9
    ];
    let i = match c {
        'A'..='Z' => c as usize - 'A' as usize,
        '0'..='9' => 26 + c as usize - '0' as usize,
        _ => return None,
    };
    Some(ROWS[i])
}

/// RGB from hue (degrees), saturation and lightness (0–1).
fn hsl(h: f64, s: f64, l: f64) -> [u8; 3] {
    let c = (1.0 - (2.0 * l - 1.0).abs()) * s;
    let hp = h / 60.0;
    let x = c * (1.0 - (hp % 2.0 - 1.0).abs());
    let (r, g, b) = match hp as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = l - c / 2.0;
    [r, g, b].map(|v| ((v + m) * 255.0).round().clamp(0.0, 255.0) as u8)
}

/// Draws the avatar for `title` and encodes it as PNG.
fn draw(title: &str) -> Vec<u8> {
    let digest = Sha1::digest(title.as_bytes());
    // XEP-0392: the hue angle is the first two bytes of the SHA-1 of the
    // input, little-endian, scaled to 360°.
    let hue = f64::from(u16::from_le_bytes([digest[0], digest[1]])) / 65536.0 * 360.0;
    let bg = hsl(hue, 0.55, 0.42);
    let fg = [255u8, 255, 255];
    // One bit per pixel: true = foreground.
    let mut ink = vec![false; SIDE * SIDE];
    let chars = initials(title);
    if chars.is_empty() {
        // A 5×5 pattern, mirrored left to right, from the digest.
        let cell = SIDE / 6;
        let margin = (SIDE - cell * 5) / 2;
        for row in 0..5 {
            for col in 0..3 {
                let bit = digest[2 + row] >> col & 1 == 1;
                for c in [col, 4 - col] {
                    if bit {
                        fill(&mut ink, margin + c * cell, margin + row * cell, cell, cell);
                    }
                }
            }
        }
    } else {
        let scale = if chars.len() == 1 { 9 } else { 7 };
        let gap = scale;
        let width = chars.len() * 5 * scale + (chars.len() - 1) * gap;
        let (x0, y0) = ((SIDE - width) / 2, (SIDE - 7 * scale) / 2);
        for (i, c) in chars.iter().enumerate() {
            let Some(rows) = glyph(*c) else { continue };
            let gx = x0 + i * (5 * scale + gap);
            for (r, bits) in rows.iter().enumerate() {
                for col in 0..5 {
                    if bits >> (4 - col) & 1 == 1 {
                        fill(&mut ink, gx + col * scale, y0 + r * scale, scale, scale);
                    }
                }
            }
        }
    }
    let mut pixels = Vec::with_capacity(SIDE * SIDE * 3);
    for on in ink {
        pixels.extend_from_slice(if on { &fg } else { &bg });
    }
    encode_png(&pixels)
}

fn fill(ink: &mut [bool], x: usize, y: usize, w: usize, h: usize) {
    for yy in y..(y + h).min(SIDE) {
        for xx in x..(x + w).min(SIDE) {
            ink[yy * SIDE + xx] = true;
        }
    }
}

fn encode_png(rgb: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, SIDE as u32, SIDE as u32);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    // Writing to a Vec with dimensions that match the data cannot fail;
    // should the encoder ever refuse, an empty image is still a valid
    // answer (the client shows no picture).
    let written = enc
        .write_header()
        .and_then(|mut w| w.write_image_data(rgb).and_then(|()| w.finish()));
    if written.is_err() {
        return Vec::new();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawn_avatars_are_stable_pngs_that_differ_by_title() {
        let a = Avatar::drawn("Lobby");
        assert_eq!(a.mime, "image/png");
        assert!(a.data.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert_eq!(a, Avatar::drawn("Lobby"), "same title, same bytes");
        assert_eq!(a.hash.len(), 40);
        assert_eq!(a.hash, hex::encode(Sha1::digest(&a.data)));
        assert_ne!(a.hash, Avatar::drawn("Café").hash);
        // Titles without a Latin initial get the pattern, still a PNG.
        let zh = Avatar::drawn("茶馆");
        assert!(zh.data.starts_with(b"\x89PNG"));
        assert_ne!(zh.hash, Avatar::drawn("书房").hash);
        // Small: a vCard carries it in one IQ.
        assert!(a.data.len() < 4096, "{} bytes", a.data.len());
    }

    #[test]
    fn the_drawing_decodes_to_the_title_colour_and_white_initials() {
        let a = Avatar::drawn("Lobby");
        let dec = png::Decoder::new(std::io::Cursor::new(a.data));
        let mut r = dec.read_info().expect("decodes");
        let mut buf = vec![0; r.output_buffer_size().expect("size")];
        let info = r.next_frame(&mut buf).expect("frame");
        assert_eq!((info.width, info.height), (96, 96));
        let px = |x: usize, y: usize| &buf[(y * 96 + x) * 3..(y * 96 + x) * 3 + 3];
        assert_ne!(px(0, 0), [255, 255, 255], "background is coloured");
        let white = (0..96 * 96).filter(|i| px(i % 96, i / 96) == [255, 255, 255]);
        assert!(white.count() > 500, "the initial is drawn");
    }

    #[test]
    fn initials_take_the_first_two_words() {
        assert_eq!(initials("Lobby"), vec!['L']);
        assert_eq!(initials("tea room"), vec!['T', 'R']);
        assert_eq!(initials("rust-lang users"), vec!['R', 'L']);
        assert_eq!(initials("茶馆"), Vec::<char>::new());
        assert_eq!(initials("Tea 茶馆"), vec!['T']);
        assert_eq!(initials(""), Vec::<char>::new());
    }

    #[test]
    fn configured_images_are_checked() {
        let png = Avatar::drawn("x").data;
        assert_eq!(Avatar::from_image(png).map(|a| a.mime), Ok("image/png"));
        let jpeg = vec![0xff, 0xd8, 0xff, 0xe0, 0, 0];
        assert_eq!(Avatar::from_image(jpeg).map(|a| a.mime), Ok("image/jpeg"));
        assert!(Avatar::from_image(b"hello".to_vec()).is_err());
        let big = [b"GIF89a".as_slice(), &vec![0; MAX_IMAGE_BYTES]].concat();
        assert!(Avatar::from_image(big)
            .unwrap_err()
            .contains("at most 98304"));
    }
}
