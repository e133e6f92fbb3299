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

// A failed htmx request must never look like nothing happened.
function showProblem(text) {
  var box = document.getElementById("problem");
  if (!box) {
    box = document.createElement("p");
    box.id = "problem";
    box.className = "flash problem";
    box.setAttribute("role", "alert");
    var main = document.getElementById("main");
    if (main) main.insertBefore(box, main.firstChild);
  }
  box.textContent = text;
}
document.addEventListener("htmx:responseError", function (event) {
  var status = event.detail.xhr.status;
  var messages = {
    400: "Your session ended or this page expired. Copy anything you typed, then reload (you may be asked to sign in again).",
    403: "You are not allowed to do that here (the project may have been reassigned). Reload to see its current state.",
    404: "That item no longer exists. Reload the page.",
    409: "Someone else changed this first. Reload to see the current state."
  };
  showProblem(messages[status] || ("The server could not do that (error " + status + "). Nothing was lost in this page; try again."));
});
document.addEventListener("htmx:sendError", function () {
  showProblem("The server could not be reached. Check your connection; your input is still on the page.");
});
document.addEventListener("htmx:afterRequest", function (event) {
  var box = document.getElementById("problem");
  if (box && event.detail.successful) box.remove();
});
