#!/usr/bin/env bash
# Multi-device accuracy run with torchrun + DDP (one process per device; --batch_size is per device).
#   bash test/train_full_8p.sh --data_path=/data [--nproc 8] [--nnodes 2 --node_rank 0 --master_addr HOST]
#       [--max_restarts 3]   # torchrun starts failed workers again; they continue from the last checkpoint
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
parse_args "$@"
setup_run "$((nproc * nnodes))" acc
build_main_flags
run_logged run_torchrun "${main_flags[@]}"
write_summary $? acc
