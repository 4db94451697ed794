// Empatia UI: draws the Vega-Lite charts of a page (and of every htmx fragment) from the
// JSON specs the server wrote beside them. Everything is served by Empatia itself.
(function () {
  "use strict";
  function draw(root) {
    if (typeof vegaEmbed !== "function") return;
    root.querySelectorAll(".vl[data-spec]").forEach(function (el) {
      if (el.dataset.drawn) return;
      var src = document.getElementById(el.dataset.spec);
      if (!src) return;
      el.dataset.drawn = "1";
      var spec = JSON.parse(src.textContent);
      // CSP-safe: expressions interpreted (no eval), styles from app.css (no inline <style>)
      vegaEmbed(el, spec, { actions: false, renderer: "svg", ast: true, defaultStyle: false,
                            tooltip: { disableDefaultStyle: true } })
        .then(function () { el.classList.add("drawn"); })
        .catch(function (err) {
          el.textContent = "This chart could not be drawn: " + err;
        });
    });
  }
  window.empatiaDraw = draw;
  document.addEventListener("DOMContentLoaded", function () {
    draw(document);
    if (window.htmx) htmx.onLoad(function (elt) { draw(elt); });
  });
})();
