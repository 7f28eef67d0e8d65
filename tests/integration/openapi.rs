//! `GET /api/v1/openapi.json`: served without a credential, the same as the
//! committed `docs/openapi.json`, and true to the server: real requests and
//! answers of the admin API, the Audit Log API and the token authority are
//! checked against the schemas the document gives them (an answer's key the
//! document does not name fails, as does a required one it lacks).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Resp, TestApp};

/// Checks `value` against `schema`, resolving `$ref`s in `doc`. Objects are
/// closed: a key the schema does not name is an error, so that an answer
/// cannot grow a field the document does not describe.
fn check(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/components/schemas/");
        return check(doc, &doc["components"]["schemas"][name], value, at);
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        // The parts together describe one object: merge their properties.
        let mut merged = json!({ "type": "object", "properties": {}, "required": [] });
        for part in all {
            let part = resolve(doc, part);
            for (k, v) in part["properties"].as_object().into_iter().flatten() {
                merged["properties"][k] = v.clone();
            }
            for r in part["required"].as_array().into_iter().flatten() {
                merged["required"].as_array_mut().unwrap().push(r.clone());
            }
        }
        return check(doc, &merged, value, at);
    }
    if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
        return if one.iter().any(|s| check(doc, s, value, at).is_ok()) {
            Ok(())
        } else {
            Err(format!("{at}: {value} matches none of {one:?}"))
        };
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => return Ok(()),
    };
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let fits = types.contains(&kind) || (kind == "integer" && types.contains(&"number"));
    if !fits {
        return Err(format!("{at}: {value} is {kind}, not {types:?}"));
    }
    match value {
        Value::Object(map) => {
            let props = schema["properties"].as_object();
            for (k, v) in map {
                let Some(s) = props.and_then(|p| p.get(k)) else {
                    if schema.get("properties").is_none() {
                        continue; // a free-form object
                    }
                    return Err(format!("{at}: `{k}` is not in the document"));
                };
                check(doc, s, v, &format!("{at}.{k}"))?;
            }
            for r in schema["required"].as_array().into_iter().flatten() {
                let r = r.as_str().unwrap();
                if !map.contains_key(r) {
                    return Err(format!("{at}: required `{r}` is missing"));
                }
            }
            Ok(())
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| check(doc, &schema["items"], v, &format!("{at}[{i}]"))),
        _ => Ok(()),
    }
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => &doc["components"]["schemas"][r.trim_start_matches("#/components/schemas/")],
        None => schema,
    }
}

struct Doc(Value);

impl Doc {
    fn op(&self, method: &str, path: &str) -> &Value {
        let op = &self.0["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is not in the document");
        op
    }

    /// The answer `r` to `method path` fits the document's schema for its
    /// status.
    fn answer(&self, method: &str, path: &str, r: &Resp) {
        let op = self.op(method, path);
        let status = r.status.as_u16().to_string();
        let described = &op["responses"][&status];
        assert!(
            described.is_object(),
            "{method} {path}: status {status} is not in the document ({})",
            r.text
        );
        let Some(content) = described["content"].as_object() else {
            assert!(
                r.text.is_empty(),
                "{method} {path} {status}: undocumented body"
            );
            return;
        };
        let (_, media) = content.iter().next().unwrap();
        if let Err(e) = check(&self.0, &media["schema"], &r.body, "answer") {
            panic!("{method} {path} {status}: {e}\n{}", r.text);
        }
    }

    /// `body` fits the operation's request body schema.
    fn request(&self, method: &str, path: &str, body: &Value) {
        let schema = &self.op(method, path)["requestBody"]["content"]["application/json"]["schema"];
        if let Err(e) = check(&self.0, schema, body, "request") {
            panic!("{method} {path}: {e}");
        }
    }
}

#[tokio::test]
async fn the_document_is_served_without_a_credential_as_committed() {
    let app = TestApp::spawn().await;
    let r = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/json");
    let served = r.text().await.unwrap();
    let committed = include_str!("../../docs/openapi.json");
    assert!(
        served == committed,
        "the served document is not docs/openapi.json"
    );
    let doc: Value = serde_json::from_str(&served).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
}

