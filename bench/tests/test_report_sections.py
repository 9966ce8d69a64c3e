"""What BENCHMARKS.md says about a burst that ran into its limit, and about the open loop's late sends."""

from __future__ import annotations

from bench import burst_phase, report_sections


def burst_figures() -> dict:
    cut = {
        "companies": 200,
        "workers": 1,
        "replied": 47,
        "complete": False,
        "limit_s": 75.0,
        "seconds_to_last": None,
        "replies_per_s": 0.63,
        "ack_ms": 80.0,
        "model_calls": 48,
        "model_in_flight_max": 1,
        "worker_rss_mb": {"registered": 120.0, "peak": 131.5, "end": 131.0},
    }
    done = {**cut, "companies": 40, "replied": 40, "complete": True, "seconds_to_last": 63.2}
    done["replies_per_s"] = 0.63
    return {
        "burst": {
            "model_seconds": 1.5,
            "limit_s": 75.0,
            "engine_concurrency": "unset",
            "cases": [done, cut, burst_phase.skipped(1000, 1, cut)],
        }
    }


def test_a_cut_case_reads_as_more_than_the_limit_with_how_many_replied():
    rows = report_sections.burst_rows(burst_figures())

    assert rows[0][1].startswith("last reply after 63.2 s (0.63 replies/s)")
    assert rows[1][1].startswith("> 75 s, 47 of 200 replied")
    assert "not run: 200 companies already ran past the limit on 1 worker(s)" in rows[2][1]
    assert "about 1,587 s" in rows[2][1]


def test_the_burst_table_has_a_line_per_case():
    lines = report_sections.burst_section(burst_figures())

    table = [line for line in lines if line.startswith("| ") and line[2].isdigit()]
    assert len(table) == 3
    assert "| > 75 |" in table[1]


def test_late_sends_in_the_open_loop_are_counted_in_the_method():
    figures = {
        "sweep": {
            "gthread": [
                {"offered_per_s": 100, "rate_per_s": 99.0, "late": 0},
                {"offered_per_s": 200, "rate_per_s": 120.0, "late": 30},
            ]
        }
    }

    text = " ".join(report_sections.method_section(figures))

    assert "30 requests went out late, 0 of them at offered rates the server kept up with" in text
    assert "No request went out late" in " ".join(report_sections.method_section({"sweep": {}}))
