#!/usr/bin/env python3
"""Plots .local/bench/scale.json (hack/bench-scale.sh) as an SVG: convergence against the floor,
and the controllers' idle RSS and CPU, each over the number of member clusters.

Usage: hack/plot-scale.py SCALE_JSON OUT_SVG   (standard library only)
"""

import json
import sys

W, H, PAD = 360, 240, 48
COLORS = {"floor": "#888888", "federated": "#1f77b4", "rss": "#2ca02c", "cpu": "#d62728"}


def panel(x0, title, xs, series, ylabel):
    """One line chart at horizontal offset x0; series: [(name, color, [y or None])]."""
    ys = [y for _, _, vals in series for y in vals if y is not None]
    ymax = max(ys) * 1.15 if ys else 1.0
    xmin, xmax = min(xs), max(xs)

    def px(x):
        return x0 + PAD + (x - xmin) / ((xmax - xmin) or 1) * (W - 2 * PAD)

    def py(y):
        return H - PAD + 0.0 - y / ymax * (H - 2 * PAD)

    out = [f'<text x="{x0 + W / 2}" y="20" text-anchor="middle" font-weight="bold">{title}</text>']
    out.append(f'<line x1="{x0 + PAD}" y1="{H - PAD}" x2="{x0 + W - PAD}" y2="{H - PAD}" stroke="black"/>')
    out.append(f'<line x1="{x0 + PAD}" y1="{PAD}" x2="{x0 + PAD}" y2="{H - PAD}" stroke="black"/>')
    for x in xs:
        out.append(f'<text x="{px(x)}" y="{H - PAD + 16}" text-anchor="middle">{x}</text>')
    for i in range(5):
        y = ymax * i / 4
        out.append(f'<text x="{x0 + PAD - 6}" y="{py(y) + 4}" text-anchor="end">{y:.0f}</text>')
    out.append(f'<text x="{x0 + W / 2}" y="{H - 8}" text-anchor="middle">member clusters</text>')
    out.append(
        f'<text x="{x0 + 12}" y="{H / 2}" text-anchor="middle" transform="rotate(-90 {x0 + 12} {H / 2})">{ylabel}</text>'
    )
    for k, (name, color, vals) in enumerate(series):
        pts = [(px(x), py(y)) for x, y in zip(xs, vals) if y is not None]
        out.append(
            f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in pts)}"/>'
        )
        out.extend(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{color}"/>' for a, b in pts)
        out.append(f'<text x="{x0 + PAD + 8}" y="{PAD + 14 * k}" fill="{color}">{name}</text>')
    return out


def main():
    data = json.load(open(sys.argv[1]))
    rows = data["rows"]
    xs = [r["members"] for r in rows]
    conv = [
        ("floor (plain client)", COLORS["floor"], [r["floor"].get("converged_s") for r in rows]),
        ("kubectl-fed", COLORS["federated"], [r["federated"].get("converged_s") for r in rows]),
    ]
    idle = [
        ("RSS MiB", COLORS["rss"], [r["idle"]["rss_mib"] for r in rows]),
        ("CPU % of a core", COLORS["cpu"], [r["idle"]["cpu_percent"] for r in rows]),
    ]
    count = data["deployments_per_cluster"]
    body = panel(0, f"{count} Deployments on every member", xs, conv, "seconds to converge")
    body += panel(W, "controllers at idle", xs, idle, "MiB / %")
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * W}" height="{H}" font-family="sans-serif" '
        f'font-size="11">\n<rect width="100%" height="100%" fill="white"/>\n'
        + "\n".join(body)
        + f'\n<text x="{2 * W - 4}" y="{H - 4}" text-anchor="end" fill="#666">taken {data["taken"]}, '
        f'{data["machine"]["cores"]} cores</text>\n</svg>\n'
    )
    open(sys.argv[2], "w").write(svg)


if __name__ == "__main__":
    main()
