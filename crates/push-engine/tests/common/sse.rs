//! An SSE client as EventSource sees a stream: events, comments, the end or a cut.

use super::*;

/// What an SSE stream carries, as an `EventSource` would see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseItem {
    /// A comment line (`:…`), the text after the colon.
    Comment(String),
    /// A `retry:` field, in milliseconds.
    Retry(u64),
    /// A dispatched event (a blank line after fields).
    Event(SseEvent),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: Option<String>,
    /// The `data:` lines joined with LF, as `MessageEvent.data`; `None`
    /// without any `data:` line.
    pub data: Option<String>,
    pub data_lines: usize,
}

impl SseEvent {
    pub fn data(&self) -> &str {
        self.data
            .as_deref()
            .unwrap_or_else(|| panic!("no data in {self:?}"))
    }
}

/// The event-stream parser of the HTML specification: lines end at CRLF,
/// LF or CR; one space after the colon is dropped; `data:` lines join with
/// LF. Unlike `EventSource` it also reports events without data.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    /// The last byte was a CR: an LF right after it ends nothing.
    after_cr: bool,
    current: SseEvent,
    fields: bool,
}

impl SseParser {
    pub fn push(&mut self, bytes: &[u8]) -> Vec<SseItem> {
        let mut items = Vec::new();
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            if std::mem::take(&mut self.after_cr) && b == b'\n' {
                start = i + 1;
                continue;
            }
            if b == b'\n' || b == b'\r' {
                self.line.extend_from_slice(&bytes[start..i]);
                let line = std::mem::take(&mut self.line);
                self.field(&line, &mut items);
                self.after_cr = b == b'\r';
                start = i + 1;
            }
        }
        self.line.extend_from_slice(&bytes[start..]);
        items
    }

    fn field(&mut self, line: &[u8], items: &mut Vec<SseItem>) {
        let line = std::str::from_utf8(line).unwrap_or_else(|e| panic!("{e} in SSE line {line:?}"));
        if line.is_empty() {
            if std::mem::take(&mut self.fields) {
                items.push(SseItem::Event(std::mem::take(&mut self.current)));
            }
            return;
        }
        if let Some(comment) = line.strip_prefix(':') {
            items.push(SseItem::Comment(comment.to_owned()));
            return;
        }
        let (name, value) = match line.split_once(':') {
            Some((name, value)) => (name, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match name {
            "retry" => {
                if let Ok(ms) = value.parse() {
                    items.push(SseItem::Retry(ms));
                }
            }
            "id" => {
                self.current.id = Some(value.to_owned());
                self.fields = true;
            }
            "event" => {
                self.current.event = Some(value.to_owned());
                self.fields = true;
            }
            "data" => {
                match &mut self.current.data {
                    Some(data) => {
                        data.push('\n');
                        data.push_str(value);
                    }
                    None => self.current.data = Some(value.to_owned()),
                }
                self.current.data_lines += 1;
                self.fields = true;
            }
            _ => {}
        }
    }
}

/// Connects with a receive buffer of at most `bytes` (a client that reads
/// slowly fills it quickly).
pub async fn small_socket(addr: SocketAddr, bytes: u32) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(bytes).unwrap();
    timeout(T, socket.connect(addr))
        .await
        .expect("connect within T")
        .expect("connect")
}

/// An open SSE stream.
#[derive(Debug)]
pub struct Sse {
    stream: TcpStream,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    chunks: Dechunk,
    parser: SseParser,
    items: VecDeque<SseItem>,
    ended: bool,
    /// Every body byte received so far.
    pub raw: Vec<u8>,
    /// The server closed the connection before the stream's last chunk.
    pub cut: bool,
}

