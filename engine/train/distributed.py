"""Training on several processes (torchrun): process group, DistributedDataParallel, pairs across ranks.

`torchrun --nproc_per_node=N -m engine train ...` starts N copies of the command line; each finds RANK,
WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT in its environment, and `init_from_env` turns them into a
`DistContext` that the Trainer uses in a handful of places. A plain `python -m engine train` (or torchrun with
one process in all) gets None: no process group, and the Trainer runs exactly as it always has.

The design (docs/distributed.md has the commands and the measurements):

- Pairs span ranks. Each rank embeds its own batch (the per-rank batch of the config) through
  DistributedDataParallel, then all ranks all-gather the embeddings with gradients (`all_gather_with_grad`,
  like the deprecated `torch.distributed.nn.functional.all_gather`) and the labels, and every rank computes the
  same loss on all
  pairs of the gathered batch. So N processes see exactly the pairs that one process sees on the concatenation
  of the N batches, cross-rank pairs included. The gather's backward sums every rank's gradient into the owner
  of each embedding (N times dL/dE_r, since every rank computes the same L), and DDP averages over N: each rank
  ends with the gradient of the one big batch. Batch norm is synchronised too (`nn.SyncBatchNorm` on CUDA, the
  equivalent `GatheredBatchNorm` below on CPU, where torch's has no kernel), so the embeddings are those of the
  big batch as well. Result: an N-process run equals a one-process run on the concatenated batches to float
  tolerance (tests/test_distributed.py checks it).
- Learning rate: used as given. The loss is a mean over pairs and AdamW is invariant to the gradient's scale, so
  a larger effective batch lowers the gradient noise without calling for a bigger step; the linear scaling rule
  is an SGD rule. To follow a one-GPU recipe on N GPUs, divide the per-rank batch by N instead.
- Random streams: the sampler and augmentation generators of rank r are re-seeded at every step from
  hash(seed, r, step) (`stream_seeds`), so ranks draw different batches, and a resumed run (any world size)
  continues with exactly the batches an uninterrupted one would have drawn: no per-rank RNG state needs saving.
- Rank 0 alone writes checkpoints, logs and weights, validates and sends events; the others wait at a barrier.
- Every rank follows rank 0's clock (time budget, LR schedule by time) and stop requests, so all stop together.
- Every collective has a timeout (`--dist-timeout`, default 10 min): a rank that dies or hangs makes the others
  fail with an error that says so (`DistContext.explain`), instead of waiting forever. On gloo a dead peer is
  noticed at once (its sockets close); the timeout covers a peer that is alive but stuck.
"""

from __future__ import annotations

import hashlib
import inspect
import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.parallel import DistributedDataParallel

DEFAULT_TIMEOUT_S = 600.0
# Newer torch renames the tensor collectives (and deprecates the old names); older torch has only the old ones.
_all_gather_single = getattr(dist, "all_gather_single", None) or dist.all_gather_into_tensor
_reduce_scatter_single = getattr(dist, "reduce_scatter_single", None) or dist.reduce_scatter_tensor
_DDP_NO_BUFFER_SYNC = ({"forward_sync_buffers": False}
                       if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
                       else {"broadcast_buffers": False})
TIMEOUT_ENV = "GLYPHS_DIST_TIMEOUT_S"  # overrides the default when --dist-timeout is not given


class DistributedError(RuntimeError):
    """Another rank died, was killed or stopped responding; the message says what this rank was doing."""


def launched_by_torchrun(environ=None) -> bool:
    """True when the environment holds torchrun's RANK and WORLD_SIZE."""
    env = os.environ if environ is None else environ
    return "RANK" in env and "WORLD_SIZE" in env


