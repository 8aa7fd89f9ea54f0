"""Benchmark jsim's fast engine against the naive SimPy baseline, in one run.

Measures, on the reference model (``benchmarks/reference.toml``, specified in
``benchmarks/README.md``):

* jsim's fast engine: JIT time (first call, reported separately), then the median wall time
  of ``--repeats`` whole simulations per population size, as customer-days per second;
* the naive SimPy program (``naive_simpy.run_naive``) on ``--naive-customers`` customers;
* the ratio jsim / naive;
* both day-90 stage distributions against the exact answer (``reference_exact``);
* peak memory per customer (resident-set growth during one simulation, and tracemalloc);
* ``scenarios/webshop.toml`` (word of mouth and every other feature on) at 1e6 customers;
* ``jsim --help`` wall time;
* 1 versus 2 numba threads: identical results, speedup.

Every measurement runs in its own subprocess (clean memory high-water mark, its own
``NUMBA_NUM_THREADS``). Run from the repository root::

    python benchmarks/bench_engine.py              # full run (about 75 s on 2 cores)
    python benchmarks/bench_engine.py --quick      # CI-sized run (correctness, rough speed)
    python benchmarks/bench_engine.py --json bench.json

Exit status 0 when every correctness check passes (distributions, thread independence);
performance targets only affect it with ``--strict``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REFERENCE = HERE / "reference.toml"
WEBSHOP = ROOT / "scenarios" / "webshop.toml"
DAYS = 90

TARGETS = {
    "reference_cdps": 1e9,  # customer-days/s on the reference model
    "ratio_vs_naive": 1000.0,  # jsim / naive SimPy
    "webshop_cdps": 1e8,  # customer-days/s on the webshop scenario
    "bytes_per_customer": 32.0,  # peak memory growth per customer
    "help_seconds": 0.3,  # `jsim --help` wall time
}

_RESULT_TAG = "BENCH-RESULT "


# ----------------------------------------------------------------------------------------------
# Worker side: runs inside a subprocess, prints one tagged JSON line
# ----------------------------------------------------------------------------------------------


def _proc_status() -> dict:
    """Resident set size and its high-water mark, in bytes (Linux), else empty."""
    try:
        with open("/proc/self/status") as fh:
            fields = dict(line.split(":", 1) for line in fh if ":" in line)
        return {k: int(fields[k].split()[0]) * 1024 for k in ("VmRSS", "VmHWM")}
    except (OSError, KeyError, ValueError):
        return {}


def _reset_peak() -> bool:
    """Reset the kernel's resident-set high-water mark of this process (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _digest(result) -> str:
    h = hashlib.sha256()
    for name in ("occupancy", "flows", "segment_flows", "credits", "new_converted", "deliveries", "engagements"):
        h.update(getattr(result, name).tobytes())
    return h.hexdigest()[:16]


def _customer_days(result) -> int:
    """Customers present summed over simulated days (day 0 customers plus arrivals)."""
    return int(result.occupancy_start[0, 1:].sum())


