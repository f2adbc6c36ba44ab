#!/usr/bin/env bash
# One-device accuracy run: bash test/train_full_1p.sh --data_path=/data [--epochs 20] [main.py flags...]
# Without --data_path it trains on the cached synthetic default set.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
single_process=1  # no torchrun: --max_restarts does not apply
parse_args "$@"
setup_run 1 acc
build_main_flags
run_logged python main.py --npu "$device_id" "${main_flags[@]}"
write_summary $? acc