def stream_seeds(seed: int, rank: int, step: int) -> tuple[int, int]:
    """Return (sampler seed, augmentation seed) of `rank` at `step`: distinct for every (seed, rank, step)."""
    def h(stream: str) -> int:
        digest = hashlib.blake2b(f"glyphs/{seed}/{rank}/{step}/{stream}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "little") & ((1 << 63) - 1)
    return h("sampler"), h("augment")


def seed_streams(sampler_gen: torch.Generator, aug_gen: torch.Generator, seed: int, rank: int, step: int) -> None:
    """Re-seed one rank's sampler and augmentation generators for `step` (cheap: no device work)."""
    s, a = stream_seeds(seed, rank, step)
    sampler_gen.manual_seed(s)
    aug_gen.manual_seed(a)


@dataclass
class DistContext:
    """One rank of a distributed run: who it is, its device, and the collectives the Trainer needs."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    backend: str
    timeout_s: float
    host_group: object = None  # gloo group for host-side values (None: the default group is gloo already)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def describe(self) -> str:
        return f"rank {self.rank} of {self.world_size} ({self.backend}, {self.device})"

    # --- setup -----------------------------------------------------------------------------------------------------

    def wrap(self, model: nn.Module) -> DistributedDataParallel:
        """Synchronise `model`'s batch norms in place and return a DDP module whose forward is `model.embed`.

        The model keeps its parameters (the optimiser, checkpoints and weights files use it unchanged); the DDP
        module averages the gradients of all of them, the Koch head's included, at every backward.
        """
        sync_batch_norm(model, self.device)
        ids = [self.device.index] if self.device.type == "cuda" else None
        # Buffers need no broadcast: synchronised batch norms update identical running statistics everywhere.
        return DistributedDataParallel(_Embedder(model), device_ids=ids, **_DDP_NO_BUFFER_SYNC)

    def seed_streams(self, sampler_gen: torch.Generator, aug_gen: torch.Generator, seed: int, step: int) -> None:
        """Re-seed this rank's generators for `step` (see `stream_seeds`)."""
        seed_streams(sampler_gen, aug_gen, seed, self.rank, step)

    # --- every step ------------------------------------------------------------------------------------------------

    def gather_batch(self, emb: torch.Tensor, label: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return every rank's embeddings (differentiable) and labels, in rank order, on every rank.

        Batches may differ in size (an alphabet with fewer characters than the batch asks for): the sizes go
        through the host group, so padding and trimming need no device sync.
        """
        with self._collective("gathering the batch sizes"):
            size = torch.tensor([emb.shape[0]], dtype=torch.long)
            sizes = [torch.zeros_like(size) for _ in range(self.world_size)]
            dist.all_gather(sizes, size, group=self.host_group)
        sizes = [int(s) for s in sizes]
        n, m = emb.shape[0], max(sizes)
        if n < m:
            emb = torch.cat([emb, emb.new_zeros((m - n, *emb.shape[1:]))])
            label = torch.cat([label, label.new_full((m - n,), -1)])
        with self._collective("gathering the embeddings"):
            emb_all = all_gather_with_grad(emb)
            label_all = label.new_empty((self.world_size * m,))
            _all_gather_single(label_all, label.contiguous())
        if min(sizes) < m:
            keep = torch.cat([torch.arange(r * m, r * m + s) for r, s in enumerate(sizes)])
            keep = keep.to(emb_all.device, non_blocking=True)
            emb_all, label_all = emb_all.index_select(0, keep), label_all.index_select(0, keep)
        return emb_all, label_all

    def follow_main(self, elapsed: float, stop: bool) -> tuple[float, bool]:
        """Return rank 0's (elapsed seconds, stop requested), so all ranks take the same decisions at each step."""
        with self._collective("agreeing on the clock"):
            t = torch.tensor([elapsed, float(stop)], dtype=torch.float64)
            dist.broadcast(t, src=0, group=self.host_group)
        return float(t[0]), bool(t[1])

    def barrier(self, what: str) -> None:
        """Wait until every rank gets here (the others wait while rank 0 does `what`); errors name missing ranks."""
        with self._collective(f"waiting for {what}"):  # the host group is always gloo, which can monitor
            dist.monitored_barrier(self.host_group, timeout=timedelta(seconds=self.timeout_s), wait_all_ranks=True)

    # --- errors and cleanup -------------------------------------------------------------------------------------------

    def explain(self, exc: BaseException) -> str | None:
        """Return a message for people when `exc` means the ranks lost contact (None for any other error)."""
        if not is_communication_error(exc):
            return None
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return (f"{self.describe()} lost contact with the other ranks: one died, was killed or did not answer "
                f"within {self.timeout_s:.0f} s (--dist-timeout). The last checkpoint is intact: launch the same "
                f"torchrun command again with --resume. ({detail})")

    def _collective(self, what: str):
        return _Guard(self, what)

    def close(self, ok: bool = True) -> None:
        """Leave the process group. After a failure the process exits without it: a clean shutdown could itself
        wait for the rank that is gone (NCCL's watchdog, with TORCH_NCCL_ASYNC_ERROR_HANDLING, reaps what is left)."""
        if ok and dist.is_initialized():
            dist.destroy_process_group()


class _Guard:
    """Turns a failed collective into a DistributedError that says what the rank was doing."""

    def __init__(self, ctx: DistContext, what: str):
        self.ctx, self.what = ctx, what

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is not None and not isinstance(exc, DistributedError) and is_communication_error(exc):
            raise DistributedError(f"{self.ctx.describe()}: failed while {self.what}: {exc}") from exc
        return False


_COMM_MARKERS = ("gloo", "nccl", "connection closed", "connection reset", "broken pipe", "timed out", "timeout",
                 "monitored barrier", "peer", "socket")


def is_communication_error(exc: BaseException) -> bool:
    """True for errors raised by a collective whose peers are gone or stuck."""
    seen = set()
    while exc is not None and id(exc) not in seen:  # look through `raise ... from` chains
        seen.add(id(exc))
        if isinstance(exc, (DistributedError, dist.DistError)):
            return True
        if isinstance(exc, RuntimeError) and any(m in str(exc).lower() for m in _COMM_MARKERS):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def device_for_rank(name: str | None, local_rank: int) -> torch.device:
    """Return the device of the process with `local_rank`: GPU `local_rank` for auto/cuda, else the CPU."""
    if not name or name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cpu":
        return device
    if device.type != "cuda":
        raise ValueError(f"Distributed training runs on CUDA GPUs (NCCL) or on the CPU (gloo), not on {name}.")
    if not torch.cuda.is_available():
        raise ValueError("CUDA was requested but no CUDA GPU is usable here; use --device cpu or auto")
    if device.index is not None and device.index != local_rank:
        raise ValueError(f"--device {name} names one GPU, but torchrun gives each process its own: use --device "
                         "cuda (process LOCAL_RANK uses cuda:LOCAL_RANK); choose GPUs with CUDA_VISIBLE_DEVICES.")
    if local_rank >= torch.cuda.device_count():
        raise ValueError(f"LOCAL_RANK {local_rank} needs GPU {local_rank}, but {torch.cuda.device_count()} are "
                         "visible: start at most one process per GPU (--nproc_per_node).")
    return torch.device("cuda", local_rank)


def init_from_env(device: str | None = "auto", timeout_s: float | None = None,
                  min_world_size: int = 2) -> DistContext | None:
    """Join the process group torchrun described in the environment; None when there is none to join.

    With fewer than `min_world_size` processes in all (a plain run, or torchrun with one process) nothing is
    initialised. NCCL is used on CUDA (with a gloo side group for host-side values), gloo on the CPU.
    """
    if not launched_by_torchrun():
        return None
    world_size = int(os.environ["WORLD_SIZE"])
    if world_size < min_world_size:
        return None
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    if timeout_s is None:
        timeout_s = float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT_S))
    dev = device_for_rank(device, local_rank)
    timeout = timedelta(seconds=timeout_s)
    if dev.type == "cuda":
        # A stuck or failed NCCL collective tears the process down after `timeout` instead of hanging.
        os.environ.setdefault("TORCH_NCCL_ASYNC_ERROR_HANDLING", "3")
        torch.cuda.set_device(dev)
        dist.init_process_group("nccl", timeout=timeout, device_id=dev)
        host_group = dist.new_group(backend="gloo", timeout=timeout)
        backend = "nccl"
    else:
        dist.init_process_group("gloo", timeout=timeout)
        host_group, backend = None, "gloo"
    return DistContext(rank, world_size, local_rank, dev, backend, timeout_s, host_group)


