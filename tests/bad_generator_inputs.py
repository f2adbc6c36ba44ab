"""The bad inputs of the synthetic generator (alphabet and word list, checked before anything is built), of
reading (decoder options, .txt lists) and of the tools run as files: cases in tests/bad_inputs.py's format,
which takes them into its CASES."""
import os

from bad_input_kit import main_py, write

GENERATOR, READING, AS_FILE = "the generator's inputs", "reading options and lists", "tools run as files"
STREAM = ["--synth_stream", "--synth_train", "64", "--synth_val", "16", "--batch_size", "16"]


def cache_and_run(t):
    """What a refused run must not leave: its output folder (tests/test_alphabets.py: nor a synthetic set)."""
    return [f"{t}/out", f"{t}/new"]


def word_list(t, text):
    return write(f"{t}/words.txt", text)


GENERATOR_CASES = [
    ("main.py", GENERATOR, "an alphabet character no font draws, on the stream",
     lambda t: (main_py(*STREAM, "--alphabet", "ab\U00013000", "--output_dir", f"{t}/new/run"), cache_and_run(t)),
     ["no font of the synthetic generator draws", "\U00013000", "--synth_assets"]),
    ("main.py", GENERATOR, "an alphabet character no font draws, cached set",
     lambda t: (main_py("--synth_train", "64", "--synth_val", "16", "--alphabet", "xyz\u0d9e"), cache_and_run(t)),
     ["no font of the synthetic generator draws", "\u0d9e"]),
    ("main.py", GENERATOR, "--synth_words file that is empty",
     lambda t: (main_py(*STREAM, "--synth_words", word_list(t, "\n\n")), cache_and_run(t)),
     ["--synth_words", "words.txt holds no words", "one word a line"]),
    ("main.py", GENERATOR, "--synth_words file that is binary",
     lambda t: (main_py(*STREAM, "--synth_words", write(f"{t}/words.bin", bytes(range(256)) * 4)), cache_and_run(t)),
     ["words.bin is not UTF-8 text"]),
    ("main.py", GENERATOR, "--synth_words that is UTF-8 but holds control characters only",
     lambda t: (main_py(*STREAM, "--synth_words", write(f"{t}/zeros.txt", b"\x00\x01\x02\n\x03\x04\n")),
                cache_and_run(t)), ["none of the 2 words of --synth_words", "zeros.txt", "0-9a-z"]),
    ("main.py", GENERATOR, "--synth_words in a script the alphabet does not have",
     lambda t: (main_py(*STREAM, "--synth_words", word_list(t, "\u4e2d\u6587\n\u6c49\u5b57\n")), cache_and_run(t)),
     ["none of the 2 words of --synth_words", "the default alphabet 0-9a-z", "--alphabet of its language"]),
    ("main.py", GENERATOR, "--synth_words of words longer than the generator writes",
     lambda t: (main_py(*STREAM, "--alphabet", "abc", "--synth_words", word_list(t, "abc" * 10 + "\n")),
                cache_and_run(t)), ["none of the 1 words", "--alphabet (3 characters)", "at most 16 characters"]),
]

READING_CASES = [
    ("predict.py", READING, "--decoder greedy with a beam search option",
     lambda t: (["predict.py", "weights/sample_welcome.png", "--decoder", "greedy", "--beam_width", "4"], []),
     ["beam_width applies to the beam decoder only"]),
    ("predict.py", READING, "--decoder greedy with an LM",
     lambda t: (["predict.py", "weights/sample_welcome.png", "--decoder", "greedy", "--lm", "none"], []),
     ["lm applies to the beam decoder only"]),
    ("predict.py", READING, ".txt list whose path is in neither the list's folder nor the current one",
     lambda t: (["predict.py", write(f"{t}/lists/crops.txt", "weights/sample_welcome.png\nimages/a.png\tabc\n")], []),
     ["1 of the 2 images listed", "line 2: not at", os.path.join("lists", "images", "a.png"), " nor ",
      "list's folder, then in the current folder"]),
    ("main.py", READING, "--eval_only --decoder greedy with a beam option",
     lambda t: (main_py("--eval_only", "--resume", "weights/crnn.pth", "--decoder", "greedy", "--word_bonus", "2"),
                []), ["word_bonus applies to the beam decoder only"]),
]

AS_FILE_CASES = [
    (script, AS_FILE, f"python {script} (not -m)", lambda t, s=script: ([s, "--help"], []),
     ["run it from the repository root as a module: python -m " + script[:-3].replace("/", "."), "--help"])
    for script in ("tools/create_lmdb_dataset.py", "tools/ais_bench_runner.py", "tools/export_weights.py",
                   "tools/build_char_lm.py", "tools/pack_synth_assets.py", "tools/synth_asset_sources.py",
                   "bench/accuracy_by_length.py", "bench/infer_throughput.py", "bench/loader_throughput.py",
                   "bench/synth_ablation.py", "bench/train_throughput.py", "bench/orientation.py")
]
