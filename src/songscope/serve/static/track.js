"use strict";
// The track page: waveform, beats and downbeats, coloured sections, playback of the original
// with WebAudio clicks scheduled from the beats, stem solo/mute, cover matches.
(() => {
  const id = Number(location.pathname.split("/").filter(Boolean).pop());
  const audio = document.getElementById("player");
  const canvas = document.getElementById("wave");
  const timeline = document.getElementById("timeline");
  const playhead = document.getElementById("playhead");
  const state = {duration: 0, wave: null, beats: [], downbeat: [], colors: {}};

  function play() {
    audio.play().catch(() => {
      audio.muted = true;  // autoplay refused: play muted rather than not at all
      return audio.play();
    }).catch(() => {});
  }

  function seek(seconds) {
    audio.currentTime = seconds;
    clicks.reset();
    stems.sync(true);
    if (audio.paused) play();
  }

  // Waveform (peak envelope), beats (thin grey) and downbeats (thick black), as the figures draw them.
  function draw() {
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth, height = canvas.clientHeight;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    if (!state.duration) return;
    const x = (t) => (t / state.duration) * width;
    const middle = height / 2;
    if (state.wave) {
      const peaks = state.wave.peaks;
      const top = peaks.reduce((a, b) => Math.max(a, b), 1e-6);
      const column = Math.max(1, width / peaks.length);
      ctx.fillStyle = "#5a7d9a";
      peaks.forEach((peak, i) => {
        const half = (peak / top) * (middle - 2);
        ctx.fillRect(x(state.wave.times[i]) - column / 2, middle - half, column, 2 * half);
      });
    }
    state.beats.forEach((beat, i) => {
      ctx.strokeStyle = state.downbeat[i] ? "#000" : "#999";
      ctx.lineWidth = state.downbeat[i] ? 1.5 : 0.6;
      ctx.beginPath();
      ctx.moveTo(x(beat), 0);
      ctx.lineTo(x(beat), height);
      ctx.stroke();
    });
  }

  function drawSections(segments) {
    const box = document.getElementById("sections");
    box.replaceChildren(...segments.map((segment) => {
      const div = document.createElement("div");
      const color = state.colors[segment.label] || "#dddddd";
      div.className = "section";
      div.dataset.start = segment.start;
      div.dataset.label = segment.label;
      div.style.left = `${(100 * segment.start) / state.duration}%`;
      div.style.width = `${(100 * (segment.end - segment.start)) / state.duration}%`;
      div.style.background = color;
      div.style.color = songscope.textOn(color);
      div.textContent = segment.label;
      div.title = `${segment.label}: ${songscope.time(segment.start)} – ${songscope.time(segment.end)}`;
      div.addEventListener("click", () => seek(segment.start));
      return div;
    }));
  }

  function movePlayhead() {
    if (state.duration) {
      playhead.style.left = `${(audio.currentTime / state.duration) * timeline.clientWidth}px`;
    }
    requestAnimationFrame(movePlayhead);
  }

  // Clicks in sync: each beat a little ahead of time on the AudioContext's clock, mapped from the
  // media element's position (1 kHz beats, 2 kHz downbeats, as `songscope analyze -s` renders them).
  const clicks = {
    context: null,
    level: null,
    next: 0,
    enabled: () => document.getElementById("clicks").checked,
    start() {
      if (!this.context) {
        this.context = new AudioContext();
        this.level = this.context.createGain();
        this.level.gain.value = Number(document.getElementById("click-level").value);
        this.level.connect(this.context.destination);
      }
      this.context.resume();
      this.reset();
    },
    reset() {
      const at = state.beats.findIndex((beat) => beat >= audio.currentTime - 0.005);
      this.next = at < 0 ? state.beats.length : at;
    },
    click(when, accent) {
      const tone = this.context.createOscillator();
      const envelope = this.context.createGain();
      tone.frequency.value = accent ? 2000 : 1000;
      envelope.gain.setValueAtTime(accent ? 0.6 : 0.35, when);
      envelope.gain.setTargetAtTime(0, when, 0.012);
      tone.connect(envelope).connect(this.level);
      tone.start(when);
      tone.stop(when + 0.08);
    },
    tick() {
      if (!this.context || !this.enabled() || audio.paused) return;
      const now = this.context.currentTime, position = audio.currentTime, rate = audio.playbackRate || 1;
      while (this.next < state.beats.length && state.beats[this.next] < position + 0.2 * rate) {
        const ahead = (state.beats[this.next] - position) / rate;
        if (ahead > -0.02) this.click(now + Math.max(0, ahead), state.downbeat[this.next]);
        this.next += 1;
      }
    },
  };
  document.getElementById("clicks").addEventListener("change", (event) => {
    if (event.target.checked) clicks.start();
  });
  document.getElementById("click-level").addEventListener("input", (event) => {
    if (clicks.level) clicks.level.gain.value = Number(event.target.value);
  });
  setInterval(() => clicks.tick(), 40);

  // Stems: one media element each, following the main player (which then stays muted as the clock).
  const stems = {
    players: {},
    solo: new Set(),
    muted: new Set(),
    active: false,
    audible(name) {
      return this.solo.size ? this.solo.has(name) : !this.muted.has(name);
    },
    apply() {
      for (const [name, player] of Object.entries(this.players)) player.muted = !this.audible(name);
      audio.muted = this.active;
      this.sync(true);
    },
    sync(force) {
      for (const player of Object.values(this.players)) {
        if (!this.active) {
          player.pause();
          continue;
        }
        if (force || Math.abs(player.currentTime - audio.currentTime) > 0.08) player.currentTime = audio.currentTime;
        player.playbackRate = audio.playbackRate;
        if (audio.paused && !player.paused) player.pause();
        if (!audio.paused && player.paused) player.play().catch(() => {});
      }
    },
    show(names) {
      const box = document.getElementById("stems");
      if (!names.length) {
        box.replaceChildren(empty("No stems for this track: `songscope library run separate` separates the library."));
        return;
      }
      const mode = document.createElement("label");
      const toggle = document.createElement("input");
      toggle.type = "checkbox";
      toggle.id = "stems-on";
      toggle.addEventListener("change", () => {
        this.active = toggle.checked;
        this.apply();
      });
      mode.append(toggle, " play the stems instead of the mix");
      const rows = names.map((name) => {
        const player = new Audio(`/api/tracks/${id}/stems/${encodeURIComponent(name)}`);
        player.preload = "auto";
        this.players[name] = player;
        const row = document.createElement("div");
        row.className = "stem";
        row.dataset.stem = name;
        const label = document.createElement("span");
        label.textContent = name;
        row.append(label, this.button("solo", name, this.solo), this.button("mute", name, this.muted));
        return row;
      });
      box.replaceChildren(mode, ...rows);
    },
    button(text, name, set) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = text;
      button.setAttribute("aria-pressed", "false");
      button.addEventListener("click", () => {
        if (set.has(name)) set.delete(name);
        else set.add(name);
        button.setAttribute("aria-pressed", String(set.has(name)));
        this.apply();
      });
      return button;
    },
  };
  for (const name of ["play", "pause", "seeked", "ratechange"]) {
    audio.addEventListener(name, () => {
      stems.sync(name === "seeked");
      clicks.reset();
    });
  }
  setInterval(() => stems.sync(false), 250);

  function empty(text) {
    const p = document.createElement("p");
    p.className = "empty";
    p.textContent = text;
    return p;
  }

  function showCovers(covers) {
    const box = document.getElementById("covers");
    if (!covers.matches.length) {
      box.replaceChildren(empty(covers.model
        ? "No other recording has a cover fingerprint of the same model yet."
        : "No cover fingerprint for this track: `songscope library run covers-index` computes them."));
      return;
    }
    const list = document.createElement("ol");
    list.className = "covers";
    list.append(...covers.matches.map((match) => {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = `/track/${match.id}`;
      link.textContent = match.work;
      link.title = match.path;
      item.append(link, ` (cosine distance ${match.distance.toFixed(3)})`);
      return item;
    }));
    box.replaceChildren(list);
  }

  function showFacts(track, analysis) {
    const facts = [
      ["Key", track.key ?? "–"],
      ["Key signature", track.key_signature ?? "–"],
      ["Tempo", track.bpm ? `${track.bpm} BPM` : "–"],
      ["Meter", track.time_signature ?? "–"],
      ["Duration", songscope.time(track.duration)],
      ["Beats", analysis ? `${analysis.beats.length} (${analysis.downbeats.length} downbeats)` : "–"],
      ["Sections", analysis ? String(analysis.segments.length) : "–"],
    ];
    document.getElementById("facts").replaceChildren(...facts.map(([name, text]) => {
      const fact = document.createElement("div");
      const dt = document.createElement("dt");
      const dd = document.createElement("dd");
      dt.textContent = name;
      dd.textContent = text;
      fact.append(dt, dd);
      return fact;
    }));
  }

  async function main() {
    audio.src = `/api/tracks/${id}/audio`;
    const [meta, track] = await Promise.all([songscope.api("/api/meta"), songscope.api(`/api/tracks/${id}`)]);
    state.colors = meta.label_colors;
    const name = track.title || songscope.basename(track.path);
    document.getElementById("title").textContent = name;
    document.title = `songscope · ${name}`;
    const [analysis, wave, covers] = await Promise.all([
      track.analyzed ? songscope.api(`/api/tracks/${id}/analysis`) : null,
      songscope.api(`/api/tracks/${id}/waveform`),
      songscope.api(`/api/tracks/${id}/covers`),
    ]);
    state.wave = wave;
    state.duration = (analysis && analysis.duration) || wave.duration || track.duration;
    showFacts(track, analysis);
    if (analysis) {
      state.beats = analysis.beats;
      state.downbeat = analysis.beat_positions.map((position) => position === 1);
      drawSections(analysis.segments);
    }
    document.getElementById("no-analysis").hidden = Boolean(analysis);
    draw();
    stems.show(track.stems);
    showCovers(covers);
    canvas.addEventListener("click", (event) => {
      const box = canvas.getBoundingClientRect();
      seek(((event.clientX - box.left) / box.width) * state.duration);
    });
    window.addEventListener("resize", draw);
    requestAnimationFrame(movePlayhead);
    document.body.dataset.ready = "true";
  }

  main().catch((exc) => {
    const error = document.getElementById("error");
    error.textContent = exc.message;
    error.hidden = false;
  });
})();
