"use strict";
// The library page: filters go to /api/tracks as query parameters, sorting happens here.
(() => {
  const form = document.getElementById("filters");
  const body = document.querySelector("#tracks tbody");
  const headers = document.querySelectorAll("#tracks th");
  const state = {rows: [], sort: "name", ascending: true, colors: {}, maxUpload: 0};

  const value = (row, key) => {
    if (key === "name") return (row.title || songscope.basename(row.path)).toLowerCase();
    if (key === "sections") return row.labels.join(" ");
    return row[key];
  };

  function render() {
    const sign = state.ascending ? 1 : -1;
    const rows = [...state.rows].sort((a, b) => {
      const x = value(a, state.sort), y = value(b, state.sort);
      if (x === y) return 0;
      if (x === null || x === undefined) return 1;  // unknown values last, either way
      if (y === null || y === undefined) return -1;
      return (x < y ? -1 : 1) * sign;
    });
    body.replaceChildren(...rows.map((row) => {
      const tr = document.createElement("tr");
      tr.dataset.id = row.id;
      const name = document.createElement("td");
      const link = document.createElement("a");
      link.href = `/track/${row.id}`;
      link.textContent = row.title || songscope.basename(row.path);
      link.title = row.path;
      name.append(link);
      const sections = document.createElement("td");
      sections.append(...[...new Set(row.labels)].map((label) => songscope.chip(label, state.colors)));
      const cells = [songscope.time(row.duration), row.bpm ?? "–", row.key ?? "–", row.time_signature ?? "–"]
        .map((text) => {
          const td = document.createElement("td");
          td.textContent = text;
          return td;
        });
      tr.append(name, ...cells, sections);
      return tr;
    }));
    headers.forEach((th) => {
      th.setAttribute("aria-sort", th.dataset.sort === state.sort ? (state.ascending ? "ascending" : "descending") : "none");
    });
    document.getElementById("empty").hidden = rows.length > 0;
    document.getElementById("summary").textContent = `${rows.length} track${rows.length === 1 ? "" : "s"}`;
  }

  async function load() {
    const params = new URLSearchParams();
    for (const [name, text] of new FormData(form)) {
      if (String(text).trim()) params.set(name, String(text).trim());
    }
    const error = document.getElementById("filter-error");
    try {
      state.rows = await songscope.api(`/api/tracks?${params}`);
      error.hidden = true;
      if (![...params].length) fillKeys(state.rows);  // every track is there: offer every key
    } catch (exc) {
      error.textContent = exc.message;
      error.hidden = false;
      state.rows = [];
    }
    render();
  }

  function fillKeys(rows) {
    const select = form.elements.key;
    const chosen = select.value;
    const keys = [...new Set(rows.map((row) => row.key).filter(Boolean))].sort();
    select.replaceChildren(new Option("any", ""), ...keys.map((key) => new Option(key, key)));
    select.value = keys.includes(chosen) ? chosen : "";
  }

  let pending = null;
  const reload = () => {
    clearTimeout(pending);
    pending = setTimeout(load, 200);
  };
  form.addEventListener("input", reload);
  form.addEventListener("change", reload);
  form.addEventListener("reset", () => setTimeout(load, 0));
  form.addEventListener("submit", (event) => event.preventDefault());
  headers.forEach((th) => th.addEventListener("click", () => {
    state.ascending = state.sort === th.dataset.sort ? !state.ascending : true;
    state.sort = th.dataset.sort;
    render();
  }));

  // Uploads: the file is the request body; the job is polled until it ends.
  const jobs = document.getElementById("jobs");

  function showJob(job) {
    let item = document.getElementById(`job-${job.id}`);
    if (!item) {
      item = document.createElement("li");
      item.id = `job-${job.id}`;
      jobs.prepend(item);
    }
    const bar = document.createElement("progress");
    bar.max = 1;
    bar.value = job.progress;
    const text = document.createElement("span");
    text.textContent = `${job.name}: ${job.state}${job.message ? ` (${job.message})` : ""}`;
    item.className = `job ${job.state}`;
    item.replaceChildren(bar, text);
    if (job.state === "done" && job.track_id !== null) {
      const link = document.createElement("a");
      link.href = `/track/${job.track_id}`;
      link.textContent = "open";
      item.append(" ", link);
    }
  }

  async function follow(job) {
    showJob(job);
    while (job.state !== "done" && job.state !== "failed") {
      await new Promise((resolve) => setTimeout(resolve, 500));
      job = await songscope.api(`/api/jobs/${job.id}`);
      showJob(job);
    }
    if (job.state === "done") await load();
  }

  document.getElementById("upload").addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = document.getElementById("upload-file").files[0];
    const error = document.getElementById("upload-error");
    error.hidden = true;
    if (!file) return;
    try {
      if (file.size > state.maxUpload) {
        throw new Error(`${file.name} is larger than the server accepts (${state.maxUpload} bytes)`);
      }
      const job = await songscope.api(`/api/upload?filename=${encodeURIComponent(file.name)}`, {
        method: "POST", body: file, headers: {"Content-Type": "application/octet-stream"},
      });
      follow(job);
    } catch (exc) {
      error.textContent = exc.message;
      error.hidden = false;
    }
  });

  (async () => {
    const meta = await songscope.api("/api/meta");
    state.colors = meta.label_colors;
    state.maxUpload = meta.max_upload;
    form.elements.label.append(...meta.labels.filter((l) => l !== "start" && l !== "end").map((l) => new Option(l, l)));
    await load();
    for (const job of (await songscope.api("/api/jobs")).reverse()) follow(job);
  })();
})();
