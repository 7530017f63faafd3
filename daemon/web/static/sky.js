// The sky page's chart (uPlot, vendored): octas over time, night periods shaded.
(function () {
  "use strict";
  var el = document.getElementById("sky-chart");
  var data = document.getElementById("sky-data");
  if (!el || !data || typeof uPlot === "undefined") { return; }
  var s = JSON.parse(data.textContent);
  var xs = s.points.map(function (p) { return Date.parse(p.t) / 1000; });
  var octas = s.points.map(function (p) { return p.octas; });
  var cloud = s.points.map(function (p) { return p.cloud_fraction === null ? null : p.cloud_fraction * 8; });
  var nights = s.nights.map(function (n) { return [Date.parse(n[0]) / 1000, Date.parse(n[1]) / 1000]; });
  var dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  var shade = {
    hooks: {
      drawClear: [function (u) {
        var ctx = u.ctx;
        ctx.save();
        ctx.fillStyle = dark ? "rgba(255,255,255,0.07)" : "rgba(0,0,40,0.08)";
        nights.forEach(function (n) {
          var x0 = u.valToPos(n[0], "x", true), x1 = u.valToPos(n[1], "x", true);
          ctx.fillRect(x0, u.bbox.top, Math.max(2, x1 - x0), u.bbox.height);
        });
        ctx.restore();
      }]
    }
  };
  var opts = {
    width: Math.max(300, el.clientWidth), height: 320, plugins: [shade],
    scales: { y: { range: [0, 8] } },
    axes: [{ stroke: dark ? "#ccc" : "#333" }, { stroke: dark ? "#ccc" : "#333", label: "octas" }],
    series: [{}, { label: "octas", stroke: "#1a6fb5", width: 2, points: { show: true } },
             { label: "cloud fraction × 8", stroke: "#999", dash: [4, 4] }]
  };
  el.setAttribute("data-rendered", "yes");
  new uPlot(opts, [xs, octas, cloud], el);
})();
