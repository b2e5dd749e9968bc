#!/usr/bin/env python3
"""One saro training stage on TRL (SFTTrainer or DPOTrainer) with PEFT LoRA, under Accelerate.

saro writes everything this script needs into one JSON file and launches it as
    accelerate launch [--config_file FILE] trl_train.py STAGE.json
STAGE.json holds:
  kind          "sft" or "dpo"
  model         a Hugging Face model folder (config.json, weights, tokenizer)
  train_file    JSONL, already tokenized by saro in the order saro's own trainer visits it:
                SFT rows {"input_ids", "labels"} (labels -100 where nothing is trained),
                DPO rows {"prompt_ids", "chosen_ids", "rejected_ids"}
  eval_file     the same for the held-out rows, or null
  output_dir    TRL's checkpoints (checkpoint-N), resumed from when the stage runs again
  final_dir     where the trained adapter (or full model) and tokenizer are saved
  events_file   JSON lines for saro: begin, step, log, save, end
  pad_token_id  the padding token (the tokenizer may not name one)
  lora          PEFT LoraConfig arguments, or null for full fine-tuning
  args          SFTConfig / DPOConfig arguments, TRL's own names

The rows keep saro's order (sequential sampling), so both engines train on the same batches.
Exit status 3 means a missing or too old package, with the reason on standard error.
"""
import json
import os
import re
import shutil
import sys
import time


def fail(message, status=3):
    print(f"trl_train: {message}", file=sys.stderr, flush=True)
    sys.exit(status)


try:
    import torch  # noqa: F401
    import datasets
    import peft
    import transformers
    import trl
except ImportError as e:
    fail(f"cannot import {e.name}: the Python environment lacks it (make one with scripts/setup-trl.sh)")

MINIMUM = {"trl": (1, 16), "transformers": (5, 0), "peft": (0, 17)}
for module in (trl, transformers, peft):
    have = tuple(int(p) for p in module.__version__.split(".")[:2] if p.isdigit())
    if have < MINIMUM[module.__name__]:
        need = ".".join(map(str, MINIMUM[module.__name__]))
        fail(f"{module.__name__} {module.__version__} is older than {need} (make the environment with scripts/setup-trl.sh)")

from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerFast, TrainerCallback
from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer


class Events(TrainerCallback):
    """Writes the run's progress as JSON lines that saro follows (main process only)."""

    def __init__(self, path):
        self.path = path

    def write(self, state, record):
        if not state.is_world_process_zero:
            return
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad) if model is not None else 0
        self.write(state, {"event": "begin", "max_steps": state.max_steps, "global_step": state.global_step,
                           "trainable_parameters": trainable, "time": time.monotonic()})

    def on_step_end(self, args, state, control, **kwargs):
        self.write(state, {"event": "step", "step": state.global_step, "max_steps": state.max_steps})

    def on_log(self, args, state, control, logs=None, **kwargs):
        self.write(state, {"event": "log", "step": state.global_step, "logs": logs or {}, "time": time.monotonic()})

    def on_save(self, args, state, control, **kwargs):
        self.write(state, {"event": "save", "step": state.global_step})


class PreTokenizedDPOTrainer(DPOTrainer):
    """DPOTrainer for rows saro has tokenized already: TRL's preparation would apply a chat
    template to text fields these rows do not have."""

    def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
        return dataset


def tokenizer_for(folder, pad_token_id):
    try:
        tok = AutoTokenizer.from_pretrained(folder)
    except (OSError, ValueError):
        tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(folder, "tokenizer.json"))
    if tok.pad_token_id is None:
        tok.pad_token = tok.convert_ids_to_tokens(pad_token_id)
    return tok


def last_complete_checkpoint(output_dir):
    """The newest checkpoint-N folder whose trainer_state.json reads back. transformers writes a
    checkpoint's files in place, so a run stopped while saving leaves a folder without a whole
    state; resuming from it would fail, so such folders are removed and the one before is taken."""
    if not os.path.isdir(output_dir):
        return None
    numbered = sorted((int(m.group(1)), name) for name in os.listdir(output_dir) if (m := re.fullmatch(r"checkpoint-(\d+)", name)))
    for _, name in reversed(numbered):
        path = os.path.join(output_dir, name)
        try:
            with open(os.path.join(path, "trainer_state.json"), encoding="utf-8") as f:
                json.load(f)
            return path
        except (OSError, ValueError):
            print(f"trl_train.py: {path} was not completely written; removing it", file=sys.stderr)
            shutil.rmtree(path, ignore_errors=True)
    return None


def main():
    if len(sys.argv) != 2:
        fail("usage: trl_train.py STAGE.json", status=2)
    with open(sys.argv[1], encoding="utf-8") as f:
        stage = json.load(f)
    kind = stage["kind"]
    tokenizer = tokenizer_for(stage["model"], stage["pad_token_id"])
    model = AutoModelForCausalLM.from_pretrained(stage["model"], dtype=torch.float32)
    files = {"train": stage["train_file"]}
    if stage.get("eval_file"):
        files["eval"] = stage["eval_file"]
    data = datasets.load_dataset("json", data_files=files)
    lora = peft.LoraConfig(task_type="CAUSAL_LM", bias="none", **stage["lora"]) if stage.get("lora") else None

    args = dict(stage["args"])
    world = int(os.environ.get("WORLD_SIZE", "1"))
    per_step = args["per_device_train_batch_size"] * args["gradient_accumulation_steps"] * world
    # saro lays out every step's rows in order; on several processes each step takes a share.
    args["max_steps"] = max(1, len(data["train"]) // per_step)
    common = dict(output_dir=stage["output_dir"], train_sampling_strategy="sequential", report_to=[],
                  save_strategy="steps" if args.get("save_steps") else "no", disable_tqdm=True)
    if not torch.cuda.is_available():
        # TRL's default precision is bf16 on a GPU; on a CPU the run stays in float32, as saro's trainer.
        common.update(use_cpu=True, bf16=False)
    if "eval" in data:
        common["eval_strategy"] = "steps" if args.get("eval_steps") else "no"
    config_type, trainer_type = (SFTConfig, SFTTrainer) if kind == "sft" else (DPOConfig, PreTokenizedDPOTrainer)
    config = config_type(**common, **args)
    trainer = trainer_type(model=model, args=config, train_dataset=data["train"], eval_dataset=data.get("eval"),
                           processing_class=tokenizer, peft_config=lora, callbacks=[Events(stage["events_file"])])
    last = last_complete_checkpoint(stage["output_dir"])
    trainer.train(resume_from_checkpoint=last)
    if "eval" in data:
        trainer.evaluate()
    trainer.save_model(stage["final_dir"])
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(stage["final_dir"])
        with open(stage["events_file"], "a", encoding="utf-8") as f:
            f.write(json.dumps({"event": "end", "step": trainer.state.global_step}) + "\n")


if __name__ == "__main__":
    main()
