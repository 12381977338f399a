#!/usr/bin/env node
// Turn Adaptive Cards into standalone HTML pages rendered by the official renderer (npm "adaptivecards",
// the version pinned in package.json), for README screenshots taken with headless Chromium.
//
// Usage:  node render.js OUT_DIR < pages.json
// Input (stdin): a JSON array of {"name": "case-new", "card": {...}, "width": 640, "expand": ["Add note"]}.
//                "width" (CSS pixels, default 640) and "expand" (titles of ShowCard or ToggleVisibility
//                actions to press once rendered, in order) are optional.
// Output:        OUT_DIR/<name>.html for each page; one line per page on stdout: {"name", "path"}.
// Exit status:   0 when every page was written; 2 on bad input or a card the library cannot parse.
//
// Each card is parsed here in Node first (parsing needs no DOM), so a broken card fails this script rather
// than making a blank screenshot. The page itself loads dist/adaptivecards.min.js through a file:// URL
// and renders in the browser, which has the DOM the renderer needs. When the page has rendered it sets
// <body data-height="N"> to the card's height, so the caller can size the screenshot to fit.
//
// The renderer has no markdown of its own; Teams does. The small processor in the page covers what our
// cards use (backslash escapes, **bold**, _italic_, paragraphs, "- " lists) so escaped user text looks as
// it would in Teams. It is for pictures only: validation (validate.js) does not depend on it.
"use strict";

const fs = require("fs");
const path = require("path");
const { pathToFileURL } = require("url");

const AC = require("adaptivecards/dist/adaptivecards.js");

const LIBRARY = require.resolve("adaptivecards/dist/adaptivecards.min.js");
const NAME = /^[a-z0-9][a-z0-9-]*$/;

// Close to Teams' light theme. Segoe UI is Teams' font; other machines fall back to a similar sans-serif.
const HOST_CONFIG = {
    supportsInteractivity: true,
    spacing: { small: 4, default: 8, medium: 16, large: 20, extraLarge: 24, padding: 16 },
    separator: { lineThickness: 1, lineColor: "#E0E0E0" },
    fontTypes: {
        default: {
            fontFamily: "'Segoe UI', 'Segoe UI Web (West European)', 'Liberation Sans', Arial, sans-serif",
            fontSizes: { small: 12, default: 14, medium: 16, large: 18, extraLarge: 24 },
            fontWeights: { lighter: 300, default: 400, bolder: 600 },
        },
        // The renderer reads both font types even when a card uses only the default one.
        monospace: {
            fontFamily: "Consolas, 'Liberation Mono', 'DejaVu Sans Mono', monospace",
            fontSizes: { small: 12, default: 14, medium: 16, large: 18, extraLarge: 24 },
            fontWeights: { lighter: 300, default: 400, bolder: 600 },
        },
    },
    containerStyles: {
        default: { backgroundColor: "#FFFFFF", foregroundColors: foreground() },
        emphasis: { backgroundColor: "#F5F5F5", foregroundColors: foreground() },
        accent: { backgroundColor: "#E8EBFA", foregroundColors: foreground() },
        good: { backgroundColor: "#E7F2DA", foregroundColors: foreground() },
        attention: { backgroundColor: "#FDE7E9", foregroundColors: foreground() },
        warning: { backgroundColor: "#FFF4CE", foregroundColors: foreground() },
    },
    actions: {
        maxActions: 6, // Teams' limit
        spacing: "default",
        buttonSpacing: 8,
        showCard: { actionMode: "inline", inlineTopMargin: 12, style: "emphasis" },
        actionsOrientation: "horizontal",
        actionAlignment: "left",
    },
    factSet: {
        title: { color: "default", size: "default", isSubtle: true, weight: "default", wrap: true, maxWidth: 160 },
        value: { color: "default", size: "default", isSubtle: false, weight: "default", wrap: true },
        spacing: 8,
    },
    inputs: {
        label: {
            requiredInputs: { weight: "bolder", suffix: " *", suffixColor: "attention" },
            optionalInputs: { weight: "bolder" },
        },
        errorMessage: { size: "small", color: "attention" },
    },
};

