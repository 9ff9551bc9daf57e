#!/usr/bin/env bash
# Carry MuJoCo Warp, the project's other missing packages and the tasks' GPU kernels to the GPU device machine
# (docs/warp_backend.md), for tools/gpu_check.sh.
#
# That machine has Python 3.12 and a CUDA torch but none of mujoco, mujoco-warp, warp-lang or rsl-rl-lib, no
# libEGL, and reaches no package index; a call carries at most 64 MiB, the working tree included. A fresh
# machine also compiles MuJoCo Warp's kernels on first use, minutes for these scenes. So `prepare` unpacks the
# wheels, compiles the tasks' kernels for sm_90 here (tools/warp_kernel_cache.py, about 6 minutes on 2 cores)
# and packs both, xz-compressed, into two parts of under 58 MiB; the tree must then stay under 6 MiB, so `slim`
# moves docs/ and the checkpoints the GPU check does not use into .whl/slim (ignored) until `restore`. The
# first part waits in /tmp/device_carry there while the machine stays warm (it goes back 30 s after a call:
# make the two calls back to back).
#
#   here:   tools/device_carry_warp.sh prepare && tools/device_carry_warp.sh slim
#   device: carry [".whl/part1"], command "tools/device_carry_warp.sh stash .whl/part1"
#   device: carry [".whl/part2"], command "tools/device_carry_warp.sh stash .whl/part2 &&
#           tools/device_carry_warp.sh install && export PYTHONPATH=/tmp/site && tools/gpu_check.sh /tmp/gc;
#           tools/device_carry_warp.sh pack /tmp/gc"            (pack: the folder, *.pt left out, into $OUT)
#   here:   tools/device_carry_warp.sh restore
set -euo pipefail
cd "$(dirname "$0")/.."

WHEELS=(
    warp-lang==1.19.0 mujoco-warp==4.0.0 mujoco==4.0.0 mujoco-core==4.0.0 mujoco-studio==4.0.0 glfw==2.11.0
    pyopengl==3.1.10 websockets==17.4 rsl-rl-lib==5.5.1 tensordict==0.15.3 pyvers==0.2.3 GitPython==3.2.1
    gitdb==4.0.12 smmap==5.0.3
)
KEEP=(checkpoints/leap_grasp_prior_hand_arm.pt) # what tools/gpu_check.sh reads from checkpoints/
STASH=/tmp/device_carry

case "${1:-}" in
prepare)
    rm -rf .whl && mkdir -p .whl/download .whl/build/site
    for wheel in "${WHEELS[@]}"; do
        "${PYTHON:-python3}" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
            --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
            --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl/download "$wheel"
    done
    for wheel in .whl/download/*.whl; do
        unzip -q -o "$wheel" -d .whl/build/site # a wheel is a zip of what pip would install
    done
    "${PYTHON:-python3}" tools/warp_kernel_cache.py --out .whl/build/kernels --arch 90
    find .whl/build/kernels -name '*.cu' -delete # sources: not needed to load
    tar -C .whl/build -cf - site kernels | xz -T0 -9 >.whl/carry.tar.xz
    split -n 2 -d -a 1 .whl/carry.tar.xz .whl/carry.tar.xz.
    mkdir -p .whl/part1 .whl/part2 && mv .whl/carry.tar.xz.0 .whl/part1/ && mv .whl/carry.tar.xz.1 .whl/part2/
    rm -rf .whl/download .whl/build .whl/carry.tar.xz
    du -sh .whl/part*
    ;;
slim)
    mkdir -p .whl/slim/checkpoints
    [[ -d docs ]] && mv docs .whl/slim/
    for file in checkpoints/*; do
        [[ " ${KEEP[*]} " == *" $file "* ]] || mv "$file" .whl/slim/checkpoints/
    done
    echo "moved docs/ and checkpoints/ but ${KEEP[*]} to .whl/slim: run '$0 restore' after the device calls"
    ;;
restore)
    [[ -d .whl/slim/docs ]] && mv .whl/slim/docs .
    if [[ -d .whl/slim/checkpoints ]]; then
        find .whl/slim/checkpoints -mindepth 1 -maxdepth 1 -exec mv -n {} checkpoints/ \;
    fi
    rm -rf .whl/slim
    git status --short
    ;;
stash)
    mkdir -p "$STASH" && cp "${2:?usage: stash .whl/partK}"/carry.tar.xz.* "$STASH/"
    ls -l "$STASH"
    ;;
install)
    mkdir -p /tmp/site "$STASH/unpacked"
    cat "$STASH"/carry.tar.xz.* | xz -d -T0 | tar -x -C "$STASH/unpacked"
    cp -r "$STASH"/unpacked/site/. /tmp/site/
    cache=$(PYTHONPATH=/tmp/site python3 -c "import warp; warp.config.quiet = True; warp.init(); print(warp.config.kernel_cache_dir)")
    cp -r "$STASH"/unpacked/kernels/. "$cache/"
    PYTHONPATH=/tmp/site python3 -c "import mujoco_warp, rsl_rl; print('mujoco_warp', mujoco_warp.__version__)"
    echo "$(ls "$STASH/unpacked/kernels" | wc -l) compiled kernel modules in $cache"
    ;;
pack)
    folder=${2:?usage: pack FOLDER}
    tar -czf "${OUT:?}/$(basename "$folder").tgz" --exclude='*.pt' -C "$(dirname "$folder")" "$(basename "$folder")"
    [[ -f "$folder/gpu_check.json" ]] && cp "$folder/gpu_check.json" "$OUT/"
    ls -l "$OUT"
    ;;
*)
    echo "usage: $0 prepare | slim | restore | stash .whl/partK | install | pack FOLDER" >&2
    exit 2
    ;;
esac
