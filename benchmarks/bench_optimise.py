"""Budget optimiser benchmark: fraction of a known optimum against objective evaluations.

Two problems with independently known optima:

- ``concave``: six touchpoints (Michaelis-Menten and exponential curves), budget 400; the
  optimum is the equal-marginal-return point, found by bisection on the common marginal return.
- ``s-shaped``: five steep Hill curves (slope 3 to 4), budget 150; the global optimum drops
  touchpoints and a gradient method from the equal split is trapped. Its optimum is found by
  exhaustive support enumeration: SLSQP from 20 random starts on every face of the simplex.

For each sampler (CMA-ES, TPE, GP when PyTorch is installed, random search) and seed, one study of
``--trials`` trials without polish gives the best value after 50, 100, 200, 500 and 1000
evaluations; then ``optimise_allocation`` with ``max_evaluations=1000`` (search and polish
together, split adaptively) and with its default cap (``100 + 100 n``) give the value and the
objective calls used (worst over the seeds). The equal split is the baseline.

Then, on a bundled scenario (``--scenario``, default ``scenarios/webshop.toml``, its current
total budget over its touchpoints with response curves, objective: new customers), the value
under the expected-value model of: the scenario's current split, the equal split, the split the
optimiser chooses from the noisy fast engine (``--noisy-trials`` trials, 2 replications on
common seeds, promising trials promoted), and the split it chooses from the expected-value model
itself; each as a fraction of that model's optimum (the best of a long polished run).

    python benchmarks/bench_optimise.py            # 3 seeds, about 3 minutes on 2 cores
    python benchmarks/bench_optimise.py --seeds 1  # quick
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import time

import numpy as np
import optuna
from scipy.optimize import minimize

from jsim.optimise import BudgetSpace, optimise_allocation
from jsim.optimise.core import default_max_evaluations
from jsim.optimise.response_curves import Exponential, Hill, MichaelisMenten, ResponseModel

CHECKPOINTS = (50, 100, 200, 500, 1000)
TARGET = 0.9999


def concave_problem():
    curves = {
        "tv": MichaelisMenten(4.0, 40.0),
        "search": Exponential(0.04, 2.0),
        "social": MichaelisMenten(1.5, 8.0),
        "display": Exponential(0.015, 1.2),
        "email": MichaelisMenten(0.6, 3.0),
        "influencer": Exponential(0.03, 1.0),
    }
    budget = 400.0

    def spend(curve, lam):
        if isinstance(curve, MichaelisMenten):
            return max(np.sqrt(curve.alpha * curve.lam / lam) - curve.lam, 0.0)
        return max(np.log(curve.beta * curve.lam / lam) / curve.lam, 0.0)

    low, high = 1e-12, 1e3
    for _ in range(500):
        mid = np.sqrt(low * high)
        total = sum(spend(c, mid) for c in curves.values())
        if abs(total - budget) <= 1e-12 * budget:
            break
        low, high = (mid, high) if total > budget else (low, mid)
    model = ResponseModel(curves)
    return model, budget, model({n: spend(c, mid) for n, c in curves.items()})


def s_shaped_problem():
    curves = {
        "tv": Hill(60.0, 3.0, 1.6),
        "search": Hill(35.0, 3.5, 1.0),
        "social": Hill(45.0, 3.0, 1.2),
        "display": Hill(30.0, 4.0, 0.7),
        "influencer": Hill(50.0, 3.0, 1.1),
    }
    budget = 150.0
    model = ResponseModel(curves)
    names = model.names
    rng = np.random.default_rng(np.random.SeedSequence(2024))
    best = -np.inf
    for size in range(1, len(names) + 1):
        for support in itertools.combinations(range(len(names)), size):
            idx = list(support)

            def loss(z, idx=idx):
                vec = np.zeros(len(names))
                vec[idx] = z
                return -model(dict(zip(names, vec)))

            for _ in range(20):
                z0 = rng.dirichlet(np.ones(size)) * budget
                res = minimize(
                    loss,
                    z0,
                    method="SLSQP",
                    bounds=[(0.0, budget)] * size,
                    constraints=[{"type": "eq", "fun": lambda z: z.sum() - budget}],
                    options={"ftol": 1e-15, "maxiter": 300},
                )
                if abs(res.x.sum() - budget) < 1e-9 * budget and np.all(res.x >= -1e-12):
                    best = max(best, -res.fun)
    return model, budget, best


def trajectory(model, budget, sampler, seed, n_trials):
    result = optimise_allocation(model, budget, n_trials=n_trials, seed=seed, sampler=sampler, polish=False)
    values = np.maximum.accumulate([v for _, _, v in result.history])
    return {n: values[min(n, len(values)) - 1] for n in CHECKPOINTS if n <= n_trials}


def scenario_benchmark(path: str, noisy_trials: int, customers: int) -> None:
    """Chosen allocations of a bundled scenario under its expected-value model, against that model's optimum."""
    import jsim
    from jsim.optimise.objectives import ScenarioObjective

    scenario = jsim.load_scenario(path)
    budget = ScenarioObjective(scenario, 1.0).current_total()
    exact = ScenarioObjective(scenario, budget, engine="mean-field")
    names = list(exact.names)
    start = time.perf_counter()
    best = optimise_allocation(exact, budget, names=names, n_trials=400, seed=0)
    optimum = best.value
    t_opt = time.perf_counter() - start
    quick = optimise_allocation(exact, budget, names=names, n_trials=100, seed=1)
    start = time.perf_counter()
    noisy = ScenarioObjective(scenario, budget, engine="fast", reps=2, seed=3, customers=customers)
    chosen = optimise_allocation(noisy, budget, names=names, n_trials=noisy_trials, seed=2, polish=False)
    t_noisy = time.perf_counter() - start
    rows = [
        ("current split", exact.current_allocation(), "-"),
        ("equal split", exact.equal_allocation(), "-"),
        (
            f"chosen from fast engine ({noisy_trials} trials, {customers:,} customers, 2 reps)",
            chosen.allocation,
            f"{t_noisy:.0f} s",
        ),
        ("chosen from expected-value model (100 trials + polish)", quick.allocation, "-"),
        ("expected-value optimum (400 trials + polish)", best.allocation, f"{t_opt:.0f} s"),
    ]
    print(
        f"\nscenario {path}: budget {budget:,.0f} over {', '.join(names)}; objective new customers "
        f"(expected-value model); optimum {optimum:,.2f}"
    )
    print(f"{'allocation':<78} {'value':>10} {'of optimum':>11} {'time':>6}")
    for label, alloc, took in rows:
        value = exact(alloc)
        print(f"{label:<78} {value:10.2f} {value / optimum:11.6f} {took:>6}")


