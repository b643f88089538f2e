//! Real console clients against the real talkgroups binary and a real
//! Prosody (`clients::prosody`) or ejabberd (`clients::ejabberd`): alice
//! uses profanity 0.13, bob uses mcabber 1.1.2, both from Debian's
//! packages, each in its own private tmux server (see
//! tests/support/console.rs). Everything is typed the way a person types
//! it, and what each client received is read from its screen and its own
//! logs — no test XMPP library on the client side.
//!
//! The clients are required: without them this test fails and says how to
//! install them (`apt-get install mcabber profanity tmux`; .ci/run does it).
//!
//! What the clients do that matters here (observed; the bodies they send
//! for //help and the correction are asserted below):
//! - Both treat a leading `/` as their own command and `//` as the escape
//!   for a literal slash: typing `//help` sends the body `/help`, so the
//!   group must take `/help` (a known command name after one slash) as the
//!   command, not relay it.
//! - profanity sends `/me waves` as the body `/me waves`. mcabber 1.1.2 has
//!   no `/me` in a chat ("Unrecognized command"); typing `//me waves` sends
//!   `/me waves`.
//! - profanity 0.13 corrects the last message with `/correct TEXT`
//!   (XEP-0308, on by default); mcabber shows a correction as one more
//!   message.
//! - mcabber's FIFO takes commands only: plain text written there is
//!   "Unrecognized command", and `/say_to JID //x` sends `//x` unchanged.
//!   So chat lines are typed into its input line, commands go through the
//!   FIFO.

mod support;

use std::time::{Duration, Instant};

use support::console::{require, Mcabber, Profanity};
use support::{Kind, Server, Talkgroups, COMPONENT, SECRET};

const T: Duration = Duration::from_secs(10);
const LOBBY: &str = "lobby@groups.localhost";

fn group_config() -> String {
    "[service]\nadmins = [\"root@localhost\"]\n\n[[group]]\nname = \"lobby\"\n\
     title = \"Lobby\"\njoin = \"open\"\n"
        .to_string()
}

/// Whether a reply lists the group's commands (not the welcome, which
/// names only a couple of them).
fn is_help_list(body: &str) -> bool {
    ["//nick", "//online", "//history", "//leave"]
        .iter()
        .all(|c| body.contains(c))
}

#[test]
fn prosody() {
    profanity_and_mcabber_join_chat_rename_and_correct(Kind::Prosody);
}

#[test]
fn ejabberd() {
    profanity_and_mcabber_join_chat_rename_and_correct(Kind::Ejabberd);
}

