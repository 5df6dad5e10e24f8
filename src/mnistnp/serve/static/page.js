// The drawing page: strokes on a canvas, sent as PNG to /api/predict for every model served,
// and each answer shown as it comes. No libraries: the page works with no network.
"use strict";

const pad = document.getElementById("pad");
const pen = pad.getContext("2d");
const statusLine = document.getElementById("status");
const panels = [];
let blank = true;
let drawing = null; // the last point of the stroke under way
let busy = false; // a prediction is on its way
let dirty = false; // the drawing changed while it was

function wipe() {
  pen.fillStyle = "#fff";
  pen.fillRect(0, 0, pad.width, pad.height);
  blank = true;
}

function point(event) {
  const box = pad.getBoundingClientRect();
  return [(event.clientX - box.left) * pad.width / box.width,
          (event.clientY - box.top) * pad.height / box.height];
}

function stroke(from, to) {
  pen.strokeStyle = "#111";
  pen.lineWidth = pad.width / 13; // about MNIST's pen once the digit is fitted into 20x20
  pen.lineCap = "round";
  pen.lineJoin = "round";
  pen.beginPath();
  pen.moveTo(from[0], from[1]);
  pen.lineTo(to[0], to[1]);
  pen.stroke();
  blank = false;
}

pad.addEventListener("pointerdown", (event) => {
  event.preventDefault();
  pad.setPointerCapture(event.pointerId);
  drawing = point(event);
  stroke(drawing, drawing); // a dot for a tap
  ask();
});
pad.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  const next = point(event);
  stroke(drawing, next);
  drawing = next;
  ask();
});
for (const name of ["pointerup", "pointercancel"]) {
  pad.addEventListener(name, () => {
    if (drawing) ask();
    drawing = null;
  });
}
document.getElementById("clear").addEventListener("click", () => {
  wipe();
  dirty = false;
  panels.forEach(resetPanel);
  say("Draw one digit, large, in the middle.");
});

function say(text, error = false) {
  statusLine.textContent = text;
  statusLine.classList.toggle("error", error);
}

// One request at a time per drawing: while one is out, later strokes only mark the drawing
// dirty, and the newest drawing goes when it returns, so a slow answer never piles up.
function ask() {
  if (blank) return;
  if (busy) {
    dirty = true;
    return;
  }
  busy = true;
  dirty = false;
  pad.toBlob(async (png) => {
    try {
      const answers = await Promise.all(panels.map((panel, i) => predict(png, i)));
      if (!blank) {
        answers.forEach((answer, i) => showAnswer(panels[i], answer));
        sayAnswers(answers);
      }
    } catch (error) {
      say(`The server did not answer (${error.message}).`, true);
    } finally {
      busy = false;
      if (dirty) ask();
    }
  }, "image/png");
}

async function predict(png, index) {
  const response = await fetch(`api/predict?model=${index}`, {
    method: "POST", headers: { "Content-Type": "image/png" }, body: png });
  return { status: response.status, body: await response.json() };
}

function showAnswer(panel, { status, body }) {
  if (status !== 200) {
    resetPanel(panel);
    say(body.error.replace(/^request body: /, ""), true);
    return;
  }
  const p = body.probabilities;
  panel.digit.textContent = body.label;
  panel.sure.textContent = `p = ${p[body.class].toFixed(2)}`;
  panel.bars.forEach((bar, c) => {
    bar.item.classList.toggle("top", c === body.class);
    bar.fill.style.width = `${(100 * p[c]).toFixed(1)}%`;
    bar.pct.textContent = `${(100 * p[c]).toFixed(1)}%`;
    bar.item.dataset.probability = p[c];
  });
  paintGrey(panel.seen, body.image.flat(), 28, 28);
  showInside(panel, body.activations);
  panel.timing.textContent = `answered in ${body.ms.toFixed(1)} ms on the server`;
}

// The answers beside the pad too, where a phone's reader sees them while drawing.
function sayAnswers(answers) {
  if (answers.some((a) => a.status !== 200)) return; // showAnswer has said what was wrong
  statusLine.classList.remove("error");
  statusLine.replaceChildren(...answers.flatMap(({ body }, i) => {
    const digit = document.createElement("b");
    digit.textContent = body.label;
    const name = panels.length > 1 ? `${panels[i].name}: ` : "It reads ";
    const sure = ` (p = ${body.probabilities[body.class].toFixed(2)})`;
    return [...(i ? ["; "] : []), name, digit, sure];
  }));
}

