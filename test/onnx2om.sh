#!/usr/bin/env bash
# ONNX -> Ascend offline model with ATC, as in the recipe's inference guide.
#   bash test/onnx2om.sh crnn_npu_dy.onnx 16 910A     -> crnn_final_bs16.om
# Needs CANN's atc on PATH (source /usr/local/Ascend/ascend-toolkit/set_env.sh).
set -u
onnx="${1:-crnn_npu_dy.onnx}"; batch="${2:-16}"; chip="${3:-}"
if ! command -v atc >/dev/null 2>&1; then
    echo "error: atc not found: install CANN and source /usr/local/Ascend/ascend-toolkit/set_env.sh (elsewhere, run the .onnx with python3 -m tools.ais_bench_runner)" >&2
    exit 127
fi
[ -f "$onnx" ] || { echo "error: ONNX model not found: $onnx" >&2; exit 2; }
[ -n "$chip" ] || { echo "error: give the chip name as the third argument (npu-smi info shows it, e.g. 910A or 310P3)" >&2; exit 2; }
atc --model="$onnx" --framework=5 --output="crnn_final_bs${batch}" --input_format=NCHW \
    --input_shape="actual_input_1:${batch},1,32,100" --log=error --soc_version="Ascend${chip}"
