// ONNX Runtime's inference time of several ONNX models on the same random batch, timed in
// alternation (one session.run of each per repeat, so a machine that slows down affects all
// alike): the median and minimum milliseconds per model. Only session.run is timed.
//   node bench/ort_time.mjs [--batch 256] [--threads 2] [--repeats 15] MODEL.onnx...
import ort from 'onnxruntime-node';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const value = Number(args[i + 1]);
  args.splice(i, 2);
  return value;
};
const batch = option('--batch', 256);
const threads = option('--threads', 2);
const repeats = option('--repeats', 15);
if (args.length === 0) {
  console.error('error: give one or more ONNX models');
  process.exit(2);
}

const sessions = [];
for (const model of args)
  sessions.push(await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all',
  }));
// A random batch of each model's first input (batch axis set to --batch).
const feeds = sessions.map((session, k) => {
  const dims = session.inputMetadata[0].shape.slice(1);
  if (dims.some((d) => typeof d !== 'number')) {
    console.error(`error: ${args[k]}: input ${session.inputNames[0]} has symbolic axes besides the batch`);
    process.exit(2);
  }
  const shape = [batch, ...dims];
  const x = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < x.length; i++) x[i] = Math.random();
  return { [session.inputNames[0]]: new ort.Tensor('float32', x, shape) };
});
for (let k = 0; k < sessions.length; k++) await sessions[k].run(feeds[k]);  // warm-up
const times = sessions.map(() => []);
for (let r = 0; r < repeats; r++)
  for (let k = 0; k < sessions.length; k++) {
    const t0 = process.hrtime.bigint();
    await sessions[k].run(feeds[k]);
    times[k].push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
for (let k = 0; k < args.length; k++) {
  const sorted = times[k].sort((a, b) => a - b);
  console.log(JSON.stringify({
    model: args[k], batch, threads, repeats,
    median_ms: sorted[Math.floor(sorted.length / 2)], min_ms: sorted[0],
  }));
}
