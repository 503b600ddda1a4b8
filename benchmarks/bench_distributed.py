"""Distributed training throughput: 1 process against N processes (DDP, pairs across ranks), same Trainer.

Each row runs the real Trainer for a few seconds on synthetic data (random 1-bit glyphs in Omniglot's shape:
throughput does not depend on the pixels) and reports images/s and labelled pairs/s over the effective batch:

- "1 process, batch b": the single-process recipe.
- "1 process, batch N*b": the same pairs per step as N ranks with batch b each (the equivalent one-process run).
- "N processes, batch b each": torchrun-style ranks (started here with torchrun's environment variables),
  DistributedDataParallel, embeddings all-gathered so the loss covers all (N*b)(N*b-1)/2 pairs.

img/CPU-s is images per CPU-second of all the processes together: it holds when other work shares the CPU,
where wall-clock rates depend on the scheduler (several processes get a larger share of a busy machine).

On the CPU (gloo) the cores are split between the processes (torch threads = cores / N), so the figure says
how well N processes share one machine; on GPUs each rank gets its own GPU (NCCL). With a single GPU, N
processes would have to share it: that is not a scaling figure, so the script says so and reports only the
one-process rows.

    python benchmarks/bench_distributed.py [--device cpu] [--nprocs 2] [--seconds 30 | --steps N] [--preset tiny] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import queue as queue_module
import socket
import sys
import tempfile
import time
from dataclasses import replace

import torch
import torch.multiprocessing as mp

from engine.device import describe_device, select_device
from engine.pairs import BatchConfig
from engine.train import Trainer, preset_defaults

WARMUP_STEPS = 3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(preset: str, batch: BatchConfig, device: str, seconds: float, steps: int | None = None):
    """Return the row's training config: `steps` steps when given, else `seconds` of training."""
    cfg = replace(preset_defaults(preset), device=device, steps=steps, time_budget_s=None if steps else seconds,
                  val_every=0, checkpoint_every=0, log_every=50, batch=batch)
    cfg.split = replace(cfg.split, val_alphabets=0)
    return cfg


def _worker(rank: int, world: int, port: int, args: dict, queue) -> None:
    """One process of a row: rank `rank` of `world` (world 1: a plain run, no process group)."""
    from bench_training import synthetic_background  # same synthetic set as the single-process benchmark

    torch.set_num_threads(args["threads"])
    dist = None
    if world > 1:
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                          LOCAL_RANK=str(rank))
        from engine.train.distributed import init_from_env
        dist = init_from_env(args["device"], timeout_s=120)
    batch = BatchConfig(args["alphabets"], args["characters"], args["drawers"])
    cfg = _config(args["preset"], batch, args["device"], args["seconds"], args["steps"])
    marks: list[tuple[float, float]] = []  # (wall, this process's CPU time) after each step
    with tempfile.TemporaryDirectory() as out:
        trainer = Trainer(cfg, synthetic_background(alphabets=args["synthetic_alphabets"]), out, dist=dist)
        step = trainer.train_one_step

        def timed_step():
            result = step()
            if trainer.device.type == "cuda":
                torch.cuda.synchronize(trainer.device)
            marks.append((time.perf_counter(), time.process_time()))
            return result
        trainer.train_one_step = timed_step
        trainer.run()
    if dist is not None:
        dist.close()
    timed = marks[WARMUP_STEPS:] if len(marks) > WARMUP_STEPS + 1 else marks  # skip allocator/thread warm-up
    steps = len(timed) - 1
    if steps < 1:
        raise SystemExit(f"rank {rank}: {len(marks)} step(s) in {args['seconds']} s, too few to time: raise --seconds "
                         "or give --steps")
    queue.put({"rank": rank, "steps_per_s": steps / (timed[-1][0] - timed[0][0]),
               "cpu_s_per_step": (timed[-1][1] - timed[0][1]) / steps, "steps": len(marks)})


