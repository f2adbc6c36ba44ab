#!/usr/bin/env bash
# One-device throughput run: a short fixed number of steps, then the FPS line.
#   bash test/train_performance_1p.sh --data_path=/data [--stop_step 100]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
single_process=1  # no torchrun: --max_restarts does not apply
parse_args "$@"
stop_step="${stop_step:-100}"
setup_run 1 perf
build_main_flags
run_logged python main.py --npu "$device_id" --val_freq 0 --print_freq 10 "${main_flags[@]}"
write_summary $? perf
