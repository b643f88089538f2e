//! Bridges end to end: the real talkgroups binary as a component of a
//! real Prosody or ejabberd (each scenario runs against both), real c2s
//! members, and for each platform a local emulator (tests/support/
//! platforms.rs, written from the platforms' documentation) that calls
//! the bridge's inbound URL signed and encrypted as the platform does and
//! receives the bridge's posts, checking their shape and signatures.
//!
//! Per platform: the URL handshake, a member's message reaching the
//! platform once, the platform's message reaching every member once, a
//! retried event not relayed twice, forged and stale calls refused with
//! 401 and no effect, the bridge's own post echoed back ignored, and
//! (where the platform has them) edits as XEP-0308 corrections. Then the
//! outbox: the platform down, talkgroups restarted, the platform back:
//! everything arrives, in order; and a rate-limited platform gets merged
//! posts. Last, a group with two bridges and a send route: what comes in
//! on one goes out on the others, once, and never back.

mod support;

use std::time::Duration;

use support::platforms::{
    self, Call, Dingtalk, Feishu, Mode, Platform, PlatformServer, ServerConfig, Slack, Telegram,
    Wecom,
};
use support::{body_of, free_port, is_from_bare, join, Kind, Server, Talkgroups, TestClient};

const T: Duration = Duration::from_secs(10);
const QUIET: Duration = Duration::from_millis(1200);
const G: &str = "lobby@groups.localhost";

support::for_each_server!(
    slack_both_ways,
    feishu_both_ways,
    lark_without_encryption,
    wecom_both_ways,
    dingtalk_both_ways,
    telegram_both_ways,
    googlechat_sends,
    outbox_survives_a_platform_down_and_a_restart_in_order,
    a_rate_limited_platform_gets_merged_posts,
    bridges_and_routes_forward_to_each_other_never_back,
);

/// WeCom's own sample key (43 characters, non-zero trailing bits).
const WECOM_KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";

fn start(p: &Server, http: u16, bridge: &str) -> Talkgroups {
    Talkgroups::start(
        p,
        &format!(
            "[http]\nlisten = \"127.0.0.1:{http}\"\n[relay]\nburst = 100\n\n[[group]]\nname = \"lobby\"\ntitle = \"Lobby\"\njoin = \"open\"\nadmins = [\"ann@localhost\"]\n\n{bridge}"
        ),
    )
}

/// Every message body from the group within `quiet` of the last.
async fn bodies(c: &mut TestClient, quiet: Duration) -> Vec<String> {
    c.drain_for(quiet)
        .await
        .iter()
        .filter(|e| e.name() == "message" && is_from_bare(e, G))
        .filter_map(body_of)
        .collect()
}

struct Setup {
    p: Server,
    tg: Talkgroups,
    emu: PlatformServer,
    url: String,
    http: reqwest::Client,
    ann: TestClient,
    bob: TestClient,
}

async fn setup(kind: Kind, cfg: ServerConfig, bridge: impl Fn(&PlatformServer) -> String) -> Setup {
    let p = Server::start(kind, &[("groups.localhost", support::SECRET)]);
    let emu = PlatformServer::start_with(cfg, free_port()).await;
    let http = free_port();
    let tg = start(&p, http, &bridge(&emu));
    let mut ann = join(&p, "ann", G).await;
    let mut bob = join(&p, "bob", G).await;
    for c in [&mut ann, &mut bob] {
        c.drain_for(Duration::from_millis(300)).await;
    }
    Setup {
        p,
        tg,
        emu,
        url: format!("http://127.0.0.1:{http}/bridges/lobby/{}", "b"),
        http: reqwest::Client::new(),
        ann,
        bob,
    }
}

impl Setup {
    async fn send(&self, call: &Call) -> (u16, String) {
        platforms::send(&self.http, &self.url, call).await
    }

