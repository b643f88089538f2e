//! No sentence a member can read lives in the code: every one is in the
//! message files (`locales/*.ftl`). This reads every source file, takes
//! each string literal outside comments and tests, and fails on any that
//! reads as English words, unless it is in a place listed below as not
//! for members (the log, the operator's command line and config file,
//! answers to programs), each with its reason.

use std::path::{Path, PathBuf};

/// Whole files whose texts are for programs or the operator, not for
/// members.
const NOT_FOR_MEMBERS: &[(&str, &str)] = &[
    ("src/main.rs", "the command line's help and errors, for the operator"),
    ("src/config.rs", "config file errors, for the operator at start"),
    ("src/core/api.rs", "the operations API: programs parse its messages, which stay English (docs/api.md)"),
    ("src/core/openapi.rs", "the OpenAPI document, for API clients"),
    ("src/core/webhook.rs", "HTTP answers to webhook callers (programs)"),
    ("src/core/route.rs", "HTTP answers to other talkgroups instances (programs)"),
    ("src/core/bridge.rs", "HTTP answers to the chat platforms' servers"),
    ("src/core/platform/slack.rs", "parsing Slack's callbacks; answers go to Slack's servers"),
    ("src/core/platform/telegram.rs", "parsing Telegram's callbacks; answers go to Telegram"),
    ("src/core/platform/feishu.rs", "parsing Feishu/Lark's callbacks; answers go to Feishu"),
    ("src/core/platform/wecom.rs", "parsing WeCom's callbacks; answers go to WeCom"),
    ("src/core/platform/dingtalk.rs", "parsing DingTalk's callbacks; answers go to DingTalk"),
    ("src/core/platform/googlechat.rs", "Google Chat's request format"),
    ("src/core/platform/crypto.rs", "the platforms' cryptography"),
    ("src/core/avatar.rs", "errors about [[group]] avatar, for the operator"),
    ("src/http.rs", "HTTP statuses for programs, and the metrics' help lines"),
    ("src/store/", "SQL, and database errors for the log and the token command line"),
    ("src/xmpp/mod.rs", "connection errors, for the log"),
    ("src/xmpp/session.rs", "connection errors, for the log"),
    ("src/wire.rs", "stream errors, for the log"),
    ("src/sender.rs", "a delivery's error as the HTTP client reports it: shown as it came, like the remote server's answer"),
];

/// Calls whose texts are not for members, wherever they are.
const NOT_FOR_MEMBERS_CALLS: &[(&str, &str)] = &[
    ("trace!", "the log"),
    ("debug!", "the log"),
    ("info!", "the log"),
    ("warn!", "the log"),
    ("error!", "the log"),
    ("expect", "a panic"),
    ("unreachable!", "a panic"),
    ("panic!", "a panic"),
    ("assert!", "a panic"),
    ("assert_eq!", "a panic"),
    ("debug_assert!", "a panic"),
    ("bail!", "an error for the operator"),
    ("anyhow!", "an error for the operator"),
    ("context", "an error for the operator"),
    ("with_context", "an error for the operator"),
    (
        "spec",
        "a command's syntax: its name and placeholders, alike in every language",
    ),
    ("refuse", "an HTTP answer to a chat platform's server"),
    ("Ignore", "an HTTP answer to a chat platform's server"),
    ("fail_replies", "an HTTP answer to a program"),
    ("hmac_sha256_tag", "a key derivation label"),
];

/// Texts that are not words for a reader: formats, XML, protocol names.
fn is_prose(s: &str) -> bool {
    if s.contains('<') || s.contains("xmlns") || s.contains("://") || s.starts_with("//") {
        return false;
    }
    let words: Vec<&str> = s.split_whitespace().collect();
    words.windows(2).any(|w| {
        let word =
            |x: &str| x.len() >= 2 && x.chars().all(|c| c.is_ascii_alphabetic() || c == '\'');
        word(w[0].trim_end_matches([',', '.', ':', ';']))
            && word(w[1].trim_end_matches([',', '.', ':', ';']))
    })
}

/// A string literal: where it starts in the code, and its text.
struct Literal {
    at: usize,
    line: usize,
    text: String,
}

