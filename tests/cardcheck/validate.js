#!/usr/bin/env node
// Validate Adaptive Cards with the official renderer library (npm "adaptivecards", pinned in package.json).
//
// Input (stdin):  a JSON array of card objects (the attachment "content", i.e. {"type": "AdaptiveCard", ...}).
// Output (stdout): a JSON array with one result per card, same order:
//                  {"ok": bool, "errors": [string, ...], "warnings": [string, ...]}
// Exit status:    0 when results were written (whatever they say); 2 on bad input or an internal failure,
//                 with the reason on stderr.
//
// Cards are checked against Teams' ceiling, Adaptive Cards 1.5: element/action types and property values
// newer than min(card version, 1.5) are reported, and a card version above 1.5 is reported.
// No DOM is needed: parsing and validateProperties() never touch `document` or `window`.
"use strict";

// The package's "main" (lib/) is ESM-flavoured and fails under plain require(); the webpack bundle works.
const AC = require("adaptivecards/dist/adaptivecards.js");

// The library may console.warn/log; stdout is reserved for our JSON.
for (const name of ["log", "info", "warn", "debug"]) {
    console[name] = (...args) => process.stderr.write(args.map(String).join(" ") + "\n");
}

const TEAMS_MAX_VERSION = AC.Versions.v1_5;

// Advisory events. Everything else the library reports (unknown types, missing ids, duplicate ids,
// invalid property values, unsupported versions/properties, ...) is an error.
const WARNING_EVENTS = new Set([
    AC.ValidationEvent.Hint,
    AC.ValidationEvent.Deprecated,
    AC.ValidationEvent.RequiredInputsShouldHaveLabel,
    AC.ValidationEvent.RequiredInputsShouldHaveErrorMessage,
]);

// Teams' chart elements (Chart.Donut, Chart.VerticalBar, ...) are not in the adaptivecards library, which reports
// them as unknown and uses their fallback. A chart is accepted (as a warning) only when every occurrence of its
// type carries an element fallback: then the library parses and validates that fallback like any other element,
// and card_validator.py checks the chart's own data. A chart without a fallback stays an error.
const TEAMS_CHARTS = new Set([
    "Chart.Donut",
    "Chart.Pie",
    "Chart.VerticalBar",
    "Chart.VerticalBar.Grouped",
    "Chart.HorizontalBar",
    "Chart.HorizontalBar.Stacked",
    "Chart.Line",
    "Chart.Gauge",
]);

function chartsWithFallback(json) {
    const seen = new Map(); // type -> every occurrence has an object fallback
    const walk = (node) => {
        if (Array.isArray(node)) {
            node.forEach(walk);
        } else if (node !== null && typeof node === "object") {
            if (TEAMS_CHARTS.has(node.type)) {
                const ok = node.fallback !== null && typeof node.fallback === "object" && typeof node.fallback.type === "string";
                seen.set(node.type, (seen.get(node.type) ?? true) && ok);
            }
            for (const [key, value] of Object.entries(node)) {
                if (key !== "data") {
                    walk(value);
                }
            }
        }
    };
    walk(json);
    return new Set([...seen].filter(([, ok]) => ok).map(([type]) => type));
}

function isAcceptedChart(event, charts) {
    if (event.event !== AC.ValidationEvent.UnknownElementType) {
        return false;
    }
    const match = /type "([^"]*)"/.exec(event.message);
    return match !== null && charts.has(match[1]);
}

function describe(event) {
    const phase = AC.ValidationPhase[event.phase] ?? String(event.phase);
    const kind = AC.ValidationEvent[event.event] ?? String(event.event);
    return `[${phase}:${kind}] ${event.message}`;
}

// "Unknown element type "Table"" is confusing when Table exists but is newer than the target version.
function explainUnknownType(event, targetVersion) {
    const isElement = event.event === AC.ValidationEvent.UnknownElementType;
    const isAction = event.event === AC.ValidationEvent.UnknownActionType;
    if (!isElement && !isAction) {
        return "";
    }
    const match = /type "([^"]*)"/.exec(event.message);
    if (!match) {
        return "";
    }
    const registry = isElement ? AC.GlobalRegistry.elements : AC.GlobalRegistry.actions;
    const registration = registry.findByName(match[1]);
    if (!registration) {
        return "";
    }
    return ` ("${match[1]}" needs Adaptive Cards ${registration.schemaVersion}; this card is checked against ${targetVersion})`;
}

function validateCard(json) {
    const errors = [];
    const warnings = [];
    if (json === null || typeof json !== "object" || Array.isArray(json)) {
        return { ok: false, errors: ["card is not a JSON object"], warnings };
    }

    // Check against the card's own version (features newer than it declares are a bug) capped at 1.5.
    let targetVersion = TEAMS_MAX_VERSION;
    const declared = AC.Version.parse(json.version, new AC.SerializationContext());
    if (declared && declared.isValid && declared.compareTo(TEAMS_MAX_VERSION) < 0) {
        targetVersion = declared;
    }

    const context = new AC.SerializationContext(targetVersion);
    const card = new AC.AdaptiveCard();
    card.maxVersion = TEAMS_MAX_VERSION; // makes validateProperties() report version > 1.5
    const events = [];
    try {
        card.parse(json, context);
        for (let i = 0; i < context.eventCount; i++) {
            events.push(context.getEventAt(i));
        }
        events.push(...card.validateProperties().validationEvents);
    } catch (exc) {
        errors.push(`[Exception] adaptivecards threw while checking the card: ${exc && exc.stack ? exc.stack : exc}`);
    }

    const charts = chartsWithFallback(json);
    for (const event of events) {
        const text = describe(event) + explainUnknownType(event, targetVersion);
        (WARNING_EVENTS.has(event.event) || isAcceptedChart(event, charts) ? warnings : errors).push(text);
    }
    return { ok: errors.length === 0, errors, warnings };
}

function main() {
    let input = "";
    process.stdin.setEncoding("utf8");
    process.stdin.on("data", (chunk) => {
        input += chunk;
    });
    process.stdin.on("end", () => {
        let cards;
        try {
            cards = JSON.parse(input);
        } catch (exc) {
            process.stderr.write(`validate.js: stdin is not valid JSON: ${exc.message}\n`);
            process.exit(2);
        }
        if (!Array.isArray(cards)) {
            process.stderr.write("validate.js: stdin must be a JSON array of cards\n");
            process.exit(2);
        }
        process.stdout.write(JSON.stringify(cards.map(validateCard)) + "\n");
    });
}

main();
