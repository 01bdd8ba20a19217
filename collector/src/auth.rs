//! Who is calling: node keys (agents), admin and auditor tokens (people and tools).
//!
//! Node keys are 256 random bits, handed out once at enrolment and stored as SHA-256 (a key is
//! random, so an unsalted fast hash is enough: there is nothing to brute-force). Lookups go through
//! an in-memory map from key hash to host, filled at start and updated on every enrolment, so the
//! ingest path never queries the database to authenticate.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// Prefix of node keys, so a leaked key is recognisable in logs and secret scanners.
pub const NODE_KEY_PREFIX: &str = "vnk1_";

/// A new random node key (`vnk1_` + 64 hex digits = 256 bits).
pub fn new_node_key() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes)?;
    Ok(format!("{NODE_KEY_PREFIX}{}", hex::encode(bytes)))
}

/// Prefix of read-only feed tokens (`store::feed_tokens`).
pub const FEED_TOKEN_PREFIX: &str = "vft1_";

/// A new read-only feed token: the prefix and 256 random bits in hex.
pub fn new_feed_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes)?;
    Ok(format!("{FEED_TOKEN_PREFIX}{}", hex::encode(bytes)))
}

/// SHA-256 of a secret.
pub fn hash_secret(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Compare two secrets without leaking where they differ (compares their hashes in constant time).
pub fn secrets_equal(a: &str, b: &str) -> bool {
    let (ha, hb) = (hash_secret(a), hash_secret(b));
    ha.iter()
        .zip(hb.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// An authenticated agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeIdentity {
    pub host_id: i64,
    pub machine_id: String,
}

/// Node key hash → host.
#[derive(Default)]
pub struct NodeKeys {
    map: RwLock<HashMap<Vec<u8>, NodeIdentity>>,
}

impl NodeKeys {
    /// Fill from the store.
    pub fn load(rows: Vec<(Vec<u8>, i64, String)>) -> NodeKeys {
        let map = rows
            .into_iter()
            .map(|(h, host_id, machine_id)| {
                (
                    h,
                    NodeIdentity {
                        host_id,
                        machine_id,
                    },
                )
            })
            .collect();
        NodeKeys {
            map: RwLock::new(map),
        }
    }

    /// The host owning `key`, if any.
    pub fn lookup(&self, key: &str) -> Option<NodeIdentity> {
        let h = hash_secret(key);
        self.map.read().ok()?.get(&h).cloned()
    }

    /// Record a (re-)enrolment: the new key works, the replaced one stops working.
    pub fn rotate(&self, new_hash: Vec<u8>, replaced: Option<Vec<u8>>, who: NodeIdentity) {
        if let Ok(mut m) = self.map.write() {
            if let Some(old) = replaced {
                m.remove(&old);
            }
            m.insert(new_hash, who);
        }
    }
}

/// What an API token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Read and write.
    Admin,
    /// Read and export only.
    Auditor,
}

/// The configured API tokens.
pub struct Tokens {
    entries: Vec<(Vec<u8>, Role)>,
}

impl Tokens {
    /// From the config lists.
    pub fn new(admin: &[String], auditor: &[String]) -> Tokens {
        let mut entries = Vec::new();
        entries.extend(admin.iter().map(|t| (hash_secret(t), Role::Admin)));
        entries.extend(auditor.iter().map(|t| (hash_secret(t), Role::Auditor)));
        Tokens { entries }
    }

    /// The role of `token`, if it is one of ours.
    pub fn role(&self, token: &str) -> Option<Role> {
        let h = hash_secret(token);
        let mut found = None;
        for (t, role) in &self.entries {
            // No early exit: every configured token is compared.
            let eq = t.iter().zip(h.iter()).fold(0u8, |a, (x, y)| a | (x ^ y)) == 0;
            if eq && found.is_none() {
                found = Some(*role);
            }
        }
        found
    }
}

/// Limits on failed enrolments per source address: a token bucket of `burst` failures refilled at
/// one per `refill`. An address with an empty bucket is answered 429 for every enrolment (its
/// guesses are not even checked) until a failure's worth has refilled. The failures of each
/// window are kept for one summary log line instead of one line per guess.
pub struct EnrolmentGuard {
    burst: f64,
    refill: Duration,
    state: Mutex<GuardState>,
}

struct GuardState {
    buckets: HashMap<IpAddr, Bucket>,
    /// This window's (failures, refusals with 429) per address.
    window: BTreeMap<IpAddr, (u64, u64)>,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Addresses named at most in one summary line.
const SUMMARY_ADDRESSES: usize = 20;

/// Most source addresses tracked at once. Past it, buckets that have refilled are dropped; if none
/// has, a new address is judged without being tracked, so memory stays bounded whatever the number
/// of sources.
const MAX_TRACKED: usize = 100_000;

/// What failures are counted under: the IPv4 address, or the /64 of an IPv6 one (a single machine
/// commonly holds a whole /64 and could otherwise change address at every guess).
pub fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(
                u128::from(v6) & !(u64::MAX as u128),
            )),
        },
    }
}

