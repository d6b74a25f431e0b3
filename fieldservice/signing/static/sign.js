// Signing page: draw with finger, pen or mouse (pointer events); strokes are kept as arrays of points
// {x, y, t} (canvas pixels, ms since the stroke began) and sent with the PNG from canvas.toDataURL().
(function () {
  "use strict";
  var form = document.getElementById("sign-form");
  var canvas = document.getElementById("signature-pad");
  if (!form || !canvas) { return; }
  var ctx = canvas.getContext("2d");
  var errorBox = document.getElementById("form-error");
  var strokes = [];
  var current = null;
  var started = 0;

  function resetCanvas() {
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.lineWidth = 2.5;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.strokeStyle = "#10204a";
  }

  function point(event) {
    var rect = canvas.getBoundingClientRect();
    var x = (event.clientX - rect.left) * (canvas.width / rect.width);
    var y = (event.clientY - rect.top) * (canvas.height / rect.height);
    return { x: Math.round(x * 10) / 10, y: Math.round(y * 10) / 10, t: Math.max(0, Math.round(performance.now() - started)) };
  }

  canvas.addEventListener("pointerdown", function (event) {
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    started = performance.now();
    errorBox.textContent = "";
    current = [point(event)];
    ctx.beginPath();
    ctx.moveTo(current[0].x, current[0].y);
  });
  canvas.addEventListener("pointermove", function (event) {
    if (!current) { return; }
    event.preventDefault();
    var p = point(event);
    if (current.length >= 5000) { return; }
    current.push(p);
    ctx.lineTo(p.x, p.y);
    ctx.stroke();
  });
  function endStroke(event) {
    if (!current) { return; }
    if (current.length === 1) {          // a dot
      ctx.fillStyle = ctx.strokeStyle;
      ctx.fillRect(current[0].x - 1, current[0].y - 1, 2.5, 2.5);
    }
    if (strokes.length < 500) { strokes.push(current); }
    current = null;
  }
  canvas.addEventListener("pointerup", endStroke);
  canvas.addEventListener("pointercancel", endStroke);

  document.getElementById("clear").addEventListener("click", function () {
    strokes = [];
    current = null;
    resetCanvas();
  });

  function showError(text) { errorBox.textContent = text; }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var name = form.elements.signer_name.value.trim();
    if (!name) { showError(form.dataset.needName); return; }
    if (strokes.length === 0) { showError(form.dataset.needSignature); return; }
    var body = {
      content_sha256: form.elements.content_sha256.value,
      signer_name: name,
      signature_png: canvas.toDataURL("image/png"),
      strokes: strokes,
      device_time: new Date().toISOString(),
      lang: form.elements.lang.value
    };
    var button = document.getElementById("submit");
    button.disabled = true;
    fetch(form.action, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body),
      credentials: "omit"
    }).then(function (response) {
      return response.json().then(function (data) {
        if (response.status === 201) {
          window.location.assign(form.dataset.doneUrl);
        } else {
          button.disabled = false;
          showError(data.detail || data.title || ("HTTP " + response.status));
        }
      });
    }).catch(function () {
      button.disabled = false;
      showError("network error");
    });
  });

  resetCanvas();
}());
