#!/usr/bin/env bash
# The device check (v2) for a machine with one CUDA GPU: about 9 minutes, at most 8 files in one folder.
#   bash bench/device_check.sh [OUT_DIR]        (default: $OUT when set, else ./device_check_out)
# Takes its kit (tools/prepare_device_kit.sh: wheels, generator assets, a real-crop LMDB) from
# $CRNN_DEVICE_KIT, else ../crnn_device_kit beside the repo, else ./.device_kit.
# Writes: versions.txt, cuda_tests.txt, seed_run.log (the seed preset through train_performance_1p.sh:
# 1,000 steps on a cached synthetic set, its FPS, accuracy at every epoch end and every 200 steps),
# ceiling.txt (bench/train_throughput.py --ceiling: the step per precision and one seed step's profile),
# best_run.log (~3 minutes of the best GPU recipe, then its accuracy on the kit's real crops),
# crnn_gpu.pth (its fp16 weights, < 16 MiB), summary.md.
# DEVICE_CHECK_REHEARSAL=1 runs every part on the CPU with tiny sizes (tests/test_device_check.py).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out="${1:-${OUT:-device_check_out}}"
mkdir -p "$out"
budget="${DEVICE_CHECK_SECONDS:-530}"
start=$(date +%s)
left() { echo $(( budget - ($(date +%s) - start) )); }
parts=""; last=$start
mark() { parts="$parts $1 $(( $(date +%s) - last )) s,"; last=$(date +%s); }  # seconds per part, for planning
for kit in "${CRNN_DEVICE_KIT:-}" ../crnn_device_kit .device_kit; do [ -n "$kit" ] && [ -d "$kit" ] && break; done
[ -d "$kit" ] || { echo "error: no device kit: run tools/prepare_device_kit.sh (see README, Accelerators)" >&2; exit 2; }
export OMP_WAIT_POLICY=PASSIVE PYTHONUNBUFFERED=1 CRNN_CACHE_DIR="${CRNN_CACHE_DIR:-/tmp/crnn_cache}"
[ -d "$kit/assets" ] && export CRNN_SYNTH_ASSETS="$kit/assets"
if compgen -G "$kit/wheels/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/crnn_site "$kit"/wheels/*.whl
    export PYTHONPATH="/tmp/crnn_site${PYTHONPATH:+:$PYTHONPATH}"
fi
work="${DEVICE_CHECK_WORK:-/tmp/crnn_device_check}"
rm -rf "$work"

# Sizes: the GPU's, or the rehearsal's (every flag and file the same, the model and the counts tiny).
if [ -n "${DEVICE_CHECK_REHEARSAL:-}" ]; then
    dev=cpu; model=(--cnn_width 8 --hidden_size 16)
    seed_sizes=(--batch_size 8 --synth_train 64 --synth_val 16 --epochs 2 --stop_step 12 --val_freq 4 --print_freq 4
                --workers 0)
    ceiling_sizes=(--batch_sizes 4 --steps 1 --matmul_n 128 --compile_backend aot_eager --profile_rows 5)
    best_sizes=(--batch_size 8 --synth_val 16 --workers 0); img_s=13; test_limit=60
else
    dev=cuda; model=()
    # 128,000 images = 50 seed steps per epoch: 20 epochs make the 1,000 steps (built once, ~17 s on 16 cores)
    seed_sizes=(--synth_train 128000 --synth_val 1000 --epochs 20 --stop_step 1000 --val_freq 200 --print_freq 50)
    ceiling_sizes=(--batch_sizes 2560 256 --steps 20)
    # 15 render workers fed ~7,000-7,800 img/s on that machine
    best_sizes=(--batch_size 256 --synth_val 1000 --workers 15); img_s=7000; test_limit=150
fi

{
    if command -v nvidia-smi >/dev/null; then nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; fi
    python3 -c "import os, sys, torch, numpy, onnxruntime
gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU'
print('python', sys.version.split()[0], '| torch', torch.__version__, '| cuda', torch.version.cuda, '| cudnn',
      torch.backends.cudnn.version(), '| numpy', numpy.__version__, '| onnxruntime', onnxruntime.__version__, '|',
      gpu, '|', os.cpu_count(), 'cores')"
    git log -1 --format='commit %h %s' 2>/dev/null
} > "$out/versions.txt" 2>&1
mark setup

