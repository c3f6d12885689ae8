"""Browser-side probes of the data-key protocol, for the browser tests and the benchmark.

Every drawn part carries `data-part` and `data-key` (the view it shows); these scripts wait for
every part to show one new key, which is exactly "all charts updated".
"""

from __future__ import annotations


# Browser-side probe of the data-key protocol above: arms a timer at the user's action and
# records when every part carries one new key. Used by the browser tests and the benchmark.
READY_PROBE_JS = """(parts) => {
  const els = [...document.querySelectorAll('[data-part]')];
  const names = new Set(els.map(e => e.dataset.part));
  if (!parts.every(p => names.has(p))) return false;
  const keys = new Set(els.map(e => e.dataset.key || ''));
  if (keys.size !== 1 || keys.has('')) return false;
  return [...document.querySelectorAll('.wb-chart, .wb-map')].every(e => e.dataset.live === '1');
}"""  # every named part drawn, all of one view, every chart live
INTERACTION_PROBE_JS = """(old) => {
  // t0 is the user's action (change of a select, or a click), seen in the capture phase.
  window.__wbResult = null;
  window.__wbT0 = null;
  const start = () => { if (window.__wbT0 === null) window.__wbT0 = performance.now(); };
  document.addEventListener('change', start, {capture: true, once: true});
  document.addEventListener('click', start, {capture: true, once: true});
  const done = () => {
    const els = [...document.querySelectorAll('[data-part]')];
    const keys = new Set(els.map(e => e.dataset.key || ''));
    return els.length && keys.size === 1 && !keys.has(old) && !keys.has('');
  };
  const obs = new MutationObserver(() => {
    if (window.__wbT0 !== null && done()) {
      obs.disconnect();
      window.__wbResult = {ms: performance.now() - window.__wbT0,
                           key: document.querySelector('[data-part]').dataset.key};
    }
  });
  // the board stamps data-key on every part, and on itself last, once all are drawn
  obs.observe(document.body, {attributes: true, attributeFilter: ['data-key'], subtree: true});
}"""