def objective_speed(path: str, n_allocations: int) -> None:
    """Time one objective evaluation two ways in the same run: the spend override on the compiled
    model (what ScenarioObjective does) against rebuilding the scenario and compiling it again."""
    import jsim
    from jsim.model import compile_scenario
    from jsim.optimise.objectives import ScenarioObjective

    scenario = jsim.load_scenario(path)
    budget = ScenarioObjective(scenario, 1.0).current_total()
    print(f"\nobjective speed on {path} (expected-value engine, {n_allocations} allocations, median per evaluation)")
    for weekly in (False, True):
        obj = ScenarioObjective(scenario, budget, weekly=weekly)
        rng = np.random.default_rng(0)
        allocs = [dict(zip(obj.names, budget * rng.dirichlet(np.ones(len(obj.names))))) for _ in range(n_allocations)]
        ways = {"recompile": lambda a, obj=obj: compile_scenario(obj.scenario_for(a)), "spend override": obj.model_for}
        build_t = {k: [] for k in ways}
        total_t = {k: [] for k in ways}
        jsim.simulate(obj.model_for(allocs[0]), engine="mean-field")  # JIT / cache
        for alloc in allocs:
            for way, make in ways.items():  # interleaved: the machine's drift hits both alike
                t0 = time.perf_counter()
                model = make(alloc)
                t1 = time.perf_counter()
                jsim.simulate(model, engine="mean-field").occupancy.sum()
                t2 = time.perf_counter()
                build_t[way].append(t1 - t0)
                total_t[way].append(t2 - t0)
        med = {k: (float(np.median(build_t[k])), float(np.median(total_t[k]))) for k in ways}
        label = "weekly decisions" if weekly else "one decision per touchpoint"
        print(f"  {label} ({len(obj.names)} decisions):")
        for way, (b, t) in med.items():
            print(f"    {way:<15} model {1e3 * b:8.2f} ms   model + simulation {1e3 * t:8.2f} ms")
        print(
            f"    speed-up: model {med['recompile'][0] / med['spend override'][0]:.1f}x, "
            f"whole evaluation {med['recompile'][1] / med['spend override'][1]:.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--scenario", default="scenarios/webshop.toml")
    parser.add_argument("--noisy-trials", type=int, default=60)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--skip-known", action="store_true", help="only the scenario part")
    parser.add_argument("--known-only", action="store_true", help="only the known optima")
    parser.add_argument(
        "--objective-speed",
        type=int,
        default=0,
        metavar="N",
        help="only time N objective evaluations, spend override vs recompiling",
    )
    args = parser.parse_args()
    if args.objective_speed:
        objective_speed(args.scenario, args.objective_speed)
        return
    if args.skip_known:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        scenario_benchmark(args.scenario, args.noisy_trials, args.customers)
        return
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    samplers = ["cmaes", "tpe"] + (["gp"] if importlib.util.find_spec("torch") else []) + ["random"]
    if "gp" not in samplers:
        print("gp: skipped (PyTorch is not installed)")
    target_met = True
    for label, make in (("concave", concave_problem), ("s-shaped", s_shaped_problem)):
        model, budget, optimum = make()
        equal = model(BudgetSpace(model.names, budget).equal_split())
        print(
            f"\n{label}: {len(model.names)} touchpoints, budget {budget:g}, optimum {optimum:.10f}, "
            f"equal split {equal / optimum:.6f} of it; worst over {args.seeds} seeds"
        )
        head = " ".join(f"{n:>9}" for n in CHECKPOINTS if n <= args.trials)
        default_cap = default_max_evaluations(len(model.names))
        print(
            f"{'sampler':<8} {head}  {'cap 1000':>10} {'calls':>6}  "
            f"{f'cap {default_cap}':>10} {'calls':>6} {'time s':>7}"
        )
        for sampler in samplers:
            start = time.perf_counter()
            runs = [trajectory(model, budget, sampler, seed, args.trials) for seed in range(args.seeds)]
            capped = {
                cap: [
                    optimise_allocation(model, budget, max_evaluations=cap, seed=seed, sampler=sampler)
                    for seed in range(args.seeds)
                ]
                for cap in (1000, default_cap)
            }
            elapsed = (time.perf_counter() - start) / args.seeds
            worst = {n: min(r[n] for r in runs) / optimum for n in runs[0]}
            cells = " ".join(f"{worst[n]:9.6f}" for n in worst)
            summary = {
                cap: (min(p.value for p in ps) / optimum, max(p.n_evaluations for p in ps))
                for cap, ps in capped.items()
            }
            capped_cells = "  ".join(f"{frac:10.8f} {calls:6d}" for frac, calls in summary.values())
            print(f"{sampler:<8} {cells}  {capped_cells} {elapsed:7.1f}")
            if sampler == "cmaes":
                frac, calls = summary[1000]
                target_met &= frac >= TARGET and calls <= 1000
    print(
        f"\ntarget (default sampler, max_evaluations=1000: >= {TARGET} of the optimum within 1,000 calls): "
        f"{'met' if target_met else 'NOT met'}"
    )
    if args.known_only:
        return
    scenario_benchmark(args.scenario, args.noisy_trials, args.customers)
    objective_speed(args.scenario, 30)


if __name__ == "__main__":
    main()
