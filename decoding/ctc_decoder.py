"""CTC decoding, used everywhere a word is read: greedy (the seed's and the benchmarks' protocol) and a
prefix beam search fused with a character language model (decoding/char_lm.py).

Both take the network's scores [T, B, C] (class 0 = the CTC blank, class i = alphabet[i - 1]) and
return (texts, confidences). The confidence has one meaning for both: the product, over the text's
characters, of the model's probability of that character at the first step of its run in the
alignment the decoder read it from. For greedy that alignment is the best path (DTRB's confidence);
the beam search follows the best alignment of each prefix (Viterbi merging), so with beam 1 and no
LM it returns exactly greedy's texts and confidences.

With an LM a prefix scores

    log P(its best alignment) + w * log P_LM(prefix) + insertion_bonus * len(prefix)

where the LM reads each run of letters as a word (its letters, then its end where the run ends) and
each other character (a digit) costs DIGIT_LOGP, about what an average letter costs, so that numbers
are neither pushed out of the beam nor preferred. An empty read costs the LM's log P(end | start).
The weight falls where the optical read is sure: w = lm_weight * (1 - c) ** CONFIDENCE_POWER for a
greedy confidence c, halved again (CODE_FACTOR) when the greedy read mixes letters and digits (a
code, not a word). Among the final beams, one whose every letter run is a word of the LM's list
gains word_bonus. Without an LM, the beam search ranks alignments only: the bonuses belong to the LM.
"""
import os
import re

import numpy as np

from decoding.char_lm import CharLM
from utils.errors import UserError

DECODERS = ("greedy", "beam")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED_LM = os.path.join(ROOT, "weights", "char_lm_en.npz")
# Beam-search defaults, chosen on the 2,000 IIIT5K training crops the repo develops on (docs/reading.md)
BEAM_WIDTH, LM_WEIGHT, INSERTION_BONUS, WORD_BONUS = 8, 0.8, 1.5, 1.5
NEG = np.float32(-1e30)
CANDIDATES = 4          # characters tried per step and beam: the most likely non-blank ones
DIGIT_LOGP = -2.0       # LM log-probability of a character that is not a letter
CONFIDENCE_POWER = 0.25
CODE_FACTOR = 0.5
_MUL = np.uint64(1000003)  # prefix hash: h * _MUL + class (wraps modulo 2**64)
_LETTER_RUN = re.compile(r"[^\W\d_]+")


def log_softmax(scores):
    """[T, B, C] scores (numpy, or a torch tensor) -> float32 log-probabilities."""
    if hasattr(scores, "detach"):
        scores = scores.detach().float().cpu().numpy()
    x = np.asarray(scores, np.float32)
    x = x - x.max(2, keepdims=True)
    return x - np.log(np.exp(x).sum(2, keepdims=True))


def _texts(ids, alphabet):
    """[T, N] class ids of the steps that emit (0 elsewhere) -> N texts."""
    chars = np.array([""] + list(alphabet), dtype=object)
    return ["".join(chars[col[col > 0]]) for col in ids.T]


def greedy_decode(scores, alphabet):
    """Best path: the most likely class at each step, repeats collapsed, blanks dropped."""
    logp = log_softmax(scores)
    ids = logp.argmax(2)                                                # [T, B]
    emit = (ids != 0) & (ids != np.vstack([np.zeros_like(ids[:1]), ids[:-1]]))
    conf = np.exp(np.where(emit, logp.max(2), 0.0).sum(0, dtype=np.float64))
    return _texts(np.where(emit, ids, 0), alphabet), [float(c) for c in conf]


class GreedyDecoder:
    def __init__(self, alphabet):
        self.alphabet = alphabet

    def decode(self, scores):
        return greedy_decode(scores, self.alphabet)

    @staticmethod
    def describe():
        return "greedy"


def make_decoder(name, alphabet, *, lm=None, beam_width=None, lm_weight=None, insertion_bonus=None, word_bonus=None):
    """The decoder `name` (DECODERS) reads for `alphabet`. greedy takes no option. beam: `lm` is a character LM
    file (None: the shipped SHIPPED_LM; "none": no LM), and an option left None takes its default (BEAM_WIDTH,
    LM_WEIGHT, INSERTION_BONUS, WORD_BONUS). An unknown name, or an option given to greedy, is a UserError."""
    if name not in DECODERS:
        raise UserError(f"unknown decoder {name!r}: choose one of {', '.join(DECODERS)}")
    given = {key: value for key, value in (("lm", lm), ("beam_width", beam_width), ("lm_weight", lm_weight),
                                           ("insertion_bonus", insertion_bonus), ("word_bonus", word_bonus))
             if value is not None}
    if name == "greedy":
        if given:
            raise UserError(f"{', '.join(given)} {'applies' if len(given) == 1 else 'apply'} to the beam decoder "
                            "only: drop it, or decode with beam")
        return GreedyDecoder(alphabet)
    lm_path = given.pop("lm", SHIPPED_LM)
    return BeamSearchDecoder(alphabet, None if lm_path == "none" else CharLM.load(lm_path), **given)


