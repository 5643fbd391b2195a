//! WebSocket client helpers: open, refuse, read the next frame, close codes.

use super::*;

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens a WebSocket; on refusal returns the status and body.
pub async fn ws_try(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<Ws, (u16, String)> {
    let mut request = format!("ws://{addr}{path}")
        .into_client_request()
        .expect("a ws:// URL");
    for (k, v) in headers {
        request.headers_mut().insert(
            HeaderName::from_bytes(k.as_bytes()).expect("a header name"),
            HeaderValue::from_str(v).expect("a header value"),
        );
    }
    match timeout(T, tokio_tungstenite::connect_async(request))
        .await
        .expect("a handshake within T")
    {
        Ok((ws, response)) => {
            assert_eq!(response.status(), 101);
            Ok(ws)
        }
        Err(tungstenite::Error::Http(response)) => {
            let body = response
                .body()
                .as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            Err((response.status().as_u16(), body.into_owned()))
        }
        Err(e) => panic!("WebSocket handshake with {path}: {e}"),
    }
}

/// Opens a WebSocket that must be accepted.
pub async fn ws_open(addr: SocketAddr, path: &str) -> Ws {
    ws_try(addr, path, &[])
        .await
        .unwrap_or_else(|(status, body)| panic!("{path}: refused with {status}: {body}"))
}

/// The status a refused WebSocket handshake gets.
pub async fn ws_refused(addr: SocketAddr, path: &str) -> (u16, String) {
    match ws_try(addr, path, &[]).await {
        Ok(_) => panic!("{path}: the upgrade was accepted"),
        Err(refusal) => refusal,
    }
}

/// The next message other than a ping or pong, within [`T`].
pub async fn ws_next(ws: &mut Ws) -> Message {
    loop {
        match timeout(T, ws.next())
            .await
            .expect("a WebSocket message within T")
        {
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            Some(Ok(m)) => return m,
            Some(Err(e)) => panic!("WebSocket error: {e}"),
            None => panic!("the WebSocket ended"),
        }
    }
}

pub async fn ws_text(ws: &mut Ws) -> String {
    match ws_next(ws).await {
        Message::Text(t) => t.as_str().to_owned(),
        other => panic!("expected a text frame, got {other:?}"),
    }
}

pub async fn ws_json(ws: &mut Ws) -> serde_json::Value {
    let text = ws_text(ws).await;
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The next message must be a close frame: returns its code, then lets the
/// close handshake finish.
pub async fn ws_close_code(ws: &mut Ws) -> u16 {
    let code = match ws_next(ws).await {
        Message::Close(Some(frame)) => u16::from(frame.code),
        other => panic!("expected a close frame, got {other:?}"),
    };
    // Reading on sends our reply; the server then ends the connection.
    let _ = timeout(T, async { while let Some(Ok(_)) = ws.next().await {} }).await;
    code
}

/// No message but pings and pongs within `within`.
pub async fn ws_quiet(ws: &mut Ws, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return,
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            Ok(other) => panic!("expected nothing, got {other:?}"),
        }
    }
}

/// A WebSocket handshake by hand: the socket after a 101, and any bytes
/// read past the response head.
pub async fn raw_upgrade(addr: SocketAddr, path: &str) -> (TcpStream, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let headers = [
        ("Connection", "keep-alive, Upgrade"),
        ("Upgrade", "WebSocket"),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];
    send_request(&mut stream, "GET", path, &headers, b"").await;
    let (status, headers, rest) = read_head(&mut stream).await;
    assert_eq!(status, 101, "{headers:?}");
    assert_eq!(
        header(&headers, "sec-websocket-accept"),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        "the accept key of RFC 6455's example"
    );
    (stream, rest)
}

/// The JSON envelope a publication should travel in (WebSocket JSON mode,
/// long-poll messages), built here independently of the engine's encoder.
#[allow(dead_code)]
pub fn envelope(p: &Publication) -> serde_json::Value {
    let mut v = serde_json::json!({
        "channel": &*p.channel,
        "id": p.id.to_string(),
        "event": p.event.as_deref(),
        "data": p.data_text(),
    });
    if !p.text {
        v["encoding"] = "base64".into();
    }
    v
}
