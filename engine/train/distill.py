"""Distillation: a cheaper student network learns to reproduce a trained model's embeddings.

Why: on a CPU a query's cost is the encoder's forward pass, which scales with the input's area. A student of the
same architecture at a smaller input size starts from the teacher's weights (the encoder is convolutional, so the
weights fit any size) and is trained so that its embedding of each training image, seen at its own size, matches
the teacher's embedding of the full-size image. The teacher's weighted-L1 head is copied and frozen.

The loss, sum_j |alpha_j| |s_j - t_j| averaged over images, bounds what matters: by the triangle inequality the
logit of any pair changes by at most loss(a) + loss(b) between teacher and student. What is left of it inflates
every weighted L1 distance a little, so all the student's logits come out lower by a roughly constant amount
(measured for the shipped model: -2.8 on genuine pairs, -2.3 on impostors). Before weights are saved, the head's
bias is refit so that the student's mean logit on training-alphabet pairs matches the teacher's (`matched_bias`):
ranking is unchanged by the bias, and scores (and thresholds such as "no confident match") keep their scale.

Only the training alphabets of the teacher's own split are seen; validation (one-shot accuracy of the student)
uses the teacher's held-out validation alphabets, never the evaluation alphabets.

The step loop (stop, learning-rate scheduler, reports, validation every `val_every` steps and at the end) is
`TrainingLoop.run` (loop.py), shared with the Trainer; the Distiller supplies its hooks. Unlike the Trainer it
validates once before the first step (the teacher's weights at the student's size, the baseline to beat) and
always at the end, writes no resumable checkpoint (its `save_last` writes the last weights alone, at the end),
and matches the head's bias before any weights are saved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from ..augment import AffineConfig, distort_batch
from ..data.omniglot import OmniglotSet
from ..data.splits import split_background, validation_split_of
from ..device import select_device
from ..recognition.embedding import embed_glyphs
from ..model import SiameseNet, fast_encoder
from ..weights import LoadedModel, save_weights
from .loop import TrainingLoop


@dataclass
class DistillConfig:
    """A distillation run: the student's input size and how long and how fast it learns."""

    # The defaults are the run behind v2 (resources/models/glyphs-compact-v2.json), the shipped model's encoder.
    input_size: int = 88
    steps: int = 800
    batch: int = 32
    lr: float = 3e-4
    min_lr_fraction: float = 0.05
    warmup_steps: int = 50
    augment: AffineConfig | None = field(default_factory=AffineConfig)
    quarter_turns: bool = True  # the teacher learnt turned characters as characters of their own
    val_every: int = 200
    val_tasks: int = 1000  # the cost is embedding the validation images; more tasks are nearly free
    log_every: int = 10
    seed: int = 0
    device: str = "auto"

    def to_dict(self) -> dict:
        """Return the config as JSON-ready data."""
        return asdict(self)


@dataclass(frozen=True)
class DistillStep:
    """Progress every `log_every` steps: the mean loss (weighted L1 to the teacher) over the interval."""

    step: int
    total_steps: int
    loss: float
    lr: float
    images_per_s: float
    elapsed_s: float
    eta_s: float


def student_of(teacher: SiameseNet, input_size: int) -> SiameseNet:
    """Return a copy of `teacher` that reads glyphs at `input_size`, with the teacher's weights."""
    student = SiameseNet(replace(teacher.config, input_size=input_size))
    student.load_state_dict(teacher.state_dict())
    return student.to(next(teacher.parameters()).device)


