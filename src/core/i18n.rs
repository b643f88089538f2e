//! What members read, in English or Chinese (Project Fluent): one message
//! file per language, `locales/en.ftl` and `locales/zh.ftl`, built into
//! the binary. Code names a message by its id ([`t!`]); the files hold
//! every sentence.

use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};

/// A language replies can be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    #[default]
    En,
    Zh,
}

const EN: &str = include_str!("../../locales/en.ftl");
const ZH: &str = include_str!("../../locales/zh.ftl");

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Zh];

    /// `en`, `zh` and their regional forms (`zh-CN`, `zh_TW`, `en-GB`),
    /// in any case; anything else is `None`.
    pub fn parse(s: &str) -> Option<Lang> {
        let s = s.trim().to_ascii_lowercase();
        let base = s.split(['-', '_']).next().unwrap_or_default();
        match base {
            "en" => Some(Lang::En),
            "zh" => Some(Lang::Zh),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }

    fn source(self) -> &'static str {
        match self {
            Lang::En => EN,
            Lang::Zh => ZH,
        }
    }
}

type Bundle = FluentBundle<FluentResource>;

fn bundle(lang: Lang) -> &'static Bundle {
    static BUNDLES: OnceLock<[Bundle; 2]> = OnceLock::new();
    let all = BUNDLES.get_or_init(|| Lang::ALL.map(make));
    &all[lang as usize]
}

fn make(lang: Lang) -> Bundle {
    let id = match lang {
        Lang::En => unic_langid::langid!("en"),
        Lang::Zh => unic_langid::langid!("zh"),
    };
    let mut b = FluentBundle::new_concurrent(vec![id]);
    // No Unicode isolation marks around values: JIDs and nicks are
    // copied out of chat windows, and the marks would travel with them.
    b.set_use_isolating(false);
    // The files are part of the binary and a test parses both: an error
    // here is a build defect, and the messages that did parse still work.
    let res = FluentResource::try_new(lang.source().to_string()).unwrap_or_else(|(r, _)| r);
    let _ = b.add_resource(res);
    b
}

/// Message `id` in `lang` (English when `lang` lacks it; the id itself
/// when English does too, which a test rules out).
pub fn tr(lang: Lang, id: &str, args: Option<&FluentArgs>) -> String {
    for l in [lang, Lang::En] {
        let b = bundle(l);
        if let Some(p) = b.get_message(id).and_then(|m| m.value()) {
            let mut errors = Vec::new();
            return b.format_pattern(p, args, &mut errors).into_owned();
        }
    }
    id.to_string()
}

/// A sentence made before its reader's language is known (a refused
/// argument, why a room was not joined): message `id` and its arguments,
/// put into words by [`Msg::text`] for each reader. `Display` is the
/// English, for the log and the operator's config errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    pub id: &'static str,
    pub args: Vec<(&'static str, String)>,
}

impl Msg {
    pub fn new(id: &'static str, args: &[(&'static str, &str)]) -> Msg {
        Msg {
            id,
            args: args.iter().map(|(k, v)| (*k, v.to_string())).collect(),
        }
    }

    pub fn text(&self, lang: Lang) -> String {
        let mut a = FluentArgs::new();
        for (k, v) in &self.args {
            a.set(*k, v.as_str());
        }
        tr(lang, self.id, Some(&a))
    }
}

impl std::fmt::Display for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text(Lang::En))
    }
}

/// `t!(lang, "id")` or `t!(lang, "id", name = value, …)`: message `id`
/// with those arguments (strings or numbers).
macro_rules! t {
    ($lang:expr, $id:expr) => {
        $crate::core::i18n::tr($lang, $id, None)
    };
    ($lang:expr, $id:expr, $($k:ident = $v:expr),+ $(,)?) => {{
        let mut args = fluent_bundle::FluentArgs::new();
        $( args.set(stringify!($k), fluent_bundle::FluentValue::from($v)); )+
        $crate::core::i18n::tr($lang, $id, Some(&args))
    }};
}
pub(crate) use t;

/// A stanza's `xml:lang`, when replies exist in it.
pub fn stanza_lang(el: &minidom::Element) -> Option<Lang> {
    el.attr_ns(&minidom::rxml::Namespace::XML, "lang")
        .and_then(Lang::parse)
}

/// What a stanza's `xml:lang` says about the person who sent it: a
/// language other than English, or nothing. English is what most XMPP
/// libraries put on every stream when the user chose nothing (tokio-xmpp
/// and libstrophe, so profanity, always send `en`), so it does not
/// outweigh a group's or the service's language; a client only sends
/// Chinese when it is set to Chinese. `//lang en` says English for sure.
pub fn client_lang(el: &minidom::Element) -> Option<Lang> {
    stanza_lang(el).filter(|l| *l != Lang::En)
}

/// See [`super::Core::group_lang`] (for code that holds the groups
/// mutably).
pub(crate) fn group_lang(cfg: &super::CoreConfig, group: &str) -> Lang {
    (cfg.groups.iter())
        .find(|g| g.name == group)
        .map_or(cfg.lang, |g| g.lang)
}

/// Why a member reads the language they do (`//lang` says).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LangSource {
    Chosen,
    Client,
    Group,
}

