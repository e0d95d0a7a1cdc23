# Shared by the side-by-side benchmark scripts (source it): a scratch directory removed on exit,
# the median of numbers, and one field of a report read from stdin.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
median() { python3 -c 'import sys, statistics; print(statistics.median(float(v) for v in sys.argv[1:]))' "$@"; }
# A report file is one JSON document; node prints one JSON object on its last line.
get() { python3 -c '
import json, sys
text = sys.stdin.read().strip()
try:
    doc = json.loads(text)
except ValueError:
    doc = json.loads(text.splitlines()[-1])
print(doc[sys.argv[1]])' "$1"; }