def distill_loss(student_emb: torch.Tensor, teacher_emb: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Return the mean over images of sum_j |alpha_j| |s_j - t_j| (a bound on each image's share of a logit's
    change)."""
    return ((student_emb.float() - teacher_emb.float()).abs() * alpha.abs()).sum(1).mean()


@torch.no_grad()
def matched_bias(student: SiameseNet, teacher: SiameseNet, glyphs: torch.Tensor, chars: np.ndarray,
                 alphabets: np.ndarray) -> float:
    """Return the head bias that makes the student's logits match the teacher's on average over the within-alphabet
    pairs of `glyphs` (n, 105, 105) with their characters and alphabets: the mean of teacher - student logits over
    same-character pairs and over different-character pairs, the two groups weighted equally (as in training),
    added to the student's bias."""
    emb_t, emb_s = embed_glyphs(teacher, glyphs), embed_glyphs(student, glyphs)
    gap = teacher.head.logits(emb_t, emb_t) - student.head.logits(emb_s, emb_s)
    c, a = torch.as_tensor(chars, device=gap.device), torch.as_tensor(alphabets, device=gap.device)
    same = (c[:, None] == c[None]) & ~torch.eye(len(c), dtype=torch.bool, device=gap.device)
    other = (a[:, None] == a[None]) & (c[:, None] != c[None])
    if not same.any() or not other.any():
        raise ValueError("matching the bias needs pairs of the same character and of different ones")
    return float(student.head.bias) + 0.5 * float(gap[same].mean() + gap[other].mean())


class Distiller(TrainingLoop):
    """Distils `teacher` into a student at `config.input_size`; writes best/last weights and log.jsonl to
    `out_dir`. `request_stop` may be called from another thread (Ctrl+C); it takes effect within one step."""

    def __init__(self, teacher: LoadedModel, data: OmniglotSet, config: DistillConfig, out_dir: str | Path,
                 callback: Callable[[object], None] | None = None):
        if data.name != "background":
            raise ValueError("Distillation only takes the background set: evaluation alphabets are for testing only.")
        if not 16 <= config.input_size <= 256:
            raise ValueError(f"input size {config.input_size} is outside 16-256 pixels")
        super().__init__(out_dir)
        self.config, self.data = config, data
        self.callback = callback or (lambda event: None)
        self.device = select_device(config.device)
        self.teacher_card = teacher.card or {}
        self.teacher_fingerprint = teacher.fingerprint
        self.teacher = teacher.model.to(self.device).eval()
        self.teacher_embed = fast_encoder(self.teacher)
        self.split = split_background(data, validation_split_of(teacher.card))
        train_index = np.flatnonzero(np.isin(data.char, self.split.train_chars))
        self.images = torch.from_numpy(data.pixels(train_index)).to(self.device).unsqueeze(1).half()
        # Channels-last is oneDNN's native layout: about 15% less time per step on a CPU (and what GPUs prefer).
        self.student = student_of(self.teacher, config.input_size).to(memory_format=torch.channels_last)
        self.student.head.requires_grad_(False)
        self.optimizer = torch.optim.AdamW(self.student.encoder.parameters(), lr=config.lr, weight_decay=0.0)
        self.scheduler = self.make_scheduler()
        self.gen = torch.Generator(device=self.device).manual_seed(config.seed)
        self.bias_index = _bias_sample(data, self.split.train_chars, config.seed)
        self._bias_step: int | None = None  # the step whose weights the bias was last matched to

    def sample_batch(self) -> torch.Tensor:
        """Return a batch of augmented full-size training glyphs (B, 1, 105, 105) on the device."""
        n = self.config.batch
        idx = torch.randint(len(self.images), (n,), generator=self.gen, device=self.device)
        return distort_batch(self.images[idx].float(), self.gen, self.config.augment,
                             random_turns=self.config.quarter_turns)

    def metered_step(self) -> dict[str, torch.Tensor]:
        """Run one optimisation step; return its loss, by name, as a device tensor."""
        x = self.sample_batch()
        with torch.inference_mode():
            target = self.teacher_embed(self.teacher.prepare(x))
        emb = self.student.embed(self.student.prepare(x).contiguous(memory_format=torch.channels_last))
        loss = distill_loss(emb, target.clone(), self.student.head.alpha)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.detach()}

    def validate(self) -> float | None:
        """Return the student's one-shot accuracy on the validation alphabets (None when there are none);
        write best.safetensors when it is the best so far."""
        return self.validate_and_keep_best(self.student, self.config.val_tasks, 20, self._save_best)

    def _save_best(self, accuracy: float) -> None:
        self.match_bias()
        save_weights(self.student, self.run_folder.best, self.model_card(accuracy))

    def match_bias(self) -> float:
        """Refit the student's head bias to the teacher's scale on training-alphabet pairs (once per step: the end
        of a run that just saved its best weights reuses that fit); return it. The bias plays no part in the
        loss, so doing this at any time leaves training unchanged."""
        if self._bias_step != self.step:
            d = self.data
            glyphs = torch.from_numpy(d.pixels(self.bias_index))
            bias = matched_bias(self.student, self.teacher, glyphs, d.char[self.bias_index],
                                d.char_alphabet[d.char[self.bias_index]])
            with torch.no_grad():
                self.student.head.bias.fill_(bias)
            self._bias_step = self.step
        return self.student.head.bias.item()

    def model_card(self, validation_accuracy: float | None) -> dict:
        """Return the student's model card: what it was distilled from, how, on which alphabets."""
        teacher_name = self.teacher_card.get("name", "the teacher")
        return {"name": f"{teacher_name} distilled to {self.config.input_size} px, step {self.step}",
                **self.run_card(self.student),
                "distillation": {"teacher": teacher_name, "teacher_fingerprint": self.teacher_fingerprint,
                                 "config": self.config.to_dict()},
                "validation_accuracy": validation_accuracy}

    # --- the loop's hooks (loop.py) -------------------------------------------------------------------------------

    def begin(self) -> None:
        """Start a fresh log (distillation does not resume) and validate the untrained student: the baseline."""
        self.rewrite_log()
        self.validate()
        self.student.train()

    def validates_at_end(self) -> bool:
        """Return True: every run ends with a validation, so its best weights are known."""
        return True

    def save_last(self) -> Path:
        """Write the student's latest weights (bias matched) to last.safetensors; return their path. A
        distillation run is not continued, so it writes no checkpoint, and this runs once, at its end."""
        self.match_bias()
        return save_weights(self.student, self.run_folder.last, self.model_card(None))

    def step_event(self, means: dict[str, float], lr: float, images_per_s: float, eta_s: float) -> DistillStep:
        """Return the DistillStep for the mean loss since the last report."""
        return DistillStep(self.step, self.config.steps, means["loss"], lr, images_per_s, self.elapsed, eta_s)

    @property
    def images_per_step(self) -> int:
        """Return the batch size."""
        return self.config.batch


def _bias_sample(data: OmniglotSet, train_chars: np.ndarray, seed: int, max_chars: int = 60) -> np.ndarray:
    """Return the image indices used to match the bias: every drawing of up to `max_chars` training characters
    (seeded), about 1,200 images, enough for a stable mean over ~10^4 pairs."""
    rng = np.random.default_rng(seed)
    chars = rng.choice(train_chars, size=min(max_chars, len(train_chars)), replace=False)
    return np.flatnonzero(np.isin(data.char, chars))

