"""The benchmarks' page makers still render pages with the simulator they borrow it from."""

from __future__ import annotations

import orjson

from bench import diff_throughput, json_hot_path


def test_json_hot_path_renders_github_pages() -> None:
    """bench.json_hot_path renders a GitHub-shaped page, and the 1% changed one differs."""
    same, moved = json_hot_path.make_pages(1)
    assert len(orjson.loads(same[0])["workflow_runs"]) == json_hot_path.RUNS
    assert same[0] != moved[0]


def test_diff_throughput_renders_every_vendor() -> None:
    """bench.diff_throughput renders a page for each vendor it measures."""
    for vendor in diff_throughput.SHAPES:
        same, moved = diff_throughput.make_pages(vendor, 1)
        assert same and moved
