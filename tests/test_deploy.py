"""What an operator installs: the systemd units pass `systemd-analyze verify`, the supervisord config
names every production process."""
from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UNITS = sorted((ROOT / "deploy/systemd").glob("*.service"))


def installed(tmp_path: Path, text_of=lambda t: t) -> list[Path]:
    """The units as installed from this checkout (its path in place of /opt/ixdesk), a watcher instanced."""
    out = []
    for unit in UNITS:
        text = text_of(unit.read_text().replace("/opt/ixdesk", str(ROOT)))
        name = unit.name.replace("@.service", "@desk.service")
        (tmp_path / name).write_text(text)
        out.append(tmp_path / name)
    return out


def verify(paths: list[Path]) -> subprocess.CompletedProcess:
    return subprocess.run(["systemd-analyze", "verify", *map(str, paths)], capture_output=True, text=True,
                          timeout=120)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_systemd_units_verify(tmp_path):
    assert {u.name for u in UNITS} == {"ixdesk-web.service", "ixdesk-workers.service", "ixdesk-scheduler.service",
                                       "ixdesk-watcher@.service"}
    done = verify(installed(tmp_path))
    assert done.returncode == 0, done.stderr
    for unit in UNITS:
        text = unit.read_text()
        assert "Restart=always" in text and "EnvironmentFile=/etc/ixdesk/ixdesk.env" in text, unit.name
    # The check can fail: a unit whose program does not exist is refused.
    broken = tmp_path / "broken"
    broken.mkdir()
    done = verify(installed(broken, lambda t: t.replace("/.venv/bin/gunicorn", "/.venv/bin/no-such-program")))
    assert done.returncode != 0 and "no-such-program" in done.stderr


def test_supervisord_runs_every_production_process_and_restarts_it():
    conf = configparser.RawConfigParser()
    conf.read(ROOT / "deploy/supervisord.conf")
    programs = {s.split(":", 1)[1]: conf[s] for s in conf.sections() if s.startswith("program:")}
    assert set(programs) == {"web", "workers", "watcher", "scheduler"}
    for name, section in programs.items():
        assert section["autorestart"] == "true", name
        assert int(section["startretries"]) >= 10, name
    assert "dramatiq workers.boot" in programs["workers"]["command"]
    assert "inbox watch" in programs["watcher"]["command"] and "schedule" in programs["scheduler"]["command"]
