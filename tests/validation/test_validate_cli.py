"""`oee validate` as a person types it: a run's exit code and files, `--list` and `--show` of past runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from oee_tui.cli import main


def test_validate_lists_and_shows_past_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = ["--data-dir", str(tmp_path), "--demo"]
    assert main(["validate", *data, "--list"]) == 0
    assert "no validation run" in capsys.readouterr().out

    assert main(["validate", *data, "--phase", "calculator"]) == 0
    out = capsys.readouterr().out
    assert "== Calculator self-test ==" in out and "PASS  calculator.oee oee.com: the 480-minute shift" in out
    assert "== Calculator self-test: PASSED: 14 passed, 0 failed" in out and "report: " in out

    assert main(["validate", *data, "--list"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].split() == ["run", "phases", "result"]
    assert "calculator" in listing[1] and "PASSED: 14 passed" in listing[1]

    assert main(["validate", *data, "--show", "latest"]) == 0
    report = capsys.readouterr().out
    assert report.startswith("# Validation report: Demo Works")
    assert "| passed | oee.com: the 480-minute shift |" in report

    assert main(["validate", *data, "--show", "1999"]) == 2
    assert "no run matches '1999'" in capsys.readouterr().err


def test_validate_refuses_an_unknown_phase(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["validate", "--data-dir", str(tmp_path), "--phase", "everything"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'everything'" in capsys.readouterr().err


def test_a_data_dir_it_cannot_write_is_said_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    not_a_folder = tmp_path / "data"
    not_a_folder.write_text("a file where the data dir should be")
    assert main(["validate", "--data-dir", str(not_a_folder), "--demo", "--phase", "calculator"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("oee validate: cannot keep the run in ") and "Traceback" not in err


def test_the_demo_without_its_engine_has_no_devices_to_accept(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--data-dir", str(tmp_path), "--demo", "--phase", "site"]) == 1
    out = capsys.readouterr().out
    assert "the demo's devices exist only while `oee --demo` or `oee engine --demo` runs" in out
    assert "== Site acceptance: FAILED: 0 passed, 0 failed, 0 skipped, 1 errors" in out
