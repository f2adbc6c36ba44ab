# Shared by the test/train_*.sh launchers: flag parsing, environment, logging, summary.
# Launchers stay thin: bash parses flags and greps results; main.py does the training.

# Defaults; the launchers may set their own before calling parse_args.
data_path=""; data_path_given=""; epochs=""; device_id="${ASCEND_DEVICE_ID:-0}"; max_step=""; stop_step=""; profiling=""
batch_size=""; nproc="${nproc:-8}"; nnodes=1; node_rank=0; master_addr=127.0.0.1; master_port=29500; max_restarts=""
single_process=""  # set by the 1p launchers
extra_args=()

usage_error() { echo "error: $1" >&2; exit 2; }

# Accepts both --flag=value and --flag value; anything unknown goes through to main.py.
parse_args() {
    while [ $# -gt 0 ]; do
        local flag="$1" value="" has_eq=0
        case "$flag" in --*=*) value="${flag#*=}"; flag="${flag%%=*}"; has_eq=1 ;; esac
        case "$flag" in
            --data_path|--epochs|--npu|--device_id|--max_step|--stop_step|--profiling|--batch_size|\
            --nproc|--nnodes|--node_rank|--master_addr|--master_port|--max_restarts)
                if [ $has_eq -eq 0 ]; then
                    [ $# -ge 2 ] || usage_error "$flag needs a value"
                    value="$2"; shift
                fi
                [ "$flag" = --data_path ] && data_path_given=1
                [ -n "$value" ] || [ "$flag" = --data_path ] || usage_error "$flag is empty: give a value"
                case "$flag" in
                    --data_path) data_path="$value" ;;
                    --epochs) epochs="$value" ;;
                    --npu|--device_id) device_id="$value" ;;
                    --max_step) max_step="$value" ;;
                    --stop_step) stop_step="$value" ;;
                    --profiling) profiling="$value" ;;
                    --batch_size) batch_size="$value" ;;
                    --nproc) nproc="$value" ;;
                    --nnodes) nnodes="$value" ;;
                    --node_rank) node_rank="$value" ;;
                    --master_addr) master_addr="$value" ;;
                    --master_port) master_port="$value" ;;
                    --max_restarts) max_restarts="$value" ;;
                esac ;;
            *) extra_args+=("$1") ;;
        esac
        shift
    done
    check_flags
}

is_int() { [[ "$1" =~ ^[0-9]+$ ]] && [ "${#1}" -le 9 ]; }  # 0..999999999, no sign, no huge values

# The launchers' own flags, checked before torchrun or python start (main.py checks everything it is passed).
check_flags() {
    if [ -n "$data_path_given" ] && [ -z "$data_path" ]; then
        usage_error "--data_path is empty: give the folder with MJ_LMDB and IIIT5K_lmdb, or omit it for synthetic data"
    fi
    if [ -n "$data_path" ] && [ -f "$data_path" ]; then
        usage_error "--data_path $data_path is a file, not a folder (expected a folder with MJ_LMDB and IIIT5K_lmdb)"
    fi
    if [ -n "$data_path" ] && [ ! -d "$data_path" ]; then
        usage_error "--data_path $data_path does not exist (expected a folder with MJ_LMDB and IIIT5K_lmdb)"
    fi
    local name value
    for name in epochs batch_size max_step stop_step nproc nnodes; do
        value="${!name}"
        if [ -n "$value" ] && { ! is_int "$value" || [ "$value" -lt 1 ]; }; then
            usage_error "--$name must be an integer in 1..999999999, got '$value'"
        fi
    done
    is_int "$device_id" || usage_error "--npu/--device_id must be a device number (0, 1, ...), got '$device_id'"
    if ! is_int "$node_rank" || [ "$node_rank" -ge "$nnodes" ]; then
        usage_error "--node_rank must be in 0..$((nnodes - 1)) for --nnodes $nnodes, got '$node_rank'"
    fi
    if ! is_int "$master_port" || [ "$master_port" -lt 1 ] || [ "$master_port" -gt 65535 ]; then
        usage_error "--master_port must be a port number in 1..65535, got '$master_port'"
    fi
    if [ -n "$max_restarts" ]; then
        is_int "$max_restarts" || usage_error "--max_restarts must be an integer in 0..999999999, got '$max_restarts'"
        [ -z "$single_process" ] ||
            usage_error "--max_restarts restarts torchrun workers: use train_full_8p.sh (--nproc 1 for one device)"
    fi
    case "${profiling:-NONE}" in NONE|CANN|GE|TORCH) ;; *) usage_error "--profiling must be NONE, CANN, GE or TORCH, got '$profiling'" ;; esac
}

# Sets main_flags: main.py flags from the parsed launcher flags (unset ones keep main.py's defaults).
build_main_flags() {
    main_flags=()
    [ -n "$data_path" ] && main_flags+=(--data_path "$data_path")
    [ -n "$epochs" ] && main_flags+=(--epochs "$epochs")
    [ -n "$max_step" ] && main_flags+=(--max_step "$max_step")
    [ -n "$stop_step" ] && main_flags+=(--stop_step "$stop_step")
    [ -n "$profiling" ] && main_flags+=(--profiling "$profiling")
    [ -n "$batch_size" ] && main_flags+=(--batch_size "$batch_size")
    main_flags+=("${extra_args[@]}")
}

