"""The Trainer: all-pairs siamese training on the device, with validation, checkpoints and resume.

Split like torchvision's reference script: `train_one_step`, `validate`, `save_last` / `state_dict` and
continuing a run from its checkpoint (`Trainer(..., checkpoint=RunFolder(out).read_checkpoint())`). The step
loop that ties them together (stop, pause, steps and time budget, learning-rate scheduler, reports, periodic
validation and checkpoints) is `TrainingLoop.run` (loop.py), shared with the Distiller; it reports events through
a plain callback. The Trainer's own: the training images on the device, the model card, exact resume (model,
optimiser, scheduler, random streams, clock, history), and the distributed ranks (distributed.py): DDP, every
rank taking rank 0's clock and stop request after each step, rank 0 alone reporting, validating and writing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from ..augment import distort_batch
from ..data.omniglot import OmniglotSet
from ..data.splits import split_background
from ..device import autocast, select_device
from ..model import ModelConfig, build_model, get_preset
from ..pairs import AlphabetBatchSampler, training_loss
from ..weights import load_weights, read_metadata, save_weights
from .checkpoint import CheckpointError, first_line, save_checkpoint
from .config import TrainConfig
from .loop import Meter, RunControl, TrainingLoop
from .run_folder import RunFolder, describe_network, saved_model_config
from .head_fit import HeadFitConfig, fit_head, monotone_from
from .events import CheckpointEvent, FailedEvent, FinishedEvent, StepEvent, TrainEvent

if TYPE_CHECKING:  # a plain run never imports torch.distributed's machinery
    from .distributed import DistContext

HEAD_FIT = HeadFitConfig()  # how a head of another kind than the starting weights' is fitted to their encoder


class TrainingError(RuntimeError):
    """Training stopped on an error; the message says what happened and what to do."""


def _main_rank_only(what: str):
    """In a distributed run only rank 0 runs the method (the others get None); then all ranks meet at a barrier."""
    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            if self.dist is None:
                return method(self, *args, **kwargs)
            result = method(self, *args, **kwargs) if self.dist.is_main else None
            self.dist.barrier(what)
            return result
        return wrapper
    return decorate


class Trainer(TrainingLoop):
    """Trains a SiameseNet on the background set's training alphabets; writes everything in the run folder
    `out_dir` (run_folder.py). Given the folder's `checkpoint` (`RunFolder.read_checkpoint`), it continues that
    run with its saved settings and `config`'s length and device (`RunFolder.continued_config`)."""

    def __init__(self, config: TrainConfig, data: OmniglotSet, out_dir: str | Path,
                 callback: Callable[[TrainEvent], None] | None = None, checkpoint: dict | None = None,
                 dist: DistContext | None = None, control: RunControl | None = None):
        if data.name != "background":
            raise ValueError("The Trainer only takes the background set: evaluation alphabets are for testing only.")
        super().__init__(out_dir, control)
        self.dist = dist  # None: one process. Else a torchrun rank (distributed.py): only rank 0 reports
        self.callback = (callback if dist is None or dist.is_main else None) or (lambda event: None)
        self._main_stop = False  # in a distributed run: rank 0's stop request, as of the last step
        state = checkpoint
        if state is not None:
            config = RunFolder.continued_config(TrainConfig.from_dict(state["config"]), config)
        if config.steps is None and not config.time_budget_s:
            raise ValueError("A run needs a number of steps or a time budget (or both); it has neither.")
        self.config = config
        self.device = dist.device if dist is not None else select_device(config.device)
        self.data = data
        self.split = split_background(data, config.split)
        self.model_config = (state is not None and saved_model_config(state)) or _model_config(config)
        self._prepare_training_images(data)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.model = build_model(self.model_config).to(self.device)
        if state is None and config.init_weights:
            self._start_from(config.init_weights)
        self.ddp = dist.wrap(self.model) if dist is not None else None  # DDP over model.embed, synced batch norms
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.scheduler = self.make_scheduler()
        self.sampler_gen = torch.Generator().manual_seed(config.seed)
        self.aug_gen = torch.Generator(device=self.device).manual_seed(config.seed + 1)
        self.sampler = AlphabetBatchSampler(self.char_alphabet, self.char_images, config.batch, self.sampler_gen)
        if state is not None:
            self._restore(state)

    # --- data ----------------------------------------------------------------------------------------------------

    def _prepare_training_images(self, data: OmniglotSet) -> None:
        """Move the training alphabets' images to the device, at the model's input size, once."""
        is_train = np.isin(data.char, self.split.train_chars)
        self.train_index = np.flatnonzero(is_train)  # positions in `data`, for tests and audits
        local_char = {int(c): i for i, c in enumerate(self.split.train_chars)}
        chars = np.array([local_char[int(c)] for c in data.char[self.train_index]])
        self.image_char = chars
        self.char_images = [np.flatnonzero(chars == i) for i in range(len(self.split.train_chars))]
        self.char_alphabet = data.char_alphabet[self.split.train_chars]
        size = self.model_config.input_size
        images = []
        for start in range(0, len(self.train_index), 2048):
            chunk = torch.from_numpy(data.pixels(self.train_index[start:start + 2048])).to(self.device)
            chunk = chunk.unsqueeze(1)
            if size != chunk.shape[-1]:
                chunk = F.interpolate(chunk.float(), size=(size, size), mode="bilinear", antialias=True).half()
            images.append(chunk)
        self.images = torch.cat(images)

    def _start_from(self, path: str) -> None:
        """Load a weights file's network into the model; a head of another kind is fitted to its encoder."""
        loaded = load_weights(path, self.device)
        self.model.encoder.load_state_dict(loaded.model.encoder.state_dict())
        if loaded.model.config.head == self.model_config.head:
            self.model.head.load_state_dict(loaded.model.head.state_dict())
            return
        if self.model_config.head == "monotone":
            self.model.head = monotone_from(loaded.model.head).to(self.device)
        fit_head(self.model, self.images, self.image_char, self.char_alphabet, HEAD_FIT)
        self.model.train()

    # --- one step, validation, checkpoints -------------------------------------------------------------------------

    def sample_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the next augmented batch (B, 1, S, S) on the device and its labels."""
        if self.dist is not None:  # each rank's streams are derived from (seed, rank, step): resumable anywhere
            self.dist.seed_streams(self.sampler_gen, self.aug_gen, self.config.seed, self.step)
        batch = self.sampler.sample()
        x = self.images[batch.index.to(self.device)].float()
        turns = batch.rotation if self.config.batch.class_rotations else None
        x = distort_batch(x, self.aug_gen, self.config.augment, self.config.style, turns)
        return x, batch.label.to(self.device)

    def train_one_step(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Run one optimisation step on all pairs of one batch; return (loss, pair accuracy) as device tensors."""
        x, label = self.sample_batch()
        if self.device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(self.device, self.config.amp):
            emb = self.model.embed(x) if self.ddp is None else self.ddp(x)
        if self.dist is not None:  # all ranks' embeddings (with gradients): the loss covers pairs across ranks
            emb, label = self.dist.gather_batch(emb, label)
        logits = self.model.head.logits(emb.float(), emb.float())
        loss, acc = training_loss(logits, label, self.config.rank_weight)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss, acc

    @_main_rank_only("validation on rank 0")
    def validate(self) -> float | None:
        """Return the one-shot accuracy on the validation alphabets (None when there are none)."""
        return self.validate_and_keep_best(
            self.model, self.config.val_tasks, self.config.val_way,
            lambda accuracy: self._write_weights(self.run_folder.best, {"validation_accuracy": accuracy}))

    def state_dict(self) -> dict:
        """Return everything needed to continue this run exactly where it is."""
        return {"step": self.step, "elapsed": self.elapsed, "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                "sampler_rng": self.sampler_gen.get_state(),
                "aug_rng": self.aug_gen.get_state(), "best_accuracy": self.best_accuracy,
                "config": self.config.to_dict(), "history": self.history,
                "extra": {"model_config": self.model_config.to_dict()}}

    def _restore(self, state: dict) -> None:
        """Take up the checkpoint's state; a part that does not fit this run is a CheckpointError naming the
        file and the part, raised before anything of the run is written."""
        self._check_shapes(state)
        for part, restore in (
                ("model weights", lambda: self.model.load_state_dict(state["model"])),
                ("optimizer state", lambda: self.optimizer.load_state_dict(state["optimizer"])),
                ("random-number state 'sampler_rng'", lambda: self.sampler_gen.set_state(state["sampler_rng"].cpu())),
                ("random-number state 'aug_rng'", lambda: self.aug_gen.set_state(state["aug_rng"].cpu()))):
            try:
                restore()
            except (KeyError, TypeError, ValueError, RuntimeError) as exc:
                raise CheckpointError(f"{self.run_folder.checkpoint}: its {part} does not fit this run "
                                      f"({first_line(exc)}). The checkpoint cannot be continued; nothing of the "
                                      "run was changed.") from exc
        self.step, self.elapsed = int(state["step"]), float(state.get("elapsed", 0.0))
        try:
            self.restore_schedule(state.get("scheduler"))  # absent from checkpoints written before the scheduler
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{self.run_folder.checkpoint}: its learning-rate scheduler state is damaged "
                                  f"({first_line(exc)}); nothing of the run was changed.") from exc
        self.best_accuracy = state.get("best_accuracy")
        self.history = [row for row in state.get("history", []) if row["step"] <= self.step]
        if self.dist is None or self.dist.is_main:
            self.rewrite_log()

    def _check_shapes(self, state: dict) -> None:
        """Raise CheckpointError when the checkpoint's weights or optimiser moments are not shaped like this run's
        network (another preset's tensors under this one's name)."""
        expected = {name: tuple(t.shape) for name, t in self.model.state_dict().items()}
        saved = {name: tuple(t.shape) for name, t in state["model"].items()}
        wrong = [f"{name} {saved[name]} instead of {shape}" for name, shape in expected.items()
                 if name in saved and saved[name] != shape]
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        groups = state["optimizer"].get("param_groups", [])
        ids = [i for group in groups if isinstance(group, dict) for i in group.get("params", [])]
        for index, param in zip(ids, params):
            for key, value in state["optimizer"]["state"].get(index, {}).items():
                if isinstance(value, torch.Tensor) and value.dim() and tuple(value.shape) != tuple(param.shape):
                    wrong.append(f"optimizer {key} of parameter {index} {tuple(value.shape)} instead of "
                                 f"{tuple(param.shape)}")
        if wrong:
            raise CheckpointError(
                f"{self.run_folder.checkpoint} holds tensors of another network than its run's "
                f"({describe_network(self.model_config)}): {'; '.join(wrong[:3])}"
                f"{f' and {len(wrong) - 3} more' if len(wrong) > 3 else ''}. It cannot be continued; nothing "
                "of the run was changed. Start a new run in another folder.")

    @_main_rank_only("the checkpoint on rank 0")
    def save_last(self) -> Path:
        """Write the resumable checkpoint and the latest weights beside it, atomically; return the checkpoint's
        path."""
        path = save_checkpoint(self.run_folder.checkpoint, self.state_dict())
        self._write_weights(self.run_folder.last, {})
        self.callback(CheckpointEvent(self.step, str(path)))
        return path

    def _write_weights(self, path: Path, extra: dict) -> Path:
        return save_weights(self.model, path, self.model_card(extra))

    def model_card(self, extra: dict | None = None) -> dict:
        """Return the model card for the current weights: config, data split, steps, time, device, versions."""
        return {"name": f"{self.config.preset} step {self.step}", **self.run_card(self.model),
                "preset": self.config.preset, "training": self.config.to_dict(),
                "best_validation_accuracy": self.best_accuracy, **(extra or {})}

    # --- the loop's hooks (loop.py) -------------------------------------------------------------------------------

    def begin(self) -> None:
        """Put the model in train mode."""
        self.model.train()

    def metered_step(self) -> dict[str, torch.Tensor]:
        """Run `train_one_step`; return its loss and pair accuracy by name."""
        loss, acc = self.train_one_step()
        return {"loss": loss, "pair_accuracy": acc}

    def step_event(self, means: dict[str, float], lr: float, images_per_s: float, eta_s: float) -> StepEvent:
        """Return the StepEvent for the values' means since the last report."""
        b = self.images_per_step
        return StepEvent(self.step, self.config.steps, means["loss"], means["pair_accuracy"], lr, images_per_s,
                         images_per_s * (b - 1) / 2, self.elapsed, eta_s)

    @property
    def images_per_step(self) -> int:
        """Return the effective batch: the per-rank batch times the number of ranks."""
        return self.config.batch.size * (self.dist.world_size if self.dist is not None else 1)

    @property
    def time_budget_s(self) -> float | None:
        """Return the config's time budget in seconds (None: its steps alone bound it)."""
        return self.config.time_budget_s

    @property
    def checkpoint_every(self) -> int:
        """Return the config's steps between checkpoints (0: only at the end)."""
        return self.config.checkpoint_every

    def stop_requested(self) -> bool:
        """Return whether to stop before the next step: in a distributed run, rank 0's request (`after_step`)."""
        return super().stop_requested() if self.dist is None else self._main_stop

    def after_step(self) -> None:
        """In a distributed run, take rank 0's clock and stop request: every rank then sets the same learning rate
        (it may follow the clock) and stops at the same step."""
        if self.dist is not None:
            self.elapsed, self._main_stop = self.dist.follow_main(self.elapsed, super().stop_requested())

    def report(self, meter: Meter, lr: float) -> None:
        """Log and report progress; only rank 0 does in a distributed run."""
        if self.dist is None or self.dist.is_main:
            super().report(meter, lr)

    def run(self) -> FinishedEvent:
        """Train until the step count or time budget is reached or a stop is requested; return how it ended.
        An error is reported as a FailedEvent and raised as a TrainingError that says what to do."""
        try:
            return super().run()
        except Exception as exc:
            message = (self.dist is not None and self.dist.explain(exc)) or _explain(exc)
            self.callback(FailedEvent(self.step, message))
            raise TrainingError(message) from exc


def _model_config(config: TrainConfig) -> ModelConfig:
    """Return the network a run trains: the preset's, or the starting weights' own (with the preset's head)."""
    preset = get_preset(config.preset)
    if not config.init_weights:
        return preset
    start, _ = read_metadata(config.init_weights)
    return ModelConfig(**{**start.to_dict(), "head": preset.head})


def _explain(exc: Exception) -> str:
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return ("The GPU ran out of memory. Use a smaller batch (fewer alphabets, characters or drawers per batch) "
                "or a smaller preset; the last checkpoint is intact.")
    return f"{type(exc).__name__}: {exc}. The last checkpoint is intact."
