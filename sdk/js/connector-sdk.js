// The guest SDK for connectors written in JavaScript (ComponentizeJS): the same duties and
// helpers as the Rust SDK (`sdk/`): the export adapter, an HTTP client over `wasi:http` that
// retries only when the runtime does not, the contract's errors, settings read against the
// spec, deterministic ids, RFC 3339 and HTTP dates, queries and `Link` paging, and a page read
// record by record.
//
// A connector module defines a class with the calls of a configured instance and exports it:
//
//     import { exportConnector } from "connector-sdk";
//     class Acme { static describe() {...} constructor(runtime, settings) {...} check(http) {...} ... }
//     export const connector = exportConnector(Acme);
//
// Errors are thrown as the contract's variants (`{ tag: "invalid-config", val: "..." }`), which
// ComponentizeJS returns as a `result` error.

import { subscribeDuration } from "wasi:clocks/monotonic-clock@0.2.12";
import { handle } from "wasi:http/outgoing-handler@0.2.12";
import { Fields, OutgoingBody, OutgoingRequest } from "wasi:http/types@0.2.12";

// ---- export ----

let configured;

export function exportConnector(Connector) {
  const call = (method, ...args) => {
    if (!configured) throw invalidConfig("`configure` was not called");
    const [instance, retriesTransient] = configured;
    const http = retriesTransient ? new WasiHttp() : new Retrying(new WasiHttp());
    return instance[method](http, ...args);
  };
  return {
    describe: () => Connector.describe(),
    configure(runtime, settings) {
      configured = [new Connector(runtime, settings), runtime.retriesTransient];
    },
    check: () => call("check"),
    listResources: (cursor) => call("listResources", cursor),
    listFindings: (query) => call("listFindings", query),
  };
}

// ---- errors ----

export const invalidConfig = (message) => ({ tag: "invalid-config", val: message });
export const invalidCursor = (message) => ({ tag: "invalid-cursor", val: message });
export const transport = (endpoint, failure) => ({ tag: "transport", val: `${endpoint}: ${failure}` });
export const malformed = (endpoint, detail) => ({ tag: "malformed-response", val: { endpoint, detail } });

export function fromStatus(endpoint, response, message, notFound) {
  const said = message ? ` (the server says: ${message})` : "";
  switch (response.status) {
    case 401:
      return { tag: "unauthorized", val: `${endpoint}: 401 Unauthorized: the credential is invalid or expired${said}` };
    case 403:
      return { tag: "forbidden", val: `${endpoint}: 403 Forbidden: the credential may not do this${said}` };
    case 404:
      return { tag: "not-found", val: `${endpoint}: 404 Not Found: ${notFound}${said}` };
    case 429: {
      const wait = retryAfter(response.header("retry-after"));
      return {
        tag: "rate-limited",
        val: { endpoint, retryAfterSeconds: wait === undefined ? undefined : BigInt(Math.floor(wait)), message: message || "rate limited" },
      };
    }
    default:
      return { tag: "upstream", val: { endpoint, status: response.status, message: message || "no error message" } };
  }
}

export function bodyMessage(body) {
  const text = new TextDecoder().decode(body).trim();
  if (text.startsWith("<")) return "a non-JSON (HTML) error page";
  return [...text].filter((c) => c >= " " && c !== "\x7f").join("").slice(0, 200);
}

/** The response to `request` when it succeeded (2xx); otherwise throws the error it means. */
export function success(endpoint, http, request, notFound) {
  let response;
  try {
    response = http.send(request);
  } catch (e) {
    if (e instanceof SendError) throw transport(endpoint, e.message);
    throw e;
  }
  if (!response.ok()) throw fromStatus(endpoint, response, bodyMessage(response.body), notFound);
  return response;
}

export function json(endpoint, response) {
  try {
    return JSON.parse(new TextDecoder().decode(response.body));
  } catch (e) {
    throw malformed(endpoint, `not the documented JSON: ${e}`);
  }
}

