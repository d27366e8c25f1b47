//! Frame codec throughput: a `Hold` request (the hot write path) and a `Reply::SeatMap` of a
//! 400-seat screen (the largest frame a busy terminal fetches), each encoded and decoded through
//! `FrameCodec`. Throughput is one element per frame, so criterion reports frames per second; the
//! size of each frame is printed once at start-up.
//!
//! `cargo bench -p cinebook-protocol --bench codec -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use bytes::BytesMut;
use cinebook_protocol::codec::encode_frame;
use cinebook_protocol::types::{
    Category, Price, Seat, SeatMap, SeatSelection, SeatState, Show, ShowSummary,
};
use cinebook_protocol::{Envelope, FrameCodec, Incoming, Reply, Request};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use tokio_util::codec::{Decoder, Encoder};

const ROWS: u16 = 20;
const SEATS_PER_ROW: u16 = 20;

fn hold_request() -> Envelope {
    Envelope::request(
        2,
        1_044,
        Request::Hold {
            show_id: 30_017,
            selection: SeatSelection::Ids(vec![212, 213, 214, 215]),
            idempotency_key: Some("kiosk-3:7f3a9c21".into()),
        },
    )
}

/// A 20 x 20 screen: premium back rows, two wheelchair places with companions, a third of the
/// seats taken.
fn seat_map_400() -> Envelope {
    let mut seats = Vec::new();
    let mut states = Vec::new();
    for y in 0..ROWS {
        let row = char::from(b'A' + y as u8).to_string();
        for x in 0..SEATS_PER_ROW {
            let id = u32::from(y * SEATS_PER_ROW + x);
            let category = match (y, x) {
                (0, 0) | (0, 19) => Category::Wheelchair,
                (0, 1) | (0, 18) => Category::Companion,
                (y, _) if y >= ROWS - 4 => Category::Premium,
                _ => Category::Standard,
            };
            seats.push(Seat {
                id,
                row: row.clone(),
                label: format!("{row}{}", x + 1),
                category,
                // An aisle after the fifth and before the last five seats.
                x: x + u16::from(x >= 5) + u16::from(x >= 15),
                y,
            });
            states.push(match id % 6 {
                0 => SeatState::Sold,
                1 => SeatState::Held,
                _ => SeatState::Free,
            });
        }
    }
    let seats_total = seats.len() as u32;
    let seats_free = states.iter().filter(|s| **s == SeatState::Free).count() as u32;
    Envelope::reply(
        3,
        1_045,
        Reply::SeatMap(SeatMap {
            summary: ShowSummary {
                show: Show {
                    id: 30_017,
                    movie_id: 412,
                    screen_id: 7,
                    starts_at_ms: 1_767_297_600_000,
                    currency: "EUR".into(),
                    prices: vec![
                        Price {
                            category: Category::Standard,
                            amount_minor: 1_150,
                        },
                        Price {
                            category: Category::Premium,
                            amount_minor: 1_450,
                        },
                    ],
                },
                movie_title: "The Long Intermission".into(),
                theater_id: 3,
                theater_name: "Odeon Riverside".into(),
                city_id: 1,
                screen_name: "Screen 7".into(),
                seats_free,
                seats_total,
            },
            seats,
            states,
            seq: 18_233,
        }),
    )
}

fn bench_frame(c: &mut Criterion, name: &str, envelope: Envelope) {
    let frame = encode_frame(&envelope).expect("encode");
    eprintln!("{name}: {} bytes per frame", frame.len());

    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(1));

    group.bench_function("encode", |b| {
        let mut codec = FrameCodec::new();
        let mut buf = BytesMut::with_capacity(frame.len());
        b.iter(|| {
            buf.clear();
            codec
                .encode(black_box(&envelope), &mut buf)
                .expect("encode");
            black_box(buf.len())
        })
    });

    group.bench_function("decode", |b| {
        let mut codec = FrameCodec::new();
        b.iter_batched_ref(
            || BytesMut::from(&frame[..]),
            |buf| match codec.decode(buf).expect("decode") {
                Some(Incoming::Envelope(envelope)) => envelope,
                other => panic!("bench frame did not decode: {other:?}"),
            },
            BatchSize::SmallInput,
        )
    });

    group.bench_function("encode+decode", |b| {
        let mut codec = FrameCodec::new();
        let mut buf = BytesMut::with_capacity(frame.len());
        b.iter(|| {
            codec
                .encode(black_box(&envelope), &mut buf)
                .expect("encode");
            match codec.decode(&mut buf).expect("decode") {
                Some(Incoming::Envelope(envelope)) => envelope,
                other => panic!("bench frame did not decode: {other:?}"),
            }
        })
    });

    group.finish();
}

fn codec(c: &mut Criterion) {
    bench_frame(c, "hold_request", hold_request());
    bench_frame(c, "seat_map_400", seat_map_400());
}

criterion_group!(benches, codec);
criterion_main!(benches);
