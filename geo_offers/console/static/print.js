// The Art. 30 record's print button (no inline script under the console's Content-Security-Policy).
(function () {
  "use strict";
  var button = document.getElementById("print-page");
  if (button) { button.addEventListener("click", function () { window.print(); }); }
})();