    /// A member's message reaches the platform exactly once.
    async fn member_to_platform(&mut self) {
        self.ann.send_message(G, "hello platform").await;
        assert_eq!(bodies(&mut self.bob, QUIET).await, ["[ann] hello platform"]);
        let posts = self.emu.wait_for(1, T).await;
        assert_eq!(posts.len(), 1, "{posts:?}");
        assert_eq!(posts[0].text, "[ann] hello platform");
        tokio::time::sleep(QUIET).await;
        assert_eq!(self.emu.posts().len(), 1, "posted twice");
        self.emu.assert_no_violations();
    }

    /// The platform's message reaches both members once, and its retry
    /// is not relayed again.
    async fn platform_to_members(&mut self, call: &Call, nick: &str, text: &str) {
        let (status, body) = self.send(call).await;
        assert_eq!(status, 200, "{body}");
        let want = format!("[{nick}@b] {text}");
        assert_eq!(
            bodies(&mut self.ann, QUIET).await,
            std::slice::from_ref(&want)
        );
        assert_eq!(bodies(&mut self.bob, QUIET).await, [want]);
        let (status, body) = self.send(call).await;
        assert_eq!(status, 200, "a retry: {body}");
        assert!(
            bodies(&mut self.ann, QUIET).await.is_empty(),
            "relayed twice"
        );
        // Not back to the platform it came from.
        assert_eq!(self.emu.posts().len(), 1, "{:?}", self.emu.texts());
    }

    /// A call that must be refused with `status` and change nothing.
    async fn refused(&mut self, call: &Call, status: u16, what: &str) {
        let (s, body) = self.send(call).await;
        assert_eq!(s, status, "{what}: {body}");
        assert!(
            bodies(&mut self.ann, Duration::from_millis(400))
                .await
                .is_empty(),
            "{what} was relayed"
        );
    }

    /// An authentic call that is answered 200 and relays nothing.
    async fn ignored(&mut self, call: &Call, what: &str) {
        self.refused(call, 200, what).await;
    }

    /// The history shows the platform's line once.
    async fn history_has(&mut self, line: &str) {
        self.ann.send_message(G, "//history 5").await;
        let h = self.ann.expect_body_from(G, T).await;
        assert_eq!(h.matches(line).count(), 1, "{h}");
    }
}

/// `/metrics` of the instance whose bridge URL is `url`.
async fn metrics(url: &str) -> String {
    let u = url.replace("/bridges/lobby/b", "/metrics");
    reqwest::get(u).await.unwrap().text().await.unwrap()
}

/// A platform edit arrives as a correction of each member's copy.
async fn expect_correction(c: &mut TestClient, line: &str) {
    let got = c.drain_for(QUIET).await;
    let m: Vec<_> = got
        .iter()
        .filter(|e| e.name() == "message" && is_from_bare(e, G))
        .collect();
    assert_eq!(m.len(), 1, "{got:?}");
    assert_eq!(body_of(m[0]).as_deref(), Some(line));
    let replace = m[0]
        .get_child("replace", "urn:xmpp:message-correct:0")
        .and_then(|r| r.attr("id"))
        .unwrap_or_default();
    assert!(replace.starts_with("tgm-"), "not a correction: {m:?}");
}

