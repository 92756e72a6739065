// The dashboard works without this file. It adds two conveniences:
// copy buttons ([data-copy] names the id of the input to copy), and live filtering of lists
// (an input with data-filter="LIST_ID" hides the list's [data-filter-text] items that do not match;
// the same search also works without JavaScript, as a GET form).
(function () {
  "use strict";

  function copy(button) {
    var input = document.getElementById(button.getAttribute("data-copy"));
    if (!input) return;
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () {
        input.select(); document.execCommand("copy"); done();
      });
    } else {
      input.select();
      document.execCommand("copy");
      done();
    }
  }

  function filter(input) {
    var list = document.getElementById(input.getAttribute("data-filter"));
    if (!list) return;
    var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    list.querySelectorAll("[data-filter-text]").forEach(function (item) {
      var text = item.getAttribute("data-filter-text").toLowerCase();
      var match = words.every(function (word) { return text.indexOf(word) !== -1; });
      item.hidden = !match;
      if (match) shown += 1;
    });
    var empty = document.querySelector('[data-filter-empty="' + list.id + '"]');
    if (empty) empty.hidden = shown !== 0;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (button) copy(button);
  });
  document.addEventListener("input", function (event) {
    if (event.target.matches("[data-filter]")) filter(event.target);
  });
})();
