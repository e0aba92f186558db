// The error-span editor (app/spans.py). Select a stretch of the answer (`.wb-spantext[data-wb-item]`, the stored text
// exactly), then a flag (its key or its button), then the severity (m minor, M major, or the buttons); n writes an
// optional note first, Esc cancels. Offsets are sent as Unicode code points: a JS string counts UTF-16 units (an
// emoji is two), so the text before the selection is counted with Array.from.
const sp = (window.__wbSpans = window.__wbSpans || {
  installed: false,
  editors: {}, // item -> {send, flags, severities, root}
  selection: null, // {item, start, end, text}: the last stretch selected in an answer
  pending: null, // {item, start, end, text, label}: a flag chosen, the severity still to come
});

function typing(element) {
  if (!element) return false;
  const tag = element.tagName;
  return tag === "TEXTAREA" || tag === "INPUT" || tag === "SELECT" || element.isContentEditable;
}

function codePoints(text) {
  return Array.from(text).length;
}

// The current selection inside one answer's text, in code points, or null.
function selected() {
  const selection = window.getSelection();
  if (!selection || selection.rangeCount === 0 || selection.isCollapsed) return null;
  const range = selection.getRangeAt(0);
  const node = range.commonAncestorContainer;
  const box = (node.nodeType === 1 ? node : node.parentElement).closest(".wb-spantext[data-wb-item]");
  if (!box) return null;
  const before = document.createRange();
  before.selectNodeContents(box);
  before.setEnd(range.startContainer, range.startOffset);
  const start = codePoints(before.toString());
  const text = range.toString();
  return { item: box.dataset.wbItem, start, end: start + codePoints(text), text };
}

function onSelection() {
  const found = selected();
  if (found && sp.editors[found.item]) {
    sp.selection = found;
    render(found.item);
  } else if (sp.selection && !sp.pending && !found) {
    const item = sp.selection.item; // the selection went away: so does the bar
    sp.selection = null;
    render(item);
  }
}

function choose(item, label) {
  const chosen = sp.selection && sp.selection.item === item ? sp.selection : null;
  if (!chosen) {
    hint(item, "Select a stretch of the answer first, then choose its flag.");
    return;
  }
  sp.pending = { ...chosen, label };
  render(item);
}

function finish(severity) {
  const pending = sp.pending;
  const editor = pending && sp.editors[pending.item];
  if (!editor) return;
  const note = editor.root.querySelector(".wb-span-note");
  editor.send({
    start: pending.start,
    end: pending.end,
    label: pending.label,
    severity,
    note: note ? note.value : "",
  });
  sp.pending = null;
  sp.selection = null;
  window.getSelection().removeAllRanges();
  render(pending.item);
}

function cancel() {
  const item = sp.pending && sp.pending.item;
  sp.pending = null;
  if (item) render(item);
}

function hint(item, text) {
  const editor = sp.editors[item];
  const line = editor && editor.root.querySelector(".wb-span-hint");
  if (line) line.textContent = text;
}

function button(text, onClick, title) {
  const element = document.createElement("button");
  element.type = "button";
  element.className = "wb-span-button";
  element.style.cssText =
    "border: 1px solid rgba(49, 51, 63, 0.2); border-radius: 0.4rem; background: transparent; padding: 0 0.4rem; " +
    "cursor: pointer; font-size: 0.8rem; line-height: 1.6;";
  element.textContent = text;
  if (title) element.title = title;
  element.addEventListener("mousedown", (event) => event.preventDefault()); // keep the selection
  element.addEventListener("click", onClick);
  return element;
}

