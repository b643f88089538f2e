//! Names: group names, JIDs, nicks and FIDs — what is valid and how names
//! are compared. Pure functions.

use unicode_normalization::UnicodeNormalization;

/// `[a-z0-9][a-z0-9._-]{0,63}`.
pub fn is_valid_group_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"._-".contains(c))
}

/// Bridge names: `[a-z0-9][a-z0-9_-]{0,31}`.
pub fn is_valid_bridge_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 32
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"_-".contains(c))
}

/// A plausible DNS domain for a JID's domain part.
pub fn is_valid_domain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
        })
}

/// Normalizes a bare JID `local@domain` (lowercase; no resource); `None`
/// when it is not one. A resource is cut off.
pub fn normalize_bare_jid(s: &str) -> Option<String> {
    let s = s.trim();
    let s = s.split('/').next()?;
    let (local, domain) = s.split_once('@')?;
    if local.is_empty()
        || local.len() > 1023
        || local
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "\"&'/:<>@".contains(c))
    {
        return None;
    }
    let domain = domain.to_lowercase();
    if !is_valid_domain(&domain) {
        return None;
    }
    Some(format!("{}@{}", local.to_lowercase(), domain))
}

/// Splits `local@domain/resource` (or `domain/resource`, `domain`) into the
/// normalized bare part and the resource.
pub fn split_jid(s: &str) -> (String, Option<&str>) {
    match s.split_once('/') {
        Some((bare, res)) => (bare.to_lowercase(), Some(res)),
        None => (s.to_lowercase(), None),
    }
}

/// FID: `[A-Za-z0-9_.-]{1,32}`.
pub fn is_valid_fid(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(&c))
}

/// Why a nick was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NickError {
    Empty,
    TooLong,
    Forbidden(char),
}

/// Characters refused in nicks: controls, bidi controls, zero-width and
/// other invisible formatting characters, and the brackets that frame a nick
/// in relayed text (`[nick] text`), so nobody can fake another speaker.
fn is_forbidden_in_nick(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200B}'..='\u{200F}' // zero-width space/joiners, LRM, RLM
            | '\u{202A}'..='\u{202E}' // bidi embeddings and overrides
            | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
            | '\u{2066}'..='\u{2069}' // bidi isolates
            | '\u{061C}' // Arabic letter mark
            | '\u{180E}' // Mongolian vowel separator
            | '\u{FEFF}' // BOM / zero-width no-break space
            | '\u{00AD}' // soft hyphen
            | '\u{034F}' // combining grapheme joiner
            | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' // Hangul fillers
            | '[' | ']')
}

/// Validates a nick and returns it in NFC with surrounding whitespace and
/// runs of inner whitespace collapsed to one space.
pub fn validate_nick(raw: &str) -> Result<String, NickError> {
    let nfc: String = raw.nfc().collect();
    if let Some(c) = nfc.chars().find(|c| is_forbidden_in_nick(*c)) {
        return Err(NickError::Forbidden(c));
    }
    let collapsed = nfc.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.is_empty() {
        return Err(NickError::Empty);
    }
    if collapsed.chars().count() > 32 {
        return Err(NickError::TooLong);
    }
    Ok(collapsed)
}

/// A nick that came over an HTTP route, made safe to show: NFC, forbidden
/// characters dropped, whitespace collapsed, at most 32 characters; `?`
/// when nothing is left.
pub fn clean_remote_nick(raw: &str) -> String {
    let nfc: String = raw
        .nfc()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .filter(|c| !is_forbidden_in_nick(*c))
        .collect();
    let collapsed: String = nfc
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(32)
        .collect();
    if collapsed.is_empty() {
        "?".into()
    } else {
        collapsed
    }
}

/// What nicks are compared by. Two nicks clash when they are equal after
/// case folding, or look alike: the Unicode confusable skeleton (UTS #39,
/// which includes NFD) of the folded spelling matches, or the folded
/// skeleton of the original spelling does, so `ALICE`, Cyrillic `аlice` and `AIice` (capital I) all clash
/// with `alice`.
#[derive(Debug, Clone)]
pub struct NickKey {
    folded: String,
    visual: String,
}

impl NickKey {
    pub fn clashes(&self, other: &NickKey) -> bool {
        self.folded == other.folded || self.visual == other.visual
    }

    /// The key in 16 bytes, for comparing against a whole group cheaply.
    /// Equal keys give equal hashes; equal hashes almost always mean equal
    /// keys (check with [`NickKey::clashes`] where it matters).
    pub fn hash(&self) -> NickHash {
        use std::hash::{Hash, Hasher};
        let h = |s: &str| {
            // SipHash with fixed keys: the same value in every process.
            let mut hasher = std::hash::DefaultHasher::new();
            s.hash(&mut hasher);
            // 0 marks "not computed" in `Member`.
            hasher.finish().max(1)
        };
        NickHash {
            folded: h(&self.folded),
            visual: h(&self.visual),
        }
    }
}

