//! The Redis baseline, the way many booking systems hold seats: one key per seat,
//! `SET seat:{show}:{seat} {holder} NX PX 600000`, all or nothing for a multi-seat hold (a Lua
//! script that undoes its own SETs when one fails), released with `DEL`.
//!
//! Only `hold` has a Redis counterpart: Redis holds are not durable sales.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use futures::stream::{self, StreamExt, TryStreamExt};
use rand::rngs::StdRng;
use redis::aio::MultiplexedConnection;
use redis::Script;

use crate::catalog::{ShowInfo, ID_BASE};
use crate::driver::{self, Limit, OpOutcome, Worker};
use crate::stats::RunStats;
use crate::workload::{worker_rng, SeatPicker, Workload};

/// A hold's lifetime, as CineBook's default.
pub const HOLD_TTL_MS: u64 = 600_000;

/// All-or-nothing hold: `SET key holder NX PX ttl` for every key; on the first refusal, delete
/// the keys this call set and answer 0.
pub const HOLD_SCRIPT: &str = r#"
local set = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[1], 'NX', 'PX', ARGV[2]) then
    set[#set + 1] = key
  else
    if #set > 0 then redis.call('DEL', unpack(set)) end
    return 0
  end
end
return 1
"#;

/// The key of one seat.
pub fn seat_key(show: u64, seat: u32) -> String {
    format!("seat:{show}:{seat}")
}

/// A Redis hold worker.
#[derive(Debug)]
pub struct RedisWorker {
    conn: MultiplexedConnection,
    script: Arc<Script>,
    rng: StdRng,
    picker: Arc<SeatPicker>,
    worker: usize,
    ops: u64,
}

impl Worker for RedisWorker {
    async fn op(&mut self) -> OpOutcome {
        let (show, seats) = self.picker.pick(&mut self.rng);
        let keys: Vec<String> = seats.iter().map(|s| seat_key(show, *s)).collect();
        self.ops += 1;
        let holder = format!("load-{}-{}", self.worker, self.ops);
        let started = Instant::now();
        let mut invocation = self.script.prepare_invoke();
        for key in &keys {
            invocation.key(key);
        }
        invocation.arg(&holder).arg(HOLD_TTL_MS);
        let held: i64 = match invocation.invoke_async(&mut self.conn).await {
            Ok(held) => held,
            Err(e) => return OpOutcome::Err(format!("Redis:{:?}", e.kind())),
        };
        let latency = started.elapsed();
        if held != 1 {
            return OpOutcome::Err("SeatUnavailable".into());
        }
        let released: redis::RedisResult<i64> = redis::cmd("DEL")
            .arg(&keys)
            .query_async(&mut self.conn)
            .await;
        match released {
            Ok(_) => OpOutcome::Ok { latency },
            Err(e) => OpOutcome::Err(format!("release:Redis:{:?}", e.kind())),
        }
    }
}

/// Deletes leftover seat keys of load-test shows (from an interrupted run).
pub async fn clean(conn: &mut MultiplexedConnection) -> Result<u64> {
    let pattern = format!("seat:{}*", ID_BASE / 1_000_000);
    let mut cursor: u64 = 0;
    let mut deleted = 0u64;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await
            .context("scanning Redis for leftover seat keys")?;
        if !keys.is_empty() {
            let n: u64 = redis::cmd("DEL")
                .arg(&keys)
                .query_async(conn)
                .await
                .context("deleting leftover seat keys")?;
            deleted += n;
        }
        if next == 0 {
            return Ok(deleted);
        }
        cursor = next;
    }
}

/// Runs `workload` (only `hold`) against Redis at `url`.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    url: &str,
    workload: Workload,
    shows: Arc<Vec<ShowInfo>>,
    connections: usize,
    pipeline: usize,
    seats_per_op: u32,
    seed: u64,
    limit: Limit,
    progress: bool,
) -> Result<RunStats> {
    if workload != Workload::Hold {
        bail!("Redis holds seats; only the hold workload has a Redis baseline");
    }
    let client = redis::Client::open(url).with_context(|| format!("invalid Redis URL {url:?}"))?;
    let conns: Vec<MultiplexedConnection> = stream::iter(0..connections)
        .map(|_| client.get_multiplexed_async_connection())
        .buffered(crate::cinebook::CONNECT_IN_FLIGHT)
        .try_collect()
        .await
        .with_context(|| format!("connecting to Redis at {url}"))?;
    if let Some(first) = conns.first() {
        clean(&mut first.clone()).await?;
    }
    let picker = Arc::new(SeatPicker::new(shows, seats_per_op)?);
    let script = Arc::new(Script::new(HOLD_SCRIPT));
    let mut workers = Vec::new();
    for (c, conn) in conns.iter().enumerate() {
        for slot in 0..pipeline.max(1) {
            let worker = c * pipeline.max(1) + slot;
            workers.push(RedisWorker {
                conn: conn.clone(),
                script: script.clone(),
                rng: worker_rng(seed, worker),
                picker: picker.clone(),
                worker,
                ops: 0,
            });
        }
    }
    let label = format!("redis {} ×{connections}", workload.name());
    let (stats, _) = driver::drive(workers, limit, &label, progress).await?;
    Ok(stats)
}
