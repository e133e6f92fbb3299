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

// Drag-and-drop upload with a progress bar per file; each file is its own request, so one refusal
// never stops the others. Without JavaScript the form posts all files at once.
(function () {
  function setup(zone) {
    var input = zone.querySelector("input[type=file]");
    var list = zone.querySelector(".uploads");
    var token = zone.querySelector("input[name=csrf_token]").value;
    function send(file) {
      var row = document.createElement("li");
      var label = document.createElement("span");
      label.textContent = file.name + " ";
      var bar = document.createElement("progress");
      bar.max = 100; bar.value = 0;
      var note = document.createElement("span");
      note.className = "upload-note";
      row.appendChild(label); row.appendChild(bar); row.appendChild(note);
      list.appendChild(row);
      var data = new FormData();
      data.append("files", file);
      data.append("csrf_token", token);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", zone.action);
      xhr.setRequestHeader("HX-Request", "true");
      xhr.setRequestHeader("X-CSRFToken", token);
      xhr.upload.onprogress = function (e) { if (e.lengthComputable) bar.value = Math.round(100 * e.loaded / e.total); };
      xhr.onload = function () {
        bar.value = 100;
        if (xhr.status === 200) {
          note.textContent = " stored";
          row.className = "ok";
          document.body.dispatchEvent(new Event("documents-changed"));
        } else {
          var holder = document.createElement("div");
          holder.innerHTML = xhr.responseText;
          var err = holder.querySelector(".error");
          note.textContent = " " + (err ? err.textContent.trim() : "refused (error " + xhr.status + ")");
          row.className = "error";
        }
      };
      xhr.onerror = function () { note.textContent = " failed: the server could not be reached"; row.className = "error"; };
      xhr.send(data);
    }
    function take(files) { for (var i = 0; i < files.length; i++) send(files[i]); }
    zone.addEventListener("dragover", function (e) { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", function () { zone.classList.remove("over"); });
    zone.addEventListener("drop", function (e) { e.preventDefault(); zone.classList.remove("over"); take(e.dataTransfer.files); });
    input.addEventListener("change", function () { take(input.files); input.value = ""; });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var zone = document.getElementById("dropzone");
    if (zone) setup(zone);
  });
})();
