//! Records with only what every one of their kind has, for struct update syntax: a connector
//! writes the fields its vendor gives and nothing else.
//!
//! ```
//! use connector_sdk::records;
//! use connector_sdk::wit::{Finding, Severity};
//!
//! let f = Finding {
//!     severity: Severity::High,
//!     cvss_score: Some(7.5),
//!     ..records::finding("1b4e28ba-2fa1-5b2b-9a6c-0bd8b0c1e7a2", "GHSA-1", "Prototype pollution")
//! };
//! assert_eq!(f.analytic.uid, "GHSA-1");
//! ```

use crate::wit::{Analytic, Asset, Finding, FindingType, IssueType, Severity, State};

/// An open vulnerability of unknown severity, its analytic named after the vendor's record, with
/// nothing else known and `{}` as its vendor data.
pub fn finding(
    id: impl Into<String>,
    vendor_id: impl Into<String>,
    title: impl Into<String>,
) -> Finding {
    let vendor_id = vendor_id.into();
    let title = title.into();
    Finding {
        id: id.into(),
        vendor_id: vendor_id.clone(),
        analytic: Analytic {
            uid: vendor_id,
            name: title.clone(),
            url: None,
        },
        title,
        description: None,
        issue_type: IssueType::Vulnerability,
        finding_type: FindingType::Unknown,
        severity: Severity::Unknown,
        vendor_severity: None,
        state: State::Open,
        first_seen: None,
        last_seen: None,
        state_updated_at: None,
        resource_id: None,
        code_repo: None,
        branch: None,
        affected_package: None,
        affected_code: None,
        has_fix: false,
        remediation: None,
        cvss_score: None,
        vulnerability_identifiers: Vec::new(),
        vulnerabilities: Vec::new(),
        kb_url: None,
        vendor_data: "{}".to_string(),
    }
}

/// A resource of `resource_type` with only its name known and `{}` as its vendor data.
pub fn asset(
    id: impl Into<String>,
    resource_type: impl Into<String>,
    vendor_id: impl Into<String>,
    name: impl Into<String>,
) -> Asset {
    Asset {
        id: id.into(),
        resource_type: resource_type.into(),
        vendor_id: vendor_id.into(),
        name: name.into(),
        slug: None,
        full_name: None,
        workspace: None,
        url: None,
        default_branch: None,
        visibility: None,
        archived: false,
        created_at: None,
        updated_at: None,
        vendor_data: "{}".to_string(),
    }
}
