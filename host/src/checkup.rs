//! `connector-host checkup`: what a runtime will hold against a component, found before anyone
//! deploys it. It replays a recorded cassette through the component several ways and reports one
//! verdict per rule of the contract a component must keep:
//!
//! - it loads: only the standard imports the contract allows;
//! - its spec is valid (names, settings, credentials);
//! - its cursors keep the paging contract (bounded, never repeated, listings that end);
//! - every record it returns is admitted (ids, resource types);
//! - a second run gives the same ids (they are deterministic);
//! - its listings are independent: each on a fresh instance, or both on one instance in either
//!   order, give the same records (a runtime may run them apart, or together, in any order).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use crate::engine::{Component, Session};
use crate::error::Failure;
use crate::sandbox::Stats;
use crate::settings::Resolved;
use crate::sync::paging::{CursorTrail, PageLimits};
use crate::sync::{Network, admit, connector_failure, sandbox_http};
use crate::text::{MAX_MESSAGE_CHARS, printable};
use crate::wit::{ConnectorSpec, FindingQuery};

/// One rule's verdict: `Ok` with what was seen, or `Err` with what a runtime will refuse.
#[derive(Debug)]
pub struct Verdict {
    pub rule: &'static str,
    pub outcome: Result<String, String>,
}

/// The records one way of listing gave.
#[derive(Debug, Default, PartialEq, Eq)]
struct Listed {
    resources: BTreeSet<String>,
    findings: BTreeSet<String>,
    pages: u64,
    /// Records the component itself left out, and the reasons the host would skip others.
    component_skipped: usize,
    refused: Vec<String>,
}

impl Listed {
    fn records(&self) -> usize {
        self.resources.len() + self.findings.len()
    }
}

/// How the two listings run.
#[derive(Debug, Clone, Copy)]
enum Order {
    /// Each on a fresh instance, as `sync` does.
    Apart,
    /// Both on one instance, resources first.
    ResourcesFirst,
    /// Both on one instance, findings first.
    FindingsFirst,
}

/// The check-up of `connector` against the cassette in `cassette`, with its settings
/// `resolved`.
pub async fn run(
    connector: &Component,
    spec: &ConnectorSpec,
    resolved: &Resolved,
    cassette: PathBuf,
) -> Vec<Verdict> {
    let checkup = Checkup {
        connector,
        spec,
        resolved,
        network: Network::Replay(cassette),
    };
    let mut verdicts = vec![
        Verdict {
            rule: "imports",
            outcome: Ok("only the standard WASI imports a runtime gives a connector".into()),
        },
        Verdict {
            rule: "spec",
            outcome: Ok(format!(
                "`{}` {}: {} settings, {} of them secret",
                spec.name,
                spec.version,
                spec.settings.len(),
                spec.settings
                    .iter()
                    .filter(|s| s.credential.is_some())
                    .count()
            )),
        },
    ];
    let first = checkup.list(Order::Apart).await;
    let Ok(first) = first else {
        let why = first.err().unwrap_or_default();
        verdicts.push(Verdict {
            rule: "cursors",
            outcome: Err(why),
        });
        return verdicts;
    };
    verdicts.push(Verdict {
        rule: "cursors",
        outcome: Ok(format!(
            "{} pages; no cursor repeated or over {} bytes, every listing ended",
            first.pages,
            crate::sync::MAX_CURSOR_BYTES
        )),
    });
    verdicts.push(admitted(&first));
    let second = checkup.list(Order::Apart).await;
    let deterministic = compare(&first, &second, "a second run", DETERMINISTIC);
    let judged = deterministic.is_ok();
    verdicts.push(Verdict {
        rule: "deterministic",
        outcome: deterministic,
    });
    if !judged {
        verdicts.push(Verdict {
            rule: "independent",
            outcome: Err("not judged: the ids change from one run to the next".into()),
        });
        return verdicts;
    }
    let mut independent = Ok(format!(
        "the same {} records apart, and together in either order",
        first.records()
    ));
    for order in [Order::ResourcesFirst, Order::FindingsFirst] {
        let how = match order {
            Order::ResourcesFirst => "both listings on one instance, resources first",
            _ => "both listings on one instance, findings first",
        };
        if let Err(why) = compare(&first, &checkup.list(order).await, how, INDEPENDENT) {
            independent = Err(why);
            break;
        }
    }
    verdicts.push(Verdict {
        rule: "independent",
        outcome: independent,
    });
    verdicts
}

fn admitted(listed: &Listed) -> Verdict {
    let outcome = if listed.refused.is_empty() {
        Ok(format!(
            "all {} records admitted ({} resources, {} findings); the component itself skipped {}",
            listed.records(),
            listed.resources.len(),
            listed.findings.len(),
            listed.component_skipped
        ))
    } else {
        Err(format!(
            "a runtime skips {} records: {}",
            listed.refused.len(),
            listed
                .refused
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        ))
    };
    Verdict {
        rule: "admitted",
        outcome,
    }
}

const DETERMINISTIC: &str = "ids must come from the vendor's data alone";
const INDEPENDENT: &str =
    "a listing must not depend on what the other listing did on the same instance";