function resetPanel(panel) {
  panel.digit.textContent = "–";
  panel.sure.innerHTML = "&nbsp;";
  panel.bars.forEach((bar) => {
    bar.item.classList.remove("top");
    bar.fill.style.width = "0";
    bar.pct.textContent = "";
    delete bar.item.dataset.probability;
  });
  panel.seen.getContext("2d").clearRect(0, 0, 28, 28);
  panel.inside.replaceChildren();
  panel.timing.innerHTML = "&nbsp;";
}

function paintGrey(canvas, values, width, height) {
  const image = new ImageData(width, height);
  values.forEach((v, i) => {
    image.data.set([v, v, v, 255], 4 * i);
  });
  canvas.getContext("2d").putImageData(image, 0, 0);
}

function showInside(panel, shown) {
  if (shown.kind === "hidden") {
    // Each hidden layer as a strip of units, light where a unit fires, scaled to the layer's
    // strongest unit so a quiet layer still shows its pattern.
    const rows = shown.layers.map((layer, n) => {
      const top = Math.max(...layer.values, 1e-6);
      const grey = layer.values.map((v) => Math.round(255 * Math.max(v, 0) / top));
      const row = document.createElement("div");
      row.className = "layer-row";
      const label = document.createElement("span");
      label.textContent = `hidden layer ${n + 1}: ${layer.values.length} units`;
      const strip = document.createElement("canvas");
      strip.width = layer.values.length;
      strip.height = 1;
      paintGrey(strip, grey, layer.values.length, 1);
      row.append(label, strip);
      return row;
    });
    panel.inside.replaceChildren(...rows);
  } else if (shown.kind === "feature_maps") {
    const [count, height, width] = shown.shape;
    const pixels = Uint8Array.from(atob(shown.maps), (ch) => ch.charCodeAt(0));
    const grid = document.createElement("div");
    grid.className = "maps";
    for (let m = 0; m < count; m++) {
      const map = document.createElement("canvas");
      map.width = width;
      map.height = height;
      paintGrey(map, pixels.subarray(m * width * height, (m + 1) * width * height),
                width, height);
      grid.append(map);
    }
    panel.inside.replaceChildren(grid);
  }
}

function about(info) {
  const dense = info.layers.filter((l) => l.kind === "Dense");
  const convs = info.layers.filter((l) => l.kind === "Conv2D").length;
  const shape = convs ? `a CNN of ${convs} convolution${convs > 1 ? "s" : ""}`
    : [dense.length ? dense[0].config.in_features : info.input_shape.join("x"),
       ...dense.map((l) => l.config.out_features)].join("-");
  const parts = [shape, `${info.totals.parameters.toLocaleString("en")} parameters`];
  const accuracy = info.metrics.test_accuracy;
  if (typeof accuracy === "number") parts.push(`${(100 * accuracy).toFixed(2)}% on test`);
  return parts.join(", ");
}

function makePanel(info) {
  const node = document.getElementById("model-panel").content.firstElementChild.cloneNode(true);
  const get = (role) => node.querySelector(`[data-role="${role}"]`);
  node.querySelector(".model-name").textContent = info.file;
  node.querySelector(".model-about").textContent = about(info);
  get("inside-title").textContent = {
    hidden: "Hidden layers (each unit, light when it fires)",
    feature_maps: "First convolution's feature maps",
    none: "",
  }[info.shows];
  const panel = { node, name: info.file, digit: get("digit"), sure: get("sure"), seen: get("seen"),
                  inside: get("inside"), timing: get("timing"), bars: [] };
  info.classes.forEach((name, c) => {
    const item = document.createElement("li");
    item.dataset.class = c;
    item.innerHTML = '<span class="name"></span><span class="track"><span class="fill">' +
      '</span></span><span class="pct"></span>';
    item.querySelector(".name").textContent = name;
    get("bars").append(item);
    panel.bars.push({ item, fill: item.querySelector(".fill"), pct: item.querySelector(".pct") });
  });
  return panel;
}

async function start() {
  wipe();
  try {
    const first = await (await fetch("api/model")).json();
    const rest = await Promise.all(Array.from({ length: first.models - 1 },
      (_, i) => fetch(`api/model?model=${i + 1}`).then((r) => r.json())));
    const box = document.getElementById("models");
    for (const info of [first, ...rest]) {
      const panel = makePanel(info);
      panels.push(panel);
      box.append(panel.node);
    }
    document.body.dataset.ready = "yes";
  } catch (error) {
    say(`Could not reach the server (${error.message}).`, true);
  }
}

start();
