//! A browser stand-in for the admin console: cookies kept, redirects not
//! followed, same-origin form posts, and the CSRF token read off a page.
//! Shared by the console's tests and the cross-edge audit test.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use reqwest::redirect::Policy;

use crate::support::TestApp;

/// A console page, read whole.
pub struct Page {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub set_cookies: Vec<String>,
}

impl Page {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The hidden CSRF field of the page's first form.
    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = self.text.find(marker).expect("a CSRF field") + marker.len();
        let len = self.text[start..].find('"').unwrap();
        self.text[start..start + len].to_string()
    }

    /// The one token value on the page, if any.
    pub fn token_value(&self) -> Option<String> {
        let start = self.text.find("scim_sat_")?;
        Some(self.text[start..start + 69].to_string())
    }

    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        self.set_cookies
            .iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .map(String::as_str)
    }
}

/// A browser stand-in: no redirects followed, cookies kept.
pub struct Console<'a> {
    pub app: &'a TestApp,
    pub http: reqwest::Client,
    pub jar: BTreeMap<String, String>,
}

impl<'a> Console<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            http: crate::support::http_client_builder()
                .redirect(Policy::none())
                .build()
                .unwrap(),
            jar: BTreeMap::new(),
        }
    }

    pub async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let cookies: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let req = if cookies.is_empty() {
            req
        } else {
            req.header("cookie", cookies.join("; "))
        };
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let headers = resp.headers().clone();
        let set_cookies: Vec<String> = headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        for c in &set_cookies {
            let pair = c.split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() {
                self.jar.remove(k);
            } else {
                self.jar.insert(k.to_string(), v.to_string());
            }
        }
        let text = resp.text().await.unwrap();
        Page {
            status,
            headers,
            text,
            set_cookies,
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let req = self.http.get(self.app.url(path));
        self.send(req).await
    }

    /// A same-origin form POST, as a browser sends it.
    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let req = self
            .http
            .post(self.app.url(path))
            .header("origin", &self.app.base)
            .header("sec-fetch-site", "same-origin")
            .form(form);
        self.send(req).await
    }

    pub async fn sign_in(&mut self, org: &str, user: &str, password: &str) -> Page {
        let form = self.get("/console/sign-in").await;
        assert_eq!(form.status, StatusCode::OK);
        let csrf = form.csrf();
        self.post(
            "/console/sign-in",
            &[
                ("csrf", &csrf),
                ("organization", org),
                ("user_name", user),
                ("password", password),
            ],
        )
        .await
    }

    /// Signs in as the bootstrap admin and returns the session's CSRF token.
    pub async fn sign_in_admin(&mut self) -> String {
        let pw = self.app.admin_password.clone();
        let r = self.sign_in("default", "admin", &pw).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        assert_eq!(r.header("location"), "/console/tokens");
        let page = self.get("/console/tokens").await;
        assert_eq!(page.status, StatusCode::OK);
        page.csrf()
    }
}