impl EnrolmentGuard {
    /// The limits of `[auth]`.
    pub fn new(auth: &crate::config::AuthSection) -> EnrolmentGuard {
        EnrolmentGuard::with_limits(
            auth.enroll_failure_burst,
            Duration::from_secs(auth.enroll_failure_refill_seconds),
        )
    }

    /// `burst` failures at once, one more per `refill`.
    pub fn with_limits(burst: u32, refill: Duration) -> EnrolmentGuard {
        EnrolmentGuard {
            burst: f64::from(burst.max(1)),
            refill: refill.max(Duration::from_millis(1)),
            state: Mutex::new(GuardState {
                buckets: HashMap::new(),
                window: BTreeMap::new(),
            }),
        }
    }

    fn refilled(&self, b: Bucket, now: Instant) -> Bucket {
        let gained = now.saturating_duration_since(b.at).as_secs_f64() / self.refill.as_secs_f64();
        Bucket {
            tokens: (b.tokens + gained).min(self.burst),
            at: now,
        }
    }

    /// Before the secret is compared: `Err(retry_after)` when `ip` has used up its failures.
    pub fn admit(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let ip = source_key(ip);
        let Ok(mut st) = self.state.lock() else {
            return Ok(());
        };
        let Some(b) = st.buckets.get(&ip).copied() else {
            return Ok(());
        };
        let b = self.refilled(b, now);
        st.buckets.insert(ip, b);
        if b.tokens >= 1.0 {
            return Ok(());
        }
        st.window.entry(ip).or_default().1 += 1;
        let wait = self.refill.as_secs_f64() * (1.0 - b.tokens);
        Err(Duration::from_secs_f64(wait.max(0.001)))
    }

    /// A wrong secret from `ip`: it costs one failure.
    pub fn failed(&self, ip: IpAddr, now: Instant) {
        let ip = source_key(ip);
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        if st.buckets.len() >= MAX_TRACKED && !st.buckets.contains_key(&ip) {
            let burst = self.burst;
            st.buckets
                .retain(|_, b| self.refilled(*b, now).tokens < burst);
            if st.buckets.len() >= MAX_TRACKED {
                return;
            }
        }
        let b = st.buckets.get(&ip).copied().unwrap_or(Bucket {
            tokens: self.burst,
            at: now,
        });
        let mut b = self.refilled(b, now);
        b.tokens = (b.tokens - 1.0).max(0.0);
        st.buckets.insert(ip, b);
        if st.window.len() < MAX_TRACKED || st.window.contains_key(&ip) {
            st.window.entry(ip).or_default().0 += 1;
        }
    }

    /// Close the current window: its (failures, refusals) per address, or `None` when there were
    /// none. Buckets that have refilled completely are forgotten, so memory follows the
    /// addresses that failed recently, not every address ever seen.
    pub fn take_window(&self, now: Instant) -> Option<BTreeMap<IpAddr, (u64, u64)>> {
        let mut st = self.state.lock().ok()?;
        let buckets = std::mem::take(&mut st.buckets);
        st.buckets = buckets
            .into_iter()
            .map(|(ip, b)| (ip, self.refilled(b, now)))
            .filter(|(_, b)| b.tokens < self.burst)
            .collect();
        let window = std::mem::take(&mut st.window);
        (!window.is_empty()).then_some(window)
    }
}

