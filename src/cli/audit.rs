//! `scimitar audit …`: export a chain (an organization's, or the
//! `unattributed` chain of refusals that belong to no organization), its
//! signed checkpoints and the public keys, and verify a chain.
//!
//! `export`, `checkpoints` and `jwks` read the database (they write
//! nothing, and audit nothing); `--output -` writes to stdout. `verify
//! --file` works on files alone and never opens a database, so that an
//! auditor can run it anywhere; `verify --org`/`--unattributed` verifies
//! the chain in the database. Both run the one verifier of `audit::verify`.

use std::fs::File;
use std::io::{BufReader, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::{CliError, Output, failed, open_db};
use crate::audit::offline::verify_export;
use crate::audit::verify::Report;
use crate::audit::{self, ExportPages, RawQuery, checkpoints};
use crate::config::CommonArgs;
use crate::identity::orgs;
use crate::signing;
use crate::store::Db;

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Export a chain's audit records, oldest first, to a file.
    Export(Box<ExportArgs>),
    /// Write a chain's signed checkpoints (as the API gives them).
    Checkpoints {
        #[command(flatten)]
        chain: ChainArg,
        /// File to write (replaced if it exists), or `-` for stdout.
        #[arg(long)]
        output: PathBuf,
    },
    /// Write the public signing keys (JWKS).
    Jwks {
        /// File to write (replaced if it exists), or `-` for stdout.
        #[arg(long)]
        output: PathBuf,
    },
    /// Verify an NDJSON export against checkpoints and a JWKS, offline
    /// (`--file`), or a chain in the database (`--org`, `--unattributed`).
    Verify(VerifyArgs),
}

/// Which chain: an organization's, or the unattributed one.
#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
pub struct ChainArg {
    /// Organization name or id.
    #[arg(long)]
    org: Option<String>,
    /// The chain of refusals that belong to no organization (unknown
    /// tokens, malformed credentials, sign-ins to unknown organizations).
    #[arg(long)]
    unattributed: bool,
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The NDJSON export (offline: needs `--checkpoints` and `--jwks`).
    #[arg(long, requires_all = ["checkpoints", "jwks"], required_unless_present_any = ["org", "unattributed"], conflicts_with_all = ["org", "unattributed"])]
    file: Option<PathBuf>,
    /// The checkpoints file (`audit checkpoints` or the API).
    #[arg(long, requires = "file")]
    checkpoints: Option<PathBuf>,
    /// The JWKS file (`audit jwks`, the API's or /.well-known/jwks.json).
    #[arg(long, requires = "file")]
    jwks: Option<PathBuf>,
    /// Verify this organization's chain in the database (name or id).
    #[arg(long, conflicts_with = "unattributed")]
    org: Option<String>,
    /// Verify the unattributed chain in the database.
    #[arg(long)]
    unattributed: bool,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    #[command(flatten)]
    chain: ChainArg,
    /// From this time (RFC 3339, inclusive).
    #[arg(long)]
    since: Option<String>,
    /// Until this time (RFC 3339, exclusive).
    #[arg(long)]
    until: Option<String>,
    /// Kind of actor.
    #[arg(long, value_parser = ["sat", "pat", "member_session", "operator", "anonymous"])]
    actor_type: Option<String>,
    /// Actor id: a token id or a member id.
    #[arg(long)]
    actor_id: Option<String>,
    /// Exact action, or a prefix ending in `*` (`scim.user.*`).
    #[arg(long)]
    action: Option<String>,
    /// Kind of target (`member`, `service_access_token`, `endpoint`, …).
    #[arg(long)]
    target_type: Option<String>,
    /// Target id.
    #[arg(long)]
    target_id: Option<String>,
    /// Only records about this workspace (its id).
    #[arg(long)]
    workspace_id: Option<String>,
    /// Only successes or only failures.
    #[arg(long, value_parser = ["success", "failure"])]
    outcome: Option<String>,
    /// Only these kinds of record: change, read, refusal, or several
    /// separated by commas.
    #[arg(long)]
    kind: Option<String>,
    /// Resume after this sequence number (the `next_cursor` of a previous export).
    #[arg(long)]
    cursor: Option<String>,
    /// File format: ndjson is verifiable with `audit verify`.
    #[arg(long, default_value = "ndjson", value_parser = ["ndjson", "csv"])]
    format: String,
    /// File to write (replaced if it exists), or `-` for stdout.
    #[arg(long)]
    output: PathBuf,
}

/// A command's result; with `--output -` what it wrote went to stdout, so
/// its summary goes to stderr and nothing more is printed.
fn result(to_stdout: bool, out: Output) -> Option<Output> {
    if !to_stdout {
        return Some(out);
    }
    eprintln!("{}", out.human);
    None
}

