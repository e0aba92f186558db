// Keys for the judging pages. Streamlit has no key events, so one document-level listener clicks the page's own
// controls, found by their widget keys (`.st-key-{item}-{field}`). The marker `span[data-wb-item]` that each item
// renders says which item is shown (also the prefix of its widgets' keys) and of which queue. The listener also adds up the
// time the tab is hidden while an item is shown and reports it (state "hidden": {item, seconds}).
const FIELDS = {
  rating: ["helpfulness", "harmlessness", "accuracy"],
};
// A comparison that asks per rubric dimension too: digits answer the active question (overall, then each dimension)
// and move to the next, as on the rating page; without the dimensions, digits pick the overall choice only.
const COMPARISON_QUESTIONS = ["choice", "dim_helpfulness", "dim_harmlessness", "dim_accuracy"];
const DIGITS = {
  rating: null, // the active dimension's buttons
  comparison: "choice",
  moderation: "label",
  adjudication: "label",
};
const LETTERS = {
  comparison: { q: ["strength", 0], w: ["strength", 1], e: ["strength", 2] },
};
const CATEGORY_LETTERS = "htxvemp";
const TEXTS = {
  rating: { r: "rationale" },
  comparison: { r: "rationale" },
  moderation: { n: "note" },
  adjudication: { r: "reason" },
};

const wb = (window.__wbHotkeys = window.__wbHotkeys || {
  item: null,
  active: 0,
  hiddenSince: null,
  hidden: 0,
  report: () => {},
});

function marker() {
  return document.querySelector("span[data-wb-item]");
}

function field(prefix, name) {
  return document.querySelector(`.st-key-${prefix}-${name}`);
}

function isChosen(button) {
  return (
    button.getAttribute("aria-checked") === "true" ||
    button.getAttribute("aria-pressed") === "true" ||
    /Active$/.test(button.dataset.testid || "")
  );
}

function choose(container, index, toggle) {
  const buttons = container ? container.querySelectorAll("button[data-variant]") : [];
  const button = buttons[index];
  if (!button || (!toggle && isChosen(button))) return;
  button.click();
}

function typing(element) {
  if (!element) return false;
  const tag = element.tagName;
  return tag === "TEXTAREA" || tag === "INPUT" || tag === "SELECT" || element.isContentEditable;
}

function questions(kind, prefix) {
  if (kind === "comparison") return field(prefix, COMPARISON_QUESTIONS[1]) ? COMPARISON_QUESTIONS : null;
  return FIELDS[kind];
}

function showActive(kind, prefix) {
  const dims = questions(kind, prefix) || [];
  dims.forEach((dim, index) => {
    const box = field(prefix, dim);
    if (box) box.classList.toggle("wb-active", index === wb.active);
  });
}

function showAnchors(hovered) {
  document.querySelectorAll(".wb-anchor[data-for]").forEach((line) => {
    const box = document.querySelector(`.st-key-${line.dataset.for}`);
    if (!box) return;
    const anchors = JSON.parse(line.dataset.anchors || "{}");
    const buttons = [...box.querySelectorAll("button[data-variant]")];
    let level = null;
    if (hovered && box.contains(hovered)) level = buttons.indexOf(hovered.closest("button")) + 1;
    if (!level) level = buttons.findIndex(isChosen) + 1;
    line.textContent = level ? `${level} · ${anchors[String(level)]}` : "\u00a0";
    line.classList.toggle("wb-hovered", Boolean(hovered && box.contains(hovered)));
  });
}

// The text boxes reach down to the window's bottom edge, no further: the page never scrolls, a long text scrolls in
// its own box. Boxes stacked below one (the adjudicator's table of labels) keep their room.
const BOXES = ".st-key-wb-answer, .st-key-wb-left, .st-key-wb-right, .st-key-wb-comment";

function fitBoxes() {
  document.querySelectorAll(BOXES).forEach((box) => {
    const below = document.querySelector(".st-key-wb-labels");
    const room = below ? below.getBoundingClientRect().height + 16 : 0;
    const height = Math.max(120, window.innerHeight - box.getBoundingClientRect().top - 16 - room);
    if (box.style.maxHeight !== `${height}px`) box.style.maxHeight = `${height}px`;
  });
}

function click(selector) {
  const target = document.querySelector(selector);
  if (target) target.click();
  return Boolean(target);
}

function focusText(prefix, name) {
  const box = field(prefix, name);
  const input = box && box.querySelector("textarea, input");
  if (input) input.focus();
}

