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
      s.addEventListener("change", () =>
        model.send({ event: "select", name: s.dataset.control, value: s.value }));
    });
    el.addEventListener("click", (ev) => {
      const t = ev.target.closest && ev.target.closest("[data-pick]");
      if (t) model.send({ event: "click", value: t.dataset.pick });
    });
    const P = await plotly();
    const state = {};
    let optionsRev = null;

    const applyControls = () => {
      const options = model.get("options");
      const rev = JSON.stringify(Object.keys(options).map((k) => [k, options[k].length,
        (options[k][0] || [])[1], (options[k][options[k].length - 1] || [])[1]]));
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
    const ro = new ResizeObserver(() => {
      for (const st of Object.values(state)) {
        if (st.div && st.div.offsetWidth) P.Plots.resize(st.div);
      }
    });
    ro.observe(el);
    model.send({ event: "ready" });
    return () => ro.disconnect();
  },
};