def _worker_jsim(task: dict) -> dict:
    t0 = time.perf_counter()
    import jsim

    scenario = jsim.load_scenario(task["scenario"])
    t_import = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = jsim.compile_scenario(scenario, customers=task["customers"])
    t_compile = time.perf_counter() - t0
    out = {
        "customers": model.n_customers,
        "days": model.n_days,
        "coupled": bool(model.is_coupled),
        "import_seconds": t_import,
        "compile_scenario_seconds": t_compile,
        "threads": os.environ.get("NUMBA_NUM_THREADS"),
    }
    # Warm-up on a small population of the same scenario: JIT compile (or on-disk cache load).
    small = jsim.compile_scenario(scenario, customers=min(1000, model.n_customers))
    t0 = time.perf_counter()
    jsim.simulate(small, seed=task["seed"])
    out["first_call_seconds"] = time.perf_counter() - t0
    import numba

    out["numba_threads"] = numba.config.NUMBA_NUM_THREADS
    if task.get("memory"):
        gc.collect()
        before = _proc_status()
        reset = _reset_peak()
        import resource

        ru_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        result = jsim.simulate(model, seed=task["seed"])
        after = _proc_status()
        ru_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        if reset and before and after:
            out["peak_rss_growth_bytes"] = max(0, after["VmHWM"] - before["VmRSS"])
            out["rss_method"] = "VmHWM after - VmRSS before (high-water mark reset)"
        else:
            out["peak_rss_growth_bytes"] = max(0, ru_after - ru_before)
            out["rss_method"] = "ru_maxrss delta (may under-count)"
        del result
        gc.collect()
        import tracemalloc

        tracemalloc.start()
        result = jsim.simulate(model, seed=task["seed"])
        out["tracemalloc_peak_bytes"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        out["customer_days"] = _customer_days(result)
        return out
    times, digests = [], []
    counts = None
    for _ in range(task["repeats"]):
        t0 = time.perf_counter()
        result = jsim.simulate(model, seed=task["seed"])
        times.append(time.perf_counter() - t0)
        digests.append(_digest(result))
        if counts is None:
            counts = result.stage_occupancy[0, -1].tolist()
            out["customer_days"] = _customer_days(result)
            out["kernel_seconds"] = result.timings.get("kernel_seconds")
        del result
    out.update(
        times=times,
        digest=digests[0],
        repeat_identical=len(set(digests)) == 1,
        day_end_counts=counts,
        stage_names=list(model.stage_names),
    )
    return out


def _worker_naive(task: dict) -> dict:
    sys.path.insert(0, str(HERE))
    from naive_simpy import run_naive

    times, counts = [], None
    for i in range(task["repeats"]):
        t0 = time.perf_counter()
        c = run_naive(task["customers"], DAYS, seed=task["seed"] + i)
        times.append(time.perf_counter() - t0)
        if counts is None:
            counts = [int(x) for x in c]
    return {
        "customers": task["customers"],
        "days": DAYS,
        "times": times,
        "day_end_counts": counts,
        "customer_days": task["customers"] * DAYS,
    }


def _worker_profile(task: dict) -> dict:
    """Where one simulation spends its time: the phases of the fast engine, timed by wrapping them.

    Wraps (by name, skipping names that do not exist) the helpers of ``jsim.engine.fast`` and the
    checked kernel wrappers of ``jsim.kernels`` with timers, so it follows the engine as it changes.
    Nested phases are timed inclusively (a kernel called by a helper counts in both).
    """
    import functools

    import jsim
    from jsim import kernels
    from jsim.engine import fast

    scenario = jsim.load_scenario(task["scenario"])
    model = jsim.compile_scenario(scenario, customers=task["customers"])
    jsim.simulate(jsim.compile_scenario(scenario, customers=1000), seed=0)  # JIT / cache load
    totals: dict = {}

    def timed(label, fn):
        @functools.wraps(fn)
        def wrapper(*a, **kw):
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                totals[label] = totals.get(label, 0.0) + time.perf_counter() - t0

        return wrapper

    patched = []
    for mod, prefix in ((fast, "fast."), (kernels, "kernel ")):
        for name in dir(mod):
            fn = getattr(mod, name)
            own = getattr(fn, "__module__", None) == mod.__name__ or (
                mod is fast
                and name in ("chunk_states", "named_streams", "draw_arrivals", "draw_exposures", "start_of_day")
            )
            if name.startswith("__") or not callable(fn) or isinstance(fn, type) or not own:
                continue
            patched.append((mod, name, fn))
            setattr(mod, name, timed(prefix + name, fn))
    try:
        t0 = time.perf_counter()
        res = jsim.simulate(model, seed=task["seed"])
        total = time.perf_counter() - t0
    finally:
        for mod, name, fn in patched:
            setattr(mod, name, fn)
    moves = int(res.flows[0].sum())
    phases = {"simulate() total": total}
    phases.update(sorted(totals.items(), key=lambda kv: -kv[1]))
    return {
        "customers": model.n_customers,
        "scenario": Path(task["scenario"]).name,
        "phases": phases,
        "moves": moves,
        "moves_per_customer": moves / max(1, model.n_customers),
        "ns_per_move_core": total * (os.cpu_count() or 1) / max(1, moves) * 1e9,
        "ns_per_customer_day_core": total * (os.cpu_count() or 1) / max(1, _customer_days(res)) * 1e9,
    }


def _worker(task: dict) -> dict:
    kind = task["kind"]
    if kind == "jsim":
        return _worker_jsim(task)
    if kind == "naive":
        return _worker_naive(task)
    if kind == "profile":
        return _worker_profile(task)
    raise ValueError(f"unknown task kind {kind!r}")


# ----------------------------------------------------------------------------------------------
# Driver side
# ----------------------------------------------------------------------------------------------


def _run_task(task: dict, env: dict | None = None, timeout: float = 1800.0) -> dict:
    full_env = dict(os.environ)
    full_env.setdefault("PYTHONPATH", "")
    full_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), full_env["PYTHONPATH"]) if p)
    if env:
        full_env.update(env)
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--_worker", json.dumps(task)],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    for line in proc.stdout.splitlines():
        if line.startswith(_RESULT_TAG):
            return json.loads(line[len(_RESULT_TAG) :])
    raise RuntimeError(f"benchmark worker {task} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")


