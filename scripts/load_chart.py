#!/usr/bin/env python3
"""Draws p99 move latency against concurrent games from the load generator's
JSON lines (one line per run, as scripts/load.sh writes them), as an SVG
with no dependency beyond Python's standard library; or, with --table,
prints the results as a Markdown table.

    python3 scripts/load_chart.py docs/load/results.jsonl docs/load/p99.svg
    python3 scripts/load_chart.py --table docs/load/results.jsonl
"""

import json
import math
import sys

WIDTH, HEIGHT = 640, 400
LEFT, RIGHT, TOP, BOTTOM = 70, 150, 40, 60
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]


def runs(path):
    with open(path) as lines:
        return [json.loads(line) for line in lines if line.strip()]


def played(results):
    return [run for run in results if run["idle_games"] == 0]


def table(results):
    print(
        "| store | games | moves/s | moves/s while all played | p50 ms | p99 ms | max ms "
        "| errors | server CPU "
        "| server µs per move | server KB written per move | generator µs per move "
        "| server RSS |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for run in played(results):
        latency = run["latency_ms"]
        cpu = run["server_cpu_percent"]
        rss = run["server_rss_bytes"]
        server_us = run.get("server_cpu_us_per_move")
        own_us = run.get("loadgen_cpu_us_per_move")
        written = run.get("server_written_bytes_per_move")
        window = run.get("window_moves_per_sec")
        print(
            f"| {run['label']} | {run['concurrent_games']:,} | {run['moves_per_sec']:,.0f} "
            f"| {'-' if window is None else f'{window:,.0f}'} "
            f"| {fmt(latency['p50'])} | {fmt(latency['p99'])} | {fmt(latency['max'])} "
            f"| {run['errors']} | {'-' if cpu is None else f'{cpu:.0f}%'} "
            f"| {'-' if server_us is None else f'{server_us:.0f}'} "
            f"| {'-' if written is None else f'{written / 1000:.1f}'} "
            f"| {'-' if own_us is None else f'{own_us:.0f}'} "
            f"| {'-' if rss is None else f'{rss / 1048576:.0f} MiB'} |"
        )
    for run in results:
        if run["idle_games"]:
            per = run["rss_per_connection_bytes"]
            print()
            print(
                f"Idle ({run['label']}): {run['idle_games'] * 2:,} players connected "
                f"({run['idle_games']:,} games waiting for a move), errors {run['errors']}, "
                f"server RSS {run['server_rss_bytes'] / 1048576:.0f} MiB "
                f"(empty {run['server_empty_rss_bytes'] / 1048576:.0f} MiB): "
                f"{'-' if per is None else f'{per:,} bytes'} per connection."
            )


def fmt(value):
    return "-" if value is None else f"{value:.2f}"


def chart(results, out):
    series = {}
    for run in played(results):
        if run["latency_ms"]["p99"] is not None:
            series.setdefault(run["label"], []).append(
                (run["concurrent_games"], run["latency_ms"]["p99"])
            )
    points = [point for line in series.values() for point in line]
    if not points:
        sys.exit("no run with latencies to draw")
    x_low = 10 ** math.floor(math.log10(min(x for x, _ in points)))
    x_high = 10 ** math.ceil(math.log10(max(x for x, _ in points)))
    y_low = 10 ** math.floor(math.log10(max(min(y for _, y in points), 0.01)))
    y_high = 10 ** math.ceil(math.log10(max(y for _, y in points)))
    # At least a decade on each axis (a run of one size, or latencies
    # that are all a power of ten, would leave none).
    x_high, y_high = max(x_high, x_low * 10), max(y_high, y_low * 10)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_at(value):
        return LEFT + plot_w * math.log10(value / x_low) / math.log10(x_high / x_low)

    def y_at(value):
        return TOP + plot_h * (1 - math.log10(value / y_low) / math.log10(y_high / y_low))

    svg = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="22" text-anchor="middle" font-size="14">'
        "p99 move to opponent's BoardUpdated, by concurrent games</text>",
    ]
    decade = x_low
    while decade <= x_high:
        x = x_at(decade)
        svg.append(f'<line x1="{x}" y1="{TOP}" x2="{x}" y2="{TOP + plot_h}" stroke="#ddd"/>')
        svg.append(f'<text x="{x}" y="{TOP + plot_h + 18}" text-anchor="middle">{decade:,.0f}</text>')
        decade *= 10
    decade = y_low
    while decade <= y_high:
        y = y_at(decade)
        svg.append(f'<line x1="{LEFT}" y1="{y}" x2="{LEFT + plot_w}" y2="{y}" stroke="#ddd"/>')
        svg.append(f'<text x="{LEFT - 6}" y="{y + 4}" text-anchor="end">{decade:g} ms</text>')
        decade *= 10
    target = y_at(10) if y_low <= 10 <= y_high else None
    if target is not None:
        svg.append(
            f'<line x1="{LEFT}" y1="{target}" x2="{LEFT + plot_w}" y2="{target}" '
            'stroke="#888" stroke-dasharray="4 4"/>'
        )
        svg.append(f'<text x="{LEFT + plot_w + 6}" y="{target + 4}" fill="#888">10 ms target</text>')
    svg.append(
        f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 15}" text-anchor="middle">'
        "concurrent games (log scale)</text>"
    )
    for n, (label, line) in enumerate(sorted(series.items())):
        colour = COLOURS[n % len(COLOURS)]
        line.sort()
        path = " ".join(f"{x_at(x):.1f},{y_at(y):.1f}" for x, y in line)
        svg.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for x, y in line:
            svg.append(f'<circle cx="{x_at(x):.1f}" cy="{y_at(y):.1f}" r="3" fill="{colour}"/>')
        legend_y = TOP + 20 * n + 10
        svg.append(
            f'<line x1="{LEFT + plot_w + 10}" y1="{legend_y + 30}" x2="{LEFT + plot_w + 30}" '
            f'y2="{legend_y + 30}" stroke="{colour}" stroke-width="2"/>'
        )
        svg.append(f'<text x="{LEFT + plot_w + 36}" y="{legend_y + 34}">{label}</text>')
    svg.append("</svg>")
    with open(out, "w") as file:
        file.write("\n".join(svg) + "\n")


def main(args):
    if args[:1] == ["--table"] and len(args) == 2:
        table(runs(args[1]))
    elif len(args) == 2:
        chart(runs(args[0]), args[1])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
