// A list of cards keyed by post id. Rendering a new order touches the DOM only where it
// differs: a card is rebuilt when its item changed, inserted when new, moved when out of
// place and removed when gone; every other card stays as it is (2,000 pending posts and
// one event is one card's worth of work).

export class KeyedList {
  // `build(entry)` returns the node of one entry; entries are {id, item, extra}: a card is
  // rebuilt when `item` is another object or `extra` (a string) differs.
  constructor(list, build) {
    this.list = list;
    this.build = build;
    this.rows = new Map(); // id -> {node, item, extra}
  }

  get(id) {
    const row = this.rows.get(id);
    return row ? row.node : null;
  }

  ids() {
    return [...this.list.children].map((node) => node.dataset.id);
  }

  render(entries) {
    const wanted = new Set(entries.map((entry) => entry.id));
    for (const [id, row] of this.rows) {
      if (!wanted.has(id)) {
        row.node.remove();
        this.rows.delete(id);
      }
    }
    let cursor = this.list.firstElementChild;
    for (const entry of entries) {
      let row = this.rows.get(entry.id);
      if (!row) {
        row = { node: this.build(entry), item: entry.item, extra: entry.extra };
        this.rows.set(entry.id, row);
      } else if (row.item !== entry.item || row.extra !== entry.extra) {
        const fresh = this.build(entry);
        if (row.node.isConnected) row.node.replaceWith(fresh);
        if (cursor === row.node) cursor = fresh;
        row.node = fresh;
        row.item = entry.item;
        row.extra = entry.extra;
      }
      const node = row.node;
      if (node === cursor) {
        cursor = cursor.nextElementSibling;
      } else if (cursor && cursor.nextElementSibling === node) {
        // The card at the cursor moved further down: leave it, it is moved when reached.
        cursor = node.nextElementSibling;
      } else {
        this.list.insertBefore(node, cursor);
      }
    }
  }
}
