// The console's switch of posts sent from phones: close them at once, reopen them.
// Shown only when the server takes posts from phones (HASHWALL_ONSITE_POSTS).
const REFRESH_MS = 10_000;

const button = document.getElementById("submissions");
let closed = false;

function render() {
  // The hint is text on the button, not a tooltip: touch screens never show tooltips.
  const label = document.createElement("span");
  label.className = "label";
  label.textContent = closed ? "Phone posts: closed" : "Phone posts: open";
  const hint = document.createElement("small");
  hint.className = "tool-hint";
  hint.textContent = closed ? "let phones post again" : "stop phones posting";
  button.replaceChildren(label, " ", hint);
  button.setAttribute("aria-pressed", String(closed));
  document.body.classList.toggle("submissions-closed", closed);
}

async function refresh() {
  try {
    const response = await fetch("/api/submissions", { cache: "no-store" });
    const body = await response.json();
    button.hidden = !body.enabled;
    closed = body.enabled && !body.open;
    render();
  } catch {
    // The server is out of reach: keep what the button says until the next refresh.
  }
}

async function toggle() {
  button.disabled = true;
  try {
    const me = await (await fetch("/api/me", { cache: "no-store" })).json();
    const response = await fetch(closed ? "/api/open_submissions" : "/api/close_submissions", {
      method: "POST", headers: { "x-csrf-token": me.csrf || "" },
    });
    if (response.ok) {
      closed = (await response.json()).closed;
      render();
    }
  } finally {
    button.disabled = false;
  }
}

if (button) {
  button.addEventListener("click", toggle);
  refresh();
  setInterval(refresh, REFRESH_MS);
}
