//! The load generator's Pusher protocol 7 client, as pusher-js speaks it:
//! connect, `pusher:subscribe`, then the channel's events (pings answered).

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The app key of `--transport pusher` (bench/run.sh starts the engine
/// with it).
pub const KEY: &str = "bench-key";

/// A Pusher socket to `url`, subscribed to `channel`: after
/// `pusher:connection_established` and `pusher_internal:subscription_succeeded`.
pub async fn subscribed(
    url: &str,
    channel: &str,
) -> Result<WebSocketStream<MaybeTlsStream<TcpStream>>, String> {
    let mut ws = crate::ws::connect(url).await.map_err(|e| e.to_string())?;
    event(&mut ws).await?;
    let subscribe = serde_json::json!({"event": "pusher:subscribe", "data": {"channel": channel}});
    ws.send(Message::Text(subscribe.to_string().into()))
        .await
        .map_err(|e| e.to_string())?;
    while event(&mut ws).await?.0 != "pusher_internal:subscription_succeeded" {}
    Ok(ws)
}

/// The next Pusher frame's event and data (a string); pings answered.
pub async fn event<S>(ws: &mut S) -> Result<(String, String), String>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>>
        + futures_util::Sink<Message>
        + Unpin,
{
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                let v: serde_json::Value = serde_json::from_str(&t).map_err(|e| e.to_string())?;
                let event = v["event"].as_str().unwrap_or_default().to_owned();
                if event == "pusher:ping" {
                    let pong = r#"{"event":"pusher:pong","data":{}}"#;
                    let _ = ws.send(Message::Text(pong.into())).await;
                    continue;
                }
                let data = match &v["data"] {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                return Ok((event, data));
            }
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return Err("closed".into()),
            Some(Ok(_)) => {}
        }
    }
}