/// `GET path` as an SSE stream; the response must be a 200 stream.
pub async fn sse_open(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Sse {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    send_request(&mut stream, "GET", path, headers, b"").await;
    Sse::read(stream).await
}

impl Sse {
    /// Reads the response head of a request already sent on `stream`.
    pub async fn read(mut stream: TcpStream) -> Sse {
        let (status, headers, rest) = read_head(&mut stream).await;
        assert_eq!(
            status,
            200,
            "an SSE stream answers 200: {headers:?} {:?}",
            String::from_utf8_lossy(&rest)
        );
        assert!(
            header(&headers, "transfer-encoding")
                .is_some_and(|v| v.eq_ignore_ascii_case("chunked")),
            "a stream is chunked: {headers:?}"
        );
        let mut sse = Sse {
            stream,
            status,
            headers,
            chunks: Dechunk::default(),
            parser: SseParser::default(),
            items: VecDeque::new(),
            ended: false,
            raw: Vec::new(),
            cut: false,
        };
        sse.take(&rest);
        sse
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    fn take(&mut self, bytes: &[u8]) {
        let body = self.chunks.push(bytes);
        self.raw.extend_from_slice(&body);
        self.items.extend(self.parser.push(&body));
        if self.chunks.done {
            self.ended = true;
        }
    }

    /// The next item; `Ok(None)`: the stream ended cleanly; `Err(())`: the
    /// connection closed (or failed) before the stream's last chunk.
    async fn next_or_closed(&mut self) -> Result<Option<SseItem>, ()> {
        let mut buf = vec![0u8; 65536];
        loop {
            if let Some(item) = self.items.pop_front() {
                return Ok(Some(item));
            }
            if self.ended {
                return Ok(None);
            }
            match self.stream.read(&mut buf).await {
                Ok(n) if n > 0 => self.take(&buf[..n]),
                _ => return Err(()),
            }
        }
    }

    async fn next_item(&mut self) -> Option<SseItem> {
        self.next_or_closed()
            .await
            .expect("the connection closed before the stream's last chunk")
    }

    /// The next item within [`T`], or `None` when the stream ended, cleanly
    /// or cut off by the server (`cut` tells which).
    pub async fn next_or_cut(&mut self) -> Option<SseItem> {
        let next = timeout(T, self.next_or_closed())
            .await
            .expect("an SSE item or the end within T");
        next.unwrap_or_else(|()| {
            self.cut = true;
            None
        })
    }

    /// The next item within `within`; `Ok(None)`: the stream ended cleanly.
    pub async fn next_within(&mut self, within: Duration) -> Result<Option<SseItem>, Elapsed> {
        timeout(within, self.next_item()).await
    }

    /// The next item within [`T`]; `None`: the stream ended cleanly.
    pub async fn next(&mut self) -> Option<SseItem> {
        self.next_within(T).await.expect("an SSE item within T")
    }

    /// The next event, skipping comments and `retry:`.
    pub async fn event(&mut self) -> SseEvent {
        loop {
            match self.next().await {
                Some(SseItem::Event(e)) => return e,
                Some(_) => {}
                None => panic!("the stream ended, an event was expected"),
            }
        }
    }

    /// No event within `within` (comments and `retry:` are fine) and the
    /// stream goes on.
    pub async fn quiet(&mut self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.next_item()).await {
                Err(_) => return,
                Ok(Some(SseItem::Comment(_) | SseItem::Retry(_))) => {}
                Ok(other) => panic!("expected nothing, got {other:?}"),
            }
        }
    }

    /// The stream ends cleanly (its last chunk) within [`T`], with nothing
    /// but comments before.
    pub async fn end(&mut self) {
        loop {
            match self.next().await {
                None => return,
                Some(SseItem::Comment(_)) => {}
                Some(other) => panic!("expected the end of the stream, got {other:?}"),
            }
        }
    }
}

/// What an `EventSource` would see for a publication on a one-channel stream.
pub fn expected(p: &Publication) -> SseEvent {
    let data = p.data_text().replace("\r\n", "\n").replace('\r', "\n");
    SseEvent {
        id: Some(p.id.to_string()),
        event: p.event.as_deref().map(str::to_owned),
        data_lines: data.split('\n').count(),
        data: Some(data),
    }
}
