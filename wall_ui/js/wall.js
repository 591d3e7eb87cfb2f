import { startFeed } from "./feed.js";

startFeed(document.getElementById("posts"), {
  limit: 12,
  status: document.getElementById("offline"),
});
