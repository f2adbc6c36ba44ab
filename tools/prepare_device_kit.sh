#!/usr/bin/env bash
# Prepares the folder bench/device_check.sh takes to a GPU machine that cannot install packages or reach the
# network: the wheels its Python lacks, the synthetic generator's assets, and optionally a real-crop LMDB.
#   bash tools/prepare_device_kit.sh ../crnn_device_kit [REAL_CROPS_DIR] [PYTHON_VERSION]
#     REAL_CROPS_DIR: a folder with labels.txt (images/<file><TAB><label>), converted to <kit>/real_lmdb
#     PYTHON_VERSION: the GPU machine's Python (default 3.12)
# Run it where pip can download and trdg is installed (pip install --no-deps trdg==1.8.0). The kit is data
# for one machine, never committed (it may hold a test set: keep it outside the repo, or in an ignored folder).
set -euo pipefail
kit="${1:?usage: bash tools/prepare_device_kit.sh KIT_DIR [REAL_CROPS_DIR] [PYTHON_VERSION]}"
crops="${2:-}"; pyver="${3:-3.12}"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ -e "$kit" ] && { echo "error: $kit exists: give a new folder" >&2; exit 2; }
mkdir -p "$kit/wheels"
python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$pyver" --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$kit/wheels" "$(grep '^lmdb==' requirements.txt)"
python3 -m tools.pack_synth_assets "$kit/assets"
if [ -n "$crops" ]; then
    python3 -m tools.create_lmdb_dataset --input_dir "$crops" --gt_file "$crops/labels.txt" --output "$kit/real_lmdb"
fi
du -sh "$kit"
