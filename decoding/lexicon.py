"""Lexicon-constrained reading (predict.py --lexicon): the allowed word nearest to what the model read."""
from utils.errors import UserError
from utils.files import read_text
from utils.label_converter import normalize_for_eval
from utils.metrics import edit_distance


def closest_word(text, lexicon):
    """Lexicon word nearest to `text` (benchmark normalisation); ties go to the earlier word."""
    query = normalize_for_eval(text)
    best, best_d = lexicon[0], None
    for word in lexicon:
        norm = normalize_for_eval(word)
        if best_d is not None and abs(len(norm) - len(query)) >= best_d:
            continue  # cannot beat the best distance so far
        d = edit_distance(query, norm)
        if best_d is None or d < best_d:
            best, best_d = word, d
    return best


def read_lexicon(path):
    words = [line.split("\t")[0].strip() for line in read_text(path, "lexicon").splitlines()]
    words = [w for w in words if w]
    if not words:
        raise UserError(f"--lexicon {path} holds no words")
    return words
