//! Ad-hoc commands (XEP-0050): the list by rights, `forbidden` for
//! others, forms, and each completed command's effect.

use super::*;
use crate::core::i18n::Lang;
use crate::core::stanza;

const CMDS: &str = "http://jabber.org/protocol/commands";

impl T {
    fn adhoc_items(&mut self, user: &str, to: &str) -> Vec<String> {
        self.xml(&format!(
            "<iq xmlns='jabber:component:accept' type='get' id='i1' from='{user}@localhost/r' to='{to}'>\
             <query xmlns='http://jabber.org/protocol/disco#items' node='{CMDS}'/></iq>"
        ));
        let r = self.first_to(&format!("{user}@localhost/r"));
        assert_eq!(r.attr("type"), Some("result"), "{r:?}");
        r.children()
            .flat_map(|q| q.children())
            .filter_map(|i| i.attr("node").map(str::to_string))
            .collect()
    }

    /// Executes `node`; with `fields`, submits them. The answer.
    fn adhoc(&mut self, user: &str, to: &str, node: &str, fields: Option<&str>) -> Element {
        let x = fields.map_or(String::new(), |f| {
            format!("<x xmlns='jabber:x:data' type='submit'>{f}</x>")
        });
        let action = if fields.is_some() {
            " action='complete' sessionid='s1'"
        } else {
            ""
        };
        self.xml(&format!(
            "<iq xmlns='jabber:component:accept' type='set' id='c1' from='{user}@localhost/r' to='{to}'>\
             <command xmlns='{CMDS}' node='{node}'{action}>{x}</command></iq>"
        ));
        self.first_to(&format!("{user}@localhost/r"))
    }
}

fn f(var: &str, vals: &[&str]) -> String {
    let v: String = vals.iter().map(|v| format!("<value>{v}</value>")).collect();
    format!("<field var='{var}'>{v}</field>")
}

fn adhoc_group() -> T {
    let mut t = T::new(
        "[[group]]\nname = \"lobby\"\ntitle = \"Lobby\"\njoin = \"approve\"\nadmins = [\"alice@localhost\"]\n",
    );
    t.join("alice");
    t.cmd("alice", "//add bob@localhost");
    t.join("bob");
    t
}

#[test]
fn the_list_follows_rights_and_others_get_forbidden() {
    let mut t = adhoc_group();
    let a = t.adhoc_items("alice", G);
    assert_eq!(
        a,
        ["approve", "remove", "mute", "edit", "announce", "settings"]
    );
    let b = t.adhoc_items("bob", G);
    assert_eq!(b, ["settings"]);
    assert!(t.adhoc_items("root", D) == ["create", "delete"]);
    assert!(t.adhoc_items("bob", D).is_empty());
    let r = t.adhoc("bob", G, "announce", None);
    assert_eq!(r.attr("type"), Some("error"));
    assert!(format!("{r:?}").contains("forbidden"), "{r:?}");
    let r = t.adhoc("bob", G, "announce", Some(&f("body", &["hi all"])));
    assert!(
        format!("{r:?}").contains("forbidden"),
        "submitting does not help"
    );
    assert!(t.bodies(A).is_empty());
    let r = t.adhoc("alice", G, "nosuch", None);
    assert!(format!("{r:?}").contains("item-not-found"));
}

#[test]
fn completed_commands_do_what_their_commands_do() {
    let mut t = adhoc_group();
    // The form first, then the announcement.
    let r = t.adhoc("alice", G, "announce", None);
    let c = r.get_child("command", CMDS).expect("command");
    assert_eq!(c.attr("status"), Some("executing"));
    assert!(c.get_child("x", "jabber:x:data").is_some());
    let r = t.adhoc(
        "alice",
        G,
        "announce",
        Some(&f("body", &["maintenance tonight"])),
    );
    let c = r.get_child("command", CMDS).expect("command");
    assert_eq!(c.attr("status"), Some("completed"));
    assert!(c.get_child("note", CMDS).is_some());
    assert_eq!(t.bodies(B), ["maintenance tonight"]);
    assert!(t
        .stores()
        .iter()
        .any(|s| matches!(s, StoreOp::AppendHistory(h) if h.text == "maintenance tonight")));
    // Approving a pending request.
    t.pres("carol@localhost", G, Some("subscribe"));
    assert_eq!(t.member_state("carol"), Some(MemberState::Pending));
    let r = t.adhoc("alice", G, "approve", None);
    assert!(
        format!("{r:?}").contains("carol@localhost"),
        "the form lists it"
    );
    t.adhoc(
        "alice",
        G,
        "approve",
        Some(&f("jids", &["carol@localhost"])),
    );
    assert_eq!(t.member_state("carol"), Some(MemberState::Member));
    // Muting.
    t.adhoc(
        "alice",
        G,
        "mute",
        Some(&(f("jid", &["bob@localhost"]) + &f("muted", &["1"]))),
    );
    assert!(t.core.groups["lobby"].members["bob@localhost"].rec.muted);
    // Editing the group.
    let r = t.adhoc(
        "alice",
        G,
        "edit",
        Some(&(f("title", &["Front room"]) + &f("join", &["open"]))),
    );
    assert!(format!("{r:?}").contains("completed"), "{r:?}");
    assert_eq!(t.core.groups["lobby"].title, "Front room");
    let r = t.adhoc(
        "alice",
        G,
        "edit",
        Some(&(f("title", &[""]) + &f("join", &["never"]))),
    );
    assert_eq!(
        r.attr("type"),
        Some("error"),
        "a bad value is refused: {r:?}"
    );
    // A member's own settings.
    t.adhoc("bob", G, "settings", Some(&f("nick", &["robert"])));
    assert_eq!(
        t.core.groups["lobby"].members["bob@localhost"].rec.nick,
        "robert"
    );
    // Removing and blacklisting.
    t.adhoc(
        "alice",
        G,
        "remove",
        Some(&(f("jid", &["carol@localhost"]) + &f("how", &["blacklist"]))),
    );
    assert!(t.core.groups["lobby"].blacklist.contains("carol@localhost"));
    // Service admins create and delete groups.
    let r = t.adhoc(
        "root",
        D,
        "create",
        Some(&(f("name", &["den"]) + &f("title", &["The Den"]) + &f("join", &["open"]))),
    );
    assert!(format!("{r:?}").contains("completed"), "{r:?}");
    assert_eq!(t.core.groups["den"].title, "The Den");
    t.adhoc("root", D, "delete", Some(&f("group", &["den"])));
    assert!(!t.core.groups.contains_key("den"));
    // Cancelled: nothing.
    t.xml(&format!(
        "<iq xmlns='jabber:component:accept' type='set' id='c2' from='alice@localhost/r' to='{G}'>\
         <command xmlns='{CMDS}' node='announce' action='cancel' sessionid='s1'/></iq>"
    ));
    assert!(format!("{:?}", t.first_to("alice@localhost/r")).contains("canceled"));
}

