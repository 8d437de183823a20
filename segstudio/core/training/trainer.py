"""The trainer: a generator that turns a project's reviewed pixels into better model versions.

`train(project, config, stop=...)` yields Progress, RoundEvent, StepEvent, ValidationEvent,
CheckpointEvent and WaitingEvent values and returns a TrainResult. It can be stopped before any
step (StopFlag, or closing the generator): the only writes are whole model versions, renamed
into place when complete, so the last kept model always stays loadable. Pausing is the
caller's business: it simply holds the generator between two steps.

A run is made of rounds. A round loads all reviewed data (replay: nothing is forgotten), lets
the best model check new and changed labels (suspicious ones are flagged and left out until a
person confirms them, segstudio.core.training.suspicious), re-measures the best model on the
current validation images and restarts the patience count, then trains epoch after epoch; a
version is kept only when it beats the best on a paired comparison over the same images
(segstudio.core.compare.decide_on_fresh), however few they are: never silently worse.

Seconds, not epochs: between two steps the trainer reads the project's annotation change
counter (one row; Project.annotation_changes, moved by database triggers). When it moved, only
the images changed since are looked at: rebuilt in the disk cache, checked against the best
model, given a split, and new or changed training images join the sampler at the front of the
line for the very next batch, within the same round (no reload). In continuous mode a new
training image restarts the learning-rate schedule at the end of the epoch that took it in.
Validation images that joined, left or changed make the next validation re-measure the best
model on the new set first (a fair comparison), and any change restarts the patience count.
In continuous mode a run whose patience ran out waits for the counter to move, then starts a
new round. Under torchrun ranks cannot fold changes alone: there a change ends the round at the
end of the epoch (all ranks agree).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel
from torch.utils.data import DataLoader

from segstudio.core.errors import SegStudioError
from segstudio.core.metrics import scores_from_confusion
from segstudio.core.compare import Evaluation, decide_on_fresh
from segstudio.core.progress import Progress, StopFlag
from segstudio.core.project import Split
from segstudio.core.training.checkpoint import remove_partial_versions, save_new_version
from segstudio.core.training.config import TrainConfig
from segstudio.core.training.cache import CachedImage, TrainingCache
from segstudio.core.training.dataset import PatchDataset, class_pixel_counts
from segstudio.core.training.ddp import DistributedContext
from segstudio.core.training.events import (
    CheckpointEvent, RoundEvent, StepEvent, TrainResult, ValidationEvent, WaitingEvent,
)
from segstudio.core.training.losses import SegmentationLoss, class_weights_from_counts
from segstudio.core.training.model_setup import initial_bundle
from segstudio.core.training.policy import (Patience, assign_validation_split, chosen_on, held_classes,
                                            training_data_hash)
from segstudio.core.training.precision import autocast_settings
from segstudio.core.training.sampling import PrioritySampler, steps_per_epoch
from segstudio.core.training.suspicious import check_labels
from segstudio.core.training.validation import JudgedImage, evaluate, predict_confident


@dataclass
class RoundData:
    train: list[CachedImage]
    val: list  # cache.OnDisk views; the training images when no image validates yet (documented)
    val_images: int  # real validation images (0 when validating on the training images)
    loader: DataLoader
    dataset: PatchDataset
    sampler: PrioritySampler
    loss: SegmentationLoss


def lr_factor(step: int, total: int, kind: str) -> float:
    """Multiplier of the base learning rate: warm-up then cosine, or a one-cycle shape."""
    if kind == "onecycle":
        rise = max(1, int(0.3 * total))
        if step < rise:
            return 0.04 + 0.96 * step / rise
        progress = min(1.0, (step - rise) / max(1, total - rise))
        return 1e-3 + (1 - 1e-3) * 0.5 * (1 + math.cos(math.pi * progress))
    warmup = min(50, max(1, total // 10))
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))


def weight_average(model: torch.nn.Module, decay: float) -> AveragedModel | None:
    """An exponential moving average of the weights (and batch-norm statistics), or None.

    Validation and saved versions use the average: it is smoother than the last step's
    weights, so validation mIoU is less noisy and a kept model is less often a lucky one.
    The decay ramps up over the first steps ((1 + n) / (10 + n)) so a fresh model is not
    held back by its random start.
    """
    if not decay:
        return None

    @torch.no_grad()
    def update(averaged: list[torch.Tensor], current: list[torch.Tensor], count: torch.Tensor) -> None:
        n = int(count)
        weight = 1.0 - min(decay, (1 + n) / (10 + n))
        floats = [(a, c) for a, c in zip(averaged, current) if a.is_floating_point()]
        if floats:
            torch._foreach_lerp_([a for a, _ in floats], [c for _, c in floats], weight)
        for a, c in zip(averaged, current):
            if not a.is_floating_point():
                a.copy_(c)

    return AveragedModel(model, multi_avg_fn=update, use_buffers=True)


def train(project, config: TrainConfig, *, stop: StopFlag | None = None,
          distributed: DistributedContext | None = None) -> Generator[object, None, TrainResult]:
    """Train on the project's reviewed pixels; see the module docstring."""
    trainer = Trainer(project, config, stop or StopFlag(), distributed or DistributedContext())
    return (yield from trainer.run())


