//! NDJSON out: rendering the unified model as `resource` / `issue` / `finding` / `summary` lines
//! (docs/reference.md, "Output records"), and sinks that make written pages durable.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::wit::{Asset, Finding, FindingType, IssueType, Severity, State as FindingState};

mod destination;
mod file;
mod ocsf;
mod sink;

pub use destination::{Database, Destination, Output};
pub(crate) use file::continues;
pub use file::{FileSink, OutputMark, WriteMode, id_key, partial_path};
pub use sink::{Batch, Columns, Kind, Record, Sink, StreamSink};

/// Which record kinds to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Models {
    /// `resource` lines.
    pub resources: bool,
    /// AppSec Issues (V1), `issue` lines.
    pub issues: bool,
    /// Vulnerability Findings (V2), `finding` lines.
    pub findings: bool,
}

impl Default for Models {
    fn default() -> Self {
        Models {
            resources: true,
            issues: true,
            findings: true,
        }
    }
}

impl Models {
    /// Parses `resources,issues,findings` (any subset, any order).
    pub fn parse(list: &str) -> Result<Models, String> {
        let mut m = Models {
            resources: false,
            issues: false,
            findings: false,
        };
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match item {
                "resources" => m.resources = true,
                "issues" => m.issues = true,
                "findings" => m.findings = true,
                other => {
                    return Err(format!(
                        "--models: unknown model `{other}` (resources, issues, findings)"
                    ));
                }
            }
        }
        if m == (Models {
            resources: false,
            issues: false,
            findings: false,
        }) {
            return Err("--models: name at least one of resources, issues, findings".to_string());
        }
        Ok(m)
    }
}

/// How many records of each kind a run wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize, JsonSchema)]
pub struct Counts {
    /// `resource` records.
    pub resources: u64,
    /// `issue` records.
    pub issues: u64,
    /// `finding` records.
    pub findings: u64,
    /// Vendor records the findings came from.
    pub vendor_records: u64,
    /// Vendor records (or parts of one, such as one location of a vendor record) the component could not
    /// read and left out; the rest of their page was written.
    #[serde(default)]
    pub skipped_records: u64,
}

impl Counts {
    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &Counts) {
        self.resources += other.resources;
        self.issues += other.issues;
        self.findings += other.findings;
        self.vendor_records += other.vendor_records;
        self.skipped_records += other.skipped_records;
    }
}

/// Renders records for one connector (its vendor names come from `describe`).
pub(crate) struct Renderer {
    pub vendor: String,
    pub vendor_name: String,
    pub models: Models,
    pub format: Format,
}

/// The shape of the records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `resource` / `issue` / `finding` lines.
    Ndjson,
    /// One OCSF finding event per finding (resources are carried inside the events).
    Ocsf,
}

impl Format {
    /// `ndjson` or `ocsf`.
    pub fn parse(s: &str) -> Result<Format, String> {
        match s {
            "ndjson" => Ok(Format::Ndjson),
            "ocsf" => Ok(Format::Ocsf),
            other => Err(format!("--format: unknown format `{other}` (ndjson, ocsf)")),
        }
    }
}

