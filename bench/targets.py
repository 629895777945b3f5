"""Benchmark part: each target of issue 13 with its figures from one run, met or missed."""

from __future__ import annotations

FORMATS = ("CSV", "CSV-Unicode")


def targets(sizes: list[int], figures: dict) -> list[list[str]]:
    """Each target of issue 13 with its figures from this run, met or missed."""
    small, large = min(sizes), max(sizes)
    checks: list[list[str]] = []

    def check(target: str, measured: str, met: bool) -> None:
        checks.append([target, measured, "met" if met else "**missed**"])

    for fmt in FORMATS:
        ours_small, ours_large = figures["ours", fmt, small], figures["ours", fmt, large]
        per_row = (ours_large["seconds"] / large) / (ours_small["seconds"] / small)
        check(f"{fmt}: time per row at {large:,} <= 1.1x {small:,}", f"{per_row:.2f}x", per_row <= 1.1)
        peak, peak_ratio = ours_large["peak_mib"], ours_large["peak_mib"] / ours_small["peak_mib"]
        check(f"{fmt}: peak RSS at {large:,} <= 1 GiB", f"{peak:,.0f} MiB", peak <= 1024)
        check(f"{fmt}: peak RSS at {large:,} <= 1.1x {small:,}", f"{peak_ratio:.2f}x", peak_ratio <= 1.1)
        for size in [s for s in sizes if s != small] or [small]:
            baseline = figures["baseline", fmt, size]
            ratio = figures["ours", fmt, size]["seconds"] / baseline["seconds"]
            alone = baseline["read_csv_seconds"] / baseline["seconds"]
            check(
                f"{fmt}: package -> table at {size:,} <= 0.75x baseline",
                f"{ratio:.2f}x (DuckDB's read_csv alone, on the extracted file: {alone:.2f}x)",
                ratio <= 0.75,
            )
    scaling = figures["delta10k", large]["seconds"] / figures["delta10k", small]["seconds"]
    check(f"10k delta into {large:,} <= 2x into {small:,}", f"{scaling:.2f}x", scaling <= 2.0)
    share = figures["delta1pct", large]["seconds"] / figures["ours", "CSV", large]["seconds"]
    check(f"1% delta of {large:,} <= 10% of its full reload", f"{share:.1%}", share <= 0.10)
    catalog = figures["catalog"]
    ratio = catalog["wall"] / catalog["ideal"]
    check("whole catalog <= 1.25x the pool's ideal", f"{ratio:.2f}x", ratio <= 1.25)
    worst = catalog["latency_max"]
    check(
        "Succeeded -> download start <= 15 s (p50, max)",
        f"{catalog['latency_p50']:.1f}, {worst:.1f} s",
        worst <= 15,
    )
    return checks
