"""Evaluation of a model on labelled batches: greedy decoding (the protocol) and, optionally, a second
decoder read from the same scores."""
import torch
from tqdm import tqdm

from decoding.ctc_decoder import greedy_decode
from training.eval_report import format_table, make_rows, write_predictions, write_tables
from utils import distributed as dist
from utils.label_converter import normalize_for_eval
from utils.metrics import score


@torch.no_grad()
def evaluate(model, loader, alphabet, placement, *, progress=False, desc="eval", keep_predictions=False,
             second_decoder=None, exact=False):
    """fp32 greedy-decode evaluation of this rank's shard (the reported protocol), and optionally the words
    `second_decoder` (e.g. beam search with the LM) reads from the same scores.

    -> {"correct", "total", "ned", "too_long", "skipped", "correct_second" (with second_decoder), "correct_exact"
        (with exact: the label read exactly, case and punctuation included),
        "examples": [(gt, pred, conf)] (first 5),
        "predictions": [(lmdb index, gt, pred, conf[, second decoder's pred])] (all, with keep_predictions)}
    fp32 on purpose: the exported ONNX model is fp32, and offline accuracy must equal this one.
    """
    was_training = model.training
    model.eval()
    out = {"correct": 0, "total": 0, "ned": 0.0, "too_long": 0, "skipped": 0, "examples": [], "predictions": []}
    if second_decoder:
        out["correct_second"] = 0
    if exact:
        out["correct_exact"] = 0
    for images, labels, keys, dropped in tqdm(loader, desc=desc, disable=None if progress else True, leave=False,
                                              mininterval=2):
        out["skipped"] += dropped
        if images is None:
            continue
        logits = model(placement.inputs(images)).float().cpu()
        preds, confs = greedy_decode(logits, alphabet)
        seconds = second_decoder.decode(logits)[0] if second_decoder else [None] * len(preds)
        for key, gt, pred, conf, second in zip(keys, labels, preds, confs, seconds):
            ok, ned = score(pred, gt)
            if exact:
                out["correct_exact"] += pred == gt
            if second is not None:
                out["correct_second"] += score(second, gt)[0]
            out["correct"] += ok
            out["total"] += 1
            out["ned"] += ned
            # cannot be read: an error, kept in the denominator
            out["too_long"] += len(normalize_for_eval(gt)) > logits.shape[0]
            if len(out["examples"]) < 5:
                out["examples"].append((gt, pred, conf))
            if keep_predictions:
                out["predictions"].append((key, gt, pred, conf) + ((second,) if second is not None else ()))
    model.train(was_training)
    return out


class Validation:
    """Evaluates a model on every validation set of the run, on every rank: prints the table (and a few sample
    readings), writes eval_results.{csv,md} (and with keep_predictions the per-image TSVs) in `table_dir`.
    Calling it -> the sample-weighted accuracy over all sets."""

    def __init__(self, loaders, alphabet, placement, table_dir, log, *, keep_predictions=False, second_decoder=None):
        self.loaders, self.alphabet, self.placement = loaders, alphabet, placement
        self.table_dir, self.log, self.keep, self.second = table_dir, log, keep_predictions, second_decoder
        # an alphabet that tells case or punctuation apart is also scored exactly
        self.exact = any(c.isupper() or not c.isalnum() for c in alphabet)

    def __call__(self, model, name_suffix=""):
        dist.sync_buffers(model)
        keys = ("correct", "total", "ned", "too_long", "skipped") + (("correct_exact",) if self.exact else ()) \
            + (("correct_second",) if self.second else ())
        results = {}
        for name, loader in self.loaders.items():
            r = evaluate(model, loader, self.alphabet, self.placement, progress=dist.is_main_process(), desc=name,
                         keep_predictions=self.keep, second_decoder=self.second, exact=self.exact)
            totals = dist.all_reduce_sum([r[k] for k in keys], self.placement.device)
            results[name + name_suffix] = dict(zip(keys, totals))
            for gt, pred, conf in r["examples"][:3]:
                self.log(f"  gt: {gt:<20} pred: {pred:<20} conf: {conf:.3f}")
            if self.keep:
                dist.save_on_master(write_predictions, dist.gather_lists(r["predictions"]), self.table_dir, name)
        rows = make_rows(results)
        self.log(format_table(rows))
        if not name_suffix:
            dist.save_on_master(write_tables, rows, self.table_dir)
        return rows[-1]["accuracy"]
