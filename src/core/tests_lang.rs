//! Languages: `//lang`, the client's `xml:lang`, `[[group]] lang` and
//! `[service] lang`, in both languages, with an explicit `now`.

use super::*;
use crate::core::i18n::Lang;

/// `user` sends `body` with `xml:lang` = `lang`.
fn say_in(t: &mut T, user: &str, lang: &str, body: &str) -> String {
    t.xml(&format!(
        "<message xmlns='jabber:component:accept' from='{user}@localhost/r' to='{G}' type='chat' id='l1' xml:lang='{lang}'><body>{body}</body></message>"
    ));
    t.bodies(&format!("{user}@localhost"))
        .first()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn lang_sets_the_language_of_replies_and_is_stored() {
    let mut t = three();
    assert!(t.cmd("bob", "//help").starts_with("Commands:"));
    let r = t.cmd("bob", "//lang zh");
    assert_eq!(r, "好的，以后用中文回复你。");
    assert!(t
        .stores()
        .iter()
        .any(|s| matches!(s, StoreOp::UpsertMember(m) if m.lang == Some(Lang::Zh))));
    let help = t.cmd("bob", "//help");
    assert!(help.starts_with("命令列表："), "{help}");
    assert!(help.contains("//nick NAME — 设置你的昵称"), "{help}");
    assert!(t.cmd("bob", "//help nick").contains("例如：//nick"));
    assert!(t.cmd("bob", "//lang").contains("这是你选的"));
    assert_eq!(
        t.cmd("bob", "//frobnicate"),
        "没有 //frobnicate 这个命令。发送 //help 查看命令列表。"
    );
    assert!(t.cmd("bob", "//lang fr").contains("不支持“fr”"));
    // Alice still reads English.
    assert!(t.cmd("alice", "//help").starts_with("Commands:"));
    assert!(t
        .cmd("bob", "//lang en")
        .starts_with("OK, replies to you are now in English"));
}

#[test]
fn the_clients_xml_lang_chooses_until_lang_says_otherwise() {
    let mut t = three();
    let r = say_in(&mut t, "bob", "zh-CN", "//online");
    assert!(r.starts_with("在线（3/3）："), "{r}");
    // It sticks for what the group sends unasked.
    t.pres("bob@localhost/r", G, Some("unavailable"));
    t.pres("bob@localhost/r", G, None);
    assert!(t.cmd("bob", "//lang").contains("你客户端的语言"));
    let r = say_in(&mut t, "bob", "zh-CN", "//lang en");
    assert!(r.starts_with("OK"), "{r}");
    let r = say_in(&mut t, "bob", "zh-TW", "//online");
    assert!(r.starts_with("Online (3 of 3)"), "{r}");
    // A stranger writing in Chinese is answered in Chinese.
    let r = say_in(&mut t, "zed", "zh", "hello?");
    assert!(r.starts_with("你不是 Lobby 的成员"), "{r}");
}

/// A group `lobby` with `group` lines, on a service with `lang = "zh"`.
fn zh_service(group: &str) -> T {
    T::from_cfg(
        crate::config::Config::parse(&format!(
            "[component]\njid = \"groups.localhost\"\nsecret = \"s\"\n[service]\nlang = \"zh\"\n\
             [[group]]\nname = \"lobby\"\ntitle = \"Lobby\"\njoin = \"open\"\n{group}\n"
        ))
        .unwrap(),
    )
}

#[test]
fn group_and_service_languages_and_notices_in_each_members_language() {
    let mut t = zh_service("admins = [\"alice@localhost\"]");
    t.join("alice");
    assert!(t.cmd("alice", "//help").starts_with("命令列表："));
    t.cmd("alice", "//lang en");
    t.pres("bob@localhost", G, Some("subscribe"));
    let welcome = t.bodies(B);
    assert!(welcome[0].starts_with("欢迎加入 Lobby！"), "{welcome:?}");
    assert!(welcome[0].contains("共 2 位成员"), "{welcome:?}");
    t.pres("bob@localhost/r", G, None);
    t.pres("carol@localhost", G, Some("subscribe"));
    // One notice per language, each member in theirs.
    assert_eq!(t.bodies(A), ["*** carol joined"]);
    assert_eq!(t.bodies(B), ["*** carol 加入了本群"]);
    assert_eq!(t.fanouts, 2);
    // A group's own lang wins over the service's.
    let mut t = zh_service("lang = \"en\"");
    t.join("alice");
    assert!(t.cmd("alice", "//help").starts_with("Commands:"));
}

#[test]
fn an_unknown_language_in_the_config_is_refused_by_name() {
    let e = crate::config::Config::parse(
        "[component]\njid = \"g.localhost\"\nsecret = \"s\"\n[service]\nlang = \"fr\"\n",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("service.lang") && e.contains("fr"), "{e}");
    let e = crate::config::Config::parse(
        "[component]\njid = \"g.localhost\"\nsecret = \"s\"\n[[group]]\nname = \"a\"\nlang = \"de\"\n",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("group[0].lang"), "{e}");
}

#[test]
fn every_command_is_described_in_both_languages() {
    for c in crate::core::command::COMMANDS {
        for l in Lang::ALL {
            let d = crate::core::command::describe(c, l);
            assert!(
                !d.starts_with("cmd-"),
                "//{} has no description in {l:?}",
                c.name
            );
        }
    }
}

#[test]
fn admin_commands_answer_in_the_admins_language_and_tell_others_in_theirs() {
    let mut t = three();
    t.cmd("alice", "//lang zh");
    let list = t.cmd("alice", "//listuser");
    assert!(list.starts_with("共 3 条："), "{list}");
    assert!(list.contains("bob@localhost — 成员，昵称 bob"), "{list}");
    let fid = t.core.groups["lobby"].members[B].rec.fid.clone();
    assert_eq!(t.cmd("alice", &format!("//mute {fid}")), "好的");
    assert_eq!(
        t.bodies(B),
        ["An admin muted you: what you send is not relayed until they //unmute you."]
    );
    assert_eq!(
        t.cmd("alice", "//kick bob@localhost"),
        "好的，已移出 bob@localhost。"
    );
    assert_eq!(t.bodies(B), ["You were removed from Lobby by an admin."]);
    assert_eq!(t.bodies(C), ["*** bob was removed"]);
    // The API's messages stay English, whatever the group's language.
    let mut t = zh_service("");
    t.join("alice").join("bob");
    t.input(Input::Api(crate::core::api::ApiCall {
        token: 1,
        scope: crate::core::api::Scope::Service,
        method: crate::core::api::ApiMethod::Delete,
        path: ["groups", "lobby", "members", "bob@localhost"]
            .map(str::to_string)
            .to_vec(),
        query: vec![],
        body: vec![],
    }));
    let reply = t.out.iter().find_map(|o| match o {
        Output::Reply(r) => Some(r.clone()),
        _ => None,
    });
    let reply = reply.unwrap();
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        reply.body.contains("OK, bob@localhost was removed."),
        "{}",
        reply.body
    );
    assert_eq!(t.bodies(B), ["你已被管理员移出 Lobby。"]);
}