impl Renderer {
    /// The asset's `resource` line (none in OCSF, whose events carry their resources).
    pub fn resource<'a>(&self, a: &'a Asset, out: &mut Batch<'a>) {
        if self.format == Format::Ocsf {
            return;
        }
        let columns = Columns {
            id: &a.id,
            type_: Some(&a.resource_type),
            name: Some(&a.name),
            ..Columns::default()
        };
        let vendor_data = Raw::of(&a.vendor_data);
        let line = ResourceLine {
            kind: "resource",
            id: &a.id,
            vendor: &self.vendor,
            vendor_id: &a.vendor_id,
            type_: &a.resource_type,
            name: &a.name,
            slug: a.slug.as_deref(),
            full_name: a.full_name.as_deref(),
            workspace: a.workspace.as_deref(),
            url: a.url.as_deref(),
            default_branch: a.default_branch.as_deref(),
            visibility: a.visibility.as_deref(),
            archived: a.archived,
            created_at: a.created_at.as_deref(),
            updated_at: a.updated_at.as_deref(),
            vendor_data: vendor_data.as_raw(),
        };
        out.push(Kind::Resource, columns, &line);
    }

    /// The finding's V1 issue and/or V2 finding line, per [`Models`].
    pub fn finding<'a>(&self, f: &'a Finding, out: &mut Batch<'a>) {
        let package = f.affected_package.as_ref().map(|p| p.name.as_str());
        let columns = Columns {
            id: &f.id,
            resource_id: f.resource_id.as_deref(),
            package,
            first_seen: f.first_seen.as_deref(),
            last_seen: f.last_seen.as_deref(),
            ..Columns::default()
        };
        if self.format == Format::Ocsf {
            out.push(Kind::Event, columns, &ocsf::event(f, &self.vendor_name));
            return;
        }
        let vendor_data = Raw::of(&f.vendor_data);
        if self.models.issues {
            let columns = Columns {
                type_: Some(issue_type(f.issue_type)),
                severity: Some(severity_v1(f.severity)),
                state: Some(state_v1(f.state)),
                state_updated_at: f.state_updated_at.as_deref(),
                ..columns
            };
            out.push(Kind::Issue, columns, &self.issue_line(f, &vendor_data));
        }
        if self.models.findings {
            let columns = Columns {
                type_: Some(finding_type(f.finding_type)),
                severity: Some(severity_v2(f.severity)),
                state: Some(state_v2(f.state)),
                ..columns
            };
            out.push(Kind::Finding, columns, &self.finding_line(f, &vendor_data));
        }
    }

    /// The AppSec Issue (V1) rendering.
    fn issue_line<'a>(&'a self, f: &'a Finding, vendor_data: &'a Raw<'a>) -> IssueLine<'a> {
        let package = f.affected_package.as_ref();
        IssueLine {
            kind: "issue",
            id: &f.id,
            vendor: &self.vendor,
            vendor_id: &f.vendor_id,
            name: &f.title,
            description: f.description.as_deref(),
            type_: issue_type(f.issue_type),
            severity: severity_v1(f.severity),
            state: state_v1(f.state),
            first_seen: f.first_seen.as_deref(),
            last_seen: f.last_seen.as_deref(),
            state_updated_at: f.state_updated_at.as_deref(),
            resource_id: f.resource_id.as_deref(),
            code_repo: f.code_repo.as_deref(),
            repo_branch_name: f.branch.as_deref(),
            package_name: package.map(|p| p.name.as_str()),
            package_version: package.and_then(|p| p.version.as_deref()),
            package_manager: package.and_then(|p| p.package_manager.as_deref()),
            is_patchable: f.has_fix,
            remediation: f.remediation.as_deref(),
            cvss_score: f.cvss_score,
            vulnerability_identifiers: &f.vulnerability_identifiers,
            kb_url: f.kb_url.as_deref(),
            vendor_data: vendor_data.as_raw(),
        }
    }

    /// The Vulnerability Finding (V2) rendering.
    fn finding_line<'a>(&'a self, f: &'a Finding, vendor_data: &'a Raw<'a>) -> FindingLine<'a> {
        let package = f.affected_package.as_ref();
        FindingLine {
            kind: "finding",
            id: &f.id,
            title: &f.title,
            description: f.description.as_deref(),
            type_: finding_type(f.finding_type),
            severity: severity_v2(f.severity),
            state: state_v2(f.state),
            first_seen: f.first_seen.as_deref(),
            last_seen: f.last_seen.as_deref(),
            has_fix: f.has_fix,
            remediation: f.remediation.as_deref(),
            product: Product {
                vendor_name: &self.vendor_name,
                name: &self.vendor_name,
            },
            analytic: AnalyticLine {
                type_: "rule",
                uid: &f.analytic.uid,
                name: &f.analytic.name,
                url: f.analytic.url.as_deref(),
            },
            resource_id: f.resource_id.as_deref(),
            resource_related: ResourceRelated {
                affected_package: package.map(|p| PackageLine {
                    name: &p.name,
                    version: p.version.as_deref(),
                    package_manager: p.package_manager.as_deref(),
                    purl: p.purl.as_deref(),
                }),
                affected_code: f.affected_code.as_ref().map(|c| CodeLine {
                    file_path: &c.file_path,
                    start_line_number: c.start_line,
                    end_line_number: c.end_line,
                }),
            },
            vulnerabilities: f
                .vulnerabilities
                .iter()
                .map(|v| VulnerabilityLine {
                    uid: v.uid.as_deref(),
                    cvss_score: v.cvss_score,
                    cvss_vector: v.cvss_vector.as_deref(),
                    epss_score: v.epss_score,
                    epss_percentile: v.epss_percentile,
                    is_kev: v.is_kev,
                    cwe_ids: &v.cwe_ids,
                    fixed_version: v.fixed_version.as_deref(),
                })
                .collect(),
            vendor_data: vendor_data.as_raw(),
        }
    }
}