class BeamSearchDecoder:
    """decode(scores) -> (texts, confidences), batched over B; every sample of a batch has T steps."""

    def __init__(self, alphabet, lm=None, *, beam_width=BEAM_WIDTH, lm_weight=LM_WEIGHT,
                 insertion_bonus=INSERTION_BONUS, word_bonus=WORD_BONUS):
        self.alphabet, self.lm, self.beam_width = alphabet, lm, beam_width
        self.lm_weight, self.insertion_bonus, self.word_bonus = (lm_weight, insertion_bonus, word_bonus) if lm \
            else (0.0, 0.0, 0.0)
        if lm is not None:
            unknown = sorted({c for c in alphabet if c.isalpha() and c.lower() not in lm.letters})
            if unknown:
                raise UserError(f"the language model {lm.path} knows the letters {lm.letters}, not "
                                f"{''.join(unknown[:20])!r}{' ...' if len(unknown) > 20 else ''} of this alphabet: "
                                "decode with --decoder greedy (or --lm none)")
            # each class's LM letter (or -1: scored as DIGIT_LOGP); upper case reads as its lower case
            self.letter = np.array([-1] + [lm.letters.find(c.lower()) if c.isalpha() else -1 for c in alphabet])

    def describe(self):
        lm = f", {self.lm.describe()}, weight {self.lm_weight:g}" if self.lm else ", no LM"
        return f"beam search (width {self.beam_width}{lm})"

    def decode(self, scores):
        logp = log_softmax(scores)
        T, B, C = logp.shape
        if B == 0:
            return [], []
        weight = self._weights(logp) if self.lm else np.zeros(B, np.float32)
        finals, confs, ids = self._search(logp, weight)
        best = self._with_word_bonus(finals, ids) if self.word_bonus else np.argmax(finals, 1)
        rows = np.arange(B)
        return _texts(ids[:, rows, best], self.alphabet), [float(c) for c in confs[rows, best]]

    def _weights(self, logp):
        texts, conf = greedy_decode(logp, self.alphabet)
        w = self.lm_weight * (1.0 - np.minimum(conf, 1.0)) ** CONFIDENCE_POWER
        code = [any(c.isdigit() for c in t) and any(c.isalpha() for c in t) for t in texts]
        return (w * np.where(code, CODE_FACTOR, 1.0)).astype(np.float32)

    def _with_word_bonus(self, finals, ids):
        """Index of the best final beam per sample once the word bonus is added (texts are built only for beams
        that the bonus could lift above the best)."""
        best = np.argmax(finals, 1)
        for b in range(finals.shape[0]):
            reach = np.nonzero(finals[b] + self.word_bonus > finals[b, best[b]])[0]
            texts = _texts(ids[:, b, reach], self.alphabet)
            scores = [finals[b, k] + self.word_bonus * self._all_words(t) for k, t in zip(reach, texts)]
            best[b] = reach[int(np.argmax(scores))]
        return best

    def _all_words(self, text):
        runs = _LETTER_RUN.findall(text.lower())
        return bool(runs) and all(r in self.lm.words for r in runs)

    def _search(self, logp, weight):
        """-> (final scores [B, K], confidences [B, K], emitted class per step [T, B, K] of the final beams)."""
        T, B, C = logp.shape
        K, M = self.beam_width, min(CANDIDATES, C - 1)
        KM, lm, bonus = K * M, self.lm, np.float32(self.insertion_bonus)
        w2 = weight[:, None]
        # beam state, [B, K] each; beams 1.. start empty-handed (score NEG) with hashes no prefix can reach
        pb = np.full((B, K), NEG, np.float32)
        pb[:, 0] = 0
        pnb = np.full((B, K), NEG, np.float32)
        eb, enb, lms = (np.zeros((B, K), np.float32) for _ in range(3))
        last = np.zeros((B, K), np.int64)
        h = np.zeros((B, K), np.uint64)
        h[:, 1:] = np.arange(1, K, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        state = np.full((B, K), lm.start if lm else 0, np.int64)
        inword = np.zeros((B, K), bool)
        parents, emitted = [], []
        rows = np.arange(B)[:, None]
        flat_base = (np.arange(B) * (K + KM))[:, None]
        # candidate buffers: K stays then K x M growths per sample, filled in place every step
        floats = np.empty((5, B, K + KM), np.float32)   # pb, pnb, eb, enb, LM score
        ints = np.empty((5, B, K + KM), np.int64)       # last class, hash, LM state, in a word, parent beam
        floats[0, :, K:], floats[2, :, K:] = NEG, 0
        ints[4, :, :K], ints[4, :, K:] = np.arange(K), np.arange(KM) // M
        for t in range(T):
            y = logp[t]                                                     # [B, C]
            top = np.argpartition(-y[:, 1:], M - 1, axis=1)[:, :M] + 1 if M < C - 1 else \
                np.broadcast_to(np.arange(1, C), (B, C - 1))
            y_top = y[rows, top]                                            # [B, M]
            from_b = pb >= pnb
            best_prev, e_prev = np.where(from_b, pb, pnb), np.where(from_b, eb, enb)
            # the prefix stays: a blank, or the last character repeated (no new character)
            sb = best_prev + y[:, :1]
            snb = np.where(last > 0, pnb + y[rows, last], NEG)
            esnb = enb.copy()
            # the prefix grows by c: after a blank only, if c repeats its last character
            c = np.broadcast_to(top[:, None, :], (B, K, M))
            again = c == last[:, :, None]
            xnb = (np.where(again, pb[:, :, None], best_prev[:, :, None]) + y_top[:, None, :]).reshape(B, KM)
            xe = (np.where(again, eb[:, :, None], e_prev[:, :, None]) + y_top[:, None, :]).reshape(B, KM)
            xh = (h[:, :, None] * _MUL + c.astype(np.uint64)).reshape(B, KM)
            xlm, xstate, xin = self._lm_step(lms, state, inword, c, w2, bonus)
            # a grown prefix equal to a beam's (beam "ab" + "c" = beam "abc") joins it: the better alignment wins
            # (at most one growth can equal a given beam: the one from the beam's own prefix)
            jb, jx, jk = np.nonzero(xh[:, :, None] == h[:, None, :])
            if len(jb):
                lifts = xnb[jb, jx] > snb[jb, jk]
                snb[jb[lifts], jk[lifts]] = xnb[jb[lifts], jx[lifts]]
                esnb[jb[lifts], jk[lifts]] = xe[jb[lifts], jx[lifts]]
                xnb[jb, jx] = NEG
            # keep the K best of the K stays and the K x M growths
            floats[0, :, :K], floats[1, :, :K], floats[2, :, :K], floats[3, :, :K] = sb, snb, e_prev, esnb
            floats[4, :, :K], floats[1, :, K:], floats[3, :, K:], floats[4, :, K:] = lms, xnb, xe, xlm
            ints[0, :, :K], ints[1, :, :K], ints[2, :, :K], ints[3, :, :K] = last, h.view(np.int64), state, inword
            ints[0, :, K:], ints[1, :, K:], ints[2, :, K:], ints[3, :, K:] = c.reshape(B, KM), xh.view(np.int64), \
                xstate, xin
            total = np.concatenate([np.maximum(sb, snb) + lms, xnb + xlm], 1)
            sel = np.argpartition(-total, K - 1, axis=1)[:, :K]
            flat = (sel + flat_base).ravel()
            pb, pnb, eb, enb, lms = floats.reshape(5, -1)[:, flat].reshape(5, B, K)
            last, h, state, inword, parent = ints.reshape(5, -1)[:, flat].reshape(5, B, K)
            h, inword = h.view(np.uint64), inword.astype(bool)
            parents.append(parent)
            emitted.append(np.where(sel >= K, last, 0))
        final = np.maximum(pb, pnb) + lms
        if lm:
            final = final + np.where(inword | (h == 0), weight[:, None] * lm.end_logp[state], 0)
        conf = np.exp(np.where(pb >= pnb, eb, enb).astype(np.float64))
        ids = np.zeros((T, B, K), np.int64)
        k = np.broadcast_to(np.arange(K), (B, K))
        for t in range(T - 1, -1, -1):  # follow each final beam back to the start
            ids[t] = emitted[t][rows, k]
            k = parents[t][rows, k]
        return final, conf, ids

    def _lm_step(self, lms, state, inword, c, weight, bonus):
        """LM score, LM state and in-a-word flag of each growth, [B, K x M] each."""
        B, K, M = c.shape
        if self.lm is None:
            return np.repeat(lms, M, 1), np.repeat(state, M, 1), np.zeros((B, K * M), bool)
        lm, letter = self.lm, self.letter[c].reshape(B, K * M)
        is_letter = letter >= 0
        st = np.repeat(state, M, 1)
        at = st * len(lm.letters) + np.where(is_letter, letter, 0)
        word_end = np.where(inword, lm.end_logp[state], 0)  # a non-letter ends the word before it
        add = np.where(is_letter, lm.letter_logp.ravel()[at], np.repeat(word_end, M, 1) + DIGIT_LOGP)
        return np.repeat(lms, M, 1) + weight * add + bonus, \
            np.where(is_letter, lm.next.ravel()[at], lm.start), is_letter