#[tokio::test]
async fn real_requests_and_answers_fit_the_document() {
    let app = TestApp::spawn().await;
    let doc = Doc(serde_json::from_str(include_str!("../../docs/openapi.json")).unwrap());

    let login =
        json!({ "organization": "default", "user_name": "admin", "password": app.admin_password });
    doc.request("post", "/api/v1/auth/login", &login);
    let r = app.login("default", "admin", &app.admin_password).await;
    doc.answer("post", "/api/v1/auth/login", &r);
    let session = r.body["access_token"].as_str().unwrap().to_string();
    let bad = app
        .login("default", "admin", "not the password at all")
        .await;
    doc.answer("post", "/api/v1/auth/login", &bad);

    // Workspaces.
    let body = json!({ "name": "documented" });
    doc.request("post", "/api/v1/workspaces", &body);
    let r = app.post("/api/v1/workspaces", &session, body).await;
    doc.answer("post", "/api/v1/workspaces", &r);
    let ws = r.body["id"].as_str().unwrap().to_string();
    let r = app.get("/api/v1/workspaces", &session).await;
    doc.answer("get", "/api/v1/workspaces", &r);
    let r = app.get(&format!("/api/v1/workspaces/{ws}"), &session).await;
    doc.answer("get", "/api/v1/workspaces/{id}", &r);
    let r = app
        .post(
            "/api/v1/workspaces",
            &session,
            json!({ "name": "documented" }),
        )
        .await;
    doc.answer("post", "/api/v1/workspaces", &r);

    // Service Access Tokens.
    let body = json!({
        "name": "documented",
        "description": "for the OpenAPI test",
        "permissions": ["scim:read", "audit_logs:read", "tokens:introspect"],
        "expires_in_days": 30,
        "allowed_cidrs": ["127.0.0.1/32"],
    });
    doc.request("post", "/api/v1/service-access-tokens", &body);
    let r = app
        .post("/api/v1/service-access-tokens", &session, body)
        .await;
    doc.answer("post", "/api/v1/service-access-tokens", &r);
    let sat_id = r.body["id"].as_str().unwrap().to_string();
    let sat = r.body["token"].as_str().unwrap().to_string();
    let body = json!({
        "name": "workspace",
        "workspace_id": ws,
        "permissions": ["sources:read"],
    });
    doc.request("post", "/api/v1/service-access-tokens", &body);
    let r = app
        .post("/api/v1/service-access-tokens", &session, body)
        .await;
    doc.answer("post", "/api/v1/service-access-tokens", &r);
    let r = app.get("/api/v1/service-access-tokens", &session).await;
    doc.answer("get", "/api/v1/service-access-tokens", &r);
    let one = format!("/api/v1/service-access-tokens/{sat_id}");
    let r = app.get(&one, &session).await;
    doc.answer("get", "/api/v1/service-access-tokens/{id}", &r);
    let body = json!({ "description": null, "name": "renamed" });
    doc.request("patch", "/api/v1/service-access-tokens/{id}", &body);
    let r = app.patch(&one, &session, body).await;
    doc.answer("patch", "/api/v1/service-access-tokens/{id}", &r);
    let body = json!({ "grace_period_seconds": 60 });
    doc.request("post", "/api/v1/service-access-tokens/{id}/rotate", &body);
    let r = app.post(&format!("{one}/rotate"), &session, body).await;
    doc.answer("post", "/api/v1/service-access-tokens/{id}/rotate", &r);
    let sat = r.body["token"].as_str().map_or(sat, str::to_string);
    let r = app
        .post(
            "/api/v1/service-access-tokens",
            &session,
            json!({ "name": "x", "permissions": ["no:such"] }),
        )
        .await;
    doc.answer("post", "/api/v1/service-access-tokens", &r);

    // Personal Access Tokens, and what each credential is.
    let body = json!({ "name": "mine", "expires_in_days": 7 });
    doc.request("post", "/api/v1/personal-access-tokens", &body);
    let r = app
        .post("/api/v1/personal-access-tokens", &session, body)
        .await;
    doc.answer("post", "/api/v1/personal-access-tokens", &r);
    let pat = r.body["token"].as_str().unwrap().to_string();
    let r = app.get("/api/v1/personal-access-tokens", &pat).await;
    doc.answer("get", "/api/v1/personal-access-tokens", &r);
    for credential in [&session, &sat, &pat] {
        let r = app.get("/api/v1/tokens/self", credential).await;
        doc.answer("get", "/api/v1/tokens/self", &r);
    }
    let r = app.get("/api/v1/tokens/self", "scim_sat_not-a-token").await;
    doc.answer("get", "/api/v1/tokens/self", &r);

    // Organization and members.
    let r = app.get("/api/v1/organization", &session).await;
    doc.answer("get", "/api/v1/organization", &r);
    let body = json!({ "scim_passwords": false });
    doc.request("patch", "/api/v1/organization", &body);
    let r = app.patch("/api/v1/organization", &session, body).await;
    doc.answer("patch", "/api/v1/organization", &r);
    let r = app.get("/api/v1/members", &session).await;
    doc.answer("get", "/api/v1/members", &r);
    let me = r.body["members"][0]["id"].as_str().unwrap().to_string();
    // A SAT holds no admin permission: 403.
    let r = app.get("/api/v1/members", &sat).await;
    doc.answer("get", "/api/v1/members", &r);
    // The only admin cannot step down: 409.
    let body = json!({ "role": "member" });
    doc.request("patch", "/api/v1/members/{id}", &body);
    let r = app
        .patch(&format!("/api/v1/members/{me}"), &session, body)
        .await;
    doc.answer("patch", "/api/v1/members/{id}", &r);

    // The Audit Log API, with the SAT that may read it.
    let r = app.get("/api/v1/audit-logs?limit=5", &sat).await;
    doc.answer("get", "/api/v1/audit-logs", &r);
    let record = r.body["records"][0]["id"].as_str().unwrap().to_string();
    let r = app.get(&format!("/api/v1/audit-logs/{record}"), &sat).await;
    doc.answer("get", "/api/v1/audit-logs/{id}", &r);
    let r = app.get("/api/v1/audit-logs/verify", &sat).await;
    doc.answer("get", "/api/v1/audit-logs/verify", &r);
    let r = app.get("/api/v1/audit-logs/checkpoints", &sat).await;
    doc.answer("get", "/api/v1/audit-logs/checkpoints", &r);
    let r = app.get("/api/v1/audit-logs/jwks", &sat).await;
    doc.answer("get", "/api/v1/audit-logs/jwks", &r);
    let r = app.get("/api/v1/audit-logs?limit=0", &sat).await;
    doc.answer("get", "/api/v1/audit-logs", &r);

    // The audit event intake: one event, a batch, each kind of answer.
    let (_, reporter) = app
        .create_sat(
            &session,
            json!({ "name": "reporter", "permissions": ["audit_logs:write"] }),
        )
        .await;
    let (_, subject) = app
        .create_sat(
            &session,
            json!({ "name": "subject", "workspace_id": ws, "permissions": ["transformations:edit"] }),
        )
        .await;
    let occurred_at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let event = |id: &str, action: &str| {
        json!({
            "id": id,
            "subject_token": subject,
            "action": action,
            "target": { "type": "transformation", "id": "42", "display": "enrich" },
            "outcome": "success",
            "occurred_at": occurred_at,
            "changes": { "password": "x" },
            "request_id": "r-1",
            "source_ip": "203.0.113.1",
            "user_agent": "svc/1",
        })
    };
    const EVENTS: &str = "/api/v1/audit-logs/events";
    let one = event("doc-1", "transformations.update");
    doc.request("post", EVENTS, &one);
    let r = app.post(EVENTS, &reporter, one.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    doc.answer("post", EVENTS, &r);
    let mut changed = one;
    changed["outcome"] = json!("failure");
    changed["reason"] = json!("it broke");
    doc.request("post", EVENTS, &changed);
    doc.answer("post", EVENTS, &app.post(EVENTS, &reporter, changed).await);
    let refused = event("doc-2", "transformations.delete");
    doc.answer("post", EVENTS, &app.post(EVENTS, &reporter, refused).await);
    let malformed = event("doc-3", "transformations.frobnicate");
    doc.answer(
        "post",
        EVENTS,
        &app.post(EVENTS, &reporter, malformed).await,
    );
    let batch = json!({ "events": [event("doc-4", "transformations.read"), event("doc-2", "transformations.delete")] });
    doc.request("post", EVENTS, &batch);
    let r = app.post(EVENTS, &reporter, batch).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    doc.answer("post", EVENTS, &r);
    doc.answer(
        "post",
        EVENTS,
        &app.post(EVENTS, &sat, json!({ "events": [] })).await,
    );
    let r = app.post(EVENTS, &reporter, json!({ "events": [] })).await;
    doc.answer("post", EVENTS, &r);

    // The token authority.
    let body = json!({ "token": pat });
    doc.request("post", "/api/v1/tokens/introspect", &body);
    let r = app.post("/api/v1/tokens/introspect", &sat, body).await;
    doc.answer("post", "/api/v1/tokens/introspect", &r);
    assert_eq!(r.body["active"], true, "{}", r.text);
    let r = app
        .post(
            "/api/v1/tokens/introspect",
            &sat,
            json!({ "token": "nope" }),
        )
        .await;
    doc.answer("post", "/api/v1/tokens/introspect", &r);
    let r = app.post("/api/v1/tokens/introspect", &sat, json!({})).await;
    doc.answer("post", "/api/v1/tokens/introspect", &r);

    // Deletes and sign-out.
    let r = app
        .delete(&format!("/api/v1/service-access-tokens/{sat_id}"), &session)
        .await;
    doc.answer("delete", "/api/v1/service-access-tokens/{id}", &r);
    let r = app
        .delete(&format!("/api/v1/workspaces/{ws}"), &session)
        .await;
    doc.answer("delete", "/api/v1/workspaces/{id}", &r);
    let r = app
        .request(
            reqwest::Method::POST,
            "/api/v1/auth/logout",
            Some(&session),
            None,
        )
        .await;
    doc.answer("post", "/api/v1/auth/logout", &r);
}
