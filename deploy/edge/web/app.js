// Score the test rows with onnxruntime-web. The result is also kept in window.edgeDone (a Promise) for the
// headless check in helpers/edge/browser.py, which compares it with onnxruntime in Python.
"use strict";

ort.env.wasm.wasmPaths = new URL("ort/", window.location.href).href; // local files, never a CDN
ort.env.wasm.numThreads = 1; // a plain page is not cross-origin isolated: one thread, no workers
ort.env.wasm.proxy = false;
ort.env.logLevel = "error";

const SINGLE_ROW_REPEATS = 50;

function show(text, isError = false) {
  const status = document.getElementById("status");
  status.textContent = text;
  status.className = isError ? "error" : "";
}

function renderTable(rows, labels, probabilities, truth, shown = 10) {
  const table = document.getElementById("predictions");
  table.innerHTML = "<tr><th>row</th><th>p(class 1)</th><th>predicted</th><th>true</th></tr>";
  for (let i = 0; i < Math.min(shown, rows.length); i += 1) {
    const tr = document.createElement("tr");
    if (labels[i] !== truth[i]) tr.className = "wrong";
    for (const value of [i, probabilities[2 * i + 1].toFixed(4), labels[i], truth[i]]) {
      const td = document.createElement("td");
      td.textContent = String(value);
      tr.appendChild(td);
    }
    table.appendChild(tr);
  }
}

async function scoreTestRows() {
  const started = performance.now();
  const [modelBytes, data] = await Promise.all([
    fetch("model.onnx").then((r) => r.arrayBuffer()),
    fetch("rows.json").then((r) => r.json()),
  ]);
  const session = await ort.InferenceSession.create(new Uint8Array(modelBytes), { executionProviders: ["wasm"] });
  const loaded = performance.now();
  const n = data.rows.length, width = data.rows[0].length;
  const input = new ort.Tensor("float32", Float32Array.from(data.rows.flat()), [n, width]);
  const output = await session.run({ [session.inputNames[0]]: input });
  const scored = performance.now();
  const one = new ort.Tensor("float32", Float32Array.from(data.rows[0]), [1, width]);
  for (let i = 0; i < SINGLE_ROW_REPEATS; i += 1) await session.run({ [session.inputNames[0]]: one });
  const single = (performance.now() - scored) / SINGLE_ROW_REPEATS;
  const probabilities = Array.from(output.probabilities.data);
  const labels = Array.from(output.label.data, Number);
  const correct = labels.filter((label, i) => label === data.labels[i]).length;
  renderTable(data.rows, labels, probabilities, data.labels);
  show(`${data.model}: ${n} test rows scored in ${(scored - loaded).toFixed(1)} ms, ` +
       `accuracy ${(correct / n).toFixed(4)} (one row: ${single.toFixed(3)} ms; loading took ` +
       `${(loaded - started).toFixed(0)} ms). onnxruntime-web ${ort.env.versions.web}.`);
  return { rows: n, probabilities, labels, correct, version: ort.env.versions.web,
           loadMs: loaded - started, batchMs: scored - loaded, singleRowMs: single };
}

window.edgeDone = scoreTestRows().catch((error) => {
  show(`Could not score the rows: ${error}`, true);
  return { error: String(error) };
});