def _help_command() -> list[str] | None:
    """The `jsim` console script next to this interpreter, else `python -m jsim`, else None."""
    script = Path(sys.executable).with_name("jsim")
    if script.exists():
        return [str(script), "--help"]
    found = shutil.which("jsim")
    if found and Path(found).resolve().parent == Path(sys.executable).resolve().parent:
        return [found, "--help"]
    if (ROOT / "jsim" / "__main__.py").exists():
        return [sys.executable, "-m", "jsim", "--help"]
    return None


def _time_help(runs: int) -> dict:
    cmd = _help_command()
    if cmd is None:
        return {"skipped": "no `jsim` console script and no jsim/__main__.py yet"}
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True)  # warm the OS file cache
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            return {"command": " ".join(cmd), "failed": f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}"}
    return {
        "command": " ".join(Path(c).name if i == 0 else c for i, c in enumerate(cmd)),
        "times": times,
        "median_seconds": statistics.median(times),
    }


def _check(counts, n):
    sys.path.insert(0, str(HERE))
    from reference_exact import check_distribution

    c = check_distribution(counts, n, DAYS)
    return {
        "max_abs_z": c.max_abs_z,
        "z": [float(z) for z in c.z],
        "chi2": c.chi2,
        "df": c.df,
        "p_value": c.p_value,
        "ok": c.ok,
    }


def _loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _fmt(x: float) -> str:
    return f"{x:.3g}" if x < 1e4 else f"{x:.2e}"