/// The last line of every run.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Summary {
    /// Always `summary`.
    pub kind: &'static str,
    /// Whether the run wrote everything it listed.
    pub complete: bool,
    /// `full` or `incremental`.
    pub mode: &'static str,
    /// What is durable in the output.
    pub counts: Counts,
    /// HTTP requests the component made (retries not counted).
    pub requests: u64,
    /// Retries the host made on the component's behalf.
    pub retries: u64,
    /// Requests the sandbox refused.
    pub denied_requests: u64,
    /// How long the run took.
    pub elapsed_seconds: f64,
    /// Where the next incremental run starts from (RFC 3339).
    pub high_water_mark: Option<String>,
    /// Where the high-water mark came from: `server` (the vendor's clock, as reported by the
    /// component) or `host-clock` (the vendor did not say; the host's clock at the start of the
    /// listing). `null` when the run has no mark.
    pub high_water_mark_source: Option<&'static str>,
    /// The first reasons records were skipped for (`counts.skipped_records` counts them all).
    pub skipped: Vec<String>,
    /// Records of the tenant a complete full sync into a database did not see, and so closed
    /// (or deleted, with `--stale delete`); `null` when the run settled nothing.
    pub stale_records: Option<u64>,
    /// Whether the run took up an interrupted run's checkpoint.
    pub resumed: bool,
    /// Why the run failed, when it did.
    pub error: Option<String>,
}

/// The summary as its NDJSON line.
pub fn summary_line(s: &Summary) -> Vec<u8> {
    let mut out = serde_json::to_vec(s).expect("a summary always serializes");
    out.push(b'\n');
    out
}

/// JSON Schemas of the NDJSON record kinds, generated from the types that write them.
pub fn schemas() -> Vec<(&'static str, serde_json::Value)> {
    vec![
        (
            "resource",
            schemars::schema_for!(ResourceLine<'static>).to_value(),
        ),
        (
            "issue",
            schemars::schema_for!(IssueLine<'static>).to_value(),
        ),
        (
            "finding",
            schemars::schema_for!(FindingLine<'static>).to_value(),
        ),
        ("summary", schemars::schema_for!(Summary).to_value()),
    ]
}

/// Guest-supplied JSON text made safe for one NDJSON line: kept verbatim when it is valid JSON
/// (newlines, which valid JSON can only hold as whitespace, removed), else carried as a string.
enum Raw<'a> {
    Json(Box<RawValue>),
    Borrowed(&'a RawValue),
    Text(Box<RawValue>),
}

impl<'a> Raw<'a> {
    fn of(text: &'a str) -> Raw<'a> {
        match serde_json::from_str::<&RawValue>(text) {
            Ok(raw) if !text.contains(['\n', '\r']) => Raw::Borrowed(raw),
            Ok(_) => {
                let compact: String = text.chars().filter(|c| *c != '\n' && *c != '\r').collect();
                Raw::Json(
                    RawValue::from_string(compact).expect("removing whitespace keeps JSON valid"),
                )
            }
            Err(_) => {
                Raw::Text(serde_json::value::to_raw_value(text).expect("a string serializes"))
            }
        }
    }

    fn as_raw(&self) -> &RawValue {
        match self {
            Raw::Json(b) | Raw::Text(b) => b,
            Raw::Borrowed(r) => r,
        }
    }
}

/// A severity as V1 and V2 spell it. Both end at Info: what the vendor did not say, or said
/// otherwise, is Info there.
fn severity_names(s: Severity) -> (&'static str, &'static str) {
    match s {
        Severity::Critical => ("Critical", "CRITICAL"),
        Severity::High => ("High", "HIGH"),
        Severity::Medium => ("Medium", "MEDIUM"),
        Severity::Low => ("Low", "LOW"),
        Severity::Info | Severity::Unknown | Severity::Other => ("Info", "INFO"),
    }
}

fn severity_v1(s: Severity) -> &'static str {
    severity_names(s).0
}

fn severity_v2(s: Severity) -> &'static str {
    severity_names(s).1
}

/// A state as V1 and V2 spell it.
fn state_names(s: FindingState) -> (&'static str, &'static str) {
    match s {
        FindingState::Open => ("Open", "OPEN"),
        FindingState::Closed => ("Closed", "CLOSED"),
        FindingState::Ignored => ("Ignored", "IGNORED"),
    }
}

fn state_v1(s: FindingState) -> &'static str {
    state_names(s).0
}

fn state_v2(s: FindingState) -> &'static str {
    state_names(s).1
}

