//! Languages through a real server: a client whose messages carry
//! `xml:lang="zh-CN"` (as Gajim and Conversations send them on a Chinese
//! system) gets `//help` in Chinese; a member who chose `//lang zh` keeps
//! it across a restart; the others read English. Against Prosody and
//! ejabberd.

mod support;

use std::time::Duration;

use support::{body_of, is_from_bare, join, Kind, Server, Talkgroups, TestClient, XmppServer};

const T: Duration = Duration::from_secs(10);
const LOBBY: &str = "lobby@groups.localhost";

support::for_each_server!(
    chinese_help_by_client_language_and_by_choice,
    chinese_by_the_groups_and_the_services_language
);

/// `user` joins `group` (accepting its request); the welcome it sent.
async fn join_in(p: &impl XmppServer, user: &str, group: &str) -> (TestClient, String) {
    p.register(user, "pw");
    let mut c = TestClient::connect_online(p, user, "pw", "r").await;
    c.send_presence(Some(group), Some("subscribe")).await;
    c.wait_for(T, |e| {
        e.name() == "presence" && is_from_bare(e, group) && e.attr("type") == Some("subscribe")
    })
    .await;
    c.send_presence(Some(group), Some("subscribed")).await;
    let w = c
        .wait_for(T, |e| is_from_bare(e, group) && body_of(e).is_some())
        .await;
    (c, body_of(&w).unwrap_or_default())
}

/// `[service] lang = "zh"` makes Chinese every group's language unless
/// its `[[group]] lang` says otherwise; the bare domain answers in it.
async fn chinese_by_the_groups_and_the_services_language(kind: Kind) {
    let p = Server::start(kind, &[(support::COMPONENT, support::SECRET)]);
    let _tg = Talkgroups::start(
        &p,
        "[service]\nlang = \"zh\"\n\n[[group]]\nname = \"lobby\"\ntitle = \"Lobby\"\njoin = \"open\"\n\n\
         [[group]]\nname = \"cafe\"\ntitle = \"Cafe\"\njoin = \"open\"\nlang = \"en\"\n",
    );
    let cjk = |b: &str| b.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
    let (mut cat, welcome) = join_in(&p, "cat", LOBBY).await;
    assert!(cjk(&welcome) && welcome.contains("//help"), "{welcome}");
    cat.drain_for(Duration::from_millis(300)).await;
    cat.send_message(LOBBY, "//help").await;
    let help = cat.expect_body_from(LOBBY, T).await;
    assert!(help.starts_with("命令列表："), "{help}");
    let (mut dan, welcome) = join_in(&p, "dan", "cafe@groups.localhost").await;
    assert!(welcome.starts_with("Welcome"), "{welcome}");
    dan.drain_for(Duration::from_millis(300)).await;
    dan.send_message("cafe@groups.localhost", "//help").await;
    let help = dan.expect_body_from("cafe@groups.localhost", T).await;
    assert!(help.starts_with("Commands:"), "{help}");
    // The service domain: a stranger's text gets the list of groups.
    dan.send_message("groups.localhost", "hello").await;
    let list = dan.expect_body_from("groups.localhost", T).await;
    assert!(
        cjk(&list) && list.contains("lobby@groups.localhost"),
        "{list}"
    );
}

async fn chinese_help_by_client_language_and_by_choice(kind: Kind) {
    let p = Server::start(kind, &[(support::COMPONENT, support::SECRET)]);
    let mut tg = Talkgroups::start(
        &p,
        "[[group]]\nname = \"lobby\"\ntitle = \"Lobby\"\njoin = \"open\"\n",
    );
    let mut ann = join(&p, "ann", LOBBY).await;
    let mut bob = join(&p, "bob", LOBBY).await;
    for c in [&mut ann, &mut bob] {
        c.drain_for(Duration::from_millis(300)).await;
    }
    ann.send_raw(&format!(
        "<message to='{LOBBY}' type='chat' id='zh-1' xml:lang='zh-CN'><body>//help</body></message>"
    ))
    .await;
    let help = ann.expect_body_from(LOBBY, T).await;
    assert!(help.starts_with("命令列表："), "{help}");
    assert!(
        help.contains("//lang [en|zh|auto] — 设置回复你时用的语言"),
        "{help}"
    );
    bob.send_message(LOBBY, "//help").await;
    assert!(bob
        .expect_body_from(LOBBY, T)
        .await
        .starts_with("Commands:"));
    bob.send_message(LOBBY, "//lang zh").await;
    assert_eq!(
        bob.expect_body_from(LOBBY, T).await,
        "好的，以后用中文回复你。"
    );
    assert_eq!(tg.stop(), Some(0));
    tg.restart();
    bob.drain_for(Duration::from_millis(500)).await;
    bob.send_message(LOBBY, "//online").await;
    let online = bob.expect_body_from(LOBBY, T).await;
    assert!(online.starts_with("在线（"), "{online}");
}
