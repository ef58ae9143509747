// Select-all for bulk actions; the page works without it.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var all = document.querySelector("[data-select-all]");
  if (!all) { return; }
  var boxes = document.querySelectorAll('input[type="checkbox"][form="bulk"][name="item"]');
  all.closest("[hidden]") && all.closest("[hidden]").removeAttribute("hidden");
  all.addEventListener("change", function () {
    boxes.forEach(function (box) { box.checked = all.checked; });
  });
  boxes.forEach(function (box) {
    box.addEventListener("change", function () {
      var checked = Array.prototype.filter.call(boxes, function (b) { return b.checked; }).length;
      all.checked = checked === boxes.length;
      all.indeterminate = checked > 0 && checked < boxes.length;
    });
  });
});