function openFlags(prefix) {
  const box = field(prefix, "flags");
  const input = box && box.querySelector("input");
  if (!input) return;
  input.focus();
  input.click();
}

function submit(prefix) {
  return click(`.st-key-${prefix}-submit button`);
}

function onKey(event) {
  const mark = marker();
  if (!mark || document.querySelector('[role="dialog"]')) return;
  // A comment thread (Adjudicate's, in a popover) is not the judging form: its keys, Ctrl+Enter too, are its own.
  if (event.target.closest && event.target.closest('[class*="st-key-thread-"]')) return;
  const { wbKind: kind, wbItem: prefix } = mark.dataset;
  const key = event.key;
  if (key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    event.stopPropagation();
    submit(prefix);
    return;
  }
  if (typing(event.target)) {
    if (key === "Escape") event.target.blur();
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  let handled = true;
  const dims = questions(kind, prefix);
  if (key === "Enter") submit(prefix);
  else if (key === "s") click(`.st-key-${prefix}-skip button`);
  else if (key === "u") click(".st-key-change-last button");
  else if (key === "?") click(".st-key-keys-help button");
  else if (/^[1-9]$/.test(key) && dims) {
    const level = Number(key);
    const box = field(prefix, dims[wb.active]);
    if (!box || level > box.querySelectorAll("button[data-variant]").length) return; // 4 on a dimension: no such choice
    choose(box, level - 1, false);
    wb.active = Math.min(wb.active + 1, dims.length - 1);
  } else if (/^[1-9]$/.test(key) && DIGITS[kind]) choose(field(prefix, DIGITS[kind]), Number(key) - 1, false);
  else if ((key === "ArrowDown" || key === "ArrowUp") && dims) {
    wb.active = Math.max(0, Math.min(dims.length - 1, wb.active + (key === "ArrowDown" ? 1 : -1)));
  } else if (key === "f" && kind === "rating") openFlags(prefix);
  else if (TEXTS[kind] && TEXTS[kind][key]) focusText(prefix, TEXTS[kind][key]);
  else if (LETTERS[kind] && LETTERS[kind][key]) choose(field(prefix, LETTERS[kind][key][0]), LETTERS[kind][key][1], false);
  else if ((kind === "moderation" || kind === "adjudication") && CATEGORY_LETTERS.includes(key) && key.length === 1)
    choose(field(prefix, "categories"), CATEGORY_LETTERS.indexOf(key), true);
  else handled = false;
  if (handled) {
    event.preventDefault();
    event.stopPropagation();
    showActive(kind, prefix);
    setTimeout(() => showAnchors(null), 50);
  }
}

function newItem(mark) {
  wb.item = mark.dataset.wbItem;
  wb.active = 0;
  wb.hidden = 0;
  wb.hiddenSince = document.hidden ? Date.now() : null;
  document.body.dataset.wbItem = wb.item;
  if (typing(document.activeElement)) document.activeElement.blur();
  const main = document.querySelector('[data-testid="stMain"]') || document.querySelector(".stMain");
  if (main) main.scrollTop = 0;
  window.scrollTo(0, 0);
  showActive(mark.dataset.wbKind, mark.dataset.wbItem);
  showAnchors(null);
}

function onChange() {
  fitBoxes();
  const mark = marker();
  if (!mark) {
    wb.item = null;
    delete document.body.dataset.wbItem;
    return;
  }
  if (mark.dataset.wbItem !== wb.item) newItem(mark);
  else showActive(mark.dataset.wbKind, mark.dataset.wbItem);
}

function onVisibility() {
  if (!wb.item) return;
  if (document.hidden) {
    wb.hiddenSince = Date.now();
    return;
  }
  if (wb.hiddenSince === null) return;
  wb.hidden += (Date.now() - wb.hiddenSince) / 1000;
  wb.hiddenSince = null;
  wb.report({ item: wb.item, seconds: Math.round(wb.hidden * 10) / 10 });
}

export default function (component) {
  wb.report = (value) => component.setStateValue("hidden", value);
  if (wb.installed) return;
  wb.installed = true;
  document.addEventListener("keydown", onKey, true);
  document.addEventListener("visibilitychange", onVisibility);
  document.addEventListener("mouseover", (event) => showAnchors(event.target), true);
  window.addEventListener("resize", fitBoxes);
  document.addEventListener("click", () => setTimeout(() => showAnchors(null), 50), true);
  new MutationObserver(onChange).observe(document.body, { childList: true, subtree: true });
  onChange();
}
