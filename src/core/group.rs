//! A group and its members: the records, who is online per session,
//! blocks, flood state, and the membership operations (adding, replacing
//! and removing members, nick and id clashes, bans) that presence,
//! commands and routes go through rather than editing the maps
//! themselves.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use super::avatar;
use super::i18n::Lang;
use super::model::{GroupRecord, HistoryRecord, JoinPolicy, MemberRecord, MemberState, Millis};
use super::names;
use super::route::Route;
use super::{GROUP_RESOURCE, STATUS_SETTLE_MS, UNSHOWN};

/// A member (or pending / invited JID) of a group.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub rec: MemberRecord,
    /// Bare JIDs whose messages this member does not want.
    pub blocks: Blocks,
    /// Online resources.
    pub resources: Resources,
    /// The nick's key hashed, computed when first needed (see
    /// [`Member::nick_hash`]); unset after the nick changes.
    nick_hash: std::cell::Cell<names::NickHash>,
    /// Flood control, for members who have spoken (boxed: most members of
    /// a big group never do, and it is a third of `Member`'s size).
    pub flood: Option<Box<Flood>>,
    /// The (online, members) counts of the group's status line as last
    /// sent to this member, so an unchanged status is not sent again.
    pub shown: (u32, u32),
    /// The `xml:lang` of their latest message to the group, when it is one
    /// replies exist in.
    pub client_lang: Option<Lang>,
}

/// What flood control remembers about a member.
#[derive(Debug, Clone, Default)]
pub(crate) struct Flood {
    /// Times of recently relayed messages.
    pub recent: VecDeque<Millis>,
    /// When the last flood warning was sent.
    pub warned_at: Option<Millis>,
}

/// A member's blocks. Most members block nobody: the set takes one pointer
/// in [`Member`] and is only allocated once something is blocked.
#[derive(Debug, Clone, Default)]
// The box is the point: 8 bytes per member instead of a 48-byte empty set.
#[allow(clippy::box_collection)]
pub(crate) struct Blocks(Option<Box<HashSet<String>>>);

impl Blocks {
    pub fn contains(&self, jid: &str) -> bool {
        self.0.as_ref().is_some_and(|s| s.contains(jid))
    }

    pub fn insert(&mut self, jid: String) -> bool {
        self.0.get_or_insert_default().insert(jid)
    }

    pub fn remove(&mut self, jid: &str) -> bool {
        let Some(set) = &mut self.0 else {
            return false;
        };
        let removed = set.remove(jid);
        if set.is_empty() {
            self.0 = None;
        }
        removed
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    #[cfg(test)]
    pub fn iter(&self) -> impl Iterator<Item = &String> {
        self.0.iter().flat_map(|s| s.iter())
    }

    /// Empties the set, yielding what it held.
    pub fn drain(&mut self) -> impl Iterator<Item = String> {
        self.0.take().into_iter().flat_map(|s| s.into_iter())
    }
}

/// A member's online resources: usually one to three, so a short list
/// (one small allocation) rather than a hash set.
///
/// Each is either announced by the member's presence (`None`: the server
/// says when it goes) or inferred (`Some(t)`) from a probe at login or a
/// message, for members whose client never accepted the group's contact
/// request: nothing will say when such a session ends, so the group pings
/// it every `ping_ms` (`t` is when it was last heard of).
#[derive(Debug, Clone, Default)]
pub(crate) struct Resources(Vec<(Box<str>, Option<Millis>)>);

impl Resources {
    /// A resource announced by presence.
    pub fn insert(&mut self, res: &str) {
        match self.0.iter_mut().find(|(r, _)| &**r == res) {
            Some((_, how)) => *how = None,
            None => self.push(res, None),
        }
    }

