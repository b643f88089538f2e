//! The web admin page in a real headless browser: Debian's Chromium driven
//! through ChromeDriver (WebDriver) by `fantoccini`, against the real
//! binary and a real Prosody, with real XMPP clients seeing the effects.
//!
//! A bad token is refused on the page; a good one (typed, then through
//! `#token=`) shows the groups; approving a pending member sends their
//! client `subscribed`; an announcement reaches the members; a member's
//! message appears live. At desktop and phone sizes the page is
//! screenshotted (under the target's test temp dir, `admin-*.png`) and
//! checked not to overflow sideways. Chromium and ChromeDriver must be
//! installed (`.ci/run` installs them); without them this test fails.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use support::{
    ask_to_join, body_of, free_port, is_from_bare, join, port_accepts, Prosody, Talkgroups,
};
use talkgroups_testkit::Guard;

const T: Duration = Duration::from_secs(10);
const LOBBY: &str = "lobby@groups.localhost";

fn bin(name: &str, env: &str) -> String {
    std::env::var(env).unwrap_or_else(|_| name.to_string())
}

/// ChromeDriver on a loopback port, stopped with the guard.
fn chromedriver() -> (Guard, u16) {
    let port = free_port();
    let exe = bin("chromedriver", "CHROMEDRIVER_BIN");
    let child = Command::new(&exe)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run {exe} ({e}): install chromium and chromium-driver (.ci/run does)")
        });
    let guard = Guard::new(child);
    let deadline = Instant::now() + T;
    while !port_accepts(port) {
        assert!(Instant::now() < deadline, "chromedriver did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    (guard, port)
}

async fn browser(port: u16, profile: &std::path::Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": bin("/usr/bin/chromium", "CHROMIUM_BIN"),
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--no-first-run", "--lang=en-US",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("WebDriver session")
}

/// Waits until `script` (a JS expression) is truthy; panics with `what`.
async fn until(c: &Client, script: &str, what: &str) {
    let deadline = Instant::now() + T;
    loop {
        let v = c
            .execute(&format!("return !!({script});"), vec![])
            .await
            .expect("execute");
        if v.as_bool() == Some(true) {
            return;
        }
        if Instant::now() > deadline {
            let text = c
                .execute("return document.body.innerText;", vec![])
                .await
                .unwrap_or_default();
            panic!("the page never showed {what}; it reads:\n{text}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the element `id` shows `needle` (no quotes in either).
async fn until_text(c: &Client, id: &str, needle: &str, what: &str) {
    let script = format!("(document.getElementById('{id}').innerText || '').includes('{needle}')");
    until(c, &script, what).await;
}

async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("admin-{name}.png"));
    std::fs::write(&path, png).expect("write screenshot");
    eprintln!("screenshot: {}", path.display());
}

/// Nothing sticks out sideways: usable without horizontal scrolling.
async fn fits_width(c: &Client, size: &str) {
    let v = c
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await
        .expect("execute");
    let (scroll, inner) = (v[0].as_i64().unwrap_or(0), v[1].as_i64().unwrap_or(0));
    assert!(
        scroll <= inner,
        "{size}: the page is {scroll} px wide in a {inner} px window"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_page_in_a_real_browser() {
    let p = Prosody::start(&[(support::COMPONENT, support::SECRET)]);
    let http = free_port();
    let tg = Talkgroups::start(
        &p,
        &format!(
            "[http]\nlisten = \"127.0.0.1:{http}\"\n\n[[group]]\nname = \"lobby\"\ntitle = \"The lobby\"\njoin = \"approve\"\nadmins = [\"ann@localhost\"]\n"
        ),
    );
    let (ok, token, err) = tg.token(&["add", "--scope", "service", "--label", "web"]);
    assert!(ok, "{err}");

    let mut ann = join(&p, "ann", LOBBY).await; // a config admin: in at once
    let mut bob = ask_to_join(&p, "bob", LOBBY).await;
    ann.drain_for(Duration::from_millis(300)).await;

    let (_driver, port) = chromedriver();
    let profile = tempfile::tempdir().expect("profile dir");
    let c = browser(port, profile.path()).await;
    c.set_window_size(1280, 900).await.expect("window size");
    let page = format!("http://127.0.0.1:{http}/admin/");

    // A wrong token, typed and sent with the keyboard alone: refused.
    c.goto(&page).await.expect("goto");
    until(
        &c,
        "document.activeElement && document.activeElement.id === 'token'",
        "the token field focused",
    )
    .await;
    let field = c.find(Locator::Id("token")).await.expect("token field");
    field
        .send_keys(&format!("tg_not_a_token{}", char::from(Key::Enter)))
        .await
        .expect("type");
    until_text(&c, "login-error", "not accepted", "the refusal").await;
    assert!(!c.current_url().await.unwrap().as_str().contains("tg_"));
    screenshot(&c, "desktop-bad-token").await;

    // The right one, typed: the groups.
    let field = c.find(Locator::Id("token")).await.expect("token field");
    field
        .send_keys(&format!("{token}{}", char::from(Key::Enter)))
        .await
        .expect("type");
    until_text(&c, "groups-table", "The lobby", "the groups").await;
    let row = c
        .find(Locator::Css("#groups-table tbody tr"))
        .await
        .expect("a group row")
        .text()
        .await
        .unwrap();
    assert!(
        row.contains("lobby") && row.contains("on approval"),
        "{row}"
    );

    // A fresh tab of the page with the token in the fragment, which never
    // reaches the server and leaves the address bar at once.
    c.execute("sessionStorage.clear();", vec![]).await.unwrap();
    c.goto(&format!("{page}#token={token}"))
        .await
        .expect("goto");
    until_text(&c, "groups-table", "The lobby", "the groups again").await;
    assert!(!c.current_url().await.unwrap().as_str().contains(&token));

    // The group; bob waits; approve him with the keyboard.
    // The table may be drawn again (a refresh) between finding the link
    // and clicking it: find it afresh until a click lands.
    let mut tries = 0;
    loop {
        let link = c
            .find(Locator::LinkText("lobby"))
            .await
            .expect("the group's link");
        match link.click().await {
            Ok(_) => break,
            Err(e) if tries < 20 => {
                tries += 1;
                eprintln!("click again: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("the group's link cannot be clicked: {e}"),
        }
    }
    until_text(&c, "pending", "bob@localhost", "bob pending").await;
    until_text(&c, "live-state", "Live", "the live stream").await;
    screenshot(&c, "desktop-group").await;
    let approve = c
        .find(Locator::Css("#pending button"))
        .await
        .expect("an approve button");
    assert_eq!(approve.text().await.unwrap(), "Approve");
    approve
        .send_keys(&char::from(Key::Enter).to_string())
        .await
        .unwrap();
    bob.wait_for(T, |e| {
        e.name() == "presence" && is_from_bare(e, LOBBY) && e.attr("type") == Some("subscribed")
    })
    .await;
    until_text(&c, "pending", "No one is waiting", "an empty pending list").await;
    until_text(&c, "members-table", "bob@localhost", "bob a member").await;

    // An announcement, said by the group to its members.
    let box_ = c.find(Locator::Id("announce-body")).await.unwrap();
    box_.send_keys("Meeting at noon in room 4").await.unwrap();
    c.find(Locator::Css("#announce-form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let got = ann
        .wait_for(T, |e| {
            is_from_bare(e, LOBBY) && body_of(e).is_some_and(|b| b.contains("Meeting at noon"))
        })
        .await;
    assert!(body_of(&got).unwrap().contains("Meeting at noon in room 4"));
    until_text(&c, "notice", "Announcement sent", "the confirmation").await;

    // A member's message arrives on the page by itself, as text.
    ann.send_message(LOBBY, "hello from <b>ann</b>").await;
    until_text(
        &c,
        "messages",
        "hello from <b>ann</b>",
        "ann's live message",
    )
    .await;
    assert_eq!(
        c.execute(
            "return document.querySelectorAll('#messages .body *').length;",
            vec![]
        )
        .await
        .unwrap()
        .as_i64(),
        Some(0),
        "a message is text, never markup"
    );
    fits_width(&c, "desktop").await;
    screenshot(&c, "desktop-live").await;

    // A phone: the same page, one column, nothing wider than the screen.
    c.set_window_size(390, 844).await.expect("phone size");
    tokio::time::sleep(Duration::from_millis(300)).await;
    fits_width(&c, "phone").await;
    screenshot(&c, "phone-group").await;
    c.goto(&format!("{page}#/")).await.unwrap();
    until_text(&c, "groups-table", "The lobby", "the groups on a phone").await;
    fits_width(&c, "phone, groups").await;
    screenshot(&c, "phone-groups").await;

    // Chinese, chosen on the page: the labels of the zh message file.
    c.execute(
        "const s = document.getElementById('lang'); s.value = 'zh'; s.dispatchEvent(new Event('change'));",
        vec![],
    )
    .await
    .unwrap();
    until_text(&c, "groups", "群列表", "the Chinese labels").await;
    until_text(
        &c,
        "groups-table",
        "需审核",
        "the joining policy in Chinese",
    )
    .await;
    let title = c.execute("return document.title;", vec![]).await.unwrap();
    assert_eq!(title.as_str(), Some("talkgroups 管理"));
    screenshot(&c, "phone-groups-zh").await;

    c.close().await.expect("close the browser");
}