# Each CUDA test trains on the GPU only (< 30 s each there); --durations shows that.
timeout "$test_limit" python3 -m pytest -q -n 0 -m cuda tests/test_cuda.py -p no:cacheprovider --durations=0 \
    > "$out/cuda_tests.txt" 2>&1
mark tests

# The seed preset (batch 2560, Adadelta lr 1.0, fp16 with loss scale 128) through the seed's launcher.
timeout 330 bash test/train_performance_1p.sh --recipe seed "${seed_sizes[@]}" --device "$dev" \
    --output_dir "$work/seed" "${model[@]}" > "$out/seed_run.log" 2>&1
mark seed

timeout 170 python3 -m bench.train_throughput --device "$dev" --ceiling "${ceiling_sizes[@]}" "${model[@]}" \
    > "$out/ceiling.txt" 2>&1
mark ceiling

# The rest of the budget: the best recipe measured so far on one GPU (batch 256, Adam 1.5e-3 with cosine
# decay over the images the time allows, EMA) on the synthetic stream, its fp16 weights, real-crop accuracy.
seconds=$(( $(left) - 45 )); seconds=$(( seconds > 180 ? 180 : seconds < 20 ? 20 : seconds ))
images=$(( img_s * seconds / 256 * 256 ))
python3 main.py --device "$dev" --recipe cpu --synth_stream --synth_train "$images" --epochs 1 --lr 1.5e-3 \
    --ema 0.999 --val_freq 0 --print_freq 100 --time_limit "$(awk -v s="$seconds" 'BEGIN { printf "%.2f", s / 60 }')" \
    --output_dir "$work/best" "${best_sizes[@]}" "${model[@]}" > "$out/best_run.log" 2>&1
python3 -m tools.export_weights "$work/best/checkpoint.pth" "$work/crnn_gpu.pth" >> "$out/best_run.log" 2>&1
cp "$work/crnn_gpu.pth" "$out/" 2>/dev/null
if [ -d "$kit/real_lmdb" ]; then  # evaluated in $work: its tables land beside it, not among the 8 files
    python3 main.py --data_path "$kit" --val_dir real_lmdb --eval_only --resume "$work/crnn_gpu.pth" \
        --device "$dev" >> "$out/best_run.log" 2>&1
fi
mark best

batch=$(grep -a '^Training .* steps, batch ' "$out/seed_run.log" | head -1 | sed -E 's/.*, batch ([0-9]+) x.*/\1/')
{
    echo "# Device check v2 ($(date -u +%F), $(( $(date +%s) - start )) s:${parts%,})"
    echo; sed 's/^/    /' "$out/versions.txt"
    echo; echo "- CUDA tests: $(tail -1 "$out/cuda_tests.txt")"
    echo "- seed preset, train_performance_1p.sh: $(grep -a 'Final Performance images/sec' "$out/seed_run.log" |
        tail -1 | awk '{print $NF}') img/s (seed, 1 NPU: 11733.53); its synthetic validation accuracy:"
    echo "    | step | images | accuracy |"; echo "    |---:|---:|---:|"
    awk -F, -v b="${batch:-0}" '{ sub(/\r$/, "") }  # metrics.csv: step, ..., val_accuracy (CRLF rows)
        NR > 1 && $6 != "" { printf "    | %d | %d | %.4f |\n", $1, $1 * b, $6 }' \
        "$work/seed/metrics.csv" 2>/dev/null
    echo "- step ceiling (random data, no loader):"; grep -a '^|' "$out/ceiling.txt" | sed 's/^/    /'
    echo "- best recipe, $seconds s: $(grep -a '^FPS:' "$out/best_run.log" | head -1), synthetic $(grep -a \
        '^Accuracy:' "$out/best_run.log" | head -1)"
    echo "- its accuracy on the kit's real crops: $(grep -a '^Accuracy:' "$out/best_run.log" | sed -n 2p)"
} > "$out/summary.md"
cat "$out/summary.md"
