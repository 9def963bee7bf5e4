"""A full disk under SQLite, with a real `pouch serve` whose database and data live on a
small tmpfs: submissions are refused with a clear 503 while it is full, nothing accepted
is lost, and once there is room again they are accepted without a restart."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.faults.helpers import (
    Served,
    environment,
    eventually,
    fill,
    free_port,
    pouch,
    problem_type,
    refusal,
    seed,
    stored_and_logged,
    submit,
    tmpfs,
    verifier_key,
    verify_log,
)

#: Big enough that a few of them outgrow whatever room SQLite's files still have inside.
LETTER = "Dear President-elect, " + "with our warmest congratulations. " * 6000


@pytest.mark.slow
def test_a_full_disk_refuses_clearly_keeps_what_was_accepted_and_recovers(
    tmp_path: Path,
) -> None:
    with tmpfs(tmp_path / "disk", size="4m") as disk:
        url = f"sqlite:///{disk / 'pouch.sqlite3'}"
        env = environment(database_url=url, data_dir=disk, port=free_port())
        pouch("db", "upgrade", env=env, cwd=tmp_path)
        seeded = seed(url, webhooks={"ie-taoiseach": None})
        office = seeded.offices["ie-taoiseach"]
        accepted: list[dict[str, Any]] = []
        with Served(env, workdir=tmp_path) as server, httpx.Client() as client:

            def send(subject: str, body: str = LETTER) -> httpx.Response:
                answer = submit(
                    client, server.url, office, to=seeded.principal, subject=subject, body=body
                )
                if answer.status_code == 201:
                    accepted.append(answer.json())
                return answer

            for n in range(3):
                assert send(f"Before {n}").status_code == 201
            filler = fill(disk)
            answers: list[httpx.Response] = []

            def refused() -> bool:
                answers.append(send(f"Full {len(answers)}"))
                return answers[-1].status_code != 201

            eventually(refused, what="a submission refused on the full disk")
            for answer in answers:
                assert answer.status_code == 201 or refusal(answer) is None, answer.text
            assert problem_type(answers[-1]) == "/problems/storage-full"
            # Every attempt now is refused the same way; what was accepted can be read.
            again = send("Still full")
            assert refusal(again) is None and problem_type(again) == "/problems/storage-full"
            for message in accepted:
                shown = client.get(
                    f"{server.url}/api/messages/{message['id']}",
                    headers={"Authorization": f"Bearer {office.token}"},
                )
                assert shown.status_code == 200, shown.text

            filler.unlink()
            # Room again: the same server process accepts, by itself.
            last: list[httpx.Response] = []

            def accepted_again() -> bool:
                # A short letter: the room freed is what the filler took, however little.
                last[:] = [send("Room again", body="Dear President-elect, congratulations.")]
                return last[0].status_code == 201

            eventually(
                accepted_again,
                what="a submission accepted",
                explain=lambda: (
                    f"{last[0].status_code} {last[0].text}\n"
                    f"free: {shutil.disk_usage(disk).free} bytes; "
                    + ", ".join(f"{p.name} {p.stat().st_size}" for p in disk.rglob("*"))
                    + f"\n{server.output()}"
                ),
            )
            assert server.alive(), server.output()
            vkey = verifier_key(env, workdir=tmp_path)
            for message in accepted:
                stored_and_logged(client, server.url, office, message, vkey=vkey)
            verify_log(env, server.url, workdir=tmp_path)
