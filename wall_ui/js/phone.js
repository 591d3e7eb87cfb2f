import { startFeed } from "./feed.js";

startFeed(document.getElementById("posts"), {
  limit: 200,
  status: document.getElementById("offline"),
});
