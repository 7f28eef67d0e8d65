//! Times `tokens::verify` itself, for `bench/token_timing.sh`: a token with
//! an unknown id, a known id with the wrong secret, and a valid token, on a
//! real SQLite database (a fresh file in the temp dir holding `OTHERS`
//! other tokens too, so the id index is not trivial). The kinds are
//! interleaved in a random order so that drift (CPU frequency, the other
//! builds on the machine) falls on all of them alike. Prints one CSV line
//! per call: `kind,nanoseconds`.
//!
//! Each call gets an empty token cache, so that all three kinds take the
//! database path this measures: a token verified a moment ago is answered
//! from memory in the server, which by design tells only that its id is in
//! use (see `tokens::cache`), never anything about the secret.
//!
//! ```sh
//! cargo run --release --example token_timing -- 20000 > samples.csv
//! ```

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use scimitar::config::Config;
use scimitar::identity::orgs;
use scimitar::permissions::Principal;
use scimitar::store::{DatabaseUrl, Timestamp};
use scimitar::tokens::{self, NewToken, Owner, PlainToken, TokenKind};

const OTHERS: usize = 1000;
const WARMUP: usize = 2000;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let per_kind: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let path = std::env::temp_dir().join(format!("scimitar-timing-{}.db", std::process::id()));
    let url: DatabaseUrl = format!("sqlite://{}", path.display())
        .parse()
        .expect("database url");
    let state = scimitar::config::open(&Config::for_database(url))
        .await
        .expect("open the database");
    let now = Timestamp::now();

    let mut tx = state.db.begin().await.expect("begin");
    let org = orgs::create(&mut tx, "timing", now).await.expect("org");
    let mut valid = None;
    for i in 0..=OTHERS {
        let new = NewToken {
            org_id: org.id,
            owner: Owner::Organization,
            name: format!("t{i}"),
            description: None,
            permissions: vec!["scim:read".into()],
            expires_at: None,
            allowed_cidrs: vec![],
            max_lifetime_days: None,
        };
        let (_, plain) = tokens::create(&mut tx, &state.peppers, new, &Principal::Operator, now)
            .await
            .expect("token");
        if i == OTHERS / 2 {
            valid = Some(plain);
        }
    }
    tx.commit().await.expect("commit");
    let valid = valid.expect("a valid token");
    let wrong = PlainToken::with_id(TokenKind::Sat, valid.id().clone()).reveal();
    let valid = valid.reveal();

    // Every unknown id is a fresh one, as an attacker's guesses would be.
    let total = 3 * per_kind;
    let mut order: Vec<(u8, String)> = (0..WARMUP + total)
        .map(|i| match i % 3 {
            0 => (0, PlainToken::generate(TokenKind::Sat).reveal()),
            1 => (1, wrong.clone()),
            _ => (2, valid.clone()),
        })
        .collect();
    shuffle(&mut order);

    let source = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let names = ["unknown_id", "wrong_secret", "valid"];
    let mut out = String::with_capacity(total * 24);
    out.push_str("kind,ns\n");
    for (i, (kind, value)) in order.iter().enumerate() {
        let start = Instant::now();
        let cache = tokens::VerifiedTokens::default();
        let result =
            match tokens::verify(&state.db, &state.peppers, &cache, value, source, now).await {
                Err(tokens::VerifyError::Store(e)) => panic!("verify: {e}"),
                Err(tokens::VerifyError::Refused(r)) => Err(r),
                Ok(v) => Ok(v),
            };
        let ns = start.elapsed().as_nanos();
        let expected = match kind {
            0 => result
                .as_ref()
                .err()
                .is_some_and(|r| r.refusal == tokens::TokenRefusal::Unknown),
            1 => result
                .as_ref()
                .err()
                .is_some_and(|r| r.refusal == tokens::TokenRefusal::BadSecret),
            _ => result.is_ok(),
        };
        assert!(expected, "{} gave the wrong answer", names[*kind as usize]);
        if i >= WARMUP {
            out.push_str(&format!("{},{ns}\n", names[*kind as usize]));
        }
    }
    print!("{out}");
    drop(state);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// Fisher-Yates with a xorshift generator seeded from the clock: the order
/// needs to be unpredictable to the machine's rhythms, not to an attacker.
fn shuffle<T>(v: &mut [T]) {
    let mut x = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1))
        | 1;
    for i in (1..v.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let j = (x % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}
