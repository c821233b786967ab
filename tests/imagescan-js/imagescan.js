// Imagescan, ported to JavaScript on the JavaScript guest SDK (`sdk/js`): the same connector as
// `tests/imagescan` (Rust), record for record and id for id. Container images by offset, their
// vulnerability reports by `Link` header, the key in `X-Api-Key`, the server's clock from `Date`.

import {
  Ids, Request, cursor, exportConnector, invalidCursor, json, jsonField, malformed, nextLink,
  readEach, readSettings, rfc3339OfHttpDate, sameOrigin, settings, success, vendorData, withQuery,
} from "connector-sdk";

const IMAGES_PER_PAGE = 50;
const VULNS_PER_PAGE = 100;
const IMAGES = "images";
const VULNS = "vulns";
const CONTAINER_IMAGE = "container-image";

/** Field `name` as text, as the Rust port's serde types read it. */
function text(raw, name, required = true) {
  const v = raw[name];
  if ((v === undefined || v === null) && !required) return undefined;
  if (typeof v !== "string") throw new Error(`${name}: expected a string, found ${v === null ? "null" : typeof v}`);
  return v;
}

class Imagescan {
  static describe() {
    return {
      name: "imagescan",
      version: "0.1.0",
      vendor: "Imagescan",
      description: "Imagescan container images (Resources) and their vulnerability reports.",
      baseUrlSetting: "base-url",
      tenantSetting: "project",
      resourceTypes: [CONTAINER_IMAGE],
      settings: [
        settings.text("project", "Imagescan project id", { required: true }),
        settings.url("base-url", "Imagescan API base URL", { defaultValue: "https://api.imagescan.example" }),
        settings.secret("api-key", "Imagescan API key", settings.header("X-Api-Key"), "base-url", ["IMAGESCAN_API_KEY"]),
      ],
    };
  }

  constructor(runtime, given) {
    const s = readSettings(Imagescan.describe(), given);
    const project = s.get("project") ?? "";
    if (!/^[A-Za-z0-9-]*$/.test(project)) throw settings.invalid("project", "letters, digits and `-` only");
    this.baseUrl = s.get("base-url");
    this.project = project;
    this.ids = new Ids("https://api.imagescan.example/");
  }

  projectUrl() {
    return `${this.baseUrl}/v1/projects/${this.project}`;
  }

  get(http, path, target) {
    const endpoint = `GET /v1/projects/${this.project}${path}`;
    return [endpoint, success(endpoint, http, Request.getJson(target), "the project is unknown or the key cannot see it")];
  }

  check(http) {
    this.get(http, "", this.projectUrl());
    return { messages: [`the API key can read project ${this.project}`], quotaRemaining: undefined, quotaMax: undefined, quotaRefresh: undefined };
  }

  listResources(http, at) {
    const offset = cursor.offsetOf(IMAGES, at);
    const target = withQuery(`${this.projectUrl()}/images`, [["offset", offset], ["limit", IMAGES_PER_PAGE]]);
    const [endpoint, response] = this.get(http, "/images", target);
    const body = json(endpoint, response);
    if (!body || !Array.isArray(body.images) || !Number.isInteger(body.total)) {
      throw malformed(endpoint, "not the documented JSON: expected images and total");
    }
    const { items, skipped } = readEach("images", body.images, (r) => jsonField(r, "digest"), (r) => this.asset(r));
    const read = offset + body.images.length;
    const more = body.images.length > 0 && read < body.total;
    return { items, nextCursor: more ? cursor.offset(IMAGES, read) : undefined, skipped };
  }

  listFindings(http, query) {
    let target;
    if (query.cursor !== undefined) {
      const next = cursor.decode(VULNS, query.cursor);
      if (!sameOrigin(next, this.baseUrl)) throw invalidCursor(`the next-page link ${JSON.stringify(next)} leaves ${this.baseUrl}`);
      target = next;
    } else {
      const params = [["limit", VULNS_PER_PAGE]];
      if (query.updatedSince !== undefined) params.push(["updated_since", query.updatedSince]);
      target = withQuery(`${this.projectUrl()}/vulnerabilities`, params);
    }
    const [endpoint, response] = this.get(http, "/vulnerabilities", target);
    const records = json(endpoint, response);
    if (!Array.isArray(records)) throw malformed(endpoint, "not a JSON array");
    const { items, skipped } = readEach("vulnerabilities", records, (r) => jsonField(r, "id"), (r) => this.finding(r));
    const next = nextLink(response.header("link"));
    return {
      items,
      nextCursor: next === undefined ? undefined : cursor.encode(VULNS, next),
      queryStartedAt: query.cursor === undefined ? rfc3339OfHttpDate(response.header("date")) : undefined,
      vendorRecords: records.length,
      skipped,
    };
  }

  id(kind, vendorId) {
    return this.ids.id(kind, this.project, vendorId);
  }

  asset(raw) {
    const digest = text(raw, "digest");
    const repository = text(raw, "repository");
    const tag = text(raw, "tag", false);
    const pushedAt = text(raw, "pushed_at", false);
    return {
      id: this.id("image", digest),
      resourceType: CONTAINER_IMAGE,
      vendorId: digest,
      name: tag !== undefined ? `${repository}:${tag}` : `${repository}@${digest}`,
      slug: undefined,
      fullName: repository,
      workspace: undefined,
      url: undefined,
      defaultBranch: undefined,
      visibility: undefined,
      archived: false,
      createdAt: pushedAt,
      updatedAt: pushedAt,
      vendorData: vendorData(raw),
    };
  }

  finding(raw) {
    const [id, cve, pkg, severityText, status] = ["id", "cve", "package", "severity", "status"].map((n) => text(raw, n));
    const [digest, installed, fixed, title, firstSeen, updated] = ["image_digest", "installed", "fixed", "title", "first_seen", "updated_at"].map((n) => text(raw, n, false));
    const severity = { CRITICAL: "critical", HIGH: "high", MEDIUM: "medium", LOW: "low", INFO: "info", "": "unknown" }[severityText.toUpperCase()] ?? "other";
    const state = { fixed: "closed", ignored: "ignored" }[status] ?? "open";
    return {
      id: this.id("vuln", id),
      vendorId: id,
      title: title ?? `${cve} in ${pkg}`,
      description: undefined,
      issueType: "vulnerability",
      findingType: "dependency",
      severity,
      vendorSeverity: severityText,
      state,
      firstSeen,
      lastSeen: updated,
      stateUpdatedAt: updated,
      resourceId: digest === undefined ? undefined : this.id("image", digest),
      codeRepo: undefined,
      branch: undefined,
      affectedPackage: { name: pkg, version: installed, packageManager: undefined, purl: undefined },
      affectedCode: undefined,
      hasFix: fixed !== undefined,
      remediation: fixed === undefined ? undefined : `upgrade to ${fixed}`,
      cvssScore: undefined,
      vulnerabilityIdentifiers: [cve],
      vulnerabilities: [{ uid: cve, cvssScore: undefined, cvssVector: undefined, epssScore: undefined, epssPercentile: undefined, isKev: undefined, cweIds: [], fixedVersion: fixed }],
      analytic: { uid: cve, name: cve, url: undefined },
      kbUrl: undefined,
      vendorData: vendorData(raw),
    };
  }
}

export const connector = exportConnector(Imagescan);