// ---- http ----

export class Request {
  constructor(url, method = "GET", headers = [], body = new Uint8Array()) {
    Object.assign(this, { url, method, headers, body });
  }
  static getJson(url) {
    return new Request(url).header("accept", "application/json");
  }
  /** Sets header `name`, replacing every value it had. */
  header(name, value) {
    name = name.toLowerCase();
    this.headers = this.headers.filter(([n]) => n !== name).concat([[name, value]]);
    return this;
  }
}

export class Response {
  constructor(status, headers, body) {
    Object.assign(this, { status, headers, body });
  }
  header(name) {
    const found = this.headers.find(([n]) => n === name.toLowerCase());
    return found ? found[1] : undefined;
  }
  ok() {
    return this.status >= 200 && this.status < 300;
  }
}

export class SendError extends Error {
  constructor(message, refused = false) {
    super(message);
    this.refused = refused;
  }
}

export class WasiHttp {
  send(request) {
    const { scheme, authority, path } = splitUrl(request.url);
    const encoder = new TextEncoder();
    const outgoing = new OutgoingRequest(Fields.fromList(request.headers.map(([n, v]) => [n, encoder.encode(v)])));
    outgoing.setMethod({ tag: request.method === "GET" ? "get" : "post" });
    outgoing.setScheme({ tag: scheme === "https" ? "HTTPS" : "HTTP" });
    outgoing.setAuthority(authority);
    outgoing.setPathWithQuery(path);
    const body = outgoing.body();
    let future;
    try {
      future = handle(outgoing, undefined);
      const stream = body.write();
      for (let i = 0; i < request.body.length; i += 4096) stream.blockingWriteAndFlush(request.body.subarray(i, i + 4096));
      dispose(stream);
      OutgoingBody.finish(body, undefined);
    } catch (e) {
      throw failure(request, e.payload ?? e);
    }
    let answer;
    while ((answer = future.get()) === undefined) {
      const ready = future.subscribe();
      ready.block();
      dispose(ready);
    }
    dispose(future);
    if (answer.tag === "err") throw new SendError(`${request.url}: the response was already taken`);
    if (answer.val.tag === "err") throw failure(request, answer.val.val);
    const response = answer.val.val;
    try {
      return read(response);
    } finally {
      dispose(response);
    }
  }
}

// Drops a WASI resource now. The garbage collector would drop it some time later, and a
// runtime bounds the handles an instance may hold at once (the reference host: 1,024), so a
// listing of many pages must not wait for it. Children before parents: a runtime refuses to
// drop a resource that still has children.
function dispose(resource) {
  resource?.[Symbol.dispose]?.();
}

function splitUrl(url) {
  const [scheme, rest = ""] = url.split("://");
  const cut = [rest.indexOf("/"), rest.indexOf("?")].filter((i) => i >= 0);
  const at = cut.length ? Math.min(...cut) : rest.length;
  let path = rest.slice(at) || "/";
  if (path.startsWith("?")) path = "/" + path;
  return { scheme: scheme.toLowerCase(), authority: rest.slice(0, at), path };
}

function failure(request, code) {
  const tag = code && code.tag ? code.tag : String(code);
  return new SendError(`${request.url}: ${tag}`, tag === "HTTP-request-denied");
}