#[test]
fn the_service_domain_answers_in_the_messages_language() {
    let mut t = three();
    t.xml(&format!(
        "<message xmlns='jabber:component:accept' from='zed@localhost/r' to='{D}' type='chat' id='s1' xml:lang='zh-CN'><body>hello</body></message>"
    ));
    let r = t.bodies("zed@localhost");
    assert!(r[0].starts_with("可以加入的群"), "{r:?}");
    assert!(
        r[0].contains("lobby@groups.localhost — Lobby（公开，3 位成员）"),
        "{r:?}"
    );
    t.xml(&format!(
        "<message xmlns='jabber:component:accept' from='root@localhost/r' to='{D}' type='chat' id='s2' xml:lang='zh'><body>//newgroup tea open</body></message>"
    ));
    assert_eq!(
        t.bodies("root@localhost"),
        ["好的，已创建 tea@groups.localhost（公开）。把它加为联系人即可加入。"]
    );
}

#[test]
fn route_commands_answer_in_the_admins_language() {
    let mut t = three();
    t.cmd("alice", "//lang zh");
    assert_eq!(
        t.cmd("alice", "//routes"),
        "还没有路由。用 //addroutesend 和 //addrouterecv 创建。"
    );
    let r = t.cmd("alice", "//addrouterecv near password1");
    assert_eq!(r, "好的，路由 near 通过 POST /routes/lobby/near 接收消息。");
    let r = t.cmd(
        "alice",
        "//addroutesend far - https://hooks.example/x slack",
    );
    assert!(
        r.starts_with("好的，路由 far 会把群里的每条消息发送到"),
        "{r}"
    );
    assert!(t
        .cmd("alice", "//routes")
        .contains("接收 near ← POST /routes/lobby/near — 上次收到：无"));
    assert_eq!(t.cmd("alice", "//delroute near"), "好的，已删除路由 near。");
    t.cmd("alice", "//lang en");
    let r = t.cmd("alice", "//addroutesend x - https://hooks.example/y slack");
    assert!(!r.contains("  ") && r.ends_with("(slack)."), "{r}");
    let r = t.cmd(
        "alice",
        "//addroutesend y password1 https://hooks.example/z slack",
    );
    assert!(
        r.ends_with("(slack) (this format does not use the password)."),
        "{r}"
    );
}

