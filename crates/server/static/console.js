// Kawal console enhancements. Every page works without this module; it adds live lists that
// follow new content over server-sent events, and checks patterns while they are typed.

function row(item) {
  const li = document.createElement("li");
  const link = document.createElement("a");
  link.href = item.href;
  link.textContent = item.name || item.id;
  const kind = document.createElement("span");
  kind.className = "muted";
  kind.textContent = " " + item.type + " · " + item.collection + " ";
  const badge = document.createElement("span");
  badge.className = "badge tlp-" + item.tlp.replace("+", "-");
  badge.textContent = "TLP:" + item.tlp.toUpperCase();
  li.dataset.id = item.id;
  li.append(link, kind, badge);
  return li;
}

function follow(list) {
  const status = document.getElementById(list.dataset.liveStatus);
  const limit = Number(list.dataset.liveLimit || "10");
  const source = new EventSource(list.dataset.liveUrl);
  source.addEventListener("open", () => {
    if (status) {
      status.textContent = "live";
      status.classList.add("on");
    }
  });
  source.addEventListener("error", () => {
    if (status) {
      status.textContent = "reconnecting…";
      status.classList.remove("on");
    }
  });
  source.addEventListener("object", (event) => {
    const item = JSON.parse(event.data);
    const empty = list.querySelector("[data-empty]");
    if (empty) empty.remove();
    list.prepend(row(item));
    while (list.children.length > limit) list.lastElementChild.remove();
  });
}

document.querySelectorAll("[data-live-url]").forEach(follow);

// The form token of the page, which every post carries.
function formToken(form) {
  const field = form.querySelector("input[name=csrf]");
  return field ? field.value : "";
}

function showDiagnostics(box, field, answer) {
  box.replaceChildren();
  field.setAttribute("aria-invalid", answer.valid ? "false" : "true");
  if (answer.valid && answer.diagnostics.length === 0) {
    const ok = document.createElement("p");
    ok.className = "diagnostic-ok";
    ok.textContent = "The pattern is valid.";
    box.append(ok);
    return;
  }
  for (const d of answer.diagnostics) {
    const pre = document.createElement("pre");
    pre.className = "diagnostic " + d.severity;
    pre.textContent = d.rendered;
    box.append(pre);
  }
}

// Asks the server (the same parser as ingest) about the pattern, a moment after typing stops;
// an answer to an older text is ignored.
function checkPatterns(field) {
  const box = document.getElementById(field.dataset.diagnostics);
  const form = field.form;
  if (!box || !form) return;
  let timer = null;
  let asked = 0;
  const check = async () => {
    const ticket = ++asked;
    const body = new URLSearchParams({ csrf: formToken(form), pattern: field.value });
    try {
      const reply = await fetch(field.dataset.patternCheck, {
        method: "POST",
        body,
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (!reply.ok || ticket !== asked) return;
      showDiagnostics(box, field, await reply.json());
    } catch (_) {
      // Offline or signed out: the server checks again on save.
    }
  };
  field.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(check, 300);
  });
}

// RED recipients are asked for only when TLP:RED is chosen, among the members of the chosen
// collection's sharing group.
function recipientsPicker(select) {
  const fieldset = document.getElementById(select.dataset.recipients);
  const form = select.form;
  if (!fieldset || !form) return;
  const update = () => {
    const chosen = form.querySelector("input[data-tlp-choice]:checked");
    fieldset.hidden = !chosen || chosen.value !== "red";
    fieldset.querySelectorAll("label[data-collections]").forEach((label) => {
      const inside = label.dataset.collections.split(" ").includes(select.value);
      label.hidden = !inside;
      const box = label.querySelector("input");
      if (box && !inside) box.checked = false;
    });
  };
  select.addEventListener("change", update);
  form.querySelectorAll("input[data-tlp-choice]").forEach((r) => r.addEventListener("change", update));
  update();
}

document.querySelectorAll("textarea[data-pattern-check]").forEach(checkPatterns);
document.querySelectorAll("select[data-recipients]").forEach(recipientsPicker);
