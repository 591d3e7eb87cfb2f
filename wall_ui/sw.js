// The service worker of the public pages: /wall and / open even while the server or the
// venue network is down, from copies of their files taken at install and refreshed on each
// load. Network first, with a short timeout, then the copy.
//
// Only the addresses in BUILD.precache are touched. Everything else (/ws, /api/posts,
// /api/login, /moderate and every moderator-side file) goes to the network as if there
// were no service worker, so moderators always see the truth.

// Filled in by the server (server/service_worker.py): the version is a hash of the files
// kept, so a deploy that changes any of them installs a new cache and drops the old one.
const BUILD = { version: "dev", precache: [] };
const PREFIX = "hashwall-";
const CACHE = `${PREFIX}${BUILD.version}`;
const KEPT = new Set(BUILD.precache);
// A network that has not answered by then counts as down, when there is a copy to show.
const TIMEOUT_MS = 3000;
// Once the network was silent, the next requests take the copy at once for this long (while
// still asking the network, which ends the quiet as soon as it answers): a page and its
// dozen files do not each wait for the timeout.
const QUIET_MS = 10000;
let quietUntil = 0;

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    // Revalidated, not downloaded again: an unchanged file costs a 304.
    await cache.addAll(BUILD.precache.map((path) => new Request(path, { cache: "no-cache" })));
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith(PREFIX) && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || !KEPT.has(url.pathname)) return;
  event.respondWith(networkFirst(event, url.pathname));
});

// The network's answer, kept for next time when it is a good one.
function fetchAndKeep(request, cache, key) {
  return fetch(request).then((response) => {
    quietUntil = 0;
    const kept = response.ok && response.type === "basic"
      ? cache.put(key, response.clone()) : Promise.resolve();
    return { response, kept };
  });
}

async function networkFirst(event, key) {
  const cache = await caches.open(CACHE);
  const network = fetchAndKeep(event.request, cache, key);
  // A late answer still refreshes the copy after the page was served from it.
  event.waitUntil(network.then(({ kept }) => kept).catch(() => {}));
  let timer = null;
  const wait = Date.now() < quietUntil ? 0 : TIMEOUT_MS;
  const late = new Promise((resolve) => { timer = setTimeout(resolve, wait, null); });
  try {
    const answer = await Promise.race([network, late]);
    if (answer === null) quietUntil = Math.max(quietUntil, Date.now() + QUIET_MS);
    // A server error (a proxy's 502 while the server restarts) is no better than no answer.
    else if (answer.response.status < 500) return answer.response;
  } catch {
    // Unreachable: the copy answers.
  } finally {
    clearTimeout(timer);
  }
  const copy = await cache.match(key);
  if (copy) return copy;
  // Nothing kept: wait for the network, whatever it says.
  return network.then(({ response }) => response);
}
