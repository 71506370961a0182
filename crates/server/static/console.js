// Kawal console enhancements. Every page reads without this module; it adds live lists that
// follow new content over server-sent events, and asks before irreversible changes.

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
