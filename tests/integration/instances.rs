//! Two `scimitar serve` processes on one database behave as one: a
//! revocation or rotation through one is refused by the other within a
//! second,
//! last-used data from both merges, the audit chain stays whole while both
//! write, and a rotated signing key is used and published by both. On
//! PostgreSQL (SCIMITAR_TEST_POSTGRES_URL) this is the production shape; on
//! SQLite the same holds for two processes sharing one file.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{REVOCATION_REACH, drop_database, eventually, fresh_database_url, read};

/// The key encryption key every instance of these tests is given.
pub(crate) const KEK: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// A `scimitar serve` process, killed when dropped.
pub(crate) struct Instance {
    pub(crate) child: Child,
    pub(crate) base: String,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Instance {
    pub(crate) async fn start(url: &str) -> Instance {
        let mut child = Command::new(env!("CARGO_BIN_EXE_scimitar"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--database-url",
                url,
                "--last-used-flush-ms",
                "100",
            ])
            .env_remove("SCIMITAR_TOKEN_PEPPER")
            .env("SCIMITAR_KEY_ENCRYPTION_KEY", KEK)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("serve starts");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let mut base = None;
        for _ in 0..400 {
            if let Some(l) = lines
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.contains("scimitar listening"))
            {
                let addr = l
                    .split("addr=")
                    .nth(1)
                    .unwrap()
                    .split_whitespace()
                    .next()
                    .unwrap();
                base = Some(format!("http://{addr}"));
            }
            if base.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Instance {
            child,
            base: base.expect("the instance listens"),
            lines,
        }
    }

    fn password(&self) -> Option<String> {
        self.lines.lock().unwrap().iter().find_map(|l| {
            l.split("(shown only now): ")
                .nth(1)
                .map(|p| p.trim().to_string())
        })
    }

    async fn get(
        &self,
        client: &reqwest::Client,
        path: &str,
        bearer: &str,
    ) -> crate::support::Resp {
        read(
            client
                .get(format!("{}{path}", self.base))
                .bearer_auth(bearer)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// The `kid` of a JWT this instance gives for `sat` by token exchange.
    async fn exchanged_kid(&self, client: &reqwest::Client, sat: &str) -> Option<String> {
        use base64::Engine;
        let r = read(
            client
                .post(format!("{}/api/v1/tokens/exchange", self.base))
                .form(&[
                    (
                        "grant_type",
                        "urn:ietf:params:oauth:grant-type:token-exchange",
                    ),
                    ("subject_token", sat),
                ])
                .send()
                .await
                .unwrap(),
        )
        .await;
        let header = r.body["access_token"].as_str()?.split('.').next()?;
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .ok()?;
        let header: Value = serde_json::from_slice(&header).ok()?;
        header["kid"].as_str().map(str::to_string)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn two_instances_behave_as_one() {
    let url = fresh_database_url().await;
    let a = Instance::start(&url).await;
    let b = Instance::start(&url).await;
    let client = crate::support::http_client();
    let password = a.password().expect("the first instance bootstrapped");
    assert!(b.password().is_none(), "the second did not bootstrap again");
    // The printed password only serves to choose one's own (on either
    // instance), which signs in.
    let login = read(
        client
            .post(format!("{}/api/v1/auth/password", b.base))
            .json(&json!({
                "organization": "default",
                "user_name": "admin",
                "password": password,
                "new_password": "the operator's own password",
            }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(login.status, 200, "{}", login.text);
    let session = login.body["access_token"].as_str().unwrap().to_string();
    let create = |perms: Value| {
        let client = client.clone();
        let base = a.base.clone();
        let session = session.clone();
        async move {
            let r = read(
                client
                    .post(format!("{base}/api/v1/service-access-tokens"))
                    .bearer_auth(session)
                    .json(&json!({ "name": "svc", "permissions": perms }))
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(r.status, 201, "{}", r.text);
            (
                r.body["id"].as_str().unwrap().to_string(),
                r.body["token"].as_str().unwrap().to_string(),
            )
        }
    };

    // A revocation through A is refused by B within a second (B verified
    // the token just before, so it holds the row in its cache).
    let (id, sat) = create(json!(["scim:read", "scim:write"])).await;
    for instance in [&a, &b] {
        assert_eq!(
            instance
                .get(&client, "/api/v1/tokens/self", &sat)
                .await
                .status,
            200
        );
    }
    let revoked = client
        .delete(format!("{}/api/v1/service-access-tokens/{id}", a.base))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    assert_eq!(
        a.get(&client, "/api/v1/tokens/self", &sat).await.status,
        401,
        "A, which revoked it, refuses it at once"
    );
    let refused = eventually(REVOCATION_REACH, || async {
        b.get(&client, "/api/v1/tokens/self", &sat).await.status == 401
    })
    .await;
    assert!(refused, "a revocation through A must reach B within 1 s");

    // So is a change of effective access: a PAT whose member loses a
    // mapped group's permissions through A holds them no more on B within
    // a second (B holds the PAT's row in its cache).
    let post = |path: &'static str, bearer: String, body: Value| {
        let client = client.clone();
        let base = a.base.clone();
        async move {
            let r = read(
                client
                    .post(format!("{base}{path}"))
                    .bearer_auth(bearer)
                    .json(&body)
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert!(r.status.is_success(), "{path}: {}", r.text);
            r.body
        }
    };
    let me = a.get(&client, "/api/v1/tokens/self", &session).await.body;
    let ws = post(
        "/api/v1/workspaces",
        session.clone(),
        json!({ "name": "mapped" }),
    )
    .await;
    let (_, idp) = create(json!(["scim:write"])).await;
    let group = post(
        "/scim/v2/Groups",
        idp.clone(),
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Readers",
            "members": [{ "value": me["member_id"] }],
        }),
    )
    .await;
    let mapping = post(
        "/api/v1/group-mappings",
        session.clone(),
        json!({ "group": group["id"], "workspace": ws["id"], "permissions": ["sources:read"] }),
    )
    .await;
    let pat = post(
        "/api/v1/personal-access-tokens",
        session.clone(),
        json!({ "name": "laptop" }),
    )
    .await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let holds = |body: &Value| body["workspace_permissions"] != json!([]);
    for instance in [&a, &b] {
        assert!(holds(
            &instance
                .get(&client, "/api/v1/tokens/self", &pat)
                .await
                .body
        ));
    }
    let removed = client
        .delete(format!(
            "{}/api/v1/group-mappings/{}",
            a.base,
            mapping["id"].as_str().unwrap()
        ))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 204);
    assert!(
        !holds(&a.get(&client, "/api/v1/tokens/self", &pat).await.body),
        "A, which removed the mapping, applies it at once"
    );
    let narrowed = eventually(REVOCATION_REACH, || async {
        !holds(&b.get(&client, "/api/v1/tokens/self", &pat).await.body)
    })
    .await;
    assert!(
        narrowed,
        "an access change through A must reach B within 1 s"
    );

    // So is a rotation: the old value dies, the new one works on both.
    let (id, old) = create(json!(["scim:read", "scim:write"])).await;
    let rotated = read(
        client
            .post(format!(
                "{}/api/v1/service-access-tokens/{id}/rotate",
                a.base
            ))
            .bearer_auth(&session)
            .json(&json!({ "grace_period_seconds": 0 }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let new = rotated.body["token"].as_str().unwrap().to_string();
    assert_eq!(
        b.get(&client, "/api/v1/tokens/self", &old).await.status,
        401
    );
    assert_eq!(
        b.get(&client, "/api/v1/tokens/self", &new).await.status,
        200
    );
    assert_eq!(
        a.get(&client, "/api/v1/tokens/self", &new).await.status,
        200
    );

    // Both write at once; the chain stays whole.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let base = if i % 2 == 0 {
            a.base.clone()
        } else {
            b.base.clone()
        };
        let client = client.clone();
        let token = new.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({ "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": format!("u{i}@example.com") });
            client
                .post(format!("{base}/scim/v2/Users"))
                .bearer_auth(token)
                .header("content-type", "application/scim+json")
                .body(body.to_string())
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 201);
    }
    let verify = a.get(&client, "/api/v1/audit-logs/verify", &session).await;
    assert_eq!(verify.body["ok"], true, "{}", verify.text);
    let written = verify.body["records"].as_i64().unwrap();
    assert!(written > 20);

    // Reads on both at once: each instance appends its batches of read
    // records after the chain head it remembers, which the other keeps
    // moving, so most batches find it stale and must not write.
    let mut reads = Vec::new();
    for i in 0..40 {
        let base = if i % 2 == 0 { &a.base } else { &b.base };
        reads.push(
            client
                .get(format!("{base}/scim/v2/Users?count=1"))
                .bearer_auth(&new)
                .send(),
        );
    }
    for r in futures_util::future::join_all(reads).await {
        assert_eq!(r.unwrap().status(), 200);
    }
    let verify = b.get(&client, "/api/v1/audit-logs/verify", &session).await;
    assert_eq!(verify.body["ok"], true, "{}", verify.text);
    // The 40 reads and the first verification, each recorded once.
    assert!(
        verify.body["records"].as_i64().unwrap() >= written + 41,
        "{}",
        verify.text
    );

    // Last use merges: the newest use, from either instance, wins.
    a.get(&client, "/api/v1/tokens/self", &new).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let later = scimitar::store::Timestamp::now();
    b.get(&client, "/api/v1/tokens/self", &new).await;
    let last_used = || async {
        let path = format!("/api/v1/service-access-tokens/{id}");
        let r = a.get(&client, &path, &session).await;
        r.body["last_used_at"]
            .as_str()
            .and_then(scimitar::store::Timestamp::parse_rfc3339)
    };
    let seen = eventually(Duration::from_secs(5), || async {
        last_used().await.is_some_and(|t| t >= later)
    })
    .await;
    assert!(seen, "the later use, through b, was flushed");
    // Both have flushed by now (every 100 ms); a's older use never wins.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(last_used().await.is_some_and(|t| t >= later));

    // A key rotated through one is used and published by both.
    let before = a.get(&client, "/.well-known/jwks.json", "").await.body;
    let rotate = Command::new(env!("CARGO_BIN_EXE_scimitar"))
        .args(["keys", "rotate", "--database-url", &url, "--json"])
        .env("SCIMITAR_KEY_ENCRYPTION_KEY", KEK)
        .output()
        .unwrap();
    assert!(
        rotate.status.success(),
        "{}",
        String::from_utf8_lossy(&rotate.stderr)
    );
    let published_by_both = eventually(Duration::from_secs(5), || async {
        let ka = a.get(&client, "/.well-known/jwks.json", "").await.body["keys"]
            .as_array()
            .map(Vec::len);
        let kb = b.get(&client, "/.well-known/jwks.json", "").await.body["keys"]
            .as_array()
            .map(Vec::len);
        let n = before["keys"].as_array().unwrap().len() + 1;
        ka == Some(n) && kb == Some(n)
    })
    .await;
    assert!(published_by_both, "both instances publish the new key");
    let jwks = b.get(&client, "/.well-known/jwks.json", "").await.body;
    let newest_kid = jwks["keys"][0]["kid"].as_str().unwrap().to_string();
    let rotated: Value = serde_json::from_slice(&rotate.stdout).unwrap();
    assert_eq!(
        rotated["kid"],
        newest_kid.as_str(),
        "the current key is published first"
    );
    let ws = read(
        client
            .post(format!("{}/api/v1/workspaces", a.base))
            .bearer_auth(&session)
            .json(&json!({ "name": "w" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let ws_sat = read(
        client
            .post(format!("{}/api/v1/service-access-tokens", a.base))
            .bearer_auth(&session)
            .json(&json!({ "name": "ws", "workspace_id": ws.body["id"], "permissions": ["sources:read"] }))
            .send()
            .await
            .unwrap(),
    )
    .await
    .body["token"]
        .as_str()
        .unwrap()
        .to_string();
    for instance in [&a, &b] {
        let signed_with_new = eventually(Duration::from_secs(5), || async {
            instance.exchanged_kid(&client, &ws_sat).await.as_deref() == Some(newest_kid.as_str())
        })
        .await;
        assert!(
            signed_with_new,
            "{} signs with the rotated key",
            instance.base
        );
    }
    // Both hold the configured key-encryption key: no warning about it.
    for instance in [&a, &b] {
        let lines = instance.lines.lock().unwrap();
        assert!(
            !lines
                .iter()
                .any(|l| l.contains("SCIMITAR_KEY_ENCRYPTION_KEY is not set")),
            "{lines:?}"
        );
    }
    drop(a);
    drop(b);
    drop_database(&url);
}
