//! The data the cases aim at and the credentials they present, seeded once;
//! and the snapshot of everything a bad request must not change, taken
//! before and after, through the API and straight from the tables.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::case::Auth;
use crate::support::{ENTERPRISE, GROUP_SCHEMA, TestApp, USER_SCHEMA};

/// Seeded data and the credentials of each [`Auth`].
pub struct Fixture {
    ids: BTreeMap<&'static str, String>,
    creds: BTreeMap<&'static str, String>,
    pub admin: String,
}

impl Fixture {
    pub async fn seed(app: &TestApp) -> Fixture {
        let admin = app.admin_session().await;
        let scim = app.scim().await;
        let user = scim
            .create_user(json!({
                "schemas": [USER_SCHEMA, ENTERPRISE],
                "userName": "alice",
                "name": { "givenName": "Alice", "familyName": "Liddell" },
                "emails": [{ "value": "alice@example.com", "type": "work", "primary": true }],
                "title": "engineer",
                ENTERPRISE: { "department": "R&D" }
            }))
            .await;
        scim.create_user(crate::support::user("bob")).await;
        let group = scim
            .create_group(json!({
                "schemas": [GROUP_SCHEMA], "displayName": "eng", "members": [{ "value": user }]
            }))
            .await;
        let ws = app.create_workspace(&admin, "prod").await;
        let (sat, _) = app
            .create_sat(
                &admin,
                json!({ "name": "victim", "permissions": ["scim:read"] }),
            )
            .await;
        let (_, audit) = app
            .create_sat(
                &admin,
                json!({ "name": "auditor", "permissions": ["audit_logs:read"] }),
            )
            .await;
        let (_, introspect) = app
            .create_sat(
                &admin,
                json!({ "name": "svc", "permissions": ["tokens:introspect"] }),
            )
            .await;
        let (_, workspace) = app
            .create_sat(
                &admin,
                json!({ "name": "ws", "workspace_id": ws, "permissions": ["sources:read"] }),
            )
            .await;
        let p = app
            .post(
                "/api/v1/personal-access-tokens",
                &admin,
                json!({ "name": "mine" }),
            )
            .await;
        assert_eq!(p.status, 201, "{}", p.text);
        let pat_id = p.body["id"].as_str().unwrap().to_string();
        let pat = p.body["token"].as_str().unwrap().to_string();
        let (member, _) = app.signed_in_member("default", "carol", "member").await;
        let me = app.get("/api/v1/tokens/self", &admin).await;
        let admin_id = me.body["member_id"]
            .as_str()
            .or(me.body["id"].as_str())
            .unwrap()
            .to_string();
        let records = app.get("/api/v1/audit-logs?limit=1", &audit).await;
        let record = records.body["records"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        // The console's CSRF token for the admin's session, from a form.
        let page = app
            .client
            .get(app.url("/console/workspaces"))
            .header("cookie", format!("scimitar_console={admin}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = page
            .split(r#"name="csrf" value=""#)
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("a CSRF field on the workspaces page")
            .to_string();
        Fixture {
            ids: BTreeMap::from([
                ("{csrf}", csrf),
                ("{user}", user),
                ("{group}", group),
                ("{sat}", sat),
                ("{pat}", pat_id),
                ("{ws}", ws),
                ("{member}", member),
                ("{admin}", admin_id),
                ("{record}", record),
                // The workspace SAT's value, for bodies that present it.
                ("{workspace_token}", workspace.clone()),
            ]),
            creds: BTreeMap::from([
                ("scim", scim.token.clone()),
                ("admin", admin.clone()),
                ("pat", pat),
                ("audit", audit),
                ("introspect", introspect),
                ("workspace", workspace),
            ]),
            admin,
        }
    }

    pub fn cred(&self, auth: Auth) -> Option<&str> {
        let key = match auth {
            Auth::None => return None,
            Auth::Scim => "scim",
            Auth::Admin => "admin",
            Auth::Pat => "pat",
            Auth::Audit => "audit",
            Auth::Introspect => "introspect",
            Auth::Workspace => "workspace",
            Auth::Console => "admin",
        };
        self.creds.get(key).map(String::as_str)
    }

    pub fn path(&self, raw: &str) -> String {
        let mut p = raw.to_string();
        for (k, v) in &self.ids {
            p = p.replace(k, v);
        }
        p
    }

    /// Everything a bad request must not change, read through the API
    /// (last-used data aside: using a token is not changing it).
    pub async fn snapshot(&self, app: &TestApp) -> Value {
        let scim = self.cred(Auth::Scim).unwrap();
        let mut out = serde_json::Map::new();
        for path in [
            "/scim/v2/Users?count=1000&sortBy=userName",
            "/scim/v2/Groups?count=1000&sortBy=displayName",
        ] {
            let r = app.get(path, scim).await;
            assert_eq!(r.status, 200, "{}", r.text);
            out.insert(path.into(), r.body);
        }
        for path in [
            "/api/v1/service-access-tokens",
            "/api/v1/members",
            "/api/v1/workspaces",
        ] {
            let r = app.get(path, &self.admin).await;
            assert_eq!(r.status, 200, "{}", r.text);
            out.insert(path.into(), strip_last_used(r.body));
        }
        let r = app
            .get(
                "/api/v1/personal-access-tokens",
                self.cred(Auth::Pat).unwrap(),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        out.insert("pats".into(), strip_last_used(r.body));
        out.insert("tables".into(), table_snapshot(app).await);
        Value::Object(out)
    }
}

fn strip_last_used(mut v: Value) -> Value {
    match &mut v {
        Value::Object(o) => {
            o.remove("last_used_at");
            o.remove("last_used_ip");
            for (_, x) in o.iter_mut() {
                *x = strip_last_used(x.take());
            }
        }
        Value::Array(a) => {
            for x in a.iter_mut() {
                *x = strip_last_used(x.take());
            }
        }
        _ => {}
    }
    v
}

/// Row counts of every data table, and what the API never shows: secret
/// hashes and password hashes.
async fn table_snapshot(app: &TestApp) -> Value {
    let db = app.db();
    let mut out = serde_json::Map::new();
    for table in [
        "organizations",
        "workspaces",
        "members",
        "tokens",
        "scim_groups",
        "scim_group_members",
        "scim_values",
        "signing_keys",
        "audit_streams",
    ] {
        let sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"));
        let n: i64 = scimitar::on_db!(db, pool => {
            sqlx::query_scalar(sql).fetch_one(pool).await
        })
        .expect("count");
        out.insert(table.into(), json!(n));
    }
    let secrets: Vec<(String, Vec<u8>, Option<String>)> = scimitar::on_db!(db, pool => {
        sqlx::query_as("SELECT id, secret_hash, revoked_at FROM tokens ORDER BY id")
            .fetch_all(pool)
            .await
    })
    .expect("tokens");
    out.insert(
        "secret_hashes".into(),
        json!(
            secrets
                .iter()
                .map(|(id, h, r)| format!("{id}:{}:{r:?}", hex(h)))
                .collect::<Vec<_>>()
        ),
    );
    let passwords: Vec<(String, Option<String>)> = scimitar::on_db!(db, pool => {
        sqlx::query_as("SELECT user_name, password_hash FROM members ORDER BY user_name")
            .fetch_all(pool)
            .await
    })
    .expect("members");
    out.insert("password_hashes".into(), json!(passwords));
    Value::Object(out)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub async fn chains(app: &TestApp) -> Vec<String> {
    let db = app.db();
    scimitar::on_db!(db, pool => {
        sqlx::query_scalar("SELECT DISTINCT chain FROM audit_events")
            .fetch_all(pool)
            .await
    })
    .expect("chains")
}

/// Paths at which two JSON values differ.
pub fn diff(a: &Value, b: &Value) -> Vec<String> {
    fn walk(path: String, a: &Value, b: &Value, out: &mut Vec<String>) {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                for k in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                    walk(
                        format!("{path}/{k}"),
                        x.get(k).unwrap_or(&Value::Null),
                        y.get(k).unwrap_or(&Value::Null),
                        out,
                    );
                }
            }
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
                for (i, (p, q)) in x.iter().zip(y).enumerate() {
                    walk(format!("{path}/{i}"), p, q, out);
                }
            }
            _ if a != b => out.push(format!("  {path}: {a} -> {b}")),
            _ => {}
        }
    }
    let mut out = vec![];
    walk(String::new(), a, b, &mut out);
    out
}
