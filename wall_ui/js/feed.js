// A bounded list of posts fed by /ws: snapshot, shown, retracted.
import { Connection } from "./connection.js";
import { POST_RETRACTED, POST_SHOWN, SNAPSHOT } from "./protocol.js";
import { renderPost } from "./render.js";

export function startFeed(list, { limit, status }) {
  const byId = new Map();

  function add(post, atTop) {
    if (byId.has(post.id)) return;
    const card = renderPost(post);
    byId.set(post.id, card);
    if (atTop) list.prepend(card);
    else list.append(card);
    while (byId.size > limit) {
      const last = list.lastElementChild;
      if (!last) break;
      byId.delete(last.dataset.id);
      last.remove();
    }
  }

  function remove(id) {
    const card = byId.get(id);
    if (!card) return;
    byId.delete(id);
    card.remove();
  }

  const connection = new Connection("/ws", {
    onMessage(message) {
      if (message.type === SNAPSHOT) {
        byId.clear();
        list.replaceChildren();
        for (const post of message.posts) add(post, false);
      } else if (message.type === POST_SHOWN) {
        add(message.post, true);
      } else if (message.type === POST_RETRACTED) {
        remove(message.id);
      }
    },
    onState(state) {
      if (status) status.hidden = state === "open";
    },
  });
  connection.start();
  return connection;
}
