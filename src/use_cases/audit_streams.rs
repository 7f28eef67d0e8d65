//! Audit streams: org admins create, list, read, change, test and delete the
//! streams that send their organization's audit log to a SIEM. A stream's
//! signing secret is generated here, sealed under the key-encryption key,
//! and handed back once, at creation; no record, log or later answer holds
//! it. Records name the stream's URL without its query (which some
//! receivers use for a key).

use serde_json::{Value, json};
use uuid::Uuid;

use super::call::Done;
use super::{Call, Change, Services, UseCaseError, write};
use crate::audit::Target;
use crate::audit::stream::store::{self, NewStream};
use crate::audit::stream::{
    AuditStream, StreamError, StreamFilter, StreamFormat, StreamSettings, TestOutcome, address,
    new_secret, send_test,
};
use crate::permissions::Action;
use crate::store::Timestamp;

impl From<StreamError> for UseCaseError {
    fn from(e: StreamError) -> Self {
        match e {
            StreamError::Invalid(m) => UseCaseError::Invalid(m),
            StreamError::NotFound => UseCaseError::NotFound("audit stream"),
            other => UseCaseError::Internal(other.to_string()),
        }
    }
}

/// A stream to create, as an edge read it.
#[derive(Debug, Default)]
pub struct NewAuditStream {
    pub url: String,
    pub format: String,
    pub filter_action: Option<String>,
    pub filter_outcome: Option<String>,
}

/// A new stream and its secret, shown this once.
pub struct Created {
    pub stream: AuditStream,
    pub secret: String,
}

/// What a change sets; `None` leaves a setting as it is, and a filter part
/// set to `Some(None)` is removed.
#[derive(Debug, Default)]
pub struct StreamChanges {
    pub url: Option<String>,
    pub format: Option<String>,
    pub filter_action: Option<Option<String>>,
    pub filter_outcome: Option<Option<String>>,
    pub enabled: Option<bool>,
}

/// The URL as records name it: without query or fragment.
fn shown_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let had_query = u.query().is_some();
            u.set_query(None);
            u.set_fragment(None);
            let mut s = u.to_string();
            if had_query {
                s.push_str("?…");
            }
            s
        }
        Err(_) => String::new(),
    }
}

fn target(s: &AuditStream) -> Target {
    let host = url::Url::parse(&s.url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string));
    Target::new("audit_stream", s.id, host.as_deref())
}

fn settings_of(s: &AuditStream) -> Value {
    json!({
        "url": shown_url(&s.url),
        "format": s.format.as_str(),
        "filter": { "action": s.filter.action, "outcome": s.filter.outcome },
        "enabled": s.enabled,
    })
}

/// Creates a stream delivering the records written from now on, and
/// records `audit_stream.create`.
pub async fn create(
    services: &Services,
    settings: &StreamSettings,
    call: &Call<'_>,
    input: NewAuditStream,
) -> Result<Created, UseCaseError> {
    call.authorize(Action::ManageAuditStreams)?;
    let org_id = call.org_id()?;
    let url = address::check_url(&input.url, settings.allow_private())?;
    let format = StreamFormat::parse(input.format.trim())?;
    let filter = StreamFilter::new(
        input.filter_action.as_deref(),
        input.filter_outcome.as_deref(),
    )?;
    let secret = new_secret();
    let id = Uuid::now_v7();
    let sealed = settings.seal(id, &secret);
    let stream = write(services, call, async |tx| {
        let new = NewStream {
            id,
            org_id,
            url: url.as_str(),
            format,
            filter: &filter,
            sealed,
            now: Timestamp::now(),
        };
        let row = store::insert_in(tx, &new).await?;
        let stream = store::view_in(tx, &row).await?;
        let event = call
            .event(
                "audit_stream.create",
                Done::Created,
                Some(settings_of(&stream)),
            )
            .target(target(&stream));
        Ok(Change::Made(stream, event))
    })
    .await?;
    Ok(Created { stream, secret })
}