/// The text of every `label`, `title`, `instructions` and `note` in `el`.
fn texts(el: &Element) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(l) = el.attr("label").or(el.attr("name")) {
        v.push(l.to_string());
    }
    if matches!(el.name(), "title" | "instructions" | "note" | "text") {
        v.push(el.text());
    }
    for c in el.children() {
        v.extend(texts(c));
    }
    v
}

#[test]
fn forms_lists_and_errors_speak_the_askers_language() {
    let mut t = adhoc_group();
    // Bob chose Chinese: his form is in Chinese, his language preselected.
    t.cmd("bob", "//lang zh");
    let r = t.adhoc("bob", G, "settings", None);
    let all = texts(&r);
    for want in ["我的设置", "昵称", "暂停（秒）", "语言", "跟随客户端"] {
        assert!(all.iter().any(|s| s == want), "{want} in {all:?}");
    }
    let chosen = (r
        .children()
        .flat_map(|c| c.children())
        .flat_map(|x| x.children()))
    .find(|f| f.attr("var") == Some("lang"))
    .and_then(|f| f.children().find(|v| v.name() == "value"))
    .map(Element::text);
    assert_eq!(chosen.as_deref(), Some("zh"));
    // His refusals too, marked as Chinese.
    let r = t.adhoc("bob", G, "announce", None);
    let error = stanza::child(&r, "error", stanza::NS_COMPONENT).unwrap();
    let text = stanza::child(error, "text", stanza::NS_STANZAS).unwrap();
    assert_eq!(text.text(), "这个命令只有本群管理员能用。");
    assert_eq!(crate::core::i18n::stanza_lang(text), Some(Lang::Zh));
    // Alice chose nothing: her iq's xml:lang decides.
    t.xml(&format!(
        "<iq xmlns='jabber:component:accept' type='get' id='i2' xml:lang='zh-CN' from='alice@localhost/r' to='{G}'>\
         <query xmlns='http://jabber.org/protocol/disco#items' node='{CMDS}'/></iq>"
    ));
    let r = t.first_to("alice@localhost/r");
    let names = texts(&r);
    assert!(names.contains(&"审核入群申请".to_string()), "{names:?}");
    // Without one, the group's language (English here).
    let r = t.adhoc("alice", G, "edit", None);
    assert!(texts(&r).contains(&"Edit the group".to_string()));
    let r = t.adhoc("alice", G, "announce", Some(&f("body", &[" "])));
    assert!(
        texts(&r).contains(&"The announcement is empty.".to_string()),
        "{r:?}"
    );
}

#[test]
fn my_settings_sets_the_language_of_replies() {
    let mut t = adhoc_group();
    let r = t.adhoc("bob", G, "settings", Some(&f("lang", &["zh"])));
    assert_eq!(r.attr("type"), Some("result"), "{r:?}");
    assert!(
        texts(&r).iter().any(|s| s == "好的，以后用中文回复你。"),
        "{r:?}"
    );
    assert!(t.cmd("bob", "//help").starts_with("命令列表："));
    // The same choice again changes nothing; auto ends it.
    let r = t.adhoc("bob", G, "settings", Some(&f("lang", &["zh"])));
    assert!(texts(&r).iter().any(|s| s == "没有任何改动。"), "{r:?}");
    t.adhoc("bob", G, "settings", Some(&f("lang", &["auto"])));
    assert!(t.cmd("bob", "//help").starts_with("Commands:"));
    let r = t.adhoc("bob", G, "settings", Some(&f("lang", &["fr"])));
    assert_eq!(r.attr("type"), Some("error"));
    assert!(
        texts(&r)
            .iter()
            .any(|s| s == "The language is auto, en or zh."),
        "{r:?}"
    );
}
