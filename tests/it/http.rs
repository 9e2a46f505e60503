//! HTTP under abuse and faults: clients that trickle headers, stall bodies or sit idle are
//! disconnected in bounded time and cannot starve /health; bodies over the limit get 413;
//! every extractor rejection, body limit and timeout answers in the JSON error envelope;
//! /ready turns 503 while Redis refuses writes and routes answer within their bound;
//! client-supplied ids are not echoed back whole.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis::AsyncCommands;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{Arena, BattleClient, eventually, redis, redis_conn, wait_healthy};

/// What a raw exchange saw: the status and body of the response (if one came), and how
/// long after connecting the server closed the connection (if it did within the wait).
#[derive(Debug)]
struct Seen {
    status: Option<u16>,
    body: String,
    closed_after: Option<Duration>,
}

impl Seen {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?} {:.300}", self.status, self.body))
    }
}

/// Read what the server sends until it closes the connection or `wait` passes.
async fn read_until_close(s: &mut TcpStream, started: Instant, wait: Duration) -> Seen {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let mut closed_after = None;
    let deadline = tokio::time::Instant::from_std(started + wait);
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed_after = Some(started.elapsed());
                break;
            }
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => break,
        }
    }
    parse(&buf, closed_after)
}

fn parse(buf: &[u8], closed_after: Option<Duration>) -> Seen {
    let text = String::from_utf8_lossy(buf);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|s| s.parse().ok());
    Seen {
        status,
        body: body.to_string(),
        closed_after,
    }
}

/// Send `head` and then `body`, reading the answer while the body is still going out (a
/// server that refuses a large body answers before reading it, and may close early).
async fn send_big(addr: &str, head: String, body: Vec<u8>) -> Seen {
    let s = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    let (mut rd, mut wr) = s.into_split();
    let writer = tokio::spawn(async move {
        // A write error (the server closed early) is expected here.
        let _ = wr.write_all(head.as_bytes()).await;
        let _ = wr.write_all(&body).await;
        wr
    });
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let mut closed_after = None;
    let deadline = tokio::time::Instant::from_std(started + Duration::from_secs(10));
    loop {
        match tokio::time::timeout_at(deadline, rd.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed_after = Some(started.elapsed());
                break;
            }
            Ok(Ok(n)) => {
                buf.extend_from_slice(&chunk[..n]);
                // One response is all we want: stop once its body is complete.
                if let Some(seen) = complete(&buf) {
                    writer.abort();
                    return seen;
                }
            }
            Err(_) => break,
        }
    }
    writer.abort();
    parse(&buf, closed_after)
}

/// A complete response with a `content-length` body, if `buf` holds one.
fn complete(buf: &[u8]) -> Option<Seen> {
    let text = String::from_utf8_lossy(buf);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let len: usize = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse().ok())?
    })?;
    (body.len() >= len).then(|| parse(buf, None))
}

fn request(method: &str, path: &str, extra_headers: &str) -> String {
    format!("{method} {path} HTTP/1.1\r\nHost: test\r\n{extra_headers}\r\n")
}