pub async fn run(common: &CommonArgs, cmd: AuditCommand) -> Result<Option<Output>, CliError> {
    match cmd {
        AuditCommand::Export(args) => {
            let to_stdout = is_stdout(&args.output);
            let out = export(common, *args).await?;
            Ok(result(to_stdout, out))
        }
        AuditCommand::Checkpoints { chain, output } => {
            let out = write_checkpoints(common, &chain, &output).await?;
            Ok(result(is_stdout(&output), out))
        }
        AuditCommand::Jwks { output } => {
            let out = write_jwks(common, &output).await?;
            Ok(result(is_stdout(&output), out))
        }
        AuditCommand::Verify(args) => match (&args.file, &args.checkpoints, &args.jwks) {
            (Some(file), Some(checkpoints), Some(jwks)) => {
                verify(file, checkpoints, jwks).map(Some)
            }
            _ => {
                let chain = ChainArg {
                    org: args.org,
                    unattributed: args.unattributed,
                };
                verify_in_database(common, &chain).await.map(Some)
            }
        },
    }
}

async fn chain_of(db: &Db, chain: &ChainArg) -> Result<String, CliError> {
    let Some(org) = chain.org.as_deref().filter(|_| !chain.unattributed) else {
        return Ok(audit::UNATTRIBUTED_CHAIN.to_string());
    };
    let org = orgs::find(db, org)
        .await
        .map_err(failed)?
        .ok_or_else(|| failed(format!("organization `{org}` not found")))?;
    Ok(audit::org_chain(org.id))
}

fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Where a command writes: the file (replaced if it exists), or stdout
/// for `-`.
fn create(path: &Path) -> Result<BufWriter<Box<dyn Write>>, CliError> {
    if is_stdout(path) {
        return Ok(BufWriter::new(Box::new(std::io::stdout().lock())));
    }
    File::create(path)
        .map(|f| BufWriter::new(Box::new(f) as Box<dyn Write>))
        .map_err(|e| failed(format!("cannot write {}: {e}", path.display())))
}

fn write_err(path: &Path) -> impl Fn(std::io::Error) -> CliError + '_ {
    move |e| failed(format!("cannot write {}: {e}", path.display()))
}

/// Progress on stderr: a line rewritten in place on a terminal, a line a
/// second otherwise.
struct Progress {
    last: Instant,
    tty: bool,
    shown: bool,
}

impl Progress {
    fn new() -> Self {
        Self {
            last: Instant::now(),
            tty: std::io::stderr().is_terminal(),
            shown: false,
        }
    }

    fn tick(&mut self, records: u64, last_seq: Option<i64>) {
        if self.last.elapsed() < Duration::from_secs(1) {
            return;
        }
        self.last = Instant::now();
        self.shown = true;
        let seq = last_seq
            .map(|s| format!(" (through seq {s})"))
            .unwrap_or_default();
        if self.tty {
            eprint!("\rexported {records} records{seq}");
        } else {
            eprintln!("exported {records} records{seq}");
        }
    }

    fn finish(&self) {
        if self.shown && self.tty {
            eprintln!();
        }
    }
}

async fn export(common: &CommonArgs, args: ExportArgs) -> Result<Output, CliError> {
    let raw = RawQuery {
        since: args.since,
        until: args.until,
        actor_type: args.actor_type,
        actor_id: args.actor_id,
        action: args.action,
        target_type: args.target_type,
        target_id: args.target_id,
        workspace_id: args.workspace_id,
        outcome: args.outcome,
        kind: args.kind,
        cursor: args.cursor,
        ..RawQuery::default()
    };
    let (format, query) = audit::parse_export(Some(&args.format), &raw)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    // Without records, the next export resumes where this one was asked to.
    let resume_after = query.cursor;
    let db = open_db(common).await?;
    let chain = chain_of(&db, &args.chain).await?;
    query
        .check_cursor(&db, &chain)
        .await
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let path = args.output.as_path();
    let mut out = create(path)?;
    if let Some(header) = format.header() {
        out.write_all(header.as_bytes()).map_err(write_err(path))?;
    }
    let mut pages = ExportPages::new(db.clone(), chain, query);
    let mut records = 0u64;
    let mut first_seq = None;
    let mut last_seq = None;
    let mut progress = Progress::new();
    while let Some(page) = pages.next_page().await.map_err(failed)? {
        for r in &page {
            out.write_all(format.encode(r).as_bytes())
                .map_err(write_err(path))?;
            first_seq.get_or_insert(r.seq);
            last_seq = Some(r.seq);
            records += 1;
        }
        progress.tick(records, last_seq);
    }
    out.flush().map_err(write_err(path))?;
    progress.finish();
    db.close().await;
    let next_cursor = last_seq.or(resume_after).map(|s| s.to_string());
    Ok(Output {
        json: json!({
            "output": path.display().to_string(),
            "format": args.format,
            "records": records,
            "first_seq": first_seq,
            "last_seq": last_seq,
            "next_cursor": next_cursor,
        }),
        human: format!(
            "exported {records} records to {}{}",
            path.display(),
            next_cursor
                .map(|c| format!(" (resume with --cursor {c})"))
                .unwrap_or_default()
        ),
    })
}

