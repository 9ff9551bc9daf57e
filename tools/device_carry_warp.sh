#!/usr/bin/env bash
# Carry MuJoCo Warp and the project's other missing packages to the GPU device machine (docs/warp_backend.md).
#
# That machine has Python 3.12 and a CUDA torch but none of mujoco, mujoco-warp, warp-lang, rsl-rl-lib or pytest,
# and reaches no package index; each call carries at most 64 MiB, and the warp-lang wheel alone is about
# 142 MiB. So the wheels are split into parts under .whl/ (ignored by git), one part per call, kept in
# /tmp/warp_wheels there while the machine stays warm (it goes back 30 s after a call: make the calls back
# to back), then joined and installed.
#
#   here:                      tools/device_carry_warp.sh prepare
#   device, one call per part: carry [".whl/partK"], command "tools/device_carry_warp.sh stash .whl/partK"
#   device, last part:         carry [".whl/partN"], command
#       "tools/device_carry_warp.sh stash .whl/partN && tools/device_carry_warp.sh install && export PYTHONPATH=/tmp/site && python3 tools/benchmark.py ..."
#   device, later calls (machine still warm): start the command with "export PYTHONPATH=/tmp/site &&"
set -euo pipefail
cd "$(dirname "$0")/.."

PART_MIB=50 # under 60 MiB, leaving room in the 64 MiB of a call for the working tree
WHEELS=(
    warp-lang==1.19.0 mujoco-warp==4.0.0 mujoco==4.0.0 mujoco-core==4.0.0 mujoco-studio==4.0.0 glfw==2.11.0
    pyopengl==3.1.10 websockets==17.4 rsl-rl-lib==5.5.1 tensordict==0.15.3 pyvers==0.2.3 GitPython==3.2.1
    gitdb==4.0.12 smmap==5.0.3 pytest==9.2.0 pluggy==1.7.0 iniconfig==2.3.1 pygments==2.21.0
)
STASH=/tmp/warp_wheels

case "${1:-}" in
prepare)
    rm -rf .whl && mkdir -p .whl/download
    for wheel in "${WHEELS[@]}"; do
        "${PYTHON:-python3}" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
            --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
            --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl/download "$wheel"
    done
    # one stream of all wheels (tar keeps their names), cut into parts of PART_MIB
    tar -C .whl/download -cf .whl/wheels.tar .
    split -b "${PART_MIB}M" -d -a 1 .whl/wheels.tar .whl/wheels.tar.
    count=0
    for part in .whl/wheels.tar.*; do
        count=$((count + 1))
        mkdir -p ".whl/part$count" && mv "$part" ".whl/part$count/"
    done
    rm -rf .whl/download .whl/wheels.tar
    du -sh .whl/part*
    echo "carry .whl/part1 .. .whl/part$count, one per call, in order"
    ;;
stash)
    mkdir -p "$STASH" && cp "${2:?usage: stash .whl/partK}"/wheels.tar.* "$STASH/"
    ls -l "$STASH"
    ;;
install)
    cat "$STASH"/wheels.tar.* | tar -C "$STASH" -xf -
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
        "$STASH"/*.whl
    PYTHONPATH=/tmp/site python3 -c "import mujoco_warp, warp, rsl_rl; print('mujoco_warp', mujoco_warp.__version__)"
    ;;
*)
    echo "usage: $0 prepare | stash .whl/partK | install" >&2
    exit 2
    ;;
esac