fn issue_type(t: IssueType) -> &'static str {
    match t {
        IssueType::Vulnerability => "vulnerability",
        IssueType::Code => "code",
        IssueType::Config => "config",
        IssueType::License => "license",
        IssueType::Custom => "custom",
    }
}

fn finding_type(t: FindingType) -> &'static str {
    match t {
        FindingType::Dependency => "DEPENDENCY",
        FindingType::Code => "CODE",
        FindingType::Unknown => "UNKNOWN",
    }
}

#[derive(Serialize, JsonSchema)]
struct ResourceLine<'a> {
    kind: &'static str,
    id: &'a str,
    vendor: &'a str,
    vendor_id: &'a str,
    #[serde(rename = "type")]
    type_: &'a str,
    name: &'a str,
    slug: Option<&'a str>,
    full_name: Option<&'a str>,
    workspace: Option<&'a str>,
    url: Option<&'a str>,
    default_branch: Option<&'a str>,
    visibility: Option<&'a str>,
    archived: bool,
    created_at: Option<&'a str>,
    updated_at: Option<&'a str>,
    /// The vendor's raw object (for a finding: the vendor record narrowed to this location).
    #[schemars(with = "serde_json::Value")]
    vendor_data: &'a RawValue,
}

#[derive(Serialize, JsonSchema)]
struct IssueLine<'a> {
    kind: &'static str,
    id: &'a str,
    vendor: &'a str,
    vendor_id: &'a str,
    name: &'a str,
    description: Option<&'a str>,
    #[serde(rename = "type")]
    type_: &'static str,
    severity: &'static str,
    state: &'static str,
    first_seen: Option<&'a str>,
    last_seen: Option<&'a str>,
    state_updated_at: Option<&'a str>,
    resource_id: Option<&'a str>,
    code_repo: Option<&'a str>,
    repo_branch_name: Option<&'a str>,
    package_name: Option<&'a str>,
    package_version: Option<&'a str>,
    package_manager: Option<&'a str>,
    is_patchable: bool,
    remediation: Option<&'a str>,
    cvss_score: Option<f64>,
    vulnerability_identifiers: &'a [String],
    kb_url: Option<&'a str>,
    /// The vendor's raw object (for a finding: the vendor record narrowed to this location).
    #[schemars(with = "serde_json::Value")]
    vendor_data: &'a RawValue,
}

#[derive(Serialize, JsonSchema)]
struct FindingLine<'a> {
    kind: &'static str,
    id: &'a str,
    title: &'a str,
    description: Option<&'a str>,
    #[serde(rename = "type")]
    type_: &'static str,
    severity: &'static str,
    state: &'static str,
    first_seen: Option<&'a str>,
    last_seen: Option<&'a str>,
    has_fix: bool,
    remediation: Option<&'a str>,
    product: Product<'a>,
    analytic: AnalyticLine<'a>,
    resource_id: Option<&'a str>,
    resource_related: ResourceRelated<'a>,
    vulnerabilities: Vec<VulnerabilityLine<'a>>,
    /// The vendor's raw object (for a finding: the vendor record narrowed to this location).
    #[schemars(with = "serde_json::Value")]
    vendor_data: &'a RawValue,
}

#[derive(Serialize, JsonSchema)]
struct Product<'a> {
    vendor_name: &'a str,
    name: &'a str,
}

#[derive(Serialize, JsonSchema)]
struct AnalyticLine<'a> {
    #[serde(rename = "type")]
    type_: &'static str,
    uid: &'a str,
    name: &'a str,
    url: Option<&'a str>,
}

#[derive(Serialize, JsonSchema)]
struct ResourceRelated<'a> {
    affected_package: Option<PackageLine<'a>>,
    affected_code: Option<CodeLine<'a>>,
}

#[derive(Serialize, JsonSchema)]
struct PackageLine<'a> {
    name: &'a str,
    version: Option<&'a str>,
    package_manager: Option<&'a str>,
    purl: Option<&'a str>,
}

#[derive(Serialize, JsonSchema)]
struct CodeLine<'a> {
    file_path: &'a str,
    start_line_number: Option<i64>,
    end_line_number: Option<i64>,
}

#[derive(Serialize, JsonSchema)]
struct VulnerabilityLine<'a> {
    uid: Option<&'a str>,
    cvss_score: Option<f64>,
    cvss_vector: Option<&'a str>,
    epss_score: Option<f64>,
    epss_percentile: Option<f64>,
    is_kev: Option<bool>,
    cwe_ids: &'a [String],
    fixed_version: Option<&'a str>,
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod props;
