"""Aggregating a Table 2 sweep into ``table2.md`` and ``table2.csv``, beside the paper's values."""

import csv
import io
import json
import statistics
from pathlib import Path

from omegaconf import OmegaConf

from mobilefaceswap.files import write_text_atomic
from mobilefaceswap.shipped import EXPERIMENTS_DIR

ROWS_FILE = EXPERIMENTS_DIR / "table2.yaml"


def _read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _seed_result(run: Path, who: str) -> dict:
    """One seed's folder: its scores, or why there are none. A member that would have trained
    another's run (``same_as.json``) takes that run's result, saying so."""
    same = _read_json(run / "same_as.json")
    if same is not None:
        result = _seed_result(run.parent.parent / same["same_as"] / run.name, who)
        return {**result, "note": f"same run as `{same['same_as']}`: {same['reason']}"}
    evaluation, failure = _read_json(run / "eval.json"), _read_json(run / "failed.json")
    if evaluation is not None and evaluation.get(who, {}).get("scored"):
        return {
            "status": "done",
            "scores": evaluation[who],
            "run": evaluation["run"],
            "backends": evaluation[who].get("backends", {}),
        }
    if evaluation is not None:
        return {"status": f"not scored: {evaluation.get(who, {}).get('note', 'no evaluation of ' + who)}"}
    if failure is not None:
        return {"status": f"failed: {failure['error']}"}
    return {"status": "not finished"}


def collect(results_dir: str | Path, rows_file: str | Path = ROWS_FILE) -> list[dict]:
    """One record per paper row: ours (mean and standard deviation over the seeds scored, from
    ``<ablation>/seed_<seed>/``; or failed / missing) beside the paper's numbers."""
    results_dir = Path(results_dir)
    records = []
    for row in OmegaConf.to_container(OmegaConf.load(rows_file))["rows"]:
        # The teacher row is scored in the full model's runs, on the same pairs.
        folder = results_dir / ("full" if row["ablation"] == "teacher" else row["ablation"])
        who = "teacher" if row["ablation"] == "teacher" else "student"
        record = {
            "row": row["name"],
            "ablation": row["ablation"],
            "mapping": row["mapping"],
            "paper_id": row["id"],
            "paper_pose": row["pose"],
            "paper_fid": row["fid"],
        }
        runs = sorted(p for p in folder.glob("seed_*") if p.is_dir())
        results = [_seed_result(run, who) for run in runs]
        done = [r for r in results if r["status"] == "done"]
        for key, metric in (("id", "id_retrieval"), ("pose", "pose_error"), ("fid", "fid")):
            values = [r["scores"][metric] for r in done if r["scores"].get(metric) is not None]
            record[key] = statistics.mean(values) if values else None
            record[f"{key}_std"] = statistics.stdev(values) if len(values) > 1 else None
        record["seeds"] = len(done)
        problems = [f"{run.name} {r['status']}" for run, r in zip(runs, results) if r["status"] != "done"]
        if not runs:
            record["status"] = "not run"
        elif not problems:
            record["status"] = next((r["note"] for r in results if "note" in r), "done")
        elif len(runs) == 1:
            record["status"] = results[0]["status"]
        else:
            prefix = f"done {len(done)} of {len(runs)} seeds; " if done else ""
            record["status"] = prefix + "; ".join(problems)
        if done:
            record["run"] = done[0]["run"]
            record["backends"] = done[0]["backends"]
        records.append(record)
    return records


