#!/usr/bin/env bash
# Build the GPU training image (docker/Dockerfile.gpu) and enter it, as the ITU-ML5G-PS-007
# submissions did: this repository is mounted at /work, the dataset directory read-only at
# /data, and you run as yourself (your uid/gid), so files you create belong to you.
#
# Usage: ./run_docker_gpu.sh DATASET_DIR [COMMAND ...]
#   DATASET_DIR  the folder holding GOLD_XYZ_OSC.0001_1024.hdf5
#   COMMAND      run instead of an interactive shell, e.g.
#                ./run_docker_gpu.sh ~/data toolchain train_initial --out runs/r1 \
#                    --set data.path=/data/GOLD_XYZ_OSC.0001_1024.hdf5
# Environment (optional): IMAGE (default radioml-gpu), CUDA_INDEX (PyTorch wheel index, default
# cu128), GPUS (docker --gpus value, default all), SHM_SIZE (default 8g, for DataLoader workers).
set -euo pipefail

if [[ $# -lt 1 || "$1" == "-h" || "$1" == "--help" ]]; then
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
dataset="$(cd "$1" && pwd)"
shift
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
image="${IMAGE:-radioml-gpu}"

docker build -f "$repo/docker/Dockerfile.gpu" --build-arg "CUDA_INDEX=${CUDA_INDEX:-cu128}" -t "$image" "$repo"

tty=()
if [[ -t 0 && -t 1 ]]; then
    tty=(-it)
fi
if [[ $# -eq 0 ]]; then
    set -- bash
fi
exec docker run --rm "${tty[@]}" --gpus "${GPUS:-all}" --shm-size "${SHM_SIZE:-8g}" \
    --user "$(id -u):$(id -g)" -e HOME=/tmp \
    -v "$repo":/work -v "$dataset":/data:ro -w /work \
    "$image" "$@"
