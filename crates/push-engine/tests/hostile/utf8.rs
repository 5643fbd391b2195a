//! Invalid UTF-8 in text frames, whole and across fragments: close 1007,
//! nothing published. Valid text split inside a character, and any bytes
//! in a binary frame, are published.

use crate::frames::server;
use crate::harness::*;
use crate::wsraw::*;

const KEY: Option<[u8; 4]> = Some([9, 8, 7, 6]);

fn fragments(first: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut b = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let opcode = if i == 0 { first } else { CONT };
        b.extend(frame_raw(i + 1 == parts.len(), 0, opcode, KEY, part));
    }
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_closes_with_1007() {
    let server = server().await;
    let mut sentinel = Sentinel::open(&server).await;
    let mut tally = Tally::new("utf8");
    let invalid: &[(&str, &[u8])] = &[
        ("0xff byte", b"a\xffb"),
        ("lone continuation byte", b"\x80"),
        ("overlong 2-byte NUL", b"\xc0\x80"),
        ("overlong 3-byte slash", b"\xe0\x80\xaf"),
        ("UTF-16 surrogate", b"\xed\xa0\x80"),
        ("above U+10FFFF", b"\xf4\x90\x80\x80"),
        ("0xf5 lead byte", b"\xf5\x80\x80\x80"),
        ("truncated at the end", b"ok\xe2\x82"),
        ("Latin-1 text", b"caf\xe9"),
    ];
    let mut cases: Vec<Case> = invalid
        .iter()
        .map(|(name, bytes)| {
            let name = format!("text frame: {name}");
            Case::ws(name, frame(TEXT, bytes), WsEnd::Close(1007))
        })
        .collect();
    let split: &[(&str, &[&[u8]])] = &[
        ("invalid byte in the first fragment", &[b"\xff", b"a"]),
        ("invalid byte in the last fragment", &[b"a", b"b\xfe"]),
        (
            "character broken by the next fragment",
            &[b"\xe2\x82", b"A"],
        ),
        (
            "last fragment ends inside a character",
            &[b"a", b"\xe2\x82"],
        ),
        (
            "surrogate split over three fragments",
            &[b"\xed", b"\xa0", b"\x80"],
        ),
    ];
    cases.extend(split.iter().map(|(name, parts)| {
        let name = format!("fragments: {name}");
        Case::ws(name, fragments(TEXT, parts), WsEnd::Close(1007))
    }));
    // Allowed: published (and echoed to this subscriber of `pub`).
    let euro = "€".as_bytes();
    let ok: &[(&str, Vec<u8>, u8, &[u8])] = &[
        (
            "character split across fragments",
            fragments(TEXT, &[&euro[..1], &euro[1..2], &euro[2..]]),
            TEXT,
            euro,
        ),
        ("NUL in text", frame(TEXT, b"a\0b"), TEXT, b"a\0b"),
        (
            "noncharacter U+FFFF",
            frame(TEXT, b"\xef\xbf\xbf"),
            TEXT,
            b"\xef\xbf\xbf",
        ),
        ("BOM", frame(TEXT, b"\xef\xbb\xbfx"), TEXT, b"\xef\xbb\xbfx"),
        (
            "invalid UTF-8 in a binary frame",
            frame(BINARY, b"\xff\xfe"),
            BINARY,
            b"\xff\xfe",
        ),
    ];
    cases.extend(
        ok.iter().map(|(name, bytes, opcode, echo)| {
            Case::ws_ok(*name, bytes.clone(), &[(*opcode, *echo)])
        }),
    );
    run_table(&server, &mut sentinel, &mut tally, cases).await;
    tally.done();
}
