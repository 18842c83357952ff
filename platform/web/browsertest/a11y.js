// Accessibility smoke check: returns a list of problems, each naming the element. It is not
// a full audit (no colour contrast, no ARIA role rules); it catches the mistakes templates
// make most: unlabelled controls, missing alt, landmark and heading structure, nameless
// buttons and links.
(() => {
  const problems = [];
  const squash = (s) => (s || "").replace(/\s+/g, " ").trim();
  const describe = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += "#" + el.id;
    else if (el.getAttribute("name")) s += '[name="' + el.getAttribute("name") + '"]';
    const html = squash(el.outerHTML);
    return s + "  " + (html.length > 140 ? html.slice(0, 140) + "…" : html);
  };
  const byIds = (ids) => squash(ids).split(" ").filter(Boolean).map((id) => document.getElementById(id));
  const textOf = (el) => {
    // Text a screen reader would read: text nodes plus alt of images inside, without
    // aria-hidden parts.
    if (!el) return "";
    let out = "";
    for (const n of el.childNodes) {
      if (n.nodeType === Node.TEXT_NODE) out += n.textContent;
      else if (n.nodeType === Node.ELEMENT_NODE && n.getAttribute("aria-hidden") !== "true") {
        if (n.tagName === "IMG") out += " " + (n.getAttribute("alt") || "");
        else if (n.tagName === "svg" || n.tagName === "SVG") out += " " + (n.getAttribute("aria-label") || squash((n.querySelector("title") || {}).textContent));
        else out += " " + textOf(n);
      }
    }
    return squash(out);
  };
  const labelledBy = (el) => {
    const ids = el.getAttribute("aria-labelledby");
    return ids ? squash(byIds(ids).map(textOf).join(" ")) : "";
  };
  const name = (el) =>
    squash(el.getAttribute("aria-label")) || labelledBy(el) || textOf(el) || squash(el.getAttribute("title"));
  const rendered = (el) => el.getClientRects().length > 0;

  if (!squash(document.documentElement.getAttribute("lang"))) problems.push("<html> has no lang attribute");
  if (!squash(document.title)) problems.push("the page has no <title>");

  for (const el of document.querySelectorAll("input, select, textarea")) {
    const type = (el.getAttribute("type") || "").toLowerCase();
    if (el.tagName === "INPUT" && ["hidden", "submit", "button", "reset", "image"].includes(type)) continue;
    const label = squash(el.getAttribute("aria-label")) || labelledBy(el) ||
      squash(Array.from(el.labels || []).map(textOf).join(" "));
    if (!label) problems.push("form control without a label: " + describe(el));
  }

  for (const el of document.querySelectorAll("img, input[type=image]")) {
    if (!el.hasAttribute("alt")) problems.push("image without alt: " + describe(el));
  }
  for (const el of document.querySelectorAll('svg[role="img"]')) {
    const title = el.querySelector(":scope > title");
    if (!squash(el.getAttribute("aria-label")) && !labelledBy(el) && !(title && squash(title.textContent))) {
      problems.push("svg image without a title: " + describe(el));
    }
  }

  const mains = document.querySelectorAll('main, [role="main"]');
  if (mains.length !== 1) problems.push("the page has " + mains.length + " <main> landmarks, want exactly 1");

  let previous = 0;
  for (const h of document.querySelectorAll("h1, h2, h3, h4, h5, h6")) {
    if (!rendered(h)) continue; // e.g. inside a closed dialog
    const level = Number(h.tagName[1]);
    if (level > previous + 1) {
      problems.push("heading skips from h" + previous + " to h" + level + ": " + describe(h));
    }
    if (!textOf(h)) problems.push("empty heading: " + describe(h));
    previous = level;
  }

  for (const el of document.querySelectorAll('button, [role="button"], input[type=submit], input[type=button], input[type=reset]')) {
    const n = el.tagName === "INPUT" ? squash(el.getAttribute("aria-label")) || labelledBy(el) || squash(el.value) : name(el);
    if (!n) problems.push("button without an accessible name: " + describe(el));
  }

  for (const el of document.querySelectorAll("a[href]")) {
    if (!name(el)) problems.push("link without an accessible name: " + describe(el));
  }

  const seen = new Map();
  for (const el of document.querySelectorAll("[id]")) {
    if (seen.has(el.id)) problems.push("duplicate id \"" + el.id + "\": " + describe(el));
    seen.set(el.id, el);
  }

  for (const el of document.querySelectorAll("[tabindex]")) {
    if (Number(el.getAttribute("tabindex")) > 0) problems.push("positive tabindex breaks the focus order: " + describe(el));
  }

  for (const attr of ["aria-labelledby", "aria-describedby", "aria-controls"]) {
    for (const el of document.querySelectorAll("[" + attr + "]")) {
      for (const id of squash(el.getAttribute(attr)).split(" ").filter(Boolean)) {
        if (!document.getElementById(id)) problems.push(attr + " points at missing id \"" + id + "\": " + describe(el));
      }
    }
  }

  return problems;
})()
