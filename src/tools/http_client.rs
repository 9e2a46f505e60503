//! A minimal HTTP/1.1 client for loopback use (launcher, bench, tests): no client crate needed
//! for three JSON endpoints.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Errors of a plain HTTP request.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot reach {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("{addr} did not answer within {timeout:?}")]
    Timeout { addr: String, timeout: Duration },
    #[error("malformed HTTP response from {0}")]
    Malformed(String),
}

/// `GET path` with `Connection: close`: (status, body).
pub async fn http_get(addr: &str, path: &str) -> Result<(u16, String), HttpError> {
    http_send(addr, "GET", path, None).await
}

/// `POST path` with a JSON body: (status, body).
pub async fn http_post(addr: &str, path: &str, json: &str) -> Result<(u16, String), HttpError> {
    http_send(addr, "POST", path, Some(json)).await
}

/// One request with `Connection: close`: (status, body).
pub async fn http_send(
    addr: &str,
    method: &str,
    path: &str,
    json: Option<&str>,
) -> Result<(u16, String), HttpError> {
    http_request(addr, method, path, json, &[]).await
}

/// One request with extra headers (e.g. `("Authorization", "Bearer …")`).
pub async fn http_request(
    addr: &str,
    method: &str,
    path: &str,
    json: Option<&str>,
    headers: &[(&str, &str)],
) -> Result<(u16, String), HttpError> {
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let timeout = Duration::from_secs(5);
    let io_err = |source| HttpError::Connect {
        addr: addr.to_string(),
        source,
    };
    let fut = async {
        let mut s = TcpStream::connect(addr).await.map_err(io_err)?;
        let req = match json {
            Some(body) => format!(
                "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
            None => {
                format!(
                    "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}\r\n"
                )
            }
        };
        s.write_all(req.as_bytes()).await.map_err(io_err)?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.map_err(io_err)?;
        let text = String::from_utf8_lossy(&buf);
        let malformed = || HttpError::Malformed(addr.to_string());
        let (head, body) = text.split_once("\r\n\r\n").ok_or_else(malformed)?;
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(malformed)?;
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_string()
        };
        Ok((status, body))
    };
    tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| HttpError::Timeout {
            addr: addr.to_string(),
            timeout,
        })?
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((len, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(len.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn dechunks() {
        assert_eq!(
            super::dechunk("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
            "hello world"
        );
    }
}
