//! The platforms' cryptography, built from RustCrypto's primitives: HMAC and
//! digests for signatures, AES-256-CBC for Feishu's and WeCom's encrypted
//! bodies. Nothing here compares secrets except through `hmac`'s
//! `verify_slice` or `webhook::same_secret`, both constant time.

use aes::cipher::block_padding::{NoPadding, Pkcs7};
#[cfg(test)]
use aes::cipher::BlockModeEncrypt;
use aes::cipher::{BlockModeDecrypt, KeyIvInit};
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::super::webhook::same_secret;

type HmacSha256 = Hmac<Sha256>;
type Aes256CbcDec = cbc::Decryptor<aes::Aes256>;
#[cfg(test)]
type Aes256CbcEnc = cbc::Encryptor<aes::Aes256>;

/// Base64 with padding, as every platform here writes it.
pub(crate) const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// WeCom's EncodingAESKey decoder: its keys (its own samples included) end
/// in a character whose low bits are not zero, which strict decoders refuse.
const B64_LENIENT: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::general_purpose::GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true),
);

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    // HMAC takes keys of any length; this cannot fail.
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    for p in parts {
        mac.update(p);
    }
    mac
}

/// HMAC-SHA256(key, concatenation of `parts`).
pub(crate) fn hmac_sha256_tag(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    hmac_sha256(key, parts).finalize().into_bytes().into()
}

/// Checks a tag against HMAC-SHA256(key, parts) in constant time.
pub(crate) fn hmac_sha256_verify(key: &[u8], parts: &[&[u8]], tag: &[u8]) -> bool {
    hmac_sha256(key, parts).verify_slice(tag).is_ok()
}

/// Lower-case hex SHA-256 of the concatenation of `parts`.
pub(crate) fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut d = Sha256::new();
    for p in parts {
        d.update(p);
    }
    hex::encode(d.finalize())
}

/// WeCom's message signature: hex SHA-1 of the sorted, concatenated parts.
pub(crate) fn wecom_signature(parts: &[&str]) -> String {
    let mut sorted: Vec<&str> = parts.to_vec();
    sorted.sort_unstable();
    let mut d = Sha1::new();
    for p in sorted {
        d.update(p.as_bytes());
    }
    hex::encode(d.finalize())
}

/// Compares a hex digest we computed with one a caller sent, in constant
/// time; hex case does not matter.
pub(crate) fn same_hex(computed: &str, given: &str) -> bool {
    same_secret(computed, &given.trim().to_ascii_lowercase())
}

// ---- Feishu / Lark ---------------------------------------------------------

fn feishu_key(encrypt_key: &str) -> [u8; 32] {
    Sha256::digest(encrypt_key.as_bytes()).into()
}

/// Decrypts Feishu's `encrypt` field: Base64(IV ‖ AES-256-CBC(PKCS#7)),
/// key = SHA-256(encrypt_key). `None` when it does not decode or unpad.
pub(crate) fn feishu_decrypt(encrypt_key: &str, encrypted: &str) -> Option<Vec<u8>> {
    let raw = B64.decode(encrypted.trim()).ok()?;
    let (iv, ct) = raw.split_at_checked(16)?;
    if ct.is_empty() || ct.len() % 16 != 0 {
        return None;
    }
    let key = feishu_key(encrypt_key);
    Aes256CbcDec::new_from_slices(&key, iv)
        .ok()?
        .decrypt_padded_vec::<Pkcs7>(ct)
        .ok()
}

/// The inverse of `feishu_decrypt` with the given IV.
#[cfg(test)]
pub(crate) fn feishu_encrypt(encrypt_key: &str, iv: &[u8; 16], plain: &[u8]) -> String {
    let key = feishu_key(encrypt_key);
    let ct = Aes256CbcEnc::new(&key.into(), &(*iv).into()).encrypt_padded_vec::<Pkcs7>(plain);
    let mut out = iv.to_vec();
    out.extend_from_slice(&ct);
    B64.encode(out)
}

// ---- WeCom -----------------------------------------------------------------