function foreground() {
    return {
        default: { default: "#242424", subtle: "#616161" },
        dark: { default: "#000000", subtle: "#424242" },
        light: { default: "#FFFFFF", subtle: "#F5F5F5" },
        accent: { default: "#5B5FC7", subtle: "#7579EB" },
        good: { default: "#0E700E", subtle: "#107C10" },
        warning: { default: "#835B00", subtle: "#8A6100" },
        attention: { default: "#C4314B", subtle: "#D13438" },
    };
}

const CSS = `
html, body { margin: 0; padding: 0; background: #F5F5F5; }
body { padding: 12px; font-family: ${HOST_CONFIG.fontTypes.default.fontFamily}; }
#frame { background: #FFFFFF; border: 1px solid #E0E0E0; border-radius: 6px; box-shadow: 0 1px 2px rgba(0,0,0,.08);
         overflow: hidden; }
.ac-adaptiveCard p { margin: 0 0 6px 0; }
.ac-adaptiveCard p:last-child { margin-bottom: 0; }
.ac-adaptiveCard ul { margin: 0; padding-left: 20px; }
.ac-actionSet { flex-wrap: wrap; row-gap: 8px; }
.ac-pushButton { font: 600 14px ${HOST_CONFIG.fontTypes.default.fontFamily}; color: #242424; background: #FFFFFF;
                 border: 1px solid #D1D1D1; border-radius: 4px; padding: 5px 12px; min-height: 32px;
                 flex: 0 0 auto !important; max-width: none !important; }
.ac-pushButton.style-positive { background: #5B5FC7; border-color: #5B5FC7; color: #FFFFFF; }
.ac-pushButton.style-destructive { color: #C4314B; }
.ac-pushButton[aria-expanded="true"] { background: #E8EBFA; border-color: #5B5FC7; }
.ac-input { font: 14px ${HOST_CONFIG.fontTypes.default.fontFamily}; }
.ac-textInput, .ac-multichoiceInput, .ac-dateInput, .ac-timeInput { border: 1px solid #D1D1D1; border-radius: 4px;
               padding: 5px 8px; background: #FFFFFF; box-sizing: border-box; width: 100%; }
.ac-textInput.ac-multiline { min-height: 56px; }
.ac-input-validation-failed { border-color: #C4314B !important; }
`;