/// The code without comments (replaced by spaces) and its string
/// literals (their text left in the code as spaces).
fn lex(src: &str) -> (Vec<char>, Vec<Literal>) {
    let b: Vec<char> = src.chars().collect();
    let mut code: Vec<char> = Vec::with_capacity(src.len());
    let mut lits = Vec::new();
    let (mut i, mut line) = (0, 1);
    let blank = |code: &mut Vec<char>, c: char| code.push(if c == '\n' { '\n' } else { ' ' });
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied().unwrap_or('\0');
        if c == '/' && next == '/' {
            while i < b.len() && b[i] != '\n' {
                blank(&mut code, b[i]);
                i += 1;
            }
        } else if c == '/' && next == '*' {
            while i < b.len() && !(b[i] == '*' && b.get(i + 1) == Some(&'/')) {
                if b[i] == '\n' {
                    line += 1;
                }
                blank(&mut code, b[i]);
                i += 1;
            }
            code.extend([' ', ' ']);
            i += 2;
        } else if c == '"'
            || (c == 'r' && (next == '"' || next == '#') && !ident(b.get(i.wrapping_sub(1))))
        {
            // "…", r"…", r#"…"#
            let raw = c == 'r';
            let start = code.len();
            let mut hashes = 0;
            if raw {
                blank(&mut code, 'r');
                i += 1;
                while b.get(i) == Some(&'#') {
                    hashes += 1;
                    blank(&mut code, '#');
                    i += 1;
                }
            }
            if b.get(i) != Some(&'"') {
                continue;
            }
            blank(&mut code, '"');
            i += 1;
            let first_line = line;
            let mut text = String::new();
            while i < b.len() {
                if !raw && b[i] == '\\' {
                    text.push(b[i]);
                    text.push(*b.get(i + 1).unwrap_or(&' '));
                    blank(&mut code, ' ');
                    blank(&mut code, b.get(i + 1).copied().unwrap_or(' '));
                    if b.get(i + 1) == Some(&'\n') {
                        line += 1;
                    }
                    i += 2;
                    continue;
                }
                if b[i] == '"' && (0..hashes).all(|k| b.get(i + 1 + k) == Some(&'#')) {
                    break;
                }
                if b[i] == '\n' {
                    line += 1;
                }
                text.push(b[i]);
                blank(&mut code, b[i]);
                i += 1;
            }
            for _ in 0..=hashes {
                blank(&mut code, '"');
            }
            i += 1 + hashes;
            lits.push(Literal {
                at: start,
                line: first_line,
                text,
            });
        } else if c == '\'' && (b.get(i + 2) == Some(&'\'') || next == '\\') {
            // A char literal ('"', '\''), not a lifetime.
            let end = (i + 1..b.len())
                .find(|&k| b[k] == '\'' && (k > i + 2 || b[k - 1] != '\\'))
                .unwrap_or(i);
            for _ in i..=end {
                blank(&mut code, ' ');
            }
            i = end + 1;
        } else {
            if c == '\n' {
                line += 1;
            }
            code.push(c);
            i += 1;
        }
    }
    (code, lits)
}

fn ident(c: Option<&char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || *c == '_')
}

/// The names of the calls around position `at` (innermost first).
fn callers(code: &[char], at: usize) -> Vec<String> {
    let mut names = Vec::new();
    let mut depth = 0i32;
    let mut i = at;
    while i > 0 && names.len() < 4 {
        i -= 1;
        match code[i] {
            ')' | ']' | '}' => depth += 1,
            '(' | '[' | '{' if depth > 0 => depth -= 1,
            '(' => {
                let mut j = i;
                while j > 0 && code[j - 1] == ' ' {
                    j -= 1;
                }
                let end = j;
                while j > 0 && (ident(Some(&code[j - 1])) || code[j - 1] == '!') {
                    j -= 1;
                }
                names.push(code[j..end].iter().collect());
            }
            '{' | '[' => {}
            ';' if depth == 0 => break,
            _ => {}
        }
    }
    names
}

/// The code before the first `#[cfg(test)]` that opens a module block:
/// tests keep to the end of a file here.
fn without_tests(src: &str) -> &str {
    let mut from = 0;
    while let Some(k) = src[from..].find("#[cfg(test)]") {
        let at = from + k;
        let rest = src[at + 12..].trim_start();
        if rest.starts_with("mod ") && rest.split('\n').next().is_some_and(|l| l.contains('{')) {
            return &src[..at];
        }
        from = at + 12;
    }
    src
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read src").flatten() {
        let p = e.path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn no_sentence_for_members_is_left_in_the_code() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    files.sort();
    let mut found = Vec::new();
    let mut scanned = 0;
    for f in &files {
        let rel = f
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let name = f.file_name().unwrap().to_string_lossy();
        let listed = |p: &str| p == rel || (p.ends_with('/') && rel.starts_with(p));
        if name.starts_with("tests") || NOT_FOR_MEMBERS.iter().any(|(p, _)| listed(p)) {
            continue;
        }
        scanned += 1;
        let src = std::fs::read_to_string(f).unwrap();
        let (code, lits) = lex(without_tests(&src));
        for l in lits {
            if !is_prose(&l.text) {
                continue;
            }
            let calls = callers(&code, l.at);
            if calls
                .iter()
                .any(|c| NOT_FOR_MEMBERS_CALLS.iter().any(|(n, _)| n == c))
            {
                continue;
            }
            found.push(format!("{rel}:{}: {:?} (in {calls:?})", l.line, l.text));
        }
    }
    assert!(scanned > 30, "only {scanned} files scanned");
    assert!(
        found.is_empty(),
        "English in the code; put it in locales/*.ftl and name it with t!:\n{}",
        found.join("\n")
    );
}

/// The scan finds what it should (else the test above proves nothing).
#[test]
fn the_scan_sees_sentences_and_skips_the_log() {
    let src = r##"
        fn f() {
            // "a comment is not a reply"
            let a = format!("Hello there, {}", x);
            tracing::warn!(n, "the log may say things");
            let b = "<iq xmlns='jabber:client' type='get'/>";
            let c = '"'; let d = "x y";
            say(r#"a raw one here"#);
        }
        #[cfg(test)]
        mod tests { fn g() { h("test words here"); } }
    "##;
    let (code, lits) = lex(without_tests(src));
    let prose: Vec<(String, Vec<String>)> = lits
        .iter()
        .filter(|l| is_prose(&l.text))
        .map(|l| (l.text.clone(), callers(&code, l.at)))
        .collect();
    let texts: Vec<&str> = prose.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(
        texts,
        [
            "Hello there, {}",
            "the log may say things",
            "a raw one here"
        ]
    );
    assert_eq!(prose[0].1[0], "format!");
    assert!(prose[1].1.contains(&"warn!".to_string()));
    assert_eq!(prose[2].1[0], "say");
}