/// The AES key an EncodingAESKey (43 characters) stands for, when it
/// decodes to 32 bytes.
pub(crate) fn wecom_key(encoding_aes_key: &str) -> Option<[u8; 32]> {
    if encoding_aes_key.len() != 43 {
        return None;
    }
    let bytes = B64_LENIENT.decode(format!("{encoding_aes_key}=")).ok()?;
    bytes.try_into().ok()
}

/// Why a WeCom ciphertext was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WecomError {
    /// Not Base64, not whole blocks, or bad padding.
    Undecryptable,
    /// The length field claims more bytes than the plaintext holds.
    LengthLies,
}

/// WeCom's PKCS#7 uses a 32-byte block: padding is 1..=32 bytes.
const WECOM_BLOCK: usize = 32;

/// Decrypts a WeCom `encrypt` / `echostr` value: AES-256-CBC, IV = first 16
/// key bytes, PKCS#7 with a 32-byte block, plaintext = 16 random bytes ‖
/// length (u32 BE) ‖ message ‖ receive id. Returns (message, receive id).
pub(crate) fn wecom_decrypt(
    key: &[u8; 32],
    encrypted: &str,
) -> Result<(Vec<u8>, Vec<u8>), WecomError> {
    let ct = B64
        .decode(encrypted.trim())
        .map_err(|_| WecomError::Undecryptable)?;
    if ct.is_empty() || ct.len() % 16 != 0 {
        return Err(WecomError::Undecryptable);
    }
    let plain = Aes256CbcDec::new_from_slices(key, &key[..16])
        .map_err(|_| WecomError::Undecryptable)?
        .decrypt_padded_vec::<NoPadding>(&ct)
        .map_err(|_| WecomError::Undecryptable)?;
    let pad = usize::from(*plain.last().ok_or(WecomError::Undecryptable)?);
    if pad == 0 || pad > WECOM_BLOCK || pad > plain.len() {
        return Err(WecomError::Undecryptable);
    }
    let (body, padding) = plain.split_at(plain.len() - pad);
    if padding.iter().any(|&b| usize::from(b) != pad) {
        return Err(WecomError::Undecryptable);
    }
    let rest = body.get(16..).ok_or(WecomError::LengthLies)?;
    let (len, rest) = rest.split_at_checked(4).ok_or(WecomError::LengthLies)?;
    let len = u32::from_be_bytes(len.try_into().map_err(|_| WecomError::LengthLies)?);
    let len = usize::try_from(len).map_err(|_| WecomError::LengthLies)?;
    let (msg, receive_id) = rest.split_at_checked(len).ok_or(WecomError::LengthLies)?;
    Ok((msg.to_vec(), receive_id.to_vec()))
}