class _AllGather(torch.autograd.Function):
    """all_gather whose backward hands each rank the sum of every rank's gradient for its own slice."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor, group) -> torch.Tensor:
        ctx.group = group
        world = dist.get_world_size(group)
        out = tensor.new_empty((world * tensor.shape[0], *tensor.shape[1:]))
        _all_gather_single(out, tensor.contiguous(), group=group)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        world, rank = dist.get_world_size(ctx.group), dist.get_rank(ctx.group)
        n = grad.shape[0] // world
        if dist.get_backend(ctx.group) == "nccl":
            out = grad.new_empty((n, *grad.shape[1:]))
            _reduce_scatter_single(out, grad.contiguous(), group=ctx.group)
        else:  # gloo has no reduce-scatter: sum everything, keep this rank's slice (embeddings are small)
            total = grad.contiguous().clone()
            dist.all_reduce(total, group=ctx.group)
            out = total[rank * n:(rank + 1) * n]
        return out, None


def all_gather_with_grad(tensor: torch.Tensor, group=None) -> torch.Tensor:
    """Return the rank-ordered concatenation of every rank's `tensor` (same shape everywhere) along dim 0.

    Differentiable: since every rank computes the same loss from the result, each rank's gradient is the sum
    of all ranks' gradients for its own rows (world size times the one-loss gradient; DDP's mean undoes that).
    """
    return _AllGather.apply(tensor, group)


# --- the model side --------------------------------------------------------------------------------------------------

class _Embedder(nn.Module):
    """Makes `model.embed` the forward pass, as DDP needs, without copying anything."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.embed(images)


