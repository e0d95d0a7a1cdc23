#!/usr/bin/env python3
"""Huffman streams of .shrk files against the empirical entropy of their symbols (issue #11).

For every Huffman block (codes and index gaps of the quantized-*-huffman encodings, codes of the
quantized-*-pair-huffman ones; docs/file-format.md) of each file: the symbols decoded from the
block, the empirical entropy H of those single symbols, the stream's bytes against H, the
block's table (code lengths, or half-bit lengths for a pair block), stream and table against H
plus that table, the bits the file's code spends, and the bits of an unbounded Huffman code over
single symbols for the same counts (optimal among single-symbol prefix codes: when it equals the
file's bits, no such code comes closer to H; a pair block may spend fewer). Last, the bytes an
adaptive arithmetic coder (no table; symbol counts starting at 1/2 or 1, whichever is smaller,
plus 2 bytes to flush) would spend.

    python3 bench/huffman_redundancy.py FILE.shrk...
"""
import heapq
import json
import math
import struct
import sys


def read_block(payload, at, alphabet, done):
    """Decodes the Huffman block at `at` until done(symbols); returns (symbols, lengths, B, end)."""
    table_bytes = (alphabet + 1) // 2
    lengths = []
    for j in range(table_bytes):
        lengths += [payload[at + j] & 15, payload[at + j] >> 4]
    lengths = lengths[:alphabet]
    stream_bytes = struct.unpack('<I', payload[at + table_bytes:at + table_bytes + 4])[0]
    stream = payload[at + table_bytes + 4:at + table_bytes + 4 + stream_bytes]
    end = at + table_bytes + 4 + stream_bytes
    used = [s for s, length in enumerate(lengths) if length]
    symbols = []
    if len(used) == 1:
        while not done(symbols):
            symbols.append(used[0])
        return symbols, lengths, stream_bytes, end
    codes, code, previous = {}, 0, 0  # canonical, as DEFLATE
    for length, symbol in sorted((length, s) for s, length in enumerate(lengths) if length):
        code <<= length - previous
        previous = length
        codes[(length, code)] = symbol
        code += 1
    position = 0
    while not done(symbols):
        value, length = 0, 0
        while (length, value) not in codes:
            value = (value << 1) | ((stream[position // 8] >> (position % 8)) & 1)
            position += 1
            length += 1
        symbols.append(codes[(length, value)])
    return symbols, lengths, stream_bytes, end


def package_merge(weights, limit=15):
    """Optimal code lengths of at most `limit` bits, as huffman_lengths (same ties) computes them."""
    leaves = sorted(((w, (i,)) for i, w in enumerate(weights) if w), key=lambda item: item[0])
    lengths = [0] * len(weights)
    if len(leaves) == 1:
        lengths[leaves[0][1][0]] = 1
    if len(leaves) <= 1:
        return lengths
    items = leaves
    for _ in range(limit - 1):
        packages = [(items[i][0] + items[i + 1][0], items[i][1] + items[i + 1][1])
                    for i in range(0, len(items) - 1, 2)]
        items = sorted(leaves + packages, key=lambda item: item[0])  # stable: leaves first on ties
    for _, symbols in items[:2 * len(leaves) - 2]:
        for s in symbols:
            lengths[s] += 1
    return lengths


HALF_BIT_WEIGHTS = [0] + [round(2 ** (16 - q / 2)) for q in range(1, 32)]


def read_pair_block(payload, at, alphabet, count):
    """Decodes the pair block at `at`: returns (symbols, half-bit lengths, stream bytes, bits)."""
    table_bytes = (5 * alphabet + 7) // 8
    table = int.from_bytes(payload[at:at + table_bytes], 'little')
    half_bits = [(table >> (5 * s)) & 31 for s in range(alphabet)]
    lengths = package_merge([HALF_BIT_WEIGHTS[a] * HALF_BIT_WEIGHTS[b] if a and b else 0
                             for a in half_bits for b in half_bits])
    codes, code, previous = {}, 0, 0
    for length, pair in sorted((length, p) for p, length in enumerate(lengths) if length):
        code <<= length - previous
        previous = length
        codes[(length, code)] = pair
        code += 1
    stream = payload[at + table_bytes:]
    symbols, position = [], 0
    while len(symbols) < count:
        value, length = 0, 0
        while (length, value) not in codes:
            value = (value << 1) | ((stream[position // 8] >> (position % 8)) & 1)
            position += 1
            length += 1
        pair = codes[(length, value)]
        symbols += [pair // alphabet, pair % alphabet]
    return symbols[:count], half_bits, (position + 7) // 8, position


def blocks(path):
    data = open(path, 'rb').read()
    n = struct.unpack('<Q', data[:8])[0]
    header = json.loads(data[8:8 + n])
    encodings = json.loads(header['__metadata__']['shrink.encodings'])
    for name, entry in encodings.items():
        if not entry['encoding'].endswith('-huffman'):
            continue
        begin, end = header[name]['data_offsets']
        payload = data[8 + n + begin:8 + n + end]
        name_length = payload[0]
        fmt = payload[1:1 + name_length].decode()
        state_length = struct.unpack('<I', payload[1 + name_length:5 + name_length])[0]
        state = payload[5 + name_length:5 + name_length + state_length]
        bits = state[0] if fmt != 'pq' else max(1, (struct.unpack('<I', state[4:8])[0] - 1).bit_length())
        at = 5 + name_length + state_length
        elements = math.prod(entry['shape'])
        if '-delta8-' in entry['encoding']:
            kept = struct.unpack('<I', payload[at:at + 4])[0]
            gaps, lengths, stream_bytes, at = read_block(
                payload, at + 4, 256, lambda s: sum(1 for g in s if g) >= kept)
            yield name, 'gaps', 'single', gaps, 256, (len(lengths) + 1) // 2, stream_bytes, \
                sum(lengths[g] for g in gaps) if len([x for x in lengths if x]) > 1 else 0
        elif 'bitmap' in entry['encoding']:
            kept = sum(bin(b).count('1') for b in payload[at:at + (elements + 7) // 8])
            at += (elements + 7) // 8
        else:
            kept = elements
        if fmt == 'pq':
            continue  # one code per sub-vector: the count needs the groups; not needed here
        if entry['encoding'].endswith('-pair-huffman'):
            codes, half_bits, stream_bytes, spent = read_pair_block(payload, at, 2 ** bits, kept)
            yield name, 'codes', 'pairs', codes, 2 ** bits, (5 * len(half_bits) + 7) // 8, stream_bytes, spent
            continue
        codes, lengths, stream_bytes, at = read_block(payload, at, 2 ** bits, lambda s: len(s) >= kept)
        yield name, 'codes', 'single', codes, 2 ** bits, (len(lengths) + 1) // 2, stream_bytes, \
            sum(lengths[c] for c in codes) if len([x for x in lengths if x]) > 1 else 0


def huffman_bits(counts):
    heap = [(c, i) for i, c in enumerate(counts) if c]
    if len(heap) <= 1:
        return 0
    heapq.heapify(heap)
    total, next_id = 0, len(counts)
    while len(heap) > 1:
        a, b = heapq.heappop(heap), heapq.heappop(heap)
        total += a[0] + b[0]
        heapq.heappush(heap, (a[0] + b[0], next_id))
        next_id += 1
    return total


def adaptive_bits(symbols, alphabet):
    best = None
    for alpha in (0.5, 1.0):
        seen, bits = [0] * alphabet, 0.0
        for i, s in enumerate(symbols):
            bits -= math.log2((seen[s] + alpha) / (i + alpha * alphabet))
            seen[s] += 1
        best = bits if best is None else min(best, bits)
    return best


print(f"{'file':22s} {'tensor':13s} {'kind':5s} {'code':6s} {'symbols':>7s} {'H bytes':>9s} {'stream':>7s} "
      f"{'over H':>7s} {'table':>5s} {'over H+table':>12s} {'file bits':>9s} {'Huffman':>9s} {'adaptive AC':>11s}")
for path in sys.argv[1:]:
    for name, kind, code, symbols, alphabet, table, stream_bytes, spent in blocks(path):
        counts = [0] * alphabet
        for s in symbols:
            counts[s] += 1
        total = len(symbols)
        entropy = -sum(c * math.log2(c / total) for c in counts if c)
        over = 100 * (stream_bytes * 8 / entropy - 1) if entropy else 0.0
        over_table = 100 * ((stream_bytes + table) / (entropy / 8 + table) - 1) if entropy else 0.0
        print(f"{path.split('/')[-1]:22s} {name:13s} {kind:5s} {code:6s} {total:7d} {entropy / 8:9.1f} "
              f"{stream_bytes:7d} {over:+6.2f}% {table:5d} {over_table:+11.2f}% {spent:9d} "
              f"{huffman_bits(counts):9d} {adaptive_bits(symbols, alphabet) / 8 + 2:11.1f}")