fn profanity_and_mcabber_join_chat_rename_and_correct(kind: Kind) {
    let started = Instant::now();
    for bin in ["tmux", "mcabber", "profanity"] {
        require(bin);
    }
    let p = Server::start(kind, &[(COMPONENT, SECRET)]);
    p.register("alice", "alice-pw");
    p.register("bob", "bob-pw");
    let _tg = Talkgroups::start(&p, &group_config());

    let alice = Profanity::start(&p, "alice", "alice-pw");
    let bob = Mcabber::start(&p, "bob", "bob-pw");

    // --- alice joins from profanity: add the contact, ask for its
    // presence, then allow the group's own request.
    alice.type_line(&format!("/roster add {LOBBY}"));
    alice.type_line(&format!("/sub request {LOBBY}"));
    alice.wait_screen(&format!("Received authorization request from {LOBBY}"), T);
    alice.type_line(&format!("/sub allow {LOBBY}"));
    let welcome = alice.wait_received(LOBBY, 0, T, "the welcome", |b| b.contains("Welcome"));
    assert!(welcome.contains("//help"), "{welcome}");
    alice.type_line(&format!("/msg {LOBBY}"));
    alice.wait_screen(": Welcome", T);

    // --- bob joins from mcabber: /add sends the subscription request; the
    // group's request comes back as an event to accept.
    bob.command(&format!("/add {LOBBY}"));
    bob.wait_trace(&format!("<{LOBBY}> wants to subscribe to your presence"), T);
    bob.command("/event * accept");
    bob.wait_trace(&format!("<{LOBBY}> is allowed to receive your presence"), T);
    let welcome = bob.wait_received(LOBBY, 0, T, "the welcome", |b| b.contains("Welcome"));
    assert!(welcome.contains("//help"), "{welcome}");
    alice.wait_screen(": *** bob joined", T);
    // Both clients show the group as an online contact with a mutual
    // subscription: mcabber marks it `[o]` in its roster, profanity's /info
    // lists an online resource.
    bob.tmux.wait_screen("[o] lobby@groups", T);
    alice.type_line("/info");
    alice.wait_screen("Subscription: both", T);
    let info = alice.wait_screen("), online", T);
    // The group's presence comes from a full JID: profanity names a
    // resource-less presence `__prof_default` (and Gajim shows it offline).
    assert!(!info.contains("__prof_default"), "{info}");

    // bob opens the group's chat (selects it in the roster); what he types
    // now goes to it.
    bob.type_line("/roster search lobby");
    bob.tmux.wait_screen("Buddy: lobby@groups", T);

    // --- relaying, both ways.
    alice.type_line("hello from profanity");
    bob.wait_body(LOBBY, "[alice] hello from profanity", T);
    bob.type_line("hi alice, mcabber here");
    alice.wait_screen(": [bob] hi alice, mcabber here", T);

    // /me: profanity sends "/me waves"; mcabber needs "//me".
    alice.type_line("/me waves");
    bob.wait_body(LOBBY, "* alice waves", T);
    bob.type_line("//me waves back");
    alice.wait_screen(": * bob waves back", T);

    // --- //help as each person types it; the clients send "/help".
    alice.type_line("/clear");
    let before = alice.received(LOBBY).len();
    alice.type_line("//help");
    let help = alice.wait_received(LOBBY, before, T, "the command list", is_help_list);
    assert!(
        alice.sent(LOBBY).iter().any(|l| l.message == "/help"),
        "profanity sends a typed //help as /help: {:?}",
        alice.sent(LOBBY)
    );
    // The list is on alice's screen (the welcome was cleared away).
    let first = help.lines().find(|l| l.contains("//nick")).unwrap();
    alice.wait_screen(first.trim(), T);

    let before = bob.received(LOBBY).len();
    bob.type_line("//help");
    bob.wait_received(LOBBY, before, T, "the command list", is_help_list);
    assert!(
        !bob.sent_xml("<body>/help</body>").is_empty(),
        "mcabber sends a typed //help as /help:\n{}",
        bob.sent_xml("<body>").join("\n")
    );

    // --- bob renames himself.
    let before = bob.received(LOBBY).len();
    bob.type_line("//nick Bobby");
    let ok = bob.wait_received(LOBBY, before, T, "the nick reply", |b| b.contains("Bobby"));
    assert!(ok.starts_with("OK"), "{ok}");
    alice.wait_screen(": *** bob is now Bobby", T);
    bob.type_line("renamed now");
    alice.wait_screen(": [Bobby] renamed now", T);

    // --- alice corrects her last message with profanity's /correct.
    alice.type_line("this has a tpyo");
    bob.wait_body(LOBBY, "[alice] this has a tpyo", T);
    alice.type_line("/correct this has no typo");
    bob.wait_body(LOBBY, "[alice] this has no typo", T);
    let sent = alice.sent(LOBBY);
    let original = sent
        .iter()
        .find(|l| l.message == "this has a tpyo")
        .expect("profanity logged the original");
    let correction = sent
        .iter()
        .find(|l| l.message == "this has no typo")
        .expect("profanity logged the correction");
    assert_eq!(
        correction.replace_id, original.stanza_id,
        "profanity sends the correction as XEP-0308 of the original"
    );
    // mcabber shows the correction as another message; what it received
    // carries a replace element pointing at the copy it got first.
    let first_copy = bob.received_xml("[alice] this has a tpyo");
    let fixed_copy = bob.received_xml("[alice] this has no typo");
    assert_eq!(first_copy.len(), 1, "{first_copy:?}");
    assert_eq!(fixed_copy.len(), 1, "{fixed_copy:?}");
    let first_id = attr(&first_copy[0], "message", "id").expect("the relayed copy has an id");
    assert_eq!(
        attr(&fixed_copy[0], "replace", "id").as_deref(),
        Some(first_id.as_str()),
        "the correction replaces the copy bob got: {}",
        fixed_copy[0]
    );
    assert!(
        fixed_copy[0].contains("urn:xmpp:message-correct:0"),
        "{}",
        fixed_copy[0]
    );

    // //history: the corrected message, once — a correction replaces the
    // message it corrects, it is not a second message.
    let before = bob.received(LOBBY).len();
    bob.type_line("//history");
    let history = bob.wait_received(LOBBY, before, T, "the history", |b| {
        b.contains("[alice] hello from profanity")
    });
    assert!(history.contains("[Bobby] renamed now"), "{history}");
    assert!(
        history.matches("[alice] this has no typo").count() == 1 && !history.contains("tpyo"),
        "//history shows the corrected message once, not the original:\n{history}"
    );

    // --- bob switches to Chinese from mcabber: his replies and //help
    // come in Chinese, and Chinese text is relayed to profanity's screen.
    let before = bob.received(LOBBY).len();
    bob.type_line("//lang zh");
    bob.wait_received(LOBBY, before, T, "the //lang reply", |b| b.contains("中文"));
    let before = bob.received(LOBBY).len();
    bob.type_line("//help");
    let cjk = |b: &str| b.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
    let help = bob.wait_received(LOBBY, before, T, "the Chinese command list", |b| {
        is_help_list(b) && cjk(b)
    });
    assert!(!help.contains("list commands"), "{help}");
    bob.type_line("大家好，我是 Bobby");
    alice.wait_screen(": [Bobby] 大家好，我是 Bobby", T);
    // alice still reads English.
    let before = alice.received(LOBBY).len();
    alice.type_line("//online");
    let online = alice.wait_received(LOBBY, before, T, "the //online reply", |b| {
        b.contains("Bobby")
    });
    assert!(!cjk(&online), "{online}");

    // --- no command was relayed to the other member.
    let bob_got = bob.received(LOBBY);
    let alice_got = alice.received(LOBBY);
    for relayed in ["[alice] /help", "[alice] //help"] {
        assert!(
            !bob_got.iter().any(|b| b.contains(relayed)),
            "{relayed:?} relayed to bob: {bob_got:#?}"
        );
    }
    for relayed in ["] /help", "] //help", "] /nick", "] //nick", "] /history"] {
        assert!(
            !alice_got.iter().any(|b| b.contains(relayed)),
            "{relayed:?} relayed to alice: {alice_got:#?}"
        );
    }
    assert!(bob.tmux.client_running(), "mcabber still runs");
    assert!(alice.tmux.client_running(), "profanity still runs");
    eprintln!("console clients against {kind:?}: {:?}", started.elapsed());
}

/// The value of attribute `name` of the first `<element …>` tag in `xml`
/// (mcabber's trace shows received XML with single-quoted attributes).
fn attr(xml: &str, element: &str, name: &str) -> Option<String> {
    let start = xml.find(&format!("<{element} "))?;
    let tag = &xml[start..start + xml[start..].find('>')?];
    let value = tag.find(&format!(" {name}='"))? + name.len() + 3;
    let len = tag[value..].find('\'')?;
    Some(tag[value..value + len].to_string())
}
