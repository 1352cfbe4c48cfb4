#!/usr/bin/env bash
# Entry point of docker/Dockerfile.finn: put the Xilinx tools mounted at $XILINX_ROOT on PATH by
# sourcing their own settings64.sh scripts (which set XILINX_VIVADO, XILINX_HLS, ...), then run
# the command. Without them the toolchain still works and stops after HW code generation.
set -eo pipefail

root="${XILINX_ROOT:-/tools/Xilinx}"
version="${XILINX_VERSION:-}"
if [[ -n "$version" ]]; then
    for tool in Vivado Vitis_HLS Vitis; do
        settings="$root/$tool/$version/settings64.sh"
        if [[ -f "$settings" ]]; then
            # shellcheck source=/dev/null
            source "$settings"
        fi
    done
fi
if [[ -n "${XILINX_XRT:-}" && -f "$XILINX_XRT/setup.sh" ]]; then
    # shellcheck source=/dev/null
    source "$XILINX_XRT/setup.sh"
fi
if ! command -v vivado >/dev/null 2>&1; then
    echo "finn_entrypoint: no vivado under $root/*/${version:-<XILINX_VERSION unset>}: finn_build will stop after" \
         "HW code generation (mount the tools with -v HOST_DIR:$root:ro and set XILINX_VERSION)" >&2
fi
exec "$@"