/// A [`NickKey`] hashed (see [`NickKey::hash`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NickHash {
    folded: u64,
    visual: u64,
}

impl NickHash {
    /// Whether the keys may clash (they do unless a hash collided).
    pub fn clashes(&self, other: &NickHash) -> bool {
        self.folded == other.folded || self.visual == other.visual
    }

    /// The default value, which no computed hash equals.
    pub fn is_unset(&self) -> bool {
        self.folded == 0
    }
}

pub fn nick_key(nick: &str) -> NickKey {
    let lower: String = nick.nfc().flat_map(char::to_lowercase).collect();
    NickKey {
        folded: unicode_security::skeleton(&lower).collect(),
        visual: unicode_security::skeleton(nick)
            .flat_map(char::to_lowercase)
            .collect(),
    }
}

/// The default handle for a JID: its local part with characters outside the
/// FID alphabet dropped, at most 28 long (room for a number); `user` when
/// nothing is left.
pub fn default_handle(bare_jid: &str) -> String {
    let local = bare_jid.split('@').next().unwrap_or(bare_jid);
    let s: String = local
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "_.-".contains(*c))
        .take(28)
        .collect();
    if s.is_empty() {
        "user".into()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names() {
        assert!(is_valid_group_name("lobby"));
        assert!(is_valid_group_name("0a._-"));
        assert!(!is_valid_group_name("Lobby"));
        assert!(!is_valid_group_name("-x"));
        assert!(!is_valid_group_name(""));
        assert!(!is_valid_group_name(&"a".repeat(65)));
        assert!(is_valid_group_name(&"a".repeat(64)));
    }

    #[test]
    fn jids() {
        assert_eq!(
            normalize_bare_jid("Alice@LocalHost/phone").as_deref(),
            Some("alice@localhost")
        );
        assert_eq!(normalize_bare_jid("nope"), None);
        assert_eq!(normalize_bare_jid("@x"), None);
        assert_eq!(normalize_bare_jid("a b@x"), None);
        assert_eq!(normalize_bare_jid("a@"), None);
        assert_eq!(split_jid("a@b/c"), ("a@b".into(), Some("c")));
    }

    #[test]
    fn fids() {
        assert!(is_valid_fid("al.ice_-9"));
        assert!(!is_valid_fid(""));
        assert!(!is_valid_fid("a b"));
        assert!(!is_valid_fid(&"a".repeat(33)));
        assert!(!is_valid_fid("é"));
    }

    #[test]
    fn nicks() {
        assert_eq!(validate_nick("  Big   Al ").unwrap(), "Big Al");
        assert_eq!(validate_nick(""), Err(NickError::Empty));
        assert_eq!(validate_nick(&"x".repeat(33)), Err(NickError::TooLong));
        assert!(validate_nick(&"é".repeat(32)).is_ok());
        assert_eq!(
            validate_nick("bob\u{202E}"),
            Err(NickError::Forbidden('\u{202E}'))
        );
        assert_eq!(
            validate_nick("b\u{200B}ob"),
            Err(NickError::Forbidden('\u{200B}'))
        );
        assert_eq!(validate_nick("[bob]"), Err(NickError::Forbidden('[')));
        assert_eq!(validate_nick("a\u{7}"), Err(NickError::Forbidden('\u{7}')));
        // NFC: e + combining acute equals é
        let clash = |a: &str, b: &str| nick_key(a).clashes(&nick_key(b));
        assert!(clash("Re\u{301}MY", "rémy"));
        // Look-alikes clash: Cyrillic а, capital I for l, Greek Ο for O.
        assert!(clash("\u{430}lice", "alice"));
        assert!(clash("AIice", "Alice"));
        assert!(clash("ALICE", "alice"));
        assert!(clash("B\u{39F}B", "bob"));
        assert!(!clash("alice", "alicia"));
        assert!(!clash("ann", "anna"));
    }

    #[test]
    fn remote_nicks() {
        assert_eq!(clean_remote_nick("  bob\u{202E}\u{200B} [x] "), "bob x");
        assert_eq!(clean_remote_nick("\u{200B}"), "?");
        assert_eq!(clean_remote_nick(&"é".repeat(40)).chars().count(), 32);
        assert_eq!(clean_remote_nick("a\nb"), "a b");
    }

    #[test]
    fn handles() {
        assert_eq!(default_handle("alice@x"), "alice");
        assert_eq!(default_handle("a+b@x"), "ab");
        assert_eq!(default_handle("ü@x"), "user");
    }
}