function read(response) {
  const decoder = new TextDecoder();
  const fields = response.headers();
  const headers = fields.entries().map(([n, v]) => [n.toLowerCase(), decoder.decode(v)]);
  dispose(fields);
  const incoming = response.consume();
  const stream = incoming.stream();
  const chunks = [];
  let size = 0;
  for (;;) {
    let chunk;
    try {
      chunk = stream.blockingRead(1n << 20n);
    } catch (e) {
      if ((e.payload ?? e).tag === "closed") break;
      throw new SendError("reading the body failed");
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  dispose(stream);
  dispose(incoming);
  const body = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    body.set(c, at);
    at += c.length;
  }
  return new Response(response.status(), headers, body);
}

const RETRYABLE = [408, 429, 500, 502, 503, 504];

/** Retries transport failures, 408, 429 and 5xx (never a refusal), at most 3 times, waiting out
 * `Retry-After` up to 60 s in either form, else backing off exponentially with jitter. */
export class Retrying {
  constructor(inner, maxRetries = 3, maxWait = 60) {
    Object.assign(this, { inner, maxRetries, maxWait, retries: 0 });
  }
  send(request) {
    for (let attempt = 0; ; attempt++) {
      let response;
      try {
        response = this.inner.send(request);
      } catch (e) {
        if (!(e instanceof SendError) || e.refused || attempt === this.maxRetries) throw e;
        this.pause(attempt);
        continue;
      }
      if (!RETRYABLE.includes(response.status) || attempt === this.maxRetries) return response;
      const wait = retryAfter(response.header("retry-after"));
      if (wait !== undefined && wait > this.maxWait) return response;
      this.pause(attempt, wait);
    }
  }
  pause(attempt, wait) {
    this.retries++;
    const seconds = wait ?? Math.min(0.5 * 2 ** attempt, 8) * (0.5 + Math.random() / 2);
    subscribeDuration(BigInt(Math.round(seconds * 1e9))).block();
  }
}

/** `Retry-After` in seconds, from delay-seconds or an HTTP date; undefined when absent or bad. */
export function retryAfter(value) {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, (at - Date.now()) / 1000);
}

// ---- settings ----

const spec = (name, description, valueType, { required = false, defaultValue, narrows = false, env = [] } = {}) => ({
  name, description, required, defaultValue, credential: undefined, suggestedEnv: env, valueType, narrows,
});
export const settings = {
  text: (n, d, o) => spec(n, d, "text", o),
  boolean: (n, d, o) => spec(n, d, "boolean", o),
  list: (n, d, o) => spec(n, d, "list", o),
  url: (n, d, o) => spec(n, d, "url", o),
  integer: (n, d, o) => spec(n, d, "integer", o),
  secret(name, description, scheme, originSetting, env = []) {
    return { ...spec(name, description, "text", { required: true, env }), credential: { scheme, originSetting } };
  },
  bearer: { tag: "bearer" },
  header: (name, prefix) => ({ tag: "header", val: { name, prefix } }),
  invalid: (name, message) => invalidConfig(`setting \`${name}\`: ${message}`),
};

export function parseBool(value) {
  const v = value.trim().toLowerCase();
  if (["true", "yes", "on", "1"].includes(v)) return true;
  if (["false", "no", "off", "0"].includes(v)) return false;
  return undefined;
}