setup_run() {  # $1 = rank size, $2 = acc|perf
    repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    cd "$repo_root" || exit 1
    export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"  # busy-waiting threads stall torch on shared CPUs
    export PYTHONUNBUFFERED=1
    rank_size="$1"
    output_dir="$repo_root/test/output/$device_id"
    mkdir -p "$output_dir"
    log_file="$output_dir/train_${device_id}.log"
    echo "Logging to $log_file"
    start_time=$(date +%s)
}

# torchrun with one process per device on this node; torchrun's own failure handling stops the
# other ranks (and names the failed one) when a process dies. With --max_restarts N it starts the
# workers again instead (up to N times); they continue from the last checkpoint by themselves.
run_torchrun() {
    torchrun --nproc_per_node "$nproc" --nnodes "$nnodes" --node_rank "$node_rank" \
        --master_addr "$master_addr" --master_port "$master_port" --max_restarts "${max_restarts:-0}" main.py "$@"
}

# Runs a command, tee-ing its output to the log; returns the command's status. SIGTERM and SIGINT
# sent to the launcher are passed on to the command (which saves a checkpoint and exits 143 / 130):
# a scheduler that signals only the launcher's pid would otherwise kill bash and orphan the run.
run_logged() {
    local log_fd tee_pid child status signalled=""
    exec {log_fd}> >(trap '' INT TERM; exec tee "$log_file")  # outlives a Ctrl-C: the run still logs its stop
    tee_pid=$!
    "$@" >&"$log_fd" 2>&1 &
    child=$!
    exec {log_fd}>&-
    trap 'signalled=143; kill -TERM "$child" 2>/dev/null' TERM
    trap 'signalled=130; kill -INT "$child" 2>/dev/null' INT
    while :; do
        wait "$child"
        status=$?
        kill -0 "$child" 2>/dev/null || break  # still running: wait returned for a signal, wait again
    done
    trap - TERM INT
    wait "$tee_pid"  # tee has written the whole log
    # torchrun itself exits 1 when signalled, after its workers saved and ended: report the signal.
    [ -n "$signalled" ] && [ "$status" -ne 0 ] && status=$signalled
    return $status
}

write_summary() {  # $1 = exit status of the run, $2 = acc|perf
    local status="$1" fps acc loss device step_ms e2e bs
    e2e=$(( $(date +%s) - start_time ))
    # The per-device batch main.py used (the --recipe preset's unless --batch_size was given).
    bs=$(grep -a '^Training .* steps, batch ' "$log_file" | head -1 | sed -E 's/.*, batch ([0-9]+) x.*/\1/')
    bs="${bs:-${batch_size:-unknown}}"
    case_name="CRNN_ID0103_for_PyTorch_bs${bs}_${rank_size}p_$2"
    fps=$(grep -a '^FPS:' "$log_file" | tail -1 | awk '{print $2}')
    acc=$(grep -a '^Accuracy:' "$log_file" | tail -1 | awk '{print $2}')
    device=$(grep -a '^Device:' "$log_file" | head -1 | awk '{print $2}' | tr -d ',')
    grep -a '^Epoch: \[' "$log_file" | sed -E 's/.*loss: ([0-9.naif]+).*/\1/' > "$output_dir/train_${case_name}_loss.txt"
    loss=$(tail -1 "$output_dir/train_${case_name}_loss.txt")
    step_ms=$(awk -v f="${fps:-0}" -v b="${bs}" -v r="$rank_size" 'BEGIN { if (f > 0) printf "%.2f", b * r * 1000 / f; else print "" }')
    echo "Final Performance images/sec : ${fps:-unknown}"
    [ "$2" = acc ] && echo "Final Train Accuracy : ${acc:-unknown}"
    echo "E2E Training Duration sec : $e2e"
    restarts=$(grep -ac '^torchrun restart [0-9]' "$log_file")
    [ "$restarts" -gt 0 ] && echo "Worker restarts (--max_restarts) : $restarts"
    {
        echo "Network = CRNN_ID0103_for_PyTorch"
        echo "RankSize = $rank_size"
        echo "BatchSize = $bs"
        echo "DeviceType = ${device:-unknown}"
        echo "CaseName = $case_name"
        echo "ActualFPS = ${fps:-unknown}"
        echo "TrainingTime = ${step_ms:-unknown}"
        [ "$2" = acc ] && echo "TrainAccuracy = ${acc:-unknown}"
        echo "ActualLoss = ${loss:-unknown}"
        echo "E2ETrainingTime = $e2e"
        echo "Restarts = $restarts"
    } > "$output_dir/${case_name}.log"
    echo "Summary: $output_dir/${case_name}.log  (log: $log_file)"
    if [ "$status" -eq 143 ] || [ "$status" -eq 130 ]; then
        echo "error: training stopped by a signal (status $status) after saving its checkpoint: run the same" \
             "command with --resume auto to continue; see $log_file" >&2
    elif [ "$status" -ne 0 ]; then
        echo "error: training exited with status $status; see $log_file" >&2
    fi
    return "$status"
}
