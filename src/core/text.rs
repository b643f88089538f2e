//! Text shared by the relay, the commands and the routes: how a relayed
//! line reads, and the stable ids messages carry on routes.

use sha2::{Digest, Sha256};

/// `[nick] text`, or `* nick waves` for `/me waves`. A text that opens
/// with a block quote (`> …`) or a code block (```` ``` ````) keeps it at
/// the start of a line, where XEP-0393 styling looks for it: the nick
/// goes on a line of its own.
pub fn format_line(nick: &str, text: &str) -> String {
    match text.strip_prefix("/me ") {
        Some(rest) => format!("* {nick} {rest}"),
        None if text.starts_with('>') || text.starts_with("```") => format!("[{nick}]\n{text}"),
        None => format!("[{nick}] {text}"),
    }
}

/// `s` cut to at most `max` bytes at a character boundary, with `…` when
/// cut (the ellipsis fits in the 4 bytes callers leave for it).
pub fn cut_bytes(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// A stable UUID-shaped id (version 8) for history row `seq` of instance
/// `instance`: the same message gets the same id on every retry, and no two
/// instances share one.
pub fn message_id(instance: &str, seq: i64) -> String {
    uuid_of(&[instance, ":", &seq.to_string()])
}

/// The id every group that bridges room `room` gives the message occupant
/// `occupant` sent with stanza id `id` (the room passes the sender's id to
/// every occupant): the same message reaching one instance by two rooms'
/// bridges, or by a room and a route, is recognised as one.
pub fn room_message_id(room: &str, occupant: &str, id: &str) -> String {
    uuid_of(&["room\0", room, "\0", occupant, "\0", id])
}

/// A UUID-shaped (version 8) digest of the concatenated `parts`.
fn uuid_of(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
    }
    let digest = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The id under which a correction (at `at`) of history row `seq` goes
/// out on send routes: stable across retries, distinct from the
/// original's and from other corrections'.
pub fn edit_id(instance: &str, seq: i64, at: i64) -> String {
    message_id(&format!("{instance}:edit:{at}"), seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_stable_uuids() {
        let a = message_id("inst", 1);
        assert_eq!(a, message_id("inst", 1));
        assert_ne!(a, message_id("inst", 2));
        assert_ne!(a, message_id("other", 1));
        let parts: Vec<&str> = a.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('8'));
        assert!(matches!(
            parts[3].chars().next(),
            Some('8' | '9' | 'a' | 'b')
        ));
    }

    #[test]
    fn corrections_get_ids_of_their_own() {
        let a = edit_id("inst", 1, 1000);
        assert_eq!(a, edit_id("inst", 1, 1000));
        assert_ne!(a, edit_id("inst", 1, 2000));
        assert_ne!(a, message_id("inst", 1));
    }

    #[test]
    fn lines_read_as_a_chat_would_show_them() {
        assert_eq!(format_line("alice", "hi"), "[alice] hi");
        assert_eq!(format_line("alice", "/me waves"), "* alice waves");
        assert_eq!(
            format_line("bob", "> quoted\nreply"),
            "[bob]\n> quoted\nreply"
        );
    }
}
