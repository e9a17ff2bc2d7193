/* The results page's search: filters the table's rows by employer name or USCC as one types.
   Without this script the form stays hidden and the whole table is shown; nothing is sent
   anywhere. Plain ES5, no framework, so any browser the public uses runs it. */
(function () {
  "use strict";
  var form = document.getElementById("search-form");
  var input = document.getElementById("search");
  var table = document.getElementById("results");
  if (!form || !input || !table) { return; }
  var rows = table.querySelectorAll("tbody tr[data-search]");
  var count = document.getElementById("search-count");
  var none = document.getElementById("search-none");
  function normal(value) { return value.replace(/\s+/g, "").toUpperCase(); }
  function filter() {
    var wanted = normal(input.value);
    var shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var match = !wanted || normal(rows[i].getAttribute("data-search")).indexOf(wanted) >= 0;
      rows[i].hidden = !match;
      if (match) { shown++; }
    }
    if (count) { count.textContent = wanted ? "找到 " + shown + " 条，共 " + rows.length + " 条" : ""; }
    if (none) { none.hidden = shown > 0; }
  }
  input.addEventListener("input", filter);
  form.hidden = false;
  filter();
})();