async fn write_checkpoints(
    common: &CommonArgs,
    chain: &ChainArg,
    path: &Path,
) -> Result<Output, CliError> {
    let db = open_db(common).await?;
    let chain = chain_of(&db, chain).await?;
    let found = checkpoints::list(&db, &chain, None, None)
        .await
        .map_err(failed)?;
    db.close().await;
    let mut out = create(path)?;
    serde_json::to_writer(&mut out, &json!({ "checkpoints": found })).map_err(failed)?;
    out.write_all(b"\n")
        .and_then(|()| out.flush())
        .map_err(write_err(path))?;
    let last = found.last().map(|c| c.seq);
    Ok(Output {
        json: json!({
            "output": path.display().to_string(),
            "checkpoints": found.len(),
            "last_seq": last,
        }),
        human: format!("wrote {} checkpoints to {}", found.len(), path.display()),
    })
}

async fn write_jwks(common: &CommonArgs, path: &Path) -> Result<Output, CliError> {
    let db = open_db(common).await?;
    let keys = signing::published_keys(&db).await.map_err(failed)?;
    db.close().await;
    let mut out = create(path)?;
    serde_json::to_writer(&mut out, &signing::jwks_of(&keys)).map_err(failed)?;
    out.write_all(b"\n")
        .and_then(|()| out.flush())
        .map_err(write_err(path))?;
    let kids: Vec<&str> = keys.iter().map(|k| k.kid.as_str()).collect();
    Ok(Output {
        json: json!({ "output": path.display().to_string(), "keys": kids }),
        human: format!("wrote {} public keys to {}", kids.len(), path.display()),
    })
}

fn read_json(path: &Path) -> Result<Value, CliError> {
    let file =
        File::open(path).map_err(|e| failed(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_reader(BufReader::new(file))
        .map_err(|e| failed(format!("{} is not JSON: {e}", path.display())))
}

/// Offline: files only, no database.
fn verify(file: &Path, checkpoints: &Path, jwks: &Path) -> Result<Output, CliError> {
    let checkpoints = read_json(checkpoints)?;
    let jwks = read_json(jwks)?;
    let export =
        File::open(file).map_err(|e| failed(format!("cannot read {}: {e}", file.display())))?;
    let report = verify_export(BufReader::new(export), &checkpoints, &jwks)
        .map_err(|e| failed(format!("cannot read {}: {e}", file.display())))?;
    verdict(&report)
}

/// The chain in the database, against its checkpoints and the keys the
/// database publishes.
async fn verify_in_database(common: &CommonArgs, chain: &ChainArg) -> Result<Output, CliError> {
    let db = open_db(common).await?;
    let chain = chain_of(&db, chain).await?;
    let report = audit::verify_chain(&db, &chain).await.map_err(failed)?;
    db.close().await;
    verdict(&report)
}

fn verdict(report: &Report) -> Result<Output, CliError> {
    let human = describe(report);
    let json = serde_json::to_value(report).map_err(failed)?;
    if report.ok {
        Ok(Output { json, human })
    } else {
        Err(CliError::Rejected { json, human })
    }
}

fn describe(r: &Report) -> String {
    if let Some(b) = &r.first_break {
        let at = b.seq.map(|s| format!(" at seq {s}")).unwrap_or_default();
        let saw = match (&b.expected, &b.found) {
            (Some(e), Some(f)) => format!(" (expected {e}, found {f})"),
            _ => String::new(),
        };
        return format!("FAILED{at}: {}: {}{saw}", b.kind, b.detail);
    }
    let range = match (r.first_seq, r.last_seq) {
        (Some(a), Some(b)) => format!(" (seq {a} to {b})"),
        _ => String::new(),
    };
    let mut s = format!(
        "ok: {} records{range}; {} checkpoints verified, {} inside the export matched",
        r.records, r.checkpoints_verified, r.checkpoints_matched
    );
    match r.attested_through {
        Some(seq) => s.push_str(&format!("; signed through seq {seq}")),
        None if r.records > 0 => {
            s.push_str("; warning: no checkpoint covers these records, so nothing attests them")
        }
        None => {}
    }
    if r.records > 0 && !r.anchored {
        s.push_str("; warning: not anchored (no checkpoint just before the first record)");
    }
    s
}