def measure(world: int, args: dict) -> dict:
    """Run one row in fresh processes; return steps/s, images/s and pairs/s over the effective batch."""
    ctx = mp.get_context("spawn")
    queue, port = ctx.Queue(), _free_port()
    procs = [ctx.Process(target=_worker, args=(r, world, port, args, queue)) for r in range(world)]
    for p in procs:
        p.start()
    deadline = time.monotonic() + args["seconds"] + 900
    ranks = []
    while len(ranks) < world:  # wait for every rank's figures, but not for a process that has died
        try:
            ranks.append(queue.get(timeout=1.0))
        except queue_module.Empty:
            failed = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
            if failed or time.monotonic() > deadline:
                for p in procs:
                    p.kill()
                raise RuntimeError(f"a benchmark process failed (exit codes {[p.exitcode for p in procs]})")
    for p in procs:
        p.join(120)
    main_rank = next(r for r in ranks if r["rank"] == 0)
    b = args["alphabets"] * args["characters"] * args["drawers"] * world  # effective batch
    sps = main_rank["steps_per_s"]
    cpu = sum(r["cpu_s_per_step"] for r in ranks)  # CPU seconds a step, all ranks together
    return {"processes": world, "effective_batch": b, "steps": main_rank["steps"], "steps_per_s": sps,
            "images_per_s": sps * b, "pairs_per_s": sps * b * (b - 1) / 2, "images_per_cpu_s": b / cpu}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu", help="cpu (gloo) or cuda (NCCL, one GPU per process)")
    p.add_argument("--nprocs", type=int, default=2, help="processes for the distributed row")
    p.add_argument("--seconds", type=float, default=30.0, help="training seconds per row (first steps excluded)")
    p.add_argument("--steps", type=int, help="training steps per row instead of --seconds (at least 2)")
    p.add_argument("--preset", default="tiny")
    p.add_argument("--alphabets", type=int, default=2, help="per rank")
    p.add_argument("--characters", type=int, default=8, help="per rank (the tiny preset trains with 16)")
    p.add_argument("--drawers", type=int, default=2, help="per rank (the tiny preset trains with 4)")
    p.add_argument("--synthetic-alphabets", type=int, default=20, help="alphabets of the synthetic set (20 "
                                                                       "characters of 20 drawers each)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    device = select_device(args.device)
    n = args.nprocs
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    base = {"preset": args.preset, "device": device.type, "seconds": args.seconds, "steps": args.steps,
            "synthetic_alphabets": args.synthetic_alphabets,
            "alphabets": args.alphabets,
            "characters": args.characters, "drawers": args.drawers}
    b = args.alphabets * args.characters * args.drawers
    print(f"Distributed training throughput, preset {args.preset}, {describe_device(device)}, {cores} CPU cores, "
          f"torch {torch.__version__}")
    if hasattr(os, "getloadavg"):
        load = os.getloadavg()[0]
        print(f"load average {load:.1f} on {cores} cores" + (" (other work shares the CPU: figures are noisy)"
                                                              if load > cores else ""))
    rows = [(f"1 process, batch {b}", 1, dict(base, threads=cores)),
            (f"1 process, batch {n * b}", 1, dict(base, threads=cores, alphabets=n * args.alphabets))]
    if device.type == "cuda" and torch.cuda.device_count() < n:
        print(f"note: {torch.cuda.device_count()} GPU(s) here; {n} processes would share one GPU, which is not a "
              f"meaningful scaling figure: only the one-process rows are reported. Run on a machine with {n} GPUs.")
    else:
        backend = "NCCL" if device.type == "cuda" else f"gloo, {max(1, cores // n)} thread(s) each"
        rows.append((f"{n} processes ({backend}), batch {b} each", n, dict(base, threads=max(1, cores // n))))
    print(f"{'run':<52} {'eff. batch':>10} {'steps/s':>8} {'images/s':>10} {'pairs/s':>12} {'img/CPU-s':>10}")
    results = []
    for label, world, row_args in rows:
        r = measure(world, row_args)
        r["run"] = label
        results.append(r)
        print(f"{label:<52} {r['effective_batch']:>10} {r['steps_per_s']:>8.2f} {r['images_per_s']:>10.0f} "
              f"{r['pairs_per_s']:>12.0f} {r['images_per_cpu_s']:>10.1f}", flush=True)
    if len(results) == 3:
        same_pairs, dist_row = results[1], results[2]
        print(f"{n} processes vs 1 process on the same pairs per step (batch {n * b}): "
              f"{dist_row['pairs_per_s'] / same_pairs['pairs_per_s']:.2f}x the pairs/s, "
              f"{dist_row['images_per_cpu_s'] / same_pairs['images_per_cpu_s']:.2f}x the images per CPU-second")
    if args.json:
        print(json.dumps({"device": describe_device(device), "cores": cores, "rows": results}))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # bench_training, for the synthetic data
    sys.exit(main())