def _status(met: bool | None) -> str:
    return "n/a" if met is None else ("met" if met else "NOT met")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", default="1000000,10000000", help="comma-separated jsim population sizes")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per measurement (median reported)")
    ap.add_argument("--naive-customers", type=int, default=20_000)
    ap.add_argument("--naive-repeats", type=int, default=None, help="default: --repeats")
    ap.add_argument("--webshop", default=str(WEBSHOP), help="scenario run with every feature on")
    ap.add_argument("--webshop-customers", type=int, default=1_000_000)
    ap.add_argument(
        "--thread-customers",
        type=int,
        default=None,
        help="population of the 1-vs-2-thread check (default: largest --customers)",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-cold-jit", action="store_true", help="skip measuring JIT compile with an empty numba cache")
    ap.add_argument("--no-profile", action="store_true", help="skip the phase breakdown of one reference run")
    ap.add_argument("--quick", action="store_true", help="CI-sized run: small populations, 1 repeat, no cold JIT")
    ap.add_argument("--json", metavar="PATH", help="also write every figure to this JSON file")
    ap.add_argument("--strict", action="store_true", help="exit 1 if a performance target is not met")
    ap.add_argument("--_worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args._worker:
        print(_RESULT_TAG + json.dumps(_worker(json.loads(args._worker))), flush=True)
        return 0

    if args.quick:
        args.customers, args.repeats, args.naive_customers = "100000", 1, 2000
        args.webshop_customers, args.no_cold_jit, args.no_profile = 100_000, True, True
    sizes = [int(float(s)) for s in args.customers.split(",") if s.strip()]
    naive_repeats = args.naive_repeats or args.repeats
    thread_n = args.thread_customers or max(sizes)
    figures: dict = {
        "date": _dt.datetime.now().isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
    }
    try:
        import numba
        import numpy

        figures["machine"].update(numba=numba.__version__, numpy=numpy.__version__)
    except ImportError:
        pass
    ok = True
    say = lambda *a: print(*a, flush=True)
    figures["load_average_start"] = _loadavg()
    say(
        f"jsim engine benchmark, {figures['date']}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load average {figures['load_average_start']}"
    )

    # 1. jsim on the reference model
    ref = []
    for n in sizes:
        r = _run_task(
            {"kind": "jsim", "scenario": str(REFERENCE), "customers": n, "repeats": args.repeats, "seed": args.seed}
        )
        r["median_seconds"] = statistics.median(r["times"])
        r["cdps"] = r["customer_days"] / r["median_seconds"]
        r["best_cdps"] = r["customer_days"] / min(r["times"])
        r["check"] = _check(r["day_end_counts"], n)
        m = _run_task(
            {
                "kind": "jsim",
                "scenario": str(REFERENCE),
                "customers": n,
                "repeats": 1,
                "seed": args.seed,
                "memory": True,
            }
        )
        r["peak_rss_growth_bytes"] = m["peak_rss_growth_bytes"]
        r["tracemalloc_peak_bytes"] = m["tracemalloc_peak_bytes"]
        r["bytes_per_customer"] = m["peak_rss_growth_bytes"] / n
        r["rss_method"] = m["rss_method"]
        ok &= r["check"]["ok"] and r["repeat_identical"]
        ref.append(r)
        say(
            f"  reference, {n:,} customers: median {r['median_seconds']:.3f} s -> {r['cdps']:.3g} customer-days/s, "
            f"max|z| {r['check']['max_abs_z']:.2f} {'PASS' if r['check']['ok'] else 'FAIL'}"
        )
    figures["reference"] = ref

    cold = None
    if not args.no_cold_jit:
        with tempfile.TemporaryDirectory(prefix="jsim-numba-cache-") as cache:
            cold = _run_task(
                {"kind": "jsim", "scenario": str(REFERENCE), "customers": 1000, "repeats": 1, "seed": args.seed},
                env={"NUMBA_CACHE_DIR": cache},
            )
        say(f"  JIT compile with an empty numba cache: {cold['first_call_seconds']:.2f} s")
    figures["jit"] = {
        "first_call_seconds_cached": ref[0]["first_call_seconds"],
        "first_call_seconds_cold": None if cold is None else cold["first_call_seconds"],
        "import_and_load_seconds": ref[0]["import_seconds"],
    }

    # 2. naive SimPy
    nv = _run_task({"kind": "naive", "customers": args.naive_customers, "repeats": naive_repeats, "seed": args.seed})
    nv["median_seconds"] = statistics.median(nv["times"])
    nv["cdps"] = nv["customer_days"] / nv["median_seconds"]
    nv["best_cdps"] = nv["customer_days"] / min(nv["times"])
    nv["check"] = _check(nv["day_end_counts"], args.naive_customers)
    ok &= nv["check"]["ok"]
    figures["naive"] = nv
    say(
        f"  naive SimPy, {args.naive_customers:,} customers: median {nv['median_seconds']:.2f} s -> "
        f"{nv['cdps']:.3g} customer-days/s, max|z| {nv['check']['max_abs_z']:.2f} "
        f"{'PASS' if nv['check']['ok'] else 'FAIL'}"
    )

    # 3. webshop, every feature on
    web = None
    if Path(args.webshop).exists():
        web = _run_task(
            {
                "kind": "jsim",
                "scenario": str(args.webshop),
                "customers": args.webshop_customers,
                "repeats": args.repeats,
                "seed": args.seed,
            }
        )
        web["median_seconds"] = statistics.median(web["times"])
        web["cdps"] = web["customer_days"] / web["median_seconds"]
        web["best_cdps"] = web["customer_days"] / min(web["times"])
        m = _run_task(
            {
                "kind": "jsim",
                "scenario": str(args.webshop),
                "customers": args.webshop_customers,
                "repeats": 1,
                "seed": args.seed,
                "memory": True,
            }
        )
        web["peak_rss_growth_bytes"] = m["peak_rss_growth_bytes"]
        web["tracemalloc_peak_bytes"] = m["tracemalloc_peak_bytes"]
        web["bytes_per_customer"] = m["peak_rss_growth_bytes"] / web["customers"]
        ok &= web["repeat_identical"]
        say(
            f"  webshop, {web['customers']:,} customers ({'day-coupled' if web['coupled'] else 'independent'} path): "
            f"median {web['median_seconds']:.3f} s -> {web['cdps']:.3g} customer-days/s"
        )
    else:
        say(f"  webshop: {args.webshop} not found, skipped")
    figures["webshop"] = web

    # 4. 1 vs 2 threads
    threads = {}
    for label, path, n in (("reference", REFERENCE, thread_n), ("webshop", Path(args.webshop), args.webshop_customers)):
        if not path.exists():
            continue
        runs = {}
        for k in (1, 2):
            r = _run_task(
                {"kind": "jsim", "scenario": str(path), "customers": n, "repeats": args.repeats, "seed": args.seed},
                env={"NUMBA_NUM_THREADS": str(k)},
            )
            runs[k] = {
                "median_seconds": statistics.median(r["times"]),
                "best_seconds": min(r["times"]),
                "digest": r["digest"],
                "numba_threads": r["numba_threads"],
            }
        same = runs[1]["digest"] == runs[2]["digest"]
        ok &= same
        threads[label] = {
            "customers": n,
            "runs": runs,
            "identical": same,
            "speedup": runs[1]["median_seconds"] / runs[2]["median_seconds"],
            "speedup_best": runs[1]["best_seconds"] / runs[2]["best_seconds"],
        }
        say(
            f"  threads, {label} {n:,}: 1 thread {runs[1]['median_seconds']:.3f} s, 2 threads "
            f"{runs[2]['median_seconds']:.3f} s, speedup {threads[label]['speedup']:.2f}x "
            f"(best runs {threads[label]['speedup_best']:.2f}x), "
            f"results {'identical' if same else 'DIFFER'}"
        )
    figures["threads"] = threads

    # 5. jsim --help
    figures["help"] = _time_help(5)
    h = figures["help"]
    say(
        "  jsim --help: "
        + (
            f"skipped ({h['skipped']})"
            if "skipped" in h
            else f"failed ({h['failed']})"
            if "failed" in h
            else f"{h['median_seconds']:.3f} s"
        )
    )

    # 6. where the time goes
    if not args.no_profile:
        figures["profile"] = [
            _run_task({"kind": "profile", "scenario": str(REFERENCE), "customers": max(sizes), "seed": args.seed})
        ]
        if web is not None:
            figures["profile"].append(
                _run_task(
                    {
                        "kind": "profile",
                        "scenario": str(args.webshop),
                        "customers": args.webshop_customers,
                        "seed": args.seed,
                    }
                )
            )

    # ---- report
    figures["load_average_end"] = _loadavg()
    big = ref[-1]
    ratio = big["cdps"] / nv["cdps"]
    figures["ratio_vs_naive"] = ratio
    mem_rows = [(f"reference {r['customers']:,}", r["bytes_per_customer"]) for r in ref]
    if web is not None:
        mem_rows.append((f"webshop {web['customers']:,}", web["bytes_per_customer"]))
    worst_mem = max(b for _, b in mem_rows)
    help_s = h.get("median_seconds")
    targets = {
        "reference_cdps": (big["cdps"], big["cdps"] >= TARGETS["reference_cdps"]),
        "ratio_vs_naive": (ratio, ratio >= TARGETS["ratio_vs_naive"]),
        "webshop_cdps": (
            None if web is None else web["cdps"],
            None if web is None else web["cdps"] >= TARGETS["webshop_cdps"],
        ),
        "bytes_per_customer": (worst_mem, worst_mem <= TARGETS["bytes_per_customer"]),
        "help_seconds": (help_s, None if help_s is None else help_s < TARGETS["help_seconds"]),
    }
    figures["targets"] = {k: {"target": TARGETS[k], "measured": v, "met": m} for k, (v, m) in targets.items()}

    say("")
    say(
        f"{'measurement':<34}{'customers':>12}{'median s':>10}{'cust-days/s':>13}{'best':>10}{'max|z|':>8}"
        f"{'check':>7}{'B/cust':>8}"
    )
    for r in ref:
        say(
            f"{'jsim fast, reference':<34}{r['customers']:>12,}{r['median_seconds']:>10.3f}"
            f"{r['cdps']:>13.3g}{r['best_cdps']:>10.3g}"
            f"{r['check']['max_abs_z']:>8.2f}{'PASS' if r['check']['ok'] else 'FAIL':>7}{r['bytes_per_customer']:>8.2f}"
        )
    say(
        f"{'naive SimPy, reference':<34}{nv['customers']:>12,}{nv['median_seconds']:>10.3f}"
        f"{nv['cdps']:>13.3g}{nv['best_cdps']:>10.3g}"
        f"{nv['check']['max_abs_z']:>8.2f}{'PASS' if nv['check']['ok'] else 'FAIL':>7}{'':>8}"
    )
    if web is not None:
        path = "coupled" if web["coupled"] else "indep."
        say(
            f"{'jsim fast, webshop (' + path + ')':<34}{web['customers']:>12,}{web['median_seconds']:>10.3f}"
            f"{web['cdps']:>13.3g}{web['best_cdps']:>10.3g}{'':>8}{'':>7}{web['bytes_per_customer']:>8.2f}"
        )
    say("")
    say(f"ratio jsim ({big['customers']:,}) / naive: {ratio:,.0f}x")
    say(
        f"JIT: first call {figures['jit']['first_call_seconds_cached']:.2f} s with the on-disk numba cache"
        + ("" if cold is None else f", {cold['first_call_seconds']:.2f} s compiling from scratch")
        + f"; importing jsim and loading the scenario {figures['jit']['import_and_load_seconds']:.2f} s"
    )
    for label, t in threads.items():
        say(
            f"threads ({label}, {t['customers']:,}): speedup 2 vs 1 = {t['speedup']:.2f}x "
            f"(best runs {t['speedup_best']:.2f}x), "
            f"results {'identical' if t['identical'] else 'DIFFER'}"
        )
    for p in figures.get("profile", []):
        say(
            f"where the time goes, one {p['scenario']} run ({p['customers']:,} customers, "
            f"{p['moves_per_customer']:.2f} stage moves/customer; per CPU core {p['ns_per_move_core']:.0f} ns/move, "
            f"{p['ns_per_customer_day_core']:.2f} ns/customer-day):"
        )
        for k, v in p["phases"].items():
            say(f"  {k:<44}{v:>8.3f} s")
    say("")
    say("targets:")
    labels = {
        "reference_cdps": "reference >= 1e9 customer-days/s",
        "ratio_vs_naive": ">= 1000x naive SimPy",
        "webshop_cdps": "webshop >= 1e8 customer-days/s",
        "bytes_per_customer": "<= 32 bytes/customer (worst)",
        "help_seconds": "jsim --help < 0.3 s",
    }
    for k, (v, m) in targets.items():
        say(f"  {labels[k]:<36}{'-' if v is None else _fmt(v):>10}   {_status(m)}")
    say("")
    say(
        f"load average (1, 5, 15 min) at start {figures['load_average_start']}, at end {figures['load_average_end']}"
        " (other processes on the machine slow every figure down)"
    )
    say("correctness: " + ("PASS" if ok else "FAIL"))
    if args.quick:
        say("(--quick: populations too small for the speed targets to be meaningful)")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, default=float) + "\n")
    failed_target = any(m is False for _, m in targets.values())
    return 0 if ok and not (args.strict and failed_target) else 1


if __name__ == "__main__":
    raise SystemExit(main())
