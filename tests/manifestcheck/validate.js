#!/usr/bin/env node
// Validate a Teams app manifest against Microsoft's official JSON schema, offline.
//
// Usage:          node validate.js [manifest.json]      (no path: the manifest is read from stdin)
// Output (stdout): {"ok": bool, "schema": "teams/v1.xx", "errors": [string, ...]}
// Exit status:    0 valid, 1 invalid (the errors say why), 2 bad input or an internal failure (reason on stderr).
//
// The schema is the one @microsoft/app-manifest (pinned in package.json) bundles for the manifest's own
// "manifestVersion", so nothing is fetched. It is compiled the way that package's
// AppManifestUtils.validateAgainstSchema does it: ajv-draft-04 with allErrors, strictTypes off, the uri, email
// and regex formats from ajv-formats, and its clean-up of the "\a" and "\v" escapes some schema patterns use,
// which JavaScript regular expressions reject. (Requiring the package itself needs fs-extra, which it does not
// declare, so the schema file is read directly.)
"use strict";

const fs = require("fs");
const path = require("path");
const Ajv = require("ajv-draft-04");
const addFormats = require("ajv-formats");

const SCHEMA_ROOT = path.join(
    path.dirname(require.resolve("@microsoft/app-manifest/package.json")),
    "build",
    "json-schemas",
    "teams",
);
const SCHEMA_URL = /^https:\/\/developer\.microsoft\.com\/(?:[a-z]{2}(?:-[a-z]{2})?\/)?json-schemas\/teams\/(v[^/]+)\/MicrosoftTeams\.schema\.json$/i;

function fail(message) {
    process.stderr.write(`validate.js: ${message}\n`);
    process.exit(2);
}

function schemaFolder(manifestVersion) {
    return manifestVersion === "devPreview" ? "vDevPreview" : `v${manifestVersion}`;
}

function loadSchema(folder) {
    const file = path.join(SCHEMA_ROOT, folder, "MicrosoftTeams.schema.json");
    if (!/^v[0-9A-Za-z.]+$/.test(folder) || !fs.existsSync(file)) {
        const known = fs.readdirSync(SCHEMA_ROOT).sort().join(", ");
        return { error: `no bundled schema for ${folder} (this @microsoft/app-manifest has ${known})` };
    }
    const raw = fs.readFileSync(file, "utf8").replace(/\\a/g, "\\u0007").replace(/\\v/g, "\\u000b");
    return { schema: JSON.parse(raw) };
}

function describe(error) {
    const where = error.instancePath || "/";
    const params = error.params && Object.keys(error.params).length ? ` ${JSON.stringify(error.params)}` : "";
    return `${where} ${error.message || error.keyword}${params}`;
}

function validate(manifest) {
    if (manifest === null || typeof manifest !== "object" || Array.isArray(manifest)) {
        return { ok: false, schema: null, errors: ["the manifest is not a JSON object"] };
    }
    const version = manifest.manifestVersion;
    if (typeof version !== "string" || !version) {
        return { ok: false, schema: null, errors: ['/manifestVersion is missing or not a string'] };
    }
    const folder = schemaFolder(version);
    const errors = [];
    if (manifest.$schema !== undefined) {
        const match = SCHEMA_URL.exec(String(manifest.$schema));
        if (!match) {
            errors.push(`/$schema ${JSON.stringify(manifest.$schema)} is not a developer.microsoft.com Teams schema URL`);
        } else if (match[1].toLowerCase() !== folder.toLowerCase()) {
            errors.push(`/$schema names ${match[1]} but /manifestVersion is ${JSON.stringify(version)}`);
        }
    }
    const loaded = loadSchema(folder);
    if (loaded.error) {
        return { ok: false, schema: null, errors: [...errors, `/manifestVersion ${loaded.error}`] };
    }
    const ajv = new Ajv({ allErrors: true, strictTypes: false });
    addFormats(ajv, ["uri", "email", "regex"]);
    const check = ajv.compile(loaded.schema);
    if (!check(manifest)) {
        errors.push(...check.errors.map(describe));
    }
    return { ok: errors.length === 0, schema: `teams/${folder}`, errors };
}

function run(text) {
    const bom = text.startsWith("\uFEFF");
    let manifest;
    try {
        manifest = JSON.parse(bom ? text.slice(1) : text);
    } catch (exc) {
        fail(`the manifest is not valid JSON: ${exc.message}`);
    }
    let result;
    try {
        result = validate(manifest);
    } catch (exc) {
        fail(`could not validate: ${exc && exc.stack ? exc.stack : exc}`);
    }
    if (bom) {
        result.errors.unshift("the file starts with a byte-order mark; write manifest.json as UTF-8 without one");
        result.ok = false;
    }
    process.stdout.write(JSON.stringify(result) + "\n");
    process.exitCode = result.ok ? 0 : 1;
}

function main() {
    const args = process.argv.slice(2);
    if (args.length > 1 || args.some((arg) => arg === "-h" || arg === "--help")) {
        process.stderr.write("usage: node validate.js [manifest.json]   (reads stdin when no path is given)\n");
        process.exit(args.length > 1 ? 2 : 0);
    }
    if (args.length === 1) {
        let text;
        try {
            text = fs.readFileSync(args[0], "utf8");
        } catch (exc) {
            fail(`cannot read ${args[0]}: ${exc.message}`);
        }
        run(text);
        return;
    }
    let input = "";
    process.stdin.setEncoding("utf8");
    process.stdin.on("data", (chunk) => {
        input += chunk;
    });
    process.stdin.on("end", () => run(input));
}

main();