class _GatheredBatchNormFn(torch.autograd.Function):
    """Batch norm with statistics over every rank's batch, with torch's fused CPU kernels where they fit.

    Forward: local mean and variance (fused kernel), all-gathered with the counts and combined (Chan's formula),
    then (x - mean) * invstd * w + b. Backward: the fused eval-mode backward gives dy * invstd * w and
    this rank's sums of dy and dy * xhat; the sums are all-reduced, and the terms of the global batch mean are
    subtracted: grad_x = invstd * w * (dy - mean(dy) - xhat * mean(dy * xhat)), means over all ranks' elements.
    The weight and bias gradients stay per rank (DDP averages them).
    """

    @staticmethod
    def forward(ctx, x, weight, bias, module):
        c = x.shape[1]
        # This rank's mean and 1/sqrt(var + eps) from the fused kernel (twice as fast as var_mean on the CPU).
        _, mean, invstd = torch.ops.aten.native_batch_norm(x, None, None, None, None, True, 0.0, module.eps)
        var = invstd.pow(-2) - module.eps
        count = torch.full((1,), x.numel() / c, dtype=mean.dtype, device=x.device)
        stats = all_gather_with_grad(torch.cat([mean, var, count])[None])  # (world, 2C + 1); no grad needed here
        means, variances, counts = stats[:, :c], stats[:, c:2 * c], stats[:, 2 * c:]
        n = counts.sum()
        g_mean = (counts * means).sum(0) / n
        g_var = (counts * (variances + (means - g_mean) ** 2)).sum(0) / n
        if module.track_running_stats:
            module.num_batches_tracked.add_(1)
            f = module.momentum if module.momentum is not None else 1.0 / float(module.num_batches_tracked)
            module.running_mean.mul_(1 - f).add_(g_mean.to(module.running_mean.dtype), alpha=f)
            unbiased = g_var * n / (n - 1).clamp(min=1)
            module.running_var.mul_(1 - f).add_(unbiased.to(module.running_var.dtype), alpha=f)
        ctx.save_for_backward(x, weight, g_mean, g_var)
        ctx.eps, ctx.n = module.eps, n
        shape = (1, c) + (1,) * (x.dim() - 2)
        scale = torch.rsqrt(g_var + module.eps)
        if weight is None:
            return (x - g_mean.view(shape)).mul_(scale.view(shape))
        # (x - mean) first: the fused eval kernel's x * scale + (bias - mean * scale) loses digits to cancellation
        return torch.addcmul(bias.view(shape), x - g_mean.view(shape), (scale * weight).view(shape))

    @staticmethod
    def backward(ctx, dy):
        x, weight, mean, var = ctx.saved_tensors
        c, shape = x.shape[1], (1, x.shape[1]) + (1,) * (x.dim() - 2)
        w = weight if weight is not None else torch.ones_like(mean)
        grad_x, grad_w, grad_b = torch.ops.aten.native_batch_norm_backward(
            dy.contiguous(), x, w, mean, var, None, None, False, ctx.eps, [True, True, True])
        sums = torch.cat([grad_b, grad_w])  # this rank's sum of dy and of dy * xhat, per channel
        dist.all_reduce(sums)
        m1, m2 = sums[:c] / ctx.n, sums[c:] / ctx.n
        invstd = torch.rsqrt(var + ctx.eps)
        # grad_x -= invstd * w * m1 + invstd^2 * w * m2 * (x - mean)   [xhat = (x - mean) * invstd]
        grad_x = grad_x.sub_((invstd * w * m1).view(shape))
        grad_x = grad_x.addcmul_(x - mean.view(shape), (invstd * invstd * w * m2).view(shape), value=-1)
        return grad_x, (grad_w if weight is not None else None), (grad_b if weight is not None else None), None


