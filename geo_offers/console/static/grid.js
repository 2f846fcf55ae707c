// Week grid helpers: clear it, or tick shop hours (Monday to Saturday, 9:00 to 18:00). Each box stays a plain
// checkbox with its own label, so the grid works by keyboard and without this script.
(function () {
  "use strict";
  var boxes = document.querySelectorAll("table.grid input[name=hours]");
  function set(test) { boxes.forEach(function (box) { var p = box.value.split("-"); box.checked = test(+p[0], +p[1]); }); }
  var clear = document.getElementById("grid-clear");
  var business = document.getElementById("grid-business");
  if (clear) { clear.addEventListener("click", function () { set(function () { return false; }); }); }
  if (business) { business.addEventListener("click", function () { set(function (d, h) { return d < 6 && h >= 9 && h < 18; }); }); }
})();