async fn slack_both_ways(kind: Kind) {
    let secret = "8f742231b10e8888abcd99yyyzzz85a5";
    let mut s = setup(kind, ServerConfig::new(Platform::Slack), |emu| {
        format!(
            "[[bridge]]\ngroup = \"lobby\"\nname = \"b\"\nplatform = \"slack\"\nsigning_secret = \"{secret}\"\nwebhook = \"{}\"\n",
            emu.webhook_url()
        )
    })
    .await;
    let slack = Slack::new(secret);
    let (st, body) = s
        .send(&slack.verification("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"))
        .await;
    assert_eq!(st, 200);
    assert!(
        body.contains("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"),
        "{body}"
    );
    s.member_to_platform().await;
    let msg = slack.message("Ev01", "carla", "hi from slack");
    s.platform_to_members(&msg, "carla", "hi from slack").await;
    s.history_has("[carla@b] hi from slack").await;
    s.refused(&slack.forged("Ev02", "mallory", "forged"), 401, "forged")
        .await;
    s.refused(&slack.stale("Ev03", "mallory", "stale"), 401, "stale")
        .await;
    s.refused(
        &msg.clone().with_body("{\"type\":\"event_callback\"}"),
        401,
        "tampered",
    )
    .await;
    s.ignored(&slack.own_post_echo("Ev04", "[ann] hello platform"), "echo")
        .await;
    s.ignored(
        &slack.own_post_echo_bot_user("Ev05", "[ann] hello platform"),
        "echo",
    )
    .await;
    s.ignored(&slack.join_event("Ev06", "dan"), "join").await;
    // An edit of the message members got: a correction of their copy.
    let edit = slack.edit("Ev07", &msg.message_id, "carla", "hi from slack, edited");
    assert_eq!(s.send(&edit).await.0, 200);
    expect_correction(&mut s.ann, "[carla@b] hi from slack, edited").await;
    expect_correction(&mut s.bob, "[carla@b] hi from slack, edited").await;
    // Metrics count by platform and outcome, with no secret.
    let m = metrics(&s.url).await;
    assert!(
        m.contains("talkgroups_bridge_inbound_total{platform=\"slack\",outcome=\"relayed\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("talkgroups_bridge_inbound_total{platform=\"slack\",outcome=\"duplicate\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("talkgroups_bridge_inbound_total{platform=\"slack\",outcome=\"rejected\"} 3"),
        "{m}"
    );
    assert!(!m.contains(secret) && !m.contains("emulatorwebhooktoken"));
    assert!(!s.tg.log().contains(secret) && !s.tg.log().contains("emulatorwebhooktoken"));
    drop(s.p);
}

async fn feishu_both_ways(kind: Kind) {
    let (token, key) = ("v-token-1234", "feishu encrypt key");
    let mut s = setup(
        kind,
        ServerConfig::new(Platform::Feishu).webhook_secret("hook-secret"),
        |emu| {
            format!(
                "[[bridge]]\ngroup = \"lobby\"\nname = \"b\"\nplatform = \"feishu\"\nverification_token = \"{token}\"\nencrypt_key = \"{key}\"\nwebhook = \"{}\"\nwebhook_secret = \"hook-secret\"\n",
                emu.webhook_url()
            )
        },
    )
    .await;
    let f = Feishu::new(token, Some(key));
    let (st, body) = s.send(&f.verification("challenge-f1")).await;
    assert_eq!((st, body.contains("challenge-f1")), (200, true), "{body}");
    s.refused(
        &f.verification_forged("challenge-f2"),
        401,
        "forged challenge",
    )
    .await;
    s.member_to_platform().await;
    let msg = f.message("evf-1", "u_carla", "hi from feishu");
    s.platform_to_members(&msg, "u_carla", "hi from feishu")
        .await;
    s.refused(&f.forged("evf-2", "mallory", "x"), 401, "bad signature")
        .await;
    s.refused(&f.forged_token("evf-3", "mallory", "x"), 401, "bad token")
        .await;
    s.ignored(&f.own_post_echo("evf-4", "[ann] hello platform"), "echo")
        .await;
    s.ignored(&f.join_event("evf-5", "dan"), "join").await;
    drop(s.p);
}

async fn lark_without_encryption(kind: Kind) {
    let token = "lark-token-5678";
    let mut s = setup(kind, ServerConfig::new(Platform::Lark), |emu| {
        format!(
            "[[bridge]]\ngroup = \"lobby\"\nname = \"b\"\nplatform = \"lark\"\nverification_token = \"{token}\"\nwebhook = \"{}\"\n",
            emu.webhook_url()
        )
    })
    .await;
    let f = Feishu::new(token, None);
    let (st, body) = s.send(&f.verification("challenge-l1")).await;
    assert_eq!((st, body.contains("challenge-l1")), (200, true), "{body}");
    s.member_to_platform().await;
    let msg = f.message("evl-1", "u_carla", "hi from lark");
    s.platform_to_members(&msg, "u_carla", "hi from lark").await;
    s.refused(&f.forged_token("evl-2", "mallory", "x"), 401, "bad token")
        .await;
    drop(s.p);
}

async fn wecom_both_ways(kind: Kind) {
    let token = "QDG6eK";
    let mut s = setup(kind, ServerConfig::new(Platform::Wecom), |emu| {
        format!(
            "[[bridge]]\ngroup = \"lobby\"\nname = \"b\"\nplatform = \"wecom\"\ntoken = \"{token}\"\nencoding_aes_key = \"{WECOM_KEY}\"\nwebhook = \"{}\"\n",
            emu.webhook_url()
        )
    })
    .await;
    let w = Wecom::new(token, WECOM_KEY, "");
    let (st, body) = s.send(&w.verification("echo-1616140317555161061")).await;
    assert_eq!((st, body.as_str()), (200, "echo-1616140317555161061"));
    s.refused(&w.verification_forged("echo-2"), 401, "forged echostr")
        .await;
    s.member_to_platform().await;
    let msg = w.message("wmsg-1", "carla", "hi from wecom");
    s.platform_to_members(&msg, "carla", "hi from wecom").await;
    s.refused(&w.forged("wmsg-2", "mallory", "x"), 401, "forged")
        .await;
    s.refused(
        &w.lying_length("wmsg-3", "mallory", "x"),
        400,
        "lying length",
    )
    .await;
    s.refused(&w.garbage(), 400, "garbage").await;
    s.ignored(&w.join_event("wmsg-4", "dan"), "enter_chat")
        .await;
    drop(s.p);
}

async fn dingtalk_both_ways(kind: Kind) {
    let secret = "ding-app-secret";
    let mut s = setup(
        kind,
        ServerConfig::new(Platform::Dingtalk).webhook_secret("SECding"),
        |emu| {
            format!(
                "[[bridge]]\ngroup = \"lobby\"\nname = \"b\"\nplatform = \"dingtalk\"\napp_secret = \"{secret}\"\nwebhook = \"{}\"\nwebhook_secret = \"SECding\"\n",
                emu.webhook_url()
            )
        },
    )
    .await;
    let d = Dingtalk::new(secret);
    s.member_to_platform().await;
    let msg = d.message("dmsg-1", "Carla", "hi from dingtalk");
    s.platform_to_members(&msg, "Carla", "hi from dingtalk")
        .await;
    s.refused(&d.forged("dmsg-2", "mallory", "x"), 401, "forged")
        .await;
    s.refused(&d.stale("dmsg-3", "mallory", "x"), 401, "stale")
        .await;
    s.ignored(&d.non_text("dmsg-4", "Carla"), "a picture").await;
    drop(s.p);
}

async fn telegram_both_ways(kind: Kind) {
    let chat = -1001234567890i64;
    let mut s = setup(
        kind,
        ServerConfig::new(Platform::Telegram)
            .bot_token("123456:ABC-emulator")
            .channel(&chat.to_string()),
        |emu| {
            format!(
                "[[bridge]]\ngroup = \"lobby\"\nname = \"b\"\nplatform = \"telegram\"\nbot_token = \"123456:ABC-emulator\"\nchat_id = \"{chat}\"\nsecret_token = \"tg-secret_token-1\"\napi = \"{}\"\n",
                emu.api_url()
            )
        },
    )
    .await;
    let t = Telegram::new("tg-secret_token-1", chat);
    s.member_to_platform().await;
    let msg = t.message(7001, "carla", "hi from telegram");
    s.platform_to_members(&msg, "carla", "hi from telegram")
        .await;
    s.refused(&t.forged(7002, "mallory", "x"), 401, "forged")
        .await;
    s.refused(&t.unsigned(7003, "mallory", "x"), 401, "unsigned")
        .await;
    s.ignored(&t.own_post_echo(7004, "[ann] hello platform"), "echo")
        .await;
    s.ignored(&t.join_event(7005, "dan"), "join").await;
    let edit = t.edit(7006, &msg.message_id, "carla", "edited on telegram");
    assert_eq!(s.send(&edit).await.0, 200);
    expect_correction(&mut s.ann, "[carla@b] edited on telegram").await;
    expect_correction(&mut s.bob, "[carla@b] edited on telegram").await;
    drop(s.p);
}

async fn googlechat_sends(kind: Kind) {
    let mut s = setup(kind, ServerConfig::new(Platform::GoogleChat), |emu| {
        format!(
            "[[bridge]]\ngroup = \"lobby\"\nname = \"b\"\nplatform = \"googlechat\"\nwebhook = \"{}\"\n",
            emu.webhook_url()
        )
    })
    .await;
    s.member_to_platform().await;
    // Send only: a call in is not accepted and changes nothing.
    let (st, _) = platforms::send(
        &s.http,
        &s.url,
        &Call {
            method: reqwest::Method::POST,
            path_and_query: String::new(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: b"{\"text\":\"hi\"}".to_vec(),
            message_id: String::new(),
        },
    )
    .await;
    assert_eq!(st, 405);
    drop(s.p);
}

async fn outbox_survives_a_platform_down_and_a_restart_in_order(kind: Kind) {
    let chat = -100777i64;
    let mut s = setup(
        kind,
        ServerConfig::new(Platform::Telegram)
            .bot_token("42:down-test")
            .channel(&chat.to_string()),
        |emu| {
            format!(
                "[[bridge]]\ngroup = \"lobby\"\nname = \"b\"\nplatform = \"telegram\"\nbot_token = \"42:down-test\"\nchat_id = \"{chat}\"\nsecret_token = \"secret-secret\"\napi = \"{}\"\nrate = \"1000/1s\"\n",
                emu.api_url()
            )
        },
    )
    .await;
    s.emu.set_mode(Mode::Down);
    for i in 1..=5 {
        s.ann.send_message(G, &format!("queued {i}")).await;
    }
    assert_eq!(bodies(&mut s.bob, QUIET).await.len(), 5);
    assert!(s.emu.down_refused() > 0, "never tried");
    assert_eq!(s.tg.stop(), Some(0));
    s.tg.restart();
    s.emu.set_mode(Mode::Normal);
    // The backoff may be a few seconds by now.
    let posts = s.emu.wait_for(1, Duration::from_secs(20)).await;
    assert!(!posts.is_empty());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let lines: Vec<String> = s
        .emu
        .texts()
        .iter()
        .flat_map(|t| t.lines().map(str::to_string).collect::<Vec<_>>())
        .collect();
    let want: Vec<String> = (1..=5).map(|i| format!("[ann] queued {i}")).collect();
    assert_eq!(lines, want, "lost, doubled or out of order");
    s.emu.assert_no_violations();
    drop(s.p);
}

async fn a_rate_limited_platform_gets_merged_posts(kind: Kind) {
    // WeCom's group bots take 20 posts a minute; here 2 per 3 s, so that a
    // burst of 12 must go as merged posts.
    let mut s = setup(
        kind,
        ServerConfig::new(Platform::Wecom).rate(2, Duration::from_secs(3)),
        |emu| {
            format!(
                "[[bridge]]\ngroup = \"lobby\"\nname = \"b\"\nplatform = \"wecom\"\ntoken = \"tok\"\nencoding_aes_key = \"{WECOM_KEY}\"\nwebhook = \"{}\"\nrate = \"2/3s\"\n",
                emu.webhook_url()
            )
        },
    )
    .await;
    s.emu.set_mode(Mode::RateLimit);
    for i in 1..=12 {
        s.ann.send_message(G, &format!("burst {i:02}")).await;
    }
    assert_eq!(bodies(&mut s.bob, QUIET).await.len(), 12);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let want: Vec<String> = (1..=12).map(|i| format!("[ann] burst {i:02}")).collect();
    let lines = loop {
        let lines: Vec<String> = (s.emu.texts().iter())
            .flat_map(|t| t.lines().map(str::to_string).collect::<Vec<_>>())
            .collect();
        if lines.len() >= 12 || tokio::time::Instant::now() > deadline {
            break lines;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        lines,
        want,
        "posts {:?}, violations {:?}",
        s.emu.texts(),
        s.emu.violations()
    );
    let posts = s.emu.posts().len();
    assert!((2..12).contains(&posts), "{posts} posts: not merged");
    assert_eq!(s.emu.rate_limited(), 0, "went over the platform's rate");
    s.emu.assert_no_violations();
    let m = metrics(&s.url).await;
    assert!(
        m.contains("talkgroups_bridge_merged_posts_total{platform=\"wecom\"}"),
        "{m}"
    );
    drop(s.p);
}

async fn bridges_and_routes_forward_to_each_other_never_back(kind: Kind) {
    let p = Server::start(kind, &[("groups.localhost", support::SECRET)]);
    let slack_emu =
        PlatformServer::start_with(ServerConfig::new(Platform::Slack), free_port()).await;
    let chat = -100555i64;
    let tg_emu = PlatformServer::start_with(
        ServerConfig::new(Platform::Telegram)
            .bot_token("7:fwd")
            .channel(&chat.to_string()),
        free_port(),
    )
    .await;
    let sink_port = free_port();
    let sink = support::sink::Sink::start(sink_port).await;
    let http = free_port();
    let secret = "slack-signing-secret-fwd";
    let _tg = start(
        &p,
        http,
        &format!(
            "[[bridge]]\ngroup = \"lobby\"\nname = \"sl\"\nplatform = \"slack\"\nsigning_secret = \"{secret}\"\nwebhook = \"{}\"\n\n\
             [[bridge]]\ngroup = \"lobby\"\nname = \"tg\"\nplatform = \"telegram\"\nbot_token = \"7:fwd\"\nchat_id = \"{chat}\"\nsecret_token = \"tg-fwd-secret\"\napi = \"{}\"\n",
            slack_emu.webhook_url(),
            tg_emu.api_url()
        ),
    );
    let mut ann = join(&p, "ann", G).await;
    ann.drain_for(Duration::from_millis(300)).await;
    ann.send_message(
        G,
        &format!("//addroutesend far password1 http://127.0.0.1:{sink_port}/routes/lobby/near"),
    )
    .await;
    let ok = ann.expect_body_from(G, T).await;
    assert!(ok.starts_with("OK"), "{ok}");
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{http}/bridges/lobby");

    // Slack → members, Telegram and the route; not back to Slack.
    let slack = Slack::new(secret);
    let (st, body) = platforms::send(
        &client,
        &format!("{base}/sl"),
        &slack.message("EvF1", "carla", "from slack"),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(bodies(&mut ann, QUIET).await, ["[carla@sl] from slack"]);
    // Telegram → members, Slack and the route; not back to Telegram.
    let t = Telegram::new("tg-fwd-secret", chat);
    let (st, body) = platforms::send(
        &client,
        &format!("{base}/tg"),
        &t.message(9001, "dora", "from telegram"),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(bodies(&mut ann, QUIET).await, ["[dora@tg] from telegram"]);

    let slack_posts = slack_emu.wait_for(1, T).await;
    let tg_posts = tg_emu.wait_for(1, T).await;
    sink.wait_for(2, T).await;
    tokio::time::sleep(QUIET).await;
    assert_eq!(slack_posts.len(), 1);
    assert_eq!(slack_emu.texts(), ["[dora@tg] from telegram"], "Slack");
    assert_eq!(tg_posts.len(), 1);
    assert_eq!(tg_emu.texts(), ["[carla@sl] from slack"], "Telegram");
    let hits = sink.hits();
    let got: Vec<(String, String)> = hits
        .iter()
        .map(|h| {
            let j = h.json();
            (
                j["nick"].as_str().unwrap_or_default().to_string(),
                j["body"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("carla".to_string(), "from slack".to_string()),
            ("dora".to_string(), "from telegram".to_string())
        ],
        "the route (native: the receiving instance adds its own label)"
    );
    for h in &hits {
        assert_eq!(h.json()["origin"], G);
    }
    slack_emu.assert_no_violations();
    tg_emu.assert_no_violations();
    drop(p);
}
