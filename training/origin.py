"""Where a run's weights start: a checkpoint to continue (--resume, or `auto`: the newest good one in the output
folder), weights to fine-tune from (--finetune), or a new network. The run's model file (its alphabet, width rule
and reading settings: inference/model_file.py) follows from it.

    origin = find_origin(resume, finetune, output_dir, eval_only, log)
    alphabet = origin.alphabet_for(load_alphabet(flag), flag_given)
    model, model_file = origin.build(alphabet, new_model_args, width, log)
"""
import dataclasses
import os
from dataclasses import dataclass

from inference.model_file import ModelFile, inference_weights, load_model_weights
from training.checkpoint import load_training_checkpoint
from training.resume import find_resumable, with_output_layer_for
from utils.errors import UserError


@dataclass(frozen=True)
class Origin:
    """The checkpoint a run starts from (None: a new network), its file, how the run uses it ("resume",
    "finetune" or "evaluate": --eval_only), and its model file."""
    ckpt: dict = None
    path: str = None
    how: str = None
    model_file: ModelFile = None

    def record(self):
        """What the run's record says of its weights: a resumed or fine-tuned run keeps its origin's record, and
        the reading settings it kept (they were tuned for its origin's weights)."""
        if not self.ckpt:
            return None
        return {"from": self.path, "how": self.how, "run": self.ckpt.get("run"), "reading_kept": self.model_file.reading}

    def width(self, **flags):
        """The run's input width: the width flags (None: not given) over its origin's rule; a new or fine-tuned run
        reads at scale 1 unless told (its origin's scale was tuned for other weights)."""
        model_file = self.model_file or ModelFile(None)
        if self.how == "finetune":
            model_file = dataclasses.replace(model_file, width_scale=1.0)
        return model_file.width(**flags)

    def alphabet_for(self, requested, given):
        """The run's alphabet: `requested` (--alphabet) when `given`, else the checkpoint's; another one than the
        checkpoint's only when fine-tuning (which gives the model a new output layer)."""
        if self.model_file is None:
            return requested
        if not given or requested == self.model_file.alphabet:
            return self.model_file.alphabet
        if self.how != "finetune":
            raise UserError(f"--alphabet differs from the one {self.path} was trained with "
                            f"({self.model_file.alphabet!r}); to train the model for another alphabet, start from it "
                            "with --finetune")
        return requested

    def build(self, alphabet, new_model_args, width, log):
        """The network with its weights (a resumed run's own, else the averaged ones) and the run's model file at
        `width` (the run's rule): a fine-tune keeps its origin's reading settings, a fine-tune for another alphabet
        gets a new output layer. -> (model, ModelFile)"""
        if self.model_file is None:
            model_file = ModelFile({**new_model_args, "num_classes": len(alphabet) + 1}, alphabet)
            return model_file.build(), model_file.trained_width(width)
        old = self.model_file
        model_file = ModelFile({**old.model_args, "num_classes": len(alphabet) + 1}, alphabet,
                               reading=old.reading).trained_width(width)
        model = model_file.build()
        weights = self.ckpt["model"] if self.how == "resume" else inference_weights(self.ckpt)  # resume: raw
        if old.alphabet != alphabet:
            weights = with_output_layer_for(weights, old.alphabet, alphabet, model.state_dict())
        load_model_weights(model, weights, self.path)
        if self.how == "finetune":
            log(f"Fine-tuning from {self.path} (weights only: fresh optimizer and schedule"
                + (f"; its tuned reading settings kept: {old.reading}" if old.reading else "") + ")")
            if old.alphabet != alphabet:
                log(f"  for a new alphabet of {len(alphabet)} characters: the convolutions and LSTMs reused, a new "
                    f"output layer (the rows of the {len(set(alphabet) & set(old.alphabet))} characters both "
                    "alphabets have kept)")
        return model, model_file


def find_origin(resume, finetune, output_dir, eval_only, log):
    """-> Origin of --resume (a file, or auto) or --finetune (or none: a new network)."""
    if resume == "auto":
        resume, ckpt = find_resumable(output_dir, log, not eval_only) if os.path.isdir(output_dir) else (None, None)
        log(f"--resume auto: continuing from {resume}" if resume else
            f"--resume auto: no checkpoint in {output_dir}, starting from scratch")
        if resume is None and eval_only:
            raise UserError(f"--eval_only --resume auto: no readable checkpoint in {output_dir}")
    else:
        ckpt = load_training_checkpoint(resume or finetune) if resume or finetune else None
    path = resume or finetune
    if ckpt is None:
        return Origin()
    how = "evaluate" if eval_only else "resume" if resume else "finetune"
    return Origin(ckpt, path, how, ModelFile.from_fields(ckpt, path))