class GatheredBatchNorm(_BatchNorm):
    """Batch norm whose training statistics cover every rank's batch (like nn.SyncBatchNorm, which is GPU-only).

    Each rank computes its per-channel mean and variance, all ranks all-gather them and combine them with their
    counts (Chan's formula), so batches of different sizes are fine; the backward all-reduces the two per-channel
    sums the gradient needs (see `_GatheredBatchNormFn`). In eval mode it is a plain batch norm on the running
    statistics, with no communication.
    """

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized()):
            return super().forward(input)
        x = input.to(torch.promote_types(input.dtype, torch.float32))  # bf16 under autocast: statistics in float32
        return _GatheredBatchNormFn.apply(x, self.weight, self.bias, self).to(input.dtype)


def sync_batch_norm(model: nn.Module, device: torch.device) -> nn.Module:
    """Replace `model`'s batch norms in place by synchronised ones sharing their parameters and buffers."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)  # replaces the children, shares parameters
    for name, child in list(model.named_children()):
        if isinstance(child, _BatchNorm) and not isinstance(child, GatheredBatchNorm):
            new = GatheredBatchNorm(child.num_features, child.eps, child.momentum, child.affine,
                                    child.track_running_stats)
            if child.affine:
                new.weight, new.bias = child.weight, child.bias
            if child.track_running_stats:
                new.running_mean, new.running_var = child.running_mean, child.running_var
                new.num_batches_tracked = child.num_batches_tracked
            new.train(child.training)
            setattr(model, name, new)
        else:
            sync_batch_norm(child, device)
    return model


__all__ = ["DEFAULT_TIMEOUT_S", "DistContext", "DistributedError", "GatheredBatchNorm", "init_from_env",
           "is_communication_error", "launched_by_torchrun", "seed_streams", "stream_seeds", "sync_batch_norm"]
