"""Imagescan, ported to Python on the Python guest SDK (`sdk/python`): the same connector as
`tests/imagescan` (Rust), record for record and id for id. Container images by offset, their
vulnerability reports by `Link` header, the key in `X-Api-Key`, the server's clock from `Date`."""

from connector_sdk import cursor, errors, export, ids, page, settings, time, url
from connector_sdk.http import Request
from connector_sdk.wit import types as t

IMAGES_PER_PAGE = 50
VULNS_PER_PAGE = 100
IMAGES, VULNS = "images", "vulns"
CONTAINER_IMAGE = "container-image"
VERSION = "0.1.0"


def _text(raw, name, required=True):
    """Field `name` as text, as the Rust port's serde types read it."""
    value = raw.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name}: expected a string, found {type(value).__name__}")
    return value


class Imagescan:
    @staticmethod
    def describe():
        return settings.spec(
            "imagescan", "Imagescan",
            "Imagescan container images (Resources) and their vulnerability reports.",
            VERSION,
            [
                settings.text("project", "Imagescan project id", required=True),
                settings.url("base-url", "Imagescan API base URL", default="https://api.imagescan.example"),
                settings.secret("api-key", "Imagescan API key", settings.header_credential("X-Api-Key"),
                                "base-url", env=["IMAGESCAN_API_KEY"]),
            ],
            base_url="base-url", tenant="project", resource_types=[CONTAINER_IMAGE],
        )

    def __init__(self, runtime, given):
        s = settings.Settings(Imagescan.describe(), given)
        project = s.get("project", "")
        if not all(c.isascii() and (c.isalnum() or c == "-") for c in project):
            raise settings.invalid("project", "letters, digits and `-` only")
        self.base_url = s.get("base-url")
        self.project = project
        self.ids = ids.Ids("https://api.imagescan.example/")

    def project_url(self):
        return f"{self.base_url}/v1/projects/{self.project}"

    def get(self, http, path, target):
        endpoint = f"GET /v1/projects/{self.project}{path}"
        unknown = "the project is unknown or the key cannot see it"
        return endpoint, errors.success(endpoint, http, Request.get_json(target), unknown)

    def check(self, http):
        self.get(http, "", self.project_url())
        return t.CheckReport(messages=[f"the API key can read project {self.project}"],
                             quota_remaining=None, quota_max=None, quota_refresh=None)

    def list_resources(self, http, cursor_):
        offset = cursor.offset_of(IMAGES, cursor_)
        target = url.with_query(f"{self.project_url()}/images", [("offset", offset), ("limit", IMAGES_PER_PAGE)])
        endpoint, response = self.get(http, "/images", target)
        body = errors.json(endpoint, response)
        if not isinstance(body, dict) or not isinstance(body.get("images"), list) or not isinstance(body.get("total"), int):
            raise errors.malformed(endpoint, "not the documented JSON: expected images and total")
        images = body["images"]
        items, skipped = page.read_each("images", images, lambda r: page.json_field(r, "digest"), self.asset)
        read = offset + len(images)
        more = bool(images) and read < body["total"]
        return t.AssetPage(items=items, next_cursor=cursor.offset(IMAGES, read) if more else None, skipped=skipped)

    def list_findings(self, http, query):
        if query.cursor is not None:
            link = cursor.decode(VULNS, query.cursor)
            if not url.same_origin(link, self.base_url):
                raise errors.invalid_cursor(f"the next-page link {link!r} leaves {self.base_url}")
            target = link
        else:
            params = [("limit", VULNS_PER_PAGE)]
            if query.updated_since is not None:
                params.append(("updated_since", query.updated_since))
            target = url.with_query(f"{self.project_url()}/vulnerabilities", params)
        endpoint, response = self.get(http, "/vulnerabilities", target)
        records = errors.json(endpoint, response)
        if not isinstance(records, list):
            raise errors.malformed(endpoint, "not a JSON array")
        items, skipped = page.read_each("vulnerabilities", records, lambda r: page.json_field(r, "id"), self.finding)
        next_page = url.next_link(response.header("link"))
        started = time.rfc3339_of_http_date(response.header("date")) if query.cursor is None else None
        return t.FindingPage(items=items, next_cursor=cursor.encode(VULNS, next_page) if next_page else None,
                             query_started_at=started, vendor_records=len(records), skipped=skipped)

    def id(self, kind, vendor_id):
        return self.ids.id(kind, self.project, vendor_id)

    def asset(self, raw):
        digest, repository = _text(raw, "digest"), _text(raw, "repository")
        tag, pushed_at = _text(raw, "tag", False), _text(raw, "pushed_at", False)
        name = f"{repository}:{tag}" if tag is not None else f"{repository}@{digest}"
        return t.Asset(
            id=self.id("image", digest), resource_type=CONTAINER_IMAGE, vendor_id=digest, name=name,
            slug=None, full_name=repository, workspace=None, url=None, default_branch=None,
            visibility=None, archived=False, created_at=pushed_at, updated_at=pushed_at,
            vendor_data=page.vendor_data(raw),
        )

    def finding(self, raw):
        vid, cve, package = _text(raw, "id"), _text(raw, "cve"), _text(raw, "package")
        severity_text, status = _text(raw, "severity"), _text(raw, "status")
        digest, installed, fixed = (_text(raw, n, False) for n in ("image_digest", "installed", "fixed"))
        title, first_seen, updated = (_text(raw, n, False) for n in ("title", "first_seen", "updated_at"))
        severity = {
            "CRITICAL": t.Severity.CRITICAL, "HIGH": t.Severity.HIGH, "MEDIUM": t.Severity.MEDIUM,
            "LOW": t.Severity.LOW, "INFO": t.Severity.INFO, "": t.Severity.UNKNOWN,
        }.get(severity_text.upper(), t.Severity.OTHER)
        state = {"fixed": t.State.CLOSED, "ignored": t.State.IGNORED}.get(status, t.State.OPEN)
        return t.Finding(
            id=self.id("vuln", vid), vendor_id=vid, title=title if title is not None else f"{cve} in {package}",
            description=None, issue_type=t.IssueType.VULNERABILITY, finding_type=t.FindingType.DEPENDENCY,
            severity=severity, vendor_severity=severity_text, state=state, first_seen=first_seen,
            last_seen=updated, state_updated_at=updated,
            resource_id=self.id("image", digest) if digest is not None else None,
            code_repo=None, branch=None,
            affected_package=t.AffectedPackage(name=package, version=installed, package_manager=None, purl=None),
            affected_code=None, has_fix=fixed is not None,
            remediation=f"upgrade to {fixed}" if fixed is not None else None, cvss_score=None,
            vulnerability_identifiers=[cve],
            vulnerabilities=[t.Vulnerability(uid=cve, cvss_score=None, cvss_vector=None, epss_score=None,
                                             epss_percentile=None, is_kev=None, cwe_ids=[], fixed_version=fixed)],
            analytic=t.Analytic(uid=cve, name=cve, url=None), kb_url=None, vendor_data=page.vendor_data(raw),
        )


Connector = export(Imagescan)
