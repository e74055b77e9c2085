"""The fusion trainer: a ``transformers.Trainer`` subclass whose loss is the fusion
objective (DESIGN §2.7) over the pivot's logits and the sources' cached top-k.

Why a Trainer subclass: mixed precision, gradient accumulation, FSDP / DeepSpeed (via
``accelerate launch`` and Accelerate's config), checkpointing with optimizer/scheduler/RNG
state and exact resume all come from the library; this module only adds the loss, the
batch layout and the run-directory conventions. Gradients reach only the pivot: sources
enter as cached tensors.

Run directory (DESIGN §3): ``config.yaml``, ``metrics.jsonl``, ``checkpoints/step-N/``
(HF format with tokenizer), ``eval_queue.jsonl``.
"""

from __future__ import annotations

import os
import shutil
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from transformers import Trainer, TrainingArguments

from fusion.align import AlignMode, align_positions, alignment_tensors
from fusion.checkpoints import CHECKPOINT_PREFIX, last_complete_checkpoint, write_complete_marker
from fusion.config import FusionConfig, LossConfig
from fusion.data import Example, TokenizedExample
from fusion.graphs import TopK, kept_values
from fusion.losses import aligned_wd, fusion_objective, gld_sources, source_topk
from fusion.pivot_head import PivotHead, forward_hidden, fused_head_unsupported, head_from_hidden, head_from_logits
from fusion.teacher_cache import TeacherCache

#: ``fused_head: auto`` turns the fused head on from this many tokens per sequence (on a
#: GPU). Measured on the H200 (bench/RESULTS.md, 1.8B shape): at 2048 tokens the fused SFT
#: step is not faster than the unfused one (0.146 vs 0.135 s median at vocab 152k) and the
#: peak memory is equal; at 8192 the fused full objective is within +2.1 % of the fused
#: SFT floor and needs 33.2 GiB against the unfused SFT step's 35.9 GiB (49.9 vs 39.5 GiB
#: at vocab 262k), and it fits ≥ 65,536 tokens where the unfused step stops at 49,152.
FUSED_HEAD_AUTO_MIN_TOKENS = 4096


class FusionDataset(torch.utils.data.Dataset):
    """Pivot-tokenised examples joined, by example id, with every source's cache entry
    and the position alignment between the pivot and that source."""

    def __init__(
        self,
        examples: list[Example],
        tokenized: list[TokenizedExample],
        caches: dict[str, TeacherCache],
        alignment: AlignMode = "offsets",
    ) -> None:
        if [e.id for e in examples] != [t.id for t in tokenized]:
            raise ValueError("examples and their tokenisations are not in the same order")
        for name, cache in caches.items():
            missing = cache.missing([e.id for e in examples])
            if missing:
                raise ValueError(f"teacher cache of source {name!r} lacks {len(missing)} example(s), "
                                 f"e.g. {missing[0]!r}; run `workbench cache-teachers`")
        self.examples = examples
        self.tokenized = tokenized
        self.caches = caches
        self.alignment = alignment

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> dict[str, Any]:
        ex, tok = self.examples[i], self.tokenized[i]
        teachers = []
        for name, cache in self.caches.items():
            entry = cache.get(ex.id, response=ex.response)  # keyed by id: order cannot mismatch
            if entry.id != ex.id:
                raise ValueError(f"teacher cache of {name!r} returned {entry.id!r} for {ex.id!r}")
            if entry.length and int(entry.offsets[:, 1].max()) > len(ex.response):
                raise ValueError(f"teacher cache of {name!r}: offsets of {ex.id!r} run past its response")
            pairs = align_positions(tok.response_offsets, entry.offsets.numpy(), self.alignment)
            teachers.append({"entry": entry, "pairs": pairs})
        return {"id": ex.id, "tokenized": tok, "teachers": teachers}


