#!/usr/bin/env bash
# Multi-device throughput run: a short fixed number of steps with torchrun + DDP, then the global FPS.
#   bash test/train_performance_8p.sh --data_path=/data [--nproc 8] [--stop_step 100]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
parse_args "$@"
stop_step="${stop_step:-100}"
setup_run "$((nproc * nnodes))" perf
build_main_flags
run_logged run_torchrun --val_freq 0 --print_freq 10 "${main_flags[@]}"
write_summary $? perf