    /// A resource heard of at `now` without presence. True if it is new.
    pub fn infer(&mut self, res: &str, now: Millis) -> bool {
        match self.0.iter_mut().find(|(r, _)| &**r == res) {
            Some((_, Some(t))) => {
                *t = now;
                false
            }
            Some((_, None)) => false,
            None => {
                self.push(res, Some(now));
                true
            }
        }
    }

    fn push(&mut self, res: &str, how: Option<Millis>) {
        // Grow one at a time: `push` would make room for four.
        self.0.reserve_exact(1);
        self.0.push((res.into(), how));
    }

    /// When the next of the inferred resources is to be pinged.
    pub fn next_ping(&self, every: Millis) -> Option<Millis> {
        self.0
            .iter()
            .filter_map(|(_, how)| how.map(|t| t + every))
            .min()
    }

    /// Whether some resource is inferred (and so pinged).
    pub fn any_inferred(&self) -> bool {
        self.0.iter().any(|(_, how)| how.is_some())
    }

    /// Inferred resources last heard of at least `every` ago; they count
    /// as heard of now (the caller pings them).
    pub fn due(&mut self, now: Millis, every: Millis) -> Vec<String> {
        let mut due = Vec::new();
        for (r, how) in &mut self.0 {
            if let Some(t) = how {
                if now - *t >= every {
                    *t = now;
                    due.push(r.to_string());
                }
            }
        }
        due
    }

    pub fn remove(&mut self, res: &str) {
        self.0.retain(|(r, _)| &**r != res);
        if self.0.is_empty() {
            self.0 = Vec::new();
        }
    }

