const CONFIG = {displayModeBar: false, responsive: true, displaylogo: false, doubleClick: false};
const NS = "http://www.w3.org/2000/svg";
const ORDER = {html: 0, map: 1, mapsel: 2, plot: 3};

function plotly() {
  return new Promise((resolve) => {
    const tick = () => (window.Plotly ? resolve(window.Plotly) : setTimeout(tick, 15));
    tick();
  });
}
function trace(part, what) {
  const t = (window.__wbTrace = window.__wbTrace || []);
  if (t.length > 500) t.splice(0, 250);
  t.push([part, what, performance.now()]);
}
// Wall displays use a larger base font: scale every font size, the margins and the height.
function scaleFig(fig, k) {
  const walk = (o, parent) => {
    if (Array.isArray(o)) return o.length > 64 ? o : o.map((x) => walk(x, parent));
    if (!o || typeof o !== "object") return o;
    const out = {};
    for (const [key, v] of Object.entries(o)) {
      if (typeof v === "number" && ((key === "size" && /font$/i.test(parent || "")) ||
                                    parent === "margin")) out[key] = v * k;
      else out[key] = walk(v, key);
    }
    return out;
  };
  const scaled = walk(fig, "");
  if (scaled.layout && scaled.layout.height) {
    scaled.layout.height = Math.round(scaled.layout.height * k);
  }
  return scaled;
}
// The address bar follows the view (Voilà pages only: `…/voila/render/<page>?…`); parameters
// that are not the view's (a token) are kept.
const VIEW_PARAMS = ["set", "period", "county", "index", "indicator"];
function followUrl(model) {
  const page = model.get("page");
  if (!model.get("follow_url") || !page || !location.pathname.endsWith("/" + page)) return;
  const params = new URLSearchParams(location.search);
  VIEW_PARAMS.forEach((k) => params.delete(k));
  new URLSearchParams(model.get("query")).forEach((v, k) => params.append(k, v));
  const url = location.pathname + "?" + params.toString() + location.hash;
  if (url !== location.pathname + location.search + location.hash) {
    history.replaceState(history.state, "", url);
  }
}
// Downloads: a file the kernel sent (bytes), or a picture drawn here.
function saveBlob(blob, filename) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = filename;
  a.style.display = "none";
  document.body.appendChild(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 2000);
}
function saveUrl(url, filename) {
  const a = document.createElement("a");
  a.href = url; a.download = filename; a.style.display = "none";
  document.body.appendChild(a); a.click(); setTimeout(() => a.remove(), 2000);
}
// The map is SVG: drawn with its colours, names and legend onto a white canvas, saved as PNG.
function mapPng(st, filename) {
  const vb = st.svg.getAttribute("viewBox").split(" ").map(Number);
  const scale = 1600 / Math.max(vb[2], 1);
  const w = Math.round(vb[2] * scale), legendH = 60, h = Math.round(vb[3] * scale) + legendH;
  const clone = st.svg.cloneNode(true);
  clone.setAttribute("xmlns", NS);
  clone.setAttribute("width", String(w));
  clone.setAttribute("height", String(h - legendH));
  clone.querySelectorAll("path").forEach((p) => {
    p.setAttribute("stroke", p.classList.contains("wb-selected") ? "#111111" : "#ffffff");
    p.setAttribute("stroke-width", p.classList.contains("wb-selected") ? "3" : "1");
    p.setAttribute("vector-effect", "non-scaling-stroke");
  });
  clone.querySelectorAll("text").forEach((tx) => {
    tx.setAttribute("fill", "#111111");
    tx.setAttribute("font-family", getComputedStyle(st.el).fontFamily);
    tx.setAttribute("paint-order", "stroke");
    tx.setAttribute("stroke", "rgba(255,255,255,0.85)");
    tx.setAttribute("stroke-width", "3px");
  });
  const img = new Image();
  const src = "data:image/svg+xml;charset=utf-8," +
    encodeURIComponent(new XMLSerializer().serializeToString(clone));
  img.onload = () => {
    const c = document.createElement("canvas");
    c.width = w; c.height = h;
    const g = c.getContext("2d");
    g.fillStyle = "#ffffff"; g.fillRect(0, 0, w, h);
    g.drawImage(img, 0, 0, w, h - legendH);
    let x = 20;
    const y = h - legendH / 2;
    g.font = "24px " + getComputedStyle(st.el).fontFamily;
    g.textBaseline = "middle";
    st.legend.querySelectorAll("span").forEach((sp) => {
      const sw = sp.querySelector("i");
      if (sw) { g.fillStyle = getComputedStyle(sw).backgroundColor; g.fillRect(x, y - 10, 28, 20); x += 36; }
      g.fillStyle = "#1f2933";
      const text = sp.textContent.trim();
      g.fillText(text, x, y); x += g.measureText(text).width + 28;
    });
    c.toBlob((b) => saveBlob(b, filename), "image/png");
  };
  img.src = src;
}
// Print the whole page: A4 landscape, the screen's layout scaled to the paper (theme.css).
function printPage() {
  window.print();
}
// A picker's hover text is the chosen entry in full (a long name still reads when cut).
function nameChoice(sel) {
  const o = sel.options[sel.selectedIndex];
  sel.title = o ? o.text : "";
}
function setOptions(sel, options) {
  const frag = document.createDocumentFragment();
  for (const [label, value] of options) {
    const o = document.createElement("option");
    o.value = value; o.textContent = label;
    frag.appendChild(o);
  }
  sel.replaceChildren(frag);
}