class Trainer:
    def __init__(self, project, config: TrainConfig, stop: StopFlag, context: DistributedContext):
        self.project, self.config, self.stop, self.ctx = project, config, stop, context
        self.result = TrainResult()
        self.policy = Patience(config.patience)
        self.best_eval: Evaluation | None = None  # the best model on this round's validation images
        # The images the best model won its place on (validation images, or the training images
        # while none validates): its score there is lucky. None: all (a best saved before this).
        self.best_chosen_on: frozenset[int] | None = None
        self.best_miou = float("nan")
        self.step = 0
        self.validated_at = 0
        self.epoch = 0
        self.round = 0
        self.started = time.monotonic()
        self.changes_seen = 0  # the project's annotation change counter when last looked at
        self.records: dict = {}  # image id -> ImageRecord of the cached reviewed images (split, flag)
        self.roles: dict[int, str] = {}  # image id -> "train" or "val" (others neither train nor validate)
        self.val_changed = False  # validation images or their labels changed since the baseline
        self.data_changed = False  # anything changed since the last validation (patience restarts)
        self.images_joined = False  # a new image joined training since the last epoch's end
        self.cycle_start = 0  # the scheduler step the learning-rate schedule last (re)started at
        self.scheduler = None  # this round's learning-rate scheduler

    # ------------------------------------------------------------------ the run
    def run(self) -> Generator[object, None, TrainResult]:
        from segstudio.core.device import pick_device

        config = self.config
        previous_threads = torch.get_num_threads()
        previous_deterministic = torch.are_deterministic_algorithms_enabled()
        try:
            if config.threads:
                torch.set_num_threads(config.threads)
            if config.deterministic:
                torch.use_deterministic_algorithms(True, warn_only=True)
            torch.manual_seed(config.seed)
            self.device = self.ctx.device_for(pick_device(config.device))
            self.bundle, warm, note = initial_bundle(self.project, config)
            if note:
                yield Progress(0, None, note)
            self.model = self.bundle.model.to(self.device)
            self.channels_last = config.channels_last and self.device.type in ("cpu", "cuda")
            if self.channels_last:
                self.model = self.model.to(memory_format=torch.channels_last)
            self.net = self.ctx.wrap(self.model, self.device)
            self.ema = weight_average(self.model, config.ema_decay)
            self.eval_model = self.ema.module if self.ema is not None else self.model
            self.autocast, self.amp_dtype = autocast_settings(self.device, config.amp, cpu_bf16=config.cpu_bf16)
            self.scaler = torch.amp.GradScaler("cuda", enabled=self.autocast and self.amp_dtype == torch.float16)
            bound = None if self.ctx.enabled else int(config.cache_gb * 2**30)  # ranks share the folder
            self.cache = TrainingCache(self.project, self.bundle.in_channels, seed=config.seed, max_bytes=bound,
                                       keep_recent=4 * config.batch_size)
            self.sampler = PrioritySampler(config.batch_size, seed=config.seed, rank=self.ctx.rank,
                                           fresh_share=config.fresh_share, fresh_patches=config.fresh_patches,
                                           rare_class_probability=config.rare_class_probability,
                                           hard_share=config.hard_share, region=config.augment.patch,
                                           ensure=self.cache.ensure)
            self.best_state = self._state_copy() if warm else None
            self.best_name = self.bundle.version if warm else None
            self.best_chosen_on = chosen_on(self.project, self.best_name) if warm else None
            if self.ctx.is_main and not self.project.readonly:
                remove_partial_versions(self.project)
            return (yield from self._rounds())
        finally:
            torch.set_num_threads(previous_threads)
            torch.use_deterministic_algorithms(previous_deterministic)
            if self.device_is_cuda():
                torch.cuda.empty_cache()

    def device_is_cuda(self) -> bool:
        return getattr(self, "device", None) is not None and self.device.type == "cuda"

    def _rounds(self) -> Generator[object, None, TrainResult]:
        reason = "start"
        while True:
            data = yield from self._load_round()
            if data is None:
                if not self.config.continuous:
                    raise SegStudioError("nothing to train on: no image has reviewed pixels yet "
                                         "(paint some pixels or accept a proposal first)")
                changed = yield from self._wait_for_annotations()
                if not changed:
                    return self._finish("stopped", stopped=True)
                continue
            yield RoundEvent(self.round, len(data.train), len(data.val), reason)
            self.best_eval = self._baseline(data)  # however few images: a candidate must beat it on them
            self.best_miou = self.best_eval.miou if self.best_eval is not None else float("nan")
            self.policy.restart()
            outcome = yield from self._train_round(data)
            if outcome == "annotations changed":
                self.round += 1
                reason = outcome
                continue
            if outcome == "patience" and self.config.continuous:
                changed = yield from self._wait_for_annotations()
                if changed:
                    self.round += 1
                    reason = "annotations changed"
                    continue
                outcome = "stopped"
            return self._finish(outcome, stopped=outcome == "stopped")

    def _finish(self, reason: str, *, stopped: bool) -> TrainResult:
        self.result.steps, self.result.epochs = self.step, self.epoch
        self.result.best_miou = self.best_miou
        self.result.reason, self.result.stopped = reason, stopped
        return self.result

    # ----------------------------------------------------------------- a round
    def _load_round(self) -> Generator[object, None, RoundData | None]:
        config, project = self.config, self.project
        self.changes_seen = project.annotation_changes()[0]  # before looking: later changes are seen
        changed = self.cache.refresh()
        images = self.cache.reviewed()
        if self.ctx.is_main and not project.readonly:
            for flag in (yield from self._check_labels(self.cache.readable(images))):
                yield flag
        self.ctx.barrier()
        if self.ctx.is_main and not project.readonly:
            flagged = {record.id for record in project.flagged_images()}
            assign_validation_split(project, [image.image_id for image in images if image.image_id not in flagged],
                                    classes=self._held_classes(image.image_id for image in images))
        self.ctx.barrier()
        self.records = {record.id: record for record in project.images() if record.id in self.cache.entries}
        self.roles = {}
        for image in images:
            role = self._role(image.image_id)
            if role:
                self.roles[image.image_id] = role
        if not self.roles:
            return None
        train = self._entries("train")
        if not train:
            raise SegStudioError("every reviewed image is in the validation or test split: nothing to train on")
        val, val_images = self._validation_images()
        steps = steps_per_epoch(len(train), config.batch_size, config.patches_per_image,
                                config.min_steps_per_epoch, config.max_steps_per_epoch)
        self.sampler.start_round(train, steps, self.round)
        if self.round > 0:  # changed since the last look: they come first
            self.sampler.add_fresh([image for image in train if image.image_id in set(changed)])
        dataset = PatchDataset(self.bundle.normalisation.apply, config.augment,
                               correction_weight=config.correction_weight)
        loader = DataLoader(dataset, batch_sampler=self.sampler, num_workers=config.num_workers,
                            persistent_workers=config.num_workers > 0, pin_memory=self.device.type == "cuda")
        self.val_changed = self.data_changed = False
        return RoundData(train, val, val_images, loader, dataset, self.sampler, self._loss(train))

    def _loss(self, train: list[CachedImage]) -> SegmentationLoss:
        weights = None
        if self.config.class_weighting == "frequency":
            counts = class_pixel_counts(train, self.bundle.num_classes)
            weights = torch.from_numpy(class_weights_from_counts(counts))
        return SegmentationLoss(self.bundle.num_classes, self.config.loss, class_weights=weights).to(self.device)

    def _held_classes(self, image_ids) -> dict[int, frozenset[int]]:
        """id -> the classes the cached image's reviewed pixels hold (for the validation split)."""
        return {i: held_classes(self.cache.entries[i].class_counts) for i in image_ids if i in self.cache.entries}

    def _role(self, image_id: int) -> str:
        """"train", "val" or "" (not cached, flagged as suspicious, in the test split, or gone)."""
        record = self.records.get(image_id)
        if image_id not in self.cache.entries or record is None or record.label_flag is not None:
            return ""
        if record.split == Split.VAL:
            return "val"
        return "" if record.split == Split.TEST else "train"

    def _entries(self, role: str) -> list[CachedImage]:
        """The cached images of one role ("train" or "val"), in image id order."""
        return [self.cache.entries[i] for i, image_role in sorted(self.roles.items()) if image_role == role]

    def _validation_images(self) -> tuple[list, int]:
        """(what validates, how many real validation images): the training images when none is."""
        val = self._entries("val")
        chosen = val or self._entries("train")
        return [JudgedImage(image) for image in self.cache.readable(chosen)], len(val)

    def _fold_changes(self) -> Generator[object, None, bool]:
        """Between two steps: when the project's annotation counter moved, bring the images
        changed since into this round (see the module docstring). True when something that
        trains or validates changed."""
        if self.ctx.enabled:
            return False
        project = self.project
        counter, ids = project.annotation_changes(self.changes_seen)
        if counter == self.changes_seen:
            return False
        self.changes_seen = counter
        rebuilt = self.cache.refresh(ids)
        writable = self.ctx.is_main and not project.readonly
        if rebuilt and writable:
            for flag in (yield from self._check_labels(self.cache.readable(self.cache.entries[i] for i in rebuilt))):
                yield flag
        self._fetch_records(ids)
        unassigned = [i for i in rebuilt if i in self.records and self.records[i].split == Split.UNASSIGNED
                      and self.records[i].label_flag is None]
        if unassigned and writable:
            split_ids = [i for i in self.records if i in self.roles] + unassigned
            assign_validation_split(project, split_ids, classes=self._held_classes(split_ids), records=self.records)
            self._fetch_records(unassigned)
        relevant = False
        for image_id in dict.fromkeys(ids):
            old, role = self.roles.get(image_id, ""), self._role(image_id)
            if role == old and not (role and image_id in rebuilt):
                continue
            relevant = True
            if old == "train" and role != "train":
                self.sampler.remove([image_id])
            if role == "train":
                self.sampler.add_fresh([self.cache.entries[image_id]])
                self.images_joined = self.images_joined or old != "train"
            if "val" in (role, old):
                self.val_changed = True
            if role:
                self.roles[image_id] = role
            else:
                self.roles.pop(image_id, None)
        self.data_changed = self.data_changed or relevant
        return relevant

    def _fetch_records(self, ids: list[int]) -> None:
        from segstudio.core.errors import ProjectError

        for image_id in ids:
            try:
                self.records[image_id] = self.project.image(image_id)
            except ProjectError:  # removed
                self.records.pop(image_id, None)

    def _take_in_changes(self, data: RoundData) -> None:
        """At the end of an epoch, before validating: what changed during it becomes part of
        the round's data (training list, class weights, validation set and its baseline)."""
        if not self.data_changed:
            return
        data.train = self._entries("train")
        data.loss = self._loss(data.train)
        if self.val_changed:
            data.val, data.val_images = self._validation_images()
            self.best_eval = self._baseline(data)  # the best model on the new set: the bar to beat
            self.best_miou = self.best_eval.miou if self.best_eval is not None else self.best_miou
        self.policy.restart()  # something new to learn
        if self.images_joined and self.config.continuous:
            # A new image is something new to learn: the schedule starts again (a warm restart).
            # Folded into a round whose cosine had reached its floor (after 3 epochs), new images
            # met 1/20 of the learning rate and barely moved the network (bench hitl, issue 10).
            self.cycle_start = self.scheduler.last_epoch
        self.images_joined = False
        self.val_changed = self.data_changed = False

    def _train_round(self, data: RoundData) -> Generator[object, None, str]:
        config = self.config
        optimizer = torch.optim.AdamW(self.net.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                                      foreach=True)  # one kernel per step for all tensors, on CPUs too
        steps_per_epoch = len(data.loader)
        schedule_steps = (config.epochs or config.schedule_epochs) * steps_per_epoch
        self.cycle_start, self.images_joined = 0, False
        scheduler = self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: lr_factor(step - self.cycle_start, schedule_steps, config.schedule))
        total = config.epochs * steps_per_epoch if config.epochs else None
        while True:
            data.sampler.set_epoch(self.epoch)
            for images, targets, weights, image_ids, centres in self._batches(data):
                limit = self._limit_reached()
                if limit:
                    if limit != "stopped" and self.step > self.validated_at:
                        self._take_in_changes(data)
                        yield from self._validate_and_keep(data)  # the last steps count too
                    return limit
                loss = self._step(images, targets, weights, data.loss, optimizer, scheduler)
                ids = image_ids.tolist()
                data.sampler.observe(ids, centres.tolist(), data.loss.last_per_sample)
                yield StepEvent(self.step, self.epoch, loss, scheduler.get_last_lr()[0], tuple(ids))
                yield Progress(self.step, total, f"epoch {self.epoch + 1} loss {loss:.4f}")
                yield from self._fold_changes()
                if not data.sampler.images:
                    return "annotations changed"  # every training image went: the round reloads
            self.epoch += 1
            self._take_in_changes(data)
            yield from self._validate_and_keep(data)
            if config.epochs is not None and self.epoch >= config.epochs:
                return "epochs"
            if self.policy.exhausted:
                return "patience"
            if self.ctx.enabled and self.ctx.any(self.project.annotation_changes()[0] != self.changes_seen):
                return "annotations changed"

    def _batches(self, data: RoundData):
        """The epoch's batches. Without DataLoader workers, batch k + 1 is planned, read and
        augmented in a thread while step k computes (numpy, OpenCV and torch's kernels release
        the GIL): with a core torch leaves free (the app trains with every core but one) the
        patches no longer wait for the step nor the step for them. Measured on the shared
        2-core machine at 2 threads the thread only competed (more CPU per step), so by default
        it runs only when torch leaves a core free (TrainConfig.prefetch).
        Planning stays on this thread, right after the changes were folded in, so a change
        seen after step k is in batch k + 2."""
        prefetch = self.config.prefetch
        if prefetch is None:
            prefetch = torch.get_num_threads() < (os.cpu_count() or 1)
        if self.config.num_workers > 0 or not prefetch:
            yield from data.loader
            return
        from concurrent.futures import ThreadPoolExecutor

        sampler, dataset = data.sampler, data.dataset

        def plan(step: int):
            return sampler.plan_batch(step) if step < len(sampler) and sampler.images else None

        with ThreadPoolExecutor(1, thread_name_prefix="segstudio-patches") as pool:
            step, plans = 0, plan(0)
            pending = pool.submit(dataset.batch, plans) if plans else None
            while pending is not None:
                try:
                    batch = pending.result()
                except FileNotFoundError:  # an image left (skipped, removed) while its patch was read
                    plans = plan(step)
                    if not plans:
                        return
                    batch = dataset.batch(plans)
                step += 1
                plans = plan(step)
                pending = pool.submit(dataset.batch, plans) if plans else None
                yield batch

    def _step(self, images, targets, weights, loss_fn, optimizer, scheduler) -> float:
        device = self.device
        images = images.to(device, non_blocking=True)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        targets = targets.to(device, non_blocking=True)
        weights = weights.to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=self.amp_dtype, enabled=self.autocast):
            logits = self.net(images)
        loss = loss_fn(logits, targets, weights)
        optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(optimizer)
        self.scaler.update()
        scheduler.step()
        if self.ema is not None:
            self.ema.update_parameters(self.model)
        self.step += 1
        return float(loss.detach())

    def _limit_reached(self) -> str:
        """'stopped' / 'steps' / 'time limit' / '' - agreed by every rank under torchrun."""
        if self.config.max_steps is not None and self.step >= self.config.max_steps:
            return "steps"  # every rank counts the same steps
        stopped = self.stop.is_set()
        timed_out = self.config.minutes is not None and time.monotonic() - self.started >= self.config.minutes * 60
        if not self.ctx.any(stopped or timed_out):
            return ""
        return "stopped" if self.ctx.any(stopped) else "time limit"

    # --------------------------------------------------------- validate and keep
    def _evaluate(self, data: RoundData) -> tuple[Evaluation, float]:
        """The validation model on every validation image (each rank scores its share)."""
        shard = self.ctx.shard(list(range(len(data.val))))
        evaluation, loss = evaluate(self.eval_model, [data.val[i] for i in shard], self.bundle.normalisation.apply,
                                    self.bundle.num_classes, self.device, tile=self.config.validation_tile,
                                    autocast=self.autocast)
        if self.ctx.enabled:
            blocks = np.zeros((len(data.val),) + evaluation.blocks.shape[1:], np.int64)
            blocks[shard] = evaluation.blocks
            evaluation = Evaluation(tuple(image.image_id for image in data.val), self.ctx.sum_counts(blocks))
        loss_sum, counted = self.ctx.sum_counts(loss)
        return evaluation, loss_sum / max(1.0, counted)

    @contextmanager
    def _best_weights(self):
        """The best model's weights in the validation model (in eval mode) for a while."""
        current, was_training = self._state_copy(), self.eval_model.training
        self.eval_model.load_state_dict(self.best_state)
        self.eval_model.eval()
        try:
            yield self.eval_model
        finally:
            self.eval_model.load_state_dict(current)
            self.eval_model.train(was_training)

    def _baseline(self, data: RoundData) -> Evaluation | None:
        """The best model on this round's validation images (None when there is no best yet)."""
        if self.best_state is None:
            return None
        with self._best_weights():
            return self._evaluate(data)[0]

    def _check_labels(self, images) -> Generator[object, None, list]:
        """Flag new or changed labels the best model confidently disagrees with."""
        record = self.project.best_model()
        if self.best_state is None or record is None or record.version != self.best_name:
            return []
        normalise, tile = self.bundle.normalisation.apply, self.config.validation_tile
        with self._best_weights() as model:
            return (yield from check_labels(
                self.project, images, lambda image: predict_confident(model, normalise(image.raw), self.device,
                                                                      tile=tile), record))

    def _validate_and_keep(self, data: RoundData) -> Generator[object, None, None]:
        self.validated_at = self.step
        evaluation, loss = self._evaluate(data)
        fresh = self._fresh_validation(data, evaluation)
        verdict = decide_on_fresh(evaluation, self.best_eval, fresh, new_name=f"the model of step {self.step}",
                                  old_name=f"best model {self.best_name}" if self.best_name else "the best model")
        self.policy.observe(verdict.better)
        scores = scores_from_confusion(evaluation.confusion)
        per_class = {name: (None if np.isnan(value) else float(value))
                     for name, value in zip(self.bundle.class_names, scores.iou)}
        yield ValidationEvent(step=self.step, epoch=self.epoch, miou=evaluation.miou, per_class_iou=per_class,
                              improved=verdict.better, loss=loss, epochs_without_gain=self.policy.epochs_without_gain,
                              verdict=verdict.reason)
        if not verdict.better:
            return
        self.best_state, self.best_eval, self.best_miou = self._state_copy(), evaluation, evaluation.miou
        self.best_chosen_on = frozenset(fresh or evaluation.image_ids)
        if not self.ctx.is_main or self.project.readonly:
            return
        self.bundle.seed = self.config.seed
        self.bundle.training_data_hash = training_data_hash(data.train + data.val)
        metrics = {"val_miou": round(evaluation.miou, 6), "val_loss": round(loss, 6), "per_class_iou": per_class,
                   "epoch": self.epoch, "step": self.step, "train_images": len(data.train),
                   "val_images": data.val_images, "train_image_ids": [image.image_id for image in data.train],
                   "chosen_on_image_ids": sorted(self.best_chosen_on) if self.best_chosen_on else None,
                   "verdict": verdict.reason,
                   "gain_bound": None if np.isnan(verdict.bound) else round(verdict.bound, 6)}
        record = save_new_version(self.project, replace(self.bundle, model=self.eval_model), metrics)
        self.best_name = record.version
        self.result.best_version = record.version
        self.result.kept_versions.append(record.version)
        yield CheckpointEvent(record.version, evaluation.miou, str(record.path))

    def _fresh_validation(self, data: RoundData, evaluation: Evaluation) -> list[int]:
        """Validation images the best model was not chosen on, or [] to compare on all of them.

        The best won its place on the images it was compared on then; among many candidates
        one is lucky there, and its lucky score is the bar every later model must clear on
        the same images. Images that joined validation since are unseen by both models, so
        the comparison is fair there (test-then-train, as the ladder scores). Validating on
        the training images (no validation image) has no such images: there all of them count.
        """
        if self.best_eval is None or not data.val_images or self.best_chosen_on is None:
            return []
        return [image_id for image_id in evaluation.image_ids if image_id not in self.best_chosen_on]

    def _state_copy(self) -> dict:
        """The weights validation sees (the running average when there is one), on the CPU."""
        return {key: value.detach().to("cpu", copy=True) for key, value in self.eval_model.state_dict().items()}

    # ------------------------------------------------------------ continuous mode
    def _wait_for_annotations(self) -> Generator[object, None, bool]:
        """Wait until the project's annotation counter moves; False when stopped first."""
        waited, last_look = 0.0, time.monotonic()
        while not self.stop.is_set():
            if self.config.minutes is not None and time.monotonic() - self.started >= self.config.minutes * 60:
                return False
            time.sleep(0.1)
            waited += 0.1
            if time.monotonic() - last_look >= self.config.poll_seconds:
                last_look = time.monotonic()
                if self.project.annotation_changes()[0] != self.changes_seen:
                    return True
            yield WaitingEvent(waited)
        return False
