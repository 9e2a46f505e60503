//! Abuse: what one connection may ask of an instance is bounded (events per second,
//! handlers in flight, rooms, connections, WebSocket message size), acks are never
//! evicted by broadcasts, and unknown events or wrong shapes get a typed answer.
//!
//! The flood and the oversized frames run against `arena demo` (instances as separate
//! processes), so `/status`'s `rssBytes` is the instance's own memory and not this test
//! process's. The figures are printed (`--nocapture`):
//! `cargo test --test it intake -- --nocapture --test-threads 1`.

use std::time::{Duration, Instant};

use arena::base::clock::unix_ms;
use arena::tools::client::{Client, ClientError, socket_url};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::harness::demo::Demo;
use crate::harness::{Arena, RoomsClient, eventually, redis};

const WAIT: Duration = Duration::from_secs(5);

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A raw WebSocket connected to the default namespace as `player` (open and connect
/// packets read).
async fn raw(base: &str, player: &str) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(socket_url(base).unwrap())
        .await
        .unwrap();
    ws.next().await.unwrap().unwrap(); // open
    ws.send(Message::text(format!(r#"40{{"player":"{player}"}}"#)))
        .await
        .unwrap();
    loop {
        let m = ws.next().await.unwrap().unwrap();
        match m.to_text().unwrap() {
            "2" => ws.send(Message::text("3")).await.unwrap(),
            t if t.starts_with("40") => return ws,
            t => panic!("expected the connect packet, got {t:?}"),
        }
    }
}

/// Read and drop everything until the connection ends.
fn drain(mut rx: SplitStream<Ws>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move { while let Some(Ok(_)) = rx.next().await {} })
}

/// Read until the connection ends (close frame, error or EOF); false if it is still open
/// after `within`.
async fn ends_within(ws: &mut Ws, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return false,
            Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => return true,
            Ok(Some(Ok(_))) => continue,
        }
    }
}

