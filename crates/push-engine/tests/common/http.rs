//! A plain HTTP/1.1 client over TCP: requests, response heads, chunked bodies.

use super::*;

/// A whole HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {:?} (status {})", self.text(), self.status))
    }
}

pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Writes an HTTP/1.1 request head (and body).
pub async fn send_request(
    stream: &mut TcpStream,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .await
        .expect("send the request head");
    // The server may refuse (and close) before it reads a body: that is
    // fine, its answer is still there to read.
    let _ = stream.write_all(body).await;
}

/// Parses a status line and headers (without the blank line).
pub fn parse_head(head: &[u8]) -> (u16, Vec<(String, String)>) {
    parse_head_text(std::str::from_utf8(head).expect("an ASCII response head"))
}

/// [`parse_head`] of a head already made text (lossily, by a caller that
/// must not fail on odd bytes).
pub fn parse_head_text(head: &str) -> (u16, Vec<(String, String)>) {
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a status line, not {status_line:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    (status, headers)
}

/// Reads a response head; returns it and the bytes read past it.
pub async fn read_head(stream: &mut TcpStream) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = find(&raw, b"\r\n\r\n") {
            let (status, headers) = parse_head(&raw[..end]);
            return (status, headers, raw[end + 4..].to_vec());
        }
        let n = timeout(T, stream.read(&mut buf))
            .await
            .expect("a response head within T")
            .expect("read the response head");
        assert!(
            n > 0,
            "the connection closed before a response head: {:?}",
            String::from_utf8_lossy(&raw)
        );
        raw.extend_from_slice(&buf[..n]);
    }
}

/// Reads from `stream` into `body` (what was read already, the bytes past
/// a response head) until `needle` is in it, within [`T`]; returns it.
pub async fn read_until(stream: &mut TcpStream, mut body: Vec<u8>, needle: &[u8]) -> Vec<u8> {
    let mut buf = [0u8; 1024];
    while find(&body, needle).is_none() {
        let n = timeout(T, stream.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("{:?} within T", String::from_utf8_lossy(needle)))
            .expect("read");
        assert!(n > 0, "cut short: {}", String::from_utf8_lossy(&body));
        body.extend_from_slice(&buf[..n]);
    }
    body
}

/// One request on its own connection (`Connection: close`), read to the end.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let mut all = vec![("Connection", "close")];
        all.extend_from_slice(headers);
        send_request(&mut stream, method, path, &all, body).await;
        let mut raw = Vec::new();
        let mut buf = [0u8; 16384];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
                // A reset after the answer (a refused body left unread).
                Err(e) if !raw.is_empty() => {
                    eprintln!("{method} {path}: {e} after the answer");
                    break;
                }
                Err(e) => panic!("{method} {path}: {e}"),
            }
        }
        let end = find(&raw, b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(&raw)));
        let (status, headers) = parse_head(&raw[..end]);
        let rest = &raw[end + 4..];
        let body = if header(&headers, "transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
        {
            let mut chunks = Dechunk::default();
            let body = chunks.push(rest);
            assert!(chunks.done, "a chunked body ends with its last chunk");
            body
        } else if let Some(len) = header(&headers, "content-length") {
            let len: usize = len.parse().expect("a Content-Length");
            assert_eq!(rest.len(), len, "a body of Content-Length bytes");
            rest.to_vec()
        } else {
            rest.to_vec()
        };
        Response {
            status,
            headers,
            body,
        }
    };
    timeout(T, exchange)
        .await
        .unwrap_or_else(|_| panic!("{method} {path}: no answer within {T:?}"))
}

pub async fn get(addr: SocketAddr, path: &str) -> Response {
    request(addr, "GET", path, &[], b"").await
}

pub async fn get_with(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Response {
    request(addr, "GET", path, headers, b"").await
}

pub async fn post(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    request(addr, "POST", path, headers, body).await
}

/// Decodes `Transfer-Encoding: chunked` as the bytes arrive.
#[derive(Debug, Default)]
pub struct Dechunk {
    buf: Vec<u8>,
    /// Bytes left of the current chunk, its closing CRLF included.
    left: Option<usize>,
    /// The last chunk (size 0) was read.
    pub done: bool,
}

impl Dechunk {
    /// Feeds raw bytes; returns the body bytes they complete.
    pub fn push(&mut self, raw: &[u8]) -> Vec<u8> {
        self.buf.extend_from_slice(raw);
        let mut out = Vec::new();
        let mut pos = 0;
        while !self.done {
            match self.left {
                None => {
                    let Some(end) = find(&self.buf[pos..], b"\r\n") else {
                        break;
                    };
                    let line = std::str::from_utf8(&self.buf[pos..pos + end])
                        .expect("an ASCII chunk size");
                    let size = usize::from_str_radix(
                        line.split(';').next().unwrap_or_default().trim(),
                        16,
                    )
                    .unwrap_or_else(|_| panic!("a chunk size, not {line:?}"));
                    pos += end + 2;
                    if size == 0 {
                        self.done = true;
                    } else {
                        self.left = Some(size + 2);
                    }
                }
                Some(left) => {
                    let take = (self.buf.len() - pos).min(left);
                    if take == 0 {
                        break;
                    }
                    let data = take.min(left.saturating_sub(2));
                    out.extend_from_slice(&self.buf[pos..pos + data]);
                    pos += take;
                    self.left = (left > take).then_some(left - take);
                }
            }
        }
        self.buf.drain(..pos);
        out
    }
}
