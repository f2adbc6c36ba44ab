#!/usr/bin/env bash
# The device check for a machine with one CUDA GPU: at most ~8 minutes, everything it measures in one folder.
#   bash bench/device_check.sh [OUT_DIR]        (default: $OUT when set, else ./device_check_out)
# Takes its kit (tools/prepare_device_kit.sh: wheels, generator assets, a real-crop LMDB) from
# $CRNN_DEVICE_KIT, else ../crnn_device_kit beside the repo, else ./.device_kit.
# Writes: versions.txt, cuda_tests.txt, perf_seed.txt, perf_bs64.txt, infer_gpu.txt, long_run.log,
# crnn_gpu.pth (fp16, < 16 MiB), summary.md.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out="${1:-${OUT:-device_check_out}}"
mkdir -p "$out"
budget="${DEVICE_CHECK_SECONDS:-470}"
start=$(date +%s)
left() { echo $(( budget - ($(date +%s) - start) )); }
for kit in "${CRNN_DEVICE_KIT:-}" ../crnn_device_kit .device_kit; do [ -n "$kit" ] && [ -d "$kit" ] && break; done
[ -d "$kit" ] || { echo "error: no device kit: run tools/prepare_device_kit.sh (see README, Accelerators)" >&2; exit 2; }
export OMP_WAIT_POLICY=PASSIVE PYTHONUNBUFFERED=1 CRNN_SYNTH_ASSETS="$kit/assets" CRNN_CACHE_DIR=/tmp/crnn_cache
if compgen -G "$kit/wheels/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/crnn_site "$kit"/wheels/*.whl
    export PYTHONPATH="/tmp/crnn_site${PYTHONPATH:+:$PYTHONPATH}"
fi
{
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
    python3 -c "import sys, torch, numpy, onnxruntime; print('python', sys.version.split()[0], '| torch', torch.__version__,
'| cuda', torch.version.cuda, '| cudnn', torch.backends.cudnn.version(), '| numpy', numpy.__version__,
'| onnxruntime', onnxruntime.__version__, '|', torch.cuda.get_device_name(), '|', __import__('os').cpu_count(), 'cores')"
} > "$out/versions.txt" 2>&1

timeout 170 python3 -m pytest -q -m cuda tests/test_cuda.py -p no:cacheprovider > "$out/cuda_tests.txt" 2>&1

fps() { grep -a 'Final Performance images/sec' "$1" | tail -1 | awk '{print $NF}'; }
# The seed preset (batch 2560, Adadelta, fp16 with loss scale 128) on a cached synthetic LMDB, then batch 64.
timeout 150 bash test/train_performance_1p.sh --synth_train 102400 --stop_step 80 --output_dir /tmp/perf_seed \
    > "$out/perf_seed.txt" 2>&1
timeout 60 bash test/train_performance_1p.sh --synth_train 102400 --batch_size 64 --stop_step 400 \
    --output_dir /tmp/perf_64 > "$out/perf_bs64.txt" 2>&1
timeout 60 python3 bench/infer_throughput.py --device cuda --batch_sizes 1 16 64 2560 --rounds 2 --seconds 1 \
    > "$out/infer_gpu.txt" 2>&1

# The rest of the budget: a streaming-synthetic run (seed preset, EMA), its fp16 weights and real-crop accuracy.
minutes=$(awk -v s="$(( $(left) - 75 ))" 'BEGIN { printf "%.2f", (s > 30 ? s : 30) / 60 }')
python3 main.py --synth_stream --synth_train 1000000000 --epochs 1 --ema 0.999 --time_limit "$minutes" \
    --val_freq 0 --print_freq 20 --output_dir /tmp/long > "$out/long_run.log" 2>&1
python3 tools/export_weights.py /tmp/long/checkpoint.pth "$out/crnn_gpu.pth" >> "$out/long_run.log" 2>&1
if [ -d "$kit/real_lmdb" ]; then
    python3 main.py --data_path "$kit" --val_dir real_lmdb --eval_only --resume "$out/crnn_gpu.pth" --device cuda \
        >> "$out/long_run.log" 2>&1
fi

steps=$(grep -a '^Epoch: \[' "$out/long_run.log" | tail -1 | sed -E 's/.*\]\[ *([0-9]+)\/.*/\1/')
batch=$(grep -a '^Training .* steps, batch ' "$out/long_run.log" | head -1 | sed -E 's/.*, batch ([0-9]+) x.*/\1/')
{
    echo "# Device check ($(date -u +%F), $(( $(date +%s) - start )) s)"
    echo; sed 's/^/    /' "$out/versions.txt"
    echo; echo "- CUDA tests: $(tail -1 "$out/cuda_tests.txt")"
    echo "- train_performance_1p.sh, seed preset (batch 2560): $(fps "$out/perf_seed.txt") img/s (seed, 1 NPU: 11733.53)"
    echo "- train_performance_1p.sh, batch 64: $(fps "$out/perf_bs64.txt") img/s"
    echo "- inference:"; grep -a '^|' "$out/infer_gpu.txt" | sed 's/^/    /'
    echo "- streaming run: ${steps:-0} steps x ${batch:-?} = $(( ${steps:-0} * ${batch:-0} )) images," \
         "$(grep -a '^FPS:' "$out/long_run.log" | tail -1)"
    echo "- its accuracy on the real crops: $(grep -a '^Accuracy:' "$out/long_run.log" | tail -1)"
} > "$out/summary.md"
cat "$out/summary.md"
