"""A text summary of py-spy's collapsed stacks: where the gateway worker spends its time."""

import re
from collections import Counter
from pathlib import Path

from host import ROOT


def summarise_profile(raw: Path, top: int = 25) -> str:
    """Self time by line and by package, and inclusive time by function, from py-spy's
    collapsed stacks. Frames every sample passes through (the server's entry) are left out."""
    own: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_short(f) for f in stack.split(";")]
        own[frames[-1]] += n
        packages[_package(frames[-1])] += n
        for function in {re.sub(r":\d+\)$", ")", f) for f in frames}:
            inclusive[function] += n
    if not total:
        return "  (no samples)"

    def share(n: int) -> str:
        return f"{100 * n / total:5.1f}%"

    widest = max(inclusive.values())
    lines = [f"  {total} samples", "  self time by package:"]
    lines += [f"    {share(n)}  {name}" for name, n in packages.most_common(12)]
    lines.append("  self time by line (native code counts to the line that called it):")
    lines += [f"    {share(n)}  {name}" for name, n in own.most_common(top)]
    lines.append("  inclusive time by function:")
    lines += [
        f"    {share(n)}  {name}" for name, n in inclusive.most_common() if n < 0.98 * widest
    ][:top]
    return "\n".join(lines)


def _package(frame: str) -> str:
    match = re.search(r"\(([^/):]+)(/|\.py)", frame)
    return match.group(1) if match else frame


def _short(frame: str) -> str:
    # "func (/x/site-packages/pkg/mod.py:123)" -> "func (pkg/mod.py:123)"
    return re.sub(
        r"\((?:.*/site-packages/|.*/lib/python3\.\d+/|" + re.escape(f"{ROOT}/") + ")", "(", frame
    )
