// Kawal console enhancements. Every page works without this module; it adds live lists that
// follow new content over server-sent events, checks patterns while they are typed, shows
// an import's progress, and asks before irreversible changes.

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

// A button with data-confirm asks before its form is sent; without script the form is sent
// as it is.
document.querySelectorAll("button[data-confirm]").forEach((button) => {
  button.addEventListener("click", (event) => {
    if (!window.confirm(button.dataset.confirm)) event.preventDefault();
  });
});

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

function cell(text, code) {
  const td = document.createElement("td");
  const inner = document.createElement(code ? "pre" : "span");
  if (code) inner.className = "reason";
  inner.textContent = text;
  td.append(inner);
  return td;
}

function resultRow(detail, collection, stored) {
  const tr = document.createElement("tr");
  const first = document.createElement("td");
  if (stored) {
    const link = document.createElement("a");
    link.href = "/objects/" + encodeURIComponent(detail.id) + "?collection=" + encodeURIComponent(collection);
    link.textContent = detail.id;
    first.append(link);
  } else {
    const code = document.createElement("code");
    code.textContent = detail.id;
    first.append(code);
  }
  tr.append(first, cell(detail.version || ""), cell(detail.message || "", !stored));
  return tr;
}

// Uploads the chosen file with progress events, then follows the import chunk by chunk until
// every object has its status; the page's own form post remains for browsers without this.
function importer(form) {
  const section = document.getElementById(form.dataset.importStatus);
  if (!section) return;
  const upload = section.querySelector("#upload-progress");
  const bar = section.querySelector("#import-progress");
  const summary = section.querySelector("#import-summary");
  const failures = section.querySelector("#import-failures");
  const successes = section.querySelector("#import-successes");
  const say = (text) => { summary.textContent = text; };

  const follow = (href) => {
    let shownFailures = 0;
    let shownSuccesses = 0;
    const poll = async () => {
      let job;
      try {
        const reply = await fetch(href, { headers: { Accept: "application/json" }, credentials: "same-origin" });
        if (!reply.ok) { say("The import could not be followed (" + reply.status + ")."); return; }
        job = await reply.json();
      } catch (_) {
        setTimeout(poll, 1000);
        return;
      }
      bar.max = Math.max(job.total, 1);
      bar.value = job.total === 0 ? 1 : job.processed;
      const percent = job.total === 0 ? 100 : Math.floor((job.processed * 100) / job.total);
      bar.dataset.percent = String(percent);
      bar.textContent = percent + " %";
      for (const d of job.failures.slice(shownFailures)) failures.append(resultRow(d, job.collection, false));
      for (const d of job.successes.slice(shownSuccesses)) successes.append(resultRow(d, job.collection, true));
      shownFailures = job.failures.length;
      shownSuccesses = job.successes.length;
      summary.dataset.status = job.status;
      const counts = job.processed + " of " + job.total + " objects into " + job.collection_title +
        ": " + job.success_count + " stored, " + job.failure_count + " refused (" + percent + " %)";
      if (job.status === "running") {
        say(counts);
        setTimeout(poll, 250);
      } else if (job.status === "failed") {
        say(counts + ". The import stopped: " + (job.error || "unknown reason"));
      } else {
        say(counts + ". Done.");
      }
    };
    poll();
  };

  form.addEventListener("submit", (event) => {
    const file = form.querySelector("input[type=file]");
    if (!file || !file.files || file.files.length === 0) return;
    event.preventDefault();
    section.hidden = false;
    failures.replaceChildren();
    successes.replaceChildren();
    upload.value = 0;
    bar.value = 0;
    bar.dataset.percent = "0";
    say("Uploading…");
    const collection = form.querySelector("select[name=collection]").value;
    const request = new XMLHttpRequest();
    request.open("POST", form.dataset.import + "?collection=" + encodeURIComponent(collection));
    request.setRequestHeader("Content-Type", "application/json");
    request.setRequestHeader("X-Kawal-Form-Token", formToken(form));
    request.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) upload.value = Math.floor((e.loaded * 100) / e.total);
    });
    request.addEventListener("load", () => {
      upload.value = 100;
      let answer = {};
      try { answer = JSON.parse(request.responseText); } catch (_) { /* shown below */ }
      if (request.status === 413) {
        say("Nothing was imported: the file is larger than this server accepts.");
        return;
      }
      if (request.status !== 202) {
        say("Nothing was imported: " + (answer.error || "the server answered " + request.status));
        return;
      }
      say("Uploaded; storing " + answer.total + " objects…");
      follow(answer.href);
    });
    request.addEventListener("error", () => say("The upload failed; nothing was imported."));
    request.send(file.files[0]);
  });
}

document.querySelectorAll("form[data-import]").forEach(importer);

function textCell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
}

function alertRow(body, alert) {
  const tr = document.createElement("tr");
  tr.dataset.id = alert.id;
  const observed = textCell(alert.observed);
  if (alert.retro) {
    const badge = document.createElement("span");
    badge.className = "badge retro";
    badge.textContent = "retro-hunt";
    observed.append(" ", badge);
  }
  const indicator = document.createElement("td");
  const link = document.createElement("a");
  link.href = alert.indicator_href;
  link.textContent = alert.indicator_label;
  indicator.append(link);
  if ("compact" in body.dataset) {
    tr.append(observed, indicator, textCell(alert.source));
    return tr;
  }
  const state = document.createElement("td");
  if (alert.acknowledged) {
    state.textContent = alert.acknowledged;
  } else if ("canAcknowledge" in body.dataset) {
    const form = document.createElement("form");
    form.method = "post";
    form.action = alert.acknowledge_url;
    form.className = "inline-form";
    for (const [name, value] of [["csrf", formToken(document)], ["back", body.dataset.back || "/alerts"]]) {
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      input.value = value;
      form.append(input);
    }
    const button = document.createElement("button");
    button.type = "submit";
    button.className = "small";
    button.textContent = "Acknowledge";
    form.append(button);
    state.append(form);
  } else {
    state.className = "muted";
    state.textContent = "open";
  }
  const source = textCell(alert.source);
  if (alert.event) {
    const event = document.createElement("small");
    event.className = "muted";
    event.textContent = alert.event;
    source.append(document.createElement("br"), event);
  }
  tr.append(observed, indicator, textCell(alert.objects), source, textCell(alert.collection_title), state);
  return tr;
}

// New alerts of the organisation appear at the top of the list as they are stored.
function followAlerts(body) {
  const status = document.getElementById(body.dataset.liveStatus);
  const limit = Number(body.dataset.liveLimit || "200");
  const source = new EventSource(body.dataset.liveAlerts);
  source.addEventListener("open", () => {
    if (status) { status.textContent = "live"; status.classList.add("on"); }
  });
  source.addEventListener("error", () => {
    if (status) { status.textContent = "reconnecting…"; status.classList.remove("on"); }
  });
  source.addEventListener("alert", (event) => {
    const alert = JSON.parse(event.data);
    if (body.querySelector("tr[data-id='" + CSS.escape(alert.id) + "']")) return;
    const empty = body.querySelector("[data-empty]");
    if (empty) empty.remove();
    body.prepend(alertRow(body, alert));
    while (body.children.length > limit) body.lastElementChild.remove();
  });
}

document.querySelectorAll("tbody[data-live-alerts]").forEach(followAlerts);