/// The organization's streams, with their delivery status.
pub async fn list(services: &Services, call: &Call<'_>) -> Result<Vec<AuditStream>, UseCaseError> {
    call.authorize(Action::ManageAuditStreams)?;
    Ok(store::list(&services.db, call.org_id()?).await?)
}

/// One stream, with its delivery status.
pub async fn get(
    services: &Services,
    call: &Call<'_>,
    id: Uuid,
) -> Result<AuditStream, UseCaseError> {
    call.authorize(Action::ManageAuditStreams)?;
    Ok(store::get(&services.db, call.org_id()?, id).await?)
}

/// Changes a stream's URL, format, filter or whether it delivers, and
/// records `audit_stream.update` with the settings before and after. The
/// cursor stays: a paused stream resumes where it stopped.
pub async fn update(
    services: &Services,
    settings: &StreamSettings,
    call: &Call<'_>,
    id: Uuid,
    changes: StreamChanges,
) -> Result<AuditStream, UseCaseError> {
    call.authorize(Action::ManageAuditStreams)?;
    let org_id = call.org_id()?;
    let url = match &changes.url {
        Some(u) => Some(address::check_url(u, settings.allow_private())?.to_string()),
        None => None,
    };
    let format = match &changes.format {
        Some(f) => Some(StreamFormat::parse(f.trim())?),
        None => None,
    };
    write(services, call, async |tx| {
        let mut row = store::get_in(tx, org_id, id).await?;
        let before = settings_of(&store::view_in(tx, &row).await?);
        let filter = StreamFilter::new(
            match &changes.filter_action {
                Some(a) => a.as_deref(),
                None => row.filter_action.as_deref(),
            },
            match &changes.filter_outcome {
                Some(o) => o.as_deref(),
                None => row.filter_outcome.as_deref(),
            },
        )?;
        if let Some(url) = url {
            row.url = url;
        }
        if let Some(format) = format {
            row.format = format.as_str().to_string();
        }
        row.filter_action = filter.action;
        row.filter_outcome = filter.outcome;
        if let Some(enabled) = changes.enabled {
            row.enabled = enabled;
        }
        row.updated_at = Timestamp::now();
        store::update_in(tx, &row).await?;
        let stream = store::view_in(tx, &row).await?;
        let event = call
            .event(
                "audit_stream.update",
                Done::Changed,
                Some(json!({ "from": before, "to": settings_of(&stream) })),
            )
            .target(target(&stream));
        Ok(Change::Made(stream, event))
    })
    .await
}

/// Deletes a stream (its cursor and secret with it) and records
/// `audit_stream.delete`.
pub async fn delete(services: &Services, call: &Call<'_>, id: Uuid) -> Result<(), UseCaseError> {
    call.authorize(Action::ManageAuditStreams)?;
    let org_id = call.org_id()?;
    write(services, call, async |tx| {
        let row = store::get_in(tx, org_id, id).await?;
        let stream = store::view_in(tx, &row).await?;
        store::delete_in(tx, id).await?;
        let event = call
            .event(
                "audit_stream.delete",
                Done::Removed,
                Some(settings_of(&stream)),
            )
            .target(target(&stream));
        Ok(Change::Made((), event))
    })
    .await
}

/// Sends a signed test line to the stream's receiver now and says what it
/// answered. Changes nothing (the request itself is recorded by the edge).
pub async fn test(
    services: &Services,
    settings: &StreamSettings,
    call: &Call<'_>,
    id: Uuid,
) -> Result<TestOutcome, UseCaseError> {
    call.authorize(Action::ManageAuditStreams)?;
    Ok(send_test(&services.db, settings, call.org_id()?, id).await?)
}

#[cfg(test)]
mod tests {
    use super::shown_url;

    #[test]
    fn records_name_the_url_without_its_query() {
        assert_eq!(
            shown_url("https://siem.example.com/in?key=abc#x"),
            "https://siem.example.com/in?…"
        );
        assert_eq!(
            shown_url("https://siem.example.com/in"),
            "https://siem.example.com/in"
        );
    }
}