/// `/status` of a demo instance.
async fn status(addr: &str) -> Value {
    let (code, body) = arena::tools::http_client::http_get(addr, "/status")
        .await
        .unwrap();
    assert_eq!(code, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

async fn rss_mb(addr: &str) -> f64 {
    status(addr).await["rssBytes"].as_f64().unwrap() / 1e6
}

/// One metric series of a demo instance (0 if absent).
async fn metric(addr: &str, series: &str) -> f64 {
    let (_, body) = arena::tools::http_client::http_get(addr, "/metrics")
        .await
        .unwrap();
    body.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|r| r.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// Send up to `n` attacks to room `flood` at about `per_s`, for at most `within`; stops
/// when the connection is closed. Every other one asks an ack when `acks`. Returns the
/// number sent.
async fn flood(
    mut tx: SplitSink<Ws, Message>,
    n: usize,
    per_s: usize,
    within: Duration,
    acks: bool,
) -> usize {
    let started = Instant::now();
    let batch = per_s / 100; // one batch every 10 ms
    let mut sent = 0;
    'outer: while sent < n && started.elapsed() < within {
        for _ in 0..batch {
            let id = if acks && sent % 2 == 0 {
                sent.to_string()
            } else {
                String::new()
            };
            let m = format!(r#"42{id}["attack",{{"room":"flood","damage":1,"i":{sent}}}]"#);
            if tx.feed(Message::text(m)).await.is_err() {
                break 'outer;
            }
            sent += 1;
        }
        if tx.flush().await.is_err() {
            break;
        }
        let next = started + Duration::from_millis(10) * (sent / batch) as u32;
        tokio::time::sleep_until(next.into()).await;
    }
    sent
}

/// Finding 1: four sockets flooding small attacks (20k each, about 5k/s, no more than
/// 4 s) against one instance of two. The instance refuses what is over each connection's
/// rate (`rate_limited`, or dropped and counted), disconnects the four for flooding, and
/// meanwhile a quiet client's acks stay fast, ticks stay on time, and memory stays flat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timing_a_flood_from_four_sockets_is_refused_and_the_instance_stays_responsive() {
    const TICK_MS: u64 = 500;
    let demo = Demo::start(
        2,
        &[
            ("TICK_MS", "500"),
            ("LOCK_TTL_MS", "300"),
            ("SOCKET_FLOOD_SECS", "3"),
            ("RUST_LOG", "warn"),
        ],
    )
    .await;
    let (url, addr) = (demo.url(0), demo.addr(0));
    let quiet = Client::connect(&url, json!({"player": "quiet"}))
        .await
        .unwrap();
    assert_eq!(quiet.join("calm").await["ok"], json!(true));
    let mut ticks = Client::connect(&url, json!({"player": "ticks"}))
        .await
        .unwrap();
    // A member of the flooded room on the other instance: the flood crosses instances.
    let mut far = Client::connect(&demo.url(1), json!({"player": "far"}))
        .await
        .unwrap();
    assert_eq!(far.join("flood").await["ok"], json!(true));
    let far_reader =
        tokio::spawn(async move { far.collect("attack", Duration::from_secs(5)).await.len() });

    let mut flooders = Vec::new();
    for k in 0..4 {
        let ws = raw(&url, &format!("flooder{k}")).await;
        let (mut tx, rx) = ws.split();
        tx.send(Message::text(r#"42["join_room",{"room":"flood"}]"#))
            .await
            .unwrap();
        flooders.push((tx, drain(rx)));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut baseline: f64 = 0.0;
    for _ in 0..3 {
        baseline = baseline.max(rss_mb(&addr).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let flood_window = Duration::from_secs(4);
    let started = Instant::now();
    let floods: Vec<_> = flooders
        .into_iter()
        .enumerate()
        .map(|(k, (tx, reader))| {
            tokio::spawn(async move {
                let sent = flood(tx, 20_000, 5_000, flood_window, k % 2 == 0).await;
                reader.abort();
                (sent, started.elapsed())
            })
        })
        .collect();
    let sampler = {
        let addr = addr.clone();
        tokio::spawn(async move {
            let mut peak: f64 = 0.0;
            while started.elapsed() < flood_window + Duration::from_millis(500) {
                peak = peak.max(rss_mb(&addr).await);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            peak
        })
    };
    let started_ms = unix_ms();
    let tick_watch = tokio::spawn(async move {
        let mut seen = Vec::new();
        while started.elapsed() < flood_window {
            if let Ok(t) = ticks
                .next_event("server_tick", Duration::from_secs(2))
                .await
            {
                let n = t["tick"].as_u64().unwrap();
                // Ticks due before the flood were buffered by the client: not timed.
                if n * TICK_MS >= started_ms {
                    seen.push((n, unix_ms()));
                }
            }
        }
        seen
    });
    let mut latencies = Vec::new();
    while started.elapsed() < flood_window {
        let t = Instant::now();
        let ack = quiet.attack("calm", 1).await;
        assert_eq!(ack, json!({"ok": true}), "the quiet client's attack");
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (mut sent, mut flood_time) = (0, Duration::ZERO);
    for f in floods {
        let (n, t) = f.await.unwrap();
        sent += n;
        flood_time = flood_time.max(t);
    }
    let peak = sampler.await.unwrap();
    let seen = tick_watch.await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss_mb(&addr).await;
    let delivered_far = far_reader.await.unwrap();

    latencies.sort_by(f64::total_cmp);
    let p50 = percentile(&latencies, 0.5);
    let p99 = percentile(&latencies, 0.99);
    let lateness: Vec<u64> = seen
        .iter()
        .map(|(n, at)| at.saturating_sub(n * TICK_MS))
        .collect();
    let worst_tick = lateness.iter().copied().max().unwrap_or(u64::MAX);
    let refused = metric(&addr, r#"arena_events_refused_total{reason="rate"}"#).await;
    let disconnects = metric(&addr, "arena_flood_disconnects_total").await;
    let attacks = metric(&addr, "arena_attacks_total").await;
    println!(
        "flood: {sent} attacks sent by 4 sockets in {flood_time:?}; instance 0 accepted {attacks}, refused {refused} (rate), \
         disconnected {disconnects} for flooding; the far member got {delivered_far}; \
         rss {baseline:.1} MB before, {peak:.1} MB peak, {after:.1} MB after; \
         quiet acks: {} p50 {p50:.1} ms p99 {p99:.1} ms; ticks seen {} worst {worst_tick} ms late",
        latencies.len(),
        seen.len(),
    );

    assert!(refused > 0.0, "nothing refused");
    assert_eq!(
        disconnects, 4.0,
        "every flooder is disconnected for flooding"
    );
    assert!(
        attacks < (sent as f64) / 4.0,
        "most of the flood was refused: {attacks} of {sent} accepted"
    );
    // Measured on 2 cores: +2 to +4 MB at peak, the same a second later. The same flood
    // with the limits lifted (SOCKET_EVENT_RATE etc. at their maximum): 17 -> 122..209 MB
    // peak, 116..199 MB after, most quiet acks `unavailable`/`timeout`, p99 0.5..1.4 s.
    // 32 MB leaves room for allocator noise, not for a queue of 80k events.
    assert!(peak - baseline < 32.0, "rss {baseline:.1} -> {peak:.1} MB");
    assert!(
        after - baseline < 16.0,
        "rss {baseline:.1} -> {after:.1} MB after the flood"
    );
    assert!(latencies.len() > 50, "{} quiet acks", latencies.len());
    assert!(p99 < 100.0, "quiet client's ack p99 {p99:.1} ms");
    assert!(seen.len() >= 5, "ticks during the flood: {seen:?}");
    let (first, last) = (seen[0].0, seen[seen.len() - 1].0);
    assert_eq!(
        last - first + 1,
        seen.len() as u64,
        "an interval was not ticked: {seen:?}"
    );
    // Measured: 3 to 70 ms (with the limits lifted: up to 250 ms here; the issue saw 2 s
    // with eight flooders).
    assert!(
        worst_tick < 250,
        "a tick arrived {worst_tick} ms late: {lateness:?}"
    );
}

/// Finding 1, rooms: one socket asking to join 100k rooms is in 100 of them; every join
/// past `SOCKET_MAX_ROOMS` is refused with `too_many_rooms` (the event rate is opened up
/// here so that the room cap, not the rate, is what refuses).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_past_the_room_cap_are_refused() {
    let redis = redis();
    let arena = Arena::spawn_with(&redis.url(), 1, |c| {
        c.services.limits.socket_event_rate = 1_000_000;
        c.services.limits.socket_event_burst = 1_000_000;
        c.services.limits.socket_max_inflight = 4096;
    })
    .await;
    let c = arena[0].client("joiner").await;
    let started = Instant::now();
    let n = 100_000;
    let codes: Vec<String> = futures_util::stream::iter(0..n)
        .map(|i| {
            let c = &c;
            async move {
                let ack = c
                    .emit_with_ack(
                        "join_room",
                        &json!({"room": format!("r{i}")}),
                        Duration::from_secs(20),
                    )
                    .await
                    .unwrap();
                if ack["ok"] == json!(true) {
                    "ok".to_string()
                } else {
                    ack["error"]["code"].as_str().unwrap().to_string()
                }
            }
        })
        .buffer_unordered(1000)
        .collect()
        .await;
    let ok = codes.iter().filter(|c| *c == "ok").count();
    let capped = codes.iter().filter(|c| *c == "too_many_rooms").count();
    println!(
        "{n} joins in {:?}: {ok} ok, {capped} too_many_rooms",
        started.elapsed()
    );
    assert_eq!(ok, 100, "SOCKET_MAX_ROOMS is 100");
    assert_eq!(capped, n - 100);
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(
        arena[0]
            .metric(r#"arena_event_errors_total{code="too_many_rooms"}"#)
            .await,
        (n - 100) as f64
    );
    let ack = c.join("elsewhere").await;
    assert_eq!(ack["error"]["code"], json!("too_many_rooms"), "{ack}");
    assert!(
        ack["error"]["message"]
            .as_str()
            .unwrap()
            .contains("SOCKET_MAX_ROOMS")
    );
    // Joining a room it is in is fine; leaving one makes room for another.
    // (acks came back unordered: find a member by asking)
    let mut left = None;
    for i in 0..n {
        let room = format!("r{i}");
        if c.join(&room).await["ok"] == json!(true) {
            assert_eq!(c.leave(&room).await["ok"], json!(true));
            left = Some(room);
            break;
        }
    }
    assert!(left.is_some());
    assert_eq!(c.join("elsewhere").await["ok"], json!(true));
}

/// Finding 1, rate: a burst past SOCKET_EVENT_BURST gets `rate_limited` acks at once,
/// unacked events past it are dropped and counted, and the connection keeps working.
#[tokio::test]
async fn events_over_the_rate_get_rate_limited() {
    let redis = redis();
    let arena = Arena::spawn_with(&redis.url(), 1, |c| {
        c.services.limits.socket_event_rate = 5;
        c.services.limits.socket_event_burst = 10;
    })
    .await;
    let c = arena[0].client_in("eager", "r").await; // 1 token spent
    let acks = futures_util::future::join_all((0..20).map(|i| {
        let c = &c;
        async move {
            c.emit_with_ack("attack", &json!({"room": "r", "damage": 1, "i": i}), WAIT)
                .await
        }
    }))
    .await;
    let codes: Vec<Value> = acks
        .into_iter()
        .map(|a| a.unwrap()["error"]["code"].clone())
        .collect();
    let limited = codes
        .iter()
        .filter(|c| **c == json!("rate_limited"))
        .count();
    assert!((10..=11).contains(&limited), "{codes:?}");
    for _ in 0..30 {
        c.emit("attack", &json!({"room": "r", "damage": 1}))
            .unwrap();
    }
    eventually(WAIT, "unacked refusals to be counted", || async {
        (arena[0]
            .metric(r#"arena_events_refused_total{reason="rate"}"#)
            .await
            >= (limited + 25) as f64)
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        c.attack("r", 1).await,
        json!({"ok": true}),
        "the budget refills"
    );
}

/// Finding 1, in flight: while Redis hangs, a connection's handlers wait for it; past
/// SOCKET_MAX_INFLIGHT further events are refused at once instead of queued.
#[tokio::test]
async fn events_past_the_inflight_cap_are_refused_not_queued() {
    let redis = redis();
    let arena = Arena::spawn_with(&redis.url(), 1, |c| {
        c.services.limits.socket_max_inflight = 4;
    })
    .await;
    let c = arena[0].client_in("busy", "r").await;
    redis.sigstop();
    let acks = futures_util::future::join_all((0..10).map(|i| {
        let c = &c;
        async move {
            c.emit_with_ack("attack", &json!({"room": "r", "damage": 1, "i": i}), WAIT)
                .await
        }
    }))
    .await;
    redis.sigcont();
    let refused: Vec<Value> = acks
        .into_iter()
        .map(Result::unwrap)
        .filter(|a| a["error"]["code"] == json!("rate_limited"))
        .collect();
    assert_eq!(refused.len(), 6, "{refused:?}");
    assert!(
        refused[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("SOCKET_MAX_INFLIGHT"),
        "{refused:?}"
    );
    assert_eq!(
        arena[0]
            .metric(r#"arena_events_refused_total{reason="inflight"}"#)
            .await,
        6.0
    );
    eventually(Duration::from_secs(10), "attacks to work again", || async {
        (c.attack("r", 1).await == json!({"ok": true})).then_some(())
    })
    .await;
}

/// Finding 1, connections: past MAX_CONNECTIONS a handshake is refused with a connect
/// error whose message starts with `server_full`; a closed connection frees its place.
#[tokio::test]
async fn connections_past_the_instance_cap_are_refused_at_the_handshake() {
    let redis = redis();
    let arena = Arena::spawn_with(&redis.url(), 1, |c| {
        c.services.limits.max_connections = 3;
    })
    .await;
    let mut held = Vec::new();
    for i in 0..3 {
        held.push(arena[0].client(&format!("p{i}")).await);
    }
    let refused = Client::connect(&arena[0].url, json!({"player": "p3"})).await;
    match refused {
        Err(ClientError::Refused(m)) => assert!(m.starts_with("server_full: "), "{m}"),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("a fourth connection was accepted"),
    }
    assert_eq!(
        arena[0]
            .metric(r#"arena_connections_refused_total{reason="instance"}"#)
            .await,
        1.0
    );
    held.pop().unwrap().close();
    eventually(WAIT, "a freed place", || async {
        Client::connect(&arena[0].url, json!({"player": "p3"}))
            .await
            .ok()
    })
    .await;
}

/// Finding 1, per address: every client here comes from 127.0.0.1, so past
/// MAX_CONNECTIONS_PER_IP the next one is refused with `too_many_connections`.
#[tokio::test]
async fn connections_past_the_address_cap_are_refused_at_the_handshake() {
    let redis = redis();
    let arena = Arena::spawn_with(&redis.url(), 1, |c| {
        c.services.limits.max_connections_per_ip = 2;
    })
    .await;
    let _a = arena[0].client("a").await;
    let _b = arena[0].client("b").await;
    match Client::connect(&arena[0].url, json!({"player": "c"})).await {
        Err(ClientError::Refused(m)) => {
            assert!(m.starts_with("too_many_connections: "), "{m}");
            assert!(m.contains("127.0.0.1"), "{m}");
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("a third connection from one address was accepted"),
    }
    assert_eq!(
        arena[0]
            .metric(r#"arena_connections_refused_total{reason="address"}"#)
            .await,
        1.0
    );
}

/// Finding 2: over WebSocket, a 15 MB frame and a 20 MB message in 64 KB fragments close
/// the connection as soon as they pass the engine cap (4 x MAX_PAYLOAD_BYTES), before
/// they are buffered; the instance's memory does not move and other clients go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_websocket_frames_and_messages_close_the_connection_unbuffered() {
    let demo = Demo::start(1, &[("RUST_LOG", "warn")]).await;
    let (url, addr) = (demo.url(0), demo.addr(0));
    let mut bystander = Client::connect(&url, json!({"player": "bystander"}))
        .await
        .unwrap();
    assert_eq!(bystander.join("r").await["ok"], json!(true));
    let before = rss_mb(&addr).await;

    // One frame of 15 MB.
    let mut ws = raw(&url, "big").await;
    let started = Instant::now();
    let body = format!(
        r#"42["attack",{{"room":"r","damage":1,"blob":"{}"}}]"#,
        "x".repeat(15 << 20)
    );
    let sent = ws.send(Message::text(body)).await;
    let ended = sent.is_err() || ends_within(&mut ws, Duration::from_secs(5)).await;
    let frame_closed_in = started.elapsed();
    assert!(ended, "the connection stayed open after a 15 MB frame");

    // A 20 MB message in 64 KB fragments: refused once past the cap, not at its end.
    let mut ws = raw(&url, "fragments").await;
    let started = Instant::now();
    let chunk = "y".repeat(64 << 10);
    let mut sent_bytes = 0usize;
    let head = r#"42["attack",{"room":"r","damage":1,"blob":""#;
    let mut first = true;
    while sent_bytes < 20 << 20 {
        let (op, data) = if first {
            (OpCode::Data(Data::Text), format!("{head}{chunk}"))
        } else {
            (OpCode::Data(Data::Continue), chunk.clone())
        };
        first = false;
        let fin = sent_bytes + data.len() >= 20 << 20;
        if ws
            .send(Message::Frame(Frame::message(data.clone(), op, fin)))
            .await
            .is_err()
        {
            break;
        }
        sent_bytes += data.len();
        tokio::task::yield_now().await;
        if started.elapsed() > Duration::from_secs(5) {
            break;
        }
    }
    let ended = ends_within(&mut ws, Duration::from_secs(5)).await;
    let fragments_closed_in = started.elapsed();
    assert!(
        ended,
        "the connection stayed open during a 20 MB fragmented message"
    );
    assert!(sent_bytes < 20 << 20, "all 20 MB were accepted");
    let after = rss_mb(&addr).await;
    println!(
        "15 MB frame: closed in {frame_closed_in:?}; 20 MB fragmented: closed in \
         {fragments_closed_in:?} after {} KB were written; rss {before:.1} -> {after:.1} MB",
        sent_bytes >> 10
    );
    assert!(
        frame_closed_in < Duration::from_secs(3),
        "{frame_closed_in:?}"
    );
    assert!(
        fragments_closed_in < Duration::from_secs(3),
        "{fragments_closed_in:?}"
    );
    assert!(after - before < 8.0, "rss {before:.1} -> {after:.1} MB");
    // Counted, and nobody else noticed.
    eventually(WAIT, "both closes to be counted", || {
        let addr = addr.clone();
        async move {
            (metric(
                &addr,
                r#"arena_disconnects_total{reason="transport_error"}"#,
            )
            .await
                == 2.0)
                .then_some(())
        }
    })
    .await;
    assert_eq!(bystander.attack("r", 1).await, json!({"ok": true}));
    bystander.next_event("attack", WAIT).await.unwrap();
    assert_eq!(
        metric(
            &addr,
            r#"arena_event_errors_total{code="payload_too_large"}"#
        )
        .await,
        0.0,
        "neither was parsed"
    );
}

/// Finding 3: in a room of 20 senders at full speed (the rate opened up, small client
/// queues), a quiet member's 50 acks all arrive although broadcasts to it are dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timing_acks_are_never_evicted_by_broadcasts() {
    let redis = redis();
    let arena = Arena::spawn_with(&redis.url(), 1, |c| {
        c.services.client_buffer = 16;
        // Redis is busy too: a publish may wait, not time out (this is about acks).
        c.services.redis_timeout_ms = 10_000;
        c.services.limits.socket_event_rate = 1_000_000;
        c.services.limits.socket_event_burst = 1_000_000;
        c.services.limits.socket_max_inflight = 4096;
    })
    .await;
    let quiet = arena[0].client_in("quiet", "busy").await;
    let mut senders = Vec::new();
    for i in 0..20 {
        senders.push(arena[0].client_in(&format!("s{i}"), "busy").await);
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let blasts: Vec<_> = senders
        .into_iter()
        .map(|s| {
            let stop = stop.clone();
            tokio::spawn(async move {
                let pad = "p".repeat(512);
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && n < 4_000 {
                    for _ in 0..50 {
                        s.emit("attack", &json!({"room": "busy", "damage": 1, "pad": pad}))
                            .unwrap();
                        n += 1;
                    }
                    tokio::task::yield_now().await;
                }
                drop(s);
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let acks = futures_util::future::join_all((0..50).map(|i| {
        let quiet = &quiet;
        async move {
            quiet
                .emit_with_ack(
                    "attack",
                    &json!({"room": "busy", "damage": 1, "i": i}),
                    Duration::from_secs(15),
                )
                .await
        }
    }))
    .await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for b in blasts {
        b.await.unwrap();
    }
    let missing: Vec<usize> = acks
        .iter()
        .enumerate()
        .filter(|(_, a)| a.is_err())
        .map(|(i, _)| i)
        .collect();
    let dropped = arena[0].metric("arena_client_send_dropped_total").await;
    let retried = arena[0].metric("arena_acks_retried_total").await;
    println!(
        "50 acks in {:?} ({} missing); {dropped} broadcast packets dropped, {retried} acks retried",
        started.elapsed(),
        missing.len()
    );
    assert!(missing.is_empty(), "acks lost: {missing:?}");
    for a in &acks {
        assert_eq!(a.as_ref().unwrap()["ok"], json!(true), "{a:?}");
    }
    assert!(
        dropped > 0.0,
        "the room was not busy enough to fill a queue"
    );
}

/// Finding 4: an unknown event gets `unknown_event`; an array where an object belongs is
/// `bad_request` for every event of the rooms mode (serde would map `["r1"]` onto `{room}`).
#[tokio::test]
async fn unknown_events_and_wrong_shapes_get_typed_errors() {
    let redis = redis();
    let arena = Arena::spawn(&redis.url(), 1).await;
    let c = arena[0].client_in("shapes", "r").await;
    let ack = c
        .request(r#"["no_such_event",{"a":1}]"#, "unknown", WAIT)
        .await
        .unwrap();
    assert_eq!(ack["ok"], json!(false), "{ack}");
    assert_eq!(ack["error"]["code"], json!("unknown_event"), "{ack}");
    assert!(
        ack["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no_such_event"),
        "{ack}"
    );
    for raw in [
        r#"["join_room",["r1"]]"#,
        r#"["leave_room",["r"]]"#,
        r#"["attack",["r",1]]"#,
        r#"["join_room",null]"#,
    ] {
        let ack = c.request(raw, raw, WAIT).await.unwrap();
        assert_eq!(ack["error"]["code"], json!("bad_request"), "{raw}: {ack}");
        assert!(
            ack["error"]["message"]
                .as_str()
                .unwrap()
                .contains("JSON object"),
            "{raw}: {ack}"
        );
    }
    // Still a member of "r" only through the object form, and the connection works.
    assert_eq!(c.attack("r", 1).await, json!({"ok": true}));
    assert_eq!(
        arena[0]
            .metric(r#"arena_event_errors_total{code="unknown_event"}"#)
            .await,
        1.0
    );
}