export default {
  async render({ model, el }) {
    el.classList.add("wb-board");
    el.innerHTML = model.get("skeleton");
    const slots = {};
    el.querySelectorAll("[data-slot]").forEach((s) => { slots[s.dataset.slot] = s; });
    const selects = {};
    el.querySelectorAll("select[data-control]").forEach((s) => {
      selects[s.dataset.control] = s;
      nameChoice(s);
      s.addEventListener("change", () => {
        nameChoice(s);
        model.send({ event: "select", name: s.dataset.control, value: s.value });
      });
    });
    const P = await plotly();
    const state = {};
    el.addEventListener("click", (ev) => {
      const target = ev.target.closest ? ev.target : ev.target.parentElement;
      const button = target && target.closest("[data-format]");
      if (button && button.closest("[data-export]")) {
        const part = button.closest("[data-export]").dataset.export;
        const format = button.dataset.format;
        const st = state[part];
        const name = (model.get("names") || {})[part] || part;
        trace(part, "export " + format);
        if (format === "png" && st && st.div) {
          P.downloadImage(st.div, {format: "png", filename: name, scale: 2,
            width: st.div.offsetWidth || 900, height: st.div.offsetHeight || 400});
        } else if (format === "png" && st && st.svg) {
          mapPng(st, name + ".png");
        } else {
          model.send({ event: "export", part, format });
        }
        return;
      }
      if (target && target.closest("[data-print]")) { printPage(); return; }
      const t = target && target.closest("[data-pick]");
      if (t) model.send({ event: "click", value: t.dataset.pick });
    });
    // 指标说明 panels (<details>): one open at a time, kept inside the window, Escape closes.
    el.addEventListener("toggle", (ev) => {
      const d = ev.target;
      if (!d.classList || !d.classList.contains("wb-def") || !d.open) return;
      el.querySelectorAll("details.wb-def-card[open]").forEach((o) => { if (o !== d) o.open = false; });
      if (!d.classList.contains("wb-def-card")) return;
      d.classList.remove("wb-def-flip");
      const body = d.querySelector(".wb-def-body");
      const edge = document.documentElement.clientWidth - 4;
      if (body && body.getBoundingClientRect().right > edge) d.classList.add("wb-def-flip");
    }, true);
    el.addEventListener("keydown", (ev) => {
      if (ev.key !== "Escape") return;
      const open = ev.target.closest && ev.target.closest("details.wb-def[open]");
      if (!open) return;
      open.open = false;
      const s = open.querySelector("summary");
      if (s) s.focus();
    });
    model.on("msg:custom", (msg, buffers) => {
      if (msg.event === "download" && buffers && buffers.length) {
        saveBlob(new Blob([buffers[0]], { type: msg.mime }), msg.filename);
      } else if (msg.event === "figure") {
        const f = msg.figure || {};
        P.toImage({ data: f.data || [], layout: f.layout || {} }, {
          format: "png", scale: 2, width: (f.layout || {}).width || 900,
          height: (f.layout || {}).height || 500,
        }).then((url) => saveUrl(url, msg.filename));
      } else if (msg.event === "notice") {
        el.dataset.notice = msg.message;
        window.alert(msg.message);
      }
    });
    let optionsRev = null;

    const applyControls = () => {
      const options = model.get("options");
      // labels count too: the picker's first entry names the whole in the set's words
      const rev = JSON.stringify(Object.keys(options).map((k) => [k, options[k].length,
        options[k][0] || [], options[k][options[k].length - 1] || []]));
      if (rev !== optionsRev) {
        for (const [name, opts] of Object.entries(options)) {
          if (selects[name]) setOptions(selects[name], opts);
        }
        optionsRev = rev;
      }
      for (const [name, value] of Object.entries(model.get("values"))) {
        const s = selects[name];
        if (!s) continue;
        if (s.value !== value) s.value = value;
        nameChoice(s);
        const box = s.closest(".wb-sel");
        if (box) box.style.display = (options[name] || []).length > 1 ? "" : "none";
      }
    };

    const buildMap = (st, slot) => {
      st.el = document.createElement("div");
      st.el.className = "wb-map";
      st.el.dataset.part = "map";
      const svg = document.createElementNS(NS, "svg");
      const vb = model.get("viewbox");
      svg.setAttribute("viewBox", vb);
      svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
      svg.setAttribute("role", "img");
      const shapes = model.get("shapes");
      const size = Math.max(...vb.split(" ").map(Number).slice(2)) / 28;
      const labels = document.createElementNS(NS, "g");
      labels.setAttribute("font-size", String(size));
      st.paths = new Map();
      for (const s of shapes) {
        const p = document.createElementNS(NS, "path");
        p.setAttribute("d", s.d);
        p.dataset.county = s.code;
        p.dataset.pick = s.code;
        p.appendChild(document.createElementNS(NS, "title"));
        svg.appendChild(p);
        st.paths.set(s.code, p);
        if (shapes.length <= 60) {
          const tx = document.createElementNS(NS, "text");
          tx.setAttribute("x", s.cx); tx.setAttribute("y", s.cy);
          tx.setAttribute("text-anchor", "middle");
          tx.setAttribute("dominant-baseline", "middle");
          tx.textContent = s.name;
          labels.appendChild(tx);
        }
      }
      svg.appendChild(labels);
      st.labels = labels;
      st.svg = svg;
      st.legend = document.createElement("div");
      st.legend.className = "wb-map-legend";
      st.el.append(svg, st.legend);
      slot.appendChild(st.el);
    };

    const drawPart = async (name, p, key) => {
      if (p.kind === "words") {  // the set's words in the skeleton's titles and labels
        const st = state[name] || (state[name] = { rev: -1 });
        if (st.rev !== p.rev) {
          el.querySelectorAll("[data-words]").forEach((e) => {
            const text = p.texts[e.dataset.words];
            if (text !== undefined && e.textContent !== text) e.textContent = text;
          });
          st.rev = p.rev;
        }
        return;
      }
      const slot = slots[name];
      if (!slot && p.kind !== "mapsel") return;
      const st = state[name] || (state[name] = { rev: -1 });
      if (p.kind === "html") {
        if (st.rev !== p.rev) { slot.innerHTML = p.html; st.rev = p.rev; }
        const e = slot.querySelector("[data-part]");
        if (e) e.dataset.key = key;
      } else if (p.kind === "map") {
        if (!st.el) buildMap(st, slot);
        if (st.rev !== p.rev) {
          const fills = p.fills, tips = p.tips;
          for (const [code, path] of st.paths) {
            path.setAttribute("fill", fills[code] || "#d9d9d9");
            path.firstChild.textContent = tips[code] || "";
          }
          st.legend.innerHTML = p.legend;
          st.rev = p.rev;
        }
        st.el.dataset.key = key;
      } else if (p.kind === "mapsel") {
        const m = state[p.map];
        if (!m || !m.paths || m.selected === p.selected) return;
        if (m.selected && m.paths.has(m.selected)) {
          m.paths.get(m.selected).classList.remove("wb-selected");
        }
        m.selected = p.selected;
        if (p.selected && m.paths.has(p.selected)) {
          const sel = m.paths.get(p.selected);
          sel.classList.add("wb-selected");
          m.svg.insertBefore(sel, m.labels);
        }
      } else if (p.kind === "plot") {
        if (!st.el) {
          st.el = document.createElement("div");
          st.el.className = "wb-chart";
          st.el.dataset.part = name;
          st.div = document.createElement("div");
          st.div.className = "wb-plot";
          st.el.appendChild(st.div);
          slot.appendChild(st.el);
        }
        if (p.hidden) { st.el.dataset.key = key; return; }  // not declared: drawn when shown
        if (st.rev !== p.rev) {
          trace(name, "start");
          const k = Math.max(1, (parseFloat(getComputedStyle(st.el).fontSize) || 14) / 14.5);
          const fig = k > 1.05 ? scaleFig(p.figure || {}, k) : (p.figure || {});
          await P.react(st.div, fig.data || [], fig.layout || {}, CONFIG);
          if (!st.wired) {
            st.div.on("plotly_click", (ev) => {
              const pt = ev && ev.points && ev.points[0];
              if (pt && pt.customdata !== undefined && pt.customdata !== null) {
                const v = Array.isArray(pt.customdata) ? pt.customdata[0] : pt.customdata;
                model.send({ event: "click", value: String(v) });
              }
            });
            st.wired = true;
          }
          st.rev = p.rev;
          trace(name, "drawn");
        }
        st.el.dataset.key = key;
      }
    };

    // A box of parts a set may not declare (the funnel) is hidden when all its parts come hidden.
    const showDeclared = (all) => {
      el.querySelectorAll("[data-parts]").forEach((box) => {
        box.hidden = box.dataset.parts.split(" ").every((n) => all[n] && all[n].hidden);
      });
    };

    let queue = Promise.resolve();
    const draw = () => {
      queue = queue.then(async () => {
        const key = model.get("key");
        trace("board", "recv");
        applyControls();
        const all = Object.assign({}, model.get("parts"), model.get("big_parts"));
        const parts = Object.entries(all).sort((a, b) => ORDER[a[1].kind] - ORDER[b[1].kind]);
        showDeclared(all);
        for (const [name, p] of parts) await drawPart(name, p, key);
        followUrl(model);
        el.dataset.key = key;
        trace("board", "drawn");
      }).catch((err) => { el.dataset.error = String(err); console.error(err); });
      return queue;
    };
    const live = () => el.querySelectorAll(".wb-chart, .wb-map").forEach((e) => {
      e.dataset.live = model.get("live") ? "1" : "0";
    });
    model.on("change:tick", draw);  // one tick per refresh, even when the view key is unchanged
    model.on("change:live", live);
    await draw();
    live();
    // Print keeps the screen's layout (theme.css @media print), which the browser scales to
    // the paper: the charts were drawn at this width.
    const printScale = () => {
      const root = el.querySelector(".wb-root");
      const w = root && !window.matchMedia("print").matches ? root.offsetWidth : 0;
      if (w > 0) root.style.setProperty("--wb-screen-width", w + "px");
    };
    printScale();
    const ro = new ResizeObserver(() => {
      printScale();
      for (const st of Object.values(state)) {
        if (st.div && st.div.offsetWidth) P.Plots.resize(st.div);
      }
    });
    ro.observe(el);
    model.send({ event: "ready" });
    return () => ro.disconnect();
  },
};
