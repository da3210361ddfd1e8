"use strict";
// Helpers shared by the library and track pages (no framework, no network but this server).
const songscope = {
  // GET (or another request) on the API; throws an Error carrying the server's one-line detail.
  async api(path, options = {}) {
    const response = await fetch(path, {credentials: "same-origin", ...options});
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new Error(body.detail || `${response.status} ${response.statusText}`);
    }
    return body;
  },
  // Seconds as m:ss.s
  time(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const minutes = Math.floor(seconds / 60);
    const rest = (seconds - 60 * minutes).toFixed(1).padStart(4, "0");
    return `${minutes}:${rest}`;
  },
  // Black or white text, whichever reads better on a #rrggbb background.
  textOn(color) {
    const [r, g, b] = [1, 3, 5].map((i) => parseInt(color.slice(i, i + 2), 16) / 255);
    return 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.45 ? "#000" : "#fff";
  },
  // A coloured chip for a section label.
  chip(label, colors) {
    const chip = document.createElement("span");
    const color = colors[label] || "#dddddd";
    chip.className = "chip";
    chip.textContent = label;
    chip.style.background = color;
    chip.style.color = songscope.textOn(color);
    return chip;
  },
  // The file name of a path.
  basename(path) {
    return path.split(/[\\/]/).pop();
  },
};
