//! A minimal SSE client over a plain TCP connection (HTTP/1.0, so the body
//! is the raw event stream until the server closes it).

use std::io;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[derive(Debug, Default)]
pub struct Event {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
}

pub struct Stream {
    reader: BufReader<TcpStream>,
}

impl Stream {
    pub async fn connect(
        addr: &str,
        path: &str,
        last_event_id: Option<&str>,
    ) -> io::Result<Stream> {
        let mut tcp = TcpStream::connect(addr).await?;
        let mut request =
            format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\nAccept: text/event-stream\r\n");
        if let Some(id) = last_event_id {
            request.push_str(&format!("Last-Event-ID: {id}\r\n"));
        }
        request.push_str("\r\n");
        tcp.write_all(request.as_bytes()).await?;
        let mut reader = BufReader::new(tcp);
        let mut status = String::new();
        reader.read_line(&mut status).await?;
        if !status.contains(" 200 ") {
            return Err(io::Error::other(format!("status: {}", status.trim())));
        }
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).await? == 0 || line == "\r\n" || line == "\n" {
                break;
            }
        }
        Ok(Stream { reader })
    }

    /// The next event; `None` at the end of the stream.
    pub async fn next_event(&mut self) -> io::Result<Option<Event>> {
        let mut event = Event::default();
        let mut has_data = false;
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line).await? == 0 {
                return Ok(None);
            }
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if has_data {
                    return Ok(Some(event));
                }
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "id" => event.id = Some(value.to_owned()),
                "event" => event.event = Some(value.to_owned()),
                "data" => {
                    if has_data {
                        event.data.push('\n');
                    }
                    event.data.push_str(value);
                    has_data = true;
                }
                _ => {}
            }
        }
    }
}