@dataclass
class FusionCollator:
    """Pads a list of :class:`FusionDataset` items into the batch the loss reads.

    Keys: ``ids`` (the example ids, for checks and debugging); ``input_ids``, ``attention_mask``,
    ``labels`` (B, T) — labels are -100 outside the response; ``distill_pos``/``distill_mask``
    (B, L) — sequence positions predicting the response-text tokens; ``teachers`` — one dict
    per source with ``logprobs``, ``indices`` (B, Ls, k), ``lse``, ``mask`` (B, Ls), ``align_index``/``align_weight``
    (B, L, M).
    """

    pad_token_id: int

    def __call__(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        toks: list[TokenizedExample] = [it["tokenized"] for it in items]
        bsz, longest = len(toks), max(len(t.input_ids) for t in toks)
        input_ids = torch.full((bsz, longest), self.pad_token_id, dtype=torch.long)
        attention = torch.zeros((bsz, longest), dtype=torch.long)
        labels = torch.full((bsz, longest), -100, dtype=torch.long)
        resp_len = max(t.num_response_tokens for t in toks)
        distill_pos = torch.zeros((bsz, resp_len), dtype=torch.long)
        distill_mask = torch.zeros((bsz, resp_len), dtype=torch.bool)
        for b, t in enumerate(toks):
            n = len(t.input_ids)
            input_ids[b, :n] = torch.as_tensor(t.input_ids)
            attention[b, :n] = 1
            labels[b, t.prompt_len : n] = torch.as_tensor(t.input_ids[t.prompt_len :])
            distill_pos[b, : t.num_response_tokens] = torch.as_tensor(t.distill_positions())
            distill_mask[b, : t.num_response_tokens] = True
        teachers = []
        for s in range(len(items[0]["teachers"])):
            entries = [it["teachers"][s]["entry"] for it in items]
            src_len = max(e.length for e in entries)
            k = entries[0].logprobs.shape[-1]
            logprobs = torch.zeros((bsz, src_len, k), dtype=torch.float32)
            indices = torch.zeros((bsz, src_len, k), dtype=torch.long)
            lse = torch.zeros((bsz, src_len), dtype=torch.float32)
            mask = torch.zeros((bsz, src_len), dtype=torch.bool)
            for b, e in enumerate(entries):
                logprobs[b, : e.length] = e.logprobs.float()
                indices[b, : e.length] = e.indices.long()
                lse[b, : e.length] = e.lse
                mask[b, : e.length] = True
            align_index, align_weight = alignment_tensors([it["teachers"][s]["pairs"] for it in items], resp_len)
            teachers.append({"logprobs": logprobs, "indices": indices, "lse": lse, "mask": mask,
                             "align_index": align_index, "align_weight": align_weight})
        return {"ids": [it["id"] for it in items],
                "input_ids": input_ids, "attention_mask": attention, "labels": labels,
                "distill_pos": distill_pos, "distill_mask": distill_mask, "teachers": teachers}


def fusion_terms(
    logits: Tensor,
    batch: dict[str, Any],
    loss_cfg: LossConfig,
    source_names: list[str],
    source_weights: dict[str, float],
) -> dict[str, Tensor]:
    """All loss terms of one batch from the pivot's logits (B, T, V): ``ce``,
    ``wd/<source>``, ``gld/<source>`` (batch means) and ``loss`` (the objective).
    (The unfused path: :func:`fusion.pivot_head.head_from_logits` then :func:`head_terms`.)"""
    head = head_from_logits(logits, batch, distill_k(loss_cfg))
    return head_terms(head, batch, loss_cfg, source_names, source_weights)


def distill_k(loss_cfg: LossConfig) -> int | None:
    """The pivot top-k width the objective needs: ``loss.k``, or None when no distillation
    term carries weight (λ = 0, or α = β = 0)."""
    active = loss_cfg.lambda_ > 0 and (loss_cfg.alpha > 0 or loss_cfg.beta > 0)
    return loss_cfg.k if active else None


def head_terms(
    head: PivotHead,
    batch: dict[str, Any],
    loss_cfg: LossConfig,
    source_names: list[str],
    source_weights: dict[str, float],
) -> dict[str, Tensor]:
    """All loss terms of one batch from what the pivot's head yields (:class:`PivotHead`,
    fused or not): ``ce``, ``wd/<source>``, ``gld/<source>`` and ``loss``.

    Distillation terms are computed only when they carry weight (λ > 0 and α or β > 0).
    """
    terms: dict[str, Tensor] = {"ce": head.ce}
    wd_terms: dict[str, Tensor] = {}
    gld_terms: dict[str, Tensor] = {}
    lam, k, g = loss_cfg.lambda_, loss_cfg.k, loss_cfg.gld
    if distill_k(loss_cfg) is not None:
        if head.top is None or head.lse is None:
            raise ValueError("the distillation terms need the pivot's top-k and logsumexp")
        mask = batch["distill_mask"]
        top, ids = head.top
        pivot_prob = TopK(kept_values(top, head.lse, "prob"), ids)
        pivot_graph = pivot_prob if g.value == "prob" else TopK(kept_values(top, head.lse, g.value), ids)
        for name, t in zip(source_names, batch["teachers"]):
            if loss_cfg.alpha > 0:
                src_prob = source_topk(t["logprobs"], t["indices"], t["lse"], "prob", k)
                wd_terms[name] = aligned_wd(pivot_prob.values, src_prob.values,
                                            t["align_index"], t["align_weight"]).mean()
                terms[f"wd/{name}"] = wd_terms[name]
        if loss_cfg.beta > 0:
            graphs = [(source_topk(t["logprobs"], t["indices"], t["lse"], g.value, k), t["mask"])
                      for t in batch["teachers"]]
            per_source = gld_sources(pivot_graph, mask, graphs, nodes=g.nodes, normalize=g.normalize,
                                     weights=g.weights, order=g.order, mode=g.mode)  # (S, B)
            for name, values in zip(source_names, per_source):
                gld_terms[name] = values.mean()
                terms[f"gld/{name}"] = gld_terms[name]
    terms["loss"] = fusion_objective(terms["ce"], wd_terms, gld_terms, source_weights,
                                     lam=lam, alpha=loss_cfg.alpha, beta=loss_cfg.beta)
    return terms


class FusionTrainer(Trainer):
    """``Trainer`` with the fusion objective as its loss and per-term logging."""

    # compute_loss returns a per-micro-batch mean: let the Trainer divide by the
    # gradient-accumulation steps.
    loss_is_scaled_for_ga = False

    def __init__(self, *args: Any, loss_cfg: LossConfig, source_names: list[str],
                 source_weights: dict[str, float], fused_head: bool | str = "auto",
                 fused_head_chunk: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if fused_head not in (True, False, "auto"):
            raise ValueError(f"fused_head must be true, false or 'auto', got {fused_head!r}")
        self.fused_head = fused_head
        self.fused_head_chunk = fused_head_chunk
        # Our loss never receives num_items_in_batch: make every transformers version divide
        # it by the accumulation steps (older ones decide from this flag).
        self.model_accepts_loss_kwargs = False
        self.loss_cfg = loss_cfg
        self.source_names = source_names
        self.source_weights = source_weights
        self._term_sums: dict[str, float] = defaultdict(float)
        self._term_count = 0
        self._tokens = 0

    def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                     num_items_in_batch: Any = None) -> Any:
        """Forward the pivot and return the fusion objective (see :func:`head_terms`), from
        the fused head (hidden states only, :mod:`fusion.fused_head`) or from the logits."""
        forward = {"input_ids": inputs["input_ids"], "attention_mask": inputs["attention_mask"]}
        unwrapped = self.accelerator.unwrap_model(model)
        # The fused path has no logits to return: return_outputs (evaluation) uses the other.
        if not return_outputs and self.use_fused_head(unwrapped, inputs["input_ids"].shape[1]):
            hidden, weight = forward_hidden(model, unwrapped, **forward)
            head = head_from_hidden(hidden, weight, inputs, distill_k(self.loss_cfg), chunk_rows=self.fused_head_chunk,
                                    compute_dtype=self._compute_dtype(weight))
            terms = head_terms(head, inputs, self.loss_cfg, self.source_names, self.source_weights)
            outputs = None
        else:
            outputs = model(**forward)
            terms = fusion_terms(outputs.logits, inputs, self.loss_cfg, self.source_names, self.source_weights)
        if model.training:
            for key, value in terms.items():
                if key != "loss":
                    self._term_sums[key] += float(value.detach())
            self._term_count += 1
            self._tokens += int(inputs["attention_mask"].sum())
        return (terms["loss"], outputs) if return_outputs else terms["loss"]

    def use_fused_head(self, unwrapped: Any, seq_len: int) -> bool:
        """Whether this step uses the fused head: ``fused_head: true`` always (an
        ineligible model or a sharded run is an error), ``false`` never, ``auto`` when the
        model is eligible, parameters are not sharded (FSDP / DeepSpeed shard the head
        weight), the run is on a GPU and ``seq_len >= FUSED_HEAD_AUTO_MIN_TOKENS``."""
        setting = self.fused_head
        if setting is False:
            return False
        why = fused_head_unsupported(unwrapped)
        distributed = str(getattr(self.accelerator, "distributed_type", "NO"))
        if why is None and ("FSDP" in distributed or "DEEPSPEED" in distributed):
            why = f"its parameters are sharded ({distributed})"
        if setting is True:
            if why is not None:
                raise ValueError(f"training.fused_head is true but the pivot cannot use it: {why}")
            return True
        return why is None and self.args.device.type == "cuda" and seq_len >= FUSED_HEAD_AUTO_MIN_TOKENS

    def _compute_dtype(self, weight: Tensor) -> torch.dtype:
        """The dtype the model's own head matmul would run in (the mixed-precision one)."""
        if self.args.bf16:
            return torch.bfloat16
        if self.args.fp16:
            return torch.float16
        return weight.dtype

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Add the mean of every loss term since the previous log to training logs."""
        if "loss" in logs and self._term_count:
            # Mean over every micro-batch of every process (like the Trainer's own loss);
            # the reduction is collective, and every process logs at the same steps.
            keys = sorted(self._term_sums)
            packed = torch.tensor([self._term_sums[k] for k in keys] + [self._term_count, self._tokens],
                                  dtype=torch.float64, device=self.args.device)
            if self.accelerator.num_processes > 1:
                packed = self.accelerator.reduce(packed, reduction="sum")
            values = packed.tolist()
            for key, total in zip(keys, values):
                logs[key] = total / values[-2]
            logs["tokens"] = int(values[-1])
            self._term_sums = defaultdict(float)
            self._term_count = 0
            self._tokens = 0
        super().log(logs, start_time)

    def _save_checkpoint(self, model: Any, trial: Any) -> None:
        """Save as the Trainer does, name the folder ``step-N`` (DESIGN §3), then write the
        complete marker last (:mod:`fusion.checkpoints`)."""
        super()._save_checkpoint(model, trial)
        self.accelerator.wait_for_everyone()
        if self.args.should_save:
            assert self.args.output_dir is not None  # training_arguments always sets it
            src = Path(self.args.output_dir) / f"checkpoint-{self.state.global_step}"
            dst = Path(self.args.output_dir) / f"{CHECKPOINT_PREFIX}{self.state.global_step}"
            if dst.exists():
                shutil.rmtree(dst)
            os.replace(src, dst)
            write_complete_marker(dst, self.state.global_step)
        self.accelerator.wait_for_everyone()


def last_checkpoint(checkpoint_dir: str | Path) -> Path | None:
    """The complete ``step-N`` checkpoint (:func:`fusion.checkpoints.is_complete_checkpoint`)
    with the largest N, or None."""
    return last_complete_checkpoint(checkpoint_dir)


def training_arguments(cfg: FusionConfig, checkpoint_dir: Path) -> TrainingArguments:
    """Map the config's ``training`` section onto ``TrainingArguments``."""
    tr = cfg.training
    extra: dict[str, Any] = {}
    if tr.gradient_checkpointing:
        # transformers renamed the option (5.2x: activation_checkpointing); use what exists.
        fields = TrainingArguments.__dataclass_fields__
        extra["activation_checkpointing" if "activation_checkpointing" in fields else "gradient_checkpointing"] = True
    return TrainingArguments(
        output_dir=str(checkpoint_dir),
        max_steps=tr.max_steps,
        per_device_train_batch_size=tr.per_device_batch_size,
        gradient_accumulation_steps=tr.gradient_accumulation_steps,
        learning_rate=tr.learning_rate,
        lr_scheduler_type=tr.lr_scheduler,
        warmup_steps=tr.warmup_steps,
        weight_decay=tr.weight_decay,
        max_grad_norm=tr.max_grad_norm,
        logging_steps=tr.logging_steps,
        save_strategy="steps",
        save_steps=tr.save_steps,
        bf16=tr.precision == "bf16",
        fp16=tr.precision == "fp16",
        seed=cfg.seed,
        data_seed=cfg.seed,
        dataloader_num_workers=tr.dataloader_num_workers,
        dataloader_pin_memory=torch.cuda.is_available(),
        remove_unused_columns=False,
        report_to="none",
        disable_tqdm=False,
        **extra,
    )
