//! The retry rules of a notification, shared by the in-process deliverer and the consumer.

/// Default delays before the 2nd, 3rd, … attempt, ms: 10 s, 1 min, 10 min (the last one
/// repeats).
pub const RETRY_DELAYS_MS_DEFAULT: [u64; 3] = [10_000, 60_000, 600_000];
/// Default `notify_attempts_max`: attempts before a message is parked as a dead letter.
pub const NOTIFY_ATTEMPTS_MAX_DEFAULT: u32 = 5;
/// Most delays a policy holds (each is one TTL queue on the broker).
pub const RETRY_STEPS_MAX: usize = 8;

/// How often, and after how long, a failed delivery is tried again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delay before each retry, ms; the last repeats. 1..=[`RETRY_STEPS_MAX`] entries, each > 0.
    pub delays_ms: Vec<u64>,
    /// Attempts in all (the first included) before a message is dead: `notify_attempts_max`.
    pub attempts_max: u32,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Try again after this many ms, through retry step `step` (an index into `delays_ms`).
    Retry {
        /// Delay, ms.
        delay_ms: u64,
        /// Which delay (the TTL queue on the broker).
        step: usize,
    },
    /// Park it in the dead-letter queue.
    Dead,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            delays_ms: RETRY_DELAYS_MS_DEFAULT.to_vec(),
            attempts_max: NOTIFY_ATTEMPTS_MAX_DEFAULT,
        }
    }
}

impl RetryPolicy {
    /// A policy from `--notify-retry-ms 10000,60000,600000` and `--notify-attempts-max`.
    pub fn parse(delays: &str, attempts_max: u32) -> Result<Self, String> {
        let delays_ms = delays
            .split(',')
            .map(|d| d.trim().parse::<u64>().map_err(|e| format!("{d:?}: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        if delays_ms.is_empty() || delays_ms.len() > RETRY_STEPS_MAX {
            return Err(format!("1..={RETRY_STEPS_MAX} retry delays are allowed"));
        }
        if delays_ms.contains(&0) || attempts_max == 0 {
            return Err("retry delays and notify_attempts_max must be > 0".into());
        }
        Ok(RetryPolicy {
            delays_ms,
            attempts_max,
        })
    }

    /// After `failed` attempts in all have failed (1 after the first).
    pub fn after_failure(&self, failed: u32) -> AfterFailure {
        debug_assert!(!self.delays_ms.is_empty(), "a policy has a delay");
        if failed >= self.attempts_max {
            return AfterFailure::Dead;
        }
        let step = (failed.saturating_sub(1) as usize).min(self.delays_ms.len() - 1);
        AfterFailure::Retry {
            delay_ms: self.delays_ms[step],
            step,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_then_repeat_then_the_message_is_dead() {
        let p = RetryPolicy::parse("10, 60,600", 5).expect("ok");
        let seen: Vec<_> = (1..=5).map(|n| p.after_failure(n)).collect();
        assert_eq!(
            seen,
            vec![
                AfterFailure::Retry {
                    delay_ms: 10,
                    step: 0
                },
                AfterFailure::Retry {
                    delay_ms: 60,
                    step: 1
                },
                AfterFailure::Retry {
                    delay_ms: 600,
                    step: 2
                },
                AfterFailure::Retry {
                    delay_ms: 600,
                    step: 2
                },
                AfterFailure::Dead,
            ]
        );
        assert!(RetryPolicy::parse("", 3).is_err());
        assert!(RetryPolicy::parse("0", 3).is_err());
        assert!(RetryPolicy::parse("5", 0).is_err());
        assert!(RetryPolicy::parse("1,2,3,4,5,6,7,8,9", 3).is_err());
    }
}
