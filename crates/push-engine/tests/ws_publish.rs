//! WebSocket clients publishing over real TCP: to the default channel from
//! `/`, within `push.client_publish`'s patterns, and the close codes of what
//! is refused (1007, 1008, 1009); a close from the client is answered.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use push_engine::config::Patterns;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_on_the_root_publish_to_the_default_channel() {
    let server = Server::start_with(|c| {
        c.client_publish = Patterns::All;
        c.default_channel = "lobby".into();
    })
    .await;
    let mut one = ws_open(server.addr, "/").await;
    let mut two = ws_open(server.addr, "/").await;
    let mut sse = sse_open(server.addr, "/sse/lobby", &[]).await;
    one.send(Message::text("hi all")).await.unwrap();
    assert_eq!(
        ws_next(&mut one).await,
        Message::text("hi all"),
        "the sender gets its own message"
    );
    assert_eq!(ws_next(&mut two).await, Message::text("hi all"));
    let event = sse.event().await;
    assert_eq!(event.data(), "hi all");
    assert_eq!(
        event.id.unwrap(),
        server.hub.last_id("lobby").unwrap().to_string()
    );

    two.send(Message::binary(vec![1u8, 2, 0xff])).await.unwrap();
    for ws in [&mut one, &mut two] {
        assert_eq!(ws_next(ws).await, Message::binary(vec![1u8, 2, 0xff]));
    }
    assert_eq!(server.hub.last_id("lobby").unwrap().offset, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_publishing_follows_the_allowed_patterns() {
    let server =
        Server::start_with(|c| c.client_publish = Patterns::List(vec!["chat:*".into()])).await;
    let mut chat = ws_open(server.addr, "/ws/chat:1").await;
    chat.send(Message::text("allowed")).await.unwrap();
    assert_eq!(ws_text(&mut chat).await, "allowed");

    let mut news = ws_open(server.addr, "/ws/news").await;
    news.send(Message::text("refused")).await.unwrap();
    assert_eq!(ws_close_code(&mut news).await, 1008);
    assert_eq!(
        server.hub.stats().publications,
        1,
        "only the chat message was published"
    );

    // Several channels: nowhere to publish.
    let mut both = ws_open(server.addr, "/ws?channel=chat:1&channel=chat:2").await;
    both.send(Message::text("where?")).await.unwrap();
    assert_eq!(ws_close_code(&mut both).await, 1008);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_message_without_client_publishing_closes_with_1008() {
    let server = Server::start().await;
    let mut root = ws_open(server.addr, "/").await;
    root.send(Message::text("hello?")).await.unwrap();
    assert_eq!(ws_close_code(&mut root).await, 1008);
    let mut bin = ws_open(server.addr, "/ws/news").await;
    bin.send(Message::binary(vec![0u8])).await.unwrap();
    assert_eq!(ws_close_code(&mut bin).await, 1008);
    assert_eq!(server.hub.stats().publications, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_client_message_closes_with_1009() {
    let server = Server::start_with(|c| {
        c.client_publish = Patterns::All;
        c.max_message_size = 1024;
        c.max_queue_bytes = 64 * 1024;
    })
    .await;
    let mut ws1 = ws_open(server.addr, "/ws/big").await;
    let exactly = "x".repeat(1024);
    ws1.send(Message::text(exactly.clone())).await.unwrap();
    assert_eq!(
        ws_text(&mut ws1).await,
        exactly,
        "max_message_size itself is fine"
    );
    ws1.send(Message::text("y".repeat(1025))).await.unwrap();
    assert_eq!(ws_close_code(&mut ws1).await, 1009);

    let mut ws2 = ws_open(server.addr, "/ws/big").await;
    ws2.send(Message::binary(vec![7u8; 4000])).await.unwrap();
    assert_eq!(ws_close_code(&mut ws2).await, 1009);
    assert_eq!(
        server.hub.last_id("big").unwrap().offset,
        1,
        "only the first message was published"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_frame_that_is_not_utf8_closes_with_1007() {
    let server = Server::start_with(|c| c.client_publish = Patterns::All).await;
    let mut ws = ws_open(server.addr, "/ws/utf").await;
    let frame = Frame::message(vec![b'h', 0xff, 0xfe], OpCode::Data(Data::Text), true);
    ws.send(Message::Frame(frame)).await.unwrap();
    assert_eq!(ws_close_code(&mut ws).await, 1007);
    assert_eq!(server.hub.stats().publications, 0, "nothing was published");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn a_close_from_the_client_is_answered() {
    let server = Server::start().await;
    let mut ws = ws_open(server.addr, "/ws/news").await;
    ws.send(Message::Close(None)).await.unwrap();
    // RFC 6455 5.5.1: the endpoint that receives a Close frame sends one back.
    match timeout(T, ws.next()).await.expect("an answer within T") {
        Some(Ok(Message::Close(_))) => {}
        other => panic!("expected the server's close frame, got {other:?}"),
    }
    server.wait_subscribers(0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn a_max_size_binary_message_reaches_a_json_socket() {
    // A valid configuration: the queue holds a message with 1K to spare.
    let server = Server::start_with(|c| {
        c.max_message_size = 64 * 1024;
        c.max_queue_bytes = 64 * 1024 + 1024;
    })
    .await;
    let mut raw = ws_open(server.addr, "/ws/big").await;
    let mut json = ws_open(server.addr, "/ws/big?format=json").await;
    let p = server.publish("big", vec![0xffu8; 64 * 1024]);
    assert_eq!(
        ws_next(&mut raw).await,
        Message::binary(vec![0xffu8; 64 * 1024])
    );
    // Base64 makes it an 87K text frame, over tungstenite's write buffer
    // limit: the send fails, the socket is dropped without a close frame,
    // and resuming from the previous id replays it into the same failure.
    assert_eq!(ws_json(&mut json).await, envelope(&p));
}
