// Horizontal swipes on a card: right calls onRight, left calls onLeft. Vertical movement is
// left to the browser (touch-action: pan-y in moderate.css), so the list still scrolls.

const THRESHOLD = 0.3; // of the card's width
const MIN_PX = 80;

export function swipeable(card, { onLeft, onRight }) {
  let start = null;
  let dx = 0;

  function reset() {
    start = null;
    dx = 0;
    card.style.transform = "";
    card.classList.remove("swiping", "to-left", "to-right");
  }

  card.addEventListener("pointerdown", (event) => {
    if (event.button !== 0 || event.target.closest("button, a, input, textarea")) return;
    start = { x: event.clientX, y: event.clientY, id: event.pointerId };
    dx = 0;
  });
  card.addEventListener("pointermove", (event) => {
    if (!start || event.pointerId !== start.id) return;
    dx = event.clientX - start.x;
    const dy = event.clientY - start.y;
    if (!card.classList.contains("swiping")) {
      if (Math.abs(dx) < 12 || Math.abs(dx) < Math.abs(dy)) return;
      card.classList.add("swiping");
      card.setPointerCapture(event.pointerId);
    }
    card.style.transform = `translateX(${dx}px) rotate(${dx / 40}deg)`;
    card.classList.toggle("to-right", dx > 0);
    card.classList.toggle("to-left", dx < 0);
  });
  const finish = (event) => {
    if (!start || event.pointerId !== start.id) return;
    const swiping = card.classList.contains("swiping");
    const far = Math.abs(dx) >= Math.max(MIN_PX, card.offsetWidth * THRESHOLD);
    const direction = dx;
    reset();
    if (!swiping || !far || event.type === "pointercancel") return;
    if (direction > 0) onRight();
    else onLeft();
  };
  card.addEventListener("pointerup", finish);
  card.addEventListener("pointercancel", finish);
}
