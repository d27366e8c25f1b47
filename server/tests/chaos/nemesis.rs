//! The seeded nemesis: one fault at a time (or two at once), healed after a while, then the
//! cluster is given time to settle before the next one.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::cluster::{Cluster, Life, NODES};
use super::history::FaultRec;
use super::workload::Ctx;

/// The faults, by name (the names appear in the output).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// SIGKILL the leader; restart it later (it has the highest id back: a hand-over).
    KillLeader,
    /// SIGSTOP the leader (often mid-confirm), SIGCONT later.
    PauseLeader,
    /// SIGKILL a follower; restart it later.
    KillFollower,
    /// Cut every link between the leader and the other nodes.
    PartitionLeader,
    /// MySQL's answers stop coming back.
    StallMysql,
    /// MySQL refuses and drops every connection.
    CutMysql,
    /// SIGKILL the leader and SIGSTOP the next node in line at the same time.
    KillLeaderPauseNext,
    /// SIGSTOP the private `mariadbd` (`--private-mysql` only).
    PauseMysql,
    /// SIGKILL the private `mariadbd`, start it again at the heal (`--private-mysql` only).
    KillMysql,
}

const ALL: [Fault; 7] = [
    Fault::KillLeader,
    Fault::PauseLeader,
    Fault::KillFollower,
    Fault::PartitionLeader,
    Fault::StallMysql,
    Fault::CutMysql,
    Fault::KillLeaderPauseNext,
];

/// With `--private-mysql`: the real server paused and killed as well.
const WITH_PRIVATE_MYSQL: [Fault; 9] = [
    Fault::KillLeader,
    Fault::PauseLeader,
    Fault::KillFollower,
    Fault::PartitionLeader,
    Fault::StallMysql,
    Fault::CutMysql,
    Fault::KillLeaderPauseNext,
    Fault::PauseMysql,
    Fault::KillMysql,
];

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Fault::KillLeader => "kill-leader",
            Fault::PauseLeader => "pause-leader",
            Fault::KillFollower => "kill-follower",
            Fault::PartitionLeader => "partition-leader",
            Fault::StallMysql => "stall-mysql",
            Fault::CutMysql => "cut-mysql",
            Fault::KillLeaderPauseNext => "kill-leader+pause-next",
            Fault::PauseMysql => "pause-mysqld",
            Fault::KillMysql => "kill-mysqld",
        }
    }
}

/// Runs faults until `duration_ms` has passed since the run started.
pub async fn run(cluster: &mut Cluster, ctx: &Ctx, seed: u64, duration_ms: u64) {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x006e_656d_6573_6973);
    while ctx_now(ctx) + 4_000 < duration_ms {
        tokio::time::sleep(Duration::from_millis(rng.random_range(1_500..3_000))).await;
        let Some(leader) = cluster.settle(Duration::from_secs(10)).await else {
            eprintln!("chaos: no leader before the next fault; healing everything");
            cluster.heal_all();
            continue;
        };
        let faults: &[Fault] = if cluster.private_mysql.is_some() {
            &WITH_PRIVATE_MYSQL
        } else {
            &ALL
        };
        let fault = faults[rng.random_range(0..faults.len())];
        let hold_ms = rng.random_range(1_500..3_000);
        let at_ms = ctx_now(ctx);
        inject(cluster, fault, leader, &mut rng);
        tokio::time::sleep(Duration::from_millis(hold_ms)).await;
        heal(cluster, fault);
        let healed_ms = ctx_now(ctx);
        eprintln!(
            "chaos: {:>7} ms {} (leader {leader}) for {} ms",
            at_ms,
            fault.name(),
            healed_ms - at_ms
        );
        ctx.history.lock().faults.push(FaultRec {
            kind: fault.name().to_owned(),
            double: fault == Fault::KillLeaderPauseNext,
            at_ms,
            healed_ms,
        });
    }
}

fn ctx_now(ctx: &Ctx) -> u64 {
    u64::try_from(ctx.start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn inject(cluster: &mut Cluster, fault: Fault, leader: u32, rng: &mut StdRng) {
    let followers: Vec<u32> = NODES
        .iter()
        .copied()
        .filter(|n| *n != leader && cluster.life(*n) == Life::Up)
        .collect();
    match fault {
        Fault::KillLeader => cluster.kill(leader),
        Fault::PauseLeader => cluster.pause(leader),
        Fault::KillFollower => {
            if !followers.is_empty() {
                cluster.kill(followers[rng.random_range(0..followers.len())]);
            }
        }
        Fault::PartitionLeader => cluster.isolate(leader),
        Fault::StallMysql => cluster.mysql.stall(),
        Fault::CutMysql => cluster.mysql.cut(),
        Fault::KillLeaderPauseNext => {
            cluster.kill(leader);
            if let Some(next) = followers.iter().max() {
                cluster.pause(*next);
            }
        }
        Fault::PauseMysql => {
            if let Some(server) = &mut cluster.private_mysql {
                server.pause();
            }
        }
        Fault::KillMysql => {
            if let Some(server) = &mut cluster.private_mysql {
                server.kill();
            }
        }
    }
}

fn heal(cluster: &mut Cluster, fault: Fault) {
    match fault {
        Fault::StallMysql => cluster.mysql.resume(),
        Fault::CutMysql => cluster.mysql.restore(),
        Fault::PartitionLeader => cluster.heal_links(),
        Fault::PauseMysql | Fault::KillMysql => {
            if let Some(server) = &mut cluster.private_mysql {
                server.heal();
            }
        }
        Fault::KillLeader
        | Fault::PauseLeader
        | Fault::KillFollower
        | Fault::KillLeaderPauseNext => {
            for id in NODES {
                cluster.resume(id);
                cluster.restart(id);
            }
        }
    }
}
