"""Parses Prometheus text exposition (stdin) with prometheus_client's parser; prints JSON.

Output: a list of families, each {name, type, help, samples: [{name, labels, value}]}.
A parse error exits 1 with the parser's message on stderr.
"""
import json
import math
import sys

from prometheus_client.parser import text_string_to_metric_families


def number(v):
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return v


def main():
    text = sys.stdin.read()
    out = []
    for f in text_string_to_metric_families(text):
        out.append({
            "name": f.name,
            "type": f.type,
            "help": f.documentation,
            "samples": [{"name": s.name, "labels": s.labels, "value": number(s.value)} for s in f.samples],
        })
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
