// "/" focuses the pipeline search unless the user is already typing somewhere.
document.addEventListener("keydown", function (event) {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
  var target = event.target;
  var tag = target && target.tagName;
  if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable)) return;
  var search = document.getElementById("q");
  if (!search) return;
  event.preventDefault();
  search.focus();
  search.select();
});

// After a note is added, the timeline is replaced; keep the cursor ready for the next one.
document.addEventListener("htmx:afterSwap", function (event) {
  if (event.detail.target && event.detail.target.id === "timeline") {
    var box = document.getElementById("note-body");
    if (box && box.getAttribute("aria-invalid") === "true") box.focus();
  }
});