#[test]
fn bridge_and_room_commands_answer_in_the_admins_language() {
    let mut t = three();
    t.cmd("alice", "//lang zh");
    assert_eq!(
        t.cmd("alice", "//bridges"),
        "还没有桥接。用 //addbridge 创建。"
    );
    assert_eq!(
        t.cmd("alice", "//mucs"),
        "还没有房间桥接。用 //addmuc 创建。"
    );
    let r = t.cmd("alice", "//addmuc tea tea@conference.example.org");
    assert!(
        r.starts_with("好的，已添加房间桥接 tea：正在以昵称 Lobby 加入"),
        "{r}"
    );
    let r = t.cmd("alice", "//mucs");
    assert!(
        r.starts_with("Lobby 的房间桥接：\ntea（tea@conference.example.org）："),
        "{r}"
    );
    assert_eq!(
        t.cmd("alice", "//delbridge tea"),
        "tea 是房间桥接，请用 //delmuc tea 删除。"
    );
    assert_eq!(t.cmd("alice", "//delmuc tea"), "好的，已删除房间桥接 tea。");
    let r = t.cmd(
        "alice",
        "//addbridge gc googlechat webhook=https://chat.googleapis.com/v1/spaces/x/messages?key=k",
    );
    assert!(
        r.starts_with("好的，已添加桥接 gc（googlechat）。该桥接只发送、不接收消息"),
        "{r}"
    );
}

#[test]
fn a_refusal_of_arguments_is_said_in_the_senders_language() {
    let mut t = three();
    t.cmd("bob", "//lang zh");
    assert_eq!(
        t.cmd("bob", "//setid no/slash"),
        "ID 不可用：请用 1–32 个 A-Z a-z 0-9 _ . - 字符\n用法：//setid ID — 设置你的 ID（只能设置一次）"
    );
    assert!(t
        .cmd("alice", "//addroutesend far pw123456 https://x.example/ y")
        .starts_with("Unknown format y"));
}

#[test]
fn the_status_line_is_in_each_members_language() {
    let mut t = three();
    t.cmd("bob", "//lang zh");
    t.join("dora");
    t.later(10_000).input(Input::Tick);
    let status = |t: &T, to: &str| -> Vec<String> {
        t.sent()
            .into_iter()
            .filter(|e| e.name() == "presence" && e.attr("to") == Some(to))
            .filter_map(|e| e.get_child("status", crate::core::stanza::NS_COMPONENT))
            .map(|s| s.text())
            .collect()
    };
    assert_eq!(status(&t, B), ["Lobby — 4/4 人在线"]);
    assert_eq!(status(&t, C), ["Lobby — 4 of 4 online"]);
    assert_eq!(t.fanouts, 2, "one presence per language");
    // A change of language shows at once (after the settling), the
    // counts unchanged; the others are not sent it again.
    t.later(10_000).cmd("carol", "//lang zh");
    t.later(10_000).input(Input::Tick);
    assert_eq!(status(&t, C), ["Lobby — 4/4 人在线"]);
    assert!(status(&t, B).is_empty() && status(&t, A).is_empty());
    // Choosing the language already in use changes nothing.
    t.later(10_000).cmd("carol", "//lang zh");
    t.later(10_000).input(Input::Tick);
    assert!(status(&t, C).is_empty());
}

#[test]
fn an_english_xml_lang_does_not_outweigh_the_groups_language() {
    // Most libraries stamp `en` on every stream: a Chinese group stays
    // Chinese for them; only //lang en makes it English.
    let mut t = zh_service("");
    t.join("alice");
    assert!(say_in(&mut t, "alice", "en", "//help").starts_with("命令列表："));
    t.cmd("alice", "//lang en");
    assert!(say_in(&mut t, "alice", "zh-CN", "//help").starts_with("Commands:"));
    // A Chinese client in an English group reads Chinese, until its
    // client says English again.
    let mut t = three();
    assert!(say_in(&mut t, "bob", "zh", "//help").starts_with("命令列表："));
    assert!(
        t.cmd("bob", "//help").starts_with("命令列表："),
        "remembered"
    );
    assert!(say_in(&mut t, "bob", "en-GB", "//help").starts_with("Commands:"));
    // The bare domain: an `en` stream does not outweigh `[service] lang`.
    let mut t = zh_service("");
    t.xml(&format!(
        "<message xmlns='jabber:component:accept' from='zed@localhost/r' to='{D}' type='chat' id='d1' xml:lang='en'><body>hello</body></message>"
    ));
    let b = t.bodies("zed@localhost");
    assert!(
        b[0].chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
        "{b:?}"
    );
}