function parseValue(def, raw) {
  const value = raw.trim();
  if (!value) return undefined;
  const wrong = (what) => settings.invalid(def.name, `${JSON.stringify(value)} is not ${what}`);
  switch (def.valueType) {
    case "boolean": {
      const flag = parseBool(value);
      if (flag === undefined) throw wrong("a boolean (true or false; yes/no, on/off and 1/0 are taken too)");
      return flag;
    }
    case "list":
      return value.split(",").map((s) => s.trim()).filter(Boolean);
    case "url": {
      const trimmed = value.replace(/\/+$/, "");
      const m = /^(https?):\/\/([^/?# ][^?# ]*)$/.exec(trimmed);
      if (!m) throw wrong("an absolute http(s) URL such as https://api.example.com");
      return trimmed;
    }
    case "integer":
      if (!/^[+-]?\d+$/.test(value)) throw wrong("a whole number");
      return Number(value);
    default:
      return value;
  }
}

/** The values of one `configure`, read against `spec`: trimmed, typed, defaults applied. */
export function readSettings(connectorSpec, given) {
  const byName = new Map(connectorSpec.settings.map((d) => [d.name, d]));
  const values = new Map();
  for (const { name, value } of given) {
    const def = byName.get(name);
    if (!def) {
      const known = connectorSpec.settings.filter((d) => !d.credential).map((d) => d.name).join(", ");
      throw settings.invalid(name, `unknown; this connector takes ${known}`);
    }
    if (def.credential) throw settings.invalid(name, "is secret: the runtime keeps it and attaches it to requests; it must not be passed to the component");
    if (values.has(name)) throw settings.invalid(name, "given twice");
    const parsed = parseValue(def, value);
    if (parsed !== undefined) values.set(name, parsed);
  }
  for (const def of connectorSpec.settings) {
    if (def.credential || values.has(def.name)) continue;
    const fallback = def.defaultValue === undefined ? undefined : parseValue(def, def.defaultValue);
    if (fallback !== undefined) values.set(def.name, fallback);
    else if (def.required) throw settings.invalid(def.name, `required (${def.description})`);
  }
  return values;
}

// ---- ids: UUIDv5 (SHA-1), byte for byte as the Rust SDK's ----

function sha1(bytes) {
  const words = new Uint32Array(80);
  const padded = new Uint8Array(((bytes.length + 9 + 63) >> 6) << 6);
  padded.set(bytes);
  padded[bytes.length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 4, bytes.length * 8);
  view.setUint32(padded.length - 8, Math.floor((bytes.length * 8) / 2 ** 32));
  let [a0, b0, c0, d0, e0] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0];
  const rotl = (x, n) => (x << n) | (x >>> (32 - n));
  for (let off = 0; off < padded.length; off += 64) {
    for (let i = 0; i < 16; i++) words[i] = view.getUint32(off + i * 4);
    for (let i = 16; i < 80; i++) words[i] = rotl(words[i - 3] ^ words[i - 8] ^ words[i - 14] ^ words[i - 16], 1);
    let [a, b, c, d, e] = [a0, b0, c0, d0, e0];
    for (let i = 0; i < 80; i++) {
      const [f, k] =
        i < 20 ? [(b & c) | (~b & d), 0x5a827999] : i < 40 ? [b ^ c ^ d, 0x6ed9eba1] : i < 60 ? [(b & c) | (b & d) | (c & d), 0x8f1bbcdc] : [b ^ c ^ d, 0xca62c1d6];
      const t = (rotl(a, 5) + f + e + k + words[i]) >>> 0;
      [e, d, c, b, a] = [d, c, rotl(b, 30) >>> 0, a, t];
    }
    [a0, b0, c0, d0, e0] = [(a0 + a) >>> 0, (b0 + b) >>> 0, (c0 + c) >>> 0, (d0 + d) >>> 0, (e0 + e) >>> 0];
  }
  const out = new Uint8Array(20);
  const outView = new DataView(out.buffer);
  [a0, b0, c0, d0, e0].forEach((w, i) => outView.setUint32(i * 4, w));
  return out;
}

const NAMESPACE_URL = Uint8Array.from([0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8]);

function uuid5(namespace, name) {
  const text = new TextEncoder().encode(name);
  const data = new Uint8Array(namespace.length + text.length);
  data.set(namespace);
  data.set(text, namespace.length);
  const hash = sha1(data).slice(0, 16);
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  return hash;
}

const uuidText = (b) => {
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
};

export class Ids {
  constructor(vendorUrl) {
    this.namespace = uuid5(NAMESPACE_URL, vendorUrl);
  }
  id(...parts) {
    return uuidText(uuid5(this.namespace, JSON.stringify(parts.map((p) => (p === undefined ? null : p)))));
  }
}

// ---- time ----

const pad = (n, w = 2) => String(n).padStart(w, "0");

export function formatRfc3339(ms) {
  const d = new Date(ms);
  const base = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  return d.getUTCMilliseconds() ? `${base}.${pad(d.getUTCMilliseconds(), 3)}Z` : `${base}Z`;
}

/** `YYYY-MM-DDTHH:MM:SS[.fff]Z`; a value already in that form is returned unchanged. */
export function toRfc3339Utc(value) {
  if (value === undefined) return undefined;
  const raw = value.trim();
  if (!/^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?$/.test(raw)) return undefined;
  const zoned = /([Zz]|[+-]\d{2}:\d{2})$/.test(raw) ? raw : `${raw}Z`;
  const ms = Date.parse(zoned.replace(" ", "T"));
  if (Number.isNaN(ms)) return undefined;
  return raw.length >= 20 && raw[10] === "T" && raw.endsWith("Z") ? raw : formatRfc3339(ms);
}

/** `Sun, 06 Nov 1994 08:49:37 GMT` as `1994-11-06T08:49:37Z`. */
export function rfc3339OfHttpDate(value) {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : formatRfc3339(ms);
}

// ---- url ----

const encode = (s) =>
  encodeURIComponent(String(s))
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%2C/g, ",");