// Runs in the page. Input is card text; output is HTML, with everything from the text HTML-escaped first.
function markdownToHtml(text) {
    const escapeHtml = (s) =>
        s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
    const inline = (s) => {
        const kept = [];
        // A backslash-escaped punctuation mark is literal: park it where no rule below can see it.
        let out = s.replace(/\\([!-\/:-@\[-`{-~])/g, (_, ch) => {
            kept.push(ch);
            return "\u0000" + (kept.length - 1) + "\u0000";
        });
        out = escapeHtml(out);
        out = out.replace(/\*\*(?=\S)([\s\S]*?\S)\*\*/g, "<strong>$1</strong>");
        out = out.replace(/(^|[^\w])_(?=\S)([\s\S]*?\S)_(?!\w)/g, "$1<em>$2</em>");
        out = out.replace(/\[([^\]]+)\]\((https:\/\/[^)\s]+)\)/g, '<a href="$2">$1</a>');
        return out.replace(/\u0000(\d+)\u0000/g, (_, i) => escapeHtml(kept[Number(i)]));
    };
    return text
        .split(/\n{2,}/)
        .map((block) => {
            const lines = block.split("\n");
            if (lines.every((line) => /^- /.test(line))) {
                return "<ul>" + lines.map((line) => "<li>" + inline(line.slice(2)) + "</li>").join("") + "</ul>";
            }
            const firstList = lines.findIndex((line) => /^- /.test(line));
            if (firstList > 0 && lines.slice(firstList).every((line) => /^- /.test(line))) {
                const items = lines.slice(firstList).map((line) => "<li>" + inline(line.slice(2)) + "</li>");
                return "<p>" + lines.slice(0, firstList).map(inline).join(" ") + "</p><ul>" + items.join("") + "</ul>";
            }
            return "<p>" + lines.map(inline).join(" ") + "</p>";
        })
        .join("");
}

function pageScript() {
    /* global AdaptiveCards, PAGE, HOST_CONFIG, markdownToHtml */
    AdaptiveCards.AdaptiveCard.onProcessMarkdown = (text, result) => {
        result.outputHtml = markdownToHtml(text);
        result.didProcess = true;
    };
    const card = new AdaptiveCards.AdaptiveCard();
    card.hostConfig = new AdaptiveCards.HostConfig(HOST_CONFIG);
    card.parse(PAGE.card);
    const frame = document.getElementById("frame");
    frame.appendChild(card.render());
    for (const title of PAGE.expand || []) {
        const button = Array.from(frame.querySelectorAll("button")).find(
            (b) => b.getAttribute("aria-label") === title || b.textContent.trim() === title
        );
        if (!button) {
            throw new Error("no action titled " + JSON.stringify(title));
        }
        button.click();
    }
    const rect = frame.getBoundingClientRect();
    document.body.setAttribute("data-height", String(Math.ceil(rect.bottom + 12)));
}

// JSON inside <script> must not be able to close the tag.
function scriptJson(value) {
    return JSON.stringify(value).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

function pageHtml(page) {
    const width = page.width || 640;
    return `<!doctype html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<title>${page.name}</title>
<style>${CSS} #frame { width: ${width}px; }</style>
<script src="${pathToFileURL(LIBRARY).href}"></script>
</head>
<body>
<div id="frame"></div>
<script>
"use strict";
const PAGE = ${scriptJson({ card: page.card, expand: page.expand || [] })};
const HOST_CONFIG = ${scriptJson(HOST_CONFIG)};
${markdownToHtml.toString()}
(${pageScript.toString()})();
</script>
</body>
</html>
`;
}

function checkParses(page) {
    const context = new AC.SerializationContext(AC.Versions.v1_5);
    const card = new AC.AdaptiveCard();
    card.parse(page.card, context);
    const problems = [];
    for (let i = 0; i < context.eventCount; i++) {
        const message = context.getEventAt(i).message;
        // Teams' chart elements are unknown to this library, which draws their fallback (a table) instead: the
        // picture of a client without charts. validate.js decides whether such a chart is acceptable.
        if (!/^Unknown element type "Chart\./.test(message)) {
            problems.push(message);
        }
    }
    return problems;
}

function fail(message) {
    process.stderr.write(`render.js: ${message}\n`);
    process.exit(2);
}

function main() {
    const outDir = process.argv[2];
    if (!outDir) {
        fail("usage: node render.js OUT_DIR < pages.json");
    }
    let input = "";
    process.stdin.setEncoding("utf8");
    process.stdin.on("data", (chunk) => {
        input += chunk;
    });
    process.stdin.on("end", () => {
        let pages;
        try {
            pages = JSON.parse(input);
        } catch (exc) {
            fail(`stdin is not valid JSON: ${exc.message}`);
        }
        if (!Array.isArray(pages)) {
            fail("stdin must be a JSON array of pages");
        }
        fs.mkdirSync(outDir, { recursive: true });
        for (const page of pages) {
            if (!page || typeof page.name !== "string" || !NAME.test(page.name)) {
                fail(`each page needs a "name" of lower-case letters, digits and dashes, got ${JSON.stringify(page && page.name)}`);
            }
            const problems = checkParses(page);
            if (problems.length) {
                fail(`card "${page.name}" does not parse cleanly:\n  ${problems.join("\n  ")}`);
            }
            const file = path.join(outDir, `${page.name}.html`);
            fs.writeFileSync(file, pageHtml(page), "utf8");
            process.stdout.write(JSON.stringify({ name: page.name, path: path.resolve(file) }) + "\n");
        }
    });
}

main();
