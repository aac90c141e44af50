// lookup.js: find a record by its key, and keys by prefix, for the page.
// Two implementations of one small interface, chosen by the page's config.json:
//   { kind: "api", url: "api/records" }     mlbridge serve's HTTP API
//   { kind: "static", url: "lookup/", features: [...] }   files written by mlbridge site
// Both answer get(key) → { key, features } or null, and keys(prefix, limit) → [key, ...],
// with the server's matching rules: ASCII letters compared in lower case, the first row
// of a repeated key. URLs are relative to the page, so a site works under any sub-path.

async function json(url) {
  const response = await fetch(url);
  if (response.status === 404) return null;
  if (!response.ok) {
    const message = (await response.json().catch(() => ({}))).error;
    throw new Error(message ?? `Lookup failed (HTTP ${response.status}).`);
  }
  return response.json();
}

function apiLookup(url, base) {
  const root = new URL(url.endsWith("/") ? url : `${url}/`, base);
  return {
    get: (key) => json(new URL(encodeURIComponent(key.trim()), root)),
    async keys(prefix, limit) {
      const query = new URL(root.href.slice(0, -1));
      query.search = new URLSearchParams({ prefix, limit }).toString();
      return (await json(query))?.keys ?? [];
    },
  };
}

// The static layout (src/mlbridge/lookup_files.py): a radix tree of JSON files named by
// the hex of a key prefix's folded UTF-8 bytes, walked from root.json down to a leaf.
const fold = (text) => text.replace(/[A-Z]/g, (c) => c.toLowerCase());
const hex = (text) => Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, "0")).join("");

function staticLookup(url, base, features) {
  const root = new URL(url.endsWith("/") ? url : `${url}/`, base);
  const files = new Map(); // file name -> Promise of its JSON, fetched at most once

  // The leaf that would hold `target` (hex), or the node whose shared prefix starts with
  // it, or null when no key starts with it.
  async function walk(target) {
    let name = "root";
    for (;;) {
      if (!files.has(name)) files.set(name, json(new URL(`${name}.json`, root)));
      const found = await files.get(name);
      if (found === null || !found.split) return found;
      if (target.length <= found.common.length) return found.common.startsWith(target) ? found : null;
      if (!target.startsWith(found.common)) return null;
      name = target.slice(0, found.common.length + 2); // the shared prefix and one more byte
    }
  }

  walk("").catch(() => {}); // fetch the root now: every lookup starts there, a while later

  const record = (row) => row && { key: row[0], features: Object.fromEntries(features.map((name, i) => [name, row[i + 1]])) };

  return {
    async get(key) {
      const target = fold(key.trim());
      const found = await walk(hex(target));
      if (found === null) return null;
      if (found.split) return found.common === hex(target) ? record(found.exact) : null;
      return record(found.records.find((row) => fold(row[0]) === target) ?? null);
    },
    async keys(prefix, limit) {
      const target = fold(prefix);
      const found = await walk(hex(target));
      if (found === null) return [];
      const keys = found.split ? found.first : found.records.map((row) => row[0]).filter((key) => fold(key).startsWith(target));
      return keys.slice(0, limit);
    },
  };
}

/** The lookup the config describes; `base` is the URL relative ones are read against. */
export function createLookup({ kind, url, features = [] }, base = document.baseURI) {
  if (kind === "static") return staticLookup(url, base, features);
  if (kind === "api") return apiLookup(url, base);
  throw new Error(`Unknown lookup kind "${kind}".`);
}
