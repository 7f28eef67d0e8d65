#!/usr/bin/env python3
"""Summarises timing samples for bench/token_timing.sh.

Reads CSV lines `kind,ns` (a header line is skipped) from the files given,
and prints a Markdown section: per kind the count, median, p90, p99 and
interquartile range; then, for each pair of kinds, the difference of the
medians (absolute and relative to the pooled IQR), the Mann-Whitney U test
(normal approximation, two-sided p) and the two-sample Kolmogorov-Smirnov
statistic D with its asymptotic p. Standard library only.

usage: timing_stats.py TITLE samples.csv
"""

import math
import sys
from collections import defaultdict


def pct(sorted_xs, q):
    """Linear-interpolated percentile, q in [0, 100]."""
    if not sorted_xs:
        return float("nan")
    k = (len(sorted_xs) - 1) * q / 100.0
    f, c = math.floor(k), math.ceil(k)
    if f == c:
        return sorted_xs[int(k)]
    return sorted_xs[f] + (sorted_xs[c] - sorted_xs[f]) * (k - f)


def mann_whitney(a, b):
    """U of a, z, two-sided p (normal approximation with tie correction)."""
    pooled = sorted([(x, 0) for x in a] + [(x, 1) for x in b])
    ranks = [0.0] * len(pooled)
    ties = 0.0
    i = 0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        r = (i + j) / 2.0 + 1
        for k in range(i, j + 1):
            ranks[k] = r
        t = j - i + 1
        ties += t**3 - t
        i = j + 1
    n1, n2 = len(a), len(b)
    r1 = sum(r for r, (_, g) in zip(ranks, pooled) if g == 0)
    u1 = r1 - n1 * (n1 + 1) / 2.0
    mu = n1 * n2 / 2.0
    n = n1 + n2
    sigma = math.sqrt(n1 * n2 / 12.0 * ((n + 1) - ties / (n * (n - 1))))
    z = (u1 - mu) / sigma if sigma else 0.0
    p = math.erfc(abs(z) / math.sqrt(2))
    return u1, z, p


def ks(a, b):
    """Two-sample KS statistic D and its asymptotic p."""
    a, b = sorted(a), sorted(b)
    i = j = 0
    d = 0.0
    while i < len(a) and j < len(b):
        x = min(a[i], b[j])
        while i < len(a) and a[i] <= x:
            i += 1
        while j < len(b) and b[j] <= x:
            j += 1
        d = max(d, abs(i / len(a) - j / len(b)))
    en = math.sqrt(len(a) * len(b) / (len(a) + len(b)))
    lam = (en + 0.12 + 0.11 / en) * d
    p = 2 * sum((-1) ** (k - 1) * math.exp(-2 * k * k * lam * lam) for k in range(1, 101))
    return d, max(0.0, min(1.0, p))


def us(ns):
    return f"{ns / 1000:.1f}"


def main():
    title, paths = sys.argv[1], sys.argv[2:]
    samples = defaultdict(list)
    for path in paths:
        with open(path) as f:
            for line in f:
                kind, _, value = line.strip().partition(",")
                if not value or not value.isdigit():
                    continue
                samples[kind].append(int(value))
    kinds = sorted(samples)
    print(f"### {title}\n")
    print("| kind | n | median µs | p90 µs | p99 µs | IQR µs | mean µs |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for k in kinds:
        xs = sorted(samples[k])
        iqr = pct(xs, 75) - pct(xs, 25)
        mean = sum(xs) / len(xs)
        print(
            f"| {k} | {len(xs)} | {us(pct(xs, 50))} | {us(pct(xs, 90))} | "
            f"{us(pct(xs, 99))} | {us(iqr)} | {us(mean)} |"
        )
    print()
    print(
        "| pair | Δ median µs | Δ median / pooled IQR | Mann-Whitney z | p | "
        "P(a<b) | KS D | KS p |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for i, a in enumerate(kinds):
        for b in kinds[i + 1 :]:
            xa, xb = sorted(samples[a]), sorted(samples[b])
            dmed = pct(xa, 50) - pct(xb, 50)
            pooled = sorted(xa + xb)
            iqr = pct(pooled, 75) - pct(pooled, 25)
            u, z, p = mann_whitney(xa, xb)
            # The probability that a sample of `a` is below one of `b`
            # (the common-language effect size): 0.5 means no difference.
            below = 1 - u / (len(xa) * len(xb))
            d, kp = ks(xa, xb)
            print(
                f"| {a} vs {b} | {dmed / 1000:+.2f} | {dmed / iqr if iqr else 0:+.3f} | "
                f"{z:+.2f} | {p:.3g} | {below:.3f} | {d:.3f} | {kp:.3g} |"
            )
    print()


if __name__ == "__main__":
    main()
