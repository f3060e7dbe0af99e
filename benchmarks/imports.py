"""Import time and memory of the library and of each adapter, each in a fresh interpreter.

    python benchmarks/imports.py [--runs 5] [--baseline DIR] [--out benchmarks/results/imports.json]

Each case is one import statement run in a new ``python -c`` process, which reports the
seconds the statement took (``time.perf_counter`` around it) and the process's peak
resident memory after it (``resource.getrusage(...).ru_maxrss``).  ``python`` (a bare
``pass``) is the interpreter's own memory.  One warm-up round (compiling bytecode) is
discarded, then the cases are interleaved ``--runs`` times and each case's median kept,
because these machines are noisy.  ``SDKs loaded`` lists which optional SDKs the
statement pulled in: an adapter should load its own and no other.
``--baseline DIR`` also imports failover from another checkout (an older version, say)
in the same rounds, so that both see the same machine load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CASES = {
    "python": "pass",
    "failover": "import failover",
    "aws:S3Store": "from failover.providers.aws import S3Store",
    "azure:BlobStore": "from failover.providers.azure import BlobStore",
    "gcp:GCSStore": "from failover.providers.gcp import GCSStore",
    "aws:Route53Zone": "from failover.providers.aws import Route53Zone",
    "azure:AzureDnsZone": "from failover.providers.azure import AzureDnsZone",
    "gcp:CloudDnsZone": "from failover.providers.gcp import CloudDnsZone",
    "aws:EC2Compute": "from failover.providers.aws import EC2Compute",
    "azure:AzureCompute": "from failover.providers.azure import AzureCompute",
    "gcp:GceCompute": "from failover.providers.gcp import GceCompute",
}

# The optional SDKs, by the module each one installs (the pip name, for the report).
SDKS = {
    "boto3": "boto3",
    "azure.storage.blob": "azure-storage-blob",
    "azure.identity": "azure-identity",
    "azure.mgmt.dns": "azure-mgmt-dns",
    "azure.mgmt.compute": "azure-mgmt-compute",
    "google.cloud.storage": "google-cloud-storage",
    "google.cloud.dns": "google-cloud-dns",
    "google.cloud.compute_v1": "google-cloud-compute",
    "dns": "dnspython",
    "rich": "rich",
    "pydantic": "pydantic",
}

# Timed from the statement alone; what reports the figures is imported after the reading.
CHILD = """\
import time
began = time.perf_counter()
{statement}
seconds = time.perf_counter() - began
import json, resource, sys
print(json.dumps({{"seconds": seconds, "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "sdks": sorted(name for name in {sdks!r} if name in sys.modules)}}))
"""


def child(statement: str, source: Path) -> dict[str, object]:
    """One fresh interpreter running ``statement`` with failover imported from ``source``."""
    # Bytecode is written (and reused after the warm-up), as in an ordinary installation.
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(source)
    code = CHILD.format(statement=statement, sdks=tuple(SDKS))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=source, env=env, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{statement!r} failed:\n{done.stderr}")
    figures: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return figures


def run(runs: int, sources: dict[str, Path]) -> dict[str, dict[str, dict[str, object]]]:
    """Per source, per case: the figures of ``runs`` interleaved runs, after one warm-up."""
    samples: dict[str, dict[str, list[dict[str, object]]]] = {s: {name: [] for name in CASES} for s in sources}
    for round_ in range(runs + 1):
        for name, statement in CASES.items():
            for label, source in sources.items():
                figures = child(statement, source)
                if round_:  # round 0 compiles the bytecode and is not counted
                    samples[label][name].append(figures)
    return {label: {name: _median(found) for name, found in cases.items()} for label, cases in samples.items()}


def _median(samples: list[dict[str, object]]) -> dict[str, object]:
    seconds = [float(s["seconds"]) for s in samples]  # type: ignore[arg-type]
    rss = [int(s["max_rss_kib"]) for s in samples]  # type: ignore[call-overload]
    return {
        "seconds": seconds,
        "median_s": statistics.median(seconds),
        "max_rss_kib": rss,
        "median_rss_mib": statistics.median(rss) / 1024,
        "sdks_loaded": [SDKS[module] for module in samples[-1]["sdks"]],  # type: ignore[attr-defined]
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="counted runs of each case (the median is kept)")
    parser.add_argument("--baseline", type=Path, help="another checkout, measured interleaved with this one")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "imports.json")
    args = parser.parse_args(argv)
    sources = {"this": REPO, **({"baseline": args.baseline.resolve()} if args.baseline else {})}
    measured = run(args.runs, sources)
    report: dict[str, object] = {"python": sys.version.split()[0], "runs": args.runs}
    for label, cases in measured.items():
        key = "cases" if label == "this" else "baseline"
        report[key] = {name: {"statement": CASES[name], **figures} for name, figures in cases.items()}
    if args.baseline:
        report["baseline_source"] = str(args.baseline)
    _print(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten to {args.out}")
    return 0


def _print(report: dict[str, object]) -> None:
    for key, title in (("baseline", f"baseline ({report.get('baseline_source')})"), ("cases", "this checkout")):
        if key not in report:
            continue
        print(f"{title}: median of {report['runs']} fresh interpreters each")
        print(f"  {'import':20s} {'seconds':>8s} {'max RSS, MiB':>13s}  SDKs loaded")
        for name, case in report[key].items():  # type: ignore[attr-defined]
            sdks = ", ".join(case["sdks_loaded"]) or "-"
            print(f"  {name:20s} {case['median_s']:8.3f} {case['median_rss_mib']:13.1f}  {sdks}")


if __name__ == "__main__":
    raise SystemExit(main())