def _number(value, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _mean_std(record: dict, key: str) -> str:
    std = record[f"{key}_std"]
    return _number(record[key]) + ("" if std is None else f" ± {std:.2f}")


def _protocol_name(protocol: dict) -> str:
    if protocol.get("name") == "ffpp":
        return (
            f"FaceForensics++ ({protocol['pairs']} pairs, {protocol['frames_per_video']} frames per video, "
            f"{protocol['compression']}, {protocol['split']})"
        )
    return f"the run's validation pairs ({protocol.get('pairs', '?')} pairs)"


def protocol_sentence(records: list[dict]) -> str:
    """What produced the numbers, read from the scored rows: protocol and backends, nothing else."""
    scored = [r for r in records if "run" in r]
    if not scored:
        return "No row was scored."

    def listed(values) -> str:
        return "; ".join(dict.fromkeys(values)) or "-"

    protocols = [_protocol_name(r["run"].get("protocol", {})) for r in scored]
    identity = [r["backends"].get("identity", "?") for r in scored]
    pose = [r["backends"].get("pose", "?") for r in scored]
    fid = [r["backends"].get("fid") or "not computed (no Inception weights)" for r in scored]
    paper = (
        all(r["run"].get("protocol", {}).get("name") == "ffpp" for r in scored)
        and all(i.startswith("CosFace") for i in identity)
        and all(p.startswith("Hopenet") for p in pose)
        and all(r["fid"] is not None for r in scored)
    )
    # Without eval.fallback=dlib a run does not start without the paper's scorers (training/required_files.py).
    fallback = any(backend.startswith("dlib") for backend in identity + pose)
    return (
        f"Scored on {listed(protocols)}. Identity retrieval: {listed(identity)}. Pose: {listed(pose)}. "
        f"FID: {listed(fid)}. "
        + (
            "This is the paper's protocol."
            if paper
            else "This is not the paper's protocol (FaceForensics++ with CosFace, Hopenet and FID)."
        )
        + (" dlib scored in place of the paper's networks (eval.fallback=dlib)." if fallback else "")
    )


def markdown(records: list[dict]) -> str:
    runs = [r["run"] for r in records if "run" in r]
    setting = runs[0] if runs else {}
    lines = [
        "# Table 2 reproduction",
        "",
        f"Made by `make reproduce-table2` (profile `{setting.get('profile', '?')}`, data `{setting.get('data', '?')}`, "
        f"teacher `{setting.get('teacher', '?')}`, identity `{setting.get('identity', '?')}`, "
        f"quality `{setting.get('quality', '?')}`, "
        f"{setting.get('steps', '?')} generator steps). {protocol_sentence(records)} "
        "Ours: mean ± standard deviation over the seeds scored.",
        "",
        "| row | ablation | Id % (ours / paper) | Pose (ours / paper) | FID (ours / paper) | seeds | status |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in records:
        mark = " (row inferred)" if r["mapping"] == "inferred" else ""
        lines.append(
            f"| {r['row']}{mark} | `{r['ablation']}` | {_mean_std(r, 'id')} / {r['paper_id']:.2f} "
            f"| {_mean_std(r, 'pose')} / {r['paper_pose']:.2f} "
            f"| {_mean_std(r, 'fid')} / {r['paper_fid']:.2f} | {r['seeds']} | {r['status']} |"
        )
    return "\n".join(lines) + "\n"


def write_tables(records: list[dict], out_dir: str | Path) -> tuple[Path, Path]:
    out_dir = Path(out_dir)
    columns = [
        "row",
        "ablation",
        "mapping",
        "status",
        "seeds",
        "id",
        "id_std",
        "paper_id",
        "pose",
        "pose_std",
        "paper_pose",
        "fid",
        "fid_std",
        "paper_fid",
    ]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(records)
    md = write_text_atomic(out_dir / "table2.md", markdown(records))
    table = write_text_atomic(out_dir / "table2.csv", buffer.getvalue())
    return md, table


def scored_rows(table: Path) -> int:
    """Rows of a written table2.csv with at least one seed scored (0 when there is none)."""
    if not table.is_file():
        return 0
    with open(table, newline="") as file:
        return sum(1 for record in csv.DictReader(file) if int(record.get("seeds") or 0) > 0)


def aggregate(results_dir: str | Path, out_dir: str | Path, force: bool = False) -> tuple[str, Path, Path]:
    """``mfs table2``: the sweep's table as markdown, written with its CSV into ``out_dir``; a table
    with more scored rows is not replaced by this one without ``force``."""
    if not Path(results_dir).is_dir():
        raise ValueError(f"no sweep results in {results_dir} (run make reproduce-table2)")
    records = collect(results_dir)
    existing, scored = scored_rows(Path(out_dir) / "table2.csv"), sum(1 for r in records if r["seeds"] > 0)
    if scored < existing and not force:
        raise ValueError(
            f"{Path(out_dir) / 'table2.csv'} has {existing} scored rows and {results_dir} gives {scored}: "
            "it is left as it is (--force replaces it; another --output keeps both)"
        )
    md, table = write_tables(records, out_dir)
    return markdown(records), md, table
