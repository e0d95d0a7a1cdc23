// Runs one ONNX model in ONNX Runtime on one tensor, for tests that compare ONNX Runtime with
// shrink (tests/io/onnx_runtime_roundtrip_test.cpp):
//   node bench/ort_run.mjs MODEL.onnx INPUT.npy OUTPUT.npy [--threads N]
// feeds INPUT to the model's first input and writes its first output. Both .npy files are
// float32, little-endian, C order. `node bench/ort_run.mjs --version` prints the runtime's version
// (a cheap check that onnxruntime-node is installed and loads).
// Exit codes follow the shrink CLI: 2 for bad input (arguments, files, a model ONNX Runtime
// rejects), 1 for anything else.
import fs from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';

class BadInput extends Error {}

const usage = 'usage: node bench/ort_run.mjs MODEL.onnx INPUT.npy OUTPUT.npy [--threads N]';
const kMagic = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);  // "\x93NUMPY"

function parseArgs(argv) {
  const positional = [];
  let threads = 1;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--threads') {
      const value = argv[++i];
      threads = Number(value);
      if (!Number.isInteger(threads) || threads < 1) {
        throw new BadInput(`--threads needs a positive integer, got '${value ?? ''}'`);
      }
    } else if (argv[i].startsWith('--')) {
      throw new BadInput(`unknown option '${argv[i]}'\n${usage}`);
    } else {
      positional.push(argv[i]);
    }
  }
  if (positional.length !== 3) {
    throw new BadInput(`expected 3 paths, got ${positional.length}\n${usage}`);
  }
  const [model, input, output] = positional;
  return { model, input, output, threads };
}

// Versions 1.0 to 3.0: the header length is a u16 in 1.0 and a u32 after.
function readNpy(file) {
  let bytes;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new BadInput(`cannot read ${file}: ${e.message}`);
  }
  if (!bytes.subarray(0, 6).equals(kMagic)) {
    throw new BadInput(`${file} is not a .npy file (no \\x93NUMPY magic)`);
  }
  if (bytes.length < 10) throw new BadInput(`${file} is truncated inside its header`);
  const major = bytes[6];
  if (major < 1 || major > 3) throw new BadInput(`${file}: .npy version ${major} is not supported`);
  const lengthBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lengthBytes) throw new BadInput(`${file} is truncated inside its header`);
  const headerLength = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const dataStart = 8 + lengthBytes + headerLength;
  if (bytes.length < dataStart) throw new BadInput(`${file} is truncated inside its header`);
  const header = bytes.toString(major === 3 ? 'utf8' : 'latin1', 8 + lengthBytes, dataStart);

  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shapeText) {
    throw new BadInput(`${file} has a malformed .npy header: ${header.trim()}`);
  }
  if (descr[1] !== '<f4') {
    throw new BadInput(`${file} holds dtype '${descr[1]}', expected little-endian float32 ('<f4')`);
  }
  if (fortran[1] === 'True') throw new BadInput(`${file} is in Fortran order, expected C order`);
  const shape = shapeText[1].split(',').map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new BadInput(`${file} has a malformed shape (${shapeText[1]})`);
  }

  const count = shape.reduce((a, b) => a * b, 1);
  if (bytes.length - dataStart !== count * 4) {
    throw new BadInput(
      `${file} holds ${bytes.length - dataStart} data bytes, shape [${shape}] needs ${count * 4}`);
  }
  // Copy so the floats are 4-byte aligned whatever the header length.
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = bytes.readFloatLE(dataStart + 4 * i);
  return { shape, data };
}

// Version 1.0, header padded so the data starts on a 64-byte boundary; written to a temporary
// file and renamed, so a failure never leaves half a file at the output path.
function writeNpy(file, shape, data) {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const out = Buffer.alloc(10 + header.length + 4 * data.length);
  kMagic.copy(out, 0);
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, 'latin1');
  const dataStart = 10 + header.length;
  for (let i = 0; i < data.length; i++) out.writeFloatLE(data[i], dataStart + 4 * i);
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    fs.writeFileSync(temporary, out);
    fs.renameSync(temporary, file);
  } catch (e) {
    fs.rmSync(temporary, { force: true });
    throw new BadInput(`cannot write ${file}: ${e.message}`);
  }
}

async function main(argv) {
  if (argv.length === 1 && argv[0] === '--version') {
    console.log(`onnxruntime-node ${ort.env.versions.node ?? ort.env.versions.common}`);
    return;
  }
  const args = parseArgs(argv);
  const input = readNpy(args.input);
  let session;
  try {
    session = await ort.InferenceSession.create(args.model, {
      intraOpNumThreads: args.threads, interOpNumThreads: 1, graphOptimizationLevel: 'all',
    });
  } catch (e) {
    throw new BadInput(`ONNX Runtime cannot load ${args.model}: ${e.message}`);
  }
  const inputName = session.inputNames[0];
  const outputName = session.outputNames[0];
  let result;
  try {
    result = await session.run({ [inputName]: new ort.Tensor('float32', input.data, input.shape) });
  } catch (e) {
    throw new BadInput(
      `ONNX Runtime cannot run ${args.model} on ${args.input} (shape [${input.shape}]): ${e.message}`);
  }
  const output = result[outputName];
  if (output.type !== 'float32') {
    throw new BadInput(
      `${args.model}: output '${outputName}' is ${output.type}, only float32 can be written`);
  }
  writeNpy(args.output, output.dims, output.data);
}

try {
  await main(process.argv.slice(2));
} catch (e) {
  console.error(`error: ${e.message}`);
  process.exit(e instanceof BadInput ? 2 : 1);
}
