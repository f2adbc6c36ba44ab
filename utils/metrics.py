"""Running meters for the training log and the recognition metrics of evaluation."""
import collections

from utils.label_converter import normalize_for_eval


class SmoothedValue:
    """Mean over a recent window and over everything seen."""

    def __init__(self, window=20):
        self.window = collections.deque(maxlen=window)
        self.total, self.count = 0.0, 0

    def update(self, value, n=1):
        self.window.append(value)
        self.total += value * n
        self.count += n

    @property
    def avg(self):
        return sum(self.window) / max(len(self.window), 1)

    @property
    def global_avg(self):
        return self.total / max(self.count, 1)


def edit_distance(a, b):
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def score(pred, gt):
    """(correct, normalised edit distance similarity) under the benchmark protocol."""
    p, g = normalize_for_eval(pred), normalize_for_eval(gt)
    ned = 1.0 - edit_distance(p, g) / max(len(p), len(g), 1)
    return p == g, ned
