/*
 * Cadence injection map (PREEMPT protocol).
 *
 * The site table (#site-table) is the SOURCE OF TRUTH: its inputs are what the form posts and
 * the page works without this script.  The map is only a view of, and an editor over, that
 * table: state is read from the inputs, edits are written back into them (dispatching "input"
 * events), and the map, the editor and the tally (#tally) re-render on every table "input".
 * Plain ES2020, no libraries, CSP-safe (no inline styles or handlers).
 */
(() => {
  "use strict";

  const NARROW_PX = 560; // below this map width the front and back views are stacked
  const FTP_SUFFIX = /\s*\(follow-the-pain\)\s*$/i;
  const CROSS = "M-5-5L5 5M5-5L-5 5";

  // ---- Small helpers ------------------------------------------------------------------------

  /** Build an element: h("td", {class: "x"}, "text", childNode).  Text is never parsed as HTML. */
  function h(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
    node.append(...children);
    return node;
  }

  /** Write a value into a table input and tell everyone listening, as typing would. */
  function setInput(input, value) {
    if (!input || input.value === value) return;
    input.value = value;
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
  const listOf = (sites, format) => sites.map(format).join(", ");

  // ---- Reading the table (the source of truth) ----------------------------------------------

  /** One site as the table says it is.  state: active | skipped | missing | unused. */
  function readSite(row) {
    const unitsInput = row.querySelector('input[name^="units-"]');
    const skipInput = row.querySelector('input[name^="skip-"]');
    const label = row.querySelector("label");
    const ftp = row.dataset.ftp === "true";
    const raw = unitsInput.value.trim();
    const reason = skipInput ? skipInput.value.trim() : "";
    const badInput = unitsInput.validity.badInput; // e.g. "abc" typed into a number field
    const units = raw === "" ? null : Number(raw);
    let state = "active";
    if (raw === "" && !badInput) state = ftp ? "unused" : reason ? "skipped" : "missing";
    return {
      code: row.dataset.site, muscle: row.dataset.muscle, ftp, unitsInput, skipInput, raw, units, reason, state,
      label: (label ? label.textContent : row.dataset.site).replace(FTP_SUFFIX, "").trim(),
      invalid: badInput || (units !== null && !(Number.isInteger(units) && units > 0)),
    };
  }

  function readTable(table) {
    const sites = new Map();
    for (const row of table.querySelectorAll("tr[data-site]")) {
      if (row.querySelector('input[name^="units-"]')) sites.set(row.dataset.site, readSite(row));
    }
    return sites;
  }

  /** The accessible name of a site point, e.g. "Frontalis left 1, skipped: bruising". */
  function describe(site) {
    const ftp = site.ftp ? ", follow-the-pain" : "";
    if (site.state === "unused") return `${site.label}${ftp}, not used`;
    if (site.state === "skipped") return `${site.label}, skipped: ${site.reason}`;
    if (site.state === "missing") return `${site.label}, no units and no reason skipped`;
    if (site.invalid) return `${site.label}${ftp}, invalid units ${site.raw}`.trim();
    return `${site.label}${ftp}, ${plural(site.units, "unit")}`;
  }

  // ---- Tally and rules ----------------------------------------------------------------------

  function countUnits(sites, protocol) {
    const perMuscle = {};
    for (const code of Object.keys(protocol.muscles)) perMuscle[code] = { units: 0, sites: 0 };
    const counts = { perMuscle, total: 0, used: 0 };
    for (const site of sites.values()) {
      const muscle = perMuscle[site.muscle];
      if (site.state !== "active" || !muscle) continue;
      const units = Number.isFinite(site.units) ? site.units : 0;
      muscle.sites += 1;
      muscle.units += units;
      counts.used += 1;
      counts.total += units;
    }
    return counts;
  }

  /** Rules R1, R2, R3, R5 and R18 (docs/clinical-rules.md); level is "block" or "warn". */
  function checkRules(sites, counts, protocol) {
    const rules = [];
    const add = (id, level, text, muscle = null) => rules.push({ id, level, text, muscle });
    const all = [...sites.values()];
    const active = all.filter((s) => s.state === "active");
    const { total } = counts;

    if (total > protocol.max_total) add("R1", "block", `Total ${total} U is above the maximum of ${protocol.max_total} U.`);
    else if (total < protocol.standard_total) add("R1", "warn", `Total ${total} U is below the standard ${protocol.standard_total} U.`);

    const invalid = active.filter((s) => s.invalid);
    if (invalid.length) add("R2", "block", `Units must be a whole number above 0: ${listOf(invalid, (s) => `${s.label} (${s.raw || "?"})`)}.`);
    const odd = active.filter((s) => !s.invalid && s.units !== protocol.units_per_site);
    if (odd.length) add("R2", "warn", `Units other than ${protocol.units_per_site} U: ${listOf(odd, (s) => `${s.label} (${s.units} U)`)}.`);
    const heavy = active.filter((s) => !s.invalid && s.units > protocol.max_site_units);
    if (heavy.length) add("R18", "block", `Above ${protocol.max_site_units} U at one site: ${listOf(heavy, (s) => `${s.label} (${s.units} U)`)}.`);

    const missing = all.filter((s) => s.state === "missing");
    if (missing.length) add("R3", "block", `Needs units or a reason it was skipped: ${listOf(missing, (s) => s.label)}.`);
    const skipped = all.filter((s) => s.state === "skipped");
    if (skipped.length) add("R3", "warn", `Skipped: ${listOf(skipped, (s) => `${s.label} (${s.reason})`)}.`);

    for (const [code, muscle] of Object.entries(protocol.muscles)) {
      const { units, sites: used } = counts.perMuscle[code];
      if (muscle.ftp_max_units == null) {
        if (units > muscle.fixed_units) add("R18", "block", `${muscle.name}: ${units} U is above its ${muscle.fixed_units} U maximum (no follow-the-pain sites in this muscle).`, code);
        continue;
      }
      if (units > muscle.ftp_max_units) add("R5", "block", `${muscle.name}: ${units} U is above the follow-the-pain maximum of ${muscle.ftp_max_units} U.`, code);
      if (used > muscle.ftp_max_sites) add("R5", "block", `${muscle.name}: ${used} sites is above the maximum of ${muscle.ftp_max_sites} sites.`, code);
    }
    return rules.sort((a, b) => (a.level === b.level ? 0 : a.level === "block" ? -1 : 1));
  }

  /** Build the tally's fixed structure once; renderTally then only changes text that changed. */
  function buildTally(container, protocol) {
    const rows = {};
    const body = h("tbody");
    for (const [code, muscle] of Object.entries(protocol.muscles)) {
      const cap = (text) => h("span", { class: "text-body-secondary" }, muscle.ftp_max_units == null ? "" : text);
      rows[code] = { tr: h("tr"), units: h("span"), sites: h("span") };
      rows[code].tr.append(h("th", { scope: "row" }, muscle.name),
        h("td", {}, rows[code].units, cap(` of max ${muscle.ftp_max_units} U`)),
        h("td", {}, rows[code].sites, cap(` of max ${muscle.ftp_max_sites}`)));
      body.append(rows[code].tr);
    }
    const total = h("strong", { id: "tally-total" });
    const totalSites = h("td");
    const table = h("table", { class: "table table-sm tally-muscles" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Muscle"), h("th", { scope: "col" }, "Units"), h("th", { scope: "col" }, "Sites"))),
      body,
      h("tfoot", {}, h("tr", {}, h("th", { scope: "row" }, "Total"),
        h("td", {}, total, h("span", { class: "text-body-secondary" }, ` of standard ${protocol.standard_total} U, max ${protocol.max_total} U`)),
        totalSites)));
    const rules = h("ul", { id: "tally-rules" });
    container.replaceChildren(table, rules);
    return { rows, total, totalSites, rules, rulesKey: null };
  }

  function renderTally(view, counts, rules, protocol) {
    for (const code of Object.keys(protocol.muscles)) {
      const { units, sites } = counts.perMuscle[code];
      const row = view.rows[code];
      setText(row.units, `${units} U`);
      setText(row.sites, String(sites));
      row.tr.classList.toggle("table-danger", rules.some((rule) => rule.muscle === code));
    }
    setText(view.total, `${counts.total} U`);
    setText(view.totalSites, String(counts.used));
    const key = JSON.stringify(rules);
    if (key === view.rulesKey) return; // unchanged: don't make screen readers repeat it
    view.rulesKey = key;
    const items = rules.map((rule) => h("li", { class: `rule-${rule.level}` },
      h("span", { class: `badge ${rule.level === "block" ? "text-bg-danger" : "text-bg-warning"}` }, rule.level === "block" ? "Blocked" : "Warning"),
      " ", rule.text, " ", h("span", { class: "rule-id" }, rule.id)));
    if (!items.length) items.push(h("li", {}, h("span", { class: "badge text-bg-success" }, "OK"), " No rule warnings"));
    view.rules.replaceChildren(...items);
  }

  // ---- The map ------------------------------------------------------------------------------

  function parseSvg(text) {
    const doc = new DOMParser().parseFromString(text, "image/svg+xml");
    const root = doc.documentElement;
    if (root.localName !== "svg" || doc.getElementsByTagName("parsererror").length) return null;
    return document.importNode(root, true);
  }

  function renderMap(svg, sites, selected, protocol) {
    for (const g of svg.querySelectorAll("g.site[data-site]")) {
      const site = sites.get(g.dataset.site);
      if (!site) continue;
      const active = site.state === "active";
      g.classList.toggle("is-active", active);
      g.classList.toggle("is-skipped", site.state === "skipped");
      g.classList.toggle("is-unused", site.state === "unused");
      g.classList.toggle("is-missing", site.state === "missing");
      g.classList.toggle("is-nonstandard", active && site.units !== protocol.units_per_site);
      g.classList.toggle("is-selected", site.code === selected);
      g.setAttribute("aria-expanded", String(site.code === selected));
      g.setAttribute("aria-label", describe(site));
      const title = g.querySelector("title");
      if (title) setText(title, describe(site));
      const text = g.querySelector(".site-text");
      const shown = { unused: "+", missing: "?", skipped: "" }[site.state] ?? (site.invalid ? "!" : String(site.units));
      if (text) setText(text, shown);
    }
  }

  /** Stack the two views on narrow screens so the points stay big enough to tap. */
  function fitLayout(svg, width) {
    const narrow = width > 0 && width < NARROW_PX;
    svg.setAttribute("viewBox", narrow ? "0 0 400 900" : "0 0 800 450");
    const back = svg.querySelector(".view-back");
    if (back && narrow) back.setAttribute("transform", "translate(-400 450)");
    else if (back) back.removeAttribute("transform");
  }

  function buildLegend() {
    const swatch = (cls, text) => `<svg viewBox="-13 -13 26 26" aria-hidden="true" focusable="false"><g class="site ${cls}">` +
      `<circle class="site-dot" r="10"/><path class="site-cross" d="${CROSS}"/><text class="site-text" text-anchor="middle" dy="0.35em">${text}</text></g></svg>`;
    const legend = h("ul", { class: "injection-map-legend", "aria-label": "Map key" });
    legend.innerHTML = [
      [swatch("is-active", "5"), "5 U"], [swatch("is-active is-nonstandard", "10"), "other units"],
      [swatch("site-ftp is-active", "5"), "follow-the-pain"], [swatch("site-ftp is-unused", "+"), "follow-the-pain, not used"],
      [swatch("is-skipped", ""), "skipped"], [swatch("is-missing", "?"), "needs units or a reason"],
    ].map(([icon, text]) => `<li>${icon}${text}</li>`).join("");
    return legend;
  }

  // ---- The site editor ----------------------------------------------------------------------

  function buildEditor() {
    const root = h("div", { id: "site-editor", class: "card mb-3", role: "region", "aria-labelledby": "site-editor-title", hidden: "" });
    root.innerHTML = `<div class="card-body">
      <h2 class="h6 card-title" id="site-editor-title"></h2>
      <div class="mb-2 site-editor-units"><label class="form-label" for="site-editor-units">Units</label>
        <input type="number" id="site-editor-units" class="form-control form-control-sm" min="1" max="50" step="1" inputmode="numeric"></div>
      <div class="form-check mb-2" data-part="skip"><input type="checkbox" class="form-check-input" id="site-editor-skip-toggle">
        <label class="form-check-label" for="site-editor-skip-toggle">Skip this site</label></div>
      <div class="mb-2" data-part="reason"><label class="form-label" for="site-editor-reason">Reason skipped</label>
        <input type="text" id="site-editor-reason" class="form-control form-control-sm"></div>
      <div class="d-flex gap-2"><button type="button" class="btn btn-sm btn-outline-danger" data-part="remove">Remove site</button>
        <button type="button" class="btn btn-sm btn-primary" data-part="done">Done</button></div></div>`;
    const part = (name) => root.querySelector(`[data-part="${name}"]`);
    return { root, title: root.querySelector("#site-editor-title"), units: root.querySelector("#site-editor-units"),
      skipWrap: part("skip"), skip: root.querySelector("#site-editor-skip-toggle"), reasonWrap: part("reason"),
      reason: root.querySelector("#site-editor-reason"), remove: part("remove"), done: part("done") };
  }

  /** Show the table's state for a site in the editor, without clobbering the field being typed in. */
  function syncEditor(ed, site) {
    setText(ed.title, site.label + (site.ftp ? " (follow-the-pain)" : ""));
    if (site.state === "active") ed.skip.checked = false;
    if (site.state === "skipped") ed.skip.checked = true; // "missing" keeps the box as the user left it
    const skipping = !site.ftp && ed.skip.checked;
    if (document.activeElement !== ed.units) ed.units.value = site.raw;
    if (document.activeElement !== ed.reason) ed.reason.value = site.reason;
    ed.units.disabled = skipping;
    ed.skipWrap.hidden = site.ftp;
    ed.reasonWrap.hidden = !skipping;
    ed.reason.required = skipping;
    ed.reason.classList.toggle("is-invalid", skipping && !site.reason);
    ed.remove.hidden = !site.ftp;
  }

  // ---- Wiring -------------------------------------------------------------------------------

  function start(mapEl, table, protocol) {
    const tally = document.getElementById("tally");
    const tallyView = tally ? buildTally(tally, protocol) : null;
    const editor = buildEditor();
    let svg = null;
    let selected = null;

    const siteOf = (code) => readTable(table).get(code);
    const pointOf = (code) => svg && svg.querySelector(`g.site[data-site="${CSS.escape(code)}"]`);

    function render() {
      const sites = readTable(table);
      if (svg) renderMap(svg, sites, selected, protocol);
      if (tallyView) {
        const counts = countUnits(sites, protocol);
        renderTally(tallyView, counts, checkRules(sites, counts, protocol), protocol);
      }
      if (selected && sites.has(selected)) syncEditor(editor, sites.get(selected));
    }

    function openEditor(code) {
      const site = siteOf(code);
      selected = code;
      editor.skip.checked = site.state === "skipped";
      editor.root.hidden = false;
      render();
      (editor.units.disabled ? editor.reason : editor.units).focus();
    }

    function closeEditor() {
      const point = pointOf(selected);
      selected = null;
      editor.root.hidden = true;
      render();
      if (point) point.focus();
    }

    function activate(code) {
      const site = siteOf(code);
      if (!site) return;
      if (site.state === "unused") setInput(site.unitsInput, String(protocol.units_per_site));
      openEditor(code);
    }

    // Editor edits go straight into the table inputs.
    editor.units.addEventListener("input", () => setInput(siteOf(selected).unitsInput, editor.units.value.trim()));
    editor.reason.addEventListener("input", () => setInput(siteOf(selected).skipInput, editor.reason.value));
    editor.skip.addEventListener("change", () => {
      const site = siteOf(selected);
      if (editor.skip.checked) {
        setInput(site.unitsInput, "");
        setInput(site.skipInput, editor.reason.value.trim());
        editor.reason.focus();
      } else {
        editor.reason.value = "";
        setInput(site.skipInput, "");
        setInput(site.unitsInput, String(protocol.units_per_site));
      }
      render();
    });
    editor.remove.addEventListener("click", () => {
      setInput(siteOf(selected).unitsInput, "");
      closeEditor();
    });
    editor.done.addEventListener("click", closeEditor);
    editor.root.addEventListener("keydown", (event) => {
      const inField = event.target.localName === "input" && event.target.type !== "checkbox";
      if (event.key === "Escape" || (event.key === "Enter" && inField)) {
        event.preventDefault(); // Enter must not submit the session form
        closeEditor();
      }
    });
    table.addEventListener("input", render);
    render();

    function mountMap(node) {
      svg = node;
      const known = readTable(table);
      for (const g of svg.querySelectorAll("g.site[data-site]")) {
        if (!known.has(g.dataset.site)) { g.remove(); continue; } // not on this form
        g.setAttribute("tabindex", "0");
        g.setAttribute("role", "button");
        g.setAttribute("aria-controls", "site-editor");
      }
      const pointFor = (event) => event.target.closest("g.site[data-site]");
      svg.addEventListener("click", (event) => pointFor(event) && activate(pointFor(event).dataset.site));
      svg.addEventListener("keydown", (event) => {
        if (!pointFor(event) || (event.key !== "Enter" && event.key !== " ")) return;
        event.preventDefault(); // Space must not scroll the page
        activate(pointFor(event).dataset.site);
      });
      mapEl.replaceChildren(svg, buildLegend());
      mapEl.after(editor.root);
      const fit = () => fitLayout(svg, mapEl.clientWidth);
      window.addEventListener("resize", fit);
      fit();
      render();
    }

    fetch(mapEl.dataset.mapSrc, { credentials: "same-origin" })
      .then((response) => (response.ok ? response.text() : null))
      .then((text) => text && parseSvg(text))
      .catch(() => null) // no map: the table (and the tally) still work on their own
      .then((node) => { if (node) mountMap(node); });
  }

  function init() {
    const mapEl = document.getElementById("injection-map");
    const table = document.getElementById("site-table");
    const data = document.getElementById("protocol-data");
    if (!mapEl || !table || !data) return;
    let protocol = null;
    try { protocol = JSON.parse(data.textContent); } catch (error) { return; } // no data: leave the table alone
    start(mapEl, table, protocol);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