export function withQuery(base, pairs) {
  const q = pairs.map(([k, v]) => `${encode(k)}=${encode(v)}`).join("&");
  return q ? `${base}${base.includes("?") ? "&" : "?"}${q}` : base;
}

export function link(header, rel) {
  for (const [, target, params] of (header ?? "").matchAll(/<([^>]*)>([^<]*)/g)) {
    for (const param of params.split(";")) {
      const [key, value = ""] = param.split("=");
      const rels = value.trim().replace(/,$/, "").trim().replace(/^"|"$/g, "").split(/\s+/);
      if (key.trim().toLowerCase() === "rel" && rels.some((r) => r.toLowerCase() === rel)) return target.trim();
    }
  }
  return undefined;
}

export const nextLink = (header) => link(header, "next");

export function sameOrigin(a, b) {
  try {
    const [x, y] = [new URL(a), new URL(b)];
    return ["http:", "https:"].includes(x.protocol) && x.origin === y.origin;
  } catch {
    return false;
  }
}

// ---- cursors ----

export const cursor = {
  encode: (tag, position) => `${tag}:${position}`,
  decode(tag, value) {
    if (!value.startsWith(`${tag}:`)) throw invalidCursor(`${JSON.stringify(value.slice(0, 80))} is not a \`${tag}\` cursor issued by this connector`);
    return value.slice(tag.length + 1);
  },
  offset: (tag, n) => `${tag}:${n}`,
  offsetOf(tag, value) {
    if (value === undefined) return 0;
    const position = cursor.decode(tag, value);
    if (!/^\d+$/.test(position)) throw invalidCursor(`${JSON.stringify(value.slice(0, 80))} is not a \`${tag}\` cursor issued by this connector`);
    return Number(position);
  },
};

// ---- pages ----

/** `{ items, skipped }`: each of `raw` through `read`; one that throws is skipped with the
 * reason `{what}[{index}] (record {id}): {error}`. */
export function readEach(what, raw, vendorId, read) {
  const items = [];
  const skipped = [];
  raw.forEach((record, i) => {
    try {
      items.push(read(record));
    } catch (e) {
      const id = vendorId(record);
      const at = id === undefined ? `${what}[${i}]` : `${what}[${i}] (record ${id})`;
      skipped.push({ vendorId: id, reason: `${at}: ${e && e.message ? e.message : String(e)}` });
    }
  });
  return { items, skipped };
}

export function jsonField(raw, name) {
  const v = raw !== null && typeof raw === "object" ? raw[name] : undefined;
  return typeof v === "string" || typeof v === "number" ? String(v) : undefined;
}

/** The vendor's record as compact JSON with sorted keys: the same text as the Rust SDK's. */
export function vendorData(raw) {
  const sorted = (v) =>
    Array.isArray(v)
      ? v.map(sorted)
      : v !== null && typeof v === "object"
        ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted(v[k])]))
        : v;
  return JSON.stringify(sorted(raw));
}