fn assert_envelope(seen: &Seen, status: u16, code: &str) {
    assert_eq!(seen.status, Some(status), "{seen:?}");
    let body = seen.json();
    assert_eq!(body["error"]["code"], json!(code), "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

#[tokio::test]
async fn trickled_or_missing_headers_are_cut_at_the_header_timeout() {
    let redis = redis();
    let arena = Arena::spawn_with(&redis.url(), 1, |c| c.http_header_timeout_ms = 1500).await;
    let addr = arena[0].addr.to_string();
    // One client sends half a request line and then a byte a second; another sends nothing.
    let trickle = {
        let addr = addr.clone();
        tokio::spawn(async move {
            let mut s = TcpStream::connect(&addr).await.unwrap();
            let started = Instant::now();
            s.write_all(b"GET /hea").await.unwrap();
            for b in b"lth HTTP/1.1\r\nHost: x\r\nX-Slow: yes"
                .iter()
                .cycle()
                .take(60)
            {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if s.write_all(&[*b]).await.is_err() {
                    break;
                }
                let mut probe = [0u8; 512];
                if let Ok(r) =
                    tokio::time::timeout(Duration::from_millis(1), s.read(&mut probe)).await
                    && matches!(r, Ok(0) | Err(_))
                {
                    break;
                }
            }
            read_until_close(&mut s, started, Duration::from_secs(1)).await
        })
    };
    let mut silent = TcpStream::connect(&addr).await.unwrap();
    let silent_seen = read_until_close(&mut silent, Instant::now(), Duration::from_secs(6)).await;
    let trickle_seen = trickle.await.unwrap();
    for (who, seen) in [("silent", &silent_seen), ("trickling", &trickle_seen)] {
        let after = seen
            .closed_after
            .unwrap_or_else(|| panic!("the {who} client was never disconnected: {seen:?}"));
        assert!(
            after < Duration::from_millis(1500 + 2500),
            "the {who} client was disconnected only after {after:?}"
        );
        assert_ne!(seen.status, Some(200), "{who}: {seen:?}");
    }
    // Meanwhile and afterwards the server answers normally.
    assert_eq!(arena[0].get("/health").await.0, 200);
}

#[tokio::test]
async fn idle_connections_and_stalled_bodies_are_closed_but_slow_answers_are_not() {
    let redis = redis();
    let arena = Arena::spawn_with(&redis.url(), 1, |c| {
        c.http_idle_timeout_ms = 1000;
        // Long enough that the request timeout (4 x REDIS_TIMEOUT_MS) cannot be what
        // closes the stalled body below.
        c.services.redis_timeout_ms = 2500;
        c.modes.battle.test_battle_delay_ms = 2500;
    })
    .await;
    let addr = arena[0].addr.to_string();

    // A keep-alive connection that goes quiet after one answer.
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(request("GET", "/health", "").as_bytes())
        .await
        .unwrap();
    let started = Instant::now();
    let seen = read_until_close(&mut s, started, Duration::from_secs(5)).await;
    assert_eq!(seen.status, Some(200), "{seen:?}");
    let after = seen
        .closed_after
        .expect("idle keep-alive connection closed");
    assert!(after < Duration::from_millis(1000 + 1500), "{after:?}");

    // A body that stops halfway: the handler waits on the client, so the idle clock runs.
    let mut s = TcpStream::connect(&addr).await.unwrap();
    let head = request(
        "POST",
        "/api/battles",
        "Content-Type: application/json\r\nContent-Length: 100\r\n",
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(br#"{"players":"#).await.unwrap();
    let seen = read_until_close(&mut s, Instant::now(), Duration::from_secs(8)).await;
    let after = seen.closed_after.expect("stalled body closed");
    assert!(
        after < Duration::from_millis(1000 + 1500),
        "{after:?}: {seen:?}"
    );

    // A request the server takes 2.5 s to answer (longer than the idle timeout) is not
    // cut: that silence is the server's, not the client's.
    let (status, body) = arena::tools::http_client::http_post(
        &addr,
        "/api/battles",
        r#"{"players":["slow1","slow2"]}"#,
    )
    .await
    .unwrap();
    assert_eq!(status, 201, "{body}");
}

/// `arena serve` as a child process with a small file-descriptor limit.
struct Serve {
    child: Child,
    addr: String,
}

impl Serve {
    async fn start(redis_url: &str, nofile: u32, env: &[(&str, &str)]) -> Serve {
        let port = arena::tools::redis_server::free_port().unwrap();
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("ulimit -n {nofile} && exec \"$0\" serve"))
            .arg(env!("CARGO_BIN_EXE_arena"))
            .env("REDIS_URL", redis_url)
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .env("INSTANCE_ID", "fd-limited")
            .env("ARENA_AUTH", "dev")
            .env("DATABASE_URL", "sqlite::memory:")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(if std::env::var_os("TEST_LOG").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            });
        for (k, v) in env {
            cmd.env(k, v);
        }
        let serve = Serve {
            child: cmd.spawn().expect("spawn arena serve"),
            addr: format!("127.0.0.1:{port}"),
        };
        wait_healthy(&serve.addr, "arena serve /health").await;
        serve
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn incomplete_requests_beyond_the_fd_limit_do_not_starve_health() {
    let redis = redis();
    // 128 descriptors: about 100 left for connections once Redis and the runtime have theirs.
    let serve = Serve::start(&redis.url(), 128, &[("HTTP_HEADER_TIMEOUT_MS", "1000")]).await;
    let mut held = Vec::new();
    for _ in 0..200 {
        let mut s = TcpStream::connect(&serve.addr).await.unwrap();
        // Best effort: a connection still in the accept backlog takes the bytes too.
        let _ = s
            .write_all(b"GET /status HTTP/1.1\r\nHost: x\r\nX-Pad: ")
            .await;
        held.push(s);
    }
    let started = Instant::now();
    let answer = tokio::time::timeout(
        Duration::from_secs(10),
        arena::tools::http_client::http_get(&serve.addr, "/health"),
    )
    .await;
    let took = started.elapsed();
    assert!(
        matches!(answer, Ok(Ok((200, _)))),
        "/health did not answer within 10 s behind 200 incomplete requests: {answer:?}"
    );
    // Two rounds of header timeouts free the descriptors the incomplete requests hold.
    assert!(took < Duration::from_secs(6), "/health took {took:?}");
    drop(held);
}

#[tokio::test]
async fn bodies_over_the_limit_get_413_in_the_envelope() {
    let redis = redis();
    let arena = Arena::spawn(&redis.url(), 1).await;
    let addr = arena[0].addr.to_string();
    let big = {
        let pad = "x".repeat(3 * 1024 * 1024);
        format!(r#"{{"players":["a","b"],"pad":"{pad}"}}"#).into_bytes()
    };
    // Declared length over the limit: refused before the body is read.
    for path in ["/api/battles", "/api/shared/increment"] {
        let head = request(
            "POST",
            path,
            &format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                big.len()
            ),
        );
        let seen = send_big(&addr, head, big.clone()).await;
        assert_envelope(&seen, 413, "payload_too_large");
    }
    // Chunked, so no declared length: refused once the handler reads past the limit.
    let mut chunked = Vec::new();
    for piece in big.chunks(64 * 1024) {
        chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        chunked.extend_from_slice(piece);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let head = request(
        "POST",
        "/api/battles",
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n",
    );
    let seen = send_big(&addr, head, chunked).await;
    assert_envelope(&seen, 413, "payload_too_large");
    // A body under the limit still works.
    let (status, body) =
        arena::tools::http_client::http_post(&addr, "/api/battles", r#"{"players":["a","b"]}"#)
            .await
            .unwrap();
    assert_eq!(status, 201, "{body}");

    // The limit is a setting.
    let small = Arena::spawn_with(&redis.url(), 1, |c| c.http_body_limit_bytes = 2048).await;
    let body = format!(r#"{{"players":["c","d"],"pad":"{}"}}"#, "y".repeat(3000));
    let head = request(
        "POST",
        "/api/battles",
        &format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ),
    );
    let seen = send_big(&small[0].addr.to_string(), head, body.into_bytes()).await;
    assert_envelope(&seen, 413, "payload_too_large");
}

#[tokio::test]
async fn extractor_rejections_answer_in_the_envelope() {
    let redis = redis();
    let arena = Arena::spawn(&redis.url(), 1).await;
    let addr = arena[0].addr.to_string();
    for path in [
        "/api/hunt/leaderboard?limit=1&limit=2",
        "/api/hunt/maps/%FF",
        "/api/battles/%FF%FE",
        "/api/hunt/leaderboard?limit=0",
    ] {
        let (status, body) = arena[0].get(path).await;
        assert_eq!(status, 400, "{path}: {body}");
        let v: Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{path}: not the JSON envelope ({e}): {body}"));
        assert_eq!(v["error"]["code"], "bad_request", "{path}: {v}");
    }
    for body in ["{not json", r#"{"players": 5}"#, "[]"] {
        let (status, text) = arena::tools::http_client::http_post(&addr, "/api/battles", body)
            .await
            .unwrap();
        assert_eq!(status, 400, "{body}: {text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["error"]["code"], "bad_request", "{body}: {v}");
    }
    // No JSON content type.
    let mut s = TcpStream::connect(&addr).await.unwrap();
    let head = request(
        "POST",
        "/api/battles",
        "Content-Length: 2\r\nConnection: close\r\n",
    );
    s.write_all(format!("{head}{{}}").as_bytes()).await.unwrap();
    let seen = read_until_close(&mut s, Instant::now(), Duration::from_secs(5)).await;
    assert_envelope(&seen, 400, "bad_request");
}

async fn config_set(conn: &mut redis::aio::MultiplexedConnection, key: &str, value: &str) {
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg(key)
        .arg(value)
        .query_async(conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn ready_turns_503_while_redis_refuses_writes_and_routes_answer_in_time() {
    let redis = redis();
    let arena = Arena::spawn(&redis.url(), 1).await;
    let addr = arena[0].addr.to_string();
    assert_eq!(arena[0].get("/ready").await.0, 200);
    let mut admin = redis_conn(&redis.url()).await;
    config_set(&mut admin, "maxmemory-policy", "noeviction").await;
    config_set(&mut admin, "maxmemory", "1").await;

    let started = Instant::now();
    let (status, body) = arena[0].get("/ready").await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(status, 503, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "unavailable");
    assert!(
        v["reason"].as_str().is_some_and(|r| r.contains("OOM")),
        "{v}"
    );
    assert_eq!(arena[0].get("/health").await.0, 200, "liveness stays up");

    // A battle start cannot take its lock: 503 in the envelope within the bound
    // (4 x REDIS_TIMEOUT_MS = 2 s), not after the lock's 6 s of retries.
    for path in ["/api/battles", "/api/shared/increment"] {
        let started = Instant::now();
        let (status, body) =
            arena::tools::http_client::http_post(&addr, path, r#"{"players":["oom1","oom2"]}"#)
                .await
                .unwrap();
        let took = started.elapsed();
        assert_eq!(status, 503, "{path}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error"]["code"], "unavailable", "{path}: {v}");
        assert!(
            took < Duration::from_millis(2000 + 1000),
            "{path}: {took:?}"
        );
    }

    config_set(&mut admin, "maxmemory", "0").await;
    eventually(
        Duration::from_secs(5),
        "/ready to return to 200",
        || async { (arena[0].get("/ready").await.0 == 200).then_some(()) },
    )
    .await;
    let (status, body) = arena::tools::http_client::http_post(
        &addr,
        "/api/battles",
        r#"{"players":["oom1","oom2"]}"#,
    )
    .await
    .unwrap();
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn ready_turns_503_on_a_read_only_replica() {
    let primary = redis();
    let replica = redis();
    let arena = Arena::spawn(&replica.url(), 1).await;
    assert_eq!(arena[0].get("/ready").await.0, 200);
    let mut admin = redis_conn(&replica.url()).await;
    let () = redis::cmd("REPLICAOF")
        .arg("127.0.0.1")
        .arg(primary.port())
        .query_async(&mut admin)
        .await
        .unwrap();
    let body = eventually(Duration::from_secs(5), "/ready to turn 503", || async {
        let (status, body) = arena[0].get("/ready").await;
        (status == 503).then_some(body)
    })
    .await;
    assert!(body.to_lowercase().contains("read only replica"), "{body}");
    let () = redis::cmd("REPLICAOF")
        .arg("NO")
        .arg("ONE")
        .query_async(&mut admin)
        .await
        .unwrap();
    eventually(
        Duration::from_secs(5),
        "/ready to return to 200",
        || async { (arena[0].get("/ready").await.0 == 200).then_some(()) },
    )
    .await;
}

#[tokio::test]
async fn long_client_ids_are_not_echoed_back() {
    let redis = redis();
    let arena = Arena::spawn(&redis.url(), 1).await;
    let long = "A".repeat(5 * 1024);
    for path in [
        format!("/api/battles/{long}"),
        format!("/api/battles/{long}-1"),
        format!("/api/hunt/maps/{long}"),
    ] {
        let (status, body) = arena[0].get(&path).await;
        assert_eq!(status, 400, "{body:.300}");
        let v: Value = serde_json::from_str(&body).unwrap();
        let message = v["error"]["message"].as_str().unwrap();
        assert!(
            message.len() < 200,
            "{} bytes: {message:.300}",
            message.len()
        );
    }
    let c = arena[0].client("echo").await;
    let ack = c.end_battle(&long).await;
    assert_eq!(ack["error"]["code"], "bad_request", "{ack:.300}");
    let message = ack["error"]["message"].as_str().unwrap();
    assert!(
        message.len() < 200,
        "{} bytes: {message:.300}",
        message.len()
    );
    // The keys were never touched.
    let mut conn = redis_conn(&redis.url()).await;
    let keys: Vec<String> = conn.keys("arena:{lock:battle:*").await.unwrap();
    assert!(keys.is_empty(), "{keys:?}");
}
