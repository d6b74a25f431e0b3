// The customer's signature on a quote's written repair agreement (R-REP-8): draw with finger or mouse; on
// "accept" the drawing goes into the form's signature_png field as a PNG data URL; the form posts normally.
(function () {
  "use strict";
  var form = document.getElementById("consent-form");
  var canvas = document.getElementById("signature-pad");
  if (!form || !canvas) { return; }
  var ctx = canvas.getContext("2d");
  var drawing = false;
  var drawn = false;

  function reset() {
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.lineWidth = 2.5;
    ctx.lineCap = "round";
    ctx.strokeStyle = "#10204a";
    drawn = false;
  }

  function at(event) {
    var box = canvas.getBoundingClientRect();
    return { x: (event.clientX - box.left) * canvas.width / box.width,
             y: (event.clientY - box.top) * canvas.height / box.height };
  }

  canvas.addEventListener("pointerdown", function (event) {
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    var p = at(event);
    drawing = true;
    ctx.beginPath();
    ctx.moveTo(p.x, p.y);
  });
  canvas.addEventListener("pointermove", function (event) {
    if (!drawing) { return; }
    var p = at(event);
    ctx.lineTo(p.x, p.y);
    ctx.stroke();
    drawn = true;
  });
  ["pointerup", "pointercancel"].forEach(function (name) {
    canvas.addEventListener(name, function () { drawing = false; });
  });
  document.getElementById("clear-signature").addEventListener("click", reset);

  form.addEventListener("submit", function (event) {
    var accepting = event.submitter && event.submitter.value === "accepted";
    if (accepting && !drawn) {
      event.preventDefault();
      document.getElementById("form-error").textContent = canvas.dataset.needSignature;
      return;
    }
    form.elements.signature_png.value = drawn ? canvas.toDataURL("image/png").split(",")[1] : "";
  });

  reset();
}());
