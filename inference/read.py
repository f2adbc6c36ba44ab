"""The read loop of every reader (inference.Recognizer, the benches): views of each crop -> batches of one width
-> decoding -> the pick of each crop's reads.

Each crop is one view, or three when it is taller than wide (inference/orientation.py: as given and turned a
quarter turn either way). Each view can also be read a second time with its left and right edges extended
(`edge_pad` x its height, the edge columns repeated) and the more confident of the two reads kept: crops cut
tight against a letter read better with room around them, and the model's confidence tells which read had
the room it needed (docs/reading.md, "A second read with room around the word").
"""
import numpy as np

from datasets.transforms import extend_edges, preprocess
from datasets.width_batches import by_width
from inference.orientation import LENGTH_BONUS, TURN_NAMES, TURNS, choose, is_tall
from inference.reader_args import BATCH_SIZE


def read_images(images, run, decoder, width, *, batch_size=BATCH_SIZE, orientation="auto", edge_pad=0.0,
                length_bonus=LENGTH_BONUS):
    """PIL images -> (texts, confidences, turns): each image at its own width (the Width rule), batched by
    exact width so that a word reads the same alone or in any batch; `run` maps a float32 batch [B, 1, 32, W]
    to scores [T, B, C]. With orientation "auto" a tall crop is read three ways and the rule's read kept (with the
    model's `length_bonus`; `turns` names the one kept); with edge_pad > 0 each way is also read with its edges extended and the
    more confident of the two reads kept."""
    reads_per_turn = 2 if edge_pad > 0 else 1
    views, spans = [], []
    for image in images:
        turns = TURNS if orientation == "auto" and is_tall(image) else TURNS[:1]
        spans.append((len(views), len(turns)))
        for turn in turns:
            view = image if turn is None else image.transpose(turn)
            views.append(preprocess(view, width))
            if reads_per_turn == 2:
                views.append(preprocess(extend_edges(view, edge_pad), width))
    texts, confs = [None] * len(views), [None] * len(views)
    for group in by_width([v.shape[-1] for v in views], batch_size):
        got_texts, got_confs = decoder.decode(run(np.stack([views[k] for k in group])))
        for k, text, conf in zip(group, got_texts, got_confs):
            texts[k], confs[k] = text, conf
    out_texts, out_confs, out_turns = [], [], []
    for start, n_turns in spans:
        # per turn, the read as given unless the read with extended edges is more confident
        kept = [max(range(start + t * reads_per_turn, start + (t + 1) * reads_per_turn), key=lambda k: confs[k])
                for t in range(n_turns)]
        pick = choose([texts[k] for k in kept], [confs[k] for k in kept], length_bonus) if n_turns > 1 else 0
        out_texts.append(texts[kept[pick]])
        out_confs.append(confs[kept[pick]])
        out_turns.append(TURN_NAMES[pick])
    return out_texts, out_confs, out_turns
