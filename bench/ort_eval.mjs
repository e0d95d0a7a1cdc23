// The ONNX Runtime side of bench/onnx_side_by_side.sh: accuracy and throughput of an ONNX model
// on the Fashion-MNIST test set, pixels scaled to [0, 1] as `shrink eval` feeds them.
//   node bench/ort_eval.mjs MODEL.onnx [--batch 256] [--threads 2] [--limit N]
import fs from 'node:fs';
import zlib from 'node:zlib';
import ort from 'onnxruntime-node';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const model = args[0];
const batch = option('--batch', 256);
const threads = option('--threads', 2);
const dir = process.env.FASHION_MNIST_DIR || '/usr/share/datasets/fashion-mnist';

const readIdx = (name) => {
  const raw = zlib.gunzipSync(fs.readFileSync(`${dir}/${name}`));
  const dims = raw[3];
  const shape = [];
  for (let i = 0; i < dims; i++) shape.push(raw.readUInt32BE(4 + 4 * i));
  return { shape, data: raw.subarray(4 + 4 * dims) };
};
const images = readIdx('t10k-images-idx3-ubyte.gz');
const labels = readIdx('t10k-labels-idx1-ubyte.gz').data;
const count = Math.min(option('--limit', labels.length), labels.length);
const pixels = images.shape[1] * images.shape[2];

const session = await ort.InferenceSession.create(model, {
  intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all',
});
const inputName = session.inputNames[0];
const outputName = session.outputNames[0];

const run = async (start, n) => {
  const x = new Float32Array(n * pixels);
  for (let i = 0; i < n * pixels; i++) x[i] = images.data[start * pixels + i] / 255;
  const out = await session.run({ [inputName]: new ort.Tensor('float32', x, [n, 1, images.shape[1], images.shape[2]]) });
  return out[outputName].data;
};

await run(0, Math.min(batch, count));  // warm-up
let correct = 0;
const cpu0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
for (let start = 0; start < count; start += batch) {
  const n = Math.min(batch, count - start);
  const logits = await run(start, n);
  const classes = logits.length / n;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < classes; k++) if (logits[i * classes + k] > logits[i * classes + best]) best = k;
    correct += best === labels[start + i] ? 1 : 0;
  }
}
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
// CPU seconds of the whole process (ONNX Runtime's threads included), user and system.
const cpu = process.cpuUsage(cpu0);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
console.log(JSON.stringify({
  peer: 'onnxruntime-node', model, batch, threads, samples: count,
  accuracy: correct / count, samples_per_s: count / seconds,
  cpu_seconds: cpuSeconds, samples_per_cpu_s: count / cpuSeconds,
}));