impl super::Core {
    /// `[[group]] lang`, else `[service] lang` (groups made by command).
    pub(crate) fn group_lang(&self, group: &str) -> Lang {
        group_lang(&self.cfg, group)
    }

    /// The language of what `jid` reads from `group`, and why: their
    /// `//lang`, else their client's, else the group's.
    pub(crate) fn lang_and_source(&self, group: &str, jid: &str) -> (Lang, LangSource) {
        let m = self.groups.get(group).and_then(|g| g.members.get(jid));
        if let Some(l) = m.and_then(|m| m.rec.lang) {
            return (l, LangSource::Chosen);
        }
        if let Some(l) = m.and_then(|m| m.client_lang) {
            return (l, LangSource::Client);
        }
        (self.group_lang(group), LangSource::Group)
    }

    /// The language to answer stanza `el` from `jid` in (an error, a
    /// form): their `//lang`, else the stanza's `xml:lang`, else their
    /// client's last, else the group's; outside a group, the stanza's or
    /// `[service] lang`.
    pub(crate) fn answer_lang(
        &self,
        group: Option<&str>,
        jid: &str,
        el: &minidom::Element,
    ) -> Lang {
        let Some(g) = group else {
            return client_lang(el).unwrap_or(self.cfg.lang);
        };
        match self.lang_and_source(g, jid) {
            (l, LangSource::Chosen) => l,
            (l, _) => client_lang(el).unwrap_or(l),
        }
    }

    pub(crate) fn lang_of(&self, group: &str, jid: &str) -> Lang {
        self.lang_and_source(group, jid).0
    }
}

/// The web page's labels (the `web-` messages) in every language, as
/// JSON: `{"en": {"sign_in": "Sign in", …}, "zh": {…}}`, keys with `_`
/// for `-`. A variable stays in the text as `{name}`, for the page to
/// fill in.
pub fn web_strings() -> String {
    let mut all = serde_json::Map::new();
    for lang in Lang::ALL {
        let res = FluentResource::try_new(lang.source().to_string()).unwrap_or_else(|(r, _)| r);
        let mut strings = serde_json::Map::new();
        for e in res.entries() {
            let fluent_syntax::ast::Entry::Message(m) = e else {
                continue;
            };
            let Some(key) = m.id.name.strip_prefix("web-") else {
                continue;
            };
            let mut args = FluentArgs::new();
            for v in m.value.iter().flat_map(variables) {
                args.set(v, format!("{{{v}}}"));
            }
            let text = tr(lang, m.id.name, Some(&args));
            strings.insert(key.replace('-', "_"), text.into());
        }
        all.insert(lang.code().into(), strings.into());
    }
    serde_json::Value::Object(all).to_string()
}

/// The variables a pattern's placeables name (`{ $jid }`).
fn variables<'a>(p: &'a fluent_syntax::ast::Pattern<&'a str>) -> Vec<&'a str> {
    use fluent_syntax::ast::{Expression, InlineExpression, PatternElement};
    p.elements
        .iter()
        .filter_map(|e| match e {
            PatternElement::Placeable {
                expression: Expression::Inline(InlineExpression::VariableReference { id }),
            } => Some(id.name),
            _ => None,
        })
        .collect()
}

/// The ids a message file defines.
pub fn ids(lang: Lang) -> Vec<String> {
    let res = FluentResource::try_new(lang.source().to_string()).unwrap_or_else(|(r, _)| r);
    res.entries()
        .filter_map(|e| match e {
            fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_string()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_files_parse_and_define_the_same_ids() {
        for l in Lang::ALL {
            if let Err((_, errors)) = FluentResource::try_new(l.source().to_string()) {
                panic!("locales/{}.ftl: {errors:?}", l.code());
            }
        }
        let (en, zh) = (ids(Lang::En), ids(Lang::Zh));
        let only_en: Vec<&String> = en.iter().filter(|i| !zh.contains(i)).collect();
        let only_zh: Vec<&String> = zh.iter().filter(|i| !en.contains(i)).collect();
        assert!(only_en.is_empty(), "missing in zh.ftl: {only_en:?}");
        assert!(only_zh.is_empty(), "missing in en.ftl: {only_zh:?}");
        let mut sorted = en.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), en.len(), "an id defined twice");
    }

    #[test]
    fn every_message_formats_in_both_languages_without_errors() {
        for l in Lang::ALL {
            let b = bundle(l);
            for id in ids(l) {
                let p = b.get_message(&id).and_then(|m| m.value());
                assert!(p.is_some(), "{}: {id} has no value", l.code());
            }
        }
    }

    #[test]
    fn languages_by_tag() {
        assert_eq!(Lang::parse("zh-CN"), Some(Lang::Zh));
        assert_eq!(Lang::parse("ZH_tw"), Some(Lang::Zh));
        assert_eq!(Lang::parse("en-GB"), Some(Lang::En));
        assert_eq!(Lang::parse("fr"), None);
        let zh = t!(Lang::Zh, "lang-set", lang = "中文");
        assert!(zh.contains("中文") && !zh.contains('\u{2068}'), "{zh}");
    }
}
