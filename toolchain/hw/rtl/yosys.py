"""Yosys on the RTL of both accelerators: elaboration (instantiated primitives, inferred
memories) and out-of-context synthesis for a Xilinx family (`synth_xilinx`), cached by content.

Figures from `synthesize` are *synthesized (Yosys)*: close to Vivado's, not equal (Yosys infers no
SRLs from some shift-register codings, so its FF counts can run high). The WebAssembly Yosys sees
only its working directory (it maps /tmp privately), so every run copies its sources into a
fresh directory and names them by relative paths.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Sequence

from ...atomic import atomic_path, write_json
from ...errors import ToolchainError
from .tools import yosys_command

SYNTH_SOURCE = "synthesized (Yosys 0.70 synth_xilinx, out of context)"

# LUTs each distributed-memory primitive occupies (UG574: RAM64M = 4 LUTs, SRLC32E = 1, ...).
LUTRAM_LUTS = {"RAM16X1D": 2, "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4, "RAM256X1D": 8,
               "RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2, "RAM256X1S": 4, "RAM512X1S": 8,
               "RAM32M": 4, "RAM64M": 4, "RAM32M16": 8, "RAM64M8": 8}
SRL_CELLS = ("SRL16E", "SRLC16E", "SRLC32E")
FF_CELLS = ("FDRE", "FDSE", "FDCE", "FDPE", "LDCE", "LDPE")
DSP_CELLS = ("DSP48E1", "DSP48E2", "DSP58", "DSP48E5")
COMBINATIONAL = re.compile(r"^(LUT[1-6](_2)?|MUXF[789]|CARRY[48]|INV|BUF)$")


class YosysError(ToolchainError):
    """Yosys rejected the RTL or a script step failed; the log keeps the details."""


@dataclass(frozen=True)
class SynthResult:
    """One module synthesized out of context. `lut` counts LUTs as logic; `lutram` and `srl`
    count LUTs used as distributed RAM and as shift registers (Vivado adds all three into
    "CLB LUTs"); `lut_levels` is the most LUTs on one register-to-register path."""

    top: str
    family: str
    lut: int
    lutram: int
    srl: int
    ff: int
    bram18: int
    bram36: int
    uram: int
    dsp: int
    carry: int
    lut_levels: int
    cells: dict[str, int] = field(default_factory=dict)
    # a deepest path's start and end (registers or ports, `deepest_path`): where the depth comes from
    deepest_nets: list[str] = field(default_factory=list)

    @property
    def lut_total(self) -> int:
        return self.lut + self.lutram + self.srl

    @property
    def bram36_equivalent(self) -> float:
        return self.bram36 + self.bram18 / 2

    def as_dict(self) -> dict:
        out = asdict(self)
        out.update(lut_total=self.lut_total, bram36_equivalent=self.bram36_equivalent, source=SYNTH_SOURCE)
        return out


@dataclass(frozen=True)
class Memory:
    """A memory Yosys inferred from an array: `attributes` keeps ram_style/rom_style."""

    name: str
    depth: int
    width: int
    read_ports: int
    write_ports: int
    attributes: dict[str, str]


@dataclass(frozen=True)
class Elaboration:
    """The design after elaboration and flattening, before technology mapping: instantiated
    primitives (a DSP48E2 the RTL instantiates itself is counted exactly here) and memories."""

    cells: dict[str, int]
    memories: list[Memory]


def frontend_script(sources: Sequence[str], top: str, *, params: Mapping[str, int | str],
                    defines: Mapping[str, str], frontend: str, frontend_args: Sequence[str]) -> list[str]:
    """The commands that read `sources` (relative paths) with `top` elaborated at `params`."""
    if frontend == "slang":
        # read_slang needs a single thread on these machines ("thread constructor failed").
        args = ["--threads", "1", "--top", top, *frontend_args]
        args += [f"-G{k}={v}" for k, v in params.items()] + [f"-D{k}={v}" for k, v in defines.items()]
        return [f"read_slang {' '.join(args)} {' '.join(sources)}", f"hierarchy -top {top}"]
    if frontend == "verilog":
        defs = " ".join(f"-D{k}={v}" for k, v in defines.items())
        cmds = [f"read_verilog -sv {defs} {' '.join(frontend_args)} {' '.join(sources)}"]
        chparam = " ".join(f"-set {k} {v}" for k, v in params.items())
        cmds.append(f"hierarchy -top {top}" + (f" -chparam {chparam}" if chparam else ""))
        return cmds
    raise ValueError(f"frontend {frontend!r}: expected 'slang' or 'verilog'")


def run_yosys(sources: Sequence[Path], commands: Sequence[str], outputs: Sequence[str], *,
              log_dir: Optional[Path] = None, timeout_s: float = 3600, data: Sequence[Path] = ()) -> dict[str, str]:
    """Run `commands` on copies of `sources` in a fresh working directory; return the text of
    each file named in `outputs` (written there by the commands). The source placeholders
    `{src}` are replaced by the copies' relative names, in order. `data` (memory init files)
    are copied into the working directory under their own names, where `$readmemh` finds them
    by relative path."""
    with tempfile.TemporaryDirectory(prefix="yosys-") as tmp:
        work = Path(tmp)
        for path in data:
            shutil.copyfile(path, work / Path(path).name)
        names = []
        for i, src in enumerate(sources):
            name = f"src/{i:03d}_{Path(src).name}"
            (work / name).parent.mkdir(exist_ok=True)
            shutil.copyfile(src, work / name)
            names.append(name)
        script = "\n".join(c.replace("{src}", " ".join(names)) for c in commands) + "\n"
        (work / "run.ys").write_text(script)
        try:
            done = subprocess.run([*yosys_command(), "-q", "-l", "yosys.log", "-s", "run.ys"], cwd=work,
                                  capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            raise YosysError(f"yosys ran past {timeout_s:.0f} s on {Path(sources[0]).name}") from exc
        log = (work / "yosys.log").read_text() if (work / "yosys.log").exists() else done.stdout + done.stderr
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
            with atomic_path(log_dir / "yosys.log") as tmp_log:
                tmp_log.write_text(log)
        if done.returncode != 0:
            err = [line for line in (done.stderr + log).splitlines() if "ERROR" in line]
            # the first specific error (e.g. slang's "failed to open file 'x.hex'"), not the summary
            own = [line for line in err if "see full log" not in line] or err
            raise YosysError(f"yosys failed on {', '.join(Path(s).name for s in sources)}: "
                             f"{own[0].strip() if own else 'exit ' + str(done.returncode)}")
        return {name: (work / name).read_text() for name in outputs}


def elaborate(sources: Sequence[Path], top: str, *, params: Mapping[str, int | str] = {},
              defines: Mapping[str, str] = {}, frontend: str = "slang", frontend_args: Sequence[str] = (),
              timeout_s: float = 600, data: Sequence[Path] = ()) -> Elaboration:
    """Elaborate and flatten `top`; count its cells and list the memories inferred."""
    cmds = frontend_script(["{src}"], top, params=params, defines=defines, frontend=frontend,
                           frontend_args=frontend_args)
    cmds += ["proc", "flatten", "opt_clean", "memory -nomap", "opt_clean", "write_json elab.json"]
    text = run_yosys(sources, cmds, ["elab.json"], timeout_s=timeout_s, data=data)["elab.json"]
    module = json.loads(text)["modules"][top]
    cells, memories = Counter(), []
    for name, cell in module["cells"].items():
        cells[cell["type"]] += 1
        if cell["type"] == "$mem_v2":
            p = {k: _param_int(v) for k, v in cell["parameters"].items() if k in ("SIZE", "WIDTH", "RD_PORTS", "WR_PORTS")}
            attrs = {k.lower(): _attr_text(v) for k, v in cell.get("attributes", {}).items() if "style" in k.lower()}
            memories.append(Memory(name, p["SIZE"], p["WIDTH"], p["RD_PORTS"], p["WR_PORTS"], attrs))
    return Elaboration(dict(cells), memories)


def synthesize(sources: Sequence[Path], top: str, *, family: str = "xcup", params: Mapping[str, int | str] = {},
               defines: Mapping[str, str] = {}, frontend: str = "slang", frontend_args: Sequence[str] = (),
               pre_synth: Sequence[str] = (), cache_dir: Optional[Path] = None,
               timeout_s: float = 3600, data: Sequence[Path] = ()) -> SynthResult:
    """Synthesize `top` out of context for `family` (xcup: UltraScale+, xc7: 7-series, ...).

    `pre_synth` commands run between elaboration and `synth_xilinx` (e.g. FINN's RAM_STYLE needs
    `attrmap -tocase ram_style -tocase rom_style`). With `cache_dir`, a result is kept under the
    hash of everything that decides it and reused."""
    cmds = frontend_script(["{src}"], top, params=params, defines=defines, frontend=frontend,
                           frontend_args=frontend_args)
    cmds += [*pre_synth, f"synth_xilinx -family {family} -top {top} -flatten -noiopad",
             "tee -q -o stat.json stat -json", "write_json net.json"]
    key = _cache_key([*sources, *data], cmds, family)
    cached = cache_dir / f"{top}-{key}.json" if cache_dir is not None else None
    if cached is not None and cached.exists():
        data = json.loads(cached.read_text())
        return SynthResult(**{k: data[k] for k in SynthResult.__dataclass_fields__ if k in data})
    out = run_yosys(sources, cmds, ["stat.json", "net.json"], timeout_s=timeout_s, data=data)
    stats = json.loads(out["stat.json"])["design"]["num_cells_by_type"]
    result = _tally(top, family, stats, json.loads(out["net.json"])["modules"][top])
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        write_json(cached, result.as_dict())
    return result


def _tally(top: str, family: str, cells: Mapping[str, int], module: dict) -> SynthResult:
    def count(names) -> int:
        return sum(n for t, n in cells.items() if t in names)

    path = deepest_path(module)

    return SynthResult(
        top=top, family=family,
        lut=sum(n for t, n in cells.items() if re.fullmatch(r"LUT[1-6](_2)?", t)),
        lutram=sum(n * LUTRAM_LUTS[t] for t, n in cells.items() if t in LUTRAM_LUTS),
        srl=count(SRL_CELLS), ff=count(FF_CELLS),
        bram18=count(("RAMB18E1", "RAMB18E2")), bram36=count(("RAMB36E1", "RAMB36E2")),
        uram=count(("URAM288", "URAM288_BASE")), dsp=count(DSP_CELLS),
        carry=count(("CARRY4", "CARRY8")), lut_levels=sum(1 for _, t, _ in path if t.startswith("LUT")),
        cells={t: int(n) for t, n in sorted(cells.items())},
        deepest_nets=[path[0][2], path[-1][2]] if path else [])


def lut_levels(module: dict) -> int:
    """The most LUTs on one path between sequential elements or ports of a mapped netlist
    (Yosys's `ltp` treats Xilinx flip-flops as combinational, so it cannot give this)."""
    return len([c for c in deepest_path(module) if c[1].startswith("LUT")])


def deepest_path(module: dict) -> list[tuple[str, str, str]]:
    """The combinational cells of a deepest path (most LUTs), source first, as (cell, type, net):
    the first one's net is the register or port it starts from, the last one's the register it
    ends in (names the RTL gave them; "" where the netlist kept none): where a depth comes from."""
    comb = {n: c for n, c in module["cells"].items() if COMBINATIONAL.match(c["type"])}

    def bits(cell: dict, direction: str):
        return (b for port, bs in cell["connections"].items()
                if cell["port_directions"].get(port) == direction for b in bs if isinstance(b, int))

    driver = {b: name for name, cell in comb.items() for b in bits(cell, "output")}
    preds = {name: {driver[b] for b in bits(cell, "input") if b in driver} for name, cell in comb.items()}
    level: dict[str, int] = {}
    best_pred: dict[str, Optional[str]] = {}
    visiting: set[str] = set()
    for root in comb:  # iterative depth-first walk: netlists of 100k cells overflow recursion
        stack = [(root, False)]
        while stack:
            name, expanded = stack.pop()
            if name in level or (not expanded and name in visiting):
                continue  # done, or a loop back to a cell on the path (none in sane RTL)
            if expanded:
                own = 1 if comb[name]["type"].startswith("LUT") else 0
                best_pred[name] = max(preds[name], key=lambda p: level.get(p, 0), default=None)
                level[name] = own + (level.get(best_pred[name], 0) if best_pred[name] else 0)
                continue
            visiting.add(name)
            stack.append((name, True))
            stack.extend((p, False) for p in preds[name] if p not in level)
    if not level:
        return []
    names: dict[int, str] = {}  # bit -> a name the RTL gave it (registers and ports keep theirs)
    for net, info in sorted(module.get("netnames", {}).items(), key=lambda kv: kv[1].get("hide_name", 0)):
        for b in info["bits"]:
            if isinstance(b, int):
                names.setdefault(b, net)
    sinks = {b for c in module["cells"].values() if c["type"] in FF_CELLS for b in c["connections"].get("D", [])}
    sinks |= {b for p in module.get("ports", {}).values() if p["direction"] == "output" for b in p["bits"]}
    top = max(level.values())
    ends = [n for n, v in level.items() if v == top]
    path, cur = [], next((n for n in ends if any(b in sinks for b in bits(comb[n], "output"))), ends[0])
    while cur is not None:
        path.append(cur)
        cur = best_pred.get(cur)
    path.reverse()
    first, last = comb[path[0]], comb[path[-1]]
    start = next((names[b] for b in bits(first, "input") if b not in driver and b in names), "")
    ends = set(bits(last, "output"))
    outs = {b for p in module.get("ports", {}).values() if p["direction"] == "output" for b in p["bits"]}
    end = next((names[b] for b in ends if b in outs and b in names), "")  # an output port
    for cell in module["cells"].values():  # or the register whose D input the path's last LUT drives
        if cell["type"] in FF_CELLS and any(b in ends for b in cell["connections"].get("D", [])):
            end = next((names[b] for b in cell["connections"].get("Q", []) if b in names), "")
            break
    return [(n, comb[n]["type"], start if i == 0 else end if i == len(path) - 1 else "") for i, n in enumerate(path)]


def _attr_text(value) -> str:
    """An attribute set from a parameter (FINN's `(* RAM_STYLE = RAM_STYLE *)`) comes as the
    string's bits, zero-padded: decode it back to text."""
    text = str(value)
    if text and len(text) % 8 == 0 and set(text) <= {"0", "1"}:
        raw = int(text, 2).to_bytes(len(text) // 8, "big").lstrip(b"\0")
        if raw and all(32 <= c < 127 for c in raw):
            return raw.decode()
    return text


def _param_int(value) -> int:
    # write_json gives parameters as binary strings (or ints for 32-bit ones).
    return int(value, 2) if isinstance(value, str) else int(value)


def _cache_key(sources: Sequence[Path], commands: Sequence[str], family: str) -> str:
    h = hashlib.sha256()
    for src in sources:
        h.update(Path(src).name.encode() + b"\0" + Path(src).read_bytes() + b"\0")
    h.update("\n".join(commands).encode() + family.encode())
    h.update(yosys_command()[0].encode())  # another Yosys build may map differently
    return h.hexdigest()[:16]