/// The inverse of `wecom_decrypt`. `len` overrides
/// the length field, to build a plaintext that lies.
#[cfg(test)]
pub(crate) fn wecom_encrypt(
    key: &[u8; 32],
    random: &[u8; 16],
    msg: &[u8],
    receive_id: &[u8],
    len: Option<u32>,
) -> String {
    let mut plain = random.to_vec();
    let n = len.unwrap_or(u32::try_from(msg.len()).unwrap_or(u32::MAX));
    plain.extend_from_slice(&n.to_be_bytes());
    plain.extend_from_slice(msg);
    plain.extend_from_slice(receive_id);
    let pad = WECOM_BLOCK - plain.len() % WECOM_BLOCK;
    // pad is 1..=32, so it fits a byte.
    plain.extend(std::iter::repeat_n(pad as u8, pad));
    let iv: [u8; 16] = key[..16].try_into().unwrap_or([0; 16]);
    let ct = Aes256CbcEnc::new(&(*key).into(), &iv.into()).encrypt_padded_vec::<NoPadding>(&plain);
    B64.encode(ct)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231() {
        // RFC 4231, test case 2.
        assert_eq!(
            hex::encode(hmac_sha256_tag(
                b"Jefe",
                &[b"what do ya ", b"want for nothing?"]
            )),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn feishu_published_vector() {
        // Feishu open platform, event subscription guide, "request URL
        // configuration case" (decrypting with the Encrypt Key,
        // https://open.feishu.cn/document/uAjLw4CM/ukTMukTMukTM/event-subscription-guide/event-subscription-configure-/request-url-configuration-case):
        // encrypt key "test key", this ciphertext, plaintext "hello world".
        let enc = "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=";
        assert_eq!(
            feishu_decrypt("test key", enc).as_deref(),
            Some(&b"hello world"[..])
        );
        assert_eq!(feishu_decrypt("other key", enc), None);
        assert_eq!(feishu_decrypt("test key", "AAAA"), None);
        assert_eq!(feishu_decrypt("test key", "not base64!"), None);
        let iv = [7u8; 16];
        let back = feishu_encrypt("k", &iv, b"{\"a\":1}");
        assert_eq!(
            feishu_decrypt("k", &back).as_deref(),
            Some(&b"{\"a\":1}"[..])
        );
    }

    // WeCom's WXBizMsgCrypt samples (the C#, Java, PHP and Python
    // "Sample" programs in the library linked from WeCom's developer
    // document "加解密库下载与返回码",
    // https://developer.work.weixin.qq.com/document/path/90307).
    const WX_TOKEN: &str = "QDG6eK";
    const WX_KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
    const WX_RECEIVE_ID: &[u8] = b"wx5823bf96d3bd56c7";

    #[test]
    fn wecom_verify_url_sample() {
        let echostr = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==";
        assert_eq!(
            wecom_signature(&[WX_TOKEN, "1409659589", "263014780", echostr]),
            "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
        );
        let key = wecom_key(WX_KEY).expect("the sample key decodes");
        let (msg, id) = wecom_decrypt(&key, echostr).expect("decrypts");
        assert_eq!(msg, b"1616140317555161061");
        assert_eq!(id, WX_RECEIVE_ID);
    }

    #[test]
    fn wecom_decrypt_msg_sample() {
        // The DecryptMsg sample: POST ?msg_signature=477715d1…&timestamp=
        // 1409659813&nonce=1372623149 with this <Encrypt>. The samples do not
        // print the plaintext; it is an XML message to the receive id.
        let enc = "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==";
        assert_eq!(
            wecom_signature(&[WX_TOKEN, "1409659813", "1372623149", enc]),
            "477715d11cdb4164915debcba66cb864d751f3e6"
        );
        let key = wecom_key(WX_KEY).expect("key");
        let (msg, id) = wecom_decrypt(&key, enc).expect("decrypts");
        let msg = String::from_utf8(msg).expect("utf-8");
        assert!(msg.starts_with("<xml>"), "{msg}");
        assert!(
            msg.contains("<ToUserName><![CDATA[wx5823bf96d3bd56c7]]>"),
            "{msg}"
        );
        assert_eq!(id, WX_RECEIVE_ID);
    }

    #[test]
    fn wecom_round_trip_and_refusals() {
        let key = wecom_key(WX_KEY).expect("key");
        for n in [0usize, 1, 11, 12, 43, 44, 100] {
            let msg = vec![b'x'; n];
            let enc = wecom_encrypt(&key, &[1; 16], &msg, b"rid", None);
            assert_eq!(wecom_decrypt(&key, &enc), Ok((msg, b"rid".to_vec())));
        }
        let lying = wecom_encrypt(&key, &[1; 16], b"hello", b"", Some(6));
        assert_eq!(wecom_decrypt(&key, &lying), Err(WecomError::LengthLies));
        let huge = wecom_encrypt(&key, &[1; 16], b"hello", b"", Some(u32::MAX));
        assert_eq!(wecom_decrypt(&key, &huge), Err(WecomError::LengthLies));
        assert_eq!(wecom_decrypt(&key, "%%%"), Err(WecomError::Undecryptable));
        assert_eq!(wecom_decrypt(&key, ""), Err(WecomError::Undecryptable));
        assert_eq!(wecom_decrypt(&key, "AAAA"), Err(WecomError::Undecryptable));
        let other = wecom_key("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG").expect("key");
        let enc = wecom_encrypt(&key, &[1; 16], b"hello", b"rid", None);
        assert!(wecom_decrypt(&other, &enc).is_err());
        assert_eq!(wecom_key("short"), None);
        assert_eq!(wecom_key(&"!".repeat(43)), None);
    }
}
