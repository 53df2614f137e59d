# guest: arm64/sve
# gdb: gdb-multiarch
# source: lib/arm64.py
# exit: 1
# serial: unexpected exception: vector 4 esr=0x2000000
# expect: no SVE on this vCPU
# On a host without SVE (the rig with -cpu cortex-a57: scripts/rig-arm64.sh runs this directory there),
# `kvmstub run` with no SVE flag gives the vCPU none — the default is the largest length the host offers — so
# gdb gets the FP/SIMD registers, and the sve guest's first SVE access is undefined (its handler resets: exit 1).
python check("vg" not in [r.name for r in gdb.selected_frame().architecture().registers()], "no vg register")
python check("v31" in [r.name for r in gdb.selected_frame().architecture().registers()], "v0-v31 instead")
expect_eq sizeof($v0) 16 "v0 is 16 bytes"
monitor sve
continue