// The bar floats just above the selected stretch (or the answer's top), over the page: it takes no room on screen.
function place(root, item) {
  const box = document.querySelector(`.wb-spantext[data-wb-item="${CSS.escape(item)}"]`);
  const selection = window.getSelection();
  let rect = null;
  if (selection && selection.rangeCount && !selection.isCollapsed && box && box.contains(selection.anchorNode))
    rect = selection.getRangeAt(0).getBoundingClientRect();
  if (!rect && box) rect = box.getBoundingClientRect();
  if (!rect) return;
  const top = rect.top > 48 ? rect.top - 40 : rect.bottom + 8;
  root.style.top = `${Math.max(4, top)}px`;
  root.style.left = `${Math.max(8, Math.min(rect.left, window.innerWidth - root.offsetWidth - 8))}px`;
}

function render(item) {
  const editor = sp.editors[item];
  if (!editor) return;
  const root = editor.root;
  root.replaceChildren();
  const chosen = sp.selection && sp.selection.item === item ? sp.selection : null;
  const pending = sp.pending && sp.pending.item === item ? sp.pending : null;
  root.style.display = chosen || pending ? "flex" : "none";
  if (!chosen && !pending) return;
  setTimeout(() => place(root, item), 0);
  const hintLine = document.createElement("span");
  hintLine.className = "wb-span-hint";
  root.append(hintLine);
  if (!pending) {
    hintLine.textContent = "Mark as:";
    Object.entries(editor.flags).forEach(([label, flag]) => {
      root.append(button(`${flag.short} (${flag.key})`, () => choose(item, label), `Mark the selection: ${flag.name}`));
    });
    return;
  }
  const quoted = pending.text.length > 40 ? `${pending.text.slice(0, 37)}...` : pending.text;
  hintLine.textContent = `“${quoted}”, ${editor.flags[pending.label].short}:`;
  Object.entries(editor.severities).forEach(([severity, key]) => {
    root.append(button(`${severity[0].toUpperCase()}${severity.slice(1)} (${key})`, () => finish(severity)));
  });
  const note = document.createElement("input");
  note.className = "wb-span-note";
  note.placeholder = "note (n), optional";
  note.maxLength = 5000;
  note.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === "Escape") {
      event.preventDefault();
      note.blur();
    }
  });
  root.append(note, button("Cancel (Esc)", cancel));
}

function onKey(event) {
  if (typing(event.target) || event.ctrlKey || event.metaKey || event.altKey) return;
  const key = event.key;
  let handled = true;
  if (sp.pending && sp.editors[sp.pending.item]) {
    const editor = sp.editors[sp.pending.item];
    const severity = Object.keys(editor.severities).find((name) => editor.severities[name] === key);
    if (severity) finish(severity);
    else if (key === "Escape") cancel();
    else if (key === "n") editor.root.querySelector(".wb-span-note").focus();
    else handled = false;
  } else {
    const found = selected();
    const editor = found && sp.editors[found.item];
    const label = editor && Object.keys(editor.flags).find((name) => editor.flags[name].key === key);
    if (label) {
      sp.selection = found;
      choose(found.item, label);
    } else handled = false;
  }
  if (handled) {
    event.preventDefault();
    event.stopPropagation();
  }
}

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  let root = parentElement.querySelector(".wb-span-bar");
  if (!root) {
    root = document.createElement("div");
    root.className = "wb-span-bar";
    root.style.cssText =
      "display: none; position: fixed; z-index: 1000; flex-wrap: wrap; gap: 0.3rem; align-items: center; " +
      "font-size: 0.85rem; padding: 0.3rem 0.5rem; border-radius: 0.5rem; max-width: 560px; " +
      "background: var(--st-background-color, #fff); box-shadow: 0 2px 10px rgba(0, 0, 0, 0.25);";
    parentElement.append(root);
  }
  sp.editors[data.item] = {
    send: (span) => setTriggerValue("span", span),
    flags: data.flags,
    severities: data.severities,
    root,
  };
  if (sp.selection && !document.querySelector(`.wb-spantext[data-wb-item="${CSS.escape(sp.selection.item)}"]`))
    sp.selection = null;
  render(data.item);
  if (sp.installed) return;
  sp.installed = true;
  document.addEventListener("keydown", onKey, true);
  document.addEventListener("selectionchange", onSelection);
}