/// Log one line for a window of failed enrolments: totals, and the busiest addresses with their
/// counts (`by_address="address=failures/refusals …"`).
pub fn log_enrolment_failures(window: &BTreeMap<IpAddr, (u64, u64)>, seconds: u64) {
    let failures: u64 = window.values().map(|v| v.0).sum();
    let refused: u64 = window.values().map(|v| v.1).sum();
    let mut busiest: Vec<_> = window.iter().collect();
    busiest.sort_by(|a, b| (b.1 .0 + b.1 .1).cmp(&(a.1 .0 + a.1 .1)).then(a.0.cmp(b.0)));
    let by_address = busiest
        .iter()
        .take(SUMMARY_ADDRESSES)
        .map(|(ip, (f, r))| format!("{ip}={f}/{r}"))
        .collect::<Vec<_>>()
        .join(" ");
    tracing::warn!(
        window_seconds = seconds,
        addresses = window.len(),
        failures,
        rate_limited = refused,
        by_address = %by_address,
        "failed enrolments (wrong secret) in the last window"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_keys_are_256_bit_and_rotate() {
        let k1 = new_node_key().unwrap();
        assert_eq!(k1.len(), NODE_KEY_PREFIX.len() + 64);
        assert_ne!(k1, new_node_key().unwrap());
        let keys = NodeKeys::default();
        let who = NodeIdentity {
            host_id: 1,
            machine_id: "m".into(),
        };
        keys.rotate(hash_secret(&k1), None, who.clone());
        assert_eq!(keys.lookup(&k1), Some(who.clone()));
        let k2 = new_node_key().unwrap();
        keys.rotate(hash_secret(&k2), Some(hash_secret(&k1)), who.clone());
        assert_eq!(keys.lookup(&k1), None, "old key stops working");
        assert_eq!(keys.lookup(&k2), Some(who));
    }

    #[test]
    fn tokens_map_to_roles() {
        let t = Tokens::new(&["a".repeat(32)], &["b".repeat(32)]);
        assert_eq!(t.role(&"a".repeat(32)), Some(Role::Admin));
        assert_eq!(t.role(&"b".repeat(32)), Some(Role::Auditor));
        assert_eq!(t.role("c"), None);
        assert!(secrets_equal("x", "x") && !secrets_equal("x", "y"));
    }

    /// 50 wrong secrets in a row from one address: the first `burst` are judged, the rest are
    /// refused with a Retry-After until one failure's worth has refilled; another address is not
    /// affected; the window's counts come back once, and full buckets are forgotten.
    #[test]
    fn failed_enrolments_are_limited_per_address_with_an_injected_clock() {
        let g = EnrolmentGuard::with_limits(10, Duration::from_secs(60));
        let t0 = Instant::now();
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let mut judged = 0;
        let mut limited = 0;
        for _ in 0..50 {
            match g.admit(a, t0) {
                Ok(()) => {
                    judged += 1;
                    g.failed(a, t0);
                }
                Err(wait) => {
                    limited += 1;
                    assert_eq!(wait, Duration::from_secs(60));
                }
            }
        }
        assert_eq!((judged, limited), (10, 40));
        assert!(g.admit(b, t0).is_ok(), "another address is not limited");
        // Half a refill later: 30 s still to wait; a full one later: one more try.
        assert_eq!(
            g.admit(a, t0 + Duration::from_secs(30)),
            Err(Duration::from_secs(30))
        );
        assert!(g.admit(a, t0 + Duration::from_secs(60)).is_ok());
        g.failed(a, t0 + Duration::from_secs(60));
        assert!(g.admit(a, t0 + Duration::from_secs(61)).is_err());
        let w = g.take_window(t0 + Duration::from_secs(61)).unwrap();
        assert_eq!(w.get(&a), Some(&(11, 42)));
        assert_eq!(w.get(&b), None);
        assert!(g.take_window(t0 + Duration::from_secs(62)).is_none());
        // Ten refills later the bucket is full again and forgotten.
        g.take_window(t0 + Duration::from_secs(61 + 600));
        assert!(g.state.lock().unwrap().buckets.is_empty());
    }

    /// IPv6 sources count per /64, IPv4-mapped ones as IPv4.
    #[test]
    fn ipv6_failures_count_per_64() {
        let g = EnrolmentGuard::with_limits(2, Duration::from_secs(60));
        let t0 = Instant::now();
        g.failed("2001:db8:1:2::1".parse().unwrap(), t0);
        g.failed("2001:db8:1:2:ffff::9".parse().unwrap(), t0);
        assert!(g.admit("2001:db8:1:2::77".parse().unwrap(), t0).is_err());
        assert!(g.admit("2001:db8:1:3::1".parse().unwrap(), t0).is_ok());
        g.failed("::ffff:192.0.2.9".parse().unwrap(), t0);
        g.failed("192.0.2.9".parse().unwrap(), t0);
        assert!(g.admit("192.0.2.9".parse().unwrap(), t0).is_err());
        let w = g.take_window(t0).unwrap();
        assert_eq!(
            w.get(&"2001:db8:1:2::".parse::<IpAddr>().unwrap()),
            Some(&(2, 1))
        );
        assert_eq!(
            w.get(&"192.0.2.9".parse::<IpAddr>().unwrap()),
            Some(&(2, 1))
        );
    }
}
