"""The peer for `bench sync`: the same sync done with Socket's official Python SDK (socketdev)
plus a plain Python mapping to the same records (SPEC §5-§6), written as NDJSON.

Usage: python3 bench/peer.py BASE_URL ORG OUT   (token from SOCKET_SECURITY_API_KEY)
"""
import json
import sys
import time
import uuid

from socketdev import socketdev

NS = uuid.uuid5(uuid.NAMESPACE_URL, "https://socket.dev/")
SEV = {"critical": "Critical", "high": "High", "medium": "Medium", "middle": "Medium", "low": "Low"}
CAT = {"vulnerability": ("vulnerability", "DEPENDENCY"), "supplyChainRisk": ("vulnerability", "DEPENDENCY"),
       "maintenance": ("config", "DEPENDENCY"), "license": ("license", "DEPENDENCY"), "quality": ("code", "CODE")}


def uid(*parts):
    return str(uuid.uuid5(NS, json.dumps(list(parts), separators=(",", ":"))))


def resource(org, r):
    ws = r.get("workspace") or None
    return {"kind": "resource", "id": uid("repository", org, r["id"]), "vendor": "socket", "vendor_id": r["id"],
            "type": "repository", "name": r.get("name"), "slug": r.get("slug"),
            "full_name": f"{ws}/{r['slug']}" if ws else r.get("slug"), "workspace": ws, "url": r.get("html_url"),
            "default_branch": r.get("default_branch"), "visibility": r.get("visibility"),
            "archived": bool(r.get("archived")), "created_at": r.get("created_at"), "updated_at": r.get("updated_at"),
            "vendor_data": r}


def findings(org, a):
    vuln = a.get("vulnerability") or {}
    ids = []
    for i in [vuln.get("cveId")] + (vuln.get("ghsaIds") or []) + (vuln.get("cweIds") or []):
        if i and i not in ids:
            ids.append(i)
    v1, v2 = CAT.get(a.get("category"), ("custom", "UNKNOWN"))
    sev = SEV.get(a.get("severity"), "Info")
    for loc in a.get("locations") or [None]:
        loc_ = loc or {}
        repo, art = loc_.get("repository") or {}, loc_.get("artifact") or {}
        state = "Ignored" if loc_.get("action") == "ignore" else "Closed" if a.get("status") == "cleared" else "Open"
        fid = uid("finding", org, a["id"], repo.get("id"), (loc_.get("branch") or {}).get("name"), art.get("id"))
        fix = a.get("fix") or {}
        has_fix = bool(a.get("fix")) or bool(vuln.get("firstPatchedVersionIdentifier")) or \
            (loc_.get("patch") or {}).get("status") in ("patch_available", "patch_applied")
        vendor_data = dict(a, locations=[loc] if loc else [])
        resource_id = uid("repository", org, repo["id"]) if repo.get("id") else None
        yield {"kind": "issue", "id": fid, "vendor": "socket", "vendor_id": a["id"], "name": a.get("title") or a.get("type"),
               "description": a.get("description"), "type": v1, "severity": sev, "state": state,
               "first_seen": a.get("createdAt"), "last_seen": a.get("updatedAt"),
               "state_updated_at": a.get("clearedAt") if state == "Closed" else a.get("updatedAt"),
               "resource_id": resource_id, "code_repo": repo.get("fullName"),
               "repo_branch_name": (loc_.get("branch") or {}).get("name"), "package_name": art.get("name"),
               "package_version": art.get("version"), "package_manager": art.get("type"), "is_patchable": has_fix,
               "remediation": fix.get("description"), "cvss_score": vuln.get("cvssScore"),
               "vulnerability_identifiers": ids, "kb_url": a.get("dashboardUrl"), "vendor_data": vendor_data}
        yield {"kind": "finding", "id": fid, "title": a.get("title"), "description": a.get("description"), "type": v2,
               "severity": sev.upper(), "state": state.upper(), "first_seen": a.get("createdAt"),
               "last_seen": a.get("updatedAt"), "has_fix": has_fix, "remediation": fix.get("description"),
               "product": {"vendor_name": "Socket", "name": "Socket"},
               "analytic": {"type": "rule", "uid": a.get("type"), "name": a.get("title"), "url": a.get("dashboardUrl")},
               "resource_id": resource_id, "vendor_data": vendor_data}


def main():
    base, org, out_path = sys.argv[1:4]
    sdk = socketdev()
    sdk.api.api_url = base
    t0 = time.monotonic()
    n = 0
    with open(out_path, "w") as out:
        page = 1
        while page:
            res = sdk.repos.get(org, per_page=100, page=page, include_archived="true")
            for r in res["results"]:
                out.write(json.dumps(resource(org, r)) + "\n")
            page = res["nextPage"] if res["results"] and res.get("nextPage") else 0
        cursor = None
        while True:
            q = {"per_page": 5000, "filters.alertStatus": "open"}
            if cursor:
                q["startAfterCursor"] = cursor
            res = sdk.alerts.get(org, **q)
            for a in res["items"]:
                for rec in findings(org, a):
                    out.write(json.dumps(rec) + "\n")
                    n += 1
            cursor = res.get("endCursor")
            if not cursor:
                break
    print(json.dumps({"records": n, "seconds": time.monotonic() - t0}))


if __name__ == "__main__":
    main()
