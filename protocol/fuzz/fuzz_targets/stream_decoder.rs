//! Fuzzes the stream decoder: the input is a byte stream fed to `FrameCodec::decode` in chunks.
//!
//! Input layout: byte 0 seeds the chunk sizes, byte 1 picks the frame limit, the rest is the
//! stream. Checked on every input:
//! - decoding never panics;
//! - the chunked stream yields exactly the items and the error that the whole buffer yields;
//! - every envelope decoded re-encodes (at the same limit) and decodes back to itself.
#![no_main]

use bytes::BytesMut;
use cinebook_protocol::codec::encode_frame;
use cinebook_protocol::{Envelope, FrameCodec, Incoming, FRAME_MAX_BYTES_DEFAULT};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::{Decoder, Encoder};

// A handful per input: not worth boxing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, PartialEq)]
enum Event {
    Item(Incoming),
    Fatal(String),
    End(String),
}

fn run<'a>(max: usize, chunks: impl Iterator<Item = &'a [u8]>) -> Vec<Event> {
    let mut codec = FrameCodec::with_max(max);
    let mut buf = BytesMut::new();
    let mut events = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(item)) => events.push(Event::Item(item)),
                Ok(None) => break,
                Err(e) => {
                    events.push(Event::Fatal(format!("{e:?}")));
                    return events;
                }
            }
        }
    }
    loop {
        match codec.decode_eof(&mut buf) {
            Ok(Some(item)) => events.push(Event::Item(item)),
            Ok(None) => {
                events.push(Event::End(String::new()));
                return events;
            }
            Err(e) => {
                events.push(Event::End(format!("{e:?}")));
                return events;
            }
        }
    }
}

/// Splits `data` into chunks of 1 to 16 bytes chosen by a small xorshift generator.
fn chunked(data: &[u8], seed: u8) -> impl Iterator<Item = &[u8]> {
    let mut state = u32::from(seed) | 0x100;
    let mut rest = data;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let size = (state % 16 + 1) as usize;
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        rest = tail;
        Some(chunk)
    })
}

fn round_trip(max: usize, envelope: &Envelope) {
    let mut frame = BytesMut::new();
    // A decoded envelope re-encodes no longer than it arrived (encoders use the shortest varints),
    // so it fits the limit it was decoded under.
    FrameCodec::with_max(max)
        .encode(envelope, &mut frame)
        .expect("a decoded envelope re-encodes");
    assert_eq!(
        &frame[..],
        &encode_frame(envelope).expect("encode_frame")[..]
    );
    let back = FrameCodec::with_max(max)
        .decode(&mut frame)
        .expect("re-encoded frame decodes");
    assert_eq!(back.as_ref(), Some(&Incoming::Envelope(envelope.clone())));
    assert!(frame.is_empty());
}

fuzz_target!(|data: &[u8]| {
    let [seed, limit, stream @ ..] = data else {
        return;
    };
    let max = match *limit {
        0 => FRAME_MAX_BYTES_DEFAULT,
        n => usize::from(n) * 4,
    };
    let whole = run(max, std::iter::once(stream));
    let pieces = run(max, chunked(stream, *seed));
    assert_eq!(whole, pieces, "chunking changed the outcome");
    for event in &whole {
        if let Event::Item(Incoming::Envelope(envelope)) = event {
            round_trip(max, envelope);
        }
    }
});