    pub fn clear(&mut self) {
        self.0 = Vec::new();
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Member {
    /// The language this member reads: chosen, else their client's, else
    /// `group` (the group's).
    pub(crate) fn lang(&self, group: Lang) -> Lang {
        self.rec.lang.or(self.client_lang).unwrap_or(group)
    }

    pub(crate) fn new(rec: MemberRecord) -> Member {
        Member {
            rec,
            blocks: Blocks::default(),
            resources: Resources::default(),
            flood: None,
            nick_hash: Default::default(),
            shown: UNSHOWN,
            client_lang: None,
        }
    }

    pub fn is_member(&self) -> bool {
        self.rec.state == MemberState::Member
    }

    /// The hash of the nick's key: checking a new nick against a group
    /// compares these instead of computing every member's confusable
    /// skeletons (a join into a group of 10 000 took 39 ms that way).
    /// Computed on first use, not at start (≈ 2 µs a member).
    pub fn nick_hash(&self) -> names::NickHash {
        let h = self.nick_hash.get();
        if !h.is_unset() {
            return h;
        }
        let h = names::nick_key(&self.rec.nick).hash();
        self.nick_hash.set(h);
        h
    }

    /// Replaces the record (the nick may change with it).
    pub fn set_record(&mut self, rec: MemberRecord) {
        self.rec = rec;
        self.nick_hash.set(Default::default());
    }

    /// Call after changing `rec.nick` in place.
    pub fn nick_changed(&mut self) {
        self.nick_hash.set(Default::default());
    }

    pub fn online(&self) -> bool {
        !self.resources.is_empty()
    }

    pub fn stopped(&self, now: Millis) -> bool {
        self.rec.stop_until.is_some_and(|t| t > now)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Group {
    /// Shared with its members' records.
    pub name: Arc<str>,
    pub jid: String,
    /// The full JID the group's presences come from (`jid/talkgroups`):
    /// clients such as Gajim apply presence per resource and show a
    /// contact whose presence has none as offline.
    pub presence_jid: String,
    pub title: String,
    /// The picture clients show for the group (vCard PHOTO, its hash in
    /// presence).
    pub avatar: Arc<avatar::Avatar>,
    pub join: JoinPolicy,
    pub created_at: Millis,
    /// Keyed by bare JID; ordered so outputs are deterministic.
    pub members: BTreeMap<String, Member>,
    pub blacklist: HashSet<String>,
    /// Admins named in the config for this group.
    pub config_admins: HashSet<String>,
    /// The newest history rows, oldest first.
    pub history: VecDeque<HistoryRecord>,
    /// Older rows read back from the store for a reference to them (see
    /// `Core::recall_for`), newest last; a few, as a cache.
    pub recalled: VecDeque<HistoryRecord>,
    /// (online, members) as last announced in the group's presence status
    /// to online members, and when.
    pub status_shown: (usize, usize),
    pub status_at: Millis,
    /// Some member was sent other counts than `status_shown` since then
    /// (a probe answer, a welcome): the next refresh checks each member.
    pub status_mixed: bool,
    /// The counts may have changed since the last refresh (a stanza came
    /// for the group, or the connection was re-established): the core
    /// wants a refresh, at `status_next` at the earliest.
    pub status_dirty: bool,
    pub status_next: Millis,
    /// (when, online, members) as last counted for a probe answer (see
    /// `presence::status_line_for_probe`).
    pub counted: std::cell::Cell<Option<(Millis, usize, usize)>>,
    /// HTTP routes by name.
    pub routes: BTreeMap<String, Route>,
    /// Message ids received on routes in the last day, and when.
    pub seen: HashMap<String, Millis>,
}

impl Group {
    /// History row `id`, held or recalled.
    pub(crate) fn row(&self, id: i64) -> Option<&HistoryRecord> {
        (self.history.iter().rev().find(|h| h.id == id))
            .or_else(|| self.recalled.iter().find(|h| h.id == id))
    }

    pub(crate) fn row_mut(&mut self, id: i64) -> Option<&mut HistoryRecord> {
        (self.history.iter_mut().rev().find(|h| h.id == id))
            .or_else(|| self.recalled.iter_mut().find(|h| h.id == id))
    }

    /// `sender`'s own message, by the id their client gave it.
    pub(crate) fn own_row(&self, sender: &str, origin_id: &str) -> Option<&HistoryRecord> {
        let mine =
            |h: &&HistoryRecord| h.sender == sender && h.origin_id.as_deref() == Some(origin_id);
        (self.history.iter().rev().find(mine)).or_else(|| self.recalled.iter().rev().find(mine))
    }

    pub(crate) fn new(
        name: &str,
        domain: &str,
        title: &str,
        join: JoinPolicy,
        created_at: Millis,
    ) -> Group {
        Group {
            name: name.into(),
            jid: format!("{name}@{domain}"),
            presence_jid: format!("{name}@{domain}/{GROUP_RESOURCE}"),
            title: title.to_string(),
            avatar: Arc::new(avatar::Avatar::drawn(title)),
            join,
            created_at,
            members: BTreeMap::new(),
            blacklist: HashSet::new(),
            config_admins: HashSet::new(),
            history: VecDeque::new(),
            recalled: VecDeque::new(),
            status_shown: (0, 0),
            status_at: created_at,
            status_mixed: false,
            status_dirty: false,
            status_next: 0,
            counted: std::cell::Cell::new(None),
            routes: BTreeMap::new(),
            seen: HashMap::new(),
        }
    }

    /// Sets the title, and the avatar: `image` if given (already checked
    /// by the config), else one drawn from the title.
    pub(crate) fn set_look(&mut self, title: &str, image: Option<&avatar::Avatar>) {
        let avatar = image
            .cloned()
            .unwrap_or_else(|| avatar::Avatar::drawn(title));
        self.title = title.to_string();
        if *self.avatar != avatar {
            self.avatar = Arc::new(avatar);
        }
    }

    /// The counts may have changed at `now`: check the status line again,
    /// once what came with the change has settled (a join brings the
    /// member's presence a moment later; answering a reconnect's probes
    /// takes a moment), so members see one new line, not two.
    pub(crate) fn status_touch(&mut self, now: Millis) {
        if !self.status_dirty {
            self.status_dirty = true;
            self.status_next = self.status_next.max(now + STATUS_SETTLE_MS);
        }
    }

    pub(crate) fn record(&self) -> GroupRecord {
        GroupRecord {
            name: self.name.to_string(),
            title: self.title.clone(),
            join: self.join,
            created_at: self.created_at,
        }
    }

    pub fn online_count(&self) -> usize {
        self.members
            .values()
            .filter(|m| m.is_member() && m.online())
            .count()
    }

    pub fn member_count(&self) -> usize {
        self.members.values().filter(|m| m.is_member()).count()
    }

    /// JIDs waiting for approval (`//add`, `//allok`).
    pub fn pending(&self) -> impl Iterator<Item = &str> {
        self.members
            .values()
            .filter(|m| m.rec.state == MemberState::Pending)
            .map(|m| &*m.rec.jid)
    }

    /// The member whose FID is `fid` (case-insensitive).
    pub fn by_fid(&self, fid: &str) -> Option<&Member> {
        self.members
            .values()
            .find(|m| m.is_member() && m.rec.fid.eq_ignore_ascii_case(fid))
    }

    /// The member (or pending / invited JID) `jid`, to change in place.
    pub fn member_mut(&mut self, jid: &str) -> Option<&mut Member> {
        self.members.get_mut(jid)
    }

    /// Adds `rec` as a member, pending or invited JID, or replaces the
    /// record of the one already there (keeping who is online).
    pub fn put_member(&mut self, rec: MemberRecord) -> &mut Member {
        let jid = rec.jid.to_string();
        match self.members.entry(jid) {
            std::collections::btree_map::Entry::Occupied(e) => {
                let m = e.into_mut();
                m.set_record(rec);
                m
            }
            std::collections::btree_map::Entry::Vacant(e) => e.insert(Member::new(rec)),
        }
    }

    /// Removes `jid` (membership, pending request or invitation).
    pub fn take_member(&mut self, jid: &str) -> Option<Member> {
        self.members.remove(jid)
    }

    /// Whether `nick` clashes with another member's (`except` is the one
    /// asking): case, Unicode normalization and look-alike characters
    /// aside, as `names::nick_key` compares them.
    pub fn nick_taken(&self, nick: &str, except: &str) -> bool {
        let key = names::nick_key(nick);
        let hash = key.hash();
        self.members.values().any(|m| {
            *m.rec.jid != *except
                && m.nick_hash().clashes(&hash)
                && names::nick_key(&m.rec.nick).clashes(&key)
        })
    }

    /// Whether another member (not `except`) has the id `fid`.
    pub fn fid_taken(&self, fid: &str, except: &str) -> bool {
        self.members
            .values()
            .any(|o| *o.rec.jid != *except && o.rec.fid.eq_ignore_ascii_case(fid))
    }

    /// Default nick and FID for `jid` in this group: the local part, with a number
    /// appended on a clash (`alice2`).
    pub fn default_names(&self, jid: &str) -> (String, String) {
        let base = names::default_handle(jid);
        // By hash: a collision only skips a free name.
        let taken = |candidate: &str| {
            let hash = names::nick_key(candidate).hash();
            self.members.values().any(|m| {
                *m.rec.jid != *jid
                    && (m.nick_hash().clashes(&hash) || m.rec.fid.eq_ignore_ascii_case(candidate))
            })
        };
        let mut n = 1;
        loop {
            let candidate = if n == 1 {
                base.clone()
            } else {
                format!("{base}{n}")
            };
            if !taken(&candidate) {
                return (candidate.clone(), candidate);
            }
            n += 1;
        }
    }

    /// Bans `jid` (true if it was not banned).
    pub fn ban(&mut self, jid: &str) -> bool {
        self.blacklist.insert(jid.to_string())
    }

    /// Lifts `jid`'s ban (true if it was banned).
    pub fn unban(&mut self, jid: &str) -> bool {
        self.blacklist.remove(jid)
    }
}
