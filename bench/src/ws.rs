//! The load generator's WebSocket client: tokio-tungstenite with a small
//! read buffer.
//!
//! tungstenite's default read buffer is 128 KiB, and it zero-fills the
//! free part before every read: one `memset` of up to 128 KiB per frame
//! received. With 1,000 subscribers that was 60 % of the load generator's
//! CPU (`perf`, s1), and since the load generator shares the machine's
//! cores with the server, its cost set the latencies it measured.

use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Error;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Bytes read from the socket at a time.
const READ_BUFFER: usize = 4096;

/// Opens a WebSocket to `url` (`ws://…`).
pub async fn connect(url: &str) -> Result<WebSocketStream<MaybeTlsStream<TcpStream>>, Error> {
    let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER);
    let (socket, _) =
        tokio_tungstenite::connect_async_with_config(url, Some(config), false).await?;
    Ok(socket)
}