/// The same records as `first`, or which differ (and `rule`, the rule that says why).
fn compare(
    first: &Listed,
    other: &Result<Listed, String>,
    how: &str,
    rule: &str,
) -> Result<String, String> {
    let other = other.as_ref().map_err(|e| format!("{how} failed: {e}"))?;
    for (kind, a, b) in [
        ("resources", &first.resources, &other.resources),
        ("findings", &first.findings, &other.findings),
    ] {
        if a != b {
            let only_first = a.difference(b).next();
            let only_other = b.difference(a).next();
            return Err(format!(
                "{how} gave other {kind} ({} against {}; e.g. {:?} only in the first, {:?} only in the other): {rule}",
                a.len(),
                b.len(),
                only_first,
                only_other
            ));
        }
    }
    Ok(format!("the same {} ids", first.records()))
}

struct Checkup<'a> {
    connector: &'a Component,
    spec: &'a ConnectorSpec,
    resolved: &'a Resolved,
    network: Network,
}

impl Checkup<'_> {
    /// A configured fresh instance replaying the cassette.
    async fn instance(&self) -> Result<Session, String> {
        let hooks = sandbox_http(self.resolved, &self.network, Arc::new(Stats::default()))
            .map_err(|f| f.message().to_string())?;
        let mut session = self
            .connector
            .instantiate(hooks, self.resolved.host.limits)
            .await
            .map_err(|f| f.message().to_string())?;
        session
            .configure(&self.resolved.connector)
            .await
            .map_err(|f| f.message().to_string())?
            .map_err(|e| self.failure(e, &session))?;
        Ok(session)
    }

    fn failure(&self, e: crate::wit::ConnectorError, session: &Session) -> String {
        let message = connector_failure(e, session, self.spec)
            .message()
            .to_string();
        printable(&self.resolved.secrets.redact(&message), MAX_MESSAGE_CHARS)
    }

    async fn list(&self, order: Order) -> Result<Listed, String> {
        let mut listed = Listed::default();
        match order {
            Order::Apart => {
                self.resources(&mut self.instance().await?, &mut listed)
                    .await?;
                self.findings(&mut self.instance().await?, &mut listed)
                    .await?;
            }
            Order::ResourcesFirst => {
                let mut session = self.instance().await?;
                self.resources(&mut session, &mut listed).await?;
                self.findings(&mut session, &mut listed).await?;
            }
            Order::FindingsFirst => {
                let mut session = self.instance().await?;
                self.findings(&mut session, &mut listed).await?;
                self.resources(&mut session, &mut listed).await?;
            }
        }
        Ok(listed)
    }

    async fn resources(&self, session: &mut Session, listed: &mut Listed) -> Result<(), String> {
        let page = async |cursor: Option<String>| {
            let mut page = session
                .list_resources(cursor.as_deref())
                .await
                .map_err(|f| f.message().to_string())?
                .map_err(|e| self.failure(e, session))?;
            let own = page.skipped.len();
            admit::assets(
                &mut page.items,
                &mut page.skipped,
                &self.spec.resource_types,
            );
            Ok(Paged {
                ids: page.items.into_iter().map(|a| a.id).collect(),
                component_skipped: own,
                refused: page.skipped.drain(own..).map(|s| s.reason).collect(),
                next: page.next_cursor,
            })
        };
        let ids = self.walk("list-resources", page, listed).await?;
        listed.resources.extend(ids);
        Ok(())
    }

    async fn findings(&self, session: &mut Session, listed: &mut Listed) -> Result<(), String> {
        let page = async |cursor: Option<String>| {
            let query = FindingQuery {
                cursor,
                updated_since: None,
            };
            let mut page = session
                .list_findings(&query)
                .await
                .map_err(|f| f.message().to_string())?
                .map_err(|e| self.failure(e, session))?;
            let own = page.skipped.len();
            admit::findings(&mut page.items, &mut page.skipped);
            Ok(Paged {
                ids: page.items.into_iter().map(|f| f.id).collect(),
                component_skipped: own,
                refused: page.skipped.drain(own..).map(|s| s.reason).collect(),
                next: page.next_cursor,
            })
        };
        let ids = self.walk("list-findings", page, listed).await?;
        listed.findings.extend(ids);
        Ok(())
    }

    /// One listing to its end, every page held to the paging contract; the admitted ids.
    async fn walk(
        &self,
        call: &str,
        mut page: impl AsyncFnMut(Option<String>) -> Result<Paged, String>,
        listed: &mut Listed,
    ) -> Result<Vec<String>, String> {
        let limits = PageLimits {
            max_pages: self.resolved.host.max_pages,
            max_records: self.resolved.host.max_page_records,
        };
        let (mut trail, mut cursor, mut pages, mut ids) =
            (CursorTrail::default(), None::<String>, 0, Vec::new());
        loop {
            let p = page(cursor.clone()).await?;
            pages += 1;
            let records = p.ids.len() + p.refused.len();
            limits
                .check_page(
                    call,
                    pages,
                    records,
                    cursor.as_deref(),
                    p.next.as_deref(),
                    &mut trail,
                )
                .map_err(|f| f.message().to_string())?;
            listed.pages += 1;
            listed.component_skipped += p.component_skipped;
            listed.refused.extend(p.refused);
            ids.extend(p.ids);
            match p.next {
                Some(next) => cursor = Some(next),
                None => return Ok(ids),
            }
        }
    }
}

/// One page, admitted: the ids kept, what the component and the host left out, the next cursor.
struct Paged {
    ids: Vec<String>,
    component_skipped: usize,
    refused: Vec<String>,
    next: Option<String>,
}

/// The check-up failed to start: the component or its settings are not usable at all.
pub fn verdict_of_failure(rule: &'static str, failure: &Failure) -> Verdict {
    Verdict {
        rule,
        outcome: Err(failure.message().to_string()),
    }
}
