"""Build the character language model that beam-search decoding fuses with the CTC output.

    pip install wordfreq==3.1.1       # build time only: the shipped LM file needs nothing to load
    python -m tools.build_char_lm weights/char_lm_en.npz                        # the shipped LM
    python -m tools.build_char_lm my_lm.npz --words my_words.txt --order 5      # your own word list

The model is a character n-gram over the letters a-z with word-start and word-end symbols,
counted over a word list (each word once) and smoothed with interpolated Kneser-Ney: P(c | the
previous order-1 characters of the word). Contexts seen fewer than --min_count times are pruned
(a pruned context backs off to its longest kept suffix). Each kept context stores its distribution
over the next letter or the word's end, quantised to 0.1 nat steps, and the word list itself is
stored for the decoder's whole-word bonus. The file records its source, licence and this command.

--words: `wordfreq:LANG` (the most frequent words of the wordfreq package, whose data is
CC BY-SA 4.0) or a UTF-8 file of words, one per line (a `word<TAB>...` line uses the word).
Words are lower-cased and reduced to their letters (don't -> dont, as the benchmark protocol reads
it); a word with any character outside a-z after that is left out and counted.
"""
import sys

if not __package__:  # run as a file: the repository's packages are not on the import path
    print("error: run it from the repository root as a module: python -m tools.build_char_lm "
          + " ".join(sys.argv[1:]), file=sys.stderr)
    sys.exit(2)

import collections
import json
import os
import re

import numpy as np

from decoding.char_lm import BOS, EOS, LETTERS, QUANT, encode_context
from utils.cli import Parser, int_range, path_text, run_cli
from utils.errors import UserError
from utils.files import check_output_file, read_text

WORDFREQ_LICENCE = "wordfreq data: CC BY-SA 4.0 (https://github.com/rspeer/wordfreq), code Apache-2.0"


def get_args_parser():
    p = Parser(description="Build a character n-gram LM (.npz) for beam-search decoding", examples=__doc__)
    p.add_argument("output", type=path_text, help="LM file to write, e.g. weights/char_lm_en.npz")
    p.add_argument("--words", type=path_text, default="wordfreq:en",
                   help="wordfreq:LANG (needs `pip install wordfreq`) or a file of words, one per line")
    p.add_argument("--top", type=int_range(1, 10 ** 7), default=200000, help="use the first N usable words")
    p.add_argument("--order", type=int_range(2, 6), default=6, help="n-gram order (context = order - 1 symbols)")
    p.add_argument("--min_count", type=int_range(1), default=3, help="prune contexts seen fewer times than this")
    p.add_argument("--licence", type=path_text, default=None,
                   help="licence of a --words file, recorded in the LM (wordfreq's is recorded by itself)")
    return p


def source_words(spec, top):
    """-> (words in their list's order, description, licence, number left out)."""
    if spec.startswith("wordfreq:"):
        try:
            from wordfreq import top_n_list
        except ImportError:
            raise UserError("--words wordfreq:LANG needs the wordfreq package: pip install wordfreq==3.1.1") from None
        lang = spec.partition(":")[2]
        try:
            raw = top_n_list(lang, 10 ** 7)
        except LookupError as e:
            raise UserError(f"--words {spec}: {e}") from None
        desc, licence = f"wordfreq {lang} (most frequent first)", WORDFREQ_LICENCE
    else:
        raw = [line.split("\t")[0].strip() for line in read_text(spec, "word list").splitlines()]
        desc, licence = os.path.basename(spec), None
    words, seen, dropped = [], set(), 0
    for w in raw:
        letters = "".join(c for c in w.lower() if c.isalnum())
        if not letters or letters in seen:
            continue
        if not re.fullmatch(f"[{LETTERS}]+", letters):
            dropped += 1
            continue
        seen.add(letters)
        words.append(letters)
        if len(words) == top:
            break
    if not words:
        raise UserError(f"--words {spec} holds no word of the letters a-z")
    return words, desc, licence, dropped


def count_ngrams(words, order):
    """raw[k][g]: occurrences of the k-gram g in ^word$ strings (k = 1..order)."""
    raw = [collections.Counter() for _ in range(order + 1)]
    for w in words:
        s = BOS + w + EOS
        for i in range(1, len(s)):
            for k in range(1, min(order, i + 1) + 1):
                raw[k][s[i - k + 1:i + 1]] += 1
    return raw


def kneser_ney(raw, order):
    """Interpolated Kneser-Ney: -> {context: probability vector over LETTERS + EOS} for every context, and the
    raw count of each context (for pruning)."""
    symbols = LETTERS + EOS
    adjusted = {order: raw[order]}
    for k in range(1, order):  # lower orders count distinct left extensions, except after the word start
        left = collections.Counter(g[1:] for g in raw[k + 1])
        adjusted[k] = {g: c if g.startswith(BOS) else left[g] for g, c in raw[k].items()}
    totals, types, children, context_count = {}, {}, collections.defaultdict(dict), collections.Counter()
    discount = {}
    for k in range(1, order + 1):
        counts = list(adjusted[k].values())
        n1, n2 = counts.count(1), counts.count(2)
        discount[k] = min(max(n1 / (n1 + 2 * n2) if n1 + n2 else 0.5, 0.1), 0.9)
        for g, c in adjusted[k].items():
            h = g[:-1]
            totals[h] = totals.get(h, 0) + c
            types[h] = types.get(h, 0) + 1
            children[h][g[-1]] = c
        for g, c in raw[k].items():
            context_count[g[:-1]] += c
    position = {c: i for i, c in enumerate(symbols)}
    probs = {}
    for h in sorted(context_count, key=len):  # a context's lower order (its suffix) comes first
        lower = probs[h[1:]] if h else np.full(len(symbols), 1.0 / len(symbols))
        d = discount[len(h) + 1]
        counts = np.zeros(len(symbols))
        for c, n in children[h].items():
            counts[position[c]] = max(n - d, 0.0)
        probs[h] = counts / totals[h] + d * types[h] / totals[h] * lower
    return probs, context_count


def main(args):
    check_output_file(args.output, "LM file")
    words, desc, licence, dropped = source_words(args.words, args.top)
    licence = licence or args.licence or "not given (--licence)"
    print(f"{len(words)} words from {desc} ({dropped} left out: characters outside a-z)", flush=True)
    probs, context_count = kneser_ney(count_ngrams(words, args.order), args.order)
    kept = sorted((h for h in probs if context_count[h] >= args.min_count or h == ""), key=encode_context)
    logp = np.stack([np.log(probs[h]) for h in kept])
    quantised = np.clip(np.round(-logp / QUANT), 0, 255).astype(np.uint8)
    meta = {"order": args.order, "letters": LETTERS, "words": len(words), "source": desc, "licence": licence,
            "min_count": args.min_count, "contexts": len(kept),
            "command": "python -m tools.build_char_lm " + " ".join(sys.argv[1:])}
    with open(args.output, "wb") as f:
        np.savez_compressed(f, contexts=np.array([encode_context(h) for h in kept], np.int32), logp=quantised,
                            words=np.frombuffer("\n".join(words).encode(), np.uint8), meta=json.dumps(meta))
    print(f"Wrote {args.output} ({os.path.getsize(args.output) / 2 ** 20:.2f} MiB): order {args.order}, "
          f"{len(kept)} contexts kept of {len(probs)}")
    return args.output


if __name__ == "__main__":
    run_cli(main, get_args_parser())
