"""Running meters for the training log (losses, images per second, time left) and the recognition metrics of
evaluation."""
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


def format_eta(seconds):
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Throughput:
    """img/s over steps after the first `warmup` (compile / allocator warm-up excluded), as the recipe does."""

    def __init__(self, images_per_step, warmup=10):
        self.images_per_step, self.warmup = images_per_step, warmup
        self.steps, self.seconds, self.all_steps, self.all_seconds = 0, 0.0, 0, 0.0

    def update(self, step_seconds):
        self.all_steps += 1
        self.all_seconds += step_seconds
        if self.all_steps > self.warmup:
            self.steps += 1
            self.seconds += step_seconds

    @property
    def fps(self):
        steps, secs = (self.steps, self.seconds) if self.steps else (self.all_steps, self.all_seconds)
        return self.images_per_step * steps / secs if secs else 0.0


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
