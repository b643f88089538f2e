//! Languages through a real server: a client whose messages carry
//! `xml:lang="zh-CN"` (as Gajim and Conversations send them on a Chinese
//! system) gets `//help` in Chinese; a member who chose `//lang zh` keeps
//! it across a restart; the others read English. Against Prosody and
//! ejabberd.

mod support;

use std::time::Duration;

use support::{join, Kind, Server, Talkgroups};

const T: Duration = Duration::from_secs(10);
const LOBBY: &str = "lobby@groups.localhost";

support::for_each_server!(chinese_help_by_client_language_and_by_choice);

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
